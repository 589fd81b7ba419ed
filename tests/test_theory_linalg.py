import jax.numpy as jnp
import numpy as np
import pytest

from scalinglaws.theory._linalg import small_inverse


@pytest.mark.parametrize("d", [1, 3, 8, 20])
def test_small_inverse_inverts_a_batch(d):
    """Against the identity, for random matrices and ones that need row exchanges (zero pivots)."""
    rng = np.random.default_rng(d)
    batch = rng.normal(size=(2, 5, d, d))
    if d > 1:
        batch[0, 0] = np.eye(d)[::-1]  # a permutation: every leading pivot is zero
        batch[0, 1, 0, 0] = 0.0
    inverse = np.asarray(small_inverse(jnp.asarray(batch)))
    assert inverse.shape == batch.shape
    np.testing.assert_allclose(inverse @ batch, np.broadcast_to(np.eye(d), batch.shape), atol=1e-9)
    np.testing.assert_allclose(inverse, np.linalg.inv(batch), rtol=1e-8, atol=1e-10)
