"""Fits of learning curves: robust, multi-start, in log space, with uncertainties over seeds.

A fit minimises the mean Huber loss of the log residuals `ln f(x; theta) - ln y` (robust to a few
outlying points, quadratic for small ones: `huber_delta` is in units of ln y, so 0.1 is a 10 %
deviation), in float64 with optax: Adam from every initial guess of the form at once (vmapped), then
L-BFGS from the best. Parameters are constrained by reparametrisation (`_forms`).

**Uncertainty.** With several seeds (`runs` of shape (S, T)) the fitted curve is the seed mean, and
the intervals come from a bootstrap over seeds: resample the S rows with replacement and refit
the mean; the interval is `theta ± t_{S-1} sd` in the unconstrained parameters, with `sd` the
bootstrap standard deviation times `sqrt(S / (S - 1))` and `t_{S-1}` the 97.5 % Student quantile
(plain percentiles of a bootstrap over a handful of seeds cover the truth only about 85 % of the
time; this covers it at about the nominal rate, tested). With one curve they come from the curvature of the loss
(Gauss-Newton, residual variance from the fit). A parameter along a (near) flat direction of the
loss, or whose bootstrap spread exceeds a factor `e^3`, is reported as **undetermined** with no
interval, rather than as a confident number (so is the break of a broken power law whose two
exponents do not differ significantly); an offset fitted at its bound 0 gets the interval
`[0, upper]` instead.
"""

import functools
import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import ArrayLike, Float

from ._forms import Form, form_from_name


__all__ = ["Fit", "FitError", "fit_curve", "student_t_quantile"]

_ADAM_STEPS = 1500
_LBFGS_STEPS = 300
_FLAT = 1e-6  # singular values of the residual Jacobian below this x the largest: flat directions
_SPREAD = 3.0  # bootstrap standard deviation of an unconstrained parameter beyond which it is undetermined


class FitError(ValueError):
    """The data cannot be fitted (too few points, non-finite or non-positive values, a constant curve)."""


@dataclass(frozen=True)
class Fit:
    """A fitted form: `form` (its name), `params` (name -> value), `intervals` (name -> (low, high),
    95 %, or None when undetermined), `window` (x_min, x_max), `loss` (mean Huber loss of the log
    residuals), how the intervals and the window were found, and `form_object`, the `Form` itself,
    which `curve` evaluates (so a custom form, not in `FORMS`, is evaluated as fitted)."""

    form: str
    params: dict[str, float]
    intervals: dict[str, tuple[float, float] | None]
    window: tuple  # (x_min, x_max); per variable, (mins, maxs), for a law of several
    loss: float
    undetermined: tuple[str, ...] = ()
    interval_method: str = ""
    window_method: str = "full range"
    theta: np.ndarray = field(default=None, repr=False)
    form_object: Form | None = field(default=None, repr=False)

    def curve(self, x: Float[ArrayLike, " T"]) -> np.ndarray:
        """The fitted curve at `x`: `form_object` at `theta` (the built-in form named `form` for a
        `Fit` made without its form object)."""
        form = form_from_name(self.form) if self.form_object is None else self.form_object
        return np.asarray(form(jnp.asarray(x, jnp.float64), jnp.asarray(self.theta)))

    def to_json(self) -> dict:
        return {
            "form": self.form,
            "params": self.params,
            "intervals": {k: None if v is None else list(v) for k, v in self.intervals.items()},
            "window": list(self.window),
            "loss": self.loss,
            "undetermined": list(self.undetermined),
            "interval_method": self.interval_method,
            "window_method": self.window_method,
        }


def _checked(x, runs, form: Form) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, np.float64)
    runs = np.asarray(runs, np.float64)
    runs = runs[None] if runs.ndim == 1 else runs
    if x.ndim not in (1, 2) or runs.ndim != 2 or runs.shape[1] != x.shape[0]:
        raise FitError(f"need x (T,) or (T, d) and y (T,) or (S, T), got {x.shape} and {runs.shape}")
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(runs)):
        raise FitError("the data contain NaN or infinite values (a diverged run?); drop them or choose a window")
    if np.any(x <= 0):
        raise FitError(f"fits are made in log space: x must be > 0, got x = {x.reshape(-1)[np.argmax(x <= 0)]:g}")
    if np.any(runs <= 0):
        run, point = np.argwhere(runs <= 0)[0]
        where = f"x = {np.round(x[point], 4)}" + (f" (run {run})" if runs.shape[0] > 1 else "")
        raise FitError(f"fits are made in log space: y must be > 0, got y = {runs[run, point]:.3g} at {where}")
    if x.shape[0] < len(form.names) + 2:
        raise FitError(
            f"{form.name} has {len(form.names)} parameters: need at least {len(form.names) + 2} points, "
            f"got {x.shape[0]}"
        )
    mean = runs.mean(0)
    if mean.max() / mean.min() - 1 < 1e-9:
        raise FitError("the curve is constant: it determines no exponent")
    return x, runs


