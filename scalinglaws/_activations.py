"""Activation functions shared by the simulator and the theory.

An activation object is the single definition of `g` in the project: the SGD engine calls
`g(x)` and `g.derivative(x)`, and the order-parameter theories call its Gaussian integrals.
So the simulation and the theory cannot use two different activations by accident.

The Gaussian integrals follow Saad & Solla (1995) and Goldt et al. (NeurIPS 2019). For jointly
Gaussian, zero-mean fields `u = (u_1, ..., u_n)` with covariance `C` (shape `(..., n, n)`):

- `i2(C) = E[g(u_1) g(u_2)]`                      (`n = 2`)
- `j2(C) = E[g'(u_1) g'(u_2)]`                    (`n = 2`)
- `i3(C) = E[g'(u_1) u_2 g(u_3)]`                 (`n = 3`)
- `i4(C) = E[g'(u_1) g'(u_2) g(u_3) g(u_4)]`      (`n = 4`)

All of them broadcast over leading axes, so a theory evaluates every index tuple at once.
Which integrals an activation has in closed form is listed in its `closed_forms` class variable;
asking for another one raises `NotImplementedError` naming the activation and the integral.
"""

import abc
import math
import re
from typing import ClassVar, final

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erf
from jaxtyping import Array, ArrayLike, Float

from ._special import arcsin


__all__ = [
    "AbstractActivation",
    "Erf",
    "Hermite",
    "HermiteSeries",
    "Linear",
    "ReLU",
    "Tanh",
    "activation_from_name",
    "hermite_series",
]

_TWO_OVER_PI = 2.0 / math.pi
_UPPER4 = ((0, 0), (0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3))


def _check_cov(cov: ArrayLike, n: int, what: str) -> Array:
    cov = jnp.asarray(cov)
    if cov.shape[-2:] != (n, n):
        raise ValueError(f"{what} needs covariance matrices of shape (..., {n}, {n}), got {cov.shape}")
    return cov


