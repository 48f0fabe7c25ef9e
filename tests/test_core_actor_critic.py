"""Soft actor-critic's equations (``softq_ref.core.actor_critic``): closed forms, the soft-value
identities that tie them to eqs. (5)-(6) of soft Q-learning, numerical stability, and a
must-fail twin for every property (the same check run on a deliberately broken function)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from softq_ref.core import boltzmann_policy, log_boltzmann_policy, soft_bellman_target, soft_value
from softq_ref.core.actor_critic import (
    default_target_entropy,
    polyak_update,
    sac_policy_loss,
    sac_q_target,
    sac_soft_value,
    sac_temperature_loss,
    tanh_gaussian_log_prob,
)
from softq_ref.testing import distributions



def expect_counterexample(prop) -> None:
    """Run a ``@given`` property on a broken implementation; Hypothesis must falsify it."""
    fast = settings(phases=[Phase.explicit, Phase.generate], database=None, report_multiple_bugs=False)
    with pytest.raises(AssertionError):
        fast(prop)()

@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):
        yield


Q_VECTORS = st.sampled_from([2, 3, 5]).flatmap(
    lambda n: st.lists(st.floats(-20.0, 20.0), min_size=n, max_size=n).map(np.asarray)
)
ALPHAS = st.floats(0.05, 10.0)


# --------------------------------------------------------------------------- eq-sac-3: the soft-value identity


def check_boltzmann_identity(value_fn, q, alpha):
    """E_pi[Q - alpha log pi] with pi Boltzmann in Q equals eq. (5)'s alpha log sum exp(Q / alpha)."""
    q = jnp.asarray(q)
    pi, log_pi = boltzmann_policy(q, alpha), log_boltzmann_policy(q, alpha)
    expected = float(jnp.sum(pi * value_fn(q, log_pi, alpha)))
    assert expected == pytest.approx(float(soft_value(q, alpha)), rel=1e-9, abs=1e-9)


def check_gibbs_bound(value_fn, q, policy, alpha):
    """For any other policy the expectation is below eq. (5), by exactly alpha KL(pi || Boltzmann)."""
    q, policy = jnp.asarray(q), jnp.asarray(policy)
    mask = policy > 0
    log_pi = jnp.where(mask, jnp.log(jnp.where(mask, policy, 1.0)), 0.0)
    expected = float(jnp.sum(jnp.where(mask, policy * value_fn(q, log_pi, alpha), 0.0)))
    kl = float(jnp.sum(jnp.where(mask, policy * (log_pi - log_boltzmann_policy(q, alpha)), 0.0)))
    v = float(soft_value(q, alpha))
    assert expected <= v + 1e-9
    assert v - expected == pytest.approx(alpha * kl, rel=1e-6, abs=1e-8)


def identity_property(value_fn):
    @given(Q_VECTORS, ALPHAS)
    def prop(q, alpha):
        check_boltzmann_identity(value_fn, q, alpha)

    return prop


def gibbs_property(value_fn):
    @given(st.sampled_from([2, 3, 5]).flatmap(lambda n: st.tuples(
        st.lists(st.floats(-20.0, 20.0), min_size=n, max_size=n).map(np.asarray), distributions(n))), ALPHAS)
    def prop(q_and_policy, alpha):
        q, policy = q_and_policy
        check_gibbs_bound(value_fn, q, policy, alpha)

    return prop


def _broken_value_sign(q, log_prob, alpha):
    return jnp.asarray(q) + alpha * jnp.asarray(log_prob)  # the entropy bonus with the wrong sign


def test_eq_sac_3_closed_form():
    # Q = [1, 2], log pi = [-1, -3], alpha = 0.5:  [1 + 0.5, 2 + 1.5] = [1.5, 3.5].
    np.testing.assert_allclose(sac_soft_value(jnp.array([1.0, 2.0]), jnp.array([-1.0, -3.0]), 0.5), [1.5, 3.5])
    with pytest.raises(ValueError, match="same shape"):
        sac_soft_value(jnp.zeros(2), jnp.zeros(3), 1.0)
    with pytest.raises(ValueError, match="alpha"):
        sac_soft_value(jnp.zeros(2), jnp.zeros(2), -1.0)


