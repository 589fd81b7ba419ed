"""The exact reduced simulation (`simulate(..., method="reduced")`): its step is the network's step
exactly, its runs have the full engine's law, its mean follows the ODE ever closer as N grows."""

import functools
import tomllib

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy import stats

import scalinglaws as sl
from scalinglaws._models import LearningRates
from scalinglaws.experiment import ConfigError, resolve, run_experiment
from scalinglaws.experiment._build import build_setup
from scalinglaws.simulate import _reduced, _reduced_prepare, simulate
from scalinglaws.simulate._chi_square import chi_square


def _networks(n, k, m, *, output="sum", init_std=0.5, key=0):
    kt, ks = jr.split(jr.key(key))
    teacher = sl.teacher_network(n, m, sl.Erf(), dtype=jnp.float64, key=kt)
    student = sl.student_network(n, k, sl.Erf(), output=output, init_std=init_std, dtype=jnp.float64, key=ks)
    return teacher, student


def test_one_step_of_the_chain_is_the_networks_step_exactly():
    """Feed the chain the normals and chi-squares that make one drawn input's block fields and
    block norms: the overlaps it steps to are those of the networks stepped on that input (K = 3,
    M = 2, four blocks of six coordinates, 1/sqrt(K) outputs, trained second layer, label noise)."""
    n, k, m, blocks = 24, 3, 2, 4
    data = sl.power_law(n, 1.0, blocks)
    teacher, student = _networks(n, k, m, output="sqrt")
    z_full = jr.normal(jr.key(5), (n,), jnp.float64)
    x = z_full * jnp.sqrt(data.diagonal())
    xi, noise = 0.7, 0.2
    rates = LearningRates(jnp.asarray([0.8]), jnp.asarray([0.3]))
    stepped = student.step(x, teacher(x) + noise * xi, LearningRates(0.8, 0.3), train_second_layer=True)

    partition = sl.GaussianData(np.ones(blocks), n)
    rows = jnp.concatenate([teacher.first, student.first])  # teacher first, as the chain orders them
    gram = partition.block_overlaps(rows, rows)  # (L, D, D)
    fields = jnp.einsum("dln,ln->ld", rows.reshape(k + m, blocks, -1), z_full.reshape(blocks, -1)) / np.sqrt(n)
    z_hat = jnp.linalg.solve(jnp.linalg.cholesky(gram), fields[..., None])[..., 0]
    chi = jnp.sum(z_full.reshape(blocks, -1) ** 2, axis=1) - jnp.sum(z_hat**2, axis=1)
    assert np.all(np.asarray(chi) > 0)

    networks = jax.tree_util.tree_map(lambda a: a[None] if eqx.is_array(a) else a, (teacher, student))
    q0, r0 = gram[None, :, m:, m:], gram[None, :, m:, :m]
    state, ctx = _reduced_prepare.reduced_batch(
        (*networks, jr.key(0)[None]), q0, r0, gram[None, :, :m, :m], rates, data.eigenvalues[None], noise, n
    )
    spec = _reduced.ReducedSpec(1, True, True, True, student.scale, k, m, 2, input_dim=n)
    chain = _reduced._Chain(*(_reduced._batch_last(a) for a in (state.q, state.r, state.second)))
    draws = (z_hat[:, :, None, None], chi[:, None, None], jnp.full((1, 1), xi))
    chain = jax.jit(_reduced._step, static_argnums=0)(spec, ctx, _reduced._fixed(ctx), chain, draws)

    w, b = stepped.first, teacher.first
    np.testing.assert_allclose(_reduced._batch_first(chain.q)[0, 0], partition.block_overlaps(w, w), rtol=1e-11)
    np.testing.assert_allclose(
        _reduced._batch_first(chain.r)[0, 0], partition.block_overlaps(w, b), rtol=1e-11, atol=1e-15
    )
    np.testing.assert_allclose(_reduced._batch_first(chain.second)[0, 0], stepped.second, rtol=1e-12)


def _both(data, k, m, seeds, **kwargs):
    n = data.input_dim
    teacher = functools.partial(sl.teacher_network, n, m, sl.Erf())
    student = functools.partial(sl.student_network, n, k, sl.Erf(), init_std=0.3)
    options = dict(seeds=seeds, alpha_max=8.0, points_per_decade=2, alpha_min=0.5, key=jr.key(3)) | kwargs
    return [
        simulate(data, lambda kk: teacher(key=kk), lambda kk: student(key=kk), method=method, **options)
        for method in ("full", "reduced")
    ]


