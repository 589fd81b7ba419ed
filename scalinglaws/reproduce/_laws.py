"""The laws table (`scalinglaws reproduce laws`): every headline law of the five papers, measured by
our theory at several sizes and by our simulation, with a verdict.

A law is a number the paper states (an exponent, a ratio that tends to 1): `LawRow` holds the
paper's (or the derived) value, our theory's value at three or more sizes (so that convergence is
visible), the simulation's value with its 95 % interval at one size, and the window in which both
were measured. The verdict says two things, with a tolerance (0.05 by default, absolute):

- what the theory says of the law: **holds** (within the tolerance at every size), **holds
  asymptotically from SIZE** (within it from SIZE on, and not before), or **does not hold** (outside
  it at the largest size);
- whether the simulation confirms the theory where it was measured: its interval reaches the
  tolerance band around the theory's value at the simulation's size (around the law's value where
  that size is not one of the theory's). An early size need not show the limit; it must show the
  theory.

Each law is a function registered with `law`, grouped by paper in `_laws_p*.py`; it runs what it
needs through `Runs` (cached like every figure's runs) and returns its rows.
"""

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from matplotlib.figure import Figure

from ._figure import AbstractFigure, Drawn, Runs
from ._registry import register


__all__ = [
    "LAWS",
    "LawRow",
    "Measured",
    "bootstrap_mean",
    "law",
    "offset_exponent",
    "simulated_exponent",
    "window_exponent",
]


@dataclass(frozen=True)
class Measured:
    """A simulated value with its 95 % interval, at `size`."""

    value: float
    low: float
    high: float
    size: str


@dataclass(frozen=True)
class LawRow:
    """One law: `paper` (short name and arXiv id), `law` (the equation), `quantity` (what the numbers
    are, e.g. "b in eps_g ∝ alpha^-b"), `expected` (the paper's or the derived value) and `source`
    (where it comes from), our `theory` at the `sizes` (labels, smallest first), the `simulation`,
    the `window` both were measured in, and `note` (how, and why it deviates where it does)."""

    paper: str
    law: str
    quantity: str
    expected: float
    source: str
    sizes: tuple[str, ...]
    theory: tuple[float, ...]
    simulation: Measured | None
    window: str
    note: str = ""
    tolerance: float = 0.05

    def _close(self, value: float) -> bool:
        return bool(np.isfinite(value) and abs(value - self.expected) <= self.tolerance)

    def reference(self) -> float:
        """What the simulation is compared with: the theory at the simulation's size (the paper's
        value where that size is not among the theory's)."""
        sim = self.simulation
        if sim is not None and sim.size in self.sizes:
            return self.theory[self.sizes.index(sim.size)]
        return self.expected

    def simulation_agrees(self) -> bool | None:
        """Whether the simulation's interval reaches the tolerance band around `reference()` (None:
        no simulation)."""
        sim = self.simulation
        if sim is None:
            return None
        reference = self.reference()
        return bool(sim.low <= reference + self.tolerance and sim.high >= reference - self.tolerance)

    def holds_from(self) -> int | None:
        """The first size from which the theory stays within the tolerance (None: not at the largest)."""
        close = [self._close(v) for v in self.theory]
        if not close or not close[-1]:
            return None
        first = len(close) - 1
        while first > 0 and close[first - 1]:
            first -= 1
        return first

    def verdict(self) -> str:
        """What the theory says of the law (holds / holds asymptotically from a size / does not
        hold; not measurable where no size has a window), and whether the simulation confirms the
        theory where it was measured."""
        start, agrees, sim = self.holds_from(), self.simulation_agrees(), self.simulation
        if not np.isfinite(self.theory).any():
            return "not measurable at these sizes: no window (see the note)"
        if start is None:
            last = self.theory[-1] if self.theory else float("nan")
            said = f"does not hold: the theory gives {last:.3g} at {self.sizes[-1]}, not {self.expected:.3g}"
        elif start == 0:
            said = "holds"
        else:
            said = f"holds asymptotically, from {self.sizes[start]} (within {self.tolerance:g})"
        if agrees is None:
            return f"{said}; no simulation"
        against = "the theory" if sim.size in self.sizes else "the law"
        if agrees:
            return f"{said}; the simulation agrees with {against} at {sim.size}"
        return f"{said}; the simulation does not agree with {against} at {sim.size} ({self.reference():.3g})"


