"""The exploration and pretraining tasks of Sec. 5.2-5.3: rewards and termination by hand.

Each wrapper's reward is recomputed from the simulator's own numbers with the formula of its
spec deviation (``dev-swimmer-snake``, ``dev-two-route-maze``, ``dev-pretraining-tasks``), and
each check is run once against a deliberately broken reward to show it can fail.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("mujoco")

import softq_ref.envs  # noqa: E402,F401  (registers the ids)
from softq_ref.envs import exploration, locomotion  # noqa: E402


def _check_snake_reward(reward) -> None:
    # Before the line (x = 0.5): speed 0.3 either way, minus the control cost 0.01: 0.3 - 0.01 = 0.29.
    assert reward(0.5, 0.3, -0.01) == pytest.approx(0.29)
    assert reward(0.5, -0.3, -0.01) == pytest.approx(0.29)
    # Beyond the line (x = 1.5 >= 1): twice the speed: 2 * 0.3 - 0.01 = 0.59, either way.
    assert reward(1.5, 0.3, -0.01) == pytest.approx(0.59)
    assert reward(1.5, -0.3, -0.01) == pytest.approx(0.59)


def test_snake_reward_by_hand():
    _check_snake_reward(exploration.snake_reward)


def test_snake_reward_check_catches_broken_direction():
    """Must-fail twin: Swimmer's own forward reward (signed velocity, no line) fails the check."""
    with pytest.raises(AssertionError):
        _check_snake_reward(lambda x, v, c: v + c)


def _set_swimmer(env, x):
    base = env.unwrapped
    qpos = base.init_qpos.copy()
    qpos[0] = x
    base.set_state(qpos, base.init_qvel.copy())


def test_swimmer_snake_steps_reward_and_crossing():
    env = gym.make(exploration.SNAKE_ID)
    try:
        obs, _ = env.reset(seed=0)
        assert obs.shape == (10,)  # Swimmer-v5's 8 plus the root's x and y
        assert env.spec.max_episode_steps == 1000
        action = np.array([0.5, -0.5], np.float32)
        _, r, terminated, truncated, info = env.step(action)
        assert info["crossed"] == 0 and not terminated and not truncated
        # Hand calculation from the simulator's numbers: factor 1 before the line.
        assert r == pytest.approx(abs(info["x_velocity"]) + info["reward_ctrl"])
        assert info["reward_ctrl"] == pytest.approx(-1e-4 * float(action @ action))
        _set_swimmer(env, 1.2)
        _, r, _, _, info = env.step(action)
        assert info["x_position"] >= 1.0 and info["crossed"] == 1
        assert r == pytest.approx(2.0 * abs(info["x_velocity"]) + info["reward_ctrl"])
        _set_swimmer(env, 0.0)  # back behind the line: the episode has crossed, the factor is 1 again
        _, r, _, _, info = env.step(action)
        assert info["crossed"] == 1
        assert r == pytest.approx(abs(info["x_velocity"]) + info["reward_ctrl"])
        obs, _ = env.reset(seed=1)
        _, _, _, _, info = env.step(action)
        assert info["crossed"] == 0  # a new episode starts uncrossed
    finally:
        env.close()


def test_snake_episode_counter():
    task = exploration.SNAKE_TASK
    assert task.stat_names == ("crossed",)
    assert task.episode_stats({"crossed": 1}).tolist() == [1]
    assert task.episode_stats({}).tolist() == [0]


def test_two_route_maze_reward_and_termination():
    pytest.importorskip("gymnasium_robotics")
    env = gym.make(exploration.MAZE_ID)
    try:
        obs, _ = env.reset(seed=0)
        assert obs.shape == (4,) and env.spec.max_episode_steps == 500
        base = env.unwrapped
        goal = np.asarray(base.goal)
        obs, r, terminated, _, info = env.step(np.zeros(2, np.float32))
        # Dense reward: exp(-distance to the goal) at the new position.
        assert r == pytest.approx(math.exp(-np.linalg.norm(obs[:2] - goal)), rel=1e-6)
        assert info["success"] == 0 and not terminated
        # The start lies in the bottom corridor, the goal in the top-right cell, the wall between.
        assert obs[1] < goal[1] - 2.0
        base.point_env.set_state(goal.copy(), np.zeros(2))
        obs, r, terminated, _, info = env.step(np.zeros(2, np.float32))
        assert info["success"] == 1 and terminated
        assert r == pytest.approx(math.exp(-np.linalg.norm(obs[:2] - goal)), rel=1e-6)
        assert exploration.MAZE_TASK.episode_stats(info).tolist() == [1]
    finally:
        env.close()


def test_center_of_mass_moves_with_the_root():
    import mujoco

    env = gym.make(locomotion.ANY_SPEED_ID)
    try:
        env.reset(seed=0)
        base = env.unwrapped
        scratch = mujoco.MjData(base.model)
        q = base.data.qpos.copy()
        moved = q.copy()
        moved[0] += 0.37  # the root's x slider: the whole body, so its centre of mass, moves by 0.37
        assert locomotion.com_x(base.model, scratch, moved) - locomotion.com_x(base.model, scratch, q) == pytest.approx(0.37)
        # The centre of mass is the mass-weighted mean of the bodies' centres (a second, independent formula).
        data = mujoco.MjData(base.model)
        data.qpos[:] = q
        mujoco.mj_forward(base.model, data)
        mass = base.model.body_mass
        expected = float(np.sum(mass * data.xipos[:, 0]) / np.sum(mass))
        assert locomotion.com_x(base.model, scratch, q) == pytest.approx(expected)
    finally:
        env.close()


def _check_any_speed(env_id, reward_fn=None) -> None:
    import mujoco

    env = gym.make(env_id)
    try:
        env.reset(seed=0)
        base = env.unwrapped
        scratch = mujoco.MjData(base.model)
        rng = np.random.default_rng(0)
        for _ in range(20):
            before = locomotion.com_x(base.model, scratch, base.data.qpos)
            _, r, terminated, _, info = env.step(rng.uniform(-1, 1, 6).astype(np.float32))
            after = locomotion.com_x(base.model, scratch, base.data.qpos)
            r = r if reward_fn is None else reward_fn(before, after, base.dt)
            assert r == pytest.approx(abs(after - before) / base.dt)
            assert not terminated
    finally:
        env.close()


def test_any_speed_reward_is_the_center_of_mass_speed():
    _check_any_speed(locomotion.ANY_SPEED_ID)


def test_any_speed_check_catches_a_directed_reward():
    """Must-fail twin: the signed (forward-only) speed fails as soon as the body moves backwards."""
    with pytest.raises(AssertionError):
        _check_any_speed(locomotion.ANY_SPEED_ID, reward_fn=lambda b, a, dt: (a - b) / dt)


def test_backward_cheetah_reward():
    env = gym.make(locomotion.BACKWARD_ID)
    try:
        env.reset(seed=0)
        action = np.full(6, 0.5, np.float32)
        _, r, terminated, _, info = env.step(action)
        # Reward: minus the forward velocity, minus 0.1 |a|^2 (HalfCheetah-v5's control cost).
        assert r == pytest.approx(-info["x_velocity"] - 0.1 * float(action @ action), rel=1e-5)
        assert not terminated and env.spec.max_episode_steps == 1000
        assert env.observation_space.shape == gym.make(locomotion.ANY_SPEED_ID).observation_space.shape == (17,)
    finally:
        env.close()
