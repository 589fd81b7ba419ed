"""scalinglaws: theory and simulation of neural scaling laws in student-teacher models, in JAX.

Importing this package enables JAX's 64-bit mode (`jax_enable_x64`): the order-parameter
theories and the closed-form generalisation errors need float64. Simulations stay in float32
unless asked otherwise; every array the package creates has an explicit dtype.

It also turns off XLA's concurrency-optimized CPU scheduler (through `XLA_FLAGS`, before JAX
starts its backend): with jax 0.10.2 the stiff solver's batched structured solve hung on CPU once
the batch times the number of eigen-blocks reached 4096 (for example 4 seeds at L = 1024); with
the flag it runs normally (`shared/PERFORMANCE.md`).
"""

import importlib.metadata
import os


_SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
if "xla_cpu_enable_concurrency_optimized_scheduler" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_SCHEDULER_FLAG}".strip()

import jax  # noqa: E402


jax.config.update("jax_enable_x64", True)

from . import fit as fit, simulate as simulate, theory as theory  # noqa: E402
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
