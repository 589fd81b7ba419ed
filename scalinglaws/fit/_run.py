"""Fitting a run's learning curve along time: which curve and cell, and which window.

**Window.** `steady_window` picks the longest range (in decades of x) over which the local exponent
`d ln y / d ln x` (a sliding least-squares slope over `smoothing` points) stays within
`± tolerance` of its median, refusing ranges whose median exponent is below `MIN_EXPONENT` in size
(a plateau) or shorter than `MIN_DECADES`: a power-law regime. `fit_run` drops times <= 0 and,
without a window, ends the fit before the first time at which a seed's eps_g is 0 (the round-off
of a closed form, stored as 0).
"""

from collections.abc import Mapping

import numpy as np
from jaxtyping import ArrayLike, Float

from .._setup import time_axis
from ._fit import Fit, FitError, fit_curve
from ._forms import Form


__all__ = ["MIN_DECADES", "MIN_EXPONENT", "fit_run", "sliding_exponent", "steady_window"]

MIN_EXPONENT = 0.1  # a steady local exponent smaller than this is a plateau, not a power law (steady_window)
MIN_DECADES = 0.5  # the shortest power-law window steady_window accepts


def sliding_exponent(x: Float[ArrayLike, " T"], y: Float[ArrayLike, " T"], smoothing: int = 5) -> np.ndarray:
    """The local exponent `d ln y / d ln x` as the least-squares slope over a sliding window of
    `smoothing` points (odd, >= 3; truncated at the ends): the smoothing choice of a local exponent."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if smoothing < 3 or smoothing % 2 == 0:
        raise ValueError(f"smoothing must be an odd integer >= 3, got {smoothing}")
    if np.any(x <= 0) or np.any(y <= 0) or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise FitError("the local exponent needs finite x, y > 0")
    lx, ly = np.log(x), np.log(y)
    half = smoothing // 2
    out = np.empty_like(lx)
    for i in range(lx.size):
        sl = slice(max(0, i - half), min(lx.size, i + half + 1))
        out[i] = np.polyfit(lx[sl], ly[sl], 1)[0]
    return out


def steady_window(
    x: Float[ArrayLike, " T"],
    y: Float[ArrayLike, " T"],
    *,
    tolerance: float = 0.05,
    smoothing: int = 5,
    min_points: int = 6,
    min_exponent: float = MIN_EXPONENT,
    min_decades: float = MIN_DECADES,
) -> tuple[float, float]:
    """The longest range of x (in decades) where the local exponent stays within `± tolerance`
    of its median over the range, with at least `min_points` points spanning at least `min_decades`,
    and that median is at least `min_exponent` in size: a power-law window. A range whose exponent
    is near 0 is a plateau
    (the flat start of a learning curve, the plateau of a soft committee machine), not a power law,
    and is refused."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    exponent = sliding_exponent(x, y, smoothing)
    lx = np.log(x)
    best, span = None, -1.0
    for i in range(x.size):
        for j in range(i + min_points - 1, x.size):
            segment = exponent[i : j + 1]
            median = np.median(segment)
            if abs(median) < min_exponent or np.max(np.abs(segment - median)) > tolerance:
                continue
            if lx[j] - lx[i] > span and lx[j] - lx[i] >= min_decades * np.log(10) * (1 - 1e-9):
                best, span = (i, j), lx[j] - lx[i]
    if best is None:
        raise FitError(
            f"no range of {min_points} points and {min_decades:g} decades has a local exponent steady within "
            f"±{tolerance} and at least {min_exponent:g} in size: no power-law window"
        )
    return float(x[best[0]]), float(x[best[1]])


def _positive_range(x: np.ndarray, runs: np.ndarray) -> int:
    """How many leading points of `runs` (S, T) are > 0 in every run: a learning curve that reached
    0 (stored as 0 after round-off) has no log from there on."""
    bad = np.any(runs <= 0, axis=0)
    return int(np.argmax(bad)) if bad.any() else x.size


