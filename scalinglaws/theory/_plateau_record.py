"""The plateau record of a run (summary.json's `plateau`): for a soft-committee or eigen-block theory
with a symmetric teacher, the plateau's height, the predicted escape of every lane
(`predict_escape`), the theory's own escape and the simulation's, per seed.

The escape of a curve is `plateau_escape`'s: the first alpha after eps_g reached 1.1 x the
plateau's height at which eps_g falls below half of it, interpolated between grid points.
"""

import jax
import numpy as np

from .._setup import Setup, TwoLayerStudentSpec
from ._analysis import plateau_escape
from ._plateau import predict_escape


__all__ = ["add_simulated_escapes", "escapes", "plateau", "plateau_reason", "plateau_record"]

METHOD = (
    "predicted: tau(Ahat) - ln|A| / mu (scalinglaws.theory.predict_escape: the approach's specialisation "
    "gain, the escape rate at the plateau, the unstable manifold's escape); naive: ln(1 / S_0) / mu; escape: "
    "the first alpha after eps_g <= 1.1 x height at which eps_g < height / 2, interpolated"
)
_SYMMETRIC = 1e-6  # how far the teacher's overlaps may be from I (or I / L in every block): float32 rows


def plateau_reason(setup: Setup, initial=None) -> str | None:
    """None when `setup` has the symmetric plateau `predict_escape` needs (K = M >= 2, a symmetric
    teacher, the student's second layer fixed and equal), else why not. With the theory's initial
    overlaps `initial` (`InitialOverlaps`) the teacher's symmetry is checked on them."""
    student, teacher = setup.student, setup.teacher
    if not isinstance(student, TwoLayerStudentSpec):
        return "the student is not a two-layer network"
    m = teacher.hidden
    if m < 2 or any(k != m for k in setup.variants.hidden):
        return f"the plateau's prediction needs K = M >= 2 (M = {m}, K = {', '.join(map(str, setup.variants.hidden))})"
    if student.train_second_layer or student.visible_blocks is not None:
        return "the student's second layer is trained or it reads only some blocks"
    if teacher.init not in ("orthonormal", "block_orthonormal") or teacher.second_layer != "ones":
        return "the teacher is not symmetric (orthonormal rows and equal second-layer weights make it so)"
    if initial is None:
        return None
    blocks = initial.t_blocks if initial.t_blocks is not None else initial.t[:, None]
    target = np.eye(m) / blocks.shape[1]
    if np.max(np.abs(blocks - target)) > _SYMMETRIC * np.max(target):
        return "the teacher's overlaps are not I / L in every block (block_orthonormal makes them so)"
    if np.ptp(initial.v, axis=-1).max() > 0:
        return "the student's second-layer weights differ"
    return None


def escapes(alpha: np.ndarray, eps: np.ndarray, heights) -> np.ndarray:
    """The escape of every curve of `eps` (H, S, T) from the plateau of its variant's height (H,)."""
    eps = np.asarray(eps)
    out = np.full(eps.shape[:2], np.nan)
    for h, height in enumerate(heights):
        if np.isfinite(height):
            for s in range(eps.shape[1]):
                out[h, s] = plateau_escape(alpha, eps[h, s], height)
    return out


def add_simulated_escapes(record: dict, alpha: np.ndarray, eps_sim: np.ndarray) -> dict:
    """`record` (a plateau record) with the escapes of a simulation's eps_g `eps_sim` (H, S, T) on
    the grid `alpha` in `escape_alpha_sim`, where the record has a plateau."""
    if "height" in record:
        record["escape_alpha_sim"] = escapes(alpha, eps_sim, record["height"]).tolist()
    return record


def _per_variant(x: np.ndarray) -> np.ndarray:
    """The first finite entry of every row of `x` (H, S) (NaN for none): a variant's own constant."""
    finite = np.isfinite(x)
    return np.where(finite.any(1), x[np.arange(x.shape[0]), np.argmax(finite, axis=1)], np.nan)


def plateau_record(setup: Setup, initial, eps, ode, lanes, solver=None) -> dict:
    """The plateau record of an order-parameter theory's solve of `setup` from `initial`
    (`InitialOverlaps`), with `eps` (H, S, T) its eps_g, `ode` its ODE, `lanes` the `(state, args)`
    of its H * S lanes (variant-major) and `solver` its solver: `height` and `escape_rate` per
    variant; per variant and seed the `escape_alpha_predicted` (NaN where `no_prediction` says
    why), `escape_alpha_naive` (`ln(1 / S_0) / mu`) and `escape_alpha_theory`; `escape_alpha_sim`
    is None until a run adds the simulation's (`escapes`)."""
    if (reason := plateau_reason(setup, initial)) is not None:
        return {"reason": reason}
    state, args = lanes
    variants, seeds = np.shape(eps)[:2]
    fields = ("escape_alpha", "naive_alpha", "height", "rate", "excess")
    found = {name: np.full((variants, seeds), np.nan) for name in fields}
    reasons = [[None] * seeds for _ in range(variants)]
    for lane in range(variants * seeds):
        h, s = divmod(lane, seeds)
        one = jax.tree_util.tree_map(lambda x, lane=lane: x[lane], (state, args))
        prediction = predict_escape(ode, one[1], one[0], solver=solver)
        for name in fields:
            found[name][h, s] = getattr(prediction, name)
        reasons[h][s] = prediction.reason
    heights = _per_variant(found["height"])
    theory_escape = escapes(setup.grid.times, eps, heights)
    return {
        "height": heights.tolist(),
        "escape_rate": _per_variant(found["rate"]).tolist(),
        "escape_alpha_predicted": found["escape_alpha"].tolist(),
        "escape_alpha_naive": found["naive_alpha"].tolist(),
        "escape_alpha_theory": theory_escape.tolist(),
        "escape_alpha_sim": None,
        "predicted_over_theory": (found["escape_alpha"] / theory_escape - 1).tolist(),
        "excess": found["excess"].tolist(),
        "no_prediction": reasons,
        "method": METHOD,
    }


def plateau(setup: Setup, eps_sim=None) -> dict:
    """The plateau record of `setup` (what a run writes in summary.json's `plateau`): its
    order-parameter theory solved from the setup's own initial networks, and, with `eps_sim`
    (H, S, T) a simulation's eps_g on the setup's grid, the simulation's escapes."""
    from ._registry import theory_for

    theory, description = theory_for(setup)
    if theory is None:
        return {"reason": f"the theory is {description}"}
    summary = theory.solve(setup, theory.initial_state(setup, setup.networks())).summary
    record = summary.get("plateau", {"reason": f"the theory ({description}) has no plateau record"})
    return record if eps_sim is None else add_simulated_escapes(record, setup.grid.times, eps_sim)
