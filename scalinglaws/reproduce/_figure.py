"""A reproducible figure of one of the papers: the runs it needs, how it draws them, what it reports.

A figure is an `AbstractFigure` registered under an id (`p1-fig1`, ...). Its `draw` asks `Runs`
for the built-in configs it needs (each run cached in its own directory through `experiment.run`,
so a second reproduction is served from the runs without computing) and returns the Matplotlib
figure and the lines of its report: tables of numbers from the simulation, the theory and, where
the paper states them, the paper's values. `quick` selects the same code path on smaller problems
(fewer seeds, smaller N, shorter runs), which `quick_note` states and the figure's title repeats.
"""

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import equinox as eqx
from equinox import AbstractClassVar

from ..experiment import Results, configs_dir, run


__all__ = ["AbstractFigure", "Drawn", "Runs"]


@dataclass(frozen=True)
class Drawn:
    """What a figure's `draw` returns: the Matplotlib `figure` and the Markdown `lines` of its report
    (tables of the numbers behind it)."""

    figure: object
    lines: list[str]


@dataclass
class Runs:
    """The runs a reproduction uses: `runs(config, tag, *overrides)` runs the built-in config
    `config` with `overrides` (`section.key=value`) into `root / mode / config[-tag]`, where `mode`
    is `quick` or `full`, served from that directory when it already holds the run. Figures that
    use the same run share it. `used` records every run: (directory, served from the cache)."""

    root: Path
    quick: bool
    progress: Callable[[int, int], None] | None = None
    used: list[tuple[Path, bool]] = field(default_factory=list)

    def __call__(self, config: str, tag: str = "", *overrides: str) -> Results:
        directory = self.root / ("quick" if self.quick else "full") / (f"{config}-{tag}" if tag else config)
        results = run(configs_dir() / f"{config}.toml", directory, overrides=list(overrides), progress=self.progress)
        self.used.append((directory, results.cached))
        return results


class AbstractFigure(eqx.Module):
    """A reproducible figure.

    - `id`: `p<paper>-<name>`, e.g. `p1-fig1` (the paper's figure number where it is known).
    - `paper`: authors and arXiv id.
    - `caption`: one line: what is shown, with its parameters.
    - `quick_note`: what `--quick` changes.
    - `seconds`: `(full, quick)` wall seconds on a 2-core CPU machine, measured: the quick version
      in a fresh process and a fresh directory (`benchmarks/reproduce.py`), the full one as its runs'
      computing time (`total_seconds` of their summaries) in `scalinglaws reproduce --all`.
    """

    id: AbstractClassVar[str]
    paper: AbstractClassVar[str]
    caption: AbstractClassVar[str]
    quick_note: AbstractClassVar[str]
    seconds: AbstractClassVar[tuple[float, float]]

    @abc.abstractmethod
    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        """Run (or fetch) what the figure needs through `runs` and draw it."""
