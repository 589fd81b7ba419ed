"""Experiment configuration: a TOML schema with defaults, validation and `--set` overrides.

A config is a TOML file with a top-level `name` (and optional `description`) and the sections `[data]`,
`[teacher]`, `[student]`, `[training]`, `[theory]`, `[fit]` (all optional). Every key has a default, a type and
an allowed range (the table `KEYS`, documented in the README). Loading a config resolves every key; an unknown
key, a wrong type, a value out of range or an impossible combination raises `ConfigError` naming the key.
"""

import copy
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from .._activations import Hermite, HermiteSeries, activation_from_name
from ._grid import grid_order, outer_cells
from ._keys import KEYS, MAX_STEPS, Key
from ._paths import config_path, configs_dir


__all__ = ["KEYS", "Config", "ConfigError", "config_path", "configs_dir", "load_config", "parse_override", "resolve"]


class ConfigError(ValueError):
    """A configuration error; `key` names the offending key (`section.name`)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


def _check_value(where: str, spec: Key, value: Any) -> Any:
    if value is None and spec.optional:
        return None

    def fail(message: str):
        raise ConfigError(where, message)

    if spec.kind == "keys":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            fail(f"must be a list of section.key strings, got {value!r}")
        return value
    if spec.kind == "bool":
        if not isinstance(value, bool):
            fail(f"must be true or false, got {value!r}")
        return value
    if spec.kind in ("str", "choice"):
        if not isinstance(value, str):
            fail(f"must be a string, got {value!r}")
        if spec.kind == "choice" and value not in spec.choices:
            fail(f"must be one of {', '.join(spec.choices)}, got {value!r}")
    elif spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            fail(f"must be an integer, got {value!r}")
    elif spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(f"must be a number, got {value!r}")
        try:
            value = float(value)
        except OverflowError:
            fail(f"must be a finite number, got {value!r}")
        if not math.isfinite(value):
            fail(f"must be a finite number, got {value!r}")
    elif spec.kind in ("floats", "ints"):
        kind = spec.kind[:-1]
        allowed = int if kind == "int" else int | float
        items = value if isinstance(value, list) else [value]
        if not items or any(isinstance(v, bool) or not isinstance(v, allowed) for v in items):
            what = "an integer" if kind == "int" else "a number"
            fail(f"must be {what} or a non-empty list of them, got {value!r}")
        checked = [
            _check_value(
                where, Key(kind, None, "", minimum=spec.minimum, exclusive=spec.exclusive, maximum=spec.maximum), item
            )
            for item in items
        ]
        return checked if isinstance(value, list) else checked[0]
    if spec.minimum is not None and spec.kind in ("int", "float"):
        if value != value or (value <= spec.minimum if spec.exclusive else value < spec.minimum):
            fail(f"must be {'>' if spec.exclusive else '>='} {spec.minimum:g}, got {value!r}")
    if spec.maximum is not None and spec.kind in ("int", "float") and value > spec.maximum:
        fail(f"must be at most {spec.maximum:.10g}, got {value!r}")
    if spec.check is not None and (message := spec.check(value)) is not None:
        fail(message)
    return value


def variant_count(config: Mapping) -> int:
    """The cells a config runs: the product of the lengths of its swept lists (1 without a sweep)."""
    count = 1
    for key in config.get("grid") or []:
        section, _, name = key.partition(".")
        count *= len(config[section][name])
    return count


def _homogeneous_checks(config: dict) -> None:
    """The homogeneous student of Ren et al.: a Hermite-series activation, the teacher's own."""
    student, teacher = config["student"], config["teacher"]
    if not isinstance(activation_from_name(student["activation"]), (Hermite, HermiteSeries)):
        raise ConfigError("student.activation", "the homogeneous student needs a Hermite series (e.g. hermite4)")
    if teacher["activation"] != student["activation"]:
        raise ConfigError("teacher.activation", f"must be the student's, {student['activation']!r}")
    if teacher["output"] != "sum" or teacher["noise_std"] != 0:
        key = "teacher.output" if teacher["output"] != "sum" else "teacher.noise_std"
        raise ConfigError(key, "the homogeneous student learns a noiseless teacher with summed output")
    if student["init_std"] <= 0:
        raise ConfigError("student.init_std", "the homogeneous student starts on a sphere of radius > 0")
    for key, value in (("train_second_layer", False), ("visible_blocks", None), ("output", "sum")):
        if student[key] != value:
            raise ConfigError(f"student.{key}", "does not apply to student.kind = 'homogeneous'")
    if config["data"]["spectrum"] != "isotropic":
        raise ConfigError("data.spectrum", "the homogeneous student learns from isotropic inputs")
    training = config["training"]
    if training["algorithm"] == "gradient_flow":
        if isinstance(training["learning_rate"], list):
            raise ConfigError("training.learning_rate", "gradient flow has no step: give one value, not a list")
        if training["time_min"] >= training["time_max"]:
            raise ConfigError("training.time_min", f"must be < training.time_max = {training['time_max']:g}")


