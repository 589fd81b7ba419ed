"""Ren, Nichani, Wu & Lee, arXiv:2504.19983: emergence of the teacher's directions in a 2-homogeneous
student trained by population gradient descent, at CPU scale (the paper's own figure is at d = 2048,
P = 1024, on a GPU)."""

from typing import ClassVar

import numpy as np

from ._common import new_figure
from ._figure import AbstractFigure, Drawn, Runs
from ._registry import register


__all__ = ["quantiles"]


def quantiles(x: np.ndarray) -> str:
    """`median (10th – 90th percentile)` of the finite entries of `x`."""
    x = x[np.isfinite(x)]
    low, median, high = np.quantile(x, [0.1, 0.5, 0.9])
    return f"{median:.3f} ({low:.3f} – {high:.3f})"


@register
class P4Emergence(AbstractFigure):
    """The shipped `p4_emergence` config at d = 256 and 1024: every direction's measured emergence
    step (some neuron's squared cosine reaching 1/2) against the greedy prediction T_q, and the loss
    against the idealised staircase."""

    id: ClassVar[str] = "p4-emergence"
    paper: ClassVar[str] = "Ren, Nichani, Wu & Lee, arXiv:2504.19983"
    caption: ClassVar[str] = "emergence steps against the greedy prediction (h_4, P = 16, m = 32, d = 256 and 1024)"
    quick_note: ClassVar[str] = "d = 128 and 256, 2 seeds"
    seconds: ClassVar[tuple[float, float]] = (100.0, 16.0)

    @staticmethod
    def overrides(d: int) -> list[str]:
        """The shipped config at input dimension `d`: sigma_0 = d^-1/2, 160 recording points per decade."""
        return [f"data.input_dim={d}", "student.init_std=" + repr(d**-0.5), "training.points_per_decade=160"]

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        dimensions = (128, 256) if quick else (256, 1024)
        figure, (left, right) = new_figure(2, 5.4, 4.3)
        lines = [
            "Config `p4_emergence`: P = 16 orthonormal h_4 directions, a_p ∝ p^-0.8 (Σ a_p² = 1), m = 32, "
            "sigma_0 = d^-1/2, eta = 0.05, population gradient descent, 160 recording points per decade of "
            "alpha = steps / d. Predicted: the greedy maximum selection's T_q and the lone neuron's crossing of "
            "1/2. eps_g = L / 2 (the paper's L starts at 1). The paper states no numbers for this setting.",
            "",
            "| d | directions emerged | measured / greedy T_q: median (10–90 %) | measured / lone crossing | "
            "eps_g float32 sim − float64 theory (max) | final eps_g |",
            "|---|---|---|---|---|---|",
        ]
        for j, d in enumerate(dimensions):
            a = runs("p4_emergence", f"d{d}", *self.overrides(d), *(["training.seeds=2"] if quick else [])).arrays
            measured, predicted = a["emergence_step_sim"], a["emergence_step_theory"]
            gap = np.nanmax(np.abs(a["eps_g_sim"] - a["eps_g_theory"]))
            lines.append(
                f"| {d} | {int(np.isfinite(measured).sum())} of {measured.size} | {quantiles(measured / predicted)} | "
                f"{quantiles(measured / a['emergence_crossing_theory'])} | {gap:.1e} | "
                f"{np.mean(a['eps_g_sim'][:, -1]):.2e} |"
            )
            steps = a["alpha"][1:] * d
            left.loglog(steps, a["eps_g_sim"][0, 1:], color=f"C{j}", label=f"d = {d}: simulation (seed 0)")
            left.loglog(
                steps, a["eps_g_staircase"][0, 1:], color=f"C{j}", ls="--", label=f"d = {d}: staircase (theory)"
            )
            right.loglog(predicted.ravel(), measured.ravel(), "o", ms=3, color=f"C{j}", label=f"d = {d}")
        bounds = np.asarray(right.get_xlim())
        right.loglog(bounds, bounds, color="grey", lw=0.8, label="measured = predicted")
        left.set(xlabel="steps", ylabel="eps_g = L / 2", ylim=(1e-3, 1), title="loss and the idealised staircase")
        right.set(
            xlabel="greedy T_q (steps)", ylabel="measured emergence step (steps)", title="every direction and seed"
        )
        left.legend(fontsize=7)
        right.legend(fontsize=7)
        return Drawn(figure, lines)
