"""The peak memory of a run, estimated from its `Setup` before anything is computed.

The estimate adds the largest arrays the run holds at once, each with the multiplicity that XLA's
buffers and the host's copies give it, plus a quarter for XLA's temporaries, to a fixed allowance
of 768 MiB for the JAX runtime and compilation (checked against the peak resident memory of real
runs by `benchmarks/memory_estimate.py` and `tests/test_reliability.py`):

- the simulation state: every variant's student and every seed's teacher, `(H S K + S M) N`
  numbers, kept five times (donated state, updated state, gradients, XLA's copies) plus a float64
  copy for the order parameters;
- one chunk of inputs per seed, `S c N` numbers, eight times (random bits, normals, the scan's
  copies: measured at N = 4 10^6);
- the Monte Carlo test set, when eps_g has no closed form: `n_test N` shared normals, `H n_test N`
  rescaled inputs, `3 H S n_test N` for the inputs of every run's observation, a transient copy
  of the normals, and the fields (the peak of one such run was 1.5–1.7 GB);
- a random-feature student's frozen features, `H S K N`, and its feature statistics, `H S K^2`;
- the recorded observables, `H S P (K^2 + K M + K + L (K^2 + K M))` float64 numbers for `P`
  recording points (`H S P (K + 1)` for random features), held three times on the host (segments,
  concatenation, the results file);
- the theory's solution, the same numbers again, and its solver's working state (for the stiff
  solve of the eigen-block ODE, `12 L (K^2 + K M)^2` numbers per lane: its per-block Jacobians).
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._full_batch import FullBatchLangevin
from .._population import PopulationDescent, PopulationFlow
from .._setup import RandomFeatureStudentSpec, Setup
from ..simulate import auto_chunk_size
from ._build import build_setup
from ._config import Config, ConfigError


__all__ = ["MemoryEstimate", "available_memory", "check_memory", "estimate_memory"]

_RUNTIME = 768 * 2**20  # the JAX runtime, XLA's compiler and the plotting libraries
_MARGIN = 1.25  # XLA's temporaries beyond the arrays counted


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak bytes of a run, and its parts as `(config key, what, bytes)`."""

    total: int
    parts: tuple[tuple[str, str, int], ...]

    def largest(self) -> tuple[str, str, int]:
        return max(self.parts, key=lambda part: part[2])


def _gib(count: int | float) -> str:
    return f"{count / 2**30:.3g} GiB"


def _full_batch_estimate(setup: Setup) -> MemoryEstimate:
    """Kernel regression: one batch of draws (`FullBatchLangevin.batch_size`: N x N eigenvectors,
    the P x N samples and (T, N) mode curves per draw, in float64), the recorded curves (four
    (S, T), and (T, N) modes, three times on the host), and the DMFT's Talbot nodes (2 T x 40
    complex numbers per mode at once for the unweighted trace, chunks of 2^21 in the
    self-consistency, and the (T, N) modes)."""
    learner, n, seeds = setup.learner, setup.input_dim, setup.seeds
    points = len(setup.grid.times)
    parts: list[tuple[str, str, int]] = []
    if seeds > 0:
        per_draw = 8 * (4 * n * n + learner.samples * n + 8 * points * n)
        batch = learner.batch_size(setup)
        key = "data.input_dim" if n >= learner.samples else "training.samples"
        parts.append((key, "a batch of data draws", 2 * batch * per_draw))
        parts.append(("training.seeds", "recorded curves", 3 * 8 * (4 * seeds * points + points * n)))
    if setup.theory.enabled:
        parts.append(("data.input_dim", "the DMFT's Talbot nodes", 16 * (3 * 41 * n + 2**21 * 4) + 3 * 8 * points * n))
    total = _RUNTIME + int(_MARGIN * sum(part[2] for part in parts))
    return MemoryEstimate(total, tuple(parts))


def _population_estimate(setup: Setup) -> MemoryEstimate:
    """Population gradient descent of the homogeneous student: every seed's weights, gradient and
    the loss's (m, m) and (m, P) intermediates (about 6 m d + 12 m^2 + 12 m P numbers, all seeds at
    once), the recorded curves (`2 P + 1` per point, three times on the host), and the theory's
    float64 descent in P + m dimensions."""
    n, p, m = setup.input_dim, setup.teacher.hidden, max(setup.variants.hidden)
    seeds, points, h = max(setup.seeds, 1), len(setup.grid.times), setup.variants.size
    item = 4 if setup.dtype == "float32" else 8
    parts: list[tuple[str, str, int]] = []
    if setup.seeds > 0:
        state = seeds * item * (6 * m * n + 12 * m * m + 12 * m * p)
        parts.append(("data.input_dim" if n > m + p else "student.hidden", "the descent's state", state))
    parts.append(("training.seeds", "recorded curves", 2 * 3 * 8 * h * seeds * points * (2 * p + 1)))
    if setup.theory.enabled:
        parts.append(("student.hidden", "the theory's state", seeds * 8 * (6 * m * (m + p) + 12 * m * m + 12 * m * p)))
    total = _RUNTIME + int(_MARGIN * sum(part[2] for part in parts))
    return MemoryEstimate(total, tuple(parts))


# The learners whose runs are not online SGD, and their estimates.
_OWN_ESTIMATES = {
    FullBatchLangevin: _full_batch_estimate,
    PopulationDescent: _population_estimate,
    PopulationFlow: _population_estimate,
}


