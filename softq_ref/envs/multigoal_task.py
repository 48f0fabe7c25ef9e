"""The multi-goal task of Sec. 5.1 declared as a :class:`~softq_ref.envs.task.Task`.

Its pure-JAX twin (:mod:`softq_ref.envs.multigoal`) drives the jitted loop, its gymnasium
twin (:mod:`softq_ref.envs.multigoal_gym`) the host loop; its one preset is ``multigoal``
(the original code's 2018 example, spec deviation ``dev-settings``); its 30-step horizon
is its own; and its episode statistic is the goal each episode reached (``goal_0`` ..
``goal_3``), the diagnostic of Figure 1: soft Q-learning reaches all four goals, DDPG
commits to one.  Figure 1 and the report printed after training are in
:mod:`softq_ref.figures` and :mod:`softq_ref.reports`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from softq_ref.envs import multigoal
from softq_ref.envs.task import JaxEnv, Task

MULTIGOAL_ID = "softq_ref/MultiGoal-v0"
NUM_GOALS = len(multigoal.GOALS)
STAT_NAMES = tuple(f"goal_{i}" for i in range(NUM_GOALS))


def episode_stats(info) -> jax.Array:
    """One-hot of the goal an episode ended at (all zeros when it reached none): ``int32 [4]``."""
    goal = jnp.asarray(info.get("goal", -1) if isinstance(info, dict) else -1, jnp.int32)
    return jax.nn.one_hot(goal, NUM_GOALS, dtype=jnp.int32)


def multigoal_env() -> JaxEnv:
    """The multi-goal task of Sec. 5.1 as a :class:`JaxEnv`."""
    return JaxEnv(
        name=MULTIGOAL_ID,
        reset=multigoal.reset,
        step=multigoal.step,
        step_autoreset=multigoal.step_autoreset,
        observe=multigoal.observe,
        obs_dim=2,
        action_dim=2,
        max_steps=multigoal.DEFAULT_PARAMS.max_steps,
        num_goals=NUM_GOALS,
        stat_names=STAT_NAMES,
        episode_stats=episode_stats,
        action_space="box",
    )


TASK = Task(
    env_id=MULTIGOAL_ID,
    presets=("multigoal",),
    horizon=multigoal.DEFAULT_PARAMS.max_steps,
    action_space="box",
    stat_names=STAT_NAMES,
    episode_stats=episode_stats,
    jax_env=multigoal_env,
)
