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


def test_theory_of_a_sweep_is_the_same_sharded(monkeypatch):
    """The eigen-block theory's lanes (2 spectra x 2 seeds) stay on one CPU device (its adaptive
    loop would make a collective per step, on which XLA's CPU runtime can deadlock); split over
    the two devices (as on GPUs) they give the same numbers."""
    import numpy as np

    import scalinglaws.theory._two_layer_theory as two_layer
    from scalinglaws.cli import configs_dir
    from scalinglaws.experiment import build_setup, load_config
    from scalinglaws.theory import EigenBlockTheory

    overrides = ["data.input_dim=32", "data.distinct_eigenvalues=[2, 8]", "theory.rtol=1e-6", "training.seeds=2"]
    overrides += ["training.alpha_max=20", "training.points_per_decade=4", "training.alpha_min=0.1"]
    setup = build_setup(load_config(configs_dir() / "p1_fig1.toml", [*overrides, "training.learning_rate=0.1"]))
    theory = EigenBlockTheory()
    initial = theory.initial_state(setup, setup.networks())
    placed = []

    def spy(tree, *, batch_loop=False, force=False):
        tree = shard_leading_axis(tree, batch_loop=batch_loop and not force)
        placed.extend(_device_count(x) for x in jax.tree_util.tree_leaves(tree))
        return tree

    monkeypatch.setattr(two_layer, "shard_leading_axis", spy)
    alone = theory.solve(setup, initial).per_variant
    assert placed and set(placed) == {1}
    placed.clear()
    monkeypatch.setattr(two_layer, "shard_leading_axis", lambda tree, batch_loop: spy(tree, force=True))
    sharded = theory.solve(setup, initial).per_variant
    assert placed and set(placed) == {2}
    for name in ("eps_g_theory", "Q_blocks_theory", "R_blocks_theory"):
        np.testing.assert_allclose(sharded[name], alone[name], rtol=1e-12, atol=1e-15)
