"""Eigen-resolved order-parameter ODEs for Gaussian inputs with L distinct eigenvalues.

Data `x ~ N(0, Sigma)` with `Sigma` made of `L` blocks of `N/L` equal eigenvalues `lambda_l`
(`scalinglaws.GaussianData`; Worschech & Rosenow, arXiv 2410.09005). With `P_l` the projector on
block `l`, the state is the block overlaps

    q^(l)_ik = J_i P_l J_k / N,   r^(l)_in = J_i P_l B_n / N,   t^(l)_nm = B_n P_l B_m / N (constant),

and the local fields have covariances `Qbar = sum_l lambda_l q^(l)` (likewise `Rbar`, `Tbar`).
Projecting the SGD update on `P_l` introduces the auxiliary fields `B_n P_l x / sqrt(N)` and
`J_k P_l x / sqrt(N)`, whose covariances with the local fields are `lambda_l` times block overlaps;
`I3` does not depend on the variance of its middle argument, so the hierarchy closes
(derived here; checked against SGD in `tests/test_theory_blocks.py`):

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

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jaxtyping import Array, ArrayLike, Float

from .._activations import AbstractActivation
from .._error import field_covariance, generalisation_error
from ._linalg import small_inverse
from ._scm import AbstractTwoLayerODE


__all__ = ["BlockArgs", "BlockState", "EigenBlockODE"]


class BlockState(eqx.Module):
    """`q` (L, K, K), `r` (L, K, M): block overlaps; `v` (K,): the student's second layer."""

    q: Float[ArrayLike, "*batch L K K"]
    r: Float[ArrayLike, "*batch L K M"]
    v: Float[ArrayLike, "*batch K"]


