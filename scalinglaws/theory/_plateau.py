"""The escape from the plateau of a soft committee machine with a symmetric teacher, predicted by
matched asymptotics (`predict_escape`).

**Setting.** K = M >= 2, a symmetric teacher: `T = I` for isotropic inputs, or equal blocks
`t^(l) = I / L` for L distinct eigenvalues (`symmetric_fixed_point`), equal teacher second layer,
the student's second layer fixed and equal. The dynamics then commute with permuting the students
(S_K) and the teachers (S_M) separately, and the state splits into

- its symmetric part, `Q_ii = q`, `Q_ij = c`, `R_in = r` in every block: invariant, it carries the
  trajectory from small weights to the plateau `x*` (`symmetric_fixed_point`);
- the **specialisation** `c^(l)`: the part of each block's `R^(l)` with zero row and column sums
  (the irreducible representation std x std of S_K x S_M, of dimension (K - 1)^2; Q holds none of
  it). By Schur's lemma the linearised dynamics acts on it as `G(alpha) x I`, G an L x L matrix:

      dc^(l)/dalpha = sum_m G_lm(x_s(alpha)) c^(m)      (to first order in the asymmetry),

  along the symmetric trajectory `x_s`. At `x*` G's largest eigenvalue is the escape rate `mu`,
  with right and left eigenvectors `u`, `w` (`|u| = 1`, `w . u = 1`).

**Prediction.** Three phases, matched (arXiv 2410.09005's plateau, for isotropic inputs Saad &
Solla's):

1. the approach: `c(alpha) = Phi(alpha) c(0)`, Phi the propagator of G along `x_s` from the
   symmetric part of the initial state. The unstable amplitude `sum_l w_l c^(l)` is
   `e^(mu alpha) A(alpha)`, `A = sum_m gamma_m c^(m)(0)`, `gamma = e^(-mu alpha) Phi^T w`, which
   settles once `x_s` has reached `x*`: the approach's gain or loss of asymmetry;
2. growth at the rate `mu` until the linearised asymmetry reaches `match` (1e-2) at `alpha_m`;
3. the nonlinear escape along the unstable manifold: from `x* + eps u x Ahat` eps_g falls below
   half the plateau at `alpha_E(eps) = tau(Ahat) - ln(eps) / mu + O(eps)`, `tau` depending on the
   direction `Ahat` within the (K - 1)^2-dimensional unstable space (for K >= 3).

So the plateau's escape comes at

    alpha_escape = tau(Ahat) - ln |A(alpha_m)| / mu.

`predicted_plateau_length`'s `ln(1 / S_0) / mu` is the crude form of it: no gain or loss during
the approach (`|A|` replaced by the initial specialisation `S_0`) and no offset (`tau = 0`).

**Validity**, checked (`EscapePrediction.reason` says why there is no prediction): a plateau with
`eps_g > 0`; the specialisation the fastest unstable mode there (`mu` equal to the Jacobian's
largest real part, found densely: up to `DENSE_LIMIT` entries); and the symmetric trajectory
settled onto the plateau before the escape begins: its eps_g at `alpha_m` within `tolerance`
(4 %) of the plateau's. With many eigenvalue
blocks the slowest fill after the escape has begun (the plateau is not flat), and the escape,
which needs them filled, comes later than predicted: measured on the grid of
`experiments/plateau_prediction.py`, by about 0.3-0.75 times that excess (so at most 3 % where
the prediction is made).
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._analysis import escape_rate, plateau_escape, specialisation, symmetric_fixed_point
from ._blocks import BlockArgs, BlockState, EigenBlockODE
from ._scm import SCMArgs, SCMState, SoftCommitteeODE


__all__ = ["EscapePrediction", "predict_escape", "specialisation_part"]

MATCH = 1e-2  # the linearised asymmetry |c| at which the approach is matched to the manifold
MANIFOLD_START = 1e-4  # the amplitude eps the manifold's escape is solved from
_SAVES = 2048
DENSE_LIMIT = 2500  # the largest Jacobian checked for modes faster than the specialisation (64 blocks, K = 5)


class EscapePrediction(eqx.Module):
    """What `predict_escape` returns (alphas in the ODE's time):

    - `escape_alpha`: the predicted escape (eps_g first below `height / 2`), NaN when `reason`;
    - `height`: eps_g at the plateau; `rate`: the escape rate `mu`;
    - `amplitude`: `|A|`, the unstable amplitude extrapolated to alpha = 0; `offset`: `tau(Ahat)`;
    - `matched_alpha`: `alpha_m`;
    - `naive_alpha`: `ln(1 / S_0) / mu` from the initial specialisation `S_0` (module docstring);
    - `excess`: the symmetric trajectory's eps_g at `alpha_m` over the plateau's, minus 1 (the
      validity condition);
    - `reason`: why there is no prediction (None when there is).
    """

    escape_alpha: float
    height: float
    rate: float
    amplitude: float
    offset: float
    matched_alpha: float
    naive_alpha: float
    excess: float
    reason: str | None = None


def specialisation_part(r: Float[ArrayLike, "... K M"]) -> np.ndarray:
    """The part of `R` with zero row and column sums (std x std): `R - row means - column means +
    mean`. For K = M = 2 its Frobenius norm is `specialisation(R) / 2`."""
    r = np.asarray(r, np.float64)
    return r - r.mean(-1, keepdims=True) - r.mean(-2, keepdims=True) + r.mean((-2, -1), keepdims=True)


def _as_blocks(ode, args, state):
    """The isotropic ODE as the one-block ODE (eigenvalue 1), which it equals exactly."""
    if isinstance(ode, EigenBlockODE):
        return ode, args, state
    block = EigenBlockODE(
        ode.activation,
        ode.student_hidden,
        ode.teacher_hidden,
        ode.student_output,
        ode.teacher_output,
        ode.train_second_layer,
    )
    t, one = jnp.asarray(args.t)[None], jnp.ones(1)
    block_args = BlockArgs(args.learning_rate, args.second_layer_rate, t, one, args.teacher_second, args.noise_std)
    return block, block_args, BlockState(jnp.asarray(state.q)[None], jnp.asarray(state.r)[None], jnp.asarray(state.v))


def _symmetrised(state: BlockState) -> BlockState:
    """The symmetric part: every block's `Q` to (mean diagonal, mean off-diagonal), `R` to its mean."""
    q, r = state.q, state.r
    k = q.shape[-1]
    diagonal = jnp.einsum("...ii->...", q) / k
    off = (q.sum((-2, -1)) - diagonal * k) / (k * (k - 1))
    eye = jnp.eye(k, dtype=q.dtype)
    q = jnp.einsum("...,ij->...ij", off, jnp.ones_like(eye)) + jnp.einsum("...,ij->...ij", diagonal - off, eye)
    return BlockState(q, jnp.broadcast_to(r.mean((-2, -1))[..., None, None], r.shape), state.v)


def _specialisation_drift(ode, state: BlockState, c: Array, args) -> Array:
    """`G c`: the drift of the specialisation `c` (L, K, M) linearised at `state`, projected on std x std."""
    tangent = BlockState(jnp.zeros_like(state.q), c, jnp.zeros_like(state.v))
    dr = jax.jvp(lambda s: ode(0.0, s, args), (state,), (tangent,))[1].r
    return dr - dr.mean(-1, keepdims=True) - dr.mean(-2, keepdims=True) + dr.mean((-2, -1), keepdims=True)


@eqx.filter_jit
def _modes(ode, fixed: BlockState, args) -> Array:
    """G at the plateau, (L, L): its action on `u_m x E0`, E0 the unit std x std matrix of the identity."""
    k = ode.student_hidden
    e0 = jnp.eye(k) - 1.0 / k
    e0 = e0 / jnp.linalg.norm(e0)
    blocks = fixed.r.shape[0]
    basis = jnp.einsum("ml,ij->mlij", jnp.eye(blocks), e0)  # (m, L, K, M)
    out = jax.vmap(lambda c: _specialisation_drift(ode, fixed, c, args))(basis)
    return jnp.einsum("mlij,ij->lm", out, e0)


@eqx.filter_jit
def _approach(ode, state0: BlockState, c0: Array, args, rate, alpha: Array):
    """The symmetric trajectory from `state0`'s symmetric part with the specialisation `c0` scaled
    by `e^(-rate alpha)` (`dc/dalpha = (G - rate) c`): `c` and the symmetric trajectory's eps_g at
    every `alpha`, and whether the solve succeeded."""

    def field(t, y, a):
        s, c = y
        s = _symmetrised(s)
        return _symmetrised(ode(t, s, a)), _specialisation_drift(ode, s, c, a) - rate * c

    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        diffrax.Tsit5(),
        alpha[0],
        alpha[-1],
        None,
        (_symmetrised(state0), c0),
        args,
        saveat=diffrax.SaveAt(ts=alpha),
        stepsize_controller=diffrax.PIDController(rtol=1e-9, atol=1e-12, pcoeff=0.4, icoeff=0.3),
        max_steps=1_000_000,
        throw=False,
    )
    eps = jax.vmap(ode.generalisation_error, in_axes=(0, None))(_symmetrised(solution.ys[0]), args)
    return solution.ys[1], eps, solution.result == diffrax.RESULTS.successful


