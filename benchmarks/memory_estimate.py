"""The memory estimate `scalinglaws run` checks before computing, against the measured peak.

Each case is a whole `scalinglaws run` in a fresh process whose peak resident memory
(`VmHWM` of /proc/self/status) is read at its end; the estimate is `scalinglaws.experiment.estimate_memory` of the
same config. The estimate should lie above the peak (a run it lets through fits) and not far above
it (a run it refuses would not have fitted). Cases are chosen so that each part of the estimate
dominates once: the runtime alone, the Monte Carlo test set, the eigen-block recordings and theory,
random features, a wide input.

Usage: `python benchmarks/memory_estimate.py [--quick] [--out benchmarks/results/memory_estimate.md]`;
`--quick` runs the first two cases and writes nothing.
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from scalinglaws.experiment import estimate_memory, load_config


BASE = """
name = "memory"
[data]
input_dim = 32
[teacher]
hidden = 2
[student]
hidden = 2
init_std = 0.1
[training]
learning_rate = 0.5
alpha_max = 4
alpha_min = 0.1
points_per_decade = 4
seeds = 2
chunk_size = 16
"""

CASES = {
    "runtime (tiny run)": [],
    "Monte Carlo test set (1e6 x 256)": [
        "student.activation=relu",
        "teacher.activation=tanh",
        "training.test_size=1000000",
        "data.input_dim=256",
        "training.alpha_max=1",
    ],
    "eigen blocks (L = N = 1024, 8 seeds)": [
        "data.spectrum=power_law",
        "data.input_dim=1024",
        "data.distinct_eigenvalues=1024",
        "training.points_per_decade=100",
        "training.seeds=8",
        "training.alpha_max=2",
        "training.alpha_min=0.001",
    ],
    "random features (K = 2048, N = 512)": [
        "student.kind=random_features",
        "student.hidden=2048",
        "data.input_dim=512",
        "training.alpha_max=1",
    ],
    "wide input (N = 4 10^6, chunk 16)": [
        "data.input_dim=4000000",
        "training.alpha_max=0.0005",
        "training.alpha_min=0.0001",
        "theory.enabled=false",
    ],
    "wide input (N = 131072)": [
        "data.input_dim=131072",
        "training.alpha_max=0.05",
        "training.alpha_min=0.001",
        "theory.enabled=false",
    ],
}

# VmHWM, which exec resets (ru_maxrss keeps the high-water mark of the forked parent's copy).
_PEAK = """
import sys
from scalinglaws.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    print("PEAK", next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
sys.exit(code)
"""


def measure(config: Path, overrides: list[str], scratch: Path) -> int:
    """The peak resident bytes of `scalinglaws run config` with `overrides`, in a fresh process."""
    command = [sys.executable, "-c", _PEAK, "run", str(config), "--out", str(scratch / "out"), "--quiet", "--force"]
    for override in overrides:
        command += ["--set", override]
    env = dict(os.environ, XDG_CACHE_HOME=str(scratch / "cache"))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return int(done.stdout.split("PEAK")[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "memory_estimate.md"))
    cli = parser.parse_args()
    cases = list(CASES.items())[: 2 if cli.quick else None]
    lines = [
        "# Estimated against measured peak memory of `scalinglaws run`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; each run a fresh process "
        "(`benchmarks/memory_estimate.py`). MiB = 2^20 bytes.",
        "",
        "| case | largest part of the estimate | estimate | measured peak | estimate / peak |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "base.toml"
        config.write_text(BASE)
        for name, overrides in cases:
            estimate = estimate_memory(load_config(config, overrides))
            peak = measure(config, overrides, Path(scratch))
            key, what, size = estimate.largest()
            lines.append(
                f"| {name} | {what} ({key}): {size / 2**20:.0f} MiB | {estimate.total / 2**20:.0f} MiB | "
                f"{peak / 2**20:.0f} MiB | {estimate.total / peak:.2f} |"
            )
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if not cli.quick:
        Path(cli.out).write_text(text)


if __name__ == "__main__":
    main()
