"""Kernel regression trained on P fixed samples (Kramp, Lindner & Helias, arXiv 2602.23039): the
exact finite-size average per data draw, its Euler–Maruyama check, and the DMFT against both,
against exact limits and against the paper's regimes. eps_g carries the project's factor 1/2."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from scalinglaws._full_batch import FullBatchLangevin, KernelProblem, exact_draw
from scalinglaws.theory._dmft import dmft_curves, dmft_mode_discrepancy, dmft_stationary


def _spectrum(n: int) -> jnp.ndarray:
    return jnp.arange(1, n + 1, dtype=jnp.float64) ** -1.5  # the paper's Lambda_ii = i^-3/2


def _exact(problem: KernelProblem, times, draws: int, seed: int = 0) -> dict:
    keys = jr.split(jr.key(seed), draws)
    out = jax.jit(jax.vmap(lambda key: exact_draw(problem, jnp.asarray(times), key=key)))(keys)
    return {name: np.asarray(value) for name, value in out.items()}


def _dmft(problem: KernelProblem, times) -> dict:
    return {name: np.asarray(x) for name, x in dmft_curves(problem, np.asarray(times, np.float64)).items()}


def test_initial_value_and_slope_are_exact():
    """eps_g(0) = tr Lambda / 2 and d eps_g / dt (0) = -c P sum lambda^2 + T tr Lambda, in the DMFT and
    for every single draw's average at finite N."""
    n = p = 60
    lam = _spectrum(n)
    trace, square = float(lam.sum()), float((lam**2).sum())
    for kappa, temp in ((0.0, 0.0), (0.01, 0.3)):
        problem = KernelProblem(lam, p, 1.0, kappa, temp)
        h = 1e-6
        slope = -p * square + temp * trace  # kappa drops out at w = 0
        theory = _dmft(problem, [h, 2 * h])["eps_g"]
        assert theory[0] == pytest.approx(0.5 * trace + slope * h, rel=1e-6)
        assert (theory[1] - theory[0]) / h == pytest.approx(slope, rel=2e-3)
        exact = _exact(problem, [0.0, h], 200)["eps_g"].mean(0)
        assert exact[0] == pytest.approx(0.5 * trace, rel=1e-12)
        # The slope averages sum_j (U^T Lambda U)_jj a_j = tr(Lambda A) over draws: E = P sum lambda^2 + kappa tr.
        assert (exact[1] - exact[0]) / h == pytest.approx(slope, rel=0.02)


def test_dmft_lies_just_below_the_exact_average_at_n_100():
    """N = P = 100, Lambda = i^-3/2: below exact by less than 1 % for t <= 2.5 and 2 % for t <= 20,
    for gradient flow and for Langevin dynamics with weight decay; bias, variance and training error
    (computed from the unweighted trace, an independent combination of responses) agree as well."""
    n = p = 100
    times = np.array([0.01, 0.1, 1.0, 2.5, 10.0, 20.0])
    for kappa, temp in ((0.0, 0.0), (1e-3, 0.1)):
        problem = KernelProblem(_spectrum(n), p, 1.0, kappa, temp)
        theory, exact = _dmft(problem, times), _exact(problem, times, 600)
        mean = {name: value.mean(0) for name, value in exact.items()}
        error = exact["eps_g"].std(0) / np.sqrt(600)
        gap = theory["eps_g"] / mean["eps_g"] - 1
        assert np.all(theory["eps_g"] < mean["eps_g"] + 2 * error), gap
        assert np.all(np.abs(gap[times <= 2.5]) < 0.01) and np.all(np.abs(gap) < 0.02), gap
        np.testing.assert_allclose(theory["bias"], mean["bias"], rtol=0.02)
        if temp > 0:
            np.testing.assert_allclose(theory["variance"], mean["variance"], rtol=0.02)
        np.testing.assert_allclose(theory["train_error"], mean["train_error"], rtol=0.01)


def test_the_finite_size_gap_shrinks_as_one_over_n():
    """At t = 12.3 the DMFT-minus-exact gap is about -2.9 %, -1.2 %, -0.64 % at N = P = 50, 100, 200."""
    gaps = []
    for n in (50, 100, 200):
        problem = KernelProblem(_spectrum(n), n, 1.0, 0.0, 0.0)
        exact = _exact(problem, [12.3], 400, seed=n)["eps_g"][:, 0]
        gaps.append(_dmft(problem, [12.3])["eps_g"][0] / exact.mean() - 1)
    gaps = np.asarray(gaps)
    assert np.all(gaps < 0)
    assert gaps[0] / gaps[1] == pytest.approx(2.0, rel=0.35) and gaps[1] / gaps[2] == pytest.approx(2.0, rel=0.35)


