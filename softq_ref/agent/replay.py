"""A fixed-capacity replay buffer as a JAX pytree: pure ``add`` and ``sample``, usable in ``jit`` and ``lax.scan``."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Transition(NamedTuple):
    """One transition (or a batch of them, with a leading axis).

    ``done`` is 1.0 only when the next state is terminal (gymnasium's ``terminated``);
    a time-limit truncation is stored with ``done = 0`` so the target still bootstraps.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    done: jax.Array


class ReplayBuffer(NamedTuple):
    """Ring buffer: ``data`` holds ``capacity`` transitions, ``position`` the next slot, ``size`` the fill."""

    data: Transition
    position: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return self.data.reward.shape[0]


def init(capacity: int, obs_dim: int, action_dim: int) -> ReplayBuffer:
    """An empty buffer of float32 storage."""
    if capacity < 1:
        raise ValueError(f"replay capacity must be >= 1, got {capacity}")
    f32 = jnp.float32
    data = Transition(
        obs=jnp.zeros((capacity, obs_dim), f32),
        action=jnp.zeros((capacity, action_dim), f32),
        reward=jnp.zeros((capacity,), f32),
        next_obs=jnp.zeros((capacity, obs_dim), f32),
        done=jnp.zeros((capacity,), f32),
    )
    return ReplayBuffer(data=data, position=jnp.zeros((), jnp.int32), size=jnp.zeros((), jnp.int32))


def add(buffer: ReplayBuffer, transition: Transition) -> ReplayBuffer:
    """Write one transition at ``position``, overwriting the oldest when full."""
    i = buffer.position
    data = jax.tree.map(lambda store, x: store.at[i].set(jnp.asarray(x, store.dtype)), buffer.data, transition)
    capacity = buffer.capacity
    return ReplayBuffer(
        data=data,
        position=(i + 1) % capacity,
        size=jnp.minimum(buffer.size + 1, capacity),
    )


def add_batch(buffer: ReplayBuffer, transitions: Transition) -> ReplayBuffer:
    """Write ``n`` transitions (a leading axis of ``n <= capacity``) at ``position`` onwards, wrapping around.

    The same buffer as ``n`` calls of :func:`add` in the order of the leading axis.
    """
    n = transitions.reward.shape[0]
    capacity = buffer.capacity
    if n > capacity:
        raise ValueError(f"cannot add {n} transitions at once to a buffer of {capacity}")
    idx = (buffer.position + jnp.arange(n)) % capacity
    data = jax.tree.map(lambda store, x: store.at[idx].set(jnp.asarray(x, store.dtype)), buffer.data, transitions)
    return ReplayBuffer(
        data=data,
        position=(buffer.position + n) % capacity,
        size=jnp.minimum(buffer.size + n, capacity),
    )


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Transition:
    """``batch_size`` transitions drawn uniformly with replacement from the filled part."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda store: _rows(store, idx), buffer.data)


def _rows(store: jax.Array, idx: jax.Array) -> jax.Array:
    """``store[idx]``, gathered from a ``[capacity, -1]`` view of the storage.

    The same values.  Why the view: in a ``lax.scan`` that adds and then samples, XLA on
    CPU fuses the write of a scalar field (reward, done) into the gather that reads it,
    and must then copy the whole ``[capacity]`` array every step to keep the in-place
    write legal (measured: two 4 MB copies per field per step with a 10^6 buffer, +35%
    per training step on the multi-goal task).  Gathering rows of a 2-D view (a free
    reshape) does not fuse that way, and the buffer stays in place.
    """
    rows = store.reshape(store.shape[0], -1)[idx]
    return rows.reshape(idx.shape + store.shape[1:])


def in_time_order(buffer: ReplayBuffer) -> Transition:
    """Every stored transition, oldest first: ``[capacity, ...]`` (the on-policy rollout of a full buffer).

    Slot ``position`` holds the oldest transition of a full ring buffer, so rolling the storage
    by ``-position`` puts the rows in the order they were added.  An on-policy loop calls this
    when the buffer has just been filled anew (``position == 0``: the roll is the identity).
    """
    return jax.tree.map(lambda store: jnp.roll(store, -buffer.position, axis=0), buffer.data)
