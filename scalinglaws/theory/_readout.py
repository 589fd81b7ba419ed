"""Learning dynamics of the random-feature readout under online SGD, with the SGD noise (derived here).

**Model** (Worschech & Rosenow, arXiv:2303.14083).
The student `sigma(x) = c_K sum_i a_i phi_i(x)`, `phi_i = g(w_i . x / sqrt(N))`, has frozen features
and a readout trained by online SGD on `y = zeta(x) + sigma_n xi`:

    a <- a + (eta / N) c_K delta phi,        delta = y - sigma(x)

With the effective readout `u = c_K a` the step is `u <- u + kappa delta phi`, `kappa = eta c_K^2 / N`,
and `eps_g(u) = 1/2 [u^T C u - 2 u^T b + tau]` with `C = E[phi phi^T]`, `b = E[zeta phi]`,
`tau = E[zeta^2]` (`feature_statistics`: closed-form `I2` of the actual features and teacher).

**Mean and second moment.** The input of a step is fresh, so averaging it out given `u` is exact:

    E[u'] = u + kappa (b - C u)
    E[u' u'^T] = u u^T + kappa [u (b - C u)^T + (b - C u) u^T] + kappa^2 E[delta^2 phi phi^T].

In the eigenbasis `C = V diag(lambda) V^T` (C is fixed: the features are frozen), with
`b~ = V^T b`, the mean `m_j = E[(V^T u)_j]` and the diagonal second moments `D_j = E[(V^T u)_j^2]`,
the error needs only `(m, D)`: `E[eps_g] = 1/2 [sum_j lambda_j D_j - 2 b~ . m + tau]`.

**The O(eta^2) term, closed by Gaussian moments.** `E[delta^2 psi_j^2]`, `psi_j = (V^T phi)_j`, is a
four-point moment with no closed form for non-linear `g`. Each `psi_j` is a sum of `K` features and
`delta` a sum of many terms, so `(delta, psi_j)` given `u` are jointly Gaussian to leading order in
`1/N` (exactly so for a linear activation); for zero-mean Gaussian variables
`E[X^2 Y^2] = E[X^2] E[Y^2] + 2 E[X Y]^2`, hence, averaged over `u`,

    E[delta^2 psi_j^2] = (2 eps_g + sigma_n^2) lambda_j + 2 E[(b~_j - lambda_j (V^T u)_j)^2]
                       = (2 eps_g + sigma_n^2) lambda_j + 2 (b~_j^2 - 2 lambda_j b~_j m_j + lambda_j^2 D_j)

(`eps_g` without the label noise). It needs zero-mean features and labels: an odd activation.
With `N` steps per unit of `alpha = steps / N`:

    dm_j/dalpha = eta c_K^2 (b~_j - lambda_j m_j)
    dD_j/dalpha = 2 eta c_K^2 (b~_j m_j - lambda_j D_j) + (eta^2 c_K^4 / N) E[delta^2 psi_j^2]

a linear system of `2K` equations coupled only through `eps_g` (`ReadoutODE`). The noise term is
`O(eta^2 K / N) = O(eta^2 gamma)` in `eps_g`: it is what keeps the error above the `eta -> 0`
asymptote `1/2 [tau - b^T C^-1 b]` at a finite learning rate.

**Stationary error.** Setting the derivatives to zero, `m_j = b~_j / lambda_j` and
`D_j = m_j^2 + e_j` with `e_j = (eta c_K^2 / 2N) (2 eps + sigma_n^2) / (1 - eta c_K^2 lambda_j / N)`,
so, with `eps_* = 1/2 [tau - b^T C^-1 b]` and

    s = (eta c_K^2 / 2N) sum_j lambda_j / (1 - eta c_K^2 lambda_j / N)     (about eta c_K^2 gamma E[g^2] / 2),

    eps_inf(eta) = (eps_* + s sigma_n^2 / 2) / (1 - s)                     (`rf_stationary_error`),

finite for `s < 1` only: SGD on the readout is stable for `eta < eta_c`, `s(eta_c) = 1`
(`rf_critical_learning_rate`), roughly `2 / (c_K^2 gamma E[g^2])`. As `eta -> 0`, `eps_inf -> eps_*`.
"""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._driver import ODESolution, solve_ode
from ._rosenbrock import Rodas4


__all__ = [
    "ReadoutArgs",
    "ReadoutODE",
    "ReadoutState",
    "readout_initial_state",
    "rf_critical_learning_rate",
    "rf_stationary_error",
    "solve_readout",
]


