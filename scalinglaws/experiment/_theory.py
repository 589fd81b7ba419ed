"""Which theory applies to a config, and its solution from the simulation's own initial state.

The theory of a run starts from the order parameters of the very networks the simulation draws
(per seed), so finite-N symmetry breaking — which sets when a student leaves the plateau — is the
same in both.
"""

from dataclasses import dataclass

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from .._activations import activation_from_name
from .._data import GaussianData
from .._models import output_scale
from .._sharding import shard_leading_axis
from ..simulate import Simulation, initial_networks
from ..theory import (
    BlockArgs,
    BlockState,
    EigenBlockODE,
    Rodas4,
    SCMArgs,
    SCMState,
    SoftCommitteeODE,
    check_step_limit,
    dense_factorise,
    rf_asymptotic_error,
    rf_asymptotic_error_large_n,
    rf_critical_learning_rate,
    rf_stationary_error,
    solve_readout,
    solve_soft_committee,
)
from ._config import Config


__all__ = [
    "InitialState",
    "initial_state_of_networks",
    "initial_state_of_simulation",
    "solve_random_feature_theory",
    "solve_theory",
    "theory_for",
]

SCM_DESCRIPTION = (
    "soft committee machine ODE (Saad & Solla 1995; Goldt et al. 2019), solved per seed from the "
    "simulation's initial order parameters"
)

BLOCK_DESCRIPTION = (
    "eigen-resolved soft committee machine ODE for L distinct input eigenvalues (Worschech & Rosenow, "
    "arXiv 2410.09005; derivation in scalinglaws.theory._blocks), solved per seed from the simulation's "
    "initial block overlaps"
)


RF_DESCRIPTION = (
    "random-feature readout ODE with the O(eta^2) SGD noise (Gaussian closure of the four-point moments; "
    "derivation in scalinglaws.theory._readout), solved per seed from each seed's own features and teacher"
)


def _is_odd(activation) -> bool:
    x = jnp.linspace(0.1, 3.0, 7)
    return bool(np.allclose(np.asarray(activation(-x)), -np.asarray(activation(x))))


def theory_for(config: Config) -> tuple[str | None, str]:
    """`(kind, description)` of the theory for this config, or `(None, why there is none)`."""
    if not config["theory"]["enabled"]:
        return None, "disabled (theory.enabled = false)"
    data, teacher, student = config["data"], config["teacher"], config["student"]
    if teacher["activation"] != student["activation"]:
        return None, "none: student and teacher activations differ"
    activation = activation_from_name(student["activation"])
    if student["kind"] == "random_features":
        if "i2" not in activation.closed_forms or not _is_odd(activation):
            return (
                None,
                f"none: the readout theory needs an odd activation with closed-form I2, got {activation.name!r}",
            )
        return "random_features", RF_DESCRIPTION
    if not {"i2", "i3", "i4", "j2"} <= activation.closed_forms:
        return None, f"none: activation {activation.name!r} has no closed-form I3/I4 (the ODE needs erf or linear)"
    if data["spectrum"] != "isotropic":
        return "blocks", BLOCK_DESCRIPTION
    return "scm", SCM_DESCRIPTION


@dataclass(frozen=True)
class InitialState:
    """Per-seed initial order parameters: `q` (S, K, K), `r` (S, K, M), `t` (S, M, M), student second
    layer `v` (S, K), teacher second layer `a` (S, M); for block data also the block overlaps
    `q_blocks` (S, L, K, K), `r_blocks` (S, L, K, M), `t_blocks` (S, L, M, M)."""

    q: np.ndarray
    r: np.ndarray
    t: np.ndarray
    v: np.ndarray
    a: np.ndarray
    q_blocks: np.ndarray | None = None
    r_blocks: np.ndarray | None = None
    t_blocks: np.ndarray | None = None


def initial_state_of_simulation(sim: Simulation, second_layer_init: float) -> InitialState:
    """The initial state of the simulation's seeds (every learning rate of a sweep starts from it)."""
    if sim.second_layer is not None:
        v = sim.second_layer[0, :, 0]
    else:
        v = np.full(sim.q.shape[1:2] + sim.q.shape[-1:], second_layer_init)
    blocks = {}
    if sim.q_blocks is not None:
        blocks = dict(q_blocks=sim.q_blocks[0, :, 0], r_blocks=sim.r_blocks[0, :, 0], t_blocks=sim.t_blocks)
    return InitialState(sim.q[0, :, 0], sim.r[0, :, 0], sim.t, v, sim.teacher_second_layer, **blocks)


