"""Soft values, Boltzmann policies and entropy: spec ``eq-5``, ``eq-6``, ``def-entropy``.

Eq. (5) and (6) are Theorem 1 of Haarnoja et al. (2017), Sec. 2.2; over a finite action
set the integral of eq. (5) is a sum.  Each golden value is derived by hand in a comment.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from softq_ref.core import boltzmann_policy, entropy, log_boltzmann_policy, soft_value

F32_EPS = float(np.finfo(np.float32).eps)

# A few fixed shapes (each new shape recompiles), values of moderate size.
q_rows = st.sampled_from([(3,), (5,), (2, 4)]).flatmap(
    lambda shape: hnp.arrays(np.float64, shape, elements=st.floats(-20.0, 20.0))
)
temperatures = st.sampled_from([1e-3, 0.1, 0.5, 1.0, 3.0, 100.0])

# The Hypothesis properties run through jit with alpha traced: one compile per shape, not per example.
_grad_v_wrt_q = jax.jit(jax.grad(lambda q, alpha: jnp.sum(soft_value(q, alpha))))
_grad_v_wrt_alpha = jax.jit(jax.grad(lambda alpha, q: jnp.sum(soft_value(q, alpha))))
_jit_policy = jax.jit(boltzmann_policy)
_jit_log_policy = jax.jit(log_boltzmann_policy)
_jit_soft_value = jax.jit(soft_value)
_jit_entropy = jax.jit(entropy)


# ---------------------------------------------------------------------------------------
# eq-5: the soft value
# ---------------------------------------------------------------------------------------


def test_eq5_soft_value_closed_forms():
    # q = [0, 0], alpha = 1:  V = log(e^0 + e^0) = log 2.
    assert float(soft_value(jnp.array([0.0, 0.0]), 1.0)) == pytest.approx(math.log(2.0), rel=1e-6)
    # q = [1, 2, 3], alpha = 2:  V = 2 log(e^0.5 + e^1 + e^1.5)
    #   = 2 log(1.6487213 + 2.7182818 + 4.4816891) = 2 log 8.8486922 = 4.3605393.
    assert float(soft_value(jnp.array([1.0, 2.0, 3.0]), 2.0)) == pytest.approx(4.3605393, rel=1e-6)
    # Four equal values c = -7.5, alpha = 0.25:  V = c + alpha log 4 = -7.5 + 0.3465736 = -7.1534264.
    assert float(soft_value(jnp.full((4,), -7.5), 0.25)) == pytest.approx(-7.1534264, rel=1e-6)


def test_eq5_soft_value_axis_and_per_state_alpha():
    q = jnp.array([[0.0, 0.0], [1.0, 5.0]])
    # Over axis 0 with alpha = 1:  column 0 is log(e^0 + e^1) = log(1 + e) = 1.3132617,
    # column 1 is log(e^0 + e^5) = 5 + log(1 + e^-5) = 5.0067153.
    np.testing.assert_allclose(soft_value(q, 1.0, axis=0), [1.3132617, 5.0067153], rtol=1e-6)
    # One temperature per state (row): row 0 with alpha = 1 is log 2; row 1 with alpha = 0 is max = 5.
    np.testing.assert_allclose(soft_value(q, jnp.array([1.0, 0.0])), [math.log(2.0), 5.0], rtol=1e-6)


def test_eq5_soft_value_alpha_zero_is_exact_max():
    q = jnp.array([[-3.5, 2.25, 1.0], [7.0, 7.0, -1e30]])
    # alpha = 0 is the limit alpha -> 0 of eq. (5): the hard maximum, bit for bit.
    np.testing.assert_array_equal(soft_value(q, 0.0), [2.25, 7.0])


def test_eq5_soft_value_approaches_max_and_mean():
    q = jnp.array([0.5, -1.0, 2.0, 1.5])
    with jax.enable_x64(True):
        q64 = jnp.asarray(q, dtype=jnp.float64)
        # alpha -> 0: V -> max Q, with the gap bounded by alpha log |A|.
        assert float(soft_value(q64, 1e-6)) == pytest.approx(2.0, abs=1e-6 * math.log(4.0) + 1e-15)
        # alpha -> inf: V - alpha log |A| -> mean Q  (log mean exp(Q/alpha) = mean Q / alpha + O(1/alpha^2)).
        alpha = 1e6
        assert float(soft_value(q64, alpha)) - alpha * math.log(4.0) == pytest.approx(0.75, abs=1e-5)


def check_soft_value_stable(fn) -> None:
    """Fail unless ``fn(q, alpha)`` is finite and in ``[max Q, max Q + alpha log|A|]`` on hard inputs.

    float32, alpha from 1e-8 to 1e3, |q| up to 1e30, with ties and extreme rows.
    """
    rng = np.random.default_rng(0)
    n = 5
    rows = [rng.uniform(-1.0, 1.0, (3, n)) * scale for scale in (1.0, 1e4, 1e15, 1e30)]
    rows.append(np.array([[1e30, 1e30, -1e30, 0.0, 5.0], [-1e30] * n, [0.0] * n]))
    q = np.concatenate(rows).astype(np.float32)
    m = q.max(axis=-1).astype(np.float64)
    for alpha in (1e-8, 1e-6, 1e-3, 1.0, 1e3):
        v = np.asarray(fn(jnp.asarray(q), alpha), dtype=np.float64)
        assert np.all(np.isfinite(v)), f"non-finite soft value at alpha={alpha}: {v}"
        upper = m + alpha * math.log(n)
        # A few float32 roundings of slack, relative to the size of the numbers involved.
        slack = 4 * F32_EPS * (np.abs(m) + alpha * math.log(n))
        assert np.all(v >= m - slack), f"V < max Q at alpha={alpha}: {v - m}"
        assert np.all(v <= upper + slack), f"V > max Q + alpha log|A| at alpha={alpha}: {v - upper}"


def test_eq5_soft_value_stable_small_alpha_huge_q():
    check_soft_value_stable(soft_value)


def test_eq5_soft_value_stability_check_catches_broken_no_max_subtraction():
    def naive_soft_value(q, alpha):
        # Eq. (5) written literally: exp(Q / alpha) overflows for small alpha or large Q.
        return alpha * jnp.log(jnp.sum(jnp.exp(q / alpha), axis=-1))

    with pytest.raises(AssertionError, match="non-finite"):
        check_soft_value_stable(naive_soft_value)


def test_eq5_soft_value_stability_check_catches_broken_unbounded():
    def overshooting_soft_value(q, alpha):
        # A plausible slip: the log-partition over-counted by one extra exp(max) term.
        m = jnp.max(q, axis=-1, keepdims=True)
        z = jnp.sum(jnp.exp((q - m) / alpha), axis=-1)
        return m[..., 0] + alpha * jnp.log(z + q.shape[-1])

    with pytest.raises(AssertionError, match="V > max Q"):
        check_soft_value_stable(overshooting_soft_value)


@given(q=q_rows, alpha=temperatures)
def test_eq5_soft_value_gradient_is_boltzmann_policy(q, alpha):
    # dV/dQ(a) = exp(Q(a)/alpha) / sum_b exp(Q(b)/alpha) = pi(a), eq. (6).
    with jax.enable_x64(True):
        q = jnp.asarray(q)
        grad = _grad_v_wrt_q(q, alpha)
        np.testing.assert_allclose(grad, _jit_policy(q, alpha), rtol=1e-9, atol=1e-12)


def test_eq5_soft_value_gradient_finite_at_extremes():
    q = jnp.array([1e30, -1e30, 0.0, 1e30], dtype=jnp.float32)
    grad = jax.grad(soft_value)(q, 1e-8)
    # The two tied maxima share the mass; the rest get none.
    np.testing.assert_allclose(grad, [0.5, 0.0, 0.0, 0.5], atol=1e-7)
    # alpha = 0: the gradient of the hard max splits evenly over ties, which is pi at alpha = 0.
    q0 = jnp.array([1.0, 3.0, 3.0, 0.0])
    np.testing.assert_allclose(jax.grad(soft_value)(q0, 0.0), boltzmann_policy(q0, 0.0), atol=0)


@given(q=q_rows, alpha=temperatures)
def test_eq5_soft_value_alpha_derivative_is_entropy(q, alpha):
    # V/alpha = log Z with Z = sum exp(Q/alpha), so
    # dV/dalpha = log Z + alpha * sum pi * (-Q/alpha^2) = log Z - E_pi[Q]/alpha = H(pi).
    with jax.enable_x64(True):
        q = jnp.asarray(q)
        dv_dalpha = _grad_v_wrt_alpha(jnp.float64(alpha), q)
        expected = jnp.sum(_jit_entropy(_jit_policy(q, alpha)))
        np.testing.assert_allclose(dv_dalpha, expected, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------------------------
# eq-6: the Boltzmann policy
# ---------------------------------------------------------------------------------------


def test_eq6_boltzmann_policy_closed_form():
    # q = [0, log 3], alpha = 1:  pi = [1, 3] / 4.
    np.testing.assert_allclose(boltzmann_policy(jnp.array([0.0, math.log(3.0)]), 1.0), [0.25, 0.75], rtol=1e-6)
    # q = [0, 1], alpha = 0.5:  pi = [1, e^2] / (1 + e^2) = [0.1192029, 0.8807971].
    np.testing.assert_allclose(boltzmann_policy(jnp.array([0.0, 1.0]), 0.5), [0.1192029, 0.8807971], rtol=1e-6)


@given(q=q_rows, alpha=st.one_of(temperatures, st.just(0.0)))
def test_eq6_boltzmann_policy_sums_to_one(q, alpha):
    pi = _jit_policy(jnp.asarray(q, dtype=jnp.float32), alpha)
    assert np.all(np.asarray(pi) >= 0.0)
    np.testing.assert_allclose(jnp.sum(pi, axis=-1), 1.0, rtol=1e-5)


@given(q=q_rows, alpha=temperatures)
def test_eq6_log_policy_is_q_minus_v_over_alpha(q, alpha):
    # Eq. (6) in log form: log pi = (Q - V) / alpha, and V = E_pi[Q] + alpha H(pi) (def-entropy).
    with jax.enable_x64(True):
        q = jnp.asarray(q)
        v = np.asarray(_jit_soft_value(q, alpha))
        log_pi = _jit_log_policy(q, alpha)
        np.testing.assert_allclose(log_pi, (np.asarray(q) - v[..., None]) / alpha, rtol=1e-9, atol=1e-9)
        pi = np.asarray(_jit_policy(q, alpha))
        h = np.asarray(_jit_entropy(pi))
        np.testing.assert_allclose(v, np.sum(pi * np.asarray(q), axis=-1) + alpha * h, rtol=1e-9, atol=1e-9)


def test_eq6_alpha_zero_uniform_over_argmax_with_ties():
    q = jnp.array([[1.0, 3.0, 3.0, 0.0], [2.0, -1.0, -4.0, 0.5], [5.0, 5.0, 5.0, 5.0]])
    # Row 0: argmax set {1, 2}; row 1: {0}; row 2: all four actions.
    expected = np.array([[0.0, 0.5, 0.5, 0.0], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    np.testing.assert_array_equal(boltzmann_policy(q, 0.0), expected)
    log_pi = np.asarray(log_boltzmann_policy(q, 0.0))
    np.testing.assert_allclose(log_pi[0], [-np.inf, -math.log(2.0), -math.log(2.0), -np.inf])
    np.testing.assert_allclose(log_pi[2], [-math.log(4.0)] * 4, rtol=1e-6)


def test_eq6_policy_over_a_leading_action_axis():
    # Actions on axis 0 (columns are states): q = [[0, 1], [log 3, 1]], alpha = 1.
    # Column 0: pi = [1, 3] / 4; column 1: a tie, pi = [1/2, 1/2].
    q = jnp.array([[0.0, 1.0], [math.log(3.0), 1.0]])
    expected = np.array([[0.25, 0.5], [0.75, 0.5]])
    np.testing.assert_allclose(boltzmann_policy(q, 1.0, axis=0), expected, rtol=1e-6)
    np.testing.assert_allclose(log_boltzmann_policy(q, 1.0, axis=0), np.log(expected), rtol=1e-6)
    np.testing.assert_allclose(log_boltzmann_policy(q, 1.0, axis=0), log_boltzmann_policy(q.T, 1.0).T, rtol=1e-6)


def test_eq6_small_alpha_tends_to_argmax_policy():
    q = jnp.array([1.0, 3.0, 3.0, 0.0])
    np.testing.assert_allclose(boltzmann_policy(q, 1e-3), boltzmann_policy(q, 0.0), atol=1e-6)


def test_eq6_no_overflow_for_huge_q():
    q = jnp.array([[1e30, 1e30, -1e30], [3e30, -3e30, 0.0], [-1e30, -1e30, -1e30]], dtype=jnp.float32)
    for alpha in (1e-8, 1.0, 1e3):
        pi = np.asarray(boltzmann_policy(q, alpha))
        assert np.all(np.isfinite(pi)), (alpha, pi)
        np.testing.assert_allclose(pi, [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
        log_pi = np.asarray(log_boltzmann_policy(q, alpha))
        assert not np.any(np.isnan(log_pi)) and np.all(log_pi <= 0.0), (alpha, log_pi)


# ---------------------------------------------------------------------------------------
# def-entropy
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 64])
def test_def_entropy_uniform_is_log_n(n):
    # H(uniform on n) = -sum (1/n) log(1/n) = log n.
    assert float(entropy(jnp.full((n,), 1.0 / n))) == pytest.approx(math.log(n), abs=1e-6)


def test_def_entropy_one_hot_is_zero_and_closed_form():
    # One-hot: 0 log 0 = 0 by convention, 1 log 1 = 0, so H = 0 (not NaN).
    np.testing.assert_array_equal(entropy(jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])), [0.0, 0.0])
    # [1/2, 1/4, 1/4]:  H = 1/2 log 2 + 2 * 1/4 log 4 = 1/2 log 2 + log 2 = 1.5 log 2 = 1.0397208.
    assert float(entropy(jnp.array([0.5, 0.25, 0.25]))) == pytest.approx(1.0397208, rel=1e-6)
    # Along axis 0: the columns of [[1/2, 1], [1/2, 0]] have entropies log 2 and 0.
    np.testing.assert_allclose(entropy(jnp.array([[0.5, 1.0], [0.5, 0.0]]), axis=0), [math.log(2.0), 0.0], atol=1e-7)


@given(q=q_rows, alpha=temperatures)
def test_def_entropy_of_boltzmann_policy_bounded(q, alpha):
    # 0 <= H(pi) <= log |A| for any distribution over |A| actions.
    h = np.asarray(_jit_entropy(_jit_policy(jnp.asarray(q, dtype=jnp.float32), alpha)))
    n = q.shape[-1]
    assert np.all(h >= -1e-6) and np.all(h <= math.log(n) + 1e-5)


# ---------------------------------------------------------------------------------------
# Bad input (eq-5, eq-6, def-entropy)
# ---------------------------------------------------------------------------------------

POLICY_FUNCTIONS = [soft_value, log_boltzmann_policy, boltzmann_policy]


@pytest.mark.parametrize("fn", POLICY_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "alpha, message",
    [(-0.1, "alpha must be >= 0"), (float("nan"), "alpha must be finite"), (float("inf"), "alpha must be finite")],
)
def test_eq5_eq6_bad_temperature_raises(fn, alpha, message):
    with pytest.raises(ValueError, match=message):
        fn(jnp.array([0.0, 1.0]), alpha)


@pytest.mark.parametrize("fn", POLICY_FUNCTIONS, ids=lambda f: f.__name__)
def test_eq5_eq6_bad_action_axis_raises(fn):
    with pytest.raises(ValueError, match="scalar"):
        fn(jnp.float32(1.0), 1.0)
    with pytest.raises(ValueError, match="empty action axis"):
        fn(jnp.zeros((3, 0)), 1.0)
    with pytest.raises(ValueError, match="out of range"):
        fn(jnp.zeros((3, 2)), 1.0, axis=2)


def _message(fn, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as err:
        fn(*args, **kwargs)
    return str(err.value)


@pytest.mark.parametrize("fn", POLICY_FUNCTIONS, ids=lambda f: f.__name__)
def test_eq5_eq6_bad_input_messages_in_full(fn):
    row = jnp.array([0.0, 1.0])
    assert _message(fn, row, -0.1) == "alpha must be >= 0 (the temperature of eq. (2)), got array(-0.1)"
    assert _message(fn, row, np.array([0.5, -1.0])) == (
        "alpha must be >= 0 (the temperature of eq. (2)), got array([ 0.5, -1. ])")
    assert _message(fn, row, float("nan")) == "alpha must be finite, got array(nan)"
    assert _message(fn, row, np.array([1.0, np.inf])) == "alpha must be finite, got array([ 1., inf])"
    assert _message(fn, "abc", 1.0) == "q must be a numeric array, got str 'abc'"
    assert _message(fn, "x" * 60, 1.0) == "q must be a numeric array, got str '" + "x" * 39  # cut at 40 characters
    assert _message(fn, [[1.0], [1.0, 2.0]], 1.0) == "q must be a numeric array, got list [[1.0], [1.0, 2.0]]"
    assert _message(fn, jnp.float32(1.0), 1.0) == "q must have at least one dimension (the action axis), got a scalar"
    assert _message(fn, jnp.zeros((3, 0)), 1.0) == "q has an empty action axis (shape (3, 0), axis 1)"
    assert _message(fn, jnp.zeros((0, 2)), 1.0, axis=0) == "q has an empty action axis (shape (0, 2), axis 0)"
    assert _message(fn, jnp.zeros((3, 2)), 1.0, axis=2) == "axis 2 is out of range for q with shape (3, 2)"
    assert _message(fn, jnp.zeros((3, 2)), 1.0, axis=-3) == "axis -3 is out of range for q with shape (3, 2)"
    # the edges of the range are accepted: axis -2 is axis 0, axis 1 the last
    np.testing.assert_allclose(fn(jnp.zeros((3, 2)), 1.0, axis=-2), fn(jnp.zeros((3, 2)), 1.0, axis=0))
    np.testing.assert_allclose(fn(jnp.zeros((3, 2)), 1.0, axis=1), fn(jnp.zeros((3, 2)), 1.0, axis=-1))


@pytest.mark.parametrize("fn", POLICY_FUNCTIONS, ids=lambda f: f.__name__)
def test_eq5_eq6_integer_and_boolean_q_are_read_as_floats(fn):
    # Integers and booleans are numbers (check_numeric), read as the default float dtype. Before, the
    # temperature was cast to q's integer dtype (0.5 -> 0: the hard max, silently) and a boolean q crashed.
    for q in (np.array([0, 1]), np.array([False, True]), np.array([0, 1], np.uint8)):
        out = fn(q, 0.5)
        assert out.dtype == jnp.result_type(float)
        np.testing.assert_array_equal(out, fn(np.array([0.0, 1.0]), 0.5))
    assert float(soft_value(np.array([0, 1]), 0.5)) == pytest.approx(0.5 * math.log(1 + math.e**2), rel=1e-6)


def test_def_entropy_bad_input_raises():
    with pytest.raises(ValueError, match="scalar"):
        entropy(jnp.float32(1.0))
    with pytest.raises(ValueError, match="empty action axis"):
        entropy(jnp.zeros((0,)))


# --------------------------------------------------------------------------- found by mutation testing (docs/mutation.md)


def test_def_soft_values_keep_the_dtype_of_q_when_alpha_is_wider():
    """float32 Q-values give float32 values and policies when the temperature arrives in float64."""
    from softq_ref.core import soft_value_is

    q32 = jnp.array([[1.0, 2.0, 3.0]], jnp.float32)
    with jax.enable_x64(True):
        alpha = np.float64(0.5)
        outs = {
            "soft_value": soft_value(q32, alpha),
            "log_boltzmann_policy": log_boltzmann_policy(q32, alpha),
            "boltzmann_policy": boltzmann_policy(q32, alpha),
            "soft_value_is": soft_value_is(q32, np.full((1, 3), -1.0), alpha),
        }
        exact = {name: np.asarray(fn, np.float64) for name, fn in outs.items()}
    for name, out in outs.items():
        assert out.dtype == jnp.float32, name
    z = np.log(np.sum(np.exp(np.array([1.0, 2.0, 3.0]) / 0.5)))
    np.testing.assert_allclose(exact["soft_value"], [0.5 * z], rtol=1e-6)
    np.testing.assert_allclose(exact["log_boltzmann_policy"], [np.array([1.0, 2.0, 3.0]) / 0.5 - z], rtol=1e-6)
    np.testing.assert_allclose(exact["boltzmann_policy"], np.exp([np.array([1.0, 2.0, 3.0]) / 0.5 - z]), rtol=1e-6)
    # eq. (10) with K = 3 samples of proposal density e^-1: alpha log mean(exp(Q / alpha) / e^-1).
    np.testing.assert_allclose(exact["soft_value_is"], [0.5 * (z - np.log(3.0) + 1.0)], rtol=1e-6)


def test_eq10_per_row_temperature_and_messages_of_soft_value_is():
    """A temperature per row (alpha of shape [B]) gives each row the value of its own scalar temperature."""
    from softq_ref.core import soft_value_is

    q = jnp.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    log_prop = jnp.array([[-1.0, -0.5, -2.0], [0.0, -1.0, -0.3]])
    both = soft_value_is(q, log_prop, jnp.array([0.5, 2.0]))
    rows = [soft_value_is(q[i], log_prop[i], a) for i, a in enumerate((0.5, 2.0))]
    np.testing.assert_allclose(both, rows, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^q_samples must have at least one dimension"):
        soft_value_is(jnp.array(1.0), jnp.array(0.0), 1.0)


def test_def_entropy_error_names_probs():
    with pytest.raises(ValueError, match=r"^probs must have at least one dimension"):
        entropy(jnp.array(1.0))
