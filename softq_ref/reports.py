"""What a task prints and draws after training, by gymnasium id (the ``train`` command's report).

The multi-goal task's report is Figure 1 of the paper (``figure.png`` in the run directory)
and how many of 100 stochastic rollouts of each seed end at each goal.  A task with no entry
here gets no report.
"""

from __future__ import annotations

from typing import Callable

import jax

from softq_ref.envs.multigoal_task import MULTIGOAL_ID, NUM_GOALS, multigoal_env
from softq_ref.io.run_dir import RunDir
from softq_ref.train import evaluate
from softq_ref.trained import load


def multigoal_report(run: RunDir) -> list[str]:
    """Write ``figure.png`` (Figure 1) and return one line per seed with its goal counts."""
    from softq_ref import figures

    agent = load(run.path, 0)
    figures.multigoal_figure(agent.algo, agent.state, jax.random.PRNGKey(1234), run.figure_path,
                             title=f"{agent.algo.name.upper()} on the multi-goal task")
    lines = [f"figure: {run.figure_path}"]
    for i, seed in enumerate(run.seeds):
        agent = load(run.path, i) if i else agent
        ro = evaluate.rollout_jax(agent.algo, agent.state, multigoal_env(), jax.random.PRNGKey(10_000 + seed), 100)
        summary = evaluate.goal_summary(ro.goal, NUM_GOALS)
        lines.append(f"seed {seed}: goals reached in 100 stochastic rollouts: {summary['counts']} (none: {summary['none']})")
    return lines


#: ``{env_id: report(run) -> lines}``.
REPORTS: dict[str, Callable[[RunDir], list[str]]] = {MULTIGOAL_ID: multigoal_report}


def report(run_dir) -> list[str]:
    """The report lines of a finished run (empty when its task has no report)."""
    run = RunDir.open(run_dir)
    fn = REPORTS.get(run.env_id)
    return fn(run) if fn else []
