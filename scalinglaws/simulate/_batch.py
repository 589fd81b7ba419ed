"""A prepared simulation, whichever engine runs it, and the preparation both engines share."""

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .._data import GaussianData


__all__ = ["Batch", "recording_partition", "teacher_overlaps"]


@dataclass(frozen=True)
class Batch:
    """A prepared run: the kernel's state, context and spec, and what the result reports."""

    state: object  # the kernel's state (`State` or `ReducedState`)
    context: object
    spec: object  # hashable: `KernelSpec` or `ReducedSpec`
    kernel: Callable  # `segment` or `reduced_segment`
    inputs: tuple  # what the kernel reads besides state, context and counts (`segment`: partition, test set)
    field_eigenvalues: np.ndarray
    teacher_overlaps: tuple
    features: tuple | None  # the feature statistics, when the closed-form eps_g needs them
    records_second: bool
    teacher_second_layer: np.ndarray  # (S, M)
    closed_form: bool


def recording_partition(datas: list[GaussianData]) -> GaussianData:
    """The finest block partition among the spectra (each must refine into it), for recording."""
    finest = max(d.distinct for d in datas)
    for d in datas:
        if finest % d.distinct:
            raise ValueError(
                f"the spectra's numbers of distinct eigenvalues must each divide the largest ({finest}), "
                f"got {[d.distinct for d in datas]}"
            )
    return GaussianData(np.ones(finest), datas[0].input_dim)


def teacher_overlaps(teachers, partition: GaussianData, field_eigenvalues):
    """Every seed's `T = B B^T / N` (S, M, M), block overlaps (S, L, M, M) and field covariance
    under every variant's spectrum (S, H, M, M), float64."""
    b64_all = teachers.first.astype(jnp.float64)
    t_plain = jnp.einsum("smn,skn->smk", b64_all, b64_all) / partition.input_dim
    t_blocks = jax.vmap(lambda b: partition.block_overlaps(b, b))(b64_all)  # (S, L, M, M)
    t_field = jnp.einsum("hl,slmk->shmk", jnp.asarray(field_eigenvalues), t_blocks)  # (S, H, M, M)
    return t_plain, t_blocks, t_field
