"""Fits of learning curves: known exponents recovered, intervals that cover the truth at their nominal
rate, a broken power law's two exponents and break, flat directions reported, degenerate data
refused, the power-law window found, and `scalinglaws fit` writing fit.json."""

import dataclasses
import json

import numpy as np
import pytest

from scalinglaws.cli import main
from scalinglaws.experiment import load_results
from scalinglaws.fit import (
    FORMS,
    FitError,
    Form,
    fit_curve,
    fit_run,
    sliding_exponent,
    steady_window,
    student_t_quantile,
)


X = np.geomspace(1.0, 1e4, 30)


def _noisy(curve, seeds, sigma, seed):
    return curve * np.exp(sigma * np.random.default_rng(seed).normal(size=(seeds, curve.size)))


@pytest.mark.parametrize(
    "form, truth, curve",
    [
        ("power_law", (0.01, 2.0, 0.7), lambda x: 0.01 + 2.0 * x**-0.7),
        ("pure_power_law", (2.0, 0.7), lambda x: 2.0 * x**-0.7),
        ("pure_power_law", (0.3, -0.4), lambda x: 0.3 * x**0.4),
        ("plateau_power_law", (0.001, 0.3, 20.0, 1.5), lambda x: 0.001 + 0.3 * (1 + x / 20.0) ** -1.5),
        ("exponential", (0.05, 1.0, 3e-3), lambda x: 0.05 + np.exp(-3e-3 * x)),
    ],
)
def test_known_parameters_are_recovered(form, truth, curve):
    fit = fit_curve(X, _noisy(curve(X), 8, 0.03, 0), form)
    np.testing.assert_allclose(list(fit.params.values()), truth, rtol=0.1)
    assert not fit.undetermined
    for (low, high), value in zip(fit.intervals.values(), truth):
        assert low <= value <= high


def test_intervals_cover_the_truth_at_about_their_nominal_rate():
    """95 % bootstrap-over-seeds intervals (8 seeds, 10 % noise) over 40 independent draws."""
    truth = {"offset": 0.01, "amplitude": 2.0, "exponent": 0.7}
    curve = 0.01 + 2.0 * X**-0.7
    hits = dict.fromkeys(truth, 0)
    draws = 40
    for d in range(draws):
        fit = fit_curve(X, _noisy(curve, 8, 0.1, 100 + d), "power_law", bootstrap=150, seed=d)
        for name, value in truth.items():
            low, high = fit.intervals[name]
            hits[name] += low <= value <= high
    rates = {name: count / draws for name, count in hits.items()}
    assert all(0.8 <= rate <= 1.0 for rate in rates.values()), rates
    assert np.mean(list(rates.values())) >= 0.88, rates


def test_broken_power_law_recovers_both_exponents_and_the_break():
    curve = 3.0 * (X / 100) ** -0.3 * (1 + (X / 100) ** 2) ** (-(1.2 - 0.3) / 2)
    fit = fit_curve(X, _noisy(curve, 8, 0.03, 1), "broken_power_law")
    np.testing.assert_allclose(
        [fit.params["exponent_1"], fit.params["exponent_2"], fit.params["break"]], [0.3, 1.2, 100.0], rtol=0.05
    )
    assert not fit.undetermined


def test_flat_directions_are_reported_not_guessed():
    """A single power law has no break: the broken form leaves a parameter undetermined. Without an
    offset, the power law's offset is reported at its bound, [0, upper]."""
    curve = 3.0 * X**-0.5
    broken = fit_curve(X, _noisy(curve, 8, 0.02, 2), "broken_power_law")
    assert broken.undetermined and all(broken.intervals[name] is None for name in broken.undetermined)
    plain = fit_curve(X, _noisy(curve, 8, 0.02, 2), "power_law")
    assert plain.intervals["offset"][0] == 0.0 and plain.intervals["offset"][1] < 1e-3
    np.testing.assert_allclose(plain.params["exponent"], 0.5, rtol=0.01)


def test_one_curve_gets_curvature_intervals():
    curve = 0.01 + 2.0 * X**-0.7
    fit = fit_curve(X, _noisy(curve, 1, 0.05, 3)[0], "power_law")
    assert "curvature" in fit.interval_method
    low, high = fit.intervals["exponent"]
    assert low < 0.7 < high and high - low < 0.2