class ReadoutState(eqx.Module):
    """`mean` (K,): `E[V^T u]`; `second` (K,): `E[(V^T u)^2]`, in the eigenbasis of `C`."""

    mean: Float[Array, " K"]
    second: Float[Array, " K"]


class ReadoutArgs(eqx.Module):
    """The fixed quantities of `ReadoutODE`: the eigenvalues `lam` (K,) of `C`, `b~ = V^T b` (K,),
    `tau`, the learning rate `eta`, the output scale `c_K`, the input dimension `N` (float) and the
    label-noise standard deviation."""

    lam: Float[Array, " K"]
    b: Float[Array, " K"]
    tau: Float[Array, ""]
    learning_rate: Float[Array, ""]
    scale: Float[Array, ""]
    input_dim: Float[Array, ""]
    noise_std: Float[Array, ""]


def _rates(args: ReadoutArgs) -> tuple[Array, Array]:
    """`(eta c_K^2, eta^2 c_K^4 / N)`."""
    drift = args.learning_rate * jnp.square(args.scale)
    return drift, jnp.square(drift) / args.input_dim


class ReadoutODE(eqx.Module):
    """The readout ODE of the module docstring, for `solve_ode` (with `Rodas4(ode.factorise)`)."""

    def error(self, state: ReadoutState, args: ReadoutArgs) -> Float[Array, ""]:
        """`E[eps_g]` without label noise: `1/2 [lam . D - 2 b~ . m + tau]`."""
        return 0.5 * (args.lam @ state.second - 2 * args.b @ state.mean + args.tau)

    def __call__(self, alpha, state: ReadoutState, args: ReadoutArgs) -> ReadoutState:
        drift, noise = _rates(args)
        lam, b, m, d = args.lam, args.b, state.mean, state.second
        source = (2 * self.error(state, args) + jnp.square(args.noise_std)) * lam
        source = source + 2 * (jnp.square(b) - 2 * lam * b * m + jnp.square(lam) * d)
        return ReadoutState(drift * (b - lam * m), 2 * drift * (b * m - lam * d) + noise * source)

    def factorise(self, alpha, state: ReadoutState, args: ReadoutArgs, c) -> Callable[[ReadoutState], ReadoutState]:
        """`r -> (I - c J)^-1 r` in `O(K)`: the Jacobian is lower block-triangular with diagonal
        blocks, plus the rank-one coupling through `eps_g` (Sherman-Morrison)."""
        drift, noise = _rates(args)
        lam, b = args.lam, args.b
        mm = -drift * lam  # d(dm)/dm
        dm = 2 * drift * b - 4 * noise * lam * b  # d(dD)/dm, without the eps_g coupling
        dd = -2 * drift * lam + 2 * noise * jnp.square(lam)  # d(dD)/dD, likewise
        u = 2 * noise * lam  # d(dD)/d eps_g; d eps_g / d(m, D) = (-b, lam / 2)
        inv_m, inv_d = 1 / (1 - c * mm), 1 / (1 - c * dd)
        w_d = inv_d * u  # (I - c J0)^-1 (0, u)
        denominator = 1 - c * (0.5 * lam @ w_d)

        def solve(r: ReadoutState) -> ReadoutState:
            ym = inv_m * r.mean
            yd = inv_d * (r.second + c * dm * ym)
            coupling = (-b @ ym + 0.5 * lam @ yd) / denominator
            return ReadoutState(ym, yd + c * coupling * w_d)

        return solve


def _eigen(c: Float[ArrayLike, "K K"], b: Float[ArrayLike, " K"]) -> tuple[Array, Array, Array]:
    c = jnp.asarray(c, jnp.float64)
    lam, vectors = jnp.linalg.eigh(0.5 * (c + c.T))
    return lam, vectors, vectors.T @ jnp.asarray(b, jnp.float64)


def readout_initial_state(
    c: Float[ArrayLike, "K K"], b: Float[ArrayLike, " K"], readout: Float[ArrayLike, " K"]
) -> tuple[ReadoutState, Array, Array]:
    """`(state, lam, b~)` for a deterministic initial effective readout `u_0 = c_K a_0`."""
    lam, vectors, b_tilde = _eigen(c, b)
    u = vectors.T @ jnp.asarray(readout, jnp.float64)
    return ReadoutState(u, jnp.square(u)), lam, b_tilde


