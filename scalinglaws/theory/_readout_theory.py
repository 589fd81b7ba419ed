"""The theory of a random-feature student trained online: the readout ODE per seed (`ReadoutODE`),
its eta -> 0 asymptote, its finite-eta stationary error and critical learning rate, and the
large-N Gaussian-equivalence limit where it applies (Worschech & Rosenow, arXiv 2303.14083).

Every seed's theory starts from that seed's own frozen features and teacher (`(C, b, tau)` under the
variant's spectrum, `scalinglaws._observables.network_feature_statistics`) and initial readout.
"""

from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._cost import LAPACK_FLOPS_PER_UNIT, UNIT_SECONDS, ode_steps
from .._models import output_scale
from .._setup import Networks, RandomFeatureStudentSpec, Setup
from ._abstract import AbstractTheory, Trajectory, masked
from ._driver import check_step_limit, padded_times
from ._random_features import rf_asymptotic_error, rf_asymptotic_error_large_n
from ._readout import rf_critical_learning_rate, rf_stationary_error, solve_readout


__all__ = ["FeatureState", "ReadoutTheory"]


def _is_odd(activation) -> bool:
    x = jnp.linspace(0.1, 3.0, 7)
    return bool(np.allclose(np.asarray(activation(-x)), -np.asarray(activation(x))))


class FeatureState(eqx.Module):
    """Per variant `h`: the seeds' feature statistics `statistics[h] = (C, b, tau)`, (S, K, K),
    (S, K), (S,), and initial readouts `readouts[h]` (S, K), float64 (K may differ between variants)."""

    statistics: list
    readouts: list


_STEPS_PER_DECADE = 100
_STEP_UNITS = 40


