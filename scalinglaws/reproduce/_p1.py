"""Worschech & Rosenow, arXiv:2410.09005: learning from data with power-law spectra."""

from collections.abc import Mapping
from typing import ClassVar

import jax
import numpy as np

from ..fit import fit_curve
from ..theory import linear_block_errors, linear_learning_curve, linear_parameter_floor, linear_power_law
from ._common import grid_index, new_figure, seed_band
from ._figure import AbstractFigure, Drawn, Runs
from ._registry import register


PAPER = "Worschech & Rosenow, arXiv:2410.09005"


@register
class P1Figure1(AbstractFigure):
    """Fig. 1 (its caption): erf K = M = 2, eta = 0.1, beta = 1, sigma_J = 0.01, N = 1024; eps_g
    against alpha for L = 1 ... 256 distinct eigenvalues: the plateau shortens as L grows and
    vanishes, the late decay turns from exponential into a power law. Simulation (seed mean and
    band) against the eigen-block ODE from each seed's own initial overlaps."""

    id: ClassVar[str] = "p1-fig1"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "eps_g against alpha for L = 1 … 256 distinct eigenvalues (erf, K = M = 2, N = 1024)"
    quick_note: ClassVar[str] = "N = 256, L = 1, 4, 16, 64, 256, 2 seeds, alpha to 500"
    seconds: ClassVar[tuple[float, float]] = (172.0, 22.0)  # full: the run on 2 CPU devices, cpu_devices.md

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        overrides = (
            ("data.input_dim=256", "data.distinct_eigenvalues=[1, 4, 16, 64, 256]", "training.seeds=2")
            + ("training.alpha_max=500",)
            if quick
            else ()
        )
        arrays = runs("p1_fig1", "", *overrides).arrays
        alpha = arrays["alpha"]
        figure, (ax,) = new_figure(1, 6.5, 4.8)
        lines = [
            "Seed means of the simulation against the eigen-block ODE (each seed's own initial overlaps, "
            "then averaged). The paper's caption states no numbers. Filled: the share of its teacher overlap a "
            "block holds at alpha = 100 in the ODE, sum_kn R^(l)_kn / sum_n T^(l)_nn (seed mean), for the block "
            "of the largest and of the smallest eigenvalue.",
            "",
            "| L | eps_g at alpha = 10: sim / theory | alpha = 100 | alpha = 1000 | largest deviation sim vs theory "
            "| filled at alpha = 100: top / bottom block |",
            "|---|---|---|---|---|---|",
        ]
        hundred = grid_index(alpha, 100.0)
        teacher = np.einsum("slnn->sl", arrays["T_blocks_theory"])  # (S, blocks)
        for h, blocks in enumerate(arrays["distinct_eigenvalues"]):
            sim, theory = arrays["eps_g_sim"][h], arrays["eps_g_theory"][h].mean(0)
            seed_band(ax, alpha[1:], sim[:, 1:], f"C{h}", f"L = {int(blocks)}")
            ax.plot(alpha[1:], theory[1:], color=f"C{h}", ls="--", lw=1)
            mean = sim.mean(0)
            picks = [grid_index(alpha, a) for a in (10, 100, 1000) if a <= alpha[-1]]
            cells = [f"{mean[i]:.4g} / {theory[i]:.4g}" for i in picks] + ["–"] * (3 - len(picks))
            gap = np.nanmax(np.abs(mean[1:] / theory[1:] - 1))
            lam = arrays["eigenvalues"][h]  # (blocks,): the variant's eigenvalue of each block of coordinates
            overlap = np.einsum("slkn->sl", arrays["R_blocks_theory"][h, :, hundred])

            def filled(group, overlap=overlap):  # the share of the teacher overlap of a group of blocks
                return 100 * np.mean(overlap[:, group].sum(1) / teacher[:, group].sum(1))

            top, bottom = filled(lam == lam.max()), filled(lam == lam.min())
            cells += [f"{100 * gap:.1f} %", f"{top:.0f} % / {bottom:.0f} %"]
            lines.append(f"| {int(blocks)} | " + " | ".join(cells) + " |")
        ax.plot([], [], color="k", ls="--", lw=1, label="theory (ODE)")
        ax.set(xscale="log", yscale="log", xlabel="alpha (steps / N)", ylabel="eps_g")
        ax.set_title("solid: simulation (seed mean, 10–90 % band); dashed: theory", fontsize=9)
        ax.legend(fontsize=7, ncol=2)
        return Drawn(figure, lines)


