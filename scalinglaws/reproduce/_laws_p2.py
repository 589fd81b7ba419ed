"""The laws of Worschech & Rosenow, arXiv 2303.14083 (P2) in the laws table.

**The asymptotic error against K / N.** Online SGD of a random-feature readout tends, as eta -> 0,
to `eps_inf = 1/2 [tau - b^T C^-1 b]` of its own features (`rf_asymptotic_error`, exact at finite
N); as N -> infinity at fixed `gamma = K / N` this tends to the Gaussian-equivalence formula
`rf_asymptotic_error_large_n(gamma)` (erf features, an M = 2 teacher of unit second layer). Measured:
the mean over feature and teacher draws of the exact finite-N value against the formula, at
N = 32, 128, 512 (quick: 32, 64, 128), for gamma = 1/2 and 2. No simulation: the eta -> 0 limit is
approached by the readout's slowest modes as a power law in alpha, which no run of a reasonable
length reaches (the readout ODE is checked against simulation in `p2-learning-curves`).
"""

import numpy as np

from ..experiment import build_setup, configs_dir, load_config
from ..theory import ReadoutTheory, rf_asymptotic_error, rf_asymptotic_error_large_n
from ._figure import Runs
from ._laws import LawRow, law


PAPER = "P2 (arXiv 2303.14083)"
_GAMMAS = (0.5, 2.0)


def finite_n_asymptotes(n: int, gamma: float, draws: int) -> tuple[np.ndarray, float]:
    """The exact eta -> 0 errors of `draws` draws of features and teacher (N = n, K = gamma n,
    `p2_asymptotic`'s model), and the large-N formula's value."""
    setup = build_setup(
        load_config(
            configs_dir() / "p2_asymptotic.toml",
            [f"data.input_dim={n}", f"student.hidden={int(round(gamma * n))}", f"training.seeds={draws}"],
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
