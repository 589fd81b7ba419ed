"""The DMFT of kernel regression trained by full-batch gradient flow, weight decay or Langevin
dynamics on P samples (Kramp, Lindner & Helias, arXiv 2602.23039; the model and its exact
finite-size average are in `scalinglaws._full_batch`).

For N -> infinity the N modes decouple: mode i obeys a linear equation driven by the collective
data-side response and a shared effective noise. All responses are time-translation invariant; in
the Laplace domain they close in one complex number `u(s) = c R_V(s)` per `s`:

    u = sum_i c lambda_i / (s + kappa + c lambda_i P / (1 + u)),
    G_i(s) = 1 / (s + kappa + c lambda_i P / (1 + u)),   R_V(s) = sum_i lambda_i G_i(s) = u / c,

`G_i(t) = E[(e^{-A t})_ii]` the response of mode i. For an isotropic teacher (`s^2`), initial
weights `N(0, sigma_0^2)` and label noise `sigma_eps^2`, every average is a trace of a function of
`A` and follows from `R(tau) = R_V(tau)`, `I_1(x) = int_0^x R` and `K(x) = int_0^x (x - u) R(u) du`:

    2 eps_g(t) = s^2 [R(2t) + 2 kappa (I_1(2t) - I_1(t)) + kappa^2 (K(2t) - 2 K(t))] + sigma_0^2 R(2t)
               + c sigma_eps^2 [2 I_1(t) - I_1(2t) - kappa (K(2t) - 2 K(t))]        (bias, these three)
               + T I_1(2t)                                                           (variance).

The training error needs the unweighted trace `G_0(s) = sum_i G_i(s) = E tr (s + A)^{-1}`:
`Q_1 = tr (A - kappa) e^{-A tau}` has transform `N - (s + kappa) G_0`, `Q_4 = tr (A - kappa)^2
e^{-A tau}` has `(s + kappa)^2 G_0 - (s + 2 kappa) N + tr A` with `tr A = c P tr Lambda + kappa N`,
and with `Q_2, Q_3` the first and second integrals of `Q_1` and `Q_6` the second of `Q_4`,

    2 P E_train(t) = (1/c) {s^2 [Q_1(2t) + 2 kappa (Q_2(2t) - Q_2(t)) + kappa^2 (Q_3(2t) - 2 Q_3(t))]
                            + sigma_0^2 Q_1(2t) + T Q_2(2t)} + sigma_eps^2 [P - 2 Q_2(t) + Q_6(2t) - 2 Q_6(t)].

An anisotropic teacher (`wbar_i ~ N(0, s_i^2)`) changes only the teacher's part, which no longer
reduces to one-point functions; in the double Laplace domain it is

    C(s, s') = sum_i lambda_i s_i^2 mu_i(s) mu_i(s') / (1 - Phi(s, s')),   mu_i(s) = G_i(s) (1 + kappa / s),
    Phi(s, s') = c^2 P G_r(s) G_r(s') sum_i lambda_i^2 G_i(s) G_i(s'),     G_r = 1 / (1 + u),

inverted at `(t, t)` on the full contours (with `s_i^2 = s^2` it is the isotropic formula above);
a sample's training residual is `r = G_r * v`, so the teacher's part of `2 P E_train` is `P` times
the inverse of `G_r(s) G_r(s') C(s, s')`.
The mode-resolved mean discrepancy is `mu_i(t) = G_i(t) + kappa int_0^t G_i` (transform
`G_i(s) (1 + kappa / s)`). Every transform is inverted by the fixed Talbot rule on contours
shared by windows of times (`_laplace`): no time grid, any window, cost O(N) per node, 24 nodes per
factor 4 in time. The stationary limit (`kappa > 0`) is the effective
ridge `kappa_eff = kappa_s + kappa_eff sum_i lambda_i / (P lambda_i + kappa_eff)` (sum convention:
`kappa_s = kappa / c`, `T_s = T / c`), `gamma = sum_i P lambda_i^2 / (P lambda_i + kappa_eff)^2` and

    2 eps_g(inf) = [s^2 sum_i lambda_i kappa_eff^2 / (P lambda_i + kappa_eff)^2 + gamma sigma_eps^2] / (1 - gamma)
                 + T_s (kappa_eff / kappa_s - 1).
"""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._cost import UNIT_SECONDS, decades
from .._full_batch import FullBatchLangevin, KernelProblem
from .._jax_config import require_float64
from .._setup import KernelRegressionSpec, LinearTeacherSpec, Setup
from ._abstract import AbstractTheory, Trajectory
from ._laplace import talbot_windows