def initial_state_of_networks(make_teacher, make_student, seeds: int, data: GaussianData, *, key) -> InitialState:
    """The initial order parameters of the networks `simulate` would draw for `seeds` seeds."""
    teachers, students, _ = initial_networks(make_teacher, make_student, seeds, key=key)
    w, b = (jnp.asarray(x, jnp.float64) for x in (students.first, teachers.first))
    overlap = jax.vmap(data.block_overlaps)
    qb, rb, tb = (np.asarray(overlap(x, y)) for x, y in ((w, w), (w, b), (b, b)))
    blocks = {} if data.identity else dict(q_blocks=qb, r_blocks=rb, t_blocks=tb)
    return InitialState(
        qb.sum(1),
        rb.sum(1),
        tb.sum(1),
        np.asarray(students.second, np.float64),
        np.asarray(teachers.second, np.float64),
        **blocks,
    )


STIFF_EIGENVALUE_RATIO = 100.0


def _solver(choice: str, ode, eigenvalues: np.ndarray) -> diffrax.AbstractSolver | None:
    """`theory.solver`: Tsit5 (None), or Rodas4 with the ODE's structured (block ODE) or dense solve.

    `auto` takes the stiff solver when the eigenvalues of a variant span at least `STIFF_EIGENVALUE_RATIO`: the
    block rates scale with the eigenvalues, so an explicit solver's step is then set by stability
    (at L = 256, beta = 1, Rodas4 is 6x faster and 10^4 times more accurate at the same tolerance).
    """
    lam = np.atleast_2d(np.asarray(eigenvalues, np.float64))  # (H, L): each variant's spectrum
    if choice == "auto":
        spread = np.max(lam.max(-1) / lam.min(-1))
        stiff = isinstance(ode, EigenBlockODE) and spread >= STIFF_EIGENVALUE_RATIO
        choice = "stiff" if stiff else "explicit"
    if choice == "explicit":
        return None
    return Rodas4(ode.factorise if isinstance(ode, EigenBlockODE) else dense_factorise(ode))


