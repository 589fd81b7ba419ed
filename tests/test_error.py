"""The closed-form generalisation error against Monte Carlo of the actual networks."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import scalinglaws as sl


def _networks(activation, data, output, getkey, k=3, m=2):
    n = data.input_dim
    teacher = sl.teacher_network(
        n, m, activation, output=output, second_layer="power_law", dtype=jnp.float64, key=getkey()
    )
    student = sl.student_network(
        n, k, activation, output=output, init_std=0.8, second_layer_init=0.7, dtype=jnp.float64, key=getkey()
    )
    return teacher, student


@pytest.mark.parametrize("activation", [sl.Erf(), sl.Linear(), sl.ReLU(), sl.Hermite(2)], ids=lambda g: g.name)
@pytest.mark.parametrize("output", ["sum", "mean", "sqrt"])
@pytest.mark.parametrize("spectrum", ["isotropic", "power_law"])
def test_eps_g_closed_form_matches_monte_carlo(activation, output, spectrum, getkey):
    data = sl.isotropic(60) if spectrum == "isotropic" else sl.power_law(60, 1.0, 4)
    teacher, student = _networks(activation, data, output, getkey)
    noise = 0.3
    x = data.sample(getkey(), (400_000,), jnp.float64)
    diff = np.asarray(student(x) - teacher(x) - noise * jr.normal(getkey(), (x.shape[0],), jnp.float64))
    sq = 0.5 * diff**2
    mc, err = sq.mean(), sq.std() / np.sqrt(sq.size)
    w, b = student.first, teacher.first
    exact = sl.generalisation_error(
        activation,
        data.field_covariance(w, w),
        data.field_covariance(w, b),
        data.field_covariance(b, b),
        student.effective_second_layer(),
        teacher.effective_second_layer(),
        noise,
    )
    assert abs(mc - float(exact)) < 5 * err, (mc, float(exact), err)


def test_linear_eps_g_is_the_quadratic_form():
    rng = np.random.default_rng(3)
    q = np.cov(rng.normal(size=(3, 50)))
    r = rng.normal(size=(3, 2)) * 0.3
    t = np.eye(2)
    v, a = rng.normal(size=3), rng.normal(size=2)
    expected = 0.5 * (v @ q @ v - 2 * v @ r @ a + a @ t @ a)
    np.testing.assert_allclose(sl.generalisation_error(sl.Linear(), q, r, t, v, a), expected, rtol=1e-13)


def test_student_equal_to_teacher_has_zero_error():
    q = np.array([[1.0, 0.2], [0.2, 1.3]])
    value = sl.generalisation_error(sl.Erf(), q, q, q, np.ones(2), np.ones(2))
    assert abs(float(value)) < 1e-15
