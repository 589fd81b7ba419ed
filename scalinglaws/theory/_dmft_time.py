"""The DMFT of kernel regression in the time domain: the second, independent route to the curves
of `_dmft` (Kramp, Lindner & Helias, arXiv 2602.23039), on a uniform grid `t_m = m h`, without the
Laplace-domain self-consistency or any contour.

Responses, by a Volterra step. Mode i feels the collective data-side response `G_r = delta + g`:

    dG_i/dt = -(kappa + b_i) G_i - b_i (g * G_i),   G_i(0) = 1,   b_i = c lambda_i P,
    g = -c R - c (R * g),                            R = sum_i lambda_i G_i,

(`*` the causal convolution `int_0^t`). The stiff local rate `kappa + b_i` is integrated exactly
(exponential integrator, the memory term linear over a step) and the convolutions by the trapezoid
rule; each step is implicit only through the new `g`, a scalar solved in closed form. Cost
O(N n^2) for n steps, error O(h^2).

Correlations, by fixed-point iteration of the two-time closure (`v = w - wbar`, `r` a sample's
training residual):

    C_V(t, t') = B(t, t') + c^2 P sum_i lambda_i^2 (G_i * C_r * G_i^T)(t, t'),
    C_r = G_r * (C_V + sigma_eps^2) * G_r^T,
    B(t, t') = sum_i lambda_i [s_i^2 mu_i(t) mu_i(t') + sigma_0^2 G_i(t) G_i(t')
                               + 2 T int_0^{min(t, t')} G_i(t - u) G_i(t' - u) du],

with `mu_i = G_i + kappa int_0^t G_i`. The modes enter the iteration only through the kernel
`K(a, b) = sum_i lambda_i^2 G_i(a) G_i(b)`, so one sweep is a two-dimensional causal convolution
(trapezoid weights, by FFT) whatever N: O(n^2 log n). The map is causal (Volterra), so the
iteration converges on any finite window. Then `eps_g = C_V(t, t) / 2` (thermal source alone: the
`variance`; the rest: the `bias`) and the training error per sample is `C_r(t, t) / 2`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._full_batch import KernelProblem
from .._jax_config import require_float64


__all__ = ["dmft_time_domain"]


def _exponential_weights(z):
    """`(phi_a, phi_b)`: `int_0^h e^{-a (h - tau)} f(tau) dtau = h (phi_a f(0) + phi_b f(h))` for `f`
    linear on the step, `z = a h`; series below 10^-3 (the closed forms cancel)."""
    small = z < 1e-3
    zs = jnp.where(small, 1.0, z)
    first = jnp.where(small, 1 - z / 2 + z**2 / 6 - z**3 / 24, -jnp.expm1(-zs) / zs)  # (1 - e^-z) / z
    phi_a = jnp.where(small, 0.5 - z / 3 + z**2 / 8 - z**3 / 30, (-jnp.expm1(-zs) - zs * jnp.exp(-zs)) / zs**2)
    return phi_a, first - phi_a


def _time_responses(problem: KernelProblem, h: float, n: int):
    """`G` (n + 1, N) and `g` (n + 1,) on the grid `m h`, `m = 0..n` (module docstring)."""
    lam = jnp.asarray(problem.eigenvalues, jnp.float64)
    c, kappa = problem.coefficient, problem.weight_decay
    b = c * problem.samples * lam
    z = (kappa + b) * h
    decay = jnp.exp(-z)
    phi_a, phi_b = _exponential_weights(z)
    beta = b * h * phi_b
    g0, r0 = -c * jnp.sum(lam), jnp.sum(lam)
    k = jnp.arange(n + 1)
    history = (
        jnp.zeros((n + 1, lam.shape[0])).at[0].set(1.0),
        jnp.zeros(n + 1).at[0].set(g0),
        jnp.zeros(n + 1).at[0].set(r0),
    )

    def step(carry, m):
        (big_g, g, r), memory = carry  # memory: H_i = (g * G_i) at the previous step
        inside = (k >= 1) & (k <= m - 1)
        lag = jnp.clip(m - k, 0, n)
        s = jnp.where(inside, g[lag], 0.0) @ big_g  # sum_{k=1}^{m-1} g_{m-k} G_k   (N,)
        tail = jnp.where(inside, r[lag], 0.0) @ g  # sum_{k=1}^{m-1} R_{m-k} g_k
        # G_m = p + q g_m, from G_m = e^{-z} G_{m-1} - b h (phi_a H_{m-1} + phi_b H_m),
        # H_m = h (g_m / 2 + s + g_0 G_m / 2).
        denominator = 1 + 0.5 * beta * h * g0
        p = (decay * big_g[m - 1] - b * h * phi_a * memory - beta * h * s) / denominator
        q = -0.5 * beta * h / denominator
        rp, rq = lam @ p, lam @ q
        # g_m = -c R_m - c h (R_m g_0 / 2 + tail + R_0 g_m / 2), with R_m = rp + rq g_m.
        gm = -c * (rp + 0.5 * h * rp * g0 + h * tail) / (1 + c * rq + 0.5 * c * h * (rq * g0 + r0))
        gm_modes = p + q * gm
        new = (big_g.at[m].set(gm_modes), g.at[m].set(gm), r.at[m].set(lam @ gm_modes))
        return (new, h * (0.5 * gm + s + 0.5 * g0 * gm_modes)), None

    (history, _), _ = jax.lax.scan(step, (history, jnp.zeros(lam.shape[0])), jnp.arange(1, n + 1))
    return history[0], history[1]


def _cumulative(f, h, axis: int = 0):
    """`int_0^{t_m} f` by the trapezoid rule along `axis`."""
    total = jnp.cumsum(f, axis=axis) - 0.5 * f - 0.5 * jnp.take(f, jnp.array([0]), axis=axis)
    return h * total


def _full_convolution(kernel, x, axes: tuple[int, ...]):
    """`sum_{k <= m} kernel[m - k] x[k]` over `axes` (both arrays of the grid's length there), by FFT."""
    size = [2 * x.shape[a] for a in axes]
    out = jnp.fft.irfftn(jnp.fft.rfftn(kernel, size, axes) * jnp.fft.rfftn(x, size, axes), size, axes)
    return out[tuple(slice(0, x.shape[a]) if a in axes else slice(None) for a in range(x.ndim))]


def _along(kernel, x, h, axis: int):
    """`int_0^{t_m} kernel(t_m - s) x(s) ds` along `axis` of `x` (n + 1, n + 1), trapezoid weights."""
    shape = [1, 1]
    shape[axis] = -1
    k = kernel.reshape(shape)
    first = jnp.take(x, jnp.array([0]), axis=axis)
    return h * (_full_convolution(k, x, (axis,)) - 0.5 * k * first - 0.5 * kernel[0] * x)


def _two_dimensional(kernel, x, h):
    """`int_0^t int_0^t' K(t - s, t' - s') x(s, s') ds ds'` with the trapezoid rule on both axes:
    weights `h (e_k - [k = m] / 2)`, `e_k = 1 - [k = 0] / 2`, expanded into one 2-D and two 1-D
    convolutions and the corner."""
    e = jnp.ones(x.shape[0]).at[0].set(0.5)
    both = _full_convolution(kernel, e[:, None] * x * e[None, :], (0, 1))
    rows = _full_convolution(kernel[0][None, :], x * e[None, :], (1,))
    columns = _full_convolution(kernel[:, 0][:, None], e[:, None] * x, (0,))
    return h**2 * (both - 0.5 * rows - 0.5 * columns + 0.25 * kernel[0, 0] * x)


def _thermal_source(joint, h):
    """`int_0^{min(t, t')} J(t - u, t' - u) du` from `J(a, b)` (n + 1, n + 1), by the trapezoid rule
    along each diagonal: with `d = |m - m'|`, `int_0^{t_min} J(v, v + d h) dv`."""
    n = joint.shape[0]
    j, d = jnp.arange(n)[None, :], jnp.arange(n)[:, None]
    diagonals = jnp.where(j + d < n, joint[j, jnp.clip(j + d, 0, n - 1)], 0.0)  # (d, j)
    integrals = _cumulative(diagonals, h, axis=1)
    m, m2 = jnp.arange(n)[:, None], jnp.arange(n)[None, :]
    return integrals[jnp.abs(m - m2), jnp.minimum(m, m2)]


@eqx.filter_jit
def _solve(problem: KernelProblem, h: float, n: int, sweeps: int, tolerance: float):
    lam = jnp.asarray(problem.eigenvalues, jnp.float64)
    c, p = problem.coefficient, problem.samples
    big_g, g = _time_responses(problem, h, n)
    mu = big_g + problem.weight_decay * _cumulative(big_g, h)
    variance = jnp.broadcast_to(jnp.asarray(problem.variance, jnp.float64), lam.shape)
    joint = (big_g * lam[None, :]) @ big_g.T
    kernel = (c**2 * p) * ((big_g * lam[None, :] ** 2) @ big_g.T)
    sources = jnp.stack(
        [
            (mu * (lam * variance)[None, :]) @ mu.T + problem.init_variance * joint,  # the bias's sources
            2 * problem.temperature * _thermal_source(joint, h),  # the variance's
        ]
    )
    noise = jnp.array([problem.noise_variance, 0.0])[:, None, None]

    def residual(c_v):
        x = c_v + noise
        x = x + jax.vmap(lambda y: _along(g, y, h, 1))(x)
        return x + jax.vmap(lambda y: _along(g, y, h, 0))(x)

    def sweep(state):
        c_v, _, i = state
        new = sources + jax.vmap(lambda y: _two_dimensional(kernel, y, h))(residual(c_v))
        change = jnp.max(jnp.abs(new - c_v)) / jnp.maximum(jnp.max(jnp.abs(new)), 1e-300)
        return new, change, i + 1

    def running(state):
        return (state[1] > tolerance) & (state[2] < sweeps)

    c_v, change, count = jax.lax.while_loop(running, sweep, (sources, jnp.asarray(jnp.inf), 0))
    return big_g, mu, c_v, residual(c_v), change, count


def dmft_time_domain(
    problem: KernelProblem, time_max: float, steps: int, sweeps: int = 2000, tolerance: float = 1e-12
) -> dict:
    """The DMFT on the grid `t_m = m time_max / steps`, `m = 0..steps` (module docstring):
    `time` (n + 1,), `eps_g`, `bias`, `variance`, `train_error` (n + 1,), the responses
    `response` G_i(t) (n + 1, N), `mode_discrepancy` mu_i(t) (n + 1, N), the two-time
    `correlation` C_V(t, t') (n + 1, n + 1), and the fixed point's `sweeps` and last relative
    `change`. Raises ValueError when the iteration has not converged to `tolerance`."""
    require_float64("the time-domain DMFT")
    if not (time_max > 0 and steps >= 1):
        raise ValueError("the time-domain DMFT needs time_max > 0 and steps >= 1")
    h = float(time_max) / int(steps)
    big_g, mu, c_v, c_r, change, count = _solve(problem, h, int(steps), int(sweeps), float(tolerance))
    if not float(change) <= tolerance:
        raise ValueError(
            f"the two-time fixed point did not converge in {int(count)} sweeps (change {float(change):.2e})"
        )
    bias, variance = (0.5 * jnp.diagonal(x) for x in c_v)
    return {
        "time": np.arange(int(steps) + 1) * h,
        "eps_g": np.asarray(bias + variance),
        "bias": np.asarray(bias),
        "variance": np.asarray(variance),
        "train_error": np.asarray(0.5 * jnp.diagonal(c_r[0] + c_r[1])),
        "response": np.asarray(big_g),
        "mode_discrepancy": np.asarray(mu),
        "correlation": np.asarray(c_v[0] + c_v[1]),
        "sweeps": int(count),
        "change": float(change),
    }
