"""The paper's headline multi-goal result, reproduced by the default command (slow: minutes).

Figure 1 of Haarnoja et al. (2017): soft Q-learning's stochastic policy keeps all four goals
alive. With the published multi-goal settings (the ``multigoal`` preset) and the default
number of steps, 100 stochastic rollouts of each of 5 seeds must end at each goal at least
10% of the time.
"""

import jax
import numpy as np
import pytest

from softq_ref.agent import SQL
from softq_ref.agent.config import SQLConfig
from softq_ref.envs.jax_env import multigoal_env
from softq_ref.train import evaluate
from softq_ref.train.runner import agent_of, train_jax


@pytest.mark.slow
def test_default_training_reaches_all_four_goals_for_five_seeds(tmp_path):
    result = train_jax(SQLConfig(), seeds=[0, 1, 2, 3, 4], out_dir=tmp_path, progress=False)
    env = multigoal_env()
    for i, seed in enumerate(result.seeds):
        rollouts = evaluate.rollout_jax(SQL, agent_of(result.carry, i), env, jax.random.PRNGKey(10_000 + seed), 100)
        counts = np.bincount(np.asarray(rollouts.goal)[np.asarray(rollouts.goal) >= 0], minlength=4)
        assert np.all(counts >= 10), f"seed {seed}: goals reached {counts.tolist()} of 100 rollouts"
