"""Exact chi-square draws in bulk, for the reduced simulation's squared input norms.

`chi^2_k = 2 Gamma(k / 2)`, and `Gamma(a)` for `a >= 1` is drawn by Marsaglia & Tsang's rejection
method (ACM TOMS 26, 363, 2000): with `d = a - 1/3`, `c = 1 / sqrt(9 d)`, a standard normal `x`
and a uniform `u`, the value `d v` with `v = (1 + c x)^3` is accepted when `v > 0` and
`log u < x^2 / 2 + d - d v + d log v`; for `a < 1`, `Gamma(a) = Gamma(a + 1) U^(1/a)`. Every entry
of the array is drawn at once and only the rejected ones are drawn again (the acceptance rate is
above 95 % for `a >= 1` and tends to 1 as `a` grows), so a chunk costs about two random numbers
per entry, against a per-entry loop with its own key splits in `jax.random.gamma`.

The degrees of freedom may be traced (an array): then the caller states which of the three regimes
(`regime`: 0, 1, or at least 2) they lie in, so that one compiled program serves every count of a
regime (the reduced chain's `N / L - K - M` over a sweep of N).
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray


__all__ = ["chi_square"]


def _gamma_at_least_one(key: PRNGKeyArray, shape: float | Array, size: tuple[int, ...], dtype) -> Array:
    """`Gamma(shape)` draws of `size`, `shape >= 1`, by Marsaglia & Tsang's method. The constants
    are computed in float64 and rounded to `dtype` (as a Python float's would be)."""
    if isinstance(shape, (int, float)):
        d, c = shape - 1.0 / 3.0, 1.0 / math.sqrt(9.0 * (shape - 1.0 / 3.0))
    else:
        d64 = jnp.asarray(shape, jnp.float64) - 1.0 / 3.0
        d, c = d64.astype(dtype), (1.0 / jnp.sqrt(9.0 * d64)).astype(dtype)

    def attempt(k):
        kx, ku = jr.split(k)
        x = jr.normal(kx, size, dtype)
        u = jr.uniform(ku, size, dtype, minval=jnp.finfo(dtype).tiny)
        v = jnp.power(1.0 + c * x, 3)
        safe = jnp.where(v > 0, v, 1.0)
        ok = (v > 0) & (jnp.log(u) < 0.5 * x * x + d - d * safe + d * jnp.log(safe))
        return d * safe, ok

    def redraw(carry):
        value, ok, round_ = carry
        new, new_ok = attempt(jr.fold_in(key, round_))
        take = ~ok & new_ok
        return jnp.where(take, new, value), ok | new_ok, round_ + 1

    value, ok = attempt(jr.fold_in(key, 0))
    value, _, _ = jax.lax.while_loop(lambda carry: ~jnp.all(carry[1]), redraw, (value, ok, jnp.int32(1)))
    return value


def dof_regime(dof: int) -> int:
    """Which draw `chi_square` takes for `dof` degrees of freedom: 0 (zeros), 1 (a boosted gamma)
    or 2 (any `dof >= 2`)."""
    if dof < 0:
        raise ValueError(f"chi-square degrees of freedom must be >= 0, got {dof}")
    return min(int(dof), 2)


def chi_square(
    key: PRNGKeyArray, dof: int | Array, size: tuple[int, ...], dtype=jnp.float64, *, regime: int | None = None
) -> Float[Array, "..."]:
    """Exact `chi^2` draws with `dof >= 0` degrees of freedom (0 gives zeros), shape `size`. A
    traced `dof` needs its `regime` (`dof_regime`: the same for every value it takes); a Python
    `dof` gives its own."""
    if regime is None:
        regime = dof_regime(dof)
    if regime == 0:
        return jnp.zeros(size, dtype)
    if regime == 2:
        return 2.0 * _gamma_at_least_one(key, 0.5 * dof, size, dtype)
    # one degree of freedom: Gamma(1/2) = Gamma(3/2) U^2
    kg, kb = jr.split(key)
    boost = jnp.power(jr.uniform(kb, size, dtype, minval=jnp.finfo(dtype).tiny), 2.0)
    return 2.0 * _gamma_at_least_one(kg, 1.5, size, dtype) * boost
