"""Numerical inversion of Laplace transforms by the fixed Talbot contour (Abate & Valkó 2004).

For `F(s) = int_0^inf e^{-s t} f(t) dt` analytic to the right of its singularities on the negative
real axis (at the origin included),

    f(t) ~ (r / M) [ 1/2 F(r) e^{r t} + sum_{k=1}^{M-1} Re( e^{t s_k} F(s_k) (1 + i sigma_k) ) ],

with `r = 2 M / (5 t)`, `theta_k = k pi / M`, `s_k = r theta_k (cot theta_k + i)` and
`sigma_k = theta_k + (theta_k cot theta_k - 1) cot theta_k`. Completely monotone functions (sums of
decaying exponentials, the case of every DMFT response here) are inverted to about 10^-10 relative
in float64 with `M` of 30 to 40.
"""

import jax.numpy as jnp
from jaxtyping import Array, Complex, Float


__all__ = ["talbot_nodes", "talbot_sum"]


def talbot_nodes(
    times: Float[Array, " T"], nodes: int = 40
) -> tuple[Complex[Array, "T M"], Complex[Array, "T M"]]:
    """`(s, weights)` (T, M) of the fixed Talbot rule at every time `t > 0`: `f(t) = Re sum_k
    weights_k F(s_k)` (`talbot_sum`)."""
    t = jnp.asarray(times, jnp.float64)[:, None]
    theta = (jnp.arange(1, nodes, dtype=jnp.float64) * jnp.pi / nodes)[None, :]
    cot = 1.0 / jnp.tan(theta)
    r = 2.0 * nodes / (5.0 * t)
    sigma = theta + (theta * cot - 1.0) * cot
    s_k = (r * theta * cot).astype(jnp.complex128) + 1j * (r * theta).astype(jnp.complex128)
    w_k = (r / nodes).astype(jnp.complex128) * jnp.exp(t.astype(jnp.complex128) * s_k) * (1.0 + 1j * sigma.astype(jnp.complex128))
    s = jnp.concatenate([r.astype(jnp.complex128), s_k], axis=1)
    weights = jnp.concatenate([(0.5 * r / nodes * jnp.exp(r * t)).astype(jnp.complex128), w_k], axis=1)
    return s, weights


def talbot_sum(weights: Complex[Array, "T M"], values: Complex[Array, "T M *rest"]) -> Float[Array, "T *rest"]:
    """`f(t)` (T, ...) from the transform's `values` at the nodes of `talbot_nodes`."""
    w = weights.reshape(weights.shape + (1,) * (values.ndim - 2))
    return jnp.real(jnp.sum(w * values, axis=1))
