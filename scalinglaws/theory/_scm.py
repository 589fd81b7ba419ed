"""Order-parameter ODEs of online SGD in two-layer networks (Saad & Solla 1995; Goldt et al. 2019).

Student `c_K sum_i v_i g(x_i)`, teacher `c_M sum_n A_n g(y_n)`, isotropic Gaussian inputs,
`alpha = steps / N`, `N -> infinity`. Write all K + M local fields as `u = (x_1..x_K, y_1..y_M)`
with covariance `C = [[Q, R], [R^T, T]]`, and the effective second layers as one vector
`w = (c_K v, -c_M A)`, so that the error signal is `delta = -sum_c w_c g(u_c)`. Then
(Goldt et al., arXiv 1906.08632; checked against SGD in `tests/test_theory_scm.py`):

    dR_in/dalpha = -eta w_i sum_c w_c I3(i, n, c)
    dQ_ik/dalpha = -eta w_i sum_c w_c I3(i, k, c) - eta w_k sum_c w_c I3(k, i, c)
                   + eta^2 w_i w_k [ sum_{c,d} w_c w_d I4(i, k, c, d) + sigma^2 J2(i, k) ]
    dv_i/dalpha  = -eta_v c_K sum_c w_c I2(i, c)          (second layer trained)

with `I2, I3, I4, J2` the activation's Gaussian integrals over the named fields (so
`I3(i, n, c) = E[g'(x_i) y_n g(u_c)]`) and `sigma` the label-noise standard deviation. T is
constant. The generalisation error is `scalinglaws.generalisation_error` of `(Q, R, T)`.

Cost: the `I4` term has `K^2 (K+M)^2` entries; it is symmetric under `i <-> k` and `c <-> d`, so
only `i <= k`, `c <= d` are evaluated (a factor of about 4 fewer arcsines).
"""

import abc
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._activations import AbstractActivation
from .._error import field_covariance, generalisation_error, pairwise_i2
from .._models import output_scale
from ._driver import solve_ode


__all__ = ["AbstractTwoLayerODE", "SCMArgs", "SCMState", "SoftCommitteeODE", "solve_soft_committee"]


class SCMState(eqx.Module):
    """`q` (K, K), `r` (K, M), `v` (K,): the order parameters and the student's second layer."""

    q: Float[ArrayLike, "*batch K K"]
    r: Float[ArrayLike, "*batch K M"]
    v: Float[ArrayLike, "*batch K"]


class SCMArgs(eqx.Module):
    """Parameters of the ODE; all are traced, so they can be swept (vmap) and differentiated.

    `learning_rate` eta, `second_layer_rate` eta_v, `t` the teacher overlaps (M, M),
    `teacher_second` the teacher's second layer A (M,), `noise_std` sigma.
    """

    learning_rate: Float[ArrayLike, " *batch"]
    second_layer_rate: Float[ArrayLike, " *batch"]
    t: Float[ArrayLike, "*batch M M"]
    teacher_second: Float[ArrayLike, "*batch M"]
    noise_std: Float[ArrayLike, " *batch"]


@functools.lru_cache(maxsize=64)
def _indices(k: int, m: int):
    """Static index pairs into the K + M fields (students first): `i <= k` over students, `c <= d`
    over all fields, and the multiplicity (1 or 2) of each `(c, d)` in the full double sum."""
    n = k + m
    ik = np.stack(np.triu_indices(k), -1)  # (P, 2), i <= k
    cd = np.stack(np.triu_indices(n), -1)  # (R, 2), c <= d
    multiplicity = np.where(cd[:, 0] == cd[:, 1], 1.0, 2.0)
    return ik, cd, multiplicity


