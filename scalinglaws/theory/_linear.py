"""Exact learning curves of linear two-layer networks on inputs with L distinct eigenvalues.

With `g(x) = x` the student is the linear map `w = c_K sum_i v_i J_i` and the teacher
`w* = c_M sum_n A_n B_n`. One SGD step moves every `J_i` by `(eta / sqrt N) c_K v_i delta x`, so
`w` moves by `kappa (eta / sqrt N) delta x` with `kappa = c_K^2 |v|^2` (`= K` for the plain SCM).
For the block errors `e_l = (w - w*) P_l (w - w*) / N` this gives, as `N -> infinity`
(Worschech & Rosenow, arXiv 2410.09005; derived here, tested in `tests/test_theory_linear.py`):

    de_l/dalpha = -2 kappa eta lambda_l e_l + kappa^2 eta^2 (lambda_l / L) [sum_l' lambda_l' e_l' + sigma^2],
    eps_g = 1/2 sum_l lambda_l e_l + sigma^2 / 2.

The matrix `A = -2 kappa eta diag(lambda) + (kappa^2 eta^2 / L) lambda lambda^T` is symmetric, so
`e(alpha) = e_inf + U exp(alpha D) U^T (e(0) - e_inf)` with `A = U D U^T` is exact. The dynamics are
stable iff `eta < eta_c = 2 L / (kappa sum_l lambda_l) = 2 / (kappa Tr(Sigma) / N)`.

For `lambda_l ∝ l^-(1+beta)` the curve has three regimes (tested): early, `eps_g ≈ eps_g(0)` while
`2 kappa eta lambda_1 alpha << 1`; a power law for `1 << 2 kappa eta lambda_1 alpha << lambda_1 / lambda_L`,

    eps_g ≈ (1/2) (e lambda_1) Gamma(beta / (1 + beta)) / (1 + beta) (2 kappa eta lambda_1 alpha)^(-beta / (1 + beta))

for equal initial block errors `e_l(0) = e` (small eta; `linear_power_law`); and an exponential
cut-off `exp(-2 kappa eta lambda_L alpha)` set by the smallest eigenvalue.

**Parameter scaling law.** A student that reads only the `L_s` leading blocks (`visible`) never
changes the other `e_l`; they act on the trained blocks like label noise of variance
`sum_{l > L_s} lambda_l e_l(0)`, and the error tends to
`eps_g(inf) = 1/2 sum_{l > L_s} lambda_l e_l(0) + O(eta)`, which for the power law is
`∝ L_s^-beta ∝ P^-beta` with `P = K N L_s / L` trainable weights (`linear_parameter_floor`).
"""

import math
from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


__all__ = [
    "linear_block_errors",
    "linear_critical_learning_rate",
    "linear_learning_curve",
    "linear_parameter_floor",
    "linear_power_law",
]


def linear_block_errors(
    q: Float[ArrayLike, "L K K"],
    r: Float[ArrayLike, "L K M"],
    t: Float[ArrayLike, "L M M"],
    student_second: Float[ArrayLike, " K"],
    teacher_second: Float[ArrayLike, " M"],
) -> Float[Array, " L"]:
    """`e_l = (w - w*) P_l (w - w*) / N` from block overlaps and the effective second layers."""
    v, a = jnp.asarray(student_second), jnp.asarray(teacher_second)
    return (
        jnp.einsum("i,lij,j->l", v, jnp.asarray(q), v)
        - 2 * jnp.einsum("i,lin,n->l", v, jnp.asarray(r), a)
        + jnp.einsum("n,lnm,m->l", a, jnp.asarray(t), a)
    )


def linear_critical_learning_rate(eigenvalues: Float[ArrayLike, " L"], kappa: int | float) -> Float[Array, ""]:
    """`eta_c = 2 L / (kappa sum_l lambda_l)`: online SGD of a linear network diverges above it."""
    lam = jnp.asarray(eigenvalues)
    return 2 * lam.shape[0] / (kappa * jnp.sum(lam))


