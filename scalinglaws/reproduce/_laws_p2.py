"""The laws of Worschech & Rosenow, arXiv 2303.14083 (P2) in the laws table.

**The asymptotic error against K / N.** Online SGD of a random-feature readout tends, as eta -> 0,
to `eps_inf = 1/2 [tau - b^T C^-1 b]` of its own features (`rf_asymptotic_error`, exact at finite
N); as N -> infinity at fixed `gamma = K / N` this tends to the Gaussian-equivalence formula
`rf_asymptotic_error_large_n(gamma)` (erf features, an M = 2 teacher of unit second layer). Measured:
the mean over feature and teacher draws of the exact finite-N value against the formula, at
N = 32, 128, 512 (quick: 32, 64, 128), for gamma = 1/2 and 2. No simulation: the eta -> 0 limit is
approached by the readout's slowest modes as a power law in alpha, which no run of a reasonable
length reaches (the readout ODE is checked against simulation in `p2-learning-curves`).

**Its power law in K.** Above the floor `1/2 M (<g^2> - mu_1^2)` that no K ∝ N reaches (the
teacher's non-linear part), the formula's excess is `1/2 M mu_1^2 r (1/N) tr (S + r)^-1`, and as
`S = W^T W / N -> gamma I` it falls as `r / (gamma + r) ∝ gamma^-1` (derived). Measured: its
log-log slope over windows of gamma, and the same on the exact finite-N errors of sampled features
(N = 512, eight draws, an orthonormal teacher so that the teacher's draw adds no spread) over
gamma = 2, 4, 8; none in the quick version.
"""

import numpy as np

from .._activations import Erf
from ..experiment import build_setup, configs_dir, load_config
from ..theory import ReadoutTheory, hermite_coefficients, rf_asymptotic_error, rf_asymptotic_error_large_n
from ._figure import Runs
from ._laws import LawRow, law, simulated_exponent, window_exponent


PAPER = "P2 (arXiv 2303.14083)"
_GAMMAS = (0.5, 2.0)


def finite_n_asymptotes(n: int, gamma: float, draws: int, *overrides: str) -> tuple[np.ndarray, float]:
    """The exact eta -> 0 errors of `draws` draws of features and teacher (N = n, K = gamma n,
    `p2_asymptotic`'s model with `overrides`), and the large-N formula's value."""
    setup = build_setup(
        load_config(
            configs_dir() / "p2_asymptotic.toml",
            [f"data.input_dim={n}", f"student.hidden={int(round(gamma * n))}", f"training.seeds={draws}", *overrides],
        )
    )
    (c, b, tau), *_ = ReadoutTheory().initial_state(setup, setup.networks()).statistics
    exact = np.asarray([float(rf_asymptotic_error(c[s], b[s], tau[s])) for s in range(c.shape[0])])
    return exact, float(rf_asymptotic_error_large_n(gamma, setup.student.activation, setup.teacher.hidden))


@law
def asymptotic_error_against_width(runs: Runs, quick: bool) -> list[LawRow]:
    sizes, draws = ((32, 64, 128), (16, 16, 8)) if quick else ((32, 128, 512), (64, 32, 16))
    rows = []
    for gamma in _GAMMAS:

        def compute(gamma=gamma):
            out: dict[str, list] = {"ratio": [], "error": [], "large_n": []}
            for n, count in zip(sizes, draws):
                exact, large_n = finite_n_asymptotes(n, gamma, count)
                out["ratio"].append(exact.mean() / large_n - 1)
                out["error"].append(exact.std(ddof=1) / np.sqrt(exact.size) / large_n)
                out["large_n"].append(large_n)
            return out

        values = runs.analysis(
            f"law-p2-asymptote-gamma{gamma:g}", {"sizes": list(sizes), "draws": list(draws)}, compute
        )
        errors = ", ".join(f"{e:.3f}" for e in values["error"])
        rows.append(
            LawRow(
                paper=PAPER,
                law=f"gamma = K/N = {gamma:g}: eps_inf(N) → eps_inf(gamma), the large-N formula",
                quantity="exact eta → 0 error / large-N formula − 1",
                expected=0.0,
                source="Gaussian equivalence as N → ∞",
                sizes=tuple(f"N = {n}" for n in sizes),
                theory=tuple(values["ratio"]),
                simulation=None,
                window=f"mean over {', '.join(map(str, draws))} draws of features and teacher",
                note=(
                    f"the exact finite-N asymptote tau − b^T C^-1 b of each draw against the formula "
                    f"({values['large_n'][0]:.4g}); standard errors of the mean {errors} (relative, at the three "
                    "sizes). No simulation: runs approach the eta → 0 limit as a power law in alpha"
                ),
            )
        )
    return rows


