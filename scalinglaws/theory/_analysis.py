"""Analysis of order-parameter dynamics: fixed points, their linearisation, local exponents, plateaus.

Definitions used throughout the project:

- **local exponent** `d ln eps_g / d ln alpha`, by centred differences on the log-log curve.
- **plateau**: for a curve that falls, stalls and falls again, the plateau value is eps_g at the
  symmetric fixed point (`symmetric_fixed_point`) when known, else the median of eps_g where the
  local exponent is within `flat` of zero; the **escape** is the first alpha after the curve
  reached 1.1 x the plateau value at which eps_g drops below half the plateau value
  (`plateau_escape`).
- **linearisation**: the Jacobian of the right-hand side at a fixed point, flattened over the
  state; its largest real eigenvalue is the escape rate from an unstable fixed point, the
  least negative one the slowest convergence rate to a stable one.
"""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float

from ._scm import SCMArgs, SCMState, SoftCommitteeODE


__all__ = [
    "Linearisation",
    "linearise",
    "local_exponent",
    "plateau_escape",
    "plateau_interval",
    "symmetric_fixed_point",
    "symmetric_state",
]


def local_exponent(alpha: Float[ArrayLike, " T"], y: Float[ArrayLike, " T"]) -> np.ndarray:
    """`d ln y / d ln alpha` by centred differences (one-sided at the ends); needs alpha, y > 0."""
    alpha, y = np.asarray(alpha, np.float64), np.asarray(y, np.float64)
    if np.any(alpha <= 0) or np.any(y <= 0):
        raise ValueError("local_exponent needs alpha > 0 and y > 0 (drop alpha = 0 first)")
    return np.gradient(np.log(y), np.log(alpha))


def symmetric_state(k: int, m: int, q: float, c: float, r: float, v: float = 1.0) -> SCMState:
    """The unspecialised state `Q_ii = q`, `Q_ij = c` (i != j), `R_in = r`, `v_i = v`."""
    qm = jnp.full((k, k), c, jnp.float64) + (q - c) * jnp.eye(k, dtype=jnp.float64)
    return SCMState(qm, jnp.full((k, m), r, jnp.float64), jnp.full(k, v, jnp.float64))


def symmetric_fixed_point(
    ode: SoftCommitteeODE, args: SCMArgs, guess: tuple[float, float, float] = (0.35, 0.3, 0.4), iterations: int = 60
) -> SCMState:
    """The unspecialised fixed point (plateau) of the SCM ODE, by Newton's method on `(q, c, r)`.

    The symmetric subspace (`symmetric_state`) is invariant when the teacher is symmetric
    (`T = I`, equal `A_n`), so the fixed point solves three equations: `dQ_11 = dQ_12 = dR_11 = 0`
    (two when K = 1). The second layer is held fixed.
    """
    k, m = ode.student_hidden, ode.teacher_hidden
    x = jnp.asarray(guess if k > 1 else (guess[0], guess[2]), jnp.float64)
    for _ in range(iterations):
        x, residual = _newton_step(ode, args, x)
    if not np.all(np.abs(np.asarray(residual)) < 1e-10):
        raise ValueError("symmetric_fixed_point: Newton did not converge; try another guess")
    return symmetric_state(k, m, x[0], x[1] if k > 1 else 0.0, x[-1])


def _symmetric_residual(ode: SoftCommitteeODE, args: SCMArgs, x):
    k, m = ode.student_hidden, ode.teacher_hidden
    d = ode(0.0, symmetric_state(k, m, x[0], x[1] if k > 1 else 0.0, x[-1]), args)
    return jnp.stack([d.q[0, 0]] + ([d.q[0, 1]] if k > 1 else []) + [d.r[0, 0]])


@eqx.filter_jit
def _newton_step(ode: SoftCommitteeODE, args: SCMArgs, x):
    residual = _symmetric_residual(ode, args, x)
    jacobian = jax.jacfwd(lambda y: _symmetric_residual(ode, args, y))(x)
    return x - jnp.linalg.solve(jacobian, residual), residual


class Linearisation(NamedTuple):
    """`jacobian` of the flattened right-hand side and its `eigenvalues` (sorted by real part, descending)."""

    jacobian: Array
    eigenvalues: np.ndarray

    @property
    def escape_rate(self) -> float:
        """Largest real part: > 0 for an unstable fixed point (the rate of escape from it)."""
        return float(self.eigenvalues[0].real)

    @property
    def slowest_rate(self) -> float:
        """`-max Re(eigenvalue)`: at a stable fixed point, the rate of the slowest convergence."""
        return -self.escape_rate


def linearise(ode: SoftCommitteeODE, state: SCMState, args: SCMArgs) -> Linearisation:
    """The Jacobian of the ODE at `state` over the independent entries (`Q` is symmetric: its
    upper triangle only; `v` only when the second layer is trained)."""
    k = ode.student_hidden
    upper = np.triu_indices(k)

    def pack(s: SCMState):
        parts = (s.q[upper], s.r, s.v) if ode.train_second_layer else (s.q[upper], s.r)
        return ravel_pytree(parts)[0]

    flat, unravel = ravel_pytree(
        (state.q[upper], state.r, state.v) if ode.train_second_layer else (state.q[upper], state.r)
    )

    def unpack(x) -> SCMState:
        parts = unravel(x)
        q = jnp.zeros((k, k), x.dtype).at[upper].set(parts[0])
        q = q + jnp.triu(q, 1).T
        return SCMState(q, parts[1], parts[2] if ode.train_second_layer else state.v)

    jac = jax.jacfwd(lambda x: pack(ode(0.0, unpack(x), args)))(flat)
    eig = np.linalg.eigvals(np.asarray(jac))
    return Linearisation(jac, eig[np.argsort(-eig.real)])


def plateau_interval(alpha: Float[ArrayLike, " T"], eps: Float[ArrayLike, " T"], plateau: float) -> tuple[float, float]:
    """`(start, escape)` of a plateau of height `plateau`: the first alpha with eps_g <= 1.1 x plateau,
    and the first alpha after it with eps_g < plateau / 2 (module docstring). The plateau's length
    is `escape - start`. Either is NaN when the curve does not get there within the grid.
    """
    alpha, eps = np.asarray(alpha), np.asarray(eps)
    reached = np.flatnonzero(eps <= 1.1 * plateau)
    if reached.size == 0:
        return float("nan"), float("nan")
    after = np.flatnonzero((np.arange(eps.size) > reached[0]) & (eps < 0.5 * plateau))
    return float(alpha[reached[0]]), float(alpha[after[0]]) if after.size else float("nan")


def plateau_escape(alpha: Float[ArrayLike, " T"], eps: Float[ArrayLike, " T"], plateau: float) -> float:
    """The escape time from a plateau of height `plateau` (`plateau_interval`'s second entry)."""
    return plateau_interval(alpha, eps, plateau)[1]
