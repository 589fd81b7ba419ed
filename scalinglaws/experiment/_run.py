"""From a setup to results: simulate with the setup's learner, solve the first theory that applies,
and collect arrays (under the names of the results contract) and a summary (`run_setup`; a grid of
setups is `scalinglaws.experiment._sweep`'s)."""

import importlib.metadata
import platform
import time
import warnings
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from .._observables import clip_round_off, divergence_lines
from .._results import ResultArrays, nan_inert_units
from .._setup import Setup
from ..theory import THEORIES, TheoryError, Trajectory, add_simulated_escapes, theory_for
from ._build import build_setup
from ._config import Config, ConfigError


__all__ = ["Diverged", "Results", "run_setup", "theory_advice"]


class Diverged(RuntimeError):
    """A simulation diverged (NaN or blow-up); the message names the runs and the alpha."""


class Results(eqx.Module):
    """What a run produces: the arrays of `results.npz` and the fields of `summary.json`; `path` the
    run directory it was written to or served from (None when not written), `cached` whether it
    was served from there without computing, and `note` what was found there (e.g. why it was
    recomputed). `arrays` is a mapping that also names the grid axes each array carries
    (`ResultArrays`); `per_variant` names the arrays a learner or theory computed per variant."""

    arrays: ResultArrays
    summary: dict = eqx.field(default_factory=dict)
    path: Path | None = None
    cached: bool = False
    note: str | None = None
    per_variant: tuple[str, ...] = ()


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
    """Seed mean of the last eps_g of every variant (H, S, T), ignoring diverged (NaN) runs; the
    last eps_g of every variant of a theory without a seed axis (H, T)."""
    last = np.asarray(eps)[..., -1]
    if last.ndim == 1:
        return last.tolist()
    with warnings.catch_warnings():  # every seed of a variant may have diverged
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(last, axis=-1).tolist()


def _axes(setup: Setup) -> dict[str, np.ndarray]:
    """The time axis, the spectra and the swept values."""
    variants = setup.variants
    arrays = {
        setup.grid.name: setup.grid.times,
        "eigenvalues": variants.eigenvalues.reshape(*variants.shape, -1),
    }
    arrays.update(zip(variants.axes, variants.axis_values))
    return arrays


def _simulate(setup: Setup, progress, per_run, summary: dict, diverged: list[str], names: list[str]) -> dict:
    """Train with the setup's learner; raises `Diverged` before any theory when asked to stop."""
    reason = setup.learner.why_not(setup)
    if reason is not None:
        raise ConfigError("training.algorithm", f"cannot train this setup: {reason}")
    recording = setup.learner.record(setup, progress=progress)
    diverged.extend(divergence_lines(recording.diverged_at, setup.variants.labels, time=setup.grid.name))
    if diverged and setup.stop_on_divergence:
        raise Diverged("; ".join(diverged))  # before the theory: nothing will be written
    per_variant = _recorded(setup, recording.per_variant, summary)
    summary.update(recording.summary, eps_g_final_mean=_final_seed_mean(per_variant["eps_g_sim"]))
    names.extend(per_variant)
    return {**{name: per_run(x) for name, x in per_variant.items()}, **recording.shared}


def _recorded(setup: Setup, per_variant: dict, summary: dict) -> dict:
    """A learner's or theory's per-variant arrays as they are stored: padded widths' inert units as
    NaN (`nan_inert_units`), and errors below zero, the closed form's round-off, as 0 (said in the
    summary's `eps_g_clipped`)."""
    if setup.variants.padded:
        per_variant = nan_inert_units(per_variant, setup.variants.hidden)
    per_variant, clipped = clip_round_off(per_variant)
    summary["eps_g_clipped"] = {**(summary.get("eps_g_clipped") or {}), **clipped} or None
    return per_variant


def _theory_arrays(setup: Setup, trajectory: Trajectory, per_run, summary: dict) -> dict[str, np.ndarray]:
    per_variant = _recorded(setup, trajectory.per_variant, summary)
    summary["eps_g_theory_final_mean"] = _final_seed_mean(per_variant["eps_g_theory"])
    return {**{name: per_run(x) for name, x in per_variant.items()}, **trajectory.shared}


def _simulated_escapes(setup: Setup, summary: dict, arrays: dict) -> None:
    """The simulation's escapes from the plateau of a theory's plateau record, per variant and seed."""
    record = summary.get("plateau")
    if record is not None and "eps_g_sim" in arrays:
        eps = np.reshape(arrays["eps_g_sim"], (setup.variants.size, setup.seeds, -1))
        add_simulated_escapes(record, setup.grid.times, eps)


def run_setup(config: Config | Setup, progress=None, theories=THEORIES) -> Results:
    """Run one setup (or a config without outer grid axes): simulation, theory, arrays and summary."""
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
        "processes": jax.process_count(),
        "seeds": setup.seeds,
        "learning_rates": variants.learning_rates.tolist(),
        "variants": list(variants.labels),
        "theory": description,
    }
    diverged: list[str] = []

    def per_run(x):  # (H, ...) -> (*variants.shape, ...): (...) unless the config sweeps
        return np.reshape(x, (*variants.shape, *np.shape(x)[1:]))

    recorded_names, trajectory_names = [], []
    if setup.seeds > 0:
        arrays.update(_simulate(setup, progress, per_run, summary, diverged, recorded_names))
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
            diverged.extend(divergence_lines(trajectory.diverged_alpha, variants.labels, "theory at ", setup.grid.name))
            arrays.update(_theory_arrays(setup, trajectory, per_run, summary))
            trajectory_names.extend(trajectory.per_variant)
            summary["theory_seconds"] = round(time.perf_counter() - theory_start, 3)
            summary.update(trajectory.summary)
            _simulated_escapes(setup, summary, arrays)
    # Errors below zero are the closed form's round-off once eps_g has reached 0: stored as 0, said here.
    summary.setdefault("eps_g_clipped", None)
    summary["diverged"] = "; ".join(diverged) or None
    if diverged and setup.stop_on_divergence:
        raise Diverged(summary["diverged"])
    summary["wall_seconds"] = round(time.perf_counter() - start, 3)
    per_variant = (*recorded_names, *trajectory_names)
    axes = {name: variants.axes for name in (*per_variant, "eigenvalues") if name in arrays}
    axes.update({name: (name,) for name in variants.axes})
    grid = tuple(zip(variants.axes, variants.axis_values))
    return Results(ResultArrays(arrays, grid, axes), summary, per_variant=per_variant)