def _full_batch_checks(config: dict) -> None:
    """Which learner trains which student, and the keys of full-batch training."""
    student, training, data = config["student"], config["training"], config["data"]
    algorithm = training["algorithm"]
    kernel = student["kind"] == "kernel_regression"
    trained_by = {
        "kernel_regression": ("gradient_flow", "langevin"),
        "homogeneous": ("population_gd", "online_sgd", "gradient_flow"),
    }
    allowed = trained_by.get(student["kind"], ("online_sgd",))
    if algorithm not in allowed:
        raise ConfigError(
            "training.algorithm", f"student.kind = {student['kind']!r} is trained by {' or '.join(allowed)}"
        )
    methods = {"online_sgd": ("full", "reduced")}.get(algorithm, ("exact", "euler_maruyama") if kernel else ())
    if training["method"] not in ("auto", *methods):
        raise ConfigError(
            "training.method",
            f"training.algorithm = {algorithm!r} takes {' or '.join(('auto', *methods))}, not {training['method']!r}",
        )
    if student["kind"] == "homogeneous":
        _homogeneous_checks(config)
    if algorithm == "gradient_flow" and training["temperature"] > 0:
        raise ConfigError(
            "training.temperature", "must be 0 for gradient_flow (Langevin dynamics: algorithm = 'langevin')"
        )
    if algorithm == "langevin" and training["temperature"] == 0:
        raise ConfigError("training.temperature", "must be > 0 for langevin (T = 0 is gradient_flow)")
    if not kernel:
        if config["teacher"]["variance_exponent"] != 0:
            raise ConfigError("teacher.variance_exponent", "applies to student.kind = 'kernel_regression' only")
        return
    for key, section in (("learning_rate", "training"), ("hidden", "student"), ("distinct_eigenvalues", "data")):
        if isinstance(config[section][key], list):
            raise ConfigError(f"{section}.{key}", "kernel regression runs one setup: give one value, not a list")
    for key, value in (("train_second_layer", False), ("visible_blocks", None)):
        if student[key] != value:
            raise ConfigError(f"student.{key}", "does not apply to student.kind = 'kernel_regression'")
    if training["time_min"] >= training["time_max"]:
        raise ConfigError("training.time_min", f"must be < training.time_max = {training['time_max']:g}")
    if training["method"] == "euler_maruyama":
        step = training["time_step"]
        if training["time_min"] < step:
            raise ConfigError("training.time_step", f"must be at most training.time_min = {training['time_min']:g}")
        if training["time_max"] / step > MAX_STEPS:
            raise ConfigError("training.time_step", f"time_max / time_step must be at most {MAX_STEPS} steps")
    if data["input_dim"] > 2**14 and training["seeds"] > 0:
        raise ConfigError(
            "data.input_dim",
            "the kernel-regression simulation diagonalises N x N matrices: N must be at most 16384 "
            "(the theory alone, training.seeds = 0, takes any N)",
        )


