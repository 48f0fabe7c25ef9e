"""softq_ref: the reference implementation of Soft Q-Learning (Haarnoja et al., ICML 2017)."""

from softq_ref.core import *  # noqa: F401,F403
from softq_ref.core import __all__ as _core_all

__version__ = "0.1.0"

__all__ = list(_core_all)