LAWS: list[Callable[[Runs, bool], list[LawRow]]] = []


def law(function: Callable[[Runs, bool], list[LawRow]]) -> Callable[[Runs, bool], list[LawRow]]:
    """Register a function `(runs, quick) -> rows` of the laws table (in the order of registration)."""
    LAWS.append(function)
    return function


def _inside(x, y, window) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    inside = (x >= window[0]) & (x <= window[1]) & (y > 0) & np.isfinite(y)
    return x[inside], y[inside]


def window_exponent(x, y, window) -> float:
    """`-d ln y / d ln x` fitted by least squares to the points of `(x, y)` in `window` (at least three)."""
    x, y = _inside(x, y, window)
    if x.size < 3:
        return float("nan")
    return float(-np.polyfit(np.log(x), np.log(y), 1)[0])


def _offset_residuals(x, y, exponents) -> np.ndarray:
    """For each exponent b, the least relative squared residual of `y ≈ A x^-b + C` (A, C free)."""
    u = x[None, :] ** -exponents[:, None] / y[None, :]  # (B, T): the model's columns over y
    v = np.broadcast_to(1.0 / y, u.shape)
    suu, suv, svv = (u * u).sum(1), (u * v).sum(1), (v * v).sum(1)
    su, sv = u.sum(1), v.sum(1)
    det = suu * svv - suv**2
    a = (svv * su - suv * sv) / det
    c = (suu * sv - suv * su) / det
    return ((a[:, None] * u + c[:, None] * v - 1) ** 2).sum(1)


def offset_exponent(x, y, window) -> float:
    """b of `y ≈ A x^-b + C` in `window`, with the offset C free in sign: where a power law sits on a
    constant (a floor, or a finite-size tail subtracted), the pure log-log slope mixes the two.
    The least relative squares over b in [0.01, 4] (steps of 0.01, then 0.0001 around the best)."""
    x, y = _inside(x, y, window)
    if x.size < 4:
        return float("nan")
    coarse = np.arange(0.01, 4.0, 0.01)
    best = coarse[np.nanargmin(_offset_residuals(x, y, coarse))]
    fine = np.arange(best - 0.01, best + 0.01, 1e-4)
    return float(fine[np.nanargmin(_offset_residuals(x, y, fine))])


def simulated_exponent(
    x, curves, window: tuple[float, float], size: str, *, measure=window_exponent, resamples: int = 400
) -> Measured:
    """`measure(x, seed mean, window)` (`window_exponent` or `offset_exponent`) of `curves` (S, T)
    over `x` (T,), with the 2.5 and 97.5 % quantiles of the same over `resamples` bootstrap
    resamples of the seeds (none for one seed)."""
    curves = np.asarray(curves, np.float64)
    value = measure(x, curves.mean(0), window)
    if curves.shape[0] < 2:
        return Measured(value, float("nan"), float("nan"), size)
    draws = np.random.default_rng(0).integers(0, curves.shape[0], size=(resamples, curves.shape[0]))
    spread = np.asarray([measure(x, curves[rows].mean(0), window) for rows in draws])
    low, high = np.nanquantile(spread, [0.025, 0.975])
    return Measured(value, float(low), float(high), size)


def bootstrap_mean(values, size: str, *, resamples: int = 400) -> Measured:
    """The mean of per-seed `values` with the 2.5 and 97.5 % quantiles of its bootstrap over the
    seeds, at `size`."""
    values = np.asarray(values, np.float64)
    draws = np.random.default_rng(0).integers(0, values.size, size=(resamples, values.size))
    low, high = np.quantile(values[draws].mean(1), [0.025, 0.975])
    return Measured(float(values.mean()), float(low), float(high), size)


