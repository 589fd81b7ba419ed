"""The log-spaced time grid on which simulations and theories record their observables."""

import numpy as np


__all__ = ["log_time_grid"]


def log_time_grid(input_dim: int, alpha_max: float, points_per_decade: int, alpha_min: float = 0.01) -> np.ndarray:
    """Integer SGD step counts for `alpha = steps / N` log-spaced in `[alpha_min, alpha_max]`, with 0 first.

    Steps are rounded to integers and duplicates removed, so fewer points than requested can
    appear at small `alpha` when `alpha_min * N` is small. The last point is exactly
    `round(alpha_max * N)`.

    **Returns:** an increasing `int64` array of step counts starting with 0.
    """
    if input_dim < 1:
        raise ValueError(f"input_dim must be >= 1, got {input_dim}")
    if not (0 < alpha_min < alpha_max):
        raise ValueError(f"need 0 < alpha_min < alpha_max, got alpha_min={alpha_min}, alpha_max={alpha_max}")
    if points_per_decade < 1:
        raise ValueError(f"points_per_decade must be >= 1, got {points_per_decade}")
    decades = np.log10(alpha_max / alpha_min)
    count = max(int(np.ceil(decades * points_per_decade)) + 1, 2)
    alphas = np.logspace(np.log10(alpha_min), np.log10(alpha_max), count)
    steps = np.unique(np.maximum(np.rint(alphas * input_dim).astype(np.int64), 1))
    return np.concatenate([[0], steps]).astype(np.int64)