def test_responses_are_the_averaged_diagonal_of_the_propagator():
    """mu_i(t) = G_i(t) = E[(e^{-A t})_ii] at kappa = 0 (mode-resolved discrepancy), and with
    weight decay G_i + kappa int G_i = E[(e^{-At} + kappa (1 - e^{-At}) / A)_ii]."""
    n = p = 100
    times = np.array([0.03, 0.3, 3.0, 30.0])
    for kappa in (0.0, 0.05):
        problem = KernelProblem(_spectrum(n), p, 1.0, kappa, 0.0)
        theory = np.asarray(dmft_mode_discrepancy(problem, times))
        draws = _exact(problem, times, 400)["mode_discrepancy"]
        exact, error = draws.mean(0), draws.std(0) / np.sqrt(400)
        assert theory.shape == exact.shape == (4, n)
        assert np.all(np.abs(theory - exact) < 4.5 * error + 0.003)  # sampling error and the O(1/N) gap


def test_the_stationary_limit_is_the_effective_ridge():
    """kappa = 0.1, N = P = 100: kappa_eff = 0.23986, gamma = 0.3871, bias 0.0767 / 2, posterior width
    tr Lambda A^-1 = kappa_eff / kappa - 1 = 1.3986 (exact finite N: 0.0775 and 1.408); the DMFT's
    late-time curve reaches it."""
    n = p = 100
    temp = 0.2
    problem = KernelProblem(_spectrum(n), p, 1.0, 0.1, temp)
    stationary = {name: float(x) for name, x in dmft_stationary(problem).items()}
    assert stationary["kappa_eff"] == pytest.approx(0.23986, abs=1e-5)
    assert stationary["gamma"] == pytest.approx(0.3871, abs=1e-4)
    assert stationary["bias"] == pytest.approx(0.0767 / 2, abs=1e-4)
    assert stationary["variance"] == pytest.approx(0.5 * temp * 1.3986, rel=1e-4)
    late = _dmft(problem, [1e4])
    assert late["eps_g"][0] == pytest.approx(stationary["eps_g"], rel=1e-6)
    exact = _exact(problem, [1e4], 400)
    assert exact["bias"].mean() == pytest.approx(0.0775 / 2, rel=0.01)
    assert exact["variance"].mean() == pytest.approx(0.5 * temp * 1.408, rel=0.01)


def test_mean_loss_is_the_sum_loss_on_a_rescaled_clock():
    """c = 1/P at time P t, with kappa / P and T / P, is c = 1 at time t."""
    n, p = 50, 40
    times = np.array([0.05, 0.5, 5.0])
    summed = _dmft(KernelProblem(_spectrum(n), p, 1.0, 0.01, 0.2), times)
    mean = _dmft(KernelProblem(_spectrum(n), p, 1.0 / p, 0.01 / p, 0.2 / p), p * times)
    for name in ("eps_g", "train_error"):
        np.testing.assert_allclose(mean[name], summed[name], rtol=1e-8)


def test_euler_maruyama_agrees_with_the_exact_average():
    """Sampled teacher, data, label noise, initial weights and Langevin paths (dt = 1e-3) against the
    exact average of the same draws' law: within 3 standard errors (plus the dt bias, a dt / 2 ~ 1 %)."""
    n, p, draws = 16, 24, 1000
    times = np.array([0.0, 0.01, 0.1, 0.5])
    problem = KernelProblem(_spectrum(n), p, 1.0, 0.05, 0.1, 1.0, 0.04, 0.01)
    learner = FullBatchLangevin(p, time_step=1e-3)
    from scalinglaws._full_batch import _em_draw

    steps = jnp.asarray(np.rint(times / learner.time_step), jnp.int32)
    keys = jr.split(jr.key(7), draws)
    sampled = jax.jit(jax.vmap(lambda key: _em_draw(problem, steps, 1e-3, jnp.float64, key=key)))(keys)
    exact = _exact(problem, times, 400)
    for name in ("eps_g", "train_error"):
        values = np.asarray(sampled[name])
        error = values.std(0) / np.sqrt(draws) + 0.01 * values.mean(0)
        assert np.all(np.abs(values.mean(0) - exact[name].mean(0)) < 3 * error), name
    modes = np.asarray(sampled["mode_discrepancy"]).mean(0)[-1]
    assert np.max(np.abs(modes - exact["mode_discrepancy"].mean(0)[-1])) < 0.15


