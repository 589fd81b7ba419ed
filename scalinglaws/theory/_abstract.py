"""The contract every theory implements (`AbstractTheory`) and the result every theory returns (`Trajectory`).

A theory of a `Setup` says whether it applies (`why_not`), extracts its initial state from the
networks the learner trains (`initial_state`: per seed, so that finite-N symmetry breaking is the
same in theory and simulation), and solves for every variant and seed (`solve`) on the setup's
time grid, however it is solved: an ODE with the shared diffrax driver, a closed form, a
fixed point. Adding a theory is one module with a final subclass and one line in `_registry`.
"""

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._observables import diverged, first_failure


__all__ = ["AbstractTheory", "Trajectory", "lanes", "masked"]


class Trajectory(eqx.Module):
    """What a theory returns: named observables on the setup's time grid (NumPy, float64).

    - `alpha` (T,): the times.
    - `per_variant`: arrays with a leading variant axis H, under the names of the results contract:
      curves `(H, S, T, ...)` such as `eps_g_theory`, `Q_theory` (K, K), `R_theory` (K, M), `v_theory`
      (K,), `Q_blocks_theory` (L, K, K), `R_blocks_theory` (L, K, M); per-run constants `(H, S)` such as
      `eps_g_asymptote`; per-variant constants `(H,)`. NaN from a run's divergence on.
    - `shared`: arrays without the variant axis, e.g. `T_theory` (S, M, M), `T_blocks_theory` (S, L, M, M).
    - `diverged_alpha` (H, S): where a solve blew up or failed (NaN where it did not).
    - `summary`: numbers for the run's summary beyond the curves.
    """

    alpha: np.ndarray
    per_variant: dict
    shared: dict
    diverged_alpha: np.ndarray
    summary: dict


class AbstractTheory(eqx.Module):
    """A theory of a `Setup`. Final subclasses set `description` and `students` (the student specs
    they model) and `trace_seconds` (what tracing its programs costs, even from a warm compilation
    cache), and implement the four methods."""

    description: ClassVar[str]
    students: ClassVar[tuple[type, ...]]
    trace_seconds: ClassVar[float] = 0.0  # tracing (and loading) its compiled programs, once per shape

    @abc.abstractmethod
    def why_not(self, setup) -> str | None:
        """None if the theory applies to `setup`, else why not (one clause, no config keys)."""

    @abc.abstractmethod
    def initial_state(self, setup, networks: list):
        """The theory's initial state for every seed, from the `Networks` the learner trains
        (`Setup.networks`: one per group of variants sharing a student size)."""

    @abc.abstractmethod
    def estimate_seconds(self, setup) -> float:
        """The wall time of `solve` on the reference machine, compiling excluded, by a cost model of
        the theory's own (`scalinglaws._cost`), before anything is computed."""

    @abc.abstractmethod
    def solve(self, setup, state0) -> Trajectory:
        """The theory for every variant and seed of `setup` on `setup.grid.times`, from `state0`.
        Raises `TheoryError` when the solver cannot reach the end."""


def lanes(variants: int, seeds: int):
    """`(tile, per_lane)`: `tile` maps a per-seed array (S, ...) to the `H * S` lanes of a vmapped
    solve (variant-major), `per_lane` a per-variant one (H, ...)."""

    def tile(x):
        x = jnp.asarray(x)
        return jnp.broadcast_to(x, (variants, *x.shape)).reshape(variants * seeds, *x.shape[1:])

    def per_lane(x):
        return jnp.repeat(jnp.asarray(x), seeds, axis=0)

    return tile, per_lane


def masked(eps: np.ndarray, failed: np.ndarray, alpha: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """`(mask, diverged_alpha)` of a batch of solves: `eps` (B, T), `failed` (B,) whether the solver
    stopped early; a solve is bad from its first diverged record (`scalinglaws._observables.diverged`)
    on, or at its last time if it failed."""
    bad = diverged(eps, None, threshold)
    bad[np.asarray(failed), -1] = True
    return first_failure(bad, alpha)
