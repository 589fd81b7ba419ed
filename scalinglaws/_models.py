"""Two-layer networks (teacher and student) and the random-feature model.

Conventions (Saad & Solla 1995; Goldt et al. 2019; README, "Conventions"): for an input `x` of
dimension `N` the local fields are `lambda_k = w_k . x / sqrt(N)` and the output is

    f(x) = c_K sum_k v_k g(lambda_k),

with the output scaling `c_K = 1` (`"sum"`, the soft committee machine), `1/K` (`"mean"`) or
`1/sqrt(K)` (`"sqrt"`). First-layer rows have O(1) entries, so the order parameters
`Q = W W^T / N`, `R = W B^T / N`, `T = B B^T / N` are O(1). The theories see the scaling only
through the effective second layer `c_K v` (`effective_second_layer`). The random-feature model
is in `_random_feature_model`.

**Students** implement `AbstractStudent`: the model, its online-SGD step on the per-sample loss
`1/2 (f(x) - y)^2`, how a chunk of inputs is stepped through for the H variants of a sweep, and
its observables. Learning rates are scaled per layer so that `alpha = steps / N` is the time of
the order-parameter ODEs (Saad & Solla 1995; Goldt et al. 2019), with `delta = y - f(x)`:

- first layer:  `w_k <- w_k + (eta / sqrt(N)) c_K v_k delta g'(lambda_k) x`, i.e. a gradient step
  of size `eta` on `W` (whose gradient carries the `1/sqrt(N)` of the local field); a network
  that reads only its first `visible` inputs moves only those weights;
- second layer: `v_k <- v_k + (eta_v / N) c_K delta g(lambda_k)`, a gradient step of size `eta_v / N`;
- random-feature readout: `a_k <- a_k + (eta / N) c_K delta g(f_k . x / sqrt(N))`.

Each is exactly a step along `-jax.grad` of the per-sample loss with those step sizes (tested).
"""

import abc
import functools
import math
from collections.abc import Callable
from typing import ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._activations import AbstractActivation
from ._error import generalisation_error
from ._observables import Observation, Probe, monte_carlo_error


__all__ = [
    "OUTPUT_SCALINGS",
    "AbstractStudent",
    "LearningRates",
    "TwoLayerNetwork",
    "output_scale",
    "power_law_coefficients",
    "student_network",
    "teacher_network",
]

OutputScaling = Literal["sum", "mean", "sqrt"]
OUTPUT_SCALINGS: tuple[str, ...] = ("sum", "mean", "sqrt")


def output_scale(output: str, hidden: int) -> float:
    """The prefactor `c_K` of an output scaling: `sum` 1, `mean` 1/K, `sqrt` 1/sqrt(K)."""
    if output == "sum":
        return 1.0
    if output == "mean":
        return 1.0 / hidden
    if output == "sqrt":
        return 1.0 / math.sqrt(hidden)
    raise ValueError(f"output scaling must be one of {OUTPUT_SCALINGS}, got {output!r}")


def power_law_coefficients(count: int, exponent: float) -> Float[Array, " P"]:
    """`a_p = p^-exponent / sqrt(sum_q q^-2 exponent)`, `p = 1..count`, so that `sum_p a_p^2 = 1`
    (the normalisation of Ren et al.'s Prop. 2.2, read so that the teacher has unit norm)."""
    raw = jnp.arange(1, count + 1, dtype=jnp.float64) ** (-exponent)
    return raw / jnp.linalg.norm(raw)


class LearningRates(eqx.Module):
    """`first`: `eta` (first layer, or the random-feature readout); `second`: `eta_v` (second layer)."""

    first: Float[ArrayLike, "*batch"]
    second: Float[ArrayLike, "*batch"]


# How a chunk of inputs is stepped through: `step(students, x, y, rates)` over the H variants.
ChunkStep = Callable[["AbstractStudent", Array, Array, LearningRates], "AbstractStudent"]


