"""The typed, frozen description of a run that simulations and theories both read: `Setup`.

One setup, two back-ends: the learner trains the networks `Setup.networks` draws, and a theory
starts from the order parameters of those very networks, on the same time grid (`TimeGrid`) and
for the same variants (`Variants`: the learning rates, input spectra or student sizes of a sweep).
`scalinglaws.experiment` builds a setup from a config; after that no code reads the config.
"""

import abc
import functools
from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ._activations import AbstractActivation
from ._data import GaussianData
from ._homogeneous import HomogeneousNetwork, homogeneous_student
from ._models import AbstractStudent, TwoLayerNetwork, output_scale, student_network, teacher_network
from ._random_feature_model import random_feature_model
from .simulate import initial_networks


__all__ = [
    "AbstractModelSpec",
    "AbstractStudentSpec",
    "FitSpec",
    "HomogeneousStudentSpec",
    "KernelRegressionSpec",
    "LinearTeacherSpec",
    "Networks",
    "RandomFeatureStudentSpec",
    "Setup",
    "TeacherSpec",
    "TheoryOptions",
    "TimeGrid",
    "TwoLayerStudentSpec",
    "Variants",
    "time_axis",
]


class TeacherSpec(eqx.Module):
    """The teacher `c_M sum_n A_n g(B_n . x / sqrt(N))` (`teacher_network`) and its label noise."""

    hidden: int
    activation: AbstractActivation
    output: str = "sum"
    init: str = "gaussian"
    second_layer: str = "ones"
    second_layer_exponent: float = 1.0
    noise_std: float = 0.0

    def factory(self, input_dim: int, blocks: int, dtype) -> Callable:
        """`make_teacher(key)` for inputs of dimension `input_dim` with `blocks` eigenvalue blocks."""
        make = functools.partial(
            teacher_network,
            input_dim,
            self.hidden,
            self.activation,
            output=self.output,
            init=self.init,
            second_layer=self.second_layer,
            second_layer_exponent=self.second_layer_exponent,
            blocks=blocks,
            dtype=dtype,
        )
        return lambda key: make(key=key)


class LinearTeacherSpec(eqx.Module):
    """The teacher of kernel regression: labels `y = wbar . x + noise` with `wbar_i ~ N(0, s_i^2)` in
    the kernel's eigenbasis, `s_i^2 = variance i^-variance_exponent` (exponent 0: the isotropic,
    Gaussian-process teacher of Kramp, Lindner & Helias, arXiv 2602.23039), label noise of standard
    deviation `noise_std`."""

    variance: float = 1.0
    noise_std: float = 0.0
    variance_exponent: float = 0.0

    def variances(self, modes: int):
        """`s^2` (a number) for the isotropic teacher, else `s_i^2` (N,), float64."""
        if self.variance_exponent == 0:
            return self.variance
        return jnp.asarray(self.variance * np.arange(1, modes + 1, dtype=np.float64) ** -self.variance_exponent)


class AbstractModelSpec(eqx.Module):
    """What a setup trains: a network drawn per seed (`AbstractStudentSpec`) or a linear model on
    fixed features (`KernelRegressionSpec`)."""


class KernelRegressionSpec(AbstractModelSpec):
    """Kernel (random-feature) regression in the kernel's eigenbasis: `f(x) = w . x` over the N
    eigenmodes of the input covariance, `w(0) ~ N(0, init_std^2 I)` (`init_std = 0`: `w(0) = 0`).
    Trained by a full-batch learner (`scalinglaws.FullBatchLangevin`) on P fixed samples; the
    model of Kramp, Lindner & Helias, arXiv 2602.23039."""

    init_std: float = 0.0


class AbstractStudentSpec(AbstractModelSpec):
    """How to draw a student (an `AbstractStudent`) of a given size: one final subclass per model."""

    hidden: eqx.AbstractVar[int]
    activation: eqx.AbstractVar[AbstractActivation]
    output: eqx.AbstractVar[str]
    train_second_layer: eqx.AbstractVar[bool]
    visible_blocks: eqx.AbstractVar[int | None]
    # The results' name of the trained second layer or readout (`v_sim`, `a_sim`).
    second_layer_name: eqx.AbstractClassVar[str]

    @abc.abstractmethod
    def factory(self, input_dim: int, hidden: int, visible: int | None, dtype) -> Callable:
        """`make_student(key)` with `hidden` units reading the first `visible` inputs (None: all)."""


class TwoLayerStudentSpec(AbstractStudentSpec):
    """A two-layer student (`student_network`): `W ~ N(0, init_std^2)`, `v_k = second_layer_init`."""

    second_layer_name: ClassVar[str] = "v"

    hidden: int
    activation: AbstractActivation
    output: str = "sum"
    init_std: float = 1e-3
    second_layer_init: float = 1.0
    train_second_layer: bool = False
    visible_blocks: int | None = None

    def factory(self, input_dim: int, hidden: int, visible: int | None, dtype) -> Callable:
        make = functools.partial(
            student_network,
            input_dim,
            hidden,
            self.activation,
            output=self.output,
            init_std=self.init_std,
            second_layer_init=self.second_layer_init,
            visible=visible,
            dtype=dtype,
        )
        return lambda key: make(key=key)


