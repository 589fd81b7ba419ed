"""Emergence in extensive-width networks (Ren, Nichani, Wu & Lee, arXiv 2504.19983): which student
neuron learns which teacher direction, when, and the loss staircase that follows.

For an activation whose Hermite series starts at the even degree `2I >= 4` (coefficient `c`), a
student neuron with squared overlap `z = cos^2(v_k, v*_p)` along a direction of weight `a` escapes
its search phase, while the norms are small, by `dz/dtau = 4 I a c^2 z^I (1 - z)` (`tau = eta t`),
which blows up at

    tau* = 1 / (4 I (I - 1) c^2 a z_0^(I - 1)),

and crosses `z = 1/2` at `tau_1/2 = [F(1/2) - F(z_0)] / (4 I a c^2)`,
`F(z) = sum_{j=2}^{I} z^(1-j) / (1 - j) + ln z - ln(1 - z)` (for I = 2, `tau* (1 - 2 z_0 + z_0 ln(1/z_0)
+ z_0 ln(1 - z_0))`). Neurons and directions are paired by the paper's greedy maximum selection
(its eq. (5)): score every pair by `a_q z_kq(0)^(I - 1)`, take the global maximum, delete its row
and column, repeat; direction q is predicted to emerge at `T_q = tau*(a_q, z_kq(0)) / eta` steps.
After the escape the norm `|v_k|^2` grows logistically at the rate `4 kappa(1) a` from
`sigma_0^2 e^(1/I)` to `a`, so the loss lags the overlap by `ln(a / (sigma_0^2 e^(1/I)) - 1) /
(4 kappa(1) a)` in tau. The idealised staircase is `L(t) = kappa(1) (sum_q a_q^2 - sum_{T_q <= t} a_q^2)`
(unhalved, `L(0) = 1` for the paper's normalisations; the project's eps_g is L / 2).

The selection deflates a direction the moment its neuron blows up; the descent deflates it only once
that neuron's norm has grown. A neuron whose blow-up along a direction falls in between joins that
direction and leaves its own unlearned (at finite d a few per cent of the pairs, falling as ln d / d).
`event_emergence` races every pair in the order of its blow-up with that deflation time.
"""

import heapq
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._activations import AbstractActivation, hermite_series
from .._cost import UNIT_SECONDS, ode_steps
from .._homogeneous import Overlaps, reduced_weights
from .._learners import OnlineSGD
from .._population import (
    FLOW_STEPS_PER_DECADE,
    PopulationDescent,
    PopulationFlow,
    descend,
    flow,
    homogeneous_problem,
    homogeneous_step_units,
)
from .._setup import HomogeneousStudentSpec, Setup
from ._abstract import AbstractTheory, Trajectory, masked


__all__ = [
    "EmergenceTheory",
    "crossing_time",
    "deflation_steps",
    "event_emergence",
    "event_pairs",
    "greedy_emergence",
    "greedy_pairs",
    "sampled_overlaps",
    "staircase",
]


def _leading(activation: AbstractActivation) -> tuple[int, float]:
    """`(I, c)`: half the lowest degree of the activation's Hermite series and its coefficient;
    ValueError unless that degree is even and at least 4 (the paper's Assumption 2.1)."""
    coefficients = hermite_series(activation).coefficients
    degree = next((k for k, c in enumerate(coefficients) if c != 0), 0)
    if degree % 2 or degree < 4:
        raise ValueError(f"the emergence theory needs an even lowest Hermite degree >= 4, got {degree}")
    return degree // 2, float(coefficients[degree])


def crossing_time(z0, weight, activation: AbstractActivation, *, exact: bool = True):
    """The tau at which a lone neuron's squared overlap `z` reaches 1/2 from `z0` (`exact`), or the
    blow-up time tau* of the small-overlap law (module docstring); NumPy, broadcasting."""
    order, c = _leading(activation)
    z0, weight = np.asarray(z0, np.float64), np.asarray(weight, np.float64)
    rate = 4 * order * weight * c * c
    if not exact:
        return 1.0 / ((order - 1) * rate * z0 ** (order - 1))

    def antiderivative(z):
        powers = sum(z ** (1 - j) / (1 - j) for j in range(2, order + 1))
        return powers + np.log(z) - np.log1p(-z)

    return (antiderivative(0.5) - antiderivative(z0)) / rate