def _cross_checks(config: dict) -> None:
    _full_batch_checks(config)
    data, teacher, training = config["data"], config["teacher"], config["training"]
    n = data["input_dim"]
    given = data["distinct_eigenvalues"]
    spectra = given if isinstance(given, list) else [given]
    distinct = 1
    if data["spectrum"] == "power_law":
        spectra = [n if value is None else value for value in spectra]
        distinct = max(spectra)
        for value in spectra:
            if n % value or distinct % value:
                raise ConfigError(
                    "data.distinct_eigenvalues",
                    f"every value must divide data.input_dim = {n} and the largest value, got {given}",
                )
    elif spectra not in ([None], [1]):
        raise ConfigError("data.distinct_eigenvalues", "only applies with data.spectrum = 'power_law'")
    if isinstance(data["exponent"], list) and data["spectrum"] != "power_law":
        raise ConfigError("data.exponent", "a list (a sweep) applies only with data.spectrum = 'power_law'")
    student = config["student"]
    if student["kind"] == "random_features":
        for key, value in (("train_second_layer", False), ("visible_blocks", None)):
            if student[key] != value:
                raise ConfigError(f"student.{key}", "does not apply to student.kind = 'random_features'")
    visible = config["student"]["visible_blocks"]
    if visible is not None and isinstance(given, list):
        raise ConfigError("student.visible_blocks", "cannot be combined with a sweep over data.distinct_eigenvalues")
    if visible is not None and visible > distinct:
        raise ConfigError("student.visible_blocks", f"must be in [1, {distinct}] (the number of eigenvalue blocks)")
    if teacher["init"] == "orthonormal" and teacher["hidden"] > n:
        raise ConfigError("teacher.init", f"orthonormal needs teacher.hidden <= data.input_dim = {n}")
    if teacher["init"] == "block_orthonormal" and teacher["hidden"] > n // distinct:
        raise ConfigError(
            "teacher.init", f"block_orthonormal needs teacher.hidden <= data.input_dim / L = {n // distinct}"
        )
    fit = config["fit"]
    if fit["range"] is not None and (not isinstance(fit["range"], list) or len(fit["range"]) != 2):
        raise ConfigError("fit.range", f"must be a list of two numbers [low, high], got {fit['range']!r}")
    if fit["range"] is not None and not fit["range"][0] < fit["range"][1]:
        raise ConfigError("fit.range", f"must have low < high, got {fit['range']}")
    if fit["form"] is not None and fit["range"] is not None and fit["auto_window"]:
        raise ConfigError("fit.auto_window", "give fit.range or fit.auto_window, not both")
    if training["alpha_min"] >= training["alpha_max"]:
        raise ConfigError("training.alpha_min", f"must be < training.alpha_max = {training['alpha_max']:g}")
    if round(training["alpha_max"] * n) < 1:
        raise ConfigError("training.alpha_max", f"must be at least one step, >= 1/N = {1 / n:g}")
    if round(training["alpha_max"] * n) > MAX_STEPS:
        raise ConfigError(
            "training.alpha_max",
            f"alpha_max * N must be at most {MAX_STEPS} SGD steps (alpha_max <= {MAX_STEPS / n:.6g} at N = {n}), "
            f"got {training['alpha_max']:g}",
        )


def _fit_variant_check(config: dict) -> None:
    variants = variant_count(config)
    variant = config["fit"]["variant"]
    if variant is not None and (variants == 1 or variant >= variants):
        raise ConfigError(
            "fit.variant",
            f"this config runs {variants} cell(s): "
            + ("give fit.variant only for a sweep" if variants == 1 else f"choose one in [0, {variants})"),
        )


class Config(Mapping):
    """A validated, fully resolved configuration (read-only mapping of sections to dicts)."""

    def __init__(self, resolved: dict):
        self._data = resolved

    def __getitem__(self, section: str):
        return self._data[section]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def get_key(self, dotted: str) -> Any:
        section, _, name = dotted.rpartition(".")
        return self._data[name] if not section else self._data[section][name]

    def to_dict(self) -> dict:
        return copy.deepcopy(self._data)

    def cells(self) -> list[tuple[tuple[int, ...], "Config"]]:
        """The configs of the grid's outer cells (`scalinglaws.experiment._grid.outer_cells`), each
        with its index along the outer axes; `[((), self)]` when no outer key is swept."""
        cells = outer_cells(self._data)
        if [index for index, _ in cells] == [()]:
            return [((), self)]
        return [(index, Config(cell)) for index, cell in cells]

    def to_toml(self) -> str:
        return tomli_w.dumps(_drop_none(self._data))

    def hash(self, version: str = "") -> str:
        """SHA-256 of everything that changes the results (not `name`/`description`) and the version."""
        content = {k: v for k, v in self._data.items() if k not in ("name", "description")}
        # Keys added later hash only away from their defaults: the configs written before keep their hash.
        if content.get("grid") is None:
            content.pop("grid", None)
        for section, key in (("training", "pad_widths"), ("theory", "plateau")):  # both default to true
            if content[section].get(key, True):
                content[section] = {k: v for k, v in content[section].items() if k != key}
        blob = json.dumps({"config": content, "version": version}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def _drop_none(tree: dict) -> dict:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in tree.items() if v is not None}


