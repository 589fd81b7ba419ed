"""The registry of reproducible figures, in the order of the papers."""

import re

from ._figure import AbstractFigure


__all__ = ["FIGURES", "figure", "register"]

FIGURES: dict[str, AbstractFigure] = {}
_ID = re.compile(r"p[1-5]-[a-z0-9-]+|laws")  # a paper's figure, or the laws table of all five


def register(cls: type[AbstractFigure]) -> type[AbstractFigure]:
    """Class decorator: register an instance of the figure `cls` under its `id`."""
    figure_ = cls()
    if not _ID.fullmatch(figure_.id):
        raise ValueError(f"a figure id is p<paper>-<name> in lower case (or laws), got {figure_.id!r}")
    if figure_.id in FIGURES:
        raise ValueError(f"figure {figure_.id!r} is registered twice")
    FIGURES[figure_.id] = figure_
    return cls


def figure(figure_id: str) -> AbstractFigure:
    """The registered figure `figure_id`; `KeyError` naming the known ids otherwise."""
    if figure_id not in FIGURES:
        raise KeyError(f"no figure {figure_id!r}; the figures are {', '.join(FIGURES)}")
    return FIGURES[figure_id]
