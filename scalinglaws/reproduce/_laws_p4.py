"""The laws of Ren, Nichani, Wu & Lee, arXiv 2504.19983 (P4) in the laws table.

**The theory is the greedy race.** For `h_4` (I = 2) the paper's greedy maximum selection pairs
neurons with teacher directions by the scores `a_q z_kq(0)` of the initial squared cosines, and
direction q emerges at `T_q = 1 / (8 eta a_q z_kq(0))` steps (`greedy_emergence`). Its staircase
`L(t) = sum_{q: T_q > t} a_q^2` (unhalved, L(0) = 1) at any P costs a sort of the m x P scores, so
the theory column runs it from sampled initial overlaps (`sampled_overlaps`, d = max(2048, 2 P); the
exponents do not depend on d, which only sets the time unit) at P = 64, 256, 1024, 4096 (quick: 64,
256, 1024), for beta = 0.8 and 1.5, `a_p ∝ p^-beta` with `sum a_p^2 = 1`:

- time: b of `L ≈ A t^-b + C` (m = P, the seeds' mean staircase) while the mean number of emerged
  directions runs from 4 to P / 4; the paper's `(2 beta - 1) / beta`. The offset C is free because
  the directions beyond P are missing from the sum (as for P1's finite spectrum);
- width: b of the expected final loss `E sum_{q unpaired} a_q^2 ≈ A m^-b + C` for m in
  [max(4, P / 64), P / 4]; the paper's `2 beta - 1` (its bound is stated in m / log m);
- compute: b of the compute-optimal frontier `min_m L_m(C / m)`, `C = m t` (widths 4 ... P), on the
  losses between `sum_{q > P/4} a_q^2` and `sum_{q > 4} a_q^2`; the paper's `(2 beta - 1) / (1 + beta)`;
- the emergence-time law `T_q ∝ q^beta` (the seeds' geometric mean of T_q for q in [4, P / 4]).

The simulation is population gradient descent (the paper's algorithm) at m = P = 64, d = 1024,
eta = 0.05, sigma_0 = d^-1/2 (8 seeds; quick: 2 at d = 256), computed exactly in the overlaps (the
same map as the d-dimensional descent, whose agreement `tests/test_emergence.py` checks) and measured
the same way; the theory's entry at P = 64 is the greedy race of those same seeds, since the
exponents of a window of 4 to 16 directions vary from draw to draw by more than the tolerance. The
width, compute and dimension laws: `_laws_p4_width`.
"""

import numpy as np

from .._activations import activation_from_name
from .._population import emergence_steps
from ..experiment import build_setup, configs_dir, load_config
from ..theory import EmergenceTheory, greedy_emergence, sampled_overlaps
from ._figure import Runs
from ._laws import LawRow, law, offset_exponent, simulated_exponent, window_exponent


PAPER = "P4 (arXiv 2504.19983)"
_BETAS = (0.8, 1.5)
_H4 = activation_from_name("hermite4")


def coefficients(directions: int, beta: float) -> np.ndarray:
    """`a_p = p^-beta / sqrt(sum_q q^-2 beta)`, p = 1 ... P (Sigma a_p^2 = 1)."""
    a = np.arange(1, directions + 1, dtype=np.float64) ** -beta
    return a / np.sqrt(np.sum(a * a))


