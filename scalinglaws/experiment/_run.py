"""From a config to results: build the setup, simulate, and collect arrays and a summary."""

import functools
import importlib.metadata
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._activations import activation_from_name
from .._data import GaussianData, isotropic, power_law
from .._models import random_feature_model, student_network, teacher_network
from ..simulate import Simulation, initial_networks, log_time_grid, simulate
from ..theory import TheoryError, network_feature_statistics
from ._config import Config, ConfigError
from ._theory import (
    initial_state_of_networks,
    initial_state_of_simulation,
    solve_random_feature_theory,
    solve_theory,
    theory_for,
)


__all__ = ["Diverged", "Results", "build_data", "build_spectra", "run_experiment"]


class Diverged(RuntimeError):
    """A simulation diverged (NaN or blow-up); the message names the runs and the alpha."""


@dataclass
class Results:
    """What a run produces: the arrays of `results.npz` and the fields of `summary.json`."""

    arrays: dict[str, np.ndarray]
    summary: dict = field(default_factory=dict)


def build_spectra(config: Config) -> list[GaussianData]:
    """The config's input distributions: one, or one per value of a `data.distinct_eigenvalues` sweep."""
    data = config["data"]
    if data["spectrum"] == "isotropic":
        return [isotropic(data["input_dim"])]
    values = data["distinct_eigenvalues"]
    return [
        power_law(data["input_dim"], data["exponent"], value, data["normalisation"])
        for value in (values if isinstance(values, list) else [values])
    ]


def build_data(config: Config) -> GaussianData:
    """The config's input distribution (for a sweep over spectra, the one with the most blocks)."""
    return max(build_spectra(config), key=lambda d: d.distinct)


def _spectrum_sweep(config: Config) -> bool:
    return isinstance(config["data"]["distinct_eigenvalues"], list)


def _random_features(config: Config) -> bool:
    return config["student"]["kind"] == "random_features"


def _hidden_values(config: Config) -> list[int]:
    """The student sizes K: one, or one per variant of a sweep over K (random features)."""
    hidden = config["student"]["hidden"]
    return hidden if isinstance(hidden, list) else [hidden]


def _hidden_sweep(config: Config) -> bool:
    return isinstance(config["student"]["hidden"], list)


def _variant_eigenvalues(config: Config) -> np.ndarray:
    """`(H, L)`: every variant's eigenvalue on each block of the finest partition among the spectra."""
    spectra = build_spectra(config)
    finest = max(d.distinct for d in spectra)
    eigen = np.stack([d.refined_eigenvalues(finest) for d in spectra])
    return np.broadcast_to(eigen, (_rates(config)[0].size, finest))


