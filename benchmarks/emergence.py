"""Speed of the emergence pieces (Ren, Nichani, Wu & Lee, arXiv 2504.19983), measured side by side in
one process on whatever machine runs it.

1. Online SGD of the 2-homogeneous student (h_4, batch 1, fresh sample per step, the stable step
   `rate(d)`) in seed-steps/s:
   `scalinglaws.simulate` (float32, vmapped seeds, compilation reported apart) against the NumPy
   loop a researcher writes (float64, one seed). The NumPy step is checked against the library's
   `HomogeneousNetwork.step` on one sample before it is timed.
2. Population gradient descent at m = P = 256 (beta = 0.8): the step in d dimensions (d = 512 and
   2048, float32 as the learner runs it) against the same descent on the factor `C = [R, L]` in
   P + m = 512 dimensions (float64, as the theory runs it), whose cost does not depend on d; the two
   are checked to give the same overlaps after the timed steps (d = 2048, float64).
3. The closed population gradient flow at m = P = 256 on the factor (diffrax Tsit5, rtol 1e-8,
   float64, the theory's solver): wall time to a horizon and the directions emerged by then.

Usage: `python benchmarks/emergence.py [--quick] [--out benchmarks/results/emergence.md]`.
"""

import argparse
import math
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import scalinglaws as sl
from scalinglaws import experiment
from scalinglaws._homogeneous import HomogeneousNetwork, Overlaps, homogeneous_student, reduced_weights
from scalinglaws._population import EMERGENCE_LEVEL, descend, flow
from scalinglaws.simulate import simulate


H4 = sl.Hermite(4)
BETA = 0.8
SGD_CASES = [(256, 16, 32), (1024, 64, 128)]
SGD_SEEDS = [1, 8]


def rate(d: int) -> float:
    """The step of `experiments/p4_emergence.py`'s online-SGD runs, 4e-5 (64 / d)^2: stable (a larger
    one, e.g. 1e-4 at d = 256, diverges, and a diverged run must not be timed)."""
    return 4e-5 * (64 / d) ** 2


def _h4(z):
    return (z**4 - 6 * z**2 + 3) / math.sqrt(24)


def _h4_derivative(z):
    return (4 * z**3 - 12 * z) / math.sqrt(24)


def _problem(d: int, p: int, m: int, seed: int = 0):
    """Orthonormal directions (P, d), coefficients a_p ∝ p^-beta with Σ a² = 1, V on the sphere of
    radius d^-1/2 (float64 NumPy)."""
    rng = np.random.default_rng(seed)
    directions = np.linalg.qr(rng.standard_normal((d, p)))[0].T
    a = np.arange(1, p + 1, dtype=np.float64) ** -BETA
    a /= np.linalg.norm(a)
    v = rng.standard_normal((m, d))
    v *= d**-0.5 / np.linalg.norm(v, axis=1, keepdims=True)
    return directions, a, v


def numpy_step(v, x, y, eta):
    """One online-SGD step of `f(x) = Σ_k |v_k|² h_4(v_k·x / |v_k|)` on `½ (f − y)²`."""
    norms = np.linalg.norm(v, axis=1)
    u = v @ x / norms
    delta = norms**2 @ _h4(u) - y
    grad = 2 * _h4(u)[:, None] * v + (norms * _h4_derivative(u))[:, None] * (x[None, :] - (u / norms)[:, None] * v)
    return v - eta * delta * grad


def numpy_loop(d: int, p: int, m: int, steps: int) -> float:
    """Steps per second of the NumPy loop (default_rng normals, float64, one seed)."""
    directions, a, v = _problem(d, p, m)
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for _ in range(steps):
        x = rng.standard_normal(d)
        v = numpy_step(v, x, a @ _h4(directions @ x), rate(d))
    seconds = time.perf_counter() - start
    if not np.all(np.isfinite(v)):
        raise SystemExit(f"the NumPy loop diverged at d = {d}: not timing it")
    return steps / seconds


def check_numpy_step(d: int = 64, p: int = 4, m: int = 8) -> float:
    """The largest difference between the NumPy step and `HomogeneousNetwork.step` (float64)."""
    directions, a, v = _problem(d, p, m)
    x = np.random.default_rng(2).standard_normal(d)
    y = float(a @ _h4(directions @ x))
    student = HomogeneousNetwork(jnp.asarray(v), H4)
    rates = sl.LearningRates(jnp.asarray(0.01), jnp.asarray(0.0))
    library = np.asarray(student.step(jnp.asarray(x), jnp.asarray(y), rates).weights)
    return float(np.max(np.abs(library - numpy_step(v, x, y, 0.01))) / np.max(np.abs(v)))


def engine(d: int, p: int, m: int, seeds: int, seed_steps: float) -> tuple[float, float]:
    """(seed-steps/s, compile seconds) of `simulate` for the homogeneous student."""

    def teacher(key):
        return sl.teacher_network(
            d, p, H4, init="orthonormal", second_layer="power_law", second_layer_exponent=BETA, key=key
        )

    def student(key):
        return homogeneous_student(m, d, d**-0.5, H4, key=key)

    sim = simulate(
        sl.isotropic(d),
        teacher,
        student,
        learning_rates=[rate(d)],
        seeds=seeds,
        alpha_max=max(seed_steps / seeds / d, 1.0),
        key=jr.key(0),
    )
    if not np.all(np.isfinite(np.asarray(sim.eps_g))):
        raise SystemExit(f"online SGD diverged at d = {d}, eta = {rate(d):g}: not timing it")
    return seeds * int(sim.steps[-1]) / sim.run_seconds, sim.compile_seconds


