"""Figures of learning curves (matplotlib, no pyplot state: safe in scripts and tests)."""

import warnings
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ._setup import time_axis
from .fit import student_t_quantile


__all__ = ["frontier_figure", "law_figure", "learning_curve_figure"]


def _positive(y: np.ndarray) -> np.ndarray:
    return np.where(y > 0, y, np.nan)


def _variant_labels(arrays: Mapping[str, np.ndarray]):
    """The swept values of a run (None when it is no sweep) and their legend labels."""
    for name, symbol in (("learning_rate", "eta"), ("distinct_eigenvalues", "L"), ("hidden", "K")):
        if name in arrays:
            values = arrays[name]
            return values, [f"{symbol} = {value:g}" for value in values]
    return None, []


def _curves(arrays: Mapping[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """`(label, time, eps_g_sim (S, T) or None, eps_g_theory or None)` of every curve: one per
    cell of a grid (`ResultArrays`), per variant of an older sweep, or the one run."""
    axis = time_axis(arrays)
    if getattr(arrays, "grid", ()):
        out = []
        for i in range(arrays.size):
            cell = arrays.cell(i)
            out.append((arrays.label(i), np.asarray(cell[axis]), cell.get("eps_g_sim"), cell.get("eps_g_theory")))
        return out
    alpha = np.asarray(arrays[axis])
    sim, theory = arrays.get("eps_g_sim"), arrays.get("eps_g_theory")
    rates, labels = _variant_labels(arrays)
    if rates is None:
        return [("", alpha, sim, None if theory is None else np.asarray(theory))]
    return [
        (labels[h], alpha, None if sim is None else sim[h], None if theory is None else np.asarray(theory[h]))
        for h in range(len(rates))
    ]


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
    - `fit`: a `scalinglaws.fit.Fit` (or a list of them, one per cell), drawn over its window
      (dash-dotted), labelled with `fit_label`.
    """
    continuous = time_axis(arrays) == "time"  # full-batch training: the time t
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    curves = _curves(arrays)
    colors = [f"C{i % 10}" for i in range(len(curves))]
    shown_values = []  # every finite positive value drawn, to tell an empty figure
    times = []
    for h, (label, alpha, runs, curve) in enumerate(curves):
        shown = alpha > 0  # NaN (a grid's padding) is not shown either
        times.append(alpha[shown])
        if runs is not None and runs.size:
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
        if curve is not None:
            if curve.ndim == 2:
                curve = curve.mean(axis=0)
            curve = np.where(curve > theory_floor, curve, np.nan)
            shown_values.append(_positive(curve)[shown])
            ax.plot(
                alpha[shown], _positive(curve)[shown], color=colors[h], ls="--", lw=1.4, label=f"theory {label}".strip()
            )
    alpha = np.concatenate(times) if times else np.ones(0)
    shown = alpha > 0
    stationary = arrays.get("eps_g_stationary")
    if stationary is not None and getattr(arrays, "grid", ()):
        stationary = np.reshape(arrays.along("eps_g_stationary"), (arrays.size, -1))
    _stationary_levels(ax, stationary, colors)
    for i, one in enumerate(fit if isinstance(fit, list | tuple) else [] if fit is None else [fit]):
        xs = np.geomspace(*one.window, 200)
        ax.plot(xs, one.curve(xs), color="k", ls="-.", lw=1.4, label=f"fit: {one.form}{fit_label}" if i == 0 else None)
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
        if len(curves) > 4:  # a grid: the legend beside the axes
            fig.set_size_inches(10.0, 4.8)
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        else:
            ax.legend(fontsize=8)
    return fig


def law_figure(laws, title: str = "") -> Figure:
    """Laws across runs (`scalinglaws.fit.LawFit`s): the seed-mean statistic against the swept key
    with 95 % bars over seeds (Student t), and each fitted law over its window."""
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    for i, law in enumerate(laws):
        color = f"C{i % 10}"
        seeds = law.y.shape[0]
        mean = law.y.mean(0)
        half = student_t_quantile(0.975, seeds - 1) * law.y.std(0, ddof=1) / np.sqrt(seeds) if seeds > 1 else 0 * mean
        fixed = ", ".join(f"{k}={v:g}" for k, v in law.fixed.items())
        ax.errorbar(
            law.x,
            mean,
            yerr=np.minimum(half, 0.999 * mean),
            fmt="o",
            color=color,
            ms=4,
            capsize=2,
            label=f"simulation {fixed}".strip(),
        )
        xs = np.geomspace(*law.fit.window, 100)
        exponent = law.fit.params.get("exponent")
        ax.plot(
            xs,
            law.fit.curve(xs),
            color=color,
            ls="--",
            label=f"fit: {law.fit.form}" + ("" if exponent is None else f", exponent {exponent:.3g}"),
        )
    return _log_log(fig, ax, laws[0].key, rf"$\epsilon_g$ ({laws[0].statistic})", title)


def frontier_figure(arrays, frontier, width: str, title: str = "") -> Figure:
    """Every width's seed-mean eps_g against compute `C = width x steps`, the lower envelope, and
    the fitted frontier law over its window."""
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    for i, w in enumerate(frontier.widths):
        cell = arrays.cell(i)
        clock = np.asarray(cell["steps"] if "steps" in cell else cell[time_axis(cell)], np.float64)
        keep = np.isfinite(clock) & (clock > 0)
        ax.plot(
            w * clock[keep],
            _positive(np.nanmean(cell["eps_g_sim"], axis=0)[keep]),
            color=f"C{i % 10}",
            lw=1.0,
            label=f"{width} = {w:g}",
        )
    ax.plot(frontier.compute, frontier.envelope, color="k", lw=2.2, alpha=0.6, label="lower envelope")
    inside = (frontier.compute >= frontier.window[0]) & (frontier.compute <= frontier.window[1])
    c = frontier.compute[inside]
    ok = np.isfinite(frontier.envelope[inside])
    if ok.sum() >= 2:
        fit = np.polyfit(np.log(c[ok]), np.log(frontier.envelope[inside][ok]), 1)
        ax.plot(
            c,
            np.exp(np.polyval(fit, np.log(c))),
            "k--",
            label=f"frontier: C^{frontier.loss_exponent:.3g}, width* ∝ C^{frontier.width_exponent:.3g}",
        )
    return _log_log(fig, ax, f"compute C = {width} x steps", r"$\epsilon_g$", title)


def _log_log(fig: Figure, ax, xlabel: str, ylabel: str, title: str) -> Figure:
    """Log-log axes with their labels, title, grid and legend."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return fig
