"""Population gradient descent of the 2-homogeneous student (Ren, Nichani, Wu & Lee, arXiv
2504.19983; the paper's figure), `V <- V - eta grad_V (L / 2)`, and population gradient flow
`dV/dtau = -grad_V (L / 2)` (their appendix C), on the exact population loss of
`scalinglaws._homogeneous`, no sampling, in d dimensions, every seed from its own teacher (random
orthonormal directions) and its own initial student, as `Setup.networks` draws them.

Recorded per seed on the setup's grid (`alpha = steps / d`; the flow's time tau): `eps_g = L / 2`
(the paper reports L), per teacher direction the `overlap` `max_k |cos(v_k, v*_p)|` and the
function `mass`, and the `emergence_step`: the first recorded step (the flow: time) at which a
direction's squared overlap reaches 1/2.
"""

import functools
import math
import time
from collections.abc import Callable

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from ._cost import UNIT_SECONDS, ode_steps
from ._homogeneous import Overlaps, direction_observables, population_descent, population_gradient, population_loss
from ._learners import AbstractLearner, Recording
from ._observables import diverged, first_failure


__all__ = [
    "EMERGENCE_LEVEL",
    "PopulationDescent",
    "PopulationFlow",
    "descend",
    "emergence_steps",
    "flow",
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


@functools.partial(jax.jit, static_argnums=3)  # compiled once per activation, shared with the theory
def descend(weights, directions, coefficients, activation, rate, steps) -> dict:
    """Population gradient descent of a batch of seeds (leading axis S), recorded at `steps`."""

    def one(v, e, a):
        return population_descent(v, e, a, activation, rate, steps, observe_homogeneous(activation, a))

    return jax.vmap(one)(weights, directions, coefficients)


@functools.partial(jax.jit, static_argnums=(3, 5, 6, 7))  # the activation and the solver's options
def flow(weights, directions, coefficients, activation, times, rtol: float, atol: float, max_steps: int) -> dict:
    """Population gradient flow `dV/dtau = -grad_V (L / 2)` of a batch of seeds (leading axis S),
    by diffrax (Tsit5, PI step control) in the weights' dtype, recording the observables at `times`
    (from 0); a solve that fails (step limit, non-finite) records NaN from where it stopped."""

    def one(v, e, a):
        def field(t, w, args):
            return -population_gradient(w, e, a, activation)

        observe = observe_homogeneous(activation, a)
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            diffrax.Tsit5(),
            times[0],
            times[-1],
            None,
            v,
            None,
            saveat=diffrax.SaveAt(
                ts=times, fn=lambda t, w, args: observe(Overlaps.of(w.astype(jnp.float64), e.astype(jnp.float64)))
            ),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol, pcoeff=0.4, icoeff=0.3),
            max_steps=max_steps,
            throw=False,
        )
        good = solution.result == diffrax.RESULTS.successful
        return jax.tree_util.tree_map(lambda x: jnp.where(good, x, jnp.nan), solution.ys)

    return jax.vmap(one)(weights, directions, coefficients)


def homogeneous_step_units(setup, dimension: int | None = None) -> float:
    """Units (`scalinglaws._cost`) of one population gradient of the homogeneous student in
    `dimension` (default d) dimensions: its `(m, m)` and `(m, P)` overlaps and their pull-back to
    the `m x d` weights, about `6 m d + 12 m^2 + 12 m P` multiply-adds in matrix products, four per
    unit."""
    n = setup.input_dim if dimension is None else dimension
    p, m = setup.teacher.hidden, max(setup.variants.hidden)
    return (6 * m * n + 12 * m * m + 12 * m * p) / 4


FLOW_STEPS_PER_DECADE = 600  # Tsit5 on the population flow at the default tolerances


