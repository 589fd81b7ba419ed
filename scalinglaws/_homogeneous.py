"""The 2-homogeneous student of Ren, Nichani, Wu & Lee (arXiv 2504.19983), its exact population
loss and population dynamics, closed in the overlaps.

Teacher `f*(x) = sum_p a_p sigma(v*_p . x)` with orthonormal directions `v*_p` (rows of `E`, (P, d)),
student `f(x) = sum_k |v_k|^2 sigma(v_k . x / |v_k|)`, all of `V` (m, d) trained, inputs
`x ~ N(0, I_d)`. For a Hermite series `sigma = sum_j c_j h_j` and unit vectors,
`E[sigma(u . x) sigma(w . x)] = kappa(u . w)`, `kappa(rho) = sum_j c_j^2 rho^j`, so the population
loss (the paper's eq. (4), unhalved: the project's eps_g is half of it) depends on
`V` only through `Q = V V^T` (m, m) and `R = V E^T` (m, P), with `q_k = Q_kk`:

    L = E (f - f*)^2 = sum_{p,q} a_p a_q kappa(delta_pq) - 2 sum_{k,p} a_p q_k kappa(R_kp / sqrt(q_k))
                       + sum_{k,l} q_k q_l kappa(Q_kl / sqrt(q_k q_l)).

The paper trains on the per-sample loss `1/2 (f - y)^2`, so population gradient flow in
`tau = eta t` is `dV/dtau = -grad_V (L / 2)`. With `G_Q = dL/dQ`, `G_R = dL/dR` (L as a function of
the entries) and `S = (G_Q + G_Q^T) / 2`, `grad_V (L / 2) = S V + G_R E / 2`, so that

    dR/dtau = -(S R + G_R / 2),    dQ/dtau = -(M + M^T),   M = S Q + G_R R^T / 2,

and population gradient descent with step eta is `V <- V - eta D`, `D = S V + G_R E / 2`.

Integrating these equations in (Q, R) is exact but numerically unstable: round-off leaves the
set of Gram matrices (a cosine slightly above 1 for a neuron that shares a learned direction grows),
and the error grows exponentially. The dynamics is therefore integrated on a factor of the Gram
matrix: the gradient keeps every row of V in the span of the teacher's directions and the
student's initial vectors, so with `C = [R, L]` (m, P + m), `L L^T = Q - R R^T`, and the teacher's
directions the first P coordinate axes, the same gradient descent in P + m dimensions has the
overlaps (Q, R) of the d-dimensional one at every step, whatever d: the cost is O(m^2 (P + m)) per
step, independent of d, from each seed's own initial (Q, R).
"""

import functools
import math
from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._activations import AbstractActivation, HermiteSeries, hermite_series
from ._models import AbstractStudent, LearningRates, TwoLayerNetwork, power_law_coefficients, vmapped_rule
from ._observables import Observation, Probe


__all__ = [
    "HomogeneousNetwork",
    "Overlaps",
    "direction_observables",
    "homogeneous_student",
    "overlap_flow",
    "population_descent",
    "population_gradient",
    "population_loss",
    "power_law_coefficients",
    "reduced_weights",
]


