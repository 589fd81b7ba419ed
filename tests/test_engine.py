"""The vmapped online-SGD engine: batching, recording, divergence, Monte Carlo errors."""

import functools

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws.simulate import log_time_grid, simulate


N = 40


def _run(activation=sl.Erf(), data=None, dtype=jnp.float32, **kwargs):
    data = sl.isotropic(N) if data is None else data
    teacher = functools.partial(sl.teacher_network, N, 2, activation, dtype=dtype)
    student = functools.partial(sl.student_network, N, 3, activation, init_std=0.3, dtype=dtype)
    options = dict(
        learning_rates=[0.5], seeds=2, alpha_max=6.0, points_per_decade=4, alpha_min=0.1, chunk_size=16, key=jr.key(7)
    )
    options.update(kwargs)
    return simulate(data, lambda k: teacher(key=k), lambda k: student(key=k), **options)


def test_log_time_grid():
    grid = log_time_grid(100, 1000.0, 10, alpha_min=0.01)
    assert grid[0] == 0 and grid[1] == 1 and grid[-1] == 100_000
    assert np.all(np.diff(grid) > 0)
    ratios = grid[-10:] / grid[-11:-1]
    np.testing.assert_allclose(ratios, 10**0.1, rtol=1e-3)


def test_vmapped_seeds_equal_seeds_run_one_by_one():
    together = _run(seeds=4)  # sharded over the two test devices (conftest)
    for s in range(4):
        alone = _run(seeds=1, seed_offset=s)
        np.testing.assert_allclose(alone.eps_g[0, 0], together.eps_g[0, s], rtol=1e-5)
        np.testing.assert_allclose(alone.q[0, 0], together.q[0, s], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(alone.t[0], together.t[s], rtol=1e-12)


def test_learning_rate_sweep_equals_single_rates():
    sweep = _run(learning_rates=[0.2, 0.9], train_second_layer=True, second_layer_rates=[0.1, 0.3])
    for h, (eta, eta_v) in enumerate([(0.2, 0.1), (0.9, 0.3)]):
        single = _run(learning_rates=[eta], train_second_layer=True, second_layer_rates=[eta_v])
        np.testing.assert_allclose(single.eps_g[0], sweep.eps_g[h], rtol=1e-5)
        np.testing.assert_allclose(single.second_layer[0], sweep.second_layer[h], rtol=1e-5)
    # Common random numbers: every rate starts from the same students.
    np.testing.assert_array_equal(sweep.q[0, :, 0], sweep.q[1, :, 0])


@pytest.mark.parametrize("activation", [sl.Erf(), sl.Tanh()], ids=lambda g: g.name)
def test_spectrum_sweep_equals_single_spectra(activation):
    """Spectra with 1, 2 and 8 distinct eigenvalues in one run (sharing each seed's normals) equal
    the runs made one by one; blocks are recorded on the finest partition. Tanh: Monte Carlo eps_g."""
    spectra = [sl.power_law(N, 1.0, blocks) for blocks in (1, 2, 8)]
    sweep = _run(activation, data=spectra, dtype=jnp.float64)
    assert sweep.q_blocks.shape[-3] == 8 and sweep.eigenvalues.shape == (3, 8)
    for h, data in enumerate(spectra):
        single = _run(activation, data=data, dtype=jnp.float64)
        np.testing.assert_allclose(sweep.eps_g[h], single.eps_g[0], rtol=1e-10)
        np.testing.assert_allclose(sweep.q[h], single.q[0], rtol=1e-10, atol=1e-14)
        if single.q_blocks is not None:
            coarse = sweep.q_blocks[h].reshape(*sweep.q_blocks.shape[1:3], data.distinct, -1, 3, 3).sum(3)
            np.testing.assert_allclose(coarse, single.q_blocks[0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(np.repeat(data.eigenvalues, 8 // data.distinct), sweep.eigenvalues[h])
    with pytest.raises(ValueError, match="divide"):
        _run(data=[sl.power_law(N, 1.0, 4), sl.power_law(N, 1.0, 10)])
    with pytest.raises(ValueError, match="learning rates"):
        _run(data=spectra, learning_rates=[0.1, 0.2])


def test_records_match_the_weights_at_the_start_and_count_every_step():
    sim = _run(dtype=jnp.float64)
    assert sim.steps[0] == 0 and sim.steps[-1] == 6 * N
    np.testing.assert_allclose(sim.alpha, sim.steps / N)
    # At step 0 the recorded overlaps are those of the initial networks (init_std = 0.3).
    assert np.all(np.abs(np.diagonal(sim.q[0, :, 0], axis1=-2, axis2=-1) - 0.09) < 0.06)
    assert sim.eps_g.shape == (1, 2, sim.steps.size)
    assert np.all(np.isfinite(sim.eps_g)) and not sim.diverged
    # Learning happens: the error falls from its initial value.
    assert np.all(sim.eps_g[0, :, -1] < 0.5 * sim.eps_g[0, :, 0])


def _initial_networks(activation, dtype, seed=0):
    """The teacher and student that `_run` builds for seed `seed` (same key derivation)."""
    kt, ks, _ = jr.split(jr.fold_in(jr.key(7), seed), 3)
    teacher = sl.teacher_network(N, 2, activation, dtype=dtype, key=kt)
    student = sl.student_network(N, 3, activation, init_std=0.3, dtype=dtype, key=ks)
    return teacher, student


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_first_record_is_the_closed_form_of_the_initial_networks(dtype):
    sim = _run(dtype=dtype, alpha_max=1.0)
    teacher, student = _initial_networks(sl.Erf(), dtype, seed=1)
    w, b = (np.asarray(m.first, np.float64) for m in (student, teacher))
    expected = sl.generalisation_error(sl.Erf(), w @ w.T / N, w @ b.T / N, b @ b.T / N, np.ones(3), np.ones(2))
    np.testing.assert_allclose(sim.eps_g[0, 1, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(sim.q[0, 1, 0], w @ w.T / N, rtol=1e-12)


def test_power_law_blocks_sum_to_the_plain_overlaps():
    data = sl.power_law(N, 1.0, 4)
    sim = _run(data=data)
    assert sim.q_blocks.shape == (1, 2, sim.steps.size, 4, 3, 3)
    np.testing.assert_allclose(sim.q_blocks.sum(axis=3), sim.q, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sim.r_blocks.sum(axis=3), sim.r, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sim.t_blocks.sum(axis=1), sim.t, rtol=1e-10)


def test_monte_carlo_error_matches_closed_form():
    # Same networks, two estimators: a tanh run uses the test set; ReLU has a closed form, so
    # compare the test-set estimate at step 0 with the closed form of the initial networks.
    mc = _run(activation=sl.Tanh(), alpha_max=1.0, test_size=20_000)
    assert mc.eps_g_method == "monte_carlo"
    closed = _run(activation=sl.ReLU(), alpha_max=1.0)
    assert closed.eps_g_method == "closed_form"
    teacher, student = _initial_networks(sl.Tanh(), jnp.float32)
    x = sl.isotropic(N).sample(jr.key(99), (400_000,), jnp.float32)
    direct = 0.5 * np.mean(np.asarray(student(x) - teacher(x), np.float64) ** 2)
    assert abs(mc.eps_g[0, 0, 0] - direct) < 0.05 * direct


def test_divergence_is_detected_with_its_alpha():
    # Linear SCM: online SGD is unstable for eta > 2 / (K Tr(Sigma)/N) = 2/3 here.
    sim = _run(activation=sl.Linear(), learning_rates=[0.3, 5.0], alpha_max=50.0)
    assert sim.diverged
    assert np.all(np.isnan(sim.diverged_alpha[0]))
    assert np.all(np.isfinite(sim.diverged_alpha[1])) and np.all(sim.diverged_alpha[1] < 50)
    after = sim.alpha[None, :] >= sim.diverged_alpha[1][:, None]
    assert np.all(np.isnan(sim.eps_g[1][after])) and np.all(np.isfinite(sim.eps_g[1][~after]))
    assert np.all(np.isfinite(sim.eps_g[0]))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="seeds"):
        _run(seeds=0)
    with pytest.raises(ValueError, match="alpha_min"):
        _run(alpha_min=10.0)


def test_a_new_learning_rate_does_not_recompile():
    from scalinglaws.simulate._kernel import segment as _segment

    _run(learning_rates=[0.3, 0.4])
    compiled = _segment._cache_size()
    _run(learning_rates=[0.7, 0.1])
    assert _segment._cache_size() == compiled
