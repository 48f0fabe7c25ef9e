r"""Hypothesis strategies for the tabular objects of the paper.

Each new array shape makes JAX compile every jitted solver again, so sizes are
drawn from a few fixed values (``DEFAULT_NUM_STATES``, ``DEFAULT_NUM_ACTIONS``)
rather than from a range.  Arrays are built in float64 NumPy and handed to JAX in
its default float dtype: float64 inside ``jax.enable_x64(True)``, float32 otherwise.

Probability tables are drawn as non-negative weights, some exactly zero (so
deterministic and sparse rows occur), normalised per row; a row whose weights are
all zero becomes uniform.  Hypothesis shrinks towards zero weights, hence towards
uniform dynamics and policies, zero rewards and unit temperature.

Example:
    ```python
    from hypothesis import given
    from softq_ref.testing import mdps, temperatures

    @given(mdps(), temperatures(allow_zero=True))
    def test_my_solver(mdp, alpha):
        ...
    ```
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import jax.numpy as jnp
import numpy as np

from softq_ref.tabular.mdp import TabularMDP

#: State counts drawn by default (each one compiles the solvers once per dtype).
DEFAULT_NUM_STATES = (2, 3, 5)
#: Action counts drawn by default; 1 is the degenerate case where soft and hard values differ by nothing.
DEFAULT_NUM_ACTIONS = (1, 2, 4)


def _sizes(value, name: str) -> st.SearchStrategy[int]:
    """An int, a sequence of ints (drawn from), or a strategy of ints."""
    if isinstance(value, st.SearchStrategy):
        return value
    values = (value,) if isinstance(value, (int, np.integer)) else tuple(value) if isinstance(value, Sequence) else None
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in values):
        raise ValueError(f"{name} must be a positive int, a non-empty sequence of them, or a strategy; got {value!r}")
    return st.sampled_from(values)


def _floats(value, name: str, default: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    if value is None:
        return default
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return st.just(float(value))
    raise ValueError(f"{name} must be a float, a strategy of floats or None, got {value!r}")


_WEIGHTS = st.one_of(st.just(0.0), st.floats(1e-3, 1.0))
#: Weights of 1e-300..1e-250: probabilities far below float64 resolution of the others.
_TINY_WEIGHTS = st.floats(1e-300, 1e-250)


def _normalise(weights: np.ndarray) -> np.ndarray:
    totals = weights.sum(axis=-1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / weights.shape[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, weights / np.where(totals > 0, totals, 1.0), uniform)


def probability_arrays(shape: tuple[int, ...], *, tiny: bool = False) -> st.SearchStrategy[np.ndarray]:
    """float64 NumPy arrays of ``shape`` whose rows (along the last axis) are probability vectors.

    The building block of ``distributions``, ``policies`` and ``mdps`` (which hand the
    rows to JAX), and of the conformance kit's properties (which keep float64 NumPy).
    Weights are 0 or in [1e-3, 1] (``tiny`` adds weights of 1e-300..1e-250), normalised
    per row; a row of zero weights is uniform.

    Args:
      shape: the array's shape; the last axis is the outcomes.
      tiny: also draw probabilities down to 1e-300.
    """
    elements = st.one_of(_WEIGHTS, _TINY_WEIGHTS) if tiny else _WEIGHTS
    return hnp.arrays(np.float64, tuple(int(n) for n in shape), elements=elements).map(_normalise)


def distributions(size: int, batch_shape: tuple[int, ...] = ()) -> st.SearchStrategy:
    """Probability vectors over ``size`` outcomes, shape ``batch_shape + (size,)``.

    Some entries are exactly zero; rows whose weights are all zero are uniform.

    Args:
      size: the number of outcomes (a positive int).
      batch_shape: leading axes; each row along the last axis is one distribution.

    Returns:
      A strategy of JAX arrays in the default float dtype, rows summing to 1.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    shape = tuple(int(n) for n in batch_shape) + (int(size),)
    return probability_arrays(shape).map(jnp.asarray)


def policies(num_states=DEFAULT_NUM_STATES, num_actions=DEFAULT_NUM_ACTIONS) -> st.SearchStrategy:
    r"""Stochastic policies $\pi(a \mid s)$, shape ``[S, A]``, deterministic rows included.

    Args:
      num_states: $S$: an int, a sequence of ints to draw from, or a strategy.
      num_actions: $A$, likewise.

    Returns:
      A strategy of JAX arrays whose rows sum to 1.
    """
    sizes = st.tuples(_sizes(num_states, "num_states"), _sizes(num_actions, "num_actions"))
    return sizes.flatmap(lambda sa: distributions(sa[1], batch_shape=(sa[0],)))


