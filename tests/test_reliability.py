"""A user's data is sacred: run directories, bad inputs and faults (issue 13, items 1-13).

Every numbered case of the issue has a test here; most run the command in process on a tiny config,
the signal and lock cases in subprocesses.
"""

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scalinglaws.experiment as experiment
from scalinglaws.cli import main
from scalinglaws.experiment import (
    ConfigError,
    OutputDirectory,
    check_memory,
    estimate_memory,
    file_checksum,
    load_config,
    load_results,
    read_run,
    resolve,
)


# A linear SCM is unstable for eta > 2 / K: these runs blow up.
DIVERGING = (
    "teacher.activation=linear",
    "student.activation=linear",
    "training.alpha_max=20",
    "training.learning_rate=50",
)


def run(config, out, *overrides, force=False):
    args = ["run", str(config), "--out", str(out), "--quiet", *(["--force"] if force else [])]
    for override in overrides:
        args += ["--set", override]
    return main(args)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (relative path -> content)."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def no_computing(monkeypatch):
    """Fail the test if the CLI gets as far as computing anything."""

    def refuse(*args, **kwargs):
        raise AssertionError("the run was computed")

    monkeypatch.setattr(experiment, "run_experiment", refuse)


# 1. Only a directory whose summary.json is the tool's counts as a run; nothing else is ever deleted.


@pytest.mark.parametrize(
    "summary",
    ['{"mine": 1}', '{"config_hash": "not a hash"}', "not json", '["config_hash"]'],
)
def test_a_folder_that_is_not_a_run_is_never_touched(tiny, tmp_path, capsys, summary, no_computing):
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "summary.json").write_text(summary)
    (folder / "data.csv").write_text("1,2,3\n")
    (folder / "sub" / "file").write_text("keep")
    before = snapshot(folder)
    for force in (False, True):
        assert run(tiny, folder, force=force) == 2
        assert "not a scalinglaws run" in capsys.readouterr().err
        assert snapshot(folder) == before and sorted(os.listdir(folder)) == ["data.csv", "sub", "summary.json"]


# 2. The cache serves a run only when every recorded checksum matches.


@pytest.mark.parametrize("damage", ["truncate results.npz", "edit config.toml", "delete figure.png", "no checksums"])
def test_the_cache_serves_only_verified_results(tiny, tmp_path, capsys, damage):
    out = tmp_path / "run"
    assert run(tiny, out) == 0
    assert run(tiny, out) == 0 and "cached" in capsys.readouterr().out
    if damage == "truncate results.npz":
        (out / "results.npz").write_bytes((out / "results.npz").read_bytes()[:100])
    elif damage == "edit config.toml":
        (out / "config.toml").write_text((out / "config.toml").read_text() + "# edited\n")
    elif damage == "delete figure.png":
        (out / "figure.png").unlink()
    else:  # a run written before checksums were recorded
        summary = json.loads((out / "summary.json").read_text())
        del summary["files"]
        (out / "summary.json").write_text(json.dumps(summary))
    assert run(tiny, out) == 0
    printed = capsys.readouterr()
    assert "cached" not in printed.out and "recomputing" in printed.err
    record = read_run(out)
    assert sorted(record.files) == ["config.toml", "figure.png", "results.npz"]
    assert all(file_checksum(out / name) == digest for name, digest in record.files.items())
    assert main(["fit", str(out), "--bootstrap", "0"]) == 0
    assert run(tiny, out) == 0 and "cached" in capsys.readouterr().out  # fit.json recorded too


# 3. Another config replaces a run only with --force, and keeps the user's files.


