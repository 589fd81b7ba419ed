"""Ren, Nichani, Wu & Lee, arXiv:2504.19983, at the paper's scale on a CPU: the loss against compute
of students of width m = 64 ... 2048 learning P = 1024 orthonormal h_4 directions in d = 2048, beta =
0.8, and the compute-optimal frontier (the paper's figure: population gradient descent, its slope
against (1 - 2 beta)/(1 + beta) = -1/3).

Each width's loss is the greedy staircase `L(t) = sum_{q: T_q > t} a_q^2` (unhalved, the paper's
L) of the greedy race on sampled initial overlaps (`sampled_overlaps`, nested: the first m of 2048
neurons), in steps of eta = 0.05, averaged over seeds; compute `C = m t`; the frontier `min_m L` over
widths three to an octave. Its slope: b of `A C^-b + C0` (C0 free) and the pure log-log slope where
the optimal width is interior and the loss above the top P/4 directions' (`interior`), and the pure
slope on three stated loss windows; beside the same for the deterministic staircase (the top m
learned at `T_p ∝ p^beta`). Overlaid: population descent at m = 64 (one
seed), computed exactly in the overlaps (`EmergenceTheory`; the d-dimensional descent at these sizes
needs a GPU).
"""

from typing import ClassVar

import numpy as np

from ..theory import sampled_overlaps
from ._common import new_figure
from ._figure import AbstractFigure, Drawn, Runs
from ._laws import offset_exponent, window_exponent
from ._laws_p4 import coefficients, greedy_times, mean_staircase, solve_descent
from ._registry import register


__all__ = ["P4Scaling", "frontier_slopes"]

_BETA, _RATE = 0.8, 0.05
_WINDOWS = ((0.1, 0.5), (0.03, 0.2), (0.01, 0.1))


def _sizes(quick: bool) -> tuple[int, int, tuple[int, ...], int]:
    """`(P, d, widths, seeds)`."""
    if quick:
        return 256, 512, (16, 32, 64, 128, 256, 512), 2
    return 1024, 2048, (64, 128, 256, 512, 1024, 2048), 4


def greedy_staircases(directions: int, dim: int, widths: tuple[int, ...], seeds: int) -> dict[str, list]:
    """Every width's greedy emergence steps (`m{m}`: seeds x P, flattened; -1 for an unpaired
    direction, since a cached analysis is finite), the first `m` of `max(widths)` sampled neurons."""
    a = coefficients(directions, _BETA)
    out: dict[str, list] = {f"m{m}": [] for m in widths}
    for s in range(seeds):
        z = sampled_overlaps(max(widths), directions, dim, seed=s)
        for m in widths:
            steps = greedy_times(z[:m], a) / _RATE
            out[f"m{m}"] += np.where(np.isfinite(steps), steps, -1.0).tolist()
    return out


def interior(compute: np.ndarray, best: np.ndarray, widths: tuple[int, ...], loss, tail: float) -> tuple[float, float]:
    """The compute range in which the optimal width `best` (C,) is neither the smallest nor the
    largest of `widths` (where the frontier is a frontier, not one width's curve) and the frontier's
    `loss` is above `tail` (the loss with the top P/4 directions learned: before the finite P cuts
    the law off)."""
    inside = compute[(best > widths[0]) & (best < widths[-1]) & (loss >= tail)]
    return (float(inside.min()), float(inside.max())) if inside.size else (np.inf, np.inf)


def frontier_slopes(compute: np.ndarray, frontier: np.ndarray, window: tuple[float, float]) -> list[float]:
    """Minus b of the frontier (C, L) ≈ A C^-b + C0 (C0 free, as the finite P's missing tail asks)
    in the compute `window`, its pure log-log slope there, then the pure slope on each loss window of
    `_WINDOWS` (the compute range where the frontier lies in it)."""
    slopes = [-offset_exponent(compute, frontier, window), -window_exponent(compute, frontier, window)]
    for low, high in _WINDOWS:
        inside = compute[(frontier >= low) & (frontier <= high)]
        window = (inside.min(), inside.max()) if inside.size else (np.inf, np.inf)
        slopes.append(-window_exponent(compute, frontier, window))
    return slopes


