"""Public Hypothesis strategies for finite MDPs, Q-tables, policies and temperatures.

Floor 3: imports ``softq_ref.tabular``.  Hypothesis is a test extra
(``pip install 'softq_ref[test]'``); importing this package without it raises an
``ImportError`` that says so.  Third-party implementations can reuse these
strategies to check themselves against the paper's theorems.
"""

try:
    import hypothesis  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised only without the test extra
    raise ImportError(
        "softq_ref.testing needs Hypothesis, which is a test extra: "
        "install it with `pip install 'softq_ref[test]'` (or `pip install hypothesis`)"
    ) from err

from softq_ref.testing.strategies import (
    DEFAULT_NUM_ACTIONS,
    DEFAULT_NUM_STATES,
    distributions,
    mdps,
    policies,
    probability_arrays,
    q_tables,
    temperatures,
)

__all__ = [
    "DEFAULT_NUM_ACTIONS",
    "DEFAULT_NUM_STATES",
    "distributions",
    "mdps",
    "policies",
    "probability_arrays",
    "q_tables",
    "temperatures",
]
