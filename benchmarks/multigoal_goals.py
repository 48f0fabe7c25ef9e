"""Goals reached on the multi-goal task by each seed of a run, with the evaluation policy and the sampled one.

``softq-ref train`` prints, for each seed, where 100 rollouts of ``algo.act`` end (keys
``PRNGKey(10_000 + seed)``).  For soft Q-learning ``act`` *is* the stochastic sampler; for SAC it
is the mean action $\\tanh(\\mu(s))$, so this script also rolls out SAC's *sampled* policy
(``algo.explore``, the tanh-Gaussian itself) with the same keys: the comparison of the paper's
Sec. 5.1 is between stochastic policies.

Usage::

    softq-ref train --algo sac --seeds 5 --out runs/sac-multigoal
    python -m benchmarks.multigoal_goals runs/sac-multigoal
"""

from __future__ import annotations

import argparse

import jax

from softq_ref.envs.multigoal_task import NUM_GOALS, multigoal_env
from softq_ref.io.run_dir import RunDir
from softq_ref.train import evaluate
from softq_ref.trained import load


def goal_counts(run_dir, episodes: int = 100) -> list[dict]:
    """Per seed: ``{"seed", "act": summary, "explore": summary}`` (``evaluate.goal_summary`` dicts)."""
    run = RunDir.open(run_dir)
    out = []
    for i, seed in enumerate(run.seeds):
        agent = load(run.path, i)
        row = {"seed": seed}
        for policy in ("act", "explore"):
            algo = agent.algo._replace(act=agent.algo.explore) if policy == "explore" else agent.algo
            ro = evaluate.rollout_jax(algo, agent.state, multigoal_env(), jax.random.PRNGKey(10_000 + seed), episodes)
            row[policy] = evaluate.goal_summary(ro.goal, NUM_GOALS)
        out.append(row)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args(argv)
    print("| seed | evaluation policy (act) | goals reached | sampled policy (explore) | goals reached |")
    print("|---|---|---|---|---|")
    for row in goal_counts(args.run_dir, args.episodes):
        cells = []
        for policy in ("act", "explore"):
            s = row[policy]
            cells += [f"{', '.join(map(str, s['counts']))} ({s['none']} none)", str(s["goals_reached"])]
        print(f"| {row['seed']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
