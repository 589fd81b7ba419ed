"""A whole `scalinglaws run` with the CPU shown as one device, against the same run with the CPU
shown as D devices (`--cpu-devices`), which splits the seeds over D threads (the theory's lanes stay
on one CPU device: its adaptive loop would make a collective per step, on which XLA's CPU runtime
deadlocked; `scalinglaws._sharding`).

Each run is a fresh process with an empty compilation cache, so compilation is counted alike; the
runs alternate between the device counts. Timings are those the run writes to `summary.json`:
simulation (steady state), its compilation, the theory (compilation included), and the whole run.

Usage: `python benchmarks/cpu_devices.py [--config p1_fig1] [--devices 2] [--repeats 1] [--quick]
[--out benchmarks/results/cpu_devices.md]`. `--quick` runs to alpha = 50 and writes nothing.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(config: str, devices: int, overrides: list[str], scratch: Path) -> dict:
    out = scratch / f"run-{devices}-{time.monotonic_ns()}"
    env = dict(os.environ, XDG_CACHE_HOME=str(out.with_suffix(".cache")))
    env.pop("XLA_FLAGS", None)
    command = [sys.executable, "-m", "scalinglaws.cli", "run", config, "--out", str(out), "--quiet"]
    command += ["--cpu-devices", str(devices)]
    for override in overrides:
        command += ["--set", override]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text())
    summary["process_seconds"] = time.perf_counter() - start
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="p1_fig1")
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/cpu_devices.md")
    cli = parser.parse_args()
    overrides = ["training.alpha_max=50"] if cli.quick else []
    counts = (1, cli.devices)
    results = {count: [] for count in counts}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(cli.repeats):
            for count in counts:
                results[count].append(run_once(cli.config, count, overrides, Path(scratch)))
    columns = ("simulation_seconds", "compile_seconds", "theory_seconds", "total_seconds", "process_seconds")

    def best(count, key):
        return min(s[key] for s in results[count])

    first = results[counts[0]][0]
    lines = [
        f"# `scalinglaws run {cli.config}` on 1 against {cli.devices} CPU devices",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, jax {first['versions'].get('jax', '?')}. "
        f"{first['seeds']} seeds x {len(first['variants'])} variants{' (quick: alpha_max = 50)' if cli.quick else ''}; "
        f"best of {cli.repeats}, fresh process and compilation cache each.",
        "",
        "| devices | simulation | seed-steps/s | sim. compile | theory (with compile) | run | process |",
        "|---|---|---|---|---|---|---|",
    ]
    for count in counts:
        sim, compile_, theory, total, process = (best(count, key) for key in columns)
        rate = max(s["seed_steps_per_second"] for s in results[count])
        seconds = " | ".join(f"{x:.1f} s" for x in (compile_, theory, total, process))
        lines.append(f"| {count} | {sim:.1f} s | {rate:,.0f} | {seconds} |")
    speedups = ", ".join(
        f"{key.removesuffix('_seconds')} {best(counts[0], key) / best(counts[1], key):.2f}x"
        for key in ("simulation_seconds", "theory_seconds", "process_seconds")
    )
    lines += ["", f"Speed-up from {cli.devices} devices: {speedups}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not cli.quick:
        Path(cli.out).write_text(text)


if __name__ == "__main__":
    main()
