"""The DMFT of Kramp, Lindner & Helias (arXiv 2602.23039) by its two independent routes: the
Laplace route every run uses (scalar self-consistency, Talbot inversion, no time grid) against the
time-domain route (responses by a Volterra step, two-time correlations by fixed-point iteration on
a uniform grid, presumably what the paper did at its theory step dt = 10^-2).

(A) The paper's Fig. 3 setting: N = P = 100, Lambda_ii = i^-3/2, summed loss, beta = 10 (T = 0.1),
    kappa = 10^-3, isotropic teacher, t <= 20, at h = 0.02 and the paper's 0.01, and Richardson's
    extrapolation (4 e_h - e_2h) / 3 of the two, which removes the O(h^2) error.
(B) An anisotropic teacher wbar_i ~ N(0, i^-1/2) under gradient flow, t <= 5, h = 0.01 and 0.005: the
    Laplace route needs a double inversion there, the time-domain route treats every teacher alike.

Usage: `python experiments/p5_dmft_routes.py`; writes `experiments/results/p5_dmft_routes.md`.
"""

import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import scalinglaws as sl
from scalinglaws import experiment
from scalinglaws._full_batch import KernelProblem
from scalinglaws.theory import dmft_curves, dmft_time_domain


NAMES = ("eps_g", "bias", "variance", "train_error")


def compare(problem: KernelProblem, time_max: float, steps: tuple[int, int], picks: tuple[float, ...]) -> list[str]:
    """Table rows: per time, each curve's Laplace value and the time-domain route's relative gap at
    the coarse and the fine step and extrapolated; then the solves' costs."""
    runs, costs = {}, []
    for n in steps:
        start = time.perf_counter()
        runs[n] = dmft_time_domain(problem, time_max, n)
        costs.append(f"h = {time_max / n:g}: {runs[n]['sweeps']} sweeps, {time.perf_counter() - start:.1f} s")
    coarse, fine = (runs[n] for n in steps)
    index = [int(round(t / time_max * steps[1])) for t in picks]
    times = fine["time"][index]
    start = time.perf_counter()
    laplace = {name: np.asarray(x) for name, x in dmft_curves(problem, times).items()}
    costs.append(f"Laplace route: {time.perf_counter() - start:.2f} s (compilation included)")
    names = [name for name in NAMES if name != "variance" or problem.temperature > 0]
    lines = [
        "| t | " + " | ".join(f"{name} Laplace | gap h, 2h, extrap." for name in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    for j, t in enumerate(times):
        cells = []
        for name in names:
            gap_fine = fine[name][index[j]] / laplace[name][j] - 1
            gap_coarse = coarse[name][index[j] // 2] / laplace[name][j] - 1
            extrapolated = (4 * gap_fine - gap_coarse) / 3
            gaps = f"{100 * gap_fine:+.3f} %, {100 * gap_coarse:+.3f} %, {100 * extrapolated:+.4f} %"
            cells.append(f"{laplace[name][j]:.6f} | {gaps}")
        lines.append(f"| {t:g} | " + " | ".join(cells) + " |")
    return [*lines, "", "Cost (2 CPU cores): " + "; ".join(costs) + "."]


def main() -> None:
    sl.configure()
    lam = jnp.arange(1, 101, dtype=jnp.float64) ** -1.5
    langevin = KernelProblem(lam, 100, 1.0, 1e-3, 0.1)
    anisotropic = KernelProblem(lam, 100, 1.0, 0.0, 0.0, jnp.arange(1, 101, dtype=jnp.float64) ** -0.5)
    lines = [
        "# The DMFT's two routes (Kramp, Lindner & Helias, arXiv 2602.23039)",
        "",
        "`experiments/p5_dmft_routes.py`. The Laplace route (`dmft_curves`) against the time-domain route "
        "(`dmft_time_domain`): they share no numerics. Gap = time-domain / Laplace - 1 at the fine step h, "
        "at 2h, and Richardson's extrapolation (4 gap_h - gap_2h) / 3. eps_g = 1/2 E(x . (w - wbar))^2; "
        "the training error is per sample, 1/2 C_r(t, t).",
        "",
        "## (A) Fig. 3 setting: N = P = 100, beta = 10, kappa = 10^-3, t <= 20",
        "",
        *compare(langevin, 20.0, (1000, 2000), (0.1, 0.5, 2.5, 10.0, 20.0)),
        "",
        "## (B) Anisotropic teacher s_i^2 = i^-1/2, gradient flow, t <= 5",
        "",
        *compare(anisotropic, 5.0, (500, 1000), (0.05, 0.5, 2.5, 5.0)),
    ]
    print(experiment.write_report(Path(__file__).parent / "results" / "p5_dmft_routes.md", lines))


if __name__ == "__main__":
    main()
