"""The spine: Setup, AbstractTheory and its registry, AbstractStudent/AbstractLearner, import hygiene."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import equinox as eqx
import numpy as np
import pytest
from conftest import TINY

import scalinglaws as sl
from scalinglaws.experiment import build_setup, resolve, run_experiment
from scalinglaws.theory import (
    THEORIES,
    AbstractTheory,
    EigenBlockTheory,
    ReadoutTheory,
    SoftCommitteeTheory,
    theory_for,
)


PACKAGE = Path(sl.__file__).parent


def _setup(*overrides: str):
    return build_setup(resolve(tomllib.loads(TINY), overrides))


def test_importing_the_package_changes_no_global_state():
    code = (
        "import os, jax; flags = os.environ.get('XLA_FLAGS'); import scalinglaws; "
        "assert not jax.config.jax_enable_x64; assert os.environ.get('XLA_FLAGS') == flags; print('clean')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "clean"


def test_float64_is_required_not_assumed():
    code = (
        "import jax.numpy as jnp, scalinglaws as sl\n"
        "from scalinglaws.theory import SoftCommitteeODE, SCMState, SCMArgs, solve_ode\n"
        "ode = SoftCommitteeODE(sl.Erf(), 1, 1)\n"
        "try:\n"
        "    solve_ode(ode, SCMState(jnp.eye(1), jnp.eye(1), jnp.ones(1)), None, jnp.asarray([0.0, 1.0]))\n"
        "except RuntimeError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "needs float64" in out.stdout and "scalinglaws.configure()" in out.stdout


def test_the_registry_picks_one_theory_per_setup_and_says_why_none_applies():
    assert theory_for(_setup())[0] == SoftCommitteeTheory()
    blocks = _setup("data.spectrum=power_law", "data.distinct_eigenvalues=4")
    assert theory_for(blocks)[0] == EigenBlockTheory()
    assert theory_for(_setup("student.kind=random_features", "student.hidden=8"))[0] == ReadoutTheory()
    theory, why = theory_for(_setup("student.activation=relu", "teacher.activation=relu"))
    assert theory is None and why == "none: activation 'relu' has no closed-form I3/I4 (the ODE needs erf or linear)"
    theory, why = theory_for(_setup("student.activation=linear"))
    assert theory is None and why == "none: student and teacher activations differ"
    # A registry without a theory for random features says so.
    theory, why = theory_for(_setup("student.kind=random_features", "student.hidden=8"), THEORIES[:2])
    assert theory is None and "RandomFeatureStudentSpec" in why


@pytest.mark.parametrize(
    "cls", [AbstractTheory, sl.AbstractStudent, sl.AbstractLearner, sl.AbstractStudentSpec, sl.AbstractActivation]
)
def test_abstract_classes_cannot_be_instantiated(cls):
    with pytest.raises(TypeError):
        cls()


def test_the_theory_starts_from_the_networks_the_simulation_trains():
    """One spec, two back-ends: the theory's initial overlaps are the simulation's records at alpha = 0."""
    setup = _setup("data.spectrum=power_law", "data.distinct_eigenvalues=4", "training.learning_rate=[0.3, 0.5]")
    (sim,) = setup.learner.run(setup)
    theory = EigenBlockTheory()
    initial = theory.initial_state(setup, setup.networks())
    np.testing.assert_allclose(sim.q_blocks[0, :, 0], initial.q_blocks, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(sim.r_blocks[1, :, 0], initial.r_blocks, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(sim.t_blocks, initial.t_blocks, rtol=1e-14, atol=1e-16)
    trajectory = theory.solve(setup, initial)
    eps = trajectory.per_variant["eps_g_theory"]
    assert eps.shape == (2, 2, setup.grid.times.size) and np.all(np.isfinite(eps))
    np.testing.assert_allclose(eps[:, :, 0], sim.eps_g[:, :, 0], rtol=1e-10)


def test_a_sweep_over_k_groups_its_variants_by_student_size():
    # Random-feature widths are padded into one group; a homogeneous student's run in groups of one K.
    setup = _setup("student.kind=random_features", "student.hidden=[8, 16, 8]")
    assert setup.variants.padded and [list(group) for group in setup.variants.groups()] == [[0, 1, 2]]
    assert setup.variants.labels == ("hidden=8", "hidden=16", "hidden=8")
    unpadded = eqx.tree_at(lambda s: s.variants.padded, setup, False)
    assert [list(group) for group in unpadded.variants.groups()] == [[0, 2], [1]]
    results = run_experiment(setup)
    assert results.arrays["eps_g_sim"].shape[:2] == (3, 2)
    np.testing.assert_array_equal(results.arrays["eps_g_sim"][0], results.arrays["eps_g_sim"][2])
    assert np.all(np.isfinite(results.arrays["eps_g_theory"]))


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def test_modules_and_functions_stay_small():
    too_long = []
    for path in _modules():
        source = path.read_text()
        if len(source.splitlines()) > 400:
            too_long.append(f"{path.name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 80:
                too_long.append(f"{path.name}:{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_long


def test_the_simulation_imports_nothing_from_the_theory():
    for path in sorted((PACKAGE / "simulate").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert "theory" not in (node.module or ""), f"{path.name} imports {node.module}"


def test_docstrings_cite_files_inside_the_repository():
    root = PACKAGE.parent
    for path in _modules():
        text = path.read_text()
        assert "shared/" not in text, f"{path.name} cites a file outside the repository"
        for cited in {part.split("`")[0] for part in text.split("`tests/")[1:]}:
            assert (root / "tests" / cited).exists(), f"{path.name} cites tests/{cited}"
        for cited in {part.split("`")[0] for part in text.split("`benchmarks/")[1:]}:
            assert (root / "benchmarks" / cited).exists(), f"{path.name} cites benchmarks/{cited}"
        for cited in {part.split("`")[0].split(",")[0] for part in text.split("`experiments/")[1:]}:
            if not cited.startswith("results/"):
                assert (root / "experiments" / cited).exists(), f"{path.name} cites experiments/{cited}"


def test_the_random_feature_paper_is_cited_by_its_arxiv_id():
    """Its journal reference is unverified: the library, configs and README cite arXiv:2303.14083."""
    root = PACKAGE.parent
    texts = [*_modules(), *sorted((root / "configs").glob("*.toml")), root / "README.md"]
    for path in texts:
        text = path.read_text()
        assert "Phys. Rev. Research" not in text and "PRR 2024" not in text, path.name


def test_the_library_entry_point_runs_once_and_then_serves_its_cache(tiny, tmp_path):
    from scalinglaws import experiment

    calls = []
    first = experiment.run(tiny, tmp_path / "run", before_compute=lambda estimate, note: calls.append(note))
    again = experiment.run(tiny, tmp_path / "run", before_compute=lambda estimate, note: calls.append(note))
    assert calls == [None] and not first.cached and again.cached and again.path == tmp_path / "run"
    assert sorted(first.arrays) == sorted(again.arrays)
    for name, values in first.arrays.items():
        np.testing.assert_array_equal(values, again.arrays[name], err_msg=name)
    assert again.summary["config_hash"] == first.summary["config_hash"]