def test_eq_sac_3_is_eq5_for_the_boltzmann_policy():
    identity_property(sac_soft_value)()


def test_eq_sac_3_is_below_eq5_for_other_policies_by_alpha_kl():
    gibbs_property(sac_soft_value)()


def test_eq_sac_3_identity_catches_broken_entropy_sign():
    expect_counterexample(identity_property(_broken_value_sign))


def test_eq_sac_3_gibbs_bound_catches_broken_entropy_sign():
    expect_counterexample(gibbs_property(_broken_value_sign))


# --------------------------------------------------------------------------- eq-sac-5: the critic target


def test_eq_sac_5_target_closed_form():
    # r = [1, 0], gamma = 0.9, done = [0, 1], critics at (s', a'): [[3, 0], [2, 5]], log pi' = [-1, 7], alpha = 0.5
    #   transition 0: 1 + 0.9 * (min(3, 2) - 0.5 * (-1)) = 1 + 0.9 * 2.5 = 3.25
    #   transition 1: terminal, the reward alone = 0
    y = sac_q_target(jnp.array([1.0, 0.0]), 0.9, jnp.array([0.0, 1.0]), jnp.array([[3.0, 0.0], [2.0, 5.0]]),
                     jnp.array([-1.0, 7.0]), 0.5)
    np.testing.assert_allclose(y, [3.25, 0.0])


def test_eq_sac_5_is_soft_bellman_target_of_the_sampled_soft_value():
    key = jax.random.split(jax.random.PRNGKey(0), 4)
    r, q2 = jax.random.normal(key[0], (6,)), jax.random.normal(key[1], (2, 6))
    logp, done = jax.random.normal(key[2], (6,)), (jax.random.uniform(key[3], (6,)) < 0.3).astype(jnp.float64)
    y = sac_q_target(r, 0.99, done, q2, logp, 0.2)
    np.testing.assert_allclose(y, soft_bellman_target(r, 0.99, done, jnp.min(q2, 0) - 0.2 * logp), rtol=1e-12)
    # One critic: no clipping.
    np.testing.assert_allclose(sac_q_target(r, 0.99, done, q2[:1], logp, 0.2),
                               soft_bellman_target(r, 0.99, done, sac_soft_value(q2[0], logp, 0.2)), rtol=1e-12)
    # A constant of the critic loss: no gradient reaches next_q.
    g = jax.grad(lambda q: jnp.sum(sac_q_target(r, 0.99, done, q, logp, 0.2)))(q2)
    np.testing.assert_array_equal(g, jnp.zeros_like(q2))
    with pytest.raises(ValueError, match="next_q"):
        sac_q_target(r, 0.99, done, q2[0], logp, 0.2)


def check_clipped_double_q(target_fn, r, q, logp, alpha):
    """With gamma (1 - d) >= 0, the N-critic target is the smallest of the single-critic targets."""
    y = target_fn(r, 0.9, 0.0, q, logp, alpha)
    singles = jnp.stack([target_fn(r, 0.9, 0.0, q[i : i + 1], logp, alpha) for i in range(q.shape[0])])
    np.testing.assert_allclose(y, jnp.min(singles, axis=0), rtol=1e-12, atol=1e-12)


def clipped_property(target_fn):
    @given(st.integers(0, 2**31 - 1), ALPHAS)
    def prop(seed, alpha):
        k = jax.random.split(jax.random.PRNGKey(seed), 3)
        check_clipped_double_q(target_fn, jax.random.normal(k[0], (4,)), jax.random.normal(k[1], (2, 4)),
                               jax.random.normal(k[2], (4,)), alpha)

    return prop


def _broken_target_mean(reward, discount, done, next_q, next_log_prob, alpha):
    return soft_bellman_target(reward, discount, done, jnp.mean(next_q, 0) - alpha * next_log_prob)


def test_eq_sac_5_clipped_double_q_is_the_min_of_single_targets():
    clipped_property(sac_q_target)()


def test_eq_sac_5_clipped_check_catches_broken_mean_of_critics():
    expect_counterexample(clipped_property(_broken_target_mean))


