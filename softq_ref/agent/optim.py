"""The update pieces soft Q-learning and DDPG share: Adam with a traced learning rate, the
regression of eq. (11) on a fixed target, and the target-network schedule."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from softq_ref.core import soft_q_loss

#: Adam whose learning rate lives in its state (``opt_state.hyperparams``), so it is traced and
#: changing it does not recompile the training step.
adam = optax.inject_hyperparams(optax.adam)


def adam_init(module: eqx.Module, learning_rate: float) -> optax.OptState:
    return adam(learning_rate=jnp.float32(learning_rate)).init(eqx.filter(module, eqx.is_array))


def adam_step(module: eqx.Module, grads, opt_state: optax.OptState):
    """One Adam step at the learning rate stored in ``opt_state``: ``(new_module, new_opt_state)``."""
    updates, opt_state = adam(learning_rate=0.0).update(grads, opt_state, eqx.filter(module, eqx.is_array))
    return eqx.apply_updates(module, updates), opt_state


def with_learning_rate(opt_state: optax.OptState, learning_rate) -> optax.OptState:
    """``opt_state`` with a new traced learning rate (``None``: unchanged).

    A new hyperparameter dict: the one in ``opt_state`` may be shared with the caller and must not change.
    """
    if learning_rate is None:
        return opt_state
    return opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": jnp.float32(learning_rate)})


def regress_q(q: eqx.Module, opt_state: optax.OptState, obs: jax.Array, action: jax.Array, target: jax.Array):
    """One Adam step on eq. (11), ``0.5 * mean((target - Q(s, a))^2)``, with ``target`` held fixed.

    Returns ``(new_q, new_opt_state, loss, q_pred)``; the loss and predictions are those at the
    parameters the step started with.  ``q`` is a :class:`~softq_ref.agent.networks.QNetwork`
    (evaluated on the minibatch's rows with ``q.rows``, i.e. ``jax.vmap(q)`` as row-major products).
    """

    def loss_fn(q):
        q_pred = q.rows(obs, action)
        return soft_q_loss(q_pred, target), q_pred

    (loss, q_pred), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(q)
    new_q, opt_state = adam_step(q, grads, opt_state)
    return new_q, opt_state, loss, q_pred


def update_target(target: eqx.Module, online: eqx.Module, step: jax.Array, period: jax.Array, tau: jax.Array):
    """Every ``period`` steps ``target <- tau * online + (1 - tau) * target`` (``tau = 1``: a hard copy).

    optax's ``incremental_update`` (Polyak averaging) inside ``periodic_update`` (the
    schedule); both act on the array leaves only, the rest of the module is kept as is.
    ``period`` and ``tau`` are traced, so changing them does not recompile the step.
    """
    target_arrays, static = eqx.partition(target, eqx.is_array)
    online_arrays = eqx.filter(online, eqx.is_array)
    averaged = optax.incremental_update(online_arrays, target_arrays, tau)
    return eqx.combine(optax.periodic_update(averaged, target_arrays, step, period), static)
