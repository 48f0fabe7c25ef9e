"""Evaluation rollouts of a trained (or fresh) agent, in JAX or in any gymnasium environment.

The paper evaluates soft Q-learning with its *stochastic* policy, actions drawn from the
sampler $a = f^\\phi(\\xi; s)$ with fresh noise $\\xi \\sim \\mathcal{N}(0, I)$ at every step
(Sec. 5 and the original code's evaluation sampler); DDPG with its deterministic actor.
Both are ``algo.act(state, obs, key)``, so the functions here take an
:class:`~softq_ref.agent.Algorithm` and its state and never look inside the agent.

* :func:`rollout_jax` -- many episodes of a :class:`~softq_ref.envs.jax_env.JaxEnv` as one
  jitted program: ``vmap`` over episodes, ``lax.scan`` over the horizon, steps after an
  episode's end masked out.
* :func:`rollout_gym` -- a plain host loop over a gymnasium environment with a ``Box`` (or ``Discrete``)
  action space, for the environments that have no JAX version (MuJoCo).
* :func:`goal_summary` -- how often each goal of the multi-goal task was reached
  (Figure 1: soft Q-learning reaches all four goals, DDPG commits to one).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.agent import Algorithm
from softq_ref.envs.jax_env import JaxEnv

__all__ = ["Rollouts", "goal_summary", "rollout_gym", "rollout_jax"]


class Rollouts(NamedTuple):
    """A batch of ``E`` evaluation episodes of at most ``T = env.max_steps`` steps.

    Attributes:
      observations: float ``[E, T + 1, obs_dim]``; ``observations[e, 0]`` is the start and
        ``observations[e, t]`` the observation after ``t`` steps.  After an episode's end
        (index ``lengths[e]``) the last observation is **repeated**, so a trajectory can be
        plotted as ``observations[e, : lengths[e] + 1]`` or in full (the tail collapses to
        its end point).
      actions: float ``[E, T, action_dim]``; zero after the end.
      rewards: float ``[E, T]``; zero after the end.
      lengths: int32 ``[E]``, steps taken (``1 <= lengths <= T``).
      returns: float ``[E]``, undiscounted, ``rewards.sum(axis=1)``.
      terminated: bool ``[E]``, the episode ended by termination (a goal reached), not
        by the horizon alone.  An episode that terminates exactly on step ``T`` is both
        terminated and of full length.
      goal: int32 ``[E]``, ``info["goal"]`` on the terminating step, -1 if the episode did
        not terminate or the environment reports no goal.
    """

    observations: jax.Array
    actions: jax.Array
    rewards: jax.Array
    lengths: jax.Array
    returns: jax.Array
    terminated: jax.Array
    goal: jax.Array


def _episode(algo: Algorithm, agent_state, env: JaxEnv, key: jax.Array, start_state) -> Rollouts:
    """One masked episode of ``env.max_steps`` steps (fields without the leading ``E`` axis)."""
    k_reset, k_steps = jax.random.split(key)
    if start_state is None:
        env_state, _ = env.reset(k_reset)
    else:
        env_state = start_state
    first_obs = env.observe(env_state)

    def body(carry, k_act):
        env_state, done, terminated_any, goal = carry
        obs = env.observe(env_state)
        action = jnp.asarray(algo.act(agent_state, obs, k_act), jnp.float32)
        next_state, _, reward, terminated, truncated, info = env.step(env_state, action)
        active = jnp.logical_not(done)
        # Past the end the state is frozen: observations repeat, rewards and actions are zero.
        env_state = jax.tree.map(lambda new, old: jnp.where(active, new, old), next_state, env_state)
        step_goal = info.get("goal", jnp.int32(-1)) if isinstance(info, dict) else jnp.int32(-1)
        ends_here = jnp.logical_and(active, terminated)
        goal = jnp.where(ends_here, jnp.asarray(step_goal, jnp.int32), goal)
        terminated_any = jnp.logical_or(terminated_any, ends_here)
        done = jnp.logical_or(done, jnp.logical_or(terminated, truncated))
        out = (
            env.observe(env_state),
            jnp.where(active, action, jnp.zeros_like(action)),
            jnp.where(active, jnp.asarray(reward, jnp.float32), jnp.float32(0.0)),
            active,
        )
        return (env_state, done, terminated_any, goal), out

    init = (env_state, jnp.bool_(False), jnp.bool_(False), jnp.int32(-1))
    keys = jax.random.split(k_steps, env.max_steps)
    (_, _, terminated, goal), (obs, actions, rewards, active) = jax.lax.scan(body, init, keys)
    observations = jnp.concatenate([first_obs[None], obs], axis=0)
    return Rollouts(
        observations=observations,
        actions=actions,
        rewards=rewards,
        lengths=jnp.sum(active).astype(jnp.int32),
        returns=jnp.sum(rewards),
        terminated=terminated,
        goal=goal,
    )


@eqx.filter_jit
def _rollouts(algo: Algorithm, agent_state, env: JaxEnv, key: jax.Array, num_episodes: int, start_state) -> Rollouts:
    keys = jax.random.split(key, num_episodes)
    return jax.vmap(lambda k: _episode(algo, agent_state, env, k, start_state))(keys)


def rollout_jax(
    algo: Algorithm,
    agent_state,
    env: JaxEnv,
    key: jax.Array,
    num_episodes: int,
    start_state=None,
) -> Rollouts:
    """Run ``num_episodes`` evaluation episodes of a JAX environment as one compiled program.

    Each episode starts from ``env.reset`` (its own key) or from ``start_state``, then takes
    ``algo.act`` actions (fresh key per step) for ``env.max_steps`` steps inside
    ``lax.scan``; once ``terminated`` or ``truncated`` is reported the episode is over and
    later steps are masked (see :class:`Rollouts` for what the masked entries hold).
    Episodes are batched with ``vmap``; the function is compiled once per
    ``(algo, env, num_episodes)`` and agent structure.

    Args:
      algo: the algorithm (its ``act`` is the evaluation policy: stochastic for soft
        Q-learning, deterministic for DDPG).
      agent_state: the algorithm's state pytree.
      env: the environment's pure functions.
      key: a PRNG key.
      num_episodes: ``E``, a Python int.
      start_state: ``None`` (sample starts from ``env.reset``) or one environment state,
        e.g. ``multigoal.state_at([0., 0.])``, shared by all episodes.

    Returns:
      A :class:`Rollouts` of arrays with leading axis ``E``.

    Example:
      >>> from softq_ref.agent import SQL, SQLConfig
      >>> from softq_ref.envs.jax_env import multigoal_env
      >>> env = multigoal_env()
      >>> agent = SQL.init(SQLConfig(hidden_sizes=(8,)), 2, 2, jax.random.key(0))
      >>> ro = rollout_jax(SQL, agent, env, jax.random.key(1), num_episodes=3)
      >>> ro.observations.shape, ro.rewards.shape
      ((3, 31, 2), (3, 30))
    """
    if not isinstance(num_episodes, (int, np.integer)) or num_episodes < 1:
        raise ValueError(f"num_episodes must be a positive int, got {num_episodes!r}")
    return _rollouts(algo, agent_state, env, key, int(num_episodes), start_state)


def rollout_gym(algo: Algorithm, agent_state, env_id: str, key: jax.Array, num_episodes: int, seed: int) -> list[dict]:
    """Run evaluation episodes of a gymnasium environment with a ``Box`` or a ``Discrete`` action space.

    A discrete agent returns its action's index (``[1]``), passed to ``env.step`` as an int.  A
    continuous agent acts in $[-1, 1]^d$ (tanh outputs); each action is mapped affinely onto the
    environment's bounds,

    $$a_{\\text{env}} = \\ell + \\tfrac{a + 1}{2} (h - \\ell),$$

    with ``low`` $\\ell$ and ``high`` $h$ of the action space (the identity for the
    multi-goal task).  Episodes run until ``terminated`` or ``truncated``; the first reset
    is seeded with ``seed`` and later resets continue the environment's generator, as
    gymnasium intends.

    Args:
      algo: the algorithm.
      agent_state: its state.
      env_id: a registered gymnasium id (``softq_ref/MultiGoal-v0`` is registered by
        importing :mod:`softq_ref.envs`).
      key: a PRNG key for the policy's noise.
      num_episodes: how many episodes.
      seed: the environment's seed.

    Returns:
      One dict per episode: ``"return"`` (float), ``"length"`` (int), ``"terminated"``
        (bool), ``"goal"`` (int, from the last step's ``info``) when the environment
        reports one, and ``"x_displacement"`` (float: the last ``info["x_position"]`` minus
        the one after reset) for the MuJoCo locomotion tasks, which report it.  A return
        that rewards speed in either direction cannot tell running from jittering in
        place; the net displacement can.

    Example:
      >>> from softq_ref.agent import DDPG, DDPGConfig
      >>> agent = DDPG.init(DDPGConfig(hidden_sizes=(8,)), 2, 2, jax.random.key(0))
      >>> eps = rollout_gym(DDPG, agent, "softq_ref/MultiGoal-v0", jax.random.key(1), 2, seed=0)
      >>> len(eps), eps[0]["length"] <= 30
      (2, True)
    """
    import gymnasium

    import softq_ref.envs  # noqa: F401  (registers softq_ref/MultiGoal-v0)

    env = gymnasium.make(env_id)
    try:
        space = env.action_space
        discrete = isinstance(space, gymnasium.spaces.Discrete)
        if not (discrete or isinstance(space, gymnasium.spaces.Box)):
            raise TypeError(f"{env_id} has action space {space}; rollout_gym needs a Box or a Discrete space")
        if not discrete:
            low = np.asarray(space.low, np.float64)
            high = np.asarray(space.high, np.float64)
            if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                raise ValueError(f"{env_id} has an unbounded action space; cannot rescale [-1, 1] onto it")
        act = eqx.filter_jit(algo.act)
        episodes = []
        for i in range(num_episodes):
            obs, info = env.reset(seed=seed if i == 0 else None)
            x_start = info.get("x_position")
            total, length, terminated, truncated = 0.0, 0, False, False
            while not (terminated or truncated):
                key, k_act = jax.random.split(key)
                a = np.asarray(act(agent_state, jnp.asarray(obs, jnp.float32), k_act), np.float64)
                if discrete:  # the index, returned as [1] (the replay buffer's layout)
                    env_action = int(np.rint(a.reshape(-1)[0]))
                else:
                    env_action = (low + (a + 1.0) / 2.0 * (high - low)).astype(space.dtype)
                obs, reward, terminated, truncated, info = env.step(env_action)
                total += float(reward)
                length += 1
            episode = {"return": total, "length": length, "terminated": bool(terminated)}
            if "goal" in info:
                episode["goal"] = int(info["goal"])
            if x_start is not None and "x_position" in info:
                episode["x_displacement"] = float(info["x_position"]) - float(x_start)
            episodes.append(episode)
        return episodes
    finally:
        env.close()


def goal_summary(goals, num_goals: int) -> dict:
    """Counts and fractions of episodes ending at each goal.

    Args:
      goals: int ``[E]`` goal indices, -1 for an episode that reached none
        (:attr:`Rollouts.goal`, or ``[ep["goal"] for ep in rollout_gym(...)]``).
      num_goals: number of goals (4 for the multi-goal task).

    Returns:
      ``{"episodes": E, "counts": [c_0, ...], "fractions": [c_0 / E, ...],
        "none": count of -1, "none_fraction": ..., "goals_reached": number of goals
        with a positive count}`` with plain Python numbers.

    Example:
      >>> goal_summary([0, 0, 3, -1], 4)["counts"]
      [2, 0, 0, 1]
    """
    goals = np.asarray(goals, dtype=np.int64).reshape(-1)
    if np.any((goals < -1) | (goals >= num_goals)):
        raise ValueError(f"goal indices must lie in [-1, {num_goals}), got {sorted(set(goals.tolist()))}")
    episodes = int(goals.size)
    counts = [int(np.sum(goals == g)) for g in range(num_goals)]
    none = int(np.sum(goals == -1))
    denom = max(episodes, 1)
    return {
        "episodes": episodes,
        "counts": counts,
        "fractions": [c / denom for c in counts],
        "none": none,
        "none_fraction": none / denom,
        "goals_reached": sum(c > 0 for c in counts),
    }