class RandomFeatureStudentSpec(AbstractStudentSpec):
    """A random-feature student (`random_feature_model`): frozen `F ~ N(0, 1)`, readout `a ~ N(0, std^2)`."""

    second_layer_name: ClassVar[str] = "a"

    hidden: int
    activation: AbstractActivation
    output: str = "sum"
    readout_init_std: float = 0.0
    train_second_layer: bool = False
    visible_blocks: None = None

    def factory(self, input_dim: int, hidden: int, visible: int | None, dtype) -> Callable:
        make = functools.partial(
            random_feature_model,
            input_dim,
            hidden,
            self.activation,
            output=self.output,
            readout_init_std=self.readout_init_std,
            dtype=dtype,
        )
        return lambda key: make(key=key)


class HomogeneousStudentSpec(AbstractStudentSpec):
    """The 2-homogeneous student of Ren, Nichani, Wu & Lee (arXiv 2504.19983),
    `f(x) = sum_k |v_k|^2 sigma(v_k . x / |v_k|)` (`scalinglaws._homogeneous`): `hidden` = m rows
    drawn uniformly on the sphere of radius `init_std` (sigma_0); every weight is trained (its
    second layer is the squared norm of the first)."""

    second_layer_name: ClassVar[str] = "v"

    hidden: int
    activation: AbstractActivation
    init_std: float = 1e-3
    output: str = "sum"
    train_second_layer: bool = False
    visible_blocks: None = None

    def factory(self, input_dim: int, hidden: int, visible: int | None, dtype) -> Callable:
        make = functools.partial(homogeneous_student, hidden, input_dim, self.init_std, self.activation, dtype=dtype)
        return lambda key: make(key=key)


class Variants(eqx.Module):
    """The H variants of a run, run side by side: the product of the swept learning rates, input
    spectra and (for students whose sizes run in groups) student sizes.

    `axes`: the swept quantities (`"learning_rate"`, `"distinct_eigenvalues"`, `"exponent"`,
    `"hidden"`) in the grid's order, and `axis_values` their values: the H variants are their
    product in C order (the last axis fastest), so a result's leading H axis reshapes to `shape`.
    Every variant's `learning_rates`, `second_layer_rates` (H,), input `spectra` and student size
    `hidden`; `labels` how summaries name them; `eigenvalues` (H, L) every variant's eigenvalue on
    each block of the finest partition among the spectra. `padded`: the variants' student widths run
    as one batch of the widest, a narrower variant's extra units inert (`Setup.second_layer_scale`);
    else each width is a group of its own (`groups`).
    """

    axes: tuple[str, ...]
    axis_values: tuple[np.ndarray, ...]
    learning_rates: np.ndarray
    second_layer_rates: np.ndarray
    spectra: tuple[GaussianData, ...]
    hidden: tuple[int, ...]
    labels: tuple[str, ...]
    eigenvalues: np.ndarray
    padded: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        """The variants' grid: one length per swept axis (H = their product)."""
        return tuple(len(values) for values in self.axis_values)

    @property
    def shared_inputs(self) -> bool:
        """Whether every variant sees inputs of one spectrum (so they share each seed's draws)."""
        return bool(np.all(self.eigenvalues == self.eigenvalues[:1]))

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def swept(self) -> bool:
        return bool(self.axes)

    @property
    def partition(self) -> GaussianData:
        """The finest block partition among the spectra (unit eigenvalues): where overlaps are recorded."""
        return GaussianData(np.ones(self.eigenvalues.shape[-1]), self.spectra[0].input_dim)

    def groups(self) -> list[np.ndarray]:
        """Indices of the variants that share their networks (one student size each, or all of them
        when padded), in order."""
        if self.padded:
            return [np.arange(self.size)]
        sizes = np.asarray(self.hidden)
        return [np.flatnonzero(sizes == k) for k in dict.fromkeys(self.hidden)]


class TimeGrid(eqx.Module):
    """The recording times (T,) from 0, in the learner's natural unit, and the results' name of
    that axis: `alpha = steps / N` for online learners (`name = "alpha"`, with the integer SGD
    `steps` of `log_time_grid`), the continuous time `t` of a full-batch flow (`name = "time"`,
    `steps = None`)."""

    times: np.ndarray
    steps: np.ndarray | None = None
    name: str = "alpha"


def time_axis(arrays) -> str:
    """The name of a run's time axis in its arrays (`TimeGrid.name`): `alpha` or `time`."""
    return "alpha" if "alpha" in arrays else "time"


