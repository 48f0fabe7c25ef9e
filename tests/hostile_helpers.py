"""Shared by tests/test_hostile_*.py: small hostile gymnasium environments and a directory hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import gymnasium as gym
import numpy as np


def tree_hash(path: Path) -> str:
    """SHA-256 over every file's relative path and bytes (the lock file's mtime does not count)."""
    path = Path(path)
    sha = hashlib.sha256()
    if not path.exists():
        return "absent"
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    for p in sorted(path.rglob("*")):
        sha.update(str(p.relative_to(path)).encode())
        if p.is_file():
            sha.update(p.read_bytes())
    return sha.hexdigest()


def one_line_error(err: str, *needles: str) -> bool:
    """The stderr of a refused command: one line, no traceback, naming each needle."""
    err = err.strip()
    return len(err.splitlines()) == 1 and "Traceback" not in err and all(n in err for n in needles)


class _BoxEnv(gym.Env):
    """A trivial env whose action space has the given shape."""

    def __init__(self, action_shape=(2,), nan_at: int | None = None):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, action_shape, np.float32)
        self.nan_at = nan_at
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        reward = float("nan") if self.nan_at is not None and self.t == self.nan_at else -float(np.sum(np.square(action)))
        return np.zeros(2, np.float32), reward, False, self.t % 20 == 0, {}


def register_hostile_envs() -> None:
    for env_id, kwargs in {
        "hostile/Box22-v0": {"action_shape": (2, 2)},
        "hostile/Box0-v0": {"action_shape": (0,)},
        "hostile/NaNReward-v0": {"nan_at": 6},
        "hostile/Fine-v0": {},
    }.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=_BoxEnv, kwargs=kwargs, max_episode_steps=20)
