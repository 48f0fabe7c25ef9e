r"""Soft actor-critic's equations, built on the soft value and the soft Bellman target.

Spec entries ``eq-sac-3``, ``eq-sac-5``, ``def-tanh-gaussian``, ``eq-sac-9``,
``eq-sac-18`` and ``def-polyak-target``.  References (equation numbers of the arXiv
versions cited):

* Haarnoja, Zhou, Abbeel, Levine, "Soft Actor-Critic: Off-Policy Maximum Entropy Deep
  Reinforcement Learning with a Stochastic Actor", ICML 2018, arXiv:1801.01290 (v2):
  the tanh-squashed Gaussian policy and its change-of-variables log-density, Appendix C.
* Haarnoja, Zhou, Hartikainen, Tucker, Ha, Tan, Kumar, Zhu, Gupta, Abbeel, Levine, "Soft
  Actor-Critic Algorithms and Applications", arXiv:1812.05905 (v2): the soft state value
  (3), the critic loss (5), the reparameterised policy loss (9), the temperature loss
  (18), clipped double Q and Polyak targets (Sec. 5 and Algorithm 1).  This is the SAC
  of the public libraries (no separate value network; learned temperature).

How SAC sits on soft Q-learning's equations (Haarnoja et al. 2017, arXiv:1702.08165):
SAC's soft state value $V(s) = \mathbb E_{a \sim \pi}[Q(s, a) - \alpha \log \pi(a \mid s)]$
is the *policy's* soft value; for the Boltzmann policy $\pi \propto \exp(Q/\alpha)$ it is
exactly eq. (5)'s $\alpha \log \int \exp(Q/\alpha)$, and for every other policy it is
smaller (Gibbs' variational principle).  SAC's policy loss is, up to a constant in the
policy, the KL divergence of eq. (12) of soft Q-learning, which SAC minimises by the
reparameterisation trick where soft Q-learning uses SVGD.

Notation: ``alpha`` is the temperature throughout (the SAC papers also write
$\alpha$; the 2018 soft Q-learning code's reward scale is $1/\alpha$).  Logarithms are
natural.  Functions act on one state (or broadcast elementwise) and are batched by
their callers with ``jax.vmap`` or by broadcasting.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from softq_ref.core.bellman import soft_bellman_target
from softq_ref.core.validation import check_temperature

_LOG2 = math.log(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def sac_soft_value(q, log_prob, alpha) -> jax.Array:
    r"""SAC's soft state value, one action sample per state (spec ``eq-sac-3``).

    $$V(s) = \mathbb E_{a \sim \pi}\big[Q(s, a) - \alpha \log \pi(a \mid s)\big]
      \approx Q(s, a) - \alpha \log \pi(a \mid s), \quad a \sim \pi(\cdot \mid s)$$

    The single-sample Monte Carlo estimate used in SAC's target.  **A soft-value
    identity**: its expectation is the policy's soft value, which for the
    Boltzmann policy $\pi = \exp((Q - V)/\alpha)$ of eq. (6) equals eq. (5) exactly,
    $\mathbb E_\pi[Q - \alpha \log \pi] = \alpha \log \sum_a \exp(Q/\alpha)$, and
    for any other policy is strictly smaller (the gap is $\alpha\,\mathrm{KL}(\pi \,\|\,
    \exp((Q - V)/\alpha))$).  ``tests/test_core_actor_critic.py`` checks both.

    Args:
      q: $Q(s, a)$ at the sampled actions, any shape.
      log_prob: $\log \pi(a \mid s)$ at the same actions, same shape.
      alpha: temperature >= 0, a scalar or broadcastable to ``q``.

    Returns:
      ``q - alpha * log_prob``, the shape of ``q``.

    Example:
      >>> float(sac_soft_value(1.0, -0.5, 2.0))
      2.0

    Reference: Eq. (3), Sec. 4.1 of Haarnoja et al. (2018b, arXiv:1812.05905); Eq. (3) of
    arXiv:1801.01290; the soft value of Eq. (5) of Haarnoja et al. (2017).
    """
    check_temperature(alpha)
    q = jnp.asarray(q)
    log_prob = jnp.asarray(log_prob, dtype=q.dtype)
    if q.shape != log_prob.shape:
        raise ValueError(f"q and log_prob must have the same shape, got {q.shape} and {log_prob.shape}")
    return q - jnp.asarray(alpha, dtype=q.dtype) * log_prob


def sac_q_target(reward, discount, done, next_q, next_log_prob, alpha) -> jax.Array:
    r"""SAC's critic target with clipped double Q and the entropy term (spec ``eq-sac-5``).

    $$y = r + \gamma (1 - d) \Big(\min_{i} Q_{\bar\theta_i}(s', a') - \alpha \log \pi(a' \mid s')\Big),
      \quad a' \sim \pi(\cdot \mid s')$$

    The soft Bellman target of eq. (11) of soft Q-learning
    (``soft_bellman_target``) with the next soft value estimated by
    ``sac_soft_value`` at one fresh action from the *current* policy and the minimum
    over the target critics (the clipped double Q of Fujimoto et al. 2018, used by
    SAC to counter overestimation).  No gradient flows through the target.

    Args:
      reward: $r$, shape ``[...]``.
      discount: $\gamma \in [0, 1]$, a scalar or the shape of ``reward``.
      done: 1.0 where $s'$ is terminal, shape of ``reward`` or a scalar.
      next_q: the target critics at $(s', a')$, shape ``[N] + reward.shape``
        (``N`` critics on the leading axis; ``N = 1`` gives the single-critic target).
      next_log_prob: $\log \pi(a' \mid s')$, shape of ``reward``.
      alpha: temperature >= 0.

    Returns:
      The target, shape of ``reward``, with ``stop_gradient``.

    Example:
      >>> import jax.numpy as jnp
      >>> # 1 + 0.5 * (min(3, 2) - 1 * (-1)) = 2.5
      >>> float(sac_q_target(1.0, 0.5, 0.0, jnp.array([3.0, 2.0]), -1.0, 1.0))
      2.5

    Reference: arXiv:1812.05905, Sec. 4.2, Eq. (5) with Eqs. (2)-(3); the two Q-functions of
    Sec. 5 and its Algorithm 1; Eq. (11) of Haarnoja et al. (2017).
    """
    reward = jnp.asarray(reward)
    next_q = jnp.asarray(next_q, dtype=reward.dtype)
    if next_q.ndim != reward.ndim + 1 or next_q.shape[1:] != reward.shape or next_q.shape[0] < 1:
        raise ValueError(
            f"next_q must have shape [N] + reward.shape = [N, {', '.join(map(str, reward.shape))}], got {next_q.shape}"
        )
    v_next = sac_soft_value(jnp.min(next_q, axis=0), jnp.asarray(next_log_prob, dtype=reward.dtype), alpha)
    return soft_bellman_target(reward, discount, done, v_next)


def tanh_gaussian_log_prob(u, mean, log_std) -> jax.Array:
    r"""Log-density of $a = \tanh(u)$, $u \sim \mathcal N(\mu, \sigma^2)$ per coordinate (spec ``def-tanh-gaussian``).

    $$
    \begin{aligned}
    \log \pi(a \mid s) &= \sum_{i=1}^{d} \Big[\log \mathcal N(u_i; \mu_i, \sigma_i^2)
      - \log\big(1 - \tanh^2(u_i)\big)\Big], \\
    \log\big(1 - \tanh^2(u)\big) &= 2\big(\log 2 - u - \mathrm{softplus}(-2u)\big)
    \end{aligned}
    $$

    The change of variables through the elementwise tanh.  The correction is
    evaluated from the *pre-squash* sample $u$ in the stable form on the right,
    which is exact for every $u$: the naive $\log(1 - a^2)$ with $a = \tanh(u)$
    rounds to $\log 0 = -\infty$ in float32 once $|u| \gtrsim 9$, and soft
    Q-learning's ``tanh_log_det_jacobian`` adds $\epsilon = 10^{-6}$ instead.

    Args:
      u: the Gaussian sample before squashing, ``[..., d]``.
      mean: $\mu$, broadcastable to ``u``.
      log_std: $\log \sigma$, broadcastable to ``u``.

    Returns:
      $\log \pi(\tanh(u) \mid s)$, ``[...]`` (summed over the last axis).

    Example:
      >>> import jax.numpy as jnp
      >>> # at u = 0 the Jacobian is 1: the log-density of N(0, 1) at 0
      >>> round(float(tanh_gaussian_log_prob(jnp.zeros(1), 0.0, 0.0)), 4)
      -0.9189

    Reference: Appendix C ("Enforcing action bounds"), Eq. (21) of arXiv:1801.01290 and
    the same appendix of arXiv:1812.05905.  The stable form is an identity:
    $1 - \tanh^2 u = 4 e^{-2u} / (1 + e^{-2u})^2$.

    Note: any ``log_std`` is accepted here; the SAC agent clips it to $[-20, 2]$ before
    sampling, as the authors' code does (spec deviation ``dev-sac-log-std-clip``).
    """
    u = jnp.asarray(u)
    mean = jnp.asarray(mean, dtype=u.dtype)
    log_std = jnp.asarray(log_std, dtype=u.dtype)
    z = (u - mean) * jnp.exp(-log_std)
    log_normal = -0.5 * jnp.square(z) - log_std - _HALF_LOG_2PI
    log_det = 2.0 * (_LOG2 - u - jax.nn.softplus(-2.0 * u))
    return jnp.sum(log_normal - log_det, axis=-1)


def sac_policy_loss(log_prob, q, alpha) -> jax.Array:
    r"""SAC's reparameterised policy loss (spec ``eq-sac-9``).

    $$J_\pi(\phi) = \mathbb E_{s \sim \mathcal D,\ \epsilon \sim \mathcal N}\Big[\alpha \log \pi_\phi\big(f_\phi(\epsilon; s) \mid s\big)
      - Q_\theta\big(s, f_\phi(\epsilon; s)\big)\Big]$$

    the mean over the batch.  The caller computes ``log_prob`` and ``q`` at the
    reparameterised action $a = f_\phi(\epsilon; s)$, so the gradient reaches $\phi$
    through both.  Per state this is $-$(the single-sample ``sac_soft_value``);
    minimising it is minimising $\alpha\,\mathrm{KL}(\pi \,\|\, \exp((Q - V)/\alpha))$,
    the objective of eq. (12) of soft Q-learning, whose minimiser is the Boltzmann
    policy of eq. (6).

    Args:
      log_prob: $\log \pi_\phi(a \mid s)$ at the reparameterised actions, ``[B]``.
      q: $Q(s, a)$ at the same actions (SAC takes the minimum over its critics), ``[B]``.
      alpha: temperature >= 0 (held fixed: pass ``stop_gradient(alpha)`` if learned).

    Returns:
      A scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> float(sac_policy_loss(jnp.array([-1.0, 1.0]), jnp.array([2.0, 0.0]), 0.5))  # mean(-2.5, 0.5)
      -1.0

    Reference: Eqs. (7) and (9), Sec. 4.2 of arXiv:1812.05905 (Eqs. (10), (12) of
    arXiv:1801.01290 with $\alpha = 1$ there); Eq. (12) of Haarnoja et al. (2017).
    """
    return -jnp.mean(sac_soft_value(q, log_prob, alpha))


def default_target_entropy(action_dim: int) -> float:
    r"""SAC's default target entropy, $\bar{\mathcal H} = -\dim \mathcal A$ (spec ``eq-sac-18``).

    Args:
      action_dim: the action dimension (a positive int).

    Returns:
      ``-float(action_dim)``.

    Reference: Sec. 5 / the hyperparameter table (Appendix D) of arXiv:1812.05905.
    """
    if isinstance(action_dim, bool) or not isinstance(action_dim, int) or action_dim < 1:
        raise ValueError(f"action_dim must be a positive int, got {action_dim!r}")
    return -float(action_dim)


def sac_temperature_loss(log_alpha, log_prob, target_entropy) -> jax.Array:
    r"""SAC's temperature loss against a target entropy (spec ``eq-sac-18``).

    $$J(\alpha) = \mathbb E_{a \sim \pi}\big[-\alpha \log \pi(a \mid s) - \alpha \bar{\mathcal H}\big],
      \qquad \alpha = \exp(\log\alpha)$$

    the mean over the batch, with ``log_prob`` held fixed.  Its gradient raises
    $\alpha$ when the policy's entropy $-\mathbb E[\log \pi]$ is below the target
    $\bar{\mathcal H}$ and lowers it when above.  The temperature is parameterised
    by its logarithm (so it stays positive under gradient steps); the loss *value*
    is eq. (18) exactly, and its gradient in $\log\alpha$ is $\alpha$ times the
    gradient in $\alpha$: same sign, same fixed point (spec deviation
    ``dev-sac-log-temperature``).

    Args:
      log_alpha: $\log \alpha$, a scalar (the trained parameter).
      log_prob: $\log \pi(a \mid s)$ at actions from the current policy, ``[B]``.
      target_entropy: $\bar{\mathcal H}$, a scalar (``default_target_entropy(d) = -d``).

    Returns:
      A scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> # alpha = 1: -mean(log_prob + target) = -((-2) + 1) = 1
      >>> float(sac_temperature_loss(0.0, jnp.array([-2.0]), 1.0))
      1.0

    Reference: Eq. (18), Sec. 5 of arXiv:1812.05905.
    """
    log_alpha = jnp.asarray(log_alpha)
    log_prob = jax.lax.stop_gradient(jnp.asarray(log_prob, dtype=log_alpha.dtype))
    return -jnp.exp(log_alpha) * jnp.mean(log_prob + jnp.asarray(target_entropy, dtype=log_alpha.dtype))


def polyak_update(target, online, tau):
    r"""Polyak averaging of target parameters (spec ``def-polyak-target``).

    $$\bar\theta \leftarrow \tau \theta + (1 - \tau) \bar\theta$$

    on every array leaf of two pytrees of the same structure (``optax.incremental_update``).
    ``tau = 1`` is a hard copy (soft Q-learning's target schedule), ``tau = 0`` leaves the
    target unchanged.

    Args:
      target: $\bar\theta$, a pytree of arrays.
      online: $\theta$, a pytree of the same structure.
      tau: $\tau \in [0, 1]$, a scalar (traced values are fine).

    Returns:
      The new target pytree.

    Reference: Algorithm 1 of arXiv:1812.05905 (``tau = 0.005`` every step in its
    hyperparameter table); Algorithm 1 of arXiv:1801.01290 applies it to the value network.
    """
    return optax.incremental_update(online, target, tau)