class HomogeneousNetwork(AbstractStudent):
    """`f(x) = sum_k |v_k|^2 sigma(v_k . x / |v_k|)`: every weight trained, the second layer being
    the squared norm of the first (2-homogeneous in each `v_k`); no 1/m or 1/sqrt(d) prefactor.

    Online SGD (the paper's Theorem 2.1) takes `V <- V - eta grad_V 1/2 (f(x) - y)^2` with a fresh
    sample per step, `rates.first` = eta, no other scaling; with `delta = f(x) - y`, `u_k = v_k . x /
    |v_k|` and `vbar_k = v_k / |v_k|`,

        grad_{v_k} = delta [2 sigma(u_k) v_k + |v_k| sigma'(u_k) (x - u_k vbar_k)].

    Observed against a teacher `sum_p a_p sigma(v*_p . x)` held as a two-layer network with rows
    `sqrt(d) v*_p`: `eps_g = L / 2` from the overlaps `Q = V V^T`, `R = V E^T` (`population_loss`),
    and the second layer `|v_k|^2`."""

    first_layer_trained: ClassVar[bool] = True

    weights: Float[Array, "m d"]
    activation: AbstractActivation
    hidden: int = eqx.field(static=True)
    input_dim: int = eqx.field(static=True)

    def __init__(self, weights, activation: AbstractActivation):
        self.weights = jnp.asarray(weights)
        self.activation = activation
        self.hidden, self.input_dim = self.weights.shape

    def _norms_and_fields(self, x):
        norms = jnp.linalg.norm(self.weights, axis=-1)
        alive = norms > 0
        inverse = jnp.where(alive, 1 / jnp.where(alive, norms, 1.0), 0.0)
        fields = x @ self.weights.T
        lead = (1,) * (fields.ndim - 1)
        return norms, inverse, fields * inverse.reshape(*lead, -1)

    def __call__(self, x: Float[Array, "*batch d"]) -> Float[Array, " *batch"]:
        norms, _, fields = self._norms_and_fields(x)
        lead = (1,) * (fields.ndim - 1)
        return jnp.sum((norms**2).reshape(*lead, -1) * self.activation(fields), axis=-1)

    def step(self, x, target, rates: LearningRates, *, train_second_layer: bool = False) -> "HomogeneousNetwork":
        del train_second_layer  # the second layer is the first's norm: always trained
        norms, inverse, fields = self._norms_and_fields(x)
        g = self.activation
        delta = jnp.sum(norms**2 * g(fields)) - target
        tangent = x[None, :] - (fields * inverse)[:, None] * self.weights
        grad = delta * ((2 * g(fields))[:, None] * self.weights + (norms * g.derivative(fields))[:, None] * tangent)
        eta = jnp.asarray(rates.first, x.dtype)
        return eqx.tree_at(lambda s: s.weights, self, self.weights - eta * grad)

    def chunk_rule(self, z, scale, *, shared_inputs: bool, unit_scale: bool, train_second_layer: bool):
        rule = functools.partial(HomogeneousNetwork.step, train_second_layer=train_second_layer)
        return z, vmapped_rule(rule, scale, shared_inputs=shared_inputs, unit_scale=unit_scale)

    def observe(self, teacher: TwoLayerNetwork, probe: Probe) -> Observation:
        del probe  # the population loss is exact: no test set, no blocks (isotropic inputs)
        v = self.weights.astype(jnp.float64)
        directions = teacher.first.astype(jnp.float64) / math.sqrt(self.input_dim)
        overlaps = Overlaps.of(v, directions)
        a = teacher.effective_second_layer().astype(jnp.float64)
        empty = jnp.zeros((0,), jnp.float64)
        eps = 0.5 * population_loss(overlaps, a, self.activation)
        return Observation(eps, overlaps.q, overlaps.r, jnp.diagonal(overlaps.q), empty, empty)


def homogeneous_student(
    width: int,
    input_dim: int,
    init_norm: float,
    activation: AbstractActivation,
    *,
    dtype=jnp.float32,
    key: PRNGKeyArray,
) -> HomogeneousNetwork:
    """`m = width` rows drawn uniformly on the sphere of radius `init_norm` (sigma_0) in `R^d`."""
    gauss = jr.normal(key, (width, input_dim), jnp.float64)
    rows = init_norm * gauss / jnp.linalg.norm(gauss, axis=-1, keepdims=True)
    return HomogeneousNetwork(rows.astype(dtype), activation)


class Overlaps(eqx.Module):
    """The order parameters of a homogeneous student: `q = V V^T` (m, m) and `r = V E^T` (m, P),
    with any leading axes (seeds, times)."""

    q: Float[Array, "*batch m m"]
    r: Float[Array, "*batch m P"]

    @classmethod
    def of(cls, weights: Float[Array, "m d"], directions: Float[Array, "P d"]) -> "Overlaps":
        weights = jnp.asarray(weights)
        return cls(weights @ weights.T, weights @ jnp.asarray(directions, weights.dtype).T)


def _inverse_root(squared_norms):
    """`1 / |v_k|` from `|v_k|^2`, and 0 for a neuron whose norm has decayed to zero (it can
    underflow): such a neuron has no direction and contributes nothing."""
    alive = squared_norms > 0
    return jnp.where(alive, 1 / jnp.sqrt(jnp.where(alive, squared_norms, 1.0)), 0.0)


def population_loss(
    overlaps: Overlaps, coefficients: Float[Array, " P"], activation: AbstractActivation
) -> Float[Array, ""]:
    """The unhalved population loss `L = E (f - f*)^2` (module docstring) for a Hermite-series
    activation (the teacher's and the student's)."""
    series = hermite_series(activation)
    a = jnp.asarray(coefficients)
    norms = jnp.diagonal(overlaps.q)
    inverse = _inverse_root(norms)
    one, zero = jnp.ones((), a.dtype), jnp.zeros((), a.dtype)
    teacher = series.dual(one) * jnp.sum(a * a) + series.dual(zero) * (jnp.sum(a) ** 2 - jnp.sum(a * a))
    cosine_r = jnp.clip(overlaps.r * inverse[:, None], -1.0, 1.0)
    cosine_q = jnp.clip(overlaps.q * inverse[:, None] * inverse[None, :], -1.0, 1.0)
    cross = jnp.sum(a[None, :] * norms[:, None] * series.dual(cosine_r))
    student = jnp.sum(norms[:, None] * norms[None, :] * series.dual(cosine_q))
    return teacher - 2 * cross + student


