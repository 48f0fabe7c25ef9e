"""Soft values and energy-based (Boltzmann) policies over a discrete action axis.

Spec entries: ``eq-5`` (soft value), ``eq-6`` (Boltzmann policy), ``def-entropy``,
``eq-10`` (importance-sampled soft value).  Reference: Haarnoja, Tang, Abbeel and
Levine, "Reinforcement Learning with Deep Energy-Based Policies", ICML 2017
(arXiv:1702.08165), Sec. 2 and 3.2.

Notation: the paper's temperature is ``alpha``; the lecture slides *Maximum Entropy RL* call it ``lambda``; the
original code fixes it to 1 and scales rewards by ``reward_scale = 1 / alpha``.
Logarithms are natural throughout.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.core.validation import check_axis, check_temperature


def _safe_max(q: jax.Array, axis: int) -> jax.Array:
    """Max over ``axis`` with -inf rows mapped to 0, and no gradient (a pure shift)."""
    m = jnp.max(q, axis=axis, keepdims=True)
    m = jnp.where(jnp.isfinite(m), m, jnp.zeros_like(m))
    return jax.lax.stop_gradient(m)


def _prepare(q, alpha, axis: int):
    """Check the inputs; return ``q`` as an array, the normalised axis, the mask ``alpha > 0``
    and a temperature that is 1 where ``alpha == 0`` (so no branch divides by zero), both with
    ``axis`` kept for broadcasting against ``q``."""
    check_temperature(alpha)
    axis = check_axis(q, axis, "q")
    q = jnp.asarray(q)
    if not jnp.issubdtype(q.dtype, jnp.floating):
        # integer or boolean values: in their own dtype the temperature would be truncated (0.5 -> 0)
        q = q.astype(jnp.result_type(float))
    alpha = jnp.asarray(alpha, dtype=q.dtype)
    alpha_k = jnp.expand_dims(alpha, axis) if alpha.ndim else alpha
    positive = alpha_k > 0
    return q, axis, positive, jnp.where(positive, alpha_k, jnp.ones_like(alpha_k))


def soft_value(q: jax.Array, alpha, axis: int = -1) -> jax.Array:
    r"""Soft value of a discrete action set (spec ``eq-5``).

    $$V(s) = \alpha \log \sum_a \exp\big(Q(s, a) / \alpha\big)$$

    The integral of eq. (5) becomes a sum over the actions on ``axis``.  The
    maximum is factored out, $V = m + \alpha \log \sum_a \exp((Q - m)/\alpha)$
    with $m = \max_a Q$, so the result is exact for ``alpha`` down to 1e-8 and
    ``|q|`` up to 1e30; ``alpha == 0`` returns the hard maximum (the
    $\alpha \to 0$ limit), and $\max_a Q \le V \le \max_a Q + \alpha \log |A|$.

    Args:
      q: soft Q-values, any shape; ``axis`` indexes the actions.
      alpha: temperature, a scalar (or broadcastable to ``q`` without ``axis``), >= 0.
      axis: the action axis.

    Returns:
      ``q`` reduced over ``axis``.

    Example:
      >>> import jax.numpy as jnp
      >>> float(soft_value(jnp.array([0.0, 0.0]), 1.0))  # log 2
      0.6931...

    Reference: Eq. (5), Theorem 1, Sec. 2.2 of Haarnoja et al. (2017).
    """
    q, axis, positive, safe_alpha = _prepare(q, alpha, axis)
    m = _safe_max(q, axis)
    z = jnp.exp((q - m) / safe_alpha)
    soft = m + safe_alpha * jnp.log(jnp.sum(z, axis=axis, keepdims=True))
    # alpha == 0: the hard max; computed without the stop_gradient so that its
    # gradient is the (sub)gradient of max.
    hard = jnp.max(q, axis=axis, keepdims=True)
    return jnp.squeeze(jnp.where(positive, soft, hard), axis=axis)


def log_boltzmann_policy(q: jax.Array, alpha, axis: int = -1) -> jax.Array:
    r"""Log-probabilities of the energy-based policy (spec ``eq-6``).

    $$\log \pi(a \mid s) = \big(Q(s, a) - V(s)\big) / \alpha$$

    computed as a max-shifted log-softmax of $Q / \alpha$.  With ``alpha == 0`` the
    policy is uniform over the argmax set: $-\log |\arg\max_a Q|$ on it and
    $-\infty$ elsewhere.

    Args:
      q: soft Q-values; ``axis`` indexes the actions.
      alpha: temperature >= 0.
      axis: the action axis.

    Returns:
      Log-probabilities, same shape as ``q``.

    Reference: Eq. (6), Theorem 1, Sec. 2.2 of Haarnoja et al. (2017).
    """
    q, axis, positive, safe_alpha = _prepare(q, alpha, axis)
    # A row of -inf only: every action is equally (im)possible, the uniform policy (as for ties).
    all_neg_inf = jnp.all(q == -jnp.inf, axis=axis, keepdims=True)
    soft = jax.nn.log_softmax(jnp.where(all_neg_inf, jnp.zeros_like(q), q) / safe_alpha, axis=axis)
    is_max = q == jnp.max(q, axis=axis, keepdims=True)
    count = jnp.sum(is_max, axis=axis, keepdims=True).astype(q.dtype)
    hard = jnp.where(is_max, -jnp.log(count), -jnp.inf)
    return jnp.where(positive, soft, hard)


def boltzmann_policy(q: jax.Array, alpha, axis: int = -1) -> jax.Array:
    r"""The energy-based (Boltzmann) policy of a soft Q-function (spec ``eq-6``).

    $$\pi(a \mid s) = \exp\big((Q(s, a) - V(s)) / \alpha\big)
      = \frac{\exp(Q(s, a)/\alpha)}{\sum_{a'} \exp(Q(s, a')/\alpha)}$$

    ``alpha == 0`` gives the uniform distribution over the argmax set (the limit of
    the softmax as $\alpha \to 0$, ties included).

    Args:
      q: soft Q-values; ``axis`` indexes the actions.
      alpha: temperature >= 0.
      axis: the action axis.

    Returns:
      Probabilities summing to 1 over ``axis``.

    Example:
      >>> import jax.numpy as jnp
      >>> boltzmann_policy(jnp.array([1.0, 1.0, 0.0]), 0.0).tolist()
      [0.5, 0.5, 0.0]

    Reference: Eq. (6), Theorem 1, Sec. 2.2 of Haarnoja et al. (2017).
    """
    return jnp.exp(log_boltzmann_policy(q, alpha, axis=axis))


def entropy(probs: jax.Array, axis: int = -1) -> jax.Array:
    r"""Shannon entropy in nats of a discrete distribution (spec ``def-entropy``).

    $$\mathcal{H}(\pi(\cdot \mid s)) = -\sum_a \pi(a \mid s) \log \pi(a \mid s)$$

    with the convention $0 \log 0 = 0$ (so deterministic policies have zero entropy).

    Args:
      probs: probabilities over ``axis`` (not checked to sum to 1).
      axis: the action axis.

    Returns:
      ``probs`` reduced over ``axis``.

    Reference: the entropy term of the maximum-entropy objective, Eq. (2), Sec. 2.1.
    """
    axis = check_axis(probs, axis, "probs")
    probs = jnp.asarray(probs)
    return -jnp.sum(jax.scipy.special.xlogy(probs, probs), axis=axis)


def uniform_log_density(action_dim: int, low: float = -1.0, high: float = 1.0) -> float:
    r"""Log density of the uniform proposal on the action box $[low, high]^d$ (spec ``eq-10``).

    $$\log q_{a'}(a') = -d \log(\mathrm{high} - \mathrm{low})$$

    The original code draws its $K_V$ value samples uniformly on $[-1, 1]^d$ and
    writes ``logsumexp(Q) - log K_V + d log 2``; with this density that is exactly
    eq. (10) (``soft_value_is``; spec deviation ``dev-is-constant``).

    Args:
      action_dim: the action dimension ``d`` (a positive int).
      low: lower bound of every action coordinate.
      high: upper bound, ``high > low``.

    Returns:
      A Python float.

    Reference: Eq. (10) and Appendix C.2 of Haarnoja et al. (2017).
    """
    if isinstance(action_dim, (bool, np.bool_)) or not isinstance(action_dim, (int, np.integer)) or action_dim < 1:
        raise ValueError(f"action_dim must be a positive int, got {action_dim!r}")
    if not (math.isfinite(low) and math.isfinite(high)) or not high > low:
        raise ValueError(f"the action box needs finite low < high, got low={low!r}, high={high!r}")
    return -int(action_dim) * math.log(high - low)


def soft_value_is(q_samples: jax.Array, log_proposal, alpha, axis: int = -1) -> jax.Array:
    r"""Importance-sampled soft value (spec ``eq-10``).

    $$V(s) \approx \alpha \Big(\log \sum_{k=1}^{K} \exp\big(Q(s, a'_k)/\alpha - \log q_{a'}(a'_k)\big) - \log K\Big),
      \quad a'_k \sim q_{a'}$$

    the log of a K-sample Monte Carlo estimate of
    $\mathbb{E}_{q_{a'}}[\exp(Q/\alpha) / q_{a'}]$.  By Jensen's inequality it is
    biased low for finite K and consistent as K grows.  Computed as
    ``soft_value(q - alpha * log_proposal, alpha) - alpha * log K``, so it inherits
    that function's stability and its ``alpha == 0`` limit (the sample maximum).
    The ``- log K`` term is part of the estimator; the original code's
    ``- log K_V + d log 2`` is it with the uniform proposal (spec deviation ``dev-is-constant``).

    Args:
      q_samples: Q at the K sampled actions; ``axis`` indexes the samples.
      log_proposal: log density of the proposal at each sample; broadcastable to
        ``q_samples`` (a scalar for the uniform proposal, see ``uniform_log_density``).
      alpha: temperature >= 0.
      axis: the sample axis.

    Returns:
      ``q_samples`` reduced over ``axis``.

    Reference: Eq. (10), Sec. 3.2 of Haarnoja et al. (2017).
    """
    check_temperature(alpha)
    axis = check_axis(q_samples, axis, "q_samples")
    q = jnp.asarray(q_samples)
    alpha_arr = jnp.asarray(alpha, dtype=q.dtype)
    alpha_k = jnp.expand_dims(alpha_arr, axis) if alpha_arr.ndim else alpha_arr
    shifted = q - alpha_k * jnp.asarray(log_proposal, dtype=q.dtype)
    num_samples = q.shape[axis]
    return soft_value(shifted, alpha_arr, axis=axis) - alpha_arr * math.log(num_samples)
