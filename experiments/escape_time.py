"""The plateau escape time of online SGD against N, up to N = 10^6, with the exact reduced simulation.

Erf soft committee machine, K = M = 2, summed outputs, an orthonormal teacher (T = I exactly, so
the symmetric plateau exists), student rows N(0, sigma_0^2) with sigma_0 = 1e-3, eta = 0.5. A run
escapes when eps_g first falls below half the plateau's eps_g (the symmetric fixed point of the
Saad-Solla ODE), interpolated in log alpha between recorded points.

From small weights every student vector grows along the same direction and the run reaches the
plateau, whose symmetric state is unstable at the rate mu (`theory.escape_rate`). What breaks
the symmetry has size of order 1/sqrt(N) (the initial overlaps with the teacher, and SGD's noise),
so the escape time grows as ln(N) / (2 mu) plus a constant: the ODE's ln N prediction. Measured:

- the distribution of the escape time over seeds for N = 10^2 ... 10^6 (the reduced chain, whose
  cost per step does not depend on N: the full simulation at N = 10^6 would take weeks here);
- the ODE solved from each seed's own initial overlaps (the part that the initial conditions
  explain: no SGD noise);
- the fitted slope of the mean escape time against ln N, against 1/(2 mu).

Usage: `python experiments/escape_time.py [--quick]`; writes `experiments/results/escape_time.md`
and `.png`. On 2 CPU cores N up to 10^5 (`--max-n 1e5`) takes about 8 minutes and N = 10^6 (8 seeds of
6 x 10^8 steps each) 23 minutes more; `--quick` (N up to 10^4) 2 minutes.
"""

import argparse
import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.figure import Figure

import scalinglaws as sl
from scalinglaws.experiment import write_report
from scalinglaws.simulate import initial_networks, simulate
from scalinglaws.theory import (
    SCMArgs,
    SCMState,
    SoftCommitteeODE,
    check_solution,
    escape_rate,
    solve_soft_committee,
    symmetric_fixed_point,
)


K = M = 2
ETA, SIGMA = 0.5, 1e-3
FULL = {100: 512, 1_000: 256, 10_000: 128, 100_000: 32, 1_000_000: 8}  # N: seeds
QUICK = {100: 128, 1_000: 64, 10_000: 32}
ODE_SEEDS = 32  # seeds whose own ODE is solved at every N
MAX_STEPS = 2**31 - 1


def factories(n: int):
    g = sl.Erf()
    teacher = functools.partial(sl.teacher_network, n, M, g, init="orthonormal")
    student = functools.partial(sl.student_network, n, K, g, init_std=SIGMA)
    return (lambda key: teacher(key=key)), (lambda key: student(key=key))


def escape_alpha(alpha: np.ndarray, eps: np.ndarray, level: float) -> np.ndarray:
    """The first alpha at which eps (..., T) falls below `level`, interpolated in log alpha between
    recorded points (after the plateau is reached); NaN where it never does."""
    below = eps < level
    reached = np.argmax(below, axis=-1)
    out = np.full(eps.shape[:-1], np.nan)
    for index in np.ndindex(*eps.shape[:-1]):
        i = reached[index]
        if not below[index][i] or i == 0:
            continue
        e0, e1 = np.log(eps[index][i - 1]), np.log(eps[index][i])
        a0, a1 = np.log(alpha[i - 1]), np.log(alpha[i])
        out[index] = np.exp(a0 + (np.log(level) - e0) * (a1 - a0) / (e1 - e0))
    return out


def plateau() -> tuple[float, float]:
    """(eps_g at the symmetric fixed point, escape rate mu there)."""
    ode = SoftCommitteeODE(sl.Erf(), K, M)
    args = SCMArgs(jnp.asarray(ETA), jnp.asarray(0.0), jnp.eye(M), jnp.ones(M), jnp.asarray(0.0))
    fixed = symmetric_fixed_point(ode, args)
    return float(ode.generalisation_error(fixed, args)), escape_rate(ode, fixed, args)


def ode_escapes(n: int, seeds: int, alpha: np.ndarray, level: float) -> np.ndarray:
    """The escape alpha of the ODE solved from each of the first `seeds` seeds' initial overlaps."""
    teachers, students, _ = initial_networks(*factories(n), seeds, key=jr.key(0))
    w, b = students.first.astype(jnp.float64), teachers.first.astype(jnp.float64)
    q, r, t = (jnp.einsum("skn,sln->skl", x, y) / n for x, y in ((w, w), (w, b), (b, b)))
    state = SCMState(q, r, students.second.astype(jnp.float64))
    args = jax.vmap(lambda t_: SCMArgs(jnp.asarray(ETA), jnp.asarray(0.0), t_, jnp.ones(M), jnp.asarray(0.0)))(t)
    ode = SoftCommitteeODE(sl.Erf(), K, M)
    solve = functools.partial(solve_soft_committee, ode, rtol=1e-11, atol=1e-16, max_steps=4_000_000)
    solution, eps = jax.vmap(lambda s, a: solve(s, a, jnp.asarray(alpha)))(state, args)
    check_solution(solution)
    return escape_alpha(alpha, np.asarray(eps), level)


