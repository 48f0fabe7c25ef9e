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
    q_iteration,
    random_mdp,
    soft_bellman_operator,
    soft_policy_evaluation,
    soft_policy_improvement,
    soft_policy_iteration,
    soft_q_iteration,
)
from softq_ref.tabular.mdp import _format_sum
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


def test_def_mdp_row_sum_in_the_message_has_six_digits_or_as_many_as_it_takes_not_to_read_1():
    transitions, rewards = _valid_tables()
    transitions[1, 1] = [0.2623456789, 0.125, 0.125]  # sums to 0.5123456789
    with pytest.raises(ValueError, match=r"^transitions\[1, 1\] sums to 0\.512346, not 1 "):
        TabularMDP(transitions, rewards, 0.9)
    transitions, rewards = _valid_tables()
    transitions[0, 1, 0] += 1.51234e-6  # off by more than 1e-6, but "1" to six digits
    with pytest.raises(ValueError, match=r"^transitions\[0, 1\] sums to 1\.00000151, not 1 "):
        TabularMDP(transitions, rewards, 0.9)


def test_def_mdp_format_sum_prints_the_fewest_of_6_9_12_17_digits_that_do_not_read_1():
    # The helper of the row-sum message: a total that is not 1 never prints as "1".
    assert _format_sum(0.5123456789) == "0.512346"
    assert _format_sum(1.0) == "1"
    assert _format_sum(1.00000151234) == "1.00000151"
    assert _format_sum(1 + 1.234e-10) == "1.00000000012"
    assert _format_sum(1 + 2**-52) == "1.0000000000000002"  # the next float64 after 1: all 17 digits
    assert _format_sum(1 - 2**-53) == "0.99999999999999989"
    for total in (1 + 2**-52, 1 - 2**-53, 1 + 1e-15):
        assert float(_format_sum(total)) == total  # 17 digits round-trip a float64


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


def _message(transitions, rewards, discount) -> str:
    with pytest.raises(ValueError) as err:
        TabularMDP(transitions, rewards, discount)
    return str(err.value)


def test_def_mdp_messages_name_the_field_the_entry_and_the_shapes_in_full():
    t, r = _valid_tables()
    assert _message(t[0], r, 0.9) == "transitions must have shape [S, A, S], got shape (2, 3)"
    assert _message(t, r[0], 0.9) == "rewards must have shape [S, A], got shape (2,)"
    assert _message(np.ones((2, 0, 2)), np.ones((2, 0)), 0.9) == (
        "transitions needs at least one state and one action, got shape (2, 0, 2)")
    assert _message(np.full((2, 2, 3), 1 / 3), r[:2], 0.9) == (
        "transitions must have shape [S, A, S] (next states on the last axis), got shape (2, 2, 3)")
    assert _message(t, r.T, 0.9) == "rewards must have shape [S, A] = (3, 2) to match transitions, got (2, 3)"
    assert _message(t, r, "0.9") == "discount must be a number, got the string '0.9'"
    assert _message(t, r, np.full((1,), 0.9)) == "discount must be a scalar, got shape (1,)"
    bad = t.copy()
    bad[0, 1, 2] = np.nan
    assert _message(bad, r, 0.9) == "transitions[0, 1, 2] is nan; transition probabilities must be finite"
    bad = t.copy()
    bad[1, 0] = [-0.1, 0.6, 0.5]
    assert _message(bad, r, 0.9) == "transitions[1, 0, 0] = -0.1 is negative; transition probabilities must be >= 0"
    bad = t.copy()
    bad[2, 1, 0] = 0.43
    assert _message(bad, r, 0.9) == (
        "transitions[2, 1] sums to 0.93, not 1 (rows over the last axis must sum to 1 within 1e-06; nothing is renormalised)")
    bad = r.copy()
    bad[2, 0] = -np.inf
    assert _message(t, bad, 0.9) == "rewards[2, 0] is -inf; rewards must be finite"
    assert _message(t, r, 1.5) == "discount must lie in [0, 1), got 1.5"
    t32, r32 = t.astype(np.float32), r.astype(np.float32)
    assert _message(t32, r32, 0.99999999) == "discount 0.99999999 rounds to 1 in float32; use float64 or a smaller discount"
    assert _message(t32, np.full((3, 2), -1e37, np.float32), 0.9) == (
        "rewards up to 1e+37 with discount 0.9 give values up to 1e+38, which overflow float32; scale the rewards down")