def test_another_config_needs_force_and_keeps_user_files(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(tiny, out) == 0
    assert main(["fit", str(out), "--bootstrap", "0"]) == 0
    (out / "notes.txt").write_text("my notes")
    old_hash = read_run(out).config_hash
    before = snapshot(out)
    assert run(tiny, out, "training.seeds=3") == 2
    err = capsys.readouterr().err
    assert str(out) in err and old_hash[:12] in err and "--force" in err
    new_hash = load_config(tiny, ["training.seeds=3"]).hash(__import__("scalinglaws").__version__)
    assert new_hash[:12] in err and snapshot(out) == before
    assert run(tiny, out, "training.seeds=3", force=True) == 0
    assert (out / "notes.txt").read_text() == "my notes"
    assert not (out / "fit.json").exists()  # the old run's fit: written by the tool, unchanged, removed
    assert load_results(out)["eps_g_sim"].shape[0] == 3 and read_run(out).config_hash == new_hash


def test_a_tool_file_the_user_edited_is_left_to_them(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(tiny, out) == 0
    assert main(["fit", str(out), "--bootstrap", "0"]) == 0
    (out / "fit.json").write_text('{"my": "edit"}')
    assert run(tiny, out, "training.seeds=3", force=True) == 0
    assert (out / "fit.json").read_text() == '{"my": "edit"}' and "fit.json" not in read_run(out).files
    # From now on it is the user's: neither `fit` nor a run with [fit] may replace it.
    before = snapshot(out)
    assert main(["fit", str(out), "--bootstrap", "0"]) == 2
    assert run(tiny, out, "training.seeds=3", "fit.form=power_law", force=True) == 2
    assert "not written by this tool" in capsys.readouterr().err and snapshot(out) == before
    assert run(tiny, out, "training.seeds=3") == 0 and "cached" in capsys.readouterr().out  # no fit to write


# 4. One process at a time in a directory.

_HOLD = """
import sys, time
from scalinglaws.experiment import OutputDirectory
with OutputDirectory(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_process_is_refused_at_once(tiny, tmp_path, capsys, no_computing):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.perf_counter()
        assert run(tiny, out) == 2
        assert time.perf_counter() - start < 5
        assert "another scalinglaws process" in capsys.readouterr().err
        assert main(["fit", str(out)]) == 2
    finally:
        holder.kill()
        holder.wait()
    # In one process too (flock locks an open file description).
    with OutputDirectory(out):
        with pytest.raises(ConfigError, match="another scalinglaws process"):
            OutputDirectory(out).__enter__()


# 5. Output paths are checked before any computing.


def test_output_paths_fail_before_computing(tiny, tmp_path, capsys, monkeypatch, no_computing):
    (tmp_path / "file.txt").write_text("x")
    bad = [tmp_path / "file.txt" / "run", Path("/proc/scalinglaws-run"), tmp_path / ("n" * 300)]
    for out in bad:
        assert run(tiny, out) == 2, out
        assert "--out" in capsys.readouterr().err
    assert (tmp_path / "file.txt").read_text() == "x"
    # `--out .` in a folder of the user's.
    monkeypatch.chdir(tmp_path)
    assert run(tiny, ".") == 2 and "not a scalinglaws run" in capsys.readouterr().err
    # Names that would write outside runs/ are refused as config values.
    for name in ("../escape", "/tmp/absolute", "a/b", ".hidden", "n" * 101, "nul\u0000"):
        assert main(["run", str(tiny), "--quiet", "--set", f"name={json.dumps(name)}"]) == 2
        assert "error: name:" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["file.txt", "tiny.toml"]
    # A directory that cannot be created (a read-only parent: simulated, since root may write anywhere).
    real_mkdir = os.mkdir

    def read_only(path, *args, **kwargs):
        if Path(path).parent == tmp_path / "ro":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(os, "mkdir", read_only)
    assert run(tiny, tmp_path / "ro" / "run") == 2
    assert "Permission denied" in capsys.readouterr().err and not os.listdir(tmp_path / "ro")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_parent_fails_before_computing(tiny, tmp_path, capsys, no_computing):
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o555)
    assert run(tiny, parent / "run") == 2 and "--out" in capsys.readouterr().err


# 6. Every float is finite and every size bounded.


@pytest.mark.parametrize(
    "override, key",
    [
        ("training.alpha_max=inf", "training.alpha_max"),
        ("training.alpha_max=1e30", "training.alpha_max"),
        ("training.alpha_max=1e8", "training.alpha_max"),  # 3.2e9 steps at N = 32
        ("training.seed=9223372036854775808", "training.seed"),
        ("data.input_dim=1180591620717411303424", "data.input_dim"),
        ("data.exponent=inf", "data.exponent"),
        ("student.activation=hermite100000", "student.activation"),
        ("teacher.activation=hermite31", "teacher.activation"),
        ("student.second_layer_init=nan", "student.second_layer_init"),
        ("training.learning_rate=inf", "training.learning_rate"),
        ("training.learning_rate=[0.1, nan]", "training.learning_rate"),
        ("teacher.noise_std=inf", "teacher.noise_std"),
        ("student.init_std=inf", "student.init_std"),
        ("theory.rtol=inf", "theory.rtol"),
        ("theory.atol=nan", "theory.atol"),
        ("training.divergence_threshold=inf", "training.divergence_threshold"),
        ("student.hidden=2000000", "student.hidden"),
        ("training.seeds=2000000", "training.seeds"),
        ("training.points_per_decade=100000000", "training.points_per_decade"),
        ("training.chunk_size=100000000", "training.chunk_size"),
        ("training.test_size=1000000000", "training.test_size"),
        ("fit.variant=1", "fit.variant"),  # not a sweep
        ("fit.bootstrap=100000000", "fit.bootstrap"),
    ],
)
def test_values_that_would_crash_later_are_refused(tiny, override, key):
    with pytest.raises(ConfigError) as caught:
        load_config(tiny, [override])
    assert caught.value.key == key


def test_a_refused_value_exits_2_at_once(tiny, tmp_path, capsys, no_computing):
    assert run(tiny, tmp_path / "out", "training.learning_rate=inf") == 2
    assert "error: training.learning_rate: must be a finite number" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_largest_seed_still_runs(tiny, tmp_path):
    assert run(tiny, tmp_path / "out", f"training.seed={2**63 - 1}", "theory.enabled=false") == 0


# 7. A run that cannot fit in memory is refused with the estimate and what is available.


@pytest.mark.parametrize(
    "overrides, key",
    [
        (["data.input_dim=16000000", "training.seeds=64", "training.chunk_size=1"], "data.input_dim"),
        (["student.hidden=1000000", "student.kind=random_features", "data.input_dim=4096"], "student.hidden"),
        (
            ["student.activation=relu", "teacher.activation=tanh", "training.test_size=16000000", "data.input_dim=512"],
            "training.test_size",
        ),
        (["data.spectrum=power_law", "data.input_dim=65536", "training.points_per_decade=10000"], None),
    ],
)
def test_a_run_too_big_for_memory_exits_2_before_computing(tiny, tmp_path, capsys, no_computing, overrides, key):
    assert run(tiny, tmp_path / "out", *overrides) == 2
    err = capsys.readouterr().err
    assert "GiB of memory at its peak" in err and "are available" in err and err.count("\n") == 1
    assert key is None or err.startswith(f"error: {key}:")
    assert not (tmp_path / "out").exists()


def test_the_stiff_block_solve_is_counted_before_it_runs_out_of_memory():
    """The eigen-block ODE's stiff solve holds L (K^2 + K M)^2 numbers per lane: at Fig. 6's scale
    (K = M = 40, L = N = 512, one seed) one allocation of 430 GB ran out of memory before the
    estimate knew of it. Now the estimate counts it (and the config takes the explicit solver)."""
    from scalinglaws.cli import configs_dir

    path = configs_dir() / "p1_fig6.toml"
    stiff = estimate_memory(load_config(path, ["training.seeds=0", "theory.solver=stiff"])).total
    explicit = estimate_memory(load_config(path, ["training.seeds=0"])).total
    assert stiff > 430e9 and explicit < 10 * 2**30
    with pytest.raises(ConfigError, match="are available"):
        check_memory(load_config(path, ["training.seeds=0", "theory.solver=stiff"]), available=256 * 2**30)


def test_memory_check_against_a_given_budget(tiny):
    config = load_config(tiny)
    estimate = check_memory(config, available=2**40)
    assert estimate.total < 2**30  # the tiny run fits in a gibibyte
    with pytest.raises(ConfigError, match="are available"):
        check_memory(config, available=estimate.total - 1)


# The peak resident memory of this process image: VmHWM, which exec resets. (ru_maxrss is not: Linux
# carries over the high-water mark of the forked parent, so a run started from a test worker that had
# grown to 5 GB reported 5 GB.)
_PEAK = """
import sys
from scalinglaws.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    print("PEAK", next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
"""


@pytest.mark.slow
def test_the_memory_estimate_bounds_the_measured_peak(tiny, tmp_path):
    """A run dominated by its Monte Carlo test set (test inputs of 256 MiB): the estimate lies above
    the peak resident memory (1.5 GB), and within a factor 3 of it."""
    overrides = [
        "student.activation=relu",
        "teacher.activation=tanh",
        "training.test_size=262144",
        "data.input_dim=256",
        "training.alpha_max=0.5",
        "theory.enabled=false",
    ]
    args = ["run", str(tiny), "--out", str(tmp_path / "out"), "--quiet"]
    for override in overrides:
        args += ["--set", override]
    # A private compilation cache: the measurement must not depend on what the session's runs cached.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", _PEAK, *args], capture_output=True, text=True, check=True, env=env)
    peak = int(done.stdout.split("PEAK")[-1])
    estimate = estimate_memory(load_config(tiny, overrides)).total
    assert peak < estimate < 3 * peak, (peak, estimate)


def test_fit_bootstrap_is_bounded():
    for value in ("100000000", "-5", "1e8"):
        with pytest.raises(SystemExit) as caught:
            main(["fit", "somewhere", "--bootstrap", value])
        assert caught.value.code == 2


# 8. Config files that are not UTF-8 text, or not regular files.


def test_config_files_that_cannot_be_read(tmp_path, capsys, no_computing):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'name = "\xff\xfe"\n')
    assert run(binary, tmp_path / "out") == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert run(tmp_path, tmp_path / "out") == 2  # a directory
    assert "not a regular file" in capsys.readouterr().err
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "scalinglaws.cli", "run", str(fifo), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "not a regular file" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


# 9. `fit`: its flags are checked, and fit.json, summary.json and figure.png change together or not at all.


def test_fit_flags_are_checked(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(tiny, out) == 0
    before = snapshot(out)
    assert main(["fit", str(out), "--variant", "5"]) == 2
    assert "--variant" in capsys.readouterr().err
    for flags in (["--bootstrap", "-5"], ["--range", "0.1", "1", "--auto-window"], ["--range", "nan", "1"]):
        with pytest.raises(SystemExit) as caught:
            main(["fit", str(out), *flags])
        assert caught.value.code == 2
    sweep = tmp_path / "sweep"
    assert run(tiny, sweep, "training.learning_rate=[0.3, 0.5]") == 0
    assert main(["fit", str(sweep), "--variant", "2"]) == 2 and "[0, 2)" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "absent")]) == 2
    assert snapshot(out) == before


def test_fit_on_a_damaged_run_changes_nothing(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(tiny, out) == 0
    (out / "summary.json").write_text((out / "summary.json").read_text()[:50])
    before = snapshot(out)
    assert main(["fit", str(out)]) == 2
    assert "not a scalinglaws run" in capsys.readouterr().err and snapshot(out) == before
    assert run(tiny, tmp_path / "other") == 0
    (tmp_path / "other" / "results.npz").write_bytes(b"PK")
    before = snapshot(tmp_path / "other")
    assert main(["fit", str(tmp_path / "other")]) == 2
    assert "damaged" in capsys.readouterr().err and snapshot(tmp_path / "other") == before


def test_fit_that_fails_while_writing_changes_nothing(tiny, tmp_path, capsys, monkeypatch):
    import scalinglaws._plotting as plotting

    out = tmp_path / "run"
    assert run(tiny, out) == 0
    before = snapshot(out)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(plotting, "learning_curve_figure", disk_full)
    assert main(["fit", str(out), "--bootstrap", "0"]) == 2
    assert "No space left" in capsys.readouterr().err
    assert snapshot(out) == before and sorted(os.listdir(out)) == sorted(before)


# 10. Every run diverged, recorded: the run is written, with a figure.


def test_recording_divergence_of_every_run_writes_the_run(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(tiny, out, *DIVERGING, "training.on_divergence=record") == 0
    assert "diverged" in capsys.readouterr().err
    assert (out / "figure.png").stat().st_size > 0
    assert np.all(np.isfinite(load_results(out)["diverged_alpha"]))
    # 13. summary.json is strict JSON: NaN is written as null.
    text = (out / "summary.json").read_text()

    def refuse(name):
        raise ValueError(f"bare {name} in summary.json")

    summary = json.loads(text, parse_constant=refuse)
    assert summary["diverged"] and summary["eps_g_final_mean"] == [None]


# 11. A diverged simulation is not followed by its theory.


def test_the_theory_is_skipped_after_divergence(tiny, tmp_path, capsys, monkeypatch):
    import scalinglaws.theory._two_layer_theory as two_layer

    def refuse(*args, **kwargs):
        raise AssertionError("the theory was solved")

    monkeypatch.setattr(two_layer, "solve_soft_committee", refuse)
    assert run(tiny, tmp_path / "run", *DIVERGING) == 3
    err = capsys.readouterr().err
    assert "learning_rate=50, seed 0: diverged at alpha=" in err and not (tmp_path / "run").exists()


# 12. Ctrl-C stops within seconds, writes nothing, exit 130.

_SLOW = [  # theory alone, an explicit solver on a stiff 1024-block ODE: minutes of one XLA call
    "training.seeds=0",
    "data.spectrum=power_law",
    "data.input_dim=1024",
    "data.distinct_eigenvalues=1024",
    "training.alpha_max=100000",
    "theory.solver=explicit",
]


@pytest.mark.parametrize("signum, delay", [(signal.SIGINT, 0.5), (signal.SIGINT, 6.0), (signal.SIGTERM, 6.0)])
def test_an_interrupt_stops_at_once_and_writes_nothing(tiny, tmp_path, signum, delay):
    """The signal comes `delay` seconds after the output directory was locked: while the run
    compiles, or inside the theory solve."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "scalinglaws.cli", "run", str(tiny), "--out", str(out), "--quiet"]
    for override in _SLOW:
        command += ["--set", override]
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not out.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(delay)
    assert process.poll() is None, process.stderr.read()
    process.send_signal(signum)
    start = time.perf_counter()
    code = process.wait(timeout=30)
    assert time.perf_counter() - start < 5
    assert code == 128 + signum
    assert "nothing was written" in process.stderr.read()
    assert not out.exists()


# 13. Leftovers of a killed process, symbolic links, the umask.


def test_leftovers_of_a_killed_process_are_cleaned_or_rolled_forward(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(tiny, out) == 0
    # Killed before the commit point: a staging directory without journal; and an older version's sibling.
    (out / ".scalinglaws-stage-dead").mkdir()
    (out / ".scalinglaws-stage-dead" / "results.npz").write_bytes(b"half")
    (tmp_path / ".run.partial-old").mkdir()
    (tmp_path / ".run.partial-old" / "results.npz").write_bytes(b"half")
    (tmp_path / ".run.partial-mine").mkdir()
    (tmp_path / ".run.partial-mine" / "thesis.tex").write_text("not the tool's")
    assert run(tiny, out) == 0 and "cached" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ["config.toml", "figure.png", "results.npz", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".run.partial-mine"]
    # Killed after the commit point: the next use finishes the commit.
    stage = out / ".scalinglaws-stage-committed"
    stage.mkdir()
    (stage / "fit.json").write_text("{}")
    summary = json.loads((out / "summary.json").read_text())
    summary["files"]["fit.json"] = file_checksum(stage / "fit.json")
    (stage / "summary.json").write_text(json.dumps(summary))
    (stage / ".commit").write_text(json.dumps({"replace": ["fit.json", "summary.json"], "remove": []}))
    assert run(tiny, out) == 0 and "cached" in capsys.readouterr().out
    assert (out / "fit.json").read_text() == "{}" and not stage.exists()


def test_an_interrupted_commit_leaves_the_old_run(tiny, tmp_path):
    out = tmp_path / "run"
    assert run(tiny, out) == 0
    before = snapshot(out)

    def crash(path):
        raise KeyboardInterrupt

    with OutputDirectory(out) as target:
        target.claim(read_run(out).config_hash, force=True)
        with pytest.raises(KeyboardInterrupt):
            target.commit({"results.npz": crash}, {"config_hash": read_run(out).config_hash}, replace_run=True)
    assert snapshot(out) == before and not [p for p in out.iterdir() if p.name.startswith(".")]
    # A new directory whose first commit failed is removed again.
    fresh = tmp_path / "a" / "b"
    with OutputDirectory(fresh) as target:
        with pytest.raises(KeyboardInterrupt):
            target.commit({"results.npz": crash}, {"config_hash": "0" * 64}, replace_run=True)
    assert not (tmp_path / "a").exists()


def test_output_through_a_symbolic_link(tiny, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    assert run(tiny, link) == 0
    assert link.is_symlink() and (target / "results.npz").is_file()
    assert run(tiny, link, "training.seeds=3", force=True) == 0
    assert link.is_symlink() and load_results(target)["eps_g_sim"].shape[0] == 3
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert run(tiny, dangling) == 2 and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_run_directories_follow_the_umask(tiny, tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        out = tmp_path / "runs" / "run"
        assert run(tiny, out) == 0
        assert main(["fit", str(out), "--bootstrap", "0"]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == dir_mode
    assert stat.S_IMODE(out.parent.stat().st_mode) == dir_mode
    for name in ("results.npz", "summary.json", "config.toml", "figure.png", "fit.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == file_mode, name
    # Reports (and the gallery and analyses that reproduce writes) are written atomically too.
    from scalinglaws.experiment import write_report

    old = os.umask(umask)
    try:
        write_report(tmp_path / "report.md", ["# a report"])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == file_mode


def test_the_documented_bounds_are_the_validated_ones():
    """The README's table of keys states each bound the validator enforces."""
    from scalinglaws.experiment import KEYS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for section, specs in KEYS.items():
        for name, spec in specs.items():
            if spec.maximum is None:
                continue
            row = next(line for line in readme.splitlines() if line.startswith(f"| `{section}.{name}`"))
            forms = (f"≤ {int(spec.maximum)}", f"≤ {spec.maximum:.0e}".replace("e+0", "e"))
            assert any(form in row for form in forms), (section, name, forms)
    # The bound itself is accepted, one more is not.
    resolve({"data": {"input_dim": 2**24}, "training": {"alpha_max": 1.0, "alpha_min": 1e-3}})
    with pytest.raises(ConfigError, match="at most 16777216"):
        resolve({"data": {"input_dim": 2**24 + 1}})
