"""The laws of Richert, Worschech & Rosenow, arXiv 2104.14546 (P3) in the laws table.

**The soft mode.** With rescaled outputs (student `(1/K) sum g`, teacher `(1/M) sum g`), K = 2 student
units share the M = 1 teacher unit, and the difference of their weights costs error only at fourth
order: `eps_g ∝ Delta^2` with `Delta = Q_11 + Q_22 - 2 Q_12`. Gradient flow along a quartic
direction gives `Delta ∝ alpha^-1`, so `eps_g ∝ alpha^-2` (derived here, as in `reproduce._p3`'s
soft-mode figure; the paper's own exponent is not in our digest of it). Both approach their exponents slowly, so the
theory's sizes are windows of alpha, one decade each: the ODE from one initial state (N = 500,
sigma_J = 0.1, eta = 1), to alpha = 10^6. The simulation is the exact reduced chain (N = 500, the
same initial law), fitted on the last window it reaches.

**Exponential convergence (plain outputs).** With K = 3, M = 2 and plain outputs one unit dies and
the other two become the teacher's, a realizable fixed point at which eps_g is quadratic in the
weights' deviations: it falls as `exp(-kappa alpha)` with kappa twice the weights' slowest rate.
In the overlaps the linearised ODE has modes first order in the weights (eps_g has no linear term
along them: they contribute at twice their rate) and modes second order in them (a unit's norm
off the teacher's span: eps_g is linear along them), so kappa is the smaller of twice the slowest
rate and the slowest second-order mode (`convergence_rates`, per seed at its own fixed point).
Measured: the ODE's local rate over kappa in three windows of alpha (eight seeds, float64, to
alpha = 1500 where eps_g reaches 10^-15), and the exact reduced chain's (float64) in the middle one.
"""

import jax
import jax.numpy as jnp
import numpy as np

from .._activations import Erf
from ..theory import SCMArgs, SCMState, SoftCommitteeODE
from ._figure import Runs
from ._laws import LawRow, bootstrap_mean, law, simulated_exponent, window_exponent


PAPER = "P3 (arXiv 2104.14546)"
_WINDOWS = ((1e3, 1e4), (1e4, 1e5), (1e5, 1e6))
# eps_g reaches 2e-12 at alpha = 10^6: at the default tolerances (rtol 1e-10, atol 1e-13) the ODE
# resolves it only to about 10^-10 (eps_g / Delta^2, constant in the limit, drifts by 4x by 4 10^5,
# and the last window's exponent reads 1.08); at these it stays within 4 % to 10^6.
_TOLERANCES = ("theory.rtol=1e-12", "theory.atol=1e-16")


def _delta(q) -> np.ndarray:
    """`Q_11 + Q_22 - 2 Q_12` of overlaps (..., 2, 2)."""
    q = np.asarray(q, np.float64)
    return q[..., 0, 0] + q[..., 1, 1] - 2 * q[..., 0, 1]


def _label(window: tuple[float, float]) -> str:
    return f"alpha in [{window[0]:.0e}, {window[1]:.0e}]".replace("e+0", "e")


