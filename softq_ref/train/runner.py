"""Runs of the fully jitted loop: run directory, metrics, progress bar, checkpoints, resume.

The run directory (:class:`~softq_ref.io.run_dir.RunDir`) holds ``config.json``,
``metrics.csv`` (one row per seed per chunk) and ``checkpoint.eqx`` (the whole loop carry of
every seed, written atomically after each chunk).  ``resume`` reloads the carry and runs the
remaining chunks with the same compiled function, so the result is bit-identical to a run
that was never interrupted.  ``extend_to`` continues a finished (or unfinished) run to a
larger number of steps; see :func:`grow_buffer` for what happens to the replay buffer.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from softq_ref.agent import registry
from softq_ref.agent.algorithm import action_space_mismatch
from softq_ref.agent.replay import ReplayBuffer
from softq_ref.envs.task import JaxEnv, task_for
from softq_ref.io.run_dir import RunDir, RunDirError
from softq_ref.train import jax_loop, memory


class TrainingDiverged(RuntimeError):
    """A loss (or a value from the environment) became NaN or infinite; the message says what was kept."""


@dataclass
class RunResult:
    run_dir: Path
    carry: object
    env_steps: int
    seeds: list[int]


def jax_env_of(env_id: str) -> JaxEnv:
    """The pure-JAX twin of a declared task; ``ValueError`` when it has none."""
    task = task_for(env_id)
    if task.jax_env is None:
        raise ValueError(f"{env_id!r} has no JAX version; train it with the gymnasium host loop")
    return task.jax_env()


def num_envs_of(run: RunDir) -> int:
    """Environments per seed of a jitted-loop run (``settings.num_envs``; 1 for runs written before it existed)."""
    return int(run.settings.get("num_envs", 1))


def _init_carries(algo, config, env, seeds, num_envs: int = 1):
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    carry = jax.vmap(lambda k: jax_loop.init_carry(algo, config, env, k, num_envs))(keys)
    # The target network starts as a copy of Q: give every leaf its own buffer so that
    # the chunk can donate the carry (donating one buffer twice is an error).
    return jax.tree.map(lambda x: jnp.array(x, copy=True), carry)


def grow_buffer(buffer: ReplayBuffer, capacity: int) -> ReplayBuffer:
    """The same transitions in a buffer of ``capacity >= buffer.capacity`` slots (leading axes kept).

    A run allocates ``min(replay_capacity, total_steps)`` slots, so a buffer smaller than the
    configured capacity never wrapped: its transitions sit in slots ``[0, size)``.  Extending
    the run grows it to ``min(replay_capacity, new total_steps)``, so the extended run keeps
    every transition, as a run planned that long from the start would.
    """
    old = buffer.capacity if buffer.data.reward.ndim == 1 else buffer.data.reward.shape[-1]
    if capacity <= old:
        return buffer
    axis = buffer.data.reward.ndim - 1  # 0 for one seed, 1 with a leading seed axis

    def pad(store):
        widths = [(0, 0)] * store.ndim
        widths[axis] = (0, capacity - old)
        return jnp.pad(store, widths)

    data = jax.tree.map(pad, buffer.data)
    position = jnp.where(buffer.size < capacity, buffer.size, 0).astype(jnp.int32)
    return ReplayBuffer(data=data, position=position, size=buffer.size)


def load_carry(run_dir: str | Path) -> tuple[dict, object, JaxEnv, jax_loop.LoopCarry]:
    """``(meta, config, env, carry)`` of a jitted-loop run directory's checkpoint (all seeds)."""
    run = RunDir.open(run_dir)
    env = jax_env_of(run.env_id)
    carry = run.load_checkpoint(_init_carries(run.algo, run.config, env, run.seeds, num_envs_of(run)))
    return run.meta, run.config, env, carry


