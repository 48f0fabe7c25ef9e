"""The host training loop for any gymnasium environment with a bounded Box action space.

The environment runs on the host (MuJoCo through gymnasium, say); everything else — storing
the transition, sampling a minibatch, ``train_step`` and choosing the next action — is one
compiled call per environment step, with the carry donated, so the host loop adds one
dispatch and one small transfer per step.

Actions live in ``[-1, 1]^d`` for the agent (the sampler's tanh) and are rescaled affinely to
the environment's ``[low, high]``.  gymnasium 1.x semantics: ``terminated`` (a terminal state,
no bootstrap: stored as ``done = 1``) and ``truncated`` (a time limit: stored as ``done = 0``,
the target still bootstraps); either one ends the episode.  Episode ``i`` of a run is reset
with seed ``seed * 1_000_003 + i``, and checkpoints are written at episode boundaries, so a
resumed run replays exactly the episodes an uninterrupted one would.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

import softq_ref
from softq_ref.agent import Algorithm, algorithm_for, replay
from softq_ref.agent.config import config_from_dict, config_to_dict
from softq_ref.agent.replay import ReplayBuffer, Transition
from softq_ref.io import checkpoint as ckpt
from softq_ref.train.runner import METRIC_COLUMNS, RunResult, TrainingDiverged


class HostCarry(NamedTuple):
    agent: object
    buffer: ReplayBuffer
    key: jax.Array
    env_steps: jax.Array
    episodes: jax.Array


def make_env(env_id: str, max_episode_steps: int | None = None) -> gym.Env:
    """``gymnasium.make`` with the checks this loop needs, each failing with a one-line ``ValueError``."""
    import softq_ref.envs  # noqa: F401  (registers softq_ref/MultiGoal-v0)

    try:
        kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
        env = gym.make(env_id, **kwargs)
    except gym.error.Error as err:
        raise ValueError(f"unknown or unavailable environment {env_id!r}: {err}") from None
    check_spaces(env, env_id)
    return env


def check_spaces(env: gym.Env, env_id: str) -> None:
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"{env_id} has a {type(space).__name__} action space; soft Q-learning needs a continuous Box")
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(f"{env_id} has unbounded action bounds {space.low}..{space.high}; a bounded Box is required")
    if not isinstance(env.observation_space, gym.spaces.Box) or len(env.observation_space.shape) != 1:
        raise ValueError(f"{env_id} needs a flat Box observation space, got {env.observation_space}")


def rescale_action(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map ``[-1, 1]^d`` affinely onto ``[low, high]``."""
    return (low + (np.asarray(action, np.float64) + 1.0) * 0.5 * (high - low)).astype(np.float32)


def make_host_step(algo: Algorithm, config, learn: bool):
    """``step(carry, transition, next_obs) -> (carry, action for next_obs, metrics)``, to be jitted."""

    def host_step(carry: HostCarry, transition: Transition, next_obs: jax.Array):
        key, k_batch, k_train, k_act = jax.random.split(carry.key, 4)
        buffer = replay.add(carry.buffer, transition)
        agent = carry.agent
        metrics = {}
        if learn:
            batch = replay.sample(buffer, k_batch, config.batch_size)
            agent, metrics = algo.train_step(agent, batch, k_train)
        action = algo.explore(agent, next_obs, k_act)
        carry = HostCarry(agent=agent, buffer=buffer, key=key, env_steps=carry.env_steps + 1, episodes=carry.episodes)
        return carry, action, metrics

    return host_step


def pack_step_input(obs, action, reward, next_obs, terminated, act_obs) -> np.ndarray:
    """One float32 vector ``[obs, action, reward, next_obs, done, act_obs]`` for the step after ``env.step``.

    The host loop sends it to the device as a single transfer; five separate ``jnp.asarray``
    conversions cost more than the environment step itself.  ``act_obs`` is the
    observation the next action is chosen at (``next_obs``, or the reset observation when
    the episode ended).
    """
    return np.concatenate([
        np.asarray(obs, np.float32).ravel(), np.asarray(action, np.float32).ravel(),
        np.asarray([reward], np.float32), np.asarray(next_obs, np.float32).ravel(),
        np.asarray([terminated], np.float32), np.asarray(act_obs, np.float32).ravel(),
    ])


