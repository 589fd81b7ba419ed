"""The random-feature model: frozen first layer, trained readout (Worschech & Rosenow, arXiv 2303.14083).

`f(x) = c_K sum_k a_k g(f_k . x / sqrt(N))` with frozen features `F` (K, N) and a readout `a` trained
by online SGD, `a_k <- a_k + (eta / N) c_K delta g(f_k . x / sqrt(N))` (the conventions of `_models`).
"""

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._activations import AbstractActivation
from ._models import AbstractStudent, LearningRates, OutputScaling, TwoLayerNetwork, output_scale
from ._observables import Observation, Probe, monte_carlo_error, network_feature_statistics, readout_error


__all__ = ["RandomFeatureModel", "random_feature_model"]


class RandomFeatureModel(AbstractStudent):
    """`f(x) = c_K sum_k a_k g(f_k . x / sqrt(N))` with frozen features `F` and a trained readout `a`.

    **Arguments:**

    - `features`: the frozen first layer `F`, shape `(K, N)`; training never changes it.
    - `readout`: the trained readout `a`, shape `(K,)`.
    - `activation`, `output`: as for `TwoLayerNetwork`.
    - `mask`: `(K,)` each feature multiplied by it (default ones; `pad`): a feature with 0 is
      inert, neither read out nor trained.
    """

    first_layer_trained: ClassVar[bool] = False

    features: Float[Array, "K N"]
    readout: Float[Array, " K"]
    mask: Float[Array, " K"]
    activation: AbstractActivation
    output: str = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    input_dim: int = eqx.field(static=True)

    def __init__(self, features, readout, activation: AbstractActivation, output: OutputScaling = "sum", mask=None):
        features = jnp.asarray(features)
        readout = jnp.asarray(readout, features.dtype)
        if features.ndim != 2:
            raise ValueError(f"features must have shape (K, N), got {features.shape}")
        if readout.shape != features.shape[:1]:
            raise ValueError(f"readout must have shape ({features.shape[0]},), got {readout.shape}")
        output_scale(output, features.shape[0])
        self.features, self.readout = features, readout
        self.mask = jnp.ones_like(readout) if mask is None else jnp.asarray(mask, features.dtype)
        self.activation = activation
        self.output = output
        self.hidden, self.input_dim = features.shape

    @property
    def scale(self) -> float:
        return output_scale(self.output, self.hidden)

    def pad(self, scale: Float[ArrayLike, " K"]) -> "RandomFeatureModel":
        """The features multiplied by `scale` (`AbstractStudent.pad`): `c_K sum_k a_k m_k phi_k`, and
        `a_k` moves by `(eta / N) c_K delta m_k phi_k`, so `m_k = 0` is inert and `m_k = c_{K_h} / c_K`
        trains the others exactly as a model of K_h features."""
        return eqx.tree_at(lambda s: s.mask, self, self.mask * jnp.asarray(scale).astype(self.mask.dtype))

    def _raw_features(self, x: Float[Array, "*batch N"]) -> Float[Array, "*batch K"]:
        frozen = jax.lax.stop_gradient(self.features)
        return self.activation(x @ frozen.T / math.sqrt(self.input_dim))

    def features_of(self, x: Float[Array, "*batch N"]) -> Float[Array, "*batch K"]:
        """The random features `m g(F x / sqrt(N))`; gradients do not flow into `F`."""
        return self._raw_features(x) * self.mask

    def __call__(self, x: Float[Array, "*batch N"]) -> Float[Array, " *batch"]:
        return self.scale * (self.features_of(x) @ self.readout)

    def readout_step(
        self, phi: Float[Array, " K"], target: Float[Array, ""], rates: LearningRates
    ) -> "RandomFeatureModel":
        """The readout step given the sample's unmasked features `phi = g(F x / sqrt(N))`, which the
        engine computes for a whole chunk of inputs in one matrix product."""
        eta = jnp.asarray(rates.first, phi.dtype)
        phi = phi * self.mask  # the chunk's features are computed unmasked, once for every variant
        delta = target - self.scale * (phi @ self.readout)
        readout = self.readout + (eta / self.input_dim) * self.scale * delta * phi
        return eqx.tree_at(lambda s: s.readout, self, readout)

    def step(
        self, x: Float[Array, " N"], target: Float[Array, ""], rates: LearningRates, *, train_second_layer: bool = False
    ) -> "RandomFeatureModel":
        return self.readout_step(self._raw_features(x), target, rates)

    def chunk_rule(self, z, scale, *, shared_inputs: bool, unit_scale: bool, train_second_layer: bool):
        """The features are frozen and equal for every variant of a seed: one matrix product gives a
        chunk's features, and the scan updates only the readout."""
        if shared_inputs:
            xs = self._raw_features(z * scale[0][None, :])  # (chunk, K)
            return xs, jax.vmap(RandomFeatureModel.readout_step, in_axes=(0, None, None, 0))
        xs = jax.vmap(lambda s: self._raw_features(z * s[None, :]), out_axes=1)(scale)  # (chunk, H, K)
        return xs, jax.vmap(RandomFeatureModel.readout_step)

    def feature_statistics(self, teacher: TwoLayerNetwork, variance: Float[Array, " N"]) -> tuple[Array, ...]:
        """`(C, b, tau)` of the (masked) features and the teacher (`scalinglaws.theory.feature_statistics`)."""
        c, b, tau = network_feature_statistics(self, teacher, variance)
        mask = self.mask.astype(c.dtype)
        return c * jnp.outer(mask, mask), b * mask, tau

    def observe(self, teacher: TwoLayerNetwork, probe: Probe) -> Observation:
        readout = self.readout.astype(jnp.float64)
        if probe.closed_form:
            eps = readout_error(self.scale * readout, *probe.features)
        else:
            eps = monte_carlo_error(self, probe.z_test, probe.input_scale, probe.y_test)
        empty = jnp.zeros((0, 0), jnp.float64)
        none = jnp.zeros((0,), jnp.float64)
        return Observation(eps, empty, empty, readout, none, none)


def random_feature_model(
    input_dim: int,
    hidden: int,
    activation: AbstractActivation,
    *,
    output: OutputScaling = "sum",
    readout_init_std: float = 0.0,
    dtype=jnp.float32,
    key: PRNGKeyArray,
) -> RandomFeatureModel:
    """A random-feature model with `F_kn ~ N(0, 1)` and `a_k ~ N(0, readout_init_std^2)`."""
    fkey, akey = jr.split(key)
    features = jr.normal(fkey, (hidden, input_dim), dtype)
    readout = readout_init_std * jr.normal(akey, (hidden,), dtype)
    return RandomFeatureModel(features, readout, activation, output)
