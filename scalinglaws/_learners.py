"""Learners: the training protocols a `Setup` can be simulated with (one `AbstractLearner` each).

`OnlineSGD` is online stochastic gradient descent on the per-sample loss `1/2 (f(x) - y)^2`, one
fresh Gaussian input per step, with the per-layer learning rates of `scalinglaws._models` (Saad &
Solla 1995; Goldt et al. 2019), run by `scalinglaws.simulate`.
"""

import abc
from collections.abc import Callable

import equinox as eqx
import jax.random as jr

from .simulate import Simulation, simulate


__all__ = ["AbstractLearner", "OnlineSGD"]


class AbstractLearner(eqx.Module):
    """A training protocol: `why_not(setup)` says why it cannot train a setup (None: it can), and
    `run(setup, ...)` trains the setup's networks for every variant and returns one `Simulation`
    per group of variants sharing their networks (`Variants.groups`)."""

    @abc.abstractmethod
    def why_not(self, setup) -> str | None:
        """None if the learner can train `setup`, else why not (one sentence, no config keys)."""

    @abc.abstractmethod
    def run(self, setup, *, progress: Callable[[int, int], None] | None = None) -> list[Simulation]:
        """Train every variant of `setup` for `setup.seeds` seeds on `setup.grid`."""


class OnlineSGD(AbstractLearner):
    """Online SGD (`scalinglaws.simulate`): `chunk_size` inputs drawn at once per run (None:
    automatic), a Monte Carlo test set of `test_size` inputs where eps_g has no closed form."""

    chunk_size: int | None = None
    test_size: int = 10_000

    def why_not(self, setup) -> str | None:
        return None if setup.seeds >= 1 else "no seeds to train"

    def run(self, setup, *, progress: Callable[[int, int], None] | None = None) -> list[Simulation]:
        variants = setup.variants
        out = []
        for group in variants.groups():
            make_teacher, make_student = setup.factories(variants.hidden[group[0]])
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
                    key=jr.key(setup.seed),
                )
            )
        return out
