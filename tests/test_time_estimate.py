"""The wall time of a run estimated before it computes (`estimate_time`, `run --estimate`), and the
reduced chain's one program for every N. How close the estimates come to measured times is
`benchmarks/time_estimate.py`'s business (no timed tests here): these are the models' structure."""

import json

import numpy as np
import pytest

from scalinglaws._cost import COMPILE_SECONDS, decades
from scalinglaws.cli import main
from scalinglaws.experiment import build_setup, estimate_time, load_config, run_experiment
from scalinglaws.simulate import _reduced, log_time_grid
from scalinglaws.theory._driver import padded_times


def _setup(tiny, **overrides):
    return build_setup(load_config(tiny, overrides))


def test_the_estimate_grows_with_the_work_as_each_cost_model_says(tiny):
    base = {"training.method": "full", "data.input_dim": 64}
    one = _setup(tiny, **base)
    learner, theory = one.learner, None
    # Online SGD: linear in steps (alpha_max x N) at either engine, and in seeds (the chain has an
    # overhead per step besides).
    for method in ("full", "reduced"):
        setup = _setup(tiny, **{**base, "training.method": method})
        more_seeds = _setup(tiny, **{**base, "training.method": method, "training.seeds": 4})
        longer = _setup(tiny, **{**base, "training.method": method, "training.alpha_max": 8})
        seconds, doubled = setup.learner.estimate_seconds(setup), more_seeds.learner.estimate_seconds(more_seeds)
        assert doubled == pytest.approx(2 * seconds) if method == "full" else seconds < doubled < 2 * seconds
        assert longer.learner.estimate_seconds(longer) == pytest.approx(2 * seconds, rel=1e-9)
    # The reduced chain's cost does not grow with N; the full engine's does, about linearly.
    chains = [_setup(tiny, **{"training.method": "reduced", "data.input_dim": n}) for n in (64, 256)]
    per_step = [s.learner.estimate_seconds(s) / s.grid.steps[-1] for s in chains]
    assert per_step[0] == pytest.approx(per_step[1])
    engines = [_setup(tiny, **{"training.method": "full", "data.input_dim": n}) for n in (64, 256)]
    per_step = [s.learner.estimate_seconds(s) / s.grid.steps[-1] for s in engines]
    assert per_step[1] == pytest.approx(4 * per_step[0])
    # A Monte Carlo eps_g (no closed form for a ReLU student of an erf teacher) adds its test set.
    relu = _setup(tiny, **{**base, "student.activation": "relu"})
    assert relu.learner.estimate_seconds(relu) > 2 * learner.estimate_seconds(one)
    # The ODE theory: linear in its lanes (learning rates x seeds), plus its tracing once.
    from scalinglaws.theory import theory_for

    theory, _ = theory_for(one)
    rates = _setup(tiny, **{**base, "training.learning_rate": [0.1, 0.2, 0.3]})
    assert theory.estimate_seconds(rates) == pytest.approx(3 * theory.estimate_seconds(one))
    estimate = estimate_time(one)
    assert estimate.theory == pytest.approx(theory.estimate_seconds(one) + theory.trace_seconds)
    assert estimate.compiling == 2 * COMPILE_SECONDS and estimate.cells == 1
    assert estimate.total == pytest.approx(estimate.simulation + estimate.theory + estimate.compiling)
    assert decades([0, 0.1, 1000]) == pytest.approx(4)


def test_a_grid_estimate_adds_its_cells_and_counts_the_programs_they_share(tiny):
    for method, simulation_programs in (("reduced", 1), ("full", 2)):
        config = load_config(tiny, {"data.input_dim": [32, 64], "training.method": method})
        cells = [build_setup(cell) for _, cell in config.cells()]
        estimate = estimate_time(config)
        assert estimate.cells == 2
        assert estimate.simulation == pytest.approx(sum(s.learner.estimate_seconds(s) for s in cells))
        # N is traced by the chain (one program), a shape of the full engine (one per N); the ODE's
        # state does not depend on N: one theory program either way.
        assert estimate.compiling == pytest.approx(COMPILE_SECONDS * (simulation_programs + 1))
    text = estimate_time(config).describe()
    assert text.startswith("about ") and "2 cells" in text and "compiling up to 9 s" in text


def test_run_estimate_prints_memory_and_time_and_computes_nothing(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tiny), "--estimate", "--set", "student.hidden=[1,2]"]) == 0
    printed = capsys.readouterr().out
    assert "memory: about" in printed and "GiB" in printed and "time: about" in printed
    assert not (tmp_path / "runs").exists()
    assert main(["run", str(tiny), "--estimate", "--set", "training.seeds=-1"]) == 2
    assert "training.seeds" in capsys.readouterr().err
    # A run records what it was estimated to take beside what it took.
    assert main(["run", str(tiny), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(summary["estimated_seconds"]) == {"simulation", "theory", "compiling", "total"}


def test_the_reduced_chain_and_the_ode_compile_once_for_every_n(tiny):
    """N is read from the chain's context, not its spec: a sweep over N runs one compiled segment;
    the theory's save times are padded to a multiple of 32, so grids that lose a few duplicate
    steps at small N share one solve."""
    before = _reduced.reduced_segment._cache_size()
    results = run_experiment(load_config(tiny, {"data.input_dim": [24, 48, 96], "training.method": "reduced"}))
    assert _reduced.reduced_segment._cache_size() - before <= 1
    assert len(results.summary["cells"]) == 3 and np.all(np.isfinite(results.arrays["eps_g_sim"][..., -1]))
    lengths = {len(log_time_grid(n, 100.0, 10, 0.01)) for n in (24, 48, 96, 1000)}
    assert len(lengths) > 1
    assert {len(padded_times(log_time_grid(n, 100.0, 10, 0.01) / n)) for n in (24, 48, 96, 1000)} == {64}
    times = log_time_grid(96, 100.0, 10, 0.01) / 96
    padded = padded_times(times)
    np.testing.assert_array_equal(padded[: len(times)], times)
    assert np.all(padded[len(times) :] == times[-1])