class BlockArgs(eqx.Module):
    """As `SCMArgs`, with the teacher's block overlaps `t` (L, M, M) and the `eigenvalues` (L,).

    `visible` (L,), optional: 1 for the blocks the student reads, 0 for the others, whose overlaps
    then stay fixed (a student restricted to the leading eigendirections; its weights there are 0).
    """

    learning_rate: Float[ArrayLike, " *batch"]
    second_layer_rate: Float[ArrayLike, " *batch"]
    t: Float[ArrayLike, "*batch L M M"]
    eigenvalues: Float[ArrayLike, "*batch L"]
    teacher_second: Float[ArrayLike, "*batch M"]
    noise_std: Float[ArrayLike, " *batch"]
    visible: Float[ArrayLike, "*batch L"] | None = None


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

    activation: AbstractActivation
    student_hidden: int = eqx.field(static=True)
    teacher_hidden: int = eqx.field(static=True)
    student_output: str = eqx.field(static=True, default="sum")
    teacher_output: str = eqx.field(static=True, default="sum")
    train_second_layer: bool = eqx.field(static=True, default=False)

    def field_overlaps(self, state: BlockState, args: BlockArgs) -> tuple[Array, Array, Array]:
        """The field covariances `(Qbar, Rbar, Tbar)`."""
        lam = args.eigenvalues
        return _weighted(lam, state.q), _weighted(lam, state.r), _weighted(lam, args.t)

    def _globals(self, qbar: Array, rbar: Array, v: Array, args: BlockArgs) -> tuple[Array, Array]:
        """The field covariance and the effective second layers `w` for globals `(Qbar, Rbar, v)`."""
        cov = field_covariance(qbar, rbar, _weighted(args.eigenvalues, args.t))
        return cov, self._weights(v, args)

    def _i3_coefficients(self, cov: Array, w: Array) -> tuple[Array, Array]:
        """`I3(x_i, aux, u_c)` is linear in `C12 = Cov(x_i, aux)` and `C23 = Cov(aux, u_c)` for every
        activation (Stein's lemma: `E[g'(u_1) u_2 g(u_3)] = C12 E[g''(u_1) g(u_3)] + C23 E[g'(u_1) g'(u_3)]`),
        with coefficients that depend on the global field covariance only. Returns `a` (K, K + M),
        `w_c` times the coefficient of `C23`, and `b` (K,), the `w`-weighted sum of those of `C12`."""
        k = self.student_hidden
        d = jnp.diagonal(cov)
        c11, c13, c33 = d[:k, None], cov[:k, :], d[None, :]
        one, zero = jnp.ones((), cov.dtype), jnp.zeros((), cov.dtype)
        a = self.activation.i3_entries(c11, zero, c13, one, c33)
        b = self.activation.i3_entries(c11, one, c13, zero, c33)
        return a * w[None, :], b @ w

    def _block_drift(self, q: Array, r: Array, t: Array, lam: Array, cov: Array, w: Array, eta: Array):
        """`(dq, dr)` of blocks with overlaps `q` (..., K, K), `r` (..., K, M), `t` (..., M, M) and
        eigenvalues `lam` (...), without the SGD-noise term, given the field covariance and `w`.

        With `I3` linear in the block covariances (`_i3_coefficients`), the drives
        `sum_c w_c I3(x_i, aux_j, u_c)` are `lam_l (b_i c12_ij + sum_c a_ic c23_jc)`: a few matrix
        products per block, and one evaluation of the integrals for all blocks.
        """
        k = self.student_hidden
        ws = w[:k]
        a, b = self._i3_coefficients(cov, w)
        a_s, a_t = a[:, :k], a[:, k:]
        lam = lam[..., None, None]

        def rows(x, y):  # x_i y_i. (row scaling, for one block or a stack of them)
            return jnp.einsum("i,...ij->...ij", x, y)

        def transpose(x):
            return jnp.swapaxes(x, -1, -2)

        drive_r = lam * (rows(b, r) + a_s @ r + a_t @ transpose(t))
        drive_q = lam * (rows(b, q) + a_s @ transpose(q) + a_t @ transpose(r))
        dq = -eta * (rows(ws, drive_q) + transpose(rows(ws, drive_q)))
        return dq, -eta * rows(ws, drive_r)

    def _shared_drift(self, cov: Array, w: Array, v: Array, args: BlockArgs) -> tuple[Array, Array]:
        """The SGD-noise drive (K, K) (block `l` gets `eta^2 lambda_l / L` of it) and `dv/dalpha`."""
        noise = self._noise_drive(cov, w, args.noise_std)
        return noise, self._second_layer_drift(cov, w, v, args)

    def __call__(self, alpha, state: BlockState, args: BlockArgs) -> BlockState:
        lam = args.eigenvalues
        qbar, rbar, _ = self.field_overlaps(state, args)
        cov, w = self._globals(qbar, rbar, state.v, args)
        eta = args.learning_rate
        dq, dr = self._block_drift(state.q, state.r, args.t, lam, cov, w, eta)
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
        # A block's drift is lam_l times a map linear in its own overlaps whose coefficients depend on
        # z only (`_block_drift`), so D_l = visible_l lam_l D with one D for all blocks.
        unit = jnp.ones((), s.dtype)
        diag = jnp.einsum("l,ij->lij", visible * lam, jax.jacfwd(block_flat)(s[0], args.t[0], unit, unit, z))
        coupling = jax.vmap(jax.jacfwd(block_flat, argnums=4), in_axes=axes)(s, args.t, lam, visible, z)
        noise_jac, v_jac = jax.jacfwd(shared_flat)(z)  # (K, K, dim z), (K, dim z)
        noise_rows = eta**2 * (visible * lam / blocks)[:, None, None] * noise_jac.reshape(nq, -1)[None]
        coupling = coupling.at[:, :nq].add(noise_rows)  # (L, d, dim z)

        inverse = small_inverse(jnp.eye(dim, dtype=s.dtype)[None] - c * diag)  # A^-1, (L, d, d)
        p = inverse @ coupling  # A^-1 U, (L, d, dim z)
        # V^T A^-1 U: the eigenvalue-weighted sum of the block rows, and the second layer's rows.
        reduced = jnp.concatenate([jnp.einsum("l,lij->ij", lam, p), v_jac])
        capacitance = jnp.eye(z.shape[0], dtype=s.dtype) - c * reduced
        cap_lu = jsl.lu_factor(capacitance)

        def solve(b: BlockState) -> BlockState:
            b_s = jnp.concatenate([b.q.reshape(blocks, nq), b.r.reshape(blocks, k * m)], axis=1)
            w_s = jnp.einsum("lij,lj->li", inverse, b_s)
            y = jsl.lu_solve(cap_lu, jnp.concatenate([lam @ w_s, b.v]))
            x_s = w_s + c * (p @ y)
            x_v = b.v + c * (v_jac @ y)
            return BlockState(x_s[:, :nq].reshape(blocks, k, k), x_s[:, nq:].reshape(blocks, k, m), x_v)

        return solve

    def generalisation_error(self, state: BlockState, args: BlockArgs) -> Float[Array, ""]:
        """`eps_g` from the field covariances (including the noise variance / 2)."""
        w = self._weights(state.v, args)
        k = self.student_hidden
        q, r, t = self.field_overlaps(state, args)
        return generalisation_error(self.activation, q, r, t, w[:k], -w[k:], args.noise_std)
