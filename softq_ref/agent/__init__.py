"""The agents (floor 2): one module per algorithm, each exporting one :class:`Algorithm`.

:mod:`softq_ref.agent.registry` maps names to algorithms; the loops, the run directory and
``softq_ref.load`` go through it and never name an algorithm themselves.
"""

from softq_ref import backend

# The same random bits, drawn faster on a CPU (softq_ref.backend says why and how much).
backend.unroll_threefry_on_cpu()

from softq_ref.agent import ddpg, registry, sql  # noqa: E402
from softq_ref.agent.algorithm import Algorithm  # noqa: E402
from softq_ref.agent.config import DDPGConfig, SQLConfig  # noqa: E402

SQL = sql.ALGORITHM
DDPG = ddpg.ALGORITHM


def algorithm_for(config) -> Algorithm:
    """The registered algorithm a config belongs to (``registry.for_config``)."""
    return registry.for_config(config)


__all__ = ["Algorithm", "DDPG", "DDPGConfig", "SQL", "SQLConfig", "algorithm_for", "ddpg", "sql"]
