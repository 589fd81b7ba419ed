"""Worschech & Rosenow, arXiv:2303.14083: online learning of random-feature models (frozen first
layer, trained readout)."""

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from ._common import new_figure, seed_band
from ._figure import AbstractFigure, Drawn, Runs
from ._registry import register


PAPER = "Worschech & Rosenow, arXiv:2303.14083"


@register
class P2LearningCurves(AbstractFigure):
    """Learning curves for K = gamma N random erf features (M = 2 teacher) against the readout ODE of
    each seed's own features, settling at the stationary error above the eta -> 0 asymptote."""

    id: ClassVar[str] = "p2-learning-curves"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "random-feature learning curves, erf, M = 2, N = 256, gamma = K / N = 0.5 … 4"
    quick_note: ClassVar[str] = "N = 64, 2 seeds, alpha to 500"
    seconds: ClassVar[tuple[float, float]] = (85.0, 37.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        overrides = ("data.input_dim=64", "student.hidden=[32, 64, 128, 256]", "training.seeds=2")
        results = runs("p2_learning_curves", "", *(overrides + ("training.alpha_max=500",) if quick else ()))
        return _curves(results.arrays)


@register
class P2Asymptotic(AbstractFigure):
    """Long runs at a small learning rate: the late error against the finite-eta stationary error, the
    exact eta -> 0 asymptote at this N and the large-N (Gaussian-equivalence) formula."""

    id: ClassVar[str] = "p2-asymptotic"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "late error against gamma = K / N = 1/4 … 8: stationary error and asymptotes, N = 128"
    quick_note: ClassVar[str] = "N = 32, 2 seeds, alpha to 1000"
    seconds: ClassVar[tuple[float, float]] = (77.0, 49.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        overrides = ("data.input_dim=32", "student.hidden=[8, 16, 32, 64, 128, 256]", "training.seeds=2")
        a = runs("p2_asymptotic", "", *(overrides + ("training.alpha_max=1000",) if quick else ())).arrays
        figure, (ax,) = new_figure(1, 6.0, 4.5)
        gamma = a["hidden"] / _input_dim(a)
        late = a["eps_g_sim"][:, :, -1].mean(1)
        ax.loglog(gamma, late, "o", color="C0", label="simulation, late (seed mean)")
        ax.loglog(gamma, a["eps_g_stationary"].mean(1), "-", color="C1", label="stationary error at this eta (theory)")
        ax.loglog(gamma, a["eps_g_asymptote"].mean(1), "--", color="C2", label="eta → 0 asymptote, this N (exact)")
        ax.loglog(gamma, a["eps_g_large_n"], ":", color="C3", label="large-N formula")
        ax.set(xlabel="gamma = K / N", ylabel="eps_g", title="late error against the width")
        ax.legend(fontsize=8)
        lines = [
            "| gamma | late simulation | stationary (theory) | eta → 0 asymptote | large-N formula |",
            "|---|---|---|---|---|",
        ]
        for h, g in enumerate(gamma):
            lines.append(
                f"| {g:g} | {late[h]:.4f} | {a['eps_g_stationary'][h].mean():.4f} | "
                f"{a['eps_g_asymptote'][h].mean():.4f} | {a['eps_g_large_n'][h]:.4f} |"
            )
        return Drawn(figure, lines)


def _input_dim(arrays: Mapping) -> int:
    return int(round(arrays["steps"][-1] / arrays["alpha"][-1]))


def _curves(arrays: Mapping) -> Drawn:
    alpha = arrays["alpha"]
    figure, (ax,) = new_figure(1, 6.0, 4.5)
    n = _input_dim(arrays)
    lines = [
        "| gamma = K / N | largest deviation of sim from theory | final eps_g sim | final readout ODE | stationary "
        "| eta → 0 asymptote |",
        "|---|---|---|---|---|---|",
    ]
    for h, k in enumerate(arrays["hidden"]):
        sim, model = arrays["eps_g_sim"][h], arrays["eps_g_theory"][h].mean(0)
        seed_band(ax, alpha[1:], sim[:, 1:], f"C{h}", f"gamma = {k / n:g}")
        ax.plot(alpha[1:], model[1:], color=f"C{h}", ls="--", lw=1)
        gap = np.nanmax(np.abs(sim.mean(0)[1:] / model[1:] - 1))
        lines.append(
            f"| {k / n:g} | {100 * gap:.1f} % | {sim.mean(0)[-1]:.4f} | {model[-1]:.4f} | "
            f"{arrays['eps_g_stationary'][h].mean():.4f} | {arrays['eps_g_asymptote'][h].mean():.4f} |"
        )
    ax.plot([], [], color="k", ls="--", lw=1, label="readout ODE")
    ax.set(xscale="log", yscale="log", xlabel="alpha (steps / N)", ylabel="eps_g")
    ax.set_title("solid: simulation (seed mean, 10–90 % band); dashed: theory", fontsize=9)
    ax.legend(fontsize=8)
    return Drawn(figure, lines)
