"""Grids of runs (several swept keys in one run) and laws fitted across runs."""

import json

import numpy as np
import pytest

from scalinglaws import ResultArrays
from scalinglaws.cli import main
from scalinglaws.experiment import ConfigError, build_setup, load_config, load_results, run, run_experiment
from scalinglaws.fit import FitError, compute_frontier, fit_against, fit_joint, fit_run


def _run(config, out, *overrides):
    args = ["run", str(config), "--out", str(out), "--quiet"]
    for override in overrides:
        args += ["--set", override]
    return main(args)


# An outer axis (N: a setup per value), padded widths of a two-layer student (one program on the
# full engine) and vmapped learning rates, given in that order.
_GRID = ("data.input_dim=[32, 64]", "student.hidden=[1, 2]", "training.learning_rate=[0.3, 0.6]")


def test_a_grid_has_one_named_axis_per_swept_key_and_each_cell_is_the_run_alone(tiny, tmp_path):
    out = tmp_path / "grid"
    assert _run(tiny, out, *_GRID, "training.method='full'") == 0
    arrays = load_results(out)
    assert [name for name, _ in arrays.grid] == ["input_dim", "hidden", "learning_rate"]
    t = arrays["alpha"].shape[-1]
    assert arrays["eps_g_sim"].shape == (2, 2, 2, 2, t) and arrays.shape == (2, 2, 2)
    assert arrays.axes("eps_g_sim") == ("input_dim", "hidden", "learning_rate")
    assert arrays.axes("alpha") == ("input_dim",)  # the time grid depends on N only
    assert np.all(np.isnan(arrays["Q_sim"][:, 0, ..., 1, :]))  # K = 1: the padding's unit is not reported
    summary = json.loads((out / "summary.json").read_text())
    assert [axis["key"] for axis in summary["grid"]["axes"]] == [key.split("=")[0] for key in _GRID]
    assert len(summary["eps_g_final_mean"]) == 8 and len(summary["cells"]) == 2  # one program per N
    for n_index, n in enumerate((32, 64)):
        # An outer cell is the run alone with the same inner lists: bit for bit.
        alone = tmp_path / f"alone-{n}"
        assert _run(tiny, alone, f"data.input_dim={n}", *_GRID[1:], "training.method='full'") == 0
        single = load_results(alone)
        times = np.isfinite(arrays.cell((n_index, 0, 0))["alpha"])
        assert arrays.values((n_index, 1, 0)) == {"input_dim": n, "hidden": 2, "learning_rate": 0.3}
        for name in ("eps_g_sim", "Q_sim", "R_sim", "eps_g_theory", "Q_theory"):
            value = arrays[name][n_index]
            value = value[..., times, :, :] if name[0] in "QR" else value[..., times]
            np.testing.assert_array_equal(value, single[name])
    # A padded width and a vmapped learning rate are the run of that width and rate alone, up to
    # float32 round-off of the reordered sums (measured: 1e-7 relative) and the adaptive solver's
    # tolerance (5e-11).
    for k_index, k in enumerate((1, 2)):
        alone = tmp_path / f"alone-k{k}"
        overrides = ("data.input_dim=64", f"student.hidden={k}", "training.learning_rate=0.6", "training.method='full'")
        assert _run(tiny, alone, *overrides) == 0
        single, cell = load_results(alone), arrays.cell((1, k_index, 1))
        np.testing.assert_allclose(cell["eps_g_sim"], single["eps_g_sim"], rtol=1e-6)
        np.testing.assert_allclose(cell["Q_sim"][..., :k, :k], single["Q_sim"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(cell["eps_g_theory"], single["eps_g_theory"], rtol=1e-8)


def test_padded_widths_compile_once_and_any_output_scaling_is_exact(tiny):
    config = load_config(tiny, {"student.hidden": [1, 3], "student.output": "sqrt", "training.method": "full"})
    (cell,) = config.cells()  # one program
    setup = build_setup(cell[1])
    assert setup.variants.padded and setup.student.hidden == 3
    np.testing.assert_allclose(setup.second_layer_scale(), [[np.sqrt(3), 0, 0], [1, 1, 1]])
    results = run_experiment(setup)
    for k_index, k in enumerate((1, 3)):
        alone = run_experiment(
            load_config(tiny, {"student.hidden": k, "student.output": "sqrt", "training.method": "full"})
        )
        np.testing.assert_allclose(results.arrays["eps_g_sim"][k_index], alone.arrays["eps_g_sim"], rtol=1e-6)
        np.testing.assert_allclose(results.arrays["eps_g_theory"][k_index], alone.arrays["eps_g_theory"], rtol=1e-8)
    # Random features: inert features (mask 0) are neither read out nor trained, in the simulation
    # and in the readout ODE (their eigenvalues are 0); the closed forms take the width's own features.
    base = {"student.kind": "random_features", "student.output": "sqrt", "student.readout_init_std": 0.1}
    results = run_experiment(load_config(tiny, {**base, "student.hidden": [8, 16]}))
    for k_index, k in enumerate((8, 16)):
        alone = run_experiment(load_config(tiny, {**base, "student.hidden": k})).arrays
        cell = results.arrays.cell(k_index)
        np.testing.assert_allclose(cell["eps_g_sim"], alone["eps_g_sim"], rtol=1e-6)
        np.testing.assert_allclose(cell["a_sim"][..., :k], alone["a_sim"], rtol=1e-4, atol=1e-7)
        assert np.all(np.isnan(cell["a_sim"][..., k:]))
        for name in ("eps_g_theory", "eps_g_asymptote", "eps_g_stationary", "critical_learning_rate"):
            np.testing.assert_allclose(cell[name], alone[name], rtol=1e-7)
    # A trained second layer, or the reduced chain (its draws depend on K), runs one program per width.
    assert len(load_config(tiny, {"student.hidden": [1, 3], "student.train_second_layer": True}).cells()) == 2
    assert len(load_config(tiny, {"student.hidden": [1, 3], "training.method": "reduced"}).cells()) == 2
    # ... and so does any width sweep told not to pad; the default hashes as configs did before the key.
    unpadded = {"student.hidden": [1, 3], "training.method": "full", "training.pad_widths": False}
    assert len(load_config(tiny, unpadded).cells()) == 2
    assert not build_setup(
        load_config(tiny, {**base, "student.hidden": [8, 16], "training.pad_widths": False})
    ).variants.padded
    assert load_config(tiny).hash() == load_config(tiny, {"training.pad_widths": True}).hash()
    assert load_config(tiny).hash() != load_config(tiny, {"training.pad_widths": False}).hash()


def test_the_grid_order_is_as_given_or_as_the_grid_key_says(tiny):
    config = load_config(tiny, ["training.learning_rate=[0.1, 0.2]", "student.hidden=[1, 2, 3]"])
    assert config["grid"] == ["training.learning_rate", "student.hidden"]
    config = load_config(tiny, {"student.hidden": [1, 2, 3], "training.learning_rate": (0.1, 0.2)})
    assert config["grid"] == ["student.hidden", "training.learning_rate"]
    assert len(config.cells()) == 3  # the two-layer widths are outer cells, the rates their variants
    config = load_config(
        tiny,
        {
            "grid": ["training.learning_rate", "student.hidden"],
            "student.hidden": [1, 2],
            "training.learning_rate": [0.1, 0.2],
        },
    )
    assert config["grid"] == ["training.learning_rate", "student.hidden"]
    with pytest.raises(ConfigError, match="grid"):
        load_config(tiny, {"grid": ["student.hidden"], "training.learning_rate": [0.1, 0.2]})
    # A key whose value no cell can take is refused before anything runs, naming the key.
    with pytest.raises(ConfigError, match="data.distinct_eigenvalues"):
        load_config(tiny, {"data.spectrum": "power_law", "data.distinct_eigenvalues": 4, "data.input_dim": [32, 30]})
    assert load_config(tiny).hash() == load_config(tiny, {"grid": None}).hash()  # no grid: the old hash


def test_the_library_takes_built_in_names_and_python_overrides(tmp_path):
    results = run(
        "quickstart",
        tmp_path / "q",
        overrides={
            "data.input_dim": 40,
            "training.seeds": 2,
            "training.alpha_max": 1.0,
            "training.learning_rate": [0.2, 0.4],
        },
    )
    assert isinstance(results.arrays, ResultArrays) and results.arrays.shape == (2,)
    assert load_results(tmp_path / "q").axes("eps_g_sim") == ("learning_rate",)


def test_negative_round_off_is_clipped_and_fit_works_on_every_kind_of_run(tiny, tmp_path, capsys):
    out = tmp_path / "learned"
    # The student learns the teacher to round-off: a closed-form eps_g of +-1e-15 at the end.
    assert _run(tiny, out, "training.alpha_max=2000", "training.seeds=4", "training.method='reduced'") == 0
    arrays = load_results(out)
    assert np.all(arrays["eps_g_sim"] >= 0) and np.all(arrays["eps_g_theory"] >= 0)
    summary = json.loads((out / "summary.json").read_text())
    clipped = summary["eps_g_clipped"]
    assert clipped is not None and all(-1e-9 < record["most_negative"] < 0 for record in clipped.values())
    capsys.readouterr()
    assert main(["fit", str(out), "--bootstrap", "0"]) == 0
    printed = capsys.readouterr().out
    assert "the fit ends before it" in printed
    # A window that holds the zeros names where they are.
    assert summary["eps_g_final_mean"][0] >= 0
    assert main(["fit", str(out), "--range", "0.5", "2000"]) == 2
    assert "is 0 at alpha" in capsys.readouterr().err
    # A theory-alone run fits its theory's curve.
    theory = tmp_path / "theory"
    assert _run(tiny, theory, "training.seeds=0") == 0
    assert main(["fit", str(theory), "--bootstrap", "0"]) == 0
    assert "eps_g_theory" in capsys.readouterr().out


def test_auto_window_refuses_a_plateau():
    from scalinglaws.fit import steady_window

    x = np.geomspace(0.01, 1000, 101)
    y = np.where(x < 1, 0.3, 0.3 * x**-0.7)  # flat for two decades, then a power law for three
    low, high = steady_window(x, y, tolerance=0.05)
    assert low >= 1.0 and high == pytest.approx(1000)
    with pytest.raises(FitError, match="no power-law window"):
        steady_window(x[x < 1], y[x < 1])


def _planted(values, exponent, seeds, rng, noise=0.05, times=np.geomspace(0.1, 10, 9)):
    """A one-axis grid whose final eps_g is 0.5 values^-exponent times log-normal seed noise."""
    eps = (
        0.5
        * np.asarray(values, float)[:, None, None] ** -exponent
        * np.exp(noise * rng.normal(size=(len(values), seeds, 1)))
    )
    eps = eps * (1 + 1 / times)[None, None, :] / (1 + 1 / times[-1])
    arrays = {"alpha": times, "eps_g_sim": eps, "hidden": np.asarray(values)}
    return ResultArrays(arrays, (("hidden", np.asarray(values)),), {"eps_g_sim": ("hidden",), "hidden": ("hidden",)})


def test_a_fit_across_runs_recovers_a_planted_exponent_and_covers_it():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(20):
        arrays = _planted([4, 8, 16, 32, 64, 128], 0.75, 6, rng)
        (law,) = fit_against(arrays, "student.hidden", at="final", bootstrap=100)
        low, high = law.fit.intervals["exponent"]
        covered += low <= 0.75 <= high
        assert law.fit.params["exponent"] == pytest.approx(0.75, abs=0.1)
    assert covered >= 16  # a 95 % interval covers the truth in at least 16 of 20 draws
    # At a time inside the runs, and over several runs given with their values.
    (law,) = fit_against(arrays, "hidden", at=1.0, bootstrap=0)
    assert law.fit.params["exponent"] == pytest.approx(0.75, abs=0.1)
    runs = [ResultArrays({"alpha": arrays["alpha"], "eps_g_sim": arrays["eps_g_sim"][i]}) for i in range(6)]
    (merged,) = fit_against(runs, "hidden", values=[4, 8, 16, 32, 64, 128], bootstrap=0)
    (final,) = fit_against(arrays, "hidden", bootstrap=0)
    assert merged.fit.params["exponent"] == pytest.approx(final.fit.params["exponent"], rel=1e-9)
    with pytest.raises(FitError, match="outside the recorded range"):
        fit_against(arrays, "hidden", at=100.0)
    with pytest.raises(FitError, match="not an axis"):
        fit_against(arrays, "training.learning_rate")


def test_the_compute_frontier_of_a_known_law():
    # eps_w(C) = w^-1 + (C / w)^-1: at fixed C the best width is sqrt(C), the envelope 2 C^-1/2.
    widths = 2.0 ** np.arange(0, 10, 0.5)
    steps = np.geomspace(1, 1e6, 121)
    eps = widths[:, None, None] ** -1.0 + steps[None, None, :] ** -1.0
    eps = np.repeat(eps, 3, axis=1) * (1 + 0.01 * np.random.default_rng(1).normal(size=(widths.size, 3, 1)))
    arrays = ResultArrays(
        {"alpha": steps / 100, "steps": steps, "eps_g_sim": eps, "hidden": widths},
        (("hidden", widths),),
        {"eps_g_sim": ("hidden",), "hidden": ("hidden",)},
    )
    frontier = compute_frontier(arrays, "hidden", window=(1e2, 1e5), bootstrap=50)
    assert frontier.loss_exponent == pytest.approx(-0.5, abs=0.03)
    assert frontier.width_exponent == pytest.approx(0.5, abs=0.08)
    low, high = frontier.loss_interval
    assert low < frontier.loss_exponent < high


def test_a_joint_law_is_recovered():
    sizes = np.asarray([8.0, 16, 32, 64, 128])
    times = np.geomspace(1, 1000, 31)
    truth = 2.0 * sizes[:, None] ** -0.7 + 0.5 * times[None, :] ** -0.4 + 0.01
    rng = np.random.default_rng(2)
    eps = truth[:, None, :] * np.exp(0.02 * rng.normal(size=(sizes.size, 5, times.size)))
    arrays = ResultArrays(
        {"alpha": times, "eps_g_sim": eps, "hidden": sizes},
        (("hidden", sizes),),
        {"eps_g_sim": ("hidden",), "hidden": ("hidden",)},
    )
    fit = fit_joint(arrays, "hidden", bootstrap=50)
    for name, value in (("exponent_1", 0.7), ("exponent_2", 0.4), ("offset", 0.01)):
        assert fit.params[name] == pytest.approx(value, rel=0.1)
        low, high = fit.intervals[name]
        assert low <= value <= high


def test_fit_commands_across_runs(tiny, tmp_path, capsys):
    out = tmp_path / "widths"
    assert (
        _run(tiny, out, "student.kind='random_features'", "student.hidden=[8, 16, 32, 64, 128]", "training.seeds=3")
        == 0
    )
    capsys.readouterr()
    assert main(["fit", str(out), "--against", "student.hidden", "--best", "--bootstrap", "20"]) == 0
    assert "against hidden" in capsys.readouterr().out and (out / "law.png").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert any(name.startswith("against hidden") for name in summary["fits"])
    assert main(["fit", str(out), "--frontier", "--bootstrap", "20"]) == 0
    assert "compute frontier" in capsys.readouterr().out
    assert main(["fit", str(out), "--final"]) == 2  # a statistic without --against
    assert main(["fit", str(out), "--against", "data.input_dim"]) == 2
    assert "not an axis" in capsys.readouterr().err
    # Every cell of a grid is fitted along time when no --variant is given.
    assert main(["fit", str(out), "--bootstrap", "0"]) == 0
    assert capsys.readouterr().out.count("cell ") == 5
    # The library reads the same.
    arrays = load_results(out)
    _, record = fit_run(arrays, "power_law", variant=2, bootstrap=0)
    assert record["cell"] == {"hidden": 32}
