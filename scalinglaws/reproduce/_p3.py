"""Richert, Worschech & Rosenow, arXiv:2104.14546: over-realizable online learning, students with
more hidden units than their teacher."""

from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from .._activations import Erf
from ..theory import SCMArgs, SCMState, SoftCommitteeODE, linearise
from ._common import grid_index, new_figure, resolved, seed_band
from ._figure import AbstractFigure, Drawn, Runs
from ._registry import register


PAPER = "Richert, Worschech & Rosenow, arXiv:2104.14546"
SOFT_FLOOR = 1e-9  # eps_g below which eps_g / Delta^2 wanders by several per cent (rounding of Q, R)


def _draw(runs: Runs, config: str, quick: bool, quick_overrides: tuple[str, ...], title: str) -> Drawn:
    arrays = runs(config, "", *(quick_overrides if quick else ())).arrays
    alpha = arrays["alpha"]
    figure, (left, right) = new_figure(2, 5.2, 4.2)
    seed_band(left, alpha[1:], arrays["eps_g_sim"][:, 1:], "C0", "simulation")
    theory = resolved(arrays["eps_g_theory"].mean(0))
    left.plot(alpha[1:], theory[1:], color="C1", ls="--", label="theory (ODE, per seed)")
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
    seconds: ClassVar[tuple[float, float]] = (42.0, 12.0)

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
    seconds: ClassVar[tuple[float, float]] = (68.0, 12.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        quick_overrides = ("data.input_dim=200", "training.alpha_max=1000")
        return _draw(runs, "scm_overrealizable_rescaled", quick, quick_overrides, "K = 2, M = 1, outputs 1/K, 1/M")


@register
class P3MoreCases(AbstractFigure):
    """Two more over-realizable pairs, each with plain (summed) and rescaled (1/K, 1/M) outputs:
    K = 3 students for M = 1 and K = 4 for M = 2 (N = 500, sigma_J = 0.1; eta = 0.5 plain, 1
    rescaled, as the shipped configs): eps_g from the simulation against the ODE, and the final
    squared norms (plain outputs kill the superfluous nodes; rescaled outputs share the teacher
    among all of them)."""

    id: ClassVar[str] = "p3-more-cases"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "K = 3 for M = 1 and K = 4 for M = 2, plain and rescaled outputs"
    quick_note: ClassVar[str] = "N = 200, 2 seeds, alpha to 300"
    seconds: ClassVar[tuple[float, float]] = (209.0, 32.0)
    cases: ClassVar[tuple[tuple[int, int], ...]] = ((3, 1), (4, 2))

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        figure, axes = new_figure(4, 4.2, 3.8)
        lines = [
            "| K | M | outputs | eps_g at alpha = 100: sim / ODE | final eps_g: sim / ODE | final Q_kk (seed 0, ODE) |",
            "|---|---|---|---|---|---|",
        ]
        panel = 0
        for k, m in self.cases:
            for config, outputs in (("scm_overrealizable_plain", "plain"), ("scm_overrealizable_rescaled", "rescaled")):
                overrides = [
                    f"teacher.hidden={m}",
                    f"student.hidden={k}",
                    "data.input_dim=" + ("200" if quick else "500"),
                ]
                overrides += ["training.seeds=2", "training.alpha_max=300"] if quick else ["training.seeds=4"]
                arrays = runs(config, f"k{k}m{m}", *overrides).arrays
                alpha, ax = arrays["alpha"], axes[panel]
                sim, theory = arrays["eps_g_sim"], arrays["eps_g_theory"].mean(0)
                seed_band(ax, alpha[1:], sim[:, 1:], "C0", "simulation (seed mean, 10–90 % band)")
                ax.plot(alpha[1:], resolved(theory)[1:], color="C1", ls="--", label="theory (ODE)")
                ax.set(xscale="log", yscale="log", xlabel="alpha (steps / N)", title=f"K = {k}, M = {m}, {outputs}")
                ax.legend(fontsize=7)
                i = grid_index(alpha, 100.0)
                norms = np.diagonal(arrays["Q_theory"][0, -1])
                lines.append(
                    f"| {k} | {m} | {outputs} | {sim.mean(0)[i]:.3e} / {theory[i]:.3e} | "
                    f"{sim.mean(0)[-1]:.3e} / {theory[-1]:.3e} | {', '.join(f'{x:.3f}' for x in norms)} |"
                )
                panel += 1
        axes[0].set_ylabel("eps_g")
        return Drawn(figure, lines)


@register
class P3SoftMode(AbstractFigure):
    """The soft mode of the rescaled over-realizable student (K = 2, M = 1, outputs 1/K and 1/M):
    both student vectors converge to the teacher's, and their squared distance
    `Delta = Q_11 + Q_22 - 2 Q_12` decays only algebraically, along a direction in which the loss
    is quartic (the linearisation at the teacher has an eigenvalue -> 0), so `eps_g ∝ Delta^2`.
    From the ODE (theory alone, one draw of the initial state, N = 500) at eta = 0.5, 1, 2 to
    alpha = 10^6: `eta alpha Delta` against alpha (a law `Delta ≈ C / (eta alpha)` makes it flat at
    C; C ≈ 32.6 was measured for these three rates) and `eps_g / Delta^2`."""

    id: ClassVar[str] = "p3-soft-mode"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "soft mode, rescaled K = 2, M = 1: eta alpha Delta against alpha for eta = 0.5, 1, 2"
    quick_note: ClassVar[str] = "alpha to 10^5"
    seconds: ClassVar[tuple[float, float]] = (13.0, 9.0)
    rates: ClassVar[tuple[float, ...]] = (0.5, 1.0, 2.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        overrides = (
            "training.seeds=0",
            f"training.learning_rate={list(self.rates)}",
            "training.alpha_max=" + ("100000" if quick else "1000000"),
            "training.points_per_decade=10",
        )
        arrays = runs("scm_overrealizable_rescaled", "soft-mode", *overrides).arrays
        alpha = arrays["alpha"]
        q = arrays["Q_theory"][:, 0]  # (H, T, 2, 2)
        delta = q[..., 0, 0] + q[..., 1, 1] - 2 * q[..., 0, 1]
        eps = arrays["eps_g_theory"][:, 0]
        figure, (left, right) = new_figure(2, 5.2, 4.2)
        ode = SoftCommitteeODE(Erf(), 2, 1, "mean", "mean")
        lines = [
            "ODE of the rescaled K = 2, M = 1 erf student (theory alone; initial state of one N = 500 draw, "
            "sigma_J = 0.1). Delta = Q_11 + Q_22 − 2 Q_12. Spectrum: the two least negative eigenvalues of the "
            "ODE linearised at the final state, times alpha (a mode that softens as the state nears the teacher "
            "has an eigenvalue ∝ 1/alpha). eps_g / Delta² is drawn where eps_g > 10^-9 (below, "
            "the ratio of two rounded small numbers wanders by several per cent).",
            "",
            "| eta | eta alpha Delta at alpha = 10^4 | 10^5 | 10^6 | eps_g / Delta² at alpha = 10^4, 10^5 "
            "| two least negative eigenvalues × alpha |",
            "|---|---|---|---|---|---|",
        ]
        picks = [(grid_index(alpha, a), a) for a in (1e4, 1e5, 1e6)]
        for h, eta in enumerate(self.rates):
            scaled = eta * alpha * delta[h]
            left.loglog(alpha[1:], scaled[1:], color=f"C{h}", label=f"eta = {eta:g}")
            shown = (eps[h] > SOFT_FLOOR) & (alpha > 0)  # below it the ratio shows the ODE's rounding
            ratio = eps[h] / delta[h] ** 2
            right.loglog(alpha[shown], ratio[shown], color=f"C{h}", label=f"eta = {eta:g}")
            state = SCMState(jnp.asarray(q[h, -1]), jnp.asarray(arrays["R_theory"][h, 0, -1]), jnp.ones(2))
            args = SCMArgs(
                jnp.asarray(eta), jnp.asarray(0.0), jnp.asarray(arrays["T_theory"][0]), jnp.ones(1), jnp.asarray(0.0)
            )
            eigenvalues = np.sort(np.real(np.asarray(linearise(ode, state, args).eigenvalues)))[::-1]
            ratios = ", ".join(
                f"{eps[h, i] / delta[h, i] ** 2:.3e}" if eps[h, i] > SOFT_FLOOR else "– (unresolved)"
                for i, _ in picks[:2]
            )
            cells = " | ".join(f"{scaled[i]:.2f}" if abs(np.log10(alpha[i] / a)) < 0.05 else "–" for i, a in picks)
            lines.append(
                f"| {eta:g} | {cells} | {ratios} | {eigenvalues[0] * alpha[-1]:.3g}, {eigenvalues[1] * alpha[-1]:.3g} |"
            )
        left.axhline(32.6, color="grey", ls=":", lw=1, label="32.6")
        left.set(xlabel="alpha (steps / N)", ylabel="eta alpha Delta", title="soft mode: Delta ≈ C / (eta alpha)")
        right.set(xlabel="alpha (steps / N)", ylabel="eps_g / Delta²", title="the loss is quartic along it")
        left.legend(fontsize=8)
        right.legend(fontsize=8)
        return Drawn(figure, lines)
