"""Small configs whose results are stored in `tests/reference/` (see `generate.py` there)."""

import json
import platform
import tomllib
from pathlib import Path

import jax
import numpy as np


_GRID = """
[training]
alpha_max = 4
alpha_min = 0.1
points_per_decade = 4
seeds = 2
chunk_size = 16
"""

CONFIGS = {
    # Isotropic soft committee machine with label noise: the SCM ODE per seed.
    "scm_isotropic": """
name = "ref-scm"
[data]
input_dim = 32
[teacher]
hidden = 2
noise_std = 0.05
[student]
hidden = 2
init_std = 0.1
"""
    + _GRID
    + "learning_rate = 0.5\n",
    # A learning-rate sweep with a trained second layer and mean output (K = 3, M = 2).
    "lr_sweep_second_layer": """
name = "ref-sweep"
[data]
input_dim = 32
[teacher]
hidden = 2
[student]
hidden = 3
init_std = 0.2
output = "mean"
train_second_layer = true
second_layer_learning_rate = 0.3
second_layer_init = 0.5
"""
    + _GRID
    + "learning_rate = [0.2, 0.6]\n",
    # Power-law data on L = 4 blocks, a student that reads the three leading blocks.
    "power_law_blocks": """
name = "ref-blocks"
[data]
input_dim = 32
spectrum = "power_law"
distinct_eigenvalues = 4
exponent = 1.0
[teacher]
hidden = 2
[student]
hidden = 2
init_std = 0.1
visible_blocks = 3
"""
    + _GRID
    + "learning_rate = 0.5\n",
    # A sweep over spectra (L = 2 and 8) sharing each seed's inputs; stiff solver on the finest partition.
    "spectrum_sweep": """
name = "ref-spectra"
[data]
input_dim = 32
spectrum = "power_law"
distinct_eigenvalues = [2, 8]
exponent = 1.5
normalisation = "top"
[teacher]
hidden = 1
init = "block_orthonormal"
[student]
hidden = 1
init_std = 0.1
activation = "linear"
[teacher.activation]
"""
    + _GRID
    + "learning_rate = 0.3\n",
    # Random features: a sweep over K with the readout ODE per seed.
    "random_features": """
name = "ref-rf"
[data]
input_dim = 16
[teacher]
hidden = 1
[student]
kind = "random_features"
hidden = [8, 24]
readout_init_std = 0.1
"""
    + _GRID
    + "learning_rate = 0.8\npad_widths = false\n",  # the grouped widths; padded ones: tests/test_grid.py
    # Random-feature theory alone over learning rates (seed 0's networks).
    "random_features_theory_alone": """
name = "ref-rf-theory"
[data]
input_dim = 16
[teacher]
hidden = 2
[student]
kind = "random_features"
hidden = 24
"""
    + _GRID.replace("seeds = 2", "seeds = 0")
    + "learning_rate = [0.5, 1.0]\n",
    # SCM theory alone (seed 0's networks).
    "scm_theory_alone": """
name = "ref-scm-theory"
[data]
input_dim = 32
[teacher]
hidden = 2
[student]
hidden = 2
init_std = 0.1
"""
    + _GRID.replace("seeds = 2", "seeds = 0")
    + "learning_rate = 0.5\n",
    # ReLU: no closed-form I3, eps_g from a Monte Carlo test set, no theory.
    "monte_carlo_relu": """
name = "ref-relu"
[data]
input_dim = 32
[teacher]
hidden = 2
activation = "relu"
[student]
hidden = 2
activation = "relu"
init_std = 0.1
"""
    + _GRID.replace("chunk_size = 16", "chunk_size = 16\ntest_size = 64")
    + "learning_rate = 0.2\n",
    # Random features with ReLU on power-law data: Monte Carlo eps_g, no theory.
    "random_features_relu": """
name = "ref-rf-relu"
[data]
input_dim = 16
spectrum = "power_law"
distinct_eigenvalues = 4
[teacher]
hidden = 1
activation = "relu"
[student]
kind = "random_features"
hidden = 12
activation = "relu"
"""
    + _GRID.replace("chunk_size = 16", "chunk_size = 16\ntest_size = 64")
    + "learning_rate = 0.5\n",
}
CONFIGS["spectrum_sweep"] = CONFIGS["spectrum_sweep"].replace("\n[teacher.activation]\n", "\n")
CONFIGS["spectrum_sweep"] = CONFIGS["spectrum_sweep"].replace(
    "[teacher]\nhidden = 1\n", '[teacher]\nhidden = 1\nactivation = "linear"\n'
)

# Summary fields that carry numbers or labels of the physics (not timings or versions).
SUMMARY_FIELDS = (
    "variants",
    "learning_rates",
    "theory",
    "eps_g_method",
    "eps_g_final_mean",
    "eps_g_theory_final_mean",
    "eps_g_asymptote_mean",
    "eps_g_stationary_mean",
    "diverged",
    "seeds",
)


def fingerprint() -> dict:
    """What bit-identical simulations depend on: the JAX build, the CPU and the device count."""
    import jaxlib

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "cpu": cpu, "devices": jax.device_count()}


def run_reference(text: str) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the physics fields of the summary of one reference config."""
    from scalinglaws.experiment import resolve, run_experiment

    raw = tomllib.loads(text)
    training = raw.setdefault("training", {})
    if training.get("algorithm", "online_sgd") == "online_sgd":
        training.setdefault("method", "full")  # the numbers stored are the full engine's
    config = resolve(raw)
    results = run_experiment(config)
    summary = {key: results.summary.get(key) for key in SUMMARY_FIELDS if key in results.summary}
    return dict(results.arrays), json.loads(json.dumps(summary))