class AbstractActivation(eqx.Module):
    """An activation function `g` with its derivative and its Gaussian integrals.

    Abstract: subclasses must implement `__call__` and `derivative` and set `name` (a class
    variable), or they cannot be instantiated (`TypeError`, as for `AbstractActivation` itself).
    They list in `closed_forms` the integrals (`"i2"`, `"j2"`, `"i3"`, `"i4"`) they provide in
    closed form; the others raise `NotImplementedError` naming the activation and the integral.
    """

    name: eqx.AbstractClassVar[str]
    closed_forms: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def __call__(self, x: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
        """`g(x)`, elementwise."""

    @abc.abstractmethod
    def derivative(self, x: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
        """`g'(x)`, elementwise."""

    def _missing(self, integral: str) -> NotImplementedError:
        return NotImplementedError(
            f"activation {self.name!r} has no closed-form {integral.upper()}; "
            f"available: {sorted(self.closed_forms) or 'none'}"
        )

    def i2(self, cov: Float[ArrayLike, "*batch 2 2"]) -> Float[Array, " *batch"]:
        """`E[g(u_1) g(u_2)]` for fields with covariance `cov`."""
        raise self._missing("i2")

    def j2(self, cov: Float[ArrayLike, "*batch 2 2"]) -> Float[Array, " *batch"]:
        """`E[g'(u_1) g'(u_2)]` for fields with covariance `cov`."""
        raise self._missing("j2")

    def i3(self, cov: Float[ArrayLike, "*batch n n"]) -> Float[Array, " *batch"]:
        """`E[g'(u_1) u_2 g(u_3)]` for fields with covariance `cov`."""
        c = _check_cov(cov, 3, "i3")
        return self.i3_entries(c[..., 0, 0], c[..., 0, 1], c[..., 0, 2], c[..., 1, 2], c[..., 2, 2])

    def i3_entries(self, c11, c12, c13, c23, c33) -> Array:
        """`I3` from the covariance entries it depends on (it does not depend on `C22`), broadcast
        against each other."""
        raise self._missing("i3")

    def i4(self, cov: Float[ArrayLike, "*batch n n"]) -> Float[Array, " *batch"]:
        """`E[g'(u_1) g'(u_2) g(u_3) g(u_4)]` for fields with covariance `cov`."""
        c = _check_cov(cov, 4, "i4")
        return self.i4_entries(*(c[..., p, q] for p, q in _UPPER4))

    def i4_entries(self, c11, c12, c13, c14, c22, c23, c24, c33, c34, c44) -> Array:
        """`I4` from the ten distinct covariance entries (broadcast against each other).

        The order-parameter ODEs call this form: it avoids assembling thousands of 4x4 matrices.
        """
        raise self._missing("i4")


@final
class Erf(AbstractActivation):
    r"""`g(x) = erf(x / sqrt(2))`, the soft committee machine's activation.

    `g'(x) = sqrt(2/pi) exp(-x^2/2)`. All four integrals are closed forms (Saad & Solla 1995;
    Goldt et al. 2019, as implemented in their nn2pp code):

    - `I2 = (2/pi) arcsin(C12 / sqrt((1+C11)(1+C22)))`
    - `J2 = (2/pi) / sqrt((1+C11)(1+C22) - C12^2)`
    - `I3 = (2/pi) [C23 (1+C11) - C12 C13] / [(1+C11) sqrt((1+C11)(1+C33) - C13^2)]`
    - `I4 = (4/pi^2) / sqrt(L4) arcsin(L0 / sqrt(L1 L2))` with `L4 = (1+C11)(1+C22) - C12^2` and
      `L0 = L4 C34 - C23 C24 (1+C11) - C13 C14 (1+C22) + C12 C13 C24 + C12 C14 C23`,
      `L1 = L4 (1+C33) - C23^2 (1+C11) - C13^2 (1+C22) + 2 C12 C13 C23`, `L2` likewise with 4 for 3
      (Saad & Solla 1995; checked against Monte Carlo in `tests/test_activations.py`).
    """

    name: ClassVar[str] = "erf"
    closed_forms: ClassVar[frozenset[str]] = frozenset({"i2", "j2", "i3", "i4"})

    def __call__(self, x):
        return erf(jnp.asarray(x) / math.sqrt(2.0))

    def derivative(self, x):
        x = jnp.asarray(x)
        return math.sqrt(_TWO_OVER_PI) * jnp.exp(-0.5 * x * x)

    def i2(self, cov):
        c = _check_cov(cov, 2, "i2")
        c11, c12, c22 = c[..., 0, 0], c[..., 0, 1], c[..., 1, 1]
        return _TWO_OVER_PI * arcsin(c12 / jnp.sqrt((1 + c11) * (1 + c22)))

    def j2(self, cov):
        c = _check_cov(cov, 2, "j2")
        c11, c12, c22 = c[..., 0, 0], c[..., 0, 1], c[..., 1, 1]
        return _TWO_OVER_PI / jnp.sqrt((1 + c11) * (1 + c22) - c12 * c12)

    def i3_entries(self, c11, c12, c13, c23, c33):
        lam3 = (1 + c11) * (1 + c33) - c13 * c13
        return _TWO_OVER_PI * (c23 * (1 + c11) - c12 * c13) / ((1 + c11) * jnp.sqrt(lam3))

    def i4_entries(self, c11, c12, c13, c14, c22, c23, c24, c33, c34, c44):
        lam4 = (1 + c11) * (1 + c22) - c12 * c12
        lam0 = lam4 * c34 - c23 * c24 * (1 + c11) - c13 * c14 * (1 + c22) + c12 * c13 * c24 + c12 * c14 * c23
        lam1 = lam4 * (1 + c33) - c23 * c23 * (1 + c11) - c13 * c13 * (1 + c22) + 2 * c12 * c13 * c23
        lam2 = lam4 * (1 + c44) - c24 * c24 * (1 + c11) - c14 * c14 * (1 + c22) + 2 * c12 * c14 * c24
        return (4.0 / math.pi**2) / jnp.sqrt(lam4) * arcsin(lam0 / jnp.sqrt(lam1 * lam2))


@final
class Linear(AbstractActivation):
    """`g(x) = x`. `I2 = C12`, `J2 = 1`, `I3 = C23`, `I4 = C34`."""

    name: ClassVar[str] = "linear"
    closed_forms: ClassVar[frozenset[str]] = frozenset({"i2", "j2", "i3", "i4"})

    def __call__(self, x):
        return jnp.asarray(x)

    def derivative(self, x):
        return jnp.ones_like(jnp.asarray(x))

    def i2(self, cov):
        return _check_cov(cov, 2, "i2")[..., 0, 1]

    def j2(self, cov):
        c = _check_cov(cov, 2, "j2")
        return jnp.ones(c.shape[:-2], c.dtype)

    def i3_entries(self, c11, c12, c13, c23, c33):
        return jnp.broadcast_arrays(c11, c12, c13, c23, c33)[3]

    def i4_entries(self, c11, c12, c13, c14, c22, c23, c24, c33, c34, c44):
        return jnp.broadcast_arrays(c11, c12, c13, c14, c22, c23, c24, c33, c34, c44)[8]


@final
class ReLU(AbstractActivation):
    """`g(x) = max(x, 0)`, `g'(x) = 1[x > 0]`.

    Closed forms (the arc-cosine kernels of Cho & Saul 2009), with `cos(theta) = C12/sqrt(C11 C22)`:
    `I2 = sqrt(C11 C22) [sin(theta) + (pi - theta) cos(theta)] / (2 pi)` and
    `J2 = (pi - theta) / (2 pi)`.
    """

    name: ClassVar[str] = "relu"
    closed_forms: ClassVar[frozenset[str]] = frozenset({"i2", "j2"})

    def __call__(self, x):
        return jnp.maximum(jnp.asarray(x), 0)

    def derivative(self, x):
        x = jnp.asarray(x)
        return (x > 0).astype(x.dtype)

    @staticmethod
    def _angle(c: Array) -> tuple[Array, Array]:
        norm = jnp.sqrt(c[..., 0, 0] * c[..., 1, 1])
        safe = jnp.where(norm > 0, norm, 1.0)
        cos = jnp.clip(jnp.where(norm > 0, c[..., 0, 1] / safe, 0.0), -1.0, 1.0)
        return norm, jnp.arccos(cos)

    def i2(self, cov):
        norm, theta = self._angle(_check_cov(cov, 2, "i2"))
        return norm * (jnp.sin(theta) + (math.pi - theta) * jnp.cos(theta)) / (2 * math.pi)

    def j2(self, cov):
        _, theta = self._angle(_check_cov(cov, 2, "j2"))
        return (math.pi - theta) / (2 * math.pi)


@final
class Tanh(AbstractActivation):
    """`g(x) = tanh(x)`. No closed-form integrals: generalisation errors come from Monte Carlo."""

    name: ClassVar[str] = "tanh"

    def __call__(self, x):
        return jnp.tanh(x)

    def derivative(self, x):
        t = jnp.tanh(x)
        return 1 - t * t


def _hermite_e(degree: int, x: Array) -> Array:
    """Probabilists' Hermite polynomial `He_k(x)` by the three-term recurrence."""
    prev, cur = jnp.ones_like(x), x
    if degree == 0:
        return prev
    for n in range(1, degree):
        prev, cur = cur, x * cur - n * prev
    return cur


@final
class Hermite(AbstractActivation):
    """Normalised Hermite polynomial `g(x) = h_k(x) = He_k(x) / sqrt(k!)`.

    `E[h_j(z) h_k(z)] = delta_jk` for `z ~ N(0, 1)`, and `h_k'(x) = sqrt(k) h_{k-1}(x)`.
    `I2` and `J2` are computed by Gauss-Hermite quadrature on the Cholesky factor of the
    covariance with `degree + 1` nodes per axis, which is exact for these polynomials (up to
    rounding); for unit variances it reduces to `I2 = C12^k`.
    """

    degree: int = eqx.field(static=True)
    name: ClassVar[str] = "hermite"
    closed_forms: ClassVar[frozenset[str]] = frozenset({"i2", "j2"})

    def __check_init__(self):
        if not isinstance(self.degree, int) or self.degree < 0:
            raise ValueError(f"Hermite degree must be an integer >= 0, got {self.degree!r}")

    def __call__(self, x):
        x = jnp.asarray(x)
        return _hermite_e(self.degree, x) / math.sqrt(math.factorial(self.degree))

    def derivative(self, x):
        x = jnp.asarray(x)
        if self.degree == 0:
            return jnp.zeros_like(x)
        return math.sqrt(self.degree) * Hermite(self.degree - 1)(x)

    def _quadrature(self, cov: Array, f1, f2) -> Array:
        nodes, weights = np.polynomial.hermite_e.hermegauss(self.degree + 1)
        z = jnp.asarray(nodes, cov.dtype)
        w = jnp.asarray(weights / math.sqrt(2 * math.pi), cov.dtype)
        a, c, b = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 1]
        sa = jnp.sqrt(jnp.maximum(a, 0.0))
        l21 = jnp.where(sa > 0, c / jnp.where(sa > 0, sa, 1.0), 0.0)
        l22 = jnp.sqrt(jnp.maximum(b - l21 * l21, 0.0))
        lead = (1,) * sa.ndim
        z1, z2 = z.reshape(*lead, -1, 1), z.reshape(*lead, 1, -1)
        u = sa[..., None, None] * z1
        v = l21[..., None, None] * z1 + l22[..., None, None] * z2
        return jnp.einsum("...ij,i,j->...", f1(u) * f2(v), w, w)

    def i2(self, cov):
        c = _check_cov(cov, 2, "i2")
        return self._quadrature(c, self, self)

    def j2(self, cov):
        c = _check_cov(cov, 2, "j2")
        return self._quadrature(c, self.derivative, self.derivative)


@final
class HermiteSeries(AbstractActivation):
    """A finite sum of normalised Hermite polynomials, `g(x) = sum_k c_k h_k(x)`, with `coefficients`
    `c_k` indexed by the degree k. For unit vectors u, w and `x ~ N(0, I)`,
    `E[g(u . x) g(w . x)] = sum_k c_k^2 (u . w)^k` (`dual`): what the emergence theory of Ren et al.
    needs. Name: `"0.8*hermite4+0.6*hermite6"` (a term without a factor has c = 1)."""

    coefficients: tuple[float, ...] = eqx.field(static=True)
    name: ClassVar[str] = "hermite_series"

    def __check_init__(self):
        if not self.coefficients or not all(math.isfinite(c) for c in self.coefficients):
            raise ValueError(f"Hermite series coefficients must be finite numbers, got {self.coefficients!r}")

    def __call__(self, x):
        x = jnp.asarray(x)
        return sum((c * Hermite(k)(x) for k, c in enumerate(self.coefficients) if c != 0), jnp.zeros_like(x))

    def derivative(self, x):
        x = jnp.asarray(x)
        return sum((c * Hermite(k).derivative(x) for k, c in enumerate(self.coefficients) if c != 0), jnp.zeros_like(x))

    def dual(self, rho: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
        """`sum_k c_k^2 rho^k`: the correlation of the outputs of two unit-norm fields of correlation rho."""
        rho = jnp.asarray(rho)
        return sum((c * c * rho**k for k, c in enumerate(self.coefficients) if c != 0), jnp.zeros_like(rho))


def hermite_series(activation: AbstractActivation) -> HermiteSeries:
    """`activation` as a `HermiteSeries` (a `Hermite` is the series with one term); ValueError for others."""
    if isinstance(activation, HermiteSeries):
        return activation
    if isinstance(activation, Hermite):
        return HermiteSeries(tuple(float(k == activation.degree) for k in range(activation.degree + 1)))
    raise ValueError(f"activation {activation.name!r} is not a finite Hermite series")


_FIXED = {"erf": Erf, "linear": Linear, "relu": ReLU, "tanh": Tanh}
_HERMITE = re.compile(r"hermite(\d+)$")
_TERM = re.compile(r"(?:([0-9.eE+-]+)\*)?hermite(\d+)$")
ACTIVATION_NAMES = (*_FIXED, "hermite<k>", "<c>*hermite<k>+<c>*hermite<k>...")


def _series_from_name(name: str) -> HermiteSeries | None:
    terms = [_TERM.fullmatch(term.strip()) for term in re.split(r"\+(?=\s*(?:[0-9.]|hermite))", name)]
    if len(terms) < 2 and "*" not in name or not all(terms):
        return None
    coefficients: dict[int, float] = {}
    for term in terms:
        degree = int(term.group(2))
        if degree in coefficients or degree > 64:
            return None
        try:
            coefficients[degree] = float(term.group(1)) if term.group(1) else 1.0
        except ValueError:
            return None
    return HermiteSeries(tuple(coefficients.get(k, 0.0) for k in range(max(coefficients) + 1)))


def activation_from_name(name: str) -> AbstractActivation:
    """The activation called `name`: `erf`, `linear`, `relu`, `tanh`, `hermite<k>` (e.g. `hermite2`),
    or a Hermite series such as `0.8*hermite4+0.6*hermite6`."""
    if name in _FIXED:
        return _FIXED[name]()
    match = _HERMITE.fullmatch(name)
    if match:
        return Hermite(int(match.group(1)))
    series = _series_from_name(name)  # a non-finite coefficient raises in HermiteSeries
    if series is not None:
        return series
    raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATION_NAMES)}")
