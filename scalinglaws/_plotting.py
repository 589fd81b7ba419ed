"""Figures of learning curves (matplotlib, no pyplot state: safe in scripts and tests)."""

import warnings
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ._setup import time_axis


__all__ = ["learning_curve_figure"]


def _positive(y: np.ndarray) -> np.ndarray:
    return np.where(y > 0, y, np.nan)


def _variant_labels(arrays: Mapping[str, np.ndarray]):
    """The swept values of a run (None when it is no sweep) and their legend labels."""
    for name, symbol in (("learning_rate", "eta"), ("distinct_eigenvalues", "L"), ("hidden", "K")):
        if name in arrays:
            values = arrays[name]
            return values, [f"{symbol} = {value:g}" for value in values]
    return None, []


def _stationary_levels(ax, stationary, colors: list[str]) -> None:
    """A random-feature run's stationary errors ((S,) or (H, S)) as dotted levels (seed means)."""
    if stationary is None:
        return
    levels = np.atleast_2d(np.asarray(stationary, np.float64))
    for h, level in enumerate(levels):
        if np.all(np.isfinite(level)):
            ax.axhline(level.mean(), color=colors[h % len(colors)], ls=":", lw=1.0)


def learning_curve_figure(
    arrays: Mapping[str, np.ndarray], title: str = "", theory_floor: float = 0.0, fit=None, fit_label: str = ""
) -> Figure:
    """`eps_g` against `alpha` (or `time`) on log-log axes: seed mean with a min-max band, theory dashed.

    **Arguments:**

    - `arrays`: a run's arrays: `alpha` (T,) or the `time` of full-batch training, `eps_g_sim`
      (S, T) or (H, S, T) for a sweep (with `learning_rate` (H,), `distinct_eigenvalues` (H,) or
      `hidden` (H,)), and optionally `eps_g_theory` of shape (T,), (S, T), (H, T) or (H, S, T); a
      seed axis of the theory is averaged. A random-feature run's `eps_g_stationary` ((S,) or
      (H, S), the theory's long-time error) is drawn as a dotted level.
    - `title`: the figure's title.
    - `theory_floor`: theory values below it (the solver's resolution of eps_g) are not drawn.
    - `fit`: a `scalinglaws.fit.Fit`, drawn over its window (dash-dotted), labelled with `fit_label`.
    """
    continuous = time_axis(arrays) == "time"  # full-batch training: the time t
    alpha = np.asarray(arrays[time_axis(arrays)])
    shown = alpha > 0
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    sim = arrays.get("eps_g_sim")
    theory = arrays.get("eps_g_theory")
    rates, labels = _variant_labels(arrays)
    n_curves = 1 if rates is None else len(rates)
    colors = [f"C{i % 10}" for i in range(n_curves)]
    shown_values = []  # every finite positive value drawn, to tell an empty figure
    for h in range(n_curves):
        label = "" if rates is None else labels[h]
        if sim is not None and sim.size:
            runs = sim if rates is None else sim[h]
            with warnings.catch_warnings():  # all-NaN columns after a recorded divergence
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = _positive(np.nanmean(runs, axis=0))
                low = _positive(np.nanmin(runs, axis=0))
                high = _positive(np.nanmax(runs, axis=0))
            shown_values.append(mean[shown])
            ax.plot(
                alpha[shown],
                mean[shown],
                color=colors[h],
                lw=1.6,
                label=f"simulation ({runs.shape[0]} seeds) {label}".strip(),
            )
            if runs.shape[0] > 1:
                ax.fill_between(alpha[shown], low[shown], high[shown], color=colors[h], alpha=0.2, lw=0)
        if theory is not None:
            curve = np.asarray(theory if rates is None else theory[h])
            if curve.ndim == 2:
                curve = curve.mean(axis=0)
            curve = np.where(curve > theory_floor, curve, np.nan)
            shown_values.append(_positive(curve)[shown])
            ax.plot(
                alpha[shown], _positive(curve)[shown], color=colors[h], ls="--", lw=1.4, label=f"theory {label}".strip()
            )
    _stationary_levels(ax, arrays.get("eps_g_stationary"), colors)
    if fit is not None:
        xs = np.geomspace(*fit.window, 200)
        ax.plot(xs, fit.curve(xs), color="k", ls="-.", lw=1.4, label=f"fit: {fit.form}{fit_label}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if not any(np.any(np.isfinite(values)) for values in shown_values):
        # Every run diverged (recorded as NaN): an empty frame that says so, not an error.
        ax.set_xlim(alpha[shown].min(initial=1.0), alpha[shown].max(initial=10.0))
        ax.set_ylim(1e-3, 1.0)
        ax.text(0.5, 0.5, "no finite eps_g to show (every run diverged)", ha="center", transform=ax.transAxes)
    ax.set_xlabel("t" if continuous else r"$\alpha$ = steps / N")
    ax.set_ylabel(r"$\epsilon_g$")
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig
