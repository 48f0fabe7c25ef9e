"""A carry handed to a compiled call as a few flat arrays instead of dozens of leaves.

The host loop's per-step dispatch calls its compiled step once per environment step, handing
over the whole carry (the agent's parameters and optimiser states, the replay buffer, the key,
the counters; 71 arrays for SQL).  On an NVIDIA H200 the same compiled update cost 0.87 ms a
call with its state as 61 arrays and 0.30 ms with the state as one array per dtype, in one
process (``docs/benchmarks.md``, "On one NVIDIA H200 (2026-12-01)"): most of a call went on
handling the arrays, not on computing.  So the per-step dispatch hands over:

* the small leaves (agent, key, counters) as **one flat array per dtype**, in leaf order, and
* the replay buffer's arrays **as they are**: they are large, and the compiled step writes one
  transition into them in place; concatenating them would copy the whole buffer every step.

:func:`split` and :func:`join` convert between the two forms, inside ``jit`` (``jax.numpy``) and
on the host (NumPy) alike: slicing and reshaping only, so values are carried bit for bit.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class Layout(NamedTuple):
    """Where each leaf of a carry lives in its flat form (built once by :func:`layout_of`)."""

    #: per packed dtype (in first-appearance order): the leaf indices packed into that dtype's array
    groups: tuple[tuple[str, tuple[int, ...]], ...]
    #: the leaf indices handed over as their own arrays (the replay buffer's)
    loose: tuple[int, ...]
    #: every leaf's shape
    shapes: tuple[tuple[int, ...], ...]


def layout_of(leaves, packed) -> Layout:
    """The layout for ``leaves`` (a carry's leaves); ``packed[i]`` says whether leaf ``i`` is packed.

    Raises ``ValueError`` when the two lists differ in length.
    """
    leaves, packed = list(leaves), list(packed)
    if len(leaves) != len(packed):
        raise ValueError(f"{len(leaves)} leaves but {len(packed)} packing flags")
    groups: dict[str, list[int]] = {}
    for i, (leaf, pack) in enumerate(zip(leaves, packed)):
        if pack:
            groups.setdefault(np.dtype(leaf.dtype).name, []).append(i)
    return Layout(
        groups=tuple((name, tuple(idx)) for name, idx in groups.items()),
        loose=tuple(i for i, pack in enumerate(packed) if not pack),
        shapes=tuple(tuple(np.shape(leaf)) for leaf in leaves),
    )


def join(leaves, layout: Layout, xp: Any = np) -> list:
    """``leaves`` in flat form: one array per packed dtype, then the loose leaves, in that order.

    ``xp`` is the array module the concatenation uses (``jax.numpy`` inside ``jit``).
    """
    leaves = list(leaves)
    flats = [xp.concatenate([xp.reshape(leaves[i], (-1,)) for i in idx]) for _, idx in layout.groups]
    return flats + [leaves[i] for i in layout.loose]


def split(arrays, layout: Layout) -> list:
    """The inverse of :func:`join`: the carry's leaves, in leaf order, as slices of ``arrays``."""
    arrays = list(arrays)
    leaves: list = [None] * len(layout.shapes)
    for flat, (_, idx) in zip(arrays, layout.groups):
        start = 0
        for i in idx:
            size = int(np.prod(layout.shapes[i], dtype=np.int64))
            leaves[i] = flat[start:start + size].reshape(layout.shapes[i])
            start += size
    for array, i in zip(arrays[len(layout.groups):], layout.loose):
        leaves[i] = array
    return leaves
