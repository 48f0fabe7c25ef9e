"""Soft DQN (``softq_ref.agent.soft_dqn``): the pure update step, and the property that ties it to the
theorems: on finite MDPs with one-hot states and full expected updates, its fixed point is
``soft_q_iteration``'s Q* (Theorems 1-3), and with alpha = 0 hard Q-iteration's.  Every property
has a must-fail twin run on a deliberately broken target."""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from softq_ref.agent import soft_dqn
from softq_ref.agent.replay import Transition
from softq_ref.core import boltzmann_policy, soft_bellman_target, soft_value
from softq_ref.tabular import TabularMDP, q_iteration, soft_q_iteration
from softq_ref.testing import mdps, temperatures

SHAPES = [(2, 2), (3, 4)]


def expect_counterexample(prop) -> None:
    fast = settings(phases=[Phase.explicit, Phase.generate], database=None, report_multiple_bugs=False)
    with pytest.raises(AssertionError):
        fast(prop)()


def _batch(seed, b=8, obs_dim=4, num_actions=3):
    k = jax.random.split(jax.random.PRNGKey(seed), 5)
    return Transition(
        obs=jax.random.normal(k[0], (b, obs_dim)),
        action=jax.random.randint(k[1], (b, 1), 0, num_actions).astype(jnp.float32),
        reward=jax.random.normal(k[2], (b,)),
        next_obs=jax.random.normal(k[3], (b, obs_dim)),
        done=(jax.random.uniform(k[4], (b,)) < 0.2).astype(jnp.float32),
    )


SMALL = soft_dqn.SoftDQNConfig(hidden_sizes=(16, 16), batch_size=8, alpha=0.5, target_update_period=3)


# --------------------------------------------------------------------------- the update step


def test_train_step_shapes_metrics_and_target_closed_form():
    state = soft_dqn.init(SMALL, 4, 3, jax.random.PRNGKey(0))
    batch = _batch(1)
    # The target by hand: r + gamma (1 - d) * alpha * logsumexp(Q_target(s') / alpha).
    next_q = np.asarray(jax.vmap(state.q_target)(batch.next_obs), np.float64)
    alpha, gamma = 0.5, 0.99
    m = next_q.max(-1)
    v = m + alpha * np.log(np.exp((next_q - m[:, None]) / alpha).sum(-1))
    expected = np.asarray(batch.reward) + gamma * (1 - np.asarray(batch.done)) * v
    np.testing.assert_allclose(soft_dqn.td_target(state.q_target, batch, 0.5, 0.99), expected, rtol=1e-5, atol=1e-5)
    new_state, metrics = jax.jit(soft_dqn.train_step)(state, batch, jax.random.PRNGKey(2))
    assert set(metrics) == {"q_loss", "mean_q", "soft_value", "policy_entropy"}
    assert all(np.isfinite(float(v)) and jnp.shape(v) == () for v in metrics.values())
    assert int(new_state.step) == 1
    assert soft_dqn.act(state, batch.obs[0], jax.random.PRNGKey(0)).shape == (1,)


def test_one_step_reduces_the_loss_on_a_fixed_batch():
    state = soft_dqn.init(SMALL.replace(target_update_period=1000), 4, 3, jax.random.PRNGKey(0))
    batch = _batch(3)
    step = jax.jit(soft_dqn.train_step)
    s1, m0 = step(state, batch, jax.random.PRNGKey(0))
    _, m1 = step(s1, batch, jax.random.PRNGKey(0))  # the loss at the new parameters, same target network
    assert float(m1["q_loss"]) < float(m0["q_loss"])


def test_target_is_a_hard_copy_exactly_every_period():
    state = soft_dqn.init(SMALL, 4, 3, jax.random.PRNGKey(0))
    step = jax.jit(soft_dqn.train_step)
    for i in range(1, 7):
        prev_target = state.q_target
        state, _ = step(state, _batch(i), jax.random.PRNGKey(i))
        w, wt, wp = state.q.net.layers[0].weight, state.q_target.net.layers[0].weight, prev_target.net.layers[0].weight
        if i % 3 == 0:
            np.testing.assert_array_equal(wt, w)
        else:
            np.testing.assert_array_equal(wt, wp)


def _fresh_jit():
    return jax.jit(lambda state, batch, key: soft_dqn.train_step(state, batch, key))