def solve_readout(
    c: Float[ArrayLike, "K K"],
    b: Float[ArrayLike, " K"],
    tau: Float[ArrayLike, ""],
    readout: Float[ArrayLike, " K"],
    alpha: Float[ArrayLike, " T"],
    *,
    learning_rate: float | Float[ArrayLike, ""],
    scale: float,
    input_dim: int,
    noise_std: float = 0.0,
    rtol: float = 1e-8,
    atol: float = 1e-11,
    max_steps: int = 100_000,
    blowup: float | None = None,
) -> tuple[ODESolution, Float[Array, " T"]]:
    """The raw solution and `E[eps_g](alpha)` of online SGD on the readout (module docstring),
    including the label noise `sigma_n^2 / 2` as the simulation records it.

    **Arguments:** `c`, `b`, `tau` from `feature_statistics` of the model's own features and teacher;
    `readout` the initial effective readout `c_K a_0` (K,); `alpha` the save times (the first is the
    start); `learning_rate` eta; `scale` the output scale `c_K`; `input_dim` N; `noise_std` the
    label noise; `blowup` as for `solve_ode` (above `eta_c` the second moments grow without
    bound). Solved with `Rodas4` and the ODE's `O(K)` linear solve (the spectrum of `C` spans
    orders of magnitude, so the problem is stiff). Traceable: vmap over seeds or learning rates.
    """
    state, lam, b_tilde = readout_initial_state(c, b, readout)
    args = ReadoutArgs(
        lam,
        b_tilde,
        jnp.asarray(tau, jnp.float64),
        jnp.asarray(learning_rate, jnp.float64),
        jnp.asarray(scale, jnp.float64),
        jnp.asarray(input_dim, jnp.float64),
        jnp.asarray(noise_std, jnp.float64),
    )
    ode = ReadoutODE()
    solution = solve_ode(
        ode,
        state,
        args,
        alpha,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        solver=Rodas4(ode.factorise),
        blowup=blowup,
    )
    errors = jax.vmap(ode.error, in_axes=(0, None))(solution.ys, args)
    return solution, errors + 0.5 * jnp.square(args.noise_std)


def _noise_sum(lam: np.ndarray, rate: float, input_dim: int) -> float:
    """`s` of the module docstring for `rate = eta c_K^2` (infinite once a mode is unstable)."""
    x = rate * lam / input_dim
    if np.any(x >= 1):
        return math.inf
    return float(0.5 * rate / input_dim * np.sum(lam / (1 - x)))


def _spectrum(c: np.ndarray, eigenvalues) -> np.ndarray:
    if eigenvalues is not None:
        return np.asarray(eigenvalues, np.float64)
    return np.linalg.eigvalsh(0.5 * (c + c.T))


def rf_stationary_error(
    c: Float[ArrayLike, "K K"],
    b: Float[ArrayLike, " K"],
    tau: Float[ArrayLike, ""],
    *,
    learning_rate: float,
    scale: float,
    input_dim: int,
    noise_std: float = 0.0,
    eigenvalues: Float[ArrayLike, " K"] | None = None,
) -> float:
    """`eps_inf(eta) = (eps_* + s sigma_n^2 / 2) / (1 - s) + sigma_n^2 / 2`: the stationary error
    of online SGD at a finite learning rate (module docstring), with the label noise as the
    simulation records it; `inf` when `eta >= eta_c` (no stationary state). `eigenvalues`: those
    of `C`, when already known."""
    c64, b64 = np.asarray(c, np.float64), np.asarray(b, np.float64)
    s = _noise_sum(_spectrum(c64, eigenvalues), learning_rate * scale**2, input_dim)
    if s >= 1:
        return math.inf
    floor = 0.5 * (float(tau) - b64 @ np.linalg.solve(c64, b64))
    return (floor + s * noise_std**2 / 2) / (1 - s) + noise_std**2 / 2


def rf_critical_learning_rate(
    c: Float[ArrayLike, "K K"], *, scale: float, input_dim: int, eigenvalues: Float[ArrayLike, " K"] | None = None
) -> float:
    """`eta_c` with `s(eta_c) = 1` (module docstring): above it the readout's SGD noise grows without
    bound. Found by bisection on the monotone `s(eta)`. `eigenvalues`: those of `C`, when known."""
    lam = _spectrum(np.asarray(c, np.float64), eigenvalues)
    low, high = 0.0, 2.0 * input_dim / (scale**2 * lam.max())
    for _ in range(200):
        middle = 0.5 * (low + high)
        if _noise_sum(lam, middle * scale**2, input_dim) < 1:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)