def linear_learning_curve(
    alpha: Float[ArrayLike, " T"] | Sequence[float],
    eigenvalues: Float[ArrayLike, " L"],
    errors0: Float[ArrayLike, " L"],
    kappa: int | float | Float[ArrayLike, ""],
    learning_rate: float | Float[ArrayLike, ""],
    noise_std: float | Float[ArrayLike, ""] = 0.0,
    visible: Float[ArrayLike, " L"] | None = None,
) -> Float[Array, " T"]:
    """The exact eps_g(alpha) of the module docstring.

    **Arguments:**

    - `alpha`: times, shape `(T,)`.
    - `eigenvalues`: `lambda_l`, shape `(L,)` (each of multiplicity N/L).
    - `errors0`: `e_l(0)`, shape `(L,)` (`linear_block_errors`).
    - `kappa`: `c_K^2 |v|^2` (K for the plain soft committee machine).
    - `learning_rate`: eta; must be below `linear_critical_learning_rate` for a stationary state
      with noise (without noise the formula holds at any eta, growing above eta_c).
    - `noise_std`: the label-noise standard deviation sigma.
    - `visible`: 1 for the blocks the student reads, 0 for the others (default: all read).
    """
    lam = jnp.asarray(eigenvalues, jnp.float64)
    e0 = jnp.asarray(errors0, jnp.float64)
    alpha = jnp.asarray(alpha, jnp.float64)
    blocks = lam.shape[0]
    seen = jnp.ones_like(lam) if visible is None else jnp.asarray(visible, jnp.float64)
    eta = jnp.asarray(learning_rate, jnp.float64)
    kappa = jnp.asarray(kappa, jnp.float64)
    # Unread blocks keep e_l(0) and add to the label noise seen by the read ones; on the read
    # blocks the dynamics are the symmetric A restricted to them (the unread rows are set to -1
    # so that A stays invertible; their solution is replaced by e_l(0) below).
    noise = jnp.square(noise_std) + jnp.sum((1 - seen) * lam * e0)
    matrix = seen[:, None] * seen[None, :] * (
        -2 * kappa * eta * jnp.diag(lam) + (kappa * eta) ** 2 / blocks * jnp.outer(lam, lam)
    ) - jnp.diag(1 - seen)
    drive = seen * (kappa * eta) ** 2 * noise * lam / blocks
    e_inf = jnp.linalg.solve(matrix, -drive)  # the stationary point A e_inf + drive = 0
    rates, vectors = jnp.linalg.eigh(matrix)
    coefficients = vectors.T @ (e0 - e_inf)
    errors = e_inf[None, :] + jnp.exp(alpha[:, None] * rates[None, :]) * coefficients[None, :] @ vectors.T
    errors = seen[None, :] * errors + ((1 - seen) * e0)[None, :]
    return 0.5 * errors @ lam + 0.5 * jnp.square(noise_std)


def linear_power_law(
    alpha: Float[ArrayLike, " T"],
    eigenvalues: Float[ArrayLike, " L"],
    block_error: float,
    kappa: int | float,
    learning_rate: float,
    beta: float,
) -> Float[Array, " T"]:
    """The power-law regime of the module docstring for `lambda_l = lambda_1 l^-(1+beta)` and equal
    initial block errors `block_error`, small eta:
    `(1/2) block_error lambda_1 Gamma(beta/(1+beta))/(1+beta) (2 kappa eta lambda_1 alpha)^(-beta/(1+beta))`.

    It is the large-L limit of `(1/2) sum_l lambda_l block_error exp(-2 kappa eta lambda_l alpha)`
    (the sum over l replaced by an integral), valid for `1 << 2 kappa eta lambda_1 alpha << L^(1+beta)`.
    """
    lam1 = jnp.max(jnp.asarray(eigenvalues, jnp.float64))
    alpha = jnp.asarray(alpha, jnp.float64)
    exponent = beta / (1 + beta)
    prefactor = 0.5 * block_error * lam1 * math.gamma(exponent) / (1 + beta)
    return prefactor * (2 * kappa * learning_rate * lam1 * alpha) ** (-exponent)


def linear_parameter_floor(
    eigenvalues: Float[ArrayLike, " L"], errors0: Float[ArrayLike, " L"], visible_blocks: int
) -> Float[Array, ""]:
    """`eps_g(inf) = 1/2 sum_{l > L_s} lambda_l e_l(0)` as eta -> 0, for a student reading the
    `L_s = visible_blocks` leading blocks (module docstring): `∝ P^-beta` on a power-law spectrum."""
    lam = jnp.asarray(eigenvalues, jnp.float64)
    e0 = jnp.asarray(errors0, jnp.float64)
    return 0.5 * jnp.sum(jnp.where(jnp.arange(lam.shape[0]) >= visible_blocks, lam * e0, 0.0))
