"""The maximum-entropy family on finite MDPs: the soft policy gradient theorem, exact gradient ascent
converging to soft Q-iteration's Boltzmann policy, and how the policy gradient in the Boltzmann
parameterisation pi = exp((Q - V)/alpha) becomes the soft Q-learning update (the CMU 10-708 lecture notes) — which
terms the derivation drops, and that the rest coincides.  Each property has a must-fail twin."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from softq_ref.core import boltzmann_policy, soft_value
from softq_ref.tabular import (
    TabularMDP,
    boltzmann_policy_gradient,
    discounted_state_visitation,
    maxent_gradient_ascent,
    maxent_policy_gradient,
    objective_of_logits,
    random_mdp,
    soft_bellman_operator,
    soft_policy_evaluation,
    soft_policy_improvement,
    soft_q_iteration,
)
from softq_ref.testing import mdps, temperatures

SHAPES = [(2, 2), (3, 4)]


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):
        yield


def expect_counterexample(prop) -> None:
    fast = settings(phases=[Phase.explicit, Phase.generate], database=None, report_multiple_bugs=False)
    with pytest.raises(AssertionError):
        fast(prop)()


def _mdp_and_table():
    return st.sampled_from(SHAPES).flatmap(
        lambda sa: st.tuples(
            mdps(sa[0], sa[1]),
            st.lists(st.floats(-3.0, 3.0), min_size=sa[0] * sa[1], max_size=sa[0] * sa[1]).map(
                lambda xs, sa=sa: np.asarray(xs).reshape(sa)
            ),
        )
    )


def _uniform(mdp):
    return jnp.full(mdp.num_states, 1.0 / mdp.num_states)


# --------------------------------------------------------------------------- the soft policy gradient theorem


def check_gradient_theorem(grad_fn, mdp, logits, alpha):
    mu = _uniform(mdp)
    exact = jax.grad(objective_of_logits, argnums=1)(mdp, jnp.asarray(logits), alpha, mu)
    np.testing.assert_allclose(grad_fn(mdp, jnp.asarray(logits), alpha, mu), exact, rtol=1e-7, atol=1e-9)


def gradient_theorem_property(grad_fn):
    @given(_mdp_and_table(), temperatures(0.05, 5.0, allow_zero=True))
    def prop(mdp_and_logits, alpha):
        mdp, logits = mdp_and_logits
        check_gradient_theorem(grad_fn, mdp, logits, alpha)

    return prop


def _broken_gradient_without_entropy_term(mdp, logits, alpha, mu):
    """The standard policy gradient theorem applied to Q^pi_soft: the -alpha log pi in the advantage left out."""
    log_pi = jax.nn.log_softmax(logits, axis=-1)
    pi = jnp.exp(log_pi)
    q = soft_policy_evaluation(mdp, pi, alpha)
    d = discounted_state_visitation(mdp, pi, mu)
    return d[:, None] * pi * (q - jnp.sum(pi * q, -1, keepdims=True))


def test_thm_soft_pg_analytic_gradient_equals_autodiff_of_maxent_objective():
    gradient_theorem_property(maxent_policy_gradient)()


def test_thm_soft_pg_check_catches_broken_missing_entropy_term():
    expect_counterexample(gradient_theorem_property(_broken_gradient_without_entropy_term))


def test_thm_soft_pg_visitation_closed_form():
    # Two states, one action: 0 -> 1 -> 1 (absorbing), gamma = 0.5, start in 0:  d = [1, 0.5 + 0.25 + ...] = [1, 1].
    mdp = TabularMDP(jnp.array([[[0.0, 1.0]], [[0.0, 1.0]]]), jnp.zeros((2, 1)), 0.5)
    np.testing.assert_allclose(discounted_state_visitation(mdp, jnp.ones((2, 1)), jnp.array([1.0, 0.0])), [1.0, 1.0])


def _float32_mdp(seed):
    m = random_mdp(jax.random.PRNGKey(seed), 3, 2, discount=0.9)
    return TabularMDP(np.asarray(m.transitions, np.float32), np.asarray(m.rewards, np.float32), 0.9)


def test_thm_soft_pg_functions_compute_in_the_mdp_dtype_whatever_the_other_inputs():
    # A float32 MDP with float64 tables, temperatures and distributions (x64 on): float32 results, bit for bit
    # those of float32 inputs (each input is cast to the MDP's dtype first, nothing is computed wider).
    mdp = _float32_mdp(1)
    table = np.asarray(jax.random.normal(jax.random.PRNGKey(2), (3, 2)), np.float64) * 3.0
    critic = np.asarray(jax.random.normal(jax.random.PRNGKey(3), (3, 2)), np.float64)
    policy, mu, alpha = np.asarray(jax.nn.softmax(table, -1)), np.array([0.5, 0.3, 0.2]), np.float64(0.7)

    def narrow(x):
        return np.asarray(x, np.float32)

    cases = {
        "discounted_state_visitation": lambda p, m, a, t, c: discounted_state_visitation(mdp, p, m),
        "maxent_policy_gradient": lambda p, m, a, t, c: maxent_policy_gradient(mdp, t, a, m),
        "boltzmann_policy_gradient": lambda p, m, a, t, c: boltzmann_policy_gradient(mdp, t, a, m),
        "boltzmann_policy_gradient(critic)": lambda p, m, a, t, c: boltzmann_policy_gradient(mdp, t, a, m, critic=c),
        "objective_of_logits": lambda p, m, a, t, c: objective_of_logits(mdp, t, a, m),
    }
    for name, f in cases.items():
        wide = f(policy, mu, alpha, table, critic)
        expected = f(narrow(policy), narrow(mu), narrow(alpha), narrow(table), narrow(critic))
        assert wide.dtype == expected.dtype == jnp.float32, name
        np.testing.assert_array_equal(wide, expected, err_msg=name)


def test_thm_soft_pg_bad_arguments_are_named():
    mdp = random_mdp(jax.random.PRNGKey(0), 3, 2)
    mu, table = _uniform(mdp), jnp.zeros((3, 2))
    for f, name in ((maxent_policy_gradient, "logits"), (objective_of_logits, "logits"), (boltzmann_policy_gradient, "q")):
        with pytest.raises(TypeError, match=r"^mdp must be a TabularMDP, got tuple$"):
            f((mdp.transitions, mdp.rewards), table, 1.0, mu)
        with pytest.raises(ValueError, match=rf"^{name} must have shape \[S, A\] = \(3, 2\), got \(2, 3\)$"):
            f(mdp, jnp.zeros((2, 3)), 1.0, mu)
        with pytest.raises(ValueError, match=r"^initial_distribution must have shape \[S\] = \(3,\), got \(2,\)$"):
            f(mdp, table, 1.0, jnp.ones(2) / 2)
    with pytest.raises(ValueError, match=r"^logits0 must have shape \[S, A\] = \(3, 2\), got \(3,\)$"):
        maxent_gradient_ascent(mdp, 1.0, mu, logits0=jnp.zeros(3))


def test_prop_pg_sql_critic_of_the_wrong_shape_is_named():
    mdp = random_mdp(jax.random.PRNGKey(0), 3, 2)
    with pytest.raises(ValueError, match=r"^critic must have the shape of q \(3, 2\), got \(2, 3\)$"):
        boltzmann_policy_gradient(mdp, jnp.zeros((3, 2)), 1.0, _uniform(mdp), critic=jnp.zeros((2, 3)))


# --------------------------------------------------------------------------- exact ascent -> Boltzmann of Q*_soft


def _ascent_limit(grad_fn, mdp, alpha, steps=3000, lr=1.0):
    mu = _uniform(mdp)

    @jax.jit
    def run(mdp):
        return jax.lax.fori_loop(0, steps, lambda _, th: th + lr * grad_fn(mdp, th, alpha, mu), jnp.zeros_like(mdp.rewards))

    return jax.nn.softmax(run(mdp), axis=-1)


def check_ascent_reaches_boltzmann_of_q_star(policy, mdp, alpha):
    target = soft_policy_improvement(soft_q_iteration(mdp, alpha, tol=1e-12), alpha)
    np.testing.assert_allclose(policy, target, atol=1e-6)


@pytest.mark.parametrize("seed, alpha", [(0, 0.5), (1, 1.0), (2, 2.0)])
def test_thm_soft_pg_exact_ascent_converges_to_soft_q_iteration_policy(seed, alpha):
    mdp = random_mdp(jax.random.PRNGKey(seed), 3, 3, discount=0.7)
    policy = jax.nn.softmax(maxent_gradient_ascent(mdp, alpha, _uniform(mdp), learning_rate=1.0, steps=3000), -1)
    check_ascent_reaches_boltzmann_of_q_star(policy, mdp, alpha)
    # And the objective there is the optimal soft value averaged over the start, E_mu[V*_soft] (Theorem 1).
    v_star = soft_value(soft_q_iteration(mdp, alpha, tol=1e-12), alpha)
    assert float(objective_of_logits(mdp, jnp.log(policy), alpha, _uniform(mdp))) == pytest.approx(
        float(jnp.mean(v_star)), abs=1e-8)


def test_thm_soft_pg_ascent_check_catches_broken_missing_entropy_term():
    mdp = random_mdp(jax.random.PRNGKey(0), 3, 3, discount=0.7)
    with pytest.raises(AssertionError):
        check_ascent_reaches_boltzmann_of_q_star(_ascent_limit(_broken_gradient_without_entropy_term, mdp, 0.5), mdp, 0.5)


def test_thm_soft_pg_ascent_defaults_are_learning_rate_1_and_2000_steps():
    mdp = random_mdp(jax.random.PRNGKey(4), 3, 2, discount=0.9)
    alpha, mu = 0.1, _uniform(mdp)
    # one step from the uniform policy at the default rate: theta_1 = 0 + 1 * grad J(uniform)
    np.testing.assert_allclose(
        maxent_gradient_ascent(mdp, alpha, mu, steps=1), maxent_policy_gradient(mdp, jnp.zeros((3, 2)), alpha, mu),
        rtol=1e-12, atol=0)
    # the default step count: the 2000-step result, not its neighbours' (alpha = 0.1 converges slowly)
    default = maxent_gradient_ascent(mdp, alpha, mu)
    np.testing.assert_array_equal(default, maxent_gradient_ascent(mdp, alpha, mu, steps=2000))
    for other in (1999, 2001):
        assert not np.array_equal(default, maxent_gradient_ascent(mdp, alpha, mu, steps=other))


def test_thm_soft_pg_ascent_zero_steps_return_the_start_and_bad_steps_are_refused():
    mdp = random_mdp(jax.random.PRNGKey(4), 3, 2)
    logits0 = jax.random.normal(jax.random.PRNGKey(9), (3, 2))
    np.testing.assert_array_equal(maxent_gradient_ascent(mdp, 1.0, _uniform(mdp), steps=0, logits0=logits0), logits0)
    for steps in (-1, 2.0, True, None):
        with pytest.raises(ValueError, match=rf"^steps must be a non-negative int, got {steps!r}$"):
            maxent_gradient_ascent(mdp, 1.0, _uniform(mdp), steps=steps)
    # the loop counts in int32: a larger count used to fail with "Python integer ... out of bounds for int32"
    with pytest.raises(ValueError, match=r"^steps must be at most 2\*\*31 - 1 = 2147483647, got 2147483648$"):
        maxent_gradient_ascent(mdp, 1.0, _uniform(mdp), steps=2**31)
    # ... and the largest count is accepted (traced for its shape only: 2**31 - 1 steps are not run)
    largest = jax.eval_shape(lambda: maxent_gradient_ascent(mdp, 1.0, _uniform(mdp), steps=2**31 - 1))
    assert largest.shape == (3, 2)


def test_thm_soft_pg_ascent_computes_in_the_mdp_dtype_whatever_the_other_inputs():
    # A float32 MDP with float64 hyperparameters and start (x64 on): float32 logits, bit for bit the
    # result of all-float32 inputs.
    m = random_mdp(jax.random.PRNGKey(2), 3, 2)
    mdp = TabularMDP(np.asarray(m.transitions, np.float32), np.asarray(m.rewards, np.float32), 0.9)
    logits0 = np.asarray(jax.random.normal(jax.random.PRNGKey(3), (3, 2)), np.float64)
    mu = np.array([0.5, 0.25, 0.25])
    wide = maxent_gradient_ascent(mdp, np.float64(0.7), mu, learning_rate=np.float64(0.5), steps=5, logits0=logits0)
    narrow = maxent_gradient_ascent(mdp, np.float32(0.7), mu.astype(np.float32), learning_rate=np.float32(0.5),
                                    steps=5, logits0=logits0.astype(np.float32))
    assert wide.dtype == narrow.dtype == jnp.float32
    np.testing.assert_array_equal(wide, narrow)


# --------------------------------------------------------------------------- policy gradient vs soft Q-learning


def test_prop_pg_sql_boltzmann_parameterisation_is_the_chain_rule_of_the_exact_gradient():
    mdp = random_mdp(jax.random.PRNGKey(5), 3, 2, discount=0.8)
    q, alpha, mu = jax.random.normal(jax.random.PRNGKey(6), (3, 2)), 0.7, _uniform(mdp)
    exact = jax.grad(lambda q: objective_of_logits(mdp, q / alpha, alpha, mu))(q)
    np.testing.assert_allclose(boltzmann_policy_gradient(mdp, q, alpha, mu), exact, rtol=1e-8, atol=1e-10)


def check_pg_is_projected_weighted_td_error(relation, mdp, q, alpha):
    """With the critic bootstrapped by the soft Q-learning target C = T_soft Q, the policy gradient in Q is
    d(s) pi(b|s) / alpha * (delta - E_pi delta), delta = T_soft Q - Q: soft Q-learning's TD error with
    (i) the state-action weight d pi / alpha and (ii) the baseline E_pi delta (the seed's -grad V term)."""
    mu = _uniform(mdp)
    target = soft_bellman_operator(mdp, q, alpha)
    pg = boltzmann_policy_gradient(mdp, q, alpha, mu, critic=target)
    delta = target - q
    pi = boltzmann_policy(q, alpha)
    d = discounted_state_visitation(mdp, pi, mu)
    np.testing.assert_allclose(pg, relation(delta, pi, d, alpha), rtol=1e-7, atol=1e-9)


def _relation(delta, pi, d, alpha):
    return d[:, None] * pi * (delta - jnp.sum(pi * delta, -1, keepdims=True)) / alpha


def _broken_relation_without_baseline(delta, pi, d, alpha):
    """The seed's last line taken literally: the -grad V(s) term dropped, delta itself."""
    return d[:, None] * pi * delta / alpha


def pg_sql_property(relation):
    @given(_mdp_and_table(), temperatures(0.05, 5.0))
    def prop(mdp_and_q, alpha):
        mdp, q = mdp_and_q
        check_pg_is_projected_weighted_td_error(relation, mdp, jnp.asarray(q), alpha)

    return prop


def test_prop_pg_sql_bootstrapped_policy_gradient_is_the_weighted_centred_td_error():
    pg_sql_property(_relation)()


def test_prop_pg_sql_check_catches_broken_dropped_baseline():
    expect_counterexample(pg_sql_property(_broken_relation_without_baseline))


def test_prop_pg_sql_both_vanish_at_q_star_and_agree_in_direction_elsewhere():
    mdp = random_mdp(jax.random.PRNGKey(7), 4, 3, discount=0.8)
    alpha, mu = 0.5, _uniform(mdp)
    q_star = soft_q_iteration(mdp, alpha, tol=1e-12)
    # At the fixed point: soft Q-learning's TD error is 0 and the exact policy gradient is 0.
    np.testing.assert_allclose(soft_bellman_operator(mdp, q_star, alpha) - q_star, 0.0, atol=1e-10)
    np.testing.assert_allclose(boltzmann_policy_gradient(mdp, q_star, alpha, mu), 0.0, atol=1e-9)
    # Elsewhere: <bootstrapped PG, delta> = sum_s d(s)/alpha Var_pi(delta(s, .)) >= 0, so a small soft Q-learning
    # step never decreases the actor-critic surrogate's first-order value.
    q = q_star + jax.random.normal(jax.random.PRNGKey(8), q_star.shape)
    delta = soft_bellman_operator(mdp, q, alpha) - q
    pg = boltzmann_policy_gradient(mdp, q, alpha, mu, critic=q + delta)
    pi = boltzmann_policy(q, alpha)
    var = jnp.sum(pi * delta**2, -1) - jnp.sum(pi * delta, -1) ** 2
    d = discounted_state_visitation(mdp, pi, mu)
    assert float(jnp.sum(pg * delta)) == pytest.approx(float(jnp.sum(d * var) / alpha), rel=1e-9)
    assert float(jnp.sum(pg * delta)) > 0
