"""Closed-form Gaussian integrals against Monte Carlo, and activation derivatives against autodiff."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import gaussian_fields, random_covariance

import scalinglaws as sl


SAMPLES = 2_000_000


def _monte_carlo(g, integral: str, u: np.ndarray) -> tuple[float, float]:
    u = jnp.asarray(u)
    if integral == "i2":
        values = g(u[:, 0]) * g(u[:, 1])
    elif integral == "j2":
        values = g.derivative(u[:, 0]) * g.derivative(u[:, 1])
    elif integral == "i3":
        values = g.derivative(u[:, 0]) * u[:, 1] * g(u[:, 2])
    else:
        values = g.derivative(u[:, 0]) * g.derivative(u[:, 1]) * g(u[:, 2]) * g(u[:, 3])
    values = np.asarray(values)
    return values.mean(), values.std() / math.sqrt(values.size)


CASES = [
    (sl.Erf(), "i2"),
    (sl.Erf(), "j2"),
    (sl.Erf(), "i3"),
    (sl.Erf(), "i4"),
    (sl.Linear(), "i2"),
    (sl.Linear(), "j2"),
    (sl.Linear(), "i3"),
    (sl.Linear(), "i4"),
    (sl.ReLU(), "i2"),
    (sl.ReLU(), "j2"),
    (sl.Hermite(2), "i2"),
    (sl.Hermite(3), "i2"),
    (sl.Hermite(3), "j2"),
]


@pytest.mark.parametrize("g, integral", CASES, ids=lambda x: getattr(x, "name", x))
@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_closed_form_integrals_match_monte_carlo(g, integral, scale):
    rng = np.random.default_rng(hash((g.name, integral, scale)) % 2**32)
    n = {"i2": 2, "j2": 2, "i3": 3, "i4": 4}[integral]
    cov = random_covariance(rng, n, scale)
    estimate, error = _monte_carlo(g, integral, gaussian_fields(rng, cov, SAMPLES))
    exact = float(getattr(g, integral)(cov))
    assert abs(estimate - exact) < 5 * error + 1e-12, (estimate, exact, error)


def test_integrals_broadcast_over_leading_axes():
    rng = np.random.default_rng(0)
    covs = np.stack([random_covariance(rng, 4) for _ in range(6)]).reshape(2, 3, 4, 4)
    batched = sl.Erf().i4(covs)
    assert batched.shape == (2, 3)
    np.testing.assert_allclose(batched[1, 2], sl.Erf().i4(covs[1, 2]), rtol=1e-14)


def test_hermite_unit_variance_is_power_of_correlation():
    rho = 0.37
    cov = np.array([[1.0, rho], [rho, 1.0]])
    for k in range(6):
        np.testing.assert_allclose(sl.Hermite(k).i2(cov), rho**k, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "g", [sl.Erf(), sl.Linear(), sl.ReLU(), sl.Tanh(), sl.Hermite(0), sl.Hermite(4)], ids=lambda g: g.name
)
def test_derivative_matches_autodiff(g):
    x = jnp.linspace(-3.1, 2.9, 41)
    np.testing.assert_allclose(g.derivative(x), jax.vmap(jax.grad(g))(x), rtol=1e-12, atol=1e-12)


def test_erf_is_the_scm_activation():
    np.testing.assert_allclose(sl.Erf()(1.0), math.erf(1 / math.sqrt(2)), rtol=1e-14)


def test_missing_integral_and_bad_shapes_raise_clear_errors():
    with pytest.raises(NotImplementedError, match="tanh.*I2"):
        sl.Tanh().i2(np.eye(2))
    with pytest.raises(NotImplementedError, match="relu.*I3"):
        sl.ReLU().i3(np.eye(3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        sl.Erf().i3(np.eye(2))
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'"):
        sl.activation_from_name("sigmoid")
    with pytest.raises(ValueError, match="degree"):
        sl.Hermite(-1)
    assert sl.activation_from_name("hermite3") == sl.Hermite(3)


def test_the_abstract_activation_cannot_be_instantiated():
    """`AbstractActivation` is abstract, and so is a subclass missing `derivative` or `name`; every
    concrete activation instantiates."""
    with pytest.raises(TypeError, match="abstract"):
        sl.AbstractActivation()

    class NoDerivative(sl.AbstractActivation):
        name = "no_derivative"

        def __call__(self, x):
            return jnp.asarray(x)

    class NoName(sl.AbstractActivation):
        def __call__(self, x):
            return jnp.asarray(x)

        def derivative(self, x):
            return jnp.ones_like(jnp.asarray(x))

    with pytest.raises(TypeError, match="derivative"):
        NoDerivative()
    with pytest.raises(TypeError, match="name"):
        NoName()
    for g in (sl.Erf(), sl.Linear(), sl.ReLU(), sl.Tanh(), sl.Hermite(2)):
        assert isinstance(g, sl.AbstractActivation) and np.isfinite(float(g(0.5))) and g.name


def test_fast_arcsin_is_accurate_to_rounding():
    from scalinglaws._special import arcsin

    x = np.concatenate([np.linspace(-1, 1, 200_001), [0.5, -0.5, np.nextafter(0.5, 1), 1e-300, -1e-12]])
    np.testing.assert_allclose(np.asarray(arcsin(x)), np.arcsin(x), rtol=4e-15, atol=1e-15)
    np.testing.assert_allclose(jax.grad(arcsin)(0.3), 1 / np.sqrt(1 - 0.09), rtol=1e-13)


@pytest.mark.parametrize("g", [sl.Erf(), sl.Linear()], ids=lambda g: g.name)
def test_i3_is_linear_in_c12_and_c23(g):
    """Stein's lemma, E[g'(u1) u2 g(u3)] = C12 E[g''(u1) g(u3)] + C23 E[g'(u1) g'(u3)], on which the
    eigen-block ODE's drift rests: I3 at (C12, C23) is C12 I3(1, 0) + C23 I3(0, 1)."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        cov = random_covariance(rng, 3)
        c11, c12, c13, c23, c33 = cov[0, 0], cov[0, 1], cov[0, 2], cov[1, 2], cov[2, 2]
        combined = c12 * g.i3_entries(c11, 1.0, c13, 0.0, c33) + c23 * g.i3_entries(c11, 0.0, c13, 1.0, c33)
        np.testing.assert_allclose(g.i3(cov), combined, rtol=1e-12, atol=1e-15)
