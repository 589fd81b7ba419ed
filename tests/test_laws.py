"""The laws table (`scalinglaws reproduce laws`): its verdicts, its measurements, and the laws'
physics at small size."""

import numpy as np
import pytest

from scalinglaws.reproduce import FIGURES, Runs
from scalinglaws.reproduce._laws import (
    LAWS,
    LawRow,
    Measured,
    offset_exponent,
    simulated_exponent,
    table,
    window_exponent,
)
from scalinglaws.reproduce._laws_p1 import linear_theory_exponent, power_law_window
from scalinglaws.reproduce._laws_p3 import soft_mode


def _row(theory, simulation=None, expected=0.5):
    sizes = tuple(f"L = {4**i}" for i in range(len(theory)))
    return LawRow("P0", "law", "b", expected, "derived", sizes, tuple(theory), simulation, "window")


def test_the_verdict_says_where_a_law_holds_and_whether_the_simulation_confirms_it():
    agrees, disagrees = Measured(0.52, 0.47, 0.55, "L = 4"), Measured(0.7, 0.65, 0.75, "L = 4")
    assert _row([0.49, 0.51, 0.5], agrees).verdict() == "holds; the simulation agrees with the theory at L = 4"
    assert _row([0.3, 0.47, 0.52], agrees).verdict().startswith("holds asymptotically, from L = 4 ")
    assert _row([0.3, 0.47, 0.42]).verdict().startswith("does not hold: the theory gives 0.42 at L = 16")
    assert _row([0.3, 0.6, 0.52]).verdict().startswith("holds asymptotically, from L = 16")  # not from L = 4
    assert _row([0.5, 0.5, 0.5], disagrees).verdict().endswith("does not agree with the theory at L = 4 (0.5)")
    # The simulation is held to the theory at its own size: an early size need not show the limit.
    assert _row([0.7, 0.6, 0.5], disagrees).verdict().endswith("agrees with the theory at L = 4")
    elsewhere = Measured(0.52, 0.47, 0.55, "N = 9")  # not one of the theory's sizes: held to the law
    assert _row([0.5, 0.5, 0.5], elsewhere).verdict().endswith("agrees with the law at N = 9")
    assert _row([0.5, 0.5, 0.5], None).verdict() == "holds; no simulation"
    assert _row([np.nan] * 3).verdict().startswith("not measurable at these sizes")  # no window anywhere
    lines = table([_row([0.49, 0.51, 0.5], agrees)])
    assert "| holds; the simulation agrees" in lines[2] and "0.520 [0.470, 0.550] at L = 4" in lines[2]


def test_the_measured_exponent_and_its_interval():
    x = np.geomspace(1, 1e4, 41)
    assert window_exponent(x, 3 * x**-0.75, (10.0, 1e3)) == pytest.approx(0.75, abs=1e-12)
    assert np.isnan(window_exponent(x, x**-1.0, (2.0, 2.5)))  # fewer than three points
    # A power law on a constant, of either sign: the pure slope is biased, the offset fit is not.
    for offset in (-0.1, 0.1):
        y = 3 * x**-0.4 + offset
        assert abs(window_exponent(x, y, (10.0, 1e3)) - 0.4) > 0.05
        assert offset_exponent(x, y, (10.0, 1e3)) == pytest.approx(0.4, abs=2e-4)
    # Noisy seeds around a planted law: the bootstrap interval covers it and is not degenerate.
    rng = np.random.default_rng(0)
    seeds = 2 * x**-0.5 * np.exp(rng.normal(0, 0.1, (16, x.size)))
    measured = simulated_exponent(x, seeds, (10.0, 1e3), "N = 1")
    assert measured.low < 0.5 < measured.high and measured.high - measured.low > 1e-3
    assert measured.low <= measured.value <= measured.high


def test_the_linear_exponent_converges_to_beta_over_one_plus_beta_as_the_window_opens():
    """The exact linear learning curve: its exponent on the power-law window, the finite-L offset
    fitted, approaches beta / (1 + beta) as L grows (the window widens as L^(1+beta)); measured:
    within 0.012 at L = 64 and 0.003 at L = 256 for beta = 0.5, 1, 2."""
    for beta in (0.5, 1.0, 2.0):
        gaps = [abs(linear_theory_exponent(size, beta) - beta / (1 + beta)) for size in (64, 256)]
        assert gaps[1] <= gaps[0] + 1e-3 and gaps[1] < 0.01, (beta, gaps)
    low, high = power_law_window(np.asarray([4.0, 1.0, 0.25]), 0.1)
    assert (low, high) == pytest.approx((10 / 0.8, 16 / 8.0))


