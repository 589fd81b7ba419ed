"""Random-feature readout under online SGD: the readout ODE (with its O(eta^2) noise term) against
simulation as N grows, its stationary error, the stability bound, and the eta -> 0 asymptote."""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from conftest import seed_mean_gap

import scalinglaws as sl
from scalinglaws.simulate import LearningRates, sgd_step, simulate
from scalinglaws.theory import (
    ReadoutArgs,
    ReadoutODE,
    ReadoutState,
    dense_factorise,
    network_feature_statistics,
    rf_asymptotic_error,
    rf_asymptotic_error_large_n,
    rf_critical_learning_rate,
    rf_stationary_error,
    solve_readout,
)


def _rf_run(g, n, gamma, eta, seeds, alpha_max, *, points=5, alpha_min=0.1, noise=0.0, chunk=None, dtype=jnp.float32):
    teacher = functools.partial(sl.teacher_network, n, 2, g, dtype=dtype)
    student = functools.partial(sl.random_feature_model, n, int(gamma * n), g, dtype=dtype)
    return simulate(
        sl.isotropic(n),
        lambda k: teacher(key=k),
        lambda k: student(key=k),
        learning_rates=eta,
        noise_std=noise,
        seeds=seeds,
        alpha_max=alpha_max,
        points_per_decade=points,
        alpha_min=alpha_min,
        chunk_size=chunk,
        key=jr.key(7),
    )


def _theory(sim, n, eta, noise=0.0):
    c, b, tau = sim.feature_statistics

    def one(c_, b_, tau_, a0):
        return solve_readout(c_, b_, tau_, a0, sim.alpha, learning_rate=eta, scale=1.0, input_dim=n, noise_std=noise)[1]

    return np.asarray(jax.vmap(one)(c[0], b[0], tau[0], sim.second_layer[0, :, 0]))


def test_structured_solve_equals_the_dense_one():
    rng = np.random.default_rng(0)
    k = 12
    lam = np.sort(rng.uniform(0.01, 3.0, k))
    args = ReadoutArgs(*(jnp.asarray(x) for x in (lam, rng.normal(size=k) * 0.3, 0.7, 0.8, 1.0, 20.0, 0.1)))
    state = ReadoutState(jnp.asarray(rng.normal(size=k)), jnp.asarray(rng.uniform(0, 1, k)))
    r = ReadoutState(jnp.asarray(rng.normal(size=k)), jnp.asarray(rng.normal(size=k)))
    ode = ReadoutODE()
    for c in (0.01, 1.0, 30.0):
        fast = ode.factorise(0.0, state, args, c)(r)
        dense = dense_factorise(ode)(0.0, state, args, c)(r)
        np.testing.assert_allclose(fast.mean, dense.mean, rtol=1e-10)
        np.testing.assert_allclose(fast.second, dense.second, rtol=1e-10)


@pytest.mark.parametrize("activation, gamma", [(sl.Erf(), 2.0), (sl.Linear(), 0.5)])
def test_readout_ode_meets_simulation_as_n_grows(activation, gamma):
    """Seed-mean simulation against the seed-mean ODE (each seed from its own features): the gap
    shrinks with N (finite-N fluctuations and the O(1/N) terms the ODE leaves out)."""
    gaps = []
    for n in (32, 128):
        sim = _rf_run(activation, n, gamma, 1.0, 8, 100.0)
        gaps.append(seed_mean_gap(sim.eps_g[0], _theory(sim, n, 1.0)))
    assert gaps[1] < 0.7 * gaps[0] and gaps[1] < 0.03, gaps


def test_noise_term_is_needed():
    """At eta = 1 the O(eta^2) term raises the late error by tens of per cent, and the simulation
    follows the ODE with it, not the eta -> 0 asymptote."""
    n, eta = 128, 1.0
    sim = _rf_run(sl.Erf(), n, 2.0, eta, 4, 300.0, alpha_min=30.0)
    c, b, tau = (x[0] for x in sim.feature_statistics)
    late = sim.eps_g[0][:, sim.alpha >= 100].mean()
    stationary = np.mean(
        [rf_stationary_error(c[s], b[s], tau[s], learning_rate=eta, scale=1.0, input_dim=n) for s in range(4)]
    )
    floor = np.mean([float(rf_asymptotic_error(c[s], b[s], tau[s])) for s in range(4)])
    assert stationary > 1.2 * floor
    assert abs(late / stationary - 1) < 0.05, (late, stationary, floor)