def greedy_times(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The greedy emergence times `T_q` (P,) in units of `1 / eta` (inf: unpaired) of the squared
    cosines `z` (m, P)."""
    return greedy_emergence(np.sqrt(z), np.ones(z.shape[0]), a, _H4, 1.0)["step"]


def sizes(quick: bool) -> tuple[int, ...]:
    """The numbers of teacher directions P of the theory column."""
    return (64, 256, 1024) if quick else (64, 256, 1024, 4096)


def _seeds(directions: int) -> int:
    """Sampled seeds of the greedy race at P directions."""
    return 32 if directions <= 256 else (16 if directions <= 1024 else 4)


def mean_staircase(times: np.ndarray, emergence: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The seeds' mean of the idealised loss `sum_{q: T_q > t} a_q^2` (unhalved, h_4) at `times` (T,),
    for emergence times `emergence` (S, P) (inf: never), by sorting each seed's times once."""
    out = np.zeros(np.size(times))
    for row in np.atleast_2d(emergence):
        order = np.argsort(row)
        learned = np.concatenate([[0.0], np.cumsum(a[order] ** 2)])
        out += learned[-1] - learned[np.searchsorted(row[order], times, side="right")]
    return out / np.atleast_2d(emergence).shape[0]


def _emerged_window(times: np.ndarray, emergence: np.ndarray, directions: int) -> tuple[float, float]:
    """The times at which the seeds' mean number of emerged directions (`emergence` (S, P)) first
    reaches 4 and P / 4."""
    count = (emergence[:, None, :] <= times[None, :, None]).sum(-1).mean(0)
    return float(times[np.argmax(count >= 4)]), float(times[np.argmax(count >= directions / 4)])


def _log_slope(x, log_y, window) -> float:
    """The exponent b of `exp(log_y) ∝ x^b` in `window` (the geometric mean over seeds, for T_q)."""
    return -window_exponent(x, np.exp(log_y), window)


def time_and_emergence(directions: int, beta: float) -> dict[str, list]:
    """At m = P: b of the seeds' mean staircase against time (`time`), its pure log-log slope
    (`slope`), and the exponent of the geometric-mean T_q against q (`emergence`)."""
    a = coefficients(directions, beta)
    dim = max(2048, 2 * directions)
    t = np.stack(
        [greedy_times(sampled_overlaps(directions, directions, dim, seed=s), a) for s in range(_seeds(directions))]
    )
    times = np.geomspace(t.min() / 2, 2 * t[np.isfinite(t)].max(), 600)
    mean = mean_staircase(times, t, a)
    window = _emerged_window(times, t, directions)
    q = np.arange(1, directions + 1)
    return {
        "time": [offset_exponent(times, mean, window)],
        "slope": [window_exponent(times, mean, window)],
        "emergence": [_log_slope(q, np.log(t).mean(0), (4, directions / 4))],
    }


def solve_descent(overrides: list[str]) -> tuple[np.ndarray, dict]:
    """`p4_emergence` with `overrides`, its population descent solved exactly in the overlaps
    (`EmergenceTheory`, the same map as the d-dimensional descent): `(steps (T,), per_variant)`."""
    setup = build_setup(load_config(configs_dir() / "p4_emergence.toml", overrides))
    theory = EmergenceTheory()
    out = theory.solve(setup, theory.initial_state(setup, setup.networks())).per_variant
    return np.asarray(setup.grid.steps, np.float64), out


def exact_descent(beta: float, seeds: int, dim: int = 1024) -> dict[str, list]:
    """Population gradient descent of `p4_emergence` at m = P = 64, d = `dim`, eta = 0.05, sigma_0 =
    d^-1/2, computed exactly in the overlaps (`EmergenceTheory`, the same map as the d-dimensional
    descent): `steps` (T,), per seed `eps_g` (S, T), the greedy `greedy` (S, P) and the measured
    `emergence` (S, P) steps (NaN: not by the last step)."""
    overrides = [
        f"data.input_dim={dim}",
        "student.init_std=" + repr(dim**-0.5),
        "teacher.hidden=64",
        "student.hidden=64",
        f"teacher.second_layer_exponent={beta}",
        "training.alpha_max=" + ("10" if beta < 1 else "40"),
        "training.points_per_decade=60",
        f"training.seeds={seeds}",
    ]
    steps, out = solve_descent(overrides)
    emergence = emergence_steps(steps, out["overlap_theory"][0])
    fields = {"eps_g": out["eps_g_theory"][0], "greedy": out["emergence_step_theory"][0], "emergence": emergence}
    flat = {name: np.nan_to_num(np.asarray(x, np.float64), nan=-1.0).ravel().tolist() for name, x in fields.items()}
    return {"steps": steps.tolist(), "seeds": [seeds], **flat}  # -1: not emerged (a cached analysis is finite)


def descent_arrays(found: dict) -> dict[str, np.ndarray]:
    """`exact_descent`'s lists as arrays: `steps` (T,), `eps_g` (S, T), `greedy` and `emergence` (S, P),
    NaN where a direction did not emerge."""
    seeds = int(found["seeds"][0])
    out = {"steps": np.asarray(found["steps"], np.float64)}
    for name in ("eps_g", "greedy", "emergence"):
        x = np.asarray(found[name], np.float64).reshape(seeds, -1)
        out[name] = np.where(x < 0, np.nan, x)
    return out


def _same_seeds(found: dict, beta: float) -> dict[str, float]:
    """The greedy race's exponents on the simulation's own seeds (its first size in the table)."""
    steps, greedy = found["steps"], found["greedy"]
    a = coefficients(greedy.shape[1], beta)
    mean = mean_staircase(steps, greedy, a)
    window = _emerged_window(steps, greedy, greedy.shape[1])
    q = np.arange(1, greedy.shape[1] + 1)
    return {
        "time": offset_exponent(steps, mean, window),
        "slope": window_exponent(steps, mean, window),
        "emergence": _log_slope(q, np.log(greedy).mean(0), (4, greedy.shape[1] / 4)),
    }


def _time_rows(beta: float, values: dict, found: dict, dim: int, quick: bool) -> list[LawRow]:
    steps, greedy = found["steps"], found["greedy"]
    directions, count = greedy.shape[1], greedy.shape[0]
    window = _emerged_window(steps, greedy, directions)
    size = f"P = {directions}"
    sim_time = simulated_exponent(steps, found["eps_g"], window, size, measure=offset_exponent)
    q = np.arange(1, directions + 1)
    logs = np.log(found["emergence"])
    sim_emergence = simulated_exponent(q, logs, (4, directions / 4), size, measure=_log_slope)
    labels = tuple(f"P = {p}" for p in sizes(quick))
    seeds = f"at P = 64 the simulation's own {count} seeds, then " + ", ".join(str(_seeds(p)) for p in sizes(quick)[1:])
    slopes = ", ".join(f"{x:.3f}" for x in values["slope"])
    simulated = (
        f"population gradient descent at {size}, m = P, d = {dim}, eta = 0.05, sigma_0 = d^-1/2, {count} seeds, "
        "exact (computed in the overlaps), its window from its own seeds' greedy T_q"
    )
    return [
        LawRow(
            paper=PAPER,
            law=f"beta = {beta:g}: L ∝ t^-(2 beta - 1)/beta (m = P)",
            quantity="b in L ∝ t^-b",
            expected=(2 * beta - 1) / beta,
            source="(2 beta - 1)/beta, Prop. 2.2",
            sizes=labels,
            theory=tuple(values["time"]),
            simulation=sim_time,
            window="the mean number of emerged directions in [4, P/4]; b of A t^-b + C, C free",
            note=(
                f"theory: the greedy staircase ({seeds} sampled seeds); simulation: {simulated}. A pure log-log "
                f"slope reads {slopes} at the same sizes: the directions beyond P, missing from the loss, steepen "
                "it, and the free offset C absorbs them. At P = 64 the window (4 to 16 directions) is narrow and "
                "the exponent varies from draw to draw by more than the tolerance; at d = 256 the loss lags the "
                "overlaps by a norm-growth time that is relatively longer for the first directions (measured once "
                "there, beta = 0.8: 1.54 [1.15, 1.97] against its seeds' race 0.891), at d = 1024 much less"
            ),
        ),
        LawRow(
            paper=PAPER,
            law=f"beta = {beta:g}: emergence time T_q ∝ q^beta",
            quantity="b in T_q ∝ q^b",
            expected=beta,
            source="beta (T_q ∝ 1/a_q), Thm 2.1",
            sizes=labels,
            theory=tuple(values["emergence"]),
            simulation=sim_emergence,
            window="q in [4, P/4]; the geometric mean of T_q over seeds",
            note=(
                f"theory: the greedy T_q = 1/(8 eta a_q z_q(0)) ({seeds} sampled seeds); simulation: the step at "
                f"which some neuron's squared cosine with direction q reaches 1/2, {simulated}. The q-th pick's "
                "overlap falls like 2 ln(m - q)/d, a logarithmic correction to q^beta"
            ),
        ),
    ]


@law
def time_laws(runs: Runs, quick: bool) -> list[LawRow]:
    rows = []
    for beta in _BETAS:
        count, dim = (2, 256) if quick else (8, 1024)
        found = runs.analysis(
            f"law-p4-descent-beta{beta:g}", {"seeds": count, "dim": dim}, lambda: exact_descent(beta, count, dim)
        )
        found = descent_arrays(found)
        own = _same_seeds(found, beta)
        values: dict[str, list] = {name: [value] for name, value in own.items()}
        for p in sizes(quick)[1:]:
            sampled = runs.analysis(
                f"law-p4-time-beta{beta:g}-p{p}", {"seeds": _seeds(p)}, lambda p=p: time_and_emergence(p, beta)
            )
            for name in values:
                values[name] += sampled[name]
        rows += _time_rows(beta, values, found, dim, quick)
    return rows
