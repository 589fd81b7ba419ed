"""Online SGD for teacher-student two-layer networks: `jit` + `lax.scan`, vmapped over seeds and
learning rates, with observables recorded on a log-spaced grid of `alpha = steps / N`.

How a run is laid out (see `shared/PERFORMANCE.md` for the measurements behind it):

- Inputs are drawn a chunk at a time (`chunk_size` rows of `N`), then scanned over row by row;
  the teacher's labels for the whole chunk come from one matrix product. Drawing per step was
  2.4-4.5x slower on CPU.
- The time between two recording points is covered by whole chunks and, at most once, a
  partial chunk whose surplus rows are masked out. Every input is fresh (online learning).
- Runs are vmapped over seeds (sharded over the largest number of visible devices that divides `S`) and,
  within a seed, over the `H` variants of a sweep: learning rates, or input spectra. A seed draws
  one input stream, shared by all its variants (common random numbers; each spectrum rescales the
  same standard normals), so a sweep costs one draw per step instead of H. The draws bound the
  speed on CPU, so an H-point sweep runs several times faster than H runs. Learning rates and
  spectra are traced inputs, so a sweep with new values does not recompile.
- A random-feature student's features are frozen and equal for all variants of a seed, so a chunk's
  features `g(X F^T / sqrt(N))` come from one matrix product, and the scan updates only the
  readout: the cost per step is that of the product, at matrix-multiply speed.
- The host drives the run in a few dozen segments (one compiled call each) to report progress
  and detect divergence; each segment scans over many steps inside `jit`.
"""

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from .._data import GaussianData
from .._error import generalisation_error
from .._models import RandomFeatureModel, TwoLayerNetwork
from .._sharding import shard_leading_axis
from ..theory._random_features import network_feature_statistics
from ._grid import log_time_grid
from ._sgd import LearningRates, readout_step, sgd_step


__all__ = ["Simulation", "auto_chunk_size", "initial_networks", "simulate"]

_PIECES_PER_CALL = 8
_PIECES_PER_RUN = 64
_TEST_SET_STREAM = 0xFFFFFFFF  # fold_in index of the Monte Carlo test set; seeds use 0, 1, ...


@dataclass(frozen=True)
class Simulation:
    """The recorded observables of a simulation (NumPy arrays, float64 order parameters).

    Axes: `H` variants (learning rates or spectra), `S` seeds, `T` recording times, `L`
    eigen-blocks (the finest partition among the variants' spectra).

    - `steps`, `alpha`: `(T,)` recording times (`alpha = steps / N`).
    - `learning_rates`, `second_layer_rates`: `(H,)`.
    - `eigenvalues`: `(H, L)` each variant's eigenvalue on every block of the recording partition.
    - `eps_g`: `(H, S, T)` generalisation error.
    - `q`, `r`: `(H, S, T, K, K)`, `(H, S, T, K, M)` overlaps `W W^T / N`, `W B^T / N` (for a
      random-feature student, whose first layer is frozen, `(H, S, T, 0, 0)`).
    - `t`: `(S, M, M)` teacher overlaps `B B^T / N`; `t_field`: `(H, S, M, M)` their field
      covariances `B Sigma B^T / N` under each variant's spectrum.
    - `second_layer`: `(H, S, T, K)` student second layer `v` (not the effective `c_K v`), or
      `None` when it is not trained; for a random-feature student, its readout `a`.
    - `teacher_second_layer`: `(S, M)` teacher second layer `A`.
    - `q_blocks`, `r_blocks`: `(H, S, T, L, K, K)`, `(H, S, T, L, K, M)` eigen-block overlaps,
      `t_blocks`: `(S, L, M, M)`; `None` for isotropic data.
    - `diverged_alpha`: `(H, S)` the first recorded `alpha` at which a run was found diverged
      (non-finite, or `max_k Q_kk` above the threshold), NaN where it did not diverge. Records
      after divergence are NaN.
    - `eps_g_method`: `"closed_form"` (float64, from the order parameters) or `"monte_carlo"`
      (a fixed test set of `test_size` inputs).
    - `feature_statistics`: for a random-feature student with closed-form `I2`, `(C, b, tau)` of
      every variant and seed, `(H, S, K, K)`, `(H, S, K)`, `(H, S)` (`theory.feature_statistics`
      under the variant's spectrum); else `None`.
    - `compile_seconds`, `run_seconds`: compilation and steady-state wall time.
    """

    steps: np.ndarray
    alpha: np.ndarray
    learning_rates: np.ndarray
    second_layer_rates: np.ndarray
    eigenvalues: np.ndarray
    eps_g: np.ndarray
    q: np.ndarray
    r: np.ndarray
    t: np.ndarray
    t_field: np.ndarray
    second_layer: np.ndarray | None
    teacher_second_layer: np.ndarray
    q_blocks: np.ndarray | None
    r_blocks: np.ndarray | None
    t_blocks: np.ndarray | None
    diverged_alpha: np.ndarray
    eps_g_method: str
    feature_statistics: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    compile_seconds: float
    run_seconds: float

    @property
    def diverged(self) -> bool:
        return bool(np.any(np.isfinite(self.diverged_alpha)))


