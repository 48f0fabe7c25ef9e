"""Soft Q-learning, Algorithm 1 of Haarnoja et al. (2017), as one pure, jit-able training step.

``train_step(state, batch, key) -> (state, metrics)`` composes the equations of
:mod:`softq_ref.core`:

1. the soft value of the next states by importance sampling, eq. (10), with the
   *target* Q-network and ``K_V`` actions from the proposal (uniform on the action box,
   shared across the minibatch, as in the original code; or the sampler itself);
2. the soft Bellman target and the loss of eq. (11), one Adam step on Q;
3. ``K`` fixed and ``M`` updated actions per state from the sampler, the SVGD direction
   of eq. (13) toward ``exp(Q / alpha)`` (with the tanh correction, ``dev-tanh``) and its
   median-heuristic bandwidth, backpropagated through the sampler by eq. (14), one Adam
   step on the sampler;
4. every ``target_update_period`` steps, ``target <- tau * Q + (1 - tau) * target``.

Both gradients are taken at the parameters the step started with, as the original code
does in one session run.  Temperature, discount, learning rates and the target schedule
are arrays in the state, so changing them does not recompile the step.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from softq_ref.agent.algorithm import Algorithm
from softq_ref.agent.config import SQLConfig
from softq_ref.agent.networks import QNetwork, SamplingNetwork
from softq_ref.agent.optim import adam_init, adam_step, regress_q, update_target, with_learning_rate
from softq_ref.agent.replay import Transition
from softq_ref.core import (
    median_bandwidth,
    soft_bellman_target,
    soft_value_is,
    svgd_direction,
    svgd_surrogate,
    tanh_log_det_jacobian,
    uniform_log_density,
)



class SQLHParams(NamedTuple):
    """The hyperparameters that may change without recompiling (all float32 scalars)."""

    alpha: jax.Array
    discount: jax.Array
    target_tau: jax.Array
    target_update_period: jax.Array


class SQLState(eqx.Module):
    """The agent as an explicit pytree: networks, target, optimiser states, step counter."""

    q: QNetwork
    q_target: QNetwork
    policy: SamplingNetwork
    q_opt_state: optax.OptState
    policy_opt_state: optax.OptState
    step: jax.Array
    hparams: SQLHParams
    num_fixed: int = eqx.field(static=True)
    num_updated: int = eqx.field(static=True)
    value_samples: int = eqx.field(static=True)
    value_proposal: str = eqx.field(static=True)


def init(config: SQLConfig, obs_dim: int, action_dim: int, key: jax.Array) -> SQLState:
    """A fresh agent: Q and its target identical, Adam states empty, step 0."""
    k_q, k_pi = jax.random.split(key)
    q = QNetwork(obs_dim, action_dim, config.hidden_sizes, key=k_q)
    policy = SamplingNetwork(obs_dim, action_dim, config.hidden_sizes, key=k_pi)
    f32 = jnp.float32
    return SQLState(
        q=q,
        q_target=q,
        policy=policy,
        q_opt_state=adam_init(q, config.q_lr),
        policy_opt_state=adam_init(policy, config.policy_lr),
        step=jnp.zeros((), jnp.int32),
        hparams=SQLHParams(
            alpha=f32(config.alpha),
            discount=f32(config.discount),
            target_tau=f32(config.target_tau),
            target_update_period=jnp.int32(config.target_update_period),
        ),
        num_fixed=config.num_fixed_particles,
        num_updated=config.num_updated_particles,
        value_samples=config.value_samples,
        value_proposal=config.value_proposal,
    )


def _q_batch(q: QNetwork, obs: jax.Array, actions: jax.Array) -> jax.Array:
    """Q at ``[B, N, d]`` actions (or ``[N, d]`` shared by every state) for ``[B, obs_dim]`` observations: ``[B, N]``.

    One batched call (``QNetwork.at_pairs``: ``jax.vmap(q.at_actions)`` as row-major products);
    each state's share of the first layer is computed once.
    """
    return q.at_pairs(obs, actions)


def _sample_batch(policy: SamplingNetwork, obs: jax.Array, xi: jax.Array) -> jax.Array:
    """Sampler outputs for ``[B, N, d]`` noise: ``[B, N, d]`` in one batched call (``SamplingNetwork.at_pairs``)."""
    return policy.at_pairs(obs, xi)


def _policy_log_density(policy: SamplingNetwork, obs: jax.Array, xi: jax.Array) -> jax.Array:
    """log q(a) of a = f(xi; s) by change of variables: log N(xi) - log|det df/dxi|.

    Exact only where f(.; s) is injective; Appendix C.2 warns that the sampler's density
    is unreliable early in training, which is why the uniform proposal is the default.
    """
    d = xi.shape[-1]
    jac = jax.jacfwd(lambda z: policy(obs, z))(xi)
    _, logdet = jnp.linalg.slogdet(jac)
    log_normal = -0.5 * jnp.sum(jnp.square(xi)) - 0.5 * d * jnp.log(2.0 * jnp.pi)
    return log_normal - logdet


def next_soft_value(state: SQLState, next_obs: jax.Array, key: jax.Array) -> jax.Array:
    """Eq. (10) at each next state with the target network: ``[B]`` (spec ``def-algorithm-1``).

    The proposal is uniform on the action box by default; ``value_proposal="policy"`` uses the
    sampler with a change-of-variables density (spec deviation ``dev-policy-proposal``).
    """
    b = next_obs.shape[0]
    d = state.policy.action_dim
    alpha = state.hparams.alpha
    if state.value_proposal == "uniform":
        # One set of K_V uniform actions shared by the whole minibatch, as in the original code.
        # [K_V, d], not broadcast: the actions' share of Q's first layer is then computed once.
        actions = jax.random.uniform(key, (state.value_samples, d), jnp.float32, -1.0, 1.0)
        log_q = jnp.float32(uniform_log_density(d))
    else:
        xi = jax.random.normal(key, (b, state.value_samples, d), jnp.float32)
        actions = _sample_batch(state.policy, next_obs, xi)
        obs_rep = jnp.broadcast_to(next_obs[:, None, :], (b, state.value_samples, next_obs.shape[-1]))
        log_q = jax.vmap(jax.vmap(_policy_log_density, in_axes=(None, 0, 0)), in_axes=(None, 0, 0))(
            state.policy, obs_rep, xi
        )
        actions, log_q = jax.lax.stop_gradient((actions, log_q))
    q_next = _q_batch(state.q_target, next_obs, actions)
    return soft_value_is(q_next, log_q, alpha, axis=-1)


def _svgd_log_target_grad(q: QNetwork, obs: jax.Array, actions: jax.Array, alpha: jax.Array) -> jax.Array:
    """Gradient in the action of Q(s, a) + alpha * log|det tanh'|, at ``[B, K, d]`` actions."""

    def total(a):
        return jnp.sum(_q_batch(q, obs, a)) + alpha * jnp.sum(tanh_log_det_jacobian(a))

    return jax.grad(total)(actions)


