"""Solving the soft-committee-machine ODE: diffrax (scalinglaws) against a fixed-step Euler loop.

Measured side by side in one process:

- scalinglaws: `solve_soft_committee` (Tsit5 + PID controller, float64, default tolerances) for the
  erf SCM with K = M in {2, 4, 8, 16}, eta = 0.5, from a small random initial state (sigma_J = 1e-3,
  N = 1000) to alpha = 10^4 (the full curve: plateau, escape, convergence); compile time apart.
- NumPy Euler: the method of the C++/Cython codes in use (fixed step dt = 0.01, the same closed
  forms, vectorised NumPy right-hand side over all index tuples). Its time to alpha = 10^4 is
  the measured time per step times 10^6 steps (running it in full takes up to hours).
- Equal accuracy: the maximum relative deviation of eps_g (where eps_g > 1e-8, alpha <= 1000) from
  a reference solve (rtol 1e-12) for Euler at dt = 0.01 (computed with a JAX `lax.scan` of the same
  scheme, which gives the same numbers faster), and the loosest diffrax tolerance that matches it.
- A vmapped sweep over 64 learning rates (K = M = 2 and 8).

Usage: `python benchmarks/ode_solve.py [--out benchmarks/results/ode_solve.md]`.
"""

import argparse
import dataclasses
import functools
import math
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import scalinglaws as sl
from scalinglaws.simulate import log_time_grid
from scalinglaws.theory import SCMArgs, SCMState, SoftCommitteeODE, solve_soft_committee


N, ETA, SIGMA = 1000, 0.5, 1e-3


def setup(k: int):
    rng = np.random.default_rng(k)
    w = SIGMA * rng.standard_normal((k, N))
    b = rng.standard_normal((k, N))
    state = SCMState(jnp.asarray(w @ w.T / N), jnp.asarray(w @ b.T / N), jnp.ones(k))
    args = SCMArgs(jnp.asarray(ETA), jnp.asarray(0.0), jnp.asarray(b @ b.T / N), jnp.ones(k), jnp.asarray(0.0))
    return state, args


def timed(fn, repeats: int = 3):
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - start
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return out, first - best, best


def numpy_rhs(q, r, t, eta):
    """The erf SCM right-hand side in NumPy over all (i, k, c, d), as a careful NumPy user writes it."""
    k = q.shape[0]
    c = np.block([[q, r], [r.T, t]])
    d = np.diag(c)
    w = np.concatenate([np.ones(k), -np.ones(t.shape[0])])

    def i3(c11, c12, c13, c23, c33):
        return (2 / np.pi) * (c23 * (1 + c11) - c12 * c13) / ((1 + c11) * np.sqrt((1 + c11) * (1 + c33) - c13**2))

    dq1 = i3(d[:k, None, None], c[:k, :k, None], c[:k, None, :], c[None, :k, :], d[None, None, :]) @ w
    dr1 = i3(d[:k, None, None], c[:k, k:, None], c[:k, None, :], c[None, k:, :], d[None, None, :]) @ w
    c11, c22 = d[:k, None, None, None], d[None, :k, None, None]
    c12 = c[:k, :k, None, None]
    c13, c14 = c[:k, None, :, None], c[:k, None, None, :]
    c23, c24 = c[None, :k, :, None], c[None, :k, None, :]
    c33, c44, c34 = d[None, None, :, None], d[None, None, None, :], c[None, None, :, :]
    lam4 = (1 + c11) * (1 + c22) - c12**2
    lam0 = lam4 * c34 - c23 * c24 * (1 + c11) - c13 * c14 * (1 + c22) + c12 * c13 * c24 + c12 * c14 * c23
    lam1 = lam4 * (1 + c33) - c23**2 * (1 + c11) - c13**2 * (1 + c22) + 2 * c12 * c13 * c23
    lam2 = lam4 * (1 + c44) - c24**2 * (1 + c11) - c14**2 * (1 + c22) + 2 * c12 * c14 * c24
    i4 = (4 / np.pi**2) / np.sqrt(lam4) * np.arcsin(lam0 / np.sqrt(lam1 * lam2))
    dq = -eta * (dq1 + dq1.T) + eta**2 * np.einsum("ikcd,c,d->ik", i4, w, w)
    return dq, -eta * dr1


def numpy_euler_seconds_per_step(k: int, steps: int = 300) -> float:
    state, args = setup(k)
    q, r, t = (np.asarray(x) for x in (state.q, state.r, args.t))
    start = time.perf_counter()
    for _ in range(steps):
        dq, dr = numpy_rhs(q, r, t, ETA)
        q, r = q + 0.01 * dq, r + 0.01 * dr
    return (time.perf_counter() - start) / steps


def euler_eps(k: int, alpha_max: float, dt: float, save: np.ndarray) -> np.ndarray:
    """Fixed-step Euler in JAX (same scheme as the NumPy loop), eps_g at the save times."""
    state, args = setup(k)
    ode = SoftCommitteeODE(sl.Erf(), k, k)
    per_save = np.diff(np.round(save / dt).astype(int), prepend=0)

    @jax.jit
    def run(state):
        def advance(s, n):
            s = jax.lax.fori_loop(
                0, n, lambda _, x: jax.tree_util.tree_map(lambda a, b: a + dt * b, x, ode(0.0, x, args)), s
            )
            return s, ode.generalisation_error(s, args)

        return jax.lax.scan(advance, state, jnp.asarray(per_save))[1]

    return np.asarray(run(state))


