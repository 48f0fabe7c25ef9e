"""The entropy-regularised policy gradient (``softq_ref.core.policy_gradient``): closed forms, a slow
obvious reference for the returns, and the statistical check that the Monte Carlo estimator is
unbiased for the exact gradient of the maximum-entropy objective (discrete: a tabular MDP against
``jax.grad`` of ``maxent_objective``; continuous: a Gaussian bandit against its closed form),
each with a must-fail twin that leaves the entropy out of the return."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softq_ref.core.policy_gradient import soft_policy_gradient_surrogate, soft_returns, soft_td_advantage
from softq_ref.tabular import objective_of_logits, random_mdp


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):
        yield


# --------------------------------------------------------------------------- def-soft-return


def _returns_loop(rewards, log_probs, alpha, gamma, done, bootstrap):
    out, g = [0.0] * len(rewards), bootstrap
    for t in reversed(range(len(rewards))):
        g = rewards[t] - alpha * log_probs[t] + gamma * (1.0 - done[t]) * g
        out[t] = g
    return out


def test_def_soft_return_closed_form_and_python_loop():
    # r = [1, 2, 3], log pi = [-1, -1, -2], alpha = 0.5, gamma = 0.9, no terminal, bootstrap 10:
    #   soft rewards [1.5, 2.5, 4]; G_2 = 4 + 0.9 * 10 = 13; G_1 = 2.5 + 0.9 * 13 = 14.2; G_0 = 1.5 + 0.9 * 14.2 = 14.28
    g = soft_returns(jnp.array([1.0, 2.0, 3.0]), jnp.array([-1.0, -1.0, -2.0]), 0.5, 0.9, bootstrap=10.0)
    np.testing.assert_allclose(g, [14.28, 14.2, 13.0], rtol=1e-12)
    rng = np.random.default_rng(0)
    r, lp = rng.normal(size=12), rng.normal(size=12)
    done = (rng.uniform(size=12) < 0.3).astype(float)
    np.testing.assert_allclose(soft_returns(r, lp, 0.3, 0.95, done, 2.0), _returns_loop(r, lp, 0.3, 0.95, done, 2.0),
                               rtol=1e-12)
    # A batch axis after time: columns are independent trajectories.
    both = soft_returns(np.stack([r, -r], 1), np.stack([lp, lp], 1), 0.3, 0.95, np.stack([done, done], 1), 2.0)
    np.testing.assert_allclose(both[:, 1], _returns_loop(-r, lp, 0.3, 0.95, done, 2.0), rtol=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        soft_returns(jnp.zeros(3), jnp.zeros(2), 0.1, 0.9)
    with pytest.raises(ValueError, match="alpha"):
        soft_returns(jnp.zeros(3), jnp.zeros(3), -0.1, 0.9)


def test_eq_soft_pg_surrogate_and_td_advantage_closed_forms():
    # -(1 * (-1) * 2 + 0.5 * (-2) * 4) = 6; its gradient in log pi is -[1 * 2, 0.5 * 4] = [-2, -2].
    lp, adv = jnp.array([-1.0, -2.0]), jnp.array([2.0, 4.0])
    assert float(soft_policy_gradient_surrogate(lp, adv, 0.5)) == pytest.approx(6.0)
    np.testing.assert_allclose(jax.grad(soft_policy_gradient_surrogate)(lp, adv, 0.5), [-2.0, -2.0])
    np.testing.assert_array_equal(jax.grad(soft_policy_gradient_surrogate, argnums=1)(lp, adv, 0.5), [0.0, 0.0])
    # A = r - alpha log pi + gamma (1 - d) V' - V:  [1 - 0.5 * (-2) + 0.9 * 3 - 1, 0 - 0 + 0 - 2] = [3.7, -2]
    a = soft_td_advantage(jnp.array([1.0, 0.0]), jnp.array([-2.0, 0.0]), jnp.array([1.0, 2.0]),
                          jnp.array([3.0, 5.0]), jnp.array([0.0, 1.0]), 0.9, 0.5)
    np.testing.assert_allclose(a, [3.7, -2.0], rtol=1e-12)


# --------------------------------------------------------------------------- unbiasedness, discrete

NUM_TRAJ = 20_000
HORIZON = 40  # gamma^40 = 0.6^40 ~ 1e-9: truncation bias far below the tolerance
Z_MAX = 4.5  # per component; with 6 components and a fixed seed this is a deterministic check


def _tabular_setup():
    mdp = random_mdp(jax.random.PRNGKey(3), 3, 2, discount=0.6)
    logits = jax.random.normal(jax.random.PRNGKey(4), (3, 2))
    mu = jnp.full(3, 1.0 / 3.0)
    return mdp, logits, mu


def _mc_gradients(mdp, logits, mu, alpha, key, *, entropy_in_return=True):
    """Per-trajectory REINFORCE estimates with the soft return, [N, S, A]."""
    log_pi_table = jax.nn.log_softmax(logits, axis=-1)

    def rollout(key):
        k0, k = jax.random.split(key)
        s0 = jax.random.choice(k0, 3, p=mu)

        def step(s, k):
            ka, ks = jax.random.split(k)
            a = jax.random.categorical(ka, log_pi_table[s])
            s2 = jax.random.categorical(ks, jnp.log(mdp.transitions[s, a]))
            return s2, (s, a, mdp.rewards[s, a])

        _, (states, actions, rewards) = jax.lax.scan(step, s0, jax.random.split(k, HORIZON))
        return states, actions, rewards

    def estimate(key):
        states, actions, rewards = rollout(key)

        def surrogate(theta):
            lp = jax.nn.log_softmax(theta, axis=-1)[states, actions]
            returns = soft_returns(rewards, jax.lax.stop_gradient(lp), alpha if entropy_in_return else 0.0, mdp.discount)
            return soft_policy_gradient_surrogate(lp, returns, mdp.discount)

        return -jax.grad(surrogate)(logits)

    return jax.jit(jax.vmap(estimate))(jax.random.split(key, NUM_TRAJ))


def _z_scores(samples, exact):
    mean = samples.mean(0)
    se = samples.std(0, ddof=1) / math.sqrt(samples.shape[0])
    return np.abs(np.asarray(mean - exact)) / np.asarray(se)


def test_eq_soft_pg_reinforce_is_unbiased_for_the_exact_maxent_gradient():
    mdp, logits, mu = _tabular_setup()
    alpha = 1.0
    exact = jax.grad(objective_of_logits, argnums=1)(mdp, logits, alpha, mu)
    z = _z_scores(_mc_gradients(mdp, logits, mu, alpha, jax.random.PRNGKey(0)), exact)
    assert np.all(z < Z_MAX), f"z-scores {z} (exact gradient {exact})"


def test_eq_soft_pg_unbiasedness_check_catches_broken_return_without_entropy():
    mdp, logits, mu = _tabular_setup()
    alpha = 1.0
    exact = jax.grad(objective_of_logits, argnums=1)(mdp, logits, alpha, mu)
    z = _z_scores(_mc_gradients(mdp, logits, mu, alpha, jax.random.PRNGKey(0), entropy_in_return=False), exact)
    assert np.any(z >= Z_MAX), f"the broken estimator passed: z-scores {z}"


# --------------------------------------------------------------------------- unbiasedness, continuous


def _gaussian_bandit_estimates(theta, alpha, key, *, entropy_in_return=True, n=NUM_TRAJ):
    """One-step episodes: a ~ N(m, s^2), r(a) = -(a - 1)^2; score-function estimates of grad (m, log s)."""
    eps = jax.random.normal(key, (n,))

    def estimate(e):
        a = jax.lax.stop_gradient(theta[0] + jnp.exp(theta[1]) * e)

        def surrogate(th):
            lp = jax.scipy.stats.norm.logpdf(a, th[0], jnp.exp(th[1]))[None]
            g = soft_returns(-(a - 1.0) ** 2 * jnp.ones(1), jax.lax.stop_gradient(lp),
                             alpha if entropy_in_return else 0.0, 0.99)
            return soft_policy_gradient_surrogate(lp, g)

        return -jax.grad(surrogate)(theta)

    return jax.jit(jax.vmap(estimate))(eps)


def _gaussian_exact_gradient(theta, alpha):
    # J(m, log s) = -((m - 1)^2 + s^2) + alpha (log s + 0.5 log(2 pi e)):  dJ/dm = -2 (m - 1), dJ/dlog s = -2 s^2 + alpha
    m, s = float(theta[0]), math.exp(float(theta[1]))
    return np.array([-2.0 * (m - 1.0), -2.0 * s * s + alpha])


def test_eq_soft_pg_gaussian_estimator_is_unbiased():
    theta, alpha = jnp.array([0.2, -0.3]), 0.8
    z = _z_scores(_gaussian_bandit_estimates(theta, alpha, jax.random.PRNGKey(1)), _gaussian_exact_gradient(theta, alpha))
    assert np.all(z < Z_MAX), z


def test_eq_soft_pg_gaussian_check_catches_broken_return_without_entropy():
    theta, alpha = jnp.array([0.2, -0.3]), 0.8
    samples = _gaussian_bandit_estimates(theta, alpha, jax.random.PRNGKey(1), entropy_in_return=False)
    z = _z_scores(samples, _gaussian_exact_gradient(theta, alpha))
    assert np.any(z >= Z_MAX), z


# --------------------------------------------------------------------------- found by mutation testing (docs/mutation.md)


def test_eq_soft_pg_outputs_keep_the_policy_dtype_when_other_inputs_are_wider():
    """A float32 policy's surrogate and advantages stay float32 when the returns, the critic's values,
    the temperature or the discount arrive in float64 (x64 on): each input is cast to the policy's dtype."""
    lp32 = jnp.array([-1.0, -2.0], jnp.float32)
    adv64 = np.array([2.0, 4.0])
    out = soft_policy_gradient_surrogate(lp32, adv64, np.float64(0.5))
    assert out.dtype == jnp.float32
    assert float(out) == pytest.approx(6.0)
    r32 = jnp.array([1.0, 0.5], jnp.float32)
    f64 = np.array([-0.5, -1.0])
    adv = soft_td_advantage(r32, f64, f64, f64, 0.0, 0.9, np.float64(0.5))
    assert adv.dtype == jnp.float32
    # r - alpha log pi + gamma V' - V = [1 + 0.25 - 0.45 + 0.5, 0.5 + 0.5 - 0.9 + 1.0]
    np.testing.assert_allclose(adv, [1.3, 1.1], rtol=1e-6)


