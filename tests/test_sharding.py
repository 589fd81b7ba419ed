"""Splitting batches of runs over devices (the test session has two CPU devices, conftest)."""

import jax
import jax.numpy as jnp

from scalinglaws._sharding import shard_leading_axis


def _device_count(x) -> int:
    return len(x.sharding.device_set)


def test_a_batch_is_split_over_the_largest_dividing_number_of_devices():
    assert jax.device_count() == 2
    tree = {"a": jnp.zeros((6, 3)), "b": jnp.ones(6), "static": "label"}
    sharded = shard_leading_axis(tree)
    assert _device_count(sharded["a"]) == 2 and _device_count(sharded["b"]) == 2
    assert sharded["a"].addressable_shards[0].data.shape == (3, 3)
    assert sharded["static"] == "label"
    odd = shard_leading_axis({"a": jnp.zeros((3, 3)), "b": jnp.ones(3)})
    assert _device_count(odd["a"]) == 1
    assert _device_count(shard_leading_axis(jnp.zeros((1, 4)))) == 1


def test_sharded_computation_equals_the_unsharded_one():
    x = jnp.arange(24.0).reshape(8, 3)
    f = jax.jit(jax.vmap(lambda row: jnp.sin(row) @ jnp.cos(row)))
    assert jnp.array_equal(f(shard_leading_axis(x)), f(x))