def _number(value: float) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{value:.3f}" if abs(value) >= 0.1 else f"{value:.3g}"


def table(rows: Sequence[LawRow]) -> list[str]:
    """The Markdown table of the rows, one line each, and the notes below it."""
    lines = [
        "| paper | law | quantity | paper's value | our theory at each size | simulation (95 % interval) | window "
        "| verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for i, row in enumerate(rows, 1):
        theory = "; ".join(f"{size}: {_number(value)}" for size, value in zip(row.sizes, row.theory))
        sim = row.simulation
        simulated = (
            "–" if sim is None else f"{_number(sim.value)} [{_number(sim.low)}, {_number(sim.high)}] at {sim.size}"
        )
        lines.append(
            f"| {row.paper} | {row.law} | {row.quantity} | {row.expected:.4g} ({row.source}) | {theory} | {simulated} "
            f"| {row.window} | {row.verdict()} [{i}] |"
        )
        notes.append(f"[{i}] {row.note}" if row.note else f"[{i}] –")
    return [*lines, "", *notes]


def figure(rows: Sequence[LawRow]):
    """The measured values over the paper's, against size: one panel per row, the tolerance band
    shaded, the theory at each size as dots and the simulation as an interval."""
    columns = min(len(rows), 4)
    lines = -(-len(rows) // columns)
    fig = Figure(figsize=(3.4 * columns, 2.8 * lines), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(lines, columns)).ravel())
    for ax, row in zip(axes, rows):
        x = np.arange(len(row.sizes))
        ax.axhspan(row.expected - row.tolerance, row.expected + row.tolerance, color="grey", alpha=0.2)
        ax.axhline(row.expected, color="grey", lw=1)
        ax.plot(x, row.theory, "o-", color="C1", label="theory")
        if row.simulation is not None and np.isfinite(row.simulation.value):
            sim = row.simulation
            at = row.sizes.index(sim.size) if sim.size in row.sizes else len(x) - 1
            ax.errorbar([at], [sim.value], yerr=[[sim.value - sim.low], [sim.high - sim.value]], fmt="s", color="C0")
        ax.set_xticks(x, row.sizes, fontsize=6, rotation=20)
        ax.set_ylabel(row.quantity, fontsize=7)
        ax.set_title("\n".join(textwrap.wrap(f"{row.paper.split(' (')[0]}: {row.law}", 44)), fontsize=7)
    for ax in axes[len(rows) :]:
        ax.set_visible(False)
    return fig


@register
class LawsTable(AbstractFigure):
    """Every registered law (`LAWS`): the table and a panel per law."""

    id: ClassVar[str] = "laws"
    paper: ClassVar[str] = "all five papers (arXiv:2410.09005, 2303.14083, 2104.14546, 2504.19983, 2602.23039)"
    caption: ClassVar[str] = "the headline laws: the paper's value, our theory at each size, our simulation, a verdict"
    quick_note: ClassVar[str] = (
        "smaller simulations; P1's late phase and plateau against L at one size; the DMFT row at N = 50, 100, 200; "
        "P4 up to P = 1024"
    )
    seconds: ClassVar[tuple[float, float]] = (1450.0, 115.0)  # full: 800 s, then the plateau, P2 and P3 rows (650 s)

    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        rows = [row for measure in LAWS for row in measure(runs, quick)]
        lines = [
            "Tolerance 0.05 (absolute) unless a row says otherwise. Theory: our theory at each size; simulation: "
            "the same measurement on the mean over seeds (or data draws), as the row's window says, with a 95 % "
            "interval from a bootstrap over them. The verdict: what the theory says of the law, and whether the "
            "simulation confirms the theory at its size.",
            "",
            *table(rows),
        ]
        return Drawn(figure(rows), lines)
