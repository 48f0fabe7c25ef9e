"""The soft policy-gradient agent (``softq_ref.agent.pg``): the pure update step, and on a bandit the
agent's own train_step converges to the Boltzmann policy exp(r / alpha) / Z (Theorem 1 with gamma = 0);
the same run with the entropy left out of the return does not."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softq_ref.agent import pg
from softq_ref.agent.replay import Transition
from softq_ref.core import boltzmann_policy
from softq_ref.core.policy_gradient import soft_returns

SMALL = pg.PGConfig(hidden_sizes=(16, 16), alpha=0.1)


def _segment(seed, t=12, obs_dim=3, num_actions=3, discrete=True):
    k = jax.random.split(jax.random.PRNGKey(seed), 5)
    action = (jax.random.randint(k[1], (t, 1), 0, num_actions).astype(jnp.float32) if discrete
              else jax.random.normal(k[1], (t, 2)))
    return Transition(
        obs=jax.random.normal(k[0], (t, obs_dim)), action=action, reward=jax.random.normal(k[2], (t,)),
        next_obs=jax.random.normal(k[3], (t, obs_dim)), done=(jax.random.uniform(k[4], (t,)) < 0.2).astype(jnp.float32),
    )


@pytest.mark.parametrize("discrete", [True, False])
def test_train_step_shapes_metrics_and_soft_returns(discrete):
    cfg = SMALL.replace(discrete=discrete)
    state = pg.init(cfg, 3, 3 if discrete else 2, jax.random.PRNGKey(0))
    seg = _segment(1, discrete=discrete)
    new_state, metrics = jax.jit(pg.train_step)(state, seg, jax.random.PRNGKey(2))
    assert set(metrics) == {"policy_loss", "value_loss", "entropy", "mean_soft_return"}
    assert all(np.isfinite(float(v)) and jnp.shape(v) == () for v in metrics.values())
    # The critic's regression target is soft_returns of the segment, bootstrapped with V(s_T).
    lp = jax.vmap(state.policy.log_prob)(seg.obs, seg.action)
    g = soft_returns(seg.reward, lp, 0.1, 0.99, seg.done, state.value(seg.next_obs[-1])[0])
    assert float(metrics["mean_soft_return"]) == pytest.approx(float(jnp.mean(g)), rel=1e-5)
    a = pg.act(state, seg.obs[0], jax.random.PRNGKey(0))
    assert a.shape == ((1,) if discrete else (2,))


def test_one_step_reduces_both_losses_on_a_fixed_segment():
    state = pg.init(SMALL, 3, 3, jax.random.PRNGKey(0))
    seg = _segment(3)
    new_state, _ = jax.jit(pg.train_step)(state, seg, jax.random.PRNGKey(0))
    lp = jax.vmap(state.policy.log_prob)(seg.obs, seg.action)
    g = soft_returns(seg.reward, lp, 0.1, 0.99, seg.done, state.value(seg.next_obs[-1])[0])
    adv = g - jax.vmap(state.value)(seg.obs)[:, 0]

    def value_loss(v):
        return jnp.mean((jax.vmap(v)(seg.obs)[:, 0] - g) ** 2)

    def surrogate(p):
        return -jnp.mean(jax.vmap(p.log_prob)(seg.obs, seg.action) * adv)

    assert float(value_loss(new_state.value)) < float(value_loss(state.value))
    assert float(surrogate(new_state.policy)) < float(surrogate(state.policy))


def test_new_traced_hyperparameters_do_not_recompile():
    step = jax.jit(lambda s, b, k: pg.train_step(s, b, k))
    state = pg.init(SMALL, 3, 3, jax.random.PRNGKey(0))
    state, _ = step(state, _segment(1), jax.random.PRNGKey(0))
    for change in ({"alpha": 0.5}, {"discount": 0.9}, {"policy_lr": 1e-2}, {"value_lr": 1e-5}):
        step(pg.with_hparams(state, **change), _segment(2), jax.random.PRNGKey(0))
    assert step._cache_size() == 1
    step(state, _segment(2, t=7), jax.random.PRNGKey(0))  # a new segment length is a new shape: the count sees it
    assert step._cache_size() == 2


# --------------------------------------------------------------------------- the agent reaches the Boltzmann policy

REWARDS = np.array([1.0, 0.0, 0.5], np.float32)  # numpy: collecting this file must not start JAX's backend (docs/mutation.md)
ALPHA = 0.5


def _train_on_bandit(alpha_in_agent: float, steps=1500, batch=64):
    """One state, three actions, one-step episodes (done = 1): the agent's train_step on batches it samples."""
    cfg = pg.PGConfig(hidden_sizes=(), policy_lr=0.05, value_lr=0.05, alpha=alpha_in_agent, discount=0.99)
    state = pg.init(cfg, 1, 3, jax.random.PRNGKey(0))
    obs = jnp.ones((batch, 1))

    def body(state, key):
        actions = jax.vmap(pg.explore, in_axes=(None, 0, 0))(state, obs, jax.random.split(key, batch))
        seg = Transition(obs=obs, action=actions, reward=jnp.asarray(REWARDS)[actions[:, 0].astype(jnp.int32)],
                         next_obs=obs, done=jnp.ones(batch))
        return pg.train_step(state, seg, key)[0], None

    run = jax.jit(lambda s, keys: jax.lax.scan(body, s, keys)[0])
    state = run(state, jax.random.split(jax.random.PRNGKey(1), steps))
    state = run(pg.with_hparams(state, policy_lr=0.005), jax.random.split(jax.random.PRNGKey(2), steps))
    return jax.nn.softmax(state.policy.net(jnp.ones(1)))