_EXCESS_WINDOWS = ((1.0, 4.0), (2.0, 8.0), (4.0, 16.0), (16.0, 64.0))


def _floor(m: int = 2) -> float:
    """The gamma -> infinity limit of the large-N error, `1/2 M (<g^2> - mu_1^2)` (erf: 1/3 - 1/pi)."""
    _, mu1, second = hermite_coefficients(Erf())
    return 0.5 * m * float(second - mu1**2)


def _excess(gamma, m: int = 2) -> np.ndarray:
    """The large-N asymptotic error above its floor (erf features, M = `m` teacher units)."""
    return np.asarray(np.asarray(rf_asymptotic_error_large_n(np.asarray(gamma, np.float64), Erf(), m)) - _floor(m))


@law
def excess_against_width(runs: Runs, quick: bool) -> list[LawRow]:
    grid = np.geomspace(1.0, 64.0, 61)
    theory = tuple(window_exponent(grid, _excess(grid), window) for window in _EXCESS_WINDOWS)
    measured, note = None, "No simulation in the quick version"
    if not quick:
        n, draws, gammas = 512, 8, (2.0, 4.0, 8.0)

        def compute():
            exact = [finite_n_asymptotes(n, g, draws, "teacher.init='orthonormal'")[0] for g in gammas]
            return {f"gamma{g:g}": list(e - _floor()) for g, e in zip(gammas, exact)}

        values = runs.analysis("law-p2-excess-n512", {"n": n, "draws": draws, "gammas": list(gammas)}, compute)
        curves = np.stack([values[f"gamma{g:g}"] for g in gammas], axis=1)  # (draws, gammas)
        measured = simulated_exponent(np.asarray(gammas), curves, (2.0, 8.0), "gamma in [2, 8]")
        relative = curves.mean(0) / _excess(np.asarray(gammas)) - 1
        note = (
            f"Simulation: the exact eta → 0 error of sampled features at N = {n} ({draws} draws, an orthonormal "
            "teacher, T = I, which removes the teacher draw's spread), above the same floor; its mean departs from "
            f"the formula by {', '.join(f'{x:+.1%}' for x in relative)} at gamma = 2, 4, 8 (finite N)"
        )
    return [
        LawRow(
            paper=PAPER,
            law="eps_inf(gamma) − ½ M (1/3 − 1/pi) ∝ gamma^-1 (K = gamma N → ∞)",
            quantity="b in the excess ∝ gamma^-b",
            expected=1.0,
            source="derived from the large-N formula",
            sizes=tuple(f"gamma in [{a:g}, {b:g}]" for a, b in _EXCESS_WINDOWS),
            theory=theory,
            simulation=measured,
            window="the log-log slope over each window of gamma = K/N",
            note=(
                "the large-N formula (Gaussian equivalence, M = 2 erf teacher units): the features' linear part fits "
                "the teacher's linear part with the ridge r = pi/3 − 1 that the non-linear part acts as, and "
                "(1/N) tr (S + r)^-1 → 1/(gamma + r) as the features' Gram matrix S → gamma I, so the excess falls "
                "as gamma^-1 once gamma >> 1 above the floor that no K ∝ N reaches (the teacher's non-linear part). "
                f"{note}"
            ),
        )
    ]
