"""Online SGD for teacher-student networks: `jit` + `lax.scan`, vmapped over seeds and the variants
of a sweep, with observables recorded on a log-spaced grid of `alpha = steps / N`.

How a run is laid out (`benchmarks/sgd_throughput.py` and `benchmarks/sweeps.py` measure it):

- `_schedule` cuts the recording grid into pieces and the pieces into chunks of inputs;
- `_kernel` is the compiled segment: draw a chunk, step every variant through it (the student's
  `chunk_rule`), observe (the student's `observe`);
- this module prepares the batch and drives the host loop: a few dozen segments (one compiled
  call each) to report progress and detect divergence.

Runs are vmapped over seeds (sharded over the largest number of visible devices that divides `S`) and,
within a seed, over the `H` variants of a sweep: learning rates, or input spectra. The draws bound
the speed on CPU, so an H-point sweep runs several times faster than H runs.
"""

import functools
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

from .._data import GaussianData
from .._jax_config import require_float64
from .._models import AbstractStudent, LearningRates, TwoLayerNetwork
from .._sharding import shard_leading_axis
from ._batch import Batch, recording_partition, teacher_overlaps
from ._grid import log_time_grid
from ._kernel import Context, KernelSpec, State, Variants, first, segment
from ._loop import host_loop, records_of
from ._reduced_prepare import prepare_reduced
from ._schedule import auto_chunk_size, pieces


__all__ = ["Simulation", "auto_chunk_size", "initial_networks", "simulate"]

_TEST_SET_STREAM = 0xFFFFFFFF  # fold_in index of the Monte Carlo test set; seeds use 0, 1, ...


class Simulation(eqx.Module):
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


def _feature_statistics(students: AbstractStudent, teachers: TwoLayerNetwork, input_scale):
    """Every variant's student's `feature_statistics` (students with leading axes S, H) under the
    variant's spectrum, `(S, H, ...)`, float64."""

    def one(student, teacher):
        variance = jnp.square(input_scale.astype(jnp.float64))
        return jax.vmap(lambda s, v: s.feature_statistics(teacher, v))(student, variance)

    return jax.jit(jax.vmap(one))(students, teachers)


def _variant_axis(data, learning_rates, second_layer_rates) -> tuple[list[GaussianData], np.ndarray, np.ndarray]:
    """Each variant's spectrum, `eta` and `eta_v` (H of each), broadcast from the arguments."""
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
    return datas * n_variants if len(datas) == 1 else datas, lrs, lrs_v


def _test_set(teachers, input_scale, seeds: int, variants: int, closed_form: bool, test_size: int, dtype, key):
    """The Monte Carlo test set's standard normals (P, N) and every seed's and variant's labels
    (S, H, P); empty when eps_g has a closed form."""
    n = input_scale.shape[-1]
    if closed_form:
        return jnp.zeros((0, n), dtype), jnp.zeros((seeds, variants, 0), dtype)
    z_test = jr.normal(jr.fold_in(key, _TEST_SET_STREAM), (test_size, n), dtype)
    x_tests = z_test[None] * input_scale.astype(dtype)[:, None, :]  # (H, test_size, N)
    return z_test, jax.vmap(lambda t: jax.vmap(t)(x_tests))(teachers)


def _features(students, teachers, input_scale, needed: bool):
    """The students' `feature_statistics` (S, H, ...) when `needed`, else empty arrays."""
    if needed:
        return _feature_statistics(students, teachers, input_scale)
    seeds, variants = teachers.first.shape[0], input_scale.shape[0]
    return jnp.zeros((seeds, variants, 0, 0)), jnp.zeros((seeds, variants, 0)), jnp.zeros((seeds, variants))


def _kernel_variants(lrs, lrs_v, input_scale, field_eigenvalues, t_field, y_test, features) -> Variants:
    """Every seed's per-variant inputs (leading axes S, H)."""
    seeds, variants = t_field.shape[:2]

    def per_seed(x):
        x = jnp.asarray(x)
        return jnp.broadcast_to(x, (seeds, *x.shape))

    rates = LearningRates(per_seed(lrs), per_seed(lrs_v))
    return Variants(rates, per_seed(input_scale), per_seed(field_eigenvalues), t_field, y_test, features)


def _per_variant(students, variants: int):
    """Every seed's student repeated for its H variants: leading axes (S, H)."""

    def repeat(x):
        if not eqx.is_array(x):
            return x
        return jnp.broadcast_to(x[:, None], (x.shape[0], variants, *x.shape[1:]))

    return jtu.tree_map(repeat, students)