def test_stationary_error_is_the_ode_long_time_limit_with_label_noise():
    rng = np.random.default_rng(3)
    n, k = 40, 80
    w, bt = rng.normal(size=(k, n)), rng.normal(size=(2, n))
    student = sl.RandomFeatureModel(w, np.zeros(k), sl.Erf())
    teacher = sl.TwoLayerNetwork(bt, np.ones(2), sl.Erf())
    c, b, tau = network_feature_statistics(student, teacher)
    alpha = np.concatenate([[0.0], np.geomspace(1, 1e5, 20)])
    for eta, noise in ((0.3, 0.0), (1.0, 0.3)):
        _, eps = solve_readout(
            c, b, tau, np.zeros(k), alpha, learning_rate=eta, scale=1.0, input_dim=n, noise_std=noise
        )
        stationary = rf_stationary_error(c, b, tau, learning_rate=eta, scale=1.0, input_dim=n, noise_std=noise)
        np.testing.assert_allclose(float(eps[-1]), stationary, rtol=1e-6)
        known = np.linalg.eigvalsh(np.asarray(c))  # passing the spectrum changes nothing
        rate = dict(scale=1.0, input_dim=n)
        assert rf_stationary_error(c, b, tau, learning_rate=eta, noise_std=noise, eigenvalues=known, **rate) == (
            pytest.approx(stationary, rel=1e-12)
        )
        assert rf_critical_learning_rate(c, eigenvalues=known, **rate) == pytest.approx(
            rf_critical_learning_rate(c, **rate), rel=1e-12
        )
    # eta -> 0: the stationary error tends to the asymptote, linearly in eta.
    floor = float(rf_asymptotic_error(c, b, tau))
    excess = [rf_stationary_error(c, b, tau, learning_rate=e, scale=1.0, input_dim=n) - floor for e in (1e-2, 1e-3)]
    np.testing.assert_allclose(excess[0] / excess[1], 10.0, rtol=0.02)


def test_long_time_simulation_reaches_the_finite_n_asymptote():
    """Small eta: the late simulation error equals the stationary error of its own features within
    a few per cent, and that is within eta-order of the exact eta -> 0 asymptote 1/2 [tau - b^T C^-1 b]."""
    n, eta, seeds = 64, 0.1, 4
    sim = _rf_run(sl.Erf(), n, 2.0, eta, seeds, 4000.0, alpha_min=100.0)
    c, b, tau = (x[0] for x in sim.feature_statistics)
    late = sim.eps_g[0][:, sim.alpha >= 2000].mean(1)
    stationary = [
        rf_stationary_error(c[s], b[s], tau[s], learning_rate=eta, scale=1.0, input_dim=n) for s in range(seeds)
    ]
    floor = [float(rf_asymptotic_error(c[s], b[s], tau[s])) for s in range(seeds)]
    np.testing.assert_allclose(late, stationary, rtol=0.05)
    np.testing.assert_allclose(stationary, floor, rtol=0.06)


def test_critical_learning_rate_separates_stable_from_divergent_sgd():
    n = 32
    sim = _rf_run(sl.Erf(), n, 2.0, 0.1, 1, 1.0)
    c = sim.feature_statistics[0][0, 0]
    eta_c = rf_critical_learning_rate(c, scale=1.0, input_dim=n)
    # s(eta) ~ eta gamma E[g^2] / 2 for erf (E[g^2] ~ 1/3), so eta_c is near 3 at gamma = 2.
    assert 2.0 < eta_c < 4.0, eta_c
    b, tau = sim.feature_statistics[1][0, 0], sim.feature_statistics[2][0, 0]
    assert np.isinf(rf_stationary_error(c, b, tau, learning_rate=1.05 * eta_c, scale=1.0, input_dim=n))
    below = _rf_run(sl.Erf(), n, 2.0, 0.7 * eta_c, 2, 200.0, alpha_min=1.0)
    above = _rf_run(sl.Erf(), n, 2.0, 1.5 * eta_c, 2, 200.0, alpha_min=1.0)
    assert not below.diverged and np.all(below.eps_g[0, :, -1] < 0.2)
    assert above.diverged


def test_chunked_features_equal_step_by_step_sgd():
    """The engine computes a chunk's features in one product; the result equals steps of `sgd_step`."""
    n = 16
    one = _rf_run(sl.Erf(), n, 2.0, 0.5, 2, 2.0, chunk=1, dtype=jnp.float64)
    many = _rf_run(sl.Erf(), n, 2.0, 0.5, 2, 2.0, chunk=8, dtype=jnp.float64)
    np.testing.assert_allclose(many.second_layer, one.second_layer, rtol=1e-10, atol=1e-13)
    # and the engine's readout after one step is the step of jax.grad on the per-sample loss
    g = sl.Erf()
    model = sl.random_feature_model(n, 2 * n, g, readout_init_std=0.3, dtype=jnp.float64, key=jr.key(0))
    x = jr.normal(jr.key(1), (n,), jnp.float64)
    y = jnp.asarray(0.4)
    grad = jax.grad(lambda a: 0.5 * (model.scale * (model.features_of(x) @ a) - y) ** 2)(model.readout)
    stepped = sgd_step(model, x, y, LearningRates(jnp.asarray(0.5), jnp.asarray(0.5)))
    np.testing.assert_allclose(stepped.readout, model.readout - 0.5 / n * grad, rtol=1e-12)


def test_linear_large_n_limit_is_the_unread_fraction():
    """Linear features span min(K, N) input directions: eps_* -> 1/2 M max(0, 1 - gamma)."""
    for gamma in (0.5, 2.0):
        np.testing.assert_allclose(float(rf_asymptotic_error_large_n(gamma, sl.Linear(), 2)), max(0.0, 1 - gamma))
    n, fractions = 200, []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        w, bt = rng.normal(size=(n // 2, n)), rng.normal(size=(2, n))
        student = sl.RandomFeatureModel(w, np.zeros(n // 2), sl.Linear())
        teacher = sl.TwoLayerNetwork(bt, np.ones(2), sl.Linear())
        c, b, tau = network_feature_statistics(student, teacher)
        fractions.append(float(rf_asymptotic_error(c, b, tau)) / (0.5 * float(tau)))  # the unexplained fraction
    assert abs(np.mean(fractions) - 0.5) < 0.05, fractions
