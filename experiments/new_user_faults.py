"""New-user faults: `scalinglaws run` and `scalinglaws fit` against a catalogue of bad inputs and faults.

Each case runs the command line as a new user would (a subprocess, `run ... --quiet`, with a timeout), in its own
fresh temporary directory, on a tiny config (N = 32, K = M = 2, alpha_max = 4, 2 seeds), and checks the behaviour
the tool promises:

- exit codes: 0 success; 2 bad input, before any computing, one message on stderr starting `error: ` that names
  the offending key (`training.alpha_max`, `--out` for output paths, `config` for the config file, `name`, or the
  flag of `fit`: `--variant`, `--bootstrap`, ...); 3 a simulation diverged; 130 interrupted;
- A, data loss: a user's folder is never replaced or emptied (with or without `--force`); a damaged cached run is
  recomputed, not served; a run of another config is refused; two runs into one folder at once: one is refused;
- B, failing before computing (exit 2 within 10 s, nothing created): bad output paths and run names, non-finite or
  out-of-range values, requests that cannot fit in memory, unreadable configs (not UTF-8, a FIFO, a directory), bad
  `fit` flags and a damaged `summary.json` (nothing overwritten);
- C, runtime: divergence recorded (exit 0) or reported (exit 3, quickly); Ctrl-C (SIGINT to the process group at
  5 delays) exits 130 within 5 s leaving no output; after a SIGKILL the folder can be rerun and no staging entries
  remain; `summary.json` is strict JSON (no bare NaN); `--out` a symlink stays a symlink; the umask is honoured.

Every child runs in its own process group under an address-space limit of half the physical memory (so a request
that does try to allocate too much fails in that child instead of starving the machine); children still running
when a case ends, or when this script is interrupted, are killed.

Usage: `python experiments/new_user_faults.py [--scalinglaws CMD] [--only SUBSTRING]`. CMD is the command line
of the tool (split like a shell would; default: this Python with `-m scalinglaws.cli`); `--only` runs the cases
whose id contains SUBSTRING. Writes `experiments/results/new_user_faults.md` (a table: case,
what was done, expected, observed exit code, seconds, first line of stderr, verdict) and prints
`N passed, M failed`; exits 1 when a case failed. A full run takes about 5 minutes on 2 cores against a tool that
behaves, 12 minutes against one that hangs until the timeouts.
"""

import argparse
import datetime
import glob
import hashlib
import json
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "experiments" / "results" / "new_user_faults.md"
RESULT_FILES = ("results.npz", "summary.json", "config.toml", "figure.png")

FAST = 10.0  # seconds: bad input must be refused within this (before any computing)
TIMEOUT = 240.0  # an ordinary run or fit
FAST_TIMEOUT = 30.0  # a command expected to fail fast: past this it is killed
FIFO_TIMEOUT = 20.0  # a config that is a FIFO: past this the command hangs
SIGINT_GRACE = 5.0  # seconds from SIGINT to exit 130
SIGINT_WAIT = 15.0  # how long to wait after SIGINT before killing
INTERRUPT_DELAYS = (4, 6, 8, 10, 12)  # seconds from start to SIGINT
MEMORY_CAP = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2  # address space of each child

TINY = """\
name = "tiny"
[data]
input_dim = 32
[teacher]
hidden = 2
[student]
hidden = 2
init_std = 0.1
[training]
learning_rate = 0.5
alpha_max = 4
alpha_min = 0.1
points_per_decade = 4
seeds = 2
chunk_size = 16
"""

# A theory-alone run of about 50 s on 2 cores: long enough to interrupt at every delay.
LONG_RUN = (
    "training.seeds=0",
    "data.spectrum=power_law",
    "data.input_dim=2048",
    "data.distinct_eigenvalues=2048",
    "training.alpha_max=1000000",
    "training.points_per_decade=50",
)
# Every run diverges (linear networks at eta = 50; erf networks at eta = 50 saturate instead of diverging).
DIVERGING = ("training.learning_rate=50", "student.activation=linear", "teacher.activation=linear")
RECORD = ("training.on_divergence=record", *DIVERGING)
MEMORY_WORDS = re.compile(
    r"memory|GiB|GB|available|at most|<=|≤|maximum|upper|exceed|too large|limit|in [\[(][^,]*, *[^\])]+[\])]", re.I
)
HEX = re.compile(r"\b[0-9a-f]{8,64}\b")
RECOMPUTING = re.compile(r"recomput(ing|ed|es)\b|recalculat", re.I)  # it happened, not "use --force to recompute"
EXCEPTION = re.compile(r"^[\w.]*(Error|Exception|Interrupt|Exit)\b")


# ---------------------------------------------------------------------------------------------------------------
# Running the tool


