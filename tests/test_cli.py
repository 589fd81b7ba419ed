"""The `scalinglaws` command end to end on tiny configs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scalinglaws._jax_config import _usable_cores
from scalinglaws.cli import configs_dir, main
from scalinglaws.experiment import load_config, load_results


def _run(config, out, *overrides):
    """`scalinglaws run CONFIG --out OUT --quiet --set ...` in process; the exit code."""
    args = ["run", str(config), "--out", str(out), "--quiet"]
    for override in overrides:
        args += ["--set", override]
    return main(args)


def test_run_writes_the_contract_files(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(tiny), "--out", str(out), "--quiet"]) == 0
    assert sorted(os.listdir(out)) == ["config.toml", "figure.png", "results.npz", "summary.json"]
    arrays = load_results(out)
    t = arrays["alpha"].size
    assert arrays["eps_g_sim"].shape == (2, t)
    assert arrays["Q_sim"].shape == (2, t, 2, 2) and arrays["R_sim"].shape == (2, t, 2, 2)
    assert arrays["T_sim"].shape == (2, 2, 2)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("config_hash", "versions", "device", "seeds", "wall_seconds", "compile_seconds", "processes"):
        assert key in summary
    assert summary["simulation_method"] == "reduced"  # auto: the chain applies, and is cheaper at N = 32
    assert {"cache_hits", "cache_misses", "trace_seconds", "backend_seconds"} <= set(summary["compilation"])
    assert "wrote" in capsys.readouterr().out
    # An identical rerun is served from the cache; --force recomputes.
    stamp = (out / "results.npz").stat().st_mtime_ns
    assert main(["run", str(tiny), "--out", str(out), "--quiet"]) == 0
    assert "cached" in capsys.readouterr().out
    assert (out / "results.npz").stat().st_mtime_ns == stamp
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--force"]) == 0
    assert (out / "results.npz").stat().st_mtime_ns != stamp
    # A different config in the same directory replaces the run only with --force.
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--set", "training.seeds=3"]) == 2
    assert load_results(out)["eps_g_sim"].shape == (2, t)
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--force", "--set", "training.seeds=3"]) == 0
    assert load_results(out)["eps_g_sim"].shape == (3, t)


def test_theory_is_written_next_to_the_simulation(tiny, tmp_path, capsys):
    out = tmp_path / "theory"
    assert _run(tiny, out, "training.learning_rate=[0.3, 0.5]", "student.train_second_layer=true") == 0
    arrays = load_results(out)
    t = arrays["alpha"].size
    assert arrays["eps_g_theory"].shape == (2, 2, t) and arrays["Q_theory"].shape == (2, 2, t, 2, 2)
    assert arrays["v_theory"].shape == (2, 2, t, 2)
    # Theory and simulation start from the same order parameters.
    np.testing.assert_allclose(arrays["Q_theory"][:, :, 0], arrays["Q_sim"][:, :, 0], rtol=1e-12)
    np.testing.assert_allclose(arrays["eps_g_theory"][..., 0], arrays["eps_g_sim"][..., 0], rtol=1e-10)
    summary = json.loads((out / "summary.json").read_text())
    assert "Saad & Solla" in summary["theory"]
    # Theory alone (seeds = 0) starts from seed 0's networks.
    alone = tmp_path / "alone"
    assert _run(tiny, alone, "training.seeds=0", "training.learning_rate=0.3", "student.train_second_layer=true") == 0
    theory_only = load_results(alone)
    assert "eps_g_sim" not in theory_only
    np.testing.assert_allclose(theory_only["eps_g_theory"][0], arrays["eps_g_theory"][0, 0], rtol=1e-8)
    # Without a theory for the setup, seeds = 0 is bad input.
    assert (
        main(
            [
                "run",
                str(tiny),
                "--out",
                str(tmp_path / "none"),
                "--set",
                "training.seeds=0",
                "--set",
                "theory.enabled=false",
            ]
        )
        == 2
    )
    assert "training.seeds" in capsys.readouterr().err


def test_a_theory_that_fails_leaves_the_simulation_written(tiny, tmp_path, capsys):
    out = tmp_path / "steps"
    assert _run(tiny, out, "theory.max_steps=3") == 0
    assert "without theory" in capsys.readouterr().err
    arrays = load_results(out)
    assert "eps_g_sim" in arrays and "eps_g_theory" not in arrays
    assert "max_steps" in json.loads((out / "summary.json").read_text())["theory"]
    assert _run(tiny, tmp_path / "alone", "theory.max_steps=3", "training.seeds=0") == 2
    assert "max_steps" in capsys.readouterr().err
    # Likewise for the random-feature readout theory.
    rf = tmp_path / "rf_steps"
    assert _run(tiny, rf, "student.kind=random_features", "student.hidden=16", "theory.max_steps=2") == 0
    assert "without theory" in capsys.readouterr().err and "eps_g_theory" not in load_results(rf)


def test_power_law_sweep_arrays(tiny, tmp_path):
    out = tmp_path / "sweep"
    code = _run(
        tiny,
        out,
        "data.spectrum=power_law",
        "data.distinct_eigenvalues=4",
        "training.learning_rate=[0.2, 0.6]",
        "student.train_second_layer=true",
    )
    assert code == 0
    arrays = load_results(out)
    t = arrays["alpha"].size
    assert arrays["eps_g_sim"].shape == (2, 2, t)
    np.testing.assert_array_equal(arrays["learning_rate"], [0.2, 0.6])
    assert arrays["Q_blocks_sim"].shape == (2, 2, t, 4, 2, 2)
    assert arrays["T_blocks_sim"].shape == (2, 4, 2, 2)
    assert arrays["v_sim"].shape == (2, 2, t, 2)
    # The eigen-resolved theory starts from the simulation's own block overlaps.
    assert arrays["Q_blocks_theory"].shape == (2, 2, t, 4, 2, 2)
    np.testing.assert_allclose(arrays["Q_blocks_theory"][:, :, 0], arrays["Q_blocks_sim"][:, :, 0], rtol=1e-12)
    np.testing.assert_allclose(arrays["eps_g_theory"][..., 0], arrays["eps_g_sim"][..., 0], rtol=1e-10)
    np.testing.assert_allclose(arrays["Q_theory"], arrays["Q_blocks_theory"].sum(3), rtol=1e-12)


def test_spectrum_sweep_arrays(tiny, tmp_path):
    """A sweep over L: one run, blocks on the finest partition, theory from each run's own start."""
    out = tmp_path / "spectra"
    assert _run(tiny, out, "data.spectrum=power_law", "data.distinct_eigenvalues=[1, 4, 8]") == 0
    arrays = load_results(out)
    t = arrays["alpha"].size
    np.testing.assert_array_equal(arrays["distinct_eigenvalues"], [1, 4, 8])
    assert arrays["eigenvalues"].shape == (3, 8) and "learning_rate" not in arrays
    assert arrays["eps_g_sim"].shape == (3, 2, t) and arrays["Q_theory"].shape == (3, 2, t, 2, 2)
    assert arrays["Q_blocks_theory"].shape == arrays["Q_blocks_sim"].shape == (3, 2, t, 8, 2, 2)
    np.testing.assert_allclose(arrays["Q_blocks_theory"][:, :, 0], arrays["Q_blocks_sim"][:, :, 0], rtol=1e-12)
    np.testing.assert_allclose(arrays["eps_g_theory"][..., 0], arrays["eps_g_sim"][..., 0], rtol=1e-10)
    # L = 1 is isotropic data: its block-resolved theory equals the isotropic one.
    iso = tmp_path / "iso"
    assert _run(tiny, iso) == 0
    np.testing.assert_allclose(load_results(iso)["eps_g_theory"], arrays["eps_g_theory"][0], rtol=1e-7)


