"""The width, compute and dimension laws of Ren, Nichani, Wu & Lee, arXiv 2504.19983 (P4) in the
laws table (the time laws and the conventions: `_laws_p4`).

- **Width.** Below P the student learns the directions its neurons win in the greedy race, not the
  top m: the expected final loss is `E sum_{q unpaired} a_q^2`, which lies above `sum_{q > m} a_q^2`
  (the top m learned) by a factor that falls towards 1 as m grows. Measured: b of `A m^-b + C` for m
  in [max(4, P / 64), P / 4], and the same in the paper's m / log m. A width exponent of a
  simulation at P = 64 (a window of m = 4 ... 16, eight seeds) is too noisy to test anything; what is
  tested is the race itself: each seed's final loss of population descent against its own greedy
  staircase.
- **Compute.** The frontier `min_m L_m(C / m)` over widths 4 ... P of the seeds' mean staircases,
  beside the same frontier of the deterministic staircase (the top m learned at `T_p ∝ p^beta`), which
  separates what finite P does from what the greedy race does. No simulation: a frontier needs widths
  beyond P at long times, which `experiments/p4_scaling.py` runs at P = 64.
- **Dimension.** `T_q ∝ d^(I-1)` holds for the greedy `T_q` by construction (`z_kq(0)` scales as
  1 / d); what needs checking is that the dynamics follows it: the exact descent's emergence step over
  the greedy `T_q` (the median over directions and seeds), at d = 256, 1024, 4096 (quick: 128, 256,
  512; alpha up to 30, 4 seeds, quick 2), against the d-dimensional descent of the p4-emergence
  figure's run at d = 1024 (quick: 128), for P = 16, m = 32, beta = 0.8 (the shipped `p4_emergence`), must tend to 1.
"""

import numpy as np

from .._population import emergence_steps
from ..theory import sampled_overlaps
from ._figure import Runs
from ._laws import LawRow, Measured, law, offset_exponent
from ._laws_p4 import _BETAS, PAPER, coefficients, greedy_times, mean_staircase, sizes, solve_descent
from ._p4 import P4Emergence