def test_the_chain_has_the_full_simulations_law():
    """Mean and spread over 256 seeds of eps_g, Q_11 and v_1 agree at every recorded alpha
    (K = 3, M = 2, four power-law blocks, trained second layer, label noise), and both runs start
    from the very same networks."""
    full, reduced = _both(
        sl.power_law(60, 1.0, 4),
        3,
        2,
        256,
        learning_rates=0.5,
        second_layer_rates=0.3,
        train_second_layer=True,
        noise_std=0.1,
    )
    np.testing.assert_allclose(reduced.q[0, :, 0], full.q[0, :, 0], rtol=1e-6)
    np.testing.assert_allclose(reduced.q_blocks[0, :, 0], full.q_blocks[0, :, 0], rtol=1e-6, atol=1e-12)
    observables = {
        "eps_g": (full.eps_g[0], reduced.eps_g[0]),
        "Q_11": (full.q[0, ..., 0, 0], reduced.q[0, ..., 0, 0]),
        "R_12": (full.r[0, ..., 0, 1], reduced.r[0, ..., 0, 1]),
        "v_1": (full.second_layer[0, ..., 0], reduced.second_layer[0, ..., 0]),
    }
    for name, (a, b) in observables.items():
        a, b = a[:, 1:], b[:, 1:]  # (S, T) after the start
        z = (a.mean(0) - b.mean(0)) / np.sqrt((a.var(0) + b.var(0)) / a.shape[0])
        assert np.all(np.abs(z) < 4.5), (name, z)
        ratio = a.std(0) / b.std(0)
        assert np.all((ratio > 0.7) & (ratio < 1.45)), (name, ratio)
    assert reduced.eps_g_method == "closed_form" and not reduced.diverged


def test_seeds_split_over_calls_are_the_same_chains():
    teacher = functools.partial(sl.teacher_network, 40, 2, sl.Erf())
    student = functools.partial(sl.student_network, 40, 2, sl.Erf(), init_std=0.3)
    run = functools.partial(
        simulate,
        sl.isotropic(40),
        lambda kk: teacher(key=kk),
        lambda kk: student(key=kk),
        method="reduced",
        learning_rates=0.5,
        alpha_max=8.0,
        points_per_decade=2,
        alpha_min=0.5,
        key=jr.key(3),
    )
    together, alone = run(seeds=4), run(seeds=1, seed_offset=2)
    np.testing.assert_allclose(alone.eps_g[0, 0], together.eps_g[0, 2], rtol=1e-12)


def test_a_student_on_the_teacher_stays_there():
    """A student equal to its teacher has a singular Gram matrix: the chain's zero pivots keep it
    finite, and with no label noise it never moves (eps_g = 0)."""
    n = 30
    teacher = sl.teacher_network(n, 2, sl.Erf(), dtype=jnp.float64, key=jr.key(1))
    sim = simulate(
        sl.isotropic(n),
        lambda kk: teacher,
        lambda kk: teacher,
        method="reduced",
        seeds=2,
        learning_rates=0.5,
        alpha_max=4.0,
        points_per_decade=2,
        alpha_min=1.0,
        key=jr.key(0),
    )
    assert np.all(np.isfinite(sim.q)) and np.all(np.abs(sim.eps_g) < 1e-12)


def _config(n: int, **training) -> str:
    lines = "\n".join(f"{key} = {value!r}".replace("'", '"') for key, value in training.items())
    return f"""
name = "reduced-{n}"
[data]
input_dim = {n}
[teacher]
hidden = 2
[student]
hidden = 2
init_std = 0.5
[training]
learning_rate = 0.5
alpha_max = 5
alpha_min = 0.2
points_per_decade = 4
{lines}
"""


def test_the_mean_over_seeds_approaches_the_ode_as_n_grows():
    """The seed mean of eps_g against the Saad-Solla ODE (from seed 0's initial overlaps): the
    largest relative gap shrinks from N = 64 to N = 4096 (fluctuations and finite-size terms
    of order 1/sqrt(N) and 1/N)."""
    gaps = []
    for n in (64, 4096):
        results = run_experiment(resolve(tomllib.loads(_config(n, seeds=32, method="reduced"))))
        assert results.summary["simulation_method"] == "reduced"
        sim, theory = results.arrays["eps_g_sim"].mean(0), results.arrays["eps_g_theory"]
        gaps.append(np.max(np.abs(sim - theory) / theory))
    assert gaps[1] < gaps[0] / 3, gaps


def test_methods_are_checked_before_computing():
    setup = build_setup(resolve(tomllib.loads(_config(64, seeds=2))))
    assert setup.learner.method == "auto" and setup.learner.chosen_method(setup) == "reduced"
    with pytest.raises(ConfigError, match="training.method"):
        resolve(tomllib.loads(_config(64, seeds=2, method="exact")))
    with pytest.raises(ConfigError, match="training.method.*closed-form eps_g"):
        build_setup(
            resolve(
                tomllib.loads(
                    _config(64, seeds=2, method="reduced").replace("[student]", '[student]\nactivation = "tanh"')
                )
            )
        )
    blocks = _config(64, seeds=2, method="reduced").replace(
        "[data]", '[data]\nspectrum = "power_law"\ndistinct_eigenvalues = 32'
    )
    with pytest.raises(ConfigError, match="training.method.*at least K \\+ M = 4 coordinates"):
        build_setup(resolve(tomllib.loads(blocks)))
    # auto falls back to the full simulation where the chain does not apply
    setup = build_setup(resolve(tomllib.loads(blocks.replace('method = "reduced"', 'method = "auto"'))))
    assert setup.learner.chosen_method(setup) == "full"


@pytest.mark.parametrize("dof", [1, 7, 500])
def test_chi_square_draws_have_the_chi_square_law(dof):
    x = np.asarray(chi_square(jr.key(dof), dof, (40_000,), jnp.float32), np.float64)
    assert stats.kstest(x, stats.chi2(dof).cdf).pvalue > 1e-3
    assert np.all(np.asarray(chi_square(jr.key(0), 0, (3,))) == 0)