def main():
    sl.configure(cpu_devices="auto")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N up to 10^4, fewer seeds")
    parser.add_argument("--max-n", type=float, default=1e6, help="the largest N (default 10^6)")
    cli = parser.parse_args()
    sizes = {n: seeds for n, seeds in (QUICK if cli.quick else FULL).items() if n <= cli.max_n}
    level_eps, mu = plateau()
    level = level_eps / 2
    rows, alpha_max = [], 1500.0
    for n, seeds in sizes.items():
        alpha_max = min(alpha_max, MAX_STEPS / n)
        start = time.perf_counter()
        sim = simulate(
            sl.isotropic(n),
            *factories(n),
            learning_rates=ETA,
            seeds=seeds,
            alpha_max=alpha_max,
            points_per_decade=60,
            alpha_min=1.0,
            method="reduced",
            key=jr.key(0),
        )
        seconds = time.perf_counter() - start
        sim_escape = escape_alpha(sim.alpha, sim.eps_g[0], level)
        theory_alpha = np.concatenate([[0.0], np.geomspace(1.0, alpha_max, 600)])
        ode_escape = ode_escapes(n, min(ODE_SEEDS, seeds), theory_alpha, level)
        rows.append((n, seeds, sim_escape, ode_escape, alpha_max, seconds, seeds * sim.steps[-1] / sim.run_seconds))
        print(n, np.nanmean(sim_escape), np.nanstd(sim_escape), np.nanmean(ode_escape), seconds, flush=True)
        # The next N's horizon: the largest escape so far, moved by the predicted ln N shift, with room.
        alpha_max = 1.3 * (np.nanmax(sim_escape) + np.log(10) / (2 * mu))
    write(rows, level_eps, mu, " --quick" * cli.quick + (f" --max-n {cli.max_n:g}" if cli.max_n < 1e6 else ""))


def _slope(ns, values) -> tuple[float, float]:
    """Least-squares slope of values against ln N, and its standard error."""
    x = np.log(np.asarray(ns, float))
    coef, cov = np.polyfit(x, values, 1, cov=True) if len(x) > 2 else (np.polyfit(x, values, 1), np.zeros((2, 2)))
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


def write(rows, level_eps: float, mu: float, flags: str) -> None:
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    ns = [row[0] for row in rows]
    sim_mean = [float(np.nanmean(row[2])) for row in rows]
    ode_mean = [float(np.nanmean(row[3])) for row in rows]
    sim_slope, sim_error = _slope(ns, sim_mean)
    ode_slope, ode_error = _slope(ns, ode_mean)
    lines = [
        "# Plateau escape time against N (erf SCM, K = M = 2, eta = 0.5, sigma_0 = 1e-3)",
        "",
        f"Made {time.strftime('%Y-%m-%d')} by `python experiments/escape_time.py{flags}` "
        f"on {jax.device_count()} x {jax.devices()[0].platform}, with the exact reduced simulation "
        '(`training.method = "reduced"`).',
        "",
        f"Plateau: eps_g = {level_eps:.6f} at the symmetric fixed point; a run escapes when eps_g < "
        f"{level_eps / 2:.6f}. Escape rate there mu = {mu:.5f}, so the ODE's ln N law has slope "
        f"1 / (2 mu) = {1 / (2 * mu):.1f}.",
        "",
        "| N | seeds | escape alpha: mean ± std (simulation) | 10 % / 50 % / 90 % | not escaped "
        "| ODE from each seed's start (first seeds): mean ± std | horizon alpha | wall (s) | seed-steps/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, seeds, sim_escape, ode_escape, horizon, seconds, speed in rows:
        q10, q50, q90 = np.nanpercentile(sim_escape, [10, 50, 90])
        missing = int(np.sum(np.isnan(sim_escape)))
        ode = f"{np.nanmean(ode_escape):.1f} ± {np.nanstd(ode_escape):.1f} ({ode_escape.size})"
        lines.append(
            f"| {n:,} | {seeds} | {np.nanmean(sim_escape):.1f} ± {np.nanstd(sim_escape):.1f} | {q10:.0f} / {q50:.0f} / "
            f"{q90:.0f} | {missing} | {ode} | {horizon:.0f} | {seconds:.0f} | {speed:,.0f} |"
        )
    lines += [
        "",
        f"- Mean escape time against ln N: slope {sim_slope:.1f} ± {sim_error:.1f} (simulation), "
        f"{ode_slope:.1f} ± {ode_error:.1f} (the ODE from the seeds' own starts); the linear-stability "
        f"prediction 1 / (2 mu) = {1 / (2 * mu):.1f}.",
        "- The ODE from each seed's start carries only the initial asymmetry; the simulation adds SGD's "
        "own fluctuations, which also have size 1/sqrt(N): the difference between the two columns is "
        "what the noise contributes at each N.",
        "",
    ]
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for n, _, sim_escape, _, _, _, _ in rows:
        values = np.sort(sim_escape[np.isfinite(sim_escape)])
        left.plot(values, np.arange(1, values.size + 1) / values.size, label=f"N = {n:,}")
    left.set(xlabel="escape alpha", ylabel="fraction escaped", title="distribution over seeds (simulation)")
    left.legend()
    right.errorbar(ns, sim_mean, yerr=[float(np.nanstd(r[2])) for r in rows], fmt="o", label="simulation (reduced)")
    right.plot(ns, ode_mean, "s", label="ODE from each seed's start")
    x = np.geomspace(min(ns), max(ns), 50)
    right.plot(x, sim_mean[0] + np.log(x / ns[0]) / (2 * mu), "k--", label="slope 1/(2 mu)")
    right.set(xscale="log", xlabel="N", ylabel="escape alpha", title="mean escape time against N")
    right.legend()
    print(write_report(out / "escape_time.md", lines, fig, dpi=120))


if __name__ == "__main__":
    main()