class AbstractStudent(eqx.Module):
    """What a model must provide to be trained by online SGD and observed (`scalinglaws.simulate`).

    Subclasses are final modules with the fields `activation`, `hidden` (K) and `input_dim` (N).
    """

    activation: eqx.AbstractVar[AbstractActivation]
    hidden: eqx.AbstractVar[int]
    input_dim: eqx.AbstractVar[int]
    # Whether training moves the first layer (so that Q, R and the block overlaps are recorded); a
    # model whose first layer is frozen records its second layer (readout) instead.
    first_layer_trained: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def __call__(self, x: Float[Array, "*batch N"]) -> Float[Array, " *batch"]:
        """The network's output."""

    @abc.abstractmethod
    def step(
        self, x: Float[Array, " N"], target: Float[Array, ""], rates: LearningRates, *, train_second_layer: bool
    ) -> "AbstractStudent":
        """One online-SGD step on the sample `(x, target)` (the module docstring's rules)."""

    @abc.abstractmethod
    def chunk_rule(
        self,
        z: Float[Array, "C N"],
        scale: Float[Array, "H N"],
        *,
        shared_inputs: bool,
        unit_scale: bool,
        train_second_layer: bool,
    ) -> tuple[Array, ChunkStep]:
        """How the H variants of one seed step through a chunk of standard normals `z`: returns the
        per-step inputs `xs` (scanned over their leading axis) and `step(students, x, y, rates)`, which
        advances the H students (leading axis) by one sample. Variant `h` sees the inputs
        `z * scale[h]` (all equal when `shared_inputs`; the standard normals themselves when `unit_scale`).
        Called on one student standing for all H (their frozen parts are equal)."""

    @abc.abstractmethod
    def observe(self, teacher: "TwoLayerNetwork", probe: Probe) -> Observation:
        """The observables of this student against `teacher` (eps_g without label noise)."""

    def pad(self, scale: Float[ArrayLike, " K"]) -> "AbstractStudent":
        """This student standing for a narrower one (padded widths, `scalinglaws.Setup.second_layer_scale`):
        unit k's contribution to the output and to every update multiplied by `scale[k]`: 0 makes it
        inert, `c_{K_h} / c_K` gives the others the output scaling of width K_h."""
        raise NotImplementedError(f"{type(self).__name__} cannot stand for a narrower student")

    def feature_statistics(self, teacher: "TwoLayerNetwork", variance: Float[Array, " N"]) -> tuple[Array, ...]:
        """Fixed statistics its closed-form eps_g needs for inputs of diagonal covariance `variance`
        (`Probe.features`): none by default (empty arrays)."""
        del teacher, variance
        return jnp.zeros((0, 0)), jnp.zeros((0,)), jnp.zeros(())