def test_new_traced_hyperparameters_do_not_recompile_and_are_used():
    step = _fresh_jit()
    state = soft_dqn.init(SMALL, 4, 3, jax.random.PRNGKey(0))
    state, _ = step(state, _batch(1), jax.random.PRNGKey(0))
    for change in ({"alpha": 0.1}, {"q_lr": 1e-2}, {"discount": 0.5}, {"alpha": 0.0}):
        step(soft_dqn.with_hparams(state, **change), _batch(2), jax.random.PRNGKey(1))
    assert step._cache_size() == 1
    frozen = soft_dqn.with_hparams(state, q_lr=0.0)
    after, _ = step(frozen, _batch(5), jax.random.PRNGKey(6))
    np.testing.assert_array_equal(after.q.net.layers[0].weight, state.q.net.layers[0].weight)
    assert step._cache_size() == 1


def test_the_compile_count_would_catch_a_recompile():
    step = _fresh_jit()
    for n in (3, 5):  # the number of actions fixes shapes
        step(soft_dqn.init(SMALL, 4, n, jax.random.PRNGKey(0)), _batch(1, num_actions=n), jax.random.PRNGKey(0))
    assert step._cache_size() == 2


def test_act_samples_the_boltzmann_policy_of_eq6():
    state = soft_dqn.init(SMALL.replace(alpha=2.0), 4, 3, jax.random.PRNGKey(0))
    obs = jnp.ones(4)
    probs = np.asarray(boltzmann_policy(state.q(obs), 2.0), np.float64)
    keys = jax.random.split(jax.random.PRNGKey(1), 20_000)
    draws = np.asarray(jax.jit(jax.vmap(soft_dqn.explore, in_axes=(None, None, 0)))(state, obs, keys))[:, 0]
    assert set(np.unique(draws)) <= {0.0, 1.0, 2.0}
    freq = np.bincount(draws.astype(int), minlength=3) / len(draws)
    # Binomial standard error <= sqrt(0.25 / 20000) = 0.0035; 5 of them.
    np.testing.assert_allclose(freq, probs, atol=0.018)
    # alpha = 0: the greedy action, every time.
    cold = soft_dqn.with_hparams(state, alpha=0.0)
    greedy = float(soft_dqn.greedy(cold, obs)[0])
    assert all(float(soft_dqn.act(cold, obs, k)[0]) == greedy for k in keys[:20])


def test_config_rejects_bad_values():
    for bad in ({"alpha": -1.0}, {"discount": 1.5}, {"batch_size": 0}, {"hidden_sizes": (0,)}, {"q_lr": 0.0}):
        with pytest.raises(ValueError):
            soft_dqn.SoftDQNConfig(**bad)
    for bad in (0, True, 2.0):  # a bool is not a count of actions (True would build a one-action network)
        with pytest.raises(ValueError) as err:
            soft_dqn.init(SMALL, 4, bad, jax.random.PRNGKey(0))
        assert str(err.value) == f"action_dim (the number of discrete actions) must be a positive int, got {bad!r}"
    assert soft_dqn.init(SMALL, 4, 1, jax.random.PRNGKey(0)).num_actions == 1  # the edge: one action is allowed


# --------------------------------------------------------------------------- the tie to the theorems


def _table_network(table: jax.Array) -> soft_dqn.DiscreteQNetwork:
    """The linear Q-network on one-hot states whose outputs are the table: weight [A, S] = table^T, bias 0."""
    num_states, num_actions = table.shape
    net = soft_dqn.DiscreteQNetwork(num_states, num_actions, (), key=jax.random.PRNGKey(0))
    return eqx.tree_at(lambda n: (n.net.layers[0].weight, n.net.layers[0].bias), net,
                       (table.T.astype(table.dtype), jnp.zeros(num_actions, table.dtype)))


def _all_transitions(mdp: TabularMDP) -> Transition:
    """Every (s, a, s') triple, one-hot states: the batch of a full expected update (weighted by p below)."""
    s_n, a_n = mdp.num_states, mdp.num_actions
    s, a, s2 = np.meshgrid(np.arange(s_n), np.arange(a_n), np.arange(s_n), indexing="ij")
    eye = jnp.eye(s_n, dtype=mdp.rewards.dtype)
    return Transition(
        obs=eye[s.ravel()], action=jnp.asarray(a.ravel()[:, None], mdp.rewards.dtype),
        reward=mdp.rewards[s.ravel(), a.ravel()], next_obs=eye[s2.ravel()],
        done=jnp.zeros(s.size, mdp.rewards.dtype),
    )


