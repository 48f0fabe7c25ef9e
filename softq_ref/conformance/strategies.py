r"""Hypothesis building blocks shared by the conformance properties.

Each family module of ``softq_ref.conformance.families`` draws its targets' inputs (a
dict of float64 NumPy arrays and Python scalars keyed by argument name) from these and
from ``softq_ref.testing``, whose ``probability_arrays`` gives every probability table
(distributions, policies, transition matrices).  Shapes come from a few fixed sizes (each
new shape makes JAX compile the reference again).  The strategies are written so that
Hypothesis shrinks to readable counterexamples: values shrink towards 0, temperatures
towards the first entry of their list (1, then 0.5, 2, ...), so that a candidate that is
right only at ``alpha = 1`` is reported with ``alpha = 0.5``.  (``softq_ref.testing``'s
``temperatures`` is log-uniform without such a list: it serves the theorem properties.)

Needs Hypothesis (the ``test`` extra); imported only when a check runs.
"""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np

from softq_ref.testing import probability_arrays

__all__ = ["MODERATE_ALPHAS", "WIDE_ALPHAS", "alphas", "arrays", "extreme_values", "floats", "hnp",
           "probability_arrays", "st"]

#: Temperatures tried first, in shrinking order.
MODERATE_ALPHAS = (1.0, 0.5, 2.0, 0.1, 10.0)
WIDE_ALPHAS = (1.0, 0.5, 2.0, 1e-3, 1e3, 1e-6, 0.1, 10.0)


def floats(bound: float) -> st.SearchStrategy[float]:
    """Finite floats in ``[-bound, bound]``, no subnormals (XLA on CPU flushes them)."""
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def alphas(kind: str) -> st.SearchStrategy[float]:
    """``moderate``: [0.05, 20]; ``wide``: [1e-6, 1e3], log-uniform; ``wide0`` adds 0."""
    if kind == "moderate":
        return st.one_of(st.sampled_from(MODERATE_ALPHAS), st.floats(0.05, 20.0))
    wide = st.one_of(st.sampled_from(WIDE_ALPHAS), st.floats(-6.0, 3.0).map(lambda e: float(10.0**e)))
    return st.one_of(wide, st.just(0.0)) if kind == "wide0" else wide


def arrays(shape, bound: float, extra=()) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` with entries in ``[-bound, bound]`` or from ``extra``."""
    elements = floats(bound) if not extra else st.one_of(st.sampled_from(extra), floats(bound))
    return hnp.arrays(np.float64, shape, elements=elements)


def extreme_values(bound: float) -> tuple[float, ...]:
    """Values drawn first at a large ``bound``: 0, +-bound, 1 (ties and overflow)."""
    return (0.0, bound, -bound, 1.0) if bound >= 1e3 else ()