def _loss(form: Form, theta, x, ly, delta):
    residual = jnp.log(form(x, theta)) - ly
    return jnp.mean(optax.losses.huber_loss(residual, delta=delta))


@functools.partial(jax.jit, static_argnums=(0, 5))
def _adam(form: Form, thetas, x, ly, delta, steps: int):
    """Adam from every row of `thetas` (each with its own data row `ly`)."""
    optimiser = optax.adam(optax.cosine_decay_schedule(0.05, steps, 0.02))

    def run(theta, ly_):
        value_and_grad = jax.value_and_grad(lambda t: _loss(form, t, x, ly_, delta))

        def step(carry, _):
            t, state = carry
            _, grad = value_and_grad(t)
            grad = jnp.where(jnp.isfinite(grad), grad, 0.0)
            updates, state = optimiser.update(grad, state, t)
            return (optax.apply_updates(t, updates), state), None

        (theta, _), _ = jax.lax.scan(step, (theta, optimiser.init(theta)), None, length=steps)
        return theta, _loss(form, theta, x, ly_, delta)

    return jax.vmap(run)(thetas, ly)


@functools.partial(jax.jit, static_argnums=0)
def _lbfgs(form: Form, theta, x, ly, delta):
    optimiser = optax.lbfgs()
    fun = functools.partial(lambda f, t: _loss(f, t, x, ly, delta), form)
    value_and_grad = optax.value_and_grad_from_state(fun)

    def step(carry, _):
        t, state = carry
        value, grad = value_and_grad(t, state=state)
        updates, state = optimiser.update(grad, state, t, value=value, grad=grad, value_fn=fun)
        new = optax.apply_updates(t, updates)
        ok = jnp.all(jnp.isfinite(new)) & jnp.isfinite(fun(new))
        return (jnp.where(ok, new, t), state), None

    (theta, _), _ = jax.lax.scan(step, (theta, optimiser.init(theta)), None, length=_LBFGS_STEPS)
    return theta, fun(theta)


def _best_fit(form: Form, x, mean, delta) -> tuple[np.ndarray, float]:
    guesses = np.stack([form.unconstrain(g) for g in form.guesses(x, mean)])
    ly = np.broadcast_to(np.log(mean), (guesses.shape[0], mean.size))
    thetas, losses = _adam(form, jnp.asarray(guesses), jnp.asarray(x), jnp.asarray(ly), delta, _ADAM_STEPS)
    losses = np.where(np.isfinite(losses), np.asarray(losses), np.inf)
    best = int(np.argmin(losses))
    theta, loss = _lbfgs(form, thetas[best], jnp.asarray(x), jnp.asarray(np.log(mean)), delta)
    if not float(loss) <= losses[best]:
        theta, loss = thetas[best], losses[best]
    return np.asarray(theta), float(loss)


def _flat_parameters(form: Form, theta, x, ly) -> tuple[np.ndarray, np.ndarray]:
    """`(flat, covariance)`: a mask of parameters along near-null directions of the residual
    Jacobian, and the Gauss-Newton covariance of theta (pseudo-inverse)."""
    jac = np.asarray(jax.jacfwd(lambda t: jnp.log(form(jnp.asarray(x), t)) - ly)(jnp.asarray(theta)))
    _, s, vt = np.linalg.svd(jac, full_matrices=False)
    null = s < _FLAT * max(s.max(), 1e-300)
    flat = np.any(np.abs(vt[null]) > 0.3, axis=0) if null.any() else np.zeros(theta.size, bool)
    residual = np.log(np.asarray(form(jnp.asarray(x), jnp.asarray(theta)))) - ly
    variance = float(residual @ residual) / max(x.size - theta.size, 1)
    return flat, variance * np.linalg.pinv(jac.T @ jac, rcond=_FLAT**2)


def fit_curve(
    x: Float[ArrayLike, " T *d"],
    runs: Float[ArrayLike, "*S T"],
    form: str | Form,
    *,
    window: tuple[float, float] | None = None,
    huber_delta: float = 0.1,
    bootstrap: int = 200,
    seed: int = 0,
) -> Fit:
    """Fit `form` to the seed mean of `runs` ((T,) or (S, T)) against `x` ((T,), or (T, d) for a
    law of d variables such as `JOINT_POWER_LAW`), within `window` (inclusive; default all of x;
    one variable only), with 95 % intervals (module docstring).

    Raises `FitError` for data that cannot be fitted: non-finite or non-positive values, fewer
    than P + 2 points in the window, a constant curve.
    """
    form = form_from_name(form) if isinstance(form, str) else form
    # optax mixes Python floats and int32 step counts: allow standard promotion whatever the caller set.
    with jax.numpy_dtype_promotion("standard"):
        return _fit_curve(x, runs, form, window, huber_delta, bootstrap, seed)