@functools.partial(jax.jit, static_argnums=(0, 4))
def _fixed_point(target_fn, mdp, alpha, batch, iterations):
    """Full expected soft DQN updates: the target network is the table; the regression with one-hot
    features and squared loss is solved exactly (its minimiser is the p-weighted mean target); then the
    target is copied.  Returns the table after ``iterations`` copies."""
    s_n, a_n = mdp.rewards.shape

    def body(_, table):
        y = target_fn(_table_network(table), batch, alpha, mdp.discount).reshape(s_n, a_n, s_n)
        return jnp.sum(mdp.transitions * y, axis=-1)

    return jax.lax.fori_loop(0, iterations, body, jnp.zeros_like(mdp.rewards))


def check_fixed_point_is_soft_q_star(target_fn, mdp, alpha):
    q = _fixed_point(target_fn, mdp, jnp.asarray(alpha, mdp.rewards.dtype), _all_transitions(mdp), 800)
    q_star = q_iteration(mdp, tol=1e-10) if alpha == 0 else soft_q_iteration(mdp, alpha, tol=1e-10)
    np.testing.assert_allclose(q, q_star, rtol=1e-8, atol=1e-8)


def fixed_point_property(target_fn, alphas):
    @given(st.sampled_from(SHAPES).flatmap(lambda sa: mdps(sa[0], sa[1])), alphas)
    def prop(mdp, alpha):
        with jax.enable_x64(True):
            mdp = jax.tree.map(lambda x: jnp.asarray(np.asarray(x), jnp.float64), mdp)
            check_fixed_point_is_soft_q_star(target_fn, mdp, alpha)

    return prop


def _broken_no_temperature(q_target, batch, alpha, discount):
    """The 2017 code's slip (softqlearning #5): log sum exp(Q) with the temperature left out."""
    next_q = jax.vmap(q_target)(batch.next_obs)
    return soft_bellman_target(batch.reward, discount, batch.done, jax.scipy.special.logsumexp(next_q, axis=-1))


def _broken_mean_value(q_target, batch, alpha, discount):
    """Expected SARSA under the uniform policy: the mean over actions, not the (soft) max."""
    next_q = jax.vmap(q_target)(batch.next_obs)
    return soft_bellman_target(batch.reward, discount, batch.done, jnp.mean(next_q, axis=-1))


@pytest.fixture
def _x64():
    with jax.enable_x64(True):
        yield


def test_soft_dqn_fixed_point_is_soft_q_iteration_q_star(_x64):
    fixed_point_property(soft_dqn.td_target, temperatures(0.05, 5.0))()


def test_soft_dqn_fixed_point_check_catches_broken_missing_temperature(_x64):
    expect_counterexample(fixed_point_property(_broken_no_temperature, temperatures(0.05, 5.0)))


def test_soft_dqn_alpha_zero_fixed_point_is_hard_q_iteration(_x64):
    fixed_point_property(soft_dqn.td_target, st.just(0.0))()


def test_soft_dqn_alpha_zero_check_catches_broken_mean_over_actions(_x64):
    expect_counterexample(fixed_point_property(_broken_mean_value, st.just(0.0)))


def test_train_step_itself_converges_to_q_star_on_a_deterministic_mdp():
    """The real train_step (Adam, hard copies every C steps), linear one-hot Q, a batch of every
    (s, a) with its unique next state: it ends at soft Q-iteration's Q*, not at hard Q-iteration's."""
    mdp = TabularMDP(
        jnp.eye(3)[jnp.array([[1, 2], [2, 0], [0, 0]])],  # deterministic transitions
        jnp.array([[0.0, 1.0], [0.5, -1.0], [0.0, 0.2]]), 0.5,
    )
    alpha = 1.0
    eye = jnp.eye(3)
    s, a = np.meshgrid(np.arange(3), np.arange(2), indexing="ij")
    nxt = np.argmax(np.asarray(mdp.transitions), -1)
    batch = Transition(obs=eye[s.ravel()], action=jnp.asarray(a.ravel()[:, None], jnp.float32),
                       reward=mdp.rewards[s.ravel(), a.ravel()], next_obs=eye[nxt.ravel()], done=jnp.zeros(6))
    cfg = soft_dqn.SoftDQNConfig(hidden_sizes=(), q_lr=0.05, alpha=alpha, discount=0.5, target_update_period=200)
    state = soft_dqn.init(cfg, 3, 2, jax.random.PRNGKey(0))

    @jax.jit
    def run(state):
        return jax.lax.scan(lambda st_, _: (soft_dqn.train_step(st_, batch, jax.random.PRNGKey(0))[0], None),
                            state, None, length=4000)[0]

    state = run(state)
    state = run(soft_dqn.with_hparams(state, q_lr=2e-3))  # settle Adam's last oscillation
    q = jax.vmap(state.q)(eye)
    q_star = soft_q_iteration(mdp, alpha, tol=1e-6)
    np.testing.assert_allclose(q, q_star, atol=0.02)
    assert float(jnp.max(jnp.abs(q_star - q_iteration(mdp, tol=1e-6)))) > 0.3  # the two answers are far apart
    # And the agent's soft value at each state is eq. (5) of that Q.
    np.testing.assert_allclose(soft_value(q, alpha), soft_value(q_star, alpha), atol=0.03)


