"""Splitting a batch of independent runs (seeds, or ODE lanes) over the visible devices."""

import equinox as eqx
import jax
import jax.tree_util as jtu
import numpy as np


def shard_leading_axis(tree):
    """Place every array of `tree` sharded along its leading (batch) axis over as many devices as
    divide that axis evenly (at most all of them); with one device, or a batch of one, `tree` is
    returned as it is. All arrays must share the leading axis.

    On a CPU, JAX shows one device unless asked for more (`jax_num_cpu_devices`, which the
    `scalinglaws` command sets from the number of cores); each device then runs its share of the
    batch on its own thread, and jit-compiled code on sharded inputs runs on all of them.
    """
    leaves = [x for x in jtu.tree_leaves(tree) if eqx.is_array(x)]
    if not leaves:
        return tree
    size = leaves[0].shape[0]
    devices = jax.devices()
    count = max(d for d in range(1, min(len(devices), size) + 1) if size % d == 0)
    if count < 2:
        return tree
    mesh = jax.sharding.Mesh(np.asarray(devices[:count]), ("batch",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    return jtu.tree_map(lambda x: jax.device_put(x, sharding) if eqx.is_array(x) else x, tree)
