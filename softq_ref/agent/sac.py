r"""Soft actor-critic (Haarnoja et al. 2018, arXiv:1812.05905) as one pure, jit-able training step.

``train_step(state, batch, key) -> (state, metrics)`` composes :mod:`softq_ref.core.actor_critic`:

1. the critic target of eq. (5) with clipped double Q and the entropy term
   (``sac_q_target``: ``soft_bellman_target`` of the single-sample soft value of eq. (3)),
   one action per next state from the current actor; the half squared error of eq. (11)
   (``soft_q_loss``) for each of the two critics, one Adam step on both;
2. the reparameterised policy loss of eq. (9) (``sac_policy_loss``) at the updated critics'
   minimum, one Adam step on the actor;
3. with a learned temperature, the loss of eq. (18) (``sac_temperature_loss``) in
   $\log\alpha$, one Adam step;
4. Polyak-averaged target critics, $\bar\theta \leftarrow \tau\theta + (1 - \tau)\bar\theta$
   every step (``polyak_update``).

The order (critics, actor, temperature, targets) and the temperature used in all three losses
(the value at the start of the step) follow Algorithm 1 of arXiv:1812.05905 and the public
implementations (SB3, sbx).  The actor is a tanh-squashed diagonal Gaussian whose log standard
deviation is clipped to $[-20, 2]$ (spec deviation ``dev-sac-log-std-clip``); its log-density
is the stable ``tanh_gaussian_log_prob``.  ``explore`` samples the policy; ``act`` returns the
mean action $\tanh(\mu(s))$, the deterministic policy SAC's papers evaluate.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from softq_ref.agent.algorithm import Algorithm
from softq_ref.agent.config import ConfigBase, check_field_kinds, check_hidden_sizes, traced
from softq_ref.agent.networks import MLP, QNetwork
from softq_ref.agent.optim import adam_init, adam_step
from softq_ref.agent.replay import Transition
from softq_ref.core import soft_q_loss
from softq_ref.core.actor_critic import (
    default_target_entropy,
    polyak_update,
    sac_policy_loss,
    sac_q_target,
    sac_temperature_loss,
    tanh_gaussian_log_prob,
)

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0

#: The presets SAC takes (each task declares which presets fit it).
SAC_PRESETS = ("mujoco", "multigoal")


@dataclass(frozen=True)
class SACConfig(ConfigBase):
    """Hyperparameters of SAC: the table of arXiv:1812.05905 (Appendix D); the multi-goal preset is ``dev-sac-multigoal``.

    2x256 ReLU networks, Adam 3e-4 for critics, actor and temperature, batch 256, replay
    1e6, discount 0.99, Polyak ``tau = 0.005`` every step, one gradient step per environment
    step, target entropy ``-dim(A)`` (``target_entropy=None``).  ``learn_alpha=False`` keeps the
    temperature at ``alpha`` (the fixed-temperature SAC of arXiv:1801.01290, where reward
    scale plays its role).  No update is made before the buffer holds ``min_replay_size``
    transitions (our choice: the papers do not state one; SB3's ``learning_starts`` default is
    100).  Those first transitions come from the untrained policy's samples, as every algorithm
    here collects them; SB3 and sbx (``learning_starts``) collect them with uniformly random
    actions instead.  This differs from the comparison partner (docs page *Soft actor-critic*,
    the sbx comparison) and is not yet an option.
    """

    hidden_sizes: tuple[int, ...] = (256, 256)
    q_lr: float = traced(3e-4)
    policy_lr: float = traced(3e-4)
    alpha_lr: float = traced(3e-4)
    batch_size: int = 256
    alpha: float = traced(1.0)
    learn_alpha: bool = traced(True)
    target_entropy: float | None = None
    discount: float = traced(0.99)
    target_tau: float = traced(0.005)
    replay_capacity: int = 1_000_000
    min_replay_size: int = 1_000
    total_steps: int = 1_000_000
    max_path_length: int = 1000
    preset: str = "mujoco"

    def __post_init__(self):
        check_field_kinds(self)
        check_hidden_sizes(self.hidden_sizes, allow_empty=False)
        for name in ("batch_size", "replay_capacity", "min_replay_size", "total_steps", "max_path_length"):
            value = getattr(self, name)
            if value < 1:  # an int by now: check_field_kinds refused anything else
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("q_lr", "policy_lr", "alpha_lr", "alpha"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        if not (0.0 <= self.discount <= 1.0):
            raise ValueError(f"discount must lie in [0, 1], got {self.discount!r}")
        if not (0.0 < self.target_tau <= 1.0):
            raise ValueError(f"target_tau must lie in (0, 1], got {self.target_tau!r}")
        if self.target_entropy is not None and not math.isfinite(self.target_entropy):
            raise ValueError(f"target_entropy must be finite or None, got {self.target_entropy!r}")

    def replace(self, **changes) -> "SACConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset_for(cls, name: str, env_id: str | None = None) -> "SACConfig":
        """The named preset (``env_id`` unused: SAC's settings do not depend on the MuJoCo task).

        * ``mujoco`` -- the class defaults: the hyperparameter table of arXiv:1812.05905 (Appendix D),
          learned temperature, episodes of 1000 steps.
        * ``multigoal`` -- the multi-goal task of Sec. 5.1 of Haarnoja et al. (2017) with the soft
          Q-learning preset's shared settings (``SQLConfig()``: 2x128 ReLU, Adam 3e-4, batch 64,
          discount 0.99, 10,000 steps, 100 warm-up steps, paths of 30) and its temperature, **fixed**
          at ``alpha = 10`` (the original code's reward scale 0.1), so that SAC's unimodal
          tanh-Gaussian and soft Q-learning's sampler are compared on the same objective; SAC's own
          Polyak ``tau = 0.005`` every step (spec deviation ``dev-sac-multigoal``).
        """
        if name == "mujoco":
            return cls()
        if name == "multigoal":
            return cls(hidden_sizes=(128, 128), batch_size=64, alpha=10.0, learn_alpha=False, min_replay_size=100,
                       total_steps=10_000, max_path_length=30, preset="multigoal")
        raise ValueError(f"sac has no preset {name!r}; choose one of {', '.join(SAC_PRESETS)}")


class TanhGaussianActor(eqx.Module):
    """$a = \\tanh(u)$, $u \\sim \\mathcal N(\\mu_\\phi(s), \\mathrm{diag}\\,\\sigma_\\phi(s)^2)$; log std clipped to [-20, 2] (``dev-sac-log-std-clip``)."""

    net: MLP
    action_dim: int = eqx.field(static=True)

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes, *, key: jax.Array):
        self.net = MLP(obs_dim, 2 * action_dim, hidden_sizes, key=key)
        self.action_dim = action_dim

    def distribution(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(mean, log_std)`` of $u$, each ``[action_dim]``."""
        out = self.net(obs)
        mean, log_std = out[: self.action_dim], out[self.action_dim :]
        return mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """A reparameterised action and its log-density (def-tanh-gaussian): ``([action_dim], [])``."""
        mean, log_std = self.distribution(obs)
        u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
        return jnp.tanh(u), tanh_gaussian_log_prob(u, mean, log_std)

    def mode(self, obs: jax.Array) -> jax.Array:
        return jnp.tanh(self.distribution(obs)[0])

    def sample_rows(self, obs: jax.Array, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``jax.vmap(self.sample)(obs, keys)`` for ``[N, obs_dim]`` observations and ``N`` keys, the
        network evaluated as row-major products (``MLP.rows``): ``([N, action_dim], [N])``, the same
        noise from the same keys."""
        out = self.net.rows(obs)
        mean, log_std = out[:, : self.action_dim], jnp.clip(out[:, self.action_dim :], LOG_STD_MIN, LOG_STD_MAX)
        noise = jax.vmap(lambda k: jax.random.normal(k, (self.action_dim,), mean.dtype))(keys)
        u = mean + jnp.exp(log_std) * noise
        return jnp.tanh(u), tanh_gaussian_log_prob(u, mean, log_std)


class SACHParams(NamedTuple):
    """Traced hyperparameters: changing them does not recompile ``train_step``."""

    discount: jax.Array
    target_tau: jax.Array
    target_entropy: jax.Array
    learn_alpha: jax.Array  # 1.0 or 0.0


class SACState(eqx.Module):
    actor: TanhGaussianActor
    critics: tuple[QNetwork, QNetwork]
    critics_target: tuple[QNetwork, QNetwork]
    log_alpha: jax.Array
    actor_opt_state: optax.OptState
    critics_opt_state: optax.OptState
    alpha_opt_state: optax.OptState
    step: jax.Array
    hparams: SACHParams


def init(config: SACConfig, obs_dim: int, action_dim: int, key: jax.Array) -> SACState:
    """A fresh agent: twin critics and their targets identical, temperature ``config.alpha``."""
    k_pi, k_q1, k_q2 = jax.random.split(key, 3)
    actor = TanhGaussianActor(obs_dim, action_dim, config.hidden_sizes, key=k_pi)
    critics = (QNetwork(obs_dim, action_dim, config.hidden_sizes, key=k_q1),
               QNetwork(obs_dim, action_dim, config.hidden_sizes, key=k_q2))
    log_alpha = jnp.float32(math.log(config.alpha))
    target_entropy = default_target_entropy(action_dim) if config.target_entropy is None else config.target_entropy
    return SACState(
        actor=actor,
        critics=critics,
        critics_target=critics,
        log_alpha=log_alpha,
        actor_opt_state=adam_init(actor, config.policy_lr),
        critics_opt_state=adam_init(critics, config.q_lr),
        alpha_opt_state=adam_init(log_alpha, config.alpha_lr),
        step=jnp.zeros((), jnp.int32),
        hparams=SACHParams(
            discount=jnp.float32(config.discount),
            target_tau=jnp.float32(config.target_tau),
            target_entropy=jnp.float32(target_entropy),
            learn_alpha=jnp.float32(1.0 if config.learn_alpha else 0.0),
        ),
    )


def _sample_batch(actor: TanhGaussianActor, obs: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    keys = jax.random.split(key, obs.shape[0])
    return actor.sample_rows(obs, keys)


def critic_target(state: SACState, batch: Transition, key: jax.Array) -> jax.Array:
    """Eq. (5)'s target, ``[B]``: one fresh action per next state, min over the target critics (spec ``eq-sac-5``)."""
    next_action, next_log_prob = _sample_batch(state.actor, batch.next_obs, key)
    next_q = jnp.stack([q.rows(batch.next_obs, next_action) for q in state.critics_target])
    return sac_q_target(batch.reward, state.hparams.discount, batch.done, next_q, next_log_prob, jnp.exp(state.log_alpha))


def critic_loss(critics, batch: Transition, target: jax.Array) -> jax.Array:
    """The sum over the two critics of eq. (11)'s ``0.5 * mean((Q_i(s, a) - y)^2)``."""
    return sum(soft_q_loss(q.rows(batch.obs, batch.action), target) for q in critics)


def train_step(state: SACState, batch: Transition, key: jax.Array) -> tuple[SACState, dict[str, jax.Array]]:
    """One SAC update (see the module docstring).

    Returns:
      ``(new_state, metrics)`` with scalars ``q_loss`` (sum over both critics), ``mean_q``,
        ``policy_loss`` (eq. (9)), ``alpha`` (before the step), ``alpha_loss`` (eq. (18)) and
        ``entropy`` (the minibatch estimate $-\\mathbb E[\\log\\pi]$).
    """
    k_target, k_actor = jax.random.split(key)
    hp = state.hparams
    alpha = jnp.exp(state.log_alpha)

    target = critic_target(state, batch, k_target)
    q_loss, q_grads = eqx.filter_value_and_grad(critic_loss)(state.critics, batch, target)
    critics, critics_opt_state = adam_step(state.critics, q_grads, state.critics_opt_state)

    def actor_loss_fn(actor):
        action, log_prob = _sample_batch(actor, batch.obs, k_actor)
        q_min = jnp.minimum(*(q.rows(batch.obs, action) for q in critics))
        return sac_policy_loss(log_prob, q_min, jax.lax.stop_gradient(alpha)), log_prob

    (policy_loss, log_prob), pi_grads = eqx.filter_value_and_grad(actor_loss_fn, has_aux=True)(state.actor)
    actor, actor_opt_state = adam_step(state.actor, pi_grads, state.actor_opt_state)

    alpha_loss, alpha_grad = jax.value_and_grad(sac_temperature_loss)(state.log_alpha, log_prob, hp.target_entropy)
    stepped_log_alpha, stepped_alpha_opt = adam_step(state.log_alpha, alpha_grad, state.alpha_opt_state)
    learn = hp.learn_alpha > 0
    log_alpha = jnp.where(learn, stepped_log_alpha, state.log_alpha)
    alpha_opt_state = jax.tree.map(lambda new, old: jnp.where(learn, new, old), stepped_alpha_opt, state.alpha_opt_state)

    critics_target = polyak_update(state.critics_target, critics, hp.target_tau)
    metrics = {
        "q_loss": q_loss,
        "mean_q": jnp.mean(target),
        "policy_loss": policy_loss,
        "alpha": alpha,
        "alpha_loss": alpha_loss,
        "entropy": -jnp.mean(log_prob),
    }
    new_state = eqx.tree_at(
        lambda s: (s.actor, s.critics, s.critics_target, s.log_alpha, s.actor_opt_state, s.critics_opt_state,
                   s.alpha_opt_state, s.step),
        state,
        (actor, critics, critics_target, log_alpha, actor_opt_state, critics_opt_state, alpha_opt_state, state.step + 1),
    )
    return new_state, metrics


def act(state: SACState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """The mean action $\\tanh(\\mu(s))$ (SAC's evaluation policy; ``key`` unused)."""
    del key
    return state.actor.mode(obs)


def explore(state: SACState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """An action sampled from the tanh-Gaussian policy (the behaviour policy while training)."""
    return state.actor.sample(obs, key)[0]


def with_hparams(state: SACState, *, alpha=None, q_lr=None, policy_lr=None, discount=None, learn_alpha=None,
                 target_tau=None, alpha_lr=None) -> SACState:
    """A copy of ``state`` with new traced hyperparameters (no recompilation of ``train_step``)."""
    hp = state.hparams._replace(
        discount=state.hparams.discount if discount is None else jnp.float32(discount),
        learn_alpha=state.hparams.learn_alpha if learn_alpha is None else jnp.float32(1.0 if learn_alpha else 0.0),
        target_tau=state.hparams.target_tau if target_tau is None else jnp.float32(target_tau),
    )
    log_alpha = state.log_alpha if alpha is None else jnp.log(jnp.float32(alpha))

    def with_lr(opt_state, lr):
        if lr is None:
            return opt_state
        return opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": jnp.float32(lr)})

    return eqx.tree_at(
        lambda s: (s.hparams, s.log_alpha, s.critics_opt_state, s.actor_opt_state, s.alpha_opt_state),
        state,
        (hp, log_alpha, with_lr(state.critics_opt_state, q_lr), with_lr(state.actor_opt_state, policy_lr),
         with_lr(state.alpha_opt_state, alpha_lr)),
    )


# ------------------------------------------------------------------ the registered value

METRICS = ("q_loss", "mean_q", "policy_loss", "alpha", "alpha_loss", "entropy")

#: Soft actor-critic as one value (see :class:`~softq_ref.agent.algorithm.Algorithm`).
ALGORITHM = Algorithm(
    name="sac",
    init=init,
    train_step=train_step,
    explore=explore,
    act=act,
    config_class=SACConfig,
    metrics=METRICS,
    with_hparams=with_hparams,
    action_space="box",
)