def estimate_memory(setup: Setup | Config) -> MemoryEstimate:
    """The estimated peak memory of running a setup (or a config's; see the module docstring).

    The parts are named after the config key whose factor in their size is largest, so that the
    advice of `check_memory` says what to make smaller.
    """
    if isinstance(setup, Config):  # a grid's cells run one after another: the largest peak
        return max((estimate_memory(build_setup(cell)) for _, cell in setup.cells()), key=lambda e: e.total)
    if type(setup.learner) in _OWN_ESTIMATES:
        return _OWN_ESTIMATES[type(setup.learner)](setup)
    variants, learner = setup.variants, setup.learner
    n, m, k, h = setup.input_dim, setup.teacher.hidden, max(variants.hidden), variants.size
    per_sim = max(len(group) for group in variants.groups())  # a sweep over K runs one K at a time
    seeds = setup.seeds
    item = 4 if setup.dtype == "float32" else 8
    random_features = isinstance(setup.student, RandomFeatureStudentSpec)
    block_sizes = setup.blocks if setup.power_law and not random_features else 0
    closed_form = setup.closed_form_error
    points = len(setup.grid.steps) + 64 + 8  # plus the engine's extra pieces
    shared_inputs = variants.shared_inputs  # else each variant rescales its own
    chunk = learner.chunk_size or auto_chunk_size(seeds if shared_inputs else h * seeds, n, item)
    size_key = "data.distinct_eigenvalues" if block_sizes > k else "student.hidden"
    parts: list[tuple[str, str, int]] = []

    def part(what: str, size: int, **factors: int) -> None:
        """A part, named after the key whose factor in its size is largest."""
        key = max(factors, key=factors.get).replace("__", ".")
        parts.append((key, what, int(size)))

    if seeds > 0:
        runs = per_sim * seeds
        weights = (runs * k + seeds * m) * n
        part(
            "networks (students and teachers)",
            weights * (5 * item + 8),
            data__input_dim=n,
            student__hidden=k,
            training__seeds=runs,
        )
        part("input chunks", 8 * seeds * chunk * n * item, data__input_dim=n, training__chunk_size=chunk)
        if not closed_form:
            test = learner.test_size
            inputs = (2 + per_sim + 3 * runs) * test * n  # normals (twice), per variant, per run (three times)
            part(
                "Monte Carlo test set",
                (inputs + runs * test * (k + m)) * item,
                training__test_size=test,
                data__input_dim=n,
                training__seeds=runs,
            )
        if random_features:
            part(
                "random features and their statistics",
                runs * (k * n * item + 40 * k * k),
                student__hidden=k,
                data__input_dim=n,
                training__seeds=runs,
            )
        per_point = k + 1 if random_features else k * k + k * m + k + 1 + block_sizes * (k * k + k * m)
        part(
            "recorded observables",
            3 * h * seeds * points * per_point * 8,
            training__points_per_decade=points,
            training__seeds=h * seeds,
            **{size_key.replace(".", "__"): per_point},
        )
    if setup.theory.enabled:
        lanes = h * max(seeds, 1)
        state, working = _theory_lane(setup, random_features, block_sizes, k, m)
        factors = {"training__seeds": lanes, size_key.replace(".", "__"): state}
        part("theory solution", 2 * lanes * points * (state + 1) * 8, training__points_per_decade=points, **factors)
        part("theory solver", lanes * working, **factors)
    total = _RUNTIME + int(_MARGIN * sum(part[2] for part in parts))
    return MemoryEstimate(total, tuple(parts))


def _theory_lane(setup: Setup, random_features: bool, block_sizes: int, k: int, m: int) -> tuple[int, int]:
    """The numbers in one lane's theory state, and its solver's working bytes."""
    if random_features:
        return 2 * k, 8 * (6 * k * k + 40 * k)  # eigendecomposition of C, Rodas4 stages
    state = max(block_sizes, 1) * (k * k + k * m) + k
    working = 8 * 40 * state  # Rodas4 or Tsit5 stages, error estimates
    if block_sizes and _stiff(setup):
        # Rodas4's structured solve holds L blocks of (K^2 + K M)^2 (Jacobians, inverses, the coupling
        # and its forward-mode intermediates): one allocation of 10.3 L d^2 doubles was measured at
        # K = M = 40, L = 512.
        working += 8 * 12 * block_sizes * (k * k + k * m) ** 2
    return state, working


def _stiff(setup: Setup) -> bool:
    """Whether the eigen-block theory takes the stiff solver (`EigenBlockTheory._solver`'s rule)."""
    from ..theory._two_layer_theory import STIFF_EIGENVALUE_RATIO

    if setup.theory.solver != "auto":
        return setup.theory.solver == "stiff"
    lam = np.atleast_2d(setup.variants.eigenvalues)
    return bool(np.max(lam.max(-1) / lam.min(-1)) >= STIFF_EIGENVALUE_RATIO)


def _limits() -> list[int]:
    """The limits on this process's memory: its address-space limit (`ulimit -v`) and its control
    group's `memory.max` (cgroup v2), where set."""
    limits = []
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            limits.append(int(text))
    except OSError:
        pass
    return limits


def available_memory() -> int | None:
    """Bytes of memory available to a new computation: `MemAvailable` (Linux; else the physical
    memory), and no more than the process's address-space or control-group limit; `None` when
    unknown."""
    found = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            pass
    found += _limits()
    return min(found) if found else None


def check_memory(setup: Setup | Config, available: int | None = None) -> MemoryEstimate:
    """Raise `ConfigError` naming the key behind the largest part when the run's estimated peak
    memory exceeds `available` (default: `available_memory()`); else return the estimate."""
    estimate = estimate_memory(setup)
    available = available_memory() if available is None else available
    if available is not None and estimate.total > available:
        key, what, size = estimate.largest()
        raise ConfigError(
            key,
            f"the run needs about {_gib(estimate.total)} of memory at its peak ({what}: {_gib(size)}), but "
            f"{_gib(available)} are available; make the run smaller",
        )
    return estimate