def test_def_mdp_row_sum_tolerance_is_1e_6_plus_one_eps_of_the_dtype_per_entry():
    # 100 next states, one row off by 1e-5: beyond 1e-6, within 1e-6 + 100 eps(float32) = 1.29e-5.
    n = 100
    row = np.full(n, 1.0 / n)
    row[0] += 1e-5
    transitions = np.tile(row, (n, 1, 1))  # [S, A, S] = [100, 1, 100]
    TabularMDP(transitions.astype(np.float32), np.zeros((n, 1), np.float32), 0.5)  # accepted
    assert _message(transitions, np.zeros((n, 1)), 0.5) == (
        "transitions[0, 0] sums to 1.00001, not 1 (rows over the last axis must sum to 1 within 1e-06; "
        "nothing is renormalised)")
    row[0] += 0.5e-5  # off by 1.5e-5: beyond the float32 tolerance too
    transitions = np.tile(row, (n, 1, 1)).astype(np.float32)
    assert _message(transitions, np.zeros((n, 1), np.float32), 0.5) == (
        "transitions[0, 0] sums to 1.00001, not 1 (rows over the last axis must sum to 1 within 1.3e-05; "
        "nothing is renormalised)")


def test_def_mdp_row_sums_are_taken_in_float64():
    # Two float32 entries summing to 1 + 1.2517e-6, beyond the float32 tolerance 1e-6 + 2 eps = 1.2384e-6;
    # summed in float32 they would round to 1 + 1.1921e-6, inside it.
    a, b = np.float32(0.5000000596046448), np.float32(0.5000011920928955)
    assert float(a) + float(b) - 1 > 1e-6 + 2 * np.finfo(np.float32).eps >= float(a + b) - 1
    transitions = np.array([[[a, b]], [[0.5, 0.5]]], np.float32)
    assert _message(transitions, np.zeros((2, 1), np.float32), 0.5) == (
        "transitions[0, 0] sums to 1.00000125, not 1 (rows over the last axis must sum to 1 within 1.2e-06; "
        "nothing is renormalised)")