def q_tables(num_states=DEFAULT_NUM_STATES, num_actions=DEFAULT_NUM_ACTIONS, *, bound: float = 10.0) -> st.SearchStrategy:
    r"""Q-tables $Q(s, a)$, shape ``[S, A]``, entries in $[-\mathrm{bound}, \mathrm{bound}]$.

    Args:
      num_states: $S$: an int, a sequence of ints to draw from, or a strategy.
      num_actions: $A$, likewise.
      bound: the largest absolute entry (finite, > 0).

    Returns:
      A strategy of JAX arrays.
    """
    if not (math.isfinite(bound) and bound > 0):
        raise ValueError(f"bound must be finite and > 0, got {bound!r}")
    sizes = st.tuples(_sizes(num_states, "num_states"), _sizes(num_actions, "num_actions"))
    elements = st.floats(-bound, bound)
    return sizes.flatmap(lambda sa: hnp.arrays(np.float64, sa, elements=elements)).map(jnp.asarray)


def mdps(
    num_states=DEFAULT_NUM_STATES,
    num_actions=DEFAULT_NUM_ACTIONS,
    discounts=None,
    rewards=None,
    *,
    deterministic: bool = False,
) -> st.SearchStrategy:
    r"""Finite MDPs (``TabularMDP``) of a few fixed sizes.

    Args:
      num_states: $S$: an int, a sequence of ints to draw from, or a strategy.
      num_actions: $A$, likewise.
      discounts: $\gamma$: a float, a strategy of floats in $[0, 1)$, or ``None``
        for floats in $[0, 0.95]$.
      rewards: a strategy for each reward entry, or ``None`` for floats in $[-1, 1]$.
      deterministic: if true, every ``transitions[s, a]`` is one-hot (one next state
        drawn per state-action pair).

    Returns:
      A strategy of valid ``TabularMDP`` values.
    """
    return _mdps(
        _sizes(num_states, "num_states"),
        _sizes(num_actions, "num_actions"),
        _floats(discounts, "discounts", st.floats(0.0, 0.95)),
        st.floats(-1.0, 1.0) if rewards is None else rewards,
        bool(deterministic),
    )


@st.composite
def _mdps(draw, num_states, num_actions, discounts, reward_elements, deterministic):
    size_s = draw(num_states)
    size_a = draw(num_actions)
    gamma = draw(discounts)
    if deterministic:
        nxt = draw(hnp.arrays(np.int64, (size_s, size_a), elements=st.integers(0, size_s - 1)))
        transitions = np.eye(size_s)[nxt]
    else:
        transitions = draw(probability_arrays((size_s, size_a, size_s)))
    reward_table = draw(hnp.arrays(np.float64, (size_s, size_a), elements=reward_elements))
    return TabularMDP(jnp.asarray(transitions), jnp.asarray(reward_table), gamma)


def temperatures(
    min_value: float = 1e-3, max_value: float = 10.0, *, allow_zero: bool = False
) -> st.SearchStrategy[float]:
    r"""Temperatures $\alpha$, log-uniform on $[\mathrm{min}, \mathrm{max}]$, optionally with 0.

    Log-uniform so that every order of magnitude is tried equally often; with
    ``allow_zero`` the hard-max limit $\alpha = 0$ is drawn as well, about one
    time in eleven.  Hypothesis shrinks towards $\alpha = 1$ (or the nearest end
    of the range).

    Args:
      min_value: the smallest positive temperature (> 0).
      max_value: the largest (>= ``min_value``).
      allow_zero: also draw exactly 0.0.

    Returns:
      A strategy of Python floats.
    """
    if not (math.isfinite(min_value) and math.isfinite(max_value) and 0 < min_value <= max_value):
        raise ValueError(f"need finite 0 < min_value <= max_value, got {min_value!r}, {max_value!r}")
    lo, hi = math.log(min_value), math.log(max_value)
    if not allow_zero:
        return st.floats(lo, hi).map(lambda x: min(max(math.exp(x), min_value), max_value))
    # About one draw in eleven (and the lower end of the range) is exactly 0; st.one_of
    # would spend half of all examples there.
    below = (hi - lo) / 10 if hi > lo else 1.0
    return st.floats(lo - below, hi).map(lambda x: 0.0 if x < lo else min(max(math.exp(x), min_value), max_value))
