"""``softq_ref.load(run_dir)``: a trained agent you can roll out in your own loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.agent.algorithm import Algorithm
from softq_ref.io.run_dir import RunDir


@dataclass(frozen=True)
class TrainedAgent:
    """A trained policy: ``act(obs, key)`` draws an action in ``[-1, 1]^d`` (stochastic for SQL).

    ``env_action(obs, key)`` rescales it to the environment's action bounds, for gymnasium
    environments whose box is not ``[-1, 1]^d``.  Both raise ``ValueError`` for an observation
    that is not a finite vector of the environment's observation size.
    """

    algo: Algorithm
    state: object
    config: object
    env_id: str
    run_dir: Path
    seed: int
    action_low: np.ndarray | None = None
    action_high: np.ndarray | None = None
    obs_dim: int | None = None

    def act(self, obs, key: jax.Array) -> np.ndarray:
        """One action for one observation (the sampler's a = f(xi; s) for SQL; deterministic for DDPG)."""
        return np.asarray(_act(self.algo.act, self.state, jnp.asarray(self._check_obs(obs)), key))

    def env_action(self, obs, key: jax.Array) -> np.ndarray:
        a = self.act(obs, key)
        if self.action_low is None:
            return a
        return (self.action_low + (a + 1.0) * 0.5 * (self.action_high - self.action_low)).astype(np.float32)

    def _check_obs(self, obs) -> np.ndarray:
        try:
            arr = np.asarray(obs, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"act() needs a numeric observation of shape ({self.obs_dim},), got {type(obs).__name__}") from None
        if self.obs_dim is not None and arr.shape != (self.obs_dim,):
            raise ValueError(f"act() needs an observation of shape ({self.obs_dim},), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"act() got a non-finite observation {arr.tolist()}")
        return arr


_JITTED = {}


def _act(fn, state, obs, key):
    if fn not in _JITTED:
        _JITTED[fn] = jax.jit(fn)
    return _JITTED[fn](state, obs, key)


def load(run_dir: str | Path, seed_index: int = 0) -> TrainedAgent:
    """The agent of one seed of a run directory written by ``softq-ref train``.

    Raises ``ValueError`` (one line naming the file) for a directory that is not a run, a
    malformed ``config.json`` and a checkpoint that is missing, corrupt or another run's.
    """
    run = RunDir.open(run_dir)
    config, algo, seeds = run.config, run.algo, run.seeds
    if isinstance(seed_index, bool) or not isinstance(seed_index, int) or not 0 <= seed_index < len(seeds):
        raise ValueError(f"seed_index {seed_index!r} out of range: the run has {len(seeds)} seed(s)")
    low = high = None
    if run.loop == "jax":
        from softq_ref.train.runner import _init_carries, agent_of, jax_env_of, num_envs_of

        env = jax_env_of(run.env_id)
        obs_dim = env.obs_dim
        carry = run.load_checkpoint(_init_carries(algo, config, env, seeds, num_envs_of(run)))
        state = agent_of(carry, seed_index)
    else:
        from softq_ref.train.gym_loop import _init_carry, action_space_kind, init_carries, make_env, space_dims

        env = make_env(run.env_id, config.max_path_length)
        if action_space_kind(env.action_space) == "box":
            low, high = env.action_space.low, env.action_space.high
        obs_dim, action_dim = space_dims(env)
        env.close()
        if run.meta["schema"] >= 2:
            carries = run.load_checkpoint(init_carries(algo, config, obs_dim, action_dim, seeds))
            state = jax.tree.map(lambda x: jnp.asarray(x[seed_index]), carries.agent)
        else:  # schema 1: one seed, no leading axis
            state = run.load_checkpoint(_init_carry(algo, config, obs_dim, action_dim, seeds[0])).agent
    return TrainedAgent(
        algo=algo, state=state, config=config, env_id=run.env_id, run_dir=run.path,
        seed=seeds[seed_index], action_low=low, action_high=high, obs_dim=obs_dim,
    )
