"""The host training loop for any gymnasium environment with a bounded Box or a Discrete action space.

The environment runs on the host (MuJoCo through gymnasium, say); everything else — storing
the transition, sampling a minibatch, ``train_step`` and choosing the next action — is one
compiled call per environment step, with the carry donated, so the host loop adds one
dispatch and one small transfer per step.

Actions live in ``[-1, 1]^d`` for the agent (the sampler's tanh) and are rescaled affinely to
the environment's ``[low, high]``; a Discrete action is the index the agent returns as
``float32 [1]``, stored that way in the replay buffer and passed to ``env.step`` as an int.
gymnasium 1.x semantics: ``terminated`` (a terminal state,
no bootstrap: stored as ``done = 1``) and ``truncated`` (a time limit: stored as ``done = 0``,
the target still bootstraps); either one ends the episode.  Episode ``i`` of a run is reset
with seed ``seed * 1_000_003 + i``, and checkpoints are written at episode boundaries (every
``checkpoint_every`` steps or ``checkpoint_minutes`` minutes, whichever comes first), so a
resumed run replays exactly the episodes an uninterrupted one would.

Several seeds are trained one after the other into one run directory (the layout of the
jitted loop: one ``config.json``, one ``metrics.csv`` with a ``seed`` column, one
``checkpoint.eqx`` holding every seed's carry on a leading axis).  A non-finite reward or
observation from the environment stops the run at the step it arrived, before it can reach
the replay buffer.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from softq_ref.agent import registry, replay
from softq_ref.agent.algorithm import ACTION_SPACES, Algorithm, action_space_mismatch
from softq_ref.agent.replay import ReplayBuffer, Transition
from softq_ref.envs.task import task_for
from softq_ref.io.run_dir import RunDir, RunDirError
from softq_ref.train.runner import RunResult, TrainingDiverged, _check_metric_names, grow_buffer


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
        raise ValueError(f"unknown or unavailable environment {env_id!r}: {_first_line(err)}") from None
    except Exception as err:  # noqa: BLE001 - e.g. "module:Id" whose module fails to import
        raise ValueError(f"cannot make environment {env_id!r}: {type(err).__name__}: {_first_line(err)}") from None
    try:
        check_spaces(env, env_id)
    except ValueError:
        env.close()
        raise
    return env


def _first_line(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def action_space_kind(space) -> str:
    """``"box"`` or ``"discrete"`` (the kinds an :class:`Algorithm` may declare), else the class name."""
    if isinstance(space, gym.spaces.Box):
        return "box"
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    return type(space).__name__


def check_spaces(env: gym.Env, env_id: str, algo: Algorithm | None = None) -> None:
    """The action space is a bounded, flat, non-empty Box or a Discrete space (of the kind ``algo``
    declares, when given), the observation space a flat, non-empty Box; a one-line ``ValueError``
    naming the problem otherwise."""
    space = env.action_space
    kind = action_space_kind(space)
    if kind not in ACTION_SPACES:
        raise ValueError(f"{env_id} has a {kind} action space; a Box or a Discrete space is required")
    if algo is not None and kind != algo.action_space:
        raise ValueError(action_space_mismatch(algo, env_id, kind))
    if kind == "discrete":
        if space.start != 0:
            raise ValueError(f"{env_id} has a Discrete action space starting at {space.start}; actions must be 0..n-1")
    elif len(space.shape) != 1 or space.shape[0] == 0:
        raise ValueError(f"{env_id} has a Box action space of shape {space.shape}; a flat, non-empty Box (d,) is required")
    elif not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(f"{env_id} has unbounded action bounds {space.low}..{space.high}; a bounded Box is required")
    obs = env.observation_space
    if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1 or obs.shape[0] == 0:
        raise ValueError(f"{env_id} needs a flat, non-empty Box observation space, got {obs}")


def space_dims(env: gym.Env) -> tuple[int, int]:
    """``(obs_dim, action_dim)``: ``action_dim`` is the Box's dimension or the number of discrete actions."""
    space = env.action_space
    action_dim = int(space.n) if action_space_kind(space) == "discrete" else int(space.shape[0])
    return int(env.observation_space.shape[0]), action_dim