def _gradients(overlaps: Overlaps, coefficients, series: HermiteSeries):
    """`(S, G_R)`: the symmetrised gradient of L in Q and its gradient in R."""
    grads = jax.grad(lambda o: population_loss(o, coefficients, series))(overlaps)
    return 0.5 * (grads.q + grads.q.T), grads.r


def overlap_flow(overlaps: Overlaps, coefficients, activation: AbstractActivation) -> Overlaps:
    """`(dQ/dtau, dR/dtau)` of population gradient flow on `L / 2` (module docstring)."""
    s, g_r = _gradients(overlaps, coefficients, hermite_series(activation))
    m = s @ overlaps.q + 0.5 * g_r @ overlaps.r.T
    return Overlaps(-(m + m.T), -(s @ overlaps.r + 0.5 * g_r))


def reduced_weights(overlaps: Overlaps) -> Float[Array, "m n"]:
    """`C = [R, L]` (m, P + m) with `L L^T = Q - R R^T` (symmetric square root): weights in P + m
    dimensions, the teacher's directions the first P axes, with the overlaps (Q, R)."""
    q, r = jnp.asarray(overlaps.q, jnp.float64), jnp.asarray(overlaps.r, jnp.float64)
    values, vectors = jnp.linalg.eigh(q - r @ r.T)
    return jnp.concatenate([r, (vectors * jnp.sqrt(jnp.maximum(values, 0.0))[None, :]) @ vectors.T], axis=1)


def population_gradient(weights: Float[Array, "m n"], directions: Float[Array, "P n"], coefficients, activation):
    """`grad_V (L / 2)` for weights `V` (m, n) and orthonormal teacher directions (P, n)."""
    return jax.grad(lambda v: 0.5 * population_loss(Overlaps.of(v, directions), coefficients, activation))(weights)


def direction_observables(overlaps: Overlaps, coefficients, activation: AbstractActivation) -> dict:
    """Per teacher direction (P,), from the overlaps (any leading axes): `overlap`
    `max_k |cos(v_k, v*_p)|`, and `mass`, the student's projection on the teacher's feature
    `sigma(v*_p . x)` relative to `a_p`, `sum_k |v_k|^2 kappa(cos_kp) / (a_p kappa(1))` (1 once the
    direction is learned; a neuron of norm 0 has no direction)."""
    series = hermite_series(activation)
    norms = jnp.diagonal(overlaps.q, axis1=-2, axis2=-1)
    inverse = _inverse_root(norms)
    cosine = jnp.clip(overlaps.r * inverse[..., None], -1.0, 1.0)
    a = jnp.asarray(coefficients).reshape((1,) * (norms.ndim - 1) + (-1,))
    mass = jnp.sum(norms[..., None] * series.dual(cosine), axis=-2) / (a * series.dual(jnp.ones((), norms.dtype)))
    return {"overlap": jnp.max(jnp.abs(cosine), axis=-2), "mass": mass}


def population_descent(
    weights: Float[Array, "m n"],
    directions: Float[Array, "P n"],
    coefficients,
    activation,
    rate: Float[ArrayLike, ""],
    steps,
    observe: Callable[[Overlaps], Any] | None = None,
):
    """Population gradient descent `V <- V - rate grad_V (L / 2)` from `weights` (in their dtype),
    recording after each of the increasing step counts `steps` (T,) (0 allowed) the overlaps in
    float64, or what `observe` makes of them, with a leading axis T."""
    steps = jnp.asarray(steps, jnp.int32)
    observe = (lambda o: o) if observe is None else observe

    def advance(state, target):
        v, done = state

        def one(carry):
            w, i = carry
            return w - rate * population_gradient(w, directions, coefficients, activation), i + 1

        v, done = jax.lax.while_loop(lambda carry: carry[1] < target, one, (v, done))
        return (v, done), observe(Overlaps.of(v.astype(jnp.float64), directions.astype(jnp.float64)))

    _, recorded = jax.lax.scan(advance, (weights, jnp.asarray(0, jnp.int32)), steps)
    return recorded
