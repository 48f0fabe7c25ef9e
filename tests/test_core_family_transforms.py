"""The family's core functions (``softq_ref.core.actor_critic``, ``softq_ref.core.policy_gradient``) under
``jit``, ``vmap`` and eager evaluation, and with traced hyperparameters (no recompilation).

The same pattern as ``tests/test_core_transforms.py``; ``FAMILY_EXAMPLES`` is written so that it can be
merged into that file's ``EXAMPLES`` when these functions join ``softq_ref.core.__all__``."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from softq_ref.core import actor_critic, policy_gradient

BATCH = 3


def _q(rng, shape):
    return rng.normal(size=shape).astype(np.float32) * 2.0


def _positive(rng, low=0.1, high=2.0):
    return np.float32(rng.uniform(low, high))


def _done(rng, shape):
    return (rng.uniform(size=shape) < 0.3).astype(np.float32)


FUNCTIONS = {
    "sac_soft_value": actor_critic.sac_soft_value,
    "sac_q_target": actor_critic.sac_q_target,
    "tanh_gaussian_log_prob": actor_critic.tanh_gaussian_log_prob,
    "sac_policy_loss": actor_critic.sac_policy_loss,
    "sac_temperature_loss": actor_critic.sac_temperature_loss,
    "polyak_update": actor_critic.polyak_update,
    "soft_returns": policy_gradient.soft_returns,
    "soft_policy_gradient_surrogate": policy_gradient.soft_policy_gradient_surrogate,
    "soft_td_advantage": policy_gradient.soft_td_advantage,
}

FAMILY_EXAMPLES = {
    "sac_soft_value": lambda rng: (_q(rng, (5,)), _q(rng, (5,)), _positive(rng)),
    "sac_q_target": lambda rng: (_q(rng, (5,)), np.float32(rng.uniform()), _done(rng, (5,)), _q(rng, (2, 5)),
                                 _q(rng, (5,)), _positive(rng)),
    "tanh_gaussian_log_prob": lambda rng: (_q(rng, (4, 2)), _q(rng, (4, 2)), _q(rng, (4, 2)) * 0.2),
    "sac_policy_loss": lambda rng: (_q(rng, (5,)), _q(rng, (5,)), _positive(rng)),
    "sac_temperature_loss": lambda rng: (np.float32(rng.normal()), _q(rng, (5,)), np.float32(-rng.uniform(1, 4))),
    "polyak_update": lambda rng: ({"w": _q(rng, (3, 2))}, {"w": _q(rng, (3, 2))}, np.float32(rng.uniform())),
    "soft_returns": lambda rng: (_q(rng, (6,)), _q(rng, (6,)), _positive(rng), np.float32(rng.uniform()),
                                 _done(rng, (6,)), np.float32(rng.normal())),
    "soft_policy_gradient_surrogate": lambda rng: (_q(rng, (6,)), _q(rng, (6,)), np.float32(rng.uniform())),
    "soft_td_advantage": lambda rng: (_q(rng, (5,)), _q(rng, (5,)), _q(rng, (5,)), _q(rng, (5,)), _done(rng, (5,)),
                                      np.float32(rng.uniform()), _positive(rng)),
}


def test_every_family_core_function_has_an_example():
    # "__mutmut": the mutated copies mutmut adds to a module under mutation testing (docs/mutation.md).
    public = {name for module in (actor_critic, policy_gradient) for name in dir(module)
              if not name.startswith("_") and "__mutmut" not in name and callable(getattr(module, name))
              and getattr(getattr(module, name), "__module__", None) == module.__name__}
    # default_target_entropy takes a static int: checked in test_core_actor_critic.
    assert public - {"default_target_entropy"} == set(FAMILY_EXAMPLES)


@pytest.mark.parametrize("name", sorted(FAMILY_EXAMPLES))
def test_family_jit_vmap_eager_agree(name):
    fn = FUNCTIONS[name]
    examples = [FAMILY_EXAMPLES[name](np.random.default_rng(seed)) for seed in range(BATCH)]
    eager = [fn(*args) for args in examples]
    jitted = jax.jit(fn)
    for args, expected in zip(examples, eager):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), jitted(*args), expected)
    batched_args = [jax.tree.map(lambda *xs: np.stack(xs), *column) for column in zip(*examples)]
    batched = jax.jit(jax.vmap(fn))(*batched_args)
    stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *eager)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), batched, stacked)


@pytest.mark.parametrize("name, argnum", [("sac_soft_value", 2), ("sac_policy_loss", 2), ("soft_returns", 2),
                                          ("soft_returns", 3), ("soft_td_advantage", 6), ("polyak_update", 2)])
def test_family_hyperparameters_traced_no_recompile(name, argnum):
    fn, args = FUNCTIONS[name], list(FAMILY_EXAMPLES[name](np.random.default_rng(0)))
    traces = []

    def counted(*a):
        traces.append(None)
        return fn(*a)

    jitted = jax.jit(counted)
    for value in (0.5, 0.7, 0.25):
        args[argnum] = value
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), jitted(*args), fn(*args))
    assert len(traces) == 1


def test_family_traced_check_catches_broken_static_hyperparameter():
    """The count can fail: alpha marked static recompiles for every new value."""
    fn, args = FUNCTIONS["sac_soft_value"], list(FAMILY_EXAMPLES["sac_soft_value"](np.random.default_rng(0)))
    traces = []

    def counted(*a):
        traces.append(None)
        return fn(*a)

    jitted = jax.jit(counted, static_argnums=2)
    for value in (0.5, 0.7):
        args[2] = value
        jitted(*args)
    assert len(traces) == 2
