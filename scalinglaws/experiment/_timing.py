"""The wall time of a run, estimated from its setups before anything is computed.

Every cell of a grid adds its learner's `estimate_seconds` (the simulation) and its theory's
(`scalinglaws._cost` for the unit and the reference machine); compiling adds `COMPILE_SECONDS` per
program the run cannot take from an earlier cell: one simulation program per distinct array shape
(the input dimension is traced by the reduced chain, so its cells share one) and one theory
program per distinct state shape, whose tracing (`trace_seconds`, paid even when the compiled
program comes from the cache) counts as the theory's. A warm compilation cache makes compiling
shorter; other
machines scale the rest by one factor (`benchmarks/results/time_estimate.md` measures the spread).
"""

from dataclasses import dataclass

from .._cost import COMPILE_SECONDS
from .._setup import Setup
from ..theory import theory_for
from ._build import build_setup
from ._config import Config


__all__ = ["TimeEstimate", "estimate_time"]


@dataclass(frozen=True)
class TimeEstimate:
    """Estimated wall seconds of a run: `simulation`, `theory` (compiling excluded) and `compiling`
    (a cold compilation cache), over `cells` cells."""

    simulation: float
    theory: float
    compiling: float
    cells: int

    @property
    def total(self) -> float:
        return self.simulation + self.theory + self.compiling

    def describe(self) -> str:
        """One line: `about 3.2 min (simulation 2.5 min, theory 30 s, compiling up to 12 s; 4 cells)`."""
        parts = [
            f"{name} {_duration(seconds)}"
            for name, seconds in (("simulation", self.simulation), ("theory", self.theory))
            if seconds > 0
        ]
        parts.append(f"compiling up to {_duration(self.compiling)}")
        cells = f"; {self.cells} cells" if self.cells > 1 else ""
        return f"about {_duration(self.total)} ({', '.join(parts)}{cells})"

    def as_json(self) -> dict:
        return {
            "simulation": round(self.simulation, 3),
            "theory": round(self.theory, 3),
            "compiling": round(self.compiling, 3),
            "total": round(self.total, 3),
        }


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under 1 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _program_shape(setup: Setup) -> tuple:
    """What fixes the shapes of a setup's compiled simulation: the learner, the widths, the spectra's
    block count, the recording grid, and N unless the learner traces it."""
    learner = setup.learner
    traced_n = getattr(learner, "chosen_method", lambda _: None)(setup) == "reduced"
    return (
        type(learner).__name__,
        None if traced_n else setup.input_dim,
        getattr(setup.teacher, "hidden", None),  # kernel regression's linear teacher has none
        tuple(setup.variants.hidden),
        setup.blocks,
        setup.variants.size,
        getattr(learner, "samples", None),
    )


def estimate_time(config: Config | Setup | list[Setup]) -> TimeEstimate:
    """The estimated wall time of running a config (every cell of its grid), a setup, or the setups
    of a grid's cells (see the module docstring)."""
    if isinstance(config, Config):
        setups = [build_setup(cell) for _, cell in config.cells()]
    else:
        setups = config if isinstance(config, list) else [config]
    simulation = theory_seconds = 0.0
    programs: set[tuple] = set()
    for setup in setups:
        shape = _program_shape(setup)
        if setup.seeds > 0:
            simulation += setup.learner.estimate_seconds(setup)
            programs.add(("simulation", *shape))
        theory = theory_for(setup)[0] if setup.theory.enabled else None
        if theory is not None:
            theory_seconds += theory.estimate_seconds(setup)
            program = (type(theory).__name__, *shape[2:])
            if program not in programs:
                theory_seconds += theory.trace_seconds
            programs.add(program)
    return TimeEstimate(simulation, theory_seconds, COMPILE_SECONDS * len(programs), len(setups))
