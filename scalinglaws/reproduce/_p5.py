"""Kramp, Lindner & Helias, arXiv:2602.23039: kernel regression with power-law eigenvalues under
gradient flow and Langevin dynamics, the DMFT against exact data draws.

Conventions (`configs/p5_*.toml`; the paper's body could not be read, its conventions are a checked
reconstruction): P = N = 100, Lambda_ii = i^-3/2, the summed loss, w(0) = 0, an isotropic teacher,
no label noise; the paper's inverse temperature beta is 1 / T and g beta = 10^3 is read as the weight
decay kappa = 1 / (g beta) = 10^-3. eps_g carries the project's factor 1/2. Simulation: the exact
average over teacher and thermal noise for each of 10^5 data draws (the paper's realisations).
"""

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from ._common import grid_index, new_figure, seed_band
from ._figure import AbstractFigure, Drawn, Runs
from ._registry import register


__all__ = ["gap_line", "sim_minimum"]

PAPER = "Kramp, Lindner & Helias, arXiv:2602.23039"
DRAWS, QUICK_DRAWS = 100_000, 1_000
BETAS = {"beta1e4": 1e4, "beta50": 50.0, "beta10": 10.0}
KAPPAS = (0.0, 1e-3, 1e-2, 3e-2, 0.1)
MODES = (1, 3, 10, 30, 100)
QUICK = f"{QUICK_DRAWS} data draws instead of {DRAWS}"
CONVENTIONS = (
    "P = N = 100, Lambda_ii = i^-3/2, summed loss, w(0) = 0, isotropic teacher, no label noise; each data draw "
    "averaged exactly over teacher and thermal noise. The weight decay kappa = 1/(g beta) = 10^-3 is a reading of "
    "the paper's g beta = 10^3. eps_g = 1/2 E(x . (w - wbar))^2."
)


def _run(runs: Runs, config: str, quick: bool, kappa: float | None = None):
    draws = QUICK_DRAWS if quick else DRAWS
    overrides = [f"training.seeds={draws}"]
    if kappa is not None and kappa != 1e-3:  # 1e-3 is the config's own: share its run
        overrides.append(f"training.weight_decay={kappa}")
    return runs(config, f"kappa{kappa:g}" if len(overrides) > 1 else "", *overrides)


def sim_minimum(time: np.ndarray, eps: np.ndarray) -> tuple[float, float, float]:
    """The grid minimum of the draws' mean eps_g: `(t*, eps*, its standard error)`."""
    mean = eps.mean(0)
    i = int(np.argmin(mean[1:])) + 1
    return float(time[i]), float(mean[i]), float(eps[:, i].std() / np.sqrt(eps.shape[0]))


def gap_line(arrays: Mapping, times=(0.1, 1.0, 10.0, 100.0, 1000.0)) -> str:
    """The DMFT's relative deviation from the draws' mean eps_g at `times`."""
    t, sim, theory = arrays["time"], arrays["eps_g_sim"].mean(0), arrays["eps_g_theory"]
    picks = [grid_index(t, x) for x in times if x <= t[-1]]
    return ", ".join(f"t = {t[i]:.3g}: {100 * (theory[i] / sim[i] - 1):+.2f} %" for i in picks)