def solve_theory(
    config: Config,
    initial: InitialState,
    alpha: np.ndarray,
    rates: np.ndarray,
    rates_v: np.ndarray,
    spectra: list[GaussianData],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Solve the config's ODE (isotropic or eigen-resolved) for every variant and seed in one
    vmapped solve.

    `spectra` holds each variant's input distribution (H of them; equal for a learning-rate sweep).
    Unless every one is isotropic, all variants are solved on the finest partition, which
    `initial`'s block overlaps resolve: a coarser spectrum is the same spectrum on the fine
    blocks, its eigenvalue repeated on the sub-blocks of each of its blocks, and the block ODE on a
    refined partition is exact (each block's drift is linear in its own overlaps), so the sums over
    sub-blocks follow the coarse ODE. One solve compiles once, however many spectra are swept.

    **Returns:** `(arrays, diverged_alpha)`: `eps_g`, `q`, `r`, `v` with leading axes `(H, S)` (NaN
    from a blow-up on), and for block data `q_blocks`, `r_blocks` on the finest partition; and the
    `(H, S)` alpha at which each solve blew up (NaN if it did not).
    """
    student, teacher, theory = config["student"], config["teacher"], config["theory"]
    blocks = initial.q_blocks is not None
    finest = initial.q_blocks.shape[1] if blocks else 1  # isotropic data is one block
    eigenvalues = np.stack([data.refined_eigenvalues(finest) for data in spectra])  # (H, L)
    ode = (EigenBlockODE if blocks else SoftCommitteeODE)(
        activation_from_name(student["activation"]),
        student["hidden"],
        teacher["hidden"],
        student["output"],
        teacher["output"],
        student["train_second_layer"],
    )
    seeds, variants = initial.q.shape[0], len(spectra)

    def tile(x):  # (S, ...) -> (H * S, ...), variant-major
        return jnp.broadcast_to(jnp.asarray(x), (variants, *x.shape)).reshape(variants * seeds, *x.shape[1:])

    def per_lane(x):  # (H, ...) -> (H * S, ...)
        return jnp.repeat(jnp.asarray(x), seeds, axis=0)

    eta, eta_v = per_lane(rates), per_lane(rates_v)
    noise = jnp.full(variants * seeds, teacher["noise_std"], jnp.float64)
    if blocks:
        state = BlockState(tile(initial.q_blocks), tile(initial.r_blocks), tile(initial.v))
        visible = None
        if student["visible_blocks"] is not None:
            # The leading visible_blocks blocks of each variant's own partition.
            coarse = np.arange(finest)[None, :] // np.asarray([finest // d.distinct for d in spectra])[:, None]
            visible = per_lane((coarse < student["visible_blocks"]).astype(np.float64))
        lam = per_lane(eigenvalues)
        args = BlockArgs(eta, eta_v, tile(initial.t_blocks), lam, tile(initial.a), noise, visible)
    else:
        # Isotropic data (the SCM ODE wants the field covariance T = B Sigma B^T / N = T).
        state = SCMState(tile(initial.q), tile(initial.r), tile(initial.v))
        args = SCMArgs(eta, eta_v, tile(initial.t), tile(initial.a), noise)
    solve = jax.vmap(
        lambda s, a: solve_soft_committee(
            ode,
            s,
            a,
            jnp.asarray(alpha),
            rtol=theory["rtol"],
            atol=theory["atol"],
            max_steps=theory["max_steps"],
            blowup=config["training"]["divergence_threshold"],
            solver=_solver(theory["solver"], ode, eigenvalues),
        )
    )
    solution, eps = solve(*shard_leading_axis((state, args)))
    check_step_limit(solution, "the theory")
    eps = np.asarray(eps)
    bad = ~np.isfinite(eps)
    bad[np.asarray(solution.result != diffrax.RESULTS.successful), -1] = True
    bad = np.logical_or.accumulate(bad, axis=-1)  # from the first failure on
    diverged_alpha = np.where(bad.any(-1), alpha[np.argmax(bad, axis=-1)], np.nan)
    q, r = np.asarray(solution.ys.q), np.asarray(solution.ys.r)
    if blocks:
        arrays = {"eps_g": eps, "q": q.sum(2), "r": r.sum(2), "q_blocks": q, "r_blocks": r}
    else:
        arrays = {"eps_g": eps, "q": q, "r": r}
    if student["train_second_layer"]:
        arrays["v"] = np.asarray(solution.ys.v)
    out = {}
    for name, x in arrays.items():
        x = x.copy()
        x[bad] = np.nan
        out[name] = x.reshape(variants, seeds, *x.shape[1:])
    return out, diverged_alpha.reshape(variants, seeds)


def solve_random_feature_theory(
    config: Config, statistics: list, readouts: list, alpha: np.ndarray, rates: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The readout theory of every variant and seed of a random-feature run.

    `statistics[h]` is variant h's `(C, b, tau)` with a leading seed axis, `readouts[h]` its initial
    readouts `a_0` (S, K). **Returns** `(arrays, diverged_alpha)`: `eps_g` (H, S, T) from the readout
    ODE (NaN from a blow-up on), `eps_g_asymptote` (H, S) the eta -> 0 limit, `eps_g_stationary`
    (H, S) the finite-eta stationary error (inf above `eta_c`), `critical_learning_rate` (H, S), and,
    for the isotropic, summed-output setup the Gaussian-equivalence formula assumes, `eps_g_large_n`
    (H,); and the (H, S) alpha at which a solve blew up (NaN where it did not).
    """
    student, teacher, theory = config["student"], config["teacher"], config["theory"]
    n = config["data"]["input_dim"]
    noise = teacher["noise_std"]
    activation = activation_from_name(student["activation"])
    out: dict[str, list] = {"eps_g": [], "eps_g_asymptote": [], "eps_g_stationary": [], "critical_learning_rate": []}
    diverged = []
    large_n = (
        config["data"]["spectrum"] == "isotropic"
        and teacher["output"] == "sum"
        and teacher["second_layer"] == "ones"
        and abs(noise) == 0
    )
    if large_n:
        out["eps_g_large_n"] = []
    for (c, b, tau), readout, eta in zip(statistics, readouts, rates):
        k = c.shape[-1]
        scale = output_scale(student["output"], k)

        def one(c_, b_, tau_, a0, eta=eta, scale=scale):
            return solve_readout(
                c_,
                b_,
                tau_,
                scale * a0,
                jnp.asarray(alpha),
                learning_rate=eta,
                scale=scale,
                input_dim=n,
                noise_std=noise,
                rtol=theory["rtol"],
                atol=theory["atol"],
                max_steps=theory["max_steps"],
                blowup=config["training"]["divergence_threshold"],
            )

        eps, solution = jax.vmap(one)(*(jnp.asarray(x) for x in (c, b, tau, readout)))
        check_step_limit(solution, "the readout theory")
        eps = np.array(eps)
        bad = ~np.isfinite(eps) | (eps > config["training"]["divergence_threshold"])
        bad[np.asarray(solution.result != diffrax.RESULTS.successful), -1] = True
        bad = np.logical_or.accumulate(bad, axis=-1)
        eps[bad] = np.nan
        diverged.append(np.where(bad.any(-1), alpha[np.argmax(bad, axis=-1)], np.nan))
        out["eps_g"].append(eps)
        seeds = range(c.shape[0])
        spectra = [np.linalg.eigvalsh(c[s]) for s in seeds]  # once per seed, for both uses below
        out["eps_g_asymptote"].append([float(rf_asymptotic_error(c[s], b[s], tau[s])) + noise**2 / 2 for s in seeds])
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
        if large_n:
            out["eps_g_large_n"].append(float(rf_asymptotic_error_large_n(k / n, activation, teacher["hidden"])))
    return {name: np.asarray(values, np.float64) for name, values in out.items()}, np.asarray(diverged)
