"""Experiment configuration: a TOML schema with defaults, validation and `--set` overrides.

A config is a TOML file with a top-level `name` (and optional `description`) and the sections
`[data]`, `[teacher]`, `[student]`, `[training]`, `[theory]`, `[fit]` (all optional). Every key has a
default, a type and an allowed range (the table `KEYS`, documented in the README). Loading a config resolves every
key; an unknown key, a wrong type, a value out of range or an impossible combination raises
`ConfigError` (a `ValueError`) naming the key and what is allowed.
"""

import copy
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from .._activations import ACTIVATION_NAMES, activation_from_name
from .._models import OUTPUT_SCALINGS


__all__ = ["KEYS", "Config", "ConfigError", "load_config", "parse_override", "resolve"]


class ConfigError(ValueError):
    """A configuration error; `key` names the offending key (`section.name`)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default, allowed range and meaning."""

    kind: str  # "int", "float", "bool", "str", "choice", "floats"/"ints" (a number or a list of them)
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    exclusive: bool = False  # minimum is exclusive
    maximum: float | None = None  # inclusive; every size has one, and every float must be finite
    check: Callable[[Any], str | None] | None = None
    optional: bool = False  # None (key absent) is allowed


MAX_HERMITE_DEGREE = 30  # He_k(x) / sqrt(k!) stays well inside float32 for |x| < 10
MAX_STEPS = 2**31 - 1  # SGD steps of one run (alpha_max * N): the engine counts chunks in int32
MAX_BOOTSTRAP = 10_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def _activation_check(name: str) -> str | None:
    try:
        activation = activation_from_name(name)
    except ValueError:
        return f"must be one of {', '.join(ACTIVATION_NAMES)}, got {name!r}"
    if getattr(activation, "degree", 0) > MAX_HERMITE_DEGREE:
        return f"a Hermite degree must be at most {MAX_HERMITE_DEGREE}, got {name!r}"
    return None


def _name_check(name: str) -> str | None:
    if not _NAME.fullmatch(name):
        return (
            "must be 1 to 100 letters, digits, '.', '_', '+' or '-', starting with a letter or digit (it names "
            f"the output directory runs/<name>-<hash>), got {name!r}"
        )
    return None


_ACTIVATION_DOC = "activation: " + ", ".join(ACTIVATION_NAMES)