def train_step(state: SQLState, batch: Transition, key: jax.Array) -> tuple[SQLState, dict[str, jax.Array]]:
    """One update of Algorithm 1 on a minibatch (spec ``def-algorithm-1``); see the module docstring.

    Composes eq. (10) (``next_soft_value``), eq. (11) (``soft_bellman_target``, ``soft_q_loss``)
    and eqs. (13)-(14) (``svgd_direction``, ``svgd_surrogate``), which minimise the sampler's
    KL objective of eq. (12) (spec ``eq-12``) without ever evaluating it.  Both gradients are
    taken at the step's starting parameters (``dev-simultaneous-updates``); only Q has a target
    network (``dev-target-network``).

    Args:
      state: the agent (:class:`SQLState`).
      batch: a minibatch of transitions, leading axis B.
      key: a PRNG key for the value samples and the particles' noise.

    Returns:
      ``(new_state, metrics)`` with scalar metrics ``q_loss``, ``mean_q``, ``soft_value``,
        ``svgd_direction_norm``, ``bandwidth`` and ``policy_spread``.
    """
    k_value, k_fixed, k_updated = jax.random.split(key, 3)
    hp = state.hparams
    b = batch.reward.shape[0]
    d = state.policy.action_dim

    # Eq. (10)-(11): soft value of s' under the target network, the target and the loss.
    v_next = next_soft_value(state, batch.next_obs, k_value)
    target = soft_bellman_target(batch.reward, hp.discount, batch.done, v_next)

    new_q, q_opt_state, q_loss, q_pred = regress_q(state.q, state.q_opt_state, batch.obs, batch.action, target)

    # Eq. (13): K fixed particles (no gradient) and the gradient of the target log-density there.
    xi_fixed = jax.random.normal(k_fixed, (b, state.num_fixed, d), jnp.float32)
    fixed = jax.lax.stop_gradient(_sample_batch(state.policy, batch.obs, xi_fixed))
    grad_log_p = jax.lax.stop_gradient(_svgd_log_target_grad(state.q, batch.obs, fixed, hp.alpha))
    xi_updated = jax.random.normal(k_updated, (b, state.num_updated, d), jnp.float32)

    def policy_loss_fn(policy):
        updated = _sample_batch(policy, batch.obs, xi_updated)
        frozen = jax.lax.stop_gradient(updated)
        bandwidth = jax.vmap(median_bandwidth)(fixed, frozen)
        direction = jax.vmap(svgd_direction, in_axes=(0, 0, 0, None, 0))(fixed, grad_log_p, frozen, hp.alpha, bandwidth)
        # Eq. (14): the expectation over states is a mean over the minibatch.
        loss = jnp.mean(jax.vmap(svgd_surrogate)(updated, direction))
        return loss, (direction, bandwidth, frozen)

    (_, (direction, bandwidth, updated)), pi_grads = eqx.filter_value_and_grad(policy_loss_fn, has_aux=True)(
        state.policy
    )
    new_policy, policy_opt_state = adam_step(state.policy, pi_grads, state.policy_opt_state)

    # Target network: every `period` steps, target <- tau * Q + (1 - tau) * target.
    step = state.step + 1
    new_target = update_target(state.q_target, new_q, step, hp.target_update_period, hp.target_tau)

    metrics = {
        "q_loss": q_loss,
        "mean_q": jnp.mean(q_pred),
        "soft_value": jnp.mean(v_next),
        "svgd_direction_norm": jnp.mean(jnp.linalg.norm(direction, axis=-1)),
        "bandwidth": jnp.mean(bandwidth),
        "policy_spread": jnp.mean(jnp.std(updated, axis=1)),
    }
    new_state = eqx.tree_at(
        lambda s: (s.q, s.q_target, s.policy, s.q_opt_state, s.policy_opt_state, s.step),
        state,
        (new_q, new_target, new_policy, q_opt_state, policy_opt_state, step),
    )
    return new_state, metrics


