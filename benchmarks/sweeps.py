"""Sweeps that share each seed's inputs, against the same runs made one after the other.

A seed's variants (learning rates, or input spectra) train on one stream of standard normals,
rescaled per spectrum, so the sweep draws N normals per step once instead of H times. Drawing
bounds online SGD on a CPU, so the sweep should beat H separate runs by a large factor. Measured
side by side in one process (erf SCM, K = M = 2, float32, steady state, compilation apart).

Usage: `python benchmarks/sweeps.py [--quick] [--out benchmarks/results/sweeps.md]`.
"""

import argparse
import functools
import platform
from pathlib import Path

import jax
import jax.random as jr

import scalinglaws as sl
from scalinglaws.simulate import simulate


def seed_steps_per_second(data, rates, n, seeds, alpha_max) -> tuple[float, float]:
    g = sl.Erf()
    teacher = functools.partial(sl.teacher_network, n, 2, g)
    student = functools.partial(sl.student_network, n, 2, g, init_std=0.01)
    sim = simulate(
        data,
        lambda k: teacher(key=k),
        lambda k: student(key=k),
        learning_rates=rates,
        seeds=seeds,
        alpha_max=alpha_max,
        chunk_size=32,
        key=jr.key(0),
    )
    variants = sim.eps_g.shape[0]
    return variants * seeds * sim.steps[-1] / sim.run_seconds, sim.run_seconds


def main():
    sl.configure()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/sweeps.md")
    cli = parser.parse_args()
    n, seeds = 1024, 8
    alpha_max = 20.0 if cli.quick else 100.0
    blocks = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    rates = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    spectra = [sl.power_law(n, 1.0, b) for b in blocks]
    rows = []
    cases = (
        ("9 spectra (L = 1 ... 256), eta = 0.1", list(zip(spectra, [0.1] * len(spectra))), (spectra, 0.1)),
        ("9 learning rates, L = 256", [(spectra[-1], r) for r in rates], (spectra[-1], rates)),
    )
    for name, singles, sweep in cases:
        separate_seconds = sum(seed_steps_per_second(d, r, n, seeds, alpha_max)[1] for d, r in singles)
        rate, seconds = seed_steps_per_second(*sweep, n, seeds, alpha_max)
        separate_rate = len(singles) * seeds * round(n * alpha_max) / separate_seconds
        rows.append((name, separate_rate, separate_seconds, rate, seconds))
    device = jax.devices()[0]
    lines = [
        "# Sweeps sharing each seed's inputs (erf SCM, K = M = 2, N = 1024, 8 seeds)",
        "",
        f"Machine: {platform.machine()}, {jax.device_count()} x {device.device_kind} ({device.platform}), "
        f"jax {jax.__version__}. alpha_max = {alpha_max:g}, chunk 32, steady state (compilation apart).",
        "",
        "| sweep | separate runs (seed-steps/s) | time | one sweep (seed-steps/s) | time | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for name, sep_rate, sep_s, rate, s in rows:
        lines.append(f"| {name} | {sep_rate:,.0f} | {sep_s:.1f} s | {rate:,.0f} | {s:.1f} s | {sep_s / s:.1f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not cli.quick:
        Path(cli.out).write_text(text)


if __name__ == "__main__":
    main()
