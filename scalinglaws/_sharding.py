"""Splitting a batch of independent runs (seeds, or ODE lanes) over the visible devices."""

import equinox as eqx
import jax
import jax.tree_util as jtu
import numpy as np


def shard_leading_axis(tree, *, batch_loop: bool = False, across_processes: bool = False):
    """Place every array of `tree` sharded along its leading (batch) axis over as many devices as
    divide that axis evenly (at most all of them); with one device, or a batch of one, `tree` is
    returned as it is. All arrays must share the leading axis.

    `batch_loop`: the batch runs through one loop whose stopping test looks at every lane (a
    vmapped adaptive ODE solve stops when its last lane does), so a sharded batch makes a
    cross-device collective at every step. XLA's CPU runtime can deadlock on that (jax 0.10.2: the
    eigen-block ODE with K = M = 4 and 64 blocks on two CPU devices hung with every thread idle),
    and on a CPU the split gains nothing for such a loop (the same wall time at K = 2), so on CPU
    devices such a batch stays on one device.

    `across_processes`: in a run of several processes (`jax.distributed`), split the batch over
    every process's devices (the global mesh: each process computes its share, and `to_host`
    gathers the results); the batch must then divide evenly over all of them. Otherwise a process
    places the batch on its own devices only (each computes all of it).

    On a CPU, JAX shows one device unless asked for more (`jax_num_cpu_devices`, which the
    `scalinglaws` command sets from the number of cores); each device then runs its share of the
    batch on its own thread, and jit-compiled code on sharded inputs runs on all of them.
    """
    leaves = [x for x in jtu.tree_leaves(tree) if eqx.is_array(x)]
    if not leaves:
        return tree
    size = leaves[0].shape[0]
    spanning = across_processes and jax.process_count() > 1
    devices = jax.devices() if spanning else jax.local_devices()
    if batch_loop and devices[0].platform == "cpu":
        return tree
    if spanning:
        if size % len(devices):
            raise ValueError(
                f"a batch of {size} does not split evenly over the {len(devices)} devices of the processes"
            )
        mesh = jax.sharding.Mesh(np.asarray(devices), ("batch",))
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))

        def place(x):  # every process holds the whole batch and keeps its own shards
            return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

        return jtu.tree_map(lambda x: place(x) if eqx.is_array(x) else x, tree)
    count = max(d for d in range(1, min(len(devices), size) + 1) if size % d == 0)
    if count < 2:
        return tree
    mesh = jax.sharding.Mesh(np.asarray(devices[:count]), ("batch",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    return jtu.tree_map(lambda x: jax.device_put(x, sharding) if eqx.is_array(x) else x, tree)


def to_host(tree):
    """Every array of `tree` as NumPy, gathered from all processes where it spans several
    (`shard_leading_axis(..., across_processes=True)`: a collective every process must call)."""

    leaves = jtu.tree_leaves(tree)
    if any(isinstance(x, jax.Array) and not x.is_fully_addressable for x in leaves):
        from jax.experimental import multihost_utils

        tree = multihost_utils.process_allgather(tree, tiled=True)  # one gather for the whole tree
    return jtu.tree_map(np.asarray, tree)
