"""The fully jitted training loop: environment, replay buffer and updates inside ``lax.scan``.

``make_chunk`` returns a pure function that runs ``n`` environment steps of Algorithm 1
(act with the sampler, step, store, sample a minibatch, ``train_step``) as one
``lax.scan``; ``jax.vmap`` over a leading seed axis runs many seeds as one program
(purejaxrl's pattern).  The host only calls one compiled chunk after another, writing
metrics and checkpoints between chunks, so an interrupted run resumes from its last
checkpoint and ends bit-identical to an uninterrupted one.

``num_envs > 1`` steps several copies of the environment per seed (spec deviation
``dev-num-envs``): each iteration acts in all ``num_envs`` of them with the same agent,
stores their ``num_envs`` transitions, then makes ``num_envs`` updates, so the paper's
ratio of one gradient step per environment step is kept while the environment's work is
batched (brax's and purejaxrl's training loops step many environments the same way).
``num_envs = 1`` is the paper's Algorithm 1 and runs exactly the code it always ran.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from softq_ref.agent import replay
from softq_ref.agent.algorithm import Algorithm
from softq_ref.agent.replay import ReplayBuffer, Transition
from softq_ref.envs.task import JaxEnv


class LoopCarry(NamedTuple):
    """Everything a run needs to continue: the checkpoint is exactly this pytree."""

    agent: object
    buffer: ReplayBuffer
    env_state: object
    key: jax.Array  # raw uint32 key data, so the carry serialises as plain arrays
    env_steps: jax.Array
    episode_return: jax.Array  # [] with one environment, [num_envs] with several


class ChunkStats(NamedTuple):
    """What the host logs after a chunk (per seed when vmapped)."""

    metrics: dict
    episodes: jax.Array
    return_sum: jax.Array
    episode_stats: jax.Array  # int [len(env.stat_names)]: the task's counters summed over ended episodes
    first_nonfinite: jax.Array


def buffer_capacity(config) -> int:
    """The replay capacity actually allocated: the configured one, or the run length if smaller."""
    return int(min(config.replay_capacity, config.total_steps))


def check_num_envs(algo: Algorithm, config, num_envs: int, chunk_steps: int | None = None) -> None:
    """``ValueError`` (one line, naming what is wrong) unless ``num_envs`` fits the run.

    Several environments per seed need: a positive int; an off-policy algorithm (an
    on-policy one's rollout is one environment's trajectory in time order); a run length
    and a chunk length that are whole numbers of iterations (``num_envs`` environment steps
    each); and a replay buffer that holds one iteration's transitions.
    """
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    if num_envs == 1:
        return
    if algo.on_policy:
        raise ValueError(f"{algo.name} is on-policy: its rollout is one environment's trajectory, so num_envs must be 1")
    if config.total_steps % num_envs:
        raise ValueError(f"total_steps ({config.total_steps}) must be a multiple of num_envs ({num_envs})")
    if chunk_steps is not None and chunk_steps % num_envs:
        raise ValueError(f"chunk_steps ({chunk_steps}) must be a multiple of num_envs ({num_envs})")
    if buffer_capacity(config) < num_envs:
        raise ValueError(f"the replay buffer ({buffer_capacity(config)} transitions) must hold at least num_envs ({num_envs})")


def init_carry(algo: Algorithm, config, env: JaxEnv, key: jax.Array, num_envs: int = 1) -> LoopCarry:
    """A fresh run from one raw PRNG key (``jax.random.PRNGKey(seed)``), stepping ``num_envs`` environments."""
    k_agent, k_env, k_loop = jax.random.split(key, 3)
    if num_envs == 1:
        env_state, _ = env.reset(k_env)
    else:
        env_state, _ = jax.vmap(env.reset)(jax.random.split(k_env, num_envs))
    return LoopCarry(
        agent=algo.init(config, env.obs_dim, env.action_dim, k_agent),
        buffer=replay.init(buffer_capacity(config), env.obs_dim, algo.buffer_action_dim(env.action_dim)),
        env_state=env_state,
        key=k_loop,
        env_steps=jnp.zeros((), jnp.int32),
        episode_return=jnp.zeros(() if num_envs == 1 else (num_envs,), jnp.float32),
    )


def make_chunk(algo: Algorithm, config, env: JaxEnv, num_steps: int, learn: bool, num_envs: int = 1):
    """A pure ``chunk(carry) -> (carry, ChunkStats)`` running ``num_steps`` environment steps.

    With ``learn=False`` it only collects experience (the warm-up until the buffer holds
    ``min_replay_size`` transitions); with ``learn=True`` every step is followed by one
    ``train_step`` on a minibatch sampled from the buffer.  With ``num_envs > 1`` the chunk is
    ``num_steps / num_envs`` iterations of ``num_envs`` environment steps and as many updates
    (:func:`check_num_envs`); the statistics count environment steps either way.
    """
    check_num_envs(algo, config, num_envs, num_steps)
    num_stats = len(env.stat_names)

    def stats_of(info):
        if env.episode_stats is None or not num_stats:
            return jnp.zeros((num_stats,), jnp.int32)
        return jnp.asarray(env.episode_stats(info), jnp.int32)

    def advance(carry, key, agent, buffer, env_state, reward, terminated, truncated, stats, metrics, updated, steps):
        # The bookkeeping after a step (one environment, or num_envs at once): episode returns and
        # counters, the new carry, and the step's outputs.
        ended = jnp.logical_or(terminated, truncated)
        episode_return = carry.episode_return + reward
        episode_stats = jnp.where(ended[..., None], stats, 0)
        out = (metrics, updated, ended, jnp.where(ended, episode_return, 0.0), episode_stats)
        new = LoopCarry(
            agent=agent,
            buffer=buffer,
            env_state=env_state,
            key=key,
            env_steps=carry.env_steps + steps,
            episode_return=jnp.where(ended, 0.0, episode_return),
        )
        return new, out

    def one_step(carry: LoopCarry, _):
        key, k_act, k_env, k_batch, k_train = jax.random.split(carry.key, 5)
        obs = env.observe(carry.env_state)
        action = algo.explore(carry.agent, obs, k_act)
        env_state, next_obs, reward, terminated, truncated, info = env.step_autoreset(carry.env_state, action, k_env)
        buffer = replay.add(
            carry.buffer,
            Transition(obs=obs, action=action, reward=reward, next_obs=next_obs, done=terminated.astype(jnp.float32)),
        )
        agent = carry.agent
        if learn:
            agent, metrics, updated = update(algo, config, agent, buffer, k_batch, k_train)
        else:
            metrics, updated = {}, jnp.bool_(False)
        return advance(carry, key, agent, buffer, env_state, reward, terminated, truncated, stats_of(info), metrics,
                       updated, 1)

    def batched_step(carry: LoopCarry, _):
        # One iteration of dev-num-envs: act and step in every environment, store, then update num_envs times.
        key, k_act, k_env, k_batch, k_train = jax.random.split(carry.key, 5)
        obs = jax.vmap(env.observe)(carry.env_state)
        action = jax.vmap(lambda o, k: algo.explore(carry.agent, o, k))(obs, jax.random.split(k_act, num_envs))
        env_state, next_obs, reward, terminated, truncated, info = jax.vmap(env.step_autoreset)(
            carry.env_state, action, jax.random.split(k_env, num_envs))
        buffer = replay.add_batch(
            carry.buffer,
            Transition(obs=obs, action=action, reward=reward, next_obs=next_obs, done=terminated.astype(jnp.float32)),
        )
        agent = carry.agent
        if learn:
            def one_update(agent, keys):
                agent, metrics, updated = update(algo, config, agent, buffer, *keys)
                return agent, (metrics, updated)

            keys = (jax.random.split(k_batch, num_envs), jax.random.split(k_train, num_envs))
            agent, (metrics, updated) = jax.lax.scan(one_update, agent, keys)
        else:
            metrics, updated = {}, jnp.zeros((num_envs,), bool)
        stats = jax.vmap(stats_of, axis_size=num_envs)(info)
        return advance(carry, key, agent, buffer, env_state, reward, terminated, truncated, stats, metrics, updated,
                       num_envs)

    def run_steps(carry: LoopCarry):
        if num_envs == 1:
            return jax.lax.scan(one_step, carry, None, length=num_steps)
        carry, outs = jax.lax.scan(batched_step, carry, None, length=num_steps // num_envs)
        # [iterations, num_envs, ...] -> [num_steps, ...]: one row per environment step (and per update).
        return carry, jax.tree.map(lambda x: x.reshape((num_steps,) + x.shape[2:]), outs)

    def chunk(carry: LoopCarry):
        carry, (metrics, updated, ended, returns, episode_stats) = run_steps(carry)
        if learn:
            # A step is bad when its Q loss (or, for an algorithm without one, any metric) is not finite.
            bad = jnp.zeros((num_steps,), bool)
            for name in divergence_metrics(metrics):
                bad = bad | (updated & ~jnp.isfinite(metrics[name]))
            first_bad = jnp.where(jnp.any(bad), jnp.argmax(bad), -1).astype(jnp.int32)
            # The mean over the steps that updated (every step, except for an on-policy algorithm;
            # NaN for a chunk in which an on-policy algorithm never updated).
            if algo.on_policy:
                count = jnp.sum(updated)
                means = {k: jnp.sum(jnp.where(updated, v, 0.0)) / count for k, v in metrics.items()}
            else:
                means = {k: jnp.mean(v) for k, v in metrics.items()}
        else:
            first_bad = jnp.int32(-1)
            means = {}
        stats = ChunkStats(
            metrics=means,
            episodes=jnp.sum(ended).astype(jnp.int32),
            return_sum=jnp.sum(returns),
            episode_stats=jnp.sum(episode_stats, axis=0),
            first_nonfinite=first_bad,
        )
        return carry, stats

    return chunk


def update(algo: Algorithm, config, agent, buffer: ReplayBuffer, k_batch: jax.Array, k_train: jax.Array):
    """One learning step after a transition was stored: ``(agent, metrics, updated)``.

    A replay algorithm updates on every step, on a uniform minibatch of ``config.batch_size``.
    An on-policy one (``algo.on_policy``) updates only when the buffer has just been filled
    anew (``position == 0``), on its whole content in time order, the latest rollout; on the
    other steps the agent is unchanged, its metrics are zeros and ``updated`` is false.
    """
    if not algo.on_policy:
        batch = replay.sample(buffer, k_batch, config.batch_size)
        agent, metrics = algo.train_step(agent, batch, k_train)
        return agent, metrics, jnp.bool_(True)
    rollout = replay.in_time_order(buffer)

    arrays, static = eqx.partition(agent, eqx.is_array)  # lax.cond takes arrays only

    def train(arrays):
        new, metrics = algo.train_step(eqx.combine(arrays, static), rollout, k_train)
        return eqx.filter(new, eqx.is_array), metrics

    def skip(arrays):
        shapes = jax.eval_shape(train, arrays)[1]
        return arrays, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)

    now = buffer.position == 0
    arrays, metrics = jax.lax.cond(now, train, skip, arrays)
    return eqx.combine(arrays, static), metrics, now


def divergence_metrics(metrics) -> list[str]:
    """The metrics whose non-finite value stops a run: ``q_loss`` when reported, else all of them."""
    return ["q_loss"] if "q_loss" in metrics else sorted(metrics)


def whole_iterations(steps: int, num_envs: int) -> int:
    """``steps`` rounded up to a multiple of ``num_envs`` (whole iterations of ``num_envs`` environment steps)."""
    return -(-steps // num_envs) * num_envs


def schedule(config, chunk_steps: int, num_envs: int = 1) -> list[tuple[int, bool]]:
    """The chunk lengths of a run: the warm-up, then learning chunks of ``chunk_steps`` (last one shorter).

    With ``num_envs > 1`` the warm-up is rounded up to whole iterations (``num_envs`` steps each).
    """
    warmup = min(whole_iterations(config.min_replay_size, num_envs), config.total_steps)
    out = [(warmup, False)] if warmup else []
    remaining = config.total_steps - warmup
    while remaining > 0:
        n = min(chunk_steps, remaining)
        out.append((n, True))
        remaining -= n
    return out