def simulate(
    data: GaussianData | Sequence[GaussianData],
    make_teacher: Callable[[PRNGKeyArray], TwoLayerNetwork],
    make_student: Callable[[PRNGKeyArray], AbstractStudent],
    *,
    learning_rates: ArrayLike | Sequence[float],
    second_layer_rates: ArrayLike | Sequence[float] | None = None,
    train_second_layer: bool = False,
    noise_std: float = 0.0,
    seeds: int,
    seed_offset: int = 0,
    alpha_max: float | None = None,
    points_per_decade: int = 20,
    alpha_min: float = 0.01,
    grid: np.ndarray | None = None,
    chunk_size: int | None = None,
    test_size: int = 10_000,
    divergence_threshold: float = 1e6,
    stop_on_divergence: bool = False,
    progress: Callable[[int, int], None] | None = None,
    method: str = "full",
    second_layer_scale: ArrayLike | None = None,
    key: PRNGKeyArray,
) -> Simulation:
    """Train `seeds` students on fresh samples of their teachers by online SGD, for each variant.

    **Arguments:**

    - `data`: the input distribution, or a sequence of H of them (a sweep over spectra of one
      input dimension, whose numbers of distinct eigenvalues each divide the largest).
    - `make_teacher`, `make_student`: functions of a PRNG key returning a network (the student any
      `AbstractStudent`: a `TwoLayerNetwork` or a `RandomFeatureModel`); they are vmapped over seeds,
      so they must be traceable. The student's dtype sets the simulation's.
    - `learning_rates`: `eta` values, shape `(H,)` (a scalar is one value). With several spectra,
      one value or one per spectrum.
    - `second_layer_rates`: `eta_v` values, shape `(H,)`; default `learning_rates`.
    - `train_second_layer`: whether `v` is trained.
    - `noise_std`: standard deviation of Gaussian noise added to the teacher's labels.
    - `seeds`: `S`, the number of independent runs per variant.
    - `seed_offset`: the first seed's index; seed `s` of this call is seed `seed_offset + s`, so
      runs split over several calls reproduce one call's runs exactly.
    - `alpha_max`, `points_per_decade`, `alpha_min`: the recording grid (`log_time_grid`); or
    - `grid`: the recording grid's step counts themselves (increasing, from 0).
    - `chunk_size`: inputs drawn at once per seed; `None` picks a power of two that keeps one
      draw for the whole batch near 2 MB (larger draws were slower on CPU).
    - `test_size`: size of the fixed Monte Carlo test set, used only when the activations have no
      closed-form `I2` (or student and teacher activations differ).
    - `divergence_threshold`: a run has diverged when `max_k Q_kk` or `eps_g` exceeds it.
    - `stop_on_divergence`: stop at the first segment in which any run diverged (the records from
      there on are NaN); by default the runs go on until every one has diverged.
    - `progress`: called as `progress(steps_done, steps_total)` after each segment.
    - `method`: `"full"` trains the networks on drawn inputs; `"reduced"` runs the exact chain of
      the block overlaps from the same networks (`scalinglaws.simulate._reduced`: the same law,
      other draws, a cost per step that does not grow with N; `why_not_reduced` says where it applies).
    - `second_layer_scale`: `(H, K)`, each variant's student second layer multiplied by it (the
      full engine only): padded widths, 0 on a variant's inert units (`Setup.second_layer_scale`).
    - `key`: the PRNG key; seed `s` uses `fold_in(key, seed_offset + s)`.

    **Returns:** a `Simulation`.
    """
    require_float64("recording a simulation's observables")
    _check_arguments(seeds, chunk_size, method, second_layer_scale)
    datas, lrs, lrs_v = _variant_axis(data, learning_rates, second_layer_rates)
    if grid is None:
        if alpha_max is None:
            raise ValueError("give alpha_max or grid")
        grid = log_time_grid(datas[0].input_dim, alpha_max, points_per_decade, alpha_min)
    grid = np.asarray(grid)
    networks = initial_networks(make_teacher, make_student, seeds, seed_offset, key=key)
    prepare = (
        functools.partial(_prepare, second_layer_scale=second_layer_scale) if method == "full" else prepare_reduced
    )
    batch = prepare(datas, lrs, lrs_v, networks, chunk_size, test_size, noise_std, train_second_layer, key)
    lengths, records = pieces(grid)
    observations, diverged_at, compile_seconds, run_seconds = host_loop(
        batch, lengths, divergence_threshold, stop_on_divergence, progress
    )
    obs = records_of(observations, lengths, records, diverged_at, batch.spec.input_dim)
    return _simulation(batch, obs, grid, lrs, lrs_v, diverged_at, compile_seconds, run_seconds)


def _check_arguments(seeds: int, chunk_size: int | None, method: str, second_layer_scale) -> None:
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if method not in ("full", "reduced") or (method == "reduced" and second_layer_scale is not None):
        raise ValueError(f"method must be 'full' or 'reduced' (without second_layer_scale), got {method!r}")


