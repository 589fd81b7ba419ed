"""The theories a run can be compared with, in order of preference: one line per theory."""

from ._abstract import AbstractTheory
from ._dmft import DMFTTheory
from ._emergence import EmergenceTheory
from ._readout_theory import ReadoutTheory
from ._two_layer_theory import EigenBlockTheory, SoftCommitteeTheory


__all__ = ["THEORIES", "theory_for"]

THEORIES: tuple[AbstractTheory, ...] = (
    SoftCommitteeTheory(),
    EigenBlockTheory(),
    ReadoutTheory(),
    DMFTTheory(),
    EmergenceTheory(),
)


def theory_for(setup, theories: tuple[AbstractTheory, ...] = THEORIES) -> tuple[AbstractTheory | None, str]:
    """`(theory, description)`: the first of `theories` that applies to `setup`, or `(None, why
    none does)`, giving the reasons of the theories that model the setup's kind of student."""
    reasons = []
    for theory in theories:
        if not isinstance(setup.student, theory.students):
            continue
        reason = theory.why_not(setup)
        if reason is None:
            return theory, theory.description
        if reason not in reasons:
            reasons.append(reason)
    if not reasons:
        return None, f"none: no theory models a {type(setup.student).__name__}"
    return None, "none: " + "; ".join(reasons)
