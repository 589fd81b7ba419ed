"""Input spectra and sampling."""

import jax.numpy as jnp
import numpy as np
import pytest

import scalinglaws as sl


@pytest.mark.parametrize("distinct", [1, 4, 40])
def test_sampled_covariance_matches_the_spectrum(distinct, getkey):
    n, samples = 40, 200_000
    data = sl.power_law(n, 1.0, distinct)
    x = np.asarray(data.sample(getkey(), (samples,), jnp.float64))
    cov = x.T @ x / samples
    expected = np.repeat(np.asarray(data.eigenvalues), n // distinct)
    # Sample variance of a Gaussian: relative error sqrt(2/samples) per entry.
    np.testing.assert_allclose(np.diagonal(cov), expected, rtol=6 * np.sqrt(2 / samples))
    off = cov - np.diag(np.diagonal(cov))
    scale = np.sqrt(np.outer(expected, expected) / samples)
    assert np.all(np.abs(off) < 6 * scale + np.eye(n))


def test_power_law_eigenvalues_and_normalisations():
    data = sl.power_law(12, 0.5, 6)
    lam = np.asarray(data.eigenvalues)
    np.testing.assert_allclose(lam[1:] / lam[:-1], (np.arange(2, 7) / np.arange(1, 6)) ** -1.5, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(data.diagonal()).mean(), 1.0, rtol=1e-13)
    top = sl.power_law(12, 0.5, 6, normalisation="top")
    np.testing.assert_allclose(top.eigenvalues[0], 1.0)
    assert sl.power_law(8, 1.0).distinct == 8
    assert sl.isotropic(8).identity
    # A single block with lambda_1 = 1 is isotropic data, sampled through the power-law path too.
    single = sl.power_law(8, 1.0, 1, normalisation="top")
    assert single.distinct == 1 and single.identity


def test_block_overlaps_sum_to_plain_and_field_overlaps(getkey):
    data = sl.power_law(30, 1.0, 5)
    a = np.asarray(data.sample(getkey(), (3,), jnp.float64))
    b = np.asarray(data.sample(getkey(), (2,), jnp.float64))
    blocks = data.block_overlaps(a, b)
    assert blocks.shape == (5, 3, 2)
    np.testing.assert_allclose(blocks.sum(0), a @ b.T / 30, rtol=1e-12)
    np.testing.assert_allclose(data.field_covariance(a, b), a @ np.diag(data.diagonal()) @ b.T / 30, rtol=1e-12)


def test_bad_spectra_are_rejected():
    with pytest.raises(ValueError, match="must divide input_dim"):
        sl.power_law(10, 1.0, 3)
    with pytest.raises(ValueError, match="exponent must be > -1"):
        sl.power_law(10, -2.0, 2)
    with pytest.raises(ValueError, match="normalisation"):
        sl.power_law(10, 1.0, 2, normalisation="max")


def test_refined_eigenvalues_repeat_each_block():
    data = sl.GaussianData(np.array([4.0, 2.0]), 8)
    np.testing.assert_array_equal(data.refined_eigenvalues(4), [4.0, 4.0, 2.0, 2.0])
    np.testing.assert_array_equal(data.refined_eigenvalues(2), [4.0, 2.0])
    for bad in (3, 16):
        with pytest.raises(ValueError, match="does not refine"):
            data.refined_eigenvalues(bad)
