"""Functional forms of learning curves, with positivity by reparametrisation.

Every form maps an unconstrained vector `theta` to named parameters (`exp` for scales, breaks and
positive exponents, `softplus` for offsets that may reach zero, the identity for free exponents) and
evaluates a curve that is positive for every `theta`, so it can be fitted in log space:

- `power_law`:         y = offset + amplitude x^-exponent                    (offset >= 0, amplitude, exponent > 0)
- `pure_power_law`:    y = amplitude x^-exponent                             (a straight line in log-log; exponent free)
- `broken_power_law`:  y = amplitude (x/break)^-exponent_1 [1 + (x/break)^s]^(-(exponent_2 - exponent_1)/s)
                       two power laws joined smoothly at `break` (sharpness s = `BREAK_SHARPNESS`;
                       exponents free)
- `plateau_power_law`: y = offset + plateau (1 + x/crossover)^-exponent     (a plateau, then a power law)
- `exponential`:       y = offset + amplitude exp(-rate x)

and, for two variables x = (x_1, x_2) of shape (T, 2), `JOINT_POWER_LAW`:
y = amplitude_1 x_1^-exponent_1 + amplitude_2 x_2^-exponent_2 + offset.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float


__all__ = ["BREAK_SHARPNESS", "FORMS", "JOINT_POWER_LAW", "Form", "form_from_name"]

BREAK_SHARPNESS = 2.0


def _softplus(z):
    return jnp.logaddexp(z, 0.0)


def _softplus_inverse(y: float) -> float:
    y = max(float(y), 1e-300)
    return y + math.log(-math.expm1(-y)) if y < 30 else y


_TRANSFORMS: dict[str, tuple[Callable, Callable]] = {
    "log": (jnp.exp, lambda y: math.log(max(float(y), 1e-300))),
    "softplus": (_softplus, _softplus_inverse),
    "free": (lambda z: z, float),
}


@dataclass(frozen=True)
class Form:
    """A functional form: parameter names, their transforms, the curve, and initial guesses.

    - `names`: the parameters, in order.
    - `transforms`: one of `"log"` (> 0), `"softplus"` (>= 0, reaches 0 smoothly), `"free"`, per name.
    - `curve(x, p)`: the curve for the constrained parameters `p` (an array in `names` order).
    - `guesses(x, y)`: initial constrained parameter vectors (rows) from the data: the fit starts
      from every one and keeps the best.
    """

    name: str
    names: tuple[str, ...]
    transforms: tuple[str, ...]
    curve: Callable[[Array, Array], Array]
    guesses: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def constrain(self, theta: Float[ArrayLike, " P"]) -> Float[Array, " P"]:
        return jnp.stack([_TRANSFORMS[t][0](theta[i]) for i, t in enumerate(self.transforms)])

    def unconstrain(self, params) -> np.ndarray:
        return np.array([_TRANSFORMS[t][1](v) for t, v in zip(self.transforms, params)])

    def __call__(self, x: Float[ArrayLike, " T *d"], theta: Float[ArrayLike, " P"]) -> Float[Array, " T"]:
        """The curve at `x` for unconstrained parameters `theta`."""
        return self.curve(x, self.constrain(theta))


def _grid(*axes) -> np.ndarray:
    return np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(axes), -1).T


def _power_law_guesses(x, y):
    low = float(y.min())
    rows = []
    for offset, exponent in _grid([1e-6 * low, 0.3 * low, 0.7 * low, 0.95 * low], [0.1, 0.3, 0.6, 1.0, 2.0]):
        amplitude = max(float(y[0]) - offset, 1e-3 * low) * float(x[0]) ** exponent
        rows.append([offset, amplitude, exponent])
    return np.asarray(rows)


def _pure_guesses(x, y):
    lx, ly = np.log(x), np.log(y)
    slope = (ly[-1] - ly[0]) / (lx[-1] - lx[0])
    return np.asarray([[math.exp(ly[0] + e * lx[0]), e] for e in (-slope, 0.5, 1.0, 2.0)])


def _broken_guesses(x, y):
    lx, ly = np.log(x), np.log(y)
    rows = []
    for q, first, second in _grid([0.2, 0.35, 0.5, 0.65, 0.8], [0.0, 0.5, 1.0], [0.5, 1.0, 2.0]):
        brk = math.exp(lx[0] + q * (lx[-1] - lx[0]))
        rows.append([math.exp(np.interp(math.log(brk), lx, ly)), first, second, brk])
    return np.asarray(rows)


def _plateau_guesses(x, y):
    lx = np.log(x)
    low = float(y.min())
    rows = []
    for q, exponent, offset in _grid([0.1, 0.3, 0.5, 0.7, 0.9], [0.5, 1.0, 2.0], [1e-6 * low, 0.5 * low]):
        rows.append([offset, max(float(y[0]) - offset, 1e-3 * low), math.exp(lx[0] + q * (lx[-1] - lx[0])), exponent])
    return np.asarray(rows)


def _exponential_guesses(x, y):
    low = float(y.min())
    rows = []
    for q, offset in _grid([0.05, 0.2, 0.5, 1.0, 3.0], [1e-6 * low, 0.5 * low, 0.9 * low]):
        rows.append([offset, max(float(y[0]) - offset, 1e-3 * low), q * 3.0 / float(x[-1] - x[0])])
    return np.asarray(rows)


def _broken(x, p):
    amplitude, first, second, brk = p[0], p[1], p[2], p[3]
    u = jnp.log(x / brk)
    s = BREAK_SHARPNESS
    return amplitude * jnp.exp(-first * u - (second - first) / s * jnp.logaddexp(s * u, 0.0))


FORMS: dict[str, Form] = {
    "power_law": Form(
        "power_law",
        ("offset", "amplitude", "exponent"),
        ("softplus", "log", "log"),
        lambda x, p: p[0] + p[1] * x ** (-p[2]),
        _power_law_guesses,
    ),
    "pure_power_law": Form(
        "pure_power_law",
        ("amplitude", "exponent"),
        ("log", "free"),
        lambda x, p: p[0] * x ** (-p[1]),
        _pure_guesses,
    ),
    "broken_power_law": Form(
        "broken_power_law",
        ("amplitude", "exponent_1", "exponent_2", "break"),
        ("log", "free", "free", "log"),
        _broken,
        _broken_guesses,
    ),
    "plateau_power_law": Form(
        "plateau_power_law",
        ("offset", "plateau", "crossover", "exponent"),
        ("softplus", "log", "log", "log"),
        lambda x, p: p[0] + p[1] * (1 + x / p[2]) ** (-p[3]),
        _plateau_guesses,
    ),
    "exponential": Form(
        "exponential",
        ("offset", "amplitude", "rate"),
        ("softplus", "log", "log"),
        lambda x, p: p[0] + p[1] * jnp.exp(-p[2] * x),
        _exponential_guesses,
    ),
}


def _joint_guesses(x, y):
    high, low = float(y.max()), float(y.min())
    first, second = float(np.min(x[:, 0])), float(np.min(x[:, 1]))
    rows = []
    for a, b, share, offset in _grid([0.3, 0.7, 1.5], [0.3, 0.7, 1.5], [0.2, 0.5, 0.8], [1e-6 * low, 0.5 * low]):
        rows.append([share * high * first**a, a, (1 - share) * high * second**b, b, offset])
    return np.asarray(rows)


# A law of two variables, x (T, 2): the form of compute-optimal scaling fits of language models,
# eps(N, alpha) = A N^-a + B alpha^-b + E (each term positive). Not in FORMS: it needs 2-D x.
JOINT_POWER_LAW = Form(
    "joint_power_law",
    ("amplitude_1", "exponent_1", "amplitude_2", "exponent_2", "offset"),
    ("log", "log", "log", "log", "softplus"),
    lambda x, p: p[0] * x[:, 0] ** (-p[1]) + p[2] * x[:, 1] ** (-p[3]) + p[4],
    _joint_guesses,
)


def form_from_name(name: str) -> Form:
    if name not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {name!r}")
    return FORMS[name]
