"""`run_experiment`: a config's run, and a grid with outer axes — one `Setup` per outer cell, run in
turn, results stacked on named axes.

The inner axes of each cell (learning rates, spectra, grouped widths) run as the cell's variants;
the outer axes (`scalinglaws.experiment._grid`) change shapes, so each outer cell is a run of its
own. Their arrays are stacked along the outer axes and every array's axes are put in the grid's
order (`ResultArrays`); an array that is the same in every outer cell is stored once.
"""

import time
from collections.abc import Callable

import numpy as np

from .._results import AXIS_KEYS, AXIS_NAMES, ResultArrays, pad_stack
from .._setup import Setup
from ..theory import THEORIES
from ._compile_stats import compile_stats
from ._config import Config
from ._run import Diverged, Results, run_setup


__all__ = ["run_cells", "run_experiment"]


def run_experiment(
    config: Config | Setup, progress: Callable[[int, int], None] | None = None, theories=THEORIES
) -> Results:
    """Run what a config (or its `Setup`) asks for — simulation and/or theory, every cell of its grid
    — and return arrays and summary. The theory is the first of `theories` that applies to the setup.

    Raises `ConfigError` for a setup that cannot be run, `Diverged` when a simulation or the
    theory diverged and `training.on_divergence = "error"`, and `TheoryError` (with advice) when
    the theory of a theory-alone run cannot be solved.
    """
    with compile_stats() as compiling:
        cells = config.cells() if isinstance(config, Config) else [((), config)]
        if len(cells) == 1 and cells[0][0] == ():
            results = run_setup(cells[0][1], progress, theories)
        else:
            results = run_cells(config, cells, progress, theories)
    if results.arrays.grid:
        results.summary["grid"] = {
            "axes": [{"key": AXIS_KEYS[name], "name": name, "values": v.tolist()} for name, v in results.arrays.grid],
            "arrays": results.arrays.axes_json(),
        }
    results.summary["compile_seconds"] = compiling.pop("compile_seconds")
    results.summary["compilation"] = compiling
    return results


_SUMMED = ("simulation_seconds", "theory_seconds")


def _constant_axes(stacked: np.ndarray, count: int) -> list[int]:
    """The leading axes (of the first `count`) along which every slice of `stacked` is the same."""
    equal_nan = stacked.dtype.kind in "fc"
    return [
        j
        for j in range(count)
        if all(
            np.array_equal(np.take(stacked, 0, axis=j), np.take(stacked, i, axis=j), equal_nan=equal_nan)
            for i in range(1, stacked.shape[j])
        )
    ]


def _stack(name: str, cells: list[Results], outer: list[str], outer_shape, order: list[str]):
    """One array over every outer cell, with its axes in grid order: `(array, axes)`. What a
    learner or theory computed per variant carries every outer axis; anything else (the time grid,
    the teachers' overlaps, the spectra) only those along which it changes."""
    present = [c.arrays for c in cells if name in c.arrays]
    inner = present[0].axes(name)
    parts = [np.asarray(p[name]) for p in present]
    if len(present) < len(cells):  # a cell without it (its theory failed): NaN there
        template = np.full(parts[0].shape, np.nan)
        parts = [np.asarray(c.arrays[name]) if name in c.arrays else template for c in cells]
    stacked = pad_stack(parts, outer_shape)
    kept = list(range(len(outer)))
    if not any(name in c.per_variant for c in cells):
        constant = _constant_axes(stacked, len(outer))
        stacked = stacked[tuple(0 if j in constant else slice(None) for j in range(len(outer)))]
        kept = [j for j in kept if j not in constant]
    carried = [*(outer[j] for j in kept), *inner]
    wanted = [axis for axis in order if axis in carried]
    permutation = [carried.index(axis) for axis in wanted] + list(range(len(carried), stacked.ndim))
    return np.transpose(stacked, permutation), tuple(wanted)


def _in_grid_order(values: list[list[float]], outer_shape, inner_shape, outer: list[str], inner: list[str], order):
    """Per-cell lists over the inner variants (flat, C order) as one flat list in grid order."""
    array = np.asarray(values, np.float64).reshape(*outer_shape, *inner_shape)
    carried = [*outer, *inner]
    return np.transpose(array, [carried.index(axis) for axis in order]).reshape(-1).tolist()


