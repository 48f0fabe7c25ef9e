"""Runs of the fully jitted loop: run directory, metrics, progress bar, checkpoints, resume.

A run directory holds ``config.json`` (algorithm, hyperparameters, environment, seeds),
``metrics.csv`` (one row per seed per chunk), ``checkpoint.eqx`` (the whole loop carry of
every seed, written atomically after each chunk) and, for the multi-goal task,
``figure.png``.  ``resume`` reloads the carry and runs the remaining chunks with the same
compiled function, so the result is bit-identical to a run that was never interrupted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

import softq_ref
from softq_ref.agent import algorithm_for
from softq_ref.agent.config import config_from_dict, config_to_dict
from softq_ref.envs.jax_env import JAX_ENVS, JaxEnv
from softq_ref.io import checkpoint as ckpt
from softq_ref.train import jax_loop

METRIC_COLUMNS = ["q_loss", "mean_q", "soft_value", "svgd_direction_norm", "bandwidth", "policy_spread", "actor_loss"]


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint was kept."""


@dataclass
class RunResult:
    run_dir: Path
    carry: jax_loop.LoopCarry
    env_steps: int
    seeds: list[int]


def _columns(env: JaxEnv) -> list[str]:
    goals = [f"goal_{i}" for i in range(env.num_goals)]
    return ["step", "seed", "episodes", "mean_return", *goals, *METRIC_COLUMNS, "wall_time"]


def _init_carries(algo, config, env, seeds):
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    carry = jax.vmap(lambda k: jax_loop.init_carry(algo, config, env, k))(keys)
    # The target network starts as a copy of Q: give every leaf its own buffer so that
    # the chunk can donate the carry (donating one buffer twice is an error).
    return jax.tree.map(lambda x: jnp.array(x, copy=True), carry)


def load_carry(run_dir: str | Path) -> tuple[dict, object, JaxEnv, jax_loop.LoopCarry]:
    """``(meta, config, env, carry)`` of a run directory's checkpoint (all seeds)."""
    run_dir = Path(run_dir)
    meta = ckpt.read_json(run_dir / ckpt.CONFIG)
    config = config_from_dict(meta["config"])
    env = JAX_ENVS[meta["env_id"]]()
    algo = algorithm_for(config)
    like = _init_carries(algo, config, env, meta["seeds"])
    carry = ckpt.load(run_dir / ckpt.CHECKPOINT, like)
    return meta, config, env, carry


def train_jax(
    config,
    *,
    env_id: str = "softq_ref/MultiGoal-v0",
    seeds: list[int] = (0,),
    out_dir: str | Path,
    chunk_steps: int = 1000,
    resume: bool = False,
    progress: bool = True,
) -> RunResult:
    """Train on a JAX environment, ``len(seeds)`` seeds as one vmapped program.

    Writes ``config.json``, ``metrics.csv`` and ``checkpoint.eqx`` in ``out_dir`` as it goes.
    With ``resume=True`` the configuration is read from ``out_dir`` (``config`` is ignored)
    and training continues from the checkpoint.
    Raises :class:`TrainingDiverged` when a loss becomes non-finite.
    """
    out_dir = Path(out_dir)
    if resume:
        meta, config, env, carry = load_carry(out_dir)
        seeds, chunk_steps, env_id = meta["seeds"], meta["chunk_steps"], meta["env_id"]
    else:
        if env_id not in JAX_ENVS:
            raise ValueError(f"{env_id!r} has no JAX version; known: {', '.join(JAX_ENVS)}")
        env = JAX_ENVS[env_id]()
        seeds = [int(s) for s in seeds]
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
        out_dir.mkdir(parents=True, exist_ok=True)
        meta = {
            "algo": algorithm_for(config).name,
            "config": config_to_dict(config),
            "env_id": env_id,
            "seeds": seeds,
            "chunk_steps": chunk_steps,
            "loop": "jax",
            "softq_ref_version": softq_ref.__version__,
            "jax_version": jax.__version__,
        }
        ckpt.write_json_atomic(out_dir / ckpt.CONFIG, meta)
        carry = None
    algo = algorithm_for(config)
    if carry is None:
        carry = _init_carries(algo, config, env, seeds)

    done_steps = int(np.asarray(carry.env_steps)[0])
    writer = ckpt.MetricsWriter(out_dir / ckpt.METRICS, _columns(env), resume_step=done_steps if resume else None)
    compiled = {}
    start = time.time()
    position = 0
    bar = tqdm(total=config.total_steps, initial=done_steps, unit="step", disable=not progress, desc=f"{algo.name} x{len(seeds)}")
    for num_steps, learn in jax_loop.schedule(config, chunk_steps):
        position += num_steps
        if position <= done_steps:
            continue  # finished before the checkpoint we resumed from
        if (num_steps, learn) not in compiled:
            chunk = jax_loop.make_chunk(algo, config, env, num_steps, learn)
            compiled[(num_steps, learn)] = jax.jit(jax.vmap(chunk), donate_argnums=0)
        new_carry, stats = compiled[(num_steps, learn)](carry)
        stats = jax.device_get(stats)
        bad = np.asarray(stats.first_nonfinite)
        if np.any(bad >= 0):
            seed_i = int(np.argmax(bad >= 0))
            step = position - num_steps + int(bad[seed_i]) + 1
            bar.close()
            raise TrainingDiverged(
                f"non-finite Q loss at step {step} (seed {seeds[seed_i]}); training stopped, "
                f"last good checkpoint (step {position - num_steps}) kept in {out_dir}"
            )
        carry = new_carry
        rows = []
        for i, seed in enumerate(seeds):
            episodes = int(stats.episodes[i])
            row = {
                "step": position,
                "seed": seed,
                "episodes": episodes,
                "mean_return": float(stats.return_sum[i]) / episodes if episodes else "",
                "wall_time": round(time.time() - start, 3),
            }
            for g in range(env.num_goals):
                row[f"goal_{g}"] = int(stats.goal_counts[i][g])
            for name, value in stats.metrics.items():
                row[name] = float(value[i])
            rows.append(row)
        writer.write(rows)
        ckpt.save_atomic(out_dir / ckpt.CHECKPOINT, carry)
        bar.update(num_steps)
        if learn and "q_loss" in stats.metrics:
            bar.set_postfix(q_loss=f"{float(np.mean(stats.metrics['q_loss'])):.3g}")
    bar.close()
    return RunResult(run_dir=out_dir, carry=carry, env_steps=int(np.asarray(carry.env_steps)[0]), seeds=list(seeds))


def agent_of(carry: jax_loop.LoopCarry, index: int = 0):
    """The agent state of one seed of a (vmapped) carry."""
    return jax.tree.map(lambda x: x[index], carry.agent)
