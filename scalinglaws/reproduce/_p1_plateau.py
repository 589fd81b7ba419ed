"""Worschech & Rosenow, arXiv:2410.09005: the plateau's length against the number L of distinct
eigenvalues and the width M = K, and the output convention under which the paper's law holds."""

from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from .._activations import Erf
from ..fit import FitError, fit_curve
from ..theory import (
    BlockArgs,
    EigenBlockODE,
    SCMArgs,
    SoftCommitteeODE,
    escape_rate,
    local_exponent,
    specialisation,
    symmetric_fixed_point,
)
from ._common import new_figure
from ._figure import AbstractFigure, Drawn, Runs
from ._registry import register


PAPER = "Worschech & Rosenow, arXiv:2410.09005"
OUTPUTS = ("sqrt", "sum", "mean")  # 1/sqrt(M) (the config's), summed, 1/M


def _crossing(alpha: np.ndarray, eps: np.ndarray, level: float, after: int = 0) -> tuple[float, int]:
    """The first alpha (grid index >= `after`) at which eps_g falls to `level`, interpolated linearly
    in log alpha and log eps_g between the grid points around it, and the index of the point after it;
    (NaN, -1) when it does not within the grid."""
    below = np.flatnonzero((np.arange(eps.size) >= max(after, 1)) & (eps <= level))
    if below.size == 0:
        return float("nan"), -1
    i = int(below[0])
    if eps[i - 1] <= level or i == 1:
        return float(alpha[i]), i
    x0, x1, y0, y1 = np.log(alpha[i - 1]), np.log(alpha[i]), np.log(eps[i - 1]), np.log(eps[i])
    return float(np.exp(x0 + (np.log(level) - y0) * (x1 - x0) / (y1 - y0))), i


def symmetric_plateau(width: int, eta: float) -> tuple[float, float]:
    """`(height, mu)`: eps_g and the escape rate at the symmetric fixed point of the isotropic
    soft-committee ODE (erf, K = M = `width`, outputs 1/sqrt(M), an orthonormal teacher, learning
    rate `eta`). With a teacher of equal blocks the eigen-block ODE's plateau has the same height
    at every L."""
    ode = SoftCommitteeODE(Erf(), width, width, student_output="sqrt", teacher_output="sqrt")
    args = SCMArgs(jnp.asarray(eta), jnp.asarray(0.0), jnp.eye(width), jnp.ones(width), jnp.asarray(0.0))
    fixed = symmetric_fixed_point(ode, args)
    return float(ode.generalisation_error(fixed, args)), escape_rate(ode, fixed, args)


def _rates(k: int, eta: float, spectra: list[np.ndarray]) -> dict[str, list]:
    """The plateau's eps_g and, per spectrum, the escape rate mu of the eigen-block ODE linearised at
    its symmetric fixed point (outputs 1/sqrt(M)); and the isotropic escape rate for each of
    `OUTPUTS` (the L-dependence does not depend on the convention, the M-dependence does). Summed
    outputs at eta learn as 1/sqrt(M) outputs at eta M, and 1/M outputs as 1/sqrt(M) outputs at
    eta / M (`tests/test_theory_plateau.py`), so one ODE serves the three."""
    out = {"plateau": [], "mu": [], "mu_isotropic": []}
    for output, rate in zip(OUTPUTS, (eta, eta * k, eta / k)):
        height, mu = symmetric_plateau(k, rate)
        out["mu_isotropic"].append(mu)
        if output == "sqrt":
            out["plateau"].append(height)
    ode = EigenBlockODE(Erf(), k, k, student_output="sqrt", teacher_output="sqrt")
    for lam in spectra:
        lam = jnp.asarray(lam, jnp.float64)
        teacher = jnp.broadcast_to(jnp.eye(k) / jnp.sum(lam), (lam.size, k, k))  # equal blocks, T = I
        args = BlockArgs(jnp.asarray(eta), jnp.asarray(0.0), teacher, lam, jnp.ones(k), jnp.asarray(0.0))
        out["mu"].append(escape_rate(ode, symmetric_fixed_point(ode, args), args))
    return out


def _exponent(x, y) -> str:
    """The exponent of a pure power law fitted to y(x) (`scalinglaws.fit`), as text."""
    keep = np.isfinite(y)
    try:
        return f"{fit_curve(np.asarray(x)[keep], np.asarray(y)[keep], 'pure_power_law').params['exponent']:.3f}"
    except FitError:
        return "–"