def parse_override(text: str) -> tuple[str, Any]:
    """Parse `section.key=value`; the value is TOML, or a bare string when it is not valid TOML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_]\w*)?", key):
        raise ConfigError(key or text, "an override must look like section.key=value")
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def _override_items(overrides: Iterable[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    """`(key, value)` pairs from `section.key=value` strings or a mapping of keys to Python values."""
    if isinstance(overrides, Mapping):
        items = []
        for key, value in overrides.items():
            if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_]\w*)?", key):
                raise ConfigError(str(key), "an override's key must look like section.key")
            items.append((key, list(value) if isinstance(value, tuple) else value))
        return items
    if isinstance(overrides, str):
        raise ConfigError("overrides", "give a list of section.key=value strings or a mapping, not one string")
    return [parse_override(text) for text in overrides]


def resolve(raw: Mapping[str, Any], overrides: Iterable[str] | Mapping[str, Any] = ()) -> Config:
    """Validate a parsed TOML mapping plus overrides (`section.key=value` strings, or a mapping of
    `section.key` to Python values); fill in every default. Keys given lists are the axes of a grid
    (`scalinglaws.experiment._grid`), in the order they appear (the file's, then the overrides'),
    unless the top-level `grid` lists them; every cell of the grid is checked."""
    merged: dict[str, Any] = copy.deepcopy(dict(raw))
    appearance = [  # the swept keys of the file, in its order; then the overrides'
        f"{section}.{name}"
        for section, table in merged.items()
        if isinstance(table, dict)
        for name, value in table.items()
        if isinstance(value, list)
    ]
    for key, value in _override_items(overrides):
        appearance.append(key)
        section, _, name = key.rpartition(".")
        if section:
            target = merged.setdefault(section, {})
            if not isinstance(target, dict):
                raise ConfigError(section, "must be a table")
            target[name] = value
        else:
            merged[name] = value
    sections = [k for k in KEYS if k]
    for name, value in merged.items():
        if name in KEYS[""]:
            continue
        if name in sections:
            if not isinstance(value, dict):
                raise ConfigError(name, f"must be a table [{name}]")
            continue
        raise ConfigError(name, f"unknown key; allowed top level: {', '.join(KEYS[''])}, [{'], ['.join(sections)}]")
    resolved: dict[str, Any] = {}
    for section, specs in KEYS.items():
        given = merged if section == "" else merged.get(section, {})
        out: dict[str, Any] = {}
        for name in given:
            if section == "" and name in sections:
                continue
            if name not in specs:
                where = f"{section}.{name}" if section else name
                raise ConfigError(where, f"unknown key; allowed in [{section}]: {', '.join(specs)}")
        for name, spec in specs.items():
            where = f"{section}.{name}" if section else name
            out[name] = _check_value(where, spec, given.get(name, spec.default))
        if section == "":
            resolved.update(out)
        else:
            resolved[section] = out
    try:
        resolved["grid"] = grid_order(resolved, appearance, resolved["grid"])
    except ValueError as error:
        raise ConfigError("grid", str(error)) from None
    for _, cell in outer_cells(resolved):
        _cross_checks(cell)
    _fit_variant_check(resolved)
    return Config(resolved)


def load_config(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Config:
    """Read a TOML config file (a regular file of UTF-8 text), or a built-in config by name
    (`config_path`), and `resolve` it with `overrides` (`section.key=value` strings or a mapping)."""
    path = config_path(path)
    try:
        if path.exists() and not path.is_file():  # a directory, a FIFO (reading it could block), a device
            raise ConfigError("config", f"cannot read {path}: not a regular file")
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError("config", f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError("config", f"{path} is not UTF-8 text (byte {error.start})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("config", f"{path} is not valid TOML: {error}") from None
    return resolve(raw, overrides)
