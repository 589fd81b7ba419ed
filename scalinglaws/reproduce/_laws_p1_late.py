"""The late (specialised) phase of Worschech & Rosenow, arXiv 2410.09005 (P1) in the laws table.

After an erf K = M = 2 student has specialised, its error on power-law data (`lambda_l ∝
l^-(1+beta)`, L distinct eigenvalues) falls as a power law in alpha until the smallest eigenvalue's
exponential cut-off; the paper states that the convergence becomes a power law for large L, and its
exponent is not in our digest of the paper. The conjecture tested here: the linear student's law
`alpha^-beta/(1+beta)`, since near the specialised fixed point the dynamics are linear, mode by mode.

Measured: the log-log slope of the eigen-block ODE's eps_g (the `p1_fig1` setting: eta = 0.1,
sigma_J = 0.01, N = L) on the window from `alpha = 10^3` (after specialisation, which ends near
alpha = 10^2 ... 10^3 at every L here) to `0.01 / (eta lambda_L)` (a factor 100 before the cut-off of
the smallest eigenvalue), for beta = 2 at L = 256, 1024, 2048 (quick: 128); the
simulation: online SGD at N = L = 256 (8 seeds; none in the quick version: 4 10^6 steps a seed) on
the same window. For beta = 1 and 1/2 the cut-off comes first: `0.01 / (eta lambda_L)` is about
0.16 L and 0.26 sqrt(L), below 10^3 for every L a CPU solves, so they have no window here: their
rows say so, with the L at which the window would span a decade.
"""

import numpy as np
from scipy.special import zeta

from .._data import power_law
from .._results import ResultArrays
from ._figure import Runs
from ._laws import LawRow, law, simulated_exponent, window_exponent


PAPER = "P1 (arXiv 2410.09005)"
_BETA = 2.0
_START = 1e3


def late_window(eigenvalues, learning_rate: float = 0.1) -> tuple[float, float]:
    """From `alpha = 10^3` to `0.01 / (eta lambda_L)`."""
    return _START, 0.01 / (learning_rate * float(np.min(eigenvalues)))


def _run(runs: Runs, blocks: int, seeds: int, alpha_max: float) -> ResultArrays:
    return runs(
        "p1_fig1",
        f"law-late-L{blocks}" + ("-sim" if seeds else ""),
        f"data.input_dim={blocks}",
        f"data.distinct_eigenvalues={blocks}",
        f"data.exponent={_BETA}",
        f"training.alpha_max={alpha_max:.6g}",
        "training.points_per_decade=20",
        f"training.seeds={seeds}",
    ).arrays


def late_exponent(runs: Runs, blocks: int) -> tuple[float, tuple[float, float]]:
    """The eigen-block ODE's log-log slope on `late_window` at L = N = `blocks`, and the window."""
    window = late_window(power_law(blocks, _BETA).eigenvalues)
    arrays = _run(runs, blocks, 0, 2 * window[1])
    alpha = np.asarray(arrays["alpha"], np.float64)
    return window_exponent(alpha, np.asarray(arrays["eps_g_theory"], np.float64).reshape(-1), window), window


@law
def late_phase(runs: Runs, quick: bool) -> list[LawRow]:
    sizes = (128,) if quick else (256, 1024, 2048)
    theory, windows = zip(*(late_exponent(runs, blocks) for blocks in sizes))
    measured, seeds = None, 0
    if not quick:  # online SGD up to alpha = 1.6 10^4 at N = 256: 4 10^6 steps a seed
        sim = _run(runs, sizes[0], 8, 2 * windows[0][1])
        seeds = np.shape(sim["eps_g_sim"])[0]
        alpha = np.asarray(sim["alpha"], np.float64)
        measured = simulated_exponent(alpha, sim["eps_g_sim"], windows[0], f"L = {sizes[0]}")
    spans = ", ".join(f"[{low:.0e}, {high:.1e}]" for low, high in windows)
    return _without_window(sizes) + [
        LawRow(
            paper=PAPER,
            law=f"erf K = M = 2, beta = {_BETA:g}, specialised phase: eps_g ∝ alpha^-beta/(1+beta)",
            quantity="b in eps_g ∝ alpha^-b",
            expected=_BETA / (1 + _BETA),
            source="the linear student's beta/(1+beta), conjectured",
            sizes=tuple(f"L = {size}" for size in sizes),
            theory=tuple(theory),
            simulation=measured,
            window="alpha in [10^3, 0.01/(eta lambda_L)]; the log-log slope",
            note=(
                f"the eigen-block ODE at N = L, eta = 0.1, sigma_J = 0.01 (theory; windows {spans}); "
                + (
                    f"online SGD at N = L = {sizes[0]}, {seeds} seeds"
                    if seeds
                    else "no simulation in the quick version"
                )
                + ". The pure slope: the offset form "
                "A alpha^-b + C is unstable here, the curve's end being the exponential cut-off rather than a "
                "constant. For beta = 1 and 1/2 the smallest eigenvalue's cut-off comes before the specialisation "
                "ends at every L a CPU solves: no window"
            ),
        )
    ]


def _without_window(sizes) -> list[LawRow]:
    """The rows of beta = 1/2 and 1, whose window `[10^3, 0.01 / (eta lambda_L)]` is empty at every
    L of `sizes` (its end, and the L at which it would reach a decade)."""
    rows = []
    for beta in (0.5, 1.0):
        ends = [late_window(power_law(blocks, beta).eigenvalues)[1] for blocks in sizes]
        # Under the trace normalisation lambda_L -> L^-beta / zeta(1 + beta): the end (eta = 0.1) grows as L^beta.
        blocks = (10 * _START * 0.1 / (0.01 * zeta(1 + beta))) ** (1 / beta)
        rows.append(
            LawRow(
                paper=PAPER,
                law=f"erf K = M = 2, beta = {beta:g}, specialised phase: eps_g ∝ alpha^-beta/(1+beta)",
                quantity="b in eps_g ∝ alpha^-b",
                expected=beta / (1 + beta),
                source="the linear student's beta/(1+beta), conjectured",
                sizes=tuple(f"L = {size}" for size in sizes),
                theory=tuple(float("nan") for _ in sizes),
                simulation=None,
                window="alpha in [10^3, 0.01/(eta lambda_L)]",
                note=(
                    "the window's end 0.01/(eta lambda_L) is "
                    + ", ".join(f"{end:.3g}" for end in ends)
                    + f" at these L, before the specialisation ends near alpha = 10^3: the smallest eigenvalue's "
                    f"cut-off comes first. The end grows as L^beta and would reach 10^4 near L = {blocks:.2g} "
                    "(N = L), beyond what a CPU solves"
                ),
            )
        )
    return rows
