"""The soft Q-learning agent and its DDPG baseline (floor 2)."""

from typing import Callable, NamedTuple

from softq_ref.agent import ddpg, sql
from softq_ref.agent.config import DDPGConfig, SQLConfig


class Algorithm(NamedTuple):
    """What a training loop needs of an agent: pure functions over its state pytree."""

    name: str
    init: Callable
    train_step: Callable
    explore: Callable
    act: Callable


SQL = Algorithm("sql", sql.init, sql.train_step, sql.explore, sql.act)
DDPG = Algorithm("ddpg", ddpg.init, ddpg.train_step, ddpg.explore, ddpg.act)


def algorithm_for(config) -> Algorithm:
    """The algorithm a config belongs to."""
    if isinstance(config, SQLConfig):
        return SQL
    if isinstance(config, DDPGConfig):
        return DDPG
    raise TypeError(f"expected SQLConfig or DDPGConfig, got {type(config).__name__}")


__all__ = ["Algorithm", "DDPG", "DDPGConfig", "SQL", "SQLConfig", "algorithm_for", "ddpg", "sql"]
