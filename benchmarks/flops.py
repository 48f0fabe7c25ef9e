"""A hand count of the matmul FLOPs of one soft Q-learning update (Algorithm 1).

Written from the equations and the network sizes, independently of XLA, to cross-check
XLA's cost analysis of the compiled step.  A dense layer ``[rows, n_in] -> [rows, n_out]``
costs ``2 rows n_in n_out`` FLOPs forward; its backward costs the same again for the
weight gradient and again for the input gradient (each only when needed).  The first
layer of both networks acts on ``[s, a]`` (or ``[s, xi]``) and is computed as
``W_s s + W_a a`` (``softq_ref.agent.networks.MLP.at_many``): the state block once per
state, the action block once per action row.  Only matmuls are counted here; XLA also
counts element-wise work (ReLU, tanh, the Adam updates, the kernel), so its figure is a
little higher.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    batch: int  # B
    obs_dim: int  # o
    action_dim: int  # d
    hidden: tuple[int, ...]  # (128, 128)
    value_samples: int  # K_V
    num_fixed: int  # K
    num_updated: int  # M


def _mlp(sizes: Sizes, out_dim: int, states: int, rows: int, shared_rows: int | None = None,
         forward=True, weight_grads=False, input_grads=False) -> float:
    """FLOPs of an MLP on ``rows`` inputs ``[s, x]`` coming from ``states`` states.

    ``shared_rows`` is the number of distinct ``x`` rows when they are shared by all
    states (the value samples), else ``rows``.  ``input_grads`` back-propagates to ``x``
    through the first layer; the hidden layers' input gradients are needed whenever any
    gradient is taken.
    """
    o, d = sizes.obs_dim, sizes.action_dim
    widths = (*sizes.hidden, out_dim)
    x_rows = rows if shared_rows is None else shared_rows
    total = 0.0
    if forward:
        total += 2 * states * o * widths[0] + 2 * x_rows * d * widths[0]
        total += sum(2 * rows * a * b for a, b in zip(widths[:-1], widths[1:]))
    if weight_grads:
        total += 2 * states * o * widths[0] + 2 * rows * d * widths[0]
        total += sum(2 * rows * a * b for a, b in zip(widths[:-1], widths[1:]))
    if weight_grads or input_grads:
        total += sum(2 * rows * a * b for a, b in zip(widths[:-1], widths[1:]))
    if input_grads:
        total += 2 * rows * d * widths[0]
    return total


def sql_update_flops(sizes: Sizes) -> dict:
    """Matmul FLOPs of each network call of one update, and their total."""
    b, d = sizes.batch, sizes.action_dim
    kv, k, m = sizes.value_samples, sizes.num_fixed, sizes.num_updated
    parts = {
        # eq. (10): target Q at K_V uniform actions shared by the minibatch.
        "target_q_value_samples": _mlp(sizes, 1, b, b * kv, shared_rows=kv),
        # eq. (11): Q forward and backward on the minibatch.
        "q_forward_backward": _mlp(sizes, 1, b, b, weight_grads=True),
        # eq. (13): K fixed particles from the sampler ...
        "sampler_fixed": _mlp(sizes, d, b, b * k),
        # ... and grad_a Q at them (forward, then back to the action).
        "grad_q_at_fixed": _mlp(sizes, 1, b, b * k, input_grads=True),
        # eq. (14): M updated particles, forward and backward to the sampler's weights.
        "sampler_updated_forward_backward": _mlp(sizes, d, b, b * m, weight_grads=True),
        # the kernel's drive term sum_i k(a_i, b_j) grad Q(a_i): a [M, K] x [K, d] product per state.
        "kernel_drive": 2.0 * b * m * k * d,
    }
    parts["total"] = sum(parts.values())
    return parts
