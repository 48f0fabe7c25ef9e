"""Every public function of ``softq_ref.core`` under ``jit``, ``vmap`` and eager evaluation.

The equations are pure functions of one example; the agent jits them and vmaps them over
states, seeds and temperatures.  These tests check that the three ways of evaluating agree,
that ``vmap`` can batch the temperature too, and that a new temperature (or discount, or
bandwidth) reaches a jitted function as a traced value: the second call does not recompile.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softq_ref.core as core

BATCH = 3


def _q(rng, shape):
    return rng.normal(size=shape).astype(np.float32) * 2.0


def _probs(rng, shape):
    p = rng.uniform(0.0, 1.0, size=shape).astype(np.float32)
    p[..., 0] = 0.0  # a zero probability exercises 0 log 0
    return p / p.sum(-1, keepdims=True)


def _positive(rng, low=0.1, high=2.0):
    return np.float32(rng.uniform(low, high))


# name -> function building the arguments of one example from a NumPy generator.
EXAMPLES = {
    "soft_value": lambda rng: (_q(rng, (4, 3)), _positive(rng)),
    "log_boltzmann_policy": lambda rng: (_q(rng, (4, 3)), _positive(rng)),
    "boltzmann_policy": lambda rng: (_q(rng, (4, 3)), _positive(rng)),
    "entropy": lambda rng: (_probs(rng, (4, 3)),),
    "soft_value_is": lambda rng: (_q(rng, (16,)), _q(rng, (16,)) * 0.1, _positive(rng)),
    "soft_bellman_target": lambda rng: (
        _q(rng, (5,)),
        np.float32(rng.uniform(0.0, 1.0)),
        (rng.uniform(size=5) < 0.3).astype(np.float32),
        _q(rng, (5,)),
    ),
    "soft_q_loss": lambda rng: (_q(rng, (5,)), _q(rng, (5,))),
    "rbf_kernel": lambda rng: (_q(rng, (4, 2)), _q(rng, (3, 2)), _positive(rng)),
    "median_bandwidth": lambda rng: (_q(rng, (4, 2)), _q(rng, (3, 2))),
    "svgd_direction": lambda rng: (_q(rng, (4, 2)), _q(rng, (4, 2)), _q(rng, (3, 2)), _positive(rng), _positive(rng)),
    "svgd_surrogate": lambda rng: (_q(rng, (3, 2)), _q(rng, (3, 2))),
    # |u| <= 2 keeps 1 - a^2 >= 0.07: nearer the edge, float32 rounding of a^2 differs between programs.
    "tanh_log_det_jacobian": lambda rng: (np.tanh(np.clip(_q(rng, (3, 2)), -2.0, 2.0)),),
}

# Functions of static Python numbers only (not arrays): jit with static arguments, no vmap.
STATIC_EXAMPLES = {
    "uniform_log_density": [(1, -1.0, 1.0), (3, -1.0, 1.0), (2, 0.0, 4.0)],
}


def check_jit_vmap_eager_agree(name: str) -> None:
    """Eager, jit and vmap (over every argument, temperatures included) give the same numbers."""
    fn = getattr(core, name)
    examples = [EXAMPLES[name](np.random.default_rng(seed)) for seed in range(BATCH)]
    eager = [fn(*args) for args in examples]
    jitted = jax.jit(fn)
    for args, expected in zip(examples, eager):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), jitted(*args), expected)
    # vmap over a batch of examples, inside jit as the training step uses it (one compile, not
    # one per primitive as an eager vmap would cost).
    batched_args = [np.stack(column) for column in zip(*examples)]
    batched = jax.jit(jax.vmap(fn))(*batched_args)
    stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *eager)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), batched, stacked)


def check_static_jit_agrees(name: str) -> None:
    fn = getattr(core, name)
    for args in STATIC_EXAMPLES[name]:
        eager = fn(*args)
        assert isinstance(eager, float)
        np.testing.assert_allclose(jax.jit(fn, static_argnums=tuple(range(len(args))))(*args), eager, rtol=1e-6)


def test_eq5_jit_vmap_eager_agree():
    check_jit_vmap_eager_agree("soft_value")


@pytest.mark.parametrize("name", ["log_boltzmann_policy", "boltzmann_policy"])
def test_eq6_jit_vmap_eager_agree(name):
    check_jit_vmap_eager_agree(name)


def test_def_entropy_jit_vmap_eager_agree():
    check_jit_vmap_eager_agree("entropy")


def test_eq10_jit_vmap_eager_agree():
    check_jit_vmap_eager_agree("soft_value_is")
    # uniform_log_density is a function of the action box's static size and bounds.
    check_static_jit_agrees("uniform_log_density")


@pytest.mark.parametrize("name", ["soft_bellman_target", "soft_q_loss"])
def test_eq11_jit_vmap_eager_agree(name):
    check_jit_vmap_eager_agree(name)


@pytest.mark.parametrize("name", ["rbf_kernel", "median_bandwidth", "svgd_direction"])
def test_eq13_jit_vmap_eager_agree(name):
    check_jit_vmap_eager_agree(name)


def test_eq14_jit_vmap_eager_agree():
    check_jit_vmap_eager_agree("svgd_surrogate")


def test_def_tanh_squash_jit_vmap_eager_agree():
    check_jit_vmap_eager_agree("tanh_log_det_jacobian")


def test_transforms_cover_every_public_core_function():
    assert set(EXAMPLES) | set(STATIC_EXAMPLES) == set(core.__all__)


# ---------------------------------------------------------------------------------------
# Hyperparameters are traced: a new value does not recompile.
# ---------------------------------------------------------------------------------------


def check_hyperparameter_traced(fn, args, argnum: int, values=(0.5, 0.7, 1e-3), jit=jax.jit) -> None:
    """Call ``jit(fn)`` with new Python-float values at ``argnum``: one trace, right answers."""
    traces = []

    def counted(*a):
        traces.append(None)  # runs only while tracing
        return fn(*a)

    jitted = jit(counted)
    args = list(args)
    for value in values:
        args[argnum] = value
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), jitted(*args), fn(*args))
    assert len(traces) == 1, f"traced {len(traces)} times for {len(values)} values of argument {argnum}"


def _example(name):
    return getattr(core, name), EXAMPLES[name](np.random.default_rng(0))


def test_eq5_alpha_traced_no_recompile():
    check_hyperparameter_traced(*_example("soft_value"), argnum=1)


@pytest.mark.parametrize("name", ["log_boltzmann_policy", "boltzmann_policy"])
def test_eq6_alpha_traced_no_recompile(name):
    check_hyperparameter_traced(*_example(name), argnum=1)


def test_eq10_alpha_traced_no_recompile():
    check_hyperparameter_traced(*_example("soft_value_is"), argnum=2)


def test_eq11_discount_traced_no_recompile():
    check_hyperparameter_traced(*_example("soft_bellman_target"), argnum=1, values=(0.99, 0.9, 0.0))


@pytest.mark.parametrize("name, argnum", [("svgd_direction", 3), ("svgd_direction", 4), ("rbf_kernel", 2)])
def test_eq13_alpha_and_bandwidth_traced_no_recompile(name, argnum):
    check_hyperparameter_traced(*_example(name), argnum=argnum)


def test_eq5_traced_check_catches_broken_static_alpha():
    fn, args = _example("soft_value")
    # alpha marked static (a Python float baked into the program): every new value recompiles.
    with pytest.raises(AssertionError, match="traced 3 times"):
        check_hyperparameter_traced(fn, args, argnum=1, jit=lambda f: jax.jit(f, static_argnums=1))

    # A Python branch on alpha cannot be traced at all.
    def branching_soft_value(q, alpha):
        if alpha == 0:
            return jnp.max(q, axis=-1)
        return core.soft_value(q, alpha)

    with pytest.raises(jax.errors.ConcretizationTypeError):
        check_hyperparameter_traced(branching_soft_value, args, argnum=1)
