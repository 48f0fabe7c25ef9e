"""Transition-exact loop tests: what the jitted loop and the gymnasium host loop store in the replay buffer.

A scripted environment whose episodes end at known steps:

* episode ``e`` with ``e % 3 == 0`` terminates at its 3rd step;
* ``e % 3 == 1`` never terminates and is truncated by the time limit at its 4th step;
* ``e % 3 == 2`` terminates at its 4th step, the same step the time limit truncates it
  (``terminated`` wins: ``done = 1``).

The observation is ``[e, t, last action seen by the environment]`` and the reward ``100 e + t'``,
so every stored field is predictable exactly: ``obs``, ``reward``, ``next_obs`` (the true successor,
never the reset observation), ``done`` (``terminated`` only, never ``truncated``), the first
observation of each episode (``[e + 1, 0, 0]``), the episode counters, and that the action stored
is the one the environment was given (in the agent's [-1, 1] units; the gymnasium env's box is
[-2, 2], so it sees ``2 a``).  The JAX version autoresets (``step_autoreset``); the host loop resets
by hand, as gymnasium 1.x asks of a single environment (its vector environments' autoreset is
checked in ``test_gymnasium_vector_autoreset_is_not_a_transition``).

All calls into ``softq_ref.train`` sit in the adapters below: a redesign of the loops changes only them.
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

MAX_STEPS = 4
TERMINATE_AT = (3, 10**6, 4)  # by e % 3
GYM_ID = "softq_ref_test/Scripted-v0"


# ----------------------------------------------------------------------------------- adapters
def _config(steps):
    from softq_ref.agent import SQLConfig

    return SQLConfig(hidden_sizes=(4,), batch_size=2, num_fixed_particles=2, num_updated_particles=2,
                     value_samples=2, replay_capacity=steps, total_steps=steps, min_replay_size=steps,
                     max_path_length=MAX_STEPS)


def _rows(buffer):
    n = int(buffer.size)
    return {k: np.asarray(getattr(buffer.data, k))[:n] for k in ("obs", "action", "reward", "next_obs", "done")}


def run_jax_loop(env, steps: int):
    """``steps`` environment steps of the jitted loop (collection only): ``(buffer rows, episodes ended)``."""
    from softq_ref.agent import SQL
    from softq_ref.train import jax_loop

    config = _config(steps)
    carry = jax_loop.init_carry(SQL, config, env, jax.random.PRNGKey(0))
    carry, stats = jax.jit(jax_loop.make_chunk(SQL, config, env, steps, learn=False))(carry)
    return _rows(carry.buffer), int(stats.episodes)


def run_gym_loop(env_id: str, steps: int, out_dir):
    """``steps`` environment steps of the gymnasium host loop (collection only): ``(buffer rows, episodes)``."""
    from softq_ref.train.gym_loop import train_gym

    result = train_gym(_config(steps), env_id=env_id, seed=0, out_dir=out_dir, progress=False)
    return _rows(result.carry.buffer), int(result.carry.episodes)


# ---------------------------------------------------------------------------- the environments
class ScriptState(NamedTuple):
    episode: jax.Array
    t: jax.Array
    last_action: jax.Array


def _obs(state):
    return jnp.concatenate([jnp.stack([state.episode, state.t]).astype(jnp.float32), state.last_action])


def _reset(key):
    del key
    state = ScriptState(jnp.int32(0), jnp.int32(0), jnp.zeros(1, jnp.float32))
    return state, _obs(state)


def _step(state, action):
    t1 = state.t + 1
    nxt = ScriptState(state.episode, t1, jnp.asarray(action, jnp.float32).reshape(1))
    terminated = t1 == jnp.asarray(TERMINATE_AT)[state.episode % 3]
    truncated = t1 >= MAX_STEPS
    reward = (100 * state.episode + t1).astype(jnp.float32)
    return nxt, _obs(nxt), reward, terminated, truncated, {}


def scripted_jax_env(next_obs_is_reset_obs: bool = False):
    """The scripted task as a JaxEnv; the flag plants the classic bug (the reset observation stored as s')."""
    from softq_ref.envs.jax_env import JaxEnv

    def step_autoreset(state, action, key):
        nxt, next_obs, reward, terminated, truncated, info = _step(state, action)
        ended = terminated | truncated
        fresh = ScriptState(state.episode + 1, jnp.int32(0), jnp.zeros(1, jnp.float32))
        to_act = jax.tree.map(lambda a, b: jnp.where(ended, a, b), fresh, nxt)
        if next_obs_is_reset_obs:
            next_obs = _obs(to_act)
        return to_act, next_obs, reward, terminated, truncated, info

    return JaxEnv(name="scripted", reset=_reset, step=lambda s, a, k=None: _step(s, a), step_autoreset=step_autoreset,
                  observe=_obs, obs_dim=3, action_dim=1, max_steps=MAX_STEPS)


class ScriptedGymEnv(gym.Env):
    """The same script for gymnasium; the time limit comes from ``gym.make(max_episode_steps=4)``."""

    metadata = {"render_modes": []}

    def __init__(self):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
        self.episode = -1
        self.t = 0

    def _obs(self, last):
        return np.array([self.episode, self.t, last], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode += 1
        self.t = 0
        return self._obs(0.0), {}

    def step(self, action):
        self.t += 1
        terminated = self.t == TERMINATE_AT[self.episode % 3]
        return self._obs(float(np.asarray(action).reshape(-1)[0])), float(100 * self.episode + self.t), terminated, False, {}


if GYM_ID not in gym.registry:
    gym.register(id=GYM_ID, entry_point=ScriptedGymEnv)


# ------------------------------------------------------------------------------ the expectation
def expected_rows(steps: int):
    """The buffer an exact loop must hold after ``steps`` steps (without the action columns)."""
    rows = {"obs": [], "reward": [], "next_obs": [], "done": []}
    e, t = 0, 0
    ended_episodes = 0
    for _ in range(steps):
        t1 = t + 1
        terminated = t1 == TERMINATE_AT[e % 3]
        truncated = t1 >= MAX_STEPS
        rows["obs"].append([e, t])
        rows["next_obs"].append([e, t1])
        rows["reward"].append(100 * e + t1)
        rows["done"].append(float(terminated))
        if terminated or truncated:
            e, t = e + 1, 0
            ended_episodes += 1
        else:
            t = t1
    return {k: np.asarray(v, np.float32) for k, v in rows.items()}, ended_episodes


def check_buffer(rows, episodes, steps, action_scale=1.0):
    """Every field of every stored transition, exactly; raises AssertionError on the first difference."""
    want, want_episodes = expected_rows(steps)
    assert rows["obs"].shape == (steps, 3) and rows["action"].shape == (steps, 1)
    np.testing.assert_array_equal(rows["obs"][:, :2], want["obs"], err_msg="obs")
    np.testing.assert_array_equal(rows["next_obs"][:, :2], want["next_obs"], err_msg="next_obs (the true successor)")
    np.testing.assert_array_equal(rows["reward"], want["reward"], err_msg="reward")
    np.testing.assert_array_equal(rows["done"], want["done"], err_msg="done (terminated only)")
    # The action stored is the one the environment was given (in the agent's units) ...
    np.testing.assert_array_equal(rows["next_obs"][:, 2], action_scale * rows["action"][:, 0], err_msg="action")
    assert np.all(np.abs(rows["action"]) <= 1.0)
    # ... and the observation carries the previous action within an episode, 0 after a reset.
    first = want["obs"][:, 1] == 0
    np.testing.assert_array_equal(rows["obs"][first, 2], 0.0, err_msg="first observation after a reset")
    np.testing.assert_array_equal(rows["obs"][~first, 2], rows["next_obs"][np.flatnonzero(~first) - 1, 2],
                                  err_msg="obs of step t is next_obs of step t - 1 within an episode")
    assert episodes == want_episodes, f"episodes {episodes} != {want_episodes}"


STEPS = 14  # e0 terminates at 3, e1 is truncated at 4, e2 terminates and is truncated at 4, e3 terminates at 3


def test_the_script_covers_every_kind_of_ending():
    want, episodes = expected_rows(STEPS)
    assert episodes == 4 and want["done"].tolist().count(1.0) == 3
    ends = [i for i in range(STEPS) if want["next_obs"][i, 1] in (3, 4) and (i + 1 == STEPS or want["obs"][i + 1, 1] == 0)]
    assert ends == [2, 6, 10, 13]


@pytest.fixture(scope="module")
def jax_rows():
    return run_jax_loop(scripted_jax_env(), STEPS)


def test_jax_loop_stores_every_transition_exactly(jax_rows):
    rows, episodes = jax_rows
    check_buffer(rows, episodes, STEPS)


def test_gym_loop_stores_every_transition_exactly(tmp_path):
    rows, episodes = run_gym_loop(GYM_ID, STEPS, tmp_path / "run")
    check_buffer(rows, episodes, STEPS, action_scale=2.0)


# ------------------------------------------------------------------------------ must-fail twins
def test_check_catches_the_reset_observation_stored_as_next_obs():
    rows, episodes = run_jax_loop(scripted_jax_env(next_obs_is_reset_obs=True), STEPS)
    with pytest.raises(AssertionError, match="next_obs"):
        check_buffer(rows, episodes, STEPS)


def test_check_catches_truncation_stored_as_done(jax_rows):
    rows, episodes = jax_rows
    want, _ = expected_rows(STEPS)
    truncated = (want["next_obs"][:, 1] == MAX_STEPS).astype(np.float32)
    broken = dict(rows, done=np.maximum(rows["done"], truncated))  # done = terminated | truncated
    with pytest.raises(AssertionError, match="done"):
        check_buffer(broken, episodes, STEPS)


def test_check_catches_a_missing_or_extra_episode_count(jax_rows):
    rows, episodes = jax_rows
    with pytest.raises(AssertionError, match="episodes"):
        check_buffer(rows, episodes + 1, STEPS)


def test_check_catches_a_stale_action(jax_rows):
    rows, episodes = jax_rows
    broken = dict(rows, action=np.roll(rows["action"], 1, axis=0))  # the previous step's action stored
    with pytest.raises(AssertionError, match="action"):
        check_buffer(broken, episodes, STEPS)


def test_gymnasium_vector_autoreset_is_not_a_transition():
    # gymnasium 1.x vector environments autoreset on the NEXT step: the step after an episode ends
    # returns the reset observation with reward 0 and ignores the action. A loop built on them must not
    # store that step; our loops never do (the checks above), and this pins the semantics they avoid.
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(GYM_ID, max_episode_steps=MAX_STEPS)],
                                    autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
    obs, _ = envs.reset(seed=0)
    seen = []
    for _ in range(4):
        obs, reward, terminated, truncated, _ = envs.step(np.zeros((1, 1), np.float32))
        seen.append((obs[0, :2].tolist(), float(reward[0]), bool(terminated[0])))
    envs.close()
    assert seen[2] == ([0.0, 3.0], 3.0, True)  # episode 0 terminates at its 3rd step
    assert seen[3] == ([1.0, 0.0], 0.0, False)  # the autoreset step: reset obs, reward 0 -- not a transition