def test_late_time_slopes():
    """Gradient flow: slope -1/2 at P = N (the hard edge, t >~ 100), and the aligned law
    -beta/(1+beta) = -1/3 when the learned modes are far fewer than N and P (N = P = 10^5,
    1.786 (2 P t)^-1/3 / 2 in the window 1 << (2 P t)^(2/3) << P)."""
    hard = _dmft(KernelProblem(_spectrum(100), 100, 1.0, 0.0, 0.0), [300.0, 3000.0])["eps_g"]
    assert np.log(hard[1] / hard[0]) / np.log(10) == pytest.approx(-0.5, abs=0.02)
    p = 10**5
    times = np.array([0.01, 0.03])
    wide = _dmft(KernelProblem(_spectrum(p), p, 1.0, 0.0, 0.0), times)["eps_g"]
    slope = np.log(wide[1] / wide[0]) / np.log(3.0)
    assert slope == pytest.approx(-1 / 3, abs=0.02)
    assert wide[0] == pytest.approx(0.5 * 1.786 * (2 * p * times[0]) ** (-1 / 3), rel=0.05)


def test_early_stopping_at_the_interpolation_threshold():
    """N = P = 100, kappa = 0: t* / beta in [0.22, 0.26] (the hard-edge value 1/4), E*(beta = 10) =
    0.229 / 2 (exact: 0.2306 / 2); weight decay kappa = 10^-2 keeps t* within 5 %."""
    from scalinglaws.theory._dmft import early_stopping

    times = np.concatenate([[0.0], np.geomspace(0.1, 100, 31)])
    found = {}
    for kappa in (0.0, 1e-2):
        problem = KernelProblem(_spectrum(100), 100, 1.0, kappa, 0.1)
        eps = np.concatenate([[1.0], _dmft(problem, times[1:])["eps_g"]])
        found[kappa] = early_stopping(problem, times, eps)
    assert found[0.0]["interior"] and 0.22 <= found[0.0]["time"] / 10 <= 0.26
    assert found[0.0]["error"] == pytest.approx(0.229 / 2, rel=0.005)
    assert found[1e-2]["time"] == pytest.approx(found[0.0]["time"], rel=0.05)


def test_the_theory_is_differentiable_in_the_spectrum_exponent():
    """d eps_g(t) / d exponent through the self-consistency (implicit derivative) against a central
    finite difference."""

    def eps(exponent):
        lam = jnp.arange(1, 51, dtype=jnp.float64) ** -(1 + exponent)
        return dmft_curves(KernelProblem(lam, 50, 1.0, 0.0, 0.05), jnp.asarray([3.0]))["eps_g"][0]

    grad = float(jax.grad(eps)(0.5))
    h = 1e-5
    assert grad == pytest.approx((float(eps(0.5 + h)) - float(eps(0.5 - h))) / (2 * h), rel=1e-5)


# The command: a kernel-regression config end to end, and the values it refuses.

_CONFIG = """
name = "kernel"
[data]
input_dim = 20
spectrum = "power_law"
exponent = 0.5
normalisation = "top"
[student]
kind = "kernel_regression"
[training]
algorithm = "langevin"
samples = 20
temperature = 0.1
weight_decay = 0.01
time_max = 10
points_per_decade = 4
seeds = 50
"""


def _command(config, out, *overrides) -> int:
    from scalinglaws.cli import main

    args = ["run", str(config), "--out", str(out), "--quiet"]
    for override in overrides:
        args += ["--set", override]
    return main(args)


