import itertools

import jax
import jax.random as jr
import numpy as np
import pytest

import scalinglaws


# float64 for the theories, and two CPU devices, as `scalinglaws run` makes of a 2-core machine:
# batches of runs are sharded.
scalinglaws.configure(cpu_devices=2)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


# A tiny run of the command: N = 32, K = M = 2, alpha up to 4, two seeds (a few seconds with its theory).
TINY = """
name = "tiny"
[data]
input_dim = 32
[teacher]
hidden = 2
[student]
hidden = 2
init_std = 0.1
[training]
learning_rate = 0.5
alpha_max = 4
alpha_min = 0.1
points_per_decade = 4
seeds = 2
chunk_size = 16
"""


@pytest.fixture
def tiny(tmp_path):
    """The path of a config file holding `TINY`."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture
def getkey():
    """A fresh PRNG key at every call, reproducible across test runs."""
    counter = itertools.count()
    base = jr.key(1234)
    return lambda: jr.fold_in(base, next(counter))


def random_covariance(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    """A random, well-conditioned covariance with O(scale) entries."""
    a = rng.normal(size=(n, n)) * scale
    return a @ a.T / n + 0.2 * scale * np.eye(n)


def gaussian_fields(rng: np.random.Generator, cov: np.ndarray, samples: int) -> np.ndarray:
    """`samples` draws of N(0, cov), shape (samples, n)."""
    return rng.normal(size=(samples, cov.shape[0])) @ np.linalg.cholesky(cov).T


def seed_mean_gap(simulated: np.ndarray, theory: np.ndarray) -> float:
    """Mean over times (after the first) of |seed-mean simulation - seed-mean theory| / theory."""
    sim, th = np.asarray(simulated).mean(0), np.asarray(theory).mean(0)
    return float(np.mean(np.abs(sim - th)[1:] / th[1:]))


def log_log_slope(x, y) -> float:
    """The slope of a straight-line fit of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def ode_gap_to_simulation(sim, ode, state, args):
    """`(seed_mean_gap, solution)` between a simulation (one learning rate) and `ode` solved for every
    seed from that seed's `state` and `args` (vmapped over their leading axis) on the simulation's grid."""
    import jax.numpy as jnp

    from scalinglaws.theory import check_solution, solve_soft_committee

    solve = jax.vmap(solve_soft_committee, in_axes=(None, 0, 0, None))
    solution, eps = solve(ode, state, args, jnp.asarray(sim.alpha))
    check_solution(solution)
    return seed_mean_gap(sim.eps_g[0], eps), solution


def erf_scm_simulation(data, seeds: int, key, hidden: int = 2):
    """A short online-SGD run of the erf SCM (K = M = hidden, eta = 0.5, sigma_J = 0.5) used to
    compare theories with simulation: alpha up to 3, five points per decade from 0.1."""
    import functools

    import scalinglaws as sl
    from scalinglaws.simulate import simulate

    n, g = data.input_dim, sl.Erf()
    teacher = functools.partial(sl.teacher_network, n, hidden, g)
    student = functools.partial(sl.student_network, n, hidden, g, init_std=0.5)
    return simulate(
        data,
        lambda k: teacher(key=k),
        lambda k: student(key=k),
        learning_rates=[0.5],
        seeds=seeds,
        alpha_max=3.0,
        alpha_min=0.1,
        points_per_decade=5,
        key=key,
    )
