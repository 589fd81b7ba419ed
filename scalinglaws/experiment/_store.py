"""Run directories: atomic writes and the result cache.

A run directory holds `results.npz`, `summary.json`, `config.toml` and `figure.png`. All four are
written into a hidden staging directory beside the target and moved into place with one
`rename`, so an interrupted or crashed run never leaves a directory that looks complete. A
directory whose `summary.json` carries the same config hash as a new run is reused unless the
run is forced.
"""

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._config import ConfigError


__all__ = ["RESULT_FILES", "cached", "check_output_dir", "load_results", "write_run"]

RESULT_FILES = ("results.npz", "summary.json", "config.toml", "figure.png")


def cached(directory: Path, config_hash: str) -> bool:
    """Whether `directory` holds a complete run of the config with this hash."""
    summary = directory / "summary.json"
    if not all((directory / name).is_file() for name in RESULT_FILES[:3]):
        return False
    try:
        return json.loads(summary.read_text()).get("config_hash") == config_hash
    except (OSError, ValueError):
        return False


def check_output_dir(directory: Path) -> None:
    """Raise `ConfigError` unless `directory` is absent, empty, or a run directory we may replace."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError("--out", f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / "summary.json").is_file():
        raise ConfigError("--out", f"{directory} exists, is not empty and is not a scalinglaws run directory")


def write_run(
    directory: Path,
    arrays: dict[str, np.ndarray],
    summary: dict,
    config_toml: str,
    draw_figure: Callable[[Path], None] | None,
    extra_files: dict[str, str] | None = None,
) -> None:
    """Write a complete run directory atomically (see the module docstring); `extra_files` maps
    further file names (such as `fit.json`) to their text."""
    directory = Path(directory)
    check_output_dir(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        with open(staging / "results.npz", "wb") as handle:
            np.savez_compressed(handle, **arrays)
        (staging / "config.toml").write_text(config_toml)
        for name, text in (extra_files or {}).items():
            (staging / name).write_text(text)
        if draw_figure is not None:
            draw_figure(staging / "figure.png")
        (staging / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        for name in os.listdir(staging):
            with open(staging / name, "rb") as handle:
                os.fsync(handle.fileno())
        old = None
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
            os.rmdir(old)
            os.rename(directory, old)
        os.rename(staging, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load_results(directory: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a run directory's `results.npz`."""
    with np.load(Path(directory) / "results.npz") as data:
        return {name: data[name] for name in data.files}
