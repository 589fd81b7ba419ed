"""`scalinglaws reproduce`: the reproducible figures of the five papers as registered library
objects, each built on `experiment.run` and its cache, and a gallery of what was reproduced."""

# Each module registers its figures or laws; the laws table, a summary of all five papers, comes first.
from . import (  # noqa: F401
    _laws_p1,
    _laws_p1_late,
    _laws_p1_plateau,
    _laws_p2,
    _laws_p3,
    _laws_p4,
    _laws_p4_width,
    _laws_p5,
    _p1,
    _p1_fig6,
    _p1_plateau,
    _p2,
    _p3,
    _p4,
    _p4_scaling,
    _p5,
)
from ._api import MANIFEST as MANIFEST, reproduce as reproduce, sized_for_a_gpu as sized_for_a_gpu
from ._figure import AbstractFigure as AbstractFigure, Drawn as Drawn, Runs as Runs
from ._registry import FIGURES as FIGURES, figure as figure, register as register
