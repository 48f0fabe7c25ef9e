"""The agents (floor 2): one module per algorithm, each exporting one :class:`Algorithm`.

:mod:`softq_ref.agent.registry` maps names to algorithms; the loops, the run directory and
``softq_ref.load`` go through it and never name an algorithm themselves.
"""

from softq_ref.agent import ddpg, registry, sql
from softq_ref.agent.algorithm import Algorithm
from softq_ref.agent.config import DDPGConfig, SQLConfig

SQL = sql.ALGORITHM
DDPG = ddpg.ALGORITHM


def algorithm_for(config) -> Algorithm:
    """The registered algorithm a config belongs to (``registry.for_config``)."""
    return registry.for_config(config)


__all__ = ["Algorithm", "DDPG", "DDPGConfig", "SQL", "SQLConfig", "algorithm_for", "ddpg", "sql"]
