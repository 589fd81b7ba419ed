"""Reports of experiments and benchmarks: a Markdown file and, optionally, its figure."""

import os
import tempfile
from pathlib import Path


__all__ = ["write_atomic", "write_report"]


def write_report(path: str | Path, lines: list[str], figure=None, dpi: int = 110) -> str:
    """Write `lines` as the Markdown report `path` and `figure` (a Matplotlib figure) beside it as
    `.png`, each atomically (a temporary file in the same directory, then renamed over it); returns
    the report's text."""
    path = Path(path)
    text = "\n".join(lines) + "\n"
    write_atomic(path, lambda out: out.write(text.encode("utf-8")))
    if figure is not None:
        write_atomic(path.with_suffix(".png"), lambda out: figure.savefig(out, format="png", dpi=dpi))
    return text


def write_atomic(path: Path, write) -> None:
    """Write `path` atomically: `write(binary file)` fills a temporary file in the same directory,
    which is then renamed over `path` (removed if anything fails)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
