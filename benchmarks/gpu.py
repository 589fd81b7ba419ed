"""GPU measurements in one script of a few minutes: run it whenever a GPU machine is available.

Writes `benchmarks/results/gpu.md` (on a CPU, with `--quick`, it runs the same code small, as a
check that the script works; its report then says it is not a GPU measurement):

1. Online SGD (erf SCM, K = M = 2, float32) at N = 500 and 10^4 with many seeds: seed-steps/s with
   threefry and rbg keys, and the achieved fraction of two rooflines measured on the device: the
   sampler's (the rate at which `jax.random.normal` fills the engine's chunk shape, N normals per
   seed-step) and memory's (the bytes a step must move, reading its input and reading and writing
   the first layer, against the measured bandwidth of an elementwise pass over a large array).
2. The `p1_fig1` config (simulation sweep and eigen-block theory), the whole `scalinglaws run`
   process, wall time.
3. A vmapped ODE sweep: the erf SCM ODE with K = M = 8 over 64 learning rates, to alpha = 10^3.
4. The exact reduced simulation (N = 500, K = M = 2) with 64 to 8192 seeds.

Usage: `python benchmarks/gpu.py [--quick] [--out benchmarks/results/gpu.md]`.
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from reduced import rate  # benchmarks/reduced.py, beside this script

import scalinglaws as sl
from scalinglaws.experiment import write_report
from scalinglaws.theory import SCMArgs, SCMState, SoftCommitteeODE, solve_soft_committee


def sgd(n: int, seeds: int, seed_steps: float, impl: str, method: str = "full") -> float:
    """Steady-state seed-steps/s of `simulate` (erf SCM, K = M = 2, isotropic) with keys of `impl`."""
    return rate(method, n, 2, 1, seeds, seed_steps, impl)[0]


def _timed(function, *args, repeats: int = 10) -> float:
    jax.block_until_ready(function(*args))
    start = time.perf_counter()
    for _ in range(repeats):
        out = function(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats


def sampler_rate(n: int, seeds: int, impl: str, chunk: int = 32) -> float:
    """Float32 normals per second that `jax.random.normal` fills in the engine's (seeds, chunk, N) shape."""
    keys = jax.vmap(lambda i: jr.fold_in(jr.key(0, impl=impl), i))(jnp.arange(seeds))
    fill = jax.jit(jax.vmap(lambda key: jr.normal(key, (chunk, n), jnp.float32)))
    return seeds * chunk * n / _timed(fill, keys)


def bandwidth(size: int) -> float:
    """Bytes per second of an elementwise pass over a float32 array of `size` entries (read and write)."""
    x = jnp.ones(size, jnp.float32)
    return 2 * 4 * size / _timed(jax.jit(lambda a: a * 1.0001 + 1.0), x)


def ode_sweep(rates: int, alpha_max: float) -> float:
    """Wall seconds (after compilation) of the K = M = 8 SCM ODE vmapped over `rates` learning rates."""
    k = 8
    ode = SoftCommitteeODE(sl.Erf(), k, k)
    state = SCMState(1e-4 * jnp.eye(k) + 1e-6, 1e-4 * jnp.ones((k, k)) + 1e-3 * jnp.eye(k), jnp.ones(k))
    etas = jnp.linspace(0.1, 0.8, rates)
    alpha = jnp.asarray(np.concatenate([[0.0], np.geomspace(0.01, alpha_max, 100)]))

    @jax.jit
    def sweep(etas):
        def one(eta):
            args = SCMArgs(eta, jnp.asarray(0.0), jnp.eye(k), jnp.ones(k), jnp.asarray(0.0))
            return solve_soft_committee(ode, state, args, alpha, max_steps=1_000_000)[1]

        return jax.vmap(one)(etas)

    return _timed(sweep, etas, repeats=2)


def fig1_process(quick: bool) -> tuple[float, float | None, float | None]:
    """Wall seconds of a fresh `scalinglaws run p1_fig1` process (smaller with `quick`), and its
    simulation and theory seconds from `summary.json`."""
    extra = ["--set", "training.seeds=2", "--set", "training.alpha_max=10"] if quick else []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        command = [sys.executable, "-m", "scalinglaws.cli", "run", "p1_fig1", "--out", tmp + "/run", "--quiet", *extra]
        subprocess.run(command, check=True, capture_output=True)
        wall = time.perf_counter() - start
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    return wall, summary.get("simulation_seconds"), summary.get("theory_seconds")


def main() -> None:
    sl.configure()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the script on any machine")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu.md"))
    args = parser.parse_args()
    device = jax.devices()[0]
    seeds, budget = (16, 2e5) if args.quick else (1024, 5e8)
    peak = bandwidth(2**22 if args.quick else 2**28)
    lines = [
        "# GPU measurements",
        "",
        f"Device: {device.platform} ({getattr(device, 'device_kind', '')}) x {jax.device_count()}, "
        f"{platform.machine()}, jax {jax.__version__}. Measured {time.strftime('%Y-%m-%d')} with "
        f"`python benchmarks/gpu.py{' --quick' if args.quick else ''}`.",
        "",
    ]
    if device.platform != "gpu" or args.quick:
        lines += ["**Not a GPU measurement**: this report checks that the script runs.", ""]
    lines += [
        f"Measured bandwidth (elementwise pass over a large float32 array): {peak / 1e9:,.0f} GB/s.",
        "",
        "## Online SGD (erf SCM, K = M = 2, float32)",
        "",
        "| N | seeds | keys | seed-steps/s | sampler roofline (normals/s) | fraction | memory fraction |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in (500, 10_000):
        for impl in ("threefry2x32", "rbg"):
            rate = sgd(n, seeds, budget / (n / 500), impl)
            fill = sampler_rate(n, seeds, impl)
            moved = 4 * (n + 2 * 2 * n)  # bytes per seed-step: the input row, and W read and written
            lines.append(
                f"| {n:,} | {seeds} | {impl} | {rate:,.0f} | {fill:,.3g} | {rate * n / fill:.2f} "
                f"| {rate * moved / peak:.2f} |"
            )
            print(lines[-1], flush=True)
    wall, simulation, theory = fig1_process(args.quick)
    rates, horizon = (8, 1e2) if args.quick else (64, 1e3)
    lines += [
        "",
        f"## `scalinglaws run p1_fig1`{' (2 seeds, alpha_max = 10)' if args.quick else ''}",
        "",
        f"Whole process {wall:.1f} s (simulation {simulation} s, theory {theory} s).",
        "",
        "## Vmapped ODE sweep",
        "",
        f"Erf SCM ODE, K = M = 8, {rates} learning rates in one vmapped solve to alpha = {horizon:g}: "
        f"{ode_sweep(rates, horizon):.2f} s after compilation.",
        "",
        "## Exact reduced simulation (N = 500, K = M = 2)",
        "",
        "| seeds | seed-steps/s |",
        "|---|---|",
    ]
    for count in (64, 512) if args.quick else (64, 512, 4096, 8192):
        lines.append(f"| {count} | {sgd(500, count, budget * 10, 'threefry2x32', 'reduced'):,.0f} |")
    lines.append("")
    print(write_report(args.out, lines))


if __name__ == "__main__":
    main()