class _State(eqx.Module):
    student: TwoLayerNetwork
    counter: Array


class _Variants(eqx.Module):
    """Per-variant inputs of one seed, each with a leading axis H."""

    rates: LearningRates
    input_scale: Array  # (H, N): standard deviation of every input coordinate
    field_eigenvalues: Array  # (H, L): eigenvalue of every recorded block
    t_field: Array  # (H, M, M)
    y_test: Array  # (H, test_size)
    features: tuple[Array, Array, Array]  # random features' (C, b, tau): (H, K, K), (H, K), (H,); else empty


class _Context(eqx.Module):
    """Everything a seed's runs read: its teacher, its input stream, and its variants."""

    teacher: TwoLayerNetwork
    data_key: PRNGKeyArray
    noise_std: Array
    variants: _Variants


class _Observation(eqx.Module):
    eps_g: Array
    q: Array
    r: Array
    second: Array
    q_blocks: Array
    r_blocks: Array


def _pieces(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split the intervals of the recording grid so that no piece exceeds 1/64 of the run."""
    total = int(grid[-1])
    largest = max(1, math.ceil(total / _PIECES_PER_RUN))
    lengths, records = [0], [True]
    for gap in np.diff(grid):
        parts = max(1, math.ceil(int(gap) / largest))
        base, extra = divmod(int(gap), parts)
        sizes = [base + (i < extra) for i in range(parts)]
        lengths.extend(sizes)
        records.extend([False] * (parts - 1) + [True])
    pad = -len(lengths) % _PIECES_PER_CALL
    lengths.extend([0] * pad)
    records.extend([False] * pad)
    return np.asarray(lengths, np.int32), np.asarray(records, bool)


def auto_chunk_size(batch: int, input_dim: int, itemsize: int) -> int:
    """A power of two in [4, 256] such that `batch * chunk * input_dim * itemsize` is about 2 MB."""
    target = 2**21 / max(batch * input_dim * itemsize, 1)
    return int(2 ** np.clip(np.floor(np.log2(max(target, 1.0))), 2, 8))


@dataclass(frozen=True)
class _Spec:
    """Everything static about a run's compiled kernel (hashable: it keys JAX's compilation cache)."""

    chunk_size: int
    noisy: bool
    train_second_layer: bool
    blocks: bool
    closed_form: bool
    shared_inputs: bool  # every variant sees the same spectrum, hence the very same inputs
    input_dim: int
    unit_scale: bool  # isotropic inputs: the standard normals are the inputs, no rescaling


def _scaled(teacher: TwoLayerNetwork, scale) -> TwoLayerNetwork:
    """The teacher acting on `x * scale`: a diagonal rescaling of the inputs folded into its first
    layer (M x N numbers, against chunk x N for rescaling the inputs)."""
    return eqx.tree_at(lambda m: m.first, teacher, teacher.first * scale[None, :])


def _draw(spec: _Spec, ctx: _Context, counter):
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


def _first(tree):
    return jtu.tree_map(lambda x: x[0] if eqx.is_array(x) else x, tree)


def _chunk(spec: _Spec, ctx: _Context, st: _State, active=None) -> _State:
    """`chunk_size` SGD steps of every variant on fresh inputs; with `active`, only the first
    `active` take effect.

    The scan runs over the chunk's standard normals and every variant rescales the row inside its
    step, where the product fuses into the step's reads: storing the `(H, chunk, N)` rescaled
    inputs of a spectrum sweep and scanning over them was 1.7x slower (H = 9, N = 1024)."""
    z, ys = _draw(spec, ctx, st.counter)
    scale = ctx.variants.input_scale.astype(z.dtype)
    if isinstance(st.student, RandomFeatureModel):
        # Frozen features, the same for every variant of the seed: one product for the chunk.
        features = _first(st.student)
        if spec.shared_inputs:
            xs = features.features_of(z * scale[0][None, :])  # (chunk, K)
            step = jax.vmap(readout_step, in_axes=(0, None, None, 0))
        else:
            xs = jax.vmap(lambda s: features.features_of(z * s[None, :]), out_axes=1)(scale)  # (chunk, H, K)
            step = jax.vmap(readout_step)
    else:
        xs = z
        rule = functools.partial(sgd_step, train_second_layer=spec.train_second_layer)
        y_axis = None if spec.shared_inputs else 0
        if spec.unit_scale:
            step = jax.vmap(rule, in_axes=(0, None, y_axis, 0))
        else:
            scaled_step = jax.vmap(lambda w, x, y, r, s: rule(w, x * s, y, r), in_axes=(0, None, y_axis, 0, 0))

            def step(students, x, y, rates):
                return scaled_step(students, x, y, rates, scale)

    def body(students, inputs):
        x, y, i = inputs
        new = step(students, x, y, ctx.variants.rates)
        if active is not None:
            new = jtu.tree_map(lambda a, b: jnp.where(i < active, a, b), new, students)
        return new, None

    students, _ = jax.lax.scan(body, st.student, (xs, ys, jnp.arange(spec.chunk_size, dtype=jnp.int32)))
    return _State(students, st.counter + 1)


def _advance(spec: _Spec, ctx: _Context, st: _State, count) -> _State:
    whole = count // spec.chunk_size
    st = jax.lax.fori_loop(0, whole, lambda _, s: _chunk(spec, ctx, s), st)
    rest = count - whole * spec.chunk_size
    return jax.lax.cond(rest > 0, lambda s: _chunk(spec, ctx, s, rest), lambda s: s, st)


def _observe_one(
    spec: _Spec, recording: GaussianData, teacher: TwoLayerNetwork, noise_std, variant: _Variants, student, z_test
) -> _Observation:
    """The observables of one variant's student (`variant` without its H axis)."""
    n = spec.input_dim
    if isinstance(student, RandomFeatureModel):
        readout = student.readout.astype(jnp.float64)
        if spec.closed_form:
            c, b, tau = variant.features
            u = student.scale * readout
            eps = 0.5 * (u @ c @ u - 2 * u @ b + tau)
        else:
            x_test = z_test * variant.input_scale.astype(z_test.dtype)[None, :]
            diff = (student(x_test) - variant.y_test).astype(jnp.float64)
            eps = 0.5 * jnp.mean(diff * diff)
        empty = jnp.zeros((0, 0), jnp.float64)
        none = jnp.zeros((0,), jnp.float64)
        return _Observation(eps + 0.5 * jnp.square(noise_std), empty, empty, readout, none, none)
    w = student.first.astype(jnp.float64)
    b = teacher.first.astype(jnp.float64)
    if spec.blocks:
        qb, rb = recording.block_overlaps(w, w), recording.block_overlaps(w, b)
        q, r = qb.sum(0), rb.sum(0)
        eigen = variant.field_eigenvalues
        q_field, r_field = jnp.einsum("l,lij->ij", eigen, qb), jnp.einsum("l,lij->ij", eigen, rb)
    else:
        qb = rb = jnp.zeros((0,), jnp.float64)
        q, r = w @ w.T / n, w @ b.T / n
        q_field, r_field = q, r
    if spec.closed_form:
        eps = generalisation_error(
            student.activation,
            q_field,
            r_field,
            variant.t_field,
            student.effective_second_layer().astype(jnp.float64),
            teacher.effective_second_layer().astype(jnp.float64),
        )
    else:
        x_test = z_test * variant.input_scale.astype(z_test.dtype)[None, :]
        diff = (student(x_test) - variant.y_test).astype(jnp.float64)
        eps = 0.5 * jnp.mean(diff * diff)
    return _Observation(eps + 0.5 * jnp.square(noise_std), q, r, student.second.astype(jnp.float64), qb, rb)


