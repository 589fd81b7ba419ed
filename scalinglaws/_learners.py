"""Learners: the training protocols a `Setup` can be simulated with (one `AbstractLearner` each).

`OnlineSGD` is online stochastic gradient descent on the per-sample loss `1/2 (f(x) - y)^2`, one
fresh Gaussian input per step, with the per-layer learning rates of `scalinglaws._models` (Saad &
Solla 1995; Goldt et al. 2019), run by `scalinglaws.simulate`.
"""

import abc
from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ._cost import UNIT_SECONDS
from .simulate import Simulation, simulate, why_not_reduced


__all__ = ["AbstractLearner", "OnlineSGD", "Recording", "reduced_is_cheaper", "reduced_why_not"]


class Recording(eqx.Module):
    """What a learner returns, the simulation's counterpart of a theory's `Trajectory` (NumPy).

    - `per_variant`: arrays with a leading variant axis H under the names of the results contract,
      e.g. `eps_g_sim` (H, S, T), `Q_sim` (H, S, T, K, K).
    - `shared`: arrays without the variant axis, e.g. `T_sim` (S, M, M).
    - `diverged_at` (H, S): the time (on `Setup.grid`) at which a run diverged, NaN where it did not.
    - `summary`: numbers for the run's summary (timings, speed, the method used).
    """

    per_variant: dict
    shared: dict
    diverged_at: np.ndarray
    summary: dict


class AbstractLearner(eqx.Module):
    """A training protocol: `why_not(setup)` says why it cannot train a setup (None: it can), and
    `record(setup, ...)` trains every variant of the setup for `setup.seeds` seeds (or data draws)
    and returns what it measured on `setup.grid` as a `Recording`."""

    @abc.abstractmethod
    def why_not(self, setup) -> str | None:
        """None if the learner can train `setup`, else why not (one sentence, no config keys)."""

    @abc.abstractmethod
    def record(self, setup, *, progress: Callable[[int, int], None] | None = None) -> Recording:
        """Train every variant of `setup` and return the recorded observables."""

    @abc.abstractmethod
    def estimate_seconds(self, setup) -> float:
        """The wall time `record(setup)` takes on the reference machine, compiling excluded, by a
        cost model of the learner's own (`scalinglaws._cost`), before anything is computed."""


def _directions(setup, sims: list[Simulation], order: np.ndarray) -> dict:
    """The homogeneous student's per-direction observables from every group's recorded overlaps:
    `overlap_sim`, `mass_sim` (H, S, T, P) and `emergence_step_sim` (H, S, P); `order` puts the
    groups' variants in variant order."""
    from ._homogeneous import Overlaps, direction_observables  # they import the models, as this module does
    from ._population import emergence_steps

    observed = []
    for sim in sims:
        a = jnp.asarray(sim.teacher_second_layer[0], jnp.float64)  # the same coefficients for every seed
        overlaps = Overlaps(jnp.asarray(sim.q), jnp.asarray(sim.r))
        observed.append(direction_observables(overlaps, a, setup.student.activation))
    overlap, mass = (np.concatenate([np.asarray(o[name]) for o in observed])[order] for name in ("overlap", "mass"))
    return {"overlap_sim": overlap, "mass_sim": mass, "emergence_step_sim": emergence_steps(setup.grid.steps, overlap)}


def reduced_why_not(setup) -> str | None:
    """None if the exact reduced chain (`simulate(..., method="reduced")`) simulates `setup` (a setup of
    networks, as online SGD trains), else why not."""
    from ._setup import TwoLayerStudentSpec  # the setup module imports this one

    student, teacher = setup.student, setup.teacher  # a network setup: its teacher is a `TeacherSpec`
    return why_not_reduced(
        two_layer=isinstance(student, TwoLayerStudentSpec),
        reads_all=student.visible_blocks is None,
        student_activation=student.activation,
        teacher_activation=teacher.activation,
        block_size=setup.input_dim // setup.blocks,
        hidden=max(setup.variants.hidden),
        teacher_hidden=teacher.hidden,
    )


def reduced_is_cheaper(setup) -> bool:
    """Whether the reduced chain costs less per step than the full simulation, by the cost model
    `benchmarks/results/reduced.md` fits (d = K + M): about `2 L (d + 4 + d^3 / 20)` against
    `N (1 + d / 8)` units of the same time (the chain's draws and small Cholesky factors on L
    blocks, against N input coordinates and the matrix-vector products)."""
    d = max(setup.variants.hidden) + setup.teacher.hidden
    return 2 * setup.blocks * (d + 4 + d**3 / 20) < setup.input_dim * (1 + d / 8)


