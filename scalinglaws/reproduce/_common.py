"""What the figures share: seed bands, picking grid points, the figure itself."""

import numpy as np
from matplotlib.figure import Figure


__all__ = ["grid_index", "new_figure", "resolved", "seed_band", "tidy"]

THEORY_FLOOR = 1e-12  # eps_g of an order-parameter ODE below this is rounding (sums of O(1) terms)


def new_figure(panels: int = 1, width: float = 5.2, height: float = 4.2):
    """A constrained-layout figure and its `panels` axes side by side."""
    figure = Figure(figsize=(width * panels, height), layout="constrained")
    axes = figure.subplots(1, panels)
    return figure, list(np.atleast_1d(axes))


def seed_band(ax, x, runs, color: str, label: str) -> None:
    """The seed mean of `runs` (S, T) as a solid line, and the band of the middle 80 % of the seeds."""
    runs = np.asarray(runs, np.float64)
    ax.plot(x, runs.mean(0), color=color, lw=1.4, label=label)
    if runs.shape[0] > 1:
        low, high = np.nanquantile(runs, [0.1, 0.9], axis=0)
        ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)


def grid_index(grid, value: float) -> int:
    """The index of the grid point nearest to `value` on a log scale (grid > 0 from its second point)."""
    grid = np.asarray(grid, np.float64)
    return int(np.argmin(np.abs(np.log(np.maximum(grid, 1e-300) / value))))


def resolved(eps, floor: float = THEORY_FLOOR) -> np.ndarray:
    """`eps` with the values below `floor` (under the theory's resolution, where the curve would
    drop in a spike to zero or below) replaced by NaN, so that they are not drawn."""
    eps = np.asarray(eps, np.float64)
    return np.where(eps > floor, eps, np.nan)


def tidy(figure) -> None:
    """Tick labels that never overlap: on every log axis showing fewer than two powers of ten, the
    minor ticks at 2 and 5 times a power are labelled in plain numbers (Matplotlib would label every
    minor tick in scientific notation); with two or more powers in view, only the powers are."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    for ax in figure.axes:
        for axis, scale, limits in (
            (ax.xaxis, ax.get_xscale(), ax.get_xlim()),
            (ax.yaxis, ax.get_yscale(), ax.get_ylim()),
        ):
            if scale != "log" or min(limits) <= 0:
                continue
            low, high = np.log10(sorted(limits))
            if np.floor(high) - np.ceil(low) >= 1:
                axis.set_minor_formatter(NullFormatter())
            else:
                axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
                axis.set_minor_formatter(StrMethodFormatter("{x:g}"))
                axis.set_major_formatter(StrMethodFormatter("{x:g}"))
