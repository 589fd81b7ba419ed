"""A reproducible figure of one of the papers: the runs it needs, how it draws them, what it reports.

A figure is an `AbstractFigure` registered under an id (`p1-fig1`, ...). Its `draw` asks `Runs`
for the built-in configs it needs (each run cached in its own directory through `experiment.run`,
so a second reproduction is served from the runs without computing) and returns the Matplotlib
figure and the lines of its report: tables of numbers from the simulation, the theory and, where
the paper states them, the paper's values. `quick` selects the same code path on smaller problems
(fewer seeds, smaller N, shorter runs), which `quick_note` states and the figure's title repeats.
"""

import abc
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import equinox as eqx
from equinox import AbstractClassVar

from ..experiment import ConfigError, Results, configs_dir, run, write_atomic


_ANALYSIS = "scalinglaws reproduce analysis"


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
    use the same run share it. `used` records every run: (directory, served from the cache).
    `analysis` keeps what a figure computes beside its runs (escape rates, fixed points) likewise."""

    root: Path
    quick: bool
    progress: Callable[[int, int], None] | None = None
    used: list[tuple[Path, bool]] = field(default_factory=list)

    def __call__(self, config: str, tag: str = "", *overrides: str) -> Results:
        directory = self.root / ("quick" if self.quick else "full") / (f"{config}-{tag}" if tag else config)
        results = run(configs_dir() / f"{config}.toml", directory, overrides=list(overrides), progress=self.progress)
        self.used.append((directory, results.cached))
        return results

    def analysis(self, name: str, params: dict, compute: Callable[[], dict[str, list]]) -> dict[str, list]:
        """`compute()`: named lists of numbers, kept in `root / mode / analyses / name.json` with the
        `params` they were computed for, the package version and a checksum of all three, and served
        from there when the three match and every number is finite; otherwise computed and written
        (atomically). A file there that the tool did not write, or that changed since, is never
        replaced: `ConfigError` ("--out")."""
        from .. import __version__

        path = self.root / ("quick" if self.quick else "full") / "analyses" / f"{name}.json"
        key = json.loads(json.dumps({"params": params, "version": __version__}))
        if path.exists():
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                ours = record.get("tool") == _ANALYSIS and record["checksum"] == _checksum(record)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                ours = False
            if not ours:
                raise ConfigError("--out", f"{path} was not written by scalinglaws reproduce, or changed since")
            values = record["values"]
            if {k: record[k] for k in key} == key and all(math.isfinite(x) for v in values.values() for x in v):
                self.used.append((path, True))
                return values
        values = {k: [float(x) for x in v] for k, v in compute().items()}
        record = {"tool": _ANALYSIS, **key, "values": values}
        text = json.dumps({**record, "checksum": _checksum(record)}, indent=1, sort_keys=True).encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda out: out.write(text))
        self.used.append((path, False))
        return values


def _checksum(record: dict) -> str:
    body = {k: record[k] for k in ("tool", "params", "version", "values")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


class AbstractFigure(eqx.Module):
    """A reproducible figure.

    - `id`: `p<paper>-<name>`, e.g. `p1-fig1` (the paper's figure number where it is known).
    - `paper`: authors and arXiv id.
    - `caption`: one line: what is shown, with its parameters.
    - `quick_note`: what `--quick` changes.
    - `seconds`: `(full, quick)` wall seconds on a 2-core CPU machine, measured: the quick version
      in a fresh process and a fresh directory (`benchmarks/reproduce.py`), the full one as its runs'
      computing time (`total_seconds` of their summaries) in `scalinglaws reproduce --all`; NaN
      for a full version that `needs_gpu` and was not yet timed on one.
    - `needs_gpu`: the full version is sized for a GPU machine; on a CPU only `--quick` runs.
    """

    needs_gpu: ClassVar[bool] = False
    id: AbstractClassVar[str]
    paper: AbstractClassVar[str]
    caption: AbstractClassVar[str]
    quick_note: AbstractClassVar[str]
    seconds: AbstractClassVar[tuple[float, float]]

    @abc.abstractmethod
    def draw(self, runs: Runs, *, quick: bool) -> Drawn:
        """Run (or fetch) what the figure needs through `runs` and draw it."""