def _fit_curve(x, runs, form: Form, window, huber_delta: float, bootstrap: int, seed: int) -> Fit:
    x = np.asarray(x, np.float64)
    runs = np.asarray(runs, np.float64)
    if window is not None:
        low, high = window
        if not low < high:
            raise FitError(f"the window must have x_min < x_max, got {window}")
        if x.ndim != 1:
            raise FitError("a window applies to one variable: select the points of a law of several before fitting")
        keep = (x >= low) & (x <= high)
        x, runs = x[keep], runs[..., keep]
    x, runs = _checked(x, runs, form)
    mean = runs.mean(0)
    theta, loss = _best_fit(form, x, mean, huber_delta)
    flat, covariance = _flat_parameters(form, theta, x, np.log(mean))
    seeds = runs.shape[0]
    if seeds > 1 and bootstrap > 0:
        rng = np.random.default_rng(seed)
        rows = rng.integers(0, seeds, size=(bootstrap, seeds))
        means = runs[rows].mean(1)  # (B, T)
        starts = np.broadcast_to(theta, (bootstrap, theta.size))
        samples, _ = _adam(form, jnp.asarray(starts), jnp.asarray(x), jnp.asarray(np.log(means)), huber_delta, 500)
        samples = np.asarray(samples)
        sd = np.std(samples, axis=0) * math.sqrt(seeds / (seeds - 1))
        flat |= ~np.all(np.isfinite(samples), axis=0) | (sd > _SPREAD)
        width = student_t_quantile(0.975, seeds - 1) * sd
        low, high = theta - width, theta + width
        method = f"bootstrap over seeds ({bootstrap} resamples of {seeds}, Student-t width)"
    else:
        sd = np.sqrt(np.maximum(np.diagonal(covariance), 0.0))
        flat |= sd > _SPREAD
        low, high = theta - 1.96 * sd, theta + 1.96 * sd
        method = "curvature of the loss (one curve)"
    if {"exponent_1", "exponent_2", "break"} <= set(form.names):
        # The break is identified only when the two exponents differ: if their difference is
        # consistent with 0, the data show one power law and no break. (Decided by the parameter
        # names, not the form's name: a custom form may reuse a built-in name.)
        i, j, k = (form.names.index(n) for n in ("exponent_1", "exponent_2", "break"))
        if seeds > 1 and bootstrap > 0:
            difference = samples[:, j] - samples[:, i]
            spread = student_t_quantile(0.975, seeds - 1) * np.std(difference) * math.sqrt(seeds / (seeds - 1))
        else:
            spread = 1.96 * math.sqrt(max(covariance[i, i] + covariance[j, j] - 2 * covariance[i, j], 0.0))
        if abs(theta[j] - theta[i]) <= spread:
            flat[k] = True
    values = np.asarray(form.constrain(jnp.asarray(theta)))
    # The transforms are increasing, so the interval of a parameter is that of theta, mapped.
    lows = np.asarray(form.constrain(jnp.asarray(np.minimum(low, theta))))
    highs = np.asarray(form.constrain(jnp.asarray(np.maximum(high, theta))))
    names = form.names
    intervals = {n: None if flat[i] else (float(lows[i]), float(highs[i])) for i, n in enumerate(names)}
    for i, name in enumerate(names):
        # An offset driven to its bound: softplus(theta -> -inf) is flat, but the data bound it above.
        if flat[i] and form.transforms[i] == "softplus" and values[i] < 1e-4 * mean.min():
            upper = np.percentile(samples[:, i], 97.5) if seeds > 1 and bootstrap > 0 else theta[i]
            intervals[name] = (0.0, float(form.constrain(jnp.where(jnp.arange(theta.size) == i, upper, theta))[i]))
            flat[i] = False
    return Fit(
        form=form.name,
        params={n: float(v) for n, v in zip(names, values)},
        intervals=intervals,
        window=(float(x[0]), float(x[-1])) if x.ndim == 1 else (x.min(0).tolist(), x.max(0).tolist()),
        loss=loss,
        undetermined=tuple(n for i, n in enumerate(names) if flat[i]),
        interval_method=method,
        theta=theta,
        form_object=form,
    )


def student_t_quantile(p: float, dof: int) -> float:
    """The `p` quantile (p > 1/2) of Student's t with `dof` degrees of freedom, by bisection on its
    CDF `1 - I_{dof / (dof + t^2)}(dof / 2, 1 / 2) / 2`."""
    low, high = 0.0, 1e3
    for _ in range(100):
        middle = 0.5 * (low + high)
        cdf = 1 - 0.5 * float(jax.scipy.special.betainc(dof / 2, 0.5, dof / (dof + middle**2)))
        low, high = (middle, high) if cdf < p else (low, middle)
    return 0.5 * (low + high)
