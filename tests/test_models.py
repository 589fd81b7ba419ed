"""Networks: initialisation conventions and one SGD step against autodiff."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws.simulate import LearningRates, sgd_step


def test_orthonormal_teacher_has_identity_overlaps(getkey):
    teacher = sl.teacher_network(50, 4, sl.Erf(), init="orthonormal", dtype=jnp.float64, key=getkey())
    np.testing.assert_allclose(teacher.first @ teacher.first.T / 50, np.eye(4), atol=1e-12)


def test_power_law_teacher_second_layer(getkey):
    teacher = sl.teacher_network(
        10, 5, sl.Erf(), second_layer="power_law", second_layer_exponent=0.7, dtype=jnp.float64, key=getkey()
    )
    a = np.asarray(teacher.second)
    np.testing.assert_allclose((a**2).sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(a[1:] / a[0], np.arange(2, 6) ** -0.7, rtol=1e-12)


@pytest.mark.parametrize("output, scale", [("sum", 1.0), ("mean", 1 / 4), ("sqrt", 1 / 2)])
def test_output_scaling(output, scale, getkey):
    net = sl.student_network(20, 4, sl.Linear(), output=output, init_std=1.0, dtype=jnp.float64, key=getkey())
    x = jnp.ones(20)
    np.testing.assert_allclose(net(x), scale * jnp.sum(net.first @ x) / math.sqrt(20), rtol=1e-12)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="second-layer"):
        sl.TwoLayerNetwork(np.zeros((3, 5)), np.zeros(2), sl.Erf())
    with pytest.raises(ValueError, match="output scaling"):
        sl.TwoLayerNetwork(np.zeros((3, 5)), np.zeros(3), sl.Erf(), output="max")
    with pytest.raises(ValueError, match="hidden"):
        sl.teacher_network(3, 5, sl.Erf(), init="orthonormal", key=jax.random.key(0))
    with pytest.raises(ValueError, match="visible"):
        sl.TwoLayerNetwork(np.zeros((3, 5)), np.zeros(3), sl.Erf(), visible=6)


def _loss(model, x, y):
    return 0.5 * (model(x) - y) ** 2


@pytest.mark.parametrize("activation", [sl.Erf(), sl.ReLU(), sl.Hermite(3)], ids=lambda g: g.name)
@pytest.mark.parametrize("output", ["sum", "sqrt"])
@pytest.mark.parametrize("train_second", [False, True])
@pytest.mark.parametrize("visible", [None, 12])
def test_sgd_step_is_a_gradient_step(activation, output, train_second, visible, getkey):
    """Also for a student reading only its first `visible` inputs: its other weights stay zero."""
    n, eta, eta_v = 30, 0.7, 0.3
    student = sl.student_network(
        n,
        3,
        activation,
        output=output,
        init_std=0.5,
        second_layer_init=0.8,
        visible=visible,
        dtype=jnp.float64,
        key=getkey(),
    )
    x = jax.random.normal(getkey(), (n,), jnp.float64)
    y = jnp.asarray(0.4)
    stepped = sgd_step(student, x, y, LearningRates(eta, eta_v), train_second_layer=train_second)
    grads = jax.grad(_loss)(student, x, y)
    np.testing.assert_allclose(stepped.first, student.first - eta * grads.first, rtol=1e-12, atol=1e-14)
    expected_second = student.second - (eta_v / n) * grads.second if train_second else student.second
    np.testing.assert_allclose(stepped.second, expected_second, rtol=1e-12, atol=1e-14)
    if visible is not None:
        assert np.all(np.asarray(stepped.first)[:, visible:] == 0) and np.all(
            np.asarray(stepped.first)[:, :visible] != 0
        )


def test_random_feature_step_trains_only_the_readout(getkey):
    n, eta = 25, 0.9
    model = sl.random_feature_model(
        n, 40, sl.Erf(), output="sqrt", readout_init_std=0.1, dtype=jnp.float64, key=getkey()
    )
    x = jax.random.normal(getkey(), (n,), jnp.float64)
    y = jnp.asarray(-0.2)
    grads = jax.grad(_loss)(model, x, y)
    np.testing.assert_array_equal(grads.features, 0.0)
    stepped = sgd_step(model, x, y, LearningRates(eta, 0.0))
    np.testing.assert_array_equal(stepped.features, model.features)
    np.testing.assert_allclose(stepped.readout, model.readout - (eta / n) * grads.readout, rtol=1e-12)
    assert isinstance(stepped, eqx.Module)
