"""Run directories: what the tool owns, what its cache may serve, and how it writes.

A directory is a run of this tool only when its `summary.json` parses to an object whose
`config_hash` is a SHA-256 hex digest and whose `files` maps every other file the tool wrote there
to that file's SHA-256. The tool

- never deletes or overwrites a file it did not write: a non-empty directory that is not a run is
  refused, and files a user added to a run (notes, their own analyses) survive every rewrite;
- serves a run from its cache only when the config hash matches and every recorded file exists
  with its recorded checksum; otherwise it says which file differs and recomputes;
- replaces a run of another config only when forced;
- holds an exclusive lock (`flock`) on the directory from before the first check to after the last
  write, so a second process writing to the same directory is refused at once;
- writes as one atomic unit: every file is written and synced into a hidden staging directory
  inside the run directory, a journal naming the files is then written and renamed into place
  (the commit point), and the files are renamed over the old ones, `summary.json` last. A process
  killed before the commit point leaves only the staging directory, which the next use of the
  directory deletes; one killed after it is rolled forward by the next use. The tool itself always
  sees the old run or the new one, never a mixture.
"""

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._results import ResultArrays
from ._config import ConfigError
from ._report import strict_json


try:
    import fcntl
except ImportError:  # not POSIX: no locking
    fcntl = None

__all__ = [
    "RESULT_FILES",
    "OutputDirectory",
    "RunRecord",
    "file_checksum",
    "load_results",
    "read_run",
]

RESULT_FILES = ("results.npz", "summary.json", "config.toml", "figure.png")
_TOOL_FILES = frozenset({*RESULT_FILES, "fit.json", "law.png"})  # every name the tool writes into a run directory
_STAGE_PREFIX = ".scalinglaws-stage-"
_JOURNAL = ".commit"
_PROBE = ".scalinglaws-probe-"
_HASH = re.compile(r"[0-9a-f]{64}")


