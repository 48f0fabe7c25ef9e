"""The interface the fully jitted training loop needs of a JAX environment."""

from __future__ import annotations

from typing import Callable, NamedTuple


class JaxEnv(NamedTuple):
    """Pure functions of a functional environment and its sizes.

    ``reset(key) -> (state, obs)``; ``step_autoreset(state, action, key) -> (state_to_act_in,
    next_obs, reward, terminated, truncated, info)`` where ``next_obs`` is the true successor
    (for the replay buffer) and ``state_to_act_in`` is already reset when the episode ended;
    ``observe(state) -> obs``.  ``info["goal"]`` (int, -1 for none) is counted when present.
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


def multigoal_env() -> JaxEnv:
    """The multi-goal task of Sec. 5.1 as a :class:`JaxEnv`."""
    from softq_ref.envs import multigoal

    return JaxEnv(
        name="softq_ref/MultiGoal-v0",
        reset=multigoal.reset,
        step=multigoal.step,
        step_autoreset=multigoal.step_autoreset,
        observe=multigoal.observe,
        obs_dim=2,
        action_dim=2,
        max_steps=multigoal.DEFAULT_PARAMS.max_steps,
        num_goals=4,
    )


#: Environments that have a pure-JAX version, by gymnasium id.
JAX_ENVS = {"softq_ref/MultiGoal-v0": multigoal_env}