class TheoryOptions(eqx.Module):
    """How theories are solved: whether at all, the adaptive solver's tolerances and step limit, its
    choice (`"auto"`, `"explicit"`, `"stiff"`), and whether an order-parameter theory with a
    symmetric teacher predicts the plateau's escape (`scalinglaws.theory.plateau_record`)."""

    enabled: bool = True
    rtol: float = 1e-10
    atol: float = 1e-13
    max_steps: int = 1_000_000
    solver: str = "auto"
    plateau: bool = True


class FitSpec(eqx.Module):
    """The fit made of a run's `eps_g_sim` after it (`scalinglaws.fit.fit_run`): the `form`'s name,
    the alpha `window` (None: all), or `auto_window` (where the local exponent is steady), the
    steadiness `tolerance`, `bootstrap` resamples over seeds, and the `variant` of a sweep to fit."""

    form: str
    window: tuple[float, float] | None = None
    auto_window: bool = False
    tolerance: float = 0.05
    bootstrap: int = 200
    variant: int | None = None


class Networks(eqx.Module):
    """The teachers and initial students of `seeds` seeds (leading axis S), for the variants
    `variants` (indices) that share them."""

    teachers: TwoLayerNetwork
    students: AbstractStudent | HomogeneousNetwork
    variants: np.ndarray


class Setup(eqx.Module):
    """A run: data, teacher, student, learner, variants, time grid, theory options, seeds.

    - `name`: the run's name; `input_dim`: N; `power_law`: whether the inputs have a power-law
      spectrum (else isotropic); `dtype`: the simulation's (`"float32"` or `"float64"`).
    - `teacher`, `student`: `TeacherSpec` and an `AbstractStudentSpec` (networks), or
      `LinearTeacherSpec` and `KernelRegressionSpec` (kernel regression).
    - `learner`: an `AbstractLearner` (online SGD; full-batch gradient flow or Langevin dynamics).
    - `variants`, `grid`, `theory`: as their classes say.
    - `seeds`: S, independent runs (0: theory alone, from seed 0's networks); `seed`: the base PRNG seed.
    - `divergence_threshold`: a run (or a theory) has diverged above it; `stop_on_divergence`: stop
      and report at the first divergence (else record NaN and go on).
    - `fit`: the fit made of the simulation afterwards (`FitSpec`), or None.
    """

    name: str
    input_dim: int
    power_law: bool
    dtype: str
    teacher: TeacherSpec | LinearTeacherSpec
    student: AbstractModelSpec
    learner: eqx.Module
    variants: Variants
    grid: TimeGrid
    theory: TheoryOptions
    seeds: int
    seed: int
    divergence_threshold: float
    stop_on_divergence: bool
    fit: FitSpec | None = None

    @property
    def blocks(self) -> int:
        """L of the finest partition."""
        return int(self.variants.eigenvalues.shape[-1])

    def visible_inputs(self) -> int | None:
        """The student's visible input coordinates, `N L_s / L` (None: all)."""
        if self.student.visible_blocks is None:
            return None
        return self.input_dim * self.student.visible_blocks // self.blocks

    @property
    def closed_form_error(self) -> bool:
        """Whether eps_g of a network setup has a closed form in the overlaps (one activation with
        closed-form `I2` for student and teacher); else the simulation estimates it on a test set."""
        activation = self.student.activation
        return activation == self.teacher.activation and "i2" in activation.closed_forms

    def factories(self, hidden: int) -> tuple[Callable, Callable]:
        """`(make_teacher, make_student)` for a student of `hidden` units."""
        dtype = jnp.float32 if self.dtype == "float32" else jnp.float64
        return (
            self.teacher.factory(self.input_dim, self.blocks, dtype),
            self.student.factory(self.input_dim, hidden, self.visible_inputs(), dtype),
        )

    def second_layer_scale(self) -> np.ndarray | None:
        """For padded widths (`Variants.padded`), what each variant's student second layer is
        multiplied by, (H, K_max): 0 on the units beyond the variant's width K_h (inert: they
        neither move nor contribute), `c_{K_h} / c_{K_max}` on the others (so that the network's
        output scaling `c_{K_max}` acts as the variant's own `c_{K_h}`); None when not padded."""
        variants = self.variants
        if not variants.padded:
            return None
        widest = max(variants.hidden)
        out = np.zeros((variants.size, widest))
        for h, k in enumerate(variants.hidden):
            out[h, :k] = output_scale(self.student.output, k) / output_scale(self.student.output, widest)
        return out

    def networks(self, seeds: int | None = None) -> list[Networks]:
        """The networks the learner trains (exactly as `simulate` draws them), one `Networks` per
        group of variants sharing a student size; `seeds` defaults to max(S, 1). A model without
        networks (kernel regression: its learner draws data per realisation) has none: `[]`."""
        if not isinstance(self.student, AbstractStudentSpec):
            return []
        seeds = max(self.seeds, 1) if seeds is None else seeds
        out = []
        for group in self.variants.groups():
            make_teacher, make_student = self.factories(max(self.variants.hidden[h] for h in group))
            teachers, students, _ = initial_networks(make_teacher, make_student, seeds, key=jr.key(self.seed))
            out.append(Networks(teachers, students, group))
        return out
