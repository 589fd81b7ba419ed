"""Laws across runs: eps_g against a swept size, the compute frontier, and joint laws.

A scaling law is a statement across sizes. From a grid (`scalinglaws.ResultArrays`, as `run`
writes and `load_results` reads) or from several runs:

- `fit_against`: a statistic of every seed's learning curve — eps_g at a fixed time (log-log
  interpolation between recorded points), at the end (`"final"`), or the lowest over time
  (`"best"`) — against one swept key, fitted with any `Form` (a power law, with an offset or
  without). One fit per combination of the grid's other axes. Bootstrap over seeds as in
  `fit_curve` (the seeds of one run are paired across its cells; runs fitted together must have
  as many seeds each).
- `compute_frontier`: from a width x time grid, the lower envelope of the seed-mean eps_g against
  compute `C = width x steps`, the width that attains it, and the power laws
  `envelope ∝ C^loss_exponent`, `optimal width ∝ C^width_exponent` (least squares in log-log over a
  window of C or of loss), with 95 % bootstrap intervals over seeds (the compute-optimal law of
  Ren et al., arXiv 2504.19983, is one use).
- `fit_joint`: a law of two variables, `eps(n, alpha) = A n^-a + B alpha^-b + E` over every cell
  and time of a grid along `n` (`JOINT_POWER_LAW`, the form of compute-optimal fits of language
  models), fitted as `fit_curve` fits, bootstrap included.
"""

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .._results import AXIS_NAMES, ResultArrays
from .._setup import time_axis
from ._fit import Fit, FitError, fit_curve, student_t_quantile
from ._forms import JOINT_POWER_LAW, Form, form_from_name


__all__ = ["Frontier", "LawFit", "cell_statistic", "compute_frontier", "fit_against", "fit_joint", "parse_statistic"]


def parse_statistic(text: str) -> str | float:
    """`"final"`, `"best"`, or a time from `"alpha=A"` / `"time=A"` / `"A"` (a number > 0)."""
    if text in ("final", "best"):
        return text
    _, _, value = text.rpartition("=")
    try:
        at = float(value)
    except ValueError:
        raise FitError(f"the statistic must be final, best or alpha=A with A > 0, got {text!r}") from None
    if not math.isfinite(at) or at <= 0:
        raise FitError(f"the time must be a finite number > 0, got {text!r}")
    return at


def _describe(at: str | float) -> str:
    if isinstance(at, str):
        return {"final": "at the end", "best": "lowest over time"}[at]
    return f"at time {at:g}"


def cell_statistic(time: np.ndarray, eps: np.ndarray, at: str | float, where: str = "") -> np.ndarray:
    """Every seed's eps_g (S,) of one cell's curves `eps` (S, T) on `time` (T,): at the last
    recorded time (`"final"`), the lowest over time > 0 (`"best"`), or at time `at` by linear
    interpolation of ln eps_g in ln time. Raises `FitError` (naming `where`) for a time outside the
    recorded range."""
    time, eps = np.asarray(time, np.float64), np.asarray(eps, np.float64)
    keep = np.isfinite(time) & (time > 0)  # a grid's padding is NaN; t = 0 has no logarithm
    time, eps = time[keep], eps[:, keep]
    if time.size == 0:
        raise FitError(f"{where}no recorded time > 0")
    if at == "final":
        return eps[:, -1]
    if at == "best":
        with np.errstate(invalid="ignore"):
            return np.min(eps, axis=1)  # NaN (a diverged seed) stays NaN
    if not time[0] <= at <= time[-1]:
        raise FitError(f"{where}time {at:g} is outside the recorded range [{time[0]:.4g}, {time[-1]:.4g}]")
    with np.errstate(divide="ignore"):
        logs = np.log(eps)
    return np.exp([np.interp(math.log(at), np.log(time), row) for row in logs])