@functools.partial(jax.jit, static_argnames="spec", donate_argnums=0)
def _segment(state: _State, ctx: _Context, recording: GaussianData, z_test, counts, *, spec: _Spec):
    """Advance every run by `counts[p]` steps and observe, for each piece `p`; vmapped over seeds,
    each seed's H variants sharing its inputs."""

    def one_seed(st: _State, c: _Context):
        observe = jax.vmap(
            functools.partial(_observe_one, spec, recording, c.teacher, c.noise_std), in_axes=(0, 0, None)
        )

        def piece(s, count):
            s = _advance(spec, c, s, count)
            return s, observe(c.variants, s.student, z_test)

        return jax.lax.scan(piece, st, counts)

    return jax.vmap(one_seed)(state, ctx)


def initial_networks(
    make_teacher: Callable[[PRNGKeyArray], TwoLayerNetwork],
    make_student: Callable[[PRNGKeyArray], TwoLayerNetwork],
    seeds: int,
    seed_offset: int = 0,
    *,
    key: PRNGKeyArray,
):
    """The teachers, initial students and data keys of seeds `seed_offset ... seed_offset + seeds - 1`,
    batched along a leading axis, exactly as `simulate` draws them.

    A theory started from these networks' order parameters follows the very runs `simulate` makes.
    """
    seed_keys = jax.vmap(lambda s: jr.fold_in(key, s))(seed_offset + jnp.arange(seeds))

    @eqx.filter_vmap
    def init(seed_key):
        kt, ks, kd = jr.split(seed_key, 3)
        return make_teacher(kt), make_student(ks), kd

    return init(seed_keys)


