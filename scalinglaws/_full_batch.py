"""Full-batch training of kernel regression on P fixed samples: gradient flow, weight decay and
Langevin dynamics, exactly averaged per data draw or sampled by Euler–Maruyama.

The model is the one of Kramp, Lindner & Helias (arXiv 2602.23039), in the kernel's eigenbasis:
N modes with population covariance `Lambda = diag(lambda_i)`, samples `x_mu = Lambda^(1/2) z_mu`
(`mu = 1..P`, `z ~ N(0, I_N)`), labels `y_mu = wbar . x_mu + eps_mu` with `wbar ~ N(0, s^2 I)` and
`eps ~ N(0, sigma_eps^2)`, and `w(0) ~ N(0, sigma_0^2 I)`. With `X` the (P, N) sample matrix, the
loss is `L = (c/2) |y - X w|^2` (`c = 1`: summed, `c = 1/P`: mean) and

    dw = -grad L dt - kappa w dt + sqrt(2 T) dB,     A = c X^T X + kappa I.

For one draw of `X`, with `v = w - wbar` and `A = U diag(a) U^T`, the solution is Gaussian:

    E_thermal v(t) = M w(0) - (M + kappa F) wbar + c F X^T eps,   M = e^{-A t},  F = (1 - e^{-A t}) / A,
    Cov_thermal v(t) = T (1 - e^{-2 A t}) / A,

so that, averaged exactly over teacher, label noise, initial weights and thermal noise, with
`w_j = (U^T Lambda U)_jj`, `m_j = e^{-a_j t} + kappa f_j`, `f_j = (1 - e^{-a_j t}) / a_j`:

    eps_g = 1/2 E (w - wbar)^T Lambda (w - wbar)
          = 1/2 sum_j w_j [s^2 m_j^2 + sigma_0^2 e^{-2 a_j t} + c sigma_eps^2 (a_j - kappa) f_j^2
                           + T (1 - e^{-2 a_j t}) / a_j].

The first three terms are the error of the thermally averaged predictor (`bias`), the last the
thermal `variance` (with `sigma_eps = 0` this is also the data-sampling split). The training error
per sample is `E |X w - y|^2 / (2 P)`:

    (1/(2P)) [ (1/c) sum_j (a_j - kappa) (s^2 m_j^2 + sigma_0^2 e^{-2 a_j t} + T (1 - e^{-2 a_j t}) / a_j)
               + sigma_eps^2 (P - 2 sum_j (a_j - kappa) f_j + sum_j (a_j - kappa)^2 f_j^2) ].

An anisotropic teacher `wbar_i ~ N(0, s_i^2)` replaces `s^2 sum_j w_j m_j^2` by
`tr(Lambda M S M) = m^T [(U^T Lambda U) o (U^T S U)] m` (`o` the entrywise product) and
`sum_j (a_j - kappa) s^2 m_j^2` by `sum_j (a_j - kappa) (U^T S U)_jj m_j^2`.

The mode-resolved mean discrepancy, the fraction of teacher mode `i` not yet learned, is
`E[wbar_i - <w_i(t)>] / wbar_i = (M + kappa F)_ii = sum_j U_ij^2 m_j` (with `w(0) = 0` on average).
This exact average is linear algebra on sample covariances whose smallest eigenvalues reach
`lambda_N / N^2` at `P = N`, so it runs in float64 whatever the setup's dtype.

The Euler–Maruyama check samples everything instead, `w <- w - dt (A w - c X^T y) + sqrt(2 T dt) xi`,
in the setup's dtype, and records `eps_g`, the training error and the mode discrepancy estimated as
`-E[(w_i - wbar_i) wbar_i] / s_i^2`.
"""

import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._cost import LAPACK_FLOPS_PER_UNIT, UNIT_SECONDS
from ._learners import AbstractLearner, Recording
from ._observables import diverged, first_failure
from ._sharding import shard_leading_axis


__all__ = ["FullBatchLangevin", "KernelProblem", "exact_average", "exact_draw", "sample_covariance"]

_BATCH_BYTES = 2**27  # working memory of one batch of draws (about 128 MiB)


