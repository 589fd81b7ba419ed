"""Asymptotic generalisation error of the random-feature model trained online (Worschech & Rosenow).

Student `c_K sum_i a_i g(w_i . x / sqrt(N))` with a frozen first layer `W` (K, N) and a trained
readout `a`; teacher `c_M sum_n A_n g(B_n . x / sqrt(N))`; isotropic Gaussian inputs. With the
feature covariance, the feature-teacher overlaps and the teacher's self-overlap

    C_ik = I2(x_i, x_k),   b_i = c_M sum_n A_n I2(x_i, y_n),   tau = c_M^2 sum_nm A_n A_m I2(y_n, y_m)

(the activation's closed-form `I2` on the actual overlaps `W W^T / N`, `W B^T / N`, `B B^T / N`),
the error of a readout is the quadratic `eps_g(a) = 1/2 [c_K^2 a^T C a - 2 c_K a^T b + tau]`, and
online SGD drifts towards its minimum `a* = C^-1 b / c_K` (Worschech & Rosenow, arXiv 2303.14083).
As eta -> 0 the error therefore tends, exactly at finite N, to

    eps_inf = 1/2 [tau - b^T C^-1 b]                                  (`rf_asymptotic_error`).

**Large N at fixed gamma = K / N** (Gaussian equivalence; Mei & Montanari; Goldt et al.): write
`g(x) = mu_1 x + g_perp(x)` for a unit-variance field (odd g), `mu_1 = E[x g(x)]`,
`mu_*^2 = E[g^2] - mu_1^2`. The teacher's non-linear part is uncorrelated with every feature to
leading order, so it is never learnt; the linear part is a ridge regression on the features'
linear parts with the features' non-linear parts acting as a ridge `r = mu_*^2 / mu_1^2`. For a
teacher with `T = I` and `c_M = A_n = 1`:

    eps_inf(gamma) = 1/2 M mu_*^2 + 1/2 M mu_1^2 r m(gamma, r),      m = (1/N) Tr (W^T W / N + r)^-1

(`rf_asymptotic_error_large_n`), where `m` follows from the Marchenko-Pastur law of `W^T W / N`
(`marchenko_pastur_trace`). For erf, `mu_1^2 = 1/pi`, `E[g^2] = 1/3`: the floor at any fixed gamma is
`1/2 M (1/3 - 1/pi)`; reaching it needs gamma -> infinity, and going below it needs K to grow like
N^3 (the cubic Hermite part of the teacher), N^5, ... : exponentially large K for perfect
generalisation.
"""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._activations import AbstractActivation
from .._observables import feature_statistics, network_feature_statistics, readout_error as rf_error


__all__ = [
    "feature_statistics",
    "hermite_coefficients",
    "marchenko_pastur_trace",
    "network_feature_statistics",
    "rf_asymptotic_error",
    "rf_asymptotic_error_large_n",
    "rf_error",
]


def rf_asymptotic_error(
    c: Float[ArrayLike, "K K"], b: Float[ArrayLike, " K"], tau: Float[ArrayLike, ""]
) -> Float[Array, ""]:
    """`1/2 [tau - b^T C^-1 b]`: the eta -> 0 limit of online SGD's error, exact at finite N."""
    c = jnp.asarray(c, jnp.float64)
    b = jnp.asarray(b, jnp.float64)
    return 0.5 * (tau - b @ jnp.linalg.solve(c, b))


def marchenko_pastur_trace(gamma: float | ArrayLike, ridge: float | ArrayLike) -> Array:
    """`(1/N) Tr (W^T W / N + ridge)^-1` for `W` (K, N) with iid unit-variance entries and
    `K / N -> gamma`, from the Marchenko-Pastur law.

    `W^T W / N = gamma X` with `X` Marchenko-Pastur of ratio `c = 1 / gamma`, whose Stieltjes transform
    at `z < 0` is `m(z) = [1 - c - z - sqrt((1 - c - z)^2 - 4 c z)] / (2 c z)`; the trace is
    `m(-ridge / gamma) / gamma`. For gamma < 1 it includes the `1 - gamma` zero eigenvalues.
    """
    gamma = jnp.asarray(gamma, jnp.float64)
    ridge = jnp.asarray(ridge, jnp.float64)
    c = 1 / gamma
    z = -ridge / gamma
    m = (1 - c - z - jnp.sqrt(jnp.square(1 - c - z) - 4 * c * z)) / (2 * c * z)
    return m / gamma


def hermite_coefficients(activation: AbstractActivation, points: int = 80) -> tuple[float, float, float]:
    """`(mu_0, mu_1, E[g^2])` of the activation for a unit-variance Gaussian field (Gauss-Hermite)."""
    x, w = np.polynomial.hermite_e.hermegauss(points)
    w = w / w.sum()
    g = np.asarray(activation(jnp.asarray(x)), np.float64)
    return float(w @ g), float(w @ (x * g)), float(w @ (g * g))


def rf_asymptotic_error_large_n(gamma: float | ArrayLike, activation: AbstractActivation, teacher_hidden: int) -> Array:
    """`eps_inf(gamma)` of the module docstring: the large-N asymptotic error of the random-feature
    model with `K = gamma N` unit-variance features, for an orthonormal-like teacher (`T = I`,
    `c_M A_n = 1`) of `teacher_hidden` units. Needs an odd activation (`mu_0 = 0`); for a linear one
    it is the limit `1/2 M max(0, 1 - gamma)` (the unread part of the teacher's input space)."""
    mu0, mu1, second = hermite_coefficients(activation)
    if abs(mu0) > 1e-12 or mu1 == 0:
        raise ValueError(f"the large-N formula needs an odd activation with mu_1 != 0, got {activation.name!r}")
    non_linear = second - mu1**2
    m = teacher_hidden
    if non_linear <= 1e-12 * second:  # linear: r m(gamma, r) -> max(0, 1 - gamma) as r -> 0
        return 0.5 * m * mu1**2 * jnp.maximum(0.0, 1.0 - jnp.asarray(gamma, jnp.float64))
    ridge = non_linear / mu1**2
    return 0.5 * m * non_linear + 0.5 * m * mu1**2 * ridge * marchenko_pastur_trace(gamma, ridge)
