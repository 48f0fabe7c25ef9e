"""softq_ref: the reference implementation of Soft Q-Learning (Haarnoja et al., ICML 2017).

The equations of the paper are pure functions in :mod:`softq_ref.core` (re-exported here);
exact dynamic programming on finite MDPs is in :mod:`softq_ref.tabular`; the agent
(Algorithm 1) in :mod:`softq_ref.agent`; training loops in :mod:`softq_ref.train`.
"""

import importlib.metadata as _metadata

try:
    __version__ = _metadata.version("softq_ref")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"

from softq_ref.core import *  # noqa: E402,F401,F403
from softq_ref.core import __all__ as _core_all  # noqa: E402
from softq_ref.agent.config import DDPGConfig, SQLConfig  # noqa: E402
from softq_ref.trained import TrainedAgent, load  # noqa: E402
import softq_ref.envs  # noqa: E402,F401  (registers softq_ref/MultiGoal-v0 with gymnasium)

__all__ = [*_core_all, "DDPGConfig", "SQLConfig", "TrainedAgent", "load"]
