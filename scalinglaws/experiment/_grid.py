"""Grids of runs: which config keys may be swept, in which order, and which sweeps share a program.

A config key given a list is a swept axis; several swept keys make a grid, their product, with one
named axis per key in the order given (`grid` orders them explicitly). Pure functions of the
resolved config's dicts: the config module checks every cell with them before anything runs.

Two kinds of axes:

- **inner** axes (the learning rate, the input spectrum's `distinct_eigenvalues` and `exponent`,
  and the student's width: padded to the widest for two-layer and random-feature students, in
  groups for homogeneous ones) are the variants of one `Setup` (`scalinglaws.Variants`), vmapped side by side;
- **outer** axes (the input dimension, the teacher's width, the number of samples, and the width of
  a two-layer student that cannot be padded) change the shapes of the networks or data: each value
  is a `Setup` of its own, run one after another, with their results stacked along the axis.
"""

import copy
import itertools
from typing import Any

from .._results import AXIS_NAMES


__all__ = ["grid_order", "inner_keys", "outer_cells"]


def _get(config: dict, key: str) -> Any:
    section, _, name = key.partition(".")
    return config[section][name]


def swept_keys(config: dict) -> list[str]:
    """The keys of `config` (resolved dicts) that hold lists, in `AXIS_NAMES` order (the keys that
    may be swept, and their axes' names in the results)."""
    return [key for key in AXIS_NAMES if isinstance(_get(config, key), list)]


def grid_order(config: dict, appearance: list[str], given: list[str] | None) -> list[str] | None:
    """The order of the grid's axes: `given` (the config's `grid`, which must name exactly the swept
    keys), else the order in which the swept keys appear (the file's, then the overrides'). None
    when nothing is swept. Raises `ValueError` naming what is wrong with `given`."""
    swept = swept_keys(config)
    if given is not None:
        if sorted(given) != sorted(swept) or len(set(given)) != len(given):
            raise ValueError(f"must name each swept key (a key given a list) once: {swept}, got {given}")
        return list(given) or None
    order = [key for key in dict.fromkeys(appearance) if key in swept]
    return order + [key for key in swept if key not in order] or None


def inner_keys(config: dict) -> frozenset[str]:
    """The swept keys a `Setup` runs as its variants (vmapped) for this config's student."""
    kind = config["student"]["kind"]
    if kind == "kernel_regression":  # one setup per cell; these lists are refused by the cell's checks
        return frozenset({"training.learning_rate", "student.hidden"})
    keys = {"training.learning_rate", "data.distinct_eigenvalues", "data.exponent"}
    if kind in ("random_features", "homogeneous") or _padded_widths(config):
        keys.add("student.hidden")
    return frozenset(keys)


def _padded_widths(config: dict) -> bool:
    """Whether a two-layer student's widths run as one program, padded to the widest with inert
    units (`scalinglaws.Variants.padded`): with an untrained second layer (an inert unit's is 0), on
    the full engine or for the theory alone (the reduced chain's draws depend on K, so a padded
    chain would not be the run of that width alone)."""
    student, training = config["student"], config["training"]
    return (
        training["pad_widths"]
        and student["kind"] == "two_layer"
        and not student["train_second_layer"]
        and (training["method"] == "full" or training["seeds"] == 0)
    )


def outer_cells(config: dict) -> list[tuple[tuple[int, ...], dict]]:
    """The cells of the outer axes (in grid order, C order), each `(index, config)` with every
    outer key set to its value in that cell; inner lists stay lists. One cell `((), config)` when no
    outer key is swept."""
    order = config.get("grid") or []
    outer = [key for key in order if key not in inner_keys(config)]
    cells = []
    for index in itertools.product(*(range(len(_get(config, key))) for key in outer)):
        cell = copy.deepcopy(config)
        for key, i in zip(outer, index):
            section, _, name = key.partition(".")
            cell[section][name] = _get(config, key)[i]
        cell["grid"] = [key for key in order if key not in outer] or None
        cells.append((index, cell))
    return cells
