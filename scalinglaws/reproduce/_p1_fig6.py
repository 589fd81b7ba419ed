"""Worschech & Rosenow, arXiv:2410.09005, Fig. 6: a wide network (K = M = 40) on data whose every
eigenvalue is distinct (L = N = 512), from tiny initial weights; sized for a GPU, reduced on a CPU."""

from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from .._activations import Erf
from ..experiment import configs_dir, estimate_memory, load_config
from ..theory import SCMArgs, SoftCommitteeODE, local_exponent, symmetric_fixed_point
from ._common import grid_index, new_figure, seed_band
from ._figure import AbstractFigure, Drawn, Runs
from ._registry import register


PAPER = "Worschech & Rosenow, arXiv:2410.09005"
REDUCED = (
    "data.input_dim=128",
    "data.distinct_eigenvalues=128",
    "teacher.hidden=6",
    "student.hidden=6",
    "training.seeds=4",
    "training.points_per_decade=16",
)


@register
class P1Figure6(AbstractFigure):
    """Fig. 6: erf K = M = 40, eta = 0.01, sigma_J = 1e-6, L = N = 512, beta = 1, 10 seeds: the
    simulation against the eigen-block ODE, whose state holds L (K^2 + K M) = 1.6 M entries per
    seed. The full version is sized for a GPU machine (the report states its memory estimate);
    `--quick` runs the same code on K = M = 6, L = N = 128, 4 seeds."""

    id: ClassVar[str] = "p1-fig6"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "erf K = M = 40, L = N = 512, eta = 0.01, sigma_J = 1e-6: simulation against the block ODE"
    quick_note: ClassVar[str] = "reduced for a CPU: K = M = 6, L = N = 128, 4 seeds"
    seconds: ClassVar[tuple[float, float]] = (float("nan"), 85.0)
    needs_gpu: ClassVar[bool] = True

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        overrides = REDUCED if quick else ()
        results = runs("p1_fig6", "", *overrides)
        arrays, config = results.arrays, load_config(configs_dir() / "p1_fig6.toml", list(overrides))
        k, n = config["student"]["hidden"], config["data"]["input_dim"]
        eta = config["training"]["learning_rate"]
        alpha, sim, theory = arrays["alpha"], arrays["eps_g_sim"], arrays["eps_g_theory"]  # (S, T)
        erf = Erf()
        iso = SoftCommitteeODE(erf, k, k)
        iso_args = SCMArgs(jnp.asarray(eta), jnp.asarray(0.0), jnp.eye(k), jnp.ones(k), jnp.asarray(0.0))
        plateau = float(iso.generalisation_error(symmetric_fixed_point(iso, iso_args), iso_args))
        figure, (left, right) = new_figure(2, 5.4, 4.4)
        seed_band(left, alpha[1:], sim[:, 1:], "C0", "simulation (seed mean, 10–90 % band)")
        left.plot(alpha[1:], theory.mean(0)[1:], "C1--", lw=1.2, label="theory (eigen-block ODE, per seed)")
        left.axhline(plateau, color="0.5", ls=":", lw=1, label="isotropic plateau (T = I)")
        left.set(xscale="log", yscale="log", xlabel="alpha (steps / N)", ylabel="eps_g")
        left.set_title(f"(a) K = M = {k}, L = N = {n}", fontsize=9)
        left.legend(fontsize=7)
        mean = theory.mean(0)
        slope = local_exponent(alpha[1:], np.maximum(mean[1:], 1e-300))
        right.plot(alpha[1:], slope, "C1", lw=1.2, label="theory (seed mean)")
        right.plot(alpha[1:], local_exponent(alpha[1:], sim.mean(0)[1:]), "C0", lw=1, alpha=0.7, label="simulation")
        right.set(xscale="log", xlabel="alpha (steps / N)", ylabel="d ln eps_g / d ln alpha", ylim=(-4, 1))
        right.set_title("(b) local exponent", fontsize=9)
        right.legend(fontsize=7)
        gap = np.nanmax(np.abs(sim.mean(0)[1:] / mean[1:] - 1))
        lines = [
            f"K = M = {k}, L = N = {n}, eta = {eta:g}, sigma_J = {config['student']['init_std']:g}, "
            f"{sim.shape[0]} seeds; the isotropic plateau (T = I) has eps_g = {plateau:.5g}. Largest deviation of "
            f"the simulation's seed mean from the theory's: {100 * gap:.1f} %.",
            "",
            "| alpha | eps_g simulation (seed mean) | theory | local exponent (theory) |",
            "|---|---|---|---|",
        ]
        for a in (1.0, 10.0, 100.0, 1000.0, 10000.0):
            if a <= alpha[-1]:
                i = grid_index(alpha, a)
                lines.append(f"| {alpha[i]:.3g} | {sim.mean(0)[i]:.4g} | {mean[i]:.4g} | {slope[i - 1]:+.2f} |")
        full = load_config(configs_dir() / "p1_fig6.toml")
        estimate = estimate_memory(full)
        fk, fn = full["student"]["hidden"], full["data"]["input_dim"]
        lines += [
            "",
            f"The full version (K = M = {fk}, L = N = {fn}, {full['training']['seeds']} seeds): the block ODE holds "
            f"{fn * 2 * fk * fk / 1e6:.2f} M entries per seed; estimated peak memory {estimate.total / 2**30:.0f} GiB "
            "(`scalinglaws.experiment.estimate_memory`: "
            + ", ".join(f"{what} {size / 2**30:.1f} GiB" for _, what, size in estimate.parts)
            + "). It runs on a GPU machine; on a CPU it is refused.",
        ]
        return Drawn(figure, lines)