KEYS: dict[str, dict[str, Key]] = {
    "": {
        "name": Key(
            "str",
            "run",
            "name of the run (1-100 of A-Z a-z 0-9 . _ + -); the default output directory is runs/<name>-<hash>",
            check=_name_check,
        ),
        "description": Key("str", "", "one line shown by `scalinglaws list`"),
    },
    "data": {
        "input_dim": Key("int", 500, "N, the input dimension", minimum=1, maximum=2**24),
        "spectrum": Key("choice", "isotropic", "input covariance", choices=("isotropic", "power_law")),
        "exponent": Key(
            "float",
            1.0,
            "beta: eigenvalues lambda_l ∝ l^-(1+beta) (power_law)",
            minimum=-1,
            exclusive=True,
            maximum=20,
        ),
        "distinct_eigenvalues": Key(
            "ints",
            None,
            "L, distinct eigenvalues, each of multiplicity N/L; must divide N (default N); a list runs a "
            "sweep sharing each seed's inputs (each L must divide the largest)",
            minimum=1,
            maximum=2**24,
            optional=True,
        ),
        "normalisation": Key(
            "choice",
            "trace",
            "power-law normalisation: Tr(Sigma)/N = 1 (trace) or lambda_1 = 1 (top)",
            choices=("trace", "top"),
        ),
    },
    "teacher": {
        "hidden": Key("int", 2, "M, teacher hidden units", minimum=1, maximum=2**16),
        "activation": Key("str", "erf", _ACTIVATION_DOC, check=_activation_check),
        "output": Key("choice", "sum", "output scaling: sum, mean (1/M), sqrt (1/sqrt M)", choices=OUTPUT_SCALINGS),
        "init": Key(
            "choice",
            "gaussian",
            "first layer: gaussian (B ~ N(0,1)), orthonormal (T = I exactly), or block_orthonormal "
            "(orthonormal within each eigenvalue block: every block overlap t^(l) = I / L exactly)",
            choices=("gaussian", "orthonormal", "block_orthonormal"),
        ),
        "second_layer": Key(
            "choice",
            "ones",
            "second layer: ones, or power_law A_p ∝ p^-exponent with sum A_p^2 = 1",
            choices=("ones", "power_law"),
        ),
        "second_layer_exponent": Key("float", 1.0, "exponent of a power_law second layer", minimum=0, maximum=100),
        "noise_std": Key("float", 0.0, "standard deviation of Gaussian label noise", minimum=0),
    },
    "student": {
        "kind": Key(
            "choice",
            "two_layer",
            "student model: two_layer (trained first layer), or random_features (frozen Gaussian first "
            "layer F_kn ~ N(0, 1), trained readout)",
            choices=("two_layer", "random_features"),
        ),
        "hidden": Key(
            "ints",
            2,
            "K, student hidden units (random features: K = gamma N features; a list runs one simulation per K)",
            minimum=1,
            maximum=2**20,
        ),
        "activation": Key("str", "erf", _ACTIVATION_DOC, check=_activation_check),
        "output": Key("choice", "sum", "output scaling: sum, mean (1/K), sqrt (1/sqrt K)", choices=OUTPUT_SCALINGS),
        "init_std": Key("float", 1e-3, "sigma_J: first-layer weights ~ N(0, sigma_J^2)", minimum=0),
        "readout_init_std": Key("float", 0.0, "random features: initial readout a_k ~ N(0, std^2)", minimum=0),
        "visible_blocks": Key(
            "int",
            None,
            "L_s: the student reads only the inputs of the L_s largest eigenvalue blocks (P = K N L_s / L "
            "trainable weights; default all)",
            minimum=1,
            maximum=2**24,
            optional=True,
        ),
        "train_second_layer": Key("bool", False, "train the second layer v"),
        "second_layer_init": Key("float", 1.0, "initial value of every v_k"),
        "second_layer_learning_rate": Key(
            "float", None, "eta_v (default: training.learning_rate)", minimum=0, exclusive=True, optional=True
        ),
    },
    "training": {
        "learning_rate": Key("floats", 0.5, "eta; a list runs a vmapped sweep", minimum=0, exclusive=True),
        "alpha_max": Key(
            "float",
            1000.0,
            f"last time alpha = steps/N (at most {MAX_STEPS} steps: alpha_max * N <= 2^31 - 1)",
            minimum=0,
            exclusive=True,
            maximum=1e9,
        ),
        "alpha_min": Key("float", 0.01, "first nonzero recording time", minimum=0, exclusive=True),
        "points_per_decade": Key("int", 20, "recording points per decade of alpha", minimum=1, maximum=10_000),
        "seeds": Key("int", 8, "independent runs (0 = theory alone)", minimum=0, maximum=2**16),
        "seed": Key("int", 0, "base PRNG seed", minimum=0, maximum=2**63 - 1),
        "dtype": Key("choice", "float32", "simulation dtype", choices=("float32", "float64")),
        "chunk_size": Key(
            "int", None, "inputs drawn at once per run (default: automatic)", minimum=1, maximum=2**16, optional=True
        ),
        "test_size": Key(
            "int", 10000, "Monte Carlo test set (activations without closed-form I2)", minimum=16, maximum=2**24
        ),
        "divergence_threshold": Key(
            "float", 1e6, "a run has diverged when max_k Q_kk (or eps_g) exceeds this", minimum=0, exclusive=True
        ),
        "on_divergence": Key(
            "choice",
            "error",
            "error: exit 3, write nothing; record: write NaN after divergence and say so",
            choices=("error", "record"),
        ),
    },
    "theory": {
        "enabled": Key("bool", True, "compute the theory when one exists for the setup"),
        "rtol": Key(
            "float", 1e-10, "relative tolerance of the adaptive ODE solver", minimum=0, exclusive=True, maximum=1
        ),
        "atol": Key(
            "float", 1e-13, "absolute tolerance of the adaptive ODE solver", minimum=0, exclusive=True, maximum=1
        ),
        "max_steps": Key("int", 1000000, "most ODE solver steps", minimum=1, maximum=10**9),
        "solver": Key(
            "choice",
            "auto",
            "ODE solver: explicit (Tsit5), stiff (Rodas4 with the structured Jacobian), or auto (stiff for "
            "power-law data with a top-to-bottom eigenvalue ratio of at least 100)",
            choices=("auto", "explicit", "stiff"),
        ),
    },
    "fit": {
        "form": Key(
            "choice",
            None,
            "fit this form to eps_g_sim after the run (fit.json): power_law, broken_power_law, "
            "plateau_power_law or exponential (default: no fit)",
            choices=("power_law", "broken_power_law", "plateau_power_law", "exponential"),
            optional=True,
        ),
        "range": Key("floats", None, "[alpha_min, alpha_max] of the fit (default: all)", minimum=0, optional=True),
        "auto_window": Key("bool", False, "fit where the local exponent is steady (a power-law regime)"),
        "tolerance": Key(
            "float", 0.05, "steadiness of the local exponent for auto_window", minimum=0, exclusive=True, maximum=10
        ),
        "bootstrap": Key(
            "int",
            200,
            "bootstrap resamples over seeds for the intervals (0: curvature)",
            minimum=0,
            maximum=MAX_BOOTSTRAP,
        ),
        "variant": Key(
            "int",
            None,
            "which run of a sweep to fit (index along its first axis)",
            minimum=0,
            maximum=2**16,
            optional=True,
        ),
    },
}