def unpack_step_input(packed: jax.Array, obs_dim: int, action_dim: int) -> tuple[Transition, jax.Array]:
    """The inverse of :func:`pack_step_input`, inside ``jit``: ``(transition, act_obs)``."""
    o, d = obs_dim, action_dim
    transition = Transition(
        obs=packed[:o], action=packed[o:o + d], reward=packed[o + d],
        next_obs=packed[o + d + 1:2 * o + d + 1], done=packed[2 * o + d + 1],
    )
    return transition, packed[2 * o + d + 2:]


def make_flat_host_step(algo: Algorithm, config, learn: bool, treedef, obs_dim: int, action_dim: int):
    """:func:`make_host_step` on the carry's leaves and a packed input: ``(leaves, packed) -> (leaves, action, metrics)``.

    The same computation; only the calling convention differs.  A flat list of arrays is
    the cheapest argument for ``jit`` to take apart and donate on every call (an Equinox
    state is flattened in Python on each call), which matters when there is one call per
    environment step.
    """
    host_step = make_host_step(algo, config, learn)

    def flat_step(leaves, packed):
        transition, act_obs = unpack_step_input(packed, obs_dim, action_dim)
        carry, action, metrics = host_step(jax.tree.unflatten(treedef, leaves), transition, act_obs)
        return jax.tree.leaves(carry), action, metrics

    return flat_step


def _init_carry(algo, config, obs_dim, action_dim, seed):
    k_agent, k_loop = jax.random.split(jax.random.PRNGKey(seed))
    carry = HostCarry(
        agent=algo.init(config, obs_dim, action_dim, k_agent),
        buffer=replay.init(int(min(config.replay_capacity, config.total_steps)), obs_dim, action_dim),
        key=k_loop,
        env_steps=jnp.zeros((), jnp.int32),
        episodes=jnp.zeros((), jnp.int32),
    )
    return jax.tree.map(lambda x: jnp.array(x, copy=True), carry)