def _prepare(
    datas, lrs, lrs_v, networks, chunk_size, test_size, noise_std, train_second_layer, key, second_layer_scale=None
) -> Batch:
    """The batch of runs of `networks` (teachers, students, data keys; leading axis S) over the
    variants' spectra and learning rates (and second-layer scales), placed on the devices."""
    teachers, students, data_keys = networks
    n_variants, n = lrs.size, datas[0].input_dim
    seeds = teachers.first.shape[0]
    partition = recording_partition(datas)
    field_eigenvalues = np.stack([d.refined_eigenvalues(partition.distinct) for d in datas])  # (H, L)
    input_scale = jnp.asarray(np.sqrt(np.stack([np.asarray(d.diagonal()) for d in datas])))  # (H, N)
    shared_inputs = bool(np.all(field_eigenvalues == field_eigenvalues[:1]))
    one_student, one_teacher = first(students), first(teachers)
    if one_teacher.input_dim != n or one_student.input_dim != n:
        raise ValueError("teacher and student input dimensions must equal data.input_dim")
    dtype = jtu.tree_leaves(one_student)[0].dtype
    closed_form = one_student.activation == one_teacher.activation and "i2" in one_student.activation.closed_forms
    overlaps = one_student.first_layer_trained  # else frozen features: no overlaps to record
    blocks = overlaps and not all(d.identity for d in datas)
    t_plain, t_blocks, t_field = teacher_overlaps(teachers, partition, field_eigenvalues)
    z_test, y_test = _test_set(teachers, input_scale, seeds, n_variants, closed_form, test_size, dtype, key)
    needs_features = closed_form and not overlaps  # a frozen-feature model's closed-form eps_g
    per_variant = _per_variant(students, n_variants)
    if second_layer_scale is not None:  # (H, K): padded widths
        per_variant = eqx.filter_vmap(eqx.filter_vmap(lambda s, c: s.pad(c)), in_axes=(0, None))(
            per_variant, jnp.asarray(second_layer_scale)
        )
    features = _features(per_variant, teachers, input_scale, needs_features)
    if chunk_size is None:
        per_draw = seeds if shared_inputs else n_variants * seeds
        chunk_size = auto_chunk_size(per_draw, n, jnp.dtype(dtype).itemsize)
    variants = _kernel_variants(lrs, lrs_v, input_scale, field_eigenvalues, t_field, y_test, features)
    state = State(per_variant, jnp.zeros(seeds, jnp.int32))
    context = Context(teachers, data_keys, jnp.full(seeds, float(noise_std), jnp.float64), variants)
    state, context = shard_leading_axis((state, context), across_processes=True)
    unit_scale = all(d.identity for d in datas)
    noisy = float(noise_std) > 0
    spec = KernelSpec(chunk_size, noisy, train_second_layer, blocks, closed_form, shared_inputs, n, unit_scale)
    return Batch(
        state,
        context,
        spec,
        segment,
        (partition, z_test),
        field_eigenvalues,
        (t_plain, t_blocks, t_field),
        features if needs_features else None,
        train_second_layer or not overlaps,
        np.asarray(teachers.second, np.float64),
        closed_form,
    )


def _simulation(batch: Batch, obs, grid, lrs, lrs_v, diverged_at, compile_seconds, run_seconds) -> Simulation:
    """The `Simulation` of a batch's records (over H * S runs)."""
    n_variants, n = lrs.size, batch.spec.input_dim
    t_plain, t_blocks, t_field = batch.teacher_overlaps
    blocks, features = batch.spec.blocks, batch.features
    seeds = diverged_at.size // n_variants

    def shaped(x):
        return x.reshape(n_variants, seeds, *x.shape[1:])

    return Simulation(
        steps=grid,
        alpha=grid / n,
        learning_rates=lrs,
        second_layer_rates=lrs_v,
        eigenvalues=batch.field_eigenvalues,
        eps_g=shaped(obs.eps_g),
        q=shaped(obs.q),
        r=shaped(obs.r),
        t=np.asarray(t_plain),
        t_field=np.moveaxis(np.asarray(t_field), 1, 0),
        second_layer=shaped(obs.second) if batch.records_second else None,
        teacher_second_layer=batch.teacher_second_layer,
        q_blocks=shaped(obs.q_blocks) if blocks else None,
        r_blocks=shaped(obs.r_blocks) if blocks else None,
        t_blocks=np.asarray(t_blocks) if blocks else None,
        diverged_alpha=diverged_at.reshape(n_variants, seeds),
        eps_g_method="closed_form" if batch.closed_form else "monte_carlo",
        feature_statistics=None if features is None else tuple(np.moveaxis(np.asarray(x), 1, 0) for x in features),
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
    )