def descent(directions: int, dim: int, width: int, alpha_max: float) -> dict[str, list]:
    """Population gradient descent of one seed at width `width`, exactly in the overlaps: `steps`
    and the unhalved loss `L`."""
    overrides = [
        f"data.input_dim={dim}",
        "student.init_std=" + repr(dim**-0.5),
        f"teacher.hidden={directions}",
        f"student.hidden={width}",
        f"teacher.second_layer_exponent={_BETA}",
        f"training.learning_rate={_RATE}",
        f"training.alpha_max={alpha_max}",
        "training.points_per_decade=20",
        "training.seeds=1",
    ]
    steps, out = solve_descent(overrides)
    return {"steps": steps.tolist(), "L": (2 * out["eps_g_theory"][0, 0]).tolist()}


@register
class P4Scaling(AbstractFigure):
    """Loss against compute at d = 2048, P = 1024, m = 64 ... 2048 (greedy staircases; the frontier
    over widths three to an octave), the frontier's slopes, and population descent at m = 64."""

    id: ClassVar[str] = "p4-scaling"
    paper: ClassVar[str] = "Ren, Nichani, Wu & Lee, arXiv:2504.19983"
    caption: ClassVar[str] = (
        "loss against compute at the paper's scale (h_4, d = 2048, P = 1024, beta = 0.8, m = 64 … 2048): greedy "
        "staircases, the compute-optimal frontier, population descent at m = 64"
    )
    quick_note: ClassVar[str] = "P = 256, d = 512, m = 16 … 512, 2 seeds, descent at m = 16"
    seconds: ClassVar[tuple[float, float]] = (260.0, 30.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        directions, dim, widths, seeds = _sizes(quick)
        a = coefficients(directions, _BETA)
        octaves = int(round(np.log2(widths[-1] / widths[0])))
        grid = np.round(np.geomspace(widths[0], widths[-1], 3 * octaves + 1)).astype(int)
        dense = tuple(sorted({*widths, *(int(m) for m in grid)}))
        params = {"directions": directions, "dim": dim, "widths": [int(m) for m in dense], "seeds": seeds}
        found = runs.analysis("p4-scaling-greedy", params, lambda: greedy_staircases(directions, dim, dense, seeds))
        times = {int(m): np.asarray(found[f"m{m}"]).reshape(seeds, directions) for m in dense}
        times = {m: np.where(t < 0, np.inf, t) for m, t in times.items()}
        first = min(float(t.min()) for t in times.values())
        compute = np.geomspace(first * widths[0] / 2, 3e3 * first * widths[-1], 600)
        curves = {m: mean_staircase(compute / m, t, a) for m, t in times.items()}
        frontier = np.min(np.stack(list(curves.values())), axis=0)
        ideal = {
            m: np.where(np.arange(1, directions + 1) <= m, first * np.arange(1, directions + 1) ** _BETA, np.inf)
            for m in dense
        }
        ideal_frontier = np.min(np.stack([mean_staircase(compute / m, t[None], a) for m, t in ideal.items()]), axis=0)
        width, alpha_max = widths[0], 8.0
        overlay = runs.analysis(
            f"p4-scaling-descent-m{width}",
            {**params, "alpha_max": alpha_max},
            lambda: descent(directions, dim, width, alpha_max),
        )
        floors = (float(np.sum(a[widths[0] :] ** 2)), float(np.sum(a[directions // 4 :] ** 2)))
        return self._drawn(widths, compute, curves, frontier, ideal_frontier, overlay, floors)

    @staticmethod
    def _drawn(widths, compute, curves, frontier, ideal_frontier, overlay, floors: tuple[float, float]) -> Drawn:
        floor, tail = floors
        figure, (left, right) = new_figure(2, 5.6, 4.4)
        for j, m in enumerate(widths):
            left.loglog(compute, curves[m], color=f"C{j}", lw=1, label=f"m = {m} (greedy staircase)")
        left.loglog(compute, frontier, color="k", lw=2, label="compute-optimal frontier")
        steps, loss = np.asarray(overlay["steps"]), np.asarray(overlay["L"])
        left.loglog(widths[0] * steps[1:], loss[1:], "C0--", lw=1.5, label=f"m = {widths[0]}: population descent")
        left.set(xlabel="compute C = m t (steps x width)", ylabel="L = E(f - f*)^2", ylim=(5e-3, 1.2))
        left.legend(fontsize=7)
        best = np.asarray(list(curves))[np.argmin(np.stack(list(curves.values())), axis=0)]
        window = interior(compute, best, widths, frontier, tail)
        slopes, ideal = frontier_slopes(compute, frontier, window), frontier_slopes(compute, ideal_frontier, window)
        right.loglog(compute, frontier, color="k", lw=2, label="frontier, greedy race")
        right.loglog(
            compute,
            ideal_frontier,
            color="grey",
            lw=1.5,
            ls="--",
            label="frontier, deterministic staircase (its own time unit)",
        )
        for low, high in _WINDOWS:
            right.axhspan(low, high, color="C1", alpha=0.06)
        right.axvspan(*window, color="grey", alpha=0.1)
        right.set(xlabel="compute C", ylabel="L on the frontier", ylim=(5e-3, 1.2))
        right.legend(fontsize=7)
        on_steps = np.interp(np.log(widths[0] * steps[1:]), np.log(compute), np.log(curves[widths[0]]))
        gap = loss[1:] / np.exp(on_steps)
        lines = [
            "h_4 teacher with orthonormal directions and a_p ∝ p^-0.8 (Σ a_p² = 1); the 2-homogeneous student at "
            "sigma_0 = d^-1/2; eta = 0.05; L = E(f − f*)² (the paper's, = 2 eps_g). The staircases: the greedy race on "
            "sampled initial overlaps, the seeds' mean; the frontier: the least loss over widths three to an octave "
            f"from {widths[0]} to {widths[-1]} (the figure shows one to an octave).",
            "",
            f"| frontier slope | C ∈ [{window[0]:.2g}, {window[1]:.2g}], C0 free | the same, pure | "
            + " | ".join(f"L ∈ [{lo:g}, {hi:g}]" for lo, hi in _WINDOWS)
            + " |",
            "|---|---|---|" + "---|" * len(_WINDOWS),
            "| greedy race | " + " | ".join(f"{x:.3f}" for x in slopes) + " |",
            "| deterministic staircase (top m at T_p ∝ p^beta) | " + " | ".join(f"{x:.3f}" for x in ideal) + " |",
            "| the paper's (1 − 2β)/(1 + β) | " + " | ".join("-0.333" for _ in range(len(_WINDOWS) + 2)) + " |",
            "",
            f"The compute window: where the optimal width is neither the smallest nor the largest shown and the loss "
            f"is above {tail:.3g} (the top P/4 directions learned; below, the finite P cuts the law off). "
            f"A loss window above the loss of the smallest width's top m directions (L > {floor:.3g} at m = "
            f"{widths[0]}) sees mostly that width's own staircase: its slope is a time law, not a frontier.",
            "",
            "The optimal width along the frontier: "
            + ", ".join(
                f"C = {c:.1e}: m = {best[int(np.argmin(np.abs(np.log(compute / c))))]}"
                for c in np.geomspace(compute[0] * 10, compute[-1] / 10, 5)
            )
            + ".",
            "",
            f"Population descent at m = {widths[0]} (one seed) over the m = {widths[0]} greedy staircase (the seeds' "
            f"mean): median {np.median(gap):.3f}, 10–90 % {np.quantile(gap, 0.1):.3f} – {np.quantile(gap, 0.9):.3f} "
            f"over its {gap.size} recorded steps up to {steps[-1]:.0f}; its loss there {loss[-1]:.3f} against "
            f"{np.exp(on_steps[-1]):.3f}.",
        ]
        return Drawn(figure, lines)
