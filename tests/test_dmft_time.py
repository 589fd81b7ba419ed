"""The DMFT's two routes against each other: the time-domain route (responses by a Volterra step,
two-time correlations by fixed-point iteration) and the Laplace route (scalar self-consistency,
Talbot inversion) share no code beyond the problem's numbers, and must agree with a gap that falls
as the time step squared."""

import jax.numpy as jnp
import numpy as np
import pytest

from scalinglaws._full_batch import KernelProblem
from scalinglaws.theory._dmft import dmft_curves, dmft_mode_discrepancy
from scalinglaws.theory._dmft_time import dmft_time_domain


def _spectrum(n: int) -> jnp.ndarray:
    return jnp.arange(1, n + 1, dtype=jnp.float64) ** -1.5


def _gaps(problem: KernelProblem, steps: int, time_max: float = 2.0) -> dict:
    """Relative gaps of the time-domain curves to the Laplace route at five grid times (and the
    absolute gap of the mode discrepancy)."""
    out = dmft_time_domain(problem, time_max, steps)
    picked = np.array([steps // 20, steps // 4, steps // 2, 3 * steps // 4, steps])
    times = out["time"][picked]
    laplace = {name: np.asarray(x) for name, x in dmft_curves(problem, times).items()}
    gaps = {name: out[name][picked] / laplace[name] - 1 for name in ("eps_g", "bias", "train_error")}
    if problem.temperature > 0:
        gaps["variance"] = out["variance"][picked] / laplace["variance"] - 1
    gaps["mode_discrepancy"] = out["mode_discrepancy"][picked] - np.asarray(dmft_mode_discrepancy(problem, times))
    return gaps


def test_the_routes_agree_to_second_order_in_the_time_step():
    """Langevin dynamics with weight decay, label noise and random initial weights at N = P = 40 (the
    top mode's rate c lambda_1 P = 40, stiff at h = 0.02): the gap falls four-fold when h halves,
    and Richardson's extrapolation of the two meets the Laplace route to 1e-4."""
    problem = KernelProblem(_spectrum(40), 40, 1.0, 0.05, 0.2, 1.0, 0.3, 0.1)
    coarse, fine = _gaps(problem, 100), _gaps(problem, 200)
    for name in coarse:
        worst_coarse, worst_fine = np.max(np.abs(coarse[name])), np.max(np.abs(fine[name]))
        assert 3.5 < worst_coarse / worst_fine < 4.5, (name, worst_coarse, worst_fine)
        assert worst_fine < (1e-2 if name == "variance" else 2e-3), (name, worst_fine)
        extrapolated = (4 * fine[name] - coarse[name]) / 3
        assert np.max(np.abs(extrapolated)) < 1e-4 * (10 if name == "variance" else 1), (name, extrapolated)


def test_anisotropic_teacher_and_its_training_error():
    """wbar_i ~ N(0, i^-1/2), gradient flow: the double-Laplace teacher terms of the test and the
    training error against the two-time fixed point, which treats every teacher alike."""
    n = 40
    problem = KernelProblem(_spectrum(n), n, 1.0, 0.0, 0.0, jnp.arange(1, n + 1, dtype=jnp.float64) ** -0.5)
    gaps = _gaps(problem, 200)
    for name in ("eps_g", "train_error"):
        assert np.max(np.abs(gaps[name])) < 2e-3, (name, gaps[name])


def test_gradient_flow_correlation_is_the_response_at_the_summed_time():
    """Gradient flow from w(0) = 0 with an isotropic teacher: v(t) = -e^{-A t} wbar, so the two-time
    fixed point must give C_V(t, t') = s^2 R(t + t') with R = sum_i lambda_i G_i from the Volterra
    step, for every pair with t + t' on the grid (trapezoid error of the fixed point: O(h^2))."""
    n, steps = 30, 200
    lam = _spectrum(n)
    out = dmft_time_domain(KernelProblem(lam, n, 1.0, 0.0, 0.0, 2.0), 2.0, steps)
    collective = out["response"] @ np.asarray(lam)
    m, m2 = np.meshgrid(np.arange(steps + 1), np.arange(steps + 1), indexing="ij")
    inside = m + m2 <= steps
    predicted = 2.0 * collective[np.where(inside, m + m2, 0)]
    np.testing.assert_allclose(out["correlation"][inside], predicted[inside], rtol=1e-3)
    np.testing.assert_allclose(out["correlation"], out["correlation"].T, rtol=1e-12, atol=1e-15)


def test_an_unconverged_fixed_point_raises():
    problem = KernelProblem(_spectrum(20), 20, 1.0, 0.0, 0.1)
    with pytest.raises(ValueError, match="did not converge"):
        dmft_time_domain(problem, 2.0, 50, sweeps=2)
    with pytest.raises(ValueError, match="time_max"):
        dmft_time_domain(problem, 0.0, 50)