def test_a_kernel_regression_run_writes_the_results_contract(tmp_path):
    import json

    from scalinglaws.experiment import load_results

    config = tmp_path / "kernel.toml"
    config.write_text(_CONFIG)
    assert _command(config, tmp_path / "out") == 0
    arrays = load_results(tmp_path / "out")
    t = arrays["time"]
    assert t[0] == 0 and t[-1] == pytest.approx(10) and "alpha" not in arrays
    for name in ("eps_g", "bias", "variance", "train_error"):
        assert arrays[f"{name}_sim"].shape == (50, t.size) and arrays[f"{name}_theory"].shape == (t.size,)
    assert arrays["mode_discrepancy_sim"].shape == arrays["mode_discrepancy_theory"].shape == (t.size, 20)
    np.testing.assert_allclose(arrays["eps_g_sim"], arrays["bias_sim"] + arrays["variance_sim"], rtol=1e-12)
    # N = P = 20: the DMFT lies within its finite-size gap below the mean of 50 exact draws.
    gap = arrays["eps_g_theory"][1:] / arrays["eps_g_sim"].mean(0)[1:] - 1
    assert np.all(gap < 0.01) and np.all(gap > -0.08), gap
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["early_stopping_interior_theory"] and 0.5 < summary["early_stopping_time_theory"] < 10
    assert summary["eps_g_stationary_theory"] > 0 and (tmp_path / "out" / "figure.png").stat().st_size > 0
    # Every run kind reports its compilation (from jax.monitoring), not only online SGD.
    assert summary["compile_seconds"] >= 0 and {"cache_hits", "backend_seconds"} <= set(summary["compilation"])
    # The sampled Euler–Maruyama check runs through the same command.
    em = ["training.method=euler_maruyama", "training.time_step=0.005", "training.time_max=1", "training.time_min=0.01"]
    assert _command(config, tmp_path / "em", *em) == 0
    sampled = load_results(tmp_path / "em")
    assert np.all(np.isfinite(sampled["eps_g_sim"])) and "bias_sim" not in sampled
    assert np.allclose(sampled["time"][1:] / 0.005, np.rint(sampled["time"][1:] / 0.005))
    # An anisotropic teacher: the DMFT's test and training errors (double Laplace) near the draws'.
    assert _command(config, tmp_path / "aniso", "teacher.variance_exponent=1.0", "training.time_max=1") == 0
    tilted = load_results(tmp_path / "aniso")
    for name in ("eps_g", "train_error"):
        gap = tilted[f"{name}_theory"][1:] / tilted[f"{name}_sim"].mean(0)[1:] - 1
        assert np.all(np.abs(gap) < 0.08), (name, gap)


@pytest.mark.parametrize(
    "override, key",
    [
        ("training.samples=0", "training.samples"),
        ("training.temperature=-1", "training.temperature"),
        ("training.weight_decay=-0.5", "training.weight_decay"),
        ("training.algorithm='gradient_flow'", "training.temperature"),
        ("training.algorithm='online_sgd'", "training.algorithm"),
        ("training.temperature=0", "training.temperature"),
        ("training.time_min=20", "training.time_min"),
        ("student.hidden=[2, 4]", "student.hidden"),
    ],
)
def test_bad_kernel_regression_values_exit_2_naming_the_key(tmp_path, capsys, override, key):
    config = tmp_path / "kernel.toml"
    config.write_text(_CONFIG)
    assert _command(config, tmp_path / "out", override) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {key}") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_networks_are_not_trained_by_full_batch_algorithms(tiny, tmp_path, capsys):
    assert _command(tiny, tmp_path / "out", "training.algorithm='langevin'", "training.temperature=0.1") == 2
    assert capsys.readouterr().err.startswith("error: training.algorithm")


def test_talbot_windows_invert_exponential_sums_and_their_integrals():
    """One contour per window [t0, 4 t0], 24 nodes: sum_i w_i e^{-a_i t} (rates 10^-6 ... 10^3 and
    0) and its integral, to 1e-10 relative from t = 10^-3 to 10^4; the DMFT's curves at 24 and 40
    nodes agree to 1e-8."""
    from scalinglaws.theory import talbot_windows

    rng = np.random.default_rng(0)
    rates = np.concatenate([10 ** rng.uniform(-6, 3, 200), [0.0]])
    w = rng.uniform(0, 1, rates.size)
    t = np.geomspace(1e-3, 1e4, 50)
    s, weights, window = talbot_windows(t)
    assert s.shape[1] == 24 and s.shape[0] <= 12  # 7 decades: 12 windows of a factor 4, not 50 contours
    transform = (w / (s[..., None] + rates)).sum(-1)
    exact = (w * np.exp(-rates * t[:, None])).sum(-1)
    found = np.real(np.sum(weights * transform[window], axis=1))
    np.testing.assert_allclose(found, exact, rtol=1e-10)
    found = np.real(np.sum(weights * (transform / s)[window], axis=1))
    x = rates * t[:, None]
    integral = (w * t[:, None] * np.where(x > 0, -np.expm1(-x) / np.where(x > 0, x, 1), 1.0)).sum(-1)
    np.testing.assert_allclose(found, integral, rtol=1e-10)
    problem = KernelProblem(_spectrum(100), 100, 1.0, 1e-3, 0.1, 1.0, 0.01, 0.04)
    times = np.geomspace(1e-3, 1e5, 17)
    coarse, fine = dmft_curves(problem, times, 24), dmft_curves(problem, times, 40)
    for name in ("eps_g", "bias", "variance"):
        np.testing.assert_allclose(np.asarray(coarse[name]), np.asarray(fine[name]), rtol=1e-8)


