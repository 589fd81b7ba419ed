"""scalinglaws: theory and simulation of neural scaling laws in student-teacher models, in JAX.

Importing the package changes no global state. The theories and the closed-form generalisation
errors need JAX's float64 mode: call `scalinglaws.configure()` at the start of a program (the
`scalinglaws` command does), which also applies an XLA workaround for CPUs (`_jax_config`).
Functions that need float64 raise a clear error without it. Simulations stay in float32 unless
asked otherwise; every array the package creates has an explicit dtype.
"""

import importlib.metadata

from . import fit as fit, simulate as simulate, theory as theory
from ._activations import (
    AbstractActivation as AbstractActivation,
    Erf as Erf,
    Hermite as Hermite,
    Linear as Linear,
    ReLU as ReLU,
    Tanh as Tanh,
    activation_from_name as activation_from_name,
)
from ._data import GaussianData as GaussianData, isotropic as isotropic, power_law as power_law
from ._error import field_covariance as field_covariance, generalisation_error as generalisation_error
from ._full_batch import (
    FullBatchLangevin as FullBatchLangevin,
    KernelProblem as KernelProblem,
    exact_draw as exact_draw,
)
from ._jax_config import configure as configure, require_float64 as require_float64
from ._learners import AbstractLearner as AbstractLearner, OnlineSGD as OnlineSGD, Recording as Recording
from ._models import (
    AbstractStudent as AbstractStudent,
    LearningRates as LearningRates,
    TwoLayerNetwork as TwoLayerNetwork,
    output_scale as output_scale,
    student_network as student_network,
    teacher_network as teacher_network,
)
from ._random_feature_model import (
    RandomFeatureModel as RandomFeatureModel,
    random_feature_model as random_feature_model,
)
from ._results import ResultArrays as ResultArrays
from ._setup import (
    AbstractModelSpec as AbstractModelSpec,
    AbstractStudentSpec as AbstractStudentSpec,
    FitSpec as FitSpec,
    KernelRegressionSpec as KernelRegressionSpec,
    LinearTeacherSpec as LinearTeacherSpec,
    Networks as Networks,
    RandomFeatureStudentSpec as RandomFeatureStudentSpec,
    Setup as Setup,
    TeacherSpec as TeacherSpec,
    TheoryOptions as TheoryOptions,
    TimeGrid as TimeGrid,
    TwoLayerStudentSpec as TwoLayerStudentSpec,
    Variants as Variants,
)


try:
    __version__ = importlib.metadata.version("scalinglaws")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"