__all__ = ["DMFTTheory", "dmft_curves", "dmft_mode_discrepancy", "dmft_stationary", "early_stopping", "response_u"]

_CHUNK = 2**21  # node x mode entries per chunk of the self-consistency


def _complex_modes(lam):
    """The eigenvalues as a complex row (1, N), to broadcast against a column of nodes."""
    return jnp.asarray(lam).astype(jnp.complex128)[None, :]


def _responses(s, u, lam, problem):
    """The modes' responses `G_i(s) = 1 / (s + kappa + c lambda_i P / (1 + u(s)))` (B, N) at a block
    of nodes `s` (B,) with their `u` (B,)."""
    c, p, kappa = problem.coefficient, problem.samples, problem.weight_decay
    return 1 / (s[:, None] + kappa + (c * p) * _complex_modes(lam) / (1 + u[:, None]))


def _sums(u, s, lam, problem):
    """`(F, F', G_0)` at `u` for a block of nodes `s` (B,): the residual of the self-consistency,
    its derivative and the unweighted trace `sum_i G_i(s)`, with one complex reciprocal per mode:
    `F = u - sum_i c lambda_i G_i`, `F' = 1 - P/(1+u)^2 sum_i (c lambda_i G_i)^2`."""
    inverse = _responses(s, u, lam, problem)
    weighted = problem.coefficient * _complex_modes(lam) * inverse
    f = u - jnp.sum(weighted, axis=-1)
    df = 1 - problem.samples / (1 + u) ** 2 * jnp.sum(weighted**2, axis=-1)
    return f, df, jnp.sum(inverse, axis=-1)


def _newton(s, lam, problem, iterations: int = 200):
    """Damped complex Newton from u = 0 (steps capped at (1 + |u|) / 2), to machine precision."""

    def body(state):
        u, _, i = state
        f, df, _ = _sums(u, s, lam, problem)
        step = f / df
        cap = 0.5 * (1 + jnp.abs(u))
        shrink = jnp.minimum(1.0, cap / jnp.maximum(jnp.abs(step), 1e-300))
        step = step * shrink.astype(step.dtype)
        return u - step, jnp.max(jnp.abs(step) / (1 + jnp.abs(u))), i + 1

    def running(state):
        return (state[1] > 1e-15) & (state[2] < iterations)

    u0 = jnp.zeros_like(s)
    u, _, _ = jax.lax.while_loop(running, body, (u0, jnp.asarray(jnp.inf), 0))
    return u