def test_eq_sac_5_alpha_traced_no_recompile():
    f = jax.jit(lambda a: sac_q_target(jnp.ones(3), 0.9, jnp.zeros(3), jnp.ones((2, 3)), jnp.ones(3), a))
    np.testing.assert_allclose(f(0.5), 1 + 0.9 * 0.5)
    np.testing.assert_allclose(f(0.25), 1 + 0.9 * 0.75)
    assert f._cache_size() == 1


# --------------------------------------------------------------------------- def-tanh-gaussian


def _naive_tanh_gaussian(u, mean, log_std):
    """The textbook form log N(u) - sum log(1 - tanh(u)^2): exact for moderate u, -inf... in float32 for large."""
    std = jnp.exp(log_std)
    log_normal = -0.5 * jnp.square((u - mean) / std) - log_std - 0.5 * jnp.log(2 * jnp.pi)
    return jnp.sum(log_normal - jnp.log(1.0 - jnp.square(jnp.tanh(u))), axis=-1)


def test_def_tanh_gaussian_closed_form_and_naive_agreement():
    # u = 0, mean 0, std 1: log N(0; 0, 1) = -0.5 log(2 pi) = -0.918939; the Jacobian is 1 there.
    assert float(tanh_gaussian_log_prob(jnp.zeros(1), 0.0, 0.0)) == pytest.approx(-0.5 * math.log(2 * math.pi))
    u = jnp.linspace(-4.0, 4.0, 17)[:, None]
    np.testing.assert_allclose(tanh_gaussian_log_prob(u, 0.3, -0.2), _naive_tanh_gaussian(u, 0.3, -0.2), rtol=1e-10)


def test_def_tanh_gaussian_is_the_change_of_variables_by_autodiff():
    # log pi(a) = log N(u) - log |d tanh(u) / du|, the derivative taken by jax.grad: 3 dimensions, independent.
    u, mean, log_std = jnp.array([0.7, -2.5, 5.0]), jnp.array([0.1, -1.0, 2.0]), jnp.array([-0.5, 0.0, 0.4])
    dtanh = jax.vmap(jax.grad(jnp.tanh))(u)
    log_normal = jax.scipy.stats.norm.logpdf(u, mean, jnp.exp(log_std))
    assert float(tanh_gaussian_log_prob(u, mean, log_std)) == pytest.approx(float(jnp.sum(log_normal - jnp.log(dtanh))), rel=1e-10)


def test_def_tanh_gaussian_density_integrates_to_one_on_the_box():
    # One dimension: integrate pi(a) over a in (-1, 1) with the substitution a = tanh(u) back, on a fine grid of a.
    a = jnp.linspace(-1 + 1e-9, 1 - 1e-9, 200_001)
    u = jnp.arctanh(a)
    density = jnp.exp(tanh_gaussian_log_prob(u[:, None], 0.4, -0.3))
    assert float(jnp.trapezoid(density, a)) == pytest.approx(1.0, abs=1e-4)


def check_stable_far_out(log_prob_fn):
    """In float32 at |u| = 12 and 30, finite and equal to the asymptote log N(u) + 2 (|u| - log 2)."""
    with jax.enable_x64(False):
        u = jnp.array([[12.0], [-30.0]], dtype=jnp.float32)
        got = np.asarray(log_prob_fn(u, 0.0, 0.0), dtype=np.float64)
    u64 = np.array([12.0, -30.0])
    # 1 - tanh^2 u = 4 e^{-2|u|} / (1 + e^{-2|u|})^2, so -log(1 - tanh^2 u) = 2|u| - 2 log 2 + O(e^{-2|u|}).
    expected = -0.5 * u64**2 - 0.5 * math.log(2 * math.pi) + 2 * np.abs(u64) - 2 * math.log(2)
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_def_tanh_gaussian_stable_in_float32_far_out():
    check_stable_far_out(tanh_gaussian_log_prob)


def test_def_tanh_gaussian_stability_check_catches_broken_naive_log():
    with pytest.raises(AssertionError):
        check_stable_far_out(_naive_tanh_gaussian)


# --------------------------------------------------------------------------- eq-sac-9: the policy loss


