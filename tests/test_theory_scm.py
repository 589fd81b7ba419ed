"""The soft-committee-machine ODEs: against SGD increments, exact references and simulation."""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from conftest import erf_scm_simulation, log_log_slope, ode_gap_to_simulation

import scalinglaws as sl
from scalinglaws.simulate import LearningRates, sgd_step
from scalinglaws.theory import (
    SCMArgs,
    SCMState,
    SoftCommitteeODE,
    check_solution,
    linearise,
    local_exponent,
    plateau_interval,
    solve_soft_committee,
    symmetric_fixed_point,
)


def _args(eta, eta_v, t, a, noise=0.0):
    return SCMArgs(jnp.asarray(eta), jnp.asarray(eta_v), jnp.asarray(t), jnp.asarray(a), jnp.asarray(noise))


@pytest.mark.parametrize("activation", [sl.Erf(), sl.Linear()], ids=lambda g: g.name)
@pytest.mark.parametrize("output", ["sum", "sqrt"])
def test_rhs_equals_the_mean_sgd_increment(activation, output, getkey):
    """N x E[one SGD step's change of (Q, R, v)] at random weights equals the ODE's right-hand side."""
    n, k, m, eta, eta_v, noise = 200, 3, 2, 0.6, 0.4, 0.2
    teacher = sl.teacher_network(
        n, m, activation, output=output, second_layer="power_law", dtype=jnp.float64, key=getkey()
    )
    student = sl.student_network(
        n, k, activation, output=output, init_std=0.7, second_layer_init=0.8, dtype=jnp.float64, key=getkey()
    )
    student = sl.TwoLayerNetwork(student.first, jnp.asarray([0.8, -0.5, 1.1]), activation, output)
    w, b = student.first, teacher.first
    rates = LearningRates(jnp.asarray(eta), jnp.asarray(eta_v))

    @jax.jit
    def increments(key):
        kx, kn = jr.split(key)
        x = jr.normal(kx, (5_000, n), jnp.float64)
        y = teacher(x) + noise * jr.normal(kn, (x.shape[0],), jnp.float64)
        new = jax.vmap(lambda xi, yi: sgd_step(student, xi, yi, rates, train_second_layer=True))(x, y)
        # N x (change of an overlap / N) = the change of the un-normalised overlap.
        dq = jnp.einsum("skn,sln->skl", new.first, new.first) - (w @ w.T)[None]
        dr = new.first @ b.T - (w @ b.T)[None]
        dv = (new.second - student.second[None]) * n
        return dq, dr, dv

    samples = [increments(getkey()) for _ in range(40)]
    dq, dr, dv = (np.concatenate([np.asarray(s[i]) for s in samples]) for i in range(3))
    ode = SoftCommitteeODE(activation, k, m, output, output, train_second_layer=True)
    rhs = ode(
        0.0, SCMState(w @ w.T / n, w @ b.T / n, student.second), _args(eta, eta_v, b @ b.T / n, teacher.second, noise)
    )
    for name, mc, exact in (("Q", dq, rhs.q), ("R", dr, rhs.r), ("v", dv, rhs.v)):
        mean, err = mc.mean(0), mc.std(0) / math.sqrt(mc.shape[0])
        # Monte Carlo error plus the O(1/N) finite-size terms of one SGD step.
        bound = 5 * err + 3.0 / n * (1 + np.abs(exact))
        assert np.all(np.abs(mean - np.asarray(exact)) < bound), (name, mean, np.asarray(exact), err)


