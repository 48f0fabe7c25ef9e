"""The soft Bellman target and the soft Q-learning loss.

Spec entry ``eq-11``.  Reference: Haarnoja et al. (2017), Sec. 3.2, Eq. (11).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.core.validation import check_discount, concrete_value


def soft_bellman_target(reward, discount, done, next_value) -> jax.Array:
    r"""The regression target of soft Q-learning (spec ``eq-11``).

    $$\hat Q(s, a) = r + \gamma (1 - d) \, V(s')$$

    where $V(s')$ is the soft value of the next state under the *target*
    parameters (eq. (10)) and $d = 1$ when $s'$ is terminal (an episode that ends
    by time limit is not terminal and keeps its bootstrap; see the training loops).
    The target is a constant of eq. (11): no gradient flows through it.

    Args:
      reward: $r(s, a)$, shape ``[...]``.
      discount: $\gamma \in [0, 1]$, a scalar or the shape of ``reward``.
      done: 1.0 where $s'$ is terminal, else 0.0 (booleans are accepted); a scalar or
        the shape of ``reward``.
      next_value: $V(s')$, same shape as ``reward``.

    Returns:
      The target, shape of ``reward``, with ``stop_gradient`` applied.

    Reference: Eq. (11), Sec. 3.2; the target of Algorithm 1 of Haarnoja et al. (2017).

    Note: the original code writes ``reward_scale * r + (1 - done) * gamma * V'``
    with the temperature fixed to 1; with ``alpha = 1 / reward_scale`` that is
    this target divided by ``alpha`` (spec deviation ``dev-reward-scale``).
    """
    check_discount(discount)
    reward = jnp.asarray(reward)
    # Without these checks a [B] reward and a [B, 1] value would broadcast silently to [B, B].
    if jnp.shape(next_value) != reward.shape:
        raise ValueError(f"next_value must have the shape of reward {reward.shape}, got {jnp.shape(next_value)}")
    for name, x in (("done", done), ("discount", discount)):
        if jnp.ndim(x) != 0 and jnp.shape(x) != reward.shape:
            raise ValueError(f"{name} must be a scalar or have the shape of reward {reward.shape}, got {jnp.shape(x)}")
    done_value = concrete_value(done)
    if done_value is not None and not np.all((done_value == 0) | (done_value == 1)):
        raise ValueError(f"done must be 0 or 1 (1 where s' is terminal), got {done_value!r}")
    not_done = 1.0 - jnp.asarray(done, dtype=reward.dtype)
    target = reward + jnp.asarray(discount, dtype=reward.dtype) * not_done * jnp.asarray(next_value, dtype=reward.dtype)
    return jax.lax.stop_gradient(target)


def soft_q_loss(q_pred, target) -> jax.Array:
    r"""Soft Q-learning loss (spec ``eq-11``).

    $$J_Q(\theta) = \mathbb{E}\Big[\tfrac12 \big(\hat Q(s, a) - Q_\theta(s, a)\big)^2\Big]$$

    the mean over the batch of half the squared error, as in the paper and the
    original code.

    Args:
      q_pred: $Q_\theta(s, a)$, shape ``[...]``.
      target: $\hat Q(s, a)$, same shape.

    Returns:
      A scalar.

    Reference: Eq. (11), Sec. 3.2 of Haarnoja et al. (2017).
    """
    q_pred = jnp.asarray(q_pred)
    target = jnp.asarray(target)
    if q_pred.shape != target.shape:
        raise ValueError(f"q_pred and target must have the same shape, got {q_pred.shape} and {target.shape}")
    if q_pred.size == 0:
        raise ValueError(f"q_pred and target are empty (shape {q_pred.shape}); the loss is a mean over at least one pair")
    return 0.5 * jnp.mean(jnp.square(target - q_pred))
