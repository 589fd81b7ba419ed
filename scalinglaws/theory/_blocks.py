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

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
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
    """As `SCMArgs`, with the teacher's block overlaps `t` (L, M, M) and the `eigenvalues` (L,).

    `visible` (L,), optional: 1 for the blocks the student reads, 0 for the others, whose overlaps
    then stay fixed (a student restricted to the leading eigendirections; its weights there are 0).
    """

    learning_rate: Float[Array, ""]
    second_layer_rate: Float[Array, ""]
    t: Float[Array, "L M M"]
    eigenvalues: Float[Array, " L"]
    teacher_second: Float[Array, " M"]
    noise_std: Float[Array, ""]
    visible: Float[Array, " L"] | None = None


def _weighted(eigenvalues: Array, blocks: Array) -> Array:
    return jnp.einsum("l,l...->...", eigenvalues, blocks)


class EigenBlockODE(AbstractTwoLayerODE):
    """The eigen-resolved ODEs of the module docstring; a diffrax vector field on `BlockState`
    with `BlockArgs`. Fields as `AbstractTwoLayerODE`.

    Each block's drift depends on its own overlaps and, through the field covariances and the
    second layer, on the globals `z = (Qbar, Rbar, v)` only. So the Jacobian is block diagonal
    plus a rank `dim z` coupling, and `factorise` solves with `I - c J` in `O(L)` work: what the
    stiff solver `Rodas4` needs for `L` up to `N`.
    """

    def field_overlaps(self, state: BlockState, args: BlockArgs) -> tuple[Array, Array, Array]:
        """The field covariances `(Qbar, Rbar, Tbar)`."""
        lam = args.eigenvalues
        return _weighted(lam, state.q), _weighted(lam, state.r), _weighted(lam, args.t)

    def _globals(self, qbar: Array, rbar: Array, v: Array, args: BlockArgs) -> tuple[Array, Array]:
        """The field covariance and the effective second layers `w` for globals `(Qbar, Rbar, v)`."""
        cov = field_covariance(qbar, rbar, _weighted(args.eigenvalues, args.t))
        return cov, self._weights(BlockState(None, None, v), args)

    def _block_drift(self, q: Array, r: Array, t: Array, lam: Array, cov: Array, w: Array, eta: Array):
        """`(dq, dr)` of one block (overlaps `q` (K, K), `r` (K, M), `t` (M, M), eigenvalue `lam`)
        without the SGD-noise term, given the field covariance and `w`."""
        k = self.student_hidden
        d = jnp.diagonal(cov)
        ws = w[:k]

        def drive(c12, c23):
            """sum_c w_c I3(x_i, aux_j, u_c) for c12 = Cov(x_i, aux_j) (K, J), c23 = Cov(aux_j, u_c) (J, K + M)."""
            entries = (d[:k, None, None], c12[..., None], cov[:k, None, :], c23[None], d[None, None, :])
            return self.activation.i3_entries(*entries) @ w

        dr = -eta * ws[:, None] * drive(lam * r, lam * jnp.concatenate([r.T, t], axis=-1))
        phi = drive(lam * q, lam * jnp.concatenate([q, r], axis=-1))
        return -eta * (ws[:, None] * phi + ws[None, :] * phi.T), dr

    def _shared_drift(self, cov: Array, w: Array, v: Array, args: BlockArgs) -> tuple[Array, Array]:
        """The SGD-noise drive (K, K) (block `l` gets `eta^2 lambda_l / L` of it) and `dv/dalpha`."""
        noise = self._noise_drive(cov, w, args.noise_std)
        return noise, self._second_layer_drift(cov, w, BlockState(None, None, v), args)

    def __call__(self, alpha, state: BlockState, args: BlockArgs) -> BlockState:
        lam = args.eigenvalues
        qbar, rbar, _ = self.field_overlaps(state, args)
        cov, w = self._globals(qbar, rbar, state.v, args)
        eta = args.learning_rate
        dq, dr = jax.vmap(self._block_drift, in_axes=(0, 0, 0, 0, None, None, None))(
            state.q, state.r, args.t, lam, cov, w, eta
        )
        noise, dv = self._shared_drift(cov, w, state.v, args)
        dq = dq + eta**2 * (lam / lam.shape[0])[:, None, None] * noise[None]
        if args.visible is not None:
            dq, dr = args.visible[:, None, None] * dq, args.visible[:, None, None] * dr
        return BlockState(dq, dr, dv)

    def factorise(self, alpha, state: BlockState, args: BlockArgs, c) -> Callable[[BlockState], BlockState]:
        """`b -> (I - c J)^-1 b` for the Jacobian `J` of the drift at `state` (for `Rodas4`).

        With `s_l = (q^(l), r^(l))` flattened (d entries) and `z = (Qbar, Rbar, v) = V^T y`, the
        Jacobian is `blockdiag(D_l) + U V^T`, `D_l = d(drift_l)/d(s_l)` at fixed `z` and
        `U = d(drift)/dz`; the Woodbury identity reduces the solve to `L` solves of size d and one
        of size `dim z`.
        """
        k, m = self.student_hidden, self.teacher_hidden
        lam = args.eigenvalues
        blocks = lam.shape[0]
        eta = args.learning_rate
        nq = k * k
        dim = nq + k * m

        def split_z(z):
            return z[:nq].reshape(k, k), z[nq:dim].reshape(k, m), z[dim:]

        visible = jnp.ones_like(lam) if args.visible is None else args.visible

        def block_flat(s, t, lam_l, visible_l, z):
            cov, w = self._globals(*split_z(z), args)
            dq, dr = self._block_drift(s[:nq].reshape(k, k), s[nq:].reshape(k, m), t, lam_l, cov, w, eta)
            return visible_l * jnp.concatenate([dq.ravel(), dr.ravel()])

        def shared_flat(z):
            qbar, rbar, v = split_z(z)
            return self._shared_drift(*self._globals(qbar, rbar, v, args), v, args)

        s = jnp.concatenate([state.q.reshape(blocks, nq), state.r.reshape(blocks, k * m)], axis=1)
        qbar, rbar, _ = self.field_overlaps(state, args)
        z = jnp.concatenate([qbar.ravel(), rbar.ravel(), state.v])
        axes = (0, 0, 0, 0, None)
        diag = jax.vmap(jax.jacfwd(block_flat), in_axes=axes)(s, args.t, lam, visible, z)  # (L, d, d)
        coupling = jax.vmap(jax.jacfwd(block_flat, argnums=4), in_axes=axes)(s, args.t, lam, visible, z)
        noise_jac, v_jac = jax.jacfwd(shared_flat)(z)  # (K, K, dim z), (K, dim z)
        noise_rows = eta**2 * (visible * lam / blocks)[:, None, None] * noise_jac.reshape(nq, -1)[None]
        coupling = coupling.at[:, :nq].add(noise_rows)  # (L, d, dim z)

        eye = jnp.eye(dim, dtype=s.dtype)
        lu = jax.vmap(jsl.lu_factor)(eye[None] - c * diag)
        block_solve = jax.vmap(jsl.lu_solve)
        p = block_solve(lu, coupling)  # A^-1 U, (L, d, dim z)
        # V^T A^-1 U: the eigenvalue-weighted sum of the block rows, and the second layer's rows.
        reduced = jnp.concatenate([jnp.einsum("l,lij->ij", lam, p), v_jac])
        capacitance = jnp.eye(z.shape[0], dtype=s.dtype) - c * reduced
        cap_lu = jsl.lu_factor(capacitance)

        def solve(b: BlockState) -> BlockState:
            b_s = jnp.concatenate([b.q.reshape(blocks, nq), b.r.reshape(blocks, k * m)], axis=1)
            w_s = block_solve(lu, b_s)
            y = jsl.lu_solve(cap_lu, jnp.concatenate([lam @ w_s, b.v]))
            x_s = w_s + c * (p @ y)
            x_v = b.v + c * (v_jac @ y)
            return BlockState(x_s[:, :nq].reshape(blocks, k, k), x_s[:, nq:].reshape(blocks, k, m), x_v)

        return solve

    def generalisation_error(self, state: BlockState, args: BlockArgs) -> Float[Array, ""]:
        """`eps_g` from the field covariances (including the noise variance / 2)."""
        w = self._weights(state, args)
        k = self.student_hidden
        q, r, t = self.field_overlaps(state, args)
        return generalisation_error(self.activation, q, r, t, w[:k], -w[k:], args.noise_std)