def test_eq_soft_pg_surrogate_rejects_anything_but_a_trajectory_of_scalars():
    # Both [T, 2]: the shapes agree, but the surrogate needs one log-probability per step.
    with pytest.raises(ValueError, match=r"log_probs and advantages must both have shape \[T\]"):
        soft_policy_gradient_surrogate(jnp.zeros((3, 2)), jnp.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"must both have shape \[T\], got \(3,\) and \(2,\)"):
        soft_policy_gradient_surrogate(jnp.zeros(3), jnp.zeros(2))


def test_def_soft_return_default_bootstrap_is_zero():
    # A finished episode: nothing follows the last step, G_T = 0.  Soft rewards [2, 0]: G_1 = 0, G_0 = 2.
    np.testing.assert_allclose(soft_returns(jnp.array([1.0, 0.0]), jnp.array([-2.0, 0.0]), 0.5, 0.5), [2.0, 0.0])


def test_def_soft_return_keeps_the_reward_dtype_when_log_probs_are_wider():
    g = soft_returns(jnp.array([1.0, 0.0], jnp.float32), np.array([-2.0, 0.0]), 0.5, 0.5)
    assert g.dtype == jnp.float32
    np.testing.assert_allclose(g, [2.0, 0.0])


def test_def_soft_return_casts_every_input_to_the_reward_dtype_and_checks_done():
    r32 = jnp.array([1.0, 0.0], jnp.float32)
    g = soft_returns(r32, np.array([-2.0, 0.0]), np.float64(0.5), np.float64(0.5), np.array([1.0, 0.0]), np.float64(4.0))
    assert g.dtype == jnp.float32
    # done[0] = 1 cuts the return after step 0; G_1 = 0 + 0.5 * 4 = 2, G_0 = 2.
    np.testing.assert_allclose(g, [2.0, 2.0])
    with pytest.raises(ValueError, match=r"done must have the shape of rewards \(2,\), got \(3,\)"):
        soft_returns(r32, r32, 0.5, 0.5, jnp.zeros(3))