def test_the_laws_table_is_registered_and_the_soft_mode_rows_are_measured(tmp_path):
    assert "laws" in FIGURES and LAWS
    rows = soft_mode(Runs(tmp_path, quick=True), True)
    assert [row.expected for row in rows] == [2.0, 1.0]
    for row in rows:
        assert len(row.theory) == 3 and all(np.isfinite(row.theory))
        # The ODE's local exponents creep towards their limits from below, decade by decade.
        assert row.theory[0] < row.theory[1] < row.theory[2] <= row.expected + 0.05
        assert np.isfinite(row.simulation.value) and row.simulation.low < row.simulation.high


def test_the_dmft_gap_to_the_exact_average_shrinks_as_n_grows(tmp_path):
    """P5: the DMFT is the N -> infinity limit; the exact finite-N average over data draws departs
    from it at late t by a finite-size gap that shrinks as N grows (P = N)."""
    from scalinglaws.reproduce._laws_p5 import dmft_large_n_limit

    (row,) = dmft_large_n_limit(Runs(tmp_path, quick=True), True)
    gaps = np.abs(row.theory)
    assert gaps[0] > gaps[1] > gaps[2] and gaps[0] > 2 * gaps[2]
    assert row.simulation.low <= row.simulation.value <= row.simulation.high


def test_the_exact_random_feature_asymptote_tends_to_the_large_n_formula():
    """P2: the exact eta -> 0 error of finite-N random features (mean over draws) approaches the
    Gaussian-equivalence formula at fixed gamma = K / N = 2 as N grows."""
    from scalinglaws.reproduce._laws_p2 import finite_n_asymptotes

    gaps = []
    for n in (16, 64):
        exact, large_n = finite_n_asymptotes(n, 2.0, 16)
        assert np.all(exact > 0) and large_n > 0
        gaps.append(abs(exact.mean() / large_n - 1))
    assert gaps[1] < 0.5 * gaps[0] and gaps[1] < 0.1, gaps


def test_the_dmft_loss_falls_as_t_to_the_minus_beta_over_one_plus_beta(tmp_path):
    """P5: gradient flow on Lambda_ii = i^-(1+beta) (beta = 0.5, 1): the DMFT's exponent in the
    aligned window approaches beta / (1 + beta) as P = N grows, and the exact average over data
    draws at N = P = 1000 has the DMFT's exponent there."""
    from scalinglaws.reproduce._laws_p5 import loss_against_time

    for row, beta in zip(loss_against_time(Runs(tmp_path, quick=True), True), (0.5, 1.0)):
        gaps = [abs(value - beta / (1 + beta)) for value in row.theory]
        assert gaps[-1] <= gaps[0] + 1e-3 and gaps[-1] < 0.02, gaps
        assert abs(row.simulation.value - row.theory[0]) < 0.01 and row.simulation_agrees()


def test_the_specialised_phase_on_power_law_data_falls_with_the_linear_exponent(tmp_path):
    """P1: after erf K = M = 2 has specialised on beta = 2 data, the eigen-block ODE's eps_g falls
    as alpha^-beta/(1+beta) = alpha^-2/3 before the smallest eigenvalue's cut-off (measured 0.650 at
    L = 128 on [10^3, 2.0 10^3]; 0.709, 0.636 at L = 256, 512)."""
    from scipy.special import zeta

    from scalinglaws._data import power_law
    from scalinglaws.reproduce._laws_p1_late import _without_window, late_exponent, late_window

    slope, window = late_exponent(Runs(tmp_path, quick=True), 128)
    assert window[0] == 1e3 and window[1] > 1.5e3
    assert slope == pytest.approx(2 / 3, abs=0.05)
    # beta = 1/2 and 1 have no window: the cut-off 0.01 / (eta lambda_L) < 0.1 zeta(1 + beta) L^beta comes first.
    for row, beta in zip(_without_window((256, 1024)), (0.5, 1.0)):
        assert late_window(power_law(1024, beta).eigenvalues)[1] < 0.1 * zeta(1 + beta) * 1024**beta < 1e3
        assert row.verdict().startswith("not measurable")