@dataclass(frozen=True)
class LawFit:
    """A law across runs: `key` (the swept axis), `statistic` (how each curve was reduced), the
    values `x` (V,), the per-seed statistic `y` (S, V), the `fit` (a `Fit`), and `fixed`, the
    values of the grid's other axes for this fit."""

    key: str
    statistic: str
    x: np.ndarray
    y: np.ndarray
    fit: Fit
    fixed: dict

    def to_json(self) -> dict:
        return {
            "against": self.key,
            "statistic": self.statistic,
            "fixed": self.fixed,
            "x": self.x.tolist(),
            "y_mean": np.mean(self.y, axis=0).tolist(),
            "seeds": int(self.y.shape[0]),
            **self.fit.to_json(),
        }


def _key_name(arrays: ResultArrays, key: str) -> str:
    """The grid axis `key` names: an axis name (`hidden`) or its config key (`student.hidden`)."""
    name = AXIS_NAMES.get(key, key)
    if name not in dict(arrays.grid):
        axes = [axis for axis, _ in arrays.grid]
        raise FitError(f"{key!r} is not an axis of the grid ({', '.join(axes) or 'the run sweeps nothing'})")
    return name


def _seed_curves(cell: Mapping) -> tuple[np.ndarray, np.ndarray]:
    if "eps_g_sim" not in cell or np.asarray(cell["eps_g_sim"]).size == 0:
        raise FitError("the run has no simulation (eps_g_sim) to fit")
    return np.asarray(cell[time_axis(cell)]), np.asarray(cell["eps_g_sim"])


def fit_against(
    runs: ResultArrays | Sequence[ResultArrays],
    key: str,
    *,
    at: str | float = "final",
    form: str | Form = "pure_power_law",
    values: Sequence | None = None,
    window: tuple[float, float] | None = None,
    bootstrap: int = 200,
) -> list[LawFit]:
    """Fit `form` to a statistic of eps_g (`cell_statistic`: `"final"`, `"best"`, or a time)
    against the swept `key` (module docstring).

    `runs`: one grid with `key` among its axes (one fit per combination of its other axes), or
    several runs each at one value of `key`, given as `values` (a run that sweeps `key` itself
    contributes every cell). `window` restricts the values of `key` fitted.
    """
    form = form_from_name(form) if isinstance(form, str) else form
    if isinstance(runs, ResultArrays):
        return _fit_one_grid(runs, key, at, form, window, bootstrap)
    if values is None or len(values) != len(runs):
        raise FitError("several runs need one value of the key per run (values)")
    xs, ys = [], []
    for run, value in zip(runs, values):
        if run.grid:
            name = _key_name(run, key)
            if len(run.grid) > 1:
                raise FitError(f"a run that sweeps more than {name} cannot be fitted with others: fit it alone")
            for i in range(run.size):
                time, eps = _seed_curves(run.cell(i))
                xs.append(float(run.values(i)[name]))
                ys.append(cell_statistic(time, eps, at, f"{run.label(i)}: "))
        else:
            time, eps = _seed_curves(run)
            xs.append(float(value))
            ys.append(cell_statistic(time, eps, at))
    seeds = {y.size for y in ys}
    if len(seeds) > 1:
        raise FitError(f"the runs have {sorted(seeds)} seeds: a fit across runs needs as many seeds in each")
    return [_law(key, at, np.asarray(xs), np.stack(ys, axis=1), form, window, bootstrap, {})]


def _fit_one_grid(arrays, key, at, form, window, bootstrap) -> list[LawFit]:
    name = _key_name(arrays, key)
    names = [axis for axis, _ in arrays.grid]
    others = [axis for axis in names if axis != name]
    out = []
    for combination in itertools.product(*(range(len(dict(arrays.grid)[axis])) for axis in others)):
        fixed = dict(zip(others, combination))
        xs, ys = [], []
        for i, value in enumerate(dict(arrays.grid)[name]):
            index = tuple(i if axis == name else fixed[axis] for axis in names)
            time, eps = _seed_curves(arrays.cell(index))
            xs.append(float(value))
            ys.append(cell_statistic(time, eps, at, f"{arrays.label(index)}: "))
        labels = {axis: dict(arrays.grid)[axis][j].item() for axis, j in fixed.items()}
        out.append(_law(name, at, np.asarray(xs), np.stack(ys, axis=1), form, window, bootstrap, labels))
    return out


