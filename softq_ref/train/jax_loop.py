"""The fully jitted training loop: environment, replay buffer and updates inside ``lax.scan``.

``make_chunk`` returns a pure function that runs ``n`` environment steps of Algorithm 1
(act with the sampler, step, store, sample a minibatch, ``train_step``) as one
``lax.scan``; ``jax.vmap`` over a leading seed axis runs many seeds as one program
(purejaxrl's pattern).  The host only calls one compiled chunk after another, writing
metrics and checkpoints between chunks, so an interrupted run resumes from its last
checkpoint and ends bit-identical to an uninterrupted one.
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
    episode_return: jax.Array


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


def init_carry(algo: Algorithm, config, env: JaxEnv, key: jax.Array) -> LoopCarry:
    """A fresh run from one raw PRNG key (``jax.random.PRNGKey(seed)``)."""
    k_agent, k_env, k_loop = jax.random.split(key, 3)
    env_state, _ = env.reset(k_env)
    return LoopCarry(
        agent=algo.init(config, env.obs_dim, env.action_dim, k_agent),
        buffer=replay.init(buffer_capacity(config), env.obs_dim, algo.buffer_action_dim(env.action_dim)),
        env_state=env_state,
        key=k_loop,
        env_steps=jnp.zeros((), jnp.int32),
        episode_return=jnp.zeros((), jnp.float32),
    )


def make_chunk(algo: Algorithm, config, env: JaxEnv, num_steps: int, learn: bool):
    """A pure ``chunk(carry) -> (carry, ChunkStats)`` running ``num_steps`` environment steps.

    With ``learn=False`` it only collects experience (the warm-up until the buffer holds
    ``min_replay_size`` transitions); with ``learn=True`` every step is followed by one
    ``train_step`` on a minibatch sampled from the buffer.
    """
    num_stats = len(env.stat_names)

    def stats_of(info):
        if env.episode_stats is None or not num_stats:
            return jnp.zeros((num_stats,), jnp.int32)
        return jnp.asarray(env.episode_stats(info), jnp.int32)

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
        ended = jnp.logical_or(terminated, truncated)
        episode_return = carry.episode_return + reward
        episode_stats = jnp.where(ended, stats_of(info), 0)
        out = (metrics, updated, ended, jnp.where(ended, episode_return, 0.0), episode_stats)
        new = LoopCarry(
            agent=agent,
            buffer=buffer,
            env_state=env_state,
            key=key,
            env_steps=carry.env_steps + 1,
            episode_return=jnp.where(ended, 0.0, episode_return),
        )
        return new, out

    def chunk(carry: LoopCarry):
        carry, (metrics, updated, ended, returns, episode_stats) = jax.lax.scan(one_step, carry, None, length=num_steps)
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


def schedule(config, chunk_steps: int) -> list[tuple[int, bool]]:
    """The chunk lengths of a run: the warm-up, then learning chunks of ``chunk_steps`` (last one shorter)."""
    warmup = min(config.min_replay_size, config.total_steps)
    out = [(warmup, False)] if warmup else []
    remaining = config.total_steps - warmup
    while remaining > 0:
        n = min(chunk_steps, remaining)
        out.append((n, True))
        remaining -= n
    return out