def test_student_reading_the_leading_blocks(tiny, tmp_path):
    """`student.visible_blocks`: the unread blocks' weights stay zero in simulation and theory."""
    out = tmp_path / "visible"
    code = _run(
        tiny,
        out,
        "data.spectrum=power_law",
        "data.distinct_eigenvalues=4",
        "student.visible_blocks=2",
        "theory.solver=stiff",
    )
    assert code == 0
    arrays = load_results(out)
    for kind in ("sim", "theory"):
        q = arrays[f"Q_blocks_{kind}"]
        assert np.all(q[..., 2:, :, :] == 0) and np.all(q[..., -1, :2, :, :].diagonal(0, -2, -1) > 0)
    gap = np.abs(arrays["eps_g_theory"].mean(0) - arrays["eps_g_sim"].mean(0)) / arrays["eps_g_theory"].mean(0)
    assert gap.max() < 0.3, gap


def test_random_feature_sweep_over_k(tiny, tmp_path):
    """`student.kind = "random_features"` with a list of K: one padded simulation, the readout ODE per
    seed from its own features, and the asymptotes."""
    out = tmp_path / "rf"
    assert _run(tiny, out, "student.kind=random_features", "student.hidden=[16, 64]") == 0
    arrays = load_results(out)
    t = arrays["alpha"].size
    np.testing.assert_array_equal(arrays["hidden"], [16, 64])
    assert arrays["eps_g_sim"].shape == (2, 2, t) and arrays["eps_g_theory"].shape == (2, 2, t)
    assert arrays["eps_g_asymptote"].shape == arrays["eps_g_stationary"].shape == (2, 2)
    assert arrays["eps_g_large_n"].shape == (2,) and "Q_sim" not in arrays
    assert arrays["a_sim"].shape == (2, 2, t, 64) and np.all(np.isnan(arrays["a_sim"][0, ..., 16:]))
    # Both start from the zero readout: eps_g = tau / 2 exactly.
    np.testing.assert_allclose(arrays["eps_g_theory"][..., 0], arrays["eps_g_sim"][..., 0], rtol=1e-10)
    # More features, lower asymptote; the stationary error lies above it.
    asymptote = arrays["eps_g_asymptote"].mean(1)
    assert asymptote[1] < asymptote[0] and np.all(arrays["eps_g_stationary"] > arrays["eps_g_asymptote"])
    # Theory alone: seed 0's networks.
    alone = tmp_path / "rf_theory"
    assert _run(tiny, alone, "student.kind=random_features", "student.hidden=16", "training.seeds=0") == 0
    theory = load_results(alone)
    np.testing.assert_allclose(theory["eps_g_theory"][0], arrays["eps_g_theory"][0, 0], rtol=1e-8)
    summary = json.loads((alone / "summary.json").read_text())
    assert "readout ODE" in summary["theory"]


