"""The plateau laws of Worschech & Rosenow, arXiv 2410.09005 (P1) in the laws table: the length of
the symmetric plateau against the number L of distinct eigenvalues and the width K = M.

The paper gives the length as a formula in L, K and beta that our digest of it lacks; its content,
reconstructed in `reproduce p1-plateau`, is `length ∝ M^2 / L` (erf, outputs scaled by 1/sqrt(M)).
The mechanism: the plateau ends when the specialisation, growing at the escape rate `mu` of the
symmetric fixed point, reaches O(1), and `mu ∝ eta lambda_1 / M^2` (`mu M^2 / lambda_1` = 0.009 …
0.016 over M = 2 … 10 and L = 1 … 64), with `lambda_1 = L / sum_l l^-(1+beta)` growing as L under
the trace normalisation. So `length ≈ ln(A_escape / A_0) / mu`, both laws up to how the logarithm
and the start of the plateau change with L and M.

**Against L, the size being M.** The plateau is flat only while the symmetric state settles before
it escapes; it settles at the rate of the smallest block, `∝ lambda_L = lambda_1 L^-(1+beta)`, so the
plateau vanishes once L reaches a few M (measured in `p1-plateau`: flat up to L = 8, 16, 32 at
M = 2, 4, 8). The law `length ∝ L^-1` can therefore only hold for `1 << L << M`: for each M the
exponent is fitted over `L in [M/2, 4M]` (the flat range); it rises with M (0.75, 0.78, 0.89 at
M = 2, 4, 8), short of 1 at the widths a CPU solves.

**Against M, at L = 1** (isotropic inputs): the length's time scale `1/mu`, whose local exponent
between neighbouring widths M = 2 … 32 is deterministic; the length's own exponent between
neighbouring widths varies from seed to seed by more than the tolerance (`ln(1 / A_0)` is random).

Theory: the eigen-block ODE (N = 1024, eta = 0.1, beta = 1, sigma_J = 0.01, `p1_plateau`), one lane
per seed's initial state (one draw at the two largest widths of the L law); simulation: the exact
reduced chain at the same N and seeds. Length: `plateau_interval` (from eps_g <= 1.1 x the plateau's
height to eps_g < height / 2). Quick: N = 256, M = 2 over L = 1, 2, 4, one draw, no simulation;
1/mu at M = 2, 4.
"""

import numpy as np

from ..theory import plateau_interval
from ._figure import Runs
from ._laws import LawRow, law, simulated_exponent, window_exponent
from ._p1_plateau import symmetric_plateau


PAPER = "P1 (arXiv 2410.09005)"
# The longest plateau of each width at its smallest L, with room (escapes measured at N = 1024 in
# `p1-plateau` and over eight seeds here: M = 2: 2860, M = 4: 11000, M = 8: 13700 at L = 4,
# 27600 at L = 1).
_ALPHA_MAX = {2: 4000, 4: 16000, 8: 24000}
_RATE = 0.1


def _plateaus(widths) -> dict[str, list]:
    heights, rates = zip(*(symmetric_plateau(k, _RATE) for k in widths))
    return {"height": list(heights), "mu": list(rates)}