class TwoLayerNetwork(AbstractStudent):
    """`f(x) = c_K sum_k v_k g(w_k . x / sqrt(N))`: the teacher and the student of the SCM family.

    **Arguments:**

    - `first`: first-layer weights `W`, shape `(K, N)`.
    - `second`: second-layer weights `v`, shape `(K,)`.
    - `activation`: the activation `g`.
    - `output`: output scaling, `"sum"`, `"mean"` or `"sqrt"`.
    - `visible`: the network reads only the first `visible` input coordinates (default all): a
      student restricted to the leading eigendirections of the data (in whose eigenbasis inputs are
      drawn), with `P = K visible` trainable first-layer weights. Columns beyond `visible` must be
      zero and stay so under SGD; the fields keep the `1 / sqrt(N)` of the full input.
    """

    first_layer_trained: ClassVar[bool] = True

    first: Float[Array, "K N"]
    second: Float[Array, " K"]
    activation: AbstractActivation
    output: str = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    input_dim: int = eqx.field(static=True)
    visible: int = eqx.field(static=True)

    def __init__(
        self,
        first,
        second,
        activation: AbstractActivation,
        output: str = "sum",
        visible: int | None = None,
    ):
        first = jnp.asarray(first)
        second = jnp.asarray(second, first.dtype)
        if first.ndim != 2:
            raise ValueError(f"first-layer weights must have shape (K, N), got {first.shape}")
        if second.shape != first.shape[:1]:
            raise ValueError(f"second-layer weights must have shape ({first.shape[0]},), got {second.shape}")
        output_scale(output, first.shape[0])
        self.first, self.second = first, second
        self.activation = activation
        self.output = output
        self.hidden, self.input_dim = first.shape
        self.visible = self.input_dim if visible is None else int(visible)
        if not 1 <= self.visible <= self.input_dim:
            raise ValueError(f"visible must be in [1, {self.input_dim}], got {visible}")

    @property
    def scale(self) -> float:
        return output_scale(self.output, self.hidden)

    def fields(self, x: Float[Array, "*batch N"]) -> Float[Array, "*batch K"]:
        """Local fields `W x / sqrt(N)` (over the first `visible` coordinates)."""
        if self.visible < self.input_dim:
            return x[..., : self.visible] @ self.first[:, : self.visible].T / math.sqrt(self.input_dim)
        return x @ self.first.T / math.sqrt(self.input_dim)

    def pad(self, scale: Float[ArrayLike, " K"]) -> "TwoLayerNetwork":
        """The second layer multiplied by `scale`: a unit with `v_k = 0` neither moves nor
        contributes (with the second layer untrained, as padding needs)."""
        return eqx.tree_at(lambda s: s.second, self, self.second * jnp.asarray(scale).astype(self.second.dtype))

    def effective_second_layer(self) -> Float[Array, " K"]:
        """`c_K v`: the second layer the order-parameter theories see."""
        return self.scale * self.second

    def __call__(self, x: Float[Array, "*batch N"]) -> Float[Array, " *batch"]:
        return self.activation(self.fields(x)) @ self.effective_second_layer()

    def step(
        self, x: Float[Array, " N"], target: Float[Array, ""], rates: LearningRates, *, train_second_layer: bool = False
    ) -> "TwoLayerNetwork":
        n = self.input_dim
        dtype = x.dtype
        eta = jnp.asarray(rates.first, dtype)
        g = self.activation
        pre = self.fields(x)
        act = g(pre)
        scaled = self.scale * self.second
        delta = target - scaled @ act
        seen = self.visible
        step = (eta / math.sqrt(n)) * (scaled * delta * g.derivative(pre))[:, None] * x[None, :seen]
        first = self.first + step if seen == n else self.first.at[:, :seen].add(step)
        if not train_second_layer:
            return eqx.tree_at(lambda s: s.first, self, first)
        eta_v = jnp.asarray(rates.second, dtype)
        second = self.second + (eta_v / n) * self.scale * delta * act
        return eqx.tree_at(lambda s: (s.first, s.second), self, (first, second))

    def chunk_rule(self, z, scale, *, shared_inputs: bool, unit_scale: bool, train_second_layer: bool):
        """The scan runs over the chunk's standard normals, and every variant rescales the row inside
        its step, where the product fuses into the step's reads: storing the `(H, chunk, N)` rescaled
        inputs of a spectrum sweep and scanning over them was 1.7x slower (H = 9, N = 1024)."""
        rule = functools.partial(TwoLayerNetwork.step, train_second_layer=train_second_layer)
        return z, vmapped_rule(rule, scale, shared_inputs=shared_inputs, unit_scale=unit_scale)

    def observe(self, teacher: "TwoLayerNetwork", probe: Probe) -> Observation:
        n = self.input_dim
        w = self.first.astype(jnp.float64)
        b = teacher.first.astype(jnp.float64)
        if probe.blocks:
            qb, rb = probe.partition.block_overlaps(w, w), probe.partition.block_overlaps(w, b)
            q, r = qb.sum(0), rb.sum(0)
            eigen = probe.field_eigenvalues
            q_field, r_field = jnp.einsum("l,lij->ij", eigen, qb), jnp.einsum("l,lij->ij", eigen, rb)
        else:
            qb = rb = jnp.zeros((0,), jnp.float64)
            q, r = w @ w.T / n, w @ b.T / n
            q_field, r_field = q, r
        if probe.closed_form:
            eps = generalisation_error(
                self.activation,
                q_field,
                r_field,
                probe.t_field,
                self.effective_second_layer().astype(jnp.float64),
                teacher.effective_second_layer().astype(jnp.float64),
            )
        else:
            eps = monte_carlo_error(self, probe.z_test, probe.input_scale, probe.y_test)
        return Observation(eps, q, r, self.second.astype(jnp.float64), qb, rb)