def _versions() -> dict[str, str]:
    out = {}
    for package in ("scalinglaws", "jax", "jaxlib", "equinox", "diffrax", "optax", "numpy"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "not installed"
    out["python"] = platform.python_version()
    return out


def _device() -> str:
    device = jax.devices()[0]
    return f"{device.platform}: {getattr(device, 'device_kind', '')} x{jax.device_count()}".strip()


def _visible_inputs(config: Config) -> int | None:
    """The student's number of visible input coordinates, `N L_s / L` (None: all)."""
    blocks = config["student"]["visible_blocks"]
    if blocks is None:
        return None
    n = config["data"]["input_dim"]
    return n * blocks // build_data(config).distinct


def _factories(config: Config, hidden: int | None = None):
    """`make_teacher(key)` and `make_student(key)` of the config (with `hidden` units, default the
    config's)."""
    data, teacher, student, training = config["data"], config["teacher"], config["student"], config["training"]
    n = data["input_dim"]
    dtype = jnp.float32 if training["dtype"] == "float32" else jnp.float64
    make_teacher = functools.partial(
        teacher_network,
        n,
        teacher["hidden"],
        activation_from_name(teacher["activation"]),
        output=teacher["output"],
        init=teacher["init"],
        second_layer=teacher["second_layer"],
        second_layer_exponent=teacher["second_layer_exponent"],
        blocks=build_data(config).distinct,
        dtype=dtype,
    )
    hidden = _hidden_values(config)[0] if hidden is None else hidden
    if _random_features(config):
        make_student = functools.partial(
            random_feature_model,
            n,
            hidden,
            activation_from_name(student["activation"]),
            output=student["output"],
            readout_init_std=student["readout_init_std"],
            dtype=dtype,
        )
        return (lambda key: make_teacher(key=key)), (lambda key: make_student(key=key))
    make_student = functools.partial(
        student_network,
        n,
        hidden,
        activation_from_name(student["activation"]),
        output=student["output"],
        init_std=student["init_std"],
        second_layer_init=student["second_layer_init"],
        visible=_visible_inputs(config),
        dtype=dtype,
    )
    return (lambda key: make_teacher(key=key)), (lambda key: make_student(key=key))


def _rates(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """`(eta, eta_v)`, one per variant of the run (learning rates, or spectra sharing one eta)."""
    rates = np.atleast_1d(np.asarray(config["training"]["learning_rate"], np.float64))
    if _spectrum_sweep(config):
        rates = np.full(len(config["data"]["distinct_eigenvalues"]), rates[0])
    if _hidden_sweep(config):
        rates = np.full(len(config["student"]["hidden"]), rates[0])
    eta_v = config["student"]["second_layer_learning_rate"]
    return rates, rates if eta_v is None else np.full_like(rates, eta_v)


def _simulate(config: Config, progress, hidden: int | None = None, rates=None) -> Simulation:
    training = config["training"]
    make_teacher, make_student = _factories(config, hidden)
    rates, rates_v = _rates(config) if rates is None else (rates, rates)
    return simulate(
        build_spectra(config),
        make_teacher,
        make_student,
        learning_rates=rates,
        second_layer_rates=rates_v,
        train_second_layer=config["student"]["train_second_layer"],
        noise_std=config["teacher"]["noise_std"],
        seeds=training["seeds"],
        alpha_max=training["alpha_max"],
        points_per_decade=training["points_per_decade"],
        alpha_min=training["alpha_min"],
        chunk_size=training["chunk_size"],
        test_size=training["test_size"],
        divergence_threshold=training["divergence_threshold"],
        stop_on_divergence=training["on_divergence"] == "error",
        progress=progress,
        key=jr.key(training["seed"]),
    )


def _variant_labels(config: Config) -> list[str]:
    """How a summary names each variant of the run."""
    if _spectrum_sweep(config):
        return [f"distinct_eigenvalues={value}" for value in config["data"]["distinct_eigenvalues"]]
    if _hidden_sweep(config):
        return [f"hidden={value}" for value in config["student"]["hidden"]]
    return [f"learning_rate={rate:g}" for rate in _rates(config)[0]]


def _divergence_message(sim: Simulation, labels: list[str]) -> str:
    lines = []
    for h, s in zip(*np.nonzero(np.isfinite(sim.diverged_alpha))):
        lines.append(f"{labels[h]}, seed {s}: diverged at alpha={sim.diverged_alpha[h, s]:.4g}")
    return "; ".join(lines)


def _simulation_arrays(sim: Simulation, per_run) -> dict[str, np.ndarray]:
    """The simulation's arrays under the names of the results contract (README, DESIGN.md)."""
    arrays = {
        "steps": sim.steps,
        "eps_g_sim": per_run(sim.eps_g),
        "Q_sim": per_run(sim.q),
        "R_sim": per_run(sim.r),
        "T_sim": sim.t,
        "A_teacher": sim.teacher_second_layer,
        "diverged_alpha": per_run(sim.diverged_alpha),
    }
    if sim.second_layer is not None:
        arrays["v_sim"] = per_run(sim.second_layer)
    if sim.q_blocks is not None:
        arrays["Q_blocks_sim"] = per_run(sim.q_blocks)
        arrays["R_blocks_sim"] = per_run(sim.r_blocks)
        arrays["T_blocks_sim"] = sim.t_blocks
    return arrays


def _theory_arrays(theory: dict, initial, per_run) -> dict[str, np.ndarray]:
    """The theory's arrays under the names of the results contract (README)."""
    arrays = {
        "eps_g_theory": per_run(theory["eps_g"]),
        "Q_theory": per_run(theory["q"]),
        "R_theory": per_run(theory["r"]),
        "T_theory": initial.t,
    }
    if "v" in theory:
        arrays["v_theory"] = per_run(theory["v"])
    if "q_blocks" in theory:  # on the finest partition, as the simulation records them
        arrays["Q_blocks_theory"] = per_run(theory["q_blocks"])
        arrays["R_blocks_theory"] = per_run(theory["r_blocks"])
        arrays["T_blocks_theory"] = initial.t_blocks
    return arrays


def _random_feature_results(config: Config, progress, per_run, summary: dict, diverged: list[str]) -> dict:
    """Simulation and theory of a random-feature run (one simulation per K of a sweep over K)."""
    training = config["training"]
    rates, _ = _rates(config)
    labels = _variant_labels(config)
    hidden = _hidden_values(config)
    kind, _ = theory_for(config)
    arrays: dict[str, np.ndarray] = {}
    statistics, readouts = [], []
    if training["seeds"] > 0:
        if _hidden_sweep(config):
            sims = [_simulate(config, progress, k, rates[h : h + 1]) for h, k in enumerate(hidden)]
        else:
            sims = [_simulate(config, progress)]
        eps = np.concatenate([sim.eps_g for sim in sims])
        diverged_alpha = np.concatenate([sim.diverged_alpha for sim in sims])
        for h, s in zip(*np.nonzero(np.isfinite(diverged_alpha))):
            diverged.append(f"{labels[h]}, seed {s}: diverged at alpha={diverged_alpha[h, s]:.4g}")
        if diverged and training["on_divergence"] == "error":
            raise Diverged("; ".join(diverged))  # before the theory: nothing will be written
        arrays.update(
            steps=sims[0].steps,
            eps_g_sim=per_run(eps),
            T_sim=sims[0].t,
            A_teacher=sims[0].teacher_second_layer,
            diverged_alpha=per_run(diverged_alpha),
        )
        if not _hidden_sweep(config):
            arrays["a_sim"] = per_run(sims[0].second_layer)
        run_seconds = sum(sim.run_seconds for sim in sims)
        seed_steps = rates.size * training["seeds"] * int(sims[0].steps[-1])
        summary.update(
            eps_g_method=sims[0].eps_g_method,
            compile_seconds=round(sum(sim.compile_seconds for sim in sims), 3),
            simulation_seconds=round(run_seconds, 3),
            seed_steps_per_second=round(seed_steps / max(run_seconds, 1e-9)),
            eps_g_final_mean=_final_seed_mean(eps),
        )
        if kind is not None:
            for sim in sims:
                for h in range(sim.eps_g.shape[0]):
                    statistics.append(tuple(x[h] for x in sim.feature_statistics))
                    readouts.append(sim.second_layer[h, :, 0])
    elif kind is not None:
        variance = build_data(config).diagonal()
        drawn = {}  # K -> (statistics, readouts) of seed 0's networks, shared by a learning-rate sweep
        for h in range(rates.size):
            k = hidden[h] if _hidden_sweep(config) else hidden[0]
            if k not in drawn:
                make_teacher, make_student = _factories(config, k)
                teachers, students, _ = initial_networks(make_teacher, make_student, 1, key=jr.key(training["seed"]))
                stats = jax.vmap(lambda s, t: network_feature_statistics(s, t, variance))(students, teachers)
                drawn[k] = (tuple(np.asarray(x) for x in stats), np.asarray(students.readout, np.float64))
            statistics.append(drawn[k][0])
            readouts.append(drawn[k][1])
    if kind is not None:
        theory_start = time.perf_counter()
        alpha = (
            log_time_grid(
                config["data"]["input_dim"], training["alpha_max"], training["points_per_decade"], training["alpha_min"]
            )
            / config["data"]["input_dim"]
        )
        try:
            theory, theory_diverged = solve_random_feature_theory(config, statistics, readouts, alpha, rates)
        except TheoryError as error:
            if training["seeds"] == 0:
                raise
            # Keep the simulation: the run is written without theory arrays and says why.
            summary["theory"] = f"failed: {error}"
            summary["theory_failed"] = True
            return arrays
        for h, s in zip(*np.nonzero(np.isfinite(theory_diverged))):
            diverged.append(f"theory at {labels[h]}, seed {s}: diverged at alpha={theory_diverged[h, s]:.4g}")
        for name, values in theory.items():
            arrays[name if name != "eps_g" else "eps_g_theory"] = per_run(values)
        summary["theory_seconds"] = round(time.perf_counter() - theory_start, 3)
        summary["eps_g_theory_final_mean"] = _final_seed_mean(theory["eps_g"])
        summary["eps_g_asymptote_mean"] = theory["eps_g_asymptote"].mean(-1).tolist()
        summary["eps_g_stationary_mean"] = theory["eps_g_stationary"].mean(-1).tolist()
    return arrays


def _final_seed_mean(eps: np.ndarray) -> list[float]:
    """Seed mean of the last eps_g of every learning rate, ignoring diverged (NaN) runs."""
    with warnings.catch_warnings():  # every seed of a learning rate may have diverged
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(eps[..., -1], axis=-1).tolist()


def run_experiment(config: Config, progress: Callable[[int, int], None] | None = None) -> Results:
    """Run what the config asks for — simulation and/or theory — and return arrays and summary.

    Raises `ConfigError` for a setup that cannot be run, and `Diverged` when a simulation or the
    theory diverged and `training.on_divergence = "error"`.
    """
    training = config["training"]
    kind, description = theory_for(config)
    if training["seeds"] == 0 and kind is None:
        raise ConfigError("training.seeds", f"is 0 (theory alone), but the theory is {description}; use seeds >= 1")
    start = time.perf_counter()
    sweep = isinstance(training["learning_rate"], list) or _spectrum_sweep(config) or _hidden_sweep(config)
    data = build_data(config)
    rates, rates_v = _rates(config)
    eigenvalues = _variant_eigenvalues(config)  # (H, L)
    labels = _variant_labels(config)
    alpha = log_time_grid(data.input_dim, training["alpha_max"], training["points_per_decade"], training["alpha_min"])
    alpha = alpha / data.input_dim
    arrays: dict[str, np.ndarray] = {"alpha": alpha, "eigenvalues": eigenvalues if sweep else eigenvalues[0]}
    if _spectrum_sweep(config):
        arrays["distinct_eigenvalues"] = np.asarray(config["data"]["distinct_eigenvalues"])
    elif _hidden_sweep(config):
        arrays["hidden"] = np.asarray(config["student"]["hidden"])
    elif sweep:
        arrays["learning_rate"] = rates
    summary: dict = {
        "name": config["name"],
        "versions": _versions(),
        "device": _device(),
        "seeds": training["seeds"],
        "learning_rates": rates.tolist(),
        "variants": labels,
        "theory": description,
    }
    diverged = []

    def per_run(x):  # (H, S, ...) -> (S, ...) unless the config sweeps learning rates or spectra
        return x if sweep else x[0]

    if _random_features(config):
        arrays.update(_random_feature_results(config, progress, per_run, summary, diverged))
    elif training["seeds"] > 0:
        sim = _simulate(config, progress)
        if sim.diverged:
            diverged.append(_divergence_message(sim, labels))
            if training["on_divergence"] == "error":
                raise Diverged(diverged[0])  # before the theory: nothing will be written
        arrays.update(_simulation_arrays(sim, per_run))
        seed_steps = rates.size * training["seeds"] * int(sim.steps[-1])
        summary.update(
            eps_g_method=sim.eps_g_method,
            compile_seconds=round(sim.compile_seconds, 3),
            simulation_seconds=round(sim.run_seconds, 3),
            seed_steps_per_second=round(seed_steps / max(sim.run_seconds, 1e-9)),
            eps_g_final_mean=_final_seed_mean(sim.eps_g),
        )
    if kind is not None and not _random_features(config):
        theory_start = time.perf_counter()
        if training["seeds"] > 0:
            initial = initial_state_of_simulation(sim, config["student"]["second_layer_init"])
        else:
            make_teacher, make_student = _factories(config)
            initial = initial_state_of_networks(make_teacher, make_student, 1, data, key=jr.key(training["seed"]))
        try:
            spectra = build_spectra(config)
            spectra = spectra * rates.size if len(spectra) == 1 else spectra
            theory, theory_diverged = solve_theory(config, initial, alpha, rates, rates_v, spectra)
        except TheoryError as error:
            if training["seeds"] == 0:
                raise
            # Keep the simulation: the run is written without theory arrays and says why.
            summary["theory"] = f"failed: {error}"
            summary["theory_failed"] = True
            theory = None
        if theory is not None:
            for h, s in zip(*np.nonzero(np.isfinite(theory_diverged))):
                diverged.append(f"theory at {labels[h]}, seed {s}: diverged at alpha={theory_diverged[h, s]:.4g}")
            arrays.update(_theory_arrays(theory, initial, per_run))
            summary["theory_seconds"] = round(time.perf_counter() - theory_start, 3)
            summary["eps_g_theory_final_mean"] = _final_seed_mean(theory["eps_g"])
    summary["diverged"] = "; ".join(diverged) or None
    if diverged and training["on_divergence"] == "error":
        raise Diverged(summary["diverged"])
    summary["wall_seconds"] = round(time.perf_counter() - start, 3)
    return Results(arrays, summary)