def _feature_statistics(students: RandomFeatureModel, teachers: TwoLayerNetwork, input_scale):
    """`(C, b, tau)` of every seed's features under every variant's spectrum, `(S, H, ...)`, float64."""

    def one(student, teacher):
        variance = jnp.square(input_scale.astype(jnp.float64))
        return jax.vmap(lambda v: network_feature_statistics(student, teacher, v))(variance)

    return jax.jit(jax.vmap(one))(students, teachers)


def _recording_partition(datas: list[GaussianData]) -> GaussianData:
    """The finest block partition among the spectra (each must refine into it), for recording."""
    finest = max(d.distinct for d in datas)
    for d in datas:
        if finest % d.distinct:
            raise ValueError(
                f"the spectra's numbers of distinct eigenvalues must each divide the largest ({finest}), "
                f"got {[d.distinct for d in datas]}"
            )
    return GaussianData(np.ones(finest), datas[0].input_dim)


def simulate(
    data: GaussianData | Sequence[GaussianData],
    make_teacher: Callable[[PRNGKeyArray], TwoLayerNetwork],
    make_student: Callable[[PRNGKeyArray], TwoLayerNetwork],
    *,
    learning_rates: ArrayLike,
    second_layer_rates: ArrayLike | None = None,
    train_second_layer: bool = False,
    noise_std: float = 0.0,
    seeds: int,
    seed_offset: int = 0,
    alpha_max: float,
    points_per_decade: int = 20,
    alpha_min: float = 0.01,
    chunk_size: int | None = None,
    test_size: int = 10_000,
    divergence_threshold: float = 1e6,
    stop_on_divergence: bool = False,
    progress: Callable[[int, int], None] | None = None,
    key: PRNGKeyArray,
) -> Simulation:
    """Train `seeds` students on fresh samples of their teachers by online SGD, for each variant.

    **Arguments:**

    - `data`: the input distribution, or a sequence of H of them (a sweep over spectra of one
      input dimension, whose numbers of distinct eigenvalues each divide the largest).
    - `make_teacher`, `make_student`: functions of a PRNG key returning a network (the student a
      `TwoLayerNetwork` or a `RandomFeatureModel`); they are vmapped over seeds, so they must be
      traceable. The student's dtype sets the simulation's.
    - `learning_rates`: `eta` values, shape `(H,)` (a scalar is one value). With several spectra,
      one value or one per spectrum.
    - `second_layer_rates`: `eta_v` values, shape `(H,)`; default `learning_rates`.
    - `train_second_layer`: whether `v` is trained.
    - `noise_std`: standard deviation of Gaussian noise added to the teacher's labels.
    - `seeds`: `S`, the number of independent runs per variant.
    - `seed_offset`: the first seed's index; seed `s` of this call is seed `seed_offset + s`, so
      runs split over several calls reproduce one call's runs exactly.
    - `alpha_max`, `points_per_decade`, `alpha_min`: the recording grid (`log_time_grid`).
    - `chunk_size`: inputs drawn at once per seed; `None` picks a power of two that keeps one
      draw for the whole batch near 2 MB (larger draws were slower on CPU).
    - `test_size`: size of the fixed Monte Carlo test set, used only when the activations have no
      closed-form `I2` (or student and teacher activations differ).
    - `divergence_threshold`: a run has diverged when `max_k Q_kk` or `eps_g` exceeds it.
    - `stop_on_divergence`: stop at the first segment in which any run diverged (the records from
      there on are NaN); by default the runs go on until every one has diverged.
    - `progress`: called as `progress(steps_done, steps_total)` after each segment.
    - `key`: the PRNG key; seed `s` uses `fold_in(key, seed_offset + s)`.

    **Returns:** a `Simulation`.
    """
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    datas = [data] if isinstance(data, GaussianData) else list(data)
    if not datas or len({d.input_dim for d in datas}) != 1:
        raise ValueError("data must be one GaussianData or a non-empty sequence of them with one input_dim")
    lrs = np.atleast_1d(np.asarray(learning_rates, np.float64))
    lrs_v = lrs if second_layer_rates is None else np.atleast_1d(np.asarray(second_layer_rates, np.float64))
    if lrs.ndim != 1 or lrs_v.shape != lrs.shape:
        raise ValueError(
            f"learning_rates and second_layer_rates must be vectors of one length, got {lrs.shape}, {lrs_v.shape}"
        )
    n_variants = max(lrs.size, len(datas))
    if {lrs.size, len(datas)} - {1, n_variants}:
        raise ValueError(f"got {lrs.size} learning rates for {len(datas)} spectra: give one, or one per spectrum")
    lrs, lrs_v = np.broadcast_to(lrs, n_variants).copy(), np.broadcast_to(lrs_v, n_variants).copy()
    datas = datas * n_variants if len(datas) == 1 else datas
    n = datas[0].input_dim
    recording = _recording_partition(datas)
    field_eigenvalues = np.stack([d.refined_eigenvalues(recording.distinct) for d in datas])  # (H, L)
    input_scale = jnp.asarray(np.sqrt(np.stack([np.asarray(d.diagonal()) for d in datas])))  # (H, N)
    shared_inputs = bool(np.all(field_eigenvalues == field_eigenvalues[:1]))
    grid = log_time_grid(n, alpha_max, points_per_decade, alpha_min)
    lengths, records = _pieces(grid)

    teachers, students, data_keys = initial_networks(make_teacher, make_student, seeds, seed_offset, key=key)
    one_student, one_teacher = _first(students), _first(teachers)
    random_features = isinstance(one_student, RandomFeatureModel)
    dtype = (one_student.features if random_features else one_student.first).dtype
    if one_teacher.input_dim != n or one_student.input_dim != n:
        raise ValueError("teacher and student input dimensions must equal data.input_dim")
    activation = one_student.activation
    closed_form = activation == one_teacher.activation and "i2" in activation.closed_forms
    blocks = not random_features and not all(d.identity for d in datas)

    b64_all = teachers.first.astype(jnp.float64)
    t_plain = jnp.einsum("smn,skn->smk", b64_all, b64_all) / n
    t_blocks = jax.vmap(lambda b: recording.block_overlaps(b, b))(b64_all)  # (S, L, M, M)
    t_field = jnp.einsum("hl,slmk->shmk", jnp.asarray(field_eigenvalues), t_blocks)  # (S, H, M, M)
    if closed_form:
        z_test = jnp.zeros((0, n), dtype)
        y_test = jnp.zeros((seeds, n_variants, 0), dtype)
    else:
        z_test = jr.normal(jr.fold_in(key, _TEST_SET_STREAM), (test_size, n), dtype)
        x_tests = z_test[None] * input_scale.astype(dtype)[:, None, :]  # (H, test_size, N)
        y_test = jax.vmap(lambda t: jax.vmap(t)(x_tests))(teachers)  # (S, H, test_size)
    if random_features and closed_form:
        features = _feature_statistics(students, teachers, input_scale)
    else:
        features = (
            jnp.zeros((seeds, n_variants, 0, 0)),
            jnp.zeros((seeds, n_variants, 0)),
            jnp.zeros((seeds, n_variants)),
        )

    def per_variant(x):
        if not eqx.is_array(x):
            return x
        return jnp.broadcast_to(x[:, None], (x.shape[0], n_variants, *x.shape[1:]))

    batch = n_variants * seeds
    if chunk_size is None:
        per_draw = seeds if shared_inputs else batch
        chunk_size = auto_chunk_size(per_draw, n, jnp.dtype(dtype).itemsize)
    state = _State(jtu.tree_map(per_variant, students), jnp.zeros(seeds, jnp.int32))
    rates = LearningRates(
        jnp.broadcast_to(jnp.asarray(lrs), (seeds, n_variants)),
        jnp.broadcast_to(jnp.asarray(lrs_v), (seeds, n_variants)),
    )
    variants = _Variants(
        rates,
        jnp.broadcast_to(input_scale, (seeds, *input_scale.shape)),
        jnp.broadcast_to(jnp.asarray(field_eigenvalues), (seeds, *field_eigenvalues.shape)),
        t_field,
        y_test,
        features,
    )
    context = _Context(teachers, data_keys, jnp.full(seeds, float(noise_std), jnp.float64), variants)
    state, context = shard_leading_axis((state, context))
    unit_scale = all(d.identity for d in datas)
    spec = _Spec(
        chunk_size, float(noise_std) > 0, train_second_layer, blocks, closed_form, shared_inputs, n, unit_scale
    )

    # Compile (or fetch from JAX's cache: a new learning rate does not recompile) with an empty
    # segment, which leaves the state as it is.
    calls = lengths.reshape(-1, _PIECES_PER_CALL)
    start = time.perf_counter()
    state, _ = _segment(state, context, recording, z_test, jnp.zeros(_PIECES_PER_CALL, jnp.int32), spec=spec)
    jax.block_until_ready(state)
    compile_seconds = time.perf_counter() - start

    total = int(grid[-1])
    done = 0
    observations = []
    diverged_at = np.full(batch, np.nan)  # over (H, S), flattened
    start = time.perf_counter()
    for index, counts in enumerate(calls):
        state, obs = _segment(state, context, recording, z_test, jnp.asarray(counts), spec=spec)
        # (S, pieces, H, ...) -> (H * S, pieces, ...)
        obs = jtu.tree_map(lambda x: np.moveaxis(np.asarray(x), 2, 0).reshape(batch, *x.shape[1:2], *x.shape[3:]), obs)
        ends = done + np.cumsum(counts)
        done = int(ends[-1])
        bad = ~np.isfinite(obs.eps_g) | ~np.all(np.isfinite(obs.q.reshape(*obs.q.shape[:2], -1)), axis=-1)
        bad |= np.max(np.diagonal(obs.q, axis1=-2, axis2=-1), axis=-1, initial=-np.inf) > divergence_threshold
        bad |= obs.eps_g > divergence_threshold
        for b in np.flatnonzero(bad.any(axis=1) & np.isnan(diverged_at)):
            diverged_at[b] = ends[np.argmax(bad[b])] / n
        observations.append(obs)
        if progress is not None:
            progress(done, total)
        stop = np.any(np.isfinite(diverged_at)) if stop_on_divergence else np.all(np.isfinite(diverged_at))
        if stop and index + 1 < len(calls):
            filler = jtu.tree_map(lambda x: np.full_like(x, np.nan, dtype=np.float64), obs)
            observations.extend([filler] * (len(calls) - index - 1))
            break
    run_seconds = time.perf_counter() - start

    obs = jtu.tree_map(lambda *xs: np.concatenate(xs, axis=1)[:, records], *observations)
    steps_at = np.cumsum(lengths)[records]
    for b in np.flatnonzero(np.isfinite(diverged_at)):
        after = steps_at / n >= diverged_at[b]
        for field in (obs.eps_g, obs.q, obs.r, obs.second, obs.q_blocks, obs.r_blocks):
            if field.size:
                field[b, after] = np.nan

    def shaped(x):
        return x.reshape(n_variants, seeds, *x.shape[1:])

    return Simulation(
        steps=grid,
        alpha=grid / n,
        learning_rates=lrs,
        second_layer_rates=lrs_v,
        eigenvalues=field_eigenvalues,
        eps_g=shaped(obs.eps_g),
        q=shaped(obs.q),
        r=shaped(obs.r),
        t=np.asarray(t_plain),
        t_field=np.moveaxis(np.asarray(t_field), 1, 0),
        second_layer=shaped(obs.second) if train_second_layer or random_features else None,
        teacher_second_layer=np.asarray(teachers.second, np.float64),
        q_blocks=shaped(obs.q_blocks) if blocks else None,
        r_blocks=shaped(obs.r_blocks) if blocks else None,
        t_blocks=np.asarray(t_blocks) if blocks else None,
        diverged_alpha=diverged_at.reshape(n_variants, seeds),
        eps_g_method="closed_form" if closed_form else "monte_carlo",
        feature_statistics=(
            tuple(np.moveaxis(np.asarray(x), 1, 0) for x in features) if random_features and closed_form else None
        ),
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
    )
