"""Equinox networks: the soft Q-function Q(s, a), the SVGD sampler a = f(xi; s), a deterministic actor.

Each module acts on one example, as Equinox layers do; the agent batches with ``jax.vmap``.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp


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
