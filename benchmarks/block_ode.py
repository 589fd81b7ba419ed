"""The eigen-block ODE at large L: Rodas4 with the structured solve against Tsit5, side by side.

Erf K = M = 2, eta = 0.1, beta = 1, sigma_J = 0.01, N = 1024, initial overlaps drawn from actual
networks, alpha from 0 to `alpha_max`. Both solvers run at the same tolerances (rtol 1e-8, atol
1e-11); the error is the largest relative deviation of eps_g on the save grid (eps_g > 1e-9) from
Rodas4 at rtol 1e-11. Times are steady state (a second call), compilation apart.

Usage: `python benchmarks/block_ode.py [--quick] [--out benchmarks/results/block_ode.md]`.
"""

import argparse
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import scalinglaws as sl
from scalinglaws.theory import BlockArgs, BlockState, EigenBlockODE, Rodas4, solve_soft_committee


def problem(blocks: int, n: int = 1024):
    data = sl.power_law(n, 1.0, blocks)
    key_t, key_s = jr.split(jr.key(0))
    teacher = sl.teacher_network(n, 2, sl.Erf(), dtype=jnp.float64, key=key_t)
    student = sl.student_network(n, 2, sl.Erf(), init_std=0.01, dtype=jnp.float64, key=key_s)
    w, b = student.first, teacher.first
    ode = EigenBlockODE(sl.Erf(), 2, 2)
    zero = jnp.asarray(0.0)
    args = BlockArgs(jnp.asarray(0.1), zero, data.block_overlaps(b, b), data.eigenvalues, teacher.second, zero)
    return ode, BlockState(data.block_overlaps(w, w), data.block_overlaps(w, b), student.second), args


def timed(ode, state, args, alpha, solver, rtol, atol):
    solve = jax.jit(
        lambda s, a: solve_soft_committee(ode, s, a, alpha, rtol=rtol, atol=atol, max_steps=4_000_000, solver=solver)
    )
    start = time.perf_counter()
    jax.block_until_ready(solve(state, args))
    compile_and_run = time.perf_counter() - start
    start = time.perf_counter()
    solution, eps = jax.block_until_ready(solve(state, args))
    run = time.perf_counter() - start
    return np.asarray(eps), int(solution.num_steps), run, compile_and_run - run


def main():
    sl.configure()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/block_ode.md")
    cli = parser.parse_args()
    cases = [(16, 1e4), (64, 1e4), (256, 1e4), (1024, 1e4), (1024, 1e5)]
    if cli.quick:
        cases = [(16, 1e3), (64, 1e3)]
    device = jax.devices()[0]
    lines = [
        "# Eigen-block ODE: stiff (Rodas4, structured solve) against explicit (Tsit5)",
        "",
        f"Machine: {platform.machine()}, {jax.device_count()} x {device.device_kind} ({device.platform}), "
        f"jax {jax.__version__}. Erf K = M = 2, eta = 0.1, beta = 1, N = 1024, rtol 1e-8, atol 1e-11.",
        "",
        "| L | alpha_max | Rodas4 time | steps | max rel. error | compile | Tsit5 time | steps | max rel. error "
        "| compile | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for blocks, alpha_max in cases:
        ode, state, args = problem(blocks)
        alpha = jnp.asarray(np.concatenate([[0.0], np.logspace(-1, np.log10(alpha_max), 80)]))
        reference = timed(ode, state, args, alpha, Rodas4(ode.factorise), 1e-11, 1e-14)[0]
        shown = reference > 1e-9

        def error(eps):
            return float(np.max(np.abs(eps[shown] / reference[shown] - 1)))

        stiff = timed(ode, state, args, alpha, Rodas4(ode.factorise), 1e-8, 1e-11)
        row = [f"{blocks}", f"{alpha_max:.0e}", f"{stiff[2]:.2f} s", f"{stiff[1]:,}", f"{error(stiff[0]):.1e}"]
        row.append(f"{stiff[3]:.1f} s")
        explicit_steps = 1e5 * alpha_max / 1e4 * blocks / 256  # about 53k steps at L = 256, alpha = 1e4
        if explicit_steps < 1.5e5:
            explicit = timed(ode, state, args, alpha, None, 1e-8, 1e-11)
            row += [f"{explicit[2]:.2f} s", f"{explicit[1]:,}", f"{error(explicit[0]):.1e}", f"{explicit[3]:.1f} s"]
            row.append(f"{explicit[2] / stiff[2]:.1f}x")
        else:
            row += ["not run (stability-bound: > 1.5e5 steps)", "", "", "", ""]
        lines.append("| " + " | ".join(row) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not cli.quick:
        Path(cli.out).write_text(text)


if __name__ == "__main__":
    main()
