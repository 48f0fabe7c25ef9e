"""Environments of the paper's experiments (floor 1: imports nothing above it).

* :mod:`softq_ref.envs.multigoal` -- the multi-goal task of Sec. 5.1 in pure JAX,
  for ``lax.scan`` training loops (``reset``, ``step``, ``step_autoreset``).
* :mod:`softq_ref.envs.multigoal_gym` -- the same task as a NumPy
  ``gymnasium.Env``, registered as ``softq_ref/MultiGoal-v0``.
* :mod:`softq_ref.envs.task` -- the task contract (presets, horizon, action space,
  episode-statistics hook, JAX twin) and the registry of declared tasks;
  :mod:`softq_ref.envs.multigoal_task` declares the multi-goal task, ``softq_ref.envs.classic``
  CartPole-v1 and Acrobot-v1 (discrete actions; gymnax's JAX versions as their twins),
  :mod:`softq_ref.envs.mjx_locomotion` HalfCheetah-v5, Hopper-v5 and Swimmer-v5 (MJX twins,
  chosen automatically on an accelerator only).

Registration happens on import and is idempotent: importing this package again,
or after the id is already registered, neither re-registers nor warns.  The id is
registered without ``max_episode_steps`` because the environment truncates itself
after ``max_steps = 30`` steps (see :mod:`softq_ref.envs.multigoal_gym`); a
``TimeLimit`` on top would be a second, redundant horizon.
"""

import gymnasium

from softq_ref.envs.multigoal import (
    BOUND,
    DEFAULT_PARAMS,
    GOALS,
    MAX_ACTION,
    MultiGoalParams,
    MultiGoalState,
    goal_index,
    observe,
    reset,
    state_at,
    step,
    step_autoreset,
)
from softq_ref.envs.multigoal_gym import MultiGoalEnv
from softq_ref.envs import classic, exploration, locomotion, mjx_locomotion, multigoal_task
from softq_ref.envs.task import JaxEnv, Task, register_task, task_for

MULTIGOAL_ID = multigoal_task.MULTIGOAL_ID
"""The gymnasium id of :class:`MultiGoalEnv`."""


def register_envs() -> None:
    """Register ``softq_ref/MultiGoal-v0`` with gymnasium unless it already is."""
    if MULTIGOAL_ID not in gymnasium.registry:
        gymnasium.register(
            id=MULTIGOAL_ID,
            entry_point="softq_ref.envs.multigoal_gym:MultiGoalEnv",
            # No max_episode_steps: the environment truncates itself (max_steps=30).
        )


register_envs()
exploration.register()
locomotion.register()

# The declared tasks, one line each.
register_task(multigoal_task.TASK)
register_task(classic.CARTPOLE)
register_task(classic.ACROBOT)
register_task(exploration.SNAKE_TASK)
register_task(exploration.MAZE_TASK)
register_task(locomotion.ANY_SPEED_TASK)
register_task(locomotion.BACKWARD_TASK)
register_task(mjx_locomotion.HALF_CHEETAH_TASK)
register_task(mjx_locomotion.HOPPER_TASK)
register_task(mjx_locomotion.SWIMMER_TASK)

__all__ = [
    "BOUND",
    "DEFAULT_PARAMS",
    "GOALS",
    "MAX_ACTION",
    "MULTIGOAL_ID",
    "MultiGoalEnv",
    "MultiGoalParams",
    "MultiGoalState",
    "goal_index",
    "observe",
    "register_envs",
    "reset",
    "state_at",
    "step",
    "step_autoreset",
]
