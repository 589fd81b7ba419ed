"""The config schema: every key with its type, default, allowed range and meaning (the README's table)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._activations import ACTIVATION_NAMES, activation_from_name
from .._models import OUTPUT_SCALINGS


__all__ = ["KEYS", "MAX_BOOTSTRAP", "MAX_HERMITE_DEGREE", "MAX_STEPS", "Key"]


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default, allowed range and meaning."""

    kind: str  # "int", "float", "bool", "str", "choice", "floats"/"ints" (a number or a list of them), "keys"
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: int | float | None = None
    exclusive: bool = False  # minimum is exclusive
    maximum: int | float | None = None  # inclusive; every size has one, and every float must be finite
    check: Callable[[Any], str | None] | None = None
    optional: bool = False  # None (key absent) is allowed


MAX_HERMITE_DEGREE = 30  # He_k(x) / sqrt(k!) stays well inside float32 for |x| < 10
MAX_STEPS = 2**31 - 1  # SGD steps of one run (alpha_max * N): the engine counts chunks in int32
MAX_BOOTSTRAP = 10_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def _activation_check(name: str) -> str | None:
    try:
        activation = activation_from_name(name)
    except ValueError:
        return f"must be one of {', '.join(ACTIVATION_NAMES)}, got {name!r}"
    degree = (
        len(activation.coefficients) - 1 if hasattr(activation, "coefficients") else getattr(activation, "degree", 0)
    )
    if degree > MAX_HERMITE_DEGREE:
        return f"a Hermite degree must be at most {MAX_HERMITE_DEGREE}, got {name!r}"
    return None


def _name_check(name: str) -> str | None:
    if not _NAME.fullmatch(name):
        return (
            "must be 1 to 100 letters, digits, '.', '_', '+' or '-', starting with a letter or digit (it names "
            f"the output directory runs/<name>-<hash>), got {name!r}"
        )
    return None


_ACTIVATION_DOC = "activation: " + ", ".join(ACTIVATION_NAMES)