def _check_value(where: str, spec: Key, value: Any) -> Any:
    if value is None and spec.optional:
        return None

    def fail(message: str):
        raise ConfigError(where, message)

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
    """H, the variants a config runs: the length of its one swept list (learning rates, spectra or
    K), else 1."""
    swept = (config["training"]["learning_rate"], config["data"]["distinct_eigenvalues"], config["student"]["hidden"])
    return max(len(value) if isinstance(value, list) else 1 for value in swept)


def _cross_checks(config: dict) -> None:
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
    if isinstance(given, list) and isinstance(training["learning_rate"], list):
        raise ConfigError("data.distinct_eigenvalues", "sweep it or training.learning_rate, not both")
    student = config["student"]
    if isinstance(student["hidden"], list):
        if student["kind"] != "random_features":
            raise ConfigError("student.hidden", "a list (a sweep over K) needs student.kind = 'random_features'")
        if isinstance(given, list) or isinstance(training["learning_rate"], list):
            raise ConfigError(
                "student.hidden", "sweep it, training.learning_rate or data.distinct_eigenvalues, not two"
            )
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
    variants = variant_count(config)
    if fit["variant"] is not None and (variants == 1 or fit["variant"] >= variants):
        raise ConfigError(
            "fit.variant",
            f"this config runs {variants} variant(s): "
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

    def to_toml(self) -> str:
        return tomli_w.dumps(_drop_none(self._data))

    def hash(self, version: str = "") -> str:
        """SHA-256 of everything that changes the results (not `name`/`description`) and the version."""
        content = {k: v for k, v in self._data.items() if k not in ("name", "description")}
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


def resolve(raw: Mapping[str, Any], overrides: Iterable[str] = ()) -> Config:
    """Validate a parsed TOML mapping plus `--set` overrides; fill in every default."""
    merged: dict[str, Any] = copy.deepcopy(dict(raw))
    for text in overrides:
        key, value = parse_override(text)
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
    _cross_checks(resolved)
    return Config(resolved)


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Read a TOML config file (a regular file of UTF-8 text) and `resolve` it."""
    path = Path(path)
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
