"""Cold against warm processes: what JAX's persistent compilation cache saves a rerun.

Runs `scalinglaws run CONFIG` as a fresh process, first with an empty compilation cache (cold),
then again with the cache the first run filled (warm), each into a new output directory, and
reads the compile time and the cache's hits and misses from the runs' `summary.json`. Wall time
is the whole process, imports included. Cases: the quickstart theory alone (`training.seeds = 0`),
and the quickstart with its simulation.

Usage: `python benchmarks/warm_rerun.py [--repeats 3] [--out benchmarks/results/warm_rerun.md]`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax

from scalinglaws.experiment import write_report


THEORY_ALONE = ["--set", "training.seeds=0"]
# name: (extra arguments, extra environment). EQX_ON_ERROR=nan makes equinox's runtime checks return
# NaN instead of raising through a host callback, and XLA executables with host callbacks are never
# written to the persistent cache: the theory's solve becomes cacheable.
CASES = {
    "quickstart, theory alone": (THEORY_ALONE, {}),
    "quickstart, theory alone, EQX_ON_ERROR=nan": (THEORY_ALONE, {"EQX_ON_ERROR": "nan"}),
    "quickstart with simulation": ([], {}),
}


def run(cache: Path, out: Path, extra: list[str], environment: dict) -> tuple[float, dict]:
    """(process wall seconds, summary.json) of one `scalinglaws run quickstart`."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), **environment}
    command = [sys.executable, "-m", "scalinglaws.cli", "run", "quickstart", "--out", str(out), "--quiet", *extra]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    return wall, json.loads((out / "summary.json").read_text())


def import_seconds() -> float:
    """Wall seconds of a process that only imports the command's modules and exits."""
    start = time.perf_counter()
    code = "import scalinglaws.cli, scalinglaws.experiment, scalinglaws.theory"
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "warm_rerun.md"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, (name, (extra, environment)) in enumerate(CASES.items()):
            colds, warms = [], []
            for repeat in range(args.repeats):
                cache = Path(tmp) / f"cache-{case}-{repeat}"
                colds.append(run(cache, Path(tmp) / f"cold-{case}-{repeat}", extra, environment))
                warms.append(run(cache, Path(tmp) / f"warm-{case}-{repeat}", extra, environment))
                print(name, colds[-1][0], warms[-1][0], flush=True)
            rows.append((name, colds, warms))
        imports = statistics.median(import_seconds() for _ in range(args.repeats))

    def median(runs, get):
        return statistics.median(get(r) for r in runs)

    lines = [
        "# Cold against warm reruns (JAX's persistent compilation cache)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}. Measured "
        f"{time.strftime('%Y-%m-%d')} with `python benchmarks/warm_rerun.py --repeats {args.repeats}` "
        "(medians over the repeats).",
        "",
        "Each case is a fresh `scalinglaws run quickstart` process into a new directory: cold with an "
        "empty cache directory, warm with the cache the cold run filled. Wall: the whole process, "
        "imports included; compile: tracing, lowering and XLA compilation or cache retrieval "
        "(`summary.json`'s `compile_seconds`); hits and misses: the persistent cache's lookups.",
        "",
        "| case | cold wall (s) | warm wall (s) | cold compile (s) | warm compile (s) | warm hits / misses "
        "| warm XLA compile (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, colds, warms in rows:
        wall = median(colds, lambda r: r[0]), median(warms, lambda r: r[0])
        compile_ = median(colds, lambda r: r[1]["compile_seconds"]), median(warms, lambda r: r[1]["compile_seconds"])
        hits = median(warms, lambda r: r[1]["compilation"]["cache_hits"])
        misses = median(warms, lambda r: r[1]["compilation"]["cache_misses"])
        backend = median(warms, lambda r: r[1]["compilation"]["backend_seconds"])
        lines.append(
            f"| {name} | {wall[0]:.2f} | {wall[1]:.2f} | {compile_[0]:.2f} | {compile_[1]:.2f} | {hits:.0f} / "
            f"{misses:.0f} | {backend:.2f} |"
        )
    lines += [
        "",
        f"A process that only imports the command's modules takes {imports:.2f} s. JAX counts a miss when it "
        "writes an entry: an executable that holds a host callback is never written, so it is neither a hit "
        "nor a miss and is compiled in every process. The theory's diffrax solve is one: equinox's runtime "
        "checks (`eqx.error_if`, e.g. diffrax's check of the save times) run as host callbacks unless "
        "`EQX_ON_ERROR=nan`, with which the warm solve is fetched from the cache; what remains of a warm "
        "run is the imports and tracing the Python functions, which no cache keeps.",
        "",
    ]
    print(write_report(args.out, lines))


if __name__ == "__main__":
    main()
