"""A run's arrays with their named grid axes: `ResultArrays`.

A run that sweeps keys (a grid: `scalinglaws.experiment._grid`) stores each array with a leading
axis per swept key it depends on, in the grid's order; `ResultArrays.axes(name)` names them. For
example a grid over `student.hidden` and `training.learning_rate` stores `eps_g_sim` as
(K values, eta values, S, T) with axes `("hidden", "learning_rate")`, the teachers' `T_sim` as
(S, M, M) with no grid axis, and `alpha` (T,) without one too. Where cells differ in shape (a
time grid that depends on N, overlaps of another width) the stacked array is padded at the end
of each axis: NaN for floats, -1 for integers, False for booleans.
"""

from collections.abc import Iterator, Mapping

import numpy as np


__all__ = ["AXIS_KEYS", "AXIS_NAMES", "ResultArrays", "nan_inert_units", "pad_stack"]

# Every config key that may be swept, and the name of its axis (and of its values) in the results.
AXIS_NAMES: dict[str, str] = {
    "data.input_dim": "input_dim",
    "data.exponent": "exponent",
    "data.distinct_eigenvalues": "distinct_eigenvalues",
    "teacher.hidden": "teacher_hidden",
    "student.hidden": "hidden",
    "training.learning_rate": "learning_rate",
    "training.samples": "samples",
}
AXIS_KEYS: dict[str, str] = {name: key for key, name in AXIS_NAMES.items()}  # an axis's config key


class ResultArrays(Mapping):
    """A read-only mapping of a run's array names to arrays, with the grid they were computed on.

    - `grid`: `((name, values), ...)` the swept axes in order (empty: one run).
    - `axes(name)`: the grid axes an array carries, leading, in grid order.
    - `cell(index)`: the arrays of one cell (a flat index in C order, or one index per axis), each
      sliced along the grid axes it carries, so it reads like the arrays of one run.
    """

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        grid: tuple[tuple[str, np.ndarray], ...] = (),
        axes: Mapping[str, tuple[str, ...]] | None = None,
    ):
        self._arrays = dict(arrays)
        self.grid = tuple((str(name), np.asarray(values)) for name, values in grid)
        self._axes = {name: tuple(axes.get(name, ())) for name in self._arrays} if axes else {}
        names = {name for name, _ in self.grid}
        order = [name for name, _ in self.grid]
        for name, carried in self._axes.items():
            if list(carried) != [axis for axis in order if axis in carried] or set(carried) - names:
                raise ValueError(f"{name} carries axes {carried}: not the grid's {order}, in its order")

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        return f"ResultArrays({sorted(self._arrays)}, grid={[name for name, _ in self.grid]})"

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid's shape (one length per axis; `()` for one run)."""
        return tuple(len(values) for _, values in self.grid)

    @property
    def size(self) -> int:
        """The number of cells."""
        return int(np.prod(self.shape, dtype=np.int64))

    def axes(self, name: str) -> tuple[str, ...]:
        """The grid axes array `name` carries (leading, in grid order)."""
        return self._axes.get(name, ())

    def axes_json(self) -> dict[str, list[str]]:
        """Every array's grid axes, for `summary.json` (arrays without one are left out)."""
        return {name: list(axes) for name, axes in sorted(self._axes.items()) if axes}

    def index(self, cell: int | tuple[int, ...]) -> tuple[int, ...]:
        """One index per axis from a flat index (C order) or a tuple; `IndexError` out of range."""
        shape = self.shape
        if isinstance(cell, tuple | list):
            if len(cell) != len(shape) or any(not 0 <= i < n for i, n in zip(cell, shape)):
                raise IndexError(f"cell {tuple(cell)} is not in the grid of shape {shape}")
            return tuple(int(i) for i in cell)
        if not 0 <= int(cell) < self.size:
            raise IndexError(f"cell {cell} is out of range: the grid has {self.size} cells")
        return tuple(int(i) for i in np.unravel_index(int(cell), shape)) if shape else ()

    def values(self, cell: int | tuple[int, ...]) -> dict:
        """The swept values of a cell, by axis name."""
        return {name: values[i].item() for (name, values), i in zip(self.grid, self.index(cell))}

    def label(self, cell: int | tuple[int, ...]) -> str:
        """`"hidden=4, learning_rate=0.1"`: how a cell is named in legends and messages."""
        return ", ".join(f"{name}={value:g}" for name, value in self.values(cell).items())

    def cell(self, cell: int | tuple[int, ...]) -> dict:
        """The arrays of one cell, sliced along the grid axes each carries (the axis values too)."""
        index = dict(zip((name for name, _ in self.grid), self.index(cell)))
        out = {}
        for name, array in self._arrays.items():
            carried = self.axes(name)
            out[name] = np.asarray(array)[tuple(index[axis] for axis in carried)] if carried else array
        return out

    def along(self, name: str) -> np.ndarray:
        """Array `name` broadcast to carry every grid axis: (*grid shape, ...)."""
        value = np.asarray(self._arrays[name])
        carried = self.axes(name)
        rest = value.shape[len(carried) :]
        expanded = value.reshape(*(len(values) if axis in carried else 1 for axis, values in self.grid), *rest)
        return np.broadcast_to(expanded, (*self.shape, *rest))


def pad_stack(arrays: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Stack arrays of one rank (and kind) into `(*shape, *largest)`, padding each at the end of
    every axis: NaN for floats, -1 for integers, False for booleans."""
    arrays = [np.asarray(a) for a in arrays]
    largest = tuple(max(sizes) for sizes in zip(*(a.shape for a in arrays))) if arrays[0].ndim else ()
    dtype = np.result_type(*arrays)
    fill = False if dtype.kind == "b" else (-1 if dtype.kind in "iu" else np.nan)
    out = np.full((len(arrays), *largest), fill, dtype)
    for i, a in enumerate(arrays):
        out[(i, *(slice(0, n) for n in a.shape))] = a
    return out.reshape(*shape, *largest)


def nan_inert_units(per_variant: dict, hidden: tuple[int, ...]) -> dict:
    """For padded widths (`scalinglaws.Variants.padded`): every variant's order parameters of the
    units beyond its width `hidden[h]` set to NaN (they are the padding's, not the run's), as a
    narrower run's arrays are padded in a grid: `Q_*` (H, ..., K, K), `R_*` (H, ..., K, M), and the
    second layer or readout `v_*`, `a_*` (H, ..., K)."""
    out = dict(per_variant)
    for name, value in per_variant.items():
        if not name.startswith(("Q_", "R_", "v_", "a_")):
            continue
        value = np.array(value, np.float64)
        for h, k in enumerate(hidden):
            if name.startswith(("Q_", "R_")):
                value[h, ..., k:, :] = np.nan
            if name.startswith(("Q_", "v_", "a_")):
                value[h, ..., k:] = np.nan
        out[name] = value
    return out
