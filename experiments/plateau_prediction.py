"""The plateau's escape predicted by matched asymptotics against the ODE's own escape, on a grid.

Erf soft committee machines with K = M in {2, 3, 4}, summed outputs, a symmetric teacher
(orthonormal rows within every eigenvalue block), sigma_J = 0.01, N = 1024, one draw of the
initial weights (seed 0's, `training.seeds = 0`), learning rates eta in {0.05, 0.1, 0.3, 0.5, 1},
isotropic inputs and power-law inputs (beta = 1, trace normalisation) with L in {1, 2, 4, ..., 64}
distinct eigenvalues. Each K is two runs of `scalinglaws`' own path (isotropic; power law with the
learning rates and the L as variants): the theory writes summary.json's `plateau` record, which
`scalinglaws.theory.plateau(setup)` returns; this script reads that record.

The escape: the first alpha after eps_g <= 1.1 x the plateau's height at which eps_g < height / 2,
interpolated between the theory's grid points (200 per decade). Predicted: `predict_escape`,
`tau(Ahat) - ln|A| / mu`; naive: ln(1 / S_0) / mu. Where the prediction's validity condition fails,
the table says why instead.

Usage: `python experiments/plateau_prediction.py [--quick]` (`--quick`: K = 2 only); writes
`experiments/results/plateau_prediction.md`. About 25 minutes on 2 CPU cores.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import scalinglaws
from scalinglaws.experiment import build_setup, load_config
from scalinglaws.theory import plateau


ETAS = (0.05, 0.1, 0.3, 0.5, 1.0)
BLOCKS = (1, 2, 4, 8, 16, 32, 64)
OUT = Path("experiments/results/plateau_prediction.md")

CONFIG = """
name = "plateau-prediction"
[data]
input_dim = 1024
{data}
[teacher]
hidden = {k}
activation = "erf"
init = "block_orthonormal"
[student]
hidden = {k}
activation = "erf"
init_std = 0.01
[training]
learning_rate = {etas}
alpha_max = 20000
alpha_min = 0.01
points_per_decade = 200
seeds = 0
"""


def _record(k: int, power_law: bool) -> tuple[dict, object]:
    data = f'spectrum = "power_law"\nexponent = 1.0\ndistinct_eigenvalues = {list(BLOCKS)}' if power_law else ""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plateau.toml"
        path.write_text(CONFIG.format(data=data, k=k, etas=list(ETAS)))
        setup = build_setup(load_config(path))
    return plateau(setup), setup


def _rows(k: int, power_law: bool) -> list[dict]:
    record, setup = _record(k, power_law)
    rows = []
    for h, label in enumerate(setup.variants.labels):
        theory = record["escape_alpha_theory"][h][0]
        predicted = record["escape_alpha_predicted"][h][0]
        rows.append(
            {
                "k": k,
                "eta": float(setup.variants.learning_rates[h]),
                "blocks": int(setup.variants.spectra[h].distinct) if power_law else 0,
                "height": record["height"][h],
                "rate": record["escape_rate"][h],
                "theory": theory,
                "predicted": predicted,
                "naive": record["escape_alpha_naive"][h][0],
                "excess": record["excess"][h][0],
                "reason": record["no_prediction"][h][0],
                "label": label,
            }
        )
    return rows


def _percent(x: float, reference: float) -> str:
    return f"{100 * (x / reference - 1):+.2f} %" if np.isfinite(x) and np.isfinite(reference) else "–"


def _report(rows: list[dict], seconds: float, quick: bool) -> str:
    valid = [r for r in rows if np.isfinite(r["predicted"]) and np.isfinite(r["theory"])]
    errors = np.array([abs(r["predicted"] / r["theory"] - 1) for r in valid])
    finite = [r for r in rows if np.isfinite(r["naive"]) and np.isfinite(r["theory"])]
    naive = np.array([abs(r["naive"] / r["theory"] - 1) for r in finite])
    lines = [
        "# The plateau's escape: matched asymptotics against the ODE's own escape",
        "",
        f"Made {time.strftime('%Y-%m-%d')} by `python experiments/plateau_prediction.py{' --quick' if quick else ''}` "
        f"in {seconds:.0f} s. Erf K = M, summed outputs, symmetric teacher, sigma_J = 0.01, N = 1024, one draw of "
        "the initial weights; isotropic inputs (L = iso) or beta = 1 power-law inputs with L distinct eigenvalues.",
        "",
        f"**{len(valid)} of {len(rows)} cells predicted; largest |error| {100 * errors.max():.2f} %, median "
        f"{100 * np.median(errors):.3f} %.** The naive ln(1 / S_0) / mu: largest |error| {100 * naive.max():.0f} %, "
        f"median {100 * np.median(naive):.1f} % (all cells). The other cells fail a validity condition, stated.",
        "",
        "| K = M | eta | L | plateau eps_g | mu | escape (ODE) | predicted | error | naive error | "
        "no prediction because |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        blocks = "iso" if r["blocks"] == 0 else str(r["blocks"])
        lines.append(
            f"| {r['k']} | {r['eta']:g} | {blocks} | {r['height']:.5g} | {r['rate']:.4g} | {r['theory']:.1f} | "
            f"{r['predicted']:.1f} | {_percent(r['predicted'], r['theory'])} | {_percent(r['naive'], r['theory'])} | "
            f"{r['reason'] or ''} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    scalinglaws.configure()
    start = time.perf_counter()
    rows = []
    for k in (2,) if options.quick else (2, 3, 4):
        for power_law in (False, True):
            rows.extend(_rows(k, power_law))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(_report(rows, time.perf_counter() - start, options.quick))


if __name__ == "__main__":
    main()