@law
def soft_mode(runs: Runs, quick: bool) -> list[LawRow]:
    theory = runs(
        "scm_overrealizable_rescaled",
        "law-theory",
        "training.seeds=0",
        "training.alpha_max=1000000",
        "training.points_per_decade=20",
        *_TOLERANCES,
    ).arrays
    last = 1 if quick else 2  # the simulation reaches alpha = 10^4 (quick) or 10^5
    sim = runs(
        "scm_overrealizable_rescaled",
        "law-sim",
        "training.method='reduced'",
        f"training.alpha_max={_WINDOWS[last][0]:g}",
        "training.points_per_decade=20",
        "training.seeds=" + ("2" if quick else "8"),
        "theory.enabled=false",
    ).arrays
    window = _WINDOWS[last - 1]
    rows = []
    for name, curves, sim_curves, expected in (
        ("eps_g ∝ alpha^-2", theory["eps_g_theory"][0], sim["eps_g_sim"], 2.0),
        ("Delta ∝ alpha^-1", _delta(theory["Q_theory"][0]), _delta(sim["Q_sim"]), 1.0),
    ):
        rows.append(
            LawRow(
                paper=PAPER,
                law=f"rescaled K = 2, M = 1: {name}",
                quantity=f"b in {name.split(' ∝')[0]} ∝ alpha^-b",
                expected=expected,
                source="soft mode, derived",
                sizes=tuple(_label(w) for w in _WINDOWS),
                theory=tuple(window_exponent(theory["alpha"], curves, w) for w in _WINDOWS),
                simulation=simulated_exponent(sim["alpha"], sim_curves, window, _label(window)),
                window="one decade of alpha per size; the ODE at rtol 1e-12, atol 1e-16",
                note=(
                    "the ODE (one initial state, N = 500, eta = 1) and the exact reduced chain (N = 500); the "
                    "local exponent creeps towards its limit over decades, as along a quartic direction it must"
                ),
            )
        )
    return rows


def realizable_limit(q, r, t) -> tuple[np.ndarray, np.ndarray]:
    """The realizable fixed point that the overlaps `q` (K, K), `r` (K, M) of a plain over-realizable
    run approach (teacher overlaps `t` (M, M)): the K - M units of smallest norm die (zero overlaps);
    each other unit becomes the teacher unit it overlaps most, its rows of `t`. ValueError when the
    survivors do not take distinct teacher units."""
    k, m = np.shape(r)
    alive = np.sort(np.argsort(np.diag(q))[k - m :])
    units = np.argmax(np.asarray(r)[alive], axis=1)
    if len(set(units.tolist())) != m:
        raise ValueError(f"the surviving units {alive.tolist()} share teacher units {units.tolist()}")
    fixed_r = np.zeros((k, m))
    fixed_r[alive] = np.asarray(t)[units]
    fixed_q = np.zeros((k, k))
    fixed_q[np.ix_(alive, alive)] = np.asarray(t)[np.ix_(units, units)]
    return fixed_q, fixed_r


def convergence_rates(ode: SoftCommitteeODE, args: SCMArgs, q, r) -> tuple[float, float]:
    """The rate at which eps_g -> 0 at the realizable fixed point `(q, r)`: eps_g is quadratic in the
    weights' deviations there, so it falls at twice the slowest rate of the weights. In the
    overlaps, a mode of the linearised ODE (eigenvalue lambda) is either first order in the
    weights (R, and Q across units: eps_g has no linear term along it, and it contributes
    exp(2 lambda alpha)) or second order (a unit's norm off the teacher's span, which R does not
    see: eps_g is linear along it, exp(lambda alpha)). Hence `min(2 min |lambda|, min |lambda|
    over the modes with a linear term)`; returned with the larger of the two, the rate of the
    next term."""
    k = np.shape(q)[0]
    upper = np.triu_indices(k)

    def unpack(x):
        full = jnp.zeros((k, k), x.dtype).at[upper].set(x[: upper[0].size])
        return SCMState(full + jnp.triu(full, 1).T, x[upper[0].size :].reshape(np.shape(r)), jnp.ones(k))

    def field(x):
        out = ode(0.0, unpack(x), args)
        return jnp.concatenate([out.q[upper], out.r.ravel()])

    x = jnp.concatenate([jnp.asarray(q)[upper], jnp.asarray(r).ravel()])
    values, vectors = np.linalg.eig(np.asarray(jax.jacfwd(field)(x)))
    slope = np.asarray(jax.grad(lambda y: ode.generalisation_error(unpack(y), args))(x))
    linear = np.abs(slope @ vectors) > 1e-8 * np.linalg.norm(slope) * np.linalg.norm(vectors, axis=0)
    rates = -values.real
    first, second = sorted((2 * rates.min(), rates[linear].min() if linear.any() else np.inf))
    return float(first), float(second)


_PLAIN_WINDOWS = ((400.0, 700.0), (700.0, 1000.0), (1000.0, 1500.0))


