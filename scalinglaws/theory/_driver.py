"""The one diffrax driver that every theory in the project is solved with.

Adaptive steps (Tsit5 with a PI step-size controller by default), output
on the same log-spaced `alpha` grid that the simulation records, float64, and `throw=False` so
that `vmap` over learning rates or initial conditions and gradients with respect to them work;
`check_solution` turns a failed solve into an error that says what to change.
"""

from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PyTree

from .._jax_config import require_float64


__all__ = ["ODESolution", "TheoryError", "check_solution", "check_step_limit", "padded_times", "solve_ode"]


class TheoryError(RuntimeError):
    """A theory could not be solved. `reason` says why, for callers that advise what to change:
    `"step_limit"` (the solver ran out of steps), `"failed"` (it stopped early), `"non_finite"` (the
    solution blew up), or `""`."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason


class ODESolution(eqx.Module):
    """`ys`: the state at every time of `alpha` (leading axis T); `result`: diffrax's outcome code;
    `num_steps`: accepted plus rejected solver steps."""

    alpha: Float[Array, " T"]
    ys: PyTree
    result: Any
    num_steps: Array


_SAVE_BUCKET = 32


def padded_times(alpha: Float[ArrayLike, " T"]) -> Float[np.ndarray, " T2"]:
    """The save times `alpha` with the last repeated up to a multiple of 32: the cells of a sweep
    whose time grids differ by a few points (`log_time_grid` drops the duplicate steps of small N)
    then share one compiled solve. Repeated save times cost no solver step; slice the solution
    back to `len(alpha)`."""
    alpha = np.asarray(alpha, np.float64)
    padded = -(-len(alpha) // _SAVE_BUCKET) * _SAVE_BUCKET
    return np.concatenate([alpha, np.full(padded - len(alpha), alpha[-1])])


def solve_ode(
    vector_field: Callable[[Any, PyTree, Any], PyTree],
    y0: PyTree,
    args: Any,
    alpha: Float[ArrayLike, " T"],
    *,
    rtol: float = 1e-8,
    atol: float = 1e-11,
    max_steps: int = 200_000,
    solver: diffrax.AbstractSolver | None = None,
    blowup: float | None = None,
) -> ODESolution:
    """Solve `dy/dalpha = vector_field(alpha, y, args)` from `alpha[0]` and save at every `alpha`.

    **Arguments:**

    - `vector_field`: the right-hand side, a pure JAX function.
    - `y0`: the initial state (a PyTree of float64 arrays).
    - `args`: parameters passed through to `vector_field` (differentiable).
    - `alpha`: increasing save times; the first is the start time.
    - `rtol`, `atol`: tolerances of the step-size controller.
    - `max_steps`: the most solver steps allowed.
    - `solver`: a diffrax solver; default `Tsit5()`. For stiff problems `Rodas4` with the problem's
      `factorise` (the eigen-block ODE for many blocks), or `Rodas4(dense_factorise(f))`.
    - `blowup`: stop when any state entry exceeds this in magnitude (a diverging solution would
      otherwise exhaust `max_steps`); the result is then `RESULTS.event_occurred` and the later
      saved states are infinite.

    **Returns:** an `ODESolution`. Failure is not raised here (so the function can be vmapped and
    differentiated); call `check_solution` on the result outside `jit`.
    """
    require_float64("solving a theory")
    alpha = jnp.asarray(alpha, jnp.float64)
    t0, t1 = alpha[0], alpha[-1]
    # diffrax rejects save times a rounding error past t1.
    ts = jnp.clip(alpha, t0, t1)
    event = None
    if blowup is not None:

        def blown_up(t, y, args, **kwargs):
            return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jtu.tree_leaves(y)])) > blowup

        event = diffrax.Event(blown_up)
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        solver if solver is not None else diffrax.Tsit5(),
        t0,
        t1,
        None,
        y0,
        args,
        saveat=diffrax.SaveAt(ts=ts),
        # A PI controller: far fewer rejected steps once the explicit solver's step is limited by
        # stability (converged or plateau phases), about 8% faster than the default I controller.
        stepsize_controller=diffrax.PIDController(
            rtol=rtol,
            atol=atol,
            pcoeff=0.4,
            icoeff=0.3,
            # Solvers with linear dense output step onto the save times instead of interpolating.
            step_ts=ts if solver is not None and solver.interpolation_cls is diffrax.LocalLinearInterpolation else None,
        ),
        max_steps=max_steps,
        event=event,
        throw=False,
    )
    return ODESolution(alpha, solution.ys, solution.result, solution.stats["num_steps"])


def check_step_limit(solution: ODESolution, what: str = "the ODE") -> None:
    """Raise `TheoryError` if any solve in `solution` (possibly batched) ran out of steps."""
    if np.any(np.asarray(solution.result == diffrax.RESULTS.max_steps_reached)):
        raise TheoryError(f"{what}: the solver reached its step limit before the last time", "step_limit")


def check_solution(solution: ODESolution, what: str = "the ODE") -> None:
    """Raise `TheoryError` unless every solve in `solution` (possibly batched) succeeded and is finite."""
    failed = np.asarray(solution.result != diffrax.RESULTS.successful)
    if np.any(failed):
        check_step_limit(solution, what)
        raise TheoryError(
            f"{what}: the solver failed ({int(failed.sum())} of {failed.size} solves): the dynamics may blow up "
            "or the step size collapsed",
            "failed",
        )
    leaves = [np.asarray(x) for x in jtu.tree_leaves(solution.ys)]
    if not all(np.all(np.isfinite(x)) for x in leaves):
        raise TheoryError(f"{what}: the solution became non-finite", "non_finite")