def width_losses(directions: int, beta: float) -> dict[str, list]:
    """The greedy race's expected final loss at widths in [max(4, P/64), P/4]: b in m and in m / log m,
    and the loss over `sum_{q > m} a_q^2` at the two ends."""
    a = coefficients(directions, beta)
    widths = np.unique(np.round(np.geomspace(max(4, directions // 64), directions // 4, 7)).astype(int))
    seeds = 64 if directions <= 256 else (16 if directions <= 1024 else 8)
    loss = np.zeros(widths.size)
    for s in range(seeds):
        z = sampled_overlaps(int(widths[-1]), directions, max(2048, 2 * directions), seed=s)
        loss += [np.sum(a[~np.isfinite(greedy_times(z[:m], a))] ** 2) / seeds for m in widths]
    top = np.asarray([np.sum(a[m:] ** 2) for m in widths])
    log_form = widths / np.log(widths)
    return {
        "width": [offset_exponent(widths, loss, (widths[0], widths[-1]))],
        "log_form": [offset_exponent(log_form, loss, (log_form[0], log_form[-1]))],
        "ratio": [float(loss[0] / top[0]), float(loss[-1] / top[-1])],
    }


def width_check(runs: Runs, quick: bool) -> str:
    """How well each seed's final loss of population descent (P = 64, d = 256, m = 4 ... 16, beta =
    0.8, 8 seeds; quick: m = 4, 8, 16, 2 seeds) equals its own greedy staircase at the last step: a sentence."""
    widths = [4, 8, 16] if quick else [4, 6, 8, 11, 16]
    arrays = runs(
        "p4_emergence",
        "law-width",
        "teacher.hidden=64",
        f"student.hidden={widths}",
        "training.alpha_max=" + ("30" if quick else "120"),
        "training.points_per_decade=10",
        "training.seeds=" + ("2" if quick else "8"),
    ).arrays
    sim = np.asarray(arrays["eps_g_sim"], np.float64)[..., -1]  # (H, S)
    greedy = np.asarray(arrays["eps_g_staircase"], np.float64)[..., -1]
    gap = sim / greedy - 1
    steps = int(round(float(arrays["alpha"][-1]) * 256))
    return (
        f"Simulation: population descent at P = 64, d = 256, m = {', '.join(map(str, widths))}, {gap.shape[1]} seeds: "
        f"each seed's loss after {steps} steps over its own greedy staircase's there − 1: median "
        f"{np.median(gap):+.3f}, "
        f"{int((np.abs(gap) > 0.1).sum())} of {gap.size} beyond ±10 % "
        f"(largest {gap.flat[np.argmax(np.abs(gap))]:+.2f}). "
        "The exceptions are directions whose greedy neuron is captured first by a near-tied direction that "
        "another neuron is still learning: the greedy deflates a direction the moment its neuron blows up, the "
        "descent only once that neuron's norm has grown (in `experiments/p4_scaling.py`'s width sweep, seed 1 "
        "at m = 4, 6, 8: direction 17, due at step 1482, never emerges, because its neuron joins direction 1, "
        "due 5 % later for it than for its own neuron). `theory.event_emergence` gives each captured direction "
        "that deflation time (the lone crossing plus the norm lag) and predicts these: tests/test_laws_p4.py"
    )


@law
def width_laws(runs: Runs, quick: bool) -> list[LawRow]:
    rows, check = [], width_check(runs, quick)
    for beta in _BETAS:
        found = [
            runs.analysis(f"law-p4-width-beta{beta:g}-p{p}", {"version": 1}, lambda p=p: width_losses(p, beta))
            for p in sizes(quick)
        ]
        ratios = "; ".join(f"P = {p}: {f['ratio'][0]:.2f} → {f['ratio'][1]:.2f}" for p, f in zip(sizes(quick), found))
        logs = ", ".join(f"{f['log_form'][0]:.3f}" for f in found)
        rows.append(
            LawRow(
                paper=PAPER,
                law=f"beta = {beta:g}: final loss ∝ m^-(2 beta - 1) below P",
                quantity="b in E L(m) ∝ m^-b",
                expected=2 * beta - 1,
                source="2 beta - 1, Prop. 2.2 (in m / log m)",
                sizes=tuple(f"P = {p}" for p in sizes(quick)),
                theory=tuple(f["width"][0] for f in found),
                simulation=None,
                window="m in [max(4, P/64), P/4]; b of A m^-b + C, C free",
                note=(
                    "theory: the expected final loss E Σ_{q unpaired} a_q² of the greedy race (64, 64, 16, 8 seeds). "
                    f"It exceeds the top-m bound Σ_{{q>m}} a_q² by the factor {ratios} (smallest to largest m), "
                    "which falls towards 1 as the race's winners approach the top m: the local exponent is steeper "
                    "than 2 beta − 1 and converges slowly. In the paper's variable m / log m the same fit reads "
                    f"{logs}: the log belongs to the paper's bounds, not to the expected loss. "
                    + (check if beta < 1 else "No simulation at beta = 1.5")
                ),
            )
        )
    return rows


def _frontier(times_of: dict[int, np.ndarray], a: np.ndarray, compute: np.ndarray) -> np.ndarray:
    """`min_m L_m(C / m)` over the widths of `times_of` (m -> emergence times (S, P)), the seeds' mean."""
    frontier = np.full(compute.size, np.inf)
    for m, times in times_of.items():
        frontier = np.minimum(frontier, mean_staircase(compute / m, times, a))
    return frontier


def compute_frontier(directions: int, beta: float) -> dict[str, list]:
    """b of the compute-optimal frontier of the greedy staircases (widths 4 ... P, nested: the first m
    of one draw of P neurons) and of the deterministic staircase, on the losses between
    `sum_{q > P/4} a_q^2` and `sum_{q > 4} a_q^2`."""
    a = coefficients(directions, beta)
    widths = np.unique(np.round(np.geomspace(4, directions, 12)).astype(int))
    seeds = 16 if directions <= 1024 else 4
    draws = [sampled_overlaps(directions, directions, max(2048, 2 * directions), seed=s) for s in range(seeds)]
    greedy = {int(m): np.stack([greedy_times(z[:m], a) for z in draws]) for m in widths}
    first = min(float(t.min()) for t in greedy.values())
    compute = np.geomspace(first * widths[0], 1e3 * first * directions ** (1 + beta), 800)
    q = np.arange(1, directions + 1, dtype=np.float64)
    ideal = {int(m): np.where(q <= m, first * q**beta, np.inf)[None, :] for m in widths}
    low, high = np.sum(a[directions // 4 :] ** 2), np.sum(a[4:] ** 2)
    out = {}
    for name, times_of in (("greedy", greedy), ("ideal", ideal)):
        frontier = _frontier(times_of, a, compute)
        inside = compute[(frontier >= low) & (frontier <= high)]
        out[name] = [offset_exponent(compute, frontier, (inside.min(), inside.max()))]
    return out


@law
def compute_laws(runs: Runs, quick: bool) -> list[LawRow]:
    rows = []
    for beta in _BETAS:
        found = [
            runs.analysis(f"law-p4-compute-beta{beta:g}-p{p}", {"version": 1}, lambda p=p: compute_frontier(p, beta))
            for p in sizes(quick)
        ]
        ideal = ", ".join(f"{f['ideal'][0]:.3f}" for f in found)
        rows.append(
            LawRow(
                paper=PAPER,
                law=f"beta = {beta:g}: compute-optimal L ∝ C^-(2 beta - 1)/(1 + beta)",
                quantity="b in min_m L ∝ C^-b",
                expected=(2 * beta - 1) / (1 + beta),
                source="(2 beta - 1)/(1 + beta), Prop. 2.2",
                sizes=tuple(f"P = {p}" for p in sizes(quick)),
                theory=tuple(f["greedy"][0] for f in found),
                simulation=None,
                window="the frontier's loss in [Σ_{q>P/4} a_q², Σ_{q>4} a_q²]; b of A C^-b + C0, C0 free; C = m t",
                note=(
                    "theory: the frontier over widths 4 … P of the greedy staircases' mean (16, 16, 16, 4 seeds). "
                    f"The deterministic staircase (the top m learned at T_p ∝ p^beta, the law's own idealisation) "
                    f"reads {ideal} at the same sizes, so the frontier's machinery and finite P are not what "
                    "departs: the greedy race is. Wider students win larger overlaps (z ≈ 2 ln(m P)/d) and so "
                    "start sooner; rescaling each width's times by ln(m P) / ln(P²) removes 0.02–0.04 of the "
                    "excess (measured at P = 256 and 1024). The rest is the race's winners not being the top m "
                    "(the width rows' ratio), and it does not shrink between P = 64 and 4096. No simulation: a "
                    "frontier needs widths beyond P at long times "
                    "(`experiments/p4_scaling.py` runs one at P = 64)"
                ),
            )
        )
    return rows


def _ratios(steps: np.ndarray, overlap: np.ndarray, greedy: np.ndarray) -> np.ndarray:
    """The descent's emergence steps (`overlap` (S, T, P), squared cosine 1/2) over the greedy `T_q` (S, P)."""
    return emergence_steps(steps, overlap) / np.asarray(greedy, np.float64)


def descent_over_greedy(dim: int, seeds: int) -> dict[str, list]:
    """The median emergence step of the exact descent (the d-independent theory's) over the greedy T_q,
    `p4_emergence` at input dimension `dim`, alpha up to 30 (every direction emerged at d = 256)."""
    overrides = [*P4Emergence.overrides(dim), f"training.seeds={seeds}", "training.alpha_max=30"]
    steps, out = solve_descent(overrides)
    ratios = _ratios(steps, out["overlap_theory"][0], out["emergence_step_theory"][0])
    return {"ratio": [float(np.nanmedian(ratios))]}


@law
def dimension_law(runs: Runs, quick: bool) -> list[LawRow]:
    dims = (128, 256, 512) if quick else (256, 1024, 4096)
    seeds = 2 if quick else 4
    values = [
        runs.analysis(f"law-p4-descent-d{dim}", {"seeds": seeds}, lambda dim=dim: descent_over_greedy(dim, seeds))[
            "ratio"
        ][0]
        for dim in dims
    ]
    sim_dim = dims[0] if quick else dims[1]  # the p4-emergence figure's run
    arrays = runs(
        "p4_emergence", f"d{sim_dim}", *P4Emergence.overrides(sim_dim), *(["training.seeds=2"] if quick else [])
    ).arrays
    per_seed = np.asarray(arrays["emergence_step_sim"], np.float64) / arrays["emergence_step_theory"]
    rng = np.random.default_rng(0)
    spread = [np.nanmedian(per_seed[rng.integers(0, len(per_seed), len(per_seed))]) for _ in range(400)]
    low, high = np.quantile(spread, [0.025, 0.975])
    return [
        LawRow(
            paper=PAPER,
            law="T_q ∝ d^(I-1): the descent's emergence step / greedy T_q → 1",
            quantity="median emergence step / greedy T_q",
            expected=1.0,
            source="Thm 2.1 (T_q ∝ d^(I-1)/(eta a_q), z_kq(0) ∝ 1/d)",
            sizes=tuple(f"d = {d}" for d in dims),
            theory=tuple(values),
            simulation=Measured(float(np.nanmedian(per_seed)), float(low), float(high), f"d = {sim_dim}"),
            window="P = 16, m = 32, beta = 0.8, eta = 0.05, sigma_0 = d^-1/2; a squared cosine reaching 1/2",
            note=(
                "theory: the exact population descent in the overlaps (d-independent in cost); simulation: the "
                "d-dimensional population descent, a bootstrap over its seeds. The excess is the lone neuron's "
                "saturation (z_0 ln(1/z_0)) and the Euler step, both vanishing as d grows"
            ),
        )
    ]
