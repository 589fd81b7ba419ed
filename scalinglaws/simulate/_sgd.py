"""One step of online SGD on the per-sample loss `1/2 (f(x) - y)^2`: the students' own rules.

The rules and their learning-rate scalings are stated in `scalinglaws._models` (every student
implements `AbstractStudent.step`); these functions are the functional form of one step.
"""

from jaxtyping import Array, Float

from .._models import AbstractStudent, LearningRates
from .._random_feature_model import RandomFeatureModel


__all__ = ["LearningRates", "readout_step", "sgd_step"]


def sgd_step(
    student: AbstractStudent,
    x: Float[Array, " N"],
    target: Float[Array, ""],
    rates: LearningRates,
    *,
    train_second_layer: bool = False,
) -> AbstractStudent:
    """One online-SGD step of `student` on the sample `(x, target)`."""
    return student.step(x, target, rates, train_second_layer=train_second_layer)


def readout_step(
    student: RandomFeatureModel, phi: Float[Array, " K"], target: Float[Array, ""], rates: LearningRates
) -> RandomFeatureModel:
    """The random-feature readout step given the sample's features `phi = g(F x / sqrt(N))`."""
    return student.readout_step(phi, target, rates)
