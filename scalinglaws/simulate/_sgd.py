"""One step of online SGD on the per-sample loss `1/2 (f(x) - y)^2`.

Learning rates are scaled per layer so that `alpha = steps / N` is the time of the
order-parameter ODEs (Saad & Solla 1995; Goldt et al. 2019; `shared/DESIGN.md`):

- first layer:  `w_k <- w_k + (eta / sqrt(N)) c_K v_k delta g'(lambda_k) x`, i.e. a gradient step
  of size `eta` on `W` (whose gradient carries the `1/sqrt(N)` of the local field); a network
  that reads only its first `visible` inputs moves only those weights;
- second layer: `v_k <- v_k + (eta_v / N) c_K delta g(lambda_k)`, a gradient step of size `eta_v / N`;
- random-feature readout: `a_k <- a_k + (eta / N) c_K delta g(f_k . x / sqrt(N))`;

with `delta = y - f(x)`. Each is exactly a step along `-jax.grad` of the per-sample loss with
those step sizes (tested).
"""

import math
from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._models import RandomFeatureModel, TwoLayerNetwork


__all__ = ["LearningRates", "readout_step", "sgd_step"]


class LearningRates(NamedTuple):
    """`first`: `eta` (first layer, or the random-feature readout); `second`: `eta_v` (second layer)."""

    first: Float[Array, ""]
    second: Float[Array, ""]


def sgd_step(
    student: TwoLayerNetwork | RandomFeatureModel,
    x: Float[Array, " N"],
    target: Float[Array, ""],
    rates: LearningRates,
    *,
    train_second_layer: bool = False,
) -> TwoLayerNetwork | RandomFeatureModel:
    """One online-SGD step on the sample `(x, target)`; see the module docstring for the rules."""
    n = student.input_dim
    dtype = x.dtype
    eta = jnp.asarray(rates.first, dtype)
    g = student.activation
    if isinstance(student, TwoLayerNetwork):
        pre = student.fields(x)
        act = g(pre)
        scaled = student.scale * student.second
        delta = target - scaled @ act
        seen = student.visible
        step = (eta / math.sqrt(n)) * (scaled * delta * g.derivative(pre))[:, None] * x[None, :seen]
        first = student.first + step if seen == n else student.first.at[:, :seen].add(step)
        if not train_second_layer:
            return eqx.tree_at(lambda s: s.first, student, first)
        eta_v = jnp.asarray(rates.second, dtype)
        second = student.second + (eta_v / n) * student.scale * delta * act
        return eqx.tree_at(lambda s: (s.first, s.second), student, (first, second))
    if isinstance(student, RandomFeatureModel):
        return readout_step(student, student.features_of(x), target, rates)
    raise TypeError(f"no SGD rule for {type(student).__name__}")


def readout_step(
    student: RandomFeatureModel, phi: Float[Array, " K"], target: Float[Array, ""], rates: LearningRates
) -> RandomFeatureModel:
    """The random-feature readout step given the sample's features `phi = g(F x / sqrt(N))`, which
    the engine computes for a whole chunk of inputs in one matrix product."""
    eta = jnp.asarray(rates.first, phi.dtype)
    delta = target - student.scale * (phi @ student.readout)
    readout = student.readout + (eta / student.input_dim) * student.scale * delta * phi
    return eqx.tree_at(lambda s: s.readout, student, readout)
