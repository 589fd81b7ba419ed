"""What simulations and theories measure, in one place: overlaps, eps_g, readout errors, divergence.

Conventions (Saad & Solla 1995; Goldt et al. 2019; the README's "Conventions"): for first layers
`W` (K, N) and `B` (M, N) the order parameters are `Q = W W^T / N`, `R = W B^T / N`,
`T = B B^T / N`; for Gaussian inputs with `L` blocks of equal eigenvalues (`GaussianData`) the block
overlaps are `q^(l) = W P_l W^T / N` with `P_l` the projector on block `l` (so `Q = sum_l q^(l)`),
and the local fields have covariances `Qbar = sum_l lambda_l q^(l)` (likewise `Rbar`, `Tbar`).

The generalisation error is `eps_g = 1/2 E[(student - teacher)^2] + sigma^2 / 2` over fresh inputs,
with `sigma` the label-noise standard deviation: in closed form from the field covariances
(`scalinglaws.generalisation_error`), from a random-feature readout and the feature statistics
`(C, b, tau)` (`readout_error`), or on a fixed Monte Carlo test set (`monte_carlo_error`).

A run has **diverged** at the first recorded time at which `eps_g` or an overlap is not finite, or
`eps_g` or `max_k Q_kk` exceeds the threshold (`diverged`); every record from there on is NaN.
"""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from ._activations import AbstractActivation
from ._data import GaussianData
from ._error import pairwise_i2


__all__ = [
    "Observation",
    "Probe",
    "block_overlaps",
    "clip_round_off",
    "divergence_lines",
    "diverged",
    "feature_statistics",
    "first_failure",
    "monte_carlo_error",
    "network_feature_statistics",
    "overlaps",
    "readout_error",
]


class Observation(eqx.Module):
    """The observables of one student at one recording time (float64).

    `eps_g` (), `q` (K, K), `r` (K, M), `second` (K,) the student's second layer (a random-feature
    readout), `q_blocks` (L, K, K) and `r_blocks` (L, K, M) the block overlaps. Those a student does
    not have (a random-feature student's overlaps; block overlaps on isotropic data) are empty
    arrays.
    """

    eps_g: Float[Array, ""]
    q: Float[Array, "..."]
    r: Float[Array, "..."]
    second: Float[Array, " K"]
    q_blocks: Float[Array, "..."]
    r_blocks: Float[Array, "..."]


class Probe(eqx.Module):
    """What observing one variant's student needs besides the student and its teacher.

    `partition`: the recording partition into L blocks; `z_test` (P, N) the Monte Carlo test set's
    standard normals and `input_scale` (N,) the variant's input standard deviations, `y_test` (P,) the
    teacher's labels on it; `field_eigenvalues` (L,) the variant's eigenvalue on every recorded block;
    `t_field` (M, M) the teacher's field covariance `B Sigma B^T / N`; `features` the random features'
    `(C, b, tau)` under the variant's spectrum. `blocks`: record block overlaps; `closed_form`: eps_g
    from the order parameters (else from the test set).
    """

    partition: GaussianData
    z_test: Float[Array, "P N"]
    input_scale: Float[Array, " N"]
    y_test: Float[Array, " P"]
    field_eigenvalues: Float[Array, " L"]
    t_field: Float[Array, "M M"]
    features: tuple[Array, Array, Array]
    blocks: bool = eqx.field(static=True)
    closed_form: bool = eqx.field(static=True)


def overlaps(a: Float[ArrayLike, "P N"], b: Float[ArrayLike, "R N"]) -> Float[Array, "P R"]:
    """`a b^T / N` in float64: `Q`, `R` or `T` of two first layers."""
    a = jnp.asarray(a).astype(jnp.float64)
    b = jnp.asarray(b).astype(jnp.float64)
    return a @ b.T / a.shape[-1]


def block_overlaps(partition: GaussianData, a: Float[ArrayLike, "P N"], b: Float[ArrayLike, "R N"]) -> Array:
    """`a P_l b^T / N` for every block `l` of `partition`, `(L, P, R)`, float64."""
    a = jnp.asarray(a).astype(jnp.float64)
    b = jnp.asarray(b).astype(jnp.float64)
    return partition.block_overlaps(a, b)


def feature_statistics(
    activation: AbstractActivation,
    q: Float[ArrayLike, "K K"],
    r: Float[ArrayLike, "K M"],
    t: Float[ArrayLike, "M M"],
    teacher_second: Float[ArrayLike, " M"],
) -> tuple[Float[Array, "K K"], Float[Array, " K"], Float[Array, ""]]:
    """`(C, b, tau)` of random features `phi_i = g(f_i . x / sqrt(N))` and a teacher
    `c_M sum_n A_n g(B_n . x / sqrt(N))` from the field covariances of the features `q`, of features
    and teacher `r`, of the teacher `t`, and the effective teacher second layer `c_M A` (M,):

        C_ik = I2(x_i, x_k),   b_i = sum_n c_M A_n I2(x_i, y_n),   tau = sum_nm c_M^2 A_n A_m I2(y_n, y_m)

    (Worschech & Rosenow, arXiv 2303.14083), so that a readout `u` has `eps_g = 1/2 [u^T C u - 2 u^T b + tau]`.
    """
    q, r, t = (jnp.asarray(x, jnp.float64) for x in (q, r, t))
    a = jnp.asarray(teacher_second, jnp.float64)
    k = q.shape[0]
    cov = jnp.block([[q, r], [r.T, t]])
    i2 = pairwise_i2(activation, cov)
    return i2[:k, :k], i2[:k, k:] @ a, a @ i2[k:, k:] @ a


