"""`scalinglaws run` over two processes (`jax.distributed` on 127.0.0.1, CPU): the same results as one."""

import json
import socket
import subprocess
import sys

import numpy as np

from scalinglaws.cli import main
from scalinglaws.experiment import load_results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _two_processes(config, out, *overrides):
    """Run `config` as processes 0 and 1 of one run (one CPU device each); their exit codes and stderr."""
    port = _free_port()
    sets = [arg for override in overrides for arg in ("--set", override)]
    commands = [
        [
            sys.executable,
            "-m",
            "scalinglaws.cli",
            "run",
            str(config),
            "--out",
            str(out),
            "--quiet",
            "--cpu-devices",
            "1",
        ]
        + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(index), *sets]
        for index in (0, 1)
    ]
    running = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    outputs = [p.communicate(timeout=240) for p in running]
    return [p.returncode for p in running], [err for _, err in outputs]


def test_two_processes_give_one_processs_results(tiny, tmp_path):
    """Seeds split over two processes (process 0 writes) equal the run of one process whose two
    devices split them the same way; the other process writes nothing."""
    sets = ["training.seeds=4", "training.method=full", "theory.enabled=false"]
    codes, errors = _two_processes(tiny, tmp_path / "two", *sets)
    assert codes == [0, 0], errors
    overrides = [arg for override in sets for arg in ("--set", override)]
    assert main(["run", str(tiny), "--out", str(tmp_path / "one"), "--quiet", "--cpu-devices", "2", *overrides]) == 0
    one, two = load_results(tmp_path / "one"), load_results(tmp_path / "two")
    assert sorted(one) == sorted(two)
    for name in one:
        np.testing.assert_array_equal(one[name], two[name], err_msg=name)
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["device"].endswith("x2")


def test_seeds_that_do_not_split_over_the_processes_are_refused(tiny, tmp_path):
    codes, errors = _two_processes(tiny, tmp_path / "odd", "training.seeds=3")
    assert codes == [2, 2] and all("training.seeds" in error for error in errors), errors
    assert not (tmp_path / "odd").exists()
    assert main(["run", str(tiny), "--out", str(tmp_path / "x"), "--coordinator", "127.0.0.1:1"]) == 2
