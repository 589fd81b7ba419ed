"""The plateau of the eigen-resolved ODE: its fixed point, escape rate and length against L and eta."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws.theory import (
    BlockArgs,
    BlockState,
    EigenBlockODE,
    SCMArgs,
    SoftCommitteeODE,
    linearise,
    plateau_interval,
    predicted_plateau_length,
    solve_soft_committee,
    specialisation,
    symmetric_fixed_point,
)


def _setup(blocks, eta, n=1024, init_std=0.01, k=2):
    data = sl.power_law(n, 1.0, blocks)
    teacher = sl.teacher_network(
        n, k, sl.Erf(), init="block_orthonormal", blocks=blocks, dtype=jnp.float64, key=jr.key(0)
    )
    student = sl.student_network(n, k, sl.Erf(), init_std=init_std, dtype=jnp.float64, key=jr.key(1))
    w, b = student.first, teacher.first
    ode = EigenBlockODE(sl.Erf(), k, k)
    args = BlockArgs(
        jnp.asarray(eta), jnp.asarray(0.0), data.block_overlaps(b, b), data.eigenvalues, jnp.ones(k), jnp.asarray(0.0)
    )
    return ode, args, BlockState(data.block_overlaps(w, w), data.block_overlaps(w, b), jnp.ones(k))


def test_block_plateau_is_the_isotropic_plateau():
    """Equal teacher blocks: the block fixed point has equal blocks and the isotropic eps_g; with
    L = 1 the whole spectrum equals the isotropic ODE's."""
    iso = SoftCommitteeODE(sl.Erf(), 2, 2)
    iso_args = SCMArgs(jnp.asarray(0.1), jnp.asarray(0.0), jnp.eye(2), jnp.ones(2), jnp.asarray(0.0))
    iso_fixed = symmetric_fixed_point(iso, iso_args)
    plateau = float(iso.generalisation_error(iso_fixed, iso_args))
    for blocks in (1, 4, 16):
        ode, args, _ = _setup(blocks, 0.1)
        fixed = symmetric_fixed_point(ode, args)
        np.testing.assert_allclose(float(ode.generalisation_error(fixed, args)), plateau, rtol=1e-10)
        drift = ode(0.0, fixed, args)
        assert float(jnp.max(jnp.abs(drift.q))) < 1e-12 and float(jnp.max(jnp.abs(drift.r))) < 1e-12
    ode, args, _ = _setup(1, 0.1)
    np.testing.assert_allclose(
        linearise(ode, symmetric_fixed_point(ode, args), args).eigenvalues,
        linearise(iso, iso_fixed, iso_args).eigenvalues,
        rtol=1e-8,
        atol=1e-12,
    )


def test_the_arnoldi_escape_rate_equals_the_dense_one():
    """Above `dense_limit` independent entries `escape_rate` uses ARPACK on Jacobian-vector products
    (here the isotropic K = M = 4 plateau: 26 entries, with the limit lowered to 10); it equals the
    dense linearisation's largest real part."""
    from scalinglaws.theory import escape_rate

    ode = SoftCommitteeODE(sl.Erf(), 4, 4)
    args = SCMArgs(jnp.asarray(0.1), jnp.asarray(0.0), jnp.eye(4), jnp.ones(4), jnp.asarray(0.0))
    fixed = symmetric_fixed_point(ode, args)
    arnoldi = escape_rate(ode, fixed, args, dense_limit=10)
    np.testing.assert_allclose(arnoldi, linearise(ode, fixed, args).escape_rate, rtol=1e-9)


def test_escape_rate_grows_with_the_top_eigenvalue():
    rates = []
    for blocks in (1, 2, 4, 8, 16):
        ode, args, _ = _setup(blocks, 0.1)
        rates.append(linearise(ode, symmetric_fixed_point(ode, args), args).escape_rate / float(args.eigenvalues[0]))
    assert rates[0] > 0 and np.all(np.diff(rates) < 0)
    # For many blocks the escape is carried by the top block alone: mu / lambda_1 settles.
    steps = -np.diff(rates)
    assert np.all(np.diff(steps) < 0) and steps[-1] < 0.05 * rates[-1], rates


@pytest.mark.parametrize("blocks", [1, 2, 4])
def test_plateau_length_follows_the_linearisation(blocks):
    """Measured plateau length (ODE from sampled weights, N = 1024) against ln(1 / S_0) / mu, over
    L, eta and sigma_J (0.01 and 0.001: S_0 and the length change by ln(10) / mu)."""
    alpha = jnp.asarray(np.concatenate([[0.0], np.logspace(-1, 3.5, 300)]))
    for eta, init_std in ((0.2, 0.01), (0.4, 0.01), (0.4, 0.001)):
        ode, args, state = _setup(blocks, eta, init_std=init_std)
        fixed = symmetric_fixed_point(ode, args)
        _, eps = solve_soft_committee(ode, state, args, alpha)
        start, escape = plateau_interval(
            np.asarray(alpha), np.asarray(eps), float(ode.generalisation_error(fixed, args))
        )
        rbar = np.einsum("l,lkn->kn", np.asarray(args.eigenvalues), np.asarray(state.r))
        predicted = predicted_plateau_length(ode, args, rbar)
        np.testing.assert_allclose(escape - start, predicted, rtol=0.1)
        assert specialisation(rbar) < 1e-2


def test_scaled_outputs_learn_as_summed_outputs_at_a_smaller_rate():
    """Outputs scaled by 1/sqrt(M) (1/M) learn exactly as summed outputs at eta / M (eta / M^2), with
    eps_g divided by M (M^2): the same drift, plateau and escape rate. So the plateau's growth with
    M (the p1-plateau figure: about M^2 for 1/sqrt(M), M for summed outputs) depends on the
    convention through the learning rate alone."""
    from scalinglaws.theory import SCMState, escape_rate

    k, eta, output, power = 3, 0.2, "sqrt", 1  # "mean" is the same at power 2
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, 2 * k)) / 2
    q, r = a @ a.T / (2 * k), a @ rng.standard_normal((2 * k, k)) / (2 * k)
    state = SCMState(jnp.asarray(q), jnp.asarray(r), jnp.ones(k))

    def problem(out, rate):
        ode = SoftCommitteeODE(sl.Erf(), k, k, student_output=out, teacher_output=out)
        return ode, SCMArgs(jnp.asarray(rate), jnp.asarray(0.0), jnp.eye(k), jnp.ones(k), jnp.asarray(0.0))

    scaled, scaled_args = problem(output, eta)
    summed, summed_args = problem("sum", eta / k**power)
    import jax

    drifts = (scaled(0.0, state, scaled_args), summed(0.0, state, summed_args))
    for x, y in zip(*(jax.tree_util.tree_leaves(d) for d in drifts)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        float(scaled.generalisation_error(state, scaled_args)),
        float(summed.generalisation_error(state, summed_args)) / k**power,
        rtol=1e-12,
    )
    fixed, fixed_summed = symmetric_fixed_point(scaled, scaled_args), symmetric_fixed_point(summed, summed_args)
    np.testing.assert_allclose(fixed.q, fixed_summed.q, rtol=1e-9)
    np.testing.assert_allclose(
        escape_rate(scaled, fixed, scaled_args), escape_rate(summed, fixed_summed, summed_args), rtol=1e-8
    )
