"""The exact reduced simulation against the full online-SGD engine: seed-steps per second against N.

Measured side by side in one process: `simulate(..., method="full")` (the networks on drawn
inputs) and `simulate(..., method="reduced")` (the chain of the block overlaps), erf SCM with
K = M, steady state (compilation reported apart). The full engine's cost grows with N (it draws N
normals per step); the chain's must not. Rows also show power-law data with L blocks and a larger
K = M, whose chain costs O(L (K + M)^3) per step.

Usage: `python benchmarks/reduced.py [--quick] [--out benchmarks/results/reduced.md]`.
"""

import argparse
import functools
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import scalinglaws as sl
from scalinglaws.experiment import write_report
from scalinglaws.simulate import simulate


# (N, K = M, L): the isotropic K = M = 2 rows are the issue's; the others show the chain's cost in L and K.
CASES = [(500, 2, 1), (10_000, 2, 1), (100_000, 2, 1), (10_000, 2, 16), (2_000, 8, 1), (10_000, 8, 16)]
SEEDS = {"full": 8, "reduced": (64, 512)}


def rate(
    method: str, n: int, k: int, blocks: int, seeds: int, seed_steps: float, impl: str = "threefry2x32"
) -> tuple[float, float]:
    """(seed-steps/s, compile seconds) of one method, erf SCM with K = M = k, keys of `impl`."""
    g = sl.Erf()
    teacher = functools.partial(sl.teacher_network, n, k, g)
    student = functools.partial(sl.student_network, n, k, g, init_std=1e-3)
    steps = max(int(seed_steps / seeds), 64)
    data = sl.isotropic(n) if blocks == 1 else sl.power_law(n, 1.0, blocks)
    sim = simulate(
        data,
        lambda key: teacher(key=key),
        lambda key: student(key=key),
        learning_rates=0.5,
        seeds=seeds,
        grid=np.asarray([0, steps // 2, steps]),
        method=method,
        key=jr.key(0, impl=impl),
    )
    assert not sim.diverged and np.all(np.isfinite(sim.eps_g))
    return seeds * steps / sim.run_seconds, sim.compile_seconds


def fill_seconds(seeds: int = 512, repeats: int = 30) -> float:
    """Seconds per float32 normal drawn by `jax.random.normal` in chunks of the chain's shape."""
    keys = jax.vmap(lambda i: jr.fold_in(jr.key(0), i))(jnp.arange(seeds))
    fill = jax.jit(jax.vmap(lambda key: jr.normal(key, (256, 1, 4), jnp.float32)))
    fill(keys).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        out = fill(keys)
    out.block_until_ready()
    return (time.perf_counter() - start) / repeats / (seeds * 256 * 4)


def main() -> None:
    sl.configure()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (noisier figures)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "reduced.md"))
    args = parser.parse_args()
    budget = 3e6 if args.quick else 2e7  # seed-steps of the chain per row
    rows = []
    for n, k, blocks in CASES:
        full, full_compile = rate("full", n, k, blocks, SEEDS["full"], min(budget, 3e9 / n))
        chain_budget = budget / (blocks * (k / 2) ** 2)  # the chain's cost grows about as L (K + M)^2 here
        reduced = [rate("reduced", n, k, blocks, s, chain_budget) for s in SEEDS["reduced"]]
        rows.append((n, k, blocks, full, full_compile, reduced))
        print(rows[-1], flush=True)
    device = jax.devices()[0]
    lines = [
        "# The exact reduced simulation against the full engine (erf SCM, K = M)",
        "",
        f"Machine: {platform.machine()}, {jax.device_count()} x {device.platform} "
        f"({getattr(device, 'device_kind', '')}), jax {jax.__version__}. Measured {time.strftime('%Y-%m-%d')} "
        f"with `python benchmarks/reduced.py{' --quick' if args.quick else ''}`.",
        "",
        "seed-steps/s: SGD steps summed over seeds per second of steady state (compilation excluded); "
        f"the full engine with {SEEDS['full']} seeds (float32 inputs), the chain with "
        f"{' and '.join(map(str, SEEDS['reduced']))} seeds (float32 draws, float64 chain). "
        "speed-up: the chain's best against the full engine.",
        "",
        "| N | K = M | L | full (seed-steps/s) | reduced, 64 seeds | reduced, 512 seeds | speed-up "
        "| compile full / reduced (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, k, blocks, full, full_compile, reduced in rows:
        best = max(r for r, _ in reduced)
        lines.append(
            f"| {n:,} | {k} | {blocks} | {full:,.0f} | {reduced[0][0]:,.0f} | {reduced[1][0]:,.0f} "
            f"| {best / full:,.0f}x | {full_compile:.1f} / {reduced[1][1]:.1f} |"
        )
    per_number = fill_seconds()
    lines += [
        "",
        f"Where the time goes: `jax.random.normal` fills float32 arrays at {per_number * 1e9:.1f} ns per number "
        "here. The full engine draws N numbers per step; the chain draws K + M normals and one chi-square "
        "(Marsaglia-Tsang: a normal and a uniform, about 3 numbers with its redraws) per block, so its "
        "speed-up over the full engine can be at most about N / (L (K + M + 3)) by the draws alone: "
        + ", ".join(
            f"{n / (blocks * (2 * k + 3)):,.0f}x at N = {n:,}, K = M = {k}, L = {blocks}" for n, k, blocks in CASES[:2]
        )
        + ". The rest is the per-step algebra (the Schur complement's Cholesky factor, the fields, the "
        "update) and moving the draws to the seeds-last layout the step vectorises over.",
        "",
    ]
    print(write_report(args.out, lines))


if __name__ == "__main__":
    main()