def _law(key, at, x, y, form, window, bootstrap, fixed) -> LawFit:
    order = np.argsort(x)
    x, y = x[order], y[:, order]
    if not np.all(np.isfinite(y)):
        bad = int(np.argmax(~np.all(np.isfinite(y), axis=0)))
        raise FitError(f"eps_g at {key} = {x[bad]:g} is not finite (a diverged seed): drop that value")
    try:
        fit = fit_curve(x, y, form, window=window, bootstrap=bootstrap)
    except FitError as error:
        where = ", ".join(f"{k}={v:g}" for k, v in fixed.items())
        raise FitError(f"{where + ': ' if where else ''}{error}") from None
    return LawFit(key, _describe(at), x, y, fit, fixed)


@dataclass(frozen=True)
class Frontier:
    """The compute-optimal frontier of a width x time grid (`compute_frontier`).

    `compute` (C,) the compute grid, `envelope` (C,) the lowest seed-mean eps_g at that compute,
    `optimal_width` (C,) the width that attains it (NaN outside the widths' range), `widths` (W,),
    `window` the compute range fitted; `loss_exponent` and `width_exponent` the slopes of
    ln envelope and ln optimal width against ln C, each with a 95 % `..._interval` (None with one
    seed), and `seeds`."""

    compute: np.ndarray
    envelope: np.ndarray
    optimal_width: np.ndarray
    widths: np.ndarray
    window: tuple[float, float]
    loss_exponent: float
    loss_interval: tuple[float, float] | None
    width_exponent: float
    width_interval: tuple[float, float] | None
    seeds: int

    def to_json(self) -> dict:
        return {
            "compute": self.compute.tolist(),
            "envelope": [None if not np.isfinite(v) else float(v) for v in self.envelope],
            "optimal_width": [None if not np.isfinite(v) else float(v) for v in self.optimal_width],
            "widths": self.widths.tolist(),
            "window": list(self.window),
            "loss_exponent": self.loss_exponent,
            "loss_interval": None if self.loss_interval is None else list(self.loss_interval),
            "width_exponent": self.width_exponent,
            "width_interval": None if self.width_interval is None else list(self.width_interval),
            "seeds": self.seeds,
        }


def _envelope(log_compute, curves, grid) -> tuple[np.ndarray, np.ndarray]:
    """The lowest curve at every `grid` point (ln C) among the widths' curves `(ln C_w, ln eps_w)`
    that cover it, and which width (index) that is; NaN / -1 where none covers it."""
    values = np.full((len(curves), grid.size), np.inf)
    for w, (lc, le) in enumerate(curves):
        ok = np.isfinite(le)
        if ok.sum() < 2:
            continue
        inside = (grid >= lc[ok][0]) & (grid <= lc[ok][-1])
        values[w, inside] = np.interp(grid[inside], lc[ok], le[ok])
    best = np.argmin(values, axis=0)
    low = values[best, np.arange(grid.size)]
    return np.where(np.isfinite(low), low, np.nan), np.where(np.isfinite(low), best, -1)


def _slope(x, y) -> float:
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(x[ok], y[ok], 1)[0])