@dataclass
class Outcome:
    """What one command did: its exit code (None: killed at the timeout), wall seconds and output."""

    code: int | None
    seconds: float
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def headline(self) -> str:
        """The first non-empty line of stderr; for a traceback, its last line."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        if not lines:
            return ""
        if any(line.startswith("Traceback") for line in lines):
            raised = [line for line in lines if EXCEPTION.match(line)]
            return f"Traceback ... {(raised or lines)[-1]}"
        return lines[0]

    def error_line(self) -> str:
        """The first stderr line starting with `error: ` (or the headline when there is none)."""
        for line in self.stderr.splitlines():
            if line.startswith("error: "):
                return line
        return self.headline()


class Job:
    """One command started in its own process group, its output going to files."""

    def __init__(self, argv: list[str], cwd: Path, logs: Path, umask: int | None = None):
        self.stdout_path, self.stderr_path = logs.with_suffix(".out"), logs.with_suffix(".err")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_child_setup(umask),
            )
        self.start = time.monotonic()
        self.end: float | None = None
        self.killed = False

    def done(self) -> bool:
        if self.end is None and self.popen.poll() is not None:
            self.end = time.monotonic()
        return self.end is not None

    def signal(self, number: int) -> None:
        """Send `number` to the job's process group (as a terminal's Ctrl-C does), if it still runs."""
        if not self.done():
            try:
                os.killpg(self.popen.pid, number)
            except (ProcessLookupError, PermissionError):
                pass

    def kill(self) -> None:
        if not self.done():
            self.killed = True
            self.signal(signal.SIGKILL)
            self.popen.wait()
            self.done()

    def outcome(self) -> Outcome:
        code = None if self.killed else self.popen.returncode
        stdout, stderr = (path.read_text(errors="replace") for path in (self.stdout_path, self.stderr_path))
        return Outcome(code, (self.end or time.monotonic()) - self.start, stdout, stderr)


def _child_setup(umask: int | None) -> Callable[[], None]:
    def setup() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background shell may have left SIGINT ignored
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = MEMORY_CAP if hard == resource.RLIM_INFINITY else min(MEMORY_CAP, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        if umask is not None:
            os.umask(umask)

    return setup


def wait(jobs: list[Job], timeout: float, kill: bool = True, poll: float = 0.02) -> None:
    """Wait until every job has exited, at most `timeout` seconds; then kill those still running (if `kill`)."""
    deadline = time.monotonic() + timeout
    while not all(job.done() for job in jobs):
        if time.monotonic() > deadline:
            for job in jobs if kill else []:
                job.kill()
            return
        time.sleep(poll)


class Env:
    """The command under test, a session directory (logs, the reference run) and the jobs started."""

    def __init__(self, command: list[str]):
        self.command = command
        self.session = Path(tempfile.mkdtemp(prefix="new-user-faults-"))
        self.jobs: list[Job] = []
        self._good: Path | None = None

    def start(self, args: list[str], cwd: Path, umask: int | None = None) -> Job:
        job = Job(self.command + args, cwd, self.session / f"job{len(self.jobs)}", umask)
        self.jobs.append(job)
        return job

    def cli(self, args: list[str], cwd: Path, timeout: float = TIMEOUT, umask: int | None = None) -> Outcome:
        job = self.start(args, cwd, umask)
        wait([job], timeout)
        return job.outcome()

    def reap(self) -> None:
        """Kill every job still running (each by its own process group)."""
        for job in self.jobs:
            job.kill()

    def good_run(self, dest: Path) -> None:
        """Copy a complete run of the tiny config, fitted once (so it has fit.json), to `dest`."""
        if self._good is None:
            home = self.session / "reference"
            home.mkdir()
            config = write_config(home)
            for args in (run_args(config, "run"), ["fit", "run"]):
                outcome = self.cli(args, home)
                if outcome.code != 0:
                    raise RuntimeError(f"the reference run failed ({' '.join(args)}): {outcome.headline()}")
            self._good = home / "run"
        shutil.copytree(self._good, dest, symlinks=True)

    def close(self) -> None:
        self.reap()
        remove_tree(self.session)


def run_args(config: Path | str, out: str | None = None, sets=(), force: bool = False) -> list[str]:
    """`run CONFIG --quiet [--out OUT] [--set S ...] [--force]`, with the config named relative to the case dir."""
    args = ["run", Path(config).name if isinstance(config, Path) else config, "--quiet"]
    args += ["--out", out] if out is not None else []
    for item in sets:
        args += ["--set", item]
    return args + (["--force"] if force else [])


def write_config(directory: Path, text: str = TINY) -> Path:
    path = directory / "cfg.toml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------------------------
# Observing the file system


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under `root`: relative path -> `dir`, `link:<target>`, `special` or the SHA-256 of a file."""
    entries = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            relative = str(path.relative_to(root))
            if path.is_symlink():
                entries[relative] = f"link:{os.readlink(path)}"
            elif path.is_dir():
                entries[relative] = "dir"
            elif path.is_file():
                entries[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                entries[relative] = "special"
    return entries


def differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Changes between two snapshots, as failure reasons (a few names each)."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(name for name in set(before) & set(after) if before[name] != after[name])
    reasons = []
    for label, names in (("created", added), ("removed", removed), ("changed", changed)):
        if names:
            more = f" (+{len(names) - 3} more)" if len(names) > 3 else ""
            reasons.append(f"{label} {', '.join(names[:3])}{more}")
    return reasons


def leftovers(*directories: Path) -> list[str]:
    """Hidden staging entries (`.*partial*`, `.*stage*`, `.*.old-*`, `.*tmp*`) in these directories."""
    found = []
    for directory in directories:
        if directory.is_dir():
            for entry in os.listdir(directory):
                if entry.startswith(".") and re.search(r"partial|stage|\.old-|tmp", entry):
                    found.append(entry)
    return sorted(found)


def strict_json(text: str):
    """`json.loads` refusing the bare NaN / Infinity tokens that strict JSON does not have."""

    def refuse(token: str):
        raise ValueError(f"bare {token} token")

    return json.loads(text, parse_constant=refuse)


def whole_run(directory: Path) -> list[str]:
    """Why `directory` is not a complete, readable run (empty when it is)."""
    missing = [name for name in RESULT_FILES if not (directory / name).is_file()]
    if missing:
        return [f"{directory.name} lacks {', '.join(missing)}"]
    reasons = []
    try:
        with np.load(directory / "results.npz") as data:
            if "eps_g_sim" not in data.files and "eps_g_theory" not in data.files:
                reasons.append("results.npz holds no eps_g")
            for name in data.files:
                data[name]
    except Exception as error:  # noqa: BLE001 - any failure to read is the finding
        reasons.append(f"results.npz unreadable: {type(error).__name__}")
    try:
        if "config_hash" not in json.loads((directory / "summary.json").read_text()):
            reasons.append("summary.json has no config_hash")
    except ValueError as error:
        reasons.append(f"summary.json unreadable: {error}")
    try:
        tomllib.loads((directory / "config.toml").read_text())
    except (ValueError, UnicodeDecodeError) as error:
        reasons.append(f"config.toml unreadable: {error}")
    png = (directory / "figure.png").read_bytes()
    if not (png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82")):
        reasons.append("figure.png is not a complete PNG")
    return reasons


def remove_tree(path: Path) -> None:
    """Remove `path` even where a case made directories read-only."""
    if not path.exists() and not path.is_symlink():
        return
    for dirpath, dirnames, _ in os.walk(path):
        for name in dirnames:
            child = Path(dirpath) / name
            if not child.is_symlink():
                child.chmod(0o700)
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# Checks: each returns failure reasons (empty: as expected)


def exit_code(outcome: Outcome, expected: int) -> list[str]:
    if outcome.code is None:
        return [f"still running after {outcome.seconds:.0f} s (killed)"]
    if outcome.code < 0:
        return [f"killed by {signal.Signals(-outcome.code).name}, expected exit {expected}"]
    if outcome.code != expected:
        crash = " (crashed)" if outcome.code in (1, 134, 137) else ""
        return [f"exit {outcome.code}{crash}, expected {expected}"]
    return []


def no_traceback(outcome: Outcome) -> list[str]:
    return ["Python traceback on stderr"] if "Traceback (most recent call last)" in outcome.stderr else []


def error_message(outcome: Outcome, keys: tuple[str, ...]) -> list[str]:
    """stderr carries a message starting `error: ` that names one of `keys`."""
    line = outcome.error_line()
    if not line.startswith("error: "):
        usage = next((x for x in outcome.stderr.splitlines() if re.match(r"^\S+( \S+)?: error: ", x)), None)
        if usage is not None:
            return [f"argparse usage text, not one `error: ` line: `{usage[:120]}`"]
        return ["no `error: ` message on stderr"]
    if not any(key in line for key in keys):
        return [f"the message does not name {' or '.join(f'`{key}`' for key in keys)}"]
    return []


def fast(outcome: Outcome, limit: float = FAST) -> list[str]:
    return [f"took {outcome.seconds:.1f} s (> {limit:g} s)"] if outcome.seconds > limit else []


def bad_input(outcome: Outcome, keys: tuple[str, ...], limit: float = FAST) -> list[str]:
    """Exit 2, fast, with an `error: ` message naming the key and no traceback."""
    reasons = exit_code(outcome, 2)
    if outcome.code is not None:
        reasons += error_message(outcome, keys) + no_traceback(outcome) + fast(outcome, limit)
    return reasons


def mentions(outcome: Outcome, pattern: str, what: str) -> list[str]:
    return [] if re.search(pattern, outcome.text, re.I) else [f"output does not mention {what}"]


# ---------------------------------------------------------------------------------------------------------------
# Cases


@dataclass
class Result:
    """A case's observation: the outcome shown in the report, failure reasons, and overrides of the row."""

    outcome: Outcome | None
    failures: list[str] = field(default_factory=list)
    code_text: str | None = None
    not_applicable: str | None = None


@dataclass
class Case:
    id: str
    action: str
    expected: str
    check: Callable[[Path, Env], Result]


CASES: list[Case] = []


def case(id: str, action: str, expected: str):
    def register(check: Callable[[Path, Env], Result]) -> Callable[[Path, Env], Result]:
        CASES.append(Case(id, action, expected, check))
        return check

    return register


def refused_unchanged(
    env: Env, tmp: Path, args: list[str], keys: tuple[str, ...], timeout: float = FAST_TIMEOUT
) -> Result:
    """Run `args` in `tmp`; expect bad input naming `keys` (fast) and `tmp` left exactly as it was."""
    before = snapshot(tmp)
    outcome = env.cli(args, tmp, timeout=timeout)
    return Result(outcome, bad_input(outcome, keys) + differences(before, snapshot(tmp)))


# A. Data loss ---------------------------------------------------------------------------------------------------


def user_folder(tmp: Path, summary: str) -> None:
    folder = tmp / "myfolder"
    (folder / "sub").mkdir(parents=True)
    (folder / "summary.json").write_text(summary)
    (folder / "data.csv").write_text("alpha,eps\n1,0.5\n2,0.25\n")
    (folder / "sub" / "file").write_bytes(b"precious\x00bytes")


USER_SUMMARIES = {
    "user-summary": ('{"mine": 1}', 'a user\'s summary.json `{"mine": 1}`'),
    "garbage-hash": ('{"config_hash": "garbage!", "mine": 1}', "a summary.json with `config_hash` = garbage"),
    "not-json": ("hello, not JSON\n", "a summary.json that is not JSON"),
}

for _name, (_summary, _label) in USER_SUMMARIES.items():
    for _force in (False, True):

        def _check(tmp: Path, env: Env, summary=_summary, force=_force) -> Result:
            write_config(tmp)
            user_folder(tmp, summary)
            return refused_unchanged(env, tmp, run_args("cfg.toml", "myfolder", force=force), ("--out",))

        case(
            f"A1.{_name}{'-force' if _force else ''}",
            f"`run cfg --out myfolder{' --force' if _force else ''}`; myfolder holds {_label}, data.csv, sub/file",
            "exit 2 naming `--out`, fast; all three files byte-identical, nothing created",
        )(_check)


CORRUPTIONS = {
    "truncated-results": "truncate results.npz to half",
    "edited-config": "edit config.toml (input_dim = 32 -> 33)",
    "deleted-figure": "delete figure.png",
    "appended-figure": "append a byte to figure.png",
}


def corrupt(run: Path, kind: str) -> None:
    if kind == "truncated-results":
        data = (run / "results.npz").read_bytes()
        (run / "results.npz").write_bytes(data[: len(data) // 2])
    elif kind == "edited-config":
        text = (run / "config.toml").read_text()
        edited = text.replace("input_dim = 32", "input_dim = 33", 1)
        if edited == text:
            raise RuntimeError("config.toml has no `input_dim = 32` line to edit")
        (run / "config.toml").write_text(edited)
    elif kind == "deleted-figure":
        (run / "figure.png").unlink()
    else:
        with open(run / "figure.png", "ab") as handle:
            handle.write(b"\x00")


def served_from_cache(outcome: Outcome) -> bool:
    """Whether the output says the results came from the cache: a line with `cached` that does not say it is
    recomputing (`cached: DIR holds this config's results (use --force to recompute)` is a cache hit)."""
    return any("cached" in line.lower() and not RECOMPUTING.search(line) for line in outcome.text.splitlines())


for _kind, _label in CORRUPTIONS.items():

    def _check(tmp: Path, env: Env, kind=_kind) -> Result:
        write_config(tmp)
        env.good_run(tmp / "run")
        original = tomllib.loads((tmp / "run" / "config.toml").read_text())
        corrupt(tmp / "run", kind)
        outcome = env.cli(run_args("cfg.toml", "run"), tmp)
        failures = exit_code(outcome, 0)
        failures += ["said `cached`"] if served_from_cache(outcome) else []
        failures += [] if RECOMPUTING.search(outcome.text) else ["output does not say it is recomputing"]
        failures += whole_run(tmp / "run")
        if (tmp / "run" / "config.toml").is_file() and tomllib.loads((tmp / "run" / "config.toml").read_text()) != (
            original
        ):
            failures.append("config.toml still differs from the config")
        fit = env.cli(["fit", "run"], tmp)
        failures += [f"then `fit run`: {reason}" for reason in exit_code(fit, 0)]
        return Result(outcome, failures)

    case(
        f"A2.{_kind}",
        f"a complete run, {_label}, rerun the same `run cfg --out run`; then `fit run`",
        "exit 0, recomputed (not `cached`), run whole again; fit exits 0",
    )(_check)


@case("A2.untouched", "`run cfg --out run` twice", "second: exit 0, says `cached`")
def _untouched(tmp: Path, env: Env) -> Result:
    write_config(tmp)
    first = env.cli(run_args("cfg.toml", "run"), tmp)
    if first.code != 0:
        return Result(first, [f"the first run: {reason}" for reason in exit_code(first, 0)])
    outcome = env.cli(run_args("cfg.toml", "run"), tmp)
    failures = exit_code(outcome, 0) + ([] if served_from_cache(outcome) else ["did not say `cached`"])
    return Result(outcome, failures)


NOTES = "my notes: do not delete\n"


@case(
    "A3.other-config",
    "complete run in myrun + user's notes.txt; `run cfg --out myrun --set training.seeds=3`",
    "exit 2 naming myrun and two different hashes; nothing changed",
)
def _other_config(tmp: Path, env: Env) -> Result:
    write_config(tmp)
    env.good_run(tmp / "myrun")
    (tmp / "myrun" / "notes.txt").write_text(NOTES)
    before = snapshot(tmp)
    outcome = env.cli(run_args("cfg.toml", "myrun", ["training.seeds=3"]), tmp, timeout=FAST_TIMEOUT)
    failures = exit_code(outcome, 2) + no_traceback(outcome) + fast(outcome)
    failures += [] if "myrun" in outcome.error_line() else ["the message does not name myrun"]
    if len(set(HEX.findall(outcome.error_line()))) < 2:
        failures.append("the message does not show two different hashes")
    return Result(outcome, failures + differences(before, snapshot(tmp)))


@case(
    "A3.other-config-force",
    "complete run in myrun + user's notes.txt; `run cfg --out myrun --set training.seeds=3 --force`",
    "exit 0, 3 seeds, notes.txt kept with its content",
)
def _other_config_force(tmp: Path, env: Env) -> Result:
    write_config(tmp)
    env.good_run(tmp / "myrun")
    (tmp / "myrun" / "notes.txt").write_text(NOTES)
    outcome = env.cli(run_args("cfg.toml", "myrun", ["training.seeds=3"], force=True), tmp)
    failures = exit_code(outcome, 0)
    notes = tmp / "myrun" / "notes.txt"
    if not notes.is_file() or notes.read_text() != NOTES:
        failures.append("notes.txt lost or changed")
    failures += whole_run(tmp / "myrun")
    if not failures and json.loads((tmp / "myrun" / "summary.json").read_text()).get("seeds") != 3:
        failures.append("summary.json does not record 3 seeds")
    return Result(outcome, failures)


@case(
    "A4.concurrent",
    "start together `run cfg --out shared --set training.alpha_max=300 --set data.input_dim=256` and "
    "`run cfg --out shared`",
    "one exits 0, the other 2 within 10 s (another process / in use / locked); shared whole",
)
def _concurrent(tmp: Path, env: Env) -> Result:
    write_config(tmp)
    heavy = env.start(run_args("cfg.toml", "shared", ["training.alpha_max=300", "data.input_dim=256"]), tmp)
    tiny = env.start(run_args("cfg.toml", "shared"), tmp)
    wait([heavy, tiny], TIMEOUT)
    outcomes = {"heavy": heavy.outcome(), "tiny": tiny.outcome()}
    code_text = ", ".join(f"{name} {o.code}" for name, o in outcomes.items())
    codes = sorted(o.code if o.code is not None else -999 for o in outcomes.values())
    if codes != [0, 2]:
        shown = max(outcomes.values(), key=lambda o: o.code or 0)
        return Result(shown, [f"exit codes {code_text}, expected one 0 and one 2"], code_text)
    loser = next(o for o in outcomes.values() if o.code == 2)
    failures = fast(loser) + no_traceback(loser)
    failures += mentions(loser, r"another\b.*\bprocess|in use|\block", "another process / in use / locked")
    return Result(loser, failures + whole_run(tmp / "shared"), code_text)


# B5. Output paths -----------------------------------------------------------------------------------------------


@case("B5.read-only-parent", "`run cfg --out ro/run`, ro chmod 555", "exit 2 naming `--out`, fast, nothing created")
def _read_only_parent(tmp: Path, env: Env) -> Result:
    write_config(tmp)
    (tmp / "ro").mkdir()
    (tmp / "ro").chmod(0o555)
    try:
        result = refused_unchanged(env, tmp, run_args("cfg.toml", "ro/run"), ("--out",))
        if result.failures and os.access(tmp / "ro", os.W_OK):
            result.not_applicable = "running as root: a 555 directory is writable anyway (see B5.out-proc)"
        return result
    finally:
        (tmp / "ro").chmod(0o755)


def _out_case(id: str, out: str, action: str, setup: Callable[[Path], None] | None = None) -> None:
    def check(tmp: Path, env: Env) -> Result:
        write_config(tmp)
        if setup is not None:
            setup(tmp)
        return refused_unchanged(env, tmp, run_args("cfg.toml", out), ("--out",))

    case(id, action, "exit 2 naming `--out`, fast, nothing created")(check)


_out_case(
    "B5.out-under-file",
    "file.txt/run",
    "`run cfg --out file.txt/run`, file.txt a regular file",
    lambda tmp: (tmp / "file.txt").write_text("a file\n"),
)
_out_case(
    "B5.out-dot",
    ".",
    "`run cfg --out .` in a cwd holding cfg.toml and notes.txt",
    lambda tmp: (tmp / "notes.txt").write_text(NOTES),
)
_out_case("B5.out-proc", "/proc/x", "`run cfg --out /proc/x`")
_out_case("B5.out-300-chars", "a" * 300, "`run cfg --out aaa...` (a 300-character name)")


def _name_case(id: str, value: str, action: str, outside: str | None = None) -> None:
    def check(tmp: Path, env: Env) -> Result:
        write_config(tmp)
        existing = set(glob.glob(outside)) if outside else set()
        result = refused_unchanged(env, tmp, run_args("cfg.toml", None, [f"name={value}"]), ("name",))
        created = sorted(set(glob.glob(outside)) - existing) if outside else []
        for path in created:  # made by the command under test: remove it
            remove_tree(Path(path))
        result.failures += [f"created {', '.join(created)}"] if created else []
        return result

    case(id, action, "exit 2 naming `name`, fast, nothing created")(check)


_name_case("B5.name-300-chars", '"' + "n" * 300 + '"', "`run cfg --set name=nnn...` (300 characters)")
_name_case("B5.name-nul", '"a\\u0000b"', '`run cfg --set name="a\\u0000b"` (a NUL in the name)')
_name_case("B5.name-dotdot", '"../escape"', '`run cfg --set name="../escape"` (default --out)')
_name_case("B5.name-absolute", '"/tmp/abs"', '`run cfg --set name="/tmp/abs"` (default --out)', "/tmp/abs*")


# B6. Values -----------------------------------------------------------------------------------------------------

VALUES = [
    (("training.alpha_max=inf",), "training.alpha_max"),
    (("training.alpha_max=1e30",), "training.alpha_max"),
    (("training.alpha_min=nan",), "training.alpha_min"),
    (("training.seed=9223372036854775808",), "training.seed"),  # 2^63; 2^63 - 1 is a valid seed
    (("training.seed=18446744073709551616",), "training.seed"),
    (("data.input_dim=1180591620717411303424",), "data.input_dim"),
    (("data.spectrum=power_law", "data.exponent=inf"), "data.exponent"),
    (("data.spectrum=power_law", "data.exponent=nan"), "data.exponent"),
    (("student.activation=hermite100000",), "student.activation"),
    (("teacher.activation=hermite100000",), "teacher.activation"),
    (("student.second_layer_init=nan",), "student.second_layer_init"),
    (("training.learning_rate=inf",), "training.learning_rate"),
    (("training.learning_rate=[0.1, nan]",), "training.learning_rate"),
    (("training.divergence_threshold=nan",), "training.divergence_threshold"),
    (("teacher.noise_std=inf",), "teacher.noise_std"),
    (("student.init_std=inf",), "student.init_std"),
    (("theory.rtol=inf",), "theory.rtol"),
    (("theory.atol=nan",), "theory.atol"),
]

for _sets, _key in VALUES:

    def _check(tmp: Path, env: Env, sets=_sets, key=_key) -> Result:
        write_config(tmp)
        return refused_unchanged(env, tmp, run_args("cfg.toml", "run", sets), (key,))

    case(
        f"B6.value:{_sets[-1]}",
        "`run cfg " + " ".join(f"--set {s}" for s in _sets) + "`",
        f"exit 2 naming `{_key}`, fast, nothing created",
    )(_check)


# B7. Memory -----------------------------------------------------------------------------------------------------

MEMORY = [
    (("data.input_dim=10000000",), "data.input_dim"),
    (("student.hidden=100000",), "student.hidden"),
    (("teacher.hidden=100000",), "teacher.hidden"),
    (("training.seeds=10000000",), "training.seeds"),
    (("training.chunk_size=100000000",), "training.chunk_size"),
    (("training.test_size=1000000000", "student.activation=relu", "teacher.activation=tanh"), "training.test_size"),
    (("training.points_per_decade=100000000",), "training.points_per_decade"),
]


def too_big(outcome: Outcome, key: str) -> list[str]:
    """Bad input naming `key` and saying why it does not fit (memory, or the key's upper bound)."""
    failures = bad_input(outcome, (key,))
    if outcome.code == 2 and not MEMORY_WORDS.search(outcome.stderr):
        failures.append("the message mentions neither memory nor an upper bound")
    return failures


for _sets, _key in MEMORY:

    def _check(tmp: Path, env: Env, sets=_sets, key=_key) -> Result:
        write_config(tmp)
        before = snapshot(tmp)
        outcome = env.cli(run_args("cfg.toml", "run", sets), tmp, timeout=FAST_TIMEOUT)
        return Result(outcome, too_big(outcome, key) + differences(before, snapshot(tmp)))

    case(
        f"B7.memory:{_sets[0]}",
        "`run cfg " + " ".join(f"--set {s}" for s in _sets) + "`",
        f"exit 2 naming `{_key}` (memory / GiB / available / bound), fast, no traceback",
    )(_check)


@case(
    "B7.fit-bootstrap",
    "`fit run --bootstrap 100000000` on a complete run",
    "exit 2 naming `--bootstrap` (memory / bound), fast, run unchanged",
)
def _fit_bootstrap_memory(tmp: Path, env: Env) -> Result:
    env.good_run(tmp / "run")
    before = snapshot(tmp)
    outcome = env.cli(["fit", "run", "--bootstrap", "100000000"], tmp, timeout=FAST_TIMEOUT)
    return Result(outcome, too_big(outcome, "--bootstrap") + differences(before, snapshot(tmp)))


# B8. Unreadable configs -----------------------------------------------------------------------------------------


@case("B8.config-not-utf8", "`run cfg.toml`, the file holds b'name = \"\\xff\\xfe\"'", "exit 2 naming `config`, fast")
def _not_utf8(tmp: Path, env: Env) -> Result:
    (tmp / "cfg.toml").write_bytes(b'name = "\xff\xfe"\n')
    return refused_unchanged(env, tmp, run_args("cfg.toml", "run"), ("config",))


@case("B8.config-fifo", "`run cfg.toml`, a FIFO nobody writes to", "exit 2 naming `config` (a hang of 20 s: FAIL)")
def _fifo(tmp: Path, env: Env) -> Result:
    os.mkfifo(tmp / "cfg.toml")
    return refused_unchanged(env, tmp, run_args("cfg.toml", "run"), ("config",), timeout=FIFO_TIMEOUT)


@case("B8.config-directory", "`run myconfig`, a directory", "exit 2 naming `config`, fast")
def _directory_config(tmp: Path, env: Env) -> Result:
    (tmp / "myconfig").mkdir()
    return refused_unchanged(env, tmp, run_args("myconfig", "run"), ("config",))


# B9. fit --------------------------------------------------------------------------------------------------------

FIT_FLAGS = [
    ("variant-not-sweep", ["--variant", "5"], ("--variant",), "`fit run --variant 5` (not a sweep)"),
    ("bootstrap-negative", ["--bootstrap", "-5"], ("--bootstrap",), "`fit run --bootstrap -5`"),
    (
        "range-and-auto-window",
        ["--range", "0.1", "1", "--auto-window"],
        ("--range", "--auto-window"),
        "`fit run --range 0.1 1 --auto-window`",
    ),
    ("range-reversed", ["--range", "1", "0.1"], ("--range",), "`fit run --range 1 0.1`"),
    ("range-nan", ["--range", "nan", "1"], ("--range",), "`fit run --range nan 1`"),
    (
        "tolerance-negative",
        ["--auto-window", "--tolerance", "-1"],
        ("--tolerance",),
        "`fit run --auto-window --tolerance -1`",
    ),
]

for _name, _flags, _keys, _label in FIT_FLAGS:

    def _check(tmp: Path, env: Env, flags=_flags, keys=_keys) -> Result:
        env.good_run(tmp / "run")
        return refused_unchanged(env, tmp, ["fit", "run", *flags], keys)

    case(
        f"B9.fit-{_name}",
        f"{_label} on a complete, fitted run",
        f"exit 2 naming {' or '.join(f'`{k}`' for k in _keys)}, fast, run unchanged",
    )(_check)


@case(
    "B9.fit-corrupt-summary",
    "`fit run` on a complete, fitted run whose summary.json is truncated to half",
    "exit 2 naming summary.json; fit.json, figure.png, summary.json byte-identical",
)
def _fit_corrupt_summary(tmp: Path, env: Env) -> Result:
    env.good_run(tmp / "run")
    data = (tmp / "run" / "summary.json").read_bytes()
    (tmp / "run" / "summary.json").write_bytes(data[: len(data) // 2])
    return refused_unchanged(env, tmp, ["fit", "run"], ("summary.json",))


# C. Runtime -----------------------------------------------------------------------------------------------------


def _record_run(tmp: Path, env: Env) -> tuple[Outcome, Path]:
    write_config(tmp)
    return env.cli(run_args("cfg.toml", "run", RECORD), tmp), tmp / "run" / "summary.json"


@case(
    "C10.record-divergence",
    "`run cfg --set training.on_divergence=record --set training.learning_rate=50` (linear student and teacher)",
    "exit 0, summary.json `diverged` non-null, figure.png and results.npz written",
)
def _record_divergence(tmp: Path, env: Env) -> Result:
    outcome, summary = _record_run(tmp, env)
    failures = exit_code(outcome, 0)
    for name in ("figure.png", "results.npz", "summary.json"):
        failures += [] if (tmp / "run" / name).is_file() else [f"no {name}"]
    if summary.is_file():
        try:
            if json.loads(summary.read_text()).get("diverged") in (None, "", [], {}):
                failures.append("summary.json `diverged` is empty: the run did not diverge")
        except ValueError as error:
            failures.append(f"summary.json unreadable: {error}")
    return Result(outcome, failures)


@case(
    "C11.diverge-error",
    "`run cfg --set training.learning_rate=1e4 --set training.alpha_max=2000` (on_divergence = error)",
    "exit 3 within 10 s naming learning rate, seed and alpha; nothing written",
)
def _diverge_error(tmp: Path, env: Env) -> Result:
    write_config(tmp)
    outcome = env.cli(run_args("cfg.toml", "run", ["training.learning_rate=1e4", "training.alpha_max=2000"]), tmp)
    failures = exit_code(outcome, 3) + no_traceback(outcome) + fast(outcome)
    for pattern, what in ((r"learning.rate|eta", "the learning rate"), (r"seed", "the seed"), (r"alpha", "alpha")):
        failures += [] if re.search(pattern, outcome.stderr, re.I) else [f"stderr does not name {what}"]
    failures += ["run/ was created"] if (tmp / "run").exists() else []
    return Result(outcome, failures + [f"left {name}" for name in leftovers(tmp)])


def _interrupt(tmp: Path, env: Env, delay: float) -> Result:
    write_config(tmp)
    job = env.start(run_args("cfg.toml", "run", LONG_RUN), tmp)
    wait([job], delay, kill=False)
    if job.done():
        outcome = job.outcome()
        return Result(outcome, [f"finished (exit {outcome.code}) before the signal: pick a heavier run"])
    job.signal(signal.SIGINT)
    sent = time.monotonic()
    wait([job], SIGINT_WAIT)
    outcome = job.outcome()
    outcome.seconds = (job.end or time.monotonic()) - sent
    failures = exit_code(outcome, 130)
    if outcome.code is not None and outcome.seconds > SIGINT_GRACE:
        failures.append(f"exited {outcome.seconds:.1f} s after SIGINT (> {SIGINT_GRACE:g} s)")
    failures += ["run/ exists afterwards"] if (tmp / "run").exists() else []
    return Result(outcome, failures + [f"left {name}" for name in leftovers(tmp)])


for _delay in INTERRUPT_DELAYS:
    case(
        f"C12.ctrl-c-{_delay}s",
        f"a theory-alone run of ~50 s (N = L = 2048, alpha to 1e6); SIGINT to its group after {_delay} s",
        "exit 130 within 5 s of the signal (seconds: signal to exit); run/ absent",
    )(lambda tmp, env, delay=_delay: _interrupt(tmp, env, delay))


def _kill_while_staging(env: Env, tmp: Path, args: list[str]) -> str:
    """Start `args`; SIGKILL the job as soon as a staging entry appears beside or inside run/ (or when it ends)."""
    job = env.start(args, tmp)
    while not job.done() and time.monotonic() - job.start < TIMEOUT:
        staging = leftovers(tmp, tmp / "run")
        if staging:
            job.kill()
            return f"killed while {staging[0]} existed"
        time.sleep(0.005)
    job.kill()
    return "no hidden entry seen; the run ended first"


@case(
    "C13.sigkill-then-rerun",
    "`run cfg --out run` SIGKILLed while it writes (a hidden entry appears); the same command again",
    "exit 0, run whole, no hidden partial/stage entries in run/ or its parent",
)
def _sigkill(tmp: Path, env: Env) -> Result:
    write_config(tmp)
    note = _kill_while_staging(env, tmp, run_args("cfg.toml", "run"))
    outcome = env.cli(run_args("cfg.toml", "run"), tmp)
    failures = exit_code(outcome, 0) + whole_run(tmp / "run")
    failures += [f"left {name}" for name in leftovers(tmp, tmp / "run")]
    return Result(outcome, failures, code_text=f"{outcome.code} ({note})")


@case(
    "C13.strict-json",
    "`run cfg` recording divergences (as C10); summary.json read as strict JSON",
    "exit 0; summary.json has no bare NaN / Infinity",
)
def _strict_json(tmp: Path, env: Env) -> Result:
    outcome, summary = _record_run(tmp, env)
    failures = exit_code(outcome, 0)
    if not summary.is_file():
        return Result(outcome, failures + ["no summary.json"])
    try:
        strict_json(summary.read_text())
    except ValueError as error:
        failures.append(f"summary.json is not strict JSON: {error}")
    return Result(outcome, failures)


@case(
    "C13.out-symlink",
    "`run cfg --out link`, link a symlink to an existing empty directory target/",
    "exit 0; link still a symlink, the run files in target/",
)
def _out_symlink(tmp: Path, env: Env) -> Result:
    write_config(tmp)
    (tmp / "target").mkdir()
    (tmp / "link").symlink_to("target")
    outcome = env.cli(run_args("cfg.toml", "link"), tmp)
    failures = exit_code(outcome, 0)
    failures += [] if (tmp / "link").is_symlink() else ["link is no longer a symlink"]
    failures += [f"target/{name} missing" for name in RESULT_FILES if not (tmp / "target" / name).is_file()]
    return Result(outcome, failures)


def _umask(tmp: Path, env: Env, umask: int) -> Result:
    write_config(tmp)
    outcome = env.cli(run_args("cfg.toml"), tmp, umask=umask)
    failures = exit_code(outcome, 0)
    dir_mode, file_mode = 0o777 & ~umask, 0o666 & ~umask
    runs = sorted((tmp / "runs").glob("*")) if (tmp / "runs").is_dir() else []
    if len(runs) != 1:
        return Result(outcome, failures + [f"expected one directory in runs/, found {len(runs)}"])
    for path in [tmp / "runs", runs[0], *sorted(runs[0].iterdir())]:
        mode, want = path.stat().st_mode & 0o777, dir_mode if path.is_dir() else file_mode
        if mode != want:
            failures.append(f"{path.relative_to(tmp)} is {mode:o}, expected {want:o}")
    return Result(outcome, failures)


for _mask in (0o077, 0o022):
    case(
        f"C13.umask-{_mask:03o}",
        f"`run cfg` (default --out runs/<name>-<hash>) under umask {_mask:03o}",
        f"exit 0; directories {0o777 & ~_mask:o}, files {0o666 & ~_mask:o}",
    )(lambda tmp, env, mask=_mask: _umask(tmp, env, mask))


# ---------------------------------------------------------------------------------------------------------------
# Running the cases and the report


@dataclass
class Row:
    case: Case
    result: Result
    verdict: str  # PASS, FAIL or N/A
    why: str


def run_case(env: Env, item: Case) -> Row:
    tmp = Path(tempfile.mkdtemp(prefix="case-"))
    try:
        result = item.check(tmp, env)
    except Exception as error:  # noqa: BLE001 - a case that cannot be carried out is reported, not fatal
        traceback.print_exc()
        result = Result(None, [f"the check could not be carried out: {type(error).__name__}: {error}"])
    finally:
        env.reap()
        remove_tree(tmp)
    if result.outcome is not None:
        placeholders = ((str(tmp), "$TMP"), (os.path.realpath(tmp), "$TMP"), (str(env.session), "$SESSION"))
        for old, new in placeholders:
            result.outcome.stderr = result.outcome.stderr.replace(old, new)
    if not result.failures:
        return Row(item, result, "PASS", "")
    if result.not_applicable:
        return Row(item, result, "N/A", f"{result.not_applicable}; observed: {'; '.join(result.failures)}")
    return Row(item, result, "FAIL", "; ".join(result.failures))


def cell(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text.replace("|", "\\|")


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (with uncommitted changes)" if dirty.strip() else "")


def total(rows: list[Row]) -> str:
    counts = {verdict: sum(row.verdict == verdict for row in rows) for verdict in ("PASS", "FAIL", "N/A")}
    line = f"{counts['PASS']} passed, {counts['FAIL']} failed"
    return line + (f", {counts['N/A']} not applicable" if counts["N/A"] else "")


def report(rows: list[Row], command: list[str], invocation: str, seconds: float, load: float) -> str:
    lines = [
        "# New-user faults: `scalinglaws run` and `fit` against bad inputs",
        "",
        f"Date {datetime.date.today().isoformat()}, commit {git_commit()}, command under test `{shlex.join(command)}`"
        + f" (`{invocation}`)"
        + f"; {len(rows)} cases in {seconds:.0f} s, load average {load:.1f} at the start"
        + f" on {os.cpu_count()} cores (the 10 s limits assume an otherwise idle machine); each command ran under an"
        + f" address-space limit of {MEMORY_CAP / 2**30:.1f} GiB (half the memory).",
        "Written by `experiments/new_user_faults.py` (its docstring says what is checked and how). Exit codes: 0 ok, "
        "2 bad input (one `error: ` message naming the key, before any computing), 3 diverged, 130 interrupted. "
        "Tiny config: N = 32, K = M = 2, alpha 0.1 to 4, 2 seeds. Seconds: wall time of the command shown "
        "(C12: from the signal to the exit). $TMP is the case's temporary directory.",
        "",
        "| case | what was done | expected | exit | s | first line of stderr | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        outcome = row.result.outcome
        code = row.result.code_text or ("-" if outcome is None else "timeout" if outcome.code is None else outcome.code)
        seconds_text = "-" if outcome is None else f"{outcome.seconds:.1f}"
        verdict = row.verdict + (f": {row.why}" if row.why else "")
        cells = [row.case.id, row.case.action, row.case.expected, str(code), seconds_text]
        cells += [outcome.headline() if outcome else "", verdict]
        lines.append("| " + " | ".join(cell(text, 400 if i == 6 else 200) for i, text in enumerate(cells)) + " |")
    return "\n".join(lines + ["", total(rows), ""])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scalinglaws",
        metavar="CMD",
        help="the tool's command line (default: this Python with -m scalinglaws.cli)",
    )
    parser.add_argument("--only", metavar="SUBSTRING", help="run only the cases whose id contains SUBSTRING")
    return parser.parse_args(argv)


def _terminated(number: int, frame) -> None:
    raise KeyboardInterrupt(f"signal {number}")  # so that `finally` kills the children and removes the temp dirs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    command = shlex.split(args.scalinglaws) if args.scalinglaws else [sys.executable, "-m", "scalinglaws.cli"]
    cases = [c for c in CASES if not args.only or args.only in c.id]
    if not cases:
        print(f"no case id contains {args.only!r}", file=sys.stderr)
        return 2
    env, rows, start, load = Env(command), [], time.monotonic(), os.getloadavg()[0]
    try:
        for index, item in enumerate(cases, 1):
            print(f"[{index}/{len(cases)}] {item.id} ... ", end="", file=sys.stderr, flush=True)
            row = run_case(env, item)
            rows.append(row)
            print(row.verdict + (f": {row.why}" if row.why else ""), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted: no report written", file=sys.stderr)
        return 130
    finally:
        env.close()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    invocation = shlex.join(["python", "experiments/new_user_faults.py", *(sys.argv[1:] if argv is None else argv)])
    REPORT.write_text(report(rows, command, invocation, time.monotonic() - start, load))
    print(f"{total(rows)} (report: {REPORT.relative_to(ROOT)})")
    return 1 if any(row.verdict == "FAIL" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