@pytest.mark.parametrize("k", [2, 3])
def test_small_learning_rate_plateau_matches_the_classic_values(k):
    """Saad & Solla's symmetric plateau for K = M, T = I, eta -> 0."""
    ode = SoftCommitteeODE(sl.Erf(), k, k)
    eps_plateau = (k / math.pi) * (math.pi / 6 - k * math.asin(1 / (2 * k)))
    r_plateau = 1 / math.sqrt(k * (2 * k - 1))
    values = {}
    for eta in (1e-2, 1e-3):
        args = _args(eta, 0.0, np.eye(k), np.ones(k))
        fixed = symmetric_fixed_point(ode, args)
        values[eta] = (float(ode.generalisation_error(fixed, args)), float(fixed.r[0, 0]))
    # The eta -> 0 limit is approached linearly in eta.
    # Measured: relative eps gap 0.39 eta (K = 2), 0.72 eta (K = 3); R gap 0.01 eta, 0.016 eta.
    for eta, (eps, r) in values.items():
        assert abs(eps - eps_plateau) < 1.0 * eta * eps_plateau, (eta, eps, eps_plateau)
        assert abs(r - r_plateau) < 0.03 * eta, (eta, r, r_plateau)
    gap = [abs(values[eta][0] - eps_plateau) for eta in (1e-2, 1e-3)]
    assert 5 < gap[0] / gap[1] < 20


def test_plateau_is_unstable_and_the_teacher_is_stable():
    k, eta = 2, 0.5
    ode = SoftCommitteeODE(sl.Erf(), k, k)
    args = _args(eta, 0.0, np.eye(k), np.ones(k))
    plateau = linearise(ode, symmetric_fixed_point(ode, args), args)
    assert plateau.escape_rate > 0
    perfect = SCMState(jnp.eye(k), jnp.eye(k), jnp.ones(k))
    assert np.all(np.abs(np.asarray(ode(0.0, perfect, args).q)) < 1e-14)
    assert linearise(ode, perfect, args).escape_rate < 0


@pytest.mark.parametrize("eta, noise", [(0.3, 0.0), (0.5, 0.3)])
def test_linear_network_matches_the_exact_solution(eta, noise):
    """Linear SCM: e = |sum_i v_i w_i - sum_n A_n b_n|^2 / N obeys
    de/dalpha = -(2 eta |v|^2 - eta^2 |v|^4) e + eta^2 |v|^4 sigma^2, and eps_g = e/2 + sigma^2/2."""
    k, m = 3, 2
    rng = np.random.default_rng(5)
    w = rng.normal(size=(k, 50)) * 0.3
    b = rng.normal(size=(m, 50))
    n = 50
    v = np.ones(k)
    ode = SoftCommitteeODE(sl.Linear(), k, m)
    args = _args(eta, 0.0, b @ b.T / n, np.ones(m), noise)
    alpha = np.concatenate([[0.0], np.logspace(-2, 1.5, 40)])
    solution, eps = solve_soft_committee(
        ode, SCMState(w @ w.T / n, w @ b.T / n, jnp.asarray(v)), args, jnp.asarray(alpha)
    )
    check_solution(solution)
    d = v @ w - np.ones(m) @ b
    e0, s = d @ d / n, v @ v
    rate = 2 * eta * s - eta**2 * s**2
    e_inf = eta**2 * s**2 * noise**2 / rate
    exact = 0.5 * (e_inf + (e0 - e_inf) * np.exp(-rate * alpha)) + 0.5 * noise**2
    # The closed form of eps_g cancels O(1) overlaps: compare to the ODE tolerance in absolute terms.
    np.testing.assert_allclose(np.asarray(eps), exact, rtol=1e-6, atol=2e-8)


