"""From a setup to results: simulate with the setup's learner, solve the first theory that applies,
and collect arrays (under the names of the results contract) and a summary."""

import importlib.metadata
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from .._observables import divergence_lines
from .._setup import Setup
from ..simulate import Simulation
from ..theory import THEORIES, TheoryError, Trajectory, theory_for
from ._build import build_setup
from ._config import Config, ConfigError


__all__ = ["Diverged", "Results", "run_experiment", "theory_advice"]


class Diverged(RuntimeError):
    """A simulation diverged (NaN or blow-up); the message names the runs and the alpha."""


class Results(eqx.Module):
    """What a run produces: the arrays of `results.npz` and the fields of `summary.json`; `path` the
    run directory it was written to or served from (None when not written), `cached` whether it
    was served from there without computing, and `note` what was found there (e.g. why it was
    recomputed)."""

    arrays: dict[str, np.ndarray]
    summary: dict = eqx.field(default_factory=dict)
    path: Path | None = None
    cached: bool = False
    note: str | None = None


_ADVICE = {
    "step_limit": "raise theory.max_steps, loosen theory.rtol, or shorten training.alpha_max",
    "failed": "lower training.learning_rate (the dynamics may blow up), or loosen theory.rtol",
    "non_finite": "lower training.learning_rate",
}


def theory_advice(error: TheoryError) -> str:
    """The error's message with advice in terms of config keys."""
    advice = _ADVICE.get(getattr(error, "reason", ""), "")
    return f"{error}; {advice}" if advice else str(error)


