"""Kramp, Lindner & Helias (arXiv 2602.23039), kernel regression with power-law eigenvalues trained
by gradient flow and Langevin dynamics: the four figures (`scalinglaws reproduce p5-fig1` …
`p5-fig4`, whose conventions `scalinglaws.reproduce._p5` states) in one report and one image.

(1) Fig. 1: the mode-resolved mean discrepancy (wbar_i - <w_i(t)>) / wbar_i under gradient flow for
    modes i = 1, 3, 10, 30, 100.
(2) Fig. 2: eps_g(t) for beta = 10^4, 50, 10.
(3) Fig. 3: bias and variance at beta = 10.
(4) Fig. 4: early stopping against the regularisation: t* and eps_g(t*) for kappa = 0 ... 0.1 at
    beta = 10, with the late-time error.

Simulation: the exact average over teacher and thermal noise for each of 10^5 data draws, as many as
the paper's realisations (10^3 with `--quick`); theory: the DMFT.

Usage: `python experiments/p5_dmft.py [--quick]` (`--quick`: nothing written); runs are cached
under `runs/p5/full/` (about 25 minutes on 2 CPU cores) or `runs/p5/quick/`; writes
`experiments/results/p5_dmft.md` and `.png`.
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import scalinglaws as sl
from scalinglaws import experiment
from scalinglaws.reproduce import FIGURES, Runs
from scalinglaws.reproduce._p5 import CONVENTIONS


RUNS = Path("runs/p5")
IDS = ("p5-fig1", "p5-fig2", "p5-fig3", "p5-fig4")


def pixels(figure) -> np.ndarray:
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    sl.configure()
    runs = Runs(RUNS, quick)
    lines = [
        "# Kramp, Lindner & Helias (arXiv 2602.23039): kernel regression, DMFT against exact draws",
        "",
        f"`experiments/p5_dmft.py` (the figures of `scalinglaws reproduce p5-fig1` … `p5-fig4`). {CONVENTIONS} "
        f"{'10^3' if quick else '10^5'} data draws (the paper: 10^5 sampled realisations); solid lines simulation, "
        "dashed the DMFT.",
    ]
    composite = Figure(figsize=(12, 9), layout="constrained")
    for axis, figure_id in zip(composite.subplots(2, 2).ravel(), IDS, strict=True):
        item = FIGURES[figure_id]
        drawn = item.draw(runs, quick=quick)
        lines += ["", f"## {figure_id}: {item.caption}", "", *drawn.lines[2:]]  # the conventions are stated once
        axis.imshow(pixels(drawn.figure))
        axis.set_axis_off()
        axis.set_title(figure_id, fontsize=9)
    text = "\n".join(lines) + "\n"
    if quick:
        print(text)
        return
    print(experiment.write_report(Path(__file__).parent / "results" / "p5_dmft.md", lines, composite))


if __name__ == "__main__":
    main()
