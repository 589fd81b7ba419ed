"""Reports of experiments and benchmarks: a Markdown file and, optionally, its figure."""

import os
import tempfile
from pathlib import Path


__all__ = ["write_report"]


def write_report(path: str | Path, lines: list[str], figure=None, dpi: int = 110) -> str:
    """Write `lines` as the Markdown report `path` (atomically: a temporary file in the same
    directory, then renamed over it) and `figure` (a Matplotlib figure) beside it as `.png`;
    returns the report's text."""
    path = Path(path)
    text = "\n".join(lines) + "\n"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if figure is not None:
        figure.savefig(path.with_suffix(".png"), dpi=dpi)
    return text
