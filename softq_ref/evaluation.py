"""Evaluation of a finished run: roll out each seed's trained policy (the ``evaluate`` command).

Rollouts use the loop the run was trained with: a JAX twin as one compiled program, any
other environment through gymnasium (:mod:`softq_ref.train.evaluate`).  The result is a
plain dict (printed by the CLI, or as JSON).
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from softq_ref.envs.task import task_for
from softq_ref.io.run_dir import RunDir
from softq_ref.train import evaluate
from softq_ref.trained import load


def evaluate_run(run_dir: str | Path, *, episodes: int = 100, eval_seed: int = 12345) -> dict:
    """``{"run_dir", "env_id", "algo", "seeds": [{"seed", "returns", "mean_return", ["goals"]}]}``."""
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    run = RunDir.open(run_dir)
    report = {"run_dir": str(run.path), "env_id": run.env_id, "algo": run.algo.name, "seeds": []}
    task = task_for(run.env_id)
    for i, seed in enumerate(run.seeds):
        agent = load(run.path, i)
        key = jax.random.PRNGKey(eval_seed + seed)
        if run.loop == "jax" and task.jax_env is not None:
            env = task.jax_env()
            ro = evaluate.rollout_jax(agent.algo, agent.state, env, key, episodes)
            entry = {"seed": seed, "returns": [float(x) for x in np.asarray(ro.returns)]}
            if env.num_goals:
                entry["goals"] = evaluate.goal_summary(ro.goal, env.num_goals)
        else:
            eps = evaluate.rollout_gym(agent.algo, agent.state, run.env_id, key, episodes, seed=eval_seed + seed)
            entry = {"seed": seed, "returns": [float(e["return"]) for e in eps]}
        entry["mean_return"] = float(np.mean(entry["returns"]))
        report["seeds"].append(entry)
    return report
