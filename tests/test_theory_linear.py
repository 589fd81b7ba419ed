"""Exact learning curves of linear networks on power-law inputs."""

import dataclasses
import math

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from conftest import log_log_slope, seed_mean_gap

import scalinglaws as sl
from scalinglaws.simulate import simulate
from scalinglaws.theory import (
    BlockArgs,
    BlockState,
    EigenBlockODE,
    linear_block_errors,
    linear_critical_learning_rate,
    linear_learning_curve,
    linear_parameter_floor,
    linear_power_law,
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


@pytest.mark.parametrize("visible", [None, 4])
def test_exact_curve_with_unread_blocks_equals_the_block_ode(visible):
    """A student reading only the leading blocks: the exact curve equals the linear block ODE with
    the same `visible` mask, and (noise-free, small eta) tends to the unread blocks' error."""
    k, m, blocks, eta = 2, 2, 12, 0.05
    rng = np.random.default_rng(3)
    data = sl.power_law(120, 1.0, blocks)
    mask = np.ones(blocks) if visible is None else (np.arange(blocks) < visible).astype(float)
    w = rng.normal(size=(k, 120)) * 0.3 * np.repeat(mask, 10)[None, :]
    b = rng.normal(size=(m, 120))
    q, r, t = data.block_overlaps(w, w), data.block_overlaps(w, b), data.block_overlaps(b, b)
    ode = EigenBlockODE(sl.Linear(), k, m)
    args = BlockArgs(jnp.asarray(eta), jnp.asarray(0.0), t, data.eigenvalues, jnp.ones(m), jnp.asarray(0.0))
    args = dataclasses.replace(args, visible=None if visible is None else jnp.asarray(mask))
    alpha = jnp.asarray(np.concatenate([[0.0], np.logspace(-1, 4, 26)]))
    _, eps_ode = solve_soft_committee(ode, BlockState(q, r, jnp.ones(k)), args, alpha, rtol=1e-11, atol=1e-14)
    e0 = linear_block_errors(q, r, t, np.ones(k), np.ones(m))
    exact = linear_learning_curve(alpha, data.eigenvalues, e0, float(k), eta, visible=args.visible)
    np.testing.assert_allclose(eps_ode, exact, rtol=1e-7, atol=1e-10)
    floor = float(linear_parameter_floor(data.eigenvalues, e0, blocks if visible is None else visible))
    # The O(eta) excess of the stationary state over the eta -> 0 floor (unread error acts as noise).
    np.testing.assert_allclose(float(exact[-1]), floor, rtol=0.15, atol=1e-12)


def test_parameter_floor_falls_as_p_to_the_minus_beta():
    blocks = 2**20  # L >> L_s: the tail sum is not truncated
    for beta in (0.5, 1.0, 2.0):
        data = sl.power_law(blocks, beta)
        e0 = np.full(blocks, 2.0 / blocks)
        kept = np.asarray([16, 32, 64, 128, 256])
        floors = [float(linear_parameter_floor(data.eigenvalues, e0, int(s))) for s in kept]
        np.testing.assert_allclose(log_log_slope(kept, floors), -beta, atol=0.05 * beta + 0.02)


def test_power_law_regime_formula():
    """The closed-form power law against the exact sum, inside the window (small eta)."""
    blocks, kappa, eta, beta = 2000, 2.0, 0.01, 1.0
    data = sl.power_law(blocks, beta)
    e0 = np.full(blocks, 2.0 / blocks)
    alpha = np.asarray([0.3, 3.0, 30.0])  # 2 kappa eta lambda_1 alpha = 15 ... 1500, far below L^2
    exact = np.asarray(linear_learning_curve(alpha, data.eigenvalues, e0, kappa, eta))
    approx = np.asarray(linear_power_law(alpha, data.eigenvalues, 2.0 / blocks, kappa, eta, beta))
    np.testing.assert_allclose(approx / exact, 1.0, atol=0.03)


@pytest.mark.parametrize("visible", [None, 5])
def test_linear_simulation_meets_the_exact_curve_as_n_grows(visible):
    """Online SGD of a linear SCM on power-law inputs (all blocks read, or the leading 5 of 20):
    the seed-averaged eps_g approaches the exact curve from each seed's initial block errors."""
    k = m = 2
    blocks, eta, seeds = 20, 0.3, 8
    sizes, gaps = [100, 400, 1600], []
    for n in sizes:
        g = sl.Linear()
        data = sl.power_law(n, 1.0, blocks)
        shown = None if visible is None else n * visible // blocks
        sim = simulate(
            data,
            lambda key: sl.teacher_network(n, m, g, key=key),
            lambda key: sl.student_network(n, k, g, init_std=0.3, visible=shown, key=key),
            learning_rates=[eta],
            seeds=seeds,
            alpha_max=30.0,
            alpha_min=0.1,
            points_per_decade=4,
            key=jr.key(7),
        )
        mask = None if visible is None else (np.arange(blocks) < visible).astype(float)
        exact = [
            linear_learning_curve(
                sim.alpha,
                data.eigenvalues,
                linear_block_errors(
                    sim.q_blocks[0, s, 0], sim.r_blocks[0, s, 0], sim.t_blocks[s], np.ones(k), np.ones(m)
                ),
                float(k),
                eta,
                visible=mask,
            )
            for s in range(seeds)
        ]
        gaps.append(seed_mean_gap(sim.eps_g[0], np.asarray(exact)))
    assert gaps[-1] < 0.04, gaps
    assert log_log_slope(sizes, gaps) < -0.3, gaps