def greedy_pairs(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paper's greedy maximum selection on `scores` (m, P): repeatedly the global maximum over
    unused rows and unpaired columns, its row and column then deleted, `min(m, P)` times. Returns
    `(student (P,), rank (P,))`: the row paired with each column and the order in which it was
    picked (-1 for columns left unpaired when m < P).

    Each column keeps its rows sorted by score and a heap holds every unpaired column's best row; a
    popped column whose row has been used since is pushed again with its next unused row. This is the
    sorted sweep over all m P scores, in `O(m P log m)` for the sorts and `O(P log P)` heap steps."""
    m, p = scores.shape
    ranked = np.argsort(-scores, axis=0, kind="stable")  # (m, P): each column's rows, best first
    head = np.zeros(p, np.int64)
    heap = [(-float(scores[ranked[0, q], q]), q) for q in range(p)]
    heapq.heapify(heap)
    used = np.zeros(m, bool)
    student, rank = np.full(p, -1), np.full(p, -1)
    for picked in range(min(m, p)):
        while True:
            _, q = heapq.heappop(heap)
            row = ranked[head[q], q]
            if not used[row]:
                break
            head[q] += int(np.argmin(used[ranked[head[q] :, q]]))  # the next unused row of column q
            heapq.heappush(heap, (-float(scores[ranked[head[q], q], q]), q))
        student[q], rank[q], used[row] = row, picked, True
    return student, rank


def greedy_emergence(
    r0: np.ndarray, q0_diagonal: np.ndarray, coefficients: np.ndarray, activation: AbstractActivation, rate: float
) -> dict:
    """The paper's greedy maximum selection (`greedy_pairs`) from the initial overlaps `r0 = V(0) E^T`
    (m, P) and norms `q0_diagonal` (m,), scored by `a_q z_kq(0)^(I - 1)`: `student` (P,) the neuron
    paired with each direction (-1 when none is left), `step` (P,) the predicted emergence step
    `tau* / rate` (inf when unpaired), `crossing` (P,) the step at which that neuron's overlap reaches
    1/2 alone, and `order` (P,) the rank of each direction in the selection."""
    order, _ = _leading(activation)
    a = np.asarray(coefficients, np.float64)
    z = np.asarray(r0, np.float64) ** 2 / np.asarray(q0_diagonal, np.float64)[:, None]
    return _predicted(*greedy_pairs(a[None, :] * z ** (order - 1)), z, a, activation, rate)


def _predicted(student, rank, z, a, activation: AbstractActivation, rate: float) -> dict:
    """The keys of `greedy_emergence` for a pairing `student`, `rank` (P,) of the squared cosines `z`."""
    paired = student >= 0
    z_paired = np.where(paired, z[np.maximum(student, 0), np.arange(a.size)], 0.5)
    step = np.where(paired, crossing_time(z_paired, a, activation, exact=False) / rate, np.inf)
    crossing = np.where(paired, crossing_time(np.minimum(z_paired, 0.5), a, activation) / rate, np.inf)
    return {"student": student, "step": step, "crossing": crossing, "order": rank}


def sampled_overlaps(width: int, directions: int, dim: int, *, seed: int) -> np.ndarray:
    """Squared cosines `z_kq(0)` (width, directions) of `width` neurons drawn uniformly on the sphere
    in `dim >= directions` dimensions with `directions` orthonormal teacher directions: `g_kq^2 /
    |g_k|^2` for Gaussian `g_k`, the `dim - directions` coordinates outside the teacher's span drawn
    as one chi-square per neuron (float64)."""
    if dim < directions:
        raise ValueError(f"the input dimension {dim} is below the number of teacher directions {directions}")
    rng = np.random.default_rng(seed)
    g2 = rng.standard_normal((width, directions)) ** 2
    rest = rng.chisquare(dim - directions, width) if dim > directions else np.zeros(width)
    return g2 / (g2.sum(1) + rest)[:, None]


def deflation_steps(z0, weight, norm0, activation: AbstractActivation, rate: float):
    """The step by which a lone neuron of squared overlap `z0` and squared norm `norm0` has fitted a
    direction of weight `a` (NumPy, broadcasting): its crossing of `z = 1/2` (`crossing_time`) plus
    the norm's logistic lag `ln(a / (norm0 e^(1/I)) - 1) / (4 kappa(1) a)` (module docstring), over
    `rate`. Until then the direction still drives other neurons at its full weight."""
    order, _ = _leading(activation)
    weight = np.asarray(weight, np.float64)
    kappa = float(hermite_series(activation).dual(1.0))
    cross = crossing_time(np.minimum(z0, 0.5), weight, activation)
    lag = np.log(np.maximum(weight / (np.asarray(norm0, np.float64) * np.exp(1.0 / order)) - 1.0, 1.0))
    return (cross + lag / (4 * kappa * weight)) / rate


def event_pairs(blowup: np.ndarray, deflation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The greedy race with deflation that takes time: every (neuron k, direction q) in the order of
    its lone blow-up step `blowup` (m, P); a free neuron meeting a free direction captures it (an
    emergence, as in the paper's selection), and the direction is deflated at `deflation[k, q]`; a
    free neuron whose blow-up along a captured direction comes before that is used up (it joins the
    direction, no emergence); after it, the direction no longer drives it. With `deflation =
    blowup` this is `greedy_pairs` on the scores `1 / blowup`. Returns `(student (P,), rank (P,))`."""
    m, p = blowup.shape
    free, deflated = np.ones(m, bool), np.full(p, -np.inf)
    student, rank, picked = np.full(p, -1), np.full(p, -1), 0
    for flat in np.argsort(blowup, axis=None, kind="stable"):
        k, q = divmod(int(flat), p)
        if not free[k]:
            continue
        if student[q] < 0:
            student[q], rank[q], free[k], deflated[q] = k, picked, False, deflation[k, q]
            picked += 1
        elif blowup[k, q] < deflated[q]:
            free[k] = False
        if picked == p or not free.any():
            break
    return student, rank


def event_emergence(
    r0: np.ndarray, q0_diagonal: np.ndarray, coefficients: np.ndarray, activation: AbstractActivation, rate: float
) -> dict:
    """`greedy_emergence` with the deflation that takes time (`event_pairs`, `deflation_steps`): a
    neuron that escapes along a direction another neuron is still learning joins it instead of
    learning its own, so the direction it was paired with by the paper's selection may never emerge
    (at m < P, or when no spare neuron is left). Same keys; `student` -1 (and `step` inf) for a
    direction left without a neuron."""
    a = np.asarray(coefficients, np.float64)
    norms = np.asarray(q0_diagonal, np.float64)
    z = np.asarray(r0, np.float64) ** 2 / norms[:, None]
    blowup = crossing_time(z, a[None, :], activation, exact=False) / rate
    pairs = event_pairs(blowup, deflation_steps(z, a[None, :], norms[:, None], activation, rate))
    return _predicted(*pairs, z, a, activation, rate)


def staircase(steps: np.ndarray, emergence: np.ndarray, coefficients: np.ndarray, activation: AbstractActivation):
    """The idealised loss `kappa(1) (sum_q a_q^2 - sum_{T_q <= t} a_q^2)` (T,) at `steps`, unhalved,
    for emergence steps `T_q` (P,) (inf: never)."""
    a2 = np.asarray(coefficients, np.float64) ** 2
    scale = float(hermite_series(activation).dual(1.0))
    learned = np.asarray(emergence)[None, :] <= np.asarray(steps, np.float64)[:, None]
    return scale * (a2.sum() - (learned * a2[None, :]).sum(axis=1))


class EmergenceTheory(AbstractTheory):
    """The d-independent theory of population gradient descent and flow of the homogeneous student
    (and of online SGD, whose mean it is for a small step): every seed's own initial overlaps (Q, R)
    carried by the factor `C = [R, L]` in P + m dimensions (`scalinglaws._homogeneous.reduced_weights`),
    descended with the same step (or flowed, with the theory's tolerances) in float64, and the
    greedy prediction of every direction's emergence. Result names: `eps_g_theory`,
    `overlap_theory`, `mass_theory` (H, S, T[, P]); `emergence_step_theory` (H, S, P) the greedy
    `T_q` (NaN for a direction left without a neuron when m < P); `emergence_crossing_theory` the
    same with the lone neuron's saturating crossing of 1/2; `eps_g_staircase` (H, S, T) half the
    idealised staircase of the greedy `T_q`."""

    description: ClassVar[str] = (
        "emergence theory of Ren, Nichani, Wu & Lee (arXiv 2504.19983): population descent in the "
        "overlaps (d-independent), greedy maximum selection"
    )
    students: ClassVar[tuple[type, ...]] = (HomogeneousStudentSpec,)
    trace_seconds: ClassVar[float] = 0.3

    def why_not(self, setup: Setup) -> str | None:
        if not isinstance(setup.learner, (PopulationDescent, PopulationFlow, OnlineSGD)):
            return "the emergence theory describes population gradient descent and flow, and online SGD"
        teacher = setup.teacher
        if teacher.init != "orthonormal" or teacher.output != "sum" or teacher.noise_std != 0:
            return "the emergence theory needs a noiseless teacher with orthonormal directions and summed output"
        if teacher.activation != setup.student.activation:
            return "the emergence theory needs the teacher's activation to be the student's"
        try:
            _leading(setup.student.activation)
        except ValueError as error:
            return str(error)
        return None

    def initial_state(self, setup: Setup, networks: list) -> list:
        """Per group of variants: `(C (S, m, P + m), coefficients (S, P), R(0) (S, m, P), q(0) (S, m), variants)`."""
        out = []
        for group in networks:
            weights, directions, coefficients = homogeneous_problem(group, jnp.float64)
            start = jax.vmap(Overlaps.of)(weights, directions)
            reduced = jax.vmap(reduced_weights)(start)
            norms = jnp.diagonal(start.q, axis1=-2, axis2=-1)
            out.append((reduced, coefficients, np.asarray(start.r), np.asarray(norms), group.variants))
        return out

    def estimate_seconds(self, setup: Setup) -> float:
        """The learner's own cost model in P + m dimensions instead of d (`homogeneous_step_units`):
        descent's steps, or the flow's solver steps, for every seed and variant."""
        units = homogeneous_step_units(setup, setup.teacher.hidden + max(setup.variants.hidden))
        runs = max(setup.seeds, 1) * setup.variants.size
        if isinstance(setup.learner, PopulationFlow):
            return UNIT_SECONDS * 6 * ode_steps(setup.grid.times, FLOW_STEPS_PER_DECADE) * runs * units
        return UNIT_SECONDS * int(setup.grid.steps[-1]) * runs * units

    def _reduced(self, setup: Setup, reduced, axes, coefficients, rate: float) -> dict:
        """The reduced dynamics of one variant: descent with step `rate`, or the flow."""
        activation = setup.student.activation
        if isinstance(setup.learner, PopulationFlow):
            options = setup.theory
            args = (reduced, axes, coefficients, activation, jnp.asarray(setup.grid.times), options.rtol, options.atol)
            return jax.device_get(flow(*args, options.max_steps))
        steps = jnp.asarray(setup.grid.steps)
        return jax.device_get(descend(reduced, axes, coefficients, activation, jnp.asarray(rate), steps))

    def solve(self, setup: Setup, state0: list) -> Trajectory:
        flowing = isinstance(setup.learner, PopulationFlow)
        steps = np.asarray(setup.grid.times if flowing else setup.grid.steps)
        activation = setup.student.activation
        curves: dict[str, dict] = {}
        for reduced, coefficients, r0, q0, variants in state0:
            p = coefficients.shape[-1]
            axes = jnp.broadcast_to(jnp.eye(reduced.shape[-1])[:p], (reduced.shape[0], p, reduced.shape[-1]))
            a = np.asarray(coefficients)
            for h in variants:
                rate = 1.0 if flowing else float(setup.variants.learning_rates[h])  # the flow's clock is tau
                out = self._reduced(setup, reduced, axes, coefficients, rate)
                greedy = [greedy_emergence(r0[s], q0[s], a[s], activation, rate) for s in range(len(a))]
                predicted = np.stack([np.where(g["student"] >= 0, g["step"], np.nan) for g in greedy])
                crossing = np.stack([np.where(g["student"] >= 0, g["crossing"], np.nan) for g in greedy])
                stairs = np.stack([0.5 * staircase(steps, g["step"], a[s], activation) for s, g in enumerate(greedy)])
                results = {f"{name}_theory": np.asarray(x, np.float64) for name, x in out.items()}
                results |= {
                    "emergence_step_theory": predicted,
                    "emergence_crossing_theory": crossing,
                    "eps_g_staircase": stairs,
                }
                curves[int(h)] = results
        per_variant = {name: np.stack([curves[h][name] for h in sorted(curves)]) for name in curves[min(curves)]}
        eps = per_variant["eps_g_theory"]
        flat = eps.reshape(-1, eps.shape[-1])
        mask, diverged_alpha = masked(flat, np.zeros(flat.shape[0], bool), setup.grid.times, setup.divergence_threshold)
        eps[mask.reshape(eps.shape)] = np.nan
        return Trajectory(setup.grid.times, per_variant, {}, diverged_alpha.reshape(eps.shape[:2]), {})
