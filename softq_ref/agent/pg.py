r"""The entropy-regularised policy gradient agent: advantage actor-critic with the soft return (the lecture notes' derivation).

``train_step(state, batch, key)`` takes one *time-ordered* rollout segment (``batch`` fields with
leading axis ``T``, as collected on-policy) and composes :mod:`softq_ref.core.policy_gradient`:

1. the log-probabilities of the actions taken and the critic's values $V(s_t)$;
2. the soft returns $\hat G_t$ of the soft reward $r_t - \alpha \log \pi(a_t \mid s_t)$
   (``soft_returns``), bootstrapped with $V(s_T)$ after the segment's last step;
3. the policy step on ``soft_policy_gradient_surrogate`` with the advantage $\hat G_t - V(s_t)$
   (REINFORCE with a learned baseline), and the critic step on eq. (11)'s half squared error
   toward $\hat G_t$ (``soft_q_loss``), both with Adam.

Step $t$ is not weighted by $\gamma^t$ (spec deviation ``dev-pg-discount-weighting``).  ``done``
must mark every episode boundary inside the segment (terminations *and* truncations, since
the next row starts another episode); a truncation then loses its bootstrap, as in A2C/PPO.

Discrete actions (``discrete=True``): a softmax policy over logits, the action stored as
``float32 [1]`` holding the index, as in :mod:`softq_ref.agent.soft_dqn`.  Continuous actions:
a diagonal Gaussian with a state-independent learned log standard deviation (A2C/PPO's
parameterisation), unsquashed (the environment clips).  ``act``/``explore`` sample the policy.
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
from softq_ref.agent.networks import MLP
from softq_ref.agent.optim import adam_init, adam_step
from softq_ref.agent.replay import Transition
from softq_ref.core import soft_q_loss
from softq_ref.core.policy_gradient import soft_policy_gradient_surrogate, soft_returns


@dataclass(frozen=True)
class PGConfig(ConfigBase):
    """Hyperparameters of the soft policy-gradient agent (spec deviation ``dev-pg-settings``).

    No published settings exist for this agent; these are small A2C-style defaults (2x64 ReLU,
    Adam 1e-3 for actor and critic, segments of 128 steps, gamma 0.99) with the temperature
    ``alpha`` in place of A2C's entropy coefficient.  ``hidden_sizes=()`` gives linear networks.
    """

    hidden_sizes: tuple[int, ...] = (64, 64)
    policy_lr: float = traced(1e-3)
    value_lr: float = traced(1e-3)
    alpha: float = traced(0.01)
    discount: float = traced(0.99)
    rollout_length: int = 128
    discrete: bool = True
    initial_log_std: float = 0.0
    total_steps: int = 100_000
    max_path_length: int = 500
    preset: str = "classic"

    def __post_init__(self):
        check_field_kinds(self)
        check_hidden_sizes(self.hidden_sizes, allow_empty=True)
        for name in ("rollout_length", "total_steps", "max_path_length"):
            value = getattr(self, name)
            if value < 1:  # an int by now: check_field_kinds refused anything else
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("policy_lr", "value_lr"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be finite and >= 0, got {self.alpha!r}")
        if not (0.0 <= self.discount <= 1.0):
            raise ValueError(f"discount must lie in [0, 1], got {self.discount!r}")
        if not math.isfinite(self.initial_log_std):
            raise ValueError(f"initial_log_std must be finite, got {self.initial_log_std!r}")

    def replace(self, **changes) -> "PGConfig":
        return dataclasses.replace(self, **changes)

    # What the training loops read of a config, for an on-policy algorithm (``Algorithm.on_policy``):
    # the replay buffer is the rollout storage of ``rollout_length`` slots, read whole, and there
    # is no warm-up (the first rollout is trained on as soon as it is complete).
    @property
    def replay_capacity(self) -> int:
        return self.rollout_length

    @property
    def batch_size(self) -> int:
        return self.rollout_length

    @property
    def min_replay_size(self) -> int:
        return 0

    @classmethod
    def preset_for(cls, name: str, env_id: str | None = None) -> "PGConfig":
        """The ``classic`` preset (CartPole-v1, Acrobot-v1): the class defaults, discrete actions.

        No paper publishes settings for this agent (the lecture notes derive it and run nothing).  The
        defaults are small A2C-style choices; the RL Baselines3 Zoo's A2C for CartPole-v1
        (``hyperparams/a2c.yml``: 8 environments x 5 steps, RMSprop 7e-4, entropy coefficient 0,
        5e5 steps) differs in the rollout shape and optimiser (spec deviation ``dev-pg-settings``).
        """
        if name != "classic":
            raise ValueError(f"pg has no preset {name!r}; it takes: classic")
        return cls()


class Policy(eqx.Module):
    """Softmax over ``net(obs)`` (discrete) or $\\mathcal N(\\mathrm{net}(obs), \\mathrm{diag}\\, e^{2 \\log\\sigma})$ (continuous)."""

    net: MLP
    log_std: jax.Array
    discrete: bool = eqx.field(static=True)

    def log_prob(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        out = self.net(obs)
        if self.discrete:
            return jax.nn.log_softmax(out)[jnp.round(action[0]).astype(jnp.int32)]
        return jnp.sum(jax.scipy.stats.norm.logpdf(action, out, jnp.exp(self.log_std)))

    def sample(self, obs: jax.Array, key: jax.Array) -> jax.Array:
        out = self.net(obs)
        if self.discrete:
            return jax.random.categorical(key, out).astype(jnp.float32)[None]
        return out + jnp.exp(self.log_std) * jax.random.normal(key, out.shape, out.dtype)


class PGHParams(NamedTuple):
    alpha: jax.Array
    discount: jax.Array


class PGState(eqx.Module):
    policy: Policy
    value: MLP
    policy_opt_state: optax.OptState
    value_opt_state: optax.OptState
    step: jax.Array
    hparams: PGHParams


def init(config: PGConfig, obs_dim: int, action_dim: int, key: jax.Array) -> PGState:
    """A fresh agent; ``action_dim`` is the number of actions (discrete) or the action dimension."""
    if isinstance(action_dim, bool) or not isinstance(action_dim, int) or action_dim < 1:
        raise ValueError(f"action_dim must be a positive int, got {action_dim!r}")
    k_pi, k_v = jax.random.split(key)
    policy = Policy(
        net=MLP(obs_dim, action_dim, config.hidden_sizes, key=k_pi),
        log_std=jnp.full((0 if config.discrete else action_dim,), config.initial_log_std, jnp.float32),
        discrete=config.discrete,
    )
    value = MLP(obs_dim, 1, config.hidden_sizes, key=k_v)
    return PGState(
        policy=policy,
        value=value,
        policy_opt_state=adam_init(policy, config.policy_lr),
        value_opt_state=adam_init(value, config.value_lr),
        step=jnp.zeros((), jnp.int32),
        hparams=PGHParams(alpha=jnp.float32(config.alpha), discount=jnp.float32(config.discount)),
    )


def train_step(state: PGState, batch: Transition, key: jax.Array) -> tuple[PGState, dict[str, jax.Array]]:
    """One actor and one critic step on a time-ordered segment ``[T]`` (see the module docstring).

    Returns:
      ``(new_state, metrics)``: ``policy_loss`` (the surrogate, per step), ``value_loss``,
        ``entropy`` (the estimate $-\\mathbb E[\\log \\pi]$), ``mean_soft_return``.
    """
    del key
    hp = state.hparams
    log_probs = jax.vmap(state.policy.log_prob)(batch.obs, batch.action)
    bootstrap = state.value(batch.next_obs[-1])[0]
    returns = soft_returns(batch.reward, jax.lax.stop_gradient(log_probs), hp.alpha, hp.discount, batch.done, bootstrap)
    returns = jax.lax.stop_gradient(returns)
    horizon = batch.reward.shape[0]

    def value_loss_fn(value):
        return soft_q_loss(jax.vmap(value)(batch.obs)[:, 0], returns)

    value_loss, v_grads = eqx.filter_value_and_grad(value_loss_fn)(state.value)
    baseline = jax.vmap(state.value)(batch.obs)[:, 0]
    advantages = returns - baseline

    def policy_loss_fn(policy):
        lp = jax.vmap(policy.log_prob)(batch.obs, batch.action)
        return soft_policy_gradient_surrogate(lp, advantages, 1.0) / horizon

    policy_loss, pi_grads = eqx.filter_value_and_grad(policy_loss_fn)(state.policy)
    policy, policy_opt_state = adam_step(state.policy, pi_grads, state.policy_opt_state)
    value, value_opt_state = adam_step(state.value, v_grads, state.value_opt_state)
    metrics = {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": -jnp.mean(log_probs),
        "mean_soft_return": jnp.mean(returns),
    }
    new_state = eqx.tree_at(
        lambda s: (s.policy, s.value, s.policy_opt_state, s.value_opt_state, s.step),
        state,
        (policy, value, policy_opt_state, value_opt_state, state.step + 1),
    )
    return new_state, metrics


def act(state: PGState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """An action sampled from the policy (the maximum-entropy policy is stochastic)."""
    return state.policy.sample(obs, key)


def explore(state: PGState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """The behaviour policy: the policy itself (on-policy)."""
    return act(state, obs, key)


def with_hparams(state: PGState, *, alpha=None, discount=None, policy_lr=None, value_lr=None) -> PGState:
    """A copy of ``state`` with new traced hyperparameters (no recompilation of ``train_step``)."""
    hp = state.hparams._replace(
        alpha=state.hparams.alpha if alpha is None else jnp.float32(alpha),
        discount=state.hparams.discount if discount is None else jnp.float32(discount),
    )

    def with_lr(opt_state, lr):
        if lr is None:
            return opt_state
        return opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": jnp.float32(lr)})

    return eqx.tree_at(lambda s: (s.hparams, s.policy_opt_state, s.value_opt_state), state,
                       (hp, with_lr(state.policy_opt_state, policy_lr), with_lr(state.value_opt_state, value_lr)))


# ------------------------------------------------------------------ the registered value


def rollout_train_step(state: PGState, rollout: Transition, key: jax.Array) -> tuple[PGState, dict[str, jax.Array]]:
    """:func:`train_step` on a rollout read from the loops' storage, its episode boundaries restored.

    The loops store ``done = terminated`` (a time-limit truncation keeps ``done = 0`` so that
    replay agents bootstrap through it).  In a time-ordered rollout, a row whose successor
    ``next_obs[t]`` is not the next row's ``obs[t + 1]`` ends an episode (the next row starts
    after a reset); :func:`train_step` needs every such boundary marked ``done`` so that no
    soft return runs across two episodes (a truncation inside the rollout then loses its
    bootstrap, as in A2C/PPO; the last row bootstraps with ``V(next_obs[-1])``).
    """
    cut = jnp.any(rollout.next_obs[:-1] != rollout.obs[1:], axis=-1)
    boundary = jnp.concatenate([cut, jnp.zeros((1,), bool)]).astype(rollout.done.dtype)
    return train_step(state, rollout._replace(done=jnp.maximum(rollout.done, boundary)), key)


METRICS = ("policy_loss", "value_loss", "entropy", "mean_soft_return")

#: The soft policy gradient as one value, on-policy (see :class:`~softq_ref.agent.algorithm.Algorithm`):
#: registered for discrete actions (the Gaussian policy, ``PGConfig(discrete=False)``, is
#: available from Python through :func:`train_step`).
ALGORITHM = Algorithm(
    name="pg",
    init=init,
    train_step=rollout_train_step,
    explore=explore,
    act=act,
    config_class=PGConfig,
    metrics=METRICS,
    with_hparams=with_hparams,
    action_space="discrete",
    on_policy=True,
)
