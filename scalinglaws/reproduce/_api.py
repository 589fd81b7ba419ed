"""`reproduce(ids, out)`: make registered figures into a directory the tool owns, with a gallery.

The directory `out` holds, per figure, `<id>.png` and `<id>.md` (its report), the gallery
`index.html` and `index.md` of every figure reproduced there, the runs under `runs/quick` and
`runs/full` (run directories of `experiment.run`, served from their cache on a second call), and
`reproduce.json`, the manifest: the SHA-256 of every file written there and what each figure
recorded, saved after every figure (a call that stops part-way leaves the figures it finished
recorded). The directory is the tool's when it is new, empty, or holds a manifest; the tool
overwrites a file only if the manifest records it with its present checksum (a file a user
edited or added is never overwritten: the call is refused before anything is computed), and
writes every file atomically (a temporary file renamed over it).
"""

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax

from ..experiment import ConfigError, file_checksum, write_atomic
from ._common import tidy
from ._figure import Runs
from ._gallery import gallery_html, gallery_markdown
from ._registry import FIGURES, figure


__all__ = ["MANIFEST", "reproduce"]

MANIFEST = "reproduce.json"
_GALLERY = ("index.html", "index.md")


class _Directory:
    """A reproduction directory and its manifest (module docstring)."""

    def __init__(self, path: Path):
        self.path = path
        self.files: dict[str, str] = {}
        self.figures: dict[str, dict] = {}
        manifest = path / MANIFEST
        if manifest.is_file():
            try:
                record = json.loads(manifest.read_text(encoding="utf-8"))
                self.files, self.figures = dict(record["files"]), dict(record["figures"])
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise ConfigError("--out", f"{manifest} cannot be read ({error}); nothing was changed") from None
        elif path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError(
                "--out",
                f"{path} is not empty and holds no {MANIFEST}: not a reproduction directory; nothing was changed",
            )

    def check(self, names: Sequence[str]) -> None:
        """Refuse (`ConfigError`) if writing `names` would overwrite a file the tool did not write
        or that changed since."""
        for name in names:
            target = self.path / name
            if not target.exists():
                continue
            if name not in self.files or file_checksum(target) != self.files[name]:
                raise ConfigError(
                    "--out", f"{target} was not written by scalinglaws reproduce, or changed since; nothing was changed"
                )

    def write(self, name: str, write: Callable[[object], None]) -> None:
        """Write `name` atomically with `write(binary file)` and record its checksum."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path / name, write)
        if name != MANIFEST:
            self.files[name] = file_checksum(self.path / name)

    def save(self) -> None:
        record = {"tool": "scalinglaws reproduce", "files": self.files, "figures": self.figures}
        text = json.dumps(record, indent=1, sort_keys=True).encode("utf-8")
        self.write(MANIFEST, lambda out: out.write(text))


def sized_for_a_gpu(ids: Sequence[str]) -> list[str]:
    """The figures among `ids` whose full version is sized for a GPU machine, when this machine
    has none (a CPU refuses their full version, and `--all` skips it)."""
    if jax.devices()[0].platform != "cpu":
        return []
    return [i for i in ids if FIGURES[i].needs_gpu]


def reproduce(
    ids: Sequence[str],
    out: str | Path,
    *,
    quick: bool = False,
    progress: Callable[[int, int], None] | None = None,
    started: Callable[[str], None] | None = None,
) -> list[dict]:
    """Reproduce the figures `ids` into `out` (module docstring) and rewrite its gallery.

    `progress(done, total)` is passed to the simulations; `started(id)` is called as each figure
    begins. **Returns** one record per figure: `id`, `png`, `report`, `seconds`, `runs` (each run
    directory and whether it was served from its cache). **Raises** `ConfigError` for an unknown id
    or an `out` the tool may not write (before anything is computed), and whatever a run raises
    (`ConfigError`, `Diverged`, `TheoryError`, `OSError`).
    """
    unknown = [i for i in ids if i not in FIGURES]
    if unknown:
        raise ConfigError("FIGURE", f"no figure {', '.join(unknown)}; the figures are {', '.join(FIGURES)}")
    if not quick:
        sized = sized_for_a_gpu(ids)
        if sized:
            raise ConfigError(
                "FIGURE",
                f"the full version of {', '.join(sized)} is sized for a GPU machine and this one has none; "
                "--quick makes the reduced version on a CPU",
            )
    directory = _Directory(Path(out))
    directory.check([name for i in ids for name in (f"{i}.png", f"{i}.md")] + list(_GALLERY))
    made = []
    for figure_id in ids:
        item = figure(figure_id)
        if started is not None:
            started(figure_id)
        runs = Runs(directory.path / "runs", quick, progress)
        start = time.perf_counter()
        drawn = item.draw(runs, quick=quick)
        tidy(drawn.figure)
        if quick:
            drawn.figure.suptitle(f"{item.id} (quick version: {item.quick_note})", fontsize=10)
        seconds = time.perf_counter() - start
        entry = {
            "id": item.id,
            "paper": item.paper,
            "caption": item.caption,
            "png": f"{item.id}.png",
            "report": f"{item.id}.md",
            "quick": quick,
            "note": item.quick_note,
            "seconds": round(seconds, 1),
            "runs": [[str(path.relative_to(directory.path)), cached] for path, cached in runs.used],
            "body": drawn.lines,
        }
        directory.write(entry["png"], lambda handle, fig=drawn.figure: fig.savefig(handle, format="png", dpi=110))
        report = _report(entry).encode("utf-8")
        directory.write(entry["report"], lambda handle, text=report: handle.write(text))
        directory.figures[item.id] = entry
        directory.save()  # each figure is recorded as soon as it is written
        made.append(entry)
    entries = [directory.figures[i] for i in FIGURES if i in directory.figures]
    directory.write("index.md", lambda handle: handle.write(gallery_markdown(entries).encode("utf-8")))
    directory.write("index.html", lambda handle: handle.write(gallery_html(entries).encode("utf-8")))
    directory.save()
    return made


def _report(entry: dict) -> str:
    served = all(cached for _, cached in entry["runs"])
    runs = ", ".join(f"`{path}`{' (cached)' if cached else ''}" for path, cached in entry["runs"])
    version = f"quick version: {entry['note']}" if entry["quick"] else "full version"
    command = f"scalinglaws reproduce {entry['id']}{' --quick' if entry['quick'] else ''}"
    lines = [
        f"# {entry['id']}: {entry['caption']}",
        "",
        f"{entry['paper']}; {version}. Made by `{command}` "
        f"in {entry['seconds']:.1f} s{' (every run served from its cache)' if served else ''}; runs: {runs or 'none'}.",
        "",
        *entry["body"],
    ]
    return "\n".join(lines) + "\n"