class KernelProblem(eqx.Module):
    """The numbers of one kernel-regression problem (see the module docstring): `eigenvalues`
    lambda_i (N,), `samples` P, loss `coefficient` c, `weight_decay` kappa, `temperature` T, teacher
    `variance` s^2 (a number: isotropic; or s_i^2 per mode (N,): anisotropic), `init_variance`
    sigma_0^2, `noise_variance` sigma_eps^2."""

    eigenvalues: Float[Array, " N"]
    samples: int = eqx.field(static=True)
    coefficient: float
    weight_decay: float
    temperature: float
    variance: float | Float[Array, " N"] = 1.0
    init_variance: float = 0.0
    noise_variance: float = 0.0


def _phi(x):
    """`(1 - e^{-x}) / x`, 1 at x = 0."""
    small = x < 1e-8
    return jnp.where(small, 1.0 - 0.5 * x, -jnp.expm1(-x) / jnp.where(small, 1.0, x))


def sample_covariance(problem: KernelProblem, *, key: PRNGKeyArray) -> Float[Array, "N N"]:
    """`A = c X^T X + kappa I` of one draw of the P samples `X = Z Lambda^(1/2)`, float64."""
    lam = jnp.asarray(problem.eigenvalues, jnp.float64)
    n = lam.shape[0]
    x = jr.normal(key, (problem.samples, n), jnp.float64) * jnp.sqrt(lam)[None, :]
    return problem.coefficient * x.T @ x + problem.weight_decay * jnp.eye(n, dtype=jnp.float64)


def exact_average(problem: KernelProblem, times: Float[Array, " T"], covariance: Float[Array, "N N"]) -> dict:
    """The draw with sample covariance `A`, averaged exactly over teacher, label noise, initial and
    thermal noise: `eps_g`, `bias`, `variance`, `train_error` (T,) and `mode_discrepancy` (T, N)."""
    lam = jnp.asarray(problem.eigenvalues, jnp.float64)
    p, c, kappa, temp = problem.samples, problem.coefficient, problem.weight_decay, problem.temperature
    a, u = jnp.linalg.eigh(covariance)
    a = jnp.maximum(a, kappa)  # round-off below the ridge
    u2 = u**2
    weight = lam @ u2  # (U^T Lambda U)_jj
    t = jnp.asarray(times, jnp.float64)[:, None]
    at = a[None, :] * t
    decay = jnp.exp(-at)
    f = t * _phi(at)
    f2 = 2 * t * _phi(2 * at)
    m = decay + kappa * f
    h = (a - kappa)[None, :]
    others = problem.init_variance * decay**2
    bias = 0.5 * (others + c * problem.noise_variance * h * f**2) @ weight
    if jnp.ndim(problem.variance) == 0:  # isotropic: tr(Lambda M S M) = s^2 sum_j w_j m_j^2
        teacher_bias, teacher_fit = problem.variance * m**2 @ weight, problem.variance * (h * m**2).sum(-1)
    else:  # tr(Lambda M S M) = m^T [(U^T Lambda U) o (U^T S U)] m, tr((A - kappa) M S M) likewise
        rotated = u.T @ (jnp.asarray(problem.variance, jnp.float64)[:, None] * u)
        hadamard = (u.T @ (lam[:, None] * u)) * rotated
        teacher_bias = jnp.sum((m @ hadamard) * m, axis=-1)
        teacher_fit = (h * m**2) @ jnp.diagonal(rotated)
    bias = bias + 0.5 * teacher_bias
    variance = 0.5 * temp * f2 @ weight
    fitted = ((h * (others + temp * f2)).sum(-1) + teacher_fit) / c
    residual = p - 2 * (h * f).sum(-1) + (h**2 * f**2).sum(-1)
    return {
        "eps_g": bias + variance,
        "bias": bias,
        "variance": variance,
        "train_error": (fitted + problem.noise_variance * residual) / (2 * p),
        "mode_discrepancy": m @ u2.T,
    }


