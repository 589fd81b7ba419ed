"""Richert, Worschech & Rosenow, arXiv:2104.14546: over-realizable online learning, students with
more hidden units than their teacher."""

from typing import ClassVar

import numpy as np

from ._common import grid_index, new_figure, seed_band
from ._figure import AbstractFigure, Drawn, Runs
from ._registry import register


PAPER = "Richert, Worschech & Rosenow, arXiv:2104.14546"


def _draw(runs: Runs, config: str, quick: bool, quick_overrides: tuple[str, ...], title: str) -> Drawn:
    arrays = runs(config, "", *(quick_overrides if quick else ())).arrays
    alpha = arrays["alpha"]
    figure, (left, right) = new_figure(2, 5.2, 4.2)
    seed_band(left, alpha[1:], arrays["eps_g_sim"][:, 1:], "C0", "simulation")
    left.plot(alpha[1:], arrays["eps_g_theory"].mean(0)[1:], color="C1", ls="--", label="theory (ODE, per seed)")
    left.set(xscale="log", yscale="log", xlabel="alpha (steps / N)", ylabel="eps_g", title=title)
    left.legend(fontsize=8)
    norms_sim = np.diagonal(arrays["Q_sim"], axis1=-2, axis2=-1)  # (S, T, K)
    norms_theory = np.diagonal(arrays["Q_theory"], axis1=-2, axis2=-1)
    for k in range(norms_sim.shape[-1]):
        left_label = f"Q_{k + 1}{k + 1}"
        right.plot(alpha[1:], norms_sim[0, 1:, k], color=f"C{k}", label=f"{left_label}: simulation (seed 0)")
        right.plot(alpha[1:], norms_theory[0, 1:, k], color=f"C{k}", ls="--")
    right.plot([], [], color="k", ls="--", label="theory")
    right.set(xscale="log", xlabel="alpha (steps / N)", ylabel="squared norm Q_kk", title="student norms (seed 0)")
    right.legend(fontsize=8)
    mean_sim, mean_theory = arrays["eps_g_sim"].mean(0), arrays["eps_g_theory"].mean(0)
    picks = [grid_index(alpha, a) for a in (1, 10, 100, 1000, 10000) if a <= alpha[-1]]
    lines = [
        "| alpha | " + " | ".join(f"{alpha[i]:.3g}" for i in picks) + " |",
        "|---|" + "---|" * len(picks),
        "| eps_g simulation (seed mean) | " + " | ".join(f"{mean_sim[i]:.3e}" for i in picks) + " |",
        "| eps_g theory | " + " | ".join(f"{mean_theory[i]:.3e}" for i in picks) + " |",
        "",
        "Final squared norms Q_kk, seed 0 (simulation / theory): "
        + ", ".join(f"{norms_sim[0, -1, k]:.3f} / {norms_theory[0, -1, k]:.3f}" for k in range(norms_sim.shape[-1]))
        + ".",
    ]
    return Drawn(figure, lines)


@register
class P3Plain(AbstractFigure):
    """K = 3 students for an M = 2 teacher with summed outputs: one node dies, the others replicate the
    teacher, and eps_g falls exponentially."""

    id: ClassVar[str] = "p3-plain"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "plain outputs, erf K = 3, M = 2, eta = 0.5: a node dies, exponential convergence"
    quick_note: ClassVar[str] = "N = 200, 2 seeds, alpha to 300"
    seconds: ClassVar[tuple[float, float]] = (60.0, 15.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        quick_overrides = ("data.input_dim=200", "training.seeds=2", "training.alpha_max=300")
        return _draw(runs, "scm_overrealizable_plain", quick, quick_overrides, "K = 3, M = 2, summed outputs")


@register
class P3Rescaled(AbstractFigure):
    """K = 2 students for an M = 1 teacher with outputs 1/K and 1/M: both nodes replicate the teacher,
    and eps_g falls as a power law."""

    id: ClassVar[str] = "p3-rescaled"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "rescaled outputs, erf K = 2, M = 1, eta = 1: both nodes replicate, power-law approach"
    quick_note: ClassVar[str] = "N = 200, alpha to 1000"
    seconds: ClassVar[tuple[float, float]] = (60.0, 15.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        quick_overrides = ("data.input_dim=200", "training.alpha_max=1000")
        return _draw(runs, "scm_overrealizable_rescaled", quick, quick_overrides, "K = 2, M = 1, outputs 1/K, 1/M")
