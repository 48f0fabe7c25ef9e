"""The multi-goal task twice -- pure JAX and NumPy gymnasium -- proven identical.

Sec. 5.1 of Haarnoja et al. (2017); the 2018 code of haarnoja/softqlearning
(post-step scoring, clipped-action cost, start N(0, 0.1^2), 30 steps).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import warnings

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import example, given
from hypothesis import strategies as st

import softq_ref.envs
from softq_ref.envs import (
    GOALS,
    MULTIGOAL_ID,
    MultiGoalEnv,
    MultiGoalParams,
    goal_index,
    observe,
    reset,
    state_at,
    step,
    step_autoreset,
)

DEFAULT = MultiGoalParams()
# A second parameter set, to check that both implementations read every constant.
OTHER = MultiGoalParams(
    goal_reward=3.0, action_cost_coeff=2.5, distance_cost_coeff=0.5, goal_threshold=1.7, init_sigma=0.3, max_steps=7
)

jit_step = jax.jit(step, static_argnames="params")
jit_step_autoreset = jax.jit(step_autoreset, static_argnames="params")


def gym_env(params: MultiGoalParams = DEFAULT) -> MultiGoalEnv:
    return MultiGoalEnv(**dataclasses.asdict(params))


# --------------------------------------------------------------------------- gymnasium API


def test_check_env_passes_on_unwrapped_env():
    env = gymnasium.make(MULTIGOAL_ID)
    check_env(env.unwrapped)  # warnings are errors in this suite
    env.close()


def test_check_env_passes_on_made_env():
    env = gymnasium.make(MULTIGOAL_ID)
    # check_env only warns that it is looking through wrappers; any other warning
    # is re-emitted by pytest.warns and fails the test.
    with pytest.warns(UserWarning, match="different from the unwrapped"):
        check_env(env)
    env.close()


def test_registration_is_idempotent_and_adds_no_time_limit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        softq_ref.envs.register_envs()
        importlib.reload(softq_ref.envs)
    spec = gymnasium.spec(MULTIGOAL_ID)
    assert spec.max_episode_steps is None  # the environment truncates itself
    env = gymnasium.make(MULTIGOAL_ID)
    assert not any(isinstance(w, gymnasium.wrappers.TimeLimit) for w in _wrapper_chain(env))
    assert env.unwrapped.max_steps == 30
    env.close()


def _wrapper_chain(env):
    while isinstance(env, gymnasium.Wrapper):
        yield env
        env = env.env


def test_spaces():
    env = gym_env()
    assert env.observation_space == gymnasium.spaces.Box(-7.0, 7.0, (2,), np.float32)
    assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)


def test_render_rgb_array():
    env = gymnasium.make(MULTIGOAL_ID, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(np.array([1.0, 0.0], np.float32))
    frame = env.render()
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    env.close()


# --------------------------------------------------------------------------- JAX == gymnasium


def run_jax(start, actions, params, step_fn=None):
    """Rows (obs, reward, terminated, truncated, goal) of the JAX task."""
    step_fn = step_fn or (lambda s, a: jit_step(s, a, params=params))
    state = state_at(start)
    rows = []
    for action in actions:
        state, obs, reward, terminated, truncated, info = step_fn(state, jnp.asarray(action, jnp.float32))
        rows.append((np.asarray(obs), float(reward), bool(terminated), bool(truncated), int(info["goal"])))
    return rows


def run_gym(start, actions, params):
    """Rows (obs, reward, terminated, truncated, goal) of the gymnasium task, stepping past the end too."""
    env = gym_env(params)
    obs0, _ = env.reset(seed=0, options={"position": start})
    rows = []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(np.asarray(action, np.float32))
        assert obs.dtype == np.float32 and isinstance(reward, float)
        rows.append((obs, reward, terminated, truncated, info["goal"]))
    return obs0, rows


_TINY = float(np.finfo(np.float32).tiny)  # 1.18e-38, the smallest normal float32


def assert_same_rows(jax_rows, gym_rows):
    assert len(jax_rows) == len(gym_rows)
    for i, (j, g) in enumerate(zip(jax_rows, gym_rows)):
        # Bitwise equal except below the smallest normal float32: XLA on CPU flushes
        # subnormals to zero, NumPy keeps them (e.g. a start coordinate of 2e-43).
        np.testing.assert_allclose(j[0], g[0], rtol=0, atol=_TINY, err_msg=f"observation at step {i}")
        # rtol 1e-6 as required; atol for rewards that cancel near 0 (-(cost) + 10).
        np.testing.assert_allclose(j[1], g[1], rtol=1e-6, atol=1e-5, err_msg=f"reward at step {i}")
        assert j[2:] == g[2:], f"(terminated, truncated, goal) at step {i}: jax {j[2:]} gym {g[2:]}"


coordinate = st.floats(-7.0, 7.0, width=32)
action_component = st.one_of(
    st.floats(-1.0, 1.0, width=32),
    st.floats(-50.0, 50.0, width=32),  # mostly out of range: clipped
    st.sampled_from([math.inf, -math.inf, 1.0, -1.0, 0.0]),
)
action = st.tuples(action_component, action_component)


@given(
    start=st.tuples(coordinate, coordinate),
    actions=st.lists(action, min_size=1, max_size=35),
    params=st.sampled_from([DEFAULT, OTHER]),
)
@example(start=(3.5, 0.0), actions=[(0.0, 0.0)] * 29 + [(1.0, 0.0)], params=DEFAULT)  # goal on step 30
@example(start=(-4.0, 0.0), actions=[(-0.5, 0.0)], params=DEFAULT)  # the ring edge, d = 1 - 0.5
@example(start=(0.0, 5.0 - 1.7 + 1e-6), actions=[(0.0, 0.0)], params=OTHER)
@example(start=(0.0, 2e-43), actions=[(0.0, 0.0)], params=DEFAULT)  # subnormal: flushed by XLA only
def test_jax_and_gym_are_identical(start, actions, params):
    jax_rows = run_jax(start, actions, params)
    obs0, gym_rows = run_gym(start, actions, params)
    np.testing.assert_allclose(obs0, np.asarray(observe(state_at(start))), rtol=0, atol=_TINY)
    assert_same_rows(jax_rows, gym_rows)


def _scored_before_the_step(state, action):
    """Broken on purpose: the 2017 code's pre-step scoring (reward and goal at s, not s')."""
    next_state, obs, _, _, truncated, info = step(state, action)
    a = jnp.clip(action, -1.0, 1.0)
    goal = goal_index(state.position)
    d2 = jnp.min(jnp.sum((state.position[None, :] - jnp.asarray(GOALS)) ** 2, axis=1))
    reward = -(30.0 * jnp.sum(a * a) + d2) + jnp.where(goal >= 0, 10.0, 0.0)
    return next_state, obs, reward, goal >= 0, truncated, {**info, "goal": goal}


def _raw_action_cost(state, action):
    """Broken on purpose: the action cost on the unclipped action."""
    next_state, obs, reward, terminated, truncated, info = step(state, action)
    return next_state, obs, reward + info["action_cost"] - 30.0 * jnp.sum(action * action), terminated, truncated, info


@pytest.mark.parametrize("broken", [_scored_before_the_step, _raw_action_cost])
def test_identity_check_can_fail(broken):
    """The comparison above detects the two choices this task could plausibly get wrong."""
    start, actions = (3.0, 0.0), [(2.0, 0.0), (0.0, 0.0)]
    _, gym_rows = run_gym(start, actions, DEFAULT)
    assert_same_rows(run_jax(start, actions, DEFAULT), gym_rows)
    with pytest.raises(AssertionError):
        assert_same_rows(run_jax(start, actions, DEFAULT, step_fn=broken), gym_rows)


# --------------------------------------------------------------------------- closed form

# (start, action, next position, reward, terminated, goal), each computed by hand:
HAND_CASES = [
    # s' = (0.5, 0.5); action cost 30 (0.25 + 0.25) = 15; nearest goals (5,0) and (0,5):
    # 4.5^2 + 0.5^2 = 20.25 + 0.25 = 20.5; r = -(15 + 20.5) = -35.5.
    ((0.0, 0.0), (0.5, 0.5), (0.5, 0.5), -35.5, False, -1),
    # s' = (4.5, 0); cost 30 * 0.25 = 7.5; distance 0.5^2 = 0.25 < 1: goal 0;
    # r = -(7.5 + 0.25) + 10 = 2.25.
    ((4.0, 0.0), (0.5, 0.0), (4.5, 0.0), 2.25, True, 0),
    # a = (3, -2) is clipped to (1, -1): cost 30 * 2 = 60 (the raw action would cost
    # 30 * 13 = 390); s' = (1, -1); to (5,0): 16 + 1 = 17, to (0,-5): 1 + 16 = 17;
    # r = -(60 + 17) = -77.
    ((0.0, 0.0), (3.0, -2.0), (1.0, -1.0), -77.0, False, -1),
    # s + a = (7.5, -7.8) is clipped to (7, -7); cost 60; to (5,0): 4 + 49 = 53,
    # to (0,-5): 49 + 4 = 53; r = -113.
    ((6.5, -6.8), (1.0, -1.0), (7.0, -7.0), -113.0, False, -1),
    # s' = (4, 0) is at distance exactly 1 from (5, 0): not inside (strict <);
    # r = -(30 + 1) = -31.
    ((3.0, 0.0), (1.0, 0.0), (4.0, 0.0), -31.0, False, -1),
    # Pre- vs post-step: s = (5, 0) is the goal itself, s' = (6, 0) lies at distance
    # exactly 1, outside it.  r = -(30 + 1) = -31, no goal: the 2018 code scores s';
    # the 2017 code would have scored s (distance 0) and paid the bonus: -30 + 10.
    ((5.0, 0.0), (1.0, 0.0), (6.0, 0.0), -31.0, False, -1),
    # Zero action at the origin: cost 0; min distance 25; r = -25.
    ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0), -25.0, False, -1),
    # s' = (0, -4.25): goal 3 at distance 0.75, 0.5625; cost 30 * 0.5625 = 16.875;
    # r = -(16.875 + 0.5625) + 10 = -7.4375.
    ((0.0, -5.0), (0.0, 0.75), (0.0, -4.25), -7.4375, True, 3),
]


@pytest.mark.parametrize("start, action, position, reward, terminated, goal", HAND_CASES)
def test_reward_at_hand_picked_points(start, action, position, reward, terminated, goal):
    _, obs, r, term, trunc, info = step(state_at(start), jnp.array(action, jnp.float32))
    np.testing.assert_array_equal(obs, np.array(position, np.float32))
    assert float(r) == pytest.approx(reward, rel=1e-6) and r.dtype == jnp.float32
    assert (bool(term), bool(trunc), int(info["goal"])) == (terminated, False, goal)

    env = gym_env()
    env.reset(options={"position": start})
    g_obs, g_r, g_term, g_trunc, g_info = env.step(np.array(action, np.float32))
    np.testing.assert_array_equal(g_obs, np.array(position, np.float32))
    assert g_r == pytest.approx(reward, rel=1e-6)
    assert (g_term, g_trunc, g_info["goal"]) == (terminated, False, goal)


@pytest.mark.parametrize("index", range(4))
def test_reaching_each_goal_terminates_with_the_bonus(index):
    # Start 1.5 short of the goal and move 1 towards it: distance 0.5, squared 0.25;
    # unit action costs 30; r = -(30 + 0.25) + 10 = -20.25.
    goal = GOALS[index]
    unit = goal / 5.0
    start, action = goal - 1.5 * unit, unit
    _, obs, r, term, trunc, info = step(state_at(start), jnp.asarray(action))
    assert (bool(term), bool(trunc), int(info["goal"])) == (True, False, index)
    assert float(r) == pytest.approx(-20.25)
    env = gym_env()
    env.reset(options={"position": start})
    _, g_r, g_term, _, g_info = env.step(action)
    assert (g_term, g_info["goal"], g_r) == (True, index, pytest.approx(-20.25))


def test_goal_index():
    for i, goal in enumerate(GOALS):
        assert int(goal_index(goal)) == i
        assert int(goal_index(goal + np.float32(0.99))) == -1  # distance 0.99 sqrt 2 > 1
        assert int(goal_index(goal + np.array([0.0, 0.99], np.float32))) == i
    assert int(goal_index(jnp.zeros(2))) == -1


def test_positions_are_clipped_to_the_box():
    for big in ([1.0, -1.0], [math.inf, -math.inf], [40.0, -40.0]):
        state = state_at([6.9, -6.9])
        env = gym_env()
        env.reset(options={"position": [6.9, -6.9]})
        for _ in range(3):
            state, obs, *_ = step(state, jnp.array(big, jnp.float32))
            g_obs, *_ = env.step(np.array(big, np.float32))
            np.testing.assert_array_equal(obs, [7.0, -7.0])
            np.testing.assert_array_equal(g_obs, [7.0, -7.0])
    np.testing.assert_array_equal(state_at([9.0, -9.0]).position, [7.0, -7.0])


def test_episodes_truncate_after_30_steps():
    # Zero actions at the origin: never a goal, r = -25 each step, truncated only on step 30.
    state = state_at([0.0, 0.0])
    env = gymnasium.make(MULTIGOAL_ID)  # through make: no second horizon from a TimeLimit
    env.reset(seed=0, options={"position": [0.0, 0.0]})
    for t in range(1, 31):
        state, _, r, term, trunc, _ = jit_step(state, jnp.zeros(2), params=DEFAULT)
        _, g_r, g_term, g_trunc, _ = env.step(np.zeros(2, np.float32))
        assert (bool(term), bool(trunc)) == (g_term, g_trunc) == (False, t == 30)
        assert float(r) == g_r == -25.0
    env.close()


def test_goal_on_the_last_step_is_both_terminated_and_truncated():
    # As gymnasium's TimeLimit would report it; the learner bootstraps on `terminated` only.
    # From (3.5, 0): 29 zero steps, then (1, 0) lands on (4.5, 0), inside goal 0.
    rows = run_jax((3.5, 0.0), [(0.0, 0.0)] * 29 + [(1.0, 0.0)], DEFAULT)
    assert rows[-1][2:] == (True, True, 0) and not any(row[2] or row[3] for row in rows[:-1])


# --------------------------------------------------------------------------- JAX transformations


def test_jit_and_vmap_agree_with_eager():
    key_s, key_a = jax.random.split(jax.random.key(0))
    positions = jax.random.uniform(key_s, (16, 2), minval=-7.0, maxval=7.0)
    actions = jax.random.uniform(key_a, (16, 2), minval=-2.0, maxval=2.0)
    positions = positions.at[0].set(jnp.array([4.0, 0.0]))  # one goal-reaching row
    actions = actions.at[0].set(jnp.array([0.5, 0.0]))
    states = jax.vmap(state_at)(positions)
    batched = jax.jit(jax.vmap(step))(states, actions)
    for i in range(16):
        eager = step(state_at(positions[i]), actions[i])
        one = jit_step(state_at(positions[i]), actions[i], params=DEFAULT)
        for out in (eager, one):
            got = jax.tree.map(lambda x: x[i], batched)
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), got, out)
    assert bool(batched[3][0]) and int(batched[5]["goal"][0]) == 0


def test_step_autoreset():
    # Reaching goal 0: the returned state is a fresh episode, next_obs the true s'.
    key = jax.random.key(3)
    state, next_obs, r, term, trunc, info = jit_step_autoreset(state_at([4.0, 0.0]), jnp.array([1.0, 0.0]), key, params=DEFAULT)
    np.testing.assert_array_equal(next_obs, [5.0, 0.0])
    fresh, _ = reset(key)  # eager: XLA may round the sampler's last bit differently
    np.testing.assert_allclose(state.position, fresh.position, rtol=1e-6)
    assert int(state.t) == 0 and bool(term) and not bool(trunc) and int(info["goal"]) == 0
    # No goal: the episode continues from s'.
    state, next_obs, *_ = jit_step_autoreset(state_at([0.0, 0.0]), jnp.array([0.5, 0.0]), key, params=DEFAULT)
    np.testing.assert_array_equal(state.position, next_obs)
    assert int(state.t) == 1
    # Truncation: OTHER has 7 steps; the 7th returns a reset state, under vmap too.
    states = jax.vmap(state_at)(jnp.zeros((3, 2)))
    keys = jax.random.split(key, 3)
    batched = jax.jit(jax.vmap(lambda s, a, k: step_autoreset(s, a, k, OTHER)))
    for t in range(1, 8):
        states, _, _, term, trunc, _ = batched(states, jnp.zeros((3, 2)), keys)
        assert bool(jnp.all(trunc)) == (t == 7) and not bool(jnp.any(term))
    np.testing.assert_array_equal(states.t, [0, 0, 0])


# --------------------------------------------------------------------------- resets


def test_reset_distribution():
    n = 4000
    _, obs = jax.jit(jax.vmap(reset))(jax.random.split(jax.random.key(0), n))
    assert obs.dtype == jnp.float32 and obs.shape == (n, 2)
    # Mean within 5 standard errors (5 * 0.1 / sqrt(4000) = 0.0079); std within 5%.
    np.testing.assert_allclose(np.mean(obs, axis=0), 0.0, atol=0.008)
    np.testing.assert_allclose(np.std(obs, axis=0), 0.1, rtol=0.05)

    env = gym_env()
    env.reset(seed=0)
    g_obs = np.stack([env.reset()[0] for _ in range(n)])
    np.testing.assert_allclose(np.mean(g_obs, axis=0), 0.0, atol=0.008)
    np.testing.assert_allclose(np.std(g_obs, axis=0), 0.1, rtol=0.05)

    # Seeding: the same seed, the same start.
    np.testing.assert_array_equal(env.reset(seed=7)[0], env.reset(seed=7)[0])


def test_params_are_validated():
    with pytest.raises(ValueError):
        MultiGoalParams(max_steps=0)
    with pytest.raises(ValueError):
        MultiGoalParams(goal_threshold=3.0)
    with pytest.raises(ValueError):
        MultiGoalEnv(render_mode="human")
