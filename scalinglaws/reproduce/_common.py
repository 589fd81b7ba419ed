"""What the figures share: seed bands, picking grid points, the figure itself."""

import numpy as np
from matplotlib.figure import Figure


__all__ = ["grid_index", "new_figure", "seed_band"]


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
