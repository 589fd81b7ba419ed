"""The exact reduced simulation of online SGD: a Markov chain of block overlaps whose cost does not grow with N.

For Gaussian inputs whose covariance is `lambda_l` times the identity on each of L blocks of `N/L`
coordinates (`GaussianData`; L = 1, unit eigenvalue: isotropic), an online-SGD step of a two-layer
student (`scalinglaws._models`) moves its first layer along the sample,

    W' = W + (1 / sqrt(N)) a x^T,    a_k = eta c_K v_k delta g'(lambda_k),

and `a`, `delta` and the second layer's step depend on the sample only through its local fields
`(lambda, nu) = (W x, B x) / sqrt(N)`. Write `x_l` for the sample's coordinates in block `l` and
`Q_l = W P_l W^T / N`, `R_l = W P_l B^T / N`, `T_l = B P_l B^T / N` for the block overlaps. Given
them, the block fields `(W x_l, B x_l) / sqrt(N)` are independent over blocks and Gaussian with
covariance `lambda_l [[Q_l, R_l], [R_l^T, T_l]]`, and

    |x_l|^2 = lambda_l (|z_l|^2 + chi^2_{N/L - K - M}),

with `z_l` the `K + M` standard normals that make the fields and an independent chi-square for the
part of `x_l` orthogonal to the `K + M` rows (Worschech & Rosenow's block picture, arXiv 2410.09005;
for isotropic inputs the chain of the `(K + M)`-square Gram matrix). The overlaps then move as

    R_l' = R_l + a nu_l^T / N,
    Q_l' = Q_l + (a lambda_l^T + lambda_l a^T) / N + |x_l|^2 a a^T / N^2,

which is the full simulation's update of the overlaps, exactly, for every N. The chain is
simulated in float64 (the student's overlaps start at `init_std^2`, far below the teacher's) and
costs O(L (K + M)^3) per step, whatever N. The fields are drawn from the Cholesky factor of each
block's Gram matrix with the teacher first: the teacher's factor `C_l` of `T_l` is fixed, the
student's rows are `X_l = R_l C_l^{-T}` and the factor of the Schur complement `Q_l - X_l X_l^T`.
A pivot that has lost all its digits (a student row that has reached the span of the others) is
set to zero; its normal then only adds to `|x_l|^2`, which keeps the norm's law exact.
"""

import functools
from dataclasses import dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, Key

from .._activations import AbstractActivation
from .._error import generalisation_error
from .._models import LearningRates
from .._observables import Observation
from ._chi_square import chi_square
from ._kernel import advance


__all__ = [
    "ReducedContext",
    "ReducedSpec",
    "ReducedState",
    "reduced_segment",
    "teacher_factors",
]

# A pivot of the Schur complement below this fraction of the row's squared norm (Q_kk) is taken as zero.
_PIVOT_FLOOR = 1e-13


class ReducedState(eqx.Module):
    """The block overlaps of the H students of every seed (leading axes S, H), float64, and each
    seed's chunk counter (S,)."""

    q: Float[Array, "S H L K K"]
    r: Float[Array, "S H L K M"]
    second: Float[Array, "S H K"]
    counter: Array


class ReducedContext(eqx.Module):
    """Everything a seed's chain reads (leading axis S): activations, the teacher's fixed block
    overlaps `t` and their Cholesky factors and inverses, the effective second layer `c_M A`, the
    chain's key, label noise, the variants' learning rates and block eigenvalues (S, H, ...), and
    the input dimension N (traced, so that a sweep over N compiles once)."""

    student_activation: AbstractActivation
    teacher_activation: AbstractActivation
    t: Float[Array, "S L M M"]
    t_factor: Float[Array, "S L M M"]
    t_factor_inverse: Float[Array, "S L M M"]
    teacher_second: Float[Array, "S M"]
    key: Key[Array, " S"]
    noise_std: Float[Array, " S"]
    rates: LearningRates
    eigenvalues: Float[Array, "S H L"]
    input_dim: Float[Array, " S"]


