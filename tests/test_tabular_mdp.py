"""TabularMDP and random_mdp (spec ``def-mdp``), the solvers' argument checks, and the public strategies."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softq_ref.tabular import (
    TabularMDP,
    finite_horizon_soft_values,
    maxent_objective,
    random_mdp,
    soft_bellman_operator,
    soft_policy_evaluation,
    soft_policy_improvement,
    soft_policy_iteration,
    soft_q_iteration,
)
from softq_ref.testing import DEFAULT_NUM_ACTIONS, DEFAULT_NUM_STATES, mdps, policies, q_tables, temperatures


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):
        yield


def _valid_tables():
    transitions = np.zeros((3, 2, 3))
    transitions[:, :, 0] = 0.5
    transitions[:, :, 1] = 0.25
    transitions[:, :, 2] = 0.25
    rewards = np.arange(6.0).reshape(3, 2)
    return transitions, rewards


def _assert_valid(mdp: TabularMDP) -> None:
    t = np.asarray(mdp.transitions, dtype=np.float64)
    s, a = mdp.num_states, mdp.num_actions
    assert t.shape == (s, a, s) and mdp.rewards.shape == (s, a) and mdp.discount.shape == ()
    assert np.all(t >= 0)
    np.testing.assert_allclose(t.sum(-1), 1.0, atol=1e-6)
    assert np.all(np.isfinite(np.asarray(mdp.rewards)))
    assert 0.0 <= float(mdp.discount) < 1.0


# --------------------------------------------------------------------------- the constructor


def test_def_mdp_accepts_valid_tables_and_stores_them_unchanged():
    transitions, rewards = _valid_tables()
    mdp = TabularMDP(transitions, rewards, 0.9)
    assert (mdp.num_states, mdp.num_actions) == (3, 2)
    np.testing.assert_array_equal(mdp.transitions, transitions)
    np.testing.assert_array_equal(mdp.rewards, rewards)
    assert mdp.discount.dtype == mdp.rewards.dtype == jnp.float64
    assert float(mdp.discount) == 0.9


def test_def_mdp_converts_integer_tables_to_float():
    transitions = np.zeros((2, 1, 2), dtype=np.int32)
    transitions[:, 0, 1] = 1
    mdp = TabularMDP(transitions, np.ones((2, 1), dtype=np.int32), 0)
    assert jnp.issubdtype(mdp.transitions.dtype, jnp.floating)
    assert jnp.issubdtype(mdp.rewards.dtype, jnp.floating)


def test_def_mdp_rejects_a_row_that_does_not_sum_to_one_and_does_not_renormalise():
    transitions, rewards = _valid_tables()
    transitions[2, 1, 0] = 0.43  # the row sums to 0.93
    with pytest.raises(ValueError, match=r"transitions\[2, 1\] sums to 0\.93, not 1"):
        TabularMDP(transitions, rewards, 0.9)


def test_def_mdp_rejects_a_row_just_outside_the_tolerance():
    transitions, rewards = _valid_tables()
    transitions[0, 0, 0] += 1e-5
    with pytest.raises(ValueError, match=r"transitions\[0, 0\] sums to 1\.00001, not 1"):
        TabularMDP(transitions, rewards, 0.9)
    transitions[0, 0, 0] -= 1e-5 - 1e-8  # within 1e-6: accepted as given
    mdp = TabularMDP(transitions, rewards, 0.9)
    assert float(mdp.transitions[0, 0, 0]) == transitions[0, 0, 0]


def test_def_mdp_rejects_a_negative_probability():
    transitions, rewards = _valid_tables()
    transitions[1, 0] = [-0.1, 0.6, 0.5]  # sums to 1, but one entry is negative
    with pytest.raises(ValueError, match=r"transitions\[1, 0, 0\] = -0\.1 is negative"):
        TabularMDP(transitions, rewards, 0.9)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_def_mdp_rejects_non_finite_transitions(bad):
    transitions, rewards = _valid_tables()
    transitions[0, 1, 2] = bad
    with pytest.raises(ValueError, match=r"transitions\[0, 1, 2\] is .*must be finite"):
        TabularMDP(transitions, rewards, 0.9)


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_def_mdp_rejects_non_finite_rewards(bad):
    transitions, rewards = _valid_tables()
    rewards[2, 0] = bad
    with pytest.raises(ValueError, match=r"rewards\[2, 0\] is .*rewards must be finite"):
        TabularMDP(transitions, rewards, 0.9)


@pytest.mark.parametrize("discount", [1.0, -0.1, 1.5, np.nan, np.inf])
def test_def_mdp_rejects_a_discount_outside_the_unit_interval(discount):
    transitions, rewards = _valid_tables()
    with pytest.raises(ValueError, match=r"discount must lie in \[0, 1\)"):
        TabularMDP(transitions, rewards, discount)


@pytest.mark.parametrize(
    ("transitions_shape", "rewards_shape", "discount", "field"),
    [
        ((3, 2), (3, 2), 0.9, "transitions"),
        ((3, 2, 4), (3, 2), 0.9, "transitions"),
        ((0, 2, 0), (0, 2), 0.9, "transitions"),
        ((3, 2, 3), (2, 3), 0.9, "rewards"),
        ((3, 2, 3), (3, 2, 1), 0.9, "rewards"),
        ((3, 2, 3), (3, 2), np.full(2, 0.9), "discount"),
    ],
)
def test_def_mdp_rejects_shapes_that_disagree(transitions_shape, rewards_shape, discount, field):
    transitions = np.full(transitions_shape, 1.0 / max(transitions_shape[-1], 1))
    with pytest.raises(ValueError, match=rf"^{field} (must|needs)"):
        TabularMDP(transitions, np.zeros(rewards_shape), discount)


def test_def_mdp_is_a_jit_and_vmap_argument_and_checks_only_shapes_of_tracers():
    mdp = random_mdp(jax.random.key(0), 3, 2)

    @jax.jit
    def total_reward(m: TabularMDP):
        return jnp.sum(m.rewards) * m.discount

    np.testing.assert_allclose(total_reward(mdp), np.sum(mdp.rewards) * 0.9)
    # Under jit the values are unknown: an invalid table is not (cannot be) rejected ...
    build = jax.jit(lambda t, r, g: TabularMDP(t, r, g).discount)
    assert float(build(jnp.full((2, 1, 2), 7.0), jnp.zeros((2, 1)), 3.0)) == 3.0
    # ... but its shapes are.
    with pytest.raises(ValueError, match="rewards must have shape"):
        build(jnp.full((2, 1, 2), 0.5), jnp.zeros((2, 2)), 0.5)
    batch = jax.vmap(lambda k: random_mdp(k, 2, 3))(jax.random.split(jax.random.key(1), 4))
    assert batch.transitions.shape == (4, 2, 3, 2)
    assert batch.discount.shape == (4,)


# --------------------------------------------------------------------------- random_mdp


@given(
    seed=st.integers(0, 2**31 - 1),
    num_states=st.sampled_from(DEFAULT_NUM_STATES),
    num_actions=st.sampled_from(DEFAULT_NUM_ACTIONS),
    discount=st.floats(0.0, 0.99),
    reward_scale=st.floats(0.0, 10.0),
    sparsity=st.sampled_from([0.0, 0.5, 0.9]),
)
def test_def_mdp_random_mdp_is_valid(seed, num_states, num_actions, discount, reward_scale, sparsity):
    mdp = random_mdp(
        jax.random.key(seed), num_states, num_actions, discount=discount, reward_scale=reward_scale, sparsity=sparsity
    )
    _assert_valid(mdp)
    assert (mdp.num_states, mdp.num_actions) == (num_states, num_actions)
    assert float(mdp.discount) == pytest.approx(discount)
    assert float(jnp.max(jnp.abs(mdp.rewards))) <= reward_scale
    if sparsity == 0.0:
        assert bool(jnp.all(mdp.transitions > 0))


def test_def_mdp_random_mdp_sparsity_removes_next_states():
    dense = random_mdp(jax.random.key(3), 5, 4, sparsity=0.0)
    sparse = random_mdp(jax.random.key(3), 5, 4, sparsity=0.9)
    assert int(jnp.sum(dense.transitions == 0)) == 0
    assert int(jnp.sum(sparse.transitions == 0)) > 40  # about 0.9 * 4/5 of the 100 entries
    _assert_valid(sparse)


def test_def_mdp_random_mdp_is_pure_in_its_key():
    a = random_mdp(jax.random.key(7), 3, 2)
    b = random_mdp(jax.random.key(7), 3, 2)
    np.testing.assert_array_equal(a.transitions, b.transitions)
    np.testing.assert_array_equal(a.rewards, b.rewards)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_states": 0}, "num_states must be a positive int"),
        ({"num_actions": 2.0}, "num_actions must be a positive int"),
        ({"discount": 1.0}, r"discount must lie in \[0, 1\)"),
        ({"reward_scale": -1.0}, "reward_scale must be a finite scalar >= 0"),
        ({"sparsity": 1.0}, r"sparsity must be a float in \[0, 1\)"),
    ],
)
def test_def_mdp_random_mdp_rejects_bad_arguments(kwargs, message):
    args = {"num_states": 3, "num_actions": 2} | kwargs
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=message):
        random_mdp(key, args.pop("num_states"), args.pop("num_actions"), **args)


# --------------------------------------------------------------------------- the solvers' argument checks


@pytest.fixture
def mdp():
    return random_mdp(jax.random.key(0), 3, 2)


@pytest.mark.parametrize("alpha", [-0.5, np.nan, np.inf])
def test_thm3_soft_q_iteration_rejects_a_bad_temperature(mdp, alpha):
    with pytest.raises(ValueError, match="alpha must be"):
        soft_q_iteration(mdp, alpha)


def test_thm2_soft_bellman_operator_rejects_bad_arguments(mdp):
    with pytest.raises(ValueError, match=r"q must have shape \[S, A\] = \(3, 2\)"):
        soft_bellman_operator(mdp, jnp.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match="alpha must be a scalar"):
        soft_bellman_operator(mdp, jnp.zeros((3, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match=r"q\[1, 0\] is nan"):
        soft_bellman_operator(mdp, jnp.zeros((3, 2)).at[1, 0].set(jnp.nan), 1.0)
    with pytest.raises(TypeError, match="mdp must be a TabularMDP"):
        soft_bellman_operator((mdp.transitions, mdp.rewards), jnp.zeros((3, 2)), 1.0)


def test_thm3_soft_q_iteration_rejects_bad_loop_settings(mdp):
    with pytest.raises(ValueError, match="tol must be"):
        soft_q_iteration(mdp, 1.0, tol=-1.0)
    with pytest.raises(ValueError, match="max_iters must be an int >= 1"):
        soft_q_iteration(mdp, 1.0, max_iters=0)
    with pytest.raises(ValueError, match=r"q0 must have shape"):
        soft_q_iteration(mdp, 1.0, q0=jnp.zeros(3))


def test_def_soft_policy_evaluation_rejects_a_bad_policy(mdp):
    good = jnp.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"policy must have shape \[S, A\] = \(3, 2\)"):
        soft_policy_evaluation(mdp, jnp.full((3, 3), 1 / 3), 1.0)
    with pytest.raises(ValueError, match=r"policy\[1\] sums to 0\.8, not 1"):
        soft_policy_evaluation(mdp, good.at[1, 0].set(0.3), 1.0)
    with pytest.raises(ValueError, match=r"policy\[2, 1\] = -0\.5 is negative"):
        soft_policy_evaluation(mdp, good.at[2].set(jnp.array([1.5, -0.5])), 1.0)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        soft_policy_evaluation(mdp, good, -1.0)
    with pytest.raises(ValueError, match=r"policy must have shape"):
        soft_policy_iteration(mdp, 1.0, policy0=jnp.ones((3, 1)))


def test_def_maxent_objective_rejects_a_bad_initial_distribution(mdp):
    policy = jnp.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"initial_distribution must have shape \[S\] = \(3,\)"):
        maxent_objective(mdp, policy, 1.0, jnp.ones(2) / 2)
    with pytest.raises(ValueError, match=r"initial_distribution sums to 1\.5, not 1"):
        maxent_objective(mdp, policy, 1.0, jnp.array([0.5, 0.5, 0.5]))


def test_def_finite_horizon_rejects_bad_arguments(mdp):
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        finite_horizon_soft_values(mdp, 0)
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        finite_horizon_soft_values(mdp, 2.0)
    with pytest.raises(ValueError, match=r"discount must lie in \[0, 1\]"):
        finite_horizon_soft_values(mdp, 3, discount=1.5)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        finite_horizon_soft_values(mdp, 3, -1.0)


def test_thm4_soft_policy_improvement_rejects_a_scalar_q():
    with pytest.raises(ValueError, match="at least one dimension"):
        soft_policy_improvement(jnp.asarray(1.0), 1.0)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        soft_policy_improvement(jnp.zeros((2, 2)), -1.0)


# --------------------------------------------------------------------------- the public strategies


@given(mdp=mdps(), data=st.data(), alpha=temperatures(1e-2, 5.0, allow_zero=True))
def test_def_mdp_strategies_draw_valid_objects_of_the_fixed_sizes(mdp, data, alpha):
    _assert_valid(mdp)
    assert mdp.num_states in DEFAULT_NUM_STATES and mdp.num_actions in DEFAULT_NUM_ACTIONS
    assert float(mdp.discount) <= 0.95
    assert mdp.transitions.dtype == jnp.float64
    policy = data.draw(policies(mdp.num_states, mdp.num_actions))
    assert policy.shape == (mdp.num_states, mdp.num_actions)
    np.testing.assert_allclose(np.sum(policy, axis=-1), 1.0, atol=1e-12)
    assert bool(jnp.all(policy >= 0))
    q = data.draw(q_tables(mdp.num_states, mdp.num_actions, bound=3.0))
    assert q.shape == policy.shape and float(jnp.max(jnp.abs(q))) <= 3.0
    assert alpha == 0.0 or 1e-2 <= alpha <= 5.0


@given(mdp=mdps(num_states=4, num_actions=(3,), discounts=0.5, deterministic=True))
def test_def_mdp_strategies_draw_deterministic_mdps(mdp):
    _assert_valid(mdp)
    assert (mdp.num_states, mdp.num_actions, float(mdp.discount)) == (4, 3, 0.5)
    np.testing.assert_array_equal(np.max(mdp.transitions, axis=-1), 1.0)


def test_def_mdp_strategies_reject_bad_sizes():
    with pytest.raises(ValueError, match="num_states must be a positive int"):
        mdps(num_states=0)
    with pytest.raises(ValueError, match="min_value"):
        temperatures(0.0, 1.0)


def test_def_mdp_testing_package_needs_hypothesis(monkeypatch):
    for name in [m for m in sys.modules if m == "softq_ref.testing" or m.startswith("softq_ref.testing.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(ImportError, match=r"softq_ref\.testing needs Hypothesis.*pip install 'softq_ref\[test\]'"):
        import softq_ref.testing  # noqa: F401