class OnlineSGD(AbstractLearner):
    """Online SGD (`scalinglaws.simulate`): `chunk_size` inputs drawn at once per run (None:
    automatic), a Monte Carlo test set of `test_size` inputs where eps_g has no closed form, and the
    `method`: `"full"` (the networks on drawn inputs), `"reduced"` (the exact chain of the block
    overlaps, `scalinglaws.simulate._reduced`) or `"auto"` (reduced where it applies and is cheaper)."""

    chunk_size: int | None = None
    test_size: int = 10_000
    method: str = "full"

    def why_not(self, setup) -> str | None:
        from ._setup import AbstractStudentSpec  # the setup module imports this one

        if not isinstance(setup.student, AbstractStudentSpec):
            return f"online SGD trains networks, not a {type(setup.student).__name__}"
        if setup.seeds < 1:
            return "no seeds to train"
        return reduced_why_not(setup) if self.method == "reduced" else None

    def chosen_method(self, setup) -> str:
        """`"full"` or `"reduced"`: the method, with `"auto"` resolved for `setup`."""
        if self.method != "auto":
            return self.method
        return "reduced" if reduced_why_not(setup) is None and reduced_is_cheaper(setup) else "full"

    def estimate_seconds(self, setup) -> float:
        """Steps x seeds x variants. The chain: `2 L (d + 4 + d^3 / 20)` units per run-step (d = K +
        M; `reduced_is_cheaper`) and about 100 per step for the loop. The full engine: `N` units
        per drawn input (one per seed: the variants rescale the same normals) and `N c(d)` per
        run-step for the forward and backward passes, `c(d) = min(d / 32, 0.5 + d / 300)` (wide
        random-feature layers are matrix products), plus `N c(d)` per test input, recording point
        and run for a Monte Carlo eps_g."""
        steps, runs = int(setup.grid.steps[-1]), setup.variants.size * setup.seeds
        n, d = setup.input_dim, max(setup.variants.hidden) + setup.teacher.hidden
        if self.chosen_method(setup) == "reduced":
            return UNIT_SECONDS * steps * (100 + runs * 2 * setup.blocks * (d + 4 + d**3 / 20))
        per_run = n * min(d / 32, 0.5 + d / 300)
        units = steps * (setup.seeds * n + runs * per_run)
        if not setup.closed_form_error:
            units += len(setup.grid.steps) * runs * self.test_size * per_run
        return UNIT_SECONDS * units

    def run(self, setup, *, progress: Callable[[int, int], None] | None = None) -> list[Simulation]:
        """The engine's `Simulation` of every group of variants sharing their networks
        (`Variants.groups`), in group order."""
        variants = setup.variants
        method = self.chosen_method(setup)
        out = []
        scale = setup.second_layer_scale()
        for group in variants.groups():
            make_teacher, make_student = setup.factories(max(variants.hidden[h] for h in group))
            out.append(
                simulate(
                    [variants.spectra[h] for h in group],
                    make_teacher,
                    make_student,
                    learning_rates=variants.learning_rates[group],
                    second_layer_rates=variants.second_layer_rates[group],
                    train_second_layer=setup.student.train_second_layer,
                    noise_std=setup.teacher.noise_std,
                    seeds=setup.seeds,
                    grid=setup.grid.steps,
                    chunk_size=self.chunk_size,
                    test_size=self.test_size,
                    divergence_threshold=setup.divergence_threshold,
                    stop_on_divergence=setup.stop_on_divergence,
                    progress=progress,
                    method=method,
                    second_layer_scale=None if scale is None else scale[group],
                    key=jr.key(setup.seed),
                )
            )
        return out

    def record(self, setup, *, progress: Callable[[int, int], None] | None = None) -> Recording:
        """The simulations' arrays under the names of the results contract (README). With several
        groups of variants (a sweep over K), only the arrays that do not depend on K."""
        from ._setup import HomogeneousStudentSpec  # the setup module imports this one

        sims = self.run(setup, progress=progress)
        order = np.argsort(np.concatenate(setup.variants.groups()))

        def by_variant(name: str) -> np.ndarray:
            return np.concatenate([getattr(sim, name) for sim in sims])[order]

        sim = sims[0]
        per_variant = {"eps_g_sim": by_variant("eps_g"), "diverged_alpha": by_variant("diverged_alpha")}
        shared = {"steps": sim.steps, "T_sim": sim.t, "A_teacher": sim.teacher_second_layer}
        if len(sims) == 1:
            if sim.q.shape[-1]:
                per_variant.update(Q_sim=sim.q, R_sim=sim.r)
            if sim.second_layer is not None:
                per_variant[f"{setup.student.second_layer_name}_sim"] = sim.second_layer
            if sim.q_blocks is not None:
                per_variant.update(Q_blocks_sim=sim.q_blocks, R_blocks_sim=sim.r_blocks)
                shared["T_blocks_sim"] = sim.t_blocks
        if isinstance(setup.student, HomogeneousStudentSpec):
            per_variant.update(_directions(setup, sims, order))
        run_seconds = sum(s.run_seconds for s in sims)
        seed_steps = setup.variants.size * setup.seeds * int(setup.grid.steps[-1])
        summary = {
            "simulation_method": self.chosen_method(setup),
            "eps_g_method": sim.eps_g_method,
            "compile_seconds": round(sum(s.compile_seconds for s in sims), 3),
            "simulation_seconds": round(run_seconds, 3),
            "seed_steps_per_second": round(seed_steps / max(run_seconds, 1e-9)),
        }
        return Recording(per_variant, shared, per_variant["diverged_alpha"], summary)