@pytest.mark.parametrize(
    "overrides, key",
    [
        (["student.kind=random_features", "student.train_second_layer=true"], "student.train_second_layer"),
        (["student.kind=random_features", "student.hidden=[4, 0]"], "student.hidden"),
    ],
)
def test_random_feature_config_errors(tiny, tmp_path, capsys, overrides, key):
    assert _run(tiny, tmp_path / "bad", *overrides) == 2
    assert key in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_bad_config_exits_2_naming_the_key_and_writes_nothing(tiny, tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["run", str(tiny), "--out", str(out), "--set", "data.input_dim=-3"]) == 2
    assert "data.input_dim" in capsys.readouterr().err
    assert main(["run", str(tiny), "--out", str(out), "--set", "student.hiden=3"]) == 2
    assert "student.hiden" in capsys.readouterr().err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_output_directory_that_is_not_a_run_is_refused(tiny, tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    assert main(["run", str(tiny), "--out", str(out), "--quiet"]) == 2
    assert (out / "thesis.tex").read_text() == "keep me"


# A linear SCM is unstable for eta > 2 / K: these runs blow up.
LINEAR = ("teacher.activation=linear", "student.activation=linear", "training.alpha_max=20")


def test_divergence_exits_3_and_writes_nothing(tiny, tmp_path, capsys):
    out = tmp_path / "diverged"
    assert _run(tiny, out, *LINEAR, "training.learning_rate=50") == 3
    err = capsys.readouterr().err
    assert "diverged at alpha=" in err and "learning_rate=50" in err
    assert not out.exists()


def test_divergence_can_be_recorded_explicitly(tiny, tmp_path, capsys):
    out = tmp_path / "recorded"
    assert _run(tiny, out, *LINEAR, "training.learning_rate=[0.2, 50]", "training.on_divergence=record") == 0
    assert "diverged" in capsys.readouterr().err
    arrays = load_results(out)
    assert np.all(np.isnan(arrays["diverged_alpha"][0])) and np.all(np.isfinite(arrays["diverged_alpha"][1]))
    assert json.loads((out / "summary.json").read_text())["diverged"]


def test_console_script_and_list(tiny, tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    listing = subprocess.run(
        [sys.executable, "-m", "scalinglaws.cli", "list"], capture_output=True, text=True, env=env, check=True
    )
    assert "quickstart" in listing.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "scalinglaws.cli", "run", str(Path(tiny).with_name("none.toml"))],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "cannot read" in bad.stderr
    # Unless told otherwise (--cpu-devices, or a count in XLA_FLAGS) the CPU shows as one device a core.
    out = tmp_path / "devices"
    run = [sys.executable, "-m", "scalinglaws.cli", "run", str(tiny), "--out", str(out), "--quiet"]
    subprocess.run(run, env={k: v for k, v in env.items() if k != "XLA_FLAGS"}, check=True)
    cores = min(_usable_cores(), 8)
    assert json.loads((out / "summary.json").read_text())["device"].endswith(f"x{cores}")
    with pytest.raises(SystemExit):
        main(["run", str(tiny), "--cpu-devices", "0"])


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "configs").glob("*.toml"))
)
def test_every_shipped_config_runs_with_theory_at_small_scale(name, tmp_path):
    out = tmp_path / name
    config = load_config(configs_dir() / f"{name}.toml")
    blocks = config["data"]["distinct_eigenvalues"] if config["data"]["spectrum"] == "power_law" else None
    blocks = max(blocks) if isinstance(blocks, list) else blocks
    extra = ["student.hidden=[30, 120]"] if config["student"]["kind"] == "random_features" else []
    if blocks is not None and blocks > 64 and max(np.atleast_1d(config["student"]["hidden"])) > 8:  # Fig. 6
        blocks = 64
        extra += ["data.distinct_eigenvalues=64", "teacher.hidden=4", "student.hidden=4"]
    size = 60 if blocks is None else blocks * max(1, 64 // blocks)  # the blocks must divide N
    if isinstance(config["data"]["distinct_eigenvalues"], list):  # three spectra: one compile each
        extra.append("data.distinct_eigenvalues=[1, 4, 16]")
    if config["training"]["alpha_min"] > 0.05:  # enough recorded times for the fit below
        extra.append("training.alpha_min=0.05")
    code = _run(
        name,
        out,
        f"data.input_dim={size}",
        "training.seeds=1",
        "training.alpha_max=2",
        "training.points_per_decade=3",
        *extra,
    )
    assert code == 0
    arrays = load_results(out)
    assert np.all(np.isfinite(arrays["eps_g_sim"])) and np.all(np.isfinite(arrays["eps_g_theory"]))
    assert main(["fit", str(out), "--bootstrap", "0"]) == 0  # `fit DIR` with no options, on every shipped config