def act(state: SQLState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """One action from the sampler, a = f(xi; s) with fresh noise: the stochastic policy the paper evaluates."""
    return state.policy.sample(obs, key, 1)[0]


def explore(state: SQLState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """The behaviour policy while training: the sampler itself (Algorithm 1, line 'sample a_t')."""
    return act(state, obs, key)


def with_hparams(
    state: SQLState,
    *,
    alpha=None,
    q_lr=None,
    policy_lr=None,
    discount=None,
    target_tau=None,
    target_update_period=None,
) -> SQLState:
    """A copy of ``state`` with new traced hyperparameters (no recompilation of ``train_step``).

    The traced fields of :class:`~softq_ref.agent.config.SQLConfig`: the temperature, the
    discount and the target schedule live in ``state.hparams``, the learning rates in the
    optimiser states (``optax.inject_hyperparams``).
    """
    hp = state.hparams
    f32, i32 = jnp.float32, jnp.int32
    hp = hp._replace(
        alpha=hp.alpha if alpha is None else f32(alpha),
        discount=hp.discount if discount is None else f32(discount),
        target_tau=hp.target_tau if target_tau is None else f32(target_tau),
        target_update_period=hp.target_update_period if target_update_period is None else i32(target_update_period),
    )
    q_opt_state = with_learning_rate(state.q_opt_state, q_lr)
    policy_opt_state = with_learning_rate(state.policy_opt_state, policy_lr)
    return eqx.tree_at(lambda s: (s.hparams, s.q_opt_state, s.policy_opt_state), state, (hp, q_opt_state, policy_opt_state))


METRICS = ("q_loss", "mean_q", "soft_value", "svgd_direction_norm", "bandwidth", "policy_spread")

#: Soft Q-learning as one value (see :class:`~softq_ref.agent.algorithm.Algorithm`).
ALGORITHM = Algorithm(
    name="sql",
    init=init,
    train_step=train_step,
    explore=explore,
    act=act,
    config_class=SQLConfig,
    metrics=METRICS,
    with_hparams=with_hparams,
    action_space="box",
)
