"""The eigen-resolved ODE for inputs with L distinct eigenvalues: exact reductions and SGD increments."""

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
    BlockArgs,
    BlockState,
    EigenBlockODE,
    SCMArgs,
    SCMState,
    SoftCommitteeODE,
    check_solution,
    solve_soft_committee,
)


def _random_blocks(rng, blocks, k, m):
    w = rng.normal(size=(k, 8 * blocks)) * 0.6
    b = rng.normal(size=(m, 8 * blocks))
    data = sl.GaussianData(np.ones(blocks), 8 * blocks)
    return data.block_overlaps(w, w), data.block_overlaps(w, b), data.block_overlaps(b, b)


@pytest.mark.parametrize("activation", [sl.Erf(), sl.Linear()], ids=lambda g: g.name)
@pytest.mark.parametrize("blocks", [1, 4])
def test_equal_eigenvalues_reduce_to_the_isotropic_ode(activation, blocks):
    """With every lambda_l = 1 the block ODE summed over blocks is the isotropic ODE (L = 1: equal)."""
    k, m, eta, eta_v, noise = 3, 2, 0.7, 0.2, 0.1
    q, r, t = _random_blocks(np.random.default_rng(blocks), blocks, k, m)
    v, a = jnp.asarray([0.9, 1.1, -0.4]), jnp.asarray([1.0, 0.6])
    block = EigenBlockODE(activation, k, m, "sqrt", "sum", train_second_layer=True)
    iso = SoftCommitteeODE(activation, k, m, "sqrt", "sum", train_second_layer=True)
    block_args = BlockArgs(jnp.asarray(eta), jnp.asarray(eta_v), t, jnp.ones(blocks), a, jnp.asarray(noise))
    iso_args = SCMArgs(jnp.asarray(eta), jnp.asarray(eta_v), t.sum(0), a, jnp.asarray(noise))
    d_block = block(0.0, BlockState(q, r, v), block_args)
    d_iso = iso(0.0, SCMState(q.sum(0), r.sum(0), v), iso_args)
    np.testing.assert_allclose(d_block.q.sum(0), d_iso.q, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d_block.r.sum(0), d_iso.r, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d_block.v, d_iso.v, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        block.generalisation_error(BlockState(q, r, v), block_args),
        iso.generalisation_error(SCMState(q.sum(0), r.sum(0), v), iso_args),
        rtol=1e-12,
    )
    if blocks == 1:
        alpha = jnp.asarray([0.0, 0.5, 2.0, 6.0])
        _, eps_block = solve_soft_committee(block, BlockState(q, r, v), block_args, alpha)
        _, eps_iso = solve_soft_committee(iso, SCMState(q[0], r[0], v), iso_args, alpha)
        np.testing.assert_allclose(eps_block, eps_iso, rtol=1e-9)


@pytest.mark.parametrize("activation", [sl.Erf(), sl.Linear()], ids=lambda g: g.name)
def test_block_rhs_equals_the_mean_sgd_increment(activation, getkey):
    """N x E[one SGD step's change of the block overlaps] at random weights, power-law inputs."""
    n, k, m, eta = 200, 2, 3, 0.5
    data = sl.power_law(n, 1.0, 4)
    teacher = sl.teacher_network(n, m, activation, dtype=jnp.float64, key=getkey())
    student = sl.student_network(n, k, activation, init_std=0.8, dtype=jnp.float64, key=getkey())
    w, b = student.first, teacher.first
    rates = LearningRates(jnp.asarray(eta), jnp.asarray(0.0))

    @jax.jit
    def increments(key):
        x = data.sample(key, (5_000,), jnp.float64)
        new = jax.vmap(lambda xi: sgd_step(student, xi, teacher(xi), rates))(x)
        dq = jax.vmap(lambda wn: data.block_overlaps(wn, wn))(new.first) - data.block_overlaps(w, w)[None]
        dr = jax.vmap(lambda wn: data.block_overlaps(wn, b))(new.first) - data.block_overlaps(w, b)[None]
        return dq * n, dr * n

    samples = [increments(getkey()) for _ in range(40)]
    dq, dr = (np.concatenate([np.asarray(s[i]) for s in samples]) for i in range(2))
    ode = EigenBlockODE(activation, k, m)
    args = BlockArgs(
        jnp.asarray(eta),
        jnp.asarray(0.0),
        data.block_overlaps(b, b),
        data.eigenvalues,
        teacher.second,
        jnp.asarray(0.0),
    )
    rhs = ode(0.0, BlockState(data.block_overlaps(w, w), data.block_overlaps(w, b), student.second), args)
    for name, mc, exact in (("q", dq, rhs.q), ("r", dr, rhs.r)):
        mean, err = mc.mean(0), mc.std(0) / math.sqrt(mc.shape[0])
        bound = 5 * err + 3.0 / n * (1 + np.abs(np.asarray(exact)))
        assert np.all(np.abs(mean - np.asarray(exact)) < bound), (name, mean, np.asarray(exact), err)