def env_action(action: np.ndarray, space) -> np.ndarray | int:
    """The agent's action as the environment takes it.

    Box: ``[-1, 1]^d`` rescaled onto ``[low, high]`` (:func:`rescale_action`).  Discrete: the
    index the agent returns as ``float32 [1]`` (the replay buffer's layout), as a Python int.
    """
    if action_space_kind(space) == "discrete":
        return int(np.rint(np.asarray(action).reshape(-1)[0]))
    return rescale_action(action, space.low.astype(np.float64), space.high.astype(np.float64))


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
            # An on-policy algorithm is stepped only when the buffer was just filled anew (the
            # host decides, see _train_seed): its whole content in time order is the rollout.
            batch = replay.in_time_order(buffer) if algo.on_policy else replay.sample(buffer, k_batch, config.batch_size)
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
    """One seed's fresh carry (every leaf its own buffer, so the compiled step may donate it)."""
    k_agent, k_loop = jax.random.split(jax.random.PRNGKey(seed))
    carry = HostCarry(
        agent=algo.init(config, obs_dim, action_dim, k_agent),
        buffer=replay.init(int(min(config.replay_capacity, config.total_steps)), obs_dim, algo.buffer_action_dim(action_dim)),
        key=k_loop,
        env_steps=jnp.zeros((), jnp.int32),
        episodes=jnp.zeros((), jnp.int32),
    )
    return jax.tree.map(lambda x: jnp.array(x, copy=True), carry)


def init_carries(algo, config, obs_dim: int, action_dim: int, seeds) -> HostCarry:
    """Every seed's fresh carry stacked on a leading axis, as host (NumPy) arrays: the checkpoint's structure."""
    carries = [jax.device_get(_init_carry(algo, config, obs_dim, action_dim, s)) for s in seeds]
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *carries)


def _slot(stacked, i: int):
    return jax.tree.map(lambda x: x[i], stacked)


def _set_slot(stacked, i: int, one) -> None:
    for dst, src in zip(jax.tree.leaves(stacked), jax.tree.leaves(one)):
        dst[i] = np.asarray(src)


