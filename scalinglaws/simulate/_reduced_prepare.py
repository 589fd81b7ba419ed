"""Preparing the exact reduced simulation (`scalinglaws.simulate._reduced`): when it applies, and
its chains' state and context from the networks a run starts from."""

import jax
import jax.numpy as jnp
import numpy as np

from .._activations import AbstractActivation
from .._models import LearningRates, TwoLayerNetwork
from .._sharding import shard_leading_axis
from ._batch import Batch, recording_partition, teacher_overlaps
from ._chi_square import dof_regime
from ._kernel import first
from ._reduced import ReducedContext, ReducedSpec, ReducedState, reduced_segment, teacher_factors
from ._schedule import auto_chunk_size


__all__ = ["prepare_reduced", "reduced_batch", "why_not_reduced"]


def why_not_reduced(
    *,
    two_layer: bool,
    reads_all: bool,
    student_activation: AbstractActivation,
    teacher_activation: AbstractActivation,
    block_size: int,
    hidden: int,
    teacher_hidden: int,
) -> str | None:
    """None if the reduced chain simulates online SGD exactly, else why not (one sentence): it
    needs a two-layer student and teacher (`two_layer`) on all the inputs (`reads_all`), one
    activation with closed-form `I2` (eps_g from the overlaps), and eigenvalue blocks of
    `block_size = N / L >= K + M` coordinates."""
    if not two_layer:
        return "the reduced chain simulates two-layer students and teachers"
    if not reads_all:
        return "a student that reads only some of the inputs is not isotropic within the blocks"
    if student_activation != teacher_activation or "i2" not in student_activation.closed_forms:
        return "the reduced chain needs a closed-form eps_g: one activation with closed-form I2 for student and teacher"
    if block_size < hidden + teacher_hidden:
        return f"an eigenvalue block must hold at least K + M = {hidden + teacher_hidden} coordinates, not {block_size}"
    return None


def reduced_batch(
    networks, q_blocks, r_blocks, t_blocks, rates: LearningRates, eigenvalues, noise_std: float, input_dim: int
):
    """The state (leading axes S, H) and context of the chains of `networks` (teachers, students,
    data keys; leading axis S) with block overlaps `q_blocks`, `r_blocks`, `t_blocks` (S, L, ...),
    for the variants' learning rates (H,) and block eigenvalues (H, L), in `input_dim` dimensions."""
    teachers, students, data_keys = networks
    seeds, variants = q_blocks.shape[0], eigenvalues.shape[0]

    def per_variant(x):
        return jnp.broadcast_to(x[:, None], (seeds, variants, *x.shape[1:]))

    def per_seed(x):
        return jnp.broadcast_to(jnp.asarray(x, jnp.float64), (seeds, *jnp.shape(x)))

    second = students.second.astype(jnp.float64)
    state = ReducedState(per_variant(q_blocks), per_variant(r_blocks), per_variant(second), jnp.zeros(seeds, jnp.int32))
    factor, inverse = teacher_factors(t_blocks)
    context = ReducedContext(
        first(students).activation,
        first(teachers).activation,
        t_blocks,
        factor,
        inverse,
        jax.vmap(lambda t: t.effective_second_layer())(teachers).astype(jnp.float64),
        data_keys,
        jnp.full(seeds, float(noise_std), jnp.float64),
        LearningRates(per_seed(rates.first), per_seed(rates.second)),
        per_seed(eigenvalues),
        jnp.full(seeds, float(input_dim), jnp.float64),
    )
    return state, context


def prepare_reduced(datas, lrs, lrs_v, networks, chunk_size, test_size, noise_std, train_second_layer, key) -> Batch:
    """The batch of reduced chains of `networks` (`_prepare`'s arguments; there is no test set)."""
    del test_size, key
    teachers, students, _ = networks
    n = datas[0].input_dim
    partition = recording_partition(datas)
    student, teacher = first(students), first(teachers)
    why = why_not_reduced(
        two_layer=type(student) is TwoLayerNetwork and type(teacher) is TwoLayerNetwork,
        reads_all=getattr(student, "visible", n) == n,
        student_activation=student.activation,
        teacher_activation=teacher.activation,
        block_size=n // partition.distinct,
        hidden=student.hidden,
        teacher_hidden=teacher.hidden,
    )
    if why is not None:
        raise ValueError(f"the reduced simulation does not apply: {why}")
    field_eigenvalues = np.stack([d.refined_eigenvalues(partition.distinct) for d in datas])  # (H, L)
    t_plain, t_blocks, t_field = teacher_overlaps(teachers, partition, field_eigenvalues)
    w = students.first.astype(jnp.float64)
    q_blocks = jax.vmap(lambda a: partition.block_overlaps(a, a))(w)
    r_blocks = jax.vmap(partition.block_overlaps)(w, teachers.first.astype(jnp.float64))
    rates = LearningRates(jnp.asarray(lrs), jnp.asarray(lrs_v))
    state, context = reduced_batch(
        networks, q_blocks, r_blocks, t_blocks, rates, jnp.asarray(field_eigenvalues), noise_std, n
    )
    state, context = shard_leading_axis((state, context), across_processes=True)
    k, m = student.hidden, teacher.hidden
    seeds = q_blocks.shape[0]
    if chunk_size is None:
        chunk_size = auto_chunk_size(seeds, partition.distinct * (k + m + 1) + 1, 4)
    spec = ReducedSpec(
        chunk_size,
        float(noise_std) > 0,
        train_second_layer,
        not all(d.identity for d in datas),
        student.scale,
        k,
        m,
        dof_regime(n // partition.distinct - k - m),
        input_dim=n,
    )
    return Batch(
        state,
        context,
        spec,
        reduced_segment,
        (),  # nothing that depends on N: one program for every N
        field_eigenvalues,
        (t_plain, t_blocks, t_field),
        None,
        train_second_layer,
        np.asarray(teachers.second, np.float64),
        True,
    )