def test_the_plateau_shortens_as_l_grows_and_its_time_scale_grows_nearly_as_m_squared(tmp_path):
    """P1 (erf K = M, beta = 1, eta = 0.1): the ODE's plateau at M = 2 (N = 256) sits at the
    symmetric fixed point's height and shortens as L = 1, 2, 4 grows, more slowly than 1/L
    (measured L^-0.62; over L = M/2 … 4M at N = 1024: 0.75, 0.78, 0.89 at M = 2, 4, 8); at L = 1
    the reduced chain's lengths follow the ODE's seed by seed; 1/mu grows as M^1.87 from M = 2 to 4,
    below 2 because mu M² rises."""
    from scalinglaws.experiment import load_results
    from scalinglaws.reproduce._laws_p1_plateau import _run, plateau_length, plateau_lengths
    from scalinglaws.reproduce._p1_plateau import symmetric_plateau

    runs = Runs(tmp_path, quick=True)
    against_l, against_m = plateau_length(runs, True)
    assert 0.55 < against_l.theory[0] < 0.7 and 1.85 < against_m.theory[0] < 1.9
    height, _ = symmetric_plateau(2, 0.1)
    theory, _ = plateau_lengths(load_results(tmp_path / "quick" / "p1_plateau-law-l-m2"), height)
    assert theory.shape == (3, 1) and np.all(np.diff(theory[:, 0]) < 0)
    arrays = _run(runs, "sim", 2, [1], 2, True).arrays  # isotropic, two seeds, with their simulation
    flat = arrays["eps_g_theory"][0, 0]
    assert np.min(np.abs(flat / height - 1)) < 2e-3
    theory, sim = plateau_lengths(arrays, height)
    assert np.all(np.isfinite(sim)) and np.max(np.abs(sim / theory - 1)) < 0.1, sim / theory


def test_the_random_feature_error_approaches_its_floor_as_one_over_gamma(tmp_path):
    """P2: above its gamma -> infinity floor 1/2 M (1/3 - 1/pi), the large-N error falls as
    gamma^-1 once gamma >> 1 (the local exponent 1.82, 1.33, 1.14, 1.03 over gamma in [1, 4] …
    [16, 64]), tending to 1/2 M mu_1^2 r / (gamma + r) with r = pi/3 - 1; sampled features at
    N = 256 (an orthonormal teacher) have the formula's excess at gamma = 2 (N = 512: within 1 %)."""
    from scalinglaws.reproduce._laws_p2 import _excess, _floor, excess_against_width, finite_n_asymptotes

    (row,) = excess_against_width(Runs(tmp_path, quick=True), True)
    assert list(row.theory) == sorted(row.theory, reverse=True) and row.holds_from() == 3
    r = np.pi / 3 - 1
    assert _excess(1000.0) == pytest.approx(2 / (2 * np.pi) * r / (1000 + r), rel=2e-3)
    exact, _ = finite_n_asymptotes(256, 2.0, 8, "teacher.init='orthonormal'")
    error = np.std(exact, ddof=1) / np.sqrt(exact.size)  # the draws' spread, then a finite-N allowance
    assert abs(np.mean(exact) - _floor() - _excess(2.0)) < 3 * error + 0.1 * _excess(2.0)


def test_the_plain_over_realizable_error_converges_at_twice_the_weights_slowest_rate(tmp_path):
    """P3, plain outputs (erf K = 3, M = 2): one unit dies, the others become the teacher's, and
    eps_g falls exponentially at kappa, the smaller of the slowest mode that eps_g sees at first
    order and twice the slowest mode (`convergence_rates`); the ODE's local rate approaches kappa
    from above as the next term fades (1.16, 1.10, 1.07 x kappa over alpha in [400, 700],
    [700, 1000], [1000, 1500] for one seed; 8 seeds and the reduced chain agree: 1.10 and 1.11)."""
    from scalinglaws.reproduce._laws_p3 import plain_convergence, realizable_limit

    (row,) = plain_convergence(Runs(tmp_path, quick=True), True)
    assert row.theory[0] > row.theory[1] > row.theory[2] > 1.0 and row.theory[2] < 1.1, row.theory
    q, r = realizable_limit(np.diag([1.0, 1e-6, 1.1]), np.array([[0.9, 0.1], [1e-4, 0.0], [0.2, 1.0]]), np.eye(2))
    np.testing.assert_array_equal(r, [[1, 0], [0, 0], [0, 1]])
    np.testing.assert_array_equal(q, np.diag([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="share teacher units"):
        realizable_limit(np.eye(3), np.array([[0.9, 0.1], [0.0, 0.0], [0.8, 0.2]]), np.eye(2))