def train_gym(
    config,
    *,
    env_id: str,
    seed: int = 0,
    seeds=None,
    out_dir: str | Path,
    resume: bool = False,
    log_every: int = 1000,
    checkpoint_every: int = 10_000,
    checkpoint_minutes: float = 5.0,
    extend_to: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Train on a gymnasium environment on the host, one seed after another; see the module docstring.

    ``seeds`` (a list) trains several seeds into one run directory; ``seed`` is the single
    seed otherwise.  With ``resume=True`` everything is read from ``out_dir`` and training
    continues from the checkpoint (a seed that finished is not trained again); ``extend_to``
    raises the run's ``total_steps`` (each seed is trained to the new length).
    """
    out_dir = Path(out_dir)
    if resume:
        run = RunDir.open(out_dir)
        run.acquire()
    else:
        seeds = [int(seed)] if seeds is None else [int(s) for s in seeds]
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
        for name, value in (("log_every", log_every), ("checkpoint_every", checkpoint_every),
                            ("checkpoint_minutes", checkpoint_minutes)):
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value!r}")
        algo = registry.for_config(config)
        env = make_env(env_id, config.max_path_length)
        check_spaces(env, env_id, algo)
        env.close()
        run = RunDir.create(
            out_dir, config=config, env_id=env_id, seeds=seeds, loop="gym",
            settings={"log_every": int(log_every), "checkpoint_every": int(checkpoint_every),
                      "checkpoint_minutes": float(checkpoint_minutes)},
            stat_names=task_for(env_id).stat_names,
        )
    try:
        return _train(run, resume=resume, extend_to=extend_to, progress=progress)
    finally:
        run.release()


def _train(run: RunDir, *, resume: bool, extend_to: int | None, progress: bool) -> RunResult:
    config, algo, seeds, env_id = run.config, run.algo, run.seeds, run.env_id
    settings = run.settings
    log_every = int(settings.get("log_every", 1000))
    checkpoint_every = int(settings.get("checkpoint_every", 10_000))
    checkpoint_seconds = 60.0 * float(settings.get("checkpoint_minutes", 5.0))
    env = make_env(env_id, config.max_path_length)
    check_spaces(env, env_id, algo)
    obs_dim, action_dim = space_dims(env)
    carries = init_carries(algo, config, obs_dim, action_dim, seeds)
    if resume:
        if run.has_checkpoint:
            try:
                carries = run.load_checkpoint(carries)
            except RunDirError:
                if extend_to is None or extend_to <= config.total_steps:
                    raise
                # Killed between the extension's checkpoint (buffer already grown) and its config
                # update: the checkpoint fits the extended run.
                longer = config.replace(total_steps=int(extend_to))
                carries = run.load_checkpoint(init_carries(algo, longer, obs_dim, action_dim, seeds))
        else:
            print(f"softq-ref: {run.path} has no checkpoint yet; starting it again from step 0", file=sys.stderr)
    if extend_to is not None and extend_to != config.total_steps:
        if extend_to < config.total_steps:
            raise ValueError(f"--steps {extend_to} is shorter than the run's {config.total_steps} steps; a run can only be extended")
        config = config.replace(total_steps=int(extend_to))
        capacity = int(min(config.replay_capacity, config.total_steps))
        carries = jax.device_get(carries._replace(buffer=grow_buffer(carries.buffer, capacity)))
        carries = jax.tree.map(np.array, carries)
        # The grown buffer is checkpointed before the config says the run is longer, so a kill at
        # any point leaves a checkpoint that the config (or the resume's --steps) describes.
        if run.has_checkpoint:
            run.save_checkpoint(carries)
        run.update(config=config)
    # On resume, metric rows are kept per seed up to that seed's checkpointed step.
    steps_done = [int(x) for x in np.asarray(carries.env_steps)]
    writer = _truncate_rows(run, steps_done) if resume else run.metrics_writer()
    result_carry = None
    try:
        for i, seed in enumerate(seeds):
            if steps_done[i] >= config.total_steps:
                continue
            result_carry = _train_seed(
                run, env, algo, config, carries, i, seed, writer, log_every, checkpoint_every, checkpoint_seconds,
                progress, obs_dim, action_dim,
            )
    finally:
        env.close()
    total = int(np.asarray(carries.env_steps)[-1])
    return RunResult(run_dir=run.path, carry=carries if len(seeds) > 1 else _slot(carries, 0), env_steps=total, seeds=seeds)


def _truncate_rows(run: RunDir, steps_done: list[int]):
    """Drop each seed's metric rows past its checkpoint (and unreadable ones); a writer appending after them."""
    keep_step = {str(s): n for s, n in zip(run.seeds, steps_done)}
    rows = []
    for row in run.read_metrics():
        try:
            ok = None not in row and int(row.get("step") or "") <= keep_step.get(row.get("seed"), -1)
        except ValueError:
            ok = False
        if ok:
            rows.append(row)
    writer = run.metrics_writer(resume_step=-1)  # rewrite with the header only, atomically
    writer.write([{k: r.get(k, "") for k in writer.columns} for r in rows])
    return writer


def _train_seed(run, env, algo, config, carries, i, seed, writer, log_every, checkpoint_every, checkpoint_seconds,
                progress, obs_dim, action_dim):
    task = task_for(run.env_id)
    carry = jax.tree.map(jnp.asarray, _slot(carries, i))
    carry = jax.tree.map(lambda x: jnp.array(x, copy=True), carry)
    env_steps = int(carry.env_steps)
    leaves, treedef = jax.tree.flatten(carry)
    steps = {
        learn: jax.jit(make_flat_host_step(algo, config, learn, treedef, obs_dim, algo.buffer_action_dim(action_dim)),
                       donate_argnums=0)
        for learn in (False, True)
    }
    capacity = int(carry.buffer.capacity)
    first_action = jax.jit(lambda agent, obs, key: algo.explore(agent, obs, key))

    def checkpoint(leaves, episode):
        carry = jax.tree.unflatten(treedef, leaves)._replace(episodes=jnp.int32(episode))
        _set_slot(carries, i, jax.device_get(carry))
        run.save_checkpoint(carries)
        return jax.tree.leaves(carry)

    episode = int(carry.episodes)
    obs, _ = env.reset(seed=int(seed) * 1_000_003 + episode)
    action = first_action(carry.agent, jnp.asarray(obs, jnp.float32), jax.random.fold_in(carry.key, episode))
    log = _Log(seed, writer, task, run.stat_names)
    last_checkpoint, last_checkpoint_time = env_steps, time.monotonic()
    desc = f"{algo.name} {run.env_id}" + (f" seed {seed}" if len(run.seeds) > 1 else "")
    bar = tqdm(total=config.total_steps, initial=env_steps, unit="step", disable=not progress, desc=desc)
    try:
        while env_steps < config.total_steps:
            a = np.asarray(action)
            next_obs, reward, terminated, truncated, info = env.step(env_action(a, env.action_space))
            if not (math.isfinite(float(reward)) and np.all(np.isfinite(next_obs))):
                what = "reward" if not math.isfinite(float(reward)) else "observation"
                raise TrainingDiverged(
                    f"the environment returned a non-finite {what} at step {env_steps + 1} (seed {seed}); "
                    f"training stopped, {_kept(run)}"
                )
            log.episode_return += float(reward)
            ended = terminated or truncated
            if ended:
                episode += 1
                log.end_episode(info)
                act_obs, _ = env.reset(seed=int(seed) * 1_000_003 + episode)
            else:
                act_obs = next_obs
            learn = env_steps >= config.min_replay_size
            if algo.on_policy:  # once per rollout: when this transition completes the buffer
                learn = learn and (env_steps + 1) % capacity == 0
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
                log.pending.append(metrics)
            due = ended and (env_steps - last_checkpoint >= checkpoint_every
                             or time.monotonic() - last_checkpoint_time >= checkpoint_seconds)
            if env_steps % log_every == 0 or env_steps == config.total_steps or due:
                log.flush(env_steps, algo, run)
            if due:
                leaves = checkpoint(leaves, episode)
                last_checkpoint, last_checkpoint_time = env_steps, time.monotonic()
            bar.update(1)
    finally:
        bar.close()
    log.flush(env_steps, algo, run)
    checkpoint(leaves, episode)
    return jax.tree.unflatten(treedef, leaves)._replace(episodes=jnp.int32(episode))


def _kept(run: RunDir) -> str:
    """What a stopped run leaves behind, truthfully."""
    if run.has_checkpoint:
        return f"the last checkpoint is kept in {run.path} (continue with --resume)"
    return f"no checkpoint was written yet, so there is nothing to resume in {run.path}"


class _Log:
    """The metric rows of one seed: episode returns, the task's episode statistics, train_step's metrics."""

    def __init__(self, seed, writer, task, stat_names):
        self.seed, self.writer, self.task, self.stat_names = seed, writer, task, list(stat_names)
        self.pending, self.returns, self.episode_return = [], [], 0.0
        self.stats = np.zeros(len(self.stat_names), np.int64)
        self.start = time.time()

    def end_episode(self, info) -> None:
        self.returns.append(self.episode_return)
        self.episode_return = 0.0
        if self.task.episode_stats is not None and self.stat_names:
            self.stats += np.asarray(self.task.episode_stats(info), np.int64)

    def flush(self, env_steps, algo, run) -> None:
        if not self.pending and not self.returns:
            return
        row = {"step": env_steps, "seed": self.seed, "episodes": len(self.returns),
               "mean_return": float(np.mean(self.returns)) if self.returns else "",
               "wall_time": round(time.time() - self.start, 3)}
        for name, count in zip(self.stat_names, self.stats):
            row[name] = int(count)
        if self.pending:
            stacked = jax.device_get(jax.tree.map(lambda *xs: jnp.stack(xs), *self.pending))
            _check_metric_names(algo, stacked)
            watched = ["q_loss"] if "q_loss" in stacked else sorted(stacked)
            bad = np.zeros(len(self.pending), bool)
            for name in watched:
                bad |= ~np.isfinite(np.asarray(stacked[name]))
            if np.any(bad):
                first = int(np.argmax(bad))
                what = "Q loss" if watched == ["q_loss"] else "training metric"
                raise TrainingDiverged(
                    f"non-finite {what} at step {env_steps - len(bad) + first + 1} (seed {self.seed}); "
                    f"training stopped, {_kept(run)}"
                )
            for name, values in stacked.items():
                row[name] = float(np.mean(values))
        self.writer.write([row])
        self.pending, self.returns = [], []
        self.stats[:] = 0