def file_checksum(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class RunRecord:
    """What a run directory's `summary.json` says about it."""

    summary: dict
    config_hash: str
    files: dict[str, str]  # name -> SHA-256 of every file the tool wrote besides summary.json


def read_run(directory: Path) -> RunRecord | None:
    """The tool's record of `directory`, or `None` when it has no `summary.json` of this tool."""
    try:
        summary = json.loads((Path(directory) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or not _HASH.fullmatch(str(summary.get("config_hash", ""))):
        return None
    files = summary.get("files")
    if not isinstance(files, dict) or not all(
        name in _TOOL_FILES and isinstance(digest, str) for name, digest in files.items()
    ):
        files = {}
    return RunRecord(summary, summary["config_hash"], dict(files))


def _mismatch(directory: Path, record: RunRecord) -> str | None:
    """Why the files of a run differ from its record (`None`: every recorded file matches)."""
    if not record.files:
        return "its summary.json records no checksums (written by an older version)"
    for name in RESULT_FILES:
        if name != "summary.json" and name not in record.files:
            return f"its summary.json records no checksum of {name}"
    for name, digest in sorted(record.files.items()):
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        if file_checksum(path) != digest:
            return f"{name} does not match the checksum recorded in summary.json"
    return None


def _check_writable_names(directory: Path, record: RunRecord, names: Iterable[str], key: str) -> None:
    """Refuse to write `names` where one of them exists but was not written by the tool (it is not in
    the record), so that no write of the tool replaces a user's file."""
    if not record.files:
        return  # a run of an older version, which recorded nothing: its files are all the tool's
    for name in sorted(set(names) - {"summary.json"} - set(record.files)):
        if (directory / name).exists():
            raise ConfigError(
                key,
                f"{directory / name} was not written by this tool (summary.json records no checksum of it); "
                "nothing was changed: move it away first",
            )


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _ours(stage: Path) -> bool:
    """Whether a staging directory holds nothing but what the tool puts there."""
    try:
        names = set(os.listdir(stage))
    except OSError:
        return False
    return names <= _TOOL_FILES | {_JOURNAL, _JOURNAL + ".tmp"} and all((stage / n).is_file() for n in names)


def _apply(stage: Path, directory: Path) -> None:
    """Carry out a committed staging directory's journal (again, if a crash interrupted it)."""
    journal = json.loads((stage / _JOURNAL).read_text())
    for name in journal["replace"]:
        if (stage / name).exists():
            os.replace(stage / name, directory / name)
    for name in journal["remove"]:
        (directory / name).unlink(missing_ok=True)
    _sync_directory(directory)
    shutil.rmtree(stage, ignore_errors=True)


def _recover(directory: Path) -> None:
    """Roll committed staging directories forward and delete uncommitted ones (left by a killed
    process; the caller holds the lock), and the hidden siblings older versions staged in."""
    for stage in directory.glob(_STAGE_PREFIX + "*"):
        if stage.is_dir() and not stage.is_symlink() and _ours(stage):
            if (stage / _JOURNAL).is_file():
                try:
                    _apply(stage, directory)
                    continue
                except (OSError, ValueError, KeyError, TypeError):
                    pass
            shutil.rmtree(stage, ignore_errors=True)
    for pattern in (f".{directory.name}.partial-*", f".{directory.name}.old-*"):
        for stale in directory.parent.glob(pattern):
            if stale.is_dir() and not stale.is_symlink() and _ours(stale):
                shutil.rmtree(stale, ignore_errors=True)


class OutputDirectory:
    """A run directory held by this process: checked, locked, and written atomically.

    Use as a context manager. Entering checks the path, creates the directory (and missing parents)
    when absent, takes the lock, proves it writable with a probe file, and finishes or discards what
    a killed process left; each failure raises `ConfigError` naming `key`. Leaving releases the
    lock and removes the directories it created if nothing was committed into them.
    """

    def __init__(self, path: str | Path, *, create: bool = True, key: str = "--out"):
        self.path = Path(path)
        self.key = key
        self._create = create
        self._created: list[Path] = []
        self._fd: int | None = None
        self._stage: Path | None = None
        self._guard = threading.Lock()  # between a commit and `abort` (called from a signal watcher)
        self._aborted = False
        self._committed = False
        self.record: RunRecord | None = None

    def _fail(self, message: str):
        raise ConfigError(self.key, message)

    def __enter__(self) -> "OutputDirectory":
        try:
            self._open()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._release()

    def _open(self) -> None:
        path = self.path
        text = str(path)
        if "\x00" in text:
            self._fail("the path contains a NUL character")
        try:
            if path.is_symlink() and not path.exists():
                self._fail(f"{path} is a symbolic link to nothing")
            if path.exists() and not path.is_dir():
                self._fail(f"{path} exists and is not a directory")
            if not path.exists():
                if not self._create:
                    self._fail(f"{path} does not exist")
                missing = [path, *[p for p in path.parents if not p.exists()]]
                for directory in reversed(missing):
                    try:
                        os.mkdir(directory)
                    except FileExistsError:  # another process made it just now: not ours to remove
                        continue
                    self._created.append(directory)
            self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as error:
            self._fail(f"cannot create or open {path}: {error.strerror or error}")
        except ValueError as error:  # an invalid path (e.g. an embedded NUL)
            self._fail(f"cannot use {path!r} as a directory: {error}")
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._fail(
                    f"{path} is being written by another scalinglaws process; wait for it to finish or choose "
                    "another --out"
                )
        probe = path / f"{_PROBE}{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            self._fail(f"cannot write in {path}: {error.strerror or error}")
        _recover(path)

    def _release(self) -> None:
        with self._guard:
            self._discard()
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def _discard(self) -> None:
        """Delete the staging directory and, unless a commit happened, the directories created."""
        if self._stage is not None and not self._committed:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None
        if not self._committed:
            for directory in reversed(self._created):
                try:
                    os.rmdir(directory)  # only if empty
                except OSError:
                    break
            self._created = []

    def abort(self) -> bool:
        """Stop here (from a signal watcher thread): discard what is staged. Returns whether a commit
        had already completed (then the directory holds the new run)."""
        with self._guard:
            self._aborted = True
            self._discard()
            return self._committed

    def entries(self) -> list[str]:
        """The directory's entries, without the tool's own transient ones."""
        return sorted(n for n in os.listdir(self.path) if not n.startswith((_STAGE_PREFIX, _PROBE)))

    def claim(self, config_hash: str, force: bool, writes: Iterable[str] = RESULT_FILES) -> tuple[bool, str | None]:
        """Decide what a run of the config with `config_hash`, which writes the files `writes`, may do
        here: `(serve_from_cache, note)`.

        Raises `ConfigError` when the directory holds something else than a run of this tool, a
        user's file under one of the names to write, or a run of another config and `force` is false."""
        if not self.entries():
            return False, None
        self.record = read_run(self.path)
        if self.record is None:
            self._fail(
                f"{self.path} is not empty and is not a scalinglaws run (it has no summary.json written by this "
                "tool); nothing was changed: choose another --out"
            )
        _check_writable_names(self.path, self.record, writes, self.key)
        if self.record.config_hash != config_hash:
            if not force:
                self._fail(
                    f"{self.path} holds a run of another config (hash {self.record.config_hash[:12]}, this config's "
                    f"is {config_hash[:12]}); nothing was changed: use --force to replace it, or another --out"
                )
            return False, f"replacing the run of config {self.record.config_hash[:12]} (--force)"
        if force:
            return False, None
        problem = _mismatch(self.path, self.record)
        return problem is None, None if problem is None else f"recomputing: the cached run is not served: {problem}"

    def verified_record(self, writes: Iterable[str]) -> RunRecord:
        """The record of the run held here, after checking every recorded file and that none of the
        files `writes` to be written is a user's (for `fit`)."""
        record = read_run(self.path)
        if record is None:
            self._fail(f"{self.path} is not a scalinglaws run (no valid summary.json written by this tool)")
        problem = _mismatch(self.path, record)
        if problem is not None:
            self._fail(f"{self.path} is damaged: {problem}; rerun it with `scalinglaws run ... --force`")
        _check_writable_names(self.path, record, writes, self.key)
        self.record = record
        return record

    def commit(self, writers: Mapping[str, Callable[[Path], None]], summary: dict, *, replace_run: bool) -> None:
        """Write `writers` (file name -> function writing that file at the path given) and
        `summary.json` (with the checksums under `files`) as one atomic unit.

        With `replace_run`, the files the previous run wrote and this one does not (such as an old
        `fit.json`) are removed, unless a user changed them (then they are left, as theirs); otherwise
        the previous run's other files are kept and stay recorded."""
        for name in writers:
            if name not in _TOOL_FILES or name == "summary.json":
                raise ValueError(f"the tool does not write {name!r}")
        with self._guard:
            if self._aborted:
                raise KeyboardInterrupt
            self._stage = Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, dir=self.path))
        stage = self._stage
        old = self.record.files if self.record is not None else {}
        files, remove = {}, []
        for name, digest in old.items():
            if name in writers:
                continue
            current = self.path / name
            if replace_run:
                if current.is_file() and file_checksum(current) == digest:
                    remove.append(name)
            else:
                files[name] = digest
        for name, write in writers.items():
            write(stage / name)
            files[name] = file_checksum(stage / name)
        summary = dict(summary, files=files)
        (stage / "summary.json").write_text(strict_json(summary), encoding="utf-8")
        names = [*writers, "summary.json"]
        for name in names:
            with open(stage / name, "rb") as handle:
                os.fsync(handle.fileno())
        with self._guard:
            if self._aborted:
                raise KeyboardInterrupt
            journal = stage / (_JOURNAL + ".tmp")
            with open(journal, "w") as handle:
                json.dump({"replace": names, "remove": remove}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(journal, stage / _JOURNAL)  # the commit point
            _sync_directory(stage)
            self._committed = True
            _apply(stage, self.path)
            self._stage = None
        self.record = RunRecord(summary, summary["config_hash"], files)


def load_results(directory: str | Path) -> ResultArrays:
    """The arrays of a run directory's `results.npz`, with the grid axes each carries (from its
    `summary.json`; a run without a grid, or written before grids, has none)."""
    with np.load(Path(directory) / "results.npz") as data:
        arrays = {name: data[name] for name in data.files}
    grid = ((record := read_run(Path(directory))) and record.summary.get("grid")) or {}
    try:
        axes = [(axis["name"], np.asarray(axis["values"])) for axis in grid.get("axes", [])]
        return ResultArrays(arrays, tuple(axes), {k: tuple(v) for k, v in grid.get("arrays", {}).items()})
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"its summary.json describes the grid wrongly: {error}") from None