def _solve(s, problem: KernelProblem):
    """`(u, G_0)` at complex `s` (any shape): `u(s) = c R_V(s)` solving the self-consistency (module
    docstring) and `G_0(s) = sum_i G_i(s)`, in chunks of nodes. Differentiable in the problem's
    numbers: one Newton step from the stopped solution carries the implicit-function derivative."""
    lam = jnp.asarray(problem.eigenvalues, jnp.float64)
    flat = jnp.asarray(s, jnp.complex128).reshape(-1)
    chunk = max(1, _CHUNK // lam.shape[0])
    pad = -flat.shape[0] % chunk
    blocks = jnp.concatenate([flat, jnp.ones(pad, flat.dtype)]).reshape(-1, chunk)

    def one(block):
        u = jax.lax.stop_gradient(_newton(block, jax.lax.stop_gradient(lam), jax.lax.stop_gradient(problem)))
        f, df, g0 = _sums(u, block, lam, problem)
        return u - f / df, g0

    u, g0 = jax.lax.map(one, blocks)
    shape = jnp.shape(s)
    return u.reshape(-1)[: flat.shape[0]].reshape(shape), g0.reshape(-1)[: flat.shape[0]].reshape(shape)


def response_u(s, problem: KernelProblem):
    """`u(s) = c R_V(s)` at complex `s` (any shape) solving the self-consistency (module docstring),
    differentiable in the problem's numbers."""
    return _solve(s, problem)[0]


def _invert(values, weights, window):
    """`f(t_j) = Re sum_k weights[j, k] values[window[j], k]` (`_laplace.talbot_windows`)."""
    return jnp.real(jnp.sum(weights * values[window], axis=1))


@eqx.filter_jit
def _curves(problem: KernelProblem, s, weights, window, count: int) -> dict:
    u, g0 = _solve(s, problem)
    lam = jnp.asarray(problem.eigenvalues, jnp.float64)
    c, p, kappa, temp = problem.coefficient, problem.samples, problem.weight_decay, problem.temperature
    n = lam.shape[0]
    r_hat = u / c
    q1_hat = n - (s + kappa) * g0
    trace_a = (c * p * jnp.sum(lam) + kappa * n).astype(jnp.complex128)
    q4_hat = (s + kappa) ** 2 * g0 - (s + 2 * kappa) * n + trace_a

    def invert(values):
        both = _invert(values, weights, window)
        return both[:count], both[count:]  # at t and at 2t

    (_, r2), (i1, i2), (k1, k2) = invert(r_hat), invert(r_hat / s), invert(r_hat / s**2)
    (_, q12), (q21, q22), (q31, q32), (q61, q62) = (
        invert(q1_hat),
        invert(q1_hat / s),
        invert(q1_hat / s**2),
        invert(q4_hat / s**2),
    )
    s2 = problem.variance if jnp.ndim(problem.variance) == 0 else 0.0  # anisotropic: `_anisotropic_teacher`
    teacher = s2 * (r2 + 2 * kappa * (i2 - i1) + kappa**2 * (k2 - 2 * k1))
    label = c * problem.noise_variance * (2 * i1 - i2 - kappa * (k2 - 2 * k1))
    bias = 0.5 * (teacher + problem.init_variance * r2 + label)
    variance = 0.5 * temp * i2
    fitted = s2 * (q12 + 2 * kappa * (q22 - q21) + kappa**2 * (q32 - 2 * q31))
    fitted = (fitted + problem.init_variance * q12 + temp * q22) / c
    residual = p - 2 * q21 + q62 - 2 * q61
    return {
        "eps_g": bias + variance,
        "bias": bias,
        "variance": variance,
        "train_error": (fitted + problem.noise_variance * residual) / (2 * p),
    }


@eqx.filter_jit
def _anisotropic_teacher(problem: KernelProblem, s, weights, window):
    """The teacher's parts of `2 eps_g(t)` and of `2 E_train(t)` (T,) each for variances `s_i^2`
    (module docstring), by the double Laplace inversion at `(t, t)` on the full contours (the nodes
    and their conjugates); a sample's residual is `G_r * v`, so the latter is `G_r(s) G_r(s') C(s, s')`."""
    lam = jnp.asarray(problem.eigenvalues, jnp.float64)
    c, p, kappa = problem.coefficient, problem.samples, problem.weight_decay
    source = (lam * jnp.asarray(problem.variance, jnp.float64)).astype(jnp.complex128)[None, :]
    u = response_u(s, problem)
    half = weights[:, 1:] / 2
    full_weights = jnp.concatenate([weights[:, :1], half, jnp.conj(half)], axis=1)  # (T, 2M - 1)

    def one(out, row):
        index, s_row, u_row = row
        gr = 1 / (1 + u_row)
        g = _responses(s_row, u_row, lam, problem)
        mu = g * (1 + kappa / s_row[:, None])
        g, mu, gr = (jnp.concatenate([x, jnp.conj(x[1:])]) for x in (g, mu, gr))
        phi = c**2 * p * gr[:, None] * gr[None, :] * ((_complex_modes(lam) ** 2 * g) @ g.T)
        transform = ((source * mu) @ mu.T) / (1 - phi)
        transforms = jnp.stack([transform, gr[:, None] * gr[None, :] * transform])
        mine = jnp.where((window == index)[:, None], full_weights, 0.0)
        return out + jnp.real(jnp.einsum("tk,ckl,tl->ct", mine, transforms, mine)), None

    out, _ = jax.lax.scan(one, jnp.zeros((2, weights.shape[0]), jnp.float64), (jnp.arange(s.shape[0]), s, u))
    return out[0], out[1]


def dmft_curves(problem: KernelProblem, times, nodes: int = 24) -> dict:
    """`eps_g`, `bias`, `variance`, `train_error` (T,) of the DMFT at concrete `times` (all > 0).
    With an anisotropic teacher (`problem.variance` per mode) the teacher's parts come from the
    double Laplace inversion."""
    require_float64("the DMFT")
    t = np.asarray(times, np.float64)
    s, weights, window = talbot_windows(np.concatenate([t, 2 * t]), nodes)
    curves = _curves(problem, jnp.asarray(s), jnp.asarray(weights), jnp.asarray(window), t.size)
    if jnp.ndim(problem.variance) == 0:
        return curves
    s, weights, window = talbot_windows(t, nodes)
    teacher, fitted = _anisotropic_teacher(problem, jnp.asarray(s), jnp.asarray(weights), jnp.asarray(window))
    return {
        "eps_g": curves["eps_g"] + 0.5 * teacher,
        "bias": curves["bias"] + 0.5 * teacher,
        "variance": curves["variance"],
        "train_error": curves["train_error"] + 0.5 * fitted,
    }


@eqx.filter_jit
def _modes(problem: KernelProblem, s, weights, window):
    lam = jnp.asarray(problem.eigenvalues, jnp.float64)
    kappa = problem.weight_decay
    u = response_u(s, problem)

    def one(out, row):  # one window: its nodes' G_i (1 + kappa / s), onto the times it holds
        index, s_row, u_row = row
        g = _responses(s_row, u_row, lam, problem)
        mine = jnp.where((window == index)[:, None], weights, 0.0)
        return out + jnp.real(mine @ (g * (1 + kappa / s_row[:, None]))), None

    zero = jnp.zeros((weights.shape[0], lam.shape[0]), jnp.float64)
    out, _ = jax.lax.scan(one, zero, (jnp.arange(s.shape[0]), s, u))
    return out


def dmft_mode_discrepancy(problem: KernelProblem, times, nodes: int = 24):
    """`mu_i(t) = G_i(t) + kappa int_0^t G_i` (T, N) at concrete `times` (all > 0)."""
    require_float64("the DMFT")
    s, weights, window = talbot_windows(times, nodes)
    return _modes(problem, jnp.asarray(s), jnp.asarray(weights), jnp.asarray(window))


@eqx.filter_jit
def dmft_stationary(problem: KernelProblem) -> dict:
    """The stationary (Bayesian posterior) limit for `kappa > 0`: `kappa_eff`, `gamma`, `bias`,
    `variance` and `eps_g` (module docstring), in the problem's own convention."""
    lam = jnp.asarray(problem.eigenvalues, jnp.float64)
    c, p = problem.coefficient, problem.samples
    kappa_s, temp_s = problem.weight_decay / c, problem.temperature / c
    summed = KernelProblem(lam, p, 1.0, kappa_s, temp_s)
    u0 = jnp.real(response_u(jnp.zeros(1, jnp.complex128), summed)[0])
    k_eff = kappa_s * (1 + u0)
    gamma = jnp.sum(p * lam**2 / (p * lam + k_eff) ** 2)
    teacher = jnp.sum(problem.variance * lam * k_eff**2 / (p * lam + k_eff) ** 2)
    bias = 0.5 * (teacher + gamma * problem.noise_variance) / (1 - gamma)
    variance = 0.5 * temp_s * (k_eff / kappa_s - 1)
    return {"kappa_eff": k_eff, "gamma": gamma, "bias": bias, "variance": variance, "eps_g": bias + variance}


def early_stopping(problem: KernelProblem, times: np.ndarray, eps: np.ndarray, nodes: int = 24) -> dict:
    """The minimum of eps_g over the grid, refined twice on 64 log-spaced times between its
    neighbours (to about 10^-4 of the grid's spacing in log t): `{"time", "error", "interior"}`;
    `interior` is False (the time that of the grid's end) when the minimum lies at an end, or when
    eps_g does not rise after it by more than a relative 10^-6 (a curve settling on its plateau)."""
    positive = times > 0
    t, e = times[positive], eps[positive]
    i = int(np.argmin(e))
    if i in (0, len(t) - 1) or e[i] > e[-1] * (1 - 1e-6):  # a flat tail's round-off is not a minimum
        i = len(t) - 1 if i > 0 else 0
        return {"time": float(t[i]), "error": float(e[i]), "interior": False}
    low, high = t[i - 1], t[i + 1]
    for _ in range(2):
        fine = np.geomspace(low, high, 64)
        values = np.asarray(dmft_curves(problem, fine, nodes)["eps_g"])
        j = int(np.argmin(values))
        low, high = fine[max(j - 1, 0)], fine[min(j + 1, 63)]
    return {"time": float(fine[j]), "error": float(values[j]), "interior": True}


class DMFTTheory(AbstractTheory):
    """Result names: `eps_g_theory`, `bias_theory`, `variance_theory`, `train_error_theory` (H, T),
    `mode_discrepancy_theory` (H, T, N); the summary holds the early-stopping time and error and,
    with weight decay, the stationary limit. `nodes`: the Talbot rule's M per window of times."""

    description: ClassVar[str] = (
        "DMFT of kernel regression (Kramp, Lindner & Helias, arXiv 2602.23039): Laplace-domain "
        "self-consistency, fixed-Talbot inversion"
    )
    students: ClassVar[tuple[type, ...]] = (KernelRegressionSpec,)
    trace_seconds: ClassVar[float] = 2.0
    nodes: int = 24

    def why_not(self, setup: Setup) -> str | None:
        if not isinstance(setup.learner, FullBatchLangevin):
            return "the DMFT describes full-batch training"
        if not isinstance(setup.teacher, LinearTeacherSpec):
            return "the DMFT needs the linear teacher of kernel regression"
        return None

    def initial_state(self, setup: Setup, networks: list) -> KernelProblem:
        """The DMFT averages over data, teacher and initial weights: its state is the problem."""
        return setup.learner.problem(setup)

    def estimate_seconds(self, setup: Setup) -> float:
        """O(N) per Talbot node: `nodes` per factor 4 in time for the curves, each node's Newton
        solve of `u(s)` (about 30 iterations), and the (T, N) mode curves; an anisotropic teacher's
        double inversion has `nodes^2` node pairs per recording time."""
        n, times = setup.input_dim, np.asarray(setup.grid.times, np.float64)
        windows = decades(times) / np.log10(4.0) + 1
        units = windows * self.nodes * 30 * n + len(times) * self.nodes * n
        if np.ndim(setup.teacher.variances(n)) != 0:
            units += len(times) * self.nodes**2 * n
        return UNIT_SECONDS * units

    def solve(self, setup: Setup, state0: KernelProblem) -> Trajectory:
        times = np.asarray(setup.grid.times, np.float64)
        positive = times > 0
        later = times[positive]
        curves = {name: np.asarray(x) for name, x in dmft_curves(state0, later, self.nodes).items()}
        modes = np.ones((times.size, setup.input_dim))
        modes[positive] = np.asarray(dmft_mode_discrepancy(state0, later, self.nodes))
        lam = np.asarray(state0.eigenvalues)
        initial = np.sum((np.asarray(state0.variance) + state0.init_variance) * lam)
        at_zero = {  # w = w(0): the initial error, and the initial training error
            "eps_g": 0.5 * initial,
            "bias": 0.5 * initial,
            "variance": 0.0,
            "train_error": 0.5 * (initial + state0.noise_variance),
        }
        per_variant = {}
        for name, curve in curves.items():
            full = np.empty(times.size)
            full[positive], full[~positive] = curve, at_zero[name]
            per_variant[f"{name}_theory"] = full[None]
        per_variant["mode_discrepancy_theory"] = modes[None]
        stop = early_stopping(state0, times, per_variant["eps_g_theory"][0], self.nodes)
        summary = {
            "early_stopping_time_theory": stop["time"],
            "early_stopping_error_theory": stop["error"],
            "early_stopping_interior_theory": stop["interior"],
        }
        if state0.weight_decay > 0:
            stationary = {name: float(x) for name, x in dmft_stationary(state0).items()}
            summary.update({f"{name}_stationary_theory": value for name, value in stationary.items()})
        diverged_at = np.full((1, max(setup.seeds, 1)), np.nan)
        return Trajectory(times, per_variant, {}, diverged_at, summary)
