"""Hostile inputs to the equation layer and the tabular solvers (issue 10, items 10 and 21).

Each case failed on the code before its fix (listed in the commit that added this file): the
solver stopped silently at ``max_iters``, and the edges below were accepted, gave NaN, or named
the wrong problem.  Each bad input now gets one ``ValueError`` that names the argument.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softq_ref.core import (
    boltzmann_policy,
    log_boltzmann_policy,
    median_bandwidth,
    soft_bellman_target,
    soft_q_loss,
    soft_value,
    tanh_log_det_jacobian,
    uniform_log_density,
)
from softq_ref.tabular import TabularMDP, q_iteration, soft_q_iteration
from softq_ref.tabular import solvers


def _chain(discount, reward=1.0):
    """One state, one action, reward ``reward`` forever: Q* = reward / (1 - discount) (alpha log 1 = 0)."""
    return TabularMDP(np.ones((1, 1, 1)), np.full((1, 1), reward), discount)


# ------------------------------------------------------------- item 10: soft Q-iteration
def test_soft_q_iteration_near_one_discount_reaches_the_exact_value():
    # gamma = 0.99999: Q* = 1e5. The old fixed 10_000 backups returned 1 - gamma^10000 = 9.5% of it.
    with jax.enable_x64(True):
        mdp = _chain(0.99999)
        q = soft_q_iteration(mdp, 1.0, tol=1e-3)
        assert abs(float(q[0, 0]) - 1e5) <= 1e-3


def test_default_max_iters_follows_discount_and_tolerance():
    # The a-priori count: gamma^k * bound <= tol, bound = |q0| + (max|r| + gamma alpha log A) / (1 - gamma).
    with jax.enable_x64(True):
        mdp = _chain(0.9)
        k = int(solvers._default_max_iters(mdp, jnp.float64(1.0), jnp.zeros((1, 1)), jnp.float64(1e-6)))
        assert k == math.ceil(math.log(1e-6 / 10.0) / math.log(0.9)) + 1
        k_tight = int(solvers._default_max_iters(mdp, jnp.float64(1.0), jnp.zeros((1, 1)), jnp.float64(1e-12)))
        assert k_tight > k
        slow = _chain(0.99999)
        assert int(solvers._default_max_iters(slow, jnp.float64(1.0), jnp.zeros((1, 1)), jnp.float64(1e-3))) > 10_000
        # gamma = 0: one backup is exact
        assert int(solvers._default_max_iters(_chain(0.0), jnp.float64(1.0), jnp.zeros((1, 1)), jnp.float64(1e-9))) == 1


def test_error_scale_of_a_float32_mdp_is_float32_arithmetic_whatever_the_x64_flag():
    # B = |q0| + (max|r| + gamma alpha log A) / (1 - gamma), every term in the MDP's dtype: the same bits with
    # x64 off and on (log A taken in float64 and rounded differs in the last bit, e.g. for A = 7, 47, 49).
    def scales():
        out = []
        for num_actions in (2, 7, 47, 49):  # one shape each: a compile each
            mdp = TabularMDP(np.ones((1, num_actions, 1), np.float32),
                             np.linspace(-1, 1, num_actions, dtype=np.float32)[None], 0.9)
            for alpha in (1.0, 7.0):
                b = solvers._error_scale(mdp, jnp.float32(alpha), jnp.zeros((1, num_actions), jnp.float32))
                assert b.dtype == jnp.float32
                out.append(np.asarray(b))
        return np.array(out)

    with jax.enable_x64(False):
        narrow = scales()
    with jax.enable_x64(True):
        wide = scales()
    np.testing.assert_array_equal(wide, narrow)


def test_default_max_iters_catches_a_wrong_bound():
    # must-fail twin: a count that ignores 1 / (1 - gamma) in the bound stops short of tol
    with jax.enable_x64(True):
        mdp = _chain(0.999)
        right = int(solvers._default_max_iters(mdp, jnp.float64(1.0), jnp.zeros((1, 1)), jnp.float64(1e-6)))
        wrong = math.ceil(math.log(1e-6 / 1.0) / math.log(0.999)) + 1
        q_wrong = soft_q_iteration(mdp, 1.0, tol=1e-6, max_iters=wrong)
        q_right = soft_q_iteration(mdp, 1.0, tol=1e-6, max_iters=right)
        assert abs(float(q_right[0, 0]) - 1000.0) <= 1e-6 < abs(float(q_wrong[0, 0]) - 1000.0)


def test_default_max_iters_at_its_edges():
    with jax.enable_x64(True):
        one, zero = jnp.float64(1.0), jnp.zeros((1, 1))
        # a bound below 1 (reward 1/4, gamma 1/2: B = 1/2) counts from B itself: gamma^k B <= tol
        k = int(solvers._default_max_iters(_chain(0.5, 0.25), one, zero, jnp.float64(1e-6)))
        assert k == math.ceil(math.log(1e-6 / 0.5) / math.log(0.5)) + 1 == 20
        # a count of exactly MAX_AUTO_ITERS is allowed; one more is past the cap (MAX_AUTO_ITERS + 1, refused)
        gamma = 0.999999
        bound = 1.0 / (1.0 - gamma)
        tol = bound * math.exp((solvers.MAX_AUTO_ITERS - 1.5) * math.log(gamma))  # k - 1 = MAX - 1.5, rounded up
        mdp = _chain(gamma)
        assert int(solvers._default_max_iters(mdp, one, zero, jnp.float64(tol))) == solvers.MAX_AUTO_ITERS
        tol_past = bound * math.exp((solvers.MAX_AUTO_ITERS - 0.5) * math.log(gamma))
        assert int(solvers._default_max_iters(mdp, one, zero, jnp.float64(tol_past))) == solvers.MAX_AUTO_ITERS + 1
        assert int(solvers._default_max_iters(mdp, one, zero, jnp.float64(0.0))) == solvers.MAX_AUTO_ITERS + 1


def test_a_tolerance_that_needs_exactly_max_auto_iters_backups_is_accepted():
    # The a-priori count may reach MAX_AUTO_ITERS itself. Start at the float64 fixed point of the chain
    # (q = 1 + gamma q holds exactly there), so that the loop then stops after one backup.
    with jax.enable_x64(True):
        gamma = 0.999999
        q_fixed = 1.0 / (1.0 - gamma)
        while 1.0 + gamma * q_fixed != q_fixed:
            q_fixed = 1.0 + gamma * q_fixed
        bound = q_fixed + 1.0 / (1.0 - gamma)  # |q0| + max|r| / (1 - gamma)
        tol = bound * math.exp((solvers.MAX_AUTO_ITERS - 1.5) * math.log(gamma))
        q0 = jnp.full((1, 1), q_fixed)
        mdp = _chain(gamma)
        assert int(solvers._default_max_iters(mdp, jnp.float64(1.0), q0, jnp.float64(tol))) == solvers.MAX_AUTO_ITERS
        q, info = soft_q_iteration(mdp, 1.0, q0=q0, tol=tol, return_info=True)
        assert float(q[0, 0]) == q_fixed and int(info.iterations) == 1 and bool(info.converged)


def test_soft_q_iteration_reports_non_convergence():
    with jax.enable_x64(True):
        mdp = _chain(0.99999)
        q, info = soft_q_iteration(mdp, 1.0, tol=1e-3, max_iters=10_000, return_info=True)
        assert not bool(info.converged)
        assert int(info.iterations) == 10_000
        assert float(info.error_bound) > 1e4  # the truth is 1e5 - 9516
        q, info = soft_q_iteration(mdp, 1.0, tol=1e-3, return_info=True)
        assert bool(info.converged) and float(info.error_bound) <= 1e-3
        _, info = q_iteration(mdp, tol=1e-3, max_iters=100, return_info=True)
        assert not bool(info.converged)


def test_soft_q_iteration_converged_flag_is_traced_under_jit():
    mdp = _chain(0.9)
    flags = jax.jit(lambda n: soft_q_iteration(mdp, 1.0, tol=1e-3, max_iters=n, return_info=True)[1].converged)
    assert not bool(flags(3)) and bool(flags(500))


def test_impossible_tolerance_is_refused_up_front():
    with jax.enable_x64(True):
        with pytest.raises(ValueError, match=r"^discount 0\.999999999999 and tol 0\.0 need more than 50000000 backups "
                           r"to guarantee the tolerance; raise tol or pass max_iters$"):
            soft_q_iteration(_chain(1.0 - 1e-12), 1.0, tol=0.0)
        with pytest.raises(ValueError, match="backups"):
            soft_q_iteration(_chain(1.0 - 1e-9), 1.0, tol=1e-12)


def test_tabular_mdp_rejects_a_discount_that_rounds_to_one():
    with pytest.raises(ValueError, match="rounds to 1"):
        TabularMDP(np.ones((1, 1, 1), np.float32), np.ones((1, 1), np.float32), 0.999999999)


# ---------------------------------------------------------------------- item 21: core edges
def test_soft_value_of_a_string_names_the_type():
    with pytest.raises(ValueError, match="numeric") as err:
        soft_value("abc", 1.0)
    assert "scalar" not in str(err.value)


def test_uniform_log_density_accepts_numpy_ints():
    assert uniform_log_density(np.int64(2)) == uniform_log_density(2) == -2 * math.log(2.0)
    for bad in (True, 2.0, np.float32(2.0), 0, np.int64(-1)):
        with pytest.raises(ValueError, match="action_dim"):
            uniform_log_density(bad)


def test_log_boltzmann_policy_of_all_minus_inf_is_uniform_like_ties():
    q = jnp.array([-jnp.inf, -jnp.inf])
    assert float(soft_value(q, 1.0)) == -math.inf
    np.testing.assert_allclose(log_boltzmann_policy(q, 1.0), [-math.log(2.0)] * 2)
    np.testing.assert_allclose(boltzmann_policy(q, 1.0), [0.5, 0.5])
    # a row with one finite entry is unchanged
    np.testing.assert_allclose(boltzmann_policy(jnp.array([-jnp.inf, 0.0]), 1.0), [0.0, 1.0])
    # and under jit, row by row
    rows = jnp.array([[-jnp.inf, -jnp.inf, -jnp.inf], [0.0, 0.0, -jnp.inf]])
    np.testing.assert_allclose(jax.jit(boltzmann_policy)(rows, 1.0), [[1 / 3] * 3, [0.5, 0.5, 0.0]], rtol=1e-6)


def test_tanh_log_det_jacobian_rejects_actions_outside_the_box():
    with pytest.raises(ValueError, match=r"actions.*\[-1, 1\]"):
        tanh_log_det_jacobian(jnp.array([2.0]))
    with pytest.raises(ValueError, match="actions"):
        tanh_log_det_jacobian(jnp.array([[0.0, jnp.nan]]))
    assert np.isfinite(float(tanh_log_det_jacobian(jnp.array([1.0]))))  # the edge itself is in the box
    # the message names the offending value, not an edge value before it (kills mutant svgd 13: <= -> <)
    with pytest.raises(ValueError, match=r"got 2\.0"):
        tanh_log_det_jacobian(jnp.array([1.0, 2.0]))


def test_soft_q_loss_of_empty_arrays_is_refused():
    with pytest.raises(ValueError, match="empty"):
        soft_q_loss(jnp.zeros(0), jnp.zeros(0))


def test_median_bandwidth_rejects_a_non_positive_floor():
    x = jnp.zeros((2, 1))
    for bad in (-1.0, 0.0, math.nan):
        with pytest.raises(ValueError, match="min_bandwidth"):
            median_bandwidth(x, x, min_bandwidth=bad)


def test_soft_bellman_target_rejects_done_outside_0_1():
    r = jnp.zeros(2)
    with pytest.raises(ValueError, match="done"):
        soft_bellman_target(r, 0.9, 2.0, r)
    with pytest.raises(ValueError, match="done"):
        soft_bellman_target(r, 0.9, jnp.array([0.0, 0.5]), r)
    np.testing.assert_allclose(soft_bellman_target(r, 0.9, jnp.array([True, False]), jnp.ones(2)), [0.0, 0.9])


def test_tabular_mdp_rejects_a_string_discount():
    with pytest.raises(ValueError, match="discount"):
        TabularMDP(np.ones((1, 1, 1)), np.zeros((1, 1)), "0.9")


def test_tabular_mdp_rejects_rewards_whose_values_overflow():
    with pytest.raises(ValueError, match="overflow"):
        TabularMDP(np.ones((1, 1, 1), np.float32), np.full((1, 1), 1e38, np.float32), 0.9)
    TabularMDP(np.ones((1, 1, 1), np.float32), np.full((1, 1), 1e30, np.float32), 0.9)  # fine


def test_validation_reads_lists_and_names_the_argument_and_the_shape_in_full():
    from softq_ref.core.validation import check_axis, check_numeric

    check_numeric([1.0, 2.0], "q")  # a list without a dtype is read through NumPy: numbers pass
    check_numeric([[1, 2], [3, 4]], "q")
    with pytest.raises(ValueError, match=r"^q must be a numeric array, got str 'abc'$"):
        check_numeric("abc", "q")
    with pytest.raises(ValueError, match=r"^q must be a numeric array, got list \[\[1\.0\], \[1\.0, 2\.0\]\]$"):
        check_numeric([[1.0], [1.0, 2.0]], "q")  # ragged: NumPy refuses it, so it is not numeric
    with pytest.raises(ValueError, match=r"^q must be a numeric array, got list \['a'\]$"):
        check_axis(["a"], 0, "q")
    with pytest.raises(ValueError, match=r"^axis 2 is out of range for q with shape \(3,\)$"):
        check_axis(np.zeros(3), 2, "q")
    with pytest.raises(ValueError, match=r"^q has an empty action axis \(shape \(2, 0\), axis 1\)$"):
        check_axis(np.zeros((2, 0)), -1, "q")