def test_theory_is_differentiable_in_the_learning_rate():
    k = 2
    ode = SoftCommitteeODE(sl.Erf(), k, k)
    state = SCMState(jnp.eye(k) * 0.2, jnp.full((k, k), 0.1) + 0.2 * jnp.eye(k), jnp.ones(k))
    alpha = jnp.asarray([0.0, 1.0, 3.0])

    def final(eta, r0):  # in the learning rate, and in the initial conditions
        start = SCMState(state.q, state.r + r0 * jnp.eye(k), state.v)
        return solve_soft_committee(ode, start, _args(eta, 0.0, jnp.eye(k), jnp.ones(k)), alpha)[1][-1]

    grads = jax.grad(final, argnums=(0, 1))(0.4, 0.0)
    step = 1e-5
    numeric = (final(0.4 + step, 0.0) - final(0.4 - step, 0.0)) / (2 * step)
    np.testing.assert_allclose(grads[0], numeric, rtol=1e-4)
    numeric = (final(0.4, step) - final(0.4, -step)) / (2 * step)
    np.testing.assert_allclose(grads[1], numeric, rtol=1e-4)


def test_failed_solves_say_why():
    from scalinglaws.experiment import theory_advice
    from scalinglaws.theory import TheoryError

    ode = SoftCommitteeODE(sl.Erf(), 2, 2)
    state = SCMState(jnp.eye(2) * 0.2, jnp.full((2, 2), 0.1), jnp.ones(2))
    solution, _ = solve_soft_committee(
        ode, state, _args(0.5, 0.0, jnp.eye(2), jnp.ones(2)), jnp.asarray([0.0, 100.0]), max_steps=5
    )
    with pytest.raises(TheoryError, match="step limit") as caught:
        check_solution(solution)
    assert caught.value.reason == "step_limit" and "theory.max_steps" in theory_advice(caught.value)
    # A linear network beyond its stability limit blows up: the solve stops and is reported.
    linear = SoftCommitteeODE(sl.Linear(), 2, 2)
    solution, _ = solve_soft_committee(
        linear, state, _args(5.0, 0.0, jnp.eye(2), jnp.ones(2)), jnp.asarray([0.0, 100.0]), blowup=1e6
    )
    with pytest.raises(TheoryError, match="blow up") as caught:
        check_solution(solution)
    assert caught.value.reason == "failed" and "training.learning_rate" in theory_advice(caught.value)


def test_simulation_approaches_the_theory_as_n_grows():
    """Seed-averaged simulated eps_g against the ODE started from each seed's initial overlaps:
    the gap shrinks with N (fitted slope in log N)."""
    k = m = 2
    gaps = []
    sizes = [100, 400, 1600]
    for n in sizes:
        g = sl.Erf()
        sim = erf_scm_simulation(sl.isotropic(n), 16, jr.key(3), hidden=k)
        ode = SoftCommitteeODE(g, k, m)
        args = jax.vmap(lambda t: _args(0.5, 0.0, t, jnp.ones(m)))(jnp.asarray(sim.t))
        state = SCMState(jnp.asarray(sim.q[0, :, 0]), jnp.asarray(sim.r[0, :, 0]), jnp.ones((16, k)))
        gaps.append(ode_gap_to_simulation(sim, ode, state, args)[0])
    slope = log_log_slope(sizes, gaps)
    assert gaps[-1] < 0.02, gaps
    assert slope < -0.3, (slope, gaps)


def test_local_exponent_of_a_power_law():
    alpha = np.logspace(0, 3, 30)
    np.testing.assert_allclose(local_exponent(alpha, 3 * alpha**-0.7), -0.7, rtol=1e-10)
    with pytest.raises(ValueError, match="alpha > 0"):
        local_exponent(np.array([0.0, 1.0]), np.array([1.0, 2.0]))


def test_activation_without_closed_forms_is_rejected():
    with pytest.raises(ValueError, match="relu"):
        SoftCommitteeODE(sl.ReLU(), 2, 2)