class ReadoutTheory(AbstractTheory):
    """Result names: `eps_g_theory` (H, S, T) from the readout ODE, `eps_g_asymptote` (H, S) the
    eta -> 0 limit, `eps_g_stationary` (H, S) the finite-eta stationary error (inf above `eta_c`),
    `critical_learning_rate` (H, S), and, for the isotropic, summed-output, noiseless setup with a
    teacher of unit second layer that the Gaussian-equivalence formula assumes, `eps_g_large_n` (H,)."""

    description: ClassVar[str] = (
        "random-feature readout ODE with the O(eta^2) SGD noise (Gaussian closure of the four-point moments; "
        "derivation in scalinglaws.theory._readout), solved per seed from each seed's own features and teacher"
    )
    students: ClassVar[tuple[type, ...]] = (RandomFeatureStudentSpec,)
    trace_seconds: ClassVar[float] = 2.5

    def why_not(self, setup: Setup) -> str | None:
        activation = setup.student.activation
        if setup.teacher.activation != activation:
            return "student and teacher activations differ"
        if "i2" not in activation.closed_forms or not _is_odd(activation):
            return f"the readout theory needs an odd activation with closed-form I2, got {activation.name!r}"
        return None

    def initial_state(self, setup: Setup, networks: list[Networks]) -> FeatureState:
        statistics, readouts = [None] * setup.variants.size, [None] * setup.variants.size
        pads = setup.second_layer_scale()  # padded widths: each variant's features masked
        for net in networks:
            for h in net.variants:
                variance = setup.variants.spectra[h].diagonal()
                mask = np.ones(net.students.hidden) if pads is None else pads[h]
                stats = jax.vmap(lambda s, t, v=variance, m=mask: s.pad(m).feature_statistics(t, v))(
                    net.students, net.teachers
                )
                statistics[h] = tuple(np.asarray(x) for x in stats)
                readouts[h] = np.asarray(net.students.readout, np.float64)
        return FeatureState(statistics, readouts)

    def _large_n(self, setup: Setup) -> bool:
        teacher = setup.teacher
        return (
            not setup.power_law
            and teacher.output == "sum"
            and teacher.second_layer == "ones"
            and abs(teacher.noise_std) == 0
        )

    def estimate_seconds(self, setup: Setup) -> float:
        """Every lane's eigendecomposition of its `K x K` feature covariance (about `10 K^3` flops, at
        `LAPACK_FLOPS_PER_UNIT`) and
        its stiff solve: `_STEPS_PER_DECADE` Rodas4 steps per decade of alpha, each a few `O(K)`
        evaluations and solves (`_STEP_UNITS K`)."""
        k = max(setup.variants.hidden)
        lanes = setup.variants.size * max(setup.seeds, 1)
        steps = ode_steps(setup.grid.times, _STEPS_PER_DECADE)
        return UNIT_SECONDS * lanes * (10 * k**3 / LAPACK_FLOPS_PER_UNIT + steps * _STEP_UNITS * k)

    def _curves(self, setup: Setup, c, b, tau, readout, eta, scale: float):
        """The readout ODE of every lane (a leading axis on `c`, `b`, `tau`, `readout` and the
        learning rates `eta`) in one vmapped solve: `(eps_g, diverged_alpha)`."""
        options, alpha = setup.theory, setup.grid.times

        def one(c_, b_, tau_, a0, eta_):
            return solve_readout(
                c_,
                b_,
                tau_,
                scale * a0,
                jnp.asarray(padded_times(alpha)),
                learning_rate=eta_,
                scale=scale,
                input_dim=setup.input_dim,
                noise_std=setup.teacher.noise_std,
                rtol=options.rtol,
                atol=options.atol,
                max_steps=options.max_steps,
                blowup=setup.divergence_threshold,
            )

        solution, eps = jax.vmap(one)(*(jnp.asarray(x) for x in (c, b, tau, readout, eta)))
        check_step_limit(solution, "the readout theory")
        eps = np.array(eps[:, : len(alpha)])
        failed = np.asarray(solution.result != diffrax.RESULTS.successful)
        bad, diverged_alpha = masked(eps, failed, alpha, setup.divergence_threshold)
        eps[bad] = np.nan
        return eps, diverged_alpha

    def _all_curves(self, setup: Setup, state0: FeatureState) -> tuple[list, list]:
        """Every variant's `(eps_g (S, T), diverged_alpha (S,))`, the variants of one width (all of
        them when padded: the inert features' eigenvalues are 0, so they stay still) in one solve."""
        eps, diverged = [None] * setup.variants.size, [None] * setup.variants.size
        widths: dict[int, list[int]] = {}
        for h, (c, _, _) in enumerate(state0.statistics):
            widths.setdefault(c.shape[-1], []).append(h)
        for width, hs in widths.items():
            c, b, tau = (np.concatenate([state0.statistics[h][i] for h in hs]) for i in range(3))
            readout = np.concatenate([state0.readouts[h] for h in hs])
            seeds = state0.readouts[hs[0]].shape[0]
            eta = np.repeat(setup.variants.learning_rates[hs], seeds)
            curves, alphas = self._curves(setup, c, b, tau, readout, eta, output_scale(setup.student.output, width))
            for i, h in enumerate(hs):
                eps[h], diverged[h] = curves[i * seeds : (i + 1) * seeds], alphas[i * seeds : (i + 1) * seeds]
        return eps, diverged

    def solve(self, setup: Setup, state0: FeatureState) -> Trajectory:
        noise = setup.teacher.noise_std
        n = setup.input_dim
        names = ("eps_g_theory", "eps_g_asymptote", "eps_g_stationary", "critical_learning_rate")
        out: dict[str, list] = {name: [] for name in names}
        if self._large_n(setup):
            out["eps_g_large_n"] = []
        eps_all, diverged = self._all_curves(setup, state0)
        for h, ((c, b, tau), readout) in enumerate(zip(state0.statistics, state0.readouts)):
            eta = float(setup.variants.learning_rates[h])
            scale = output_scale(setup.student.output, c.shape[-1])
            out["eps_g_theory"].append(eps_all[h])
            # Padded widths: the closed forms take the variant's own K features (masked: c_K m_k = c_{K_h}).
            k = setup.variants.hidden[h]
            c, b = c[:, :k, :k], b[:, :k]
            seeds = range(c.shape[0])
            spectra = [np.linalg.eigvalsh(c[s]) for s in seeds]  # once per seed, for both uses below
            out["eps_g_asymptote"].append(
                [float(rf_asymptotic_error(c[s], b[s], tau[s])) + noise**2 / 2 for s in seeds]
            )
            out["eps_g_stationary"].append(
                [
                    rf_stationary_error(
                        c[s],
                        b[s],
                        tau[s],
                        learning_rate=eta,
                        scale=scale,
                        input_dim=n,
                        noise_std=noise,
                        eigenvalues=spectra[s],
                    )
                    for s in seeds
                ]
            )
            out["critical_learning_rate"].append(
                [rf_critical_learning_rate(c[s], scale=scale, input_dim=n, eigenvalues=spectra[s]) for s in seeds]
            )
            if self._large_n(setup):
                large_n = rf_asymptotic_error_large_n(k / n, setup.student.activation, setup.teacher.hidden)
                out["eps_g_large_n"].append(float(large_n))
        per_variant = {name: np.asarray(values, np.float64) for name, values in out.items()}
        summary = {
            "eps_g_asymptote_mean": per_variant["eps_g_asymptote"].mean(-1).tolist(),
            "eps_g_stationary_mean": per_variant["eps_g_stationary"].mean(-1).tolist(),
        }
        return Trajectory(setup.grid.times, per_variant, {}, np.asarray(diverged), summary)
