"""A vectorisable float64 arcsine.

XLA's CPU arcsine costs about 17 ns per element (it does not vectorise), and the erf
order-parameter ODEs evaluate thousands per right-hand side. This one reduces `|x| > 1/2` to
`|x| <= 1/2` with `arcsin(x) = pi/2 - 2 arcsin(sqrt((1 - x)/2))` and evaluates
`arcsin(s) = s p(s^2)` with a polynomial `p` fitted at import to `arcsin(sqrt t)/sqrt t` on
Chebyshev nodes of `[0, 1/4]`. About 4x faster than `jnp.arcsin` on CPU; the error stays within a
few float64 rounding errors on `[-1, 1]` (tested against NumPy).
"""

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


__all__ = ["arcsin"]

_DEGREE = 12


def _fit() -> np.ndarray:
    # p(t) = arcsin(sqrt t) / sqrt t, smooth on [0, 1/4] with p(0) = 1; no cancellation.
    nodes = 0.125 * (1 - np.cos(np.pi * (np.arange(400) + 0.5) / 400))
    s = np.sqrt(nodes)
    values = np.arcsin(s) / s
    series = np.polynomial.Chebyshev.fit(nodes, values, _DEGREE, domain=[0.0, 0.25])
    return series.convert(kind=np.polynomial.Polynomial).coef


_COEFFICIENTS = tuple(float(c) for c in _fit())


def _small(s: Array) -> Array:
    t = s * s
    acc = jnp.full_like(t, _COEFFICIENTS[-1])
    for c in _COEFFICIENTS[-2::-1]:
        acc = acc * t + c
    return s * acc


def arcsin(x: ArrayLike) -> Array:
    """`arcsin(x)` for `x` in `[-1, 1]` (values a rounding error outside are clipped)."""
    x = jnp.clip(jnp.asarray(x), -1.0, 1.0)
    a = jnp.abs(x)
    large = a > 0.5
    s = jnp.where(large, jnp.sqrt(0.5 * (1.0 - a)), a)
    core = _small(s)
    value = jnp.where(large, 0.5 * math.pi - 2.0 * core, core)
    return jnp.sign(x) * value