def _initial_block_errors(arrays: Mapping) -> np.ndarray:
    """Every seed's initial block errors `e_l(0)` (S, L) of a linear K = M = 1 run."""
    initial = zip(arrays["Q_blocks_sim"][:, 0], arrays["R_blocks_sim"][:, 0], arrays["T_blocks_sim"])
    return np.stack([np.asarray(linear_block_errors(q, r, t, np.ones(1), np.ones(1))) for q, r, t in initial])


def _closed_form(arrays: Mapping, learning_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Per seed, the exact linear learning curve (`linear_learning_curve`, K = M = 1, kappa = 1) from
    the seed's initial block errors, and those errors (S, L)."""
    errors = _initial_block_errors(arrays)
    curve = jax.vmap(lambda e: linear_learning_curve(arrays["alpha"], arrays["eigenvalues"], e, 1.0, learning_rate))
    return np.asarray(curve(errors)), errors


def _linear_overrides(n: int, beta: float, *rest: str) -> tuple[str, ...]:
    return (f"data.input_dim={n}", f"data.exponent={beta}", "teacher.hidden=1", "student.hidden=1", *rest)


@register
class P1Figure2Left(AbstractFigure):
    """Fig. 2 left: a linear student and teacher, K = M = 1, N = L = 128, sigma_J^2 = 1, eta = 0.1:
    the closed-form learning curve (the exact solution of the linear block equations, from each
    seed's initial block errors) against the eigen-block ODE and the simulation, for beta = 0.5,
    1, 2."""

    id: ClassVar[str] = "p1-fig2-left"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "linear K = M = 1, N = L = 128, sigma_J² = 1: the closed form against the ODE"
    quick_note: ClassVar[str] = "2 seeds, alpha to 300"
    seconds: ClassVar[tuple[float, float]] = (15.0, 17.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        figure, (ax,) = new_figure(1, 6.2, 4.6)
        lines = [
            "Seed means; the closed form and the ODE start from each seed's own initial block overlaps.",
            "",
            "| beta | largest deviation closed form vs ODE | largest deviation sim vs closed form | "
            "eps_g at alpha = 1: sim / closed form | at alpha = 100 |",
            "|---|---|---|---|---|",
        ]
        for j, beta in enumerate((0.5, 1.0, 2.0)):
            rest = ("student.init_std=1.0", "training.seeds=" + ("2" if quick else "8"))
            rest += ("training.alpha_max=300",) if quick else ()
            arrays = runs("p1_linear", f"fig2left-beta{beta:g}", *_linear_overrides(128, beta, *rest)).arrays
            alpha = arrays["alpha"]
            closed, _ = _closed_form(arrays, 0.1)
            ode, sim = arrays["eps_g_theory"].mean(0), arrays["eps_g_sim"]
            seed_band(ax, alpha[1:], sim[:, 1:], f"C{j}", f"beta = {beta:g}: simulation")
            ax.plot(alpha[1:], closed.mean(0)[1:], color=f"C{j}", ls="--", lw=1.2)
            ax.plot(alpha[1::3], ode[1::3], "o", ms=3, mfc="none", color=f"C{j}")
            ode_gap = np.max(np.abs(ode[1:] / closed.mean(0)[1:] - 1))
            sim_gap = np.max(np.abs(sim.mean(0)[1:] / closed.mean(0)[1:] - 1))
            at = [grid_index(alpha, a) for a in (1.0, 100.0)]
            cells = " | ".join(f"{sim.mean(0)[i]:.4g} / {closed.mean(0)[i]:.4g}" for i in at)
            lines.append(f"| {beta:g} | {ode_gap:.1e} | {100 * sim_gap:.1f} % | {cells} |")
        ax.plot([], [], color="k", ls="--", label="closed form")
        ax.plot([], [], "o", ms=3, mfc="none", color="k", label="eigen-block ODE")
        ax.set(xscale="log", yscale="log", xlabel="alpha (steps / N)", ylabel="eps_g")
        ax.set_title("solid: simulation (seed mean, 10–90 % band)", fontsize=9)
        ax.legend(fontsize=7)
        return Drawn(figure, lines)


@register
class P1Figure2Right(AbstractFigure):
    """Fig. 2 right: linear K = M = 1, N = L = 1024, beta = 0.75, eta = 0.01, sigma_J = 0.01, 15
    seeds, to alpha = 1000 (past the power-law window, about 1 ≲ alpha ≲ 190): the
    simulation against the exact curve and its power law `eps_g ∝ alpha^(-beta/(1+beta))`
    (`linear_power_law`)."""

    id: ClassVar[str] = "p1-fig2-right"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "linear K = M = 1, N = L = 1024, beta = 0.75, eta = 0.01: the power law alpha^-3/7"
    quick_note: ClassVar[str] = "N = L = 256, 4 seeds"
    seconds: ClassVar[tuple[float, float]] = (125.0, 17.0)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        beta, eta = 0.75, 0.01
        n = 256 if quick else 1024
        rest = (f"training.learning_rate={eta}", "training.seeds=" + ("4" if quick else "15"))
        rest += ("training.alpha_max=1000",)
        arrays = runs("p1_linear", "fig2right", *_linear_overrides(n, beta, *rest)).arrays
        alpha = arrays["alpha"]
        closed, errors = _closed_form(arrays, eta)
        law = np.asarray(linear_power_law(alpha[1:], arrays["eigenvalues"], float(errors.mean()), 1, eta, beta))
        figure, (ax,) = new_figure(1, 6.2, 4.6)
        seed_band(ax, alpha[1:], arrays["eps_g_sim"][:, 1:], "C0", "simulation (seed mean, 10–90 % band)")
        ax.plot(alpha[1:], closed.mean(0)[1:], color="C1", ls="--", label="exact (closed form)")
        ax.plot(alpha[1:], law, color="C2", ls=":", label=f"power law alpha^(-{beta / (1 + beta):.3f})")
        ax.set(xscale="log", yscale="log", xlabel="alpha (steps / N)", ylabel="eps_g", ylim=(None, 2 * closed.max()))
        ax.legend(fontsize=8)
        rate = 2 * eta * float(arrays["eigenvalues"][0])
        window = (rate * alpha >= 10) & (rate * alpha <= n ** (1 + beta) / 100)
        sim = arrays["eps_g_sim"].mean(0)
        slope_sim = np.polyfit(np.log(alpha[window]), np.log(sim[window]), 1)[0] if window.sum() > 2 else np.nan
        slope_exact = (
            np.polyfit(np.log(alpha[window]), np.log(closed.mean(0)[window]), 1)[0] if window.sum() > 2 else np.nan
        )
        lines = [
            f"Window 10 ≤ 2 eta lambda_1 alpha ≤ L^(1+beta)/100: alpha in [{alpha[window][0]:.3g}, "
            f"{alpha[window][-1]:.3g}]. Log-log least-squares slopes there: simulation {slope_sim:.3f}, exact "
            f"{slope_exact:.3f}, the power law {-beta / (1 + beta):.3f}.",
            "",
            "| alpha | simulation (seed mean ± standard error) | exact | power law |",
            "|---|---|---|---|",
        ]
        for a in (1.0, 10.0, 100.0, 1000.0, 10000.0):
            if a > alpha[-1]:
                continue
            i = grid_index(alpha, a)
            se = arrays["eps_g_sim"][:, i].std() / np.sqrt(arrays["eps_g_sim"].shape[0])
            lines.append(f"| {alpha[i]:.3g} | {sim[i]:.4g} ± {se:.1g} | {closed.mean(0)[i]:.4g} | {law[i - 1]:.4g} |")
        return Drawn(figure, lines)


@register
class P1Figure3Left(AbstractFigure):
    """Fig. 3 left, the parameter scaling law: a linear K = M = 1 student on L = N = 256 power-law
    blocks (beta = 1, eta = 0.05, sigma_J = 0.01) that trains only the N_l leading input
    dimensions; its error settles at the unread error `1/2 sum_{l > N_l} lambda_l e_l(0)`
    (`linear_parameter_floor`), ∝ N_l^-beta."""

    id: ClassVar[str] = "p1-fig3-left"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "parameter scaling law: linear K = M = 1, L = N = 256, N_l trained input dimensions"
    quick_note: ClassVar[str] = "2 seeds, alpha to 300"
    seconds: ClassVar[tuple[float, float]] = (28.0, 24.0)
    trained: ClassVar[tuple[int, ...]] = (8, 16, 32, 64, 128)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        figure, (left, right) = new_figure(2, 5.4, 4.4)
        finals, floors = [], []
        for j, visible in enumerate(self.trained):
            overrides = (
                "data.input_dim=256",
                "data.distinct_eigenvalues=256",
                "teacher.hidden=1",
                "student.hidden=1",
                f"student.visible_blocks={visible}",
                "training.learning_rate=0.05",
                "training.seeds=" + ("2" if quick else "4"),
                "training.alpha_max=" + ("300" if quick else "1000"),
            )
            arrays = runs("p1_parameter_scaling", f"fig3left-nl{visible}", *overrides).arrays
            alpha = arrays["alpha"]
            seed_band(left, alpha[1:], arrays["eps_g_sim"][:, 1:], f"C{j}", f"N_l = {visible}")
            left.plot(alpha[1:], arrays["eps_g_theory"].mean(0)[1:], color=f"C{j}", ls="--", lw=1)
            lam = arrays["eigenvalues"]
            floor = [float(linear_parameter_floor(lam, e, visible)) for e in _initial_block_errors(arrays)]
            left.axhline(np.mean(floor), color=f"C{j}", ls=":", lw=0.8)
            finals.append((arrays["eps_g_sim"][:, -1], arrays["eps_g_theory"][:, -1].mean()))
            floors.append(floor)
        left.plot([], [], color="k", label="simulation (seed mean, band)")
        left.plot([], [], color="k", ls="--", label="theory (ODE)")
        left.plot([], [], color="k", ls=":", label="floor (unread error)")
        left.set(xscale="log", yscale="log", xlabel="alpha (steps / N)", ylabel="eps_g")
        left.legend(fontsize=7, ncol=2)
        trained = np.asarray(self.trained, np.float64)
        sims = np.stack([sim for sim, _ in finals], axis=1)  # (S, H)
        fit = fit_curve(trained, sims, "pure_power_law")
        interval = fit.intervals["exponent"]
        right.loglog(trained, sims.mean(0), "o", label="simulation, final (seed mean)")
        right.loglog(trained, [theory for _, theory in finals], "x", label="ODE, final")
        right.loglog(trained, np.mean(floors, axis=1), "-", lw=1, label="floor ∝ N_l^-beta")
        right.loglog(trained, fit.curve(trained), "--", lw=1, label=f"fit: N_l^-{fit.params['exponent']:.2f}")
        right.set(xlabel="trained input dimensions N_l", ylabel="final eps_g")
        right.legend(fontsize=7)
        shown = "" if interval is None else f" [{interval[0]:.3f}, {interval[1]:.3f}]"
        lines = [
            f"Final eps_g against N_l, fitted with `scalinglaws.fit` (pure power law, 95 % interval from a bootstrap "
            f"over the seeds): exponent {fit.params['exponent']:.3f}{shown}; the prediction is beta = 1 for "
            "N_l << L.",
            "",
            "| N_l | final eps_g: simulation | ODE | floor 1/2 Σ_{l > N_l} λ_l e_l(0) |",
            "|---|---|---|---|",
        ]
        for visible, (sim, theory), floor in zip(self.trained, finals, floors, strict=True):
            lines.append(f"| {visible} | {sim.mean():.4g} | {theory:.4g} | {np.mean(floor):.4g} |")
        return Drawn(figure, lines)
