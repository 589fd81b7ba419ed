"""Ren, Nichani, Wu & Lee (arXiv 2504.19983): the scaling laws of emergence, reduced to CPU scale.

(b) Loss against steps. P = 64 h_4 directions, m = 128, d = 512, eta = 0.05, 4 seeds, population
    gradient descent: the exponent of eps_g, fitted with `scalinglaws.fit` (a pure power law, 95 %
    intervals by a bootstrap over the seeds) on the window from the 4th to the 16th direction's
    greedy emergence step (p in [4, P/4]), against the same seeds' idealised staircase fitted on the
    same window and the asymptotic -(2 beta - 1)/beta, for beta = 0.8 (where finite P steepens the
    slope) and beta = 1.5 (where it is reached).
(c) Width and compute. beta = 0.8, P = 64, d = 256, m = 4 ... 128, 4 seeds (simulation and the
    d-independent theory, averaged over seeds): the final loss against m (the approximation barrier,
    asymptotically m^(1 - 2 beta)) and the compute-optimal frontier min_m eps_g(C / m) with C = m t,
    asymptotically C^((1 - 2 beta)/(1 + beta)) = C^-1/3, both fitted with `scalinglaws.fit` (the width
    law below P; the frontier on loss windows).
The paper's scale (d = 2048, P = 1024, m up to 2048) needs a GPU machine. eps_g = L / 2.

Usage: `python experiments/p4_scaling.py`; runs cached under `runs/p4/`; writes
`experiments/results/p4_scaling.{md,png}`.
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import scalinglaws as sl
from scalinglaws import experiment
from scalinglaws.cli import configs_dir
from scalinglaws.fit import fit_curve


RUNS = Path("runs/p4")
WIDTHS = (4, 6, 8, 12, 16, 24, 32, 64, 128)


def run(tag: str, *overrides: str) -> experiment.Results:
    return experiment.run(configs_dir() / "p4_emergence.toml", RUNS / tag, overrides=list(overrides))


def slope(x: np.ndarray, runs: np.ndarray, low: float, high: float) -> tuple[float, tuple[float, float] | None]:
    """The log-log slope of `runs` ((T,) or (S, T), their mean) against x on [low, high], fitted with
    `scalinglaws.fit` as a pure power law, and its 95 % interval (bootstrap over the seeds, or the
    loss curvature for one curve; None where the fit leaves it undetermined)."""
    fit = fit_curve(x, runs, "pure_power_law", window=(low, high))
    interval = fit.intervals["exponent"]
    return -fit.params["exponent"], None if interval is None else (-interval[1], -interval[0])


def shown(value: tuple[float, tuple[float, float] | None]) -> str:
    slope_, interval = value
    return f"{slope_:.3f}" + ("" if interval is None else f" [{interval[0]:.3f}, {interval[1]:.3f}]")


def time_law(beta: float) -> tuple[dict, experiment.Results]:
    res = run(
        f"time-beta{beta:g}",
        "data.input_dim=512",
        "student.init_std=" + repr(512**-0.5),
        "teacher.hidden=64",
        "student.hidden=128",
        f"teacher.second_layer_exponent={beta}",
        "training.alpha_max=60",
        "training.points_per_decade=60",
    )
    a = res.arrays
    steps = a["alpha"] * 512
    ordered = np.sort(a["emergence_step_theory"], axis=1)
    low, high = float(np.median(ordered[:, 3])), float(np.median(ordered[:, 15]))
    keep = steps > 0
    steps, sim, ideal = steps[keep], a["eps_g_sim"][:, keep], a["eps_g_staircase"][:, keep]
    measured = slope(steps, sim, low, high)
    staircase = slope(steps, ideal, low, high)
    per_seed = [slope(steps, sim[s], low, high)[0] - slope(steps, ideal[s], low, high)[0] for s in range(sim.shape[0])]
    return {
        "window": (low, high),
        "measured": measured,
        "staircase": staircase,
        "asymptotic": -(2 * beta - 1) / beta,
        "per_seed": per_seed,
    }, res


def main() -> None:
    sl.configure()
    figure = Figure(figsize=(14, 4.2), layout="constrained")
    left, middle, right = figure.subplots(1, 3)
    lines = [
        "# Ren, Nichani, Wu & Lee (arXiv 2504.19983): scaling laws of emergence at CPU scale",
        "",
        "`experiments/p4_scaling.py`, built on `configs/p4_emergence.toml` (h_4, a_p ∝ p^-beta with Σ a² = 1, "
        "sigma_0 = d^-1/2, eta = 0.05, population gradient descent). eps_g = L / 2; slopes are log-log "
        "fits of `scalinglaws.fit` (a pure power law, log space, Huber loss) on the stated windows, "
        "with 95 % intervals from a bootstrap over the 4 seeds.",
        "",
        "## (b) Loss against steps: P = 64, m = 128, d = 512, 4 seeds",
        "",
        "| beta | window (steps: p = 4 … 16 emerge) | slope, simulation [95 %] | slope, same-seed staircase [95 %] | "
        "per seed sim − staircase | asymptotic −(2β−1)/β |",
        "|---|---|---|---|---|---|",
    ]
    for j, beta in enumerate((0.8, 1.5)):
        law, res = time_law(beta)
        low, high = law["window"]
        spread = ", ".join(f"{x:+.3f}" for x in law["per_seed"])
        lines.append(
            f"| {beta:g} | {low:.0f} – {high:.0f} | {shown(law['measured'])} | {shown(law['staircase'])} | {spread} | "
            f"{law['asymptotic']:.3f} |"
        )
        steps = res.arrays["alpha"][1:] * 512
        left.loglog(steps, res.arrays["eps_g_sim"].mean(0)[1:], color=f"C{j}", label=f"beta = {beta:g}, simulation")
        left.loglog(steps, res.arrays["eps_g_staircase"].mean(0)[1:], color=f"C{j}", ls="--", label="staircase")
        left.axvspan(low, high, color=f"C{j}", alpha=0.08)
    left.set(xlabel="steps", ylabel="eps_g (seed mean)", title="(b) loss against steps", ylim=(1e-4, 1))
    left.legend(fontsize=8)

    sweep = run(
        "widths-d256",
        "teacher.hidden=64",
        f"student.hidden={list(WIDTHS)}",
        "training.alpha_max=120",
        "training.points_per_decade=40",
    )
    a = sweep.arrays
    steps = a["alpha"] * 256
    curves = a["eps_g_theory"].mean(1)  # (H, T): the seeds' mean
    final = curves[:, -1]
    below = [h for h, m in enumerate(WIDTHS) if 2 * m <= 64]  # widths below P: the approximation barrier
    widths = np.asarray(WIDTHS, np.float64)
    width_law = {
        kind: slope(widths[below], a[f"eps_g_{kind}"][below, :, -1].T, widths[below[0]], widths[below[-1]])
        for kind in ("theory", "sim")
    }
    lines += [
        "",
        "## (c) Width and compute: beta = 0.8, P = 64, d = 256, 4 seeds (theory; simulation within "
        f"{np.nanmax(np.abs(a['eps_g_sim'] - a['eps_g_theory'])):.1e})",
        "",
        "| m | " + " | ".join(str(m) for m in WIDTHS) + " |",
        "|---|" + "---|" * len(WIDTHS),
        f"| eps_g at {steps[-1]:.0f} steps | " + " | ".join(f"{x:.2e}" for x in final) + " |",
        "| directions emerged (seed mean) | "
        + " | ".join(f"{np.isfinite(a['emergence_step_sim'][h]).sum(-1).mean():.1f}" for h in range(len(WIDTHS)))
        + " |",
        "| Σ_{p>m} a_p² / 2 (the top m learned) | "
        + " | ".join(
            f"{0.5 * np.sum(np.arange(m + 1, 65) ** -1.6) / np.sum(np.arange(1, 65) ** -1.6):.2e}" for m in WIDTHS
        )
        + " |",
        "",
        f"Width law below P/2 (m = {WIDTHS[below[0]]} … {WIDTHS[below[-1]]}, the final loss of each seed): fitted "
        f"exponent {shown(width_law['theory'])} (theory), {shown(width_law['sim'])} (simulation), asymptotically "
        f"1 − 2β = {1 - 2 * 0.8:.1f}. Local exponents d log eps_g / d log m: "
        + ", ".join(
            f"{WIDTHS[h]}→{WIDTHS[h + 1]}: {np.log(final[h + 1] / final[h]) / np.log(widths[h + 1] / widths[h]):.2f}"
            for h in below
        )
        + "; at m ≥ P every direction is learned and the loss falls on.",
    ]
    compute = np.geomspace(10 * WIDTHS[0], WIDTHS[-1] * steps[-1], 200)

    def interpolated(curve_of_width):  # (H, C): each width's loss at compute C, t = C / m
        return np.stack(
            [
                np.interp(np.log(compute / m), np.log(np.maximum(steps, 1)), curve_of_width[h])
                for h, m in enumerate(WIDTHS)
            ]
        )

    grid = interpolated(curves)
    frontier = grid.min(0)
    best = np.asarray(WIDTHS)[grid.argmin(0)]
    per_seed = np.stack([interpolated(a["eps_g_theory"][:, s]).min(0) for s in range(a["eps_g_theory"].shape[1])])
    for h, m in enumerate(WIDTHS):
        middle.loglog(steps[1:], curves[h, 1:], label=f"m = {m}")
        right.loglog(m * steps[1:], curves[h, 1:], lw=0.8)
    right.loglog(compute, frontier, color="black", lw=2, label="frontier")
    middle.set(
        xlabel="steps", ylabel="eps_g (theory, seed mean)", title="(c) beta = 0.8, P = 64: widths", ylim=(1e-3, 1)
    )
    middle.legend(fontsize=8)
    right.set(xlabel="compute C = m · steps", ylabel="eps_g", title="compute-optimal frontier", ylim=(1e-3, 1))
    right.legend(fontsize=8)
    rows = []
    for top, bottom in ((0.25, 0.05), (0.1, 0.015)):
        inside = np.flatnonzero((per_seed.mean(0) <= top) & (per_seed.mean(0) >= bottom))
        window = compute[inside[0]], compute[inside[-1]]
        fitted = shown(slope(compute, per_seed, *window))
        rows.append(f"eps_g ∈ [{bottom:g}, {top:g}] (C = {window[0]:.1e} … {window[1]:.1e}): {fitted}")
    lines += [
        "",
        "Compute-optimal frontier slopes (the seed mean of each seed's frontier, fitted): "
        + "; ".join(rows)
        + f" (asymptotically (1 − 2β)/(1 + β) = {(1 - 1.6) / 1.8:.3f}); "
        "the optimal width along it: "
        + ", ".join(f"C = {c:.1e}: m = {m}" for c, m in zip(compute[::40], best[::40], strict=True))
        + ".",
    ]
    print(experiment.write_report(Path(__file__).parent / "results" / "p4_scaling.md", lines, figure))


if __name__ == "__main__":
    main()
