"""`run(config) -> Results`: the library's entry point for a run, cached in its run directory.

The `scalinglaws run` command and every script in `experiments/` go through it: a directory that
holds this config's verified results is served without computing; otherwise the memory the run
needs is checked, the run is computed (`run_experiment`), its `[fit]` section fitted, and every file
committed atomically (`OutputDirectory`).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._plotting import learning_curve_figure
from .._setup import Setup
from ..fit import FitError, fit_run
from ._build import build_setup
from ._config import Config, load_config
from ._memory import MemoryEstimate, check_memory
from ._run import Results
from ._store import RESULT_FILES, OutputDirectory, load_results, strict_json
from ._sweep import run_experiment
from ._timing import TimeEstimate, estimate_time


__all__ = ["RunEstimate", "default_directory", "run"]


@dataclass(frozen=True)
class RunEstimate:
    """What a run is estimated to need before it computes: its peak `memory` (the largest over the
    cells of a grid) and its wall `time` (all of them)."""

    memory: MemoryEstimate
    time: TimeEstimate


def _version() -> str:
    from .. import __version__

    return __version__


def default_directory(config: Config) -> Path:
    """`runs/<name>-<first 8 hex digits of the config hash>`."""
    return Path("runs") / f"{config['name']}-{config.hash(_version())[:8]}"


def _fit_section(setup: Setup, arrays: Mapping, summary: dict):
    """The setup's fit, if any: `(fit, {"fit.json": text})`; a fit that fails is recorded in the
    summary (`fit_failed`) and the run is written without it."""
    spec = setup.fit
    if spec is None:
        return None, {}
    try:
        fit, record = fit_run(
            arrays,
            spec.form,
            window=spec.window,
            auto_window=spec.auto_window,
            tolerance=spec.tolerance,
            bootstrap=spec.bootstrap,
            variant=spec.variant,
        )
    except FitError as error:
        summary["fit_failed"] = str(error)
        return None, {}
    summary["fits"] = {record["form"]: record}
    return fit, {"fit.json": strict_json(record)}


def _writers(config: Config, setup: Setup, results: Results, fit, extra: dict) -> dict:
    def draw(path: Path) -> None:
        floor = 0.1 * setup.theory.rtol  # the theory resolves eps_g down to about this
        learning_curve_figure(results.arrays, setup.name, theory_floor=floor, fit=fit).savefig(
            path, dpi=120, format="png"
        )

    def save_arrays(path: Path) -> None:
        import numpy as np

        with open(path, "wb") as handle:
            np.savez_compressed(handle, **results.arrays)

    return {
        "results.npz": save_arrays,
        "config.toml": lambda path: path.write_text(config.to_toml(), encoding="utf-8"),
        "figure.png": draw,
        **{name: (lambda path, text=text: path.write_text(text, encoding="utf-8")) for name, text in extra.items()},
    }


def run(
    config: Config | str | Path,
    out: str | Path | OutputDirectory | None = None,
    *,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    before_compute: Callable[[RunEstimate, str | None], None] | None = None,
) -> Results:
    """Run a config into its run directory and return its results (served from the directory when
    it already holds this config's verified results).

    **Arguments:**

    - `config`: a resolved `Config`, the path of a TOML config or the name of a built-in one
      (`"quickstart"`), with `overrides`: `section.key=value` strings or a mapping of `section.key`
      to Python values (`{"student.hidden": [2, 4, 8]}`; a list sweeps the key).
    - `out`: the run directory (default `default_directory(config)`), or an `OutputDirectory` not yet
      entered (so that a caller can discard its staged files on an interrupt: `OutputDirectory.abort`).
    - `force`: recompute even a verified cached run, and replace a run of another config.
    - `progress`: called as `progress(steps_done, steps_total)` during the simulation.
    - `before_compute`: called with the run's `RunEstimate` (memory and time) and a note on what the
      directory held (or None) once the run is known to be computed, before any computing.

    **Returns:** `Results` with `path`, `cached` and `note` set. **Raises:** `ConfigError` (bad input,
    an unusable directory, a run that does not fit in memory), `Diverged`, `TheoryError` (a
    theory-alone run whose theory cannot be solved), `OSError` (the directory cannot be written;
    nothing was changed).
    """
    import time

    if not isinstance(config, Config):
        config = load_config(config, overrides)
    config_hash = config.hash(_version())
    target = out if isinstance(out, OutputDirectory) else OutputDirectory(out or default_directory(config))
    setups = [build_setup(cell) for _, cell in config.cells()]  # every cell of a grid, checked first
    setup = setups[0]
    writes = [*RESULT_FILES, *(["fit.json"] if setup.fit is not None else [])]
    with target:
        serve, note = target.claim(config_hash, force, writes)
        if serve:
            return Results(load_results(target.path), dict(target.record.summary), target.path, True, note)
        # The cells run one after another: the largest peak is the run's (raises ConfigError: nothing computed yet).
        memory = max((check_memory(s) for s in setups), key=lambda e: e.total)
        timing = estimate_time(setups)
        if before_compute is not None:
            before_compute(RunEstimate(memory, timing), note)
        start = time.perf_counter()
        results = run_experiment(config, progress)
        summary = dict(results.summary, config_hash=config_hash, total_seconds=round(time.perf_counter() - start, 3))
        summary["estimated_seconds"] = timing.as_json()
        fit, extra = _fit_section(setup, results.arrays, summary)
        results = Results(results.arrays, summary, target.path, False, note, results.per_variant)
        target.commit(_writers(config, setup, results, fit, extra), summary, replace_run=True)
    return results