def _i3_entries(cov: Array, k: int, middle: np.ndarray) -> tuple[Array, ...]:
    """Entries `(C_ii, C_ij, C_ic, C_jc, C_cc)` of `I3(i, j, c)` for students `i < k`, the fields `j`
    in `middle` and every field `c`, broadcastable to `(k, len(middle), K + M)`."""
    d = jnp.diagonal(cov)
    return (
        d[:k, None, None],
        cov[:k, middle][:, :, None],
        cov[:k, None, :],
        cov[middle][None, :, :],
        d[None, None, :],
    )


def _i4_entries(cov: Array, ik: np.ndarray, cd: np.ndarray) -> tuple[Array, ...]:
    """The ten distinct covariance entries of the fields (i, k, c, d) for the pairs `ik` (P, 2) and
    `cd` (R, 2), broadcastable to (P, R): `(C_ii, C_ik, C_ic, C_id, C_kk, C_kc, C_kd, C_cc, C_cd, C_dd)`.

    Row and column slices instead of a gather of 4x4 blocks: XLA fuses them into the integral
    (assembling the blocks was the costliest part of the ODE).
    """
    d = jnp.diagonal(cov)
    i, k, c, e = ik[:, 0], ik[:, 1], cd[:, 0], cd[:, 1]
    rows_i, rows_k = cov[i], cov[k]
    return (
        d[i][:, None],
        cov[i, k][:, None],
        rows_i[:, c],
        rows_i[:, e],
        d[k][:, None],
        rows_k[:, c],
        rows_k[:, e],
        d[c][None, :],
        cov[c, e][None, :],
        d[e][None, :],
    )


class AbstractTwoLayerODE(eqx.Module):
    """Shared parts of the order-parameter ODEs of two-layer networks (isotropic and eigen-resolved).

    Final subclasses are diffrax vector fields, `ode(alpha, state, args)`, with the fields:

    - `activation`: shared by student and teacher; needs closed-form `I2`, `I3`, `I4`, `J2`
      (erf, linear).
    - `student_hidden`, `teacher_hidden`: K and M.
    - `student_output`, `teacher_output`: output scalings (`sum`, `mean`, `sqrt`).
    - `train_second_layer`: whether `v` evolves.
    """

    activation: eqx.AbstractVar[AbstractActivation]
    student_hidden: eqx.AbstractVar[int]
    teacher_hidden: eqx.AbstractVar[int]
    student_output: eqx.AbstractVar[str]
    teacher_output: eqx.AbstractVar[str]
    train_second_layer: eqx.AbstractVar[bool]

    @abc.abstractmethod
    def __call__(self, alpha, state, args):
        """The drift of the state."""

    @abc.abstractmethod
    def generalisation_error(self, state, args) -> Float[Array, ""]:
        """`eps_g` of a state (including the noise variance / 2)."""

    def __check_init__(self):
        missing = {"i2", "i3", "i4", "j2"} - self.activation.closed_forms
        if missing:
            raise ValueError(
                f"the ODE needs closed-form I2, I3, I4, J2; activation {self.activation.name!r} lacks "
                f"{', '.join(sorted(missing))} (use erf or linear)"
            )
        if self.student_hidden < 1 or self.teacher_hidden < 1:
            raise ValueError("student_hidden and teacher_hidden must be >= 1")

    def _weights(self, v: Array, args) -> Array:
        """`w = (c_K v, -c_M A)`: the effective second layers, teacher negated."""
        cs = output_scale(self.student_output, self.student_hidden)
        ct = output_scale(self.teacher_output, self.teacher_hidden)
        return jnp.concatenate([cs * v, -ct * args.teacher_second])

    def _noise_drive(self, cov: Array, w: Array, noise_std) -> Array:
        """`w_i w_k [sum_{c,d} w_c w_d I4(i, k, c, d) + sigma^2 J2(i, k)]`, (K, K): the SGD-noise term."""
        k = self.student_hidden
        g = self.activation
        ik, cd, multiplicity = _indices(k, self.teacher_hidden)
        pair_weights = multiplicity * w[cd[:, 0]] * w[cd[:, 1]]
        i4_sum = g.i4_entries(*_i4_entries(cov, ik, cd)) @ pair_weights  # (P,), i <= k
        j2 = g.j2(cov[ik[:, :, None], ik[:, None, :]])  # (P,) over the 2x2 blocks of (i, k)
        upper = w[ik[:, 0]] * w[ik[:, 1]] * (i4_sum + jnp.square(noise_std) * j2)
        full = jnp.zeros((k, k), cov.dtype).at[ik[:, 0], ik[:, 1]].set(upper)
        return full + jnp.triu(full, 1).T

    def _second_layer_drift(self, cov: Array, w: Array, v: Array, args) -> Array:
        if not self.train_second_layer:
            return jnp.zeros_like(v)
        k = self.student_hidden
        cs = output_scale(self.student_output, k)
        return -args.second_layer_rate * cs * (pairwise_i2(self.activation, cov)[:k] @ w)