def exact_draw(problem: KernelProblem, times: Float[Array, " T"], *, key: PRNGKeyArray) -> dict[str, Array]:
    """One data draw (`sample_covariance`), averaged exactly (`exact_average`), in float64."""
    return exact_average(problem, times, sample_covariance(problem, key=key))


def _em_draw(problem: KernelProblem, steps: Array, time_step: float, dtype, *, key: PRNGKeyArray) -> dict[str, Array]:
    """One sampled Euler–Maruyama trajectory recorded after `steps` (T,) steps of `time_step`."""
    lam = jnp.asarray(problem.eigenvalues, dtype)
    n, p = lam.shape[0], problem.samples
    c, kappa = problem.coefficient, problem.weight_decay
    k_x, k_teacher, k_noise, k_init, k_path = jr.split(key, 5)
    x = jr.normal(k_x, (p, n), dtype) * jnp.sqrt(lam)[None, :]
    variances = jnp.broadcast_to(jnp.asarray(problem.variance, dtype), (n,))
    wbar = jnp.sqrt(variances) * jr.normal(k_teacher, (n,), dtype)
    y = x @ wbar + jnp.sqrt(problem.noise_variance) * jr.normal(k_noise, (p,), dtype)
    a = c * x.T @ x + kappa * jnp.eye(n, dtype=dtype)
    b = c * x.T @ y
    kick = jnp.sqrt(2 * problem.temperature * time_step).astype(dtype)

    def step(i, w):
        noise = jr.normal(jr.fold_in(k_path, i), (n,), dtype)
        return w - time_step * (a @ w - b) + kick * noise

    def advance(carry, target):
        w, done = carry
        w = jax.lax.fori_loop(done, target, step, w)
        v = w - wbar
        observed = {
            "eps_g": 0.5 * jnp.sum(lam * v**2),
            "train_error": 0.5 * jnp.mean((x @ w - y) ** 2),
            "mode_discrepancy": -v * wbar / variances,
        }
        return (w, target), observed

    w0 = jnp.sqrt(problem.init_variance) * jr.normal(k_init, (n,), dtype)
    _, observed = jax.lax.scan(advance, (w0, jnp.asarray(0, steps.dtype)), steps)
    return observed