def test_def_mdp_integer_policies_are_checked_with_the_plain_tolerance():
    mdp = random_mdp(jax.random.key(0), 3, 2)
    np.testing.assert_allclose(soft_policy_evaluation(mdp, np.array([[1, 0], [0, 1], [1, 0]]), 1.0),
                               soft_policy_evaluation(mdp, np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), 1.0))
    with pytest.raises(ValueError, match=r"^policy\[0\] sums to 2, not 1 \(rows over the last axis must sum to 1 "
                                         r"within 1e-06; nothing is renormalised\)$"):
        soft_policy_evaluation(mdp, np.array([[1, 1], [0, 1], [1, 0]]), 1.0)
    with pytest.raises(ValueError, match=r"^policy\[1, 0\] = -0\.123457 is negative; action probabilities must be >= 0$"):
        soft_policy_evaluation(mdp, np.array([[0.5, 0.5], [-0.123456789, 1.123456789], [1.0, 0.0]]), 1.0)


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
        ({"reward_scale": np.inf}, r"^reward_scale must be a finite scalar >= 0, got inf$"),
        ({"reward_scale": np.ones(2)}, r"^reward_scale must be a finite scalar >= 0, got array\(\[1\., 1\.\]\)$"),
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
    with pytest.raises(ValueError, match=r"^alpha must be a scalar, got shape \(3,\)$"):
        soft_bellman_operator(mdp, jnp.zeros((3, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match=r"q\[1, 0\] is nan"):
        soft_bellman_operator(mdp, jnp.zeros((3, 2)).at[1, 0].set(jnp.nan), 1.0)
    with pytest.raises(TypeError, match=r"^mdp must be a TabularMDP, got tuple$"):
        soft_bellman_operator((mdp.transitions, mdp.rewards), jnp.zeros((3, 2)), 1.0)


def test_thm3_soft_q_iteration_rejects_bad_loop_settings(mdp):
    with pytest.raises(ValueError, match="tol must be"):
        soft_q_iteration(mdp, 1.0, tol=-1.0)
    with pytest.raises(ValueError, match=r"^tol must be a finite scalar >= 0, got inf$"):
        soft_q_iteration(mdp, 1.0, tol=np.inf)
    with pytest.raises(ValueError, match=r"^tol must be a finite scalar >= 0, got array\(\[0\.001, 0\.001\]\)$"):
        soft_q_iteration(mdp, 1.0, tol=np.array([1e-3, 1e-3]))
    with pytest.raises(ValueError, match=r"^max_iters must be an int >= 1, got array\(\[5, 5\]\)$"):
        soft_q_iteration(mdp, 1.0, max_iters=np.array([5, 5]))
    with pytest.raises(ValueError, match="max_iters must be an int >= 1"):
        soft_q_iteration(mdp, 1.0, max_iters=0)
    with pytest.raises(ValueError, match=r"q0 must have shape"):
        soft_q_iteration(mdp, 1.0, q0=jnp.zeros(3))


def test_thm3_q_iteration_and_soft_policy_iteration_reject_bad_loop_settings_and_q0(mdp):
    with pytest.raises(ValueError, match=r"^max_iters must be an int >= 1, got 0$"):
        q_iteration(mdp, max_iters=0)
    with pytest.raises(ValueError, match=r"^max_iters must be an int >= 1, got 2\.5$"):
        soft_policy_iteration(mdp, 1.0, max_iters=2.5)
    with pytest.raises(ValueError, match=r"^max_iters must be an int >= 1, got 0$"):
        soft_policy_iteration(mdp, 1.0, max_iters=0)
    with pytest.raises(ValueError, match=r"^q0 must have shape \[S, A\] = \(3, 2\), got \(3,\)$"):
        q_iteration(mdp, q0=jnp.zeros(3))
    with pytest.raises(ValueError, match=r"^q0\[2, 1\] is inf; q0 must be finite$"):
        q_iteration(mdp, q0=jnp.zeros((3, 2)).at[2, 1].set(jnp.inf))


@pytest.mark.parametrize(
    "solve",
    [
        lambda mdp, n: q_iteration(mdp, max_iters=n),
        lambda mdp, n: soft_q_iteration(mdp, 1.0, max_iters=n),
        lambda mdp, n: soft_policy_iteration(mdp, 1.0, max_iters=n)[0],
    ],
    ids=["q_iteration", "soft_q_iteration", "soft_policy_iteration"],
)
def test_thm3_loop_counts_beyond_int32_are_refused_naming_max_iters(mdp, solve):
    # The loops count in int32: a larger bound used to fail with "Python integer ... out of bounds for int32".
    with pytest.raises(ValueError, match=r"^max_iters must be at most 2\*\*31 - 1 = 2147483647, got 2147483648$"):
        solve(mdp, 2**31)
    assert solve(mdp, 2**31 - 1).shape == (3, 2)  # the largest bound is accepted (and converges early)


def test_thm3_default_tolerance_of_q_iteration_and_soft_policy_iteration_is_1e_8():
    # One state; action 0 pays 1, action 1 pays 0: Q* = (1 + 0.9 * 10, 0.9 * 10) = (10, 9).
    chain = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), 0.9)
    q, info = q_iteration(chain, return_info=True)
    assert float(info.error_bound) <= 1e-8 and bool(info.converged)
    np.testing.assert_allclose(q, [[10.0, 9.0]], rtol=0, atol=1e-8)
    # soft: Q = r + 0.9 V with V = log(e^Q0 + e^Q1) = Q0 + log(1 + e^-1): Q0 = (1 + 0.9 log(1 + e^-1)) / 0.1
    soft, info = soft_q_iteration(chain, 1.0, return_info=True)
    assert float(info.error_bound) <= 1e-8 and bool(info.converged)
    q0_exact = (1.0 + 0.9 * np.log1p(np.exp(-1.0))) / 0.1
    np.testing.assert_allclose(soft, [[q0_exact, q0_exact - 1.0]], rtol=0, atol=1e-8)
    # soft policy iteration, default tol, against soft Q-iteration far below it
    mdp = random_mdp(jax.random.key(3), 4, 3, discount=0.95, reward_scale=5.0)
    q_spi, _ = soft_policy_iteration(mdp, 0.3)
    np.testing.assert_allclose(q_spi, soft_q_iteration(mdp, 0.3, tol=1e-12), rtol=0, atol=1e-8)


def test_thm3_q_iteration_a_priori_error_bound_is_attained_from_a_far_start():
    # One state, two actions, no reward, gamma = 1/2: Q* = 0. From q0 = (100, -100) one backup gives (50, 50):
    # |Q_1 - Q*| = 50 = gamma^1 (|q0| + max|r| / (1 - gamma)), the a-priori bound (alpha = 0: no log A term),
    # tighter than the a-posteriori gamma |Q_1 - Q_0| / (1 - gamma) = 150.
    mdp = TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), 0.5)
    q, info = q_iteration(mdp, q0=jnp.array([[100.0, -100.0]]), max_iters=1, return_info=True)
    np.testing.assert_array_equal(q, [[50.0, 50.0]])
    assert float(info.error_bound) == 50.0 and int(info.iterations) == 1 and not bool(info.converged)