@dataclass(frozen=True)
class ReducedSpec:
    """Everything static about a reduced run (hashable: it keys JAX's compilation cache). N is not
    in it: the chain reads N from its context, so one program serves every N of a sweep whose
    chi-square degrees of freedom `N / L - K - M` are in one regime (`dof_regime`)."""

    chunk_size: int
    noisy: bool
    train_second_layer: bool
    blocks: bool  # record the block overlaps (non-isotropic data)
    student_scale: float  # c_K
    hidden: int  # K
    teacher_hidden: int  # M
    dof_regime: int  # of N / L - K - M: 0, 1 or at least 2
    input_dim: int = field(compare=False)  # N, for the host only: never read while tracing


def _semidefinite_cholesky(a: Float[Array, "L D D *batch"], scale: Float[Array, "L D D *batch"]) -> Array:
    """The lower Cholesky factors of positive semi-definite matrices `a` (axes 1 and 2), column by
    column over the whole batch (D is small: this beats a LAPACK call per matrix); a pivot below
    `_PIVOT_FLOOR` of the diagonal entry of `scale` (the rows' own squared norms) gives a zero
    column: that row lies in the span of the others, to the digits left."""
    size = a.shape[1]
    lower = np.tril(np.ones((size, size), bool)).reshape(size, size, *(1,) * (a.ndim - 3))  # i >= j
    columns = []
    rest = a
    for j in range(size):
        pivot = rest[:, j, j]
        ok = pivot > _PIVOT_FLOOR * jnp.abs(scale[:, j, j])
        root = jnp.sqrt(jnp.where(ok, pivot, 1.0))
        column = jnp.where(lower[None, :, j] & ok[:, None], rest[:, :, j] / root[:, None], 0.0)
        columns.append(column)
        rest = rest - column[:, :, None] * column[:, None, :]
    return jnp.stack(columns, axis=2)


def teacher_factors(t: Float[Array, "*batch M M"]) -> tuple[Array, Array]:
    """The Cholesky factors of the teacher's block overlaps and their inverses. Raises
    `ValueError` if some block's teacher rows are linearly dependent (the chain needs them not)."""
    factor = jnp.linalg.cholesky(t)
    diagonal = jnp.diagonal(factor, axis1=-2, axis2=-1)
    if not bool(jnp.all(jnp.isfinite(factor))) or not bool(jnp.all(diagonal > 1e-6 * jnp.sqrt(jnp.max(t)))):
        raise ValueError("the teacher's rows are linearly dependent within an eigenvalue block")
    eye = jnp.broadcast_to(jnp.eye(t.shape[-1], dtype=t.dtype), t.shape)
    inverse = jax.scipy.linalg.solve_triangular(factor, eye, lower=True)
    return factor, inverse


# Inside a segment every array keeps its seed axis (and the variants') last: the chain's matrices
# are 2 x 2 to 10 x 10, and with the batch minor-most XLA vectorises over it (with the seeds first,
# as `vmap` lays them out, the chunk's steps took 2-3x longer on CPU).


def _batch_last(x):
    """`(S, H, ...)` to `(..., H, S)`."""
    return jnp.moveaxis(x, (0, 1), (-1, -2))


def _batch_first(x):
    """`(..., H, S)` to `(S, H, ...)`."""
    return jnp.moveaxis(x, (-1, -2), (0, 1))


class _Chain(eqx.Module):
    """The chains of a segment in the batch-last layout: overlaps (L, K, K, H, S), (L, K, M, H, S),
    second layer (K, H, S)."""

    q: Array
    r: Array
    second: Array


class _Fixed(eqx.Module):
    """The context in the batch-last layout: teacher factors (L, M, M, 1, S), effective teacher
    second layer (M, 1, S), noise (1, S), rates (H, S), eigenvalues (L, H, S), N (1, S)."""

    t_factor: Array
    t_factor_inverse: Array
    teacher_second: Array
    noise_std: Array
    eta: Array
    eta_v: Array
    eigenvalues: Array
    input_dim: Array


