"""Gaussian input data with a diagonal covariance made of `L` blocks of equal eigenvalues.

Inputs are `x ~ N(0, Sigma)` in `N` dimensions with `Sigma = diag(lambda_1 1_{N/L}, ...,
lambda_L 1_{N/L})`: `L` distinct eigenvalues, each with multiplicity `N/L`, on consecutive
coordinates (block `l` holds coordinates `l N/L ... (l+1) N/L - 1`). This is the data model of
Worschech & Rosenow, arXiv 2410.09005 (`L = N` gives all eigenvalues distinct; `L = 1` with
`lambda_1 = 1` is isotropic data). A rotation of the inputs would not change any order parameter,
so a diagonal `Sigma` loses no generality.

Power-law spectra follow `lambda_l = lambda_+ l^-(1 + beta)`, normalised either so that
`Tr(Sigma)/N = (1/L) sum_l lambda_l = 1` (`normalisation="trace"`, the project's default) or so
that `lambda_1 = 1` (`normalisation="top"`). The paper's own convention is unconfirmed
(its text could not be checked here), hence the option.
"""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray


__all__ = ["GaussianData", "isotropic", "power_law"]


class GaussianData(eqx.Module):
    """Zero-mean Gaussian inputs with block-diagonal covariance (see the module docstring).

    **Arguments:**

    - `eigenvalues`: the `L` distinct eigenvalues, shape `(L,)`, one per block, all positive.
    - `input_dim`: `N`, divisible by `L`.
    """

    eigenvalues: Float[Array, " L"]
    input_dim: int = eqx.field(static=True)
    distinct: int = eqx.field(static=True)
    identity: bool = eqx.field(static=True)

    def __init__(self, eigenvalues, input_dim: int):
        values = np.asarray(eigenvalues, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError("eigenvalues must be a non-empty vector")
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ValueError("eigenvalues must be finite and > 0")
        if not isinstance(input_dim, int) or input_dim < 1:
            raise ValueError(f"input_dim must be an integer >= 1, got {input_dim!r}")
        if input_dim % values.size:
            raise ValueError(f"the number of distinct eigenvalues ({values.size}) must divide input_dim ({input_dim})")
        self.eigenvalues = jnp.asarray(values)
        self.input_dim = input_dim
        self.distinct = int(values.size)
        self.identity = bool(values.size == 1 and values[0] == 1.0)

    @property
    def block_size(self) -> int:
        """`N / L`, the multiplicity of each eigenvalue."""
        return self.input_dim // self.distinct

    def refined_eigenvalues(self, blocks: int) -> np.ndarray:
        """The eigenvalue of every block of a finer partition into `blocks` equal blocks (each of this
        spectrum's blocks split into `blocks / L`), float64 `(blocks,)`. Raises `ValueError` unless
        `L` divides `blocks` and `blocks` divides `N`."""
        if blocks % self.distinct or self.input_dim % blocks:
            raise ValueError(
                f"a spectrum with {self.distinct} distinct eigenvalues does not refine into {blocks} blocks "
                f"of an input of dimension {self.input_dim}"
            )
        return np.repeat(np.asarray(self.eigenvalues, np.float64), blocks // self.distinct)

    def diagonal(self) -> Float[Array, " N"]:
        """The diagonal of `Sigma`, shape `(N,)`."""
        return jnp.repeat(self.eigenvalues, self.block_size)

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...] = (), dtype=jnp.float32) -> Array:
        """Draw inputs of shape `shape + (N,)` in `dtype`."""
        z = jr.normal(key, (*shape, self.input_dim), dtype)
        if self.identity:
            return z
        scale = jnp.sqrt(self.diagonal()).astype(dtype)
        return z * scale.reshape((1,) * len(shape) + (self.input_dim,))

    def block_overlaps(self, a: Float[ArrayLike, "P N"], b: Float[ArrayLike, "Q N"]) -> Float[Array, "L P Q"]:
        """Eigen-block overlaps `a P_l b^T / N` for every block `l`, shape `(L, P, Q)`."""
        n, blocks = self.input_dim, self.distinct
        a = a.reshape(a.shape[0], blocks, self.block_size)
        b = b.reshape(b.shape[0], blocks, self.block_size)
        return jnp.einsum("pls,qls->lpq", a, b) / n

    def field_covariance(self, a: Float[ArrayLike, "P N"], b: Float[ArrayLike, "Q N"]) -> Float[Array, "P Q"]:
        """Covariance of the local fields `a x / sqrt(N)` and `b x / sqrt(N)`: `a Sigma b^T / N`."""
        if self.distinct == 1:
            return self.eigenvalues[0].astype(a.dtype) * (a @ b.T) / self.input_dim
        return jnp.einsum("l,lpq->pq", self.eigenvalues.astype(a.dtype), self.block_overlaps(a, b))


def isotropic(input_dim: int) -> GaussianData:
    """Isotropic inputs `x ~ N(0, I_N)`."""
    return GaussianData(np.ones(1), input_dim)


def power_law(
    input_dim: int,
    exponent: float,
    distinct: int | None = None,
    normalisation: str = "trace",
) -> GaussianData:
    """Power-law spectrum `lambda_l = lambda_+ l^-(1+exponent)`, `l = 1..L`, each of multiplicity `N/L`.

    **Arguments:**

    - `input_dim`: `N`.
    - `exponent`: `beta > -1`, so that the eigenvalues decrease.
    - `distinct`: `L`, the number of distinct eigenvalues; it must divide `N`. Default `N`.
    - `normalisation`: `"trace"` gives `Tr(Sigma)/N = 1`; `"top"` gives `lambda_1 = 1`.
    """
    distinct = input_dim if distinct is None else distinct
    if not isinstance(distinct, int) or distinct < 1:
        raise ValueError(f"distinct_eigenvalues must be an integer >= 1, got {distinct!r}")
    if not np.isfinite(exponent) or exponent <= -1:
        raise ValueError(f"exponent must be > -1 (eigenvalues l^-(1+beta) must decrease), got {exponent!r}")
    raw = np.arange(1, distinct + 1, dtype=np.float64) ** -(1.0 + exponent)
    if normalisation == "trace":
        values = raw / raw.mean()
    elif normalisation == "top":
        values = raw
    else:
        raise ValueError(f"normalisation must be 'trace' or 'top', got {normalisation!r}")
    return GaussianData(values, input_dim)