def train_gym(
    config,
    *,
    env_id: str,
    seed: int = 0,
    out_dir: str | Path,
    resume: bool = False,
    log_every: int = 1000,
    checkpoint_every: int = 10_000,
    progress: bool = True,
) -> RunResult:
    """Train on a gymnasium environment on the host; see the module docstring."""
    out_dir = Path(out_dir)
    if resume:
        meta = ckpt.read_json(out_dir / ckpt.CONFIG)
        config = config_from_dict(meta["config"])
        env_id, seed, log_every = meta["env_id"], meta["seeds"][0], meta["log_every"]
    algo = algorithm_for(config)
    env = make_env(env_id, config.max_path_length)
    obs_dim = env.observation_space.shape[0]
    action_dim = env.action_space.shape[0]
    low = env.action_space.low.astype(np.float64)
    high = env.action_space.high.astype(np.float64)
    carry = _init_carry(algo, config, obs_dim, action_dim, seed)
    if resume:
        carry = ckpt.load(out_dir / ckpt.CHECKPOINT, carry)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        meta = {
            "algo": algo.name, "config": config_to_dict(config), "env_id": env_id, "seeds": [int(seed)],
            "loop": "gym", "log_every": log_every, "softq_ref_version": softq_ref.__version__,
            "jax_version": jax.__version__,
        }
        ckpt.write_json_atomic(out_dir / ckpt.CONFIG, meta)

    columns = ["step", "seed", "episodes", "mean_return", *METRIC_COLUMNS, "wall_time"]
    env_steps = int(carry.env_steps)
    writer = ckpt.MetricsWriter(out_dir / ckpt.METRICS, columns, resume_step=env_steps if resume else None)
    leaves, treedef = jax.tree.flatten(carry)
    steps = {
        learn: jax.jit(make_flat_host_step(algo, config, learn, treedef, obs_dim, action_dim), donate_argnums=0)
        for learn in (False, True)
    }
    first_action = jax.jit(lambda agent, obs, key: algo.explore(agent, obs, key))

    episode = int(carry.episodes)
    obs, _ = env.reset(seed=int(seed) * 1_000_003 + episode)
    action = first_action(carry.agent, jnp.asarray(obs, jnp.float32), jax.random.fold_in(carry.key, episode))
    pending_metrics, returns, episode_return = [], [], 0.0
    last_checkpoint = env_steps
    start = time.time()
    bar = tqdm(total=config.total_steps, initial=env_steps, unit="step", disable=not progress, desc=f"{algo.name} {env_id}")
    while env_steps < config.total_steps:
        a = np.asarray(action)
        next_obs, reward, terminated, truncated, _ = env.step(rescale_action(a, low, high))
        episode_return += float(reward)
        ended = terminated or truncated
        if ended:
            episode += 1
            returns.append(episode_return)
            episode_return = 0.0
            act_obs, _ = env.reset(seed=int(seed) * 1_000_003 + episode)
        else:
            act_obs = next_obs
        learn = env_steps >= config.min_replay_size
        packed = pack_step_input(obs, a, reward, next_obs, terminated, act_obs)
        leaves, action, metrics = steps[learn](leaves, packed)
        obs = act_obs
        if ended:
            # A new episode's first action is drawn from (key, episode index) as on a resume,
            # so that a run resumed from an episode-boundary checkpoint acts identically.
            now = jax.tree.unflatten(treedef, leaves)
            action = first_action(now.agent, jnp.asarray(act_obs, jnp.float32), jax.random.fold_in(now.key, episode))
        env_steps += 1
        if learn:
            pending_metrics.append(metrics)
        if env_steps % log_every == 0 or env_steps == config.total_steps or (
            ended and env_steps - last_checkpoint >= checkpoint_every
        ):
            _flush(pending_metrics, returns, env_steps, seed, writer, start, out_dir)
            pending_metrics, returns = [], []
        if ended and env_steps - last_checkpoint >= checkpoint_every:
            carry = jax.tree.unflatten(treedef, leaves)._replace(episodes=jnp.int32(episode))
            ckpt.save_atomic(out_dir / ckpt.CHECKPOINT, carry)
            leaves = jax.tree.leaves(carry)
            last_checkpoint = env_steps
        bar.update(1)
    bar.close()
    _flush(pending_metrics, returns, env_steps, seed, writer, start, out_dir)
    carry = jax.tree.unflatten(treedef, leaves)._replace(episodes=jnp.int32(episode))
    ckpt.save_atomic(out_dir / ckpt.CHECKPOINT, carry)
    env.close()
    return RunResult(run_dir=out_dir, carry=carry, env_steps=env_steps, seeds=[int(seed)])


def _flush(pending, returns, env_steps, seed, writer, start, out_dir) -> None:
    if not pending and not returns:
        return
    row = {"step": env_steps, "seed": seed, "episodes": len(returns),
           "mean_return": float(np.mean(returns)) if returns else "", "wall_time": round(time.time() - start, 3)}
    if pending:
        stacked = jax.device_get(jax.tree.map(lambda *xs: jnp.stack(xs), *pending))
        q_loss = np.asarray(stacked["q_loss"])
        if not np.all(np.isfinite(q_loss)):
            first = int(np.argmax(~np.isfinite(q_loss)))
            raise TrainingDiverged(
                f"non-finite Q loss at step {env_steps - len(q_loss) + first + 1}; training stopped, "
                f"last good checkpoint kept in {out_dir}"
            )
        for name, values in stacked.items():
            row[name] = float(np.mean(values))
    writer.write([row])