def test_thm3_iteration_stops_at_the_first_backup_that_guarantees_tol():
    # One state, one action, reward 1, gamma = 1/2, from 0: Q_k = 2 - 2^(1-k), all exact in binary. The stopping
    # rule gamma |Q_k - Q_(k-1)| <= (1 - gamma) tol with tol = 2^-10 first holds, with equality, at k = 11, where
    # |Q_11 - Q*| = 2^-10 = tol: the bound is attained and counts as converged. (With one action the soft backup
    # is the hard one.)
    chain = TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), 0.5)
    for q, info in (q_iteration(chain, tol=2.0**-10, max_iters=100, return_info=True),
                    soft_q_iteration(chain, 1.0, tol=2.0**-10, max_iters=100, return_info=True)):
        assert int(info.iterations) == 11
        assert float(q[0, 0]) == 2.0 - 2.0**-10
        assert float(info.error_bound) == 2.0**-10 and bool(info.converged)


def test_thm3_a_priori_bound_is_attained_after_two_backups():
    # Two states; action a leads to state a; no reward, gamma = 0.9: Q* = 0, Q_(k+1)(s, a) = 0.9 max Q_k(a, .).
    # From q0 = [[100, -100], [-100, -100]]: Q_1 = [[90, -90], [90, -90]], Q_2 = 81 everywhere. The error 81 is
    # gamma^2 |q0| (the a-priori bound), far below the a-posteriori 0.9 * 171 / 0.1 = 1539.
    transitions = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    mdp = TabularMDP(transitions, np.zeros((2, 2)), 0.9)
    q, info = q_iteration(mdp, q0=jnp.array([[100.0, -100.0], [-100.0, -100.0]]), max_iters=2, return_info=True)
    np.testing.assert_allclose(q, 81.0, rtol=1e-15)
    assert float(info.error_bound) == pytest.approx(81.0, rel=1e-15) and int(info.iterations) == 2


def test_thm4_soft_policy_iteration_takes_1000_steps_by_default_when_tol_is_out_of_reach():
    # In float32 the iterates keep moving at the rounding level, so tol = 0 is never met and the
    # loop stops at max_iters: the default result is the 1000-step result, bit for bit.
    m = random_mdp(jax.random.key(3), 3, 2)
    mdp = TabularMDP(np.asarray(m.transitions, np.float32), np.asarray(m.rewards, np.float32), 0.9)
    q, policy = soft_policy_iteration(mdp, 1.0, tol=0.0)
    q_1000, policy_1000 = soft_policy_iteration(mdp, 1.0, tol=0.0, max_iters=1000)
    np.testing.assert_array_equal(q, q_1000)
    np.testing.assert_array_equal(policy, policy_1000)
    # The step count is visible on this MDP on the CPU (checked): one step fewer or more gives other
    # bits. Whether float32 iterates still move at step 1000 depends on the platform's rounding, so
    # where 999 and 1001 steps give the same bits as each other the count cannot be seen and this
    # half is skipped rather than failed.
    q_999, q_1001 = (soft_policy_iteration(mdp, 1.0, tol=0.0, max_iters=n)[0] for n in (999, 1001))
    if np.array_equal(q_999, q_1001):
        pytest.skip("float32 iterates stopped moving before step 999 on this platform")
    for other in (q_999, q_1001):
        assert not np.array_equal(q, other)


def test_thm3_solver_info_is_in_the_mdp_dtype():
    # A float32 MDP with x64 on: the Q-table and every float of the info stay float32.
    mdp = TabularMDP(np.ones((1, 3, 1), np.float32), np.array([[1.0, 0.0, 0.5]], np.float32), 0.5)
    for q, info in (soft_q_iteration(mdp, np.float64(0.5), tol=1e-3, return_info=True),
                    q_iteration(mdp, tol=1e-3, return_info=True)):
        assert q.dtype == info.error_bound.dtype == jnp.float32
        assert info.iterations.dtype == jnp.int32