@pytest.mark.parametrize(
    "x, y, message",
    [
        (X, np.full(X.size, 0.3), "constant"),
        (X[:2], 1 / X[:2], "at least"),
        (X, np.where(np.arange(X.size) == 5, np.nan, 1 / X), "NaN"),
        (X, -1 / X, "> 0"),
    ],
)
def test_degenerate_data_raise_a_clear_error(x, y, message):
    with pytest.raises(FitError, match=message):
        fit_curve(x, y, "power_law")


_PURE_POWER_LAW = Form(
    "pure_power_law",
    ("amplitude", "exponent"),
    ("log", "log"),
    lambda x, p: p[0] * x ** (-p[1]),
    lambda x, y: np.array([[y[0] * x[0] ** e, e] for e in (0.3, 1.0, 2.0)]),
)


@pytest.mark.parametrize(
    "form",
    [
        _PURE_POWER_LAW,  # not in FORMS
        dataclasses.replace(FORMS["exponential"], name="power_law"),  # a built-in name, another curve
        dataclasses.replace(FORMS["exponential"], name="broken_power_law"),  # and other parameter names
    ],
    ids=["new_name", "power_law_name", "broken_power_law_name"],
)
def test_a_custom_form_is_fitted_and_evaluated_as_given(form):
    """`fit_curve` with a `Form` object: `Fit.curve` evaluates that form, not a built-in one looked up
    by its name, and the record still names it."""
    x = np.linspace(0.1, 10.0, 30) if "rate" in form.names else X
    truth = 0.05 + 2.0 * np.exp(-0.5 * x) if "rate" in form.names else 3.0 * x**-0.6
    fit = fit_curve(x, _noisy(truth, 4, 0.02, 5), form, bootstrap=20)
    np.testing.assert_allclose(fit.curve(x), truth, rtol=0.05)
    np.testing.assert_allclose(fit.curve(x), np.asarray(form(x, fit.theta)), rtol=1e-12)
    assert fit.form == form.name and fit.to_json()["form"] == form.name and fit.form_object is form


def test_fit_run_checks_the_variant():
    """`fit_run`: `variant` only for a sweep, and within its variants, with messages that name no
    config key or flag; a valid variant fits that run."""
    alpha = np.concatenate([[0.0], X])
    single = np.concatenate([np.ones((3, 1)), _noisy(0.01 + 2.0 * X**-0.7, 3, 0.02, 6)], axis=1)  # alpha = 0 dropped
    sweep = np.stack([single, 2 * single])
    with pytest.raises(FitError, match="variant 0 given, but the results hold a single run, not a sweep"):
        fit_run({"alpha": alpha, "eps_g_sim": single}, "power_law", variant=0)
    for variant in (2, 3, -1):
        with pytest.raises(FitError, match=f"variant {variant} is out of range: the results hold 2 variants"):
            fit_run({"alpha": alpha, "eps_g_sim": sweep}, "power_law", variant=variant)
    with pytest.raises(FitError, match=r"sweep of 2 variants.*\[0, 2\)") as caught:
        fit_run({"alpha": alpha, "eps_g_sim": sweep}, "power_law")
    assert "fit." not in str(caught.value) and "--" not in str(caught.value)
    fit, record = fit_run({"alpha": alpha, "eps_g_sim": sweep}, "power_law", variant=1, bootstrap=20)
    assert record["variant"] == 1 and record["form"] == "power_law"
    np.testing.assert_allclose(fit.params["amplitude"], 4.0, rtol=0.1)


def test_steady_window_finds_the_power_law_regime():
    """A plateau, then alpha^-0.5 over two decades, then an exponential cut-off."""
    x = np.geomspace(0.1, 1e5, 80)
    y = (1 + x) ** -0.5 * np.exp(-x / 1e4)
    low, high = steady_window(x, y, tolerance=0.05)
    assert 5 < low < 30 and 300 < high < 2000, (low, high)
    np.testing.assert_allclose(sliding_exponent(X, X**-0.7), -0.7, atol=1e-12)
    np.testing.assert_allclose(student_t_quantile(0.975, 7), 2.3646, atol=1e-4)
    with pytest.raises(FitError, match="no power-law window"):
        steady_window(np.geomspace(1, 100, 30), np.exp(-np.geomspace(1, 100, 30) / 10), tolerance=1e-3)


