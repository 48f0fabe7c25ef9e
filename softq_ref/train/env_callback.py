"""The host loop's callback dispatch: one compiled call per stretch of environment steps.

Issue 13, item 3.  In the per-step dispatch the host calls the compiled step once per
environment step.  On an NVIDIA H200 that call cost 0.8 to 1.3 ms while the same update took
0.125 ms inside a ``lax.scan``, so HalfCheetah-v5 ran at 634 steps/s
(``docs/benchmarks.md``, "On one NVIDIA H200").  Here the loop over environment steps is
itself compiled: a ``lax.while_loop`` whose body

1. hands the current action (and the previous step's metrics) to the host through
   :func:`jax.experimental.io_callback`; the host steps the gymnasium environment there and
   answers with the packed transition and four control numbers (learn, episode ended, stop,
   episode index);
2. stores the transition, learns when the host said so, and picks the next action, drawing a
   new episode's first action from ``(key, episode index)`` exactly as the per-step dispatch does.

The host ends the stretch (``stop``) where the per-step dispatch would do host work: a metric
row, a checkpoint, the end of the run, an error.  It is the same computation in the same order
with the same keys; on a CPU the carries after a stretch are bit-identical to those of the
per-step dispatch (``tests/test_env_callback.py``).  What the host does between two steps is
unchanged, only where it runs from.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

#: The control numbers the host returns with each transition, in this order.
CONTROL = ("learn", "ended", "stop", "episode")


def metric_names(metric_shapes: dict) -> tuple[str, ...]:
    """The metrics' names in the order they travel, after checking each is a float32 scalar.

    They travel to the host as one float32 vector (one transfer per step, not one per metric);
    ``ValueError`` names a metric that is not a float32 scalar.
    """
    for name, shape in metric_shapes.items():
        if shape.shape != () or shape.dtype != jnp.float32:
            raise ValueError(f"the callback dispatch needs float32 scalar metrics; {name!r} is "
                             f"{shape.dtype}{list(shape.shape)} (use --dispatch step)")
    return tuple(sorted(metric_shapes))


def to_device(packed: np.ndarray, control) -> np.ndarray:
    """The host's answer as one float32 vector: the packed transition, then :data:`CONTROL` as int32 bit patterns."""
    return np.concatenate([np.asarray(packed, np.float32), np.asarray(control, np.int32).view(np.float32)])


def from_device(vector: np.ndarray, action_size: int, num_metrics: int):
    """The device's message as ``(action, metrics, learned)``: the inverse of the chunk's packing."""
    vector = np.asarray(vector)
    return (vector[:action_size], vector[action_size:action_size + num_metrics],
            bool(vector[action_size + num_metrics] != 0))


def make_chunk(flat_step: Callable, first_action: Callable, treedef, obs_dim: int, packed_size: int,
               names: tuple[str, ...], host: Callable) -> Callable:
    """``chunk(leaves, action) -> (leaves, action, metrics, learned)``: environment steps until the host says stop.

    Args:
      flat_step: ``flat_step(leaves, packed, learn) -> (leaves, action, metrics)`` with a traced
        boolean ``learn`` (:func:`softq_ref.train.gym_loop.make_flat_host_step` with ``learn=None``:
        the update under a ``lax.cond``, zero metrics when it does not learn).
      first_action: ``first_action(agent, obs, key) -> action``, a new episode's first action.
      treedef: the carry's tree structure (to read its agent and key).
      obs_dim: the observation's length; the packed input ends with the observation to act at.
      packed_size: the packed transition's length (:func:`softq_ref.train.gym_loop.packed_length`).
      names: the metric names in travel order (:func:`metric_names`).
      host: ``host(message) -> answer``, called once per environment step.  ``message`` is one
        float32 vector, ``[action, previous step's metrics in names order, learned]``
        (:func:`from_device` takes it apart; ``learned`` is 0 at a stretch's first step);
        ``answer`` is :func:`to_device` of the packed transition and :data:`CONTROL`.  One
        vector each way because each array costs the callback on a CPU: 45 us per step with one
        argument and one result, 93 us with three and two (measured).

    Returns the carry's leaves after the last step, the action for the next one, that step's
    metrics (a float32 vector in ``names`` order) and whether that step learned.  Jit it with
    the leaves donated.

    Both choices inside a step are ``lax.cond``s, not selects, because on a CPU that keeps the
    bits of the per-step dispatch (measured, ``tests/test_env_callback.py``): with the update
    and the non-learning step as two compiled stretches instead, or with both first actions
    drawn and one selected, XLA compiles the shared products differently and the floats part
    in the last bits within a few hundred steps.  On a GPU each cond reads its predicate back
    once per step, next to the callback's own transfers.
    """
    answer = jax.ShapeDtypeStruct((packed_size + len(CONTROL),), jnp.float32)

    def body(c):
        leaves, action, metrics, learned, _ = c
        message = jnp.concatenate([action.reshape(-1).astype(jnp.float32), metrics, learned.astype(jnp.float32)[None]])
        reply = io_callback(host, answer, message, ordered=True)
        packed = reply[:packed_size]
        control = jax.lax.bitcast_convert_type(reply[packed_size:], jnp.int32)
        learn, ended, stop, episode = control[0] != 0, control[1] != 0, control[2], control[3]
        leaves, step_action, step_metrics = flat_step(leaves, packed, learn)
        carry = jax.tree.unflatten(treedef, leaves)
        act_obs = packed[packed_size - obs_dim:]
        action = jax.lax.cond(
            ended,
            lambda: first_action(carry.agent, act_obs, jax.random.fold_in(carry.key, episode)).astype(step_action.dtype),
            lambda: step_action,
        )
        vector = jnp.stack([step_metrics[n] for n in names]) if names else jnp.zeros((0,), jnp.float32)
        return leaves, action, vector, learn, stop

    def chunk(leaves, action):
        start = (leaves, action, jnp.zeros((len(names),), jnp.float32), jnp.bool_(False), jnp.int32(0))
        leaves, action, metrics, learned, _ = jax.lax.while_loop(lambda c: c[4] == 0, body, start)
        return leaves, action, metrics, learned

    return chunk
