"""Eigen-resolved order-parameter ODEs for Gaussian inputs with L distinct eigenvalues.

Data `x ~ N(0, Sigma)` with `Sigma` made of `L` blocks of `N/L` equal eigenvalues `lambda_l`
(`scalinglaws.GaussianData`; Worschech & Rosenow, arXiv 2410.09005). With `P_l` the projector on
block `l`, the state is the block overlaps

    q^(l)_ik = J_i P_l J_k / N,   r^(l)_in = J_i P_l B_n / N,   t^(l)_nm = B_n P_l B_m / N (constant),

and the local fields have covariances `Qbar = sum_l lambda_l q^(l)` (likewise `Rbar`, `Tbar`).
Projecting the SGD update on `P_l` introduces the auxiliary fields `B_n P_l x / sqrt(N)` and
`J_k P_l x / sqrt(N)`, whose covariances with the local fields are `lambda_l` times block overlaps;
`I3` does not depend on the variance of its middle argument, so the hierarchy closes
(`shared/theory/rosenow.md` section 2.4, derived there and checked here against SGD):

    dr^(l)_in/dalpha = -eta w_i sum_c w_c I3(x_i, u^(l)_n, u_c)
        with Cov(x_i, u^(l)_n) = lambda_l r^(l)_in, Cov(u^(l)_n, u_c) = lambda_l [r^(l)T | t^(l)]_nc
    dq^(l)_ik/dalpha = -eta [w_i sum_c w_c I3(x_i, w^(l)_k, u_c) + (i <-> k)]
                       + eta^2 (lambda_l / L) w_i w_k [sum_{c,d} w_c w_d I4(i, k, c, d) + sigma^2 J2(i, k)]
        with Cov(x_i, w^(l)_k) = lambda_l q^(l)_ik, Cov(w^(l)_k, u_c) = lambda_l [q^(l) | r^(l)]_kc

(`x_P_l x / N -> lambda_l / L` gives the factor of the SGD-noise term). The effective second layers
`w`, the integrals and eps_g are those of `SoftCommitteeODE`, evaluated on the field covariances;
`L = 1`, `lambda_1 = 1` is exactly the isotropic ODE (tested).

Stiffness: the block rates scale with `eta lambda_l`, so large `L` with a steep spectrum is stiff.
"""

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._error import field_covariance, generalisation_error
from ._scm import AbstractTwoLayerODE


__all__ = ["BlockArgs", "BlockState", "EigenBlockODE"]


class BlockState(NamedTuple):
    """`q` (L, K, K), `r` (L, K, M): block overlaps; `v` (K,): the student's second layer."""

    q: Float[Array, "L K K"]
    r: Float[Array, "L K M"]
    v: Float[Array, " K"]


class BlockArgs(NamedTuple):
    """As `SCMArgs`, with the teacher's block overlaps `t` (L, M, M) and the `eigenvalues` (L,)."""

    learning_rate: Float[Array, ""]
    second_layer_rate: Float[Array, ""]
    t: Float[Array, "L M M"]
    eigenvalues: Float[Array, " L"]
    teacher_second: Float[Array, " M"]
    noise_std: Float[Array, ""]


def _weighted(eigenvalues: Array, blocks: Array) -> Array:
    return jnp.einsum("l,l...->...", eigenvalues, blocks)


class EigenBlockODE(AbstractTwoLayerODE):
    """The eigen-resolved ODEs of the module docstring; a diffrax vector field on `BlockState`
    with `BlockArgs`. Fields as `AbstractTwoLayerODE`."""

    def field_overlaps(self, state: BlockState, args: BlockArgs) -> tuple[Array, Array, Array]:
        """The field covariances `(Qbar, Rbar, Tbar)`."""
        lam = args.eigenvalues
        return _weighted(lam, state.q), _weighted(lam, state.r), _weighted(lam, args.t)

    def __call__(self, alpha, state: BlockState, args: BlockArgs) -> BlockState:
        k = self.student_hidden
        g = self.activation
        lam = args.eigenvalues
        blocks = lam.shape[0]
        cov = field_covariance(*self.field_overlaps(state, args))
        d = jnp.diagonal(cov)
        w = self._weights(state, args)
        ws = w[:k]
        eta = args.learning_rate
        scale = lam[:, None, None]

        def drive(c12, c23):
            """sum_c w_c I3(x_i, aux_j, u_c) for c12 = Cov(x_i, aux_j) (L, K, J), c23 (L, J, K + M)."""
            entries = (
                d[None, :k, None, None],
                c12[..., None],
                cov[None, :k, None, :],
                c23[:, None],
                d[None, None, None, :],
            )
            return g.i3_entries(*entries) @ w

        teacher_aux = jnp.concatenate([jnp.swapaxes(state.r, 1, 2), args.t], axis=-1)  # (L, M, K + M)
        dr = -eta * ws[None, :, None] * drive(scale * state.r, scale * teacher_aux)

        student_aux = jnp.concatenate([state.q, state.r], axis=-1)  # (L, K, K + M)
        phi = drive(scale * state.q, scale * student_aux)
        first = -eta * (ws[None, :, None] * phi + ws[None, None, :] * jnp.swapaxes(phi, 1, 2))
        noise = self._noise_drive(cov, w, args.noise_std)
        dq = first + eta**2 * (lam / blocks)[:, None, None] * noise[None]
        return BlockState(dq, dr, self._second_layer_drift(cov, w, state, args))

    def generalisation_error(self, state: BlockState, args: BlockArgs) -> Float[Array, ""]:
        """`eps_g` from the field covariances (including the noise variance / 2)."""
        w = self._weights(state, args)
        k = self.student_hidden
        q, r, t = self.field_overlaps(state, args)
        return generalisation_error(self.activation, q, r, t, w[:k], -w[k:], args.noise_std)
