"""Generalisation error of two-layer networks from their order parameters.

For student `c_K sum_i v_i g(x_i)` and teacher `c_M sum_n A_n g(y_n)` with jointly Gaussian local
fields of covariance `C = [[Q, R], [R^T, T]]` (Saad & Solla 1995; Goldt et al. 2019):

    eps_g = 1/2 E[(student - teacher)^2] + sigma^2 / 2
          = 1/2 [ v^T I2(Q) v - 2 v^T I2(R) A + A^T I2(T) A ] + sigma^2 / 2,

where `v`, `A` are the effective second layers (output scaling included), `I2(X)_ab = I2` of the
2x2 covariance `[[C_aa, C_ab], [C_ab, C_bb]]`, and `sigma` is the teacher's output-noise standard
deviation (the noise term is included, as the README's "Conventions" state). For an anisotropic input
covariance `Sigma`, `Q, R, T` are the field covariances `W Sigma W^T / N` etc. For erf this is the
familiar `(1/pi) sum arcsin(...)` form; for a linear activation `1/2 (v^T Q v - 2 v^T R A + A^T T A)`.

Evaluate it in float64: in float32 the closed form loses all digits once the student is close
to the teacher.
"""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._activations import AbstractActivation


__all__ = ["field_covariance", "generalisation_error"]


def field_covariance(
    q: Float[ArrayLike, "K K"], r: Float[ArrayLike, "K M"], t: Float[ArrayLike, "M M"]
) -> Float[Array, "K+M K+M"]:
    """The joint covariance `[[Q, R], [R^T, T]]` of the student and teacher local fields."""
    q, r, t = jnp.asarray(q), jnp.asarray(r), jnp.asarray(t)
    return jnp.block([[q, r], [r.T, t]])


def pairwise_i2(activation: AbstractActivation, cov: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """`I2` for every pair of fields of a joint covariance `cov`."""
    d = jnp.diagonal(cov)
    n = d.shape[0]
    pairs = jnp.stack(
        [
            jnp.stack([jnp.broadcast_to(d[:, None], (n, n)), cov], axis=-1),
            jnp.stack([cov, jnp.broadcast_to(d[None, :], (n, n))], axis=-1),
        ],
        axis=-2,
    )
    return activation.i2(pairs)


def generalisation_error(
    activation: AbstractActivation,
    q: Float[ArrayLike, "K K"],
    r: Float[ArrayLike, "K M"],
    t: Float[ArrayLike, "M M"],
    student_second: Float[ArrayLike, " K"],
    teacher_second: Float[ArrayLike, " M"],
    noise_std: float | Float[ArrayLike, ""] = 0.0,
) -> Float[Array, ""]:
    """`eps_g` from the field covariances (see the module docstring).

    **Arguments:**

    - `activation`: the common activation of student and teacher; it must have a closed-form `I2`.
    - `q`, `r`, `t`: field covariances, shapes `(K, K)`, `(K, M)`, `(M, M)`.
    - `student_second`, `teacher_second`: effective second layers `c_K v` and `c_M A`.
    - `noise_std`: the teacher's output-noise standard deviation.

    **Returns:** a scalar.
    """
    cov = field_covariance(q, r, t)
    weights = jnp.concatenate([jnp.asarray(student_second), -jnp.asarray(teacher_second)]).astype(cov.dtype)
    return 0.5 * weights @ pairwise_i2(activation, cov) @ weights + 0.5 * jnp.square(noise_std)
