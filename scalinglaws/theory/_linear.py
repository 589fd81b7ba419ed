"""Exact learning curves of linear two-layer networks on inputs with L distinct eigenvalues.

With `g(x) = x` the student is the linear map `w = c_K sum_i v_i J_i` and the teacher
`w* = c_M sum_n A_n B_n`. One SGD step moves every `J_i` by `(eta / sqrt N) c_K v_i delta x`, so
`w` moves by `kappa (eta / sqrt N) delta x` with `kappa = c_K^2 |v|^2` (`= K` for the plain SCM).
For the block errors `e_l = (w - w*) P_l (w - w*) / N` this gives, as `N -> infinity`
(Worschech & Rosenow, arXiv 2410.09005; `shared/theory/rosenow.md` section 2.5, derived there):

    de_l/dalpha = -2 kappa eta lambda_l e_l + kappa^2 eta^2 (lambda_l / L) [sum_l' lambda_l' e_l' + sigma^2],
    eps_g = 1/2 sum_l lambda_l e_l + sigma^2 / 2.

The matrix `A = -2 kappa eta diag(lambda) + (kappa^2 eta^2 / L) lambda lambda^T` is symmetric, so
`e(alpha) = e_inf + U exp(alpha D) U^T (e(0) - e_inf)` with `A = U D U^T` is exact. The dynamics are
stable iff `eta < eta_c = 2 L / (kappa sum_l lambda_l) = 2 / (kappa Tr(Sigma) / N)`.

For `lambda_l ∝ l^-(1+beta)` and `1 << 2 kappa eta lambda_1 alpha << lambda_1 / lambda_L` the error
falls as `alpha^(-beta / (1 + beta))` (tested), with an exponential cut-off set by `lambda_L`.
"""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


__all__ = ["linear_block_errors", "linear_critical_learning_rate", "linear_learning_curve"]


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


def linear_critical_learning_rate(eigenvalues: Float[ArrayLike, " L"], kappa: float) -> Float[Array, ""]:
    """`eta_c = 2 L / (kappa sum_l lambda_l)`: online SGD of a linear network diverges above it."""
    lam = jnp.asarray(eigenvalues)
    return 2 * lam.shape[0] / (kappa * jnp.sum(lam))


def linear_learning_curve(
    alpha: Float[ArrayLike, " T"],
    eigenvalues: Float[ArrayLike, " L"],
    errors0: Float[ArrayLike, " L"],
    kappa: float | Float[ArrayLike, ""],
    learning_rate: float | Float[ArrayLike, ""],
    noise_std: float | Float[ArrayLike, ""] = 0.0,
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
    """
    lam = jnp.asarray(eigenvalues, jnp.float64)
    e0 = jnp.asarray(errors0, jnp.float64)
    alpha = jnp.asarray(alpha, jnp.float64)
    blocks = lam.shape[0]
    eta = jnp.asarray(learning_rate, jnp.float64)
    kappa = jnp.asarray(kappa, jnp.float64)
    matrix = -2 * kappa * eta * jnp.diag(lam) + (kappa * eta) ** 2 / blocks * jnp.outer(lam, lam)
    drive = (kappa * eta) ** 2 * jnp.square(noise_std) * lam / blocks
    # Stationary point A e_inf + drive = 0 (only meaningful with noise; zero without).
    e_inf = jnp.where(jnp.square(noise_std) > 0, jnp.linalg.solve(matrix, -drive), jnp.zeros_like(lam))
    rates, vectors = jnp.linalg.eigh(matrix)
    coefficients = vectors.T @ (e0 - e_inf)
    errors = e_inf[None, :] + jnp.exp(alpha[:, None] * rates[None, :]) * coefficients[None, :] @ vectors.T
    return 0.5 * errors @ lam + 0.5 * jnp.square(noise_std)