# The learning bars on real tasks (slow) run through the real loops and the CLI:
# tests/test_family_wiring.py.


def test_action_index_rounds_the_stored_float_to_an_int32_index():
    stored = jnp.array([[0.0], [2.0], [0.9999999], [2.6], [1.4]], jnp.float32)
    got = soft_dqn.action_index(stored)
    assert got.dtype == jnp.int32 and got.shape == (5,)
    np.testing.assert_array_equal(got, [0, 2, 1, 3, 1])
    assert soft_dqn.action_index(jnp.zeros((2, 3, 1)) + 4.0).shape == (2, 3)


def test_greedy_and_act_give_a_float32_index_even_with_x64():
    """The action is stored as ``float32 [1]`` (the replay buffer's dtype) whatever JAX's default precision."""
    state = soft_dqn.init(SMALL, 4, 3, jax.random.PRNGKey(0))
    obs = jnp.array([0.5, -1.0, 2.0, 0.1], jnp.float32)
    best = int(np.argmax(np.asarray(state.q(obs))))
    for x64 in (False, True):
        with jax.enable_x64(x64):
            for action in (soft_dqn.greedy(state, obs), soft_dqn.act(state, obs, jax.random.PRNGKey(1))):
                assert action.dtype == jnp.float32 and action.shape == (1,), x64
            assert float(soft_dqn.greedy(state, obs)[0]) == best


def _np_mlp(mlp, x):
    """The MLP's forward pass in float64 NumPy (ReLU between layers): ``[..., in] -> [..., out]``."""
    h = np.asarray(x, np.float64)
    for i, layer in enumerate(mlp.layers):
        h = h @ np.asarray(layer.weight, np.float64).T + np.asarray(layer.bias, np.float64)
        h = np.maximum(h, 0.0) if i < len(mlp.layers) - 1 else h
    return h


def test_train_step_metrics_are_the_numpy_values_of_the_batch():
    """Each metric of one step against float64 NumPy: ``q_loss`` = eq. (11) on the taken actions' Q, ``mean_q``
    their mean, ``soft_value`` = the batch mean of eq. (5) at s' under the target network, ``policy_entropy`` =
    the batch mean of the entropy of eq. (6)'s policy at s under the online network (before the step)."""
    state = soft_dqn.init(SMALL, 4, 3, jax.random.PRNGKey(0))
    # A target network of its own, so that online and target values differ.
    state = eqx.tree_at(lambda s: s.q_target, state, soft_dqn.DiscreteQNetwork(4, 3, (16, 16), key=jax.random.PRNGKey(9)))
    batch = _batch(5)
    alpha, gamma = 0.5, 0.99
    q = _np_mlp(state.q.net, batch.obs)  # [B, A]
    q_next = _np_mlp(state.q_target.net, batch.next_obs)
    m = q_next.max(-1, keepdims=True)
    v_next = (m + alpha * np.log(np.exp((q_next - m) / alpha).sum(-1, keepdims=True)))[:, 0]
    y = np.asarray(batch.reward, np.float64) + gamma * (1 - np.asarray(batch.done, np.float64)) * v_next
    idx = np.asarray(batch.action[:, 0]).astype(int)
    assert len(set(idx)) > 1  # the batch takes several actions
    q_pred = q[np.arange(len(idx)), idx]
    logits = (q - q.max(-1, keepdims=True)) / alpha
    pi = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    want = {"q_loss": 0.5 * np.mean((y - q_pred) ** 2), "mean_q": q_pred.mean(), "soft_value": v_next.mean(),
            "policy_entropy": np.mean(-np.sum(pi * np.log(pi), axis=-1))}
    _, metrics = jax.jit(soft_dqn.train_step)(state, batch, jax.random.PRNGKey(2))
    for name, value in want.items():
        assert metrics[name].dtype == jnp.float32 and metrics[name].shape == (), name
        np.testing.assert_allclose(float(metrics[name]), value, rtol=2e-5, atol=1e-6, err_msg=name)
    assert 0 < want["policy_entropy"] < np.log(3)