def vmapped_rule(rule: Callable, scale, *, shared_inputs: bool, unit_scale: bool) -> ChunkStep:
    """`step(students, x, y, rates)` advancing H students (leading axis) by one sample with the
    per-student `rule(student, x, y, rates)`, variant h seeing `x * scale[h]` (`AbstractStudent.chunk_rule`)."""
    y_axis = None if shared_inputs else 0
    if unit_scale:
        return jax.vmap(rule, in_axes=(0, None, y_axis, 0))
    scaled_step = jax.vmap(lambda w, x, y, r, s: rule(w, x * s, y, r), in_axes=(0, None, y_axis, 0, 0))

    def step(students, x, y, rates):
        return scaled_step(students, x, y, rates, scale)

    return step


def teacher_network(
    input_dim: int,
    hidden: int,
    activation: AbstractActivation,
    *,
    output: OutputScaling = "sum",
    init: Literal["gaussian", "orthonormal", "block_orthonormal"] = "gaussian",
    second_layer: Literal["ones", "power_law"] = "ones",
    second_layer_exponent: float = 1.0,
    blocks: int = 1,
    dtype=jnp.float32,
    key: PRNGKeyArray,
) -> TwoLayerNetwork:
    """A teacher with `M = hidden` units.

    **Arguments:**

    - `init`: `"gaussian"` draws `B_nm ~ N(0, 1)` (so `T = I + O(1/sqrt(N))`); `"orthonormal"`
      draws orthonormal rows scaled by `sqrt(N)`, so that `T = I` exactly (needs `M <= N`);
      `"block_orthonormal"` makes the rows orthonormal within each of `blocks` consecutive blocks of
      `N / blocks` coordinates (the eigenvalue blocks of `GaussianData`), so that every block holds
      the same share, `t^(l) = B P_l B^T / N = I / blocks` exactly (needs `M <= N / blocks`): the
      symmetric teacher for which the eigen-block ODE has a symmetric plateau.
    - `second_layer`: `"ones"` (`A_p = 1`) or `"power_law"` with `A_p ∝ p^-exponent` and
      `sum_p A_p^2 = 1`.
    """
    if init == "gaussian":
        first = jr.normal(key, (hidden, input_dim), dtype)
    elif init in ("orthonormal", "block_orthonormal"):
        parts = blocks if init == "block_orthonormal" else 1
        if input_dim % parts or hidden > input_dim // parts:
            raise ValueError(
                f"an {init} teacher needs blocks ({parts}) dividing input_dim ({input_dim}) and hidden ({hidden}) "
                f"<= input_dim / blocks"
            )
        size = input_dim // parts
        gauss = jr.normal(key, (parts, size, hidden), jnp.float64)
        basis, upper = jnp.linalg.qr(gauss)
        basis = basis * jnp.sign(jnp.diagonal(upper, axis1=-2, axis2=-1))[:, None, :]
        # Rows of norm^2 N / parts within each block: B P_l B^T / N = I / parts.
        first = (math.sqrt(size) * jnp.moveaxis(basis, 2, 0).reshape(hidden, input_dim)).astype(dtype)
    else:
        raise ValueError(f"teacher init must be 'gaussian', 'orthonormal' or 'block_orthonormal', got {init!r}")
    if second_layer == "ones":
        second = jnp.ones(hidden, dtype)
    elif second_layer == "power_law":
        second = power_law_coefficients(hidden, second_layer_exponent).astype(dtype)
    else:
        raise ValueError(f"teacher second_layer must be 'ones' or 'power_law', got {second_layer!r}")
    return TwoLayerNetwork(first, second, activation, output)


def student_network(
    input_dim: int,
    hidden: int,
    activation: AbstractActivation,
    *,
    output: OutputScaling = "sum",
    init_std: float = 1e-3,
    second_layer_init: float = 1.0,
    visible: int | None = None,
    dtype=jnp.float32,
    key: PRNGKeyArray,
) -> TwoLayerNetwork:
    """A student with `K = hidden` units, `W_kn ~ N(0, init_std^2)` and `v_k = second_layer_init`.

    `Q_kk ≈ init_std^2` at the start. With `visible` it reads only the first `visible` input
    coordinates, and its weights on the others are zero.
    """
    first = init_std * jr.normal(key, (hidden, input_dim), dtype)
    if visible is not None:
        first = jnp.where(jnp.arange(input_dim) < visible, first, jnp.zeros((), dtype))
    second = jnp.full(hidden, second_layer_init, dtype)
    return TwoLayerNetwork(first, second, activation, output, visible)
