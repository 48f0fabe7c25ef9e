r"""Soft DQN: soft Q-learning for discrete actions, with the exact soft value of eq. (5).

A Q-network $Q_\theta(s, \cdot) \in \mathbb R^{|\mathcal A|}$ (one output per action, as in
DQN) regressed on

$$y = r + \gamma (1 - d)\, \alpha \log \sum_{a'} \exp\big(Q_{\bar\theta}(s', a') / \alpha\big)$$

— eq. (11)'s target with eq. (5)'s soft value summed exactly over the finite action set
(``soft_value``; no importance sampling, so no eq. (10)) — by eq. (11)'s half squared
error (``soft_q_loss``); the behaviour policy is the Boltzmann policy of eq. (6)
(``boltzmann_policy``); the target network is a hard copy every ``target_update_period``
steps (Algorithm 1 of Haarnoja et al. 2017; DQN's schedule).  The lecture notes on maximum-entropy RL derive it as "a soft
variant of DQN" from soft Q-value iteration; with $\alpha \to 0$ it is DQN's target with
the hard max, and on a finite MDP with one-hot states and full expected updates its fixed
point is $Q^*_{\mathrm{soft}}$ of Theorem 1 (``tests/test_soft_dqn.py``).

**The loss is the squared error, not DQN's Huber loss**: the minimiser of the expected
squared error over next states is the *mean* target $r + \gamma \mathbb E_{s'}[V(s')]$,
which is what the soft Bellman equation (7) asks for; Huber's minimiser is a robust
location that is not the mean once errors exceed its threshold, so its fixed point is not
$Q^*_{\mathrm{soft}}$ under stochastic transitions (spec deviation ``dev-soft-dqn``).

Actions are discrete indices.  The replay buffer stores them as ``float32 [B, 1]`` holding
the index (``0.0, 1.0, ...``; exact for any realistic action count), so soft DQN shares
``softq_ref.agent.replay`` with the continuous agents; ``init``'s ``action_dim`` is the
*number of actions*, and ``act``/``explore`` return the index the same way, ``float32 [1]``.
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
from softq_ref.agent.optim import adam_init, adam_step, update_target
from softq_ref.agent.replay import Transition
from softq_ref.core import boltzmann_policy, soft_bellman_target, soft_q_loss, soft_value


@dataclass(frozen=True)
class SoftDQNConfig(ConfigBase):
    """Hyperparameters of soft DQN (spec deviation ``dev-soft-dqn``).

    No paper publishes soft DQN settings (the lecture notes describe the algorithm, not a run).  The
    network, learning rate, batch, buffer, discount and target period are those the RL
    Baselines3 Zoo tunes for DQN on CartPole-v1 (2x256 ReLU, Adam 2.3e-3, batch 64, 1e5
    transitions, gamma 0.99, target copy every 10 gradient steps); the temperature replaces
    DQN's epsilon-greedy schedule.  ``hidden_sizes=()`` gives a linear Q-function (used with
    one-hot states by the tabular tests).
    """

    hidden_sizes: tuple[int, ...] = (256, 256)
    q_lr: float = traced(2.3e-3)
    batch_size: int = 64
    alpha: float = traced(0.01)
    discount: float = traced(0.99)
    target_update_period: int = traced(10)
    replay_capacity: int = 100_000
    min_replay_size: int = 1_000
    total_steps: int = 50_000
    max_path_length: int = 500
    preset: str = "classic"

    def __post_init__(self):
        check_field_kinds(self)
        check_hidden_sizes(self.hidden_sizes, allow_empty=True)
        for name in ("batch_size", "target_update_period", "replay_capacity", "min_replay_size", "total_steps",
                     "max_path_length"):
            value = getattr(self, name)
            if value < 1:  # an int by now: check_field_kinds refused anything else
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not (math.isfinite(self.q_lr) and self.q_lr > 0):
            raise ValueError(f"q_lr must be finite and > 0, got {self.q_lr!r}")
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be finite and >= 0, got {self.alpha!r}")
        if not (0.0 <= self.discount <= 1.0):
            raise ValueError(f"discount must lie in [0, 1], got {self.discount!r}")

    def replace(self, **changes) -> "SoftDQNConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset_for(cls, name: str, env_id: str | None = None) -> "SoftDQNConfig":
        """The ``classic`` preset (classic-control tasks), by ``env_id``'s family (spec ``dev-soft-dqn``).

        * CartPole (and ``env_id=None``): the class defaults, the RL Baselines3 Zoo's DQN
          settings for CartPole-v1 (``hyperparams/dqn.yml``: lr 2.3e-3, batch 64, buffer 1e5,
          ``learning_starts`` 1000, gamma 0.99, ``target_update_interval`` 10, 2x256, 5e4 steps).
        * Acrobot: the Zoo's DQN settings for Acrobot-v1 (lr 6.3e-4, batch 128, buffer 5e4,
          gamma 0.99, ``target_update_interval`` 250, 2x256, 1e5 steps) with 1000 warm-up steps.

        Deviations from the Zoo: one gradient step per environment step (the Zoo trains 128
        steps every 256 on CartPole and 1 every 4 on Acrobot), Boltzmann exploration at the fixed
        temperature ``alpha = 0.01`` in place of the epsilon-greedy schedule, and the squared
        loss in place of Huber (the module docstring says why).
        """
        if name != "classic":
            raise ValueError(f"soft_dqn has no preset {name!r}; it takes: classic")
        family = "CartPole" if env_id is None else env_id.split("/")[-1].split("-")[0]
        if family == "Acrobot":
            return cls(q_lr=6.3e-4, batch_size=128, replay_capacity=50_000, target_update_period=250,
                       total_steps=100_000)
        return cls()


class DiscreteQNetwork(eqx.Module):
    """$Q_\\theta(s, \\cdot)$: an MLP from the observation to one soft Q-value per action."""

    net: MLP

    def __init__(self, obs_dim: int, num_actions: int, hidden_sizes, *, key: jax.Array):
        self.net = MLP(obs_dim, num_actions, hidden_sizes, key=key)

    def __call__(self, obs: jax.Array) -> jax.Array:
        return self.net(obs)


class SoftDQNHParams(NamedTuple):
    """Traced hyperparameters: changing them does not recompile ``train_step``."""

    alpha: jax.Array
    discount: jax.Array
    target_update_period: jax.Array


class SoftDQNState(eqx.Module):
    q: DiscreteQNetwork
    q_target: DiscreteQNetwork
    q_opt_state: optax.OptState
    step: jax.Array
    hparams: SoftDQNHParams
    num_actions: int = eqx.field(static=True)


def init(config: SoftDQNConfig, obs_dim: int, action_dim: int, key: jax.Array) -> SoftDQNState:
    """A fresh agent; ``action_dim`` is the number of discrete actions."""
    if isinstance(action_dim, bool) or not isinstance(action_dim, int) or action_dim < 1:
        raise ValueError(f"action_dim (the number of discrete actions) must be a positive int, got {action_dim!r}")
    q = DiscreteQNetwork(obs_dim, action_dim, config.hidden_sizes, key=key)
    return SoftDQNState(
        q=q,
        q_target=q,
        q_opt_state=adam_init(q, config.q_lr),
        step=jnp.zeros((), jnp.int32),
        hparams=SoftDQNHParams(
            alpha=jnp.float32(config.alpha),
            discount=jnp.float32(config.discount),
            target_update_period=jnp.int32(config.target_update_period),
        ),
        num_actions=action_dim,
    )


def action_index(action: jax.Array) -> jax.Array:
    """The int32 index stored as ``float32 [..., 1]`` in the replay buffer: ``[...]``."""
    return jnp.round(action[..., 0]).astype(jnp.int32)


def td_target(q_target: DiscreteQNetwork, batch: Transition, alpha, discount) -> jax.Array:
    """$r + \\gamma (1 - d) \\alpha \\log \\sum_{a'} \\exp(Q_{\\bar\\theta}(s', a')/\\alpha)$: eq. (11) with eq. (5), ``[B]``."""
    next_q = jax.vmap(q_target)(batch.next_obs)  # [B, A]
    return soft_bellman_target(batch.reward, discount, batch.done, soft_value(next_q, alpha, axis=-1))


def train_step(state: SoftDQNState, batch: Transition, key: jax.Array) -> tuple[SoftDQNState, dict[str, jax.Array]]:
    """One Adam step on eq. (11) with the exact soft value of eq. (5); a hard target copy every C steps.

    Args:
      state: the agent.
      batch: transitions with ``action`` ``float32 [B, 1]`` holding the action index.
      key: unused (the update is deterministic given the batch); kept for the common signature.

    Returns:
      ``(new_state, metrics)``: ``q_loss`` (eq. (11)), ``mean_q``, ``soft_value`` (eq. (5) at s'
        under the target network, before discounting), ``policy_entropy`` (of eq. (6) at s).
    """
    del key
    hp = state.hparams
    target = td_target(state.q_target, batch, hp.alpha, hp.discount)
    idx = action_index(batch.action)

    def loss_fn(q):
        q_all = jax.vmap(q)(batch.obs)  # [B, A]
        q_pred = jnp.take_along_axis(q_all, idx[:, None], axis=-1)[:, 0]
        return soft_q_loss(q_pred, target), (q_pred, q_all)

    (loss, (q_pred, q_all)), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(state.q)
    new_q, q_opt_state = adam_step(state.q, grads, state.q_opt_state)
    step = state.step + 1
    new_target = update_target(state.q_target, new_q, step, hp.target_update_period, jnp.float32(1.0))
    pi = boltzmann_policy(q_all, hp.alpha, axis=-1)
    metrics = {
        "q_loss": loss,
        "mean_q": jnp.mean(q_pred),
        "soft_value": jnp.mean(soft_value(jax.vmap(state.q_target)(batch.next_obs), hp.alpha, axis=-1)),
        "policy_entropy": jnp.mean(-jnp.sum(jax.scipy.special.xlogy(pi, pi), axis=-1)),
    }
    new_state = eqx.tree_at(lambda s: (s.q, s.q_target, s.q_opt_state, s.step), state, (new_q, new_target, q_opt_state, step))
    return new_state, metrics


def act(state: SoftDQNState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """An action index drawn from the Boltzmann policy of eq. (6), ``float32 [1]`` (the maximum-entropy policy)."""
    logits_q = state.q(obs)
    probs = boltzmann_policy(logits_q, state.hparams.alpha)
    index = jax.random.choice(key, state.num_actions, p=probs)
    return jnp.asarray(index, jnp.float32)[None]


def explore(state: SoftDQNState, obs: jax.Array, key: jax.Array) -> jax.Array:
    """The behaviour policy while training: Boltzmann exploration, eq. (6) (the same as ``act``)."""
    return act(state, obs, key)


def greedy(state: SoftDQNState, obs: jax.Array) -> jax.Array:
    """The argmax action, ``float32 [1]`` (the $\\alpha \\to 0$ limit of ``act``)."""
    return jnp.argmax(state.q(obs)).astype(jnp.float32)[None]


def with_hparams(state: SoftDQNState, *, alpha=None, q_lr=None, discount=None, target_update_period=None) -> SoftDQNState:
    """A copy of ``state`` with new traced hyperparameters (no recompilation of ``train_step``)."""
    hp = state.hparams._replace(
        alpha=state.hparams.alpha if alpha is None else jnp.float32(alpha),
        discount=state.hparams.discount if discount is None else jnp.float32(discount),
        target_update_period=(state.hparams.target_update_period if target_update_period is None
                              else jnp.int32(target_update_period)),
    )
    opt_state = state.q_opt_state
    if q_lr is not None:
        opt_state = opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": jnp.float32(q_lr)})
    return eqx.tree_at(lambda s: (s.hparams, s.q_opt_state), state, (hp, opt_state))


# ------------------------------------------------------------------ the registered value

METRICS = ("q_loss", "mean_q", "soft_value", "policy_entropy")

#: Soft DQN as one value (see :class:`~softq_ref.agent.algorithm.Algorithm`): discrete actions,
#: stored in the replay buffer as ``float32 [1]`` holding the index.
ALGORITHM = Algorithm(
    name="soft_dqn",
    init=init,
    train_step=train_step,
    explore=explore,
    act=act,
    config_class=SoftDQNConfig,
    metrics=METRICS,
    with_hparams=with_hparams,
    action_space="discrete",
)