def fit_run(
    arrays: Mapping,
    form: str | Form,
    *,
    window: tuple[float, float] | None = None,
    auto_window: bool = False,
    tolerance: float = 0.05,
    bootstrap: int = 200,
    variant: int | None = None,
) -> tuple[Fit, dict]:
    """Fit `form` to a run's arrays (`alpha`, `eps_g_sim` (S, T) or (H, S, T): then `variant` picks
    the run; a grid's `ResultArrays`: `variant` is the cell's flat index; a theory-alone run's
    `eps_g_theory`), within `window`, or the `steady_window` when `auto_window`. Times <= 0 are
    dropped, and without a window the fit ends before the first time at which a seed's eps_g is 0
    (its closed form's round-off, stored as 0). **Returns** the `Fit` and its `fit.json` record.

    Raises `FitError` when there is no curve to fit, when the results are a sweep and `variant` is
    missing or out of range, when `variant` is given for a single run, or for a window that holds
    an eps_g of 0.
    """
    curve = "eps_g_sim"
    if "eps_g_sim" not in arrays or np.asarray(arrays["eps_g_sim"]).size == 0:
        if "eps_g_theory" not in arrays:
            raise FitError("the run has neither a simulation (eps_g_sim) nor a theory (eps_g_theory) to fit")
        curve = "eps_g_theory"  # a theory-alone run: its curve, as one run (or its seeds)
    if getattr(arrays, "grid", ()):  # a grid (`ResultArrays`): the cell `variant`, flat index
        if variant is None:
            raise FitError(
                f"the results hold a grid of {arrays.size} cells: choose one with variant in [0, {arrays.size})"
            )
        try:
            cell = arrays.cell(variant)
        except IndexError as error:
            raise FitError(f"variant {variant} is out of range: {error} (choose one in [0, {arrays.size}))") from None
        fit, record = fit_run(
            cell, form, window=window, auto_window=auto_window, tolerance=tolerance, bootstrap=bootstrap
        )
        return fit, dict(record, variant=variant, cell=arrays.values(variant))
    alpha = np.asarray(arrays[time_axis(arrays)])  # online alpha, or the time of full-batch training
    eps = np.asarray(arrays[curve])
    if curve == "eps_g_theory" and eps.ndim == alpha.ndim:
        eps = eps[None]  # one curve, not one per seed
    if eps.ndim == 3:
        variants = eps.shape[0]
        if variant is None:
            raise FitError(
                f"the results hold a sweep of {variants} variants: choose one with variant in [0, {variants})"
            )
        if not 0 <= variant < variants:
            raise FitError(
                f"variant {variant} is out of range: the results hold {variants} variant{'' if variants == 1 else 's'}"
                f" (choose one in [0, {variants}))"
            )
        eps = eps[variant]
    elif variant is not None:
        raise FitError(f"variant {variant} given, but the results hold a single run, not a sweep")
    fit, window_method = _fit_in_window(
        time_axis(arrays), alpha, eps, curve, form, window, auto_window, tolerance, bootstrap
    )
    return fit, dict(fit.to_json(), window_method=window_method, variant=variant, curve=curve)


def _fit_in_window(axis, alpha, eps, curve, form, window, auto_window, tolerance, bootstrap) -> tuple[Fit, str]:
    """The fit of curves `eps` (S, T) on times `alpha` (T,) > 0 within the window (given, automatic,
    or all before the first eps_g of 0), and how the window was chosen."""
    keep = alpha > 0  # the start, alpha = 0, has no logarithm
    x, runs = alpha[keep], eps[:, keep]
    if not np.all(np.isfinite(runs)):
        raise FitError(f"{curve} contains NaN or infinite values (a diverged run?): fit another run")
    where_zero = _positive_range(x, runs)
    zero_note = ""
    if where_zero < x.size:
        zero_note = (
            f"; from {axis} = {x[where_zero]:.4g} on a seed's eps_g is 0 (the error has reached the "
            "round-off of its closed form), so the fit ends before it"
        )
    if window is not None:
        low, high = window
        inside = (x >= low) & (x <= high)
        zero = inside & np.any(runs <= 0, axis=0)
        if zero.any():
            raise FitError(
                f"{curve} is 0 at {axis} = {x[np.argmax(zero)]:.4g} inside the window [{low:g}, {high:g}] "
                f"(the error has reached the round-off of its closed form): end the window before it"
            )
        window_method = "given"
    else:
        x, runs = x[:where_zero], runs[:, :where_zero]
        if x.size == 0:
            raise FitError(f"{curve} is 0 from the first {axis} > 0 on: nothing to fit")
        if auto_window:
            window = steady_window(x, runs.mean(0), tolerance=tolerance)
            exponent = np.median(sliding_exponent(x, runs.mean(0))[(x >= window[0]) & (x <= window[1])])
            window_method = (
                f"automatic: {axis} in [{window[0]:.4g}, {window[1]:.4g}], the longest range where the local "
                f"exponent stays within ±{tolerance} of its median {exponent:.3g} (ranges shorter than "
                f"{MIN_DECADES:g} decades, or with an exponent below {MIN_EXPONENT:g} in size, plateaus, are "
                f"refused){zero_note}"
            )
        else:
            window_method = f"full range{zero_note}"
    return fit_curve(x, runs, form, window=window, bootstrap=bootstrap), window_method