def test_block_theory_meets_simulation_as_n_grows():
    """Power-law inputs (L = 4, beta = 1): the seed-averaged simulated eps_g and block overlaps
    Q^(l), R^(l) approach the block ODE started from each seed's block overlaps as N grows."""

    def overlap_gap(simulated, theory):  # mean over t > 0 of |seed-mean difference| / |seed-mean theory|
        sim, th = (np.asarray(x).mean(0)[1:] for x in (simulated, theory))  # (T - 1, L, K, .)
        sim, th = sim.reshape(len(sim), -1), th.reshape(len(th), -1)
        return float(np.mean(np.linalg.norm(sim - th, axis=1) / np.linalg.norm(th, axis=1)))

    k = m = 2
    sizes, gaps, q_gaps, r_gaps = [96, 384, 1536], [], [], []
    for n in sizes:
        g = sl.Erf()
        data = sl.power_law(n, 1.0, 4)
        sim = erf_scm_simulation(data, 16, jr.key(4), hidden=k)
        ode = EigenBlockODE(g, k, m)
        args = jax.vmap(
            lambda t: BlockArgs(jnp.asarray(0.5), jnp.asarray(0.0), t, data.eigenvalues, jnp.ones(m), jnp.asarray(0.0))
        )(jnp.asarray(sim.t_blocks))
        state = BlockState(jnp.asarray(sim.q_blocks[0, :, 0]), jnp.asarray(sim.r_blocks[0, :, 0]), jnp.ones((16, k)))
        gap, solution = ode_gap_to_simulation(sim, ode, state, args)
        gaps.append(gap)
        q_gaps.append(overlap_gap(sim.q_blocks[0], solution.ys.q))
        r_gaps.append(overlap_gap(sim.r_blocks[0], solution.ys.r))
    slope = log_log_slope(sizes, gaps)
    assert gaps[-1] < 0.02, gaps
    assert slope < -0.3, (slope, gaps)
    # The overlaps fluctuate as 1 / sqrt(N) (measured: Q 0.027, 0.016, 0.0070; R 0.072, 0.036, 0.019).
    for name, overlap_gaps, bound in (("Q", q_gaps, 0.015), ("R", r_gaps, 0.04)):
        assert overlap_gaps[-1] < bound and log_log_slope(sizes, overlap_gaps) < -0.3, (name, overlap_gaps)


def test_specialised_phase_follows_the_spectrum_exponent():
    """Erf K = M = 2 after specialisation on a steep spectrum (beta = 2, L = 256, eta = 0.1): the
    local exponent stays at -beta / (1 + beta) for two decades, as for a linear network (each
    block relaxes at a rate ∝ lambda_l; `experiments/p1_figures.py` panel c)."""
    from scalinglaws.theory import Rodas4, local_exponent

    n, k, beta = 1024, 2, 2.0
    data = sl.power_law(n, beta, 256)
    key_t, key_s = jr.split(jr.key(0))
    teacher = sl.teacher_network(n, k, sl.Erf(), dtype=jnp.float64, key=key_t)
    student = sl.student_network(n, k, sl.Erf(), init_std=0.01, dtype=jnp.float64, key=key_s)
    w, b = student.first, teacher.first
    ode = EigenBlockODE(sl.Erf(), k, k)
    args = BlockArgs(
        jnp.asarray(0.1), jnp.asarray(0.0), data.block_overlaps(b, b), data.eigenvalues, jnp.ones(k), jnp.asarray(0.0)
    )
    state = BlockState(data.block_overlaps(w, w), data.block_overlaps(w, b), jnp.ones(k))
    alpha = np.logspace(2, 4, 9)
    solution, eps = solve_soft_committee(
        ode,
        state,
        args,
        jnp.asarray(np.concatenate([[0.0], alpha])),
        rtol=1e-9,
        atol=1e-13,
        solver=Rodas4(ode.factorise),
    )
    check_solution(solution)
    slopes = local_exponent(alpha, np.asarray(eps)[1:])
    np.testing.assert_allclose(slopes, -beta / (1 + beta), atol=0.08)