def check_reaches_boltzmann(policy):
    np.testing.assert_allclose(policy, boltzmann_policy(REWARDS, ALPHA), atol=0.03)


def test_agent_converges_to_the_boltzmann_policy_on_a_bandit():
    check_reaches_boltzmann(_train_on_bandit(ALPHA))


def test_bandit_check_catches_broken_return_without_entropy():
    with pytest.raises(AssertionError):
        check_reaches_boltzmann(_train_on_bandit(0.0))


def test_rollout_train_step_marks_every_episode_boundary_done(monkeypatch):
    """A row whose ``next_obs`` is not the next row's ``obs`` ends an episode: it reaches ``train_step`` with
    ``done = 1``; stored terminations stay 1; the last row is never cut; nothing else of the rollout changes."""
    seen = []

    def fake_train_step(state, batch, key):
        seen.append((state, batch, key))
        return "new state", {"policy_loss": 0.0}

    monkeypatch.setattr(pg, "train_step", fake_train_step)
    obs = jnp.array([[0, 0], [1, 0], [2, 0], [10, 5], [11, 5], [12, 5]], jnp.float32)
    next_obs = jnp.array([[1, 0], [2, 0], [2, 7], [11, 5], [11, 5], [99, 9]], jnp.float32)  # row 2: only one coordinate differs
    rollout = Transition(obs=obs, action=jnp.zeros((6, 1)), reward=jnp.arange(6, dtype=jnp.float32), next_obs=next_obs,
                         done=jnp.array([0, 0, 0, 0, 1, 0], jnp.float32))
    key = jax.random.PRNGKey(3)
    assert pg.rollout_train_step("state", rollout, key) == ("new state", {"policy_loss": 0.0})
    (state, batch, got_key), = seen
    assert state == "state" and got_key is key
    assert batch.done.dtype == jnp.float32
    np.testing.assert_array_equal(batch.done, np.float32([0, 0, 1, 0, 1, 0]))
    for name in ("obs", "action", "reward", "next_obs"):
        assert getattr(batch, name) is getattr(rollout, name)


def _np_mlp(mlp, x):
    h = np.asarray(x, np.float64)
    for i, layer in enumerate(mlp.layers):
        h = np.asarray(layer.weight, np.float64) @ h + np.asarray(layer.bias, np.float64)
        h = np.maximum(h, 0.0) if i < len(mlp.layers) - 1 else h
    return h


