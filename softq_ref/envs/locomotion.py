"""The pretraining and fine-tuning tasks of Sec. 5.3 (spec deviation ``dev-pretraining-tasks``).

The paper pretrains its quadruped "with a reward that simply equals the speed of the center
of mass" in any direction, then fine-tunes on specific tasks.  We use the half cheetah
(gymnasium's ``HalfCheetah-v5``; the quadruped's 105-dimensional observation and 300x
reward scale do not fit this 2-core machine for three algorithms x three seeds):

* ``softq_ref/HalfCheetahAnySpeed-v0`` -- pretraining: reward $|\\dot x_{\\text{com}}|$, the
  horizontal speed of the whole body's centre of mass, forwards or backwards (no control
  cost, as the paper states it).  A deterministic policy pretrained on it commits to one
  direction; a maximum-entropy one may keep both, which is what Sec. 5.3 argues helps.
* the directed tasks: ``HalfCheetah-v5`` (run forwards; its own reward) and
  ``softq_ref/HalfCheetahBackward-v0`` (run backwards: ``HalfCheetah-v5`` with
  ``forward_reward_weight = -1``, the same control cost).

All three share the observation (17-d, position excluded) and action spaces, so a pretrained
agent is carried over unchanged (``init_from`` in a campaign file).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from softq_ref.envs.task import Task

ANY_SPEED_ID = "softq_ref/HalfCheetahAnySpeed-v0"
BACKWARD_ID = "softq_ref/HalfCheetahBackward-v0"
STEPS = 1000


def com_x(model, scratch, qpos) -> float:
    """The x coordinate of the whole body's centre of mass at joint positions ``qpos``.

    Computed on ``scratch`` (an ``MjData`` of ``model`` used for nothing else) with MuJoCo's
    forward kinematics, so the simulation's own data is never touched.
    """
    import mujoco

    scratch.qpos[:] = qpos
    mujoco.mj_kinematics(model, scratch)
    mujoco.mj_comPos(model, scratch)
    return float(scratch.subtree_com[0][0])


def any_speed_reward(com_before: float, com_after: float, dt: float) -> float:
    """Pretraining reward: the centre of mass's horizontal speed in either direction (``dev-pretraining-tasks``).

    Example:
      >>> any_speed_reward(1.0, 0.9, 0.05)
      1.9999999999999996
    """
    return abs(com_after - com_before) / dt


class CenterOfMassSpeed(gym.Wrapper):
    """Replaces the reward with :func:`any_speed_reward`; ``info["com_x"]`` and ``info["com_speed"]`` report it."""

    def __init__(self, env: gym.Env):
        import mujoco

        super().__init__(env)
        base = env.unwrapped
        self._model = base.model
        self._scratch = mujoco.MjData(base.model)
        self._com = 0.0

    def _com_now(self) -> float:
        return com_x(self._model, self._scratch, self.env.unwrapped.data.qpos)

    def reset(self, **kwargs):
        out = self.env.reset(**kwargs)
        self._com = self._com_now()
        return out

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        after = self._com_now()
        reward = any_speed_reward(self._com, after, self.env.unwrapped.dt)
        info = dict(info, com_x=after, com_speed=reward)
        self._com = after
        return obs, reward, terminated, truncated, info


def make_any_speed(**kwargs) -> gym.Env:
    """The entry point of ``softq_ref/HalfCheetahAnySpeed-v0``."""
    from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

    return CenterOfMassSpeed(HalfCheetahEnv(**kwargs))


def make_backward(**kwargs) -> gym.Env:
    """The entry point of ``softq_ref/HalfCheetahBackward-v0`` (reward ``-v_x`` minus the control cost)."""
    from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

    return HalfCheetahEnv(forward_reward_weight=-1.0, **kwargs)


def register() -> None:
    """Register both ids with gymnasium unless they already are."""
    if ANY_SPEED_ID not in gym.registry:
        gym.register(id=ANY_SPEED_ID, entry_point="softq_ref.envs.locomotion:make_any_speed", max_episode_steps=STEPS)
    if BACKWARD_ID not in gym.registry:
        gym.register(id=BACKWARD_ID, entry_point="softq_ref.envs.locomotion:make_backward", max_episode_steps=STEPS)


ANY_SPEED_TASK = Task(env_id=ANY_SPEED_ID, presets=("mujoco",))
BACKWARD_TASK = Task(env_id=BACKWARD_ID, presets=("mujoco",))
