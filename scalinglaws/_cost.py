"""The unit in which learners and theories estimate their wall time before they run.

Each learner's and theory's `estimate_seconds(setup)` counts the work of its run in *units* of
about one float32 multiply-add with its share of the random numbers drawn, and converts with
`UNIT_SECONDS`, measured on the reference machine (2-core x86_64, one JAX CPU device): the full
online-SGD engine fills float32 normals at about 6 ns each, and its step costs about
`N (1 + (K + M) / 8)` units per seed (`benchmarks/results/sgd_throughput.md`, `reduced.md`). The
estimates are steady-state times without compilation (`COMPILE_SECONDS` per compiled program is
added by the caller); `benchmarks/time_estimate.py` compares them with measured runs and
reports the spread (`benchmarks/results/time_estimate.md`). Other machines scale all of them by
about one factor; a GPU by a different one per learner.
"""

import math

import numpy as np


__all__ = ["COMPILE_SECONDS", "LAPACK_FLOPS_PER_UNIT", "UNIT_SECONDS", "decades", "ode_steps"]

UNIT_SECONDS = 5e-9
LAPACK_FLOPS_PER_UNIT = 40.0  # float64 eigendecompositions and products of N ~ 100-500 matrices
COMPILE_SECONDS = 3.0  # one compiled simulation or theory program, cold cache (`grid_compile.md`: 3-9 s)


def decades(times) -> float:
    """The decades the recording grid spans from its first positive time to its last (at least 1)."""
    times = np.asarray(times, np.float64)
    positive = times[times > 0]
    if positive.size < 2:
        return 1.0
    return max(math.log10(positive[-1] / positive[0]), 1.0)


def ode_steps(times, per_decade: int | float) -> float:
    """The adaptive solver steps of a solve over the grid `times`: `per_decade` per decade it spans,
    and at least one per saved time."""
    return max(per_decade * decades(times), float(len(times)))
