"""Analysis of order-parameter dynamics: fixed points, their linearisation, local exponents, plateaus.

Definitions used throughout the project:

- **local exponent** `d ln eps_g / d ln alpha`, by centred differences on the log-log curve.
- **plateau**: for a curve that falls, stalls and falls again, the plateau value is eps_g at the
  symmetric fixed point (`symmetric_fixed_point`) when known, else the median of eps_g where the
  local exponent is within `flat` of zero; the **escape** is the first alpha after the curve
  reached 1.1 x the plateau value at which eps_g drops below half the plateau value
  (`plateau_escape`, interpolated between grid points).
- **linearisation**: the Jacobian of the right-hand side at a fixed point, flattened over the
  state; its largest real eigenvalue is the escape rate from an unstable fixed point, the
  least negative one the slowest convergence rate to a stable one.
- **specialisation** `S = |tr Rbar - sum_{i != n} Rbar_in / (M - 1)|` (K = M): how much each student
  unit prefers one teacher unit over the others, in field space; 0 on the symmetric plateau, 2 at
  perfect specialisation with `T = I`.

**Plateau length.** Near the symmetric fixed point the asymmetry grows as `exp(mu alpha)` with `mu`
the escape rate, from its initial size `S_0 = S(alpha = 0)` (set by `sigma_J` and N: for Gaussian
weights `S_0 ~ 2 sigma_J (sum_l lambda_l^2 / (N L))^(1/2)`) to `S ≈ 1` at the escape, so

    plateau length ≈ ln(1 / S_0) / mu(L, K, beta, eta)          (`predicted_plateau_length`).

For power-law inputs the escape rate grows with the top eigenvalue (`mu ≈ 0.0044 lambda_1` for the
erf K = M = 2 student at eta = 0.1 and large L), while reaching the plateau needs every block, down
to the slowest, to fill: the plateau shortens as L grows and vanishes once the escape comes before
the curve reaches it (measured in `experiments/p1_figures.py`, panel b).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float

from ._blocks import BlockArgs, BlockState, EigenBlockODE
from ._scm import SCMArgs, SCMState, SoftCommitteeODE


__all__ = [
    "Linearisation",
    "escape_rate",
    "linearise",
    "local_exponent",
    "plateau_escape",
    "plateau_interval",
    "predicted_plateau_length",
    "specialisation",
    "symmetric_fixed_point",
    "symmetric_state",
]


def local_exponent(alpha: Float[ArrayLike, " T"], y: Float[ArrayLike, " T"]) -> np.ndarray:
    """`d ln y / d ln alpha` by centred differences (one-sided at the ends); needs alpha, y > 0."""
    alpha, y = np.asarray(alpha, np.float64), np.asarray(y, np.float64)
    if np.any(alpha <= 0) or np.any(y <= 0):
        raise ValueError("local_exponent needs alpha > 0 and y > 0 (drop alpha = 0 first)")
    return np.gradient(np.log(y), np.log(alpha))


def symmetric_state(
    k: int,
    m: int,
    q: float | Float[ArrayLike, ""],
    c: float | Float[ArrayLike, ""],
    r: float | Float[ArrayLike, ""],
    v: float | Float[ArrayLike, ""] = 1.0,
) -> SCMState:
    """The unspecialised state `Q_ii = q`, `Q_ij = c` (i != j), `R_in = r`, `v_i = v`."""
    qm = jnp.full((k, k), c, jnp.float64) + (q - c) * jnp.eye(k, dtype=jnp.float64)
    return SCMState(qm, jnp.full((k, m), r, jnp.float64), jnp.full(k, v, jnp.float64))


def symmetric_fixed_point(
    ode: SoftCommitteeODE | EigenBlockODE,
    args: SCMArgs | BlockArgs,
    guess: tuple[float, float, float] | None = None,
    iterations: int = 60,
) -> SCMState | BlockState:
    """The unspecialised fixed point (plateau) that the dynamics visits from small initial weights,
    by Newton's method.

    The symmetric subspace (`symmetric_state`: `Q_ii = q`, `Q_ij = c`, `R_in = r`) is invariant when
    the teacher is symmetric (`T = I`, equal `A_n`), and so is its part with identical student
    vectors, `c = q`. From small initial weights every student vector grows along the same
    direction (the weights' own small parts are soon negligible), so the trajectory reaches the
    plateau with `c = q` (Saad & Solla's `Q = C = 1/(2K - 1)` as eta -> 0) and escapes from there by
    specialisation. At large eta the symmetric subspace holds a second fixed point with `c < q`
    (at eta = 0.5: K = 2, eps_g 0.0146448 against the visited 0.0146770; K = 3, 0.0320998 against
    0.0328179) with a smaller escape rate, which the trajectory does not visit. By default the
    fixed point is therefore solved with `c = q` (two equations, `dQ_11 = dR_11 = 0`, from Saad &
    Solla's small-eta values `q = 1/(2K - 1)`, `r = 1/sqrt(K (2K - 1))`, or `(0.35, 0.4)` for
    K = 1); a `guess` `(q, c, r)` solves the three equations
    `dQ_11 = dQ_12 = dR_11 = 0` from there instead (either branch). K = 1 has only `(q, r)`. The
    second layer is held fixed.

    For the eigen-block ODE the teacher must fill the blocks equally, `t^(l) = Tbar / sum_l lambda_l`
    (as a teacher with orthonormal rows in random directions does as N -> infinity). Every block's
    drift is then `lambda_l` times one function of its own overlaps and of the field covariances,
    so the fixed point has equal blocks, `q^(l) = Qbar / sum_l lambda_l` (likewise `r^(l)`), with
    `(Qbar, Rbar)` solving the equations above; with `sum_l lambda_l = L` (`trace` normalisation)
    it is the isotropic plateau.
    """
    k, m = ode.student_hidden, ode.teacher_hidden
    identical = guess is None or k == 1
    if guess is None:
        x = jnp.asarray((1 / (2 * k - 1), (k * (2 * k - 1)) ** -0.5) if k > 1 else (0.35, 0.4), jnp.float64)
    else:
        x = jnp.asarray(guess if k > 1 else (guess[0], guess[2]), jnp.float64)
    for _ in range(iterations):
        x, residual = _newton_step(ode, args, x, identical)
    if not np.all(np.abs(np.asarray(residual)) < 1e-10):
        raise ValueError("symmetric_fixed_point: Newton did not converge; try another guess")
    q, r = x[0], x[-1]
    c = q if identical else x[1]
    return _embed(ode, args, symmetric_state(k, m, q, c if k > 1 else 0.0, r))


def _embed(ode, args, state: SCMState) -> SCMState | BlockState:
    """The field-level state `state` as an ODE state: itself, or equal blocks `state / sum_l lambda_l`."""
    if not isinstance(ode, EigenBlockODE):
        return state
    total = jnp.sum(args.eigenvalues)
    blocks = args.eigenvalues.shape[0]
    return BlockState(
        jnp.broadcast_to(state.q / total, (blocks, *state.q.shape)),
        jnp.broadcast_to(state.r / total, (blocks, *state.r.shape)),
        state.v,
    )


def _symmetric_residual(ode, args, x, identical: bool):
    """The drift of `(q, c, r)` (or of `(q, r)` with `c = q` when `identical`) at the symmetric state."""
    k, m = ode.student_hidden, ode.teacher_hidden
    c = x[0] if identical else x[1]
    d = ode(0.0, _embed(ode, args, symmetric_state(k, m, x[0], c if k > 1 else 0.0, x[-1])), args)
    q, r = (d.q[0], d.r[0]) if isinstance(ode, EigenBlockODE) else (d.q, d.r)
    if isinstance(ode, EigenBlockODE):
        q, r = q / args.eigenvalues[0], r / args.eigenvalues[0]
    return jnp.stack([q[0, 0]] + ([q[0, 1]] if k > 1 and not identical else []) + [r[0, 0]])


@eqx.filter_jit
def _newton_step(ode: SoftCommitteeODE | EigenBlockODE, args: SCMArgs | BlockArgs, x, identical: bool):
    residual = _symmetric_residual(ode, args, x, identical)
    jacobian = jax.jacfwd(lambda y: _symmetric_residual(ode, args, y, identical))(x)
    return x - jnp.linalg.solve(jacobian, residual), residual


class Linearisation(eqx.Module):
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


def linearise(ode: SoftCommitteeODE | EigenBlockODE, state, args) -> Linearisation:
    """The Jacobian of the ODE at `state` over the independent entries (`Q` and every `q^(l)` are
    symmetric: upper triangles only; `v` only when the second layer is trained). Dense: for the
    eigen-block ODE this is `L (K(K+1)/2 + K M)` square, fine up to a few hundred blocks."""
    jac = _jacobian(ode, state, args)
    eig = np.linalg.eigvals(np.asarray(jac))
    return Linearisation(jac, eig[np.argsort(-eig.real)])


def _flattened(ode, state, args):
    """`(flat, field)`: the independent entries of `state` as a vector (upper triangles of Q and
    every q^(l), R, and v when the second layer is trained), and the ODE's right-hand side as a
    function of such vectors."""
    upper = np.triu_indices(ode.student_hidden)
    kind = type(state)

    def independent(s):
        q = s.q[..., upper[0], upper[1]]
        return (q, s.r, s.v) if ode.train_second_layer else (q, s.r)

    flat, unravel = ravel_pytree(independent(state))

    def unpack(x):
        parts = unravel(x)
        q = jnp.zeros(state.q.shape, x.dtype).at[..., upper[0], upper[1]].set(parts[0])
        q = q + jnp.swapaxes(jnp.triu(q, 1), -1, -2)
        return kind(q, parts[1], parts[2] if ode.train_second_layer else state.v)

    def field(x):
        return ravel_pytree(independent(ode(0.0, unpack(x), args)))[0]

    return flat, field


@eqx.filter_jit
def _jacobian(ode, state, args):
    flat, field = _flattened(ode, state, args)
    return jax.jacfwd(field)(flat)


def escape_rate(ode: SoftCommitteeODE | EigenBlockODE, state, args, *, dense_limit: int = 600) -> float:
    """The largest real part of the Jacobian's eigenvalues at `state` (`Linearisation.escape_rate`)
    without the dense eigendecomposition when the state is large: above `dense_limit` independent
    entries (an eigen-block ODE with many blocks or units) ARPACK's Arnoldi iteration
    (`scipy.sparse.linalg.eigs`, largest real part) on Jacobian-vector products, O(n) memory."""
    flat, field = _flattened(ode, state, args)
    if flat.size <= dense_limit:
        return linearise(ode, state, args).escape_rate
    import scipy.sparse.linalg as sparse

    _, jvp = jax.linearize(field, flat)
    jvp = jax.jit(jvp)
    operator = sparse.LinearOperator(
        (flat.size, flat.size), matvec=lambda v: np.asarray(jvp(jnp.asarray(v, flat.dtype))), dtype=np.float64
    )
    values = sparse.eigs(operator, k=1, which="LR", tol=1e-10, ncv=min(flat.size, 40), return_eigenvectors=False)
    return float(np.max(values.real))


def specialisation(r: Float[ArrayLike, "... K M"]) -> np.ndarray | float:
    """`S = |tr R - sum_{i != n} R_in / (M - 1)|` of field overlaps `R` (K = M >= 2; module docstring)."""
    r = np.asarray(r, np.float64)
    k, m = r.shape[-2:]
    if k != m or m < 2:
        raise ValueError(f"specialisation needs K = M >= 2, got K = {k}, M = {m}")
    trace = np.trace(r, axis1=-2, axis2=-1)
    return np.abs(trace - (r.sum((-2, -1)) - trace) / (m - 1))


def predicted_plateau_length(
    ode: SoftCommitteeODE | EigenBlockODE,
    args: SCMArgs | BlockArgs,
    initial_rbar: Float[ArrayLike, "K M"],
    escape_specialisation: float = 1.0,
) -> float:
    """`ln(escape_specialisation / S_0) / mu`: the plateau length predicted from the escape rate `mu`
    at the symmetric fixed point and the initial asymmetry `S_0 = specialisation(initial_rbar)`
    (module docstring). `args` must have a symmetric teacher (`symmetric_fixed_point`)."""
    mu = escape_rate(ode, symmetric_fixed_point(ode, args), args)
    if mu <= 0:
        raise ValueError("the symmetric fixed point is stable: there is no escape")
    return float(np.log(escape_specialisation / specialisation(initial_rbar)) / mu)


def plateau_interval(alpha: Float[ArrayLike, " T"], eps: Float[ArrayLike, " T"], plateau: float) -> tuple[float, float]:
    """`(start, escape)` of a plateau of height `plateau`: the first alpha with eps_g <= 1.1 x plateau,
    and the first alpha after it with eps_g < plateau / 2, interpolated linearly between the grid
    points on either side of the crossing (module docstring). The plateau's length is
    `escape - start`. Either is NaN when the curve does not get there within the grid.
    """
    alpha, eps = np.asarray(alpha, np.float64), np.asarray(eps, np.float64)
    reached = np.flatnonzero(eps <= 1.1 * plateau)
    if reached.size == 0:
        return float("nan"), float("nan")
    after = np.flatnonzero((np.arange(eps.size) > reached[0]) & (eps < 0.5 * plateau))
    if after.size == 0:
        return float(alpha[reached[0]]), float("nan")
    i = after[0]
    above = eps[i - 1] - 0.5 * plateau  # < 0 only when the point before is the start itself: escape there
    escape = alpha[i - 1] + (alpha[i] - alpha[i - 1]) * above / (eps[i - 1] - eps[i]) if above > 0 else alpha[i - 1]
    return float(alpha[reached[0]]), float(escape)


def plateau_escape(alpha: Float[ArrayLike, " T"], eps: Float[ArrayLike, " T"], plateau: float) -> float:
    """The escape time from a plateau of height `plateau` (`plateau_interval`'s second entry)."""
    return plateau_interval(alpha, eps, plateau)[1]
