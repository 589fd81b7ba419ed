"""The compiled kernel of online SGD: draw a chunk of inputs, step every variant through it, observe.

Inputs are drawn a chunk at a time (`chunk_size` rows of `N`) and scanned over row by row; the
teacher's labels for the whole chunk come from one matrix product. A seed draws one input stream,
shared by all its H variants (common random numbers; each spectrum rescales the same standard
normals), so a sweep costs one draw per step instead of H. How a chunk is stepped through is the
student's (`AbstractStudent.chunk_rule`); what is recorded is its `observe`. Learning rates and
spectra are traced inputs, so a sweep with new values does not recompile.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
from jaxtyping import Array, Key

from .._data import GaussianData
from .._models import AbstractStudent, LearningRates, TwoLayerNetwork
from .._observables import Observation, Probe


__all__ = ["Context", "KernelSpec", "State", "Variants", "advance", "first", "segment"]


class State(eqx.Module):
    """The H students of every seed (leading axes S, H) and each seed's chunk counter (S,)."""

    student: AbstractStudent
    counter: Array


class Variants(eqx.Module):
    """Per-variant inputs of one seed, each with a leading axis H."""

    rates: LearningRates
    input_scale: Array  # (H, N): standard deviation of every input coordinate
    field_eigenvalues: Array  # (H, L): eigenvalue of every recorded block
    t_field: Array  # (H, M, M)
    y_test: Array  # (H, test_size)
    features: tuple[Array, Array, Array]  # random features' (C, b, tau): (H, K, K), (H, K), (H,); else empty


class Context(eqx.Module):
    """Everything a seed's runs read: its teacher, its input stream, and its variants."""

    teacher: TwoLayerNetwork
    data_key: Key[Array, " S"]  # one key per seed
    noise_std: Array
    variants: Variants


@dataclass(frozen=True)
class KernelSpec:
    """Everything static about a run's compiled kernel (hashable: it keys JAX's compilation cache)."""

    chunk_size: int
    noisy: bool
    train_second_layer: bool
    blocks: bool
    closed_form: bool
    shared_inputs: bool  # every variant sees the same spectrum, hence the very same inputs
    input_dim: int
    unit_scale: bool  # isotropic inputs: the standard normals are the inputs, no rescaling


def first(tree):
    """The first entry along the leading axis of every array of `tree`."""
    return jtu.tree_map(lambda x: x[0] if eqx.is_array(x) else x, tree)


def _scaled(teacher: TwoLayerNetwork, scale) -> TwoLayerNetwork:
    """The teacher acting on `x * scale`: a diagonal rescaling of the inputs folded into its first
    layer (M x N numbers, against chunk x N for rescaling the inputs)."""
    return eqx.tree_at(lambda m: m.first, teacher, teacher.first * scale[None, :])


def _draw(spec: KernelSpec, ctx: Context, counter):
    """One chunk of a seed's standard normals `z`, `(chunk, N)`, and the teacher's labels on the
    variants' inputs `x = z * scale_h`: `(chunk,)` when the variants share their spectrum, else
    `(chunk, H)`. The labels come from the teacher with first layer `B * scale_h` acting on `z`,
    so the rescaled inputs are never stored."""
    kx, kn = jr.split(jr.fold_in(ctx.data_key, counter))
    dtype = ctx.teacher.first.dtype
    z = jr.normal(kx, (spec.chunk_size, spec.input_dim), dtype)
    scale = ctx.variants.input_scale.astype(dtype)
    if spec.shared_inputs:
        ys = _scaled(ctx.teacher, scale[0])(z)
    else:
        ys = jax.vmap(lambda s: _scaled(ctx.teacher, s)(z), out_axes=1)(scale)
    if spec.noisy:
        noise = ctx.noise_std.astype(dtype) * jr.normal(kn, (spec.chunk_size,), dtype)
        ys = ys + (noise if spec.shared_inputs else noise[:, None])
    return z, ys


def _chunk(spec: KernelSpec, ctx: Context, st: State, active=None) -> State:
    """`chunk_size` SGD steps of every variant on fresh inputs; with `active`, only the first
    `active` take effect."""
    z, ys = _draw(spec, ctx, st.counter)
    scale = ctx.variants.input_scale.astype(z.dtype)
    xs, step = first(st.student).chunk_rule(
        z,
        scale,
        shared_inputs=spec.shared_inputs,
        unit_scale=spec.unit_scale,
        train_second_layer=spec.train_second_layer,
    )

    def body(students, inputs):
        x, y, i = inputs
        new = step(students, x, y, ctx.variants.rates)
        if active is not None:
            new = jtu.tree_map(lambda a, b: jnp.where(i < active, a, b), new, students)
        return new, None

    students, _ = jax.lax.scan(body, st.student, (xs, ys, jnp.arange(spec.chunk_size, dtype=jnp.int32)))
    return State(students, st.counter + 1)


def advance(chunk: Callable, chunk_size: int, st, count):
    """`count` steps of `st`: whole chunks (`chunk(st)`), then at most one partial chunk whose
    surplus steps are masked out (`chunk(st, active)`)."""
    whole = count // chunk_size
    st = jax.lax.fori_loop(0, whole, lambda _, s: chunk(s), st)
    rest = count - whole * chunk_size
    return jax.lax.cond(rest > 0, lambda s: chunk(s, rest), lambda s: s, st)


def _observe(spec: KernelSpec, partition: GaussianData, z_test, ctx: Context, students) -> Observation:
    """The observables of a seed's H students (leading axis H), with the label noise's `sigma^2 / 2`."""

    def one(variant: Variants, student: AbstractStudent) -> Observation:
        probe = Probe(
            partition,
            z_test,
            variant.input_scale,
            variant.y_test,
            variant.field_eigenvalues,
            variant.t_field,
            variant.features,
            blocks=spec.blocks,
            closed_form=spec.closed_form,
        )
        observed = student.observe(ctx.teacher, probe)
        return eqx.tree_at(lambda o: o.eps_g, observed, observed.eps_g + 0.5 * jnp.square(ctx.noise_std))

    return jax.vmap(one)(ctx.variants, students)


@functools.partial(jax.jit, static_argnames="spec", donate_argnums=0)
def segment(state: State, ctx: Context, partition: GaussianData, z_test, counts, *, spec: KernelSpec):
    """Advance every run by `counts[p]` steps and observe, for each piece `p`; vmapped over seeds,
    each seed's H variants sharing its inputs."""

    def one_seed(st: State, c: Context):
        def piece(s, count):
            s = advance(functools.partial(_chunk, spec, c), spec.chunk_size, s, count)
            return s, _observe(spec, partition, z_test, c, s.student)

        return jax.lax.scan(piece, st, counts)

    return jax.vmap(one_seed)(state, ctx)