def network_feature_statistics(student, teacher, variance: Float[ArrayLike, " N"] | None = None):
    """`(C, b, tau)` (float64) of a random-feature student (`features` F, `activation`) and a
    two-layer teacher (`first` B) for inputs of diagonal covariance `variance` (N,), default the
    identity: `feature_statistics` of `F Sigma F^T / N`, `F Sigma B^T / N`, `B Sigma B^T / N`. Needs
    one activation with closed-form `I2` for both networks."""
    if student.activation != teacher.activation:
        raise ValueError("the feature statistics need the student's and the teacher's activations to be equal")
    n = student.input_dim
    f = student.features.astype(jnp.float64)
    b = teacher.first.astype(jnp.float64)
    sigma = jnp.ones(n, jnp.float64) if variance is None else jnp.asarray(variance, jnp.float64)
    fs, bs = f * sigma[None, :], b * sigma[None, :]
    a = teacher.effective_second_layer().astype(jnp.float64)
    return feature_statistics(student.activation, fs @ f.T / n, fs @ b.T / n, bs @ b.T / n, a)


def readout_error(
    readout: Float[ArrayLike, " K"], c: Float[ArrayLike, "K K"], b: Float[ArrayLike, " K"], tau: Float[ArrayLike, ""]
) -> Float[Array, ""]:
    """`eps_g = 1/2 [u^T C u - 2 u^T b + tau]` of an effective readout `u = c_K a` (no label noise)."""
    u = jnp.asarray(readout, jnp.float64)
    return 0.5 * (u @ jnp.asarray(c) @ u - 2 * u @ jnp.asarray(b) + tau)


def monte_carlo_error(
    student, z_test: Float[Array, "P N"], input_scale: Float[Array, " N"], y_test: Float[Array, " P"]
) -> Float[Array, ""]:
    """`1/2 mean (student(x) - y)^2` over a fixed test set `x = z_test * input_scale` with the
    teacher's labels `y_test` (no label noise), in float64."""
    x_test = z_test * input_scale.astype(z_test.dtype)[None, :]
    diff = (student(x_test) - y_test).astype(jnp.float64)
    return 0.5 * jnp.mean(diff * diff)


def diverged(
    eps_g: Float[ArrayLike, "*batch T"], q_diagonal_max: Float[ArrayLike, "*batch T"] | None, threshold: float
) -> Bool[np.ndarray, "*batch T"]:
    """Where a record shows divergence: `eps_g` or `max_k Q_kk` not finite or above `threshold`.
    `q_diagonal_max` may be None (no overlaps recorded); NumPy, on the host."""
    eps = np.asarray(eps_g)
    bad = ~np.isfinite(eps) | (eps > threshold)
    if q_diagonal_max is not None:
        q = np.asarray(q_diagonal_max)
        bad |= ~np.isfinite(q) | (q > threshold)
    return bad


def first_failure(bad: Bool[np.ndarray, "*batch T"], times: Float[np.ndarray, " T"]) -> tuple[np.ndarray, np.ndarray]:
    """`(mask, time)`: `mask` is True from the first bad record of every run on, `time` (*batch) the
    time of that record (NaN for a run that never failed)."""
    mask = np.logical_or.accumulate(np.asarray(bad, bool), axis=-1)
    when = np.where(mask.any(-1), np.asarray(times)[np.argmax(mask, axis=-1)], np.nan)
    return mask, when


def divergence_lines(
    diverged_alpha: Float[np.ndarray, "H S"], labels: Sequence[str], what: str = "", time: str = "alpha"
) -> list[str]:
    """One line per diverged run: `"{what}{label}, seed {s}: diverged at {time}=..."`."""
    alpha = np.asarray(diverged_alpha)
    return [
        f"{what}{labels[h]}, seed {s}: diverged at {time}={alpha[h, s]:.4g}"
        for h, s in zip(*np.nonzero(np.isfinite(alpha)))
    ]


def clip_round_off(arrays: dict) -> tuple[dict, dict]:
    """Clip every generalisation error below zero to zero (`eps_g*` arrays; NaN stays NaN).

    The closed form `eps_g = 1/2 sum ... I2(...)` is a difference of O(1) terms: once the student
    has learned its teacher, float64 round-off leaves it at about `+-1e-15`, and a stored negative
    error breaks every log-space fit. **Returns** the arrays (clipped copies where needed) and, per
    clipped array, `{"count": records clipped, "most_negative": the lowest value}` for the summary.
    """
    out, clipped = dict(arrays), {}
    for name, value in arrays.items():
        if not name.startswith("eps_g"):
            continue
        value = np.asarray(value)
        if value.dtype.kind != "f":
            continue
        negative = value < 0  # NaN compares False
        if negative.any():
            clipped[name] = {"count": int(negative.sum()), "most_negative": float(value[negative].min())}
            out[name] = np.where(negative, 0.0, value).astype(value.dtype)
    return out, clipped
