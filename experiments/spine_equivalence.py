"""Every shipped config gives the numbers it gave before the spine redesign (issue 14).

Runs each config of `configs/` (shortened: 2 seeds, alpha up to 2, five points a decade) with this
tree and with a checkout of the commit before the redesign, and compares the arrays: simulations
must be bit-identical, theories equal to 1e-9 relative.

    git worktree add /tmp/before f1d6f60
    python experiments/spine_equivalence.py --before /tmp/before

Writes `experiments/results/spine_equivalence.md`.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


ROOT = Path(__file__).resolve().parent.parent
OVERRIDES = ["training.seeds=2", "training.alpha_max=2", "training.alpha_min=0.1", "training.points_per_decade=5"]
RUNNER = """
import sys, tomllib, pathlib, numpy as np, jax
jax.config.update("jax_num_cpu_devices", 2)
import scalinglaws as sl
if hasattr(sl, "configure"):  # the redesign; before it, importing the package enabled float64
    sl.configure()
from scalinglaws.experiment import resolve, run_experiment
out = pathlib.Path(sys.argv[1])
for path in sorted(pathlib.Path(sys.argv[2]).glob("*.toml")):
    results = run_experiment(resolve(tomllib.loads(path.read_text()), sys.argv[3:]))
    np.savez(out / f"{path.stem}.npz", **results.arrays)
"""
THEORY = ("theory", "critical_learning_rate", "eps_g_asymptote", "eps_g_stationary", "eps_g_large_n")


def _run(tree: Path, out: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, "-c", RUNNER, str(out), str(ROOT / "configs"), *OVERRIDES]
    subprocess.run(command, check=True, env=env, cwd=out)  # cwd: not the source tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a checkout of the commit before the redesign")
    args = parser.parse_args()
    lines = [
        "# Shipped configs before and after the spine redesign",
        "",
        f"`python experiments/spine_equivalence.py --before <checkout>`; overrides: {', '.join(OVERRIDES)}.",
        "",
        "| config | simulation arrays bit-identical | theory: largest relative difference |",
        "|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as before, tempfile.TemporaryDirectory() as after:
        _run(Path(args.before), Path(before))
        _run(ROOT, Path(after))
        for path in sorted(Path(before).glob("*.npz")):
            a, b = np.load(path), np.load(Path(after) / path.name)
            if sorted(a.files) != sorted(b.files):
                raise SystemExit(f"{path.stem}: arrays differ: {sorted(set(a.files) ^ set(b.files))}")
            identical, relative = True, 0.0
            for key in a.files:
                x, y = a[key], b[key]
                if key.startswith(THEORY) or "theory" in key:
                    finite = np.isfinite(x)
                    if not np.array_equal(finite, np.isfinite(y)):
                        raise SystemExit(f"{path.stem}: {key}: finite entries differ")
                    gap = np.abs(x[finite] - y[finite]) / np.maximum(np.abs(x[finite]), 1e-300)
                    relative = max(relative, float(gap.max(initial=0.0)))
                else:
                    identical &= bool(np.array_equal(x, y, equal_nan=True))
            lines.append(f"| {path.stem} | {'yes' if identical else 'NO'} | {relative:.1e} |")
    report = ROOT / "experiments" / "results" / "spine_equivalence.md"
    report.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
