"""Deliberately wrong implementations: each carries one bug seen in public soft Q-learning code.

The conformance kit must flag every one of them (``tests/test_conformance_kit.py``).
Each is the correct NumPy formula of ``numpy_reference`` with exactly one change.
"""

from __future__ import annotations

import math

import numpy as np

try:
    from conformance_impls import numpy_reference as ok
except ImportError:  # loaded as a file by `softq-ref conform broken.py:...`: its directory is on sys.path
    import numpy_reference as ok


def soft_value_is_missing_log_k(q_samples, log_proposal, alpha):
    """eq. (10) without -log K_V, as in a PyTorch port: V is shifted up by alpha log K."""
    return alpha * ok._lse(q_samples / alpha - log_proposal)


def soft_value_is_alpha_one(q_samples, log_proposal, alpha):
    """eq. (10) with the temperature left out (the 2017 code, softqlearning issue #5): alpha = 1 always."""
    return ok.soft_value_is(q_samples, log_proposal, 1.0)


def soft_q_target_alpha_one(reward, discount, done, next_q_samples, log_proposal, alpha):
    """The TD target of the 2017 code: V(s') computed with alpha = 1 whatever alpha the policy uses."""
    next_value = ok.soft_value_is(next_q_samples, log_proposal, 1.0)
    return reward + discount * (1.0 - done) * next_value


def rbf_kernel_wrong_sign(x, y, bandwidth):
    """The kernel gradient with the sign flipped (the gradient in y, not in x)."""
    k, grad_x = ok.rbf_kernel(x, y, bandwidth)
    return k, -grad_x


def svgd_direction_wrong_sign(fixed, grad_q, updated, alpha, bandwidth):
    """eq. (13) whose repulsive term attracts: alpha * grad k with the wrong sign."""
    diff = fixed[:, None, :] - updated[None, :, :]
    k = np.exp(-np.sum(diff**2, axis=-1) / bandwidth)
    drive = np.einsum("ij,id->jd", k, grad_q)
    repulse = np.sum(2.0 / bandwidth * diff * k[..., None], axis=0)  # should be -2 / h
    return (drive + alpha * repulse) / fixed.shape[0]


def median_bandwidth_paper(x, y):
    """The paper's Appendix D.1: h = d / (2 log(M + 1)), d the median (unsquared) distance."""
    dist = np.sqrt(np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)).ravel()
    return float(np.median(dist) / (2.0 * math.log(y.shape[0] + 1)))


def median_bandwidth_log_k_plus_1(x, y):
    """A port's variant: median of the squared distances over log(K + 1), plus 1e-3."""
    d2 = np.sort(np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1).ravel())
    return float(d2[(d2.size - 1) // 2] / math.log(x.shape[0] + 1) + 1e-3)


def soft_policy_evaluation_entropy_first_step(transitions, rewards, discount, policy, alpha):
    """Q^pi with the entropy bonus counted at the first state too: Q + alpha H(pi(.|s))."""
    q = ok.soft_policy_evaluation(transitions, rewards, discount, policy, alpha)
    return q + alpha * ok.entropy(policy)[:, None]


def boltzmann_policy_no_max_shift(q, alpha):
    """exp(Q / alpha) / sum exp(Q / alpha): overflows to inf / inf = nan once Q / alpha > 709."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(q / alpha)
        return e / np.sum(e, axis=-1, keepdims=True)


def soft_value_no_max_shift(q, alpha):
    """alpha log sum exp(Q / alpha) computed directly: inf once Q / alpha > 709."""
    with np.errstate(over="ignore", divide="ignore"):
        return alpha * np.log(np.sum(np.exp(q / alpha), axis=-1))


def tanh_log_det_jacobian_no_eps(actions):
    """log(1 - a^2) without the 1e-6: -inf at the box's edge."""
    with np.errstate(divide="ignore"):
        return np.sum(np.log(1.0 - actions**2), axis=-1)


def soft_q_loss_sum(q_pred, target):
    """The sum, not the mean, of half the squared errors."""
    return 0.5 * np.sum((target - q_pred) ** 2)


def entropy_nan_at_zero(probs):
    """-sum p log p without the 0 log 0 = 0 convention: nan for a deterministic policy."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(probs * np.log(probs), axis=-1)


def sac_q_target_mean_of_critics(reward, discount, done, next_q, next_log_prob, alpha):
    """Clipped double Q with the mean of the target critics instead of their minimum (overestimates)."""
    return reward + discount * (1.0 - done) * (np.mean(next_q, axis=0) - alpha * next_log_prob)


def sac_q_target_entropy_sign(reward, discount, done, next_q, next_log_prob, alpha):
    """The entropy term added instead of subtracted: V(s') = Q + alpha log pi (a penalty for spreading out)."""
    return reward + discount * (1.0 - done) * (np.min(next_q, axis=0) + alpha * next_log_prob)


def tanh_gaussian_log_prob_naive(u, mean, log_std):
    """log(1 - tanh^2 u) computed as written: digits lost from |u| ~ 10, log 0 = -inf from |u| ~ 19."""
    z = (u - mean) / np.exp(log_std)
    log_normal = -0.5 * z**2 - log_std - 0.5 * math.log(2.0 * math.pi)
    with np.errstate(divide="ignore"):
        return np.sum(log_normal - np.log(1.0 - np.tanh(u) ** 2), axis=-1)


def sac_policy_loss_entropy_sign(log_prob, q, alpha):
    """mean(-alpha log pi - Q): the policy is rewarded for concentrating, not for spreading out."""
    return np.mean(-alpha * log_prob - q)


def soft_returns_entropy_sign(rewards, log_probs, alpha, discount, done, bootstrap):
    """The soft reward r + alpha log pi: the entropy bonus turned into a penalty."""
    return ok.soft_returns(rewards, -log_probs, alpha, discount, done, bootstrap)
