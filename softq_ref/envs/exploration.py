"""The exploration tasks of Sec. 5.2: the swimming snake and a maze with two routes.

**The swimming snake** (``softq_ref/SwimmerSnake-v0``, spec deviation ``dev-swimmer-snake``).
The paper: the snake "receives a reward equal to its speed in either direction, and a larger
reward once it crosses a line ahead"; all soft Q-learning runs cross the line, some DDPG runs
swim the other way and never do.  The paper does not give the line or the larger reward; we
fixed them before any run: gymnasium's ``Swimmer-v5`` (with its position in the observation,
so that the reward is a function of the state), reward per step

$$r = c(x') \\, |v_x| - 10^{-4} \\lVert a \\rVert^2, \\qquad c(x') = 1 \\text{ if } x' < 1 \\text{ m}, \\; 2 \\text{ beyond},$$

with $x'$ the root's position after the step and $v_x$ its velocity (``info["x_velocity"]``),
1000 steps an episode.  Random swimming moves the root a few centimetres; crossing the line
1 m ahead takes directed forward swimming.  The episode counter ``crossed`` (1 when the root
passed the line during the episode) is written to ``metrics.csv`` by the loops.

**The two-route maze** (``softq_ref/TwoRouteMaze-v0``, spec deviation ``dev-two-route-maze``).
The paper's quadruped maze is replaced by gymnasium-robotics' point mass (a quadruped is
beyond this 2-core machine for a 5-seed x 2-algorithm study).  The maze (1 = wall, r = start,
g = goal)::

    1 1 1 1 1 1 1
    1 0 0 0 0 g 1
    1 0 1 1 1 1 1
    1 0 1 0 0 0 1
    1 0 0 r 0 0 1
    1 1 1 1 1 1 1

has two routes from the start: to the right, a pocket just below the goal, closest to it in
straight line but walled off (a dead end where the dense reward $e^{-\\lVert p - g \\rVert}$
has a local maximum); to the left, the long open passage around the wall.  The episode ends
on reaching the goal (``success``, counted as an episode statistic), else after 500 steps.
The observation is the point's position and velocity (the goal is fixed).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from softq_ref.envs.task import Task

SNAKE_ID = "softq_ref/SwimmerSnake-v0"
MAZE_ID = "softq_ref/TwoRouteMaze-v0"
#: The line ahead of the start (metres along x of the swimmer's root) and the factor beyond it.
SNAKE_LINE = 1.0
SNAKE_FACTOR = 2.0
SNAKE_STEPS = 1000
MAZE_MAP = [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 0, 0, 0, 0, "g", 1],
    [1, 0, 1, 1, 1, 1, 1],
    [1, 0, 1, 0, 0, 0, 1],
    [1, 0, 0, "r", 0, 0, 1],
    [1, 1, 1, 1, 1, 1, 1],
]
MAZE_STEPS = 500


def snake_reward(x_position: float, x_velocity: float, reward_ctrl: float,
                 line: float = SNAKE_LINE, factor: float = SNAKE_FACTOR) -> float:
    """The snake's reward: speed in either direction, ``factor`` times larger beyond ``line`` (``dev-swimmer-snake``).

    Args:
      x_position: the root's x after the step.
      x_velocity: the root's x velocity over the step (Swimmer-v5's ``info["x_velocity"]``).
      reward_ctrl: Swimmer-v5's control term (``-1e-4 |a|^2``, already negative).

    Example:
      >>> snake_reward(0.5, -0.3, -0.01), snake_reward(1.5, 0.3, -0.01)
      (0.29, 0.59)
    """
    scale = factor if x_position >= line else 1.0
    return float(scale * abs(x_velocity) + reward_ctrl)


class SwimmerSnake(gym.Wrapper):
    """Swimmer-v5 rewarded for speed in either direction, more beyond a line ahead (``dev-swimmer-snake``)."""

    def __init__(self, env: gym.Env, line: float = SNAKE_LINE, factor: float = SNAKE_FACTOR):
        super().__init__(env)
        self.line, self.factor = float(line), float(factor)
        self._crossed = False

    def reset(self, **kwargs):
        self._crossed = False
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        x = float(info["x_position"])
        self._crossed = self._crossed or x >= self.line
        reward = snake_reward(x, float(info["x_velocity"]), float(info["reward_ctrl"]), self.line, self.factor)
        info = dict(info, crossed=int(self._crossed))
        return obs, reward, terminated, truncated, info


def make_swimmer_snake(**kwargs) -> gym.Env:
    """The entry point of ``softq_ref/SwimmerSnake-v0`` (Swimmer-v5 with its position observed)."""
    from gymnasium.envs.mujoco.swimmer_v5 import SwimmerEnv

    return SwimmerSnake(SwimmerEnv(exclude_current_positions_from_observation=False, **kwargs))


class PositionObservation(gym.ObservationWrapper):
    """The point maze's dict observation reduced to ``observation`` (position and velocity, a flat Box)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = env.observation_space["observation"]

    def observation(self, observation):
        return np.asarray(observation["observation"], np.float64)


class SuccessFlag(gym.Wrapper):
    """Reports ``info["success"]`` as an int for the episode counter (gymnasium-robotics gives a bool)."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, dict(info, success=int(bool(info.get("success", False))))


def make_two_route_maze(**kwargs) -> gym.Env:
    """The entry point of ``softq_ref/TwoRouteMaze-v0`` (gymnasium-robotics' dense PointMaze on :data:`MAZE_MAP`)."""
    try:
        from gymnasium_robotics.envs.maze.point_maze import PointMazeEnv
    except ImportError:
        raise ValueError("softq_ref/TwoRouteMaze-v0 needs gymnasium-robotics (pip install 'softq_ref[experiments]')") from None
    env = PointMazeEnv(maze_map=MAZE_MAP, reward_type="dense", continuing_task=False, **kwargs)
    return SuccessFlag(PositionObservation(env))


def _counter(name: str):
    def episode_stats(info) -> np.ndarray:
        return np.array([int(info.get(name, 0)) if isinstance(info, dict) else 0], np.int64)

    episode_stats.__name__ = f"{name}_counter"
    return episode_stats


def register() -> None:
    """Register both ids with gymnasium unless they already are."""
    if SNAKE_ID not in gym.registry:
        gym.register(id=SNAKE_ID, entry_point="softq_ref.envs.exploration:make_swimmer_snake",
                     max_episode_steps=SNAKE_STEPS)
    if MAZE_ID not in gym.registry:
        gym.register(id=MAZE_ID, entry_point="softq_ref.envs.exploration:make_two_route_maze",
                     max_episode_steps=MAZE_STEPS)


SNAKE_TASK = Task(env_id=SNAKE_ID, presets=("mujoco",), stat_names=("crossed",), episode_stats=_counter("crossed"))
MAZE_TASK = Task(env_id=MAZE_ID, presets=("mujoco",), stat_names=("success",), episode_stats=_counter("success"))
