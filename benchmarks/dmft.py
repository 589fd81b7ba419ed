"""Kernel regression (Kramp, Lindner & Helias): the cost of the exact finite-size average and of the DMFT.

1. `FullBatchLangevin.record` with the exact average per data draw: 10^4 draws at N = P = 100
   (Lambda_ii = i^-3/2, Langevin T = 0.1, kappa = 10^-3) on 41 recording times from t = 0.01 to 100,
   all curves and the (T, N) mode discrepancy: wall time including compilation (goal: under 30 s
   on 2 CPU cores).
2. `theory.dmft_curves` (test error, bias, variance, training error) on the same 41 times for
   N = P = 10^3 ... 10^6 modes: first call (with compilation) and a second call, to show the cost
   linear in N.

Usage: `python benchmarks/dmft.py [--quick] [--out benchmarks/results/dmft.md]` (`--quick`: 10^3
draws, N up to 10^5, nothing written).
"""

import argparse
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import scalinglaws as sl
from scalinglaws.cli import configs_dir
from scalinglaws.experiment import build_setup, load_config


# The Langevin config of the paper's Figs. 2 and 3 (beta_paper = 10), on the benchmark's window.
OVERRIDES = ["training.time_max=100", "training.points_per_decade=10", "theory.enabled=false"]


def simulation(seeds: int) -> tuple[float, float]:
    setup = build_setup(load_config(configs_dir() / "p5_fig2_beta10.toml", [*OVERRIDES, f"training.seeds={seeds}"]))
    start = time.perf_counter()
    recording = setup.learner.record(setup)
    return time.perf_counter() - start, recording.summary["compile_seconds"]


def theory(n: int, times: np.ndarray) -> tuple[float, float]:
    lam = jnp.arange(1, n + 1, dtype=jnp.float64) ** -1.5
    problem = sl.KernelProblem(lam, n, 1.0, 1e-3, 0.1)
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        jax.block_until_ready(sl.theory.dmft_curves(problem, times))
        seconds.append(time.perf_counter() - start)
    return seconds[0], seconds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "dmft.md"))
    cli = parser.parse_args()
    sl.configure(cpu_devices="auto")  # as `scalinglaws run`: the CPU as one device per core
    seeds = 1000 if cli.quick else 10_000
    sizes = [10**3, 10**4, 10**5] + ([] if cli.quick else [10**6])
    times = np.geomspace(0.01, 100, 41)
    wall, compile_seconds = simulation(seeds)
    lines = [
        "# Kernel regression: exact finite-size average and DMFT, cost",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, JAX devices: {jax.device_count()} "
        f"({jax.devices()[0].platform}); `benchmarks/dmft.py`.",
        "",
        f"Exact average, N = P = 100, 41 times, all curves and the (T, N) mode discrepancy: {seeds} draws "
        f"in {wall:.1f} s (of which {compile_seconds:.1f} s for the first batch with compilation), "
        f"{seeds / wall:.0f} draws/s.",
        "",
        "| N = P (modes) | DMFT, first call (with compilation) | DMFT, second call |",
        "|---|---|---|",
    ]
    for n in sizes:
        first, second = theory(n, times)
        lines.append(f"| {n:.0e} | {first:.2f} s | {second:.2f} s |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if not cli.quick:
        Path(cli.out).write_text(text)


if __name__ == "__main__":
    main()
