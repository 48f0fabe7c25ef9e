"""Tutorial: train soft Q-learning on the multi-goal task from Python, and use the trained agent.

    .venv/bin/python docs/tutorials/multigoal_python.py [RUN_DIR]

``SOFTQ_DOCS_QUICK=1`` shortens training to 300 steps (what ``tests/test_docs.py`` runs).
``docs/tutorials/multigoal.md`` includes this file piece by piece.
"""

import os
import sys
from pathlib import Path

# --8<-- [start:train]
import jax
import numpy as np

from softq_ref.agent.config import SQLConfig
from softq_ref.train.runner import train_jax

steps = 300 if os.environ.get("SOFTQ_DOCS_QUICK") == "1" else 10_000
run_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/tutorial/sql-python")

# The multi-goal preset (the original code's 2018 settings); alpha = 10 is reward scale 0.1.
config = SQLConfig.preset_for("multigoal").replace(total_steps=steps)
result = train_jax(config, seeds=[0], out_dir=run_dir, progress=False)
print(f"trained {result.env_steps} steps into {result.run_dir}")
# --8<-- [end:train]

# --8<-- [start:act]
import gymnasium

import softq_ref.envs  # registers softq_ref/MultiGoal-v0 with gymnasium
from softq_ref.trained import load

agent = load(run_dir)  # seed index 0 of the run
env = gymnasium.make("softq_ref/MultiGoal-v0")
key = jax.random.key(0)
obs, _ = env.reset(seed=0)
episode_return, done = 0.0, False
while not done:
    key, sub = jax.random.split(key)
    action = agent.act(obs, sub)  # a = f(xi; s) with fresh noise: a stochastic policy
    obs, reward, terminated, truncated, info = env.step(action)
    episode_return += float(reward)
    done = terminated or truncated
print(f"one episode: return {episode_return:.1f}, ended at {np.round(obs, 2)}")
env.close()
# --8<-- [end:act]

# --8<-- [start:figure]
from softq_ref.figures import learning_curve_figure, multigoal_figure

multigoal_figure(agent.algo, agent.state, jax.random.key(1), run_dir / "figure.png",
                 title=f"soft Q-learning, {result.env_steps} steps")
learning_curve_figure([run_dir / "metrics.csv"], run_dir / "curve.png", labels=["soft Q-learning"])
print("figures:", run_dir / "figure.png", run_dir / "curve.png")
# --8<-- [end:figure]