def _fixed(ctx: ReducedContext) -> _Fixed:
    """The context's arrays a step reads, in the batch-last layout."""

    def seeds_last(x):  # (S, ...) -> (..., 1, S)
        return jnp.moveaxis(x, 0, -1)[..., None, :]

    return _Fixed(
        seeds_last(ctx.t_factor),
        seeds_last(ctx.t_factor_inverse),
        seeds_last(ctx.teacher_second),
        ctx.noise_std[None, :],
        ctx.rates.first.T,
        ctx.rates.second.T,
        jnp.moveaxis(ctx.eigenvalues, (0, 1), (2, 1)),
        ctx.input_dim[None, :],
    )


def _fields(chain: _Chain, fixed: _Fixed, z_teacher, z_student):
    """Each block's student and teacher fields `(lambda_l, nu_l)` (before the eigenvalue's root),
    drawn from the block Gram matrix `[[T, R^T], [R, Q]]` by its Cholesky factor, teacher first."""
    x = jnp.sum(chain.r[:, :, None] * fixed.t_factor_inverse[:, None], axis=3)  # X = R C^{-T}
    schur = chain.q - jnp.sum(x[:, :, None] * x[:, None], axis=3)
    nu = jnp.sum(fixed.t_factor * z_teacher[:, None], axis=2)
    lam = jnp.sum(x * z_teacher[:, None], axis=2) + jnp.sum(
        _semidefinite_cholesky(schur, chain.q) * z_student[:, None], axis=2
    )
    return lam, nu


def _step(spec: ReducedSpec, ctx: ReducedContext, fixed: _Fixed, chain: _Chain, draws) -> _Chain:
    """One online-SGD step of every chain (the module docstring's update); `draws` are one step's
    normals (L, K + M, 1, S), chi-squares (L, 1, S) and label noise (1, S)."""
    z, chi, xi = draws
    m, n = spec.teacher_hidden, fixed.input_dim  # n: (1, S)
    n_blocks = n[None, None, None]  # against (L, K, ., H, S)
    root = jnp.sqrt(fixed.eigenvalues)[:, None]
    lam_l, nu_l = _fields(chain, fixed, z[:, :m], z[:, m:])
    lam_l, nu_l = root * lam_l, root * nu_l
    lam, nu = lam_l.sum(0), nu_l.sum(0)
    g = ctx.student_activation
    y = jnp.sum(ctx.teacher_activation(nu) * fixed.teacher_second, axis=0)
    if spec.noisy:
        y = y + fixed.noise_std * xi
    scaled = spec.student_scale * chain.second
    act = g(lam)
    delta = y - jnp.sum(scaled * act, axis=0)
    a = fixed.eta[None] * scaled * delta[None] * g.derivative(lam)
    norms = fixed.eigenvalues * (jnp.sum(z * z, axis=1) + chi)  # |x_l|^2
    r = chain.r + a[None, :, None] * nu_l[:, None] / n_blocks
    cross = a[None, :, None] * lam_l[:, None]
    q = (
        chain.q
        + (cross + jnp.swapaxes(cross, 1, 2)) / n_blocks
        + norms[:, None, None] * (a[:, None] * a[None])[None] / n_blocks**2
    )
    second = chain.second
    if spec.train_second_layer:
        second = second + ((fixed.eta_v / n) * spec.student_scale * delta)[None] * act
    return _Chain(q, r, second)


def _draw(spec: ReducedSpec, key, counter, input_dim, blocks: int):
    """One chunk of a seed's random numbers: the fields' normals (chunk, L, K + M), the
    chi-squares with `N / L - K - M` degrees of freedom (chunk, L) and the label noise (chunk,),
    drawn in float32."""
    kz, kc, kn = jr.split(jr.fold_in(key, counter), 3)
    size = (spec.chunk_size, blocks)
    z = jr.normal(kz, (*size, spec.hidden + spec.teacher_hidden), jnp.float32)
    dof = input_dim / blocks - (spec.hidden + spec.teacher_hidden)
    chi = chi_square(kc, dof, size, jnp.float32, regime=spec.dof_regime)
    xi = jr.normal(kn, (spec.chunk_size,), jnp.float32) if spec.noisy else jnp.zeros(spec.chunk_size, jnp.float32)
    return z, chi, xi


