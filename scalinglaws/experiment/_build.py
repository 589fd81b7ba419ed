"""From a validated config to the typed `Setup`: the one place that reads the config's sections.

The variants (the product of the swept learning rates, spectra and student sizes), the time grid,
the finest partition and the variants' labels are computed here, once. A config with outer grid
axes (`scalinglaws.experiment._grid`) is built one cell at a time.
"""

import itertools

import numpy as np

from .._activations import activation_from_name
from .._data import GaussianData, isotropic, power_law
from .._full_batch import FullBatchLangevin
from .._learners import OnlineSGD, reduced_why_not
from .._population import PopulationDescent, PopulationFlow
from .._results import AXIS_NAMES
from .._setup import (
    FitSpec,
    HomogeneousStudentSpec,
    KernelRegressionSpec,
    LinearTeacherSpec,
    RandomFeatureStudentSpec,
    Setup,
    TeacherSpec,
    TheoryOptions,
    TimeGrid,
    TwoLayerStudentSpec,
    Variants,
)
from ..simulate import log_time_grid
from ._config import Config, ConfigError


__all__ = ["build_setup", "build_spectra"]


def _spectrum(data: dict, exponent: float, distinct: int | None) -> GaussianData:
    if data["spectrum"] == "isotropic":
        return isotropic(data["input_dim"])
    return power_law(data["input_dim"], exponent, distinct, data["normalisation"])


def build_spectra(config: Config) -> list[GaussianData]:
    """The config's input distributions: one, or one per value of its swept `data.exponent` and
    `data.distinct_eigenvalues` (their product, in the grid's order)."""
    data = config["data"]
    keys = [key for key in config["grid"] or [] if key in ("data.exponent", "data.distinct_eigenvalues")]
    values = {key: data[key.partition(".")[2]] for key in ("data.exponent", "data.distinct_eigenvalues")}
    lists = [values[key] for key in keys]
    out = []
    for cell in itertools.product(*lists):
        chosen = dict(values, **dict(zip(keys, cell)))
        out.append(_spectrum(data, chosen["data.exponent"], chosen["data.distinct_eigenvalues"]))
    return out


def _variants(config: Config) -> Variants:
    """The product of the setup's swept learning rates, spectra and student widths (the inner axes
    of `scalinglaws.experiment._grid`, in the grid's order; a cell's `grid` names only those)."""
    keys = list(config["grid"] or [])
    value = {
        key: config[key.partition(".")[0]][key.partition(".")[2]]
        for key in ("training.learning_rate", "data.exponent", "data.distinct_eigenvalues", "student.hidden")
    }
    lists = [value[key] for key in keys]
    data, eta_v = config["data"], config["student"]["second_layer_learning_rate"]
    rates, spectra, hidden, labels = [], [], [], []
    for cell in itertools.product(*lists):
        chosen = dict(value, **dict(zip(keys, cell)))
        rates.append(float(chosen["training.learning_rate"]))
        spectra.append(_spectrum(data, chosen["data.exponent"], chosen["data.distinct_eigenvalues"]))
        hidden.append(int(chosen["student.hidden"]))
        labels.append(
            ", ".join(f"{AXIS_NAMES[key]}={v:g}" for key, v in zip(keys, cell))
            if keys
            else f"learning_rate={rates[-1]:g}"
        )
    rates = np.asarray(rates, np.float64)
    finest = max(d.distinct for d in spectra)
    return Variants(
        axes=tuple(AXIS_NAMES[key] for key in keys),
        axis_values=tuple(np.asarray(values) for values in lists),
        learning_rates=rates,
        second_layer_rates=rates.copy() if eta_v is None else np.full_like(rates, eta_v),
        spectra=tuple(spectra),
        hidden=tuple(hidden),
        labels=tuple(labels),
        eigenvalues=np.stack([d.refined_eigenvalues(finest) for d in spectra]),
        padded=config["training"]["pad_widths"]
        and config["student"]["kind"] in ("two_layer", "random_features")
        and len(set(hidden)) > 1,
    )


def _student(config: Config):
    student = config["student"]
    activation = activation_from_name(student["activation"])
    hidden = student["hidden"] if isinstance(student["hidden"], int) else student["hidden"][0]
    if student["kind"] in ("two_layer", "random_features") and isinstance(student["hidden"], list):
        hidden = max(student["hidden"])  # padded widths: every variant's network is the widest
    if student["kind"] == "homogeneous":
        return HomogeneousStudentSpec(hidden, activation, init_std=student["init_std"])
    if student["kind"] == "random_features":
        return RandomFeatureStudentSpec(
            hidden, activation, output=student["output"], readout_init_std=student["readout_init_std"]
        )
    return TwoLayerStudentSpec(
        hidden,
        activation,
        output=student["output"],
        init_std=student["init_std"],
        second_layer_init=student["second_layer_init"],
        train_second_layer=student["train_second_layer"],
        visible_blocks=student["visible_blocks"],
    )