def test_eq_sac_9_closed_form():
    # log pi = [-1, 1], Q = [2, 0], alpha = 0.5:  mean(0.5 * -1 - 2, 0.5 * 1 - 0) = mean(-2.5, 0.5) = -1.
    assert float(sac_policy_loss(jnp.array([-1.0, 1.0]), jnp.array([2.0, 0.0]), 0.5)) == pytest.approx(-1.0)


def check_policy_loss_minimised_by_boltzmann(loss_fn, q, alpha):
    """Over discrete policies pi = softmax(logits), the exact expected loss sum_a pi (loss at a) is
    stationary at logits = Q / alpha (the Boltzmann policy of eq. (6)) and there equals -V of eq. (5)."""
    q = jnp.asarray(q)

    def expected_loss(logits):
        log_pi = jax.nn.log_softmax(logits)
        # The loss of each action, weighted by its probability (the exact expectation over a ~ pi).
        per_action = jax.vmap(lambda lp, qa: loss_fn(lp[None], qa[None], alpha))(log_pi, q)
        return jnp.sum(jnp.exp(log_pi) * per_action)

    logits = q / alpha
    np.testing.assert_allclose(jax.grad(expected_loss)(logits), 0.0, atol=1e-8)
    assert float(expected_loss(logits)) == pytest.approx(-float(soft_value(q, alpha)), rel=1e-9, abs=1e-9)


def policy_loss_property(loss_fn):
    @given(Q_VECTORS, ALPHAS)
    def prop(q, alpha):
        check_policy_loss_minimised_by_boltzmann(loss_fn, q, alpha)

    return prop


def test_eq_sac_9_minimised_by_the_boltzmann_policy():
    policy_loss_property(sac_policy_loss)()


def test_eq_sac_9_check_catches_broken_missing_alpha():
    expect_counterexample(policy_loss_property(lambda lp, q, alpha: jnp.mean(lp - q)))


# --------------------------------------------------------------------------- eq-sac-18: the temperature


