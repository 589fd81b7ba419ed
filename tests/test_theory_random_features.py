"""Random-feature model: Gaussian constants, the Marchenko-Pastur trace, and the asymptotic error
exact at finite N against its large-N (Gaussian-equivalence) form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws.theory import (
    feature_statistics,
    hermite_coefficients,
    marchenko_pastur_trace,
    rf_asymptotic_error,
    rf_asymptotic_error_large_n,
    rf_error,
)


def test_erf_gaussian_constants():
    mu0, mu1, second = hermite_coefficients(sl.Erf())
    np.testing.assert_allclose([mu0, mu1**2, second], [0.0, 1 / np.pi, 1 / 3], atol=1e-13)
    with pytest.raises(ValueError, match="odd"):
        rf_asymptotic_error_large_n(2.0, sl.ReLU(), 2)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_marchenko_pastur_trace_matches_a_sampled_spectrum(gamma):
    n = 800
    w = np.random.default_rng(0).normal(size=(int(gamma * n), n))
    eigenvalues = np.linalg.eigvalsh(w.T @ w / n)
    for ridge in (0.05, np.pi / 3 - 1, 1.0):
        np.testing.assert_allclose(np.mean(1 / (eigenvalues + ridge)), marchenko_pastur_trace(gamma, ridge), rtol=0.01)


def test_asymptotic_error_is_the_minimum_of_the_readout_error():
    rng = np.random.default_rng(1)
    n, k = 50, 80
    w, b = rng.normal(size=(k, n)), rng.normal(size=(2, n))
    c, overlap, tau = feature_statistics(sl.Erf(), w @ w.T / n, w @ b.T / n, b @ b.T / n, np.ones(2))
    best = jnp.linalg.solve(c, overlap)
    np.testing.assert_allclose(rf_error(best, c, overlap, tau), rf_asymptotic_error(c, overlap, tau), rtol=1e-10)
    gradient = jax.grad(rf_error)(best, c, overlap, tau)
    np.testing.assert_allclose(gradient, 0.0, atol=1e-9)
    assert float(rf_error(1.01 * best, c, overlap, tau)) > float(rf_asymptotic_error(c, overlap, tau))


def _exact_mean(gamma, n, rng, features=2, teachers=48):
    """The finite-N asymptotic error averaged over feature draws and teachers (M = 2)."""
    g, k = sl.Erf(), int(gamma * n)
    values = []
    for _ in range(features):
        w = rng.normal(size=(k, n))
        c = np.asarray(feature_statistics(g, w @ w.T / n, np.zeros((k, 1)), np.ones((1, 1)), np.zeros(1))[0])
        chol = np.linalg.cholesky(c)
        qd = np.sum(w * w, axis=1) / n
        b = rng.normal(size=(teachers, 2, n))
        r = np.einsum("kn,smn->skm", w, b) / n  # (teachers, K, 2)
        diag_t = np.einsum("smn,smn->sm", b, b) / n  # (teachers, 2)
        q_diag = np.broadcast_to(qd[None, :, None], r.shape)
        t_diag = np.broadcast_to(diag_t[:, None, :], r.shape)
        pairs = np.stack([np.stack([q_diag, r], -1), np.stack([r, t_diag], -1)], -2)  # (teachers, K, 2, 2, 2)
        overlap = np.asarray(g.i2(jnp.asarray(pairs))).sum(-1)  # (teachers, K)
        y = np.linalg.solve(chol, overlap.T)  # (K, teachers): C^(-1/2) overlap, all teachers at once
        for t_overlap, y_s in zip(np.einsum("smn,spn->smp", b, b) / n, y.T):
            tau = float(np.sum(np.asarray(feature_statistics(g, t_overlap, t_overlap, t_overlap, np.ones(2))[0])))
            values.append(0.5 * (tau - y_s @ y_s))
    return float(np.mean(values))


def test_large_n_formula_meets_the_finite_n_error_as_n_grows():
    """gamma = K / N = 2 and 4: the exact eta -> 0 error of actual features and teachers (averaged)
    approaches 1/2 M mu_*^2 + 1/2 M mu_1^2 r m(gamma, r) as N grows."""
    rng = np.random.default_rng(2)
    for gamma in (2.0, 4.0):
        limit = float(rf_asymptotic_error_large_n(gamma, sl.Erf(), 2))
        gaps = [abs(_exact_mean(gamma, n, rng) / limit - 1) for n in (60, 480)]
        assert gaps[1] < 0.025 and gaps[1] < gaps[0], (gamma, gaps)
    # The floor at any fixed gamma: the teacher's non-linear part, 1/2 M (1/3 - 1/pi).
    np.testing.assert_allclose(float(rf_asymptotic_error_large_n(1e6, sl.Erf(), 2)), 1 / 3 - 1 / np.pi, rtol=1e-4)
