"""Inverses of many small matrices at once, for the stiff solver's structured linear solves.

LAPACK's LU is called once per matrix on a CPU (about half a microsecond each, plus as much per
solve), which made the eigen-block ODE's 256 block solves per stage the bulk of a stiff step.
`small_inverse` instead runs Gauss-Jordan elimination with partial pivoting as a few array
operations over the whole batch, unrolled over the `d` pivots; applying the inverse is then a
batched matrix-vector product.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float


__all__ = ["small_inverse"]

# Above this size the unrolled elimination costs more to compile than LAPACK costs to run.
_UNROLL_LIMIT = 16


def small_inverse(matrices: Float[Array, "*batch d d"]) -> Float[Array, "*batch d d"]:
    """The inverses of a batch of small square matrices: Gauss-Jordan with partial pivoting,
    vectorised over the batch, for `d <= 16`; LAPACK (`jnp.linalg.inv`) for larger `d`."""
    d = matrices.shape[-1]
    if d > _UNROLL_LIMIT:
        return jnp.linalg.inv(matrices)
    a = jnp.concatenate([matrices, jnp.broadcast_to(jnp.eye(d, dtype=matrices.dtype), matrices.shape)], axis=-1)
    rows = jnp.broadcast_to(jnp.arange(d), (*matrices.shape[:-2], d))
    for k in range(d):
        pivot = k + jnp.argmax(jnp.abs(a[..., k:, k]), axis=-1)
        onehot = (rows == pivot[..., None]).astype(a.dtype)  # (..., d): the pivot row
        row_p = jnp.einsum("...i,...ij->...j", onehot, a)
        a = a + onehot[..., :, None] * (a[..., k, :] - row_p)[..., None, :]  # row p <- row k
        row_p = row_p / row_p[..., k : k + 1]
        factors = a[..., :, k].at[..., k].set(0.0)
        a = (a - factors[..., :, None] * row_p[..., None, :]).at[..., k, :].set(row_p)
    return a[..., d:]