def test_eq_sac_18_closed_form_and_default_target():
    # log alpha = log 2, log pi = [-1, -3], target -1:  -2 * mean([-2, -4]) = 6.
    assert float(sac_temperature_loss(math.log(2.0), jnp.array([-1.0, -3.0]), -1.0)) == pytest.approx(6.0)
    assert default_target_entropy(6) == -6.0
    assert default_target_entropy(1) == -1.0  # the smallest action space is valid
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="action_dim"):
            default_target_entropy(bad)
    # No gradient reaches the policy through the temperature loss.
    g = jax.grad(lambda lp: sac_temperature_loss(0.0, lp, -1.0))(jnp.array([-1.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def check_temperature_direction(loss_fn):
    """Gradient descent on log alpha raises alpha when the entropy -E[log pi] is below the target, and lowers it above."""
    low_entropy = jnp.array([2.0, 3.0])  # entropy estimate -2.5 < target -1
    high_entropy = jnp.array([-2.0, -3.0])  # entropy 2.5 > target -1
    grad = jax.grad(loss_fn)
    assert float(grad(0.3, low_entropy, -1.0)) < 0  # descent: log alpha goes up
    assert float(grad(0.3, high_entropy, -1.0)) > 0
    # The fixed point: entropy on target, no gradient.
    assert float(grad(0.3, jnp.array([1.0, 1.0]), -1.0)) == pytest.approx(0.0)


def test_eq_sac_18_gradient_moves_entropy_toward_target():
    check_temperature_direction(sac_temperature_loss)


def test_eq_sac_18_check_catches_broken_sign():
    with pytest.raises(AssertionError):
        check_temperature_direction(lambda la, lp, t: -sac_temperature_loss(la, lp, t))


# --------------------------------------------------------------------------- def-polyak-target


def test_def_polyak_target_closed_form_on_modules():
    online = eqx.nn.Linear(2, 3, key=jax.random.PRNGKey(0))
    target = eqx.nn.Linear(2, 3, key=jax.random.PRNGKey(1))
    new = polyak_update(target, online, 0.25)
    np.testing.assert_allclose(new.weight, 0.25 * online.weight + 0.75 * target.weight, rtol=1e-12)
    np.testing.assert_allclose(new.bias, 0.25 * online.bias + 0.75 * target.bias, rtol=1e-12)
    np.testing.assert_array_equal(polyak_update(target, online, 1.0).weight, online.weight)
    np.testing.assert_array_equal(polyak_update(target, online, 0.0).weight, target.weight)
    # n steps toward a fixed online network: target - online shrinks by (1 - tau)^n.
    t = target
    for _ in range(10):
        t = polyak_update(t, online, 0.1)
    np.testing.assert_allclose(t.weight - online.weight, 0.9**10 * (target.weight - online.weight), rtol=1e-10)


# --------------------------------------------------------------------------- found by mutation testing (docs/mutation.md)


def test_eq_sac_outputs_keep_the_dtype_of_the_policy_and_temperature_when_other_inputs_are_wider():
    """A float32 policy's log-density and a float32 temperature's loss stay float32 when the other inputs
    arrive in float64 (x64 is on in this file): each input is cast to the dtype of the first."""
    u32 = jnp.array([[0.3, -0.2]], jnp.float32)
    out = tanh_gaussian_log_prob(u32, np.array([[0.1, 0.0]]), np.array([[-0.5, 0.2]]))
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, tanh_gaussian_log_prob(np.asarray(u32, np.float64), np.array([[0.1, 0.0]]),
                                                           np.array([[-0.5, 0.2]])), rtol=1e-5)
    v = sac_soft_value(jnp.array([1.0], jnp.float32), np.array([-2.0]), np.float64(0.5))
    assert v.dtype == jnp.float32
    np.testing.assert_array_equal(v, [2.0])
    loss = sac_temperature_loss(jnp.float32(0.0), np.array([-2.0]), np.float64(1.0))
    assert loss.dtype == jnp.float32
    assert float(loss) == pytest.approx(1.0)


def test_eq_sac_5_next_q_needs_exactly_one_nonempty_leading_critic_axis():
    # One transition (a scalar reward) with two critics: min(3, 1) - 0.5 * (-2) = 2; 1 + 0.5 * 2 = 2.
    assert float(sac_q_target(1.0, 0.5, 0.0, jnp.array([3.0, 1.0]), -2.0, 0.5)) == pytest.approx(2.0)
    for reward, next_q in ((jnp.zeros(3), jnp.zeros((0, 3))),   # no critic at all
                           (jnp.array(0.0), jnp.array(1.0)),    # no critic axis
                           (jnp.zeros(3), jnp.zeros((2, 4)))):  # the wrong batch
        with pytest.raises(ValueError, match=r"next_q must have shape \[N\] \+ reward.shape"):
            sac_q_target(reward, 0.9, 0.0, next_q, jnp.zeros(reward.shape), 0.1)


def test_eq_sac_5_wider_inputs_give_exactly_the_result_in_the_reward_dtype():
    """Everything is cast to the reward's dtype first, so float64 critics give the float32 answer bit for bit.
    1 + 2^-24 is no float32 (it rounds to 1): with alpha = 1 and log pi = -2^-24 the soft value is 1 + 2^-24
    in float32 arithmetic (rounds to 1) but 1 + 2^-23 if computed in float64 and rounded only at the end."""
    next_q = np.array([[1.0 + 2.0**-24]])
    next_log_prob = np.array([-(2.0**-24)])
    reward = jnp.zeros(1, jnp.float32)
    wide = sac_q_target(reward, 1.0, 0.0, next_q, next_log_prob, 1.0)
    narrow = sac_q_target(reward, 1.0, 0.0, next_q.astype(np.float32), next_log_prob.astype(np.float32), 1.0)
    assert wide.dtype == jnp.float32
    np.testing.assert_array_equal(wide, narrow)
    np.testing.assert_array_equal(narrow, [1.0])


def test_eq_sac_5_next_q_error_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"next_q must have shape \[N\] \+ reward.shape = \[N, 2, 3\], got \(2, 3\)"):
        sac_q_target(jnp.zeros((2, 3)), 0.9, 0.0, jnp.zeros((2, 3)), jnp.zeros((2, 3)), 0.1)