def plateau_lengths(arrays, height: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The lengths of the plateau of `height` in the arrays of a `p1_plateau` run, (L variants,
    lanes) for the theory and (L variants, seeds) for the simulation (None without one); NaN where
    the curve does not escape."""
    alpha = arrays["alpha"]

    def lengths(curves) -> np.ndarray:
        out = np.full(curves.shape[:2], np.nan)
        for h, lanes in enumerate(curves):
            for s, eps in enumerate(lanes):
                start, escape = plateau_interval(alpha, eps, height)
                out[h, s] = escape - start
        return out

    sim = arrays.get("eps_g_sim")
    return lengths(arrays["eps_g_theory"]), None if sim is None else lengths(sim)


def _run(runs: Runs, tag: str, width: int, blocks, seeds: int, quick: bool):
    """A `p1_plateau` run at K = M = `width` over the L of `blocks` (`seeds` = 0: the theory alone,
    one draw)."""
    listed = "data.distinct_eigenvalues=[" + ", ".join(map(str, blocks)) + "]"
    return runs(
        "p1_plateau",
        tag,
        f"teacher.hidden={width}",
        f"student.hidden={width}",
        listed,
        f"training.alpha_max={_ALPHA_MAX[width]}",
        f"training.seeds={seeds}",
        "training.method='reduced'",
        *(("data.input_dim=256", "theory.plateau=false") if quick else ()),
    )


def _missing(name: str, lengths: np.ndarray) -> str:
    return (
        f"; {name}: {int(np.isnan(lengths).sum())} of {lengths.size} curves do not escape"
        if np.isnan(lengths).any()
        else ""
    )


@law
def plateau_length(runs: Runs, quick: bool) -> list[LawRow]:
    widths = (2,) if quick else (2, 4, 8)
    seeds = {2: 0 if quick else 8}  # the simulation at M = 2 (none quick); one draw of the theory elsewhere
    exponents, simulation, missing, predicted = [], None, "", ""
    every = (2, 4) if quick else (2, 4, 8, 16, 32)  # the widths of the M law, the L law's among them
    plateaus = runs.analysis("law-p1-plateaus", {"widths": list(every)}, lambda: _plateaus(every))
    for width in widths:
        height = plateaus["height"][every.index(width)]
        blocks = [b for b in (1, 2, 4, 8, 16, 32) if width / 2 <= b <= (2 if quick else 4) * width]
        results = _run(runs, f"law-l-m{width}", width, blocks, seeds.get(width, 0), quick)
        theory, sim = plateau_lengths(results.arrays, height)
        exponents.append(window_exponent(blocks, np.nanmean(theory, 1), (blocks[0], blocks[-1])))
        missing += _missing(f"M = {width}", theory)
        if sim is not None:
            window = (float(blocks[0]), float(blocks[-1]))
            simulation = simulated_exponent(blocks, sim.T, window, f"M = {width}")
            missing += _missing(f"the simulation at M = {width}", sim)
            errors = np.asarray(results.summary.get("plateau", {}).get("predicted_over_theory", np.nan), dtype=float)
            if np.isfinite(errors).any():
                predicted = (
                    f" At M = 2 the matched prediction (`theory.predict_escape`) gives every seed's escape within "
                    f"{np.nanmax(np.abs(errors)):.1%} of the ODE's."
                )
    rows = [
        LawRow(
            paper=PAPER,
            law="plateau length ∝ M²/L, against L (erf K = M, beta = 1)",
            quantity="b in length ∝ L^-b",
            expected=1.0,
            source="length ∝ M²/L, reconstructed (p1-plateau)",
            sizes=tuple(f"M = {w}" for w in widths),
            theory=tuple(exponents),
            simulation=simulation,
            window=(
                f"L in [M/2, {2 if quick else 4}M] (where the plateau is flat), L a power of 2; the log-log slope "
                "of the mean length"
            ),
            note=(
                (
                    "the eigen-block ODE (N = 256, eta = 0.1, sigma_J = 0.01, one draw); no simulation in the quick "
                    "version. "
                    if quick
                    else "the eigen-block ODE (N = 1024, eta = 0.1, sigma_J = 0.01; the mean over 8 seeds' initial "
                    "states at M = 2, one draw at the larger M) and the exact reduced chain (8 seeds). "
                )
                + "The escape rate grows as "
                "lambda_1 ∝ L, but the start of the plateau moves later and the log of the escape amplitude "
                "changes with L: the exponent rises with M, as the flat range 1 << L << M opens, and stays below 1 "
                f"at the widths a CPU solves.{predicted}{missing}"
            ),
        )
    ]
    return rows + _against_width(every, np.asarray(plateaus["mu"]))


def _against_width(widths, mu: np.ndarray) -> list[LawRow]:
    m = np.log(np.asarray(widths, np.float64))
    local = -np.diff(np.log(mu)) / np.diff(m)
    scaled = mu * np.asarray(widths, np.float64) ** 2
    steps = np.diff(scaled) / np.diff(np.log2(widths))
    return [
        LawRow(
            paper=PAPER,
            law="plateau length ∝ M²/L, against M = K: its time scale 1/mu (L = 1, 1/sqrt(M) outputs)",
            quantity="b in 1/mu ∝ M^b",
            expected=2.0,
            source="length ∝ M²/L, reconstructed (p1-plateau)",
            sizes=tuple(f"M = {a}–{b}" for a, b in zip(widths, widths[1:])),
            theory=tuple(float(x) for x in local),
            simulation=None,
            window="the local exponent between neighbouring widths; mu of the ODE linearised at the plateau",
            note=(
                f"mu M² = {', '.join(f'{x:.4f}' for x in scaled)} at M = {', '.join(map(str, widths))}: it grows by "
                f"{steps.min():.4f} … {steps.max():.4f} per doubling of M, without levelling off, so 1/mu ∝ M² up to "
                "a factor about logarithmic in M. The length itself "
                "adds ln(A_escape / A_0) / mu, and the initial specialisation A_0 changes with M too: over one draw "
                "per M at L = 1 the length grows as M^1.80 over M = 2 … 10 (p1-plateau). No simulation: the "
                "length's exponent between neighbouring widths varies by more than the tolerance from seed to seed "
                "(ln(1/A_0) is random), and the simulation's escape follows the ODE's seed by seed (the L row)"
            ),
        )
    ]