class FullBatchLangevin(AbstractLearner):
    """Full-batch gradient flow (`temperature = 0`), with weight decay, or Langevin dynamics on P
    fixed samples of kernel regression (`KernelRegressionSpec`; the module docstring states the
    dynamics and the averages). One realisation per seed: a draw of the P samples.

    - `samples`: P; `temperature`: T; `weight_decay`: kappa; `loss`: `"sum"` (c = 1) or `"mean"` (c = 1/P).
    - `method`: `"exact"` (every draw averaged exactly over teacher, label and thermal noise) or
      `"euler_maruyama"` (everything sampled, step `time_step`; the recording times must be
      multiples of it).
    """

    samples: int
    temperature: float = 0.0
    weight_decay: float = 0.0
    loss: str = "sum"
    method: str = "exact"
    time_step: float = 1e-3

    @property
    def coefficient(self) -> float:
        """c: 1 for the summed loss, 1/P for the mean."""
        return 1.0 if self.loss == "sum" else 1.0 / self.samples

    def problem(self, setup) -> KernelProblem:
        """The `KernelProblem` of a kernel-regression setup."""
        return KernelProblem(
            jnp.asarray(setup.variants.eigenvalues[0], jnp.float64),
            self.samples,
            self.coefficient,
            self.weight_decay,
            self.temperature,
            setup.teacher.variances(setup.input_dim),
            setup.student.init_std**2,
            setup.teacher.noise_std**2,
        )

    def why_not(self, setup) -> str | None:
        from ._setup import KernelRegressionSpec  # the setup module imports the learners

        if not isinstance(setup.student, KernelRegressionSpec):
            return f"full-batch training is implemented for kernel regression, not a {type(setup.student).__name__}"
        if setup.variants.size != 1:
            return "full-batch training runs one variant"
        return None if setup.seeds >= 1 else "no data draws to train on"

    def batch_size(self, setup, devices: int = 1) -> int:
        """Draws computed at once: as many as fit `_BATCH_BYTES`, a multiple of `devices`."""
        n, p = setup.input_dim, self.samples
        times = len(setup.grid.times)
        per_draw = 8 * (4 * n * n + p * n + 8 * times * n)
        size = max(1, _BATCH_BYTES // per_draw // devices) * devices
        return min(size, -(-setup.seeds // devices) * devices)

    def estimate_seconds(self, setup) -> float:
        """Per draw, `exact`: the sample covariance (`P N^2` multiply-adds), its eigendecomposition
        (about `10 N^3`) and the mode curves (`2 T N^2` for T recording times); Euler–Maruyama: `N^2`
        per step besides. LAPACK and BLAS run `LAPACK_FLOPS_PER_UNIT` float64 flops per unit."""
        n, p, points = setup.input_dim, self.samples, len(setup.grid.times)
        flops = p * n * n + 10 * n**3 + 2 * points * n * n
        if self.method != "exact":
            flops += float(setup.grid.times[-1]) / self.time_step * n * n
        return UNIT_SECONDS * setup.seeds * flops / LAPACK_FLOPS_PER_UNIT

    def record(self, setup, *, progress: Callable[[int, int], None] | None = None) -> Recording:
        problem = self.problem(setup)
        times = jnp.asarray(setup.grid.times, jnp.float64)
        exact = self.method == "exact"
        if exact:
            draw = jax.jit(jax.vmap(lambda key: exact_draw(problem, times, key=key)))
        else:
            dtype = jnp.float32 if setup.dtype == "float32" else jnp.float64
            steps = jnp.asarray(np.rint(setup.grid.times / self.time_step), jnp.int32)
            draw = jax.jit(jax.vmap(lambda key: _em_draw(problem, steps, self.time_step, dtype, key=key)))
        keys = jr.split(jr.key(setup.seed), setup.seeds)
        # The exact average is not sharded over CPU devices: with the CPU shown as several devices, a
        # sharded batch of draws that are diagonalised hung in XLA (jax 0.10.2, intermittently, also
        # with drawing and diagonalising in two programs); one device runs them.
        single = exact and jax.devices()[0].platform == "cpu"
        batch = self.batch_size(setup, 1 if single else jax.device_count())
        curves: dict[str, list] = {}
        mode_sum = np.zeros((len(setup.grid.times), setup.input_dim))
        start, compile_seconds = time.perf_counter(), 0.0
        for first in range(0, setup.seeds, batch):
            chunk = keys[first : first + batch]
            padded = jnp.concatenate([chunk, keys[: batch - len(chunk)]]) if len(chunk) < batch else chunk
            tick = time.perf_counter()
            out = jax.device_get(draw(padded if single else shard_leading_axis(padded)))
            if first == 0:
                compile_seconds = time.perf_counter() - tick  # the first batch includes compiling
            for name, value in out.items():
                if name != "mode_discrepancy":
                    curves.setdefault(name, []).append(np.asarray(value[: len(chunk)], np.float64))
            mode_sum += np.asarray(out["mode_discrepancy"][: len(chunk)], np.float64).sum(0)
            if progress is not None:
                progress(first + len(chunk), setup.seeds)
        seconds = time.perf_counter() - start
        per_variant = {f"{name}_sim": np.concatenate(value)[None] for name, value in curves.items()}
        per_variant["mode_discrepancy_sim"] = (mode_sum / setup.seeds)[None]
        eps = per_variant["eps_g_sim"][0]
        mask, diverged_at = first_failure(diverged(eps, None, setup.divergence_threshold), setup.grid.times)
        for name, value in per_variant.items():
            if name != "mode_discrepancy_sim":  # NaN from a draw's divergence on, as online SGD records
                value[0][mask] = np.nan
        summary = {
            "simulation_method": "exact average per draw" if exact else f"Euler-Maruyama, dt = {self.time_step:g}",
            "compile_seconds": round(compile_seconds, 3),
            "simulation_seconds": round(seconds, 3),
            "draws_per_second": round(setup.seeds / max(seconds, 1e-9), 1),
        }
        return Recording(per_variant, {}, diverged_at[None], summary)
