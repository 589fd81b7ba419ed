"""The stiff solver: RODAS4's order, exactness on a stiff linear system, and the eigen-block ODE's
structured solve with `I - c J`."""

import diffrax
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import scipy.linalg

import scalinglaws as sl
from scalinglaws.theory import BlockArgs, BlockState, EigenBlockODE, Rodas4, dense_factorise, solve_soft_committee


def _smooth(t, y, args):
    return {"u": -(y["u"] ** 2) + 0.1 * jnp.cos(t)}


def test_rodas4_is_fourth_order():
    y0 = {"u": jnp.asarray(1.0)}
    reference = diffrax.diffeqsolve(
        diffrax.ODETerm(_smooth),
        diffrax.Tsit5(),
        0.0,
        2.0,
        None,
        y0,
        None,
        stepsize_controller=diffrax.PIDController(rtol=1e-13, atol=1e-14),
        max_steps=100_000,
    ).ys["u"][-1]
    errors = []
    for steps in (10, 20, 40):
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(_smooth), Rodas4(dense_factorise(_smooth)), 0.0, 2.0, 2.0 / steps, y0, None
        )
        errors.append(abs(float(solution.ys["u"][-1] - reference)))
    orders = np.log2(np.asarray(errors[:-1]) / np.asarray(errors[1:]))
    np.testing.assert_allclose(orders, 4.0, atol=0.3)


def test_rodas4_solves_a_stiff_linear_system_in_few_steps():
    """Eigenvalues -1 and -1e5: exact to the tolerance, with steps set by accuracy, not stability."""
    a = jnp.asarray([[-1.0, 0.5, 0.0], [0.0, -1e5, 1.0], [0.0, 0.0, -30.0]])
    y0 = jnp.asarray([1.0, 1.0, 1.0])

    def field(t, y, args):
        return a @ y

    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        Rodas4(dense_factorise(field)),
        0.0,
        3.0,
        None,
        y0,
        None,
        stepsize_controller=diffrax.PIDController(rtol=1e-9, atol=1e-12),
    )
    exact = scipy.linalg.expm(3.0 * np.asarray(a)) @ np.asarray(y0)
    np.testing.assert_allclose(solution.ys[-1], exact, rtol=1e-7, atol=1e-12)
    assert int(solution.stats["num_steps"]) < 1500  # an explicit solver needs about 1e5


def _block_problem(blocks, train_second_layer=True, noise=0.2, n=256, k=2, m=3, seed=0):
    key_t, key_s = jr.split(jr.key(seed))
    data = sl.power_law(n, 1.0, blocks)
    teacher = sl.teacher_network(n, m, sl.Erf(), dtype=jnp.float64, key=key_t)
    student = sl.student_network(n, k, sl.Erf(), init_std=0.3, second_layer_init=0.8, dtype=jnp.float64, key=key_s)
    w, b = student.first, teacher.first
    ode = EigenBlockODE(sl.Erf(), k, m, "sqrt", "sum", train_second_layer=train_second_layer)
    args = BlockArgs(
        jnp.asarray(0.3),
        jnp.asarray(0.4),
        data.block_overlaps(b, b),
        data.eigenvalues,
        teacher.second,
        jnp.asarray(noise),
    )
    state = BlockState(data.block_overlaps(w, w), data.block_overlaps(w, b), student.second)
    return ode, state, args


def test_structured_block_solve_equals_the_dense_solve():
    ode, state, args = _block_problem(8)
    rhs = jax.tree.map(lambda x: jnp.asarray(np.random.default_rng(1).normal(size=x.shape)), state)
    structured_solve = jax.jit(lambda c: ode.factorise(0.0, state, args, c)(rhs))
    dense_solve = jax.jit(lambda c: dense_factorise(ode)(0.0, state, args, c)(rhs))
    for c in (0.01, 0.7, 25.0):
        structured, dense = structured_solve(c), dense_solve(c)
        for a, b in zip(jax.tree.leaves(structured), jax.tree.leaves(dense)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_stiff_and_explicit_solutions_agree():
    ode, state, args = _block_problem(16, noise=0.0)
    alpha = jnp.asarray(np.concatenate([[0.0], np.logspace(-1, 2.5, 15)]))
    _, eps_explicit = solve_soft_committee(ode, state, args, alpha, rtol=1e-11, atol=1e-14)
    solution, eps_stiff = solve_soft_committee(
        ode, state, args, alpha, rtol=1e-9, atol=1e-12, solver=Rodas4(ode.factorise)
    )
    np.testing.assert_allclose(eps_stiff, eps_explicit, rtol=1e-6)
    np.testing.assert_allclose(solution.ys.q, solve_soft_committee(ode, state, args, alpha)[0].ys.q, atol=1e-8)
