"""``softq_ref.load(run_dir)``: a trained agent you can roll out in your own loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.agent import Algorithm, algorithm_for
from softq_ref.agent.config import config_from_dict
from softq_ref.io import checkpoint as ckpt


@dataclass(frozen=True)
class TrainedAgent:
    """A trained policy: ``act(obs, key)`` draws an action in ``[-1, 1]^d`` (stochastic for SQL).

    ``env_action(obs, key)`` rescales it to the environment's action bounds, for gymnasium
    environments whose box is not ``[-1, 1]^d``.
    """

    algo: Algorithm
    state: object
    config: object
    env_id: str
    run_dir: Path
    seed: int
    action_low: np.ndarray | None = None
    action_high: np.ndarray | None = None

    def act(self, obs, key: jax.Array) -> np.ndarray:
        """One action for one observation (the sampler's a = f(xi; s) for SQL; deterministic for DDPG)."""
        return np.asarray(_act(self.algo.act, self.state, jnp.asarray(obs, jnp.float32), key))

    def env_action(self, obs, key: jax.Array) -> np.ndarray:
        a = self.act(obs, key)
        if self.action_low is None:
            return a
        return (self.action_low + (a + 1.0) * 0.5 * (self.action_high - self.action_low)).astype(np.float32)


_JITTED = {}


def _act(fn, state, obs, key):
    if fn not in _JITTED:
        _JITTED[fn] = jax.jit(fn)
    return _JITTED[fn](state, obs, key)


def load(run_dir: str | Path, seed_index: int = 0) -> TrainedAgent:
    """The agent of one seed of a run directory written by ``softq-ref train``."""
    run_dir = Path(run_dir)
    meta = ckpt.read_json(run_dir / ckpt.CONFIG)
    config = config_from_dict(meta["config"])
    algo = algorithm_for(config)
    seeds = meta["seeds"]
    if not 0 <= seed_index < len(seeds):
        raise ValueError(f"seed_index {seed_index} out of range: the run has {len(seeds)} seed(s)")
    low = high = None
    if meta["loop"] == "jax":
        from softq_ref.train.runner import agent_of, load_carry

        _, _, _, carry = load_carry(run_dir)
        state = agent_of(carry, seed_index)
    else:
        from softq_ref.train.gym_loop import _init_carry, make_env

        env = make_env(meta["env_id"], config.max_path_length)
        low, high = env.action_space.low, env.action_space.high
        like = _init_carry(algo, config, env.observation_space.shape[0], env.action_space.shape[0], seeds[0])
        env.close()
        state = ckpt.load(run_dir / ckpt.CHECKPOINT, like).agent
    return TrainedAgent(
        algo=algo, state=state, config=config, env_id=meta["env_id"], run_dir=run_dir,
        seed=seeds[seed_index], action_low=low, action_high=high,
    )