class PopulationDescent(AbstractLearner):
    """Population gradient descent with the fixed step `eta` of each variant
    (`Variants.learning_rates`) on the exact population loss of a `HomogeneousStudentSpec`."""

    def why_not(self, setup) -> str | None:
        from ._setup import HomogeneousStudentSpec  # the setup module imports the learners' modules

        if not isinstance(setup.student, HomogeneousStudentSpec):
            kind = type(setup.student).__name__
            return f"population gradient descent is implemented for the homogeneous student, not a {kind}"
        return None if setup.seeds >= 1 else "no seeds to train"

    def estimate_seconds(self, setup) -> float:
        """Steps x seeds x variants at `homogeneous_step_units` each."""
        runs = setup.seeds * setup.variants.size
        return UNIT_SECONDS * int(setup.grid.steps[-1]) * runs * homogeneous_step_units(setup)

    def record(self, setup, *, progress: Callable[[int, int], None] | None = None) -> Recording:
        dtype = jnp.float32 if setup.dtype == "float32" else jnp.float64
        steps = jnp.asarray(setup.grid.steps, jnp.int32)
        run = descend
        curves: dict[int, dict] = {}
        start, compile_seconds = time.perf_counter(), 0.0
        for networks in setup.networks():
            weights, directions, coefficients = homogeneous_problem(networks, dtype)
            for h in networks.variants:
                tick = time.perf_counter()
                rate = jnp.asarray(setup.variants.learning_rates[h], dtype)
                curves[int(h)] = jax.device_get(
                    run(weights, directions, coefficients, setup.student.activation, rate, steps)
                )
                compile_seconds = compile_seconds or time.perf_counter() - tick  # the first includes compiling
                if progress is not None:
                    progress(len(curves), setup.variants.size)
        seconds = time.perf_counter() - start
        summary = {
            "simulation_method": "population gradient descent (exact population loss)",
            "compile_seconds": round(compile_seconds, 3),
            "simulation_seconds": round(seconds, 3),
            "seed_steps_per_second": round(setup.seeds * setup.variants.size * int(steps[-1]) / max(seconds, 1e-9), 1),
        }
        return _recording(setup, curves, summary)


def _recording(setup, curves: dict[int, dict], summary: dict) -> Recording:
    """The `Recording` of every variant's observables (`curves[h]`: `eps_g` (S, T), `overlap`, `mass`
    (S, T, P)), with the emergence times on the grid's steps (or times, for a flow) and NaN from a
    run's divergence on."""
    per_variant = {
        f"{name}_sim": np.stack([np.asarray(curves[h][name], np.float64) for h in sorted(curves)])
        for name in curves[min(curves)]
    }
    clock = setup.grid.times if setup.grid.steps is None else setup.grid.steps
    per_variant["emergence_step_sim"] = emergence_steps(clock, per_variant["overlap_sim"])
    eps = per_variant["eps_g_sim"]
    flat = eps.reshape(-1, eps.shape[-1])
    mask, diverged_at = first_failure(diverged(flat, None, setup.divergence_threshold), setup.grid.times)
    mask = mask.reshape(eps.shape)
    for name in ("eps_g_sim", "overlap_sim", "mass_sim"):
        value = per_variant[name]
        value[mask if value.ndim == 3 else np.broadcast_to(mask[..., None], value.shape)] = np.nan
    return Recording(per_variant, {}, diverged_at.reshape(eps.shape[:2]), summary)


class PopulationFlow(AbstractLearner):
    """Population gradient flow in `tau = eta t` on the exact population loss of a
    `HomogeneousStudentSpec` (`flow`), in d dimensions, on the setup's continuous time grid.
    `rtol`, `atol`, `max_steps`: the adaptive solver's tolerances (None: by the dtype) and step limit."""

    rtol: float | None = None
    atol: float | None = None
    max_steps: int = 1_000_000

    def tolerances(self, dtype) -> tuple[float, float]:
        """`(rtol, atol)`: as given, else what the dtype resolves (float32: 1e-5, 1e-7; float64: 1e-8, 1e-11)."""
        single = jnp.dtype(dtype) == jnp.float32
        return (
            self.rtol if self.rtol is not None else (1e-5 if single else 1e-8),
            self.atol if self.atol is not None else (1e-7 if single else 1e-11),
        )

    def why_not(self, setup) -> str | None:
        return PopulationDescent().why_not(setup)

    def estimate_seconds(self, setup) -> float:
        """Tsit5's six evaluations of the population gradient (`homogeneous_step_units`) per step, at
        `FLOW_STEPS_PER_DECADE` steps per decade of time, for every seed and group of variants."""
        runs = setup.seeds * len(setup.variants.groups())  # the variants of a group share one flow
        steps = ode_steps(setup.grid.times, FLOW_STEPS_PER_DECADE)
        return UNIT_SECONDS * 6 * steps * runs * homogeneous_step_units(setup)

    def record(self, setup, *, progress: Callable[[int, int], None] | None = None) -> Recording:
        dtype = jnp.float32 if setup.dtype == "float32" else jnp.float64
        times = jnp.asarray(setup.grid.times, dtype)
        run = flow
        start = time.perf_counter()
        curves: dict[int, dict] = {}
        for networks in setup.networks():
            weights, directions, coefficients = homogeneous_problem(networks, dtype)
            args = (weights, directions, coefficients, setup.student.activation, times, *self.tolerances(dtype))
            out = jax.device_get(run(*args, self.max_steps))
            curves |= {int(h): out for h in networks.variants}
            if progress is not None:
                progress(len(curves), setup.variants.size)
        seconds = time.perf_counter() - start
        summary = {
            "simulation_method": "population gradient flow (exact population loss; Tsit5, "
            f"rtol {self.tolerances(dtype)[0]:g})",
            "simulation_seconds": round(seconds, 3),
        }
        return _recording(setup, curves, summary)
