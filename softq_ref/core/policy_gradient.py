r"""The entropy-regularised ("soft") policy gradient: REINFORCE and advantage actor-critic with the soft return.

Spec entries ``def-soft-return`` and ``eq-soft-policy-gradient``.  Reference: the CMU 10-708 lecture notes (CMU
10-708 lecture 21, "Soft policy gradients"): the maximum-entropy objective
$J(\theta) = \sum_t \mathbb E_{\pi_\theta}[r(s_t, a_t) - \alpha \log \pi_\theta(a_t \mid s_t)]$ is
optimised by REINFORCE once the entropy bonus $-\alpha \log \pi$ is added to every reward;
the seed writes it with $\alpha = 1$ and without discount.  Here the discounted objective of
Eq. (2) of Haarnoja et al. (2017) in its Appendix A form (``softq_ref.tabular.maxent_objective``):

$$
\begin{aligned}
J(\theta) &= \mathbb E\Big[\sum_{t \ge 0} \gamma^t \big(r_t - \alpha \log \pi_\theta(a_t \mid s_t)\big)\Big], \\
\nabla_\theta J &= \mathbb E\Big[\sum_{t \ge 0} \gamma^t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\, \hat G_t\Big]
\end{aligned}
$$

with $\hat G_t = \sum_{k \ge t} \gamma^{k - t} (r_k - \alpha \log \pi_\theta(a_k \mid s_k))$ the soft
return from $t$.  The seed's gradient carries two more terms that vanish in expectation and
are dropped here: the rewards before $t$ (causality) and the "$-1$" that differentiating
$\log \pi$ inside the objective produces ($\mathbb E_{a \sim \pi}[\nabla \log \pi] = 0$).
Both functions act on log-probabilities, so they serve discrete (softmax) and continuous
(Gaussian, tanh-Gaussian) policies alike.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from softq_ref.core.bellman import soft_bellman_target
from softq_ref.core.validation import check_discount, check_temperature


def soft_returns(rewards, log_probs, alpha, discount, done=None, bootstrap=0.0) -> jax.Array:
    r"""Discounted soft returns of one trajectory segment, time on axis 0 (spec ``def-soft-return``).

    $$\hat G_t = \big(r_t - \alpha \log \pi(a_t \mid s_t)\big) + \gamma (1 - d_t)\, \hat G_{t+1},
      \qquad \hat G_T = \text{bootstrap}$$

    The reward-to-go of the soft reward $r - \alpha \log \pi$ (the CMU 10-708 lecture notes: "add a bonus
    entropy term to the rewards"), computed by a reverse ``lax.scan``.  ``done[t] = 1``
    cuts the sum after step ``t`` (the next state is terminal).  ``bootstrap`` is the
    soft value of the state after the segment (0 for a finished episode; a critic's
    $V(s_T)$ for a truncated one, as advantage actor-critic does).

    Args:
      rewards: $r_t$, ``[T, ...]``.
      log_probs: $\log \pi(a_t \mid s_t)$ of the actions taken, same shape.
      alpha: temperature >= 0.
      discount: $\gamma \in [0, 1]$.
      done: 1.0 where $s_{t+1}$ is terminal, same shape; ``None`` for no terminal.
      bootstrap: the value after the last step, shape ``[...]`` or a scalar.

    Returns:
      $\hat G_t$, the shape of ``rewards``.

    Example:
      >>> import jax.numpy as jnp
      >>> # soft rewards [1 - 0.5 * (-2), 0] = [2, 0]; G_1 = 0, G_0 = 2 + 0.5 * 0
      >>> soft_returns(jnp.array([1.0, 0.0]), jnp.array([-2.0, 0.0]), 0.5, 0.5).tolist()
      [2.0, 0.0]

    Reference: the CMU 10-708 lecture notes, "Soft Policy Gradients"; Eq. (2) of Haarnoja et al. (2017) in the
    discounted form of its Appendix A.
    """
    check_temperature(alpha)
    check_discount(discount)
    rewards = jnp.asarray(rewards)
    log_probs = jnp.asarray(log_probs, dtype=rewards.dtype)
    if rewards.ndim < 1 or log_probs.shape != rewards.shape:
        raise ValueError(f"rewards and log_probs must have the same shape [T, ...], got {rewards.shape} and {log_probs.shape}")
    done = jnp.zeros_like(rewards) if done is None else jnp.asarray(done, dtype=rewards.dtype)
    if done.shape != rewards.shape:
        raise ValueError(f"done must have the shape of rewards {rewards.shape}, got {done.shape}")
    soft = rewards - jnp.asarray(alpha, rewards.dtype) * log_probs
    gamma = jnp.asarray(discount, rewards.dtype)

    def back(carry, x):
        r, d = x
        g = r + gamma * (1.0 - d) * carry
        return g, g

    init = jnp.broadcast_to(jnp.asarray(bootstrap, rewards.dtype), rewards.shape[1:])
    _, out = jax.lax.scan(back, init, (soft, done), reverse=True)
    return out


def soft_policy_gradient_surrogate(log_probs, advantages, discount=1.0) -> jax.Array:
    r"""The surrogate whose gradient is the soft policy gradient estimate (spec ``eq-soft-policy-gradient``).

    $$L(\theta) = -\sum_{t=0}^{T-1} \gamma^t \log \pi_\theta(a_t \mid s_t)\, \mathrm{sg}\big[\hat A_t\big],
      \qquad -\nabla_\theta L = \sum_t \gamma^t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\, \hat A_t$$

    With $\hat A_t = \hat G_t$ (``soft_returns``) and ``discount`` $= \gamma$ this is REINFORCE
    with the soft return, an unbiased estimate of $\nabla_\theta J$ of the discounted
    maximum-entropy objective for a trajectory from $s_0 \sim \mu$
    (``tests/test_core_policy_gradient.py`` checks it against the exact gradient).  A
    baseline $b(s_t)$ subtracted from $\hat G_t$, or the soft TD error
    $r_t - \alpha \log \pi_t + \gamma V(s_{t+1}) - V(s_t)$ (``soft_bellman_target`` of the soft
    reward, minus $V(s_t)$), gives advantage actor-critic.  ``discount = 1`` drops the
    $\gamma^t$ weights, as most actor-critic implementations do (spec deviation
    ``dev-pg-discount-weighting``).

    Args:
      log_probs: $\log \pi_\theta(a_t \mid s_t)$, ``[T]``, differentiable in $\theta$.
      advantages: $\hat A_t$, ``[T]``; treated as a constant (``stop_gradient``).
      discount: the weight $\gamma^t$'s base, in $[0, 1]$.

    Returns:
      A scalar (minimise it).

    Example:
      >>> import jax.numpy as jnp
      >>> # -(1 * (-1) * 2 + 0.5 * (-2) * 4) = -(-2 - 4) = 6
      >>> float(soft_policy_gradient_surrogate(jnp.array([-1.0, -2.0]), jnp.array([2.0, 4.0]), 0.5))
      6.0

    Reference: the CMU 10-708 lecture notes, "Soft Policy Gradients" (REINFORCE with the entropy bonus in every
    reward); the soft policy gradient of Appendix B of Haarnoja et al. (2017).
    """
    check_discount(discount)
    log_probs = jnp.asarray(log_probs)
    advantages = jax.lax.stop_gradient(jnp.asarray(advantages, dtype=log_probs.dtype))
    if log_probs.ndim != 1 or advantages.shape != log_probs.shape:
        raise ValueError(f"log_probs and advantages must both have shape [T], got {log_probs.shape} and {advantages.shape}")
    weights = jnp.asarray(discount, log_probs.dtype) ** jnp.arange(log_probs.shape[0], dtype=log_probs.dtype)
    return -jnp.sum(weights * log_probs * advantages)


def soft_td_advantage(reward, log_prob, value, next_value, done, discount, alpha) -> jax.Array:
    r"""Advantage actor-critic's one-step soft advantage (spec ``eq-soft-policy-gradient``).

    $$\hat A_t = r_t - \alpha \log \pi(a_t \mid s_t) + \gamma (1 - d_t) V(s_{t+1}) - V(s_t)$$

    eq. (11)'s target (``soft_bellman_target``) of the *soft* reward, minus the critic's
    value at $s_t$; no gradient flows through it.

    Args:
      reward: $r_t$, ``[B]``.
      log_prob: $\log \pi(a_t \mid s_t)$, ``[B]``.
      value: the critic's $V(s_t)$, ``[B]``.
      next_value: the critic's $V(s_{t+1})$, ``[B]``.
      done: 1.0 where $s_{t+1}$ is terminal, ``[B]`` or a scalar.
      discount: $\gamma$.
      alpha: temperature >= 0.

    Returns:
      ``[B]``.

    Reference: the CMU 10-708 lecture notes; advantage actor-critic with the soft reward.
    """
    check_temperature(alpha)
    reward = jnp.asarray(reward)
    soft_reward = reward - jnp.asarray(alpha, reward.dtype) * jnp.asarray(log_prob, reward.dtype)
    target = soft_bellman_target(soft_reward, discount, done, jnp.asarray(next_value, reward.dtype))
    return jax.lax.stop_gradient(target - jnp.asarray(value, reward.dtype))
