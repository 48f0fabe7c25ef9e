"""The environment contract: what the loops, the run directory and the CLI need of a task.

A :class:`Task` declares, for one gymnasium id, everything task-specific the generic code
must not hard-code: the presets that fit it (the first is its default), its own episode
length, its action-space kind, an optional pure-JAX twin (:class:`JaxEnv`) for the jitted
loop, and an **episode-statistics hook**: named integer counters that every finished
episode adds to (the multi-goal task counts the goal each episode reached).  The loops
sum the hook's output over episodes and write one ``metrics.csv`` column per name; they
never look inside it.

A gymnasium id with no declared task gets :func:`default_task`: the ``mujoco`` preset,
its own time limit, no statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple


class JaxEnv(NamedTuple):
    """Pure functions of a functional environment and its sizes (for the jitted loop).

    ``reset(key) -> (state, obs)``; ``step_autoreset(state, action, key) -> (state_to_act_in,
    next_obs, reward, terminated, truncated, info)`` where ``next_obs`` is the true successor
    (for the replay buffer) and ``state_to_act_in`` is already reset when the episode ended;
    ``observe(state) -> obs``.  ``episode_stats(info) -> int32 [len(stat_names)]`` is what one
    episode ending with ``info`` adds to the task's counters (``None``: no counters).
    """

    name: str
    reset: Callable
    step: Callable
    step_autoreset: Callable
    observe: Callable
    obs_dim: int
    action_dim: int
    max_steps: int
    num_goals: int = 0
    stat_names: tuple[str, ...] = ()
    episode_stats: Callable | None = None
    action_space: str = "box"


@dataclass(frozen=True)
class Task:
    """One task: presets, horizon, action-space kind, statistics hook, optional JAX twin.

    Attributes:
      env_id: the gymnasium id.
      presets: names of the presets that fit the task; the first is the default.
      horizon: the task's own episode length (``None``: the environment's time limit).
      action_space: ``"box"`` or ``"discrete"``.
      stat_names: names of the per-episode counters (``metrics.csv`` columns).
      episode_stats: ``episode_stats(info) -> int [len(stat_names)]`` for the ``info`` of an
        episode's last step; works on the JAX twin's dict of arrays and on gymnasium's dict.
      jax_env: a factory of the task's :class:`JaxEnv` (``None``: host loop only).
      jax_twin_on_cpu: ``False`` when the automatic loop choice should use the twin only on an
        accelerator (the MJX MuJoCo tasks: slower than C MuJoCo on a CPU for one scene; see
        :func:`softq_ref.train.launch.uses_jax_loop`).
    """

    env_id: str
    presets: tuple[str, ...] = ("mujoco",)
    horizon: int | None = None
    action_space: str = "box"
    stat_names: tuple[str, ...] = ()
    episode_stats: Callable | None = None
    jax_env: Callable[[], JaxEnv] | None = None
    jax_twin_on_cpu: bool = True


_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Declare ``task`` (idempotent for the same value)."""
    known = _TASKS.get(task.env_id)
    if known is not None and known != task:
        raise ValueError(f"a task with id {task.env_id!r} is already registered")
    if not task.presets:
        raise ValueError(f"task {task.env_id!r} declares no preset")
    _TASKS[task.env_id] = task
    return task


def default_task(env_id: str) -> Task:
    """The task of a gymnasium id nobody declared: the ``mujoco`` preset, the env's own time limit."""
    return Task(env_id=env_id)


def task_for(env_id: str) -> Task:
    """The declared task of ``env_id``, or :func:`default_task`."""
    return _TASKS.get(env_id) or default_task(env_id)


def jax_env_ids() -> tuple[str, ...]:
    """Ids of the declared tasks that have a pure-JAX twin."""
    return tuple(env_id for env_id, task in _TASKS.items() if task.jax_env is not None)