def _versions() -> dict[str, str]:
    out = {}
    for package in ("scalinglaws", "jax", "jaxlib", "equinox", "diffrax", "optax", "numpy"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "not installed"
    out["python"] = platform.python_version()
    return out


def _device() -> str:
    device = jax.devices()[0]
    return f"{device.platform}: {getattr(device, 'device_kind', '')} x{jax.device_count()}".strip()


def _final_seed_mean(eps: np.ndarray) -> list[float]:
    """Seed mean of the last eps_g of every variant, ignoring diverged (NaN) runs."""
    with warnings.catch_warnings():  # every seed of a variant may have diverged
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(eps[..., -1], axis=-1).tolist()


def _axes(setup: Setup) -> dict[str, np.ndarray]:
    """The time axis, the spectra and the swept values."""
    variants = setup.variants
    arrays = {
        "alpha": setup.grid.alpha,
        "eigenvalues": variants.eigenvalues if variants.swept else variants.eigenvalues[0],
    }
    if variants.swept:
        arrays[variants.axis] = variants.values
    return arrays


def _by_variant(setup: Setup, sims: list[Simulation], name: str) -> np.ndarray:
    """`name` (leading axis H) of the simulations of every group of variants, in variant order."""
    order = np.concatenate(setup.variants.groups())
    return np.concatenate([getattr(sim, name) for sim in sims])[np.argsort(order)]


def _simulation_arrays(setup: Setup, sims: list[Simulation], per_run) -> dict[str, np.ndarray]:
    """The simulations' arrays under the names of the results contract (README). With several
    groups of variants (a sweep over K), only the arrays that do not depend on K."""
    sim = sims[0]
    arrays = {
        "steps": sim.steps,
        "eps_g_sim": per_run(_by_variant(setup, sims, "eps_g")),
        "T_sim": sim.t,
        "A_teacher": sim.teacher_second_layer,
        "diverged_alpha": per_run(_by_variant(setup, sims, "diverged_alpha")),
    }
    if len(sims) > 1:
        return arrays
    if sim.q.shape[-1]:
        arrays.update(Q_sim=per_run(sim.q), R_sim=per_run(sim.r))
    if sim.second_layer is not None:
        arrays[f"{setup.student.second_layer_name}_sim"] = per_run(sim.second_layer)
    if sim.q_blocks is not None:
        arrays.update(Q_blocks_sim=per_run(sim.q_blocks), R_blocks_sim=per_run(sim.r_blocks), T_blocks_sim=sim.t_blocks)
    return arrays


def _simulate(setup: Setup, progress, per_run, summary: dict, diverged: list[str]) -> dict[str, np.ndarray]:
    """Train with the setup's learner; raises `Diverged` before any theory when asked to stop."""
    sims = setup.learner.run(setup, progress=progress)
    diverged_alpha = _by_variant(setup, sims, "diverged_alpha")
    diverged.extend(divergence_lines(diverged_alpha, setup.variants.labels))
    if diverged and setup.stop_on_divergence:
        raise Diverged("; ".join(diverged))  # before the theory: nothing will be written
    run_seconds = sum(sim.run_seconds for sim in sims)
    seed_steps = setup.variants.size * setup.seeds * int(setup.grid.steps[-1])
    eps = _by_variant(setup, sims, "eps_g")
    summary.update(
        eps_g_method=sims[0].eps_g_method,
        compile_seconds=round(sum(sim.compile_seconds for sim in sims), 3),
        simulation_seconds=round(run_seconds, 3),
        seed_steps_per_second=round(seed_steps / max(run_seconds, 1e-9)),
        eps_g_final_mean=_final_seed_mean(eps),
    )
    return _simulation_arrays(setup, sims, per_run)


def _theory_arrays(trajectory: Trajectory, per_run) -> dict[str, np.ndarray]:
    return {**{name: per_run(x) for name, x in trajectory.per_variant.items()}, **trajectory.shared}


def run_experiment(
    config: Config | Setup, progress: Callable[[int, int], None] | None = None, theories=THEORIES
) -> Results:
    """Run what a config (or its `Setup`) asks for — simulation and/or theory — and return arrays
    and summary. The theory is the first of `theories` that applies to the setup.

    Raises `ConfigError` for a setup that cannot be run, `Diverged` when a simulation or the
    theory diverged and `training.on_divergence = "error"`, and `TheoryError` (with advice) when
    the theory of a theory-alone run cannot be solved.
    """
    setup = build_setup(config) if isinstance(config, Config) else config
    theory, description = (
        theory_for(setup, theories) if setup.theory.enabled else (None, "disabled (theory.enabled = false)")
    )
    if setup.seeds == 0 and theory is None:
        raise ConfigError("training.seeds", f"is 0 (theory alone), but the theory is {description}; use seeds >= 1")
    start = time.perf_counter()
    variants = setup.variants
    arrays = _axes(setup)
    summary: dict = {
        "name": setup.name,
        "versions": _versions(),
        "device": _device(),
        "seeds": setup.seeds,
        "learning_rates": variants.learning_rates.tolist(),
        "variants": list(variants.labels),
        "theory": description,
    }
    diverged: list[str] = []

    def per_run(x):  # (H, ...) -> (...) unless the config sweeps
        return x if variants.swept else x[0]

    if setup.seeds > 0:
        arrays.update(_simulate(setup, progress, per_run, summary, diverged))
    if theory is not None:
        theory_start = time.perf_counter()
        try:
            trajectory = theory.solve(setup, theory.initial_state(setup, setup.networks()))
        except TheoryError as error:
            if setup.seeds == 0:
                raise TheoryError(theory_advice(error), error.reason) from error
            # Keep the simulation: the run is written without theory arrays and says why.
            summary["theory"] = f"failed: {theory_advice(error)}"
            summary["theory_failed"] = True
        else:
            diverged.extend(divergence_lines(trajectory.diverged_alpha, variants.labels, "theory at "))
            arrays.update(_theory_arrays(trajectory, per_run))
            summary["theory_seconds"] = round(time.perf_counter() - theory_start, 3)
            summary["eps_g_theory_final_mean"] = _final_seed_mean(trajectory.per_variant["eps_g_theory"])
            summary.update(trajectory.summary)
    summary["diverged"] = "; ".join(diverged) or None
    if diverged and setup.stop_on_divergence:
        raise Diverged(summary["diverged"])
    summary["wall_seconds"] = round(time.perf_counter() - start, 3)
    return Results(arrays, summary)
