"""SAC side by side with sbx's SAC on HalfCheetah-v5, with the same settings (issue 11, item 1).

Settings for both (the SAC paper's table, ``SACConfig.preset_for("mujoco")``): 2x256 ReLU,
Adam 3e-4 for critics, actor and temperature, batch 256, replay 1e6, discount 0.99, Polyak
``tau = 0.005`` every step, one gradient step per environment step, learned temperature with
target entropy ``-dim(A)``, 1000 warm-up steps.

Two measurements:

* ``updates`` -- updates per second of the update alone: our jitted ``sac.train_step`` on a
  fixed random batch (one call per update, as the host loop makes), and, when sbx is installed,
  sbx's ``SAC.train(gradient_steps=1)`` on a filled replay buffer (its own jitted update plus
  its Python-side sampling, one call per update, as its ``learn`` makes).
* ``--full`` -- evaluation return at 100k environment steps, 3 seeds each: ours through the
  host loop (``softq-ref train``'s loop), sbx's through ``SAC.learn``; 10 episodes of each
  one's deterministic (mean) action.

sbx (``pip install 'softq_ref[bench]'``) is a benchmark dependency only: it brings
stable-baselines3 and PyTorch.  Without it the script measures our side and says so.

Usage::

    python -m benchmarks.sbx_sac                  # updates/s
    python -m benchmarks.sbx_sac --full           # + returns at 100k steps, 3 seeds each (hours on CPU)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import machine
from softq_ref.agent import sac
from softq_ref.agent.replay import Transition

ENV_ID = "HalfCheetah-v5"
OBS_DIM, ACTION_DIM = 17, 6


def _batch(key, batch_size: int) -> Transition:
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return Transition(
        obs=jax.random.normal(k1, (batch_size, OBS_DIM)),
        action=jax.random.uniform(k2, (batch_size, ACTION_DIM), minval=-1.0, maxval=1.0),
        reward=jax.random.normal(k3, (batch_size,)),
        next_obs=jax.random.normal(k4, (batch_size, OBS_DIM)),
        done=jnp.zeros((batch_size,)),
    )


def ours_updates_per_second(updates: int, repeats: int = 3) -> dict:
    """Our ``train_step``: ``updates`` jitted calls (carry donated), best and median of ``repeats``."""
    config = sac.SACConfig.preset_for("mujoco")
    state = sac.init(config, OBS_DIM, ACTION_DIM, jax.random.PRNGKey(0))
    state = jax.tree.map(lambda x: jnp.array(x, copy=True) if isinstance(x, jax.Array) else x, state)
    batch = _batch(jax.random.PRNGKey(1), config.batch_size)
    step = jax.jit(sac.train_step, donate_argnums=0)
    keys = jax.random.split(jax.random.PRNGKey(2), updates)
    state, _ = step(state, batch, keys[0])  # compile
    jax.block_until_ready(state)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for k in keys:
            state, metrics = step(state, batch, k)
        jax.block_until_ready(metrics)
        rates.append(updates / (time.perf_counter() - start))
    return {"best": max(rates), "median": float(np.median(rates)), "updates": updates}


def sbx_updates_per_second(updates: int, repeats: int = 3) -> dict | None:
    """sbx's ``SAC.train(gradient_steps=1)`` ``updates`` times on a buffer of 10k random transitions; None without sbx."""
    if importlib.util.find_spec("sbx") is None:
        return None
    import gymnasium as gym
    from sbx import SAC

    env = gym.make(ENV_ID)
    model = SAC("MlpPolicy", env, learning_rate=3e-4, buffer_size=1_000_000, batch_size=256, tau=0.005, gamma=0.99,
                train_freq=1, gradient_steps=1, learning_starts=1000, policy_kwargs={"net_arch": [256, 256]}, seed=0)
    model.learn(total_timesteps=1100)  # fills the buffer past learning_starts and compiles the update
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(updates):
            model.train(gradient_steps=1, batch_size=256)
        rates.append(updates / (time.perf_counter() - start))
    env.close()
    return {"best": max(rates), "median": float(np.median(rates)), "updates": updates}


def full_returns(seeds=(0, 1, 2), steps: int = 100_000) -> dict:  # pragma: no cover - hours of CPU
    """Evaluation return (10 episodes, mean action) at ``steps`` environment steps, per seed, for both."""
    import tempfile

    import gymnasium as gym

    import softq_ref
    from softq_ref.train.gym_loop import train_gym

    def evaluate(act, seed):
        env, out = gym.make(ENV_ID), []
        for episode in range(10):
            obs, _ = env.reset(seed=10_000 * seed + episode)
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(act(obs))
                total += float(reward)
                done = terminated or truncated
            out.append(total)
        env.close()
        return float(np.mean(out))

    result = {"ours": {}, "sbx": {}}
    config = sac.SACConfig.preset_for("mujoco").replace(total_steps=steps)
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            train_gym(config, env_id=ENV_ID, seed=seed, out_dir=f"{tmp}/run", progress=False)
            agent = softq_ref.load(f"{tmp}/run")
            result["ours"][seed] = evaluate(lambda o: agent.env_action(o, jax.random.PRNGKey(0)), seed)
    if importlib.util.find_spec("sbx") is not None:
        from sbx import SAC

        for seed in seeds:
            model = SAC("MlpPolicy", gym.make(ENV_ID), learning_rate=3e-4, buffer_size=1_000_000, batch_size=256,
                        tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1, learning_starts=1000,
                        policy_kwargs={"net_arch": [256, 256]}, seed=seed)
            model.learn(total_timesteps=steps)
            result["sbx"][seed] = evaluate(lambda o: model.predict(o, deterministic=True)[0], seed)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=500, help="updates per timed repeat")
    parser.add_argument("--full", action="store_true", help="also the returns at 100k steps, 3 seeds each")
    args = parser.parse_args(argv)
    report = {"machine": machine(), "env": ENV_ID, "ours_updates_per_s": ours_updates_per_second(args.updates)}
    sbx = sbx_updates_per_second(args.updates)
    report["sbx_updates_per_s"] = sbx if sbx is not None else "not measured: sbx is not installed (pip install 'softq_ref[bench]')"
    if args.full:
        report["returns_at_100k"] = full_returns()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
