"""A stiff diffrax solver: the Rosenbrock method RODAS4 with a user-supplied linear solve.

Rosenbrock methods replace the Newton iterations of an implicit Runge-Kutta method by one linear
solve per stage with the same matrix `I - h gamma J`, `J = df/dy` at the step's start. For an
`s`-stage method in the transformed form of Hairer & Wanner (*Solving ODEs II*, section IV.7)

    (I / (h gamma) - J) K_i = f(t0 + a_i h, y0 + sum_{j<i} A_ij K_j) + sum_{j<i} (C_ij / h) K_j
                              + g_i h df/dt(t0, y0)
    y1 = y0 + sum_i m_i K_i,       error estimate sum_i e_i K_i.

RODAS4 (Hairer & Wanner) has 6 stages, is L-stable and stiffly accurate, of order 4 with an
embedded method of order 3; its coefficients are the published ones, and the tests check the
order on a smooth problem and the exact solution of a stiff linear one.

The solve is what makes large order-parameter systems tractable: a solver gets `factorise(t, y,
args, c)`, which returns `x -> (I - c J(t, y))^-1 x` in whatever way the problem's structure allows
(`dense_factorise` builds the dense Jacobian, for small states; the eigen-block ODE supplies a
block-diagonal-plus-low-rank solve, `EigenBlockODE.factorise`).
"""

from collections.abc import Callable
from typing import Any, ClassVar

import diffrax
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import jax.tree_util as jtu
import numpy as np


__all__ = ["Rodas4", "dense_factorise"]


def _tableau():
    """RODAS4 in the transformed form: stage times `a`, `gamma_i` (for df/dt), `A`, `C`, `m`, `e`."""
    a = np.array([0.0, 0.386, 0.210, 0.630, 1.0, 1.0])
    g = np.array([0.25, -0.1043, 0.1035, -0.0362, 0.0, 0.0])
    big_a = np.zeros((6, 6))
    big_c = np.zeros((6, 6))
    big_a[1, 0] = 1.544
    big_a[2, :2] = [0.9466785280815826, 0.2557011698983284]
    big_a[3, :3] = [3.314825187068521, 2.896124015972201, 0.9986419139977817]
    big_a[4, :4] = [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950]
    big_a[5, :5] = [*big_a[4, :4], 1.0]
    big_c[1, 0] = -5.6688
    big_c[2, :2] = [-2.430093356833875, -0.2063599157091915]
    big_c[3, :3] = [-0.1073529058151375, -9.594562251023355, -20.47028614809616]
    big_c[4, :4] = [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160]
    big_c[5, :5] = [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136, -6.058818238834054]
    m = np.array([*big_a[4, :4], 1.0, 1.0])
    e = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    return a, g, big_a, big_c, m, e


_A_TIMES, _G, _A, _C, _M, _E = _tableau()
_GAMMA = 0.25


def dense_factorise(vector_field: Callable) -> Callable:
    """A `factorise` for `Rodas4` that builds the dense Jacobian of `vector_field` with `jax.jacfwd`
    on the flattened state and LU-factorises `I - c J`: fine for states of up to a few hundred
    entries."""

    def factorise(t, y, args, c):
        flat, unravel = jax.flatten_util.ravel_pytree(y)

        def flat_field(z):
            return jax.flatten_util.ravel_pytree(vector_field(t, unravel(z), args))[0]

        jac = jax.jacfwd(flat_field)(flat)
        lu = jsl.lu_factor(jnp.eye(flat.shape[0], dtype=flat.dtype) - c * jac)

        def solve(b):
            return unravel(jsl.lu_solve(lu, jax.flatten_util.ravel_pytree(b)[0]))

        return solve

    return factorise


def _combine(y, coefficients, ks, scale=1.0):
    """`y + scale sum_j coefficients[j] ks[j]` over PyTrees; the coefficients are static numbers,
    and zero ones are skipped."""
    terms = [(float(c), k) for c, k in zip(coefficients, ks) if c != 0.0]
    if not terms:
        return y

    def leaf(y_, *k_):
        return y_ + scale * sum(c * x for (c, _), x in zip(terms, k_))

    return jtu.tree_map(leaf, y, *[k for _, k in terms])


class Rodas4(diffrax.AbstractAdaptiveSolver):
    """RODAS4 (module docstring) for `diffrax.diffeqsolve` with an `ODETerm`.

    **Arguments:**

    - `factorise`: `(t, y, args, c) -> solve`, where `solve(b)` returns `(I - c J)^-1 b` for the
      Jacobian `J` of the vector field at `(t, y)`; `dense_factorise(vector_field)` for small
      states.

    Dense output is linear between steps, so save on step ends: `solve_ode` passes its save times to
    the controller's `step_ts` when this solver is used.
    """

    factorise: Callable[..., Callable]

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar = diffrax.LocalLinearInterpolation

    def order(self, terms):
        return 4

    def error_order(self, terms):
        return 4

    def init(self, terms, t0, t1, y0, args) -> None:
        return None

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump) -> tuple[Any, Any, dict, None, Any]:
        del solver_state, made_jump
        h = t1 - t0
        solve = self.factorise(t0, y0, args, _GAMMA * h)
        _, dfdt = jax.jvp(lambda t: terms.vf(t, y0, args), (t0,), (jnp.ones_like(t0),))
        ks = []
        for i in range(6):
            stage_y = _combine(y0, _A[i, :i], ks)
            f = terms.vf(t0 + _A_TIMES[i] * h, stage_y, args)
            coupling = _combine(f, _C[i, :i], ks, 1 / h)
            rhs = jtu.tree_map(lambda x, d: x + (_G[i] * h) * d, coupling, dfdt) if _G[i] else coupling
            ks.append(jtu.tree_map(lambda x: (_GAMMA * h) * x, solve(rhs)))
        y1 = _combine(y0, _M, ks)
        y_error = _combine(jtu.tree_map(jnp.zeros_like, y0), _E, ks)
        # A step into a region where the field is not finite is rejected (infinite error), and the
        # controller shrinks the step, as diffrax's implicit solvers do after a failed root find.
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jtu.tree_leaves(y1)]))
        y_error = jtu.tree_map(lambda x: jnp.where(finite, x, jnp.inf), y_error)
        return y1, y_error, dict(y0=y0, y1=y1), None, diffrax.RESULTS.successful
