"""Population gradient descent of the 2-homogeneous student (Ren, Nichani, Wu & Lee, arXiv
2504.19983; the paper's figure): `V <- V - eta grad_V (L / 2)` on the exact population loss of
`scalinglaws._homogeneous`, no sampling, in d dimensions, every seed from its own teacher (random
orthonormal directions) and its own initial student, as `Setup.networks` draws them.

Recorded per seed on the setup's grid (`alpha = steps / d`): `eps_g = L / 2` (the paper reports L),
per teacher direction the `overlap` `max_k |cos(v_k, v*_p)|` and the function `mass`, and the
`emergence_step`: the first recorded step at which a direction's squared overlap reaches 1/2.
"""

import math
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ._homogeneous import direction_observables, population_descent, population_loss
from ._learners import AbstractLearner, Recording
from ._observables import diverged, first_failure


__all__ = [
    "EMERGENCE_LEVEL",
    "PopulationDescent",
    "descend",
    "emergence_steps",
    "homogeneous_problem",
    "observe_homogeneous",
]

EMERGENCE_LEVEL = 0.5  # a direction has emerged when some neuron's squared cosine with it reaches this


def homogeneous_problem(networks, dtype=jnp.float64) -> tuple:
    """`(weights (S, m, d), directions (S, P, d), coefficients (S, P))` of a group of `Networks`:
    the teacher `sum_p a_p sigma(v*_p . x)` is a two-layer network with rows `sqrt(d) v*_p`."""
    teachers = networks.teachers
    d = teachers.first.shape[-1]
    directions = jnp.asarray(teachers.first, dtype) / math.sqrt(d)
    coefficients = jax.vmap(lambda t: t.effective_second_layer())(teachers).astype(dtype)
    return jnp.asarray(networks.students.weights, dtype), directions, coefficients


def observe_homogeneous(activation, coefficients) -> Callable:
    """What is recorded of the overlaps: `eps_g` (L / 2), `overlap` and `mass` (P,)."""

    coefficients = jnp.asarray(coefficients, jnp.float64)

    def observe(overlaps):
        return {
            "eps_g": 0.5 * population_loss(overlaps, coefficients, activation),
            **direction_observables(overlaps, coefficients, activation),
        }

    return observe


def emergence_steps(steps: np.ndarray, overlap: np.ndarray) -> np.ndarray:
    """The first of `steps` (T,) at which each direction's squared overlap (..., T, P) reaches
    `EMERGENCE_LEVEL` (..., P); NaN where it never does."""
    above = np.asarray(overlap) ** 2 >= EMERGENCE_LEVEL
    return np.where(np.any(above, axis=-2), np.asarray(steps, np.float64)[np.argmax(above, axis=-2)], np.nan)


def descend(weights, directions, coefficients, activation, rate, steps) -> dict:
    """Population gradient descent of a batch of seeds (leading axis S), recorded at `steps`."""

    def one(v, e, a):
        return population_descent(v, e, a, activation, rate, steps, observe_homogeneous(activation, a))

    return jax.vmap(one)(weights, directions, coefficients)


class PopulationDescent(AbstractLearner):
    """Population gradient descent with the fixed step `eta` of each variant
    (`Variants.learning_rates`) on the exact population loss of a `HomogeneousStudentSpec`."""

    def why_not(self, setup) -> str | None:
        from ._setup import HomogeneousStudentSpec  # the setup module imports the learners' modules

        if not isinstance(setup.student, HomogeneousStudentSpec):
            kind = type(setup.student).__name__
            return f"population gradient descent is implemented for the homogeneous student, not a {kind}"
        return None if setup.seeds >= 1 else "no seeds to train"

    def record(self, setup, *, progress: Callable[[int, int], None] | None = None) -> Recording:
        dtype = jnp.float32 if setup.dtype == "float32" else jnp.float64
        steps = jnp.asarray(setup.grid.steps, jnp.int32)
        run = jax.jit(descend, static_argnums=3)
        curves: dict[str, list] = {}
        order = []
        start, compile_seconds = time.perf_counter(), 0.0
        for networks in setup.networks():
            weights, directions, coefficients = homogeneous_problem(networks, dtype)
            for h in networks.variants:
                tick = time.perf_counter()
                rate = jnp.asarray(setup.variants.learning_rates[h], dtype)
                out = jax.device_get(run(weights, directions, coefficients, setup.student.activation, rate, steps))
                compile_seconds = compile_seconds or time.perf_counter() - tick  # the first includes compiling
                for name, value in out.items():
                    curves.setdefault(f"{name}_sim", []).append(np.asarray(value, np.float64))
                order.append(h)
                if progress is not None:
                    progress(len(order), setup.variants.size)
        seconds = time.perf_counter() - start
        rank = np.argsort(order)
        per_variant = {name: np.stack(value)[rank] for name, value in curves.items()}
        per_variant["emergence_step_sim"] = emergence_steps(setup.grid.steps, per_variant["overlap_sim"])
        eps = per_variant["eps_g_sim"]
        flat = eps.reshape(-1, eps.shape[-1])
        mask, diverged_at = first_failure(diverged(flat, None, setup.divergence_threshold), setup.grid.times)
        mask = mask.reshape(eps.shape)
        for name in ("eps_g_sim", "overlap_sim", "mass_sim"):
            value = per_variant[name]
            value[mask if value.ndim == 3 else np.broadcast_to(mask[..., None], value.shape)] = np.nan
        summary = {
            "simulation_method": "population gradient descent (exact population loss)",
            "compile_seconds": round(compile_seconds, 3),
            "simulation_seconds": round(seconds, 3),
            "seed_steps_per_second": round(setup.seeds * setup.variants.size * int(steps[-1]) / max(seconds, 1e-9), 1),
        }
        return Recording(per_variant, {}, diverged_at.reshape(eps.shape[:2]), summary)
