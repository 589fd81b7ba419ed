"""Worschech & Rosenow, arXiv 2410.09005 (power-law data spectra): the multi-panel reproduction.

Panels (conventions of `configs/p1_*.toml`; the paper's own could not be read, see
`shared/theory/rosenow.md` PDF-CHECK 1-9):

(a) Figure 1: erf K = M = 2, eta = 0.1, beta = 1, sigma_J = 0.01, N = 1024, L = 1 ... 256
    (`scalinglaws run p1_fig1`: 8 seeds per L in one sweep, theory per seed).
(b) Plateau length against L for three learning rates: measured on the eigen-block ODE (teacher
    with equal blocks, weights drawn at N = 1024, sigma_J = 0.01) and predicted as
    ln(1 / S_0) / mu, with mu the escape rate of the ODE linearised at its symmetric fixed point.
(c) Specialised phase: local exponents d ln eps_g / d ln alpha of the erf ODE (L = 1024) for
    beta = 0.5, 1, 2 against -beta / (1 + beta), and the decoupled-mode curve
    sum_l lambda_l exp(-2 mu_slow lambda_l alpha) (mu_slow: slowest rate at the teacher, L = 1).
(d) Linear activation: learning curves for beta = 0.5, 1, 2 (`p1_linear`, simulation and exact
    theory) with the power-law regime (`theory.linear_power_law`) drawn.
(e) Parameter scaling law: a linear student reading the L_s leading of 256 blocks
    (`p1_parameter_scaling`), final eps_g against P = K N L_s / L, with the floor
    1/2 sum_{l > L_s} lambda_l e_l(0) ∝ P^-beta.

Usage: `python experiments/p1_figures.py [--quick]` (`--quick`: panels b, c only, no simulations);
runs are cached under `runs/p1/`; writes `experiments/results/p1_figures.md` and `.png`.
"""

import argparse
import time
from pathlib import Path

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.figure import Figure

import scalinglaws as sl
from scalinglaws import experiment
from scalinglaws.cli import configs_dir
from scalinglaws.theory import (
    BlockArgs,
    BlockState,
    EigenBlockODE,
    Rodas4,
    SCMArgs,
    SCMState,
    SoftCommitteeODE,
    check_solution,
    linear_block_errors,
    linear_parameter_floor,
    linear_power_law,
    linearise,
    local_exponent,
    plateau_interval,
    predicted_plateau_length,
    solve_soft_committee,
    symmetric_fixed_point,
)


RUNS = Path("runs/p1")
N, K = 1024, 2


def run(name: str, tag: str = "", *overrides: str) -> tuple[dict, dict]:
    """The built-in config NAME with `overrides` into `runs/p1/NAME[-tag]` (cached); its arrays and summary."""
    out = RUNS / (f"{name}-{tag}" if tag else name)
    results = experiment.run(configs_dir() / f"{name}.toml", out, overrides=overrides)
    return results.arrays, results.summary


def block_problem(blocks: int, eta: float, beta: float = 1.0, teacher_init: str = "gaussian", init_std: float = 0.01):
    data = sl.power_law(N, beta, blocks)
    key_t, key_s = jr.split(jr.key(0))
    teacher = sl.teacher_network(N, K, sl.Erf(), init=teacher_init, blocks=blocks, dtype=jnp.float64, key=key_t)
    student = sl.student_network(N, K, sl.Erf(), init_std=init_std, dtype=jnp.float64, key=key_s)
    w, b = student.first, teacher.first
    ode = EigenBlockODE(sl.Erf(), K, K)
    args = BlockArgs(
        jnp.asarray(eta), jnp.asarray(0.0), data.block_overlaps(b, b), data.eigenvalues, jnp.ones(K), jnp.asarray(0.0)
    )
    return ode, args, BlockState(data.block_overlaps(w, w), data.block_overlaps(w, b), jnp.ones(K))


def solve(ode, state, args, alpha):
    solution, eps = solve_soft_committee(
        ode, state, args, jnp.asarray(alpha), rtol=1e-10, atol=1e-14, max_steps=2_000_000, solver=Rodas4(ode.factorise)
    )
    check_solution(solution)
    return np.asarray(eps)


