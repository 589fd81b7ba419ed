"""The host loop of a simulation: one compiled segment per call, progress, divergence, early stop.

The host drives a run in a few dozen segments to report progress and to detect divergence (the
criterion of `scalinglaws._observables.diverged`); each segment scans over many steps inside `jit`.
"""

import time

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._observables import diverged
from .._sharding import to_host
from ._batch import Batch
from ._schedule import PIECES_PER_CALL


__all__ = ["host_loop", "records_of"]


def host_loop(batch: Batch, lengths, threshold, stop_on_divergence, progress):
    """Run the segments of the batch's kernel (`segment`, or the reduced chain's
    `reduced_segment`); returns `(observations per call, diverged_alpha over (H * S), compile and
    run seconds)`. Stops early once every run (with `stop_on_divergence`: any run) has diverged."""
    state, context, inputs, spec, kernel = batch.state, batch.context, batch.inputs, batch.spec, batch.kernel
    n = spec.input_dim
    calls = lengths.reshape(-1, PIECES_PER_CALL)
    # Compile (or fetch from JAX's cache: a new learning rate does not recompile) with an empty
    # segment, which leaves the state as it is.
    start = time.perf_counter()
    state, _ = kernel(state, context, *inputs, jnp.zeros(PIECES_PER_CALL, jnp.int32), spec=spec)
    jax.block_until_ready(state)
    compile_seconds = time.perf_counter() - start
    total, done = int(lengths.sum()), 0
    observations, diverged_at = [], None
    start = time.perf_counter()
    for index, counts in enumerate(calls):
        state, obs = kernel(state, context, *inputs, jnp.asarray(counts), spec=spec)
        # (S, pieces, H, ...) -> (H * S, pieces, ...)
        batch = obs.eps_g.shape[0] * obs.eps_g.shape[2]
        obs = jtu.tree_map(lambda x: np.moveaxis(x, 2, 0).reshape(batch, *x.shape[1:2], *x.shape[3:]), to_host(obs))
        if diverged_at is None:
            diverged_at = np.full(batch, np.nan)
        ends = done + np.cumsum(counts)
        done = int(ends[-1])
        q_max = None  # a random-feature student records no overlaps
        if obs.q.shape[-1]:
            finite_q = np.all(np.isfinite(obs.q.reshape(*obs.q.shape[:2], -1)), axis=-1)
            q_max = np.where(finite_q, np.max(np.diagonal(obs.q, axis1=-2, axis2=-1), axis=-1), np.nan)
        bad = diverged(obs.eps_g, q_max, threshold)
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
    return observations, diverged_at, compile_seconds, time.perf_counter() - start


def records_of(observations, lengths, records, diverged_at, n: int):
    """The observations at the recording points, over (H * S, T, ...), NaN from every run's divergence on."""
    obs = jtu.tree_map(lambda *xs: np.concatenate(xs, axis=1)[:, records], *observations)
    steps_at = np.cumsum(lengths)[records]
    for b in np.flatnonzero(np.isfinite(diverged_at)):
        after = steps_at / n >= diverged_at[b]
        for field in (obs.eps_g, obs.q, obs.r, obs.second, obs.q_blocks, obs.r_blocks):
            if field.size:
                field[b, after] = np.nan
    return obs