def test_fit_the_spectrum_exponent_through_the_dmft():
    """`fit.fit_theory` through the DMFT recovers the spectrum exponent of exact draws (N = P = 60,
    gradient flow, exponent 0.5, started at 0.8) within its finite-size bias."""
    from scalinglaws.fit import fit_theory

    n = 60
    times = np.geomspace(0.05, 20, 8)
    problem = KernelProblem(_spectrum(n), n, 1.0, 0.0, 0.0)
    runs = _exact(problem, times, 300)["eps_g"]

    def theory(params):
        lam = jnp.arange(1, n + 1, dtype=jnp.float64) ** -(1 + params["exponent"])
        return dmft_curves(KernelProblem(lam, n, 1.0, 0.0, 0.0), times)["eps_g"]

    fit = fit_theory(theory, runs, {"exponent": 0.8}, steps=60, learning_rate=0.05)
    assert fit.params["exponent"] == pytest.approx(0.5, abs=0.03)


def test_the_memory_check_covers_kernel_regression(tmp_path):
    """N = 16384 modes diagonalised per draw: about 8 GiB a draw, refused on an 8 GiB budget naming
    data.input_dim; the default figure config fits in 1 GiB beyond the runtime."""
    from scalinglaws.experiment import ConfigError, check_memory, load_config

    config = tmp_path / "kernel.toml"
    config.write_text(_CONFIG)
    big = load_config(config, ["data.input_dim=16384", "training.samples=16384"])
    with pytest.raises(ConfigError, match="GiB of memory at its peak") as caught:
        check_memory(big, available=2**33)
    assert caught.value.key == "data.input_dim"
    small = check_memory(load_config(config), available=2**40)
    assert small.total < 2**31


def test_anisotropic_teacher():
    """wbar_i ~ N(0, i^-1/2): the double-Laplace teacher terms (test and training error) reduce to
    the one-point formulas when the variances are equal (to 1e-6 and 1e-5), and lie below the exact average at
    N = P = 100 by less than 2 % for t <= 10 (the training error within 2 %; gradient flow, and
    Langevin dynamics with weight decay)."""
    n = 100
    times = np.array([0.01, 0.1, 1.0, 10.0])
    for kappa, temp in ((0.0, 0.0), (1e-2, 0.1)):
        one_point = _dmft(KernelProblem(_spectrum(n), n, 1.0, kappa, temp, 1.0), times)
        two_point = _dmft(KernelProblem(_spectrum(n), n, 1.0, kappa, temp, jnp.ones(n)), times)
        np.testing.assert_allclose(two_point["eps_g"], one_point["eps_g"], rtol=1e-6)
        # The training error at P = N falls to 0.0027 by t = 10: the inversion's 1e-6 relative is 5e-9.
        np.testing.assert_allclose(two_point["train_error"], one_point["train_error"], rtol=1e-5)
        variances = jnp.arange(1, n + 1, dtype=jnp.float64) ** -0.5
        problem = KernelProblem(_spectrum(n), n, 1.0, kappa, temp, variances)
        theory, exact = _dmft(problem, times), _exact(problem, times, 600)
        mean, error = exact["eps_g"].mean(0), exact["eps_g"].std(0) / np.sqrt(600)
        assert np.all(theory["eps_g"] < mean + 2 * error) and np.all(np.abs(theory["eps_g"] / mean - 1) < 0.02)
        gap = theory["train_error"] / exact["train_error"].mean(0) - 1  # of either sign, as when isotropic
        assert np.all(np.abs(gap) < 0.02), gap
    # The anisotropic exact average against Euler-Maruyama sampling of the same law.
    from scalinglaws._full_batch import _em_draw

    small = KernelProblem(_spectrum(12), 16, 1.0, 0.05, 0.05, jnp.arange(1, 13, dtype=jnp.float64) ** -1.0)
    steps = jnp.asarray([0, 100, 400], jnp.int32)
    sampled = jax.jit(jax.vmap(lambda key: _em_draw(small, steps, 1e-3, jnp.float64, key=key)))(
        jr.split(jr.key(3), 1000)
    )
    values = np.asarray(sampled["eps_g"])
    reference = _exact(small, np.array([0.0, 0.1, 0.4]), 400)["eps_g"].mean(0)
    assert np.all(np.abs(values.mean(0) - reference) < 3 * values.std(0) / np.sqrt(1000) + 0.01 * reference)
