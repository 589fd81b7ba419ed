"""Wall time of `scalinglaws reproduce ID --quick` for every registered figure, each in a fresh
process and a fresh output directory (so every run is computed), and of the same command run again
(every run served from its cache), against the quick time each figure declares for
`reproduce --list` (goal: under 2 minutes on 2 CPU cores).

Usage: `python benchmarks/reproduce.py [--full] [--ids ID ...] [--out benchmarks/results/reproduce.md]`
(`--full`: the full versions as well, which takes about an hour on 2 cores; `--ids`: measure only
these figures and keep the other rows of the report, each row dated).
"""

import argparse
import platform
import re
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
    parser.add_argument("--ids", nargs="+", choices=list(FIGURES), help="measure only these figures")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "reproduce.md"))
    args = parser.parse_args()
    today = time.strftime("%Y-%m-%d")
    kept = _rows(Path(args.out)) if args.ids else {}
    rows = []
    for figure_id, item in FIGURES.items():
        if args.ids and figure_id not in args.ids:
            if figure_id in kept:
                rows.append(kept[figure_id])
            continue
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "figures"
            quick = timed(figure_id, out, True)
            again = timed(figure_id, out, True)
            full = timed(figure_id, out, False) if args.full and not item.needs_gpu else None
        declared_full, declared_quick = item.seconds
        rows.append(
            f"| {figure_id} | {quick:.0f} | {declared_quick:.0f} | {again:.1f} | "
            + (f"{full:.0f}" if full is not None else "not timed")
            + f" | {declared_full:.0f} | {today} |".replace("nan", "GPU")
        )
    lines = [
        "# `scalinglaws reproduce`: wall time per figure",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}. Measured on the dates of the rows with "
        f"`python benchmarks/reproduce.py{' --full' if args.full else ''}`: each figure in a fresh process and a fresh "
        "output directory (every run computed; the persistent compilation cache as the machine has it), then the "
        "same command again (every run served from its cache). Seconds of wall time, process start included.",
        "",
        "| figure | --quick (s) | declared in --list (s) | --quick again, cached (s) | full (s) | declared full (s) "
        "| measured |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    print(experiment.write_report(Path(args.out), lines))


def _rows(report: Path) -> dict[str, str]:
    """The rows of an earlier report by figure id, dated (a report without dates: its header's)."""
    if not report.is_file():
        return {}
    text = report.read_text(encoding="utf-8")
    found = re.search(r"Measured (\d{4}-\d{2}-\d{2})", text)
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| p") and len(cells) >= 6:
            date = cells[6] if len(cells) > 6 else (found.group(1) if found else "earlier")
            rows[cells[0]] = "| " + " | ".join([*cells[:6], date]) + " |"
    return rows


if __name__ == "__main__":
    main()