@register
class P1Plateau(AbstractFigure):
    """The plateau of erf K = M students (beta = 1, eta = 0.1, sigma_J = 0.01, N = 1024, a teacher
    with equal blocks): its length against L and M, testing the paper's law length ∝ M^2 / L with
    the escape time falling as 1/L.

    From the eigen-block ODE (theory alone, one draw of the initial weights per M): the measured
    length (from eps_g <= 1.1 x the plateau to eps_g < plateau / 2, interpolated between grid
    points) against the prediction ln(1 / S_0) / mu, with S_0 the initial specialisation and mu
    the escape rate at the symmetric fixed point (`theory.escape_rate`). The law's M-dependence
    depends on the output convention: outputs scaled by 1/sqrt(M) learn as summed outputs at
    eta / M, outputs scaled by 1/M as summed outputs at eta / M^2 (the error scaled by 1/M and
    1/M^2), and the escape rate of summed outputs falls about as eta / M; so the length grows as
    M^2 for 1/sqrt(M) outputs (the config's), and as about M and M^3 for the other two, which the
    report measures.
    """

    id: ClassVar[str] = "p1-plateau"
    paper: ClassVar[str] = PAPER
    caption: ClassVar[str] = "plateau length against L and M = K = 2 … 10 (erf, 1/sqrt(M) outputs): length ∝ M²/L"
    quick_note: ClassVar[str] = "M = 2, 3, 4, 5 and L = 1, 2, 4, 8"
    seconds: ClassVar[tuple[float, float]] = (3088.0, 78.0)  # full: gallery/p1-plateau.md, its first making

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        widths, blocks = ((2, 3, 4, 5), (1, 2, 4, 8)) if quick else ((2, 4, 6, 8, 10), (1, 2, 4, 8, 16, 32, 64))
        eta = 0.1
        rows, table = [], np.full((len(widths), len(blocks), 4), np.nan)  # measured, predicted, escape, flat
        rates = {}
        for a, k in enumerate(widths):
            listed = "data.distinct_eigenvalues=[" + ", ".join(map(str, blocks)) + "]"
            arrays = runs("p1_plateau", f"m{k}", f"teacher.hidden={k}", f"student.hidden={k}", listed).arrays
            alpha, fine = arrays["alpha"], arrays["eigenvalues"]  # fine: (H, finest partition)
            spectra = [np.unique(lam)[::-1] for lam in fine]
            params = {"k": k, "eta": eta, "spectra": [lam.tolist() for lam in spectra]}
            rates[k] = found = runs.analysis(f"p1_plateau-m{k}", params, lambda k=k, s=spectra: _rates(k, eta, s))
            plateau = found["plateau"][0]
            for b, blocks_l in enumerate(blocks):
                eps = arrays["eps_g_theory"][b, 0]
                start, i = _crossing(alpha, eps, 1.1 * plateau)
                escape, _ = _crossing(alpha, eps, 0.5 * plateau, after=i) if i > 0 else (float("nan"), -1)
                inside = (alpha >= start) & (alpha <= escape)
                slope = np.abs(local_exponent(alpha[1:], np.maximum(eps[1:], 1e-300)))[inside[1:]]
                flat = bool(slope.size) and float(slope.min()) < 0.05
                rbar = np.einsum("l,lkn->kn", fine[b], arrays["R_blocks_theory"][b, 0, 0])
                mu = found["mu"][b]
                predicted = np.log(1.0 / specialisation(rbar)) / mu
                table[a, b] = (escape - start, predicted, escape, flat)
                lam1 = spectra[b][0]
                rows.append(
                    f"| {k} | {blocks_l} | {mu:.4g} | {mu * k**2 / lam1:.4f} | {plateau:.5f} | {start:.0f} | "
                    f"{escape:.0f} | {escape - start:.0f} | {predicted:.0f} | {(escape - start) / predicted - 1:+.1%} "
                    f"| {'yes' if flat else 'no'} |"
                )
        figure = self._figure(widths, blocks, table, rates)
        return Drawn(figure, self._report(widths, blocks, table, rates, rows))

    @staticmethod
    def _figure(widths, blocks, table, rates):
        figure, (left, right) = new_figure(2, 5.4, 4.4)
        for a, k in enumerate(widths):
            measured, predicted, _, flat = table[a].T
            left.plot(blocks, predicted, color=f"C{a}", lw=1, label=f"M = {k}")
            left.plot(np.asarray(blocks)[flat > 0], measured[flat > 0], "o", color=f"C{a}", ms=4)
            left.plot(np.asarray(blocks)[flat == 0], measured[flat == 0], "o", color=f"C{a}", ms=4, mfc="none")
        guide = table[-1, 0, 1] * np.asarray(blocks, np.float64) ** -1.0
        left.plot(blocks, guide, "k:", lw=1, label="∝ 1 / L")
        left.plot([], [], "ko", ms=4, label="ODE: measured (open: no flat part)")
        left.plot([], [], "k-", lw=1, label="ln(1/S_0) / mu (linearisation)")
        left.set(xscale="log", yscale="log", xlabel="L (distinct eigenvalues)", ylabel="plateau length (alpha)")
        left.set_title("(a) length against L, 1/sqrt(M) outputs", fontsize=9)
        left.legend(fontsize=7)
        m = np.asarray(widths, np.float64)
        for j, output in enumerate(OUTPUTS):
            mu = np.array([rates[k]["mu_isotropic"][j] for k in widths])
            right.plot(m, mu[0] / mu, "o-", color=f"C{j}", ms=4, label=f"{output} outputs (1 / mu, L = 1)")
        right.plot(m, (m / m[0]) ** 2, "k:", lw=1, label="∝ M²")
        right.plot(m, table[:, 0, 0] / table[0, 0, 0], "kx", ms=6, label="measured length (1/sqrt(M), L = 1)")
        right.set(
            xscale="log", yscale="log", xlabel="M = K (hidden units)", ylabel=f"length / length at M = {widths[0]}"
        )
        right.set_xticks(m, [f"{int(x)}" for x in m])
        right.minorticks_off()
        right.set_title("(b) length against M: the output convention decides", fontsize=9)
        right.legend(fontsize=7)
        return figure

    @staticmethod
    def _report(widths, blocks, table, rates, rows) -> list[str]:
        lines = [
            "Eigen-block ODE (theory alone, one draw of the initial weights per M, N = 1024), erf, beta = 1, "
            "eta = 0.1, sigma_J = 0.01, teacher with equal blocks, outputs scaled by 1/sqrt(M). Length: from "
            "eps_g <= 1.1 x plateau to eps_g < plateau / 2 (interpolated between grid points); predicted: "
            "ln(1 / S_0) / mu. Flat: the local exponent |d ln eps_g / d ln alpha| drops below 0.05 inside.",
            "",
            "| M = K | L | mu | mu M² / lambda_1 | plateau eps_g | start | escape | length | predicted | error "
            "| flat |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Exponents of pure power laws fitted with `scalinglaws.fit` (the law: length ∝ M^2 / L, escape ∝ 1 / L), "
            f"against L over the four largest L (L = {', '.join(map(str, blocks[-4:]))}):",
            "",
            "| M = K | length ∝ L^-x | escape ∝ L^-x | mu ∝ L^x |",
            "|---|---|---|---|",
        ]
        many = np.arange(len(blocks)) >= len(blocks) - 4  # the four largest L
        for a, k in enumerate(widths):
            mu = np.asarray(rates[k]["mu"])
            cells = (
                _exponent(np.asarray(blocks)[many], table[a, many, 0]),
                _exponent(np.asarray(blocks)[many], table[a, many, 2]),
                _exponent(np.asarray(blocks)[many], 1 / mu[many]),
            )
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
        lines += ["", "| L | length ∝ M^x | predicted ∝ M^x |", "|---|---|---|"]
        for b, blocks_l in enumerate(blocks):
            lines.append(
                f"| {blocks_l} | {_negated(_exponent(widths, table[:, b, 0]))} | "
                f"{_negated(_exponent(widths, table[:, b, 1]))} |"
            )
        lines += ["", "The isotropic escape time 1 / mu (L = 1) against M for each output convention:", ""]
        for j, output in enumerate(OUTPUTS):
            mu = np.array([rates[k]["mu_isotropic"][j] for k in widths])
            lines.append(f"- {output} outputs: 1 / mu ∝ M^{_exponent(widths, mu)}")
        return lines


def _negated(text: str) -> str:
    return text if text == "–" else f"{-float(text):.3f}"