class _Segment(eqx.Module):
    """What a segment's loops carry: the chains and every seed's chunk counter."""

    chain: _Chain
    counter: Array  # (S,)


def _chunk(spec: ReducedSpec, ctx: ReducedContext, fixed: _Fixed, st: _Segment, active=None) -> _Segment:
    """`chunk_size` steps of every chain on fresh draws, a seed's variants sharing theirs (common
    random numbers, as the full engine's variants share their inputs); with `active`, only the
    first `active` steps take effect."""
    draw = jax.vmap(functools.partial(_draw, spec), in_axes=(0, 0, 0, None), out_axes=-1)
    z, chi, xi = draw(ctx.key, st.counter, ctx.input_dim, ctx.t.shape[1])  # (chunk, ..., S)
    dtype = st.chain.q.dtype
    draws = (z[..., None, :].astype(dtype), chi[..., None, :].astype(dtype), xi[:, None, :].astype(dtype))

    def body(chain, inputs):
        draw, i = inputs
        new = _step(spec, ctx, fixed, chain, draw)
        if active is not None:
            new = jax.tree_util.tree_map(lambda a, b: jnp.where(i < active, a, b), new, chain)
        return new, None

    chain, _ = jax.lax.scan(body, st.chain, (draws, jnp.arange(spec.chunk_size, dtype=jnp.int32)))
    return _Segment(chain, st.counter + 1)


def _observe(spec: ReducedSpec, ctx: ReducedContext, chain: _Chain) -> Observation:
    """The observables of every chain (leading axes S, H), with the label noise's `sigma^2 / 2`."""

    def one(q_blocks, r_blocks, second, eigenvalues, t, teacher_second, noise_std):
        field = functools.partial(jnp.einsum, "l,lij->ij", eigenvalues)
        eps = generalisation_error(
            ctx.student_activation,
            field(q_blocks),
            field(r_blocks),
            field(t),
            spec.student_scale * second,
            teacher_second,
        ) + 0.5 * jnp.square(noise_std)
        empty = jnp.zeros((0,), q_blocks.dtype)
        qb, rb = (q_blocks, r_blocks) if spec.blocks else (empty, empty)
        return Observation(eps, q_blocks.sum(0), r_blocks.sum(0), second, qb, rb)

    per_variant = jax.vmap(one, in_axes=(0, 0, 0, 0, None, None, None))
    q, r, second = (_batch_first(x) for x in (chain.q, chain.r, chain.second))
    observed = jax.vmap(per_variant)(q, r, second, ctx.eigenvalues, ctx.t, ctx.teacher_second, ctx.noise_std)
    return jax.tree_util.tree_map(lambda x: x.astype(jnp.float64), observed)


@functools.partial(jax.jit, static_argnames="spec", donate_argnums=0)
def reduced_segment(state: ReducedState, ctx: ReducedContext, counts, *, spec: ReducedSpec):
    """Advance every chain by `counts[p]` steps and observe, for each piece `p` (the full
    engine's `segment`, for the reduced chain). Returns the state and the observations with
    leading axes (S, pieces, H)."""
    fixed = _fixed(ctx)
    chain = _Chain(*(_batch_last(x) for x in (state.q, state.r, state.second)))

    def piece(st: _Segment, count):
        st = advance(functools.partial(_chunk, spec, ctx, fixed), spec.chunk_size, st, count)
        return st, _observe(spec, ctx, st.chain)

    st, observed = jax.lax.scan(piece, _Segment(chain, state.counter), counts)
    q, r, second = (_batch_first(x) for x in (st.chain.q, st.chain.r, st.chain.second))
    return ReducedState(q, r, second, st.counter), jax.tree_util.tree_map(lambda x: jnp.swapaxes(x, 0, 1), observed)
