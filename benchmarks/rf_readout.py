"""Online SGD of the random-feature readout: the engine's chunked feature products against the same
steps taken one by one, and against a NumPy loop.

Measured side by side in one process (erf features and teacher, M = 2, float32 for JAX, 8 seeds):

- engine: `simulate` with a `RandomFeatureModel`; a chunk's features `g(X F^T / sqrt N)` come from
  one matrix product and the scan updates only the readout.
- step by step: a jitted `lax.scan` of `sgd_step` (one matrix-vector product per step), vmapped
  over the same seeds, drawing the inputs a chunk at a time like the engine.
- NumPy: the loop a researcher writes (float64, one sample per step, one seed).

Usage: `python benchmarks/rf_readout.py [--quick] [--out benchmarks/results/rf_readout.md]`.
"""

import argparse
import functools
import math
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from scipy.special import erf

import scalinglaws as sl
from scalinglaws.simulate import LearningRates, sgd_step, simulate


SEEDS = 8
CHUNK = 64


def engine(n: int, k: int, alpha_max: float) -> float:
    g = sl.Erf()
    sim = simulate(
        sl.isotropic(n),
        lambda key: sl.teacher_network(n, 2, g, key=key),
        lambda key: sl.random_feature_model(n, k, g, key=key),
        learning_rates=0.5,
        seeds=SEEDS,
        alpha_max=alpha_max,
        points_per_decade=5,
        alpha_min=1.0,
        chunk_size=CHUNK,
        key=jr.key(0),
    )
    return SEEDS * sim.steps[-1] / sim.run_seconds


def step_by_step(n: int, k: int, alpha_max: float) -> float:
    g = sl.Erf()
    keys = jr.split(jr.key(0), SEEDS)
    students = jax.vmap(lambda key: sl.random_feature_model(n, k, g, key=key))(keys)
    teachers = jax.vmap(lambda key: sl.teacher_network(n, 2, g, key=key))(jr.split(jr.key(1), SEEDS))
    rates = LearningRates(jnp.asarray(0.5), jnp.asarray(0.5))
    chunks = round(alpha_max * n) // CHUNK

    @functools.partial(jax.jit, static_argnums=3)
    def run(students, teachers, keys, chunks):
        def one(student, teacher, key):
            def chunk(i, s):
                xs = jr.normal(jr.fold_in(key, i), (CHUNK, n), jnp.float32)
                ys = teacher(xs)
                return jax.lax.scan(lambda s_, xy: (sgd_step(s_, *xy, rates), None), s, (xs, ys))[0]

            return jax.lax.fori_loop(0, chunks, chunk, student)

        return jax.vmap(one)(students, teachers, keys)

    jax.block_until_ready(run(students, teachers, keys, 1))
    start = time.perf_counter()
    jax.block_until_ready(run(students, teachers, keys, chunks))
    return SEEDS * chunks * CHUNK / (time.perf_counter() - start)


def numpy_loop(n: int, k: int, steps: int) -> float:
    rng = np.random.default_rng(0)
    features, teacher = rng.standard_normal((k, n)), rng.standard_normal((2, n))
    readout = np.zeros(k)
    root_n, root_2 = math.sqrt(n), math.sqrt(2)
    start = time.perf_counter()
    for _ in range(steps):
        x = rng.standard_normal(n)
        phi = erf(features @ x / root_n / root_2)
        delta = erf(teacher @ x / root_n / root_2).sum() - phi @ readout
        readout += (0.5 / n) * delta * phi
    return steps / (time.perf_counter() - start)


def main():
    sl.configure()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/rf_readout.md")
    cli = parser.parse_args()
    alpha_max = 5.0 if cli.quick else 200.0
    rows = []
    for n, gamma in ((128, 2), (256, 4)):
        k = gamma * n
        fast = engine(n, k, alpha_max)
        slow = step_by_step(n, k, alpha_max)
        plain = numpy_loop(n, k, 5000 if cli.quick else 20000)
        rows.append((n, k, fast, slow, plain))
        print(f"N={n} K={k}: engine {fast:,.0f}, step by step {slow:,.0f}, NumPy {plain:,.0f} seed-steps/s")
    lines = [
        "# Random-feature readout: chunked feature products against step-by-step SGD",
        "",
        f"Machine: {platform.machine()}, {jax.device_count()} x {jax.devices()[0].platform}, jax {jax.__version__}. "
        f"erf, M = 2, eta = 0.5, {SEEDS} seeds (NumPy: 1), chunk {CHUNK}, alpha_max = {alpha_max:g}, steady state.",
        "",
        "| N | K | engine (seed-steps/s) | step by step | speed-up | NumPy loop | engine / NumPy |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, k, fast, slow, plain in rows:
        ratios = f"{fast / slow:.1f}x | {plain:,.0f} | {fast / plain:.1f}x"
        lines.append(f"| {n} | {k} | {fast:,.0f} | {slow:,.0f} | {ratios} |")
    Path(cli.out).parent.mkdir(parents=True, exist_ok=True)
    Path(cli.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