def _timed(function, *args, repeats: int = 3) -> float:
    """The best wall time of `function(*args)` over `repeats` calls after a compiling call."""
    jax.block_until_ready(function(*args))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function(*args))
        best = min(best, time.perf_counter() - start)
    return best


def descent_rows(width: int, steps: int) -> tuple[list[str], float]:
    """Seconds per step of population descent in d dimensions and on the factor, and the largest
    overlap difference between them after `steps` steps (d = 2048, float64)."""
    p = m = width
    rows, eta = [], 0.05
    grid = jnp.asarray([steps], jnp.int32)
    for d in (512, 2048):
        directions, a, v = _problem(d, p, m)
        args = (jnp.asarray(v, jnp.float32)[None], jnp.asarray(directions, jnp.float32)[None], jnp.asarray(a)[None])
        seconds = _timed(descend, *args, H4, jnp.asarray(eta, jnp.float32), grid) / steps
        rows.append(f"| population descent in d = {d} (float32) | {d} | {1e3 * seconds:.2f} |")
    # d = 2048 from here: the factor of its initial overlaps, and the float64 descent in d dimensions.
    reduced = reduced_weights(Overlaps.of(jnp.asarray(v), jnp.asarray(directions)))
    common = (jnp.asarray(a)[None], H4, jnp.asarray(eta), grid)
    reduced_args = (reduced[None], jnp.eye(p + m)[:p][None], *common)
    seconds = _timed(descend, *reduced_args) / steps
    rows.append(f"| the same on the factor C (float64, any d) | {p + m} | {1e3 * seconds:.2f} |")
    on_factor = descend(*reduced_args)
    in_d = descend(jnp.asarray(v)[None], jnp.asarray(directions)[None], *common)
    gap = max(float(jnp.max(jnp.abs(on_factor[k] - in_d[k]))) for k in ("eps_g", "overlap", "mass"))
    return rows, gap


def flow_row(width: int, horizon: float) -> str:
    """Wall time of the closed flow (m = P = width, d = 2048's initial overlaps) to `horizon`."""
    p = m = width
    directions, a, v = _problem(2048, p, m)
    reduced = reduced_weights(Overlaps.of(jnp.asarray(v), jnp.asarray(directions)))
    times = jnp.linspace(0.0, horizon, 41)
    args = (reduced[None], jnp.eye(p + m)[:p][None], jnp.asarray(a)[None], H4, times, 1e-8, 1e-11, 1_000_000)
    seconds = _timed(flow, *args, repeats=1)
    out = flow(*args)
    emerged = int(np.sum(np.asarray(out["overlap"])[0, -1] ** 2 >= EMERGENCE_LEVEL))
    loss = float(out["eps_g"][0, -1])
    return (
        f"| closed flow, m = P = {width}, tau = 0 … {horizon:g} (float64, rtol 1e-8) | {seconds:.1f} s | "
        f"{emerged} of {p} | {loss:.4f} |"
    )


def main() -> None:
    sl.configure()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "emergence.md"))
    args = parser.parse_args()
    seed_steps = 2e5 if args.quick else 2e6
    numpy_steps = 5_000 if args.quick else 40_000
    mismatch = check_numpy_step()
    if mismatch > 1e-12:
        raise SystemExit(f"the NumPy step differs from the library's by {mismatch:.1e}: not timing it")
    quick = " --quick" if args.quick else ""
    lines = [
        "# Emergence (Ren, Nichani, Wu & Lee): speed",
        "",
        f"Machine: {platform.machine()}, {jax.device_count()} x {jax.devices()[0].device_kind} "
        f"({jax.default_backend()}), jax {jax.__version__}, numpy {np.__version__}. "
        f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/emergence.py{quick}`.",
        "",
        "## Online SGD of the 2-homogeneous student (h_4, batch 1, eta = 4e-5 (64/d)²)",
        "",
        "seed-steps/s: SGD steps summed over seeds per second of steady state (compilation apart). The "
        "NumPy loop (float64, `default_rng` normals, one seed) takes the same step as the library "
        f"(checked on one sample: relative difference {mismatch:.0e}); every timed run ends finite (not diverged).",
        "",
        "| d | P | m | seeds | NumPy (steps/s) | scalinglaws (seed-steps/s) | speed-up | compile (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d, p, m in SGD_CASES:
        reference = numpy_loop(d, p, m, numpy_steps)
        for seeds in SGD_SEEDS:
            rate, compile_seconds = engine(d, p, m, seeds, seed_steps)
            lines.append(
                f"| {d} | {p} | {m} | {seeds} | {reference:,.0f} | {rate:,.0f} | {rate / reference:.1f}x | "
                f"{compile_seconds:.2f} |"
            )
    width = 64 if args.quick else 256
    rows, gap = descent_rows(width, 20 if args.quick else 100)
    lines += [
        "",
        f"## Population gradient descent, m = P = {width}, beta = 0.8, eta = 0.05",
        "",
        "One step of the exact population gradient (the loss's Hermite closed form, no sampling), one seed. "
        f"After the timed steps the factor and the d = 2048 descent (both float64) agree to {gap:.1e} in "
        "eps_g, the overlaps and the masses.",
        "",
        "| descent | dimension | ms per step |",
        "|---|---|---|",
        *rows,
        "",
        "## Closed population gradient flow (the theory's solver, d = 2048's initial overlaps)",
        "",
        "| solve | wall time | directions emerged (squared cosine ≥ 1/2) | eps_g at the end |",
        "|---|---|---|---|",
        flow_row(width, 2000.0),
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(experiment.write_report(out, lines))


if __name__ == "__main__":
    main()