@register
class P5Figure1(AbstractFigure):
    """Fig. 1: the mode-resolved mean discrepancy (wbar_i - <w_i(t)>) / wbar_i under gradient flow."""

    id: ClassVar[str] = "p5-fig1"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "mode-resolved discrepancy under gradient flow, modes i = 1, 3, 10, 30, 100"
    quick_note: ClassVar[str] = QUICK
    seconds: ClassVar[tuple[float, float]] = (256.0, 8.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        arrays = _run(runs, "p5_fig1", quick).arrays
        t = arrays["time"]
        figure, (ax,) = new_figure(1, 6.0, 4.5)
        for j, mode in enumerate(MODES):
            ax.semilogx(t[1:], arrays["mode_discrepancy_sim"][1:, mode - 1], color=f"C{j}", label=f"i = {mode}")
            ax.semilogx(t[1:], arrays["mode_discrepancy_theory"][1:, mode - 1], color=f"C{j}", ls="--")
        ax.plot([], [], color="k", ls="--", label="DMFT")
        ax.set(xlabel="time t", ylabel="(wbar_i − <w_i(t)>) / wbar_i", title="solid: exact draws; dashed: DMFT")
        ax.legend(fontsize=8)
        lines = [
            CONVENTIONS,
            "",
            "| mode i | t where the DMFT discrepancy falls to 1/2 | largest deviation of sim from DMFT over t |",
            "|---|---|---|",
        ]
        for mode in MODES:
            theory = arrays["mode_discrepancy_theory"][:, mode - 1]
            half = t[int(np.argmax(theory < 0.5))] if np.any(theory < 0.5) else float("nan")
            diff = np.abs(theory - arrays["mode_discrepancy_sim"][:, mode - 1]).max()
            lines.append(f"| {mode} | {half:.3g} | {diff:.4f} |")
        lines += ["", f"Test error, DMFT against the draws' mean: {gap_line(arrays)}."]
        return Drawn(figure, lines)


@register
class P5Figure2(AbstractFigure):
    """Fig. 2: eps_g(t) under Langevin dynamics at inverse temperatures 10^4, 50 and 10."""

    id: ClassVar[str] = "p5-fig2"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "test error under Langevin dynamics, beta = 10^4, 50, 10, kappa = 10^-3"
    quick_note: ClassVar[str] = QUICK
    seconds: ClassVar[tuple[float, float]] = (787.0, 32.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        header = (
            "| beta | t* DMFT | eps_g(t*) DMFT | t* sim (grid) | eps_g(t*) sim | eps_g(10^5) DMFT | sim "
            "| stationary DMFT |\n|---|---|---|---|---|---|---|---|"
        )
        cases = [(f"beta = {beta:g}", _run(runs, f"p5_fig2_{tag}", quick)) for tag, beta in BETAS.items()]
        figure, lines = _langevin_figure(cases, header, stationary=True)
        gaps = [f"- {label}: {gap_line(results.arrays)}" for label, results in cases]
        return Drawn(figure, [*lines, "", "DMFT against the draws' mean:", *gaps])


@register
class P5Figure3(AbstractFigure):
    """Fig. 3: bias and variance of the test error at beta = 10."""

    id: ClassVar[str] = "p5-fig3"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "bias and variance of the test error, Langevin dynamics at beta = 10"
    quick_note: ClassVar[str] = QUICK
    seconds: ClassVar[tuple[float, float]] = (277.0, 12.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        arrays = _run(runs, "p5_fig2_beta10", quick).arrays
        t = arrays["time"]
        figure, (ax,) = new_figure(1, 6.0, 4.5)
        lines = [
            CONVENTIONS,
            "",
            "| t | bias DMFT | bias sim | variance DMFT | variance sim |",
            "|---|---|---|---|---|",
        ]
        for j, name in enumerate(("eps_g", "bias", "variance")):
            ax.loglog(t[1:], arrays[f"{name}_sim"].mean(0)[1:], color=f"C{j}", label=name)
            ax.loglog(t[1:], arrays[f"{name}_theory"][1:], color=f"C{j}", ls="--")
        for x in (0.1, 1.0, 10.0, 100.0, 1000.0):
            i = grid_index(t, x)
            lines.append(
                f"| {t[i]:.3g} | {arrays['bias_theory'][i]:.5f} | {arrays['bias_sim'].mean(0)[i]:.5f} | "
                f"{arrays['variance_theory'][i]:.5f} | {arrays['variance_sim'].mean(0)[i]:.5f} |"
            )
        ax.plot([], [], color="k", ls="--", label="DMFT")
        ax.set(xlabel="time t", ylabel="error", title="solid: draws' mean; dashed: DMFT")
        ax.legend(fontsize=8)
        return Drawn(figure, lines)


@register
class P5Figure4(AbstractFigure):
    """Fig. 4: early stopping against weight decay at beta = 10: t* and eps_g(t*) for kappa = 0 … 0.1."""

    id: ClassVar[str] = "p5-fig4"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "early stopping against weight decay kappa = 0 … 0.1, Langevin dynamics at beta = 10"
    quick_note: ClassVar[str] = QUICK
    seconds: ClassVar[tuple[float, float]] = (1129.0, 40.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        header = (
            "| kappa | t* DMFT | eps_g(t*) DMFT | t* sim (grid) | eps_g(t*) sim | eps_g(10^5) DMFT | sim |\n"
            "|---|---|---|---|---|---|---|"
        )
        cases = [(f"kappa = {kappa:g}", _run(runs, "p5_fig2_beta10", quick, kappa)) for kappa in KAPPAS]
        return Drawn(*_langevin_figure(cases, header, stationary=False))


def _langevin_figure(cases: list, header: str, *, stationary: bool) -> tuple:
    """The figure of several Langevin runs (`(label, Results)`): the draws' mean eps_g with its band
    against the DMFT, and the report table of early stopping (DMFT and the draws' grid minimum),
    the late error, and the DMFT's stationary error when `stationary`."""
    figure, (ax,) = new_figure(1, 6.0, 4.5)
    lines = [CONVENTIONS, "", *header.split("\n")]
    for j, (label, results) in enumerate(cases):
        arrays, summary = results.arrays, results.summary
        t = arrays["time"]
        seed_band(ax, t[1:], arrays["eps_g_sim"][:, 1:], f"C{j}", label)
        ax.plot(t[1:], arrays["eps_g_theory"][1:], color=f"C{j}", ls="--")
        t_sim, e_sim, se = sim_minimum(t, arrays["eps_g_sim"])
        interior = summary["early_stopping_interior_theory"]
        row = (
            f"| {label.split('= ')[1]} | {summary['early_stopping_time_theory']:.4g}{'' if interior else ' (none)'} | "
            f"{summary['early_stopping_error_theory']:.5f} | {t_sim:.4g} | {e_sim:.5f} ± {se:.1e} | "
            f"{arrays['eps_g_theory'][-1]:.5f} | {arrays['eps_g_sim'].mean(0)[-1]:.5f} |"
        )
        lines.append(row + (f" {summary['eps_g_stationary_theory']:.5f} |" if stationary else ""))
    ax.plot([], [], color="k", ls="--", label="DMFT")
    ax.set(xscale="log", yscale="log", xlabel="time t", ylabel="eps_g")
    ax.set_title("solid: draws' mean (10–90 % band); dashed: DMFT", fontsize=9)
    ax.legend(fontsize=8)
    return figure, lines