def deviation(eps: np.ndarray, ref: np.ndarray) -> float:
    mask = ref > 1e-8
    return float(np.max(np.abs(eps[mask] - ref[mask]) / ref[mask]))


def main() -> None:
    sl.configure()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ode_solve.md"))
    args_cli = parser.parse_args()
    alpha = jnp.asarray(log_time_grid(N, 1e4, 20) / N)
    rows = []
    for k in (2, 4, 8, 16):
        state, args = setup(k)
        ode = SoftCommitteeODE(sl.Erf(), k, k)
        (solution, eps), compile_s, run_s = timed(lambda: solve_soft_committee(ode, state, args, alpha))
        per_step = numpy_euler_seconds_per_step(k, 300 if k < 16 else 60)
        euler_s = per_step * 1e4 / 0.01
        rows.append((k, run_s, compile_s, int(solution.num_steps), per_step * 1e6, euler_s, euler_s / run_s))
        print(rows[-1], flush=True)
    acc_rows = []
    save = np.unique(np.round(log_time_grid(N, 1e3, 20)[1:] / N / 0.01) * 0.01)  # on Euler's grid
    save = save[save > 0]
    grid = jnp.asarray(np.concatenate([[0.0], save]))
    per_step = {row[0]: row[4] * 1e-6 for row in rows}
    for k in (2, 4, 8):
        state, args = setup(k)
        ode = SoftCommitteeODE(sl.Erf(), k, k)
        ref = np.asarray(solve_soft_committee(ode, state, args, grid, rtol=1e-12, atol=1e-15, max_steps=10**6)[1])[1:]
        euler_dev = deviation(euler_eps(k, 1e3, 0.01, save), ref)
        for rtol in (1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11):
            solve = functools.partial(
                solve_soft_committee, ode, state, args, grid, rtol=rtol, atol=rtol * 1e-3, max_steps=10**6
            )
            (_, eps), _, run_s = timed(solve)
            dev = deviation(np.asarray(eps)[1:], ref)
            if dev <= euler_dev:
                break
        euler_s = per_step[k] * 1e3 / 0.01
        acc_rows.append((k, euler_dev, rtol, dev, run_s, euler_s, euler_s / run_s))
        print(acc_rows[-1], flush=True)
    sweep_rows = []
    for k in (2, 8):
        state, args = setup(k)
        ode = SoftCommitteeODE(sl.Erf(), k, k)
        rates = jnp.linspace(0.05, 1.0, 64)
        batched = jax.jit(
            jax.vmap(
                lambda eta: solve_soft_committee(ode, state, dataclasses.replace(args, learning_rate=eta), alpha)[1]
            )
        )
        _, compile_s, run_s = timed(lambda: batched(rates), repeats=1)
        sweep_rows.append((k, run_s, compile_s))
        print(sweep_rows[-1], flush=True)
    device = jax.devices()[0]
    lines = [
        "# Soft-committee-machine ODE: diffrax against fixed-step Euler",
        "",
        f"Machine: {platform.machine()}, {jax.device_count()} x {device.platform}, jax {jax.__version__}. "
        f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/ode_solve.py`. erf SCM, K = M, eta = {ETA}, "
        f"sigma_J = {SIGMA}, N = {N} (initial overlaps), float64.",
        "",
        "## The full curve to alpha = 10^4",
        "",
        "| K = M | scalinglaws (s) | compile (s) | solver steps | NumPy Euler (us/step) "
        "| NumPy Euler dt=0.01 to 10^4 (s, extrapolated) | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, run_s, compile_s, steps, per_step, euler_s, ratio in rows:
        lines.append(
            f"| {k} | {run_s:.3f} | {compile_s:.2f} | {steps} | {per_step:.0f} | {euler_s:,.0f} | {ratio:,.0f}x |"
        )
    lines += [
        "",
        "## At equal accuracy (alpha <= 1000)",
        "",
        "Accuracy: the largest relative deviation of eps_g (where eps_g > 1e-8) from an rtol = 1e-12 solve, "
        "on the save grid. scalinglaws runs at the loosest rtol (atol = rtol / 1000) that is at least as accurate "
        "as Euler with dt = 0.01; the escape from the plateau amplifies small errors, so the tolerance needed "
        "varies with K.",
        "",
        "| K = M | Euler dt=0.01 deviation | scalinglaws rtol | its deviation | scalinglaws (s) "
        "| NumPy Euler to 10^3 (s, extrapolated) | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, euler_dev, rtol, dev, run_s, euler_s, ratio in acc_rows:
        lines.append(
            f"| {k} | {euler_dev:.1e} | {rtol:.0e} | {dev:.1e} | {run_s:.3f} | {euler_s:,.0f} | {ratio:,.0f}x |"
        )
    lines += [
        "",
        "## A vmapped sweep over 64 learning rates (0.05 ... 1.0) to alpha = 10^4",
        "",
        "| K = M | time (s) | compile (s) |",
        "|---|---|---|",
    ]
    for k, run_s, compile_s in sweep_rows:
        lines.append(f"| {k} | {run_s:.2f} | {compile_s:.2f} |")
    text = "\n".join(lines) + "\n"
    out = Path(args_cli.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
