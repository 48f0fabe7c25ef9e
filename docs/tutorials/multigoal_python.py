"""Tutorial: train soft Q-learning on the multi-goal task from Python, and use the trained agent.

    .venv/bin/python docs/tutorials/multigoal_python.py

Run from the directory that should hold ``runs/``. ``docs/tutorials/multigoal.md`` shows the
three sections below as three code blocks, each runnable as shown, in this order
(``tests/test_docs_render.py`` runs them from the rendered page with
``SOFTQ_TUTORIAL_STEPS=300``; ``tests/test_docs.py`` runs this file the same way).
"""

# --8<-- [start:train]
import os
from pathlib import Path

from softq_ref.agent.config import SQLConfig
from softq_ref.train.runner import train_jax

# The multi-goal preset: the original code's 2018 settings, alpha = 10 (reward scale 0.1) and
# 10,000 environment steps (about a minute on a CPU). SOFTQ_TUTORIAL_STEPS=300 gives a quick look.
config = SQLConfig.preset_for("multigoal")
config = config.replace(total_steps=int(os.environ.get("SOFTQ_TUTORIAL_STEPS", config.total_steps)))
run_dir = Path("runs/tutorial/sql-python")
result = train_jax(config, seeds=[0], out_dir=run_dir, progress=False)
print(f"trained {result.env_steps} steps into {result.run_dir}")
# --8<-- [end:train]

# --8<-- [start:act]
import gymnasium
import jax
import numpy as np

import softq_ref.envs  # registers softq_ref/MultiGoal-v0 with gymnasium
from softq_ref.trained import load

agent = load("runs/tutorial/sql-python")  # seed index 0 of the run
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
from pathlib import Path

import jax

from softq_ref.figures import learning_curve_figure, multigoal_figure
from softq_ref.trained import load

run_dir = Path("runs/tutorial/sql-python")
agent = load(run_dir)
multigoal_figure(agent.algo, agent.state, jax.random.key(1), run_dir / "figure.png", title="soft Q-learning")
learning_curve_figure([run_dir / "metrics.csv"], run_dir / "curve.png", labels=["soft Q-learning"])
print("figures:", run_dir / "figure.png", run_dir / "curve.png")
# --8<-- [end:figure]
