"""Reports of experiments and benchmarks: a Markdown file and, optionally, its figure; strict JSON."""

import json
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path


__all__ = ["strict_json", "write_atomic", "write_report"]


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
    # Created as `open` creates files (mode 0o666 less the umask), not 0o600 as `mkstemp` would.
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def strict_json(value) -> str:
    """Standard JSON (no bare `NaN` or `Infinity`: non-finite numbers become `null`), indented."""
    return json.dumps(_finite_or_none(value), indent=2, sort_keys=True, allow_nan=False) + "\n"