def plateau_lengths(lines: list[str]):
    """Panel (b): measured and predicted plateau lengths."""
    blocks_list, rates = [1, 2, 4, 8, 16, 32, 64], [0.05, 0.1, 0.2]
    alpha = np.concatenate([[0.0], np.logspace(-1, 4.7, 500)])
    table = {}
    lines += [
        "## (b) Plateau length against L",
        "",
        "Eigen-block ODE, erf K = M = 2, beta = 1, teacher with equal blocks (`block_orthonormal`), weights",
        "drawn at N = 1024 with sigma_J = 0.01. Measured: from eps_g <= 1.1 x plateau to eps_g < plateau / 2",
        "(`plateau_interval`); predicted: ln(1 / S_0) / mu (`predicted_plateau_length`). mu / lambda_1 is the",
        "escape rate per unit top eigenvalue.",
        "",
        "A plateau is flat when the local exponent |d ln eps_g / d ln alpha| drops below 0.05 inside the interval;",
        "without a flat part the interval is only the passage through the plateau height.",
        "",
        "| L | eta | mu | mu / lambda_1 | start | measured length | predicted | error | flat |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for eta in rates:
        for blocks in blocks_list:
            ode, args, state = block_problem(blocks, eta, teacher_init="block_orthonormal")
            fixed = symmetric_fixed_point(ode, args)
            mu = linearise(ode, fixed, args).escape_rate
            eps = solve(ode, state, args, alpha)
            start, escape = plateau_interval(alpha, eps, float(ode.generalisation_error(fixed, args)))
            rbar = np.einsum("l,lkn->kn", np.asarray(args.eigenvalues), np.asarray(state.r))
            predicted = predicted_plateau_length(ode, args, rbar)
            measured = escape - start
            inside = (alpha >= start) & (alpha <= escape)
            flat = (
                bool(inside.any())
                and float(np.min(np.abs(local_exponent(alpha[1:], np.maximum(eps[1:], 1e-300))[inside[1:]]))) < 0.05
            )
            table[eta, blocks] = (measured if flat else np.nan, predicted)
            shown = f"{measured:.0f}" if np.isfinite(measured) else "none"
            error = f"{measured / predicted - 1:+.1%}" if np.isfinite(measured) else "–"
            lam1 = float(args.eigenvalues[0])
            cells = [
                str(blocks),
                f"{eta:g}",
                f"{mu:.4g}",
                f"{mu / lam1:.4g}",
                f"{start:.0f}",
                shown,
                f"{predicted:.0f}",
            ]
            lines.append("| " + " | ".join([*cells, error, "yes" if flat else "no"]) + " |")
    lines.append("")
    return blocks_list, rates, table


def specialised_exponents(lines: list[str]):
    """Panel (c): local exponents in the specialised phase for several beta."""
    iso = SoftCommitteeODE(sl.Erf(), K, K)
    iso_args = SCMArgs(jnp.asarray(0.1), jnp.asarray(0.0), jnp.eye(K), jnp.ones(K), jnp.asarray(0.0))
    mu_slow = linearise(iso, SCMState(jnp.eye(K), jnp.eye(K), jnp.ones(K)), iso_args).slowest_rate
    alpha = np.logspace(0, 6, 121)
    curves = {}
    lines += [
        "## (c) Specialised phase: local exponents",
        "",
        "Eigen-block ODE, erf K = M = 2, eta = 0.1, L = N = 1024, Gaussian teacher, sigma_J = 0.01.",
        f"Decoupled-mode prediction: every block relaxes at 2 mu_slow lambda_l, mu_slow = {mu_slow:.5f} (slowest",
        "rate of the isotropic ODE linearised at the teacher), so eps_g ∝ sum_l lambda_l exp(-2 mu_slow lambda_l",
        "alpha): the exponent",
        "-beta/(1+beta) inside 1 << mu_slow lambda_1 alpha << L^(1+beta), an exponential cut-off after it.",
        "",
        "| beta | -beta/(1+beta) | ODE local exponent at alpha = 1e2, 1e3, 1e4, 1e5 | decoupled prediction |",
        "|---|---|---|---|",
    ]
    for beta in (0.5, 1.0, 2.0):
        ode, args, state = block_problem(N, 0.1, beta)
        eps = solve(ode, state, args, np.concatenate([[0.0], alpha]))[1:]
        measured = local_exponent(alpha, np.maximum(eps, 1e-300))
        lam = np.asarray(args.eigenvalues)
        predicted = local_exponent(alpha, (lam[None] * np.exp(-2 * mu_slow * lam[None] * alpha[:, None])).sum(1))
        curves[beta] = (measured, predicted, eps)
        at = [np.argmin(np.abs(alpha - a)) for a in (1e2, 1e3, 1e4, 1e5)]
        lines.append(
            f"| {beta:g} | {-beta / (1 + beta):.3f} | {', '.join(f'{measured[i]:.2f}' for i in at)} | "
            f"{', '.join(f'{predicted[i]:.2f}' for i in at)} |"
        )
    lines.append("")
    return alpha, curves


def main():
    sl.configure(cpu_devices="auto")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="theory panels (b, c) only")
    quick = parser.parse_args().quick
    out_dir = Path(__file__).parent / "results"
    lines = ["# Worschech & Rosenow (arXiv 2410.09005): power-law data spectra", ""]
    fig = Figure(figsize=(16, 9.5), layout="constrained")
    axes = fig.subplots(2, 3).ravel()

    if not quick:
        start = time.perf_counter()
        fig1, summary = run("p1_fig1")
        lines += [
            "## (a) Figure 1",
            "",
            f"`scalinglaws run p1_fig1` on this machine ({summary['device']}): simulation "
            f"{summary.get('simulation_seconds', 0):.0f} s ({summary.get('seed_steps_per_second', 0) / 1e3:.0f}k "
            f"seed-steps/s over 9 L x 8 seeds), theory {summary.get('theory_seconds', 0):.0f} s, wall "
            f"{summary['wall_seconds']:.0f} s ({'cached run' if time.perf_counter() - start < 5 else 'run now'}).",
            "",
            "| L | eps_g at alpha = 100 (sim / theory) | at alpha = 1000 | at alpha = 2000 |",
            "|---|---|---|---|",
        ]
        alpha = fig1["alpha"]
        for h, blocks in enumerate(fig1["distinct_eigenvalues"]):
            color = f"C{h}"
            sim, th = fig1["eps_g_sim"][h].mean(0), fig1["eps_g_theory"][h].mean(0)
            axes[0].plot(alpha[1:], sim[1:], color=color, lw=1.4, label=f"L = {blocks}")
            axes[0].plot(alpha[1:], th[1:], color=color, lw=1.0, ls="--")
            at = [np.argmin(np.abs(alpha - a)) for a in (100, 1000, 2000)]
            lines.append(f"| {blocks} | " + " | ".join(f"{sim[i]:.3g} / {th[i]:.3g}" for i in at) + " |")
        lines.append("")
        axes[0].set(
            xscale="log", yscale="log", xlabel=r"$\alpha$", ylabel=r"$\epsilon_g$", title="(a) Fig. 1: erf, K = M = 2"
        )
        axes[0].legend(fontsize=7, ncol=2)

    blocks_list, rates, table = plateau_lengths(lines)
    for i, eta in enumerate(rates):
        measured = np.asarray([table[eta, b][0] for b in blocks_list])
        predicted = np.asarray([table[eta, b][1] for b in blocks_list])
        axes[1].plot(blocks_list, measured, "o", color=f"C{i}", label=f"measured, eta = {eta:g}")
        axes[1].plot(blocks_list, predicted, "-", color=f"C{i}", lw=1, label=f"ln(1/S_0)/mu, eta = {eta:g}")
    axes[1].set(
        xscale="log", yscale="log", xlabel="L", ylabel="plateau length", title="(b) plateau length (absent: vanished)"
    )
    axes[1].legend(fontsize=7)

    alpha_c, curves = specialised_exponents(lines)
    for i, (beta, (measured, predicted, _)) in enumerate(curves.items()):
        axes[2].plot(alpha_c, measured, color=f"C{i}", label=f"ODE, beta = {beta:g}")
        axes[2].plot(alpha_c, predicted, color=f"C{i}", ls=":", lw=1)
        axes[2].axhline(-beta / (1 + beta), color=f"C{i}", ls="--", lw=0.8)
    axes[2].set(xscale="log", ylim=(-3, 0), xlabel=r"$\alpha$", ylabel=r"d ln $\epsilon_g$ / d ln $\alpha$")
    axes[2].set_title("(c) specialised phase, L = 1024 (dotted: decoupled modes)")
    axes[2].legend(fontsize=7)

    if not quick:
        lines += [
            "## (d) Linear activation",
            "",
            "`p1_linear` (L = N = 1024, eta = 0.1, 4 seeds) for three beta. Slope: least-squares fit of the seed-mean",
            "curves over the power-law window 10 <= 2 K eta lambda_1 alpha <= L^(1+beta) / 100 (alpha <= 1000);",
            "gap: largest |simulation / theory - 1| in that window.",
            "",
            "| beta | alpha window | -beta/(1+beta) | fitted slope (simulation) | fitted slope (theory) | gap |",
            "|---|---|---|---|---|---|",
        ]
        for i, beta in enumerate((0.5, 1.0, 2.0)):
            arrays, _ = run("p1_linear", f"beta{beta:g}", f"data.exponent={beta}")
            alpha = arrays["alpha"]
            sim, th = arrays["eps_g_sim"].mean(0), arrays["eps_g_theory"].mean(0)
            e0 = np.mean(
                [
                    np.asarray(linear_block_errors(q, r, t, np.ones(K), np.ones(K)))
                    for q, r, t in zip(
                        arrays["Q_blocks_sim"][:, 0], arrays["R_blocks_sim"][:, 0], arrays["T_blocks_sim"]
                    )
                ],
                axis=0,
            )
            law = np.asarray(linear_power_law(alpha[1:], arrays["eigenvalues"], float(e0.mean()), K, 0.1, beta))
            rate = 2 * K * 0.1 * float(arrays["eigenvalues"][0])
            window = (rate * alpha >= 10) & (rate * alpha <= arrays["eigenvalues"].size ** (1 + beta) / 100)
            fit_sim = np.polyfit(np.log(alpha[window]), np.log(sim[window]), 1)[0]
            fit_th = np.polyfit(np.log(alpha[window]), np.log(th[window]), 1)[0]
            gap = np.max(np.abs(sim[window] / th[window] - 1))
            span = f"[{alpha[window][0]:.2g}, {alpha[window][-1]:.2g}]"
            lines.append(f"| {beta:g} | {span} | {-beta / (1 + beta):.3f} | {fit_sim:.3f} | {fit_th:.3f} | {gap:.1%} |")
            axes[3].plot(alpha[1:], sim[1:], color=f"C{i}", label=f"simulation, beta = {beta:g}")
            axes[3].plot(alpha[1:], th[1:], color=f"C{i}", ls="--", lw=1)
            axes[3].plot(alpha[1:], law, color=f"C{i}", ls=":", lw=1)
        lines.append("")
        axes[3].set(xscale="log", yscale="log", xlabel=r"$\alpha$", ylabel=r"$\epsilon_g$")
        axes[3].set_title("(d) linear: exact (dashed), power law (dotted)")
        axes[3].legend(fontsize=7)

        kept = [4, 8, 16, 32, 64]
        finals, floors, params = [], [], []
        for visible in kept:
            arrays, _ = run("p1_parameter_scaling", f"ls{visible}", f"student.visible_blocks={visible}")
            e0 = np.asarray(
                linear_block_errors(
                    arrays["Q_blocks_sim"][0, 0],
                    arrays["R_blocks_sim"][0, 0],
                    arrays["T_blocks_sim"][0],
                    np.ones(K),
                    np.ones(K),
                )
            )
            finals.append((arrays["eps_g_sim"][:, -1].mean(), arrays["eps_g_theory"][:, -1].mean()))
            floors.append(float(linear_parameter_floor(arrays["eigenvalues"], e0, visible)))
            params.append(K * N * visible // 256)
        finals = np.asarray(finals)
        slope = np.polyfit(np.log(params), np.log(finals[:, 0]), 1)[0]
        lines += [
            "## (e) Parameter scaling law",
            "",
            "`p1_parameter_scaling`: linear K = M = 2, N = 1024, L = 256, beta = 1, eta = 0.1, alpha = 1000,",
            "2 seeds; the student reads the L_s leading blocks, P = K N L_s / L. Fitted slope of the final eps_g",
            f"against P: {slope:.3f} (prediction -beta = -1 for L_s << L).",
            "",
            "| L_s | P | eps_g(1000) simulation | theory | floor 1/2 sum_{l > L_s} lambda_l e_l(0) |",
            "|---|---|---|---|---|",
        ]
        for visible, p, (sim, th), floor in zip(kept, params, finals, floors):
            lines.append(f"| {visible} | {p} | {sim:.4g} | {th:.4g} | {floor:.4g} |")
        lines.append("")
        axes[4].plot(params, finals[:, 0], "o", label="simulation")
        axes[4].plot(params, finals[:, 1], "x", label="theory (ODE)")
        axes[4].plot(params, floors, "-", lw=1, label=r"floor, $\propto P^{-\beta}$")
        axes[4].set(xscale="log", yscale="log", xlabel="P = K N L_s / L", ylabel=r"$\epsilon_g(\alpha = 1000)$")
        axes[4].set_title(f"(e) parameter scaling law, slope {slope:.2f}")
        axes[4].legend(fontsize=7)
    axes[5].set_axis_off()

    out_dir.mkdir(exist_ok=True)
    suffix = "_quick" if quick else ""
    (out_dir / f"p1_figures{suffix}.md").write_text("\n".join(lines))
    fig.savefig(out_dir / f"p1_figures{suffix}.png", dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