def _plain_label(window: tuple[float, float]) -> str:
    return f"alpha in [{window[0]:g}, {window[1]:g}]"


def local_rate(alpha, eps, window) -> float:
    """`-d ln eps_g / d alpha` fitted by least squares to the points in `window`."""
    inside = (alpha >= window[0]) & (alpha <= window[1]) & (eps > 0)
    return float(-np.polyfit(alpha[inside], np.log(eps[inside]), 1)[0])


@law
def plain_convergence(runs: Runs, quick: bool) -> list[LawRow]:
    seeds = 0 if quick else 8
    results = runs(
        "scm_overrealizable_plain",
        "law-rate",
        f"training.seeds={seeds}",
        "training.method='reduced'",
        "training.dtype='float64'",
        "training.alpha_max=1500",
        "training.points_per_decade=200",
        *_TOLERANCES,
    )
    a = results.arrays
    alpha = np.asarray(a["alpha"], np.float64)
    lanes = max(seeds, 1)
    q = np.reshape(a["Q_theory"], (lanes, alpha.size, 3, 3))[:, -1]
    r = np.reshape(a["R_theory"], (lanes, alpha.size, 3, 2))[:, -1]
    t = np.reshape(a["T_theory"], (lanes, 2, 2))
    eta = float(results.summary["learning_rates"][0])
    ode = SoftCommitteeODE(Erf(), 3, 2)
    predicted = np.empty((lanes, 2))
    for s in range(lanes):
        args = SCMArgs(jnp.asarray(eta), jnp.asarray(0.0), jnp.asarray(t[s]), jnp.ones(2), jnp.asarray(0.0))
        predicted[s] = convergence_rates(ode, args, *realizable_limit(q[s], r[s], t[s]))

    def ratio(curves, s, window):
        return local_rate(alpha, curves[s], window) / predicted[s, 0]

    theory = np.reshape(a["eps_g_theory"], (lanes, alpha.size))
    ratios = [np.mean([ratio(theory, s, w) for s in range(lanes)]) for w in _PLAIN_WINDOWS]
    measured, simulated = None, "no simulation in the quick version"
    if seeds:
        window = _PLAIN_WINDOWS[1]
        sim = np.reshape(a["eps_g_sim"], (lanes, alpha.size))
        measured = bootstrap_mean([ratio(sim, s, window) for s in range(lanes)], _plain_label(window))
        simulated = f"the exact reduced chain (N = 1000, float64, the same {seeds} seeds)"
    return [
        LawRow(
            paper=PAPER,
            law="plain K = 3, M = 2: eps_g ∝ exp(−kappa alpha), kappa = 2 × the weights' slowest rate",
            quantity="the local rate −d ln eps_g / d alpha over kappa",
            expected=1.0,
            source="exponential convergence; kappa derived from the linearisation",
            sizes=tuple(_plain_label(w) for w in _PLAIN_WINDOWS),
            theory=tuple(float(x) for x in ratios),
            simulation=measured,
            window="the least-squares rate in each window; each seed against its own kappa, then the mean",
            note=(
                f"the ODE from {lanes} {'seeds’' if lanes > 1 else 'seed’s'} initial states (N = 1000, eta = 0.5, the "
                f"teacher drawn; rtol 1e-12, atol 1e-16) and {simulated}. kappa = "
                f"{', '.join(f'{x:.5f}' for x in predicted[:, 0])} (kappa_2 = "
                f"{', '.join(f'{x:.5f}' for x in predicted[:, 1])}): per seed the smaller of the slowest mode that "
                "eps_g sees at first order (a unit's norm off the teacher's span) and twice the slowest mode "
                "overall, kappa_2 the larger, whose term fades only as exp(−(kappa_2 − kappa) alpha): the local rate "
                "approaches kappa from above, and eps_g reaches 10^-15 (the ODE's resolution) by alpha = 1500. A fit "
                "of A exp(−k alpha) + B exp(−kappa_2 alpha) is ill-conditioned with rates this close (it reads 1.25, "
                "1.02, 1.13 on one seed)"
            ),
        )
    ]