def test_def_soft_policy_evaluation_and_objective_are_in_the_mdp_dtype():
    # A float32 MDP with x64 on, float64 policy and temperature: float32 results, bit for bit those of float32 inputs.
    m = random_mdp(jax.random.key(1), 3, 2)
    mdp = TabularMDP(np.asarray(m.transitions, np.float32), np.asarray(m.rewards, np.float32), 0.9)
    policy, mu = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]]), np.array([0.5, 0.25, 0.25])
    for f in (lambda p, a, m: soft_policy_evaluation(mdp, p, a), lambda p, a, m: maxent_objective(mdp, p, a, m),
              lambda p, a, m: soft_policy_iteration(mdp, a, policy0=p, max_iters=3)[0]):
        wide = f(policy, np.float64(0.7), mu)
        narrow = f(policy.astype(np.float32), np.float32(0.7), mu.astype(np.float32))
        assert wide.dtype == narrow.dtype == jnp.float32
        np.testing.assert_array_equal(wide, narrow)


def test_thm4_soft_policy_improvement_of_one_row_and_of_integer_tables():
    # One state (a 1-D row of actions): q = [0, log 3], alpha = 1 gives [1, 3] / 4.
    np.testing.assert_allclose(soft_policy_improvement(jnp.array([0.0, np.log(3.0)]), 1.0), [0.25, 0.75], rtol=1e-12)
    # an integer table is read as the default float dtype (float64 here); a float table keeps its dtype
    pi = soft_policy_improvement(np.array([[0, 1], [2, 2]]), 0.5)
    assert pi.dtype == jnp.float64
    np.testing.assert_allclose(pi, [[1 / (1 + np.e**2), np.e**2 / (1 + np.e**2)], [0.5, 0.5]], rtol=1e-12)
    narrow = soft_policy_improvement(np.array([[0.0, 1.0]], np.float32), np.float64(1.0))
    assert narrow.dtype == jnp.float32
    np.testing.assert_array_equal(narrow, soft_policy_improvement(np.array([[0.0, 1.0]], np.float32), np.float32(1.0)))


def test_def_soft_policy_evaluation_rejects_a_bad_policy(mdp):
    good = jnp.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"policy must have shape \[S, A\] = \(3, 2\)"):
        soft_policy_evaluation(mdp, jnp.full((3, 3), 1 / 3), 1.0)
    with pytest.raises(ValueError, match=r"policy\[1\] sums to 0\.8, not 1"):
        soft_policy_evaluation(mdp, good.at[1, 0].set(0.3), 1.0)
    with pytest.raises(ValueError, match=r"^policy\[2, 1\] = -0\.5 is negative; action probabilities must be >= 0$"):
        soft_policy_evaluation(mdp, good.at[2].set(jnp.array([1.5, -0.5])), 1.0)
    with pytest.raises(ValueError, match=r"^policy\[0, 1\] is nan; action probabilities must be finite$"):
        soft_policy_evaluation(mdp, good.at[0, 1].set(jnp.nan), 1.0)
    with pytest.raises(ValueError, match=r"^policy must have shape \[S, A\] = \(3, 2\), got \(3, 3\)$"):
        maxent_objective(mdp, jnp.full((3, 3), 1 / 3), 1.0, jnp.ones(3) / 3)
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
    with pytest.raises(ValueError, match=r"^initial_distribution must have shape \[S\] = \(3,\), got \(1, 3\)$"):
        maxent_objective(mdp, policy, 1.0, jnp.ones((1, 3)) / 3)
    with pytest.raises(ValueError, match=r"^initial_distribution\[1\] is nan; initial-state probabilities must be finite$"):
        maxent_objective(mdp, policy, 1.0, jnp.array([0.5, jnp.nan, 0.5]))
    with pytest.raises(ValueError, match=r"^initial_distribution\[0\] = -0\.5 is negative; initial-state probabilities must be >= 0$"):
        maxent_objective(mdp, policy, 1.0, jnp.array([-0.5, 0.75, 0.75]))


def test_def_finite_horizon_rejects_bad_arguments(mdp):
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        finite_horizon_soft_values(mdp, 0)
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        finite_horizon_soft_values(mdp, 2.0)
    with pytest.raises(ValueError, match=r"discount must lie in \[0, 1\]"):
        finite_horizon_soft_values(mdp, 3, discount=1.5)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        finite_horizon_soft_values(mdp, 3, -1.0)
    with pytest.raises(ValueError, match=r"^discount must be a scalar, got shape \(2,\)$"):
        finite_horizon_soft_values(mdp, 3, discount=np.array([0.5, 0.5]))


