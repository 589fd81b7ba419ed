"""The order-parameter theories of two-layer students: the soft-committee ODE (isotropic inputs) and
the eigen-block ODE (power-law inputs), solved per seed from the simulation's own initial overlaps.

Every variant and seed is one lane of a single vmapped solve. For power-law data all variants are
solved on the finest partition among their spectra: a coarser spectrum is the same spectrum on
the fine blocks, its eigenvalue repeated on the sub-blocks of each of its blocks, and the block
ODE on a refined partition is exact (each block's drift is linear in its own overlaps), so the
sums over sub-blocks follow the coarse ODE. One solve compiles once, however many spectra are swept.
"""

from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._cost import UNIT_SECONDS, ode_steps
from .._observables import overlaps
from .._setup import Networks, Setup, TwoLayerStudentSpec
from .._sharding import shard_leading_axis
from ._abstract import AbstractTheory, Trajectory, lanes, masked
from ._blocks import BlockArgs, BlockState, EigenBlockODE
from ._driver import check_step_limit, padded_times
from ._plateau_record import plateau_reason, plateau_record
from ._rosenbrock import Rodas4, dense_factorise
from ._scm import SCMArgs, SCMState, SoftCommitteeODE, solve_soft_committee


__all__ = ["EigenBlockTheory", "InitialOverlaps", "SoftCommitteeTheory"]

STIFF_EIGENVALUE_RATIO = 100.0


class InitialOverlaps(eqx.Module):
    """Per-seed initial order parameters (float64): `q` (S, K, K), `r` (S, K, M), `t` (S, M, M), the
    student's second layer `v` (S, K), the teacher's `a` (S, M); for block data the block overlaps
    `q_blocks` (S, L, K, K), `r_blocks` (S, L, K, M), `t_blocks` (S, L, M, M) on the finest partition."""

    q: np.ndarray
    r: np.ndarray
    t: np.ndarray
    v: np.ndarray
    a: np.ndarray
    q_blocks: np.ndarray | None = None
    r_blocks: np.ndarray | None = None
    t_blocks: np.ndarray | None = None


def _common_reason(setup: Setup) -> str | None:
    activation = setup.student.activation
    if setup.teacher.activation != activation:
        return "student and teacher activations differ"
    if not {"i2", "i3", "i4", "j2"} <= activation.closed_forms:
        return f"activation {activation.name!r} has no closed-form I3/I4 (the ODE needs erf or linear)"
    return None


_STEPS_PER_DECADE = 300  # adaptive steps of a plateau-and-escape solve at the default tolerances
_INTEGRAL_UNITS = 6  # one closed-form Gaussian integral (an arcsine: about 31 ns)