def _clipped(summaries: list[dict]) -> dict | None:
    merged: dict = {}
    for summary in summaries:
        for name, record in (summary.get("eps_g_clipped") or {}).items():
            into = merged.setdefault(name, {"count": 0, "most_negative": 0.0})
            into["count"] += record["count"]
            into["most_negative"] = min(into["most_negative"], record["most_negative"])
    return merged or None


def run_cells(config: Config, cells: list[tuple[tuple[int, ...], Config]], progress, theories) -> Results:
    """Run every outer cell of `config`'s grid and stack the results (the module docstring)."""
    order = [AXIS_NAMES[key] for key in config["grid"]]
    outer_keys = [key for key in config["grid"] if not isinstance(cells[0][1].get_key(key), list)]
    outer = [AXIS_NAMES[key] for key in outer_keys]
    outer_values = [config.get_key(key) for key in outer_keys]
    outer_shape = tuple(len(values) for values in outer_values)
    start = time.perf_counter()
    offset = [0, 0]  # steps of the finished cells, and the total the current cell reported
    results: list[Results] = []
    labels = [", ".join(f"{n}={values[i]:g}" for n, values, i in zip(outer, outer_values, index)) for index, _ in cells]
    for (_, cell), label in zip(cells, labels):

        def cell_progress(done: int, total: int) -> None:
            offset[1] = total
            if progress is not None:
                progress(offset[0] + done, offset[0] + total)

        try:
            results.append(run_setup(cell, cell_progress, theories))
        except Diverged as error:
            raise Diverged(f"{label}: {error}") from None
        offset[:] = [offset[0] + offset[1], 0]
    arrays = [r.arrays for r in results]
    names = list(dict.fromkeys(name for a in arrays for name in a))
    stacked, axes = {}, {}
    for name in names:
        stacked[name], axes[name] = _stack(name, results, outer, outer_shape, order)
    for name, values in zip(outer, outer_values):
        stacked[name], axes[name] = np.asarray(values), (name,)
    inner_grid = dict(arrays[0].grid)
    grid = tuple((name, np.asarray(dict(zip(outer, outer_values)).get(name, inner_grid.get(name)))) for name in order)
    summaries = [r.summary for r in results]
    summary = dict(summaries[0])
    inner = [name for name, _ in arrays[0].grid]
    inner_shape = arrays[0].shape
    for key in ("eps_g_final_mean", "eps_g_theory_final_mean"):
        if all(key in s for s in summaries):
            summary[key] = _in_grid_order([s[key] for s in summaries], outer_shape, inner_shape, outer, inner, order)
        else:
            summary.pop(key, None)
    for key in _SUMMED:
        if any(key in s for s in summaries):
            summary[key] = round(sum(s.get(key, 0.0) for s in summaries), 3)
    summary["wall_seconds"] = round(time.perf_counter() - start, 3)
    summary["variants"] = [
        ", ".join(f"{name}={value:g}" for name, value in zip(order, combination))
        for combination in np.stack(np.meshgrid(*(v for _, v in grid), indexing="ij"), -1).reshape(-1, len(grid))
    ]
    summary["learning_rates"] = sorted({rate for s in summaries for rate in s["learning_rates"]})
    summary["diverged"] = "; ".join(
        f"{label}: {s['diverged']}" for label, s in zip(labels, summaries) if s.get("diverged")
    )
    summary["diverged"] = summary["diverged"] or None
    summary["eps_g_clipped"] = _clipped(summaries)
    if any(s.get("theory_failed") for s in summaries):
        summary["theory_failed"] = True
        summary["theory"] = "; ".join(dict.fromkeys(s["theory"] for s in summaries))
    summary["cells"] = [
        {
            "index": list(index),
            "values": {
                name: values[i].item() if hasattr(values[i], "item") else values[i]
                for name, values, i in zip(outer, outer_values, index)
            },
            **{key: s[key] for key in ("wall_seconds", "simulation_method", "theory", "diverged") if key in s},
        }
        for (index, _), s in zip(cells, summaries)
    ]
    per_variant = tuple(dict.fromkeys(name for r in results for name in r.per_variant))
    return Results(ResultArrays(stacked, grid, axes), summary, per_variant=per_variant)
