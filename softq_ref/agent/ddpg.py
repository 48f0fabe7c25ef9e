"""DDPG (Lillicrap et al., 2016), the baseline of the paper's Sec. 5, on the same networks and buffer.

A deterministic tanh actor $\\mu_\\phi(s)$, a critic $Q_\\theta(s, a)$ regressed on the
hard Bellman target $r + \\gamma (1 - d) Q_{\\bar\\theta}(s', \\mu_{\\bar\\phi}(s'))$ (the soft
target of eq. (11) with the soft value replaced by the target actor's Q), the actor
moved up $\\nabla_a Q$; Gaussian exploration noise; Polyak-averaged targets
(spec deviation ``dev-ddpg-baseline``).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from softq_ref.agent.algorithm import Algorithm
from softq_ref.agent.config import DDPGConfig
from softq_ref.agent.networks import DeterministicActor, QNetwork
from softq_ref.agent.optim import adam_init, adam_step, regress_q, update_target, with_learning_rate
from softq_ref.agent.replay import Transition
from softq_ref.core import soft_bellman_target



class DDPGHParams(NamedTuple):
    discount: jax.Array
    reward_scale: jax.Array
    exploration_std: jax.Array
    target_tau: jax.Array
    target_update_period: jax.Array


class DDPGState(eqx.Module):
    q: QNetwork
    q_target: QNetwork
    actor: DeterministicActor
    actor_target: DeterministicActor
    q_opt_state: optax.OptState
    actor_opt_state: optax.OptState
    step: jax.Array
    hparams: DDPGHParams


def init(config: DDPGConfig, obs_dim: int, action_dim: int, key: jax.Array) -> DDPGState:
    k_q, k_pi = jax.random.split(key)
    q = QNetwork(obs_dim, action_dim, config.hidden_sizes, key=k_q)
    actor = DeterministicActor(obs_dim, action_dim, config.hidden_sizes, key=k_pi)
    f32 = jnp.float32
    return DDPGState(
        q=q,
        q_target=q,
        actor=actor,
        actor_target=actor,
        q_opt_state=adam_init(q, config.q_lr),
        actor_opt_state=adam_init(actor, config.policy_lr),
        step=jnp.zeros((), jnp.int32),
        hparams=DDPGHParams(
            discount=f32(config.discount),
            reward_scale=f32(config.reward_scale),
            exploration_std=f32(config.exploration_std),
            target_tau=f32(config.target_tau),
            target_update_period=jnp.int32(config.target_update_period),
        ),
    )


def train_step(state: DDPGState, batch: Transition, key: jax.Array) -> tuple[DDPGState, dict[str, jax.Array]]:
    """One critic and one actor update, both at the step's starting parameters."""
    del key  # DDPG's update is deterministic given the batch.
    hp = state.hparams
    next_actions = state.actor_target.rows(batch.next_obs)
    next_q = state.q_target.rows(batch.next_obs, next_actions)
    target = soft_bellman_target(hp.reward_scale * batch.reward, hp.discount, batch.done, next_q)

    new_q, q_opt_state, q_loss, q_pred = regress_q(state.q, state.q_opt_state, batch.obs, batch.action, target)

    def actor_loss_fn(actor):
        return -jnp.mean(state.q.rows(batch.obs, actor.rows(batch.obs)))

    actor_loss, actor_grads = eqx.filter_value_and_grad(actor_loss_fn)(state.actor)
    new_actor, actor_opt_state = adam_step(state.actor, actor_grads, state.actor_opt_state)

    step = state.step + 1

    def polyak(target, online):
        return update_target(target, online, step, hp.target_update_period, hp.target_tau)

    new_state = eqx.tree_at(
        lambda s: (s.q, s.q_target, s.actor, s.actor_target, s.q_opt_state, s.actor_opt_state, s.step),
        state,
        (new_q, polyak(state.q_target, new_q), new_actor, polyak(state.actor_target, new_actor), q_opt_state, actor_opt_state, step),
    )
    metrics = {"q_loss": q_loss, "mean_q": jnp.mean(q_pred), "actor_loss": actor_loss}
    return new_state, metrics


def act(state: DDPGState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """The deterministic policy (``key`` unused; kept for a common signature)."""
    del key
    return state.actor(obs)


def explore(state: DDPGState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """The actor's action plus Gaussian noise, clipped to the action box."""
    mean = state.actor(obs)
    noise = state.hparams.exploration_std * jax.random.normal(key, mean.shape, jnp.float32)
    return jnp.clip(mean + noise, -1.0, 1.0)


def with_hparams(
    state: DDPGState,
    *,
    q_lr=None,
    policy_lr=None,
    discount=None,
    reward_scale=None,
    exploration_std=None,
    target_tau=None,
    target_update_period=None,
) -> DDPGState:
    """A copy of ``state`` with new traced hyperparameters (no recompilation of ``train_step``)."""
    hp = state.hparams
    f32, i32 = jnp.float32, jnp.int32
    keep = lambda old, new, cast: old if new is None else cast(new)  # noqa: E731
    hp = DDPGHParams(
        discount=keep(hp.discount, discount, f32),
        reward_scale=keep(hp.reward_scale, reward_scale, f32),
        exploration_std=keep(hp.exploration_std, exploration_std, f32),
        target_tau=keep(hp.target_tau, target_tau, f32),
        target_update_period=keep(hp.target_update_period, target_update_period, i32),
    )
    return eqx.tree_at(
        lambda s: (s.hparams, s.q_opt_state, s.actor_opt_state),
        state,
        (hp, with_learning_rate(state.q_opt_state, q_lr), with_learning_rate(state.actor_opt_state, policy_lr)),
    )


METRICS = ("q_loss", "mean_q", "actor_loss")

#: The DDPG baseline as one value (see :class:`~softq_ref.agent.algorithm.Algorithm`).
ALGORITHM = Algorithm(
    name="ddpg",
    init=init,
    train_step=train_step,
    explore=explore,
    act=act,
    config_class=DDPGConfig,
    metrics=METRICS,
    with_hparams=with_hparams,
    action_space="box",
)