@eqx.filter_jit
def _manifold(ode, start: BlockState, args, alpha: Array, solver):
    """eps_g along the trajectory from `start` (a point on the unstable manifold) at every `alpha`."""
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(ode),
        solver if solver is not None else diffrax.Tsit5(),
        alpha[0],
        alpha[-1],
        None,
        start,
        args,
        saveat=diffrax.SaveAt(ts=alpha),
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-14, pcoeff=0.4, icoeff=0.3),
        max_steps=1_000_000,
        throw=False,
    )
    eps = jax.vmap(ode.generalisation_error, in_axes=(0, None))(solution.ys, args)
    return eps, solution.result == diffrax.RESULTS.successful


def _no_prediction(reason: str, height=np.nan, rate=np.nan, naive=np.nan, excess=np.nan) -> EscapePrediction:
    nan = float("nan")
    return EscapePrediction(nan, float(height), float(rate), nan, nan, nan, float(naive), float(excess), reason)


def predict_escape(
    ode: SoftCommitteeODE | EigenBlockODE,
    args: SCMArgs | BlockArgs,
    state0: SCMState | BlockState,
    *,
    tolerance: float = 0.04,
    solver: diffrax.AbstractSolver | None = None,
) -> EscapePrediction:
    """The plateau's escape `alpha_escape = tau(Ahat) - ln|A| / mu` from the initial state `state0`
    (module docstring), with its validity checked. `args` must describe a symmetric teacher (as
    `symmetric_fixed_point` requires) and K = M >= 2; `solver` solves the manifold's escape (the
    stiff `Rodas4(ode.factorise)` for many blocks of widely spread eigenvalues; default Tsit5)."""
    k, m = ode.student_hidden, ode.teacher_hidden
    if k != m or k < 2:
        raise ValueError(f"predict_escape needs K = M >= 2, got K = {k}, M = {m}")
    ode, args, state0 = _as_blocks(ode, args, state0)
    try:
        fixed = symmetric_fixed_point(ode, args)
    except ValueError:
        return _no_prediction("no symmetric fixed point (Newton's method did not converge)")
    height = float(ode.generalisation_error(fixed, args))
    if not height > 0:
        return _no_prediction(f"the symmetric fixed point has eps_g = {height:.3g} <= 0: no plateau", height)
    g = np.asarray(_modes(ode, fixed, args))
    values, right = np.linalg.eig(g)
    top = int(np.argmax(values.real))
    mu = float(values[top].real)
    rbar = np.einsum("l,lkn->kn", np.asarray(args.eigenvalues), np.asarray(state0.r))  # the fields' R
    naive = float(np.log(1 / specialisation(rbar)) / mu) if mu > 0 else np.nan
    if not mu > 0:
        return _no_prediction(f"the plateau is stable against specialisation (rate {mu:.3g})", height, mu)
    entries = fixed.r.shape[0] * k * (k + 1) // 2 + fixed.r.size
    if entries > DENSE_LIMIT:  # ARPACK converges slowly on the top eigenvalue's (K - 1)^2 copies
        why = f"the plateau's Jacobian ({entries} entries, over {DENSE_LIMIT}) is too large to check its other modes"
        return _no_prediction(why, height, mu, naive)
    fastest = escape_rate(ode, fixed, args, dense_limit=DENSE_LIMIT)
    if fastest > mu * (1 + 1e-6) + 1e-12:
        why = f"a mode faster than the specialisation ({fastest:.4g} > {mu:.4g}) leaves the plateau"
        return _no_prediction(why, height, mu, naive)
    u = np.real(right[:, top])
    u = u / np.linalg.norm(u) * np.sign(u.sum())
    left_values, left = np.linalg.eig(g.T)
    w = np.real(left[:, int(np.argmax(left_values.real))])
    w = w / (w @ u)
    c0 = specialisation_part(state0.r)
    size = float(np.sqrt(np.sum(c0**2)))
    # The approach, to well past alpha_m: c scaled by e^(-mu alpha), and by 1/size.
    alpha = jnp.linspace(0.0, (np.log(MATCH / size) + 16) / mu, _SAVES)
    c, eps, ok = _approach(ode, state0, jnp.asarray(c0 / size), args, jnp.asarray(mu), alpha)
    c, eps, alpha = np.asarray(c), np.asarray(eps), np.asarray(alpha)
    linear = size * np.sqrt(np.sum(c**2, axis=(1, 2, 3))) * np.exp(mu * alpha)
    reached = np.flatnonzero(linear >= MATCH)
    if not bool(ok) or reached.size == 0:
        return _no_prediction("the linearised asymmetry does not grow to the escape", height, mu, naive)
    i = int(reached[0])
    excess = float(eps[i] / height - 1)
    if not abs(excess) <= tolerance:
        why = (
            f"the escape begins before the trajectory reaches the plateau (at alpha {alpha[i]:.4g}, where the "
            f"asymmetry reaches {MATCH:g}, eps_g is {100 * excess:+.1f} % off the plateau's: the escape would come "
            "later than predicted)"
        )
        return _no_prediction(why, height, mu, naive, excess)
    amplitude = size * np.einsum("l,lij->ij", w, c[i])
    norm = float(np.sqrt(np.sum(amplitude**2)))
    offset = _offset(ode, fixed, args, u, amplitude / norm, mu, height, solver)
    if not np.isfinite(offset):
        why = "the trajectory from the plateau along the unstable mode does not escape"
        return _no_prediction(why, height, mu, naive, excess)
    predicted = float(offset - np.log(norm) / mu)
    return EscapePrediction(predicted, height, mu, norm, offset, float(alpha[i]), naive, excess)


def _offset(ode, fixed: BlockState, args, u, direction, mu: float, height: float, solver) -> float:
    """`tau(Ahat) = alpha_E(eps) + ln(eps) / mu`: the escape along the manifold from `x* + eps u x Ahat`."""
    start = BlockState(fixed.q, fixed.r + MANIFOLD_START * jnp.einsum("l,ij->lij", u, direction), fixed.v)
    alpha = jnp.linspace(0.0, (np.log(1 / MANIFOLD_START) + 24) / mu, 4 * _SAVES)
    eps, ok = _manifold(ode, start, args, alpha, solver)
    escape = plateau_escape(np.asarray(alpha), np.asarray(eps), height)
    return float(escape + np.log(MANIFOLD_START) / mu) if bool(ok) else float("nan")
