"""Wall time of `scalinglaws reproduce ID --quick` for every registered figure, each in a fresh
process and a fresh output directory (so every run is computed), and of the same command run again
(every run served from its cache), against the quick time each figure declares for
`reproduce --list` (goal: under 2 minutes on 2 CPU cores).

Usage: `python benchmarks/reproduce.py [--full] [--out benchmarks/results/reproduce.md]`
(`--full`: the full versions as well, which takes about an hour on 2 cores).
"""

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scalinglaws import experiment
from scalinglaws.reproduce import FIGURES


def timed(figure_id: str, out: Path, quick: bool) -> float:
    command = [sys.executable, "-m", "scalinglaws.cli", "reproduce", figure_id, "--out", str(out), "--quiet"]
    start = time.perf_counter()
    subprocess.run(command + (["--quick"] if quick else []), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="time the full versions too")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "reproduce.md"))
    args = parser.parse_args()
    rows = []
    for figure_id, item in FIGURES.items():
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "figures"
            quick = timed(figure_id, out, True)
            again = timed(figure_id, out, True)
            full = timed(figure_id, out, False) if args.full else None
        declared_full, declared_quick = item.seconds
        rows.append(
            f"| {figure_id} | {quick:.0f} | {declared_quick:.0f} | {again:.1f} | "
            + (f"{full:.0f}" if full is not None else "not timed")
            + f" | {declared_full:.0f} |"
        )
    lines = [
        "# `scalinglaws reproduce`: wall time per figure",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}. Measured {time.strftime('%Y-%m-%d')} with "
        f"`python benchmarks/reproduce.py{' --full' if args.full else ''}`: each figure in a fresh process and a fresh "
        "output directory (every run computed; the persistent compilation cache as the machine has it), then the "
        "same command again (every run served from its cache). Seconds of wall time, process start included.",
        "",
        "| figure | --quick (s) | declared in --list (s) | --quick again, cached (s) | full (s) | declared full (s) |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    print(experiment.write_report(Path(args.out), lines))


if __name__ == "__main__":
    main()
