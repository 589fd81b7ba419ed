"""How a run's steps are cut into compiled calls: pieces between recording points, and chunks of inputs.

The host drives a run in segments of `PIECES_PER_CALL` pieces (one compiled call each) to report
progress and detect divergence; no piece exceeds 1/`PIECES_PER_RUN` of the run, and each piece is
covered by whole chunks of `chunk_size` inputs and, at most once, a partial chunk whose surplus
rows are masked out (the measurements behind the sizes: `benchmarks/sgd_throughput.py`).
"""

import math

import numpy as np


__all__ = ["PIECES_PER_CALL", "auto_chunk_size", "pieces"]

PIECES_PER_CALL = 8
PIECES_PER_RUN = 64


def pieces(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(lengths, records)`: the steps of every piece, padded with empty pieces to whole calls, and
    whether a piece ends on a recording point of `grid`."""
    total = int(grid[-1])
    largest = max(1, math.ceil(total / PIECES_PER_RUN))
    lengths, records = [0], [True]
    for gap in np.diff(grid):
        parts = max(1, math.ceil(int(gap) / largest))
        base, extra = divmod(int(gap), parts)
        sizes = [base + (i < extra) for i in range(parts)]
        lengths.extend(sizes)
        records.extend([False] * (parts - 1) + [True])
    pad = -len(lengths) % PIECES_PER_CALL
    lengths.extend([0] * pad)
    records.extend([False] * pad)
    return np.asarray(lengths, np.int32), np.asarray(records, bool)


def auto_chunk_size(batch: int, input_dim: int, itemsize: int) -> int:
    """A power of two in [4, 256] such that `batch * chunk * input_dim * itemsize` is about 2 MB
    (drawing per step was 2.4-4.5x slower on CPU, and larger draws were slower too)."""
    target = 2**21 / max(batch * input_dim * itemsize, 1)
    return int(2 ** np.clip(np.floor(np.log2(max(target, 1.0))), 2, 8))