KEYS: dict[str, dict[str, Key]] = {
    "": {
        "name": Key(
            "str",
            "run",
            "name of the run (1-100 of A-Z a-z 0-9 . _ + -); the default output directory is runs/<name>-<hash>",
            check=_name_check,
        ),
        "description": Key("str", "", "one line shown by `scalinglaws list`"),
        "grid": Key(
            "keys",
            None,
            "the order of a grid's axes: every swept key (a key given a list) once, e.g. "
            "['student.hidden', 'training.learning_rate'] (default: the order they are given in)",
            optional=True,
        ),
    },
    "data": {
        "input_dim": Key("ints", 500, "N, the input dimension; a list runs a grid axis", minimum=1, maximum=2**24),
        "spectrum": Key("choice", "isotropic", "input covariance", choices=("isotropic", "power_law")),
        "exponent": Key(
            "floats",
            1.0,
            "beta: eigenvalues lambda_l ∝ l^-(1+beta) (power_law); a list runs a vmapped sweep",
            minimum=-1,
            exclusive=True,
            maximum=20,
        ),
        "distinct_eigenvalues": Key(
            "ints",
            None,
            "L, distinct eigenvalues, each of multiplicity N/L; must divide N (default N); a list runs a "
            "sweep sharing each seed's inputs (each L must divide the largest)",
            minimum=1,
            maximum=2**24,
            optional=True,
        ),
        "normalisation": Key(
            "choice",
            "trace",
            "power-law normalisation: Tr(Sigma)/N = 1 (trace) or lambda_1 = 1 (top)",
            choices=("trace", "top"),
        ),
    },
    "teacher": {
        "hidden": Key("ints", 2, "M, teacher hidden units; a list runs a grid axis", minimum=1, maximum=2**16),
        "activation": Key("str", "erf", _ACTIVATION_DOC, check=_activation_check),
        "output": Key("choice", "sum", "output scaling: sum, mean (1/M), sqrt (1/sqrt M)", choices=OUTPUT_SCALINGS),
        "init": Key(
            "choice",
            "gaussian",
            "first layer: gaussian (B ~ N(0,1)), orthonormal (T = I exactly), or block_orthonormal "
            "(orthonormal within each eigenvalue block: every block overlap t^(l) = I / L exactly)",
            choices=("gaussian", "orthonormal", "block_orthonormal"),
        ),
        "second_layer": Key(
            "choice",
            "ones",
            "second layer: ones, or power_law A_p ∝ p^-exponent with sum A_p^2 = 1",
            choices=("ones", "power_law"),
        ),
        "second_layer_exponent": Key("float", 1.0, "exponent of a power_law second layer", minimum=0, maximum=100),
        "noise_std": Key("float", 0.0, "standard deviation of Gaussian label noise", minimum=0),
        "variance_exponent": Key(
            "float",
            0.0,
            "kernel regression: teacher variances s_i^2 = i^-exponent per eigenmode (0: isotropic)",
            minimum=-10,
            maximum=20,
        ),
    },
    "student": {
        "kind": Key(
            "choice",
            "two_layer",
            "student model: two_layer (trained first layer), random_features (frozen Gaussian first "
            "layer F_kn ~ N(0, 1), trained readout), kernel_regression (f = w . x over the N eigenmodes "
            "of data.spectrum, trained on training.samples fixed samples), or homogeneous (Ren et al.'s "
            "f = sum_k |v_k|^2 g(v_k . x / |v_k|), every weight trained, |v_k(0)| = init_std)",
            choices=("two_layer", "random_features", "kernel_regression", "homogeneous"),
        ),
        "hidden": Key(
            "ints",
            2,
            "K, student hidden units (random features: K = gamma N features); a list runs a grid axis",
            minimum=1,
            maximum=2**20,
        ),
        "activation": Key("str", "erf", _ACTIVATION_DOC, check=_activation_check),
        "output": Key("choice", "sum", "output scaling: sum, mean (1/K), sqrt (1/sqrt K)", choices=OUTPUT_SCALINGS),
        "init_std": Key("float", 1e-3, "sigma_J: first-layer weights ~ N(0, sigma_J^2)", minimum=0),
        "readout_init_std": Key(
            "float", 0.0, "random features: initial readout a_k ~ N(0, std^2); kernel regression: w(0)", minimum=0
        ),
        "visible_blocks": Key(
            "int",
            None,
            "L_s: the student reads only the inputs of the L_s largest eigenvalue blocks (P = K N L_s / L "
            "trainable weights; default all)",
            minimum=1,
            maximum=2**24,
            optional=True,
        ),
        "train_second_layer": Key("bool", False, "train the second layer v"),
        "second_layer_init": Key("float", 1.0, "initial value of every v_k"),
        "second_layer_learning_rate": Key(
            "float", None, "eta_v (default: training.learning_rate)", minimum=0, exclusive=True, optional=True
        ),
    },
    "training": {
        "algorithm": Key(
            "choice",
            "online_sgd",
            "online_sgd (networks), full-batch gradient_flow or langevin on training.samples fixed "
            "samples (kernel_regression), or population_gd: gradient descent on the exact population "
            "loss with step training.learning_rate (homogeneous)",
            choices=("online_sgd", "gradient_flow", "langevin", "population_gd"),
        ),
        "samples": Key(
            "ints", 100, "P, training samples of full-batch training; a list runs a grid axis", minimum=1, maximum=2**24
        ),
        "temperature": Key("float", 0.0, "T of Langevin dynamics, dw = ... + sqrt(2T) dB", minimum=0, maximum=1e6),
        "weight_decay": Key("float", 0.0, "kappa: dw = -grad L dt - kappa w dt + ...", minimum=0, maximum=1e6),
        "loss": Key(
            "choice",
            "sum",
            "full-batch loss: sum (1/2 sum_mu (y - f)^2) or mean (1/P of it: time, kappa and T scale by P)",
            choices=("sum", "mean"),
        ),
        "time_max": Key(
            "float",
            100.0,
            "last time t of full-batch training (or tau of a homogeneous student's gradient flow)",
            minimum=0,
            exclusive=True,
            maximum=1e9,
        ),
        "time_min": Key("float", 0.01, "first nonzero recording time t", minimum=0, exclusive=True),
        "method": Key(
            "choice",
            "auto",
            "online SGD: full (the networks on drawn inputs) or reduced (the exact chain of the block "
            "overlaps, whose cost does not grow with N; needs two-layer networks with one closed-form "
            "activation and N / L >= K + M); auto: reduced where it applies and is cheaper. Full-batch "
            "training: exact (each draw averaged exactly over teacher, label and thermal noise) or "
            "euler_maruyama (everything sampled, step training.time_step); auto: exact",
            choices=("auto", "full", "reduced", "exact", "euler_maruyama"),
        ),
        "time_step": Key(
            "float",
            1e-3,
            "Euler-Maruyama step dt (recording times are rounded to multiples)",
            minimum=0,
            exclusive=True,
        ),
        "learning_rate": Key("floats", 0.5, "eta; a list runs a vmapped sweep", minimum=0, exclusive=True),
        "alpha_max": Key(
            "float",
            1000.0,
            f"last time alpha = steps/N (at most {MAX_STEPS} steps: alpha_max * N <= 2^31 - 1)",
            minimum=0,
            exclusive=True,
            maximum=1e9,
        ),
        "alpha_min": Key("float", 0.01, "first nonzero recording time", minimum=0, exclusive=True),
        "points_per_decade": Key("int", 20, "recording points per decade of alpha (or t)", minimum=1, maximum=10_000),
        "pad_widths": Key(
            "bool",
            True,
            "run a sweep's student widths as one program of the widest, a narrower width's extra units "
            "inert (compiled once; each step costs the widest); false: one program per width",
        ),
        "seeds": Key(
            "int",
            8,
            "independent runs, or data draws of full-batch training (0 = theory alone)",
            minimum=0,
            maximum=2**20,
        ),
        "seed": Key("int", 0, "base PRNG seed", minimum=0, maximum=2**63 - 1),
        "dtype": Key("choice", "float32", "simulation dtype", choices=("float32", "float64")),
        "chunk_size": Key(
            "int", None, "inputs drawn at once per run (default: automatic)", minimum=1, maximum=2**16, optional=True
        ),
        "test_size": Key(
            "int", 10000, "Monte Carlo test set (activations without closed-form I2)", minimum=16, maximum=2**24
        ),
        "divergence_threshold": Key(
            "float", 1e6, "a run has diverged when max_k Q_kk (or eps_g) exceeds this", minimum=0, exclusive=True
        ),
        "on_divergence": Key(
            "choice",
            "error",
            "error: exit 3, write nothing; record: write NaN after divergence and say so",
            choices=("error", "record"),
        ),
    },
    "theory": {
        "enabled": Key("bool", True, "compute the theory when one exists for the setup"),
        "rtol": Key(
            "float", 1e-10, "relative tolerance of the adaptive ODE solver", minimum=0, exclusive=True, maximum=1
        ),
        "atol": Key(
            "float", 1e-13, "absolute tolerance of the adaptive ODE solver", minimum=0, exclusive=True, maximum=1
        ),
        "max_steps": Key("int", 1000000, "most ODE solver steps", minimum=1, maximum=10**9),
        "solver": Key(
            "choice",
            "auto",
            "ODE solver: explicit (Tsit5), stiff (Rodas4 with the structured Jacobian), or auto (stiff for "
            "power-law data with a top-to-bottom eigenvalue ratio of at least 100)",
            choices=("auto", "explicit", "stiff"),
        ),
        "plateau": Key(
            "bool",
            True,
            "with a symmetric teacher (K = M, orthonormal rows, equal blocks), predict each run's escape from "
            "the plateau and record it in summary.json's plateau",
        ),
    },
    "fit": {
        "form": Key(
            "choice",
            None,
            "fit this form to eps_g_sim after the run (fit.json): power_law, pure_power_law, broken_power_law, "
            "plateau_power_law or exponential (default: no fit)",
            choices=("power_law", "pure_power_law", "broken_power_law", "plateau_power_law", "exponential"),
            optional=True,
        ),
        "range": Key("floats", None, "[alpha_min, alpha_max] of the fit (default: all)", minimum=0, optional=True),
        "auto_window": Key("bool", False, "fit where the local exponent is steady (a power-law regime)"),
        "tolerance": Key(
            "float", 0.05, "steadiness of the local exponent for auto_window", minimum=0, exclusive=True, maximum=10
        ),
        "bootstrap": Key(
            "int",
            200,
            "bootstrap resamples over seeds for the intervals (0: curvature)",
            minimum=0,
            maximum=MAX_BOOTSTRAP,
        ),
        "variant": Key(
            "int",
            None,
            "which cell of a sweep or grid to fit (its flat index, the last axis fastest)",
            minimum=0,
            maximum=2**16,
            optional=True,
        ),
    },
}