def test_def_finite_horizon_default_temperature_is_1():
    # One state, two actions, no reward, gamma = 1: V_t = (T - t) alpha log 2; the default alpha is 1.
    mdp = TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), 0.5)
    _, v = finite_horizon_soft_values(mdp, 3)
    np.testing.assert_allclose(v[:, 0], np.log(2.0) * np.array([3.0, 2.0, 1.0]), rtol=1e-15)


def test_thm4_soft_policy_improvement_rejects_a_scalar_q():
    with pytest.raises(ValueError, match=r"^q must have at least one dimension \(the action axis\), got a scalar$"):
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


def test_def_mdp_transition_messages_say_transition_probabilities():
    # A negative transition probability is named as one (the generic word is "probabilities").
    with pytest.raises(ValueError, match=r"^transitions\[0, 0, 0\] = -0\.5 is negative; transition probabilities must be >= 0$"):
        TabularMDP(np.array([[[-0.5, 1.5]]] * 2), np.zeros((2, 1)), 0.5)


def test_def_mdp_discount_that_rounds_to_1_names_the_mdp_dtype():
    gamma = 1.0 - 1e-9  # below 1 in float64, 1.0 in float32
    with pytest.raises(ValueError, match=r"^discount 0\.999999999 rounds to 1 in float32; use float64"):
        TabularMDP(np.ones((1, 1, 1), np.float32), np.zeros((1, 1), np.float32), gamma)


def test_def_mdp_value_bound_is_max_reward_over_1_minus_gamma_against_a_sixteenth_of_the_dtype_max():
    # Values are bounded by max|r| / (1 - gamma); an MDP is refused when that bound exceeds
    # finfo(dtype).max / 16 (strictly), accepted at or below it.  gamma = 0.5 doubles the reward.
    big = float(np.finfo(np.float32).max)
    p = np.ones((1, 1, 1), np.float32)

    def mdp(reward):
        return TabularMDP(p, np.full((1, 1), reward, np.float32), 0.5)

    mdp(big / 32)  # the bound is exactly max / 16: accepted
    mdp(big / 33)  # the bound is max / 16.5: accepted
    with pytest.raises(ValueError, match=r"^rewards up to 1\.28e\+37 with discount 0\.5 give values up to 2\.55e\+37, "
                                         r"which overflow float32; scale the rewards down$"):
        mdp(1.2 * big / 32)  # the bound is 1.2 max / 16


def test_def_mdp_a_row_exactly_at_the_tolerance_is_accepted():
    # The tolerance is 1e-6 + n eps and the comparison strict: a row whose float64 sum is exactly
    # 1 + tol passes, one 2**-50 above fails.  Such a row needs a tolerance that 1 + tol represents
    # exactly: bfloat16 (eps 2**-7) with n = 256 entries gives tol = 2.000001, and the row below sums
    # to 3.000001 exactly (twelve entries 0.25 and four bfloat16-exact pieces of the remainder).
    import ml_dtypes

    from softq_ref.tabular.mdp import _check_stochastic

    pieces = [float.fromhex(h) for h in ("0x1.0cp-20", "0x1.bcp-30", "0x1.e8p-38", "0x1.8p-49")]
    row = [0.25] * 12 + pieces
    table = np.array([row + [0.0] * (256 - len(row))], dtype=ml_dtypes.bfloat16)
    tol = 1e-6 + 256 * float(jnp.finfo(ml_dtypes.bfloat16).eps)
    assert abs(np.asarray(table, np.float64).sum() - 1.0) == tol
    _check_stochastic(table, "policy")
    table[0, -1] = 2.0**-50
    with pytest.raises(ValueError, match=r"^policy\[0\] sums to 3, not 1 \(rows over the last axis must sum to 1 within 2;"):
        _check_stochastic(table, "policy")


def test_def_mdp_discount_is_stored_in_the_mdp_dtype():
    # With x64 on, a float64 discount given to a float32 MDP is stored as float32, so that it cannot
    # widen the solvers' arithmetic (a float64 discount would promote every backup to float64).
    with jax.enable_x64(True):
        p, r = np.ones((1, 2, 1), np.float32), np.array([[1.0, 0.5]], np.float32)
        for discount in (np.float64(0.9), 0.9):
            mdp = TabularMDP(p, r, discount)
            assert mdp.discount.dtype == jnp.float32 and not mdp.discount.weak_type
            assert soft_q_iteration(mdp, 1.0, tol=1e-3).dtype == jnp.float32