def test_policy_log_prob_is_the_softmax_or_the_diagonal_gaussian_of_the_network():
    obs = jnp.array([0.3, -1.2, 0.7], jnp.float32)
    state = pg.init(pg.PGConfig(hidden_sizes=(8,)), 3, 4, jax.random.PRNGKey(0))
    logits = _np_mlp(state.policy.net, obs)
    log_softmax = logits - np.log(np.sum(np.exp(logits - logits.max()))) - logits.max()
    for a in range(4):
        got = state.policy.log_prob(obs, jnp.float32([a + 0.2]))  # the stored index, rounded
        assert got.dtype == jnp.float32 and got.shape == ()
        np.testing.assert_allclose(float(got), log_softmax[a], rtol=1e-5, atol=1e-6)
    state = pg.init(pg.PGConfig(hidden_sizes=(8,), discrete=False, initial_log_std=-0.7), 3, 2, jax.random.PRNGKey(0))
    mean = _np_mlp(state.policy.net, obs)
    action = np.array([0.4, -0.9])
    sigma = np.exp(-0.7)
    want = np.sum(-0.5 * ((action - mean) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(float(state.policy.log_prob(obs, jnp.asarray(action, jnp.float32))), want, rtol=1e-5)


def test_rollout_train_step_keeps_the_stored_done_dtype_with_x64(monkeypatch):
    """The restored boundaries are cast to the stored ``done``'s float32, also when JAX's default precision is
    64 bits (a float64 ``done`` would turn the whole update float64)."""
    seen = []
    monkeypatch.setattr(pg, "train_step", lambda state, batch, key: seen.append(batch) or (state, {}))
    obs = jnp.array([[0.0], [1.0], [5.0]], jnp.float32)
    rollout = Transition(obs=obs, action=jnp.zeros((3, 1)), reward=jnp.zeros(3), next_obs=jnp.array([[1.0], [2.0], [6.0]]),
                         done=jnp.zeros(3, jnp.float32))
    with jax.enable_x64(True):
        pg.rollout_train_step(None, rollout, jax.random.PRNGKey(0))
    (batch,) = seen
    assert batch.done.dtype == jnp.float32
    np.testing.assert_array_equal(batch.done, np.float32([0, 1, 0]))


def test_gaussian_policy_sample_is_mean_plus_std_times_a_float32_normal_even_with_x64():
    """The continuous policy's action: the network's mean plus ``exp(log_std)`` times a standard normal drawn in
    the network's float32 (so the same draw, and a float32 action, when JAX's default precision is 64 bits)."""
    state = pg.init(pg.PGConfig(hidden_sizes=(8,), discrete=False, initial_log_std=-0.5), 3, 2, jax.random.PRNGKey(0))
    obs = jnp.array([0.3, -1.2, 0.7], jnp.float32)
    key = jax.random.PRNGKey(4)
    noise = np.asarray(jax.random.normal(key, (2,), jnp.float32), np.float64)
    want = _np_mlp(state.policy.net, obs) + np.exp(-0.5) * noise
    for x64 in (False, True):
        with jax.enable_x64(x64):
            got = state.policy.sample(obs, key)
        assert got.dtype == jnp.float32 and got.shape == (2,), x64
        np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-5, atol=1e-6)


def test_train_step_bootstraps_the_segment_with_the_critics_value_of_the_last_next_obs():
    """A segment that ends without a terminal: the soft returns (float64 NumPy, the reverse recursion
    G_t = r_t - alpha log pi(a_t|s_t) + gamma (1 - d_t) G_{t+1}) start from G_T = V(next_obs[T-1]), the
    critic's value of the state after the segment; ``mean_soft_return`` and ``value_loss`` (eq. (11)'s half
    squared error of V(s_t) toward G_t) and ``policy_loss`` (the surrogate with the advantage G_t - V(s_t), per
    step) and ``entropy`` are those of NumPy."""
    state = pg.init(SMALL, 3, 3, jax.random.PRNGKey(0))
    seg = _segment(1)
    seg = seg._replace(done=jnp.zeros(12, jnp.float32).at[4].set(1.0),  # one terminal inside, none at the end
                       next_obs=seg.next_obs.at[-1].set(jnp.array([4.0, -3.0, 2.5])))  # a state of a large value
    logits = np.stack([_np_mlp(state.policy.net, o) for o in seg.obs])
    log_pi = logits - logits.max(-1, keepdims=True)
    log_pi = log_pi - np.log(np.exp(log_pi).sum(-1, keepdims=True))
    lp = log_pi[np.arange(12), np.asarray(seg.action[:, 0]).astype(int)]
    v = np.array([_np_mlp(state.value, o)[0] for o in seg.obs])
    bootstrap = _np_mlp(state.value, seg.next_obs[-1])[0]
    assert abs(bootstrap - _np_mlp(state.value, seg.next_obs[-2])[0]) > 1e-2 and abs(bootstrap) > 1e-2
    alpha, gamma, done = 0.1, 0.99, np.asarray(seg.done, np.float64)
    g, returns = bootstrap, np.zeros(12)
    for t in reversed(range(12)):
        g = float(seg.reward[t]) - alpha * lp[t] + gamma * (1 - done[t]) * g
        returns[t] = g
    _, metrics = jax.jit(pg.train_step)(state, seg, jax.random.PRNGKey(2))
    np.testing.assert_allclose(float(metrics["mean_soft_return"]), returns.mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(metrics["value_loss"]), 0.5 * np.mean((returns - v) ** 2), rtol=1e-5, atol=1e-6)
    # The policy's surrogate per step: -(1/T) sum_t log pi(a_t|s_t) (G_t - V(s_t)) (no gamma^t weights).
    np.testing.assert_allclose(float(metrics["policy_loss"]), -np.sum(lp * (returns - v)) / 12, rtol=1e-5, atol=1e-6)
    # The entropy estimate -E[log pi] over the segment's actions (positive: log pi < 0).
    np.testing.assert_allclose(float(metrics["entropy"]), -lp.mean(), rtol=1e-5, atol=1e-6)


def test_init_checks_the_action_count_and_keeps_float32_parameters_with_x64():
    """``action_dim``: a positive int (one line naming the value otherwise; 1 is allowed); every parameter,
    the Gaussian policy's ``log_std`` (at ``initial_log_std``) included, is float32 also when JAX's default
    precision is 64 bits."""
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError) as err:
            pg.init(SMALL, 3, bad, jax.random.PRNGKey(0))
        assert str(err.value) == f"action_dim must be a positive int, got {bad!r}"
    assert pg.init(SMALL, 3, 1, jax.random.PRNGKey(0)).policy.net.layers[-1].weight.shape[0] == 1
    with jax.enable_x64(True):
        state = pg.init(SMALL.replace(discrete=False, initial_log_std=-0.75), 3, 2, jax.random.PRNGKey(0))
    assert state.policy.log_std.dtype == jnp.float32
    np.testing.assert_array_equal(state.policy.log_std, np.float32([-0.75, -0.75]))
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves((state.policy, state.value)))