def test_fit_command_writes_fit_json_and_redraws(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(
        'name = "tiny"\n[data]\ninput_dim = 32\n[student]\ninit_std = 0.1\n'
        "[training]\nalpha_max = 20\nalpha_min = 0.1\npoints_per_decade = 6\nseeds = 3\n[theory]\nenabled = false\n"
    )
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    before = (out / "figure.png").read_bytes()
    assert main(["fit", str(out), "--form", "power_law", "--range", "0.5", "20", "--bootstrap", "50"]) == 0
    record = json.loads((out / "fit.json").read_text())
    assert record["form"] == "power_law" and set(record["params"]) == {"offset", "amplitude", "exponent"}
    assert set(record) >= {"form", "params", "intervals", "window", "loss"}
    assert 0.5 <= record["window"][0] and record["window"][1] <= 20
    assert (out / "figure.png").read_bytes() != before
    assert "power_law" in json.loads((out / "summary.json").read_text())["fits"]
    assert load_results(out)["eps_g_sim"].shape[0] == 3
    # Bad form, or a range with too few points: exit 2 and a message; nothing is overwritten.
    assert main(["fit", str(out), "--form", "cubic"]) == 2
    assert main(["fit", str(out), "--range", "19", "20"]) == 2
    err = capsys.readouterr().err
    assert "form must be one of" in err and "at least" in err
    assert json.loads((out / "fit.json").read_text()) == record


def test_fit_through_the_ode_recovers_the_learning_rate(getkey):
    """Gradients through the SCM ODE (diffrax) fit eta to a simulated run (eta = 0.5, two seeds), from 0.25."""
    import jax
    import jax.numpy as jnp
    from conftest import erf_scm_simulation

    import scalinglaws as sl
    from scalinglaws.fit import fit_theory
    from scalinglaws.theory import SCMArgs, SCMState, SoftCommitteeODE, solve_soft_committee

    sim = erf_scm_simulation(sl.isotropic(400), 2, getkey())
    ode = SoftCommitteeODE(sl.Erf(), 2, 2)
    states = SCMState(sim.q[0, :, 0], sim.r[0, :, 0], np.ones((2, 2)))
    alpha = sim.alpha

    def theory(params):
        def one(state, t):
            args = SCMArgs(params["learning_rate"], params["learning_rate"], t, jnp.ones(2), jnp.asarray(0.0))
            return solve_soft_committee(ode, state, args, jnp.asarray(alpha), rtol=1e-6, atol=1e-9)[1]

        return jax.vmap(one)(states, jnp.asarray(sim.t)).mean(0)[1:]

    fit = fit_theory(theory, sim.eps_g[0][:, 1:], {"learning_rate": 0.25}, steps=30, learning_rate=0.1)
    assert abs(fit.params["learning_rate"] / 0.5 - 1) < 0.05, fit.params
    low, high = fit.intervals["learning_rate"]
    assert low < fit.params["learning_rate"] < high and fit.history[-1] < 0.1 * fit.history[0]


def test_a_fit_section_fits_during_the_run(tmp_path, capsys):
    """`[fit]` in the config: fit.json is written with the run; a fit that fails leaves the run."""
    config = tmp_path / "tiny.toml"
    config.write_text(
        'name = "tiny"\n[data]\ninput_dim = 32\n[student]\ninit_std = 0.1\n'
        "[training]\nalpha_max = 20\nalpha_min = 0.1\npoints_per_decade = 6\nseeds = 3\n[theory]\nenabled = false\n"
        '[fit]\nform = "plateau_power_law"\nbootstrap = 30\n'
    )
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    record = json.loads((out / "fit.json").read_text())
    assert record["form"] == "plateau_power_law" and record["window_method"] == "full range"
    assert json.loads((out / "summary.json").read_text())["fits"]["plateau_power_law"] == record
    failed = tmp_path / "failed"
    assert main(["run", str(config), "--out", str(failed), "--quiet", "--set", "fit.range=[19, 20]"]) == 0
    assert not (failed / "fit.json").exists() and (failed / "results.npz").exists()
    assert "without its fit" in capsys.readouterr().err
    assert main(["run", str(config), "--out", str(tmp_path / "bad"), "--set", "fit.range=[3]"]) == 2
