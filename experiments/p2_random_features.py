"""Worschech & Rosenow (arXiv:2303.14083), online learning of random-feature models: the
reproduction figure and report.

Panels (conventions of `configs/p2_*.toml`; the paper's own could not be read, see
`shared/theory/rosenow.md` section 3):

(a) eps_g(alpha) for gamma = K / N = 0.5, 1, 2, 4 (`scalinglaws run p2_learning_curves`: erf,
    M = 2, N = 256, eta = 0.5, 8 seeds): simulation, the readout ODE per seed, and its stationary
    error (dotted).
(b) eps_g(infinity) against gamma (`p2_asymptotic`: N = 128, eta = 0.1, 8 seeds to alpha = 5000):
    the late simulation error, the finite-eta stationary error, the exact finite-N eta -> 0
    asymptote 1/2 [tau - b^T C^-1 b], the large-N Gaussian-equivalence curve and its floor
    1/2 M (1/3 - 1/pi).
(c) How K must grow with N: the exact eta -> 0 asymptote per teacher unit against K / N^3 for
    N = 4 ... 24 (orthonormal teacher, 4 seeds). Below the floor of the linear part, the curves
    collapse in K / N^3: the cubic Hermite part of the teacher is learnt only once K ~ N^3.
(d) The K at which the asymptote crosses two levels, against N: the linear part (K ∝ N) and the
    cubic part (K ∝ N^3), with fitted slopes.

Usage: `python experiments/p2_random_features.py [--quick]` (`--quick`: panels c, d only, no
simulations); runs are cached under `runs/p2/`; writes `experiments/results/p2_random_features.md`
and `.png`.
"""

import argparse
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.figure import Figure

import scalinglaws as sl
from scalinglaws import experiment
from scalinglaws.cli import configs_dir
from scalinglaws.theory import network_feature_statistics, rf_asymptotic_error, rf_asymptotic_error_large_n


RUNS = Path("runs/p2")
# Per teacher unit, erf(x / sqrt 2): E[g^2] = 1/3, mu_1^2 = 1/pi, mu_3^2 / 3! = 1 / (24 pi).
LINEAR_FLOOR = 0.5 * (1 / 3 - 1 / math.pi)
CUBIC_FLOOR = LINEAR_FLOOR - 0.5 / (24 * math.pi)


def run(name: str) -> tuple[dict, dict]:
    """The built-in config NAME, cached under `runs/p2/NAME`; its arrays and summary."""
    results = experiment.run(configs_dir() / f"{name}.toml", RUNS / name)
    return results.arrays, results.summary


def exact_asymptote(n: int, k: int, seed: int) -> float:
    """1/2 [tau - b^T C^-1 b] per teacher unit for K = k erf features and an orthonormal M = 2 teacher."""
    key_t, key_s = jr.split(jr.fold_in(jr.key(11), seed))
    teacher = sl.teacher_network(n, 2, sl.Erf(), init="orthonormal", dtype=jnp.float64, key=key_t)
    student = sl.random_feature_model(n, k, sl.Erf(), dtype=jnp.float64, key=key_s)
    return float(rf_asymptotic_error(*network_feature_statistics(student, teacher))) / 2


def crossing(k: np.ndarray, eps: np.ndarray, level: float) -> float:
    """The K at which eps(K) (decreasing) first falls below `level`, log-log interpolated; NaN if never."""
    below = np.flatnonzero(eps < level)
    if below.size == 0 or below[0] == 0:
        return math.nan
    i = below[0]
    x0, x1, y0, y1 = np.log(k[i - 1]), np.log(k[i]), np.log(eps[i - 1]), np.log(eps[i])
    return float(np.exp(x0 + (np.log(level) - y0) * (x1 - x0) / (y1 - y0)))


