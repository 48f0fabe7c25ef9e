"""Soft actor-critic (``softq_ref.agent.sac``): the pure update step on the core equations."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softq_ref.agent import sac
from softq_ref.agent.replay import Transition
from softq_ref.core.actor_critic import sac_q_target, tanh_gaussian_log_prob

SMALL = sac.SACConfig(hidden_sizes=(16, 16), batch_size=8, alpha=0.5)


def _batch(seed, b=8, obs_dim=3, act_dim=2):
    k = jax.random.split(jax.random.PRNGKey(seed), 5)
    return Transition(
        obs=jax.random.normal(k[0], (b, obs_dim)),
        action=jax.random.uniform(k[1], (b, act_dim), minval=-1.0, maxval=1.0),
        reward=jax.random.normal(k[2], (b,)),
        next_obs=jax.random.normal(k[3], (b, obs_dim)),
        done=(jax.random.uniform(k[4], (b,)) < 0.2).astype(jnp.float32),
    )


def _leaf(module):
    return module.net.layers[0].weight


def test_published_settings():
    cfg = sac.SACConfig()
    assert (cfg.hidden_sizes, cfg.q_lr, cfg.policy_lr, cfg.alpha_lr, cfg.batch_size) == ((256, 256), 3e-4, 3e-4, 3e-4, 256)
    assert (cfg.replay_capacity, cfg.target_tau, cfg.discount, cfg.learn_alpha) == (1_000_000, 0.005, 0.99, True)
    assert float(sac.init(SMALL, 3, 6, jax.random.PRNGKey(0)).hparams.target_entropy) == -6.0
    for bad in ({"alpha": 0.0}, {"target_tau": 0.0}, {"discount": 2.0}, {"hidden_sizes": ()}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            sac.SACConfig(**bad)


def test_train_step_shapes_metrics_and_the_core_target():
    state = sac.init(SMALL, 3, 2, jax.random.PRNGKey(0))
    batch = _batch(1)
    # The agent's target is sac_q_target with the actor's fresh next action and both target critics.
    key = jax.random.PRNGKey(7)
    keys = jax.random.split(key, 8)
    a2, lp2 = jax.vmap(state.actor.sample)(batch.next_obs, keys)
    q2 = jnp.stack([jax.vmap(q)(batch.next_obs, a2) for q in state.critics_target])
    np.testing.assert_allclose(sac.critic_target(state, batch, key),
                               sac_q_target(batch.reward, 0.99, batch.done, q2, lp2, 0.5),
                               rtol=1e-5)  # float32: the agent's batched critics sum in another order
    new_state, metrics = jax.jit(sac.train_step)(state, batch, jax.random.PRNGKey(2))
    assert set(metrics) == {"q_loss", "mean_q", "policy_loss", "alpha", "alpha_loss", "entropy"}
    assert all(np.isfinite(float(v)) and jnp.shape(v) == () for v in metrics.values())
    assert float(metrics["alpha"]) == pytest.approx(0.5)
    assert int(new_state.step) == 1
    # Polyak: target <- 0.005 * new + 0.995 * old.
    np.testing.assert_allclose(_leaf(new_state.critics_target[0]),
                               0.005 * _leaf(new_state.critics[0]) + 0.995 * _leaf(state.critics_target[0]), rtol=1e-5, atol=1e-7)


def test_actor_samples_in_the_box_with_the_core_log_density():
    state = sac.init(SMALL, 3, 2, jax.random.PRNGKey(0))
    obs = jnp.ones(3)
    action, log_prob = state.actor.sample(obs, jax.random.PRNGKey(1))
    mean, log_std = state.actor.distribution(obs)
    u = jnp.arctanh(action)
    np.testing.assert_allclose(log_prob, tanh_gaussian_log_prob(u, mean, log_std), rtol=1e-3)
    assert action.shape == (2,) and bool(jnp.all(jnp.abs(action) < 1))
    assert sac.act(state, obs, jax.random.PRNGKey(0)).shape == (2,)
    np.testing.assert_array_equal(sac.act(state, obs, jax.random.PRNGKey(0)), sac.act(state, obs, jax.random.PRNGKey(5)))
    # log std is clipped to [-20, 2] (dev-sac-log-std-clip).
    big = jax.tree.map(lambda x: 1e3 * x, state.actor)
    _, ls = big.distribution(jnp.full(3, 10.0))
    assert float(jnp.min(ls)) >= -20.0 and float(jnp.max(ls)) <= 2.0


def test_one_step_reduces_the_critic_and_actor_losses_on_a_fixed_batch():
    state = sac.init(SMALL, 3, 2, jax.random.PRNGKey(0))
    batch, key = _batch(3), jax.random.PRNGKey(4)
    target = sac.critic_target(state, batch, key)
    new_state, metrics = jax.jit(sac.train_step)(state, batch, key)
    assert float(sac.critic_loss(new_state.critics, batch, target)) < float(sac.critic_loss(state.critics, batch, target))
    # The actor's loss at the same noise, with the critics it was updated against.
    k_actor = jax.random.split(key)[1]

    def actor_loss(actor):
        keys = jax.random.split(k_actor, 8)
        a, lp = jax.vmap(actor.sample)(batch.obs, keys)
        q = jnp.minimum(*(jax.vmap(c)(batch.obs, a) for c in new_state.critics))
        return jnp.mean(0.5 * lp - q)

    assert float(actor_loss(new_state.actor)) < float(actor_loss(state.actor))


def test_temperature_moves_toward_the_target_entropy_or_stays_fixed():
    state = sac.init(SMALL.replace(target_entropy=50.0), 3, 2, jax.random.PRNGKey(0))  # unreachable: alpha must rise
    step = jax.jit(sac.train_step)
    s1, _ = step(state, _batch(1), jax.random.PRNGKey(0))
    assert float(s1.log_alpha) > float(state.log_alpha)
    low = sac.init(SMALL.replace(target_entropy=-50.0), 3, 2, jax.random.PRNGKey(0))  # far exceeded: alpha must fall
    s2, _ = step(low, _batch(1), jax.random.PRNGKey(0))
    assert float(s2.log_alpha) < float(low.log_alpha)
    fixed = sac.init(SMALL.replace(target_entropy=50.0, learn_alpha=False), 3, 2, jax.random.PRNGKey(0))
    s3, _ = step(fixed, _batch(1), jax.random.PRNGKey(0))
    assert float(s3.log_alpha) == pytest.approx(math.log(0.5))


def _fresh_jit():
    return jax.jit(lambda state, batch, key: sac.train_step(state, batch, key))


def test_new_traced_hyperparameters_do_not_recompile_and_are_used():
    step = _fresh_jit()
    state = sac.init(SMALL, 3, 2, jax.random.PRNGKey(0))
    state, _ = step(state, _batch(1), jax.random.PRNGKey(0))
    for change in ({"alpha": 0.1}, {"q_lr": 1e-2}, {"policy_lr": 1e-5}, {"discount": 0.5}, {"learn_alpha": False}):
        step(sac.with_hparams(state, **change), _batch(2), jax.random.PRNGKey(1))
    assert step._cache_size() == 1
    frozen = sac.with_hparams(state, q_lr=0.0, policy_lr=0.0)
    after, metrics = step(sac.with_hparams(frozen, alpha=0.25), _batch(5), jax.random.PRNGKey(6))
    np.testing.assert_array_equal(_leaf(after.critics[0]), _leaf(state.critics[0]))
    np.testing.assert_array_equal(_leaf(after.actor), _leaf(state.actor))
    assert float(metrics["alpha"]) == pytest.approx(0.25)
    assert step._cache_size() == 1


def test_the_compile_count_would_catch_a_recompile():
    step = _fresh_jit()
    for b in (8, 4):  # the batch size fixes shapes
        step(sac.init(SMALL, 3, 2, jax.random.PRNGKey(0)), _batch(1, b=b), jax.random.PRNGKey(0))
    assert step._cache_size() == 2


# The learning bars on real tasks (slow) run through the real loops and the CLI:
# tests/test_family_wiring.py.


def _np_mlp(mlp, x):
    """The MLP in float64 NumPy from its weights: ReLU on the hidden layers, a linear output."""
    h = np.asarray(x, np.float64)
    for i, layer in enumerate(mlp.layers):
        h = np.einsum("oi,...i->...o", np.asarray(layer.weight, np.float64), h) + np.asarray(layer.bias, np.float64)
        h = np.maximum(h, 0.0) if i < len(mlp.layers) - 1 else h
    return h


def test_the_actor_is_a_tanh_gaussian_with_the_first_half_mean_and_the_clipped_second_half_log_std():
    """``distribution``, ``mode``, ``sample`` and ``sample_rows`` against the NumPy network: mean = out[:d],
    log std = clip(out[d:], -20, 2) (``dev-sac-log-std-clip``, both edges reached), a = tanh(mean + std * eps)
    with eps = normal(key), and the core's log-density at that u."""
    k = jax.random.split(jax.random.PRNGKey(11), 3)
    actor = sac.TanhGaussianActor(3, 2, (8,), key=k[0])
    big = jax.tree.map(lambda x: 300.0 * x, actor)  # log std far outside [-20, 2] on both sides
    obs = jax.random.normal(k[1], (6, 3))
    keys = jax.random.split(k[2], 6)
    hit = set()
    for a in (actor, big):
        out = _np_mlp(a.net, obs)
        mean, log_std = out[:, :2], np.clip(out[:, 2:], -20.0, 2.0)
        hit |= set(np.unique(log_std[(log_std == -20.0) | (log_std == 2.0)]))
        rows_action, rows_lp = a.sample_rows(obs, keys)
        for i in range(6):
            m, ls = a.distribution(obs[i])
            assert m.dtype == ls.dtype == jnp.float32 and m.shape == ls.shape == (2,)
            np.testing.assert_allclose(m, mean[i], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(ls, log_std[i], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(a.mode(obs[i]), np.tanh(mean[i]), rtol=1e-5, atol=1e-6)
            eps = np.asarray(jax.random.normal(keys[i], (2,), jnp.float32), np.float64)
            u = mean[i] + np.exp(log_std[i]) * eps
            action, lp = a.sample(obs[i], keys[i])
            np.testing.assert_allclose(action, np.tanh(u), rtol=1e-5, atol=1e-6)
            want_lp = tanh_gaussian_log_prob(*(jnp.asarray(x, jnp.float32) for x in (u, mean[i], log_std[i])))
            np.testing.assert_allclose(lp, want_lp, rtol=1e-4, atol=1e-3)
            np.testing.assert_allclose(rows_action[i], action, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(rows_lp[i], lp, rtol=1e-4, atol=1e-3)
    assert hit == {-20.0, 2.0}


def test_with_hparams_learn_alpha_is_exactly_one_or_zero():
    # learn_alpha is traced as a float32 switch: True -> 1.0 and False -> 0.0, whatever the start.
    for start in (True, False):
        state = sac.init(SMALL.replace(learn_alpha=start), 3, 2, jax.random.PRNGKey(0))
        for value, expected in ((True, 1.0), (False, 0.0), (1, 1.0), (0, 0.0)):
            switch = sac.with_hparams(state, learn_alpha=value).hparams.learn_alpha
            assert switch.dtype == jnp.float32 and float(switch) == expected


def test_the_actor_samples_float32_with_the_same_draws_when_x64_is_on():
    """The actor's parameters are float32, so its noise is drawn in float32 also when JAX's default precision is
    64 bits: ``sample`` and ``sample_rows`` give the same float32 actions and log-densities with x64 on."""
    k = jax.random.split(jax.random.PRNGKey(12), 3)
    actor = sac.TanhGaussianActor(3, 2, (8,), key=k[0])
    obs = jax.random.normal(k[1], (5, 3))
    keys = jax.random.split(k[2], 5)
    plain = (*actor.sample_rows(obs, keys), *actor.sample(obs[0], keys[0]))
    with jax.enable_x64(True):
        wide = (*actor.sample_rows(obs, keys), *actor.sample(obs[0], keys[0]))
    for a, b in zip(plain, wide):
        assert a.dtype == b.dtype == jnp.float32 and a.shape == b.shape
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6, atol=1e-6)


def test_the_entropy_metric_is_minus_the_mean_log_density_of_the_actors_draws():
    """``entropy`` = -mean log pi(a|s) over the batch, for the actions the step's actor loss draws (the
    second half of the step's key, one key per row, the actor before the step)."""
    state = sac.init(SMALL, 3, 2, jax.random.PRNGKey(0))
    batch, key = _batch(3), jax.random.PRNGKey(8)
    _, k_actor = jax.random.split(key)
    _, log_prob = state.actor.sample_rows(batch.obs, jax.random.split(k_actor, 8))
    _, metrics = jax.jit(sac.train_step)(state, batch, key)
    np.testing.assert_allclose(float(metrics["entropy"]), -float(np.mean(np.asarray(log_prob, np.float64))), rtol=1e-5, atol=1e-5)
    assert abs(float(metrics["entropy"])) > 1e-3  # not a zero that a flipped sign would also give