def compute_frontier(
    arrays: ResultArrays,
    width: str = "hidden",
    *,
    window: tuple[float, float] | None = None,
    loss_window: tuple[float, float] | None = None,
    points: int = 64,
    bootstrap: int = 200,
    seed: int = 0,
) -> Frontier:
    """The compute frontier of a grid over `width` (its only axis) and time (module docstring):
    compute `C = width x steps` (or `width x time` for a learner without steps). The slopes are
    fitted over `window` (a range of C), or where the envelope lies in `loss_window`, or else over
    the compute range that at least two widths cover."""
    name = _key_name(arrays, width)
    if len(arrays.grid) != 1:
        raise FitError(f"the frontier needs a grid over {name} alone, got axes {[a for a, _ in arrays.grid]}")
    widths = np.asarray(dict(arrays.grid)[name], np.float64)
    if widths.size < 2:
        raise FitError(f"the frontier needs at least two values of {name}")
    log_c, eps = [], []
    for i, w in enumerate(widths):
        cell = arrays.cell(i)
        time, runs = _seed_curves(cell)
        clock = np.asarray(cell["steps"], np.float64) if "steps" in cell else time
        keep = np.isfinite(clock) & (clock > 0)
        log_c.append(np.log(w * clock[keep]))
        eps.append(np.asarray(runs, np.float64)[:, keep])
    seeds = eps[0].shape[0]
    low, high = min(lc[0] for lc in log_c), max(lc[-1] for lc in log_c)
    grid = np.linspace(low, high, points)

    def frontier_of(means):
        with np.errstate(divide="ignore", invalid="ignore"):
            curves = [(lc, np.log(np.where(m > 0, m, np.nan))) for lc, m in zip(log_c, means)]
        return _envelope(log_c, curves, grid)

    envelope, best = frontier_of([e.mean(0) for e in eps])
    if window is not None:
        fitted = (grid >= math.log(window[0])) & (grid <= math.log(window[1]))
        chosen = (float(window[0]), float(window[1]))
    elif loss_window is not None:
        fitted = (envelope >= math.log(loss_window[0])) & (envelope <= math.log(loss_window[1]))
    else:
        covered = np.sum([(grid >= lc[0]) & (grid <= lc[-1]) for lc in log_c], axis=0)
        fitted = covered >= 2
    fitted &= np.isfinite(envelope)
    if fitted.sum() < 3:
        raise FitError("fewer than 3 points of the frontier in the window: widen it, or add widths or times")
    if window is None:
        chosen = (float(np.exp(grid[fitted][0])), float(np.exp(grid[fitted][-1])))
    log_w = np.where(best >= 0, np.log(widths[np.maximum(best, 0)]), np.nan)
    slopes = np.array([_slope(grid[fitted], envelope[fitted]), _slope(grid[fitted], log_w[fitted])])
    intervals: list[tuple[float, float] | None] = [None, None]
    if seeds > 1 and bootstrap > 0:
        rng = np.random.default_rng(seed)
        samples = []
        for _ in range(bootstrap):
            rows = rng.integers(0, seeds, seeds)
            env, arg = frontier_of([e[rows].mean(0) for e in eps])
            lw = np.where(arg >= 0, np.log(widths[np.maximum(arg, 0)]), np.nan)
            samples.append([_slope(grid[fitted], env[fitted]), _slope(grid[fitted], lw[fitted])])
        sd = np.nanstd(np.asarray(samples), axis=0) * math.sqrt(seeds / (seeds - 1))
        half = student_t_quantile(0.975, seeds - 1) * sd
        intervals = [(float(s - h), float(s + h)) for s, h in zip(slopes, half)]
    return Frontier(
        compute=np.exp(grid),
        envelope=np.exp(envelope),
        optimal_width=np.exp(log_w),
        widths=widths,
        window=chosen,
        loss_exponent=float(slopes[0]),
        loss_interval=intervals[0],
        width_exponent=float(slopes[1]),
        width_interval=intervals[1],
        seeds=seeds,
    )


def fit_joint(
    arrays: ResultArrays,
    size: str,
    *,
    time_window: tuple[float, float] | None = None,
    bootstrap: int = 200,
) -> Fit:
    """Fit `eps(n, t) = A n^-a + B t^-b + E` (`JOINT_POWER_LAW`) to the seed-mean eps_g of every
    cell and recorded time `t > 0` (within `time_window`) of a grid over `size` (its only axis):
    x = (n, t) per point, bootstrap over seeds (module docstring)."""
    name = _key_name(arrays, size)
    if len(arrays.grid) != 1:
        raise FitError(f"the joint fit needs a grid over {name} alone, got axes {[a for a, _ in arrays.grid]}")
    xs, ys = [], []
    for i, n in enumerate(dict(arrays.grid)[name]):
        time, runs = _seed_curves(arrays.cell(i))
        keep = np.isfinite(time) & (time > 0)
        if time_window is not None:
            keep &= (time >= time_window[0]) & (time <= time_window[1])
        xs.append(np.stack([np.full(keep.sum(), float(n)), time[keep]], axis=1))
        ys.append(np.asarray(runs, np.float64)[:, keep])
    return fit_curve(np.concatenate(xs), np.concatenate(ys, axis=1), JOINT_POWER_LAW, bootstrap=bootstrap)