def growth_panels(ax_c, ax_d, lines: list[str]) -> None:
    start = time.perf_counter()
    sizes = [4, 6, 8, 12, 16, 24]
    seeds = 4
    linear_level = 1.5 * LINEAR_FLOOR
    cubic_level = 0.5 * (LINEAR_FLOOR + CUBIC_FLOOR)
    rows = []
    for i, n in enumerate(sizes):
        k = np.unique(np.rint(np.geomspace(1, min(4096, 2 * n**3), 20)).astype(int))
        eps = np.array([np.mean([exact_asymptote(n, int(kk), s) for s in range(seeds)]) for kk in k])
        ax_c.plot(k / n**3, eps, "o-", ms=3, color=f"C{i}", label=f"N = {n}")
        rows.append((n, crossing(k, eps, linear_level), crossing(k, eps, cubic_level), eps[-1], int(k[-1])))
    for level, name in ((LINEAR_FLOOR, "linear part learnt"), (CUBIC_FLOOR, "cubic part learnt")):
        ax_c.axhline(level, color="k", ls=":", lw=1)
        ax_c.text(2e-3, level * 1.08, name, fontsize=7)
    ax_c.set(
        xscale="log",
        yscale="log",
        xlabel="K / N^3",
        ylabel="eps_* per teacher unit (eta -> 0, exact)",
        title="(c) K ~ N^3 to learn the cubic part",
    )
    ax_c.legend(fontsize=7)
    n_arr = np.array([r[0] for r in rows], float)
    k_lin = np.array([r[1] for r in rows])
    k_cub = np.array([r[2] for r in rows])
    slopes = {}
    for values, name, color in ((k_lin, "linear", "C0"), (k_cub, "cubic", "C3")):
        ok = np.isfinite(values)
        ax_d.loglog(n_arr[ok], values[ok], "o-", color=color, label=f"K where eps_* crosses the {name} level")
        if ok.sum() >= 2:
            slopes[name] = float(np.polyfit(np.log(n_arr[ok]), np.log(values[ok]), 1)[0])
    ax_d.loglog(n_arr, n_arr**3 / 6, "k--", lw=1, label="N^3 / 6")
    ax_d.set(xlabel="N", ylabel="K", title="(d) features needed against N")
    ax_d.legend(fontsize=7)
    local = np.diff(np.log(k_cub)) / np.diff(np.log(n_arr))
    lines += [
        "## How K must grow with N (panels c, d)",
        "",
        "Exact eta -> 0 asymptote 1/2 [tau - b^T C^-1 b] per teacher unit (erf, orthonormal M = 2 teacher,",
        f"{seeds} seeds per point). Levels: linear = 1.5 x the linear floor 1/2 (1/3 - 1/pi) = {LINEAR_FLOOR:.5f};",
        f"cubic = halfway between it and the cubic floor {CUBIC_FLOOR:.5f}. {time.perf_counter() - start:.0f} s.",
        "",
        "| N | K at the linear level | K at the cubic level | K^(1/3) / N at the cubic level | "
        "eps_* at the largest K | largest K |",
        "|---|---|---|---|---|---|",
    ]
    for n, kl, kc, last, kmax in rows:
        lines.append(f"| {n} | {kl:.3g} | {kc:.4g} | {kc ** (1 / 3) / n:.3f} | {last:.5f} | {kmax} |")
    lines += [
        "",
        "Fitted slopes of log K against log N: "
        + ", ".join(f"{name} level {slope:.2f}" for name, slope in slopes.items())
        + " (expected 1 and 3: each Hermite order p of the teacher needs K ~ N^p features).",
        "Local slopes of the cubic level between successive N: "
        + ", ".join(f"{int(n_arr[i])}-{int(n_arr[i + 1])}: {local[i]:.2f}" for i in range(len(local)))
        + ".",
        "",
    ]


