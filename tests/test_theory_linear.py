"""Exact learning curves of linear networks on power-law inputs."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws.theory import (
    BlockArgs,
    BlockState,
    EigenBlockODE,
    linear_block_errors,
    linear_critical_learning_rate,
    linear_learning_curve,
    local_exponent,
    solve_soft_committee,
)


@pytest.mark.parametrize("output, noise", [("sum", 0.0), ("sqrt", 0.3)])
def test_exact_curve_equals_the_block_ode(output, noise):
    k, m, blocks, eta = 3, 2, 6, 0.2
    rng = np.random.default_rng(11)
    data = sl.power_law(60, 1.0, blocks)
    w, b = rng.normal(size=(k, 60)) * 0.4, rng.normal(size=(m, 60))
    v, a = np.array([1.0, 0.7, 1.2]), np.array([1.0, 0.5])
    q, r, t = data.block_overlaps(w, w), data.block_overlaps(w, b), data.block_overlaps(b, b)
    ode = EigenBlockODE(sl.Linear(), k, m, output, output)
    args = BlockArgs(jnp.asarray(eta), jnp.asarray(0.0), t, data.eigenvalues, jnp.asarray(a), jnp.asarray(noise))
    alpha = jnp.asarray(np.concatenate([[0.0], np.logspace(-2, 2, 30)]))
    _, eps_ode = solve_soft_committee(ode, BlockState(q, r, jnp.asarray(v)), args, alpha, rtol=1e-10, atol=1e-13)
    cs, ct = sl.output_scale(output, k), sl.output_scale(output, m)
    e0 = linear_block_errors(q, r, t, cs * v, ct * a)
    kappa = cs**2 * float(v @ v)
    exact = linear_learning_curve(alpha, data.eigenvalues, e0, kappa, eta, noise)
    np.testing.assert_allclose(eps_ode, exact, rtol=1e-7, atol=1e-10)


def test_stability_bound():
    data = sl.power_law(40, 1.0, 8)
    kappa = 2.0
    eta_c = float(linear_critical_learning_rate(data.eigenvalues, kappa))
    np.testing.assert_allclose(eta_c, 2 / kappa / float(np.mean(data.diagonal())), rtol=1e-12)
    e0 = np.full(8, 1 / 8)
    late = [float(linear_learning_curve([1e4], data.eigenvalues, e0, kappa, f * eta_c)[0]) for f in (0.97, 1.03)]
    assert late[0] < 1e-6 < 1e6 < late[1]


def test_power_law_window_has_slope_minus_beta_over_one_plus_beta():
    beta, blocks, kappa, eta = 1.0, 2000, 2.0, 0.05
    data = sl.power_law(blocks, beta)  # N = L: all eigenvalues distinct
    alpha = np.logspace(-1, 1, 9)
    eps = np.asarray(linear_learning_curve(alpha, data.eigenvalues, np.full(blocks, 2.0 / blocks), kappa, eta))
    slopes = local_exponent(alpha, eps)
    # 2 kappa eta lambda_1 alpha spans 24 ... 2400 here, far inside (1, lambda_1 / lambda_L = 4e6).
    np.testing.assert_allclose(slopes, -beta / (1 + beta), atol=0.04)
    assert math.isclose(float(np.mean(slopes)), -0.5, abs_tol=0.03)