def test_plateau_escape_definition():
    from scalinglaws.theory import plateau_escape

    alpha = np.logspace(-1, 3, 401)
    # Falls onto a plateau of 0.01 by alpha ~ 1, leaves it exponentially from alpha = 100 on.
    eps = 0.01 + 0.3 * np.exp(-3 * alpha)
    eps = np.where(alpha > 100, 0.01 * np.exp(-(alpha - 100) / 20), eps)
    escape = plateau_escape(alpha, eps, 0.01)
    exact = 100 + 20 * np.log(2)
    # Interpolated between the grid points around the crossing (1 % apart): far closer than a step.
    assert abs(escape - exact) < 1e-3 * exact
    assert np.isnan(plateau_escape(alpha, np.full_like(alpha, 0.5), 0.01))
    # A curve that falls through the plateau in one step escapes where it first reached it.
    assert plateau_escape(np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.004, 0.003]), 0.01) == 2.0
    start, end = plateau_interval(alpha, eps, 0.01)
    # eps <= 0.011 once 0.3 exp(-3 alpha) <= 0.001, at alpha = ln(300) / 3.
    assert np.log(300) / 3 <= start < np.log(300) / 3 * 10**0.01 and end == escape


def _small_random_start(k: int, n: int = 1000, std: float = 0.01, seed: int = 0):
    """(Q, R) of small Gaussian student weights and an orthonormal teacher (T = I), N = n."""
    rng = np.random.default_rng(seed)
    w = std * rng.standard_normal((k, n))
    b = np.linalg.qr(rng.standard_normal((n, k)))[0].T * math.sqrt(n)
    return w @ w.T / n, w @ b.T / n


@pytest.mark.parametrize(
    "k, eps_visited, rate_visited, eps_other",
    [(2, 0.0146770, 0.0343, 0.0146448), (3, 0.0328179, 0.0272, 0.0320998)],
)
def test_the_plateau_and_its_escape_are_those_the_trajectory_visits_at_large_eta(
    k, eps_visited, rate_visited, eps_other
):
    """At eta = 0.5 the symmetric subspace holds two fixed points; from small random weights the ODE
    stalls at the one with identical student vectors (Q_12 = Q_11; the values were confirmed against
    an independent C++ integrator), which `symmetric_fixed_point` returns (the three-equation solve
    from a guess with c < q finds the other). The escape follows its linearisation: shrinking the
    initial asymmetry (the deviations of Q and R from their symmetric parts) 10x delays the escape
    by ln(10) / rate (measured within 0.3 % for K = 2 and 3)."""
    ode = SoftCommitteeODE(sl.Erf(), k, k)
    args = _args(0.5, 0.0, np.eye(k), np.ones(k))
    fixed = symmetric_fixed_point(ode, args)
    plateau = float(ode.generalisation_error(fixed, args))
    np.testing.assert_allclose(float(fixed.q[0, 1]), float(fixed.q[0, 0]), rtol=1e-12)
    np.testing.assert_allclose(plateau, eps_visited, rtol=1e-5)
    rate = linearise(ode, fixed, args).escape_rate
    np.testing.assert_allclose(rate, rate_visited, rtol=0.01)
    other = symmetric_fixed_point(ode, args, guess=(0.35, 0.2 if k == 3 else 0.3, 0.4))
    np.testing.assert_allclose(float(ode.generalisation_error(other, args)), eps_other, rtol=1e-5)

    q0, r0 = _small_random_start(k, seed=k)
    alpha = jnp.asarray(np.arange(0.0, 600.0, 0.25))
    symmetric_q = np.trace(q0) / k * np.eye(k)
    escapes = []
    for shrink in (1.0, 0.1):
        start = SCMState(
            jnp.asarray(symmetric_q + shrink * (q0 - symmetric_q)),
            jnp.asarray(r0.mean() + shrink * (r0 - r0.mean())),
            jnp.ones(k),
        )
        _, eps = solve_soft_committee(ode, start, args, alpha)
        if shrink == 1.0:
            np.testing.assert_allclose(float(eps[200]), eps_visited, rtol=2e-4)  # alpha = 50: on the plateau
        escapes.append(plateau_interval(np.asarray(alpha), np.asarray(eps), plateau)[1])
    np.testing.assert_allclose(escapes[1] - escapes[0], np.log(10) / rate, rtol=0.02)
