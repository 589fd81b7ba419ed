"""Emergence in extensive-width networks (Ren, Nichani, Wu & Lee, arXiv 2504.19983): the population
loss against Monte Carlo, its closure in the overlaps against the direct gradient, the reduced
(d-independent) dynamics against gradient descent in d dimensions, a lone neuron's escape against
its one-dimensional law, and the greedy prediction of every direction's emergence."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from scalinglaws._activations import HermiteSeries, activation_from_name
from scalinglaws._homogeneous import (
    HomogeneousNetwork,
    Overlaps,
    direction_observables,
    homogeneous_student,
    overlap_flow,
    population_descent,
    population_gradient,
    population_loss,
    power_law_coefficients,
    reduced_weights,
)
from scalinglaws._population import emergence_steps
from scalinglaws.theory._emergence import (
    crossing_time,
    greedy_emergence,
    staircase,
)


H4 = activation_from_name("hermite4")
SERIES = activation_from_name("0.8*hermite4+0.6*hermite6")


def _setup(d: int, p: int, m: int, beta: float, seed: int, activation=H4, init_norm=None):
    a = power_law_coefficients(p, beta)
    norm = d**-0.5 if init_norm is None else init_norm
    weights = homogeneous_student(m, d, norm, activation, dtype=jnp.float64, key=jr.key(seed)).weights
    directions = jnp.linalg.qr(jr.normal(jr.key(seed + 1000), (d, p), jnp.float64))[0].T
    return a, weights, directions


def test_hermite_series_names_and_dual():
    assert isinstance(SERIES, HermiteSeries) and SERIES.coefficients == (0, 0, 0, 0, 0.8, 0, 0.6)
    nodes, weights = np.polynomial.hermite_e.hermegauss(20)
    weights = weights / np.sqrt(2 * np.pi)
    for rho in (0.6, -0.3, 1.0):  # E[g(u) g(w)] for unit fields of correlation rho, by exact quadrature
        first = nodes[:, None] + 0 * nodes[None, :]
        second = rho * nodes[:, None] + np.sqrt(1 - rho**2) * nodes[None, :]
        exact = np.einsum("ij,i,j", np.asarray(SERIES(first) * SERIES(second)), weights, weights)
        assert float(SERIES.dual(rho)) == pytest.approx(exact, rel=1e-12)
    np.testing.assert_allclose(
        jax.vmap(jax.grad(SERIES))(jnp.linspace(-2, 2, 9)), SERIES.derivative(jnp.linspace(-2, 2, 9))
    )
    for bad in ("hermite4+", "0.5*hermite4+0.5*hermite4", "nan*hermite4", "2*relu"):
        with pytest.raises(ValueError, match="unknown activation"):
            activation_from_name(bad)


def test_population_loss_is_one_at_initialisation_and_matches_monte_carlo():
    """L(0) = sum a^2 = 1 up to O(sigma_0^4) (the paper's units); at an arbitrary state the closed
    form against 4 10^5 samples of (f - f*)^2 (heavy-tailed: within 3 standard errors)."""
    a, weights, directions = _setup(256, 16, 32, 0.8, 0)
    assert float(population_loss(Overlaps.of(weights, directions), a, H4)) == pytest.approx(1.0, abs=2e-3)
    a, weights, directions = _setup(24, 4, 6, 0.8, 1, SERIES, init_norm=0.7)
    x = jr.normal(jr.key(2), (400_000, 24), jnp.float64)
    squared = (HomogeneousNetwork(weights, SERIES)(x) - SERIES(x @ directions.T) @ a) ** 2
    closed = float(population_loss(Overlaps.of(weights, directions), a, SERIES))
    assert abs(float(squared.mean()) - closed) < 3 * float(squared.std()) / np.sqrt(x.shape[0])


def test_the_overlap_closure_is_the_direct_population_gradient():
    """dQ/dtau and dR/dtau from the gradients of L in (Q, R) equal -(G V^T + V G^T) and -G E^T with
    G = grad_V (L / 2) taken through V, to round-off."""
    a, weights, directions = _setup(40, 5, 7, 1.2, 3, SERIES, init_norm=0.6)
    flow = overlap_flow(Overlaps.of(weights, directions), a, SERIES)
    g = population_gradient(weights, directions, a, SERIES)
    np.testing.assert_allclose(flow.q, -(g @ weights.T + weights @ g.T), atol=1e-14)
    np.testing.assert_allclose(flow.r, -(g @ directions.T), atol=1e-14)


def test_reduced_dynamics_reproduce_descent_in_d_dimensions():
    """Gradient descent on C = [R, L] in P + m dimensions has the overlaps of gradient descent on V
    in d = 256 dimensions at every step, through the emergence of every direction (12000 steps)."""
    a, weights, directions = _setup(256, 8, 12, 0.8, 4)
    reduced = reduced_weights(Overlaps.of(weights, directions))
    assert reduced.shape == (12, 20)
    steps = jnp.array([0, 10, 1000, 4000, 12000])
    full = jax.jit(population_descent, static_argnums=3)(weights, directions, a, H4, 0.05, steps)
    axes = jnp.eye(20)[:8]
    small = jax.jit(population_descent, static_argnums=3)(reduced, axes, a, H4, 0.05, steps)
    np.testing.assert_allclose(small.q, full.q, atol=1e-12)
    np.testing.assert_allclose(small.r, full.r, atol=1e-12)
    losses = jax.vmap(lambda q, r: population_loss(Overlaps(q, r), a, H4))(full.q, full.r)
    assert losses[0] > 0.99 and losses[-1] < 1e-3


@pytest.mark.parametrize("activation, z0", [(H4, 0.02), (activation_from_name("hermite6"), 0.05)])
def test_a_lone_neuron_escapes_on_its_one_dimensional_law(activation, z0):
    """m = P = 1, a = 1, squared overlap z0, tiny norm: the step at which z crosses 1/2 under
    population gradient descent at eta = 0.005 equals tau_1/2 / eta within 1 % (Euler's error), for
    h_4 (I = 2) and h_6 (I = 3)."""
    rate = 0.005
    cosine = np.sqrt(z0)
    weights = 1e-3 * jnp.array([[cosine, np.sqrt(1 - z0)]])
    predicted = crossing_time(z0, 1.0, activation) / rate
    steps = jnp.arange(0, int(1.3 * predicted), 10)
    recorded = population_descent(weights, jnp.eye(2)[:1], jnp.ones(1), activation, rate, steps)
    overlap = np.asarray(direction_observables(recorded, jnp.ones(1), activation)["overlap"])
    measured = emergence_steps(np.asarray(steps), overlap)[0]
    assert measured == pytest.approx(predicted, rel=0.01)
    if activation == H4:  # tau_1/2 = tau* (1 - 2 z0 + z0 ln(1/z0) + z0 ln(1 - z0)) for I = 2
        correction = 1 - 2 * z0 + z0 * np.log(1 / z0) + z0 * np.log(1 - z0)
        blowup = crossing_time(z0, 1.0, activation, exact=False)
        assert crossing_time(z0, 1.0, activation) == pytest.approx(blowup * correction, rel=1e-12)


def _emergence(d: int, seed: int, p: int = 16, m: int = 32, rate: float = 0.05, horizon: int = 30_000):
    a, weights, directions = _setup(d, p, m, 0.8, seed)
    start = Overlaps.of(weights, directions)
    greedy = greedy_emergence(np.asarray(start.r), np.diagonal(np.asarray(start.q)), np.asarray(a), H4, rate)
    steps = np.unique(np.geomspace(1, horizon * d // 256, 600).astype(int))
    recorded = population_descent(reduced_weights(start), jnp.eye(p + m)[:p], a, H4, rate, jnp.asarray(steps))
    observed = {name: np.asarray(x) for name, x in direction_observables(recorded, a, H4).items()}
    measured = emergence_steps(steps, observed["overlap"])
    return a, steps, greedy, observed, measured, recorded


def test_greedy_selection_predicts_every_direction_emergence():
    """P = 16, m = 32, beta = 0.8, sigma_0^2 = 1/d, eta = 0.05: the median of measured/predicted
    emergence steps (any neuron's squared overlap reaching 1/2) lies in [1.0, 1.1] at d = 256 and
    in [1.0, 1.06] at d = 1024; the learned directions carry their function mass (within 0.1 %) and
    the final loss is what the staircase leaves (the unlearned directions' a^2)."""
    for d, (low, high) in ((256, (1.0, 1.1)), (1024, (1.0, 1.06))):
        a, steps, greedy, observed, measured, recorded = _emergence(d, 0)
        ratio = measured / greedy["step"]
        assert low <= np.nanmedian(ratio) <= high, ratio
        assert np.all(greedy["student"] >= 0) and sorted(greedy["order"]) == list(range(16))
        learned = np.isfinite(measured)
        assert learned.sum() >= 14
        np.testing.assert_allclose(observed["mass"][-1][learned], 1.0, atol=1e-3)
        final = float(population_loss(Overlaps(recorded.q[-1], recorded.r[-1]), a, H4))
        ideal = staircase(steps[-1:], np.where(learned, measured, np.inf), np.asarray(a), H4)[0]
        assert final == pytest.approx(ideal, abs=0.01)


def test_emergence_steps_scale_as_d_to_the_i_minus_1():
    """h_4 (I = 2) at fixed eta: the median emergence step over directions and 3 seeds doubles when d
    doubles (512 -> 1024), within 10 %."""
    medians = []
    for d in (512, 1024):
        measured = np.concatenate([_emergence(d, seed, p=8, m=16, horizon=20_000)[4] for seed in range(3)])
        medians.append(np.nanmedian(measured))
    assert medians[1] / medians[0] == pytest.approx(2.0, rel=0.1)


def _command(out, *overrides) -> int:
    from scalinglaws.cli import configs_dir, main

    args = ["run", str(configs_dir() / "p4_emergence.toml"), "--out", str(out), "--quiet"]
    for override in overrides:
        args += ["--set", override]
    return main(args)


def test_an_emergence_run_writes_the_results_contract(tmp_path):
    """The shipped config at d = 256 (2 seeds): the float32 descent in d dimensions follows the
    float64 theory in P + m = 48 dimensions to 1e-4, every direction emerges, and the measured
    emergence steps (on the recording grid, 40 points per decade) lie 0-15 % after the greedy
    prediction (median); a width sweep writes one variant per m."""
    from scalinglaws.experiment import load_results

    assert _command(tmp_path / "out", "training.seeds=2") == 0
    arrays = load_results(tmp_path / "out")
    t = arrays["alpha"].size
    assert arrays["eps_g_sim"].shape == arrays["eps_g_theory"].shape == arrays["eps_g_staircase"].shape == (2, t)
    for name in ("overlap_sim", "mass_sim", "overlap_theory", "mass_theory"):
        assert arrays[name].shape == (2, t, 16), name
    for name in ("emergence_step_sim", "emergence_step_theory", "emergence_crossing_theory"):
        assert arrays[name].shape == (2, 16), name
    assert arrays["eps_g_sim"][:, 0] == pytest.approx(0.5, abs=2e-3)  # L(0) = 1
    np.testing.assert_allclose(arrays["eps_g_sim"], arrays["eps_g_theory"], atol=1e-4)
    assert np.all(np.isfinite(arrays["emergence_step_sim"]))
    ratio = np.median(arrays["emergence_step_sim"] / arrays["emergence_step_theory"], axis=1)
    assert np.all((ratio > 1.0) & (ratio < 1.15)), ratio
    assert np.all(arrays["eps_g_staircase"][:, -1] == 0) and np.all(arrays["mass_sim"][:, -1] > 0.99)
    sweep = ["training.seeds=1", "student.hidden=[8, 16]", "training.alpha_max=20"]
    assert _command(tmp_path / "sweep", *sweep) == 0
    swept = load_results(tmp_path / "sweep")
    assert swept["eps_g_sim"].shape[:2] == (2, 1) and swept["emergence_step_theory"].shape == (2, 1, 16)
    # m = 8 < P = 16: half of the directions get no neuron in the greedy selection.
    assert np.isnan(swept["emergence_step_theory"][0]).sum() == 8


@pytest.mark.parametrize(
    "override, key",
    [
        ("student.activation=erf", "student.activation"),
        ("teacher.activation=hermite6", "teacher.activation"),
        ("training.algorithm=langevin", "training.algorithm"),
        ("student.init_std=0", "student.init_std"),
        ("data.spectrum=power_law", "data.spectrum"),
        ("teacher.noise_std=0.1", "teacher.noise_std"),
        ("teacher.hidden=300", "teacher.init"),
        ("student.activation=hermite4+hermite40", "student.activation"),
    ],
)
def test_bad_emergence_values_exit_2_naming_the_key(tmp_path, capsys, override, key):
    assert _command(tmp_path / "out", override) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {key}") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_the_online_sgd_step_is_a_gradient_step_on_the_sample_loss():
    """`HomogeneousNetwork.step` is `V - eta grad_V 1/2 (f(x) - y)^2` (autodiff), and the network's
    output is 2-homogeneous in each row."""
    from scalinglaws._models import LearningRates

    net = homogeneous_student(5, 12, 0.7, SERIES, dtype=jnp.float64, key=jr.key(7))
    x, y = jr.normal(jr.key(8), (12,), jnp.float64), jnp.asarray(0.3)
    stepped = net.step(x, y, LearningRates(0.01, 0.0))
    loss = lambda w: 0.5 * (HomogeneousNetwork(w, SERIES)(x) - y) ** 2  # noqa: E731
    np.testing.assert_allclose(stepped.weights, net.weights - 0.01 * jax.grad(loss)(net.weights), atol=1e-14)
    scaled = HomogeneousNetwork(net.weights.at[2].multiply(3.0), SERIES)(x) - net(x)
    one = HomogeneousNetwork(net.weights[2:3], SERIES)(x)
    assert float(scaled) == pytest.approx(8 * float(one), rel=1e-10)  # (3^2 - 1) times row 2's term


def test_online_sgd_follows_population_descent(tmp_path):
    """Online SGD, batch 1, at a small step (eta = 4e-5, d = 64, P = 4, m = 8, 4 seeds, 3.2 10^5
    steps) through the engine: every direction's emergence step, per seed, against population
    gradient descent from the same initial student (the theory): median ratio within [0.8, 1.25],
    and at least half of the directions emerge."""
    from scalinglaws._population import emergence_steps
    from scalinglaws.experiment import load_results

    sgd = [
        "training.algorithm=online_sgd",
        "data.input_dim=64",
        "teacher.hidden=4",
        "student.hidden=8",
        "student.init_std=0.125",
        "training.learning_rate=4e-5",
        "training.alpha_max=5000",
        "training.seeds=4",
    ]
    assert _command(tmp_path / "sgd", *sgd) == 0
    arrays = load_results(tmp_path / "sgd")
    assert arrays["overlap_sim"].shape == (4, arrays["alpha"].size, 4) and arrays["Q_sim"].shape[-2:] == (8, 8)
    np.testing.assert_allclose(arrays["eps_g_sim"][:, 0], arrays["eps_g_theory"][:, 0], rtol=1e-5)
    measured = arrays["emergence_step_sim"]
    descent = emergence_steps(arrays["steps"], arrays["overlap_theory"])
    assert np.isfinite(measured).sum() >= 8
    assert 0.8 <= np.nanmedian(measured / descent) <= 1.25, measured / descent


def test_population_gradient_flow(tmp_path):
    """Gradient flow (tau = eta t, the paper's appendix C): the float32 flow in d = 256 dimensions
    follows the float64 flow in P + m = 48 to 1e-4, every direction emerges, and a direction's
    emergence time is its lone neuron's crossing of 1/2 (median ratio in [0.98, 1.12]: the recording
    grid of 40 points per decade adds up to 6 %)."""
    from scalinglaws.experiment import load_results

    flow = ["training.algorithm=gradient_flow", "training.time_min=0.1", "training.time_max=300", "training.seeds=1"]
    assert _command(tmp_path / "flow", *flow) == 0
    arrays = load_results(tmp_path / "flow")
    assert "time" in arrays and arrays["overlap_sim"].shape == (1, arrays["time"].size, 16)
    np.testing.assert_allclose(arrays["eps_g_sim"], arrays["eps_g_theory"], atol=1e-4)
    assert np.all(np.isfinite(arrays["emergence_step_sim"]))
    ratio = np.median(arrays["emergence_step_sim"] / arrays["emergence_crossing_theory"])
    assert 0.98 <= ratio <= 1.12, ratio
    bad = [
        ("training.learning_rate=[0.1, 0.2]", "training.learning_rate"),
        ("training.time_min=400", "training.time_min"),
    ]
    for override, key in bad:
        assert _command(tmp_path / "bad", *flow, override) == 2, key
        assert not (tmp_path / "bad").exists()


def test_write_report_replaces_the_report_whole(tmp_path):
    """Reports are written through a temporary file renamed over the old one (no partial report),
    with the figure beside them; the returned text is what was written."""
    from matplotlib.figure import Figure

    from scalinglaws.experiment import write_report

    path = tmp_path / "report.md"
    path.write_text("old\n")
    figure = Figure()
    figure.subplots().plot([0, 1], [1, 0])
    text = write_report(path, ["# title", "", "a line"], figure)
    assert text == "# title\n\na line\n" == path.read_text()
    assert (tmp_path / "report.png").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "report.png"]  # no temporary left