def _fit(config: Config) -> FitSpec | None:
    fit = config["fit"]
    if fit["form"] is None:
        return None
    return FitSpec(
        fit["form"],
        window=None if fit["range"] is None else tuple(fit["range"]),
        auto_window=fit["auto_window"],
        tolerance=fit["tolerance"],
        bootstrap=fit["bootstrap"],
        variant=fit["variant"],
    )


def _time_grid(training: dict) -> TimeGrid:
    """`t = 0` and `points_per_decade` log-spaced times from `time_min` to `time_max` (rounded to
    multiples of the Euler–Maruyama step when the simulation takes one)."""
    decades = np.log10(training["time_max"] / training["time_min"])
    count = max(2, int(np.ceil(decades * training["points_per_decade"])) + 1)
    times = np.geomspace(training["time_min"], training["time_max"], count)
    if training["method"] == "euler_maruyama":
        times = np.rint(times / training["time_step"]) * training["time_step"]
    return TimeGrid(np.unique(np.concatenate([[0.0], times])), None, "time")


def _shared(config: Config) -> dict:
    """The `Setup` fields every kind of run reads the same way."""
    data, training, theory = config["data"], config["training"], config["theory"]
    return {
        "name": config["name"],
        "input_dim": data["input_dim"],
        "power_law": data["spectrum"] == "power_law",
        "dtype": training["dtype"],
        "theory": TheoryOptions(
            theory["enabled"], theory["rtol"], theory["atol"], theory["max_steps"], theory["solver"], theory["plateau"]
        ),
        "seeds": training["seeds"],
        "seed": training["seed"],
        "divergence_threshold": training["divergence_threshold"],
        "stop_on_divergence": training["on_divergence"] == "error",
        "fit": _fit(config),
    }


def _kernel_setup(config: Config) -> Setup:
    """A kernel-regression setup trained by full-batch gradient flow or Langevin dynamics."""
    data, teacher, training = config["data"], config["teacher"], config["training"]
    (spectrum,) = build_spectra(config)
    n = data["input_dim"]
    return Setup(
        teacher=LinearTeacherSpec(1.0, teacher["noise_std"], teacher["variance_exponent"]),
        student=KernelRegressionSpec(config["student"]["readout_init_std"]),
        learner=FullBatchLangevin(
            training["samples"],
            temperature=training["temperature"],
            weight_decay=training["weight_decay"],
            loss=training["loss"],
            method="euler_maruyama" if training["method"] == "euler_maruyama" else "exact",
            time_step=training["time_step"],
        ),
        variants=Variants(
            axes=(),
            axis_values=(),
            learning_rates=np.ones(1),  # the flow's time unit
            second_layer_rates=np.ones(1),
            spectra=(spectrum,),
            hidden=(n,),
            labels=(
                f"kernel regression (Euler-Maruyama, time_step={training['time_step']:g})"
                if training["method"] == "euler_maruyama"
                else "kernel regression",
            ),
            eigenvalues=spectrum.refined_eigenvalues(n)[None],
        ),
        grid=_time_grid(training),
        **_shared(config),
    )


def _network_learner(training: dict):
    """The learner of a network: online SGD, or population gradient descent or flow (homogeneous)."""
    if training["algorithm"] == "population_gd":
        return PopulationDescent()
    if training["algorithm"] == "gradient_flow":
        return PopulationFlow()
    method = training["method"] if training["method"] in ("full", "reduced") else "auto"
    return OnlineSGD(chunk_size=training["chunk_size"], test_size=training["test_size"], method=method)


def build_setup(config: Config) -> Setup:
    """The `Setup` a validated config describes."""
    if config["student"]["kind"] == "kernel_regression":
        return _kernel_setup(config)
    data, teacher, training = config["data"], config["teacher"], config["training"]
    n = data["input_dim"]
    steps = log_time_grid(n, training["alpha_max"], training["points_per_decade"], training["alpha_min"])
    setup = Setup(
        teacher=TeacherSpec(
            teacher["hidden"],
            activation_from_name(teacher["activation"]),
            output=teacher["output"],
            init=teacher["init"],
            second_layer=teacher["second_layer"],
            second_layer_exponent=teacher["second_layer_exponent"],
            noise_std=teacher["noise_std"],
        ),
        student=_student(config),
        learner=_network_learner(training),
        variants=_variants(config),
        grid=_time_grid(training) if training["algorithm"] == "gradient_flow" else TimeGrid(steps / n, steps),
        **_shared(config),
    )
    if training["method"] == "reduced" and (why := reduced_why_not(setup)) is not None:
        raise ConfigError("training.method", f"the reduced simulation does not apply: {why}")
    return setup