class SoftCommitteeODE(AbstractTwoLayerODE):
    """The Saad-Solla/Goldt ODEs (module docstring) for K student and M teacher units, isotropic inputs.

    Call it as a diffrax vector field, `ode(alpha, state, args)` with an `SCMState` and `SCMArgs`;
    the fields are those of `AbstractTwoLayerODE`.
    """

    activation: AbstractActivation
    student_hidden: int = eqx.field(static=True)
    teacher_hidden: int = eqx.field(static=True)
    student_output: str = eqx.field(static=True, default="sum")
    teacher_output: str = eqx.field(static=True, default="sum")
    train_second_layer: bool = eqx.field(static=True, default=False)

    def __call__(self, alpha, state: SCMState, args: SCMArgs) -> SCMState:
        k, m = self.student_hidden, self.teacher_hidden
        g = self.activation
        cov = field_covariance(state.q, state.r, args.t)
        w = self._weights(state.v, args)
        ws = w[:k]
        eta = args.learning_rate

        drive_r = g.i3_entries(*_i3_entries(cov, k, k + np.arange(m))) @ w  # (K, M): sum_c w_c I3(i, n, c)
        dr = -eta * ws[:, None] * drive_r

        drive_q = g.i3_entries(*_i3_entries(cov, k, np.arange(k))) @ w  # (K, K): sum_c w_c I3(i, k, c)
        first = -eta * (ws[:, None] * drive_q + ws[None, :] * drive_q.T)
        dq = first + eta**2 * self._noise_drive(cov, w, args.noise_std)
        return SCMState(dq, dr, self._second_layer_drift(cov, w, state.v, args))

    def generalisation_error(self, state: SCMState, args: SCMArgs) -> Float[Array, ""]:
        """`eps_g` of a state (including the noise variance / 2)."""
        w = self._weights(state.v, args)
        k = self.student_hidden
        return generalisation_error(self.activation, state.q, state.r, args.t, w[:k], -w[k:], args.noise_std)


@eqx.filter_jit
def solve_soft_committee(
    ode: AbstractTwoLayerODE,
    state0,
    args,
    alpha: Float[Array, " T"],
    *,
    rtol: float = 1e-8,
    atol: float = 1e-11,
    max_steps: int = 200_000,
    blowup: float | None = None,
    solver=None,
):
    """Solve the ODE from `state0` and evaluate eps_g on the grid `alpha` (`solve_ode` for the options).

    **Returns:** `(solution, eps_g)`: the `ODESolution` (states with a leading time axis) and
    eps_g of shape `(T,)`. `jax.vmap` it over states and args for seeds and learning-rate sweeps;
    it is differentiable with respect to `state0` and `args`.
    """
    solution = solve_ode(
        ode, state0, args, alpha, rtol=rtol, atol=atol, max_steps=max_steps, blowup=blowup, solver=solver
    )
    eps = jax.vmap(ode.generalisation_error, in_axes=(0, None))(solution.ys, args)
    return solution, eps