def main():
    sl.configure(cpu_devices="auto")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="panels c, d only (no simulations)")
    quick = parser.parse_args().quick
    out_dir = Path(__file__).parent / "results"
    lines = ["# Worschech & Rosenow (arXiv:2303.14083): online learning of random-feature models", ""]
    fig = Figure(figsize=(13, 9.5), layout="constrained")
    ax_a, ax_b, ax_c, ax_d = fig.subplots(2, 2).ravel()

    if not quick:
        arrays, summary = run("p2_learning_curves")
        alpha = arrays["alpha"]
        n = round(arrays["steps"][-1] / alpha[-1])
        shown = alpha > 0
        lines += [
            "## Learning curves (panel a: `p2_learning_curves`, erf, M = 2, N = 256, eta = 0.5, 8 seeds)",
            "",
            f"Simulation {summary['simulation_seconds']:.0f} s ({summary['seed_steps_per_second']:,} seed-steps/s), "
            f"theory {summary['theory_seconds']:.0f} s.",
            "",
            "| K | gamma | sim, final (seed mean) | ODE, final | stationary (finite eta) | eta -> 0 asymptote | "
            "max gap sim/ODE over alpha | eta_c |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for h, k in enumerate(arrays["hidden"]):
            sim, th = arrays["eps_g_sim"][h], arrays["eps_g_theory"][h]
            gap = np.max(np.abs(sim.mean(0) / th.mean(0) - 1))
            color = f"C{h}"
            ax_a.plot(alpha[shown], sim.mean(0)[shown], color=color, lw=1.6, label=f"simulation, gamma = {k / n:g}")
            ax_a.plot(alpha[shown], th.mean(0)[shown], color=color, ls="--", lw=1.3)
            ax_a.axhline(arrays["eps_g_stationary"][h].mean(), color=color, ls=":", lw=1)
            lines.append(
                f"| {k} | {k / n:g} | {sim[:, -1].mean():.5f} | {th[:, -1].mean():.5f} | "
                f"{arrays['eps_g_stationary'][h].mean():.5f} | {arrays['eps_g_asymptote'][h].mean():.5f} | "
                f"{gap:.3f} | {arrays['critical_learning_rate'][h].mean():.2f} |"
            )
        ax_a.set(
            xscale="log",
            yscale="log",
            xlabel="alpha",
            ylabel="eps_g",
            title="(a) eps_g(alpha): simulation, readout ODE (dashed), stationary (dotted)",
        )
        ax_a.legend(fontsize=7)
        lines.append("")

        arrays, summary = run("p2_asymptotic")
        alpha = arrays["alpha"]
        n = round(arrays["steps"][-1] / alpha[-1])
        gamma = arrays["hidden"] / n
        late = arrays["eps_g_sim"][:, :, alpha >= alpha[-1] / 2].mean(-1)  # (H, S)
        grid = np.geomspace(gamma.min() / 1.5, gamma.max() * 1.5, 60)
        large_n = np.asarray(rf_asymptotic_error_large_n(grid, sl.Erf(), 2))
        ax_b.errorbar(gamma, late.mean(1), yerr=late.std(1), fmt="o", color="C0", label="simulation, late alpha")
        ax_b.plot(
            gamma, arrays["eps_g_stationary"].mean(1), "s--", color="C1", mfc="none", label="stationary, eta = 0.1"
        )
        ax_b.plot(
            gamma, arrays["eps_g_asymptote"].mean(1), "^-", color="C2", mfc="none", label="exact eta -> 0, N = 128"
        )
        ax_b.plot(grid, large_n, "k-", lw=1, label="large N (Gaussian equivalence)")
        ax_b.axhline(2 * LINEAR_FLOOR, color="k", ls=":", lw=1, label="floor M (1/3 - 1/pi) / 2")
        ax_b.set(
            xscale="log", yscale="log", xlabel="gamma = K / N", ylabel="eps_g(infinity)", title="(b) asymptotic error"
        )
        ax_b.legend(fontsize=7)
        lines += [
            "## Asymptotic error against gamma (panel b: `p2_asymptotic`, N = 128, eta = 0.1, 8 seeds, alpha to "
            f"{alpha[-1]:g})",
            "",
            f"Simulation {summary['simulation_seconds']:.0f} s, theory {summary['theory_seconds']:.0f} s. "
            "Late = mean over alpha >= alpha_max / 2, then over seeds (± seed standard deviation).",
            "",
            "| gamma | simulation, late | stationary (eta = 0.1) | exact eta -> 0 (N = 128) | large N |",
            "|---|---|---|---|---|",
        ]
        large_at = np.asarray(rf_asymptotic_error_large_n(gamma, sl.Erf(), 2))
        for h, g in enumerate(gamma):
            lines.append(
                f"| {g:g} | {late[h].mean():.5f} ± {late[h].std():.5f} | {arrays['eps_g_stationary'][h].mean():.5f} | "
                f"{arrays['eps_g_asymptote'][h].mean():.5f} | {large_at[h]:.5f} |"
            )
        lines.append("")

    growth_panels(ax_c, ax_d, lines)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / "p2_random_features.png", dpi=110)
    (out_dir / "p2_random_features.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    main()
