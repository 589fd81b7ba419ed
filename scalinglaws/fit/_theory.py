"""Fits of a theory to a simulated learning curve, by gradients through the ODE solve.

The theory's eps_g(alpha; p) is a differentiable function of its parameters `p` (learning rate,
spectrum exponent, initial scale, ...): diffrax differentiates through the adaptive solve. A fit
minimises the mean Huber loss of `ln eps_theory(alpha; p) - ln eps_sim(alpha)` (seed mean) over the
logarithms of positive parameters with Adam, and reports 95 % intervals from the curvature of the loss
(Gauss-Newton on the log residuals with their exact Jacobian, residual variance from the fit).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float

from ._fit import FitError


__all__ = ["TheoryFit", "fit_theory"]


@dataclass(frozen=True)
class TheoryFit:
    """`params` (name -> value), `intervals` (name -> (low, high), 95 %), `loss`, and the loss at
    every optimisation step (`history`)."""

    params: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    loss: float
    history: np.ndarray


def fit_theory(
    theory: Callable[[Mapping[str, Array]], Float[Array, " T"]],
    runs: Float[ArrayLike, "*S T"],
    initial: Mapping[str, float],
    *,
    steps: int = 150,
    learning_rate: float = 0.05,
    huber_delta: float = 0.1,
) -> TheoryFit:
    """Fit the positive parameters `initial` (name -> starting value) of `theory` to `runs`.

    **Arguments:**

    - `theory`: `params -> eps_g` on the simulation's recording times (without `alpha = 0`, or
      with `runs` including it), a JAX function of a dict of scalars (for example
      `solve_soft_committee` vmapped over the seeds' initial states and averaged).
    - `runs`: the simulated `eps_g`, (T,) or (S, T); its seed mean is fitted.
    - `initial`: the starting values, all > 0.
    - `steps`, `learning_rate`: Adam on the log-parameters.
    """
    runs = np.asarray(runs, np.float64)
    mean = runs.mean(0) if runs.ndim == 2 else runs
    if not np.all(np.isfinite(mean)) or np.any(mean <= 0):
        raise FitError("the simulated curve must be finite and > 0 (drop alpha = 0 and diverged runs)")
    if any(not value > 0 for value in initial.values()):
        raise FitError(f"the starting values must be > 0, got {dict(initial)}")
    names = tuple(initial)
    target = jnp.log(jnp.asarray(mean))

    def residuals(log_p):
        curve = theory({n: jnp.exp(log_p[i]) for i, n in enumerate(names)})
        return jnp.log(curve) - target

    def loss(log_p):
        return jnp.mean(optax.losses.huber_loss(residuals(log_p), delta=huber_delta))

    with jax.numpy_dtype_promotion("standard"):
        value_and_grad = jax.jit(jax.value_and_grad(loss))
        optimiser = optax.adam(learning_rate)
        log_p = jnp.log(jnp.asarray([initial[n] for n in names], jnp.float64))
        state = optimiser.init(log_p)
        history = []
        for _ in range(steps):
            value, grad = value_and_grad(log_p)
            if not (jnp.isfinite(value) and jnp.all(jnp.isfinite(grad))):
                raise FitError(f"the theory is not finite at {dict(zip(names, np.exp(np.asarray(log_p))))}")
            history.append(float(value))
            updates, state = optimiser.update(grad, state, log_p)
            log_p = optax.apply_updates(log_p, updates)
        # Gauss-Newton with the exact Jacobian of the discrete solve (reverse mode: diffrax's
        # adjoint is a custom_vjp). Differences of the gradient are not usable here: the adaptive
        # step sequence makes the gradient jump at the scale of the solver tolerance.
        jac = np.asarray(jax.jacrev(residuals)(log_p))
        res = np.asarray(residuals(log_p))
    variance = float(res @ res) / max(res.size - len(names), 1)
    sd = np.sqrt(np.maximum(np.diagonal(variance * np.linalg.pinv(jac.T @ jac)), 0.0))
    values = np.exp(np.asarray(log_p))
    return TheoryFit(
        params={n: float(v) for n, v in zip(names, values)},
        intervals={
            n: (float(v * np.exp(-1.96 * s)), float(v * np.exp(1.96 * s))) for n, v, s in zip(names, values, sd)
        },
        loss=float(loss(log_p)),
        history=np.asarray(history),
    )