class _AbstractOrderParameterTheory(AbstractTheory):
    """The shared solve of the two ODEs; subclasses choose the ODE and whether it is block-resolved."""

    students: ClassVar[tuple[type, ...]] = (TwoLayerStudentSpec,)
    blocks: ClassVar[bool]
    trace_seconds: ClassVar[float] = 2.5

    def initial_state(self, setup: Setup, networks: list[Networks]) -> InitialOverlaps:
        (net,) = networks
        w, b = (jnp.asarray(x).astype(jnp.float64) for x in (net.students.first, net.teachers.first))
        overlap = jax.vmap(setup.variants.partition.block_overlaps)
        blocks = {}
        if self.blocks:
            qb, rb, tb = (np.asarray(overlap(x, y)) for x, y in ((w, w), (w, b), (b, b)))
            blocks = dict(q_blocks=qb, r_blocks=rb, t_blocks=tb)
        q, r, t = (np.asarray(jax.vmap(overlaps)(x, y)) for x, y in ((w, w), (w, b), (b, b)))
        v = np.asarray(net.students.second, np.float64)
        return InitialOverlaps(q, r, t, v, np.asarray(net.teachers.second, np.float64), **blocks)

    def estimate_seconds(self, setup: Setup) -> float:
        """Every lane (variant x seed) at `_STEPS_PER_DECADE` solver steps per decade of alpha, six
        evaluations of the right-hand side each, whose `K^2 (K + M)^2` Gaussian integrals (`I4`, an
        arcsine each for erf; vectorised, a quarter of `_INTEGRAL_UNITS` each, and 64 for the rest)
        cost about `_INTEGRAL_UNITS` units; the block ODE adds `L K (K + M)` updates per integral
        pair, and its stiff solve the blocks' `(K^2 + K M)^3` factorisations. A symmetric plateau's
        prediction (`plateau_record`) triples it."""
        k, m = max(setup.variants.hidden), setup.teacher.hidden
        lanes = setup.variants.size * max(setup.seeds, 1)
        evaluation = _INTEGRAL_UNITS * (64 + k * k * (k + m) ** 2 / 4)
        if self.blocks:
            evaluation += setup.blocks * k * (k + m) ** 2
            if self._solver(setup, self._ode(setup)) is not None:
                evaluation += setup.blocks * (k * k + k * m) ** 3 / 6
        seconds = UNIT_SECONDS * lanes * 6 * ode_steps(setup.grid.times, _STEPS_PER_DECADE) * evaluation
        if setup.theory.plateau and plateau_reason(setup) is None:
            seconds *= 3  # per lane the plateau's prediction: a tangent solve and the manifold's escape
        return seconds

    def _ode(self, setup: Setup):
        student = setup.student
        return (EigenBlockODE if self.blocks else SoftCommitteeODE)(
            student.activation,
            student.hidden,
            setup.teacher.hidden,
            student.output,
            setup.teacher.output,
            student.train_second_layer,
        )

    def _solver(self, setup: Setup, ode) -> diffrax.AbstractSolver | None:
        """Tsit5 (None), or Rodas4 with the ODE's structured (block ODE) or dense solve. `auto` takes
        the stiff solver for the block ODE when the eigenvalues of a variant span at least
        `STIFF_EIGENVALUE_RATIO`: the block rates scale with the eigenvalues, so an explicit solver's
        step is then set by stability (at L = 256, beta = 1, Rodas4 is 6x faster and 10^4 times more
        accurate at the same tolerance)."""
        choice = setup.theory.solver
        if choice == "auto":
            lam = np.atleast_2d(setup.variants.eigenvalues)
            stiff = self.blocks and np.max(lam.max(-1) / lam.min(-1)) >= STIFF_EIGENVALUE_RATIO
            choice = "stiff" if stiff else "explicit"
        if choice == "explicit":
            return None
        return Rodas4(ode.factorise if self.blocks else dense_factorise(ode))

    def _lanes(self, setup: Setup, initial: InitialOverlaps):
        """The state and args of every lane (variant-major, H * S of them)."""
        variants, seeds = setup.variants.size, initial.q.shape[0]
        tile, per_lane = lanes(variants, seeds)
        eta, eta_v = per_lane(setup.variants.learning_rates), per_lane(setup.variants.second_layer_rates)
        noise = jnp.full(variants * seeds, setup.teacher.noise_std, jnp.float64)
        v = tile(initial.v)
        if (scale := setup.second_layer_scale()) is not None:  # padded widths: inert units have v = 0
            v = v * per_lane(scale)
        if not self.blocks:
            # Isotropic data (the SCM ODE wants the field covariance T = B Sigma B^T / N = T).
            return SCMState(tile(initial.q), tile(initial.r), v), SCMArgs(
                eta, eta_v, tile(initial.t), tile(initial.a), noise
            )
        finest = setup.blocks
        state = BlockState(tile(initial.q_blocks), tile(initial.r_blocks), v)
        visible = None
        if setup.student.visible_blocks is not None:
            # The leading visible_blocks blocks of each variant's own partition.
            per_block = np.asarray([finest // d.distinct for d in setup.variants.spectra])
            coarse = np.arange(finest)[None, :] // per_block[:, None]
            visible = per_lane((coarse < setup.student.visible_blocks).astype(np.float64))
        lam = per_lane(setup.variants.eigenvalues)
        args = BlockArgs(eta, eta_v, tile(initial.t_blocks), lam, tile(initial.a), noise, visible)
        return state, args

    def solve(self, setup: Setup, state0: InitialOverlaps) -> Trajectory:
        ode = self._ode(setup)
        options = setup.theory
        alpha = setup.grid.times
        variants, seeds = setup.variants.size, state0.q.shape[0]
        solver = self._solver(setup, ode)
        solve = jax.vmap(
            lambda s, a: solve_soft_committee(
                ode,
                s,
                a,
                jnp.asarray(padded_times(alpha)),
                rtol=options.rtol,
                atol=options.atol,
                max_steps=options.max_steps,
                blowup=setup.divergence_threshold,
                solver=solver,
            )
        )
        lanes = self._lanes(setup, state0)
        solution, eps = solve(*shard_leading_axis(lanes, batch_loop=True))
        check_step_limit(solution, "the theory")
        ys = jax.tree_util.tree_map(lambda x: np.asarray(x[:, : len(alpha)]), solution.ys)
        eps = np.asarray(eps[:, : len(alpha)])
        failed = np.asarray(solution.result != diffrax.RESULTS.successful)
        bad, diverged_alpha = masked(eps, failed, alpha, setup.divergence_threshold)
        q, r = ys.q, ys.r
        curves = {"eps_g_theory": eps}
        shared = {"T_theory": state0.t}
        if self.blocks:
            curves.update(Q_theory=q.sum(2), R_theory=r.sum(2), Q_blocks_theory=q, R_blocks_theory=r)
            shared["T_blocks_theory"] = state0.t_blocks
        else:
            curves.update(Q_theory=q, R_theory=r)
        if setup.student.train_second_layer:
            curves["v_theory"] = ys.v
        per_variant = {}
        for name, x in curves.items():
            x = x.copy()
            x[bad] = np.nan
            per_variant[name] = x.reshape(variants, seeds, *x.shape[1:])
        summary = {}
        if options.plateau:
            curves = np.where(bad, np.nan, eps).reshape(variants, seeds, -1)
            summary["plateau"] = plateau_record(setup, state0, curves, ode, lanes, solver)
        return Trajectory(alpha, per_variant, shared, diverged_alpha.reshape(variants, seeds), summary)


class SoftCommitteeTheory(_AbstractOrderParameterTheory):
    """The soft-committee-machine ODE of `SoftCommitteeODE` for isotropic inputs."""

    description: ClassVar[str] = (
        "soft committee machine ODE (Saad & Solla 1995; Goldt et al. 2019), solved per seed from the "
        "simulation's initial order parameters"
    )
    blocks: ClassVar[bool] = False

    def why_not(self, setup: Setup) -> str | None:
        if (reason := _common_reason(setup)) is not None:
            return reason
        return "the inputs are not isotropic" if setup.power_law else None


class EigenBlockTheory(_AbstractOrderParameterTheory):
    """The eigen-resolved ODE of `EigenBlockODE` for inputs with L distinct eigenvalues."""

    description: ClassVar[str] = (
        "eigen-resolved soft committee machine ODE for L distinct input eigenvalues (Worschech & Rosenow, "
        "arXiv 2410.09005; derivation in scalinglaws.theory._blocks), solved per seed from the simulation's "
        "initial block overlaps"
    )
    blocks: ClassVar[bool] = True

    def why_not(self, setup: Setup) -> str | None:
        if (reason := _common_reason(setup)) is not None:
            return reason
        return None if setup.power_law else "the inputs are isotropic"
