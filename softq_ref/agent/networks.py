"""Equinox networks: the soft Q-function Q(s, a), the SVGD sampler a = f(xi; s), a deterministic actor.

Each module acts on one example, as Equinox layers do (``__call__``), and also has batched
methods for the agents' training steps (``rows``, ``at_pairs``), which compute the same
function on a whole minibatch as row-major products through :func:`dense`: on the CPU these
are the products XLA hands to its fast matmul kernels, in the forward and the backward pass
(see ``docs/benchmarks.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp


@jax.custom_vjp
def dense(x: jax.Array, weight: jax.Array, bias: jax.Array) -> jax.Array:
    """A dense layer on rows, ``x @ weight.T + bias``: ``[N, in]`` -> ``[N, out]`` (``weight`` is ``[out, in]``).

    The function of ``eqx.nn.Linear`` applied to every row, with a hand-written backward pass
    that is the ordinary one, $\\partial x = g W$, $\\partial W = g^\\top x$,
    $\\partial b = \\sum_n g_n$, except that $g^\\top$ is materialised before the product. The
    weight gradient contracts over the rows, the leading axis of both factors, and XLA on the
    CPU (jax 0.10) sends a product with its left factor in that column-major form to a slow
    generic dot instead of its YNNPACK matmul; with $g^\\top$ stored row-major (an
    ``optimization_barrier`` keeps XLA from folding the transpose back into the dot) it takes
    the fast kernel. Same values up to float32 summation order; reverse mode only (``jax.jvp``
    through it raises: the per-example ``__call__`` is the path for forward mode).
    """
    return x @ weight.T + bias[None, :]


def _dense_fwd(x, weight, bias):
    return dense(x, weight, bias), (x, weight)


def _dense_bwd(residuals, g):
    x, weight = residuals
    g_t = jax.lax.optimization_barrier(g.T)
    return g @ weight, g_t @ x, jnp.sum(g, axis=0)


dense.defvjp(_dense_fwd, _dense_bwd)


class MLP(eqx.Module):
    """A ReLU multilayer perceptron with arbitrary hidden widths and a linear output."""

    layers: tuple[eqx.nn.Linear, ...]

    def __init__(self, in_size: int, out_size: int, hidden_sizes: Sequence[int], *, key: jax.Array):
        sizes = (in_size, *hidden_sizes, out_size)
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            eqx.nn.Linear(n_in, n_out, key=k, dtype=jnp.float32)
            for n_in, n_out, k in zip(sizes[:-1], sizes[1:], keys)
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers[:-1]:
            x = jax.nn.relu(layer(x))
        return self.layers[-1](x)

    def rows(self, x: jax.Array) -> jax.Array:
        """The MLP on every row of ``x``: ``[N, in]`` -> ``[N, out]``, equal to ``jax.vmap(self)(x)``.

        Row-major products through :func:`dense` (``jax.vmap(layer)`` computes ``W x`` per row,
        which batches into a product whose weight gradient XLA on the CPU runs slowly).
        """
        for layer in self.layers[:-1]:
            x = jax.nn.relu(dense(x, layer.weight, layer.bias))
        last = self.layers[-1]
        return dense(x, last.weight, last.bias)

    def at_pairs(self, shared: jax.Array, each: jax.Array) -> jax.Array:
        """The MLP at ``[shared[b], each[b, j]]`` for a batch: ``shared`` ``[B, s]``, ``each`` ``[B, N, e]``
        (or ``[N, e]``, the same ``N`` rows paired with every ``shared[b]``); the result ``[B, N, out]``.

        Equal to ``jax.vmap(self.at_many)(shared, each)`` (``in_axes=(0, None)`` for shared
        rows), computed without ``vmap``: the first layer split by columns as in
        :meth:`at_many` (``shared``'s block once per ``b``, ``each``'s once per distinct row),
        then the ``B N`` rows flattened into one row-major product per layer (:func:`dense`).
        """
        first, rest = self.layers[0], self.layers[1:]
        n_shared = shared.shape[-1]
        b, n = shared.shape[0], each.shape[-2]
        h_shared = dense(shared, first.weight[:, :n_shared], first.bias)  # [B, H]
        w_each = first.weight[:, n_shared:]
        zero = jnp.zeros((w_each.shape[0],), w_each.dtype)
        if each.ndim == 2:
            h = dense(each, w_each, zero)[None, :, :] + h_shared[:, None, :]  # [B, N, H]
        else:
            h = dense(each.reshape(b * n, -1), w_each, zero).reshape(b, n, -1) + h_shared[:, None, :]
        h = h.reshape(b * n, -1)
        for layer in rest:
            h = dense(jax.nn.relu(h), layer.weight, layer.bias)
        return h.reshape(b, n, -1)

    def at_many(self, shared: jax.Array, each: jax.Array) -> jax.Array:
        """The MLP at the ``N`` inputs ``[shared, each[j]]``: ``each`` is ``[N, e]``, the result ``[N, out]``.

        Equal to ``jax.vmap(self)(concatenate([shared repeated N times, each], -1))``, but the
        first layer's weight is split by columns, $W [x; y] = W_x x + W_y y$, so the product
        with ``shared`` (the observation, when one state is paired with many actions or
        noise vectors) is computed once instead of ``N`` times, and the ``[N, in]``
        concatenation is never built.
        """
        first, rest = self.layers[0], self.layers[1:]
        n_shared = shared.shape[-1]
        h_shared = first.weight[:, :n_shared] @ shared + first.bias  # [H]
        h = each @ first.weight[:, n_shared:].T + h_shared[None, :]  # [N, H]
        for layer in rest:
            # ``layer`` on every row, written as one row-major product: ``jax.vmap(layer)`` nested in
            # the agent's vmap over states puts the batch axes last and costs a transpose per layer.
            h = jax.nn.relu(h) @ layer.weight.T + layer.bias[None, :]
        return h


class QNetwork(eqx.Module):
    """The soft Q-function $Q_\\theta(s, a)$ of eq. (11): an MLP on the concatenation (s, a)."""

    net: MLP

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: Sequence[int], *, key: jax.Array):
        self.net = MLP(obs_dim + action_dim, 1, hidden_sizes, key=key)

    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        return self.net(jnp.concatenate([obs, action], axis=-1))[0]

    def at_actions(self, obs: jax.Array, actions: jax.Array) -> jax.Array:
        """$Q(s, a_j)$ for one state and ``[N, d]`` actions: ``[N]`` (the value samples, the particles)."""
        return self.net.at_many(obs, actions)[:, 0]

    def rows(self, obs: jax.Array, actions: jax.Array) -> jax.Array:
        """$Q(s_n, a_n)$ for ``[N, obs_dim]`` observations and ``[N, d]`` actions: ``[N]`` (``jax.vmap(self)``, row-major)."""
        return self.net.rows(jnp.concatenate([obs, actions], axis=-1))[:, 0]

    def at_pairs(self, obs: jax.Array, actions: jax.Array) -> jax.Array:
        """$Q(s_b, a_{bj})$ for ``[B, obs_dim]`` observations and ``[B, N, d]`` actions (or ``[N, d]`` shared by every state): ``[B, N]``."""
        return self.net.at_pairs(obs, actions)[..., 0]


class SamplingNetwork(eqx.Module):
    """The amortised SVGD sampler $a = f^\\phi(\\xi; s)$ of Sec. 3.3, squashed by tanh.

    The noise $\\xi \\sim N(0, I)$ has the action's dimension and is concatenated with the
    observation, as in the original code's ``StochasticNNPolicy``; the tanh output keeps
    actions in $[-1, 1]^d$ (spec deviation ``dev-tanh``).
    """

    net: MLP
    action_dim: int = eqx.field(static=True)

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: Sequence[int], *, key: jax.Array):
        self.net = MLP(obs_dim + action_dim, action_dim, hidden_sizes, key=key)
        self.action_dim = action_dim

    def __call__(self, obs: jax.Array, xi: jax.Array) -> jax.Array:
        return jnp.tanh(self.net(jnp.concatenate([obs, xi], axis=-1)))

    def at_noise(self, obs: jax.Array, xi: jax.Array) -> jax.Array:
        """$f^\\phi(\\xi_j; s)$ for one state and ``[N, d]`` noise vectors: ``[N, d]`` (the particles)."""
        return jnp.tanh(self.net.at_many(obs, xi))

    def at_pairs(self, obs: jax.Array, xi: jax.Array) -> jax.Array:
        """$f^\\phi(\\xi_{bj}; s_b)$ for ``[B, obs_dim]`` observations and ``[B, N, d]`` noise: ``[B, N, d]``."""
        return jnp.tanh(self.net.at_pairs(obs, xi))

    def sample(self, obs: jax.Array, key: jax.Array, num: int) -> jax.Array:
        """``num`` actions for one observation, ``[num, action_dim]``."""
        xi = jax.random.normal(key, (num, self.action_dim), dtype=jnp.float32)
        return jax.vmap(self, in_axes=(None, 0))(obs, xi)


class DeterministicActor(eqx.Module):
    """DDPG's deterministic policy $a = \\tanh(\\mu_\\phi(s))$ (the baseline of Sec. 5)."""

    net: MLP

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: Sequence[int], *, key: jax.Array):
        self.net = MLP(obs_dim, action_dim, hidden_sizes, key=key)

    def __call__(self, obs: jax.Array) -> jax.Array:
        return jnp.tanh(self.net(obs))

    def rows(self, obs: jax.Array) -> jax.Array:
        """The actions for ``[N, obs_dim]`` observations: ``[N, d]`` (``jax.vmap(self)``, row-major)."""
        return jnp.tanh(self.net.rows(obs))
