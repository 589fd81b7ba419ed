"""scalinglaws: theory and simulation of neural scaling laws in student-teacher models, in JAX.

Importing this package enables JAX's 64-bit mode (`jax_enable_x64`): the order-parameter
theories and the closed-form generalisation errors need float64. Simulations stay in float32
unless asked otherwise; every array the package creates has an explicit dtype.
"""

import importlib.metadata

import jax


jax.config.update("jax_enable_x64", True)

from . import simulate as simulate, theory as theory  # noqa: E402
from ._activations import (  # noqa: E402
    AbstractActivation as AbstractActivation,
    Erf as Erf,
    Hermite as Hermite,
    Linear as Linear,
    ReLU as ReLU,
    Tanh as Tanh,
    activation_from_name as activation_from_name,
)
from ._data import GaussianData as GaussianData, isotropic as isotropic, power_law as power_law  # noqa: E402
from ._error import field_covariance as field_covariance, generalisation_error as generalisation_error  # noqa: E402
from ._models import (  # noqa: E402
    RandomFeatureModel as RandomFeatureModel,
    TwoLayerNetwork as TwoLayerNetwork,
    output_scale as output_scale,
    random_feature_model as random_feature_model,
    student_network as student_network,
    teacher_network as teacher_network,
)


try:
    __version__ = importlib.metadata.version("scalinglaws")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"