def train_jax(
    config,
    *,
    env_id: str = "softq_ref/MultiGoal-v0",
    seeds: list[int] = (0,),
    out_dir: str | Path,
    chunk_steps: int = 1000,
    num_envs: int = 1,
    resume: bool = False,
    extend_to: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Train on a JAX environment, ``len(seeds)`` seeds as one vmapped program.

    Writes ``config.json``, ``metrics.csv`` and ``checkpoint.eqx`` in ``out_dir`` as it goes.
    With ``resume=True`` the configuration is read from ``out_dir`` (``config`` is ignored)
    and training continues from the checkpoint; ``extend_to`` (with ``resume``) raises the
    run's ``total_steps``.  ``num_envs`` environments per seed (spec deviation ``dev-num-envs``,
    recorded as ``settings.num_envs``; 1 is the paper's loop).  Raises :class:`TrainingDiverged` when a loss becomes non-finite.
    """
    out_dir = Path(out_dir)
    if resume:
        run = RunDir.open(out_dir)
        run.acquire()
    else:
        env = jax_env_of(env_id)
        algo = registry.for_config(config)
        _check_action_space(algo, env.action_space, env_id)
        seeds = [int(s) for s in seeds]
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
        if chunk_steps < 1:
            raise ValueError(f"chunk_steps must be >= 1, got {chunk_steps}")
        jax_loop.check_num_envs(algo, config, num_envs, chunk_steps)
        # Refuse what cannot fit before anything is allocated or written.
        memory.check_fits(memory.carry_bytes(algo, config, env, num_envs), len(seeds))
        run = RunDir.create(out_dir, config=config, env_id=env_id, seeds=seeds, loop="jax",
                            settings={"chunk_steps": int(chunk_steps), "num_envs": num_envs}, stat_names=env.stat_names)
    try:
        return _train(run, resume=resume, extend_to=extend_to, progress=progress)
    finally:
        run.release()


def metrics_row(env: JaxEnv, stats, i: int, step: int, seed: int, wall: float, *, on_policy: bool = False) -> dict:
    """One ``metrics.csv`` row for seed (or grid point) ``i`` of a chunk's vmapped :class:`~softq_ref.train.jax_loop.ChunkStats`."""
    episodes = int(stats.episodes[i])
    row = {
        "step": step,
        "seed": seed,
        "episodes": episodes,
        "mean_return": float(stats.return_sum[i]) / episodes if episodes else "",
        "wall_time": wall,
    }
    for name, count in zip(env.stat_names, np.asarray(stats.episode_stats[i])):
        row[name] = int(count)
    for name, value in stats.metrics.items():
        # NaN: an on-policy algorithm completed no rollout in this chunk (no update).
        row[name] = "" if on_policy and np.isnan(value[i]) else float(value[i])
    return row


def _check_action_space(algo, kind: str, env_id: str) -> None:
    if algo.action_space != kind:
        raise ValueError(action_space_mismatch(algo, env_id, kind))


def _train(run: RunDir, *, resume: bool, extend_to: int | None, progress: bool) -> RunResult:
    config, algo, seeds = run.config, run.algo, run.seeds
    env = jax_env_of(run.env_id)
    chunk_steps = int(run.settings.get("chunk_steps", 1000))
    num_envs = num_envs_of(run)
    carry = _init_carries(algo, config, env, seeds, num_envs)
    done_steps = 0
    if resume:
        if run.has_checkpoint:
            try:
                carry = run.load_checkpoint(carry)
            except RunDirError:
                if extend_to is None or extend_to <= config.total_steps:
                    raise
                # Killed between the extension's checkpoint (buffer already grown) and its config
                # update: the checkpoint fits the extended run.
                carry = run.load_checkpoint(
                    _init_carries(algo, config.replace(total_steps=int(extend_to)), env, seeds, num_envs))
            done_steps = int(np.asarray(carry.env_steps)[0])
        else:
            print(f"softq-ref: {run.path} has no checkpoint yet; starting it again from step 0", file=sys.stderr)
    if extend_to is not None and extend_to != config.total_steps:
        if extend_to < max(done_steps, config.total_steps):
            raise ValueError(f"--steps {extend_to} is shorter than the run's {config.total_steps} steps; a run can only be extended")
        config = config.replace(total_steps=int(extend_to))
        jax_loop.check_num_envs(algo, config, num_envs)
        carry = carry._replace(buffer=grow_buffer(carry.buffer, jax_loop.buffer_capacity(config)))
        # Checkpointed before the config says the run is longer: a kill at any point leaves a
        # checkpoint that the config (or the resume's --steps) describes.
        if run.has_checkpoint:
            run.save_checkpoint(carry)
        run.update(config=config)

    writer = run.metrics_writer(resume_step=done_steps if resume else None)
    compiled = {}
    start = time.time()
    bar = tqdm(total=config.total_steps, initial=done_steps, unit="step", disable=not progress, desc=f"{algo.name} x{len(seeds)}")
    position = 0
    try:
        for num_steps, learn in jax_loop.schedule(config, chunk_steps, num_envs):
            begin, position = position, position + num_steps
            if position <= done_steps:
                continue  # finished before the checkpoint we resumed from
            if begin < done_steps:  # a chunk cut short by a change of schedule (an extended run)
                num_steps = position - done_steps
            if (num_steps, learn) not in compiled:
                chunk = jax_loop.make_chunk(algo, config, env, num_steps, learn, num_envs)
                compiled[(num_steps, learn)] = jax.jit(jax.vmap(chunk), donate_argnums=0)
            new_carry, stats = compiled[(num_steps, learn)](carry)
            stats = jax.device_get(stats)
            _check_metric_names(algo, stats.metrics)
            bad = np.asarray(stats.first_nonfinite)
            if np.any(bad >= 0):
                seed_i = int(np.argmax(bad >= 0))
                step = position - num_steps + int(bad[seed_i]) + 1
                kept = position - num_steps
                what = "Q loss" if "q_loss" in stats.metrics else "training metric"
                where = (f"last good checkpoint (step {kept}) kept in {run.path}" if run.has_checkpoint
                         else f"no checkpoint was written yet; nothing to resume in {run.path}")
                raise TrainingDiverged(f"non-finite {what} at step {step} (seed {seeds[seed_i]}); training stopped, {where}")
            carry = new_carry
            wall = round(time.time() - start, 3)
            writer.write([metrics_row(env, stats, i, position, seed, wall, on_policy=algo.on_policy)
                          for i, seed in enumerate(seeds)])
            run.save_checkpoint(carry)
            bar.update(num_steps)
            if learn and "q_loss" in stats.metrics:
                bar.set_postfix(q_loss=f"{float(np.mean(stats.metrics['q_loss'])):.3g}")
    finally:
        bar.close()
    return RunResult(run_dir=run.path, carry=carry, env_steps=int(np.asarray(carry.env_steps)[0]), seeds=list(seeds))


def _check_metric_names(algo, metrics) -> None:
    unknown = sorted(set(metrics) - set(algo.metrics))
    if unknown:
        raise RunDirError(f"{algo.name}.train_step reported metrics its Algorithm does not declare: {unknown}")


def agent_of(carry, index: int = 0):
    """The agent state of one seed of a (vmapped) carry."""
    return jax.tree.map(lambda x: x[index], carry.agent)
