"""An independent NumPy implementation of every conformance target, written from the formulas.

It imports nothing from softq_ref, so that the conformance kit passing it is evidence that
the kit and the reference agree with the paper (Haarnoja et al. 2017), not merely with
themselves.  Signatures are those of ``softq-ref conform --list``.
"""

from __future__ import annotations

import math

import numpy as np


def _lse(z: np.ndarray) -> np.ndarray:
    """log sum exp over the last axis, the maximum factored out."""
    m = np.max(z, axis=-1, keepdims=True)
    return (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))[..., 0]


# eq. (5): V = alpha log sum_a exp(Q / alpha)
def soft_value(q, alpha):
    m = np.max(q, axis=-1)
    return m + alpha * np.log(np.sum(np.exp((q - m[..., None]) / alpha), axis=-1))


# eq. (6): log pi = (Q - V) / alpha
def log_boltzmann_policy(q, alpha):
    shifted = (q - np.max(q, axis=-1, keepdims=True)) / alpha
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def boltzmann_policy(q, alpha):
    e = np.exp((q - np.max(q, axis=-1, keepdims=True)) / alpha)
    return e / np.sum(e, axis=-1, keepdims=True)


# H = -sum p log p, with 0 log 0 = 0
def entropy(probs):
    logs = np.log(np.where(probs > 0, probs, 1.0))
    return -np.sum(probs * logs, axis=-1)


# eq. (10): V = alpha (log sum_k exp(Q_k / alpha - log q_k) - log K)
def soft_value_is(q_samples, log_proposal, alpha):
    k = q_samples.shape[-1]
    return alpha * (_lse(q_samples / alpha - log_proposal) - math.log(k))


def uniform_log_density(action_dim, low, high):
    return -action_dim * math.log(high - low)


# eq. (11)
def soft_bellman_target(reward, discount, done, next_value):
    return reward + discount * (1.0 - done) * next_value


def soft_q_loss(q_pred, target):
    return 0.5 * np.mean((target - q_pred) ** 2)


def soft_q_target(reward, discount, done, next_q_samples, log_proposal, alpha):
    return soft_bellman_target(reward, discount, done, soft_value_is(next_q_samples, log_proposal, alpha))


# eq. (13): k(x, y) = exp(-|x - y|^2 / h), grad_x k = -2 (x - y) / h k
def rbf_kernel(x, y, bandwidth):
    diff = x[:, None, :] - y[None, :, :]
    k = np.exp(-np.sum(diff**2, axis=-1) / bandwidth)
    return k, -2.0 / bandwidth * diff * k[..., None]


def median_bandwidth(x, y):
    d2 = np.sort(np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1).ravel())
    lower_median = d2[(d2.size - 1) // 2]
    return max(lower_median / math.log(max(x.shape[0], 2)), 1e-3)


def svgd_direction(fixed, grad_q, updated, alpha, bandwidth):
    out = np.zeros_like(updated)
    for j in range(updated.shape[0]):
        for i in range(fixed.shape[0]):
            diff = fixed[i] - updated[j]
            k = math.exp(-float(diff @ diff) / bandwidth)
            out[j] += k * grad_q[i] + alpha * (-2.0 / bandwidth) * diff * k
    return out / fixed.shape[0]


# eq. (14): -sum <direction, actions>; its gradient is -direction (checked by finite differences)
def svgd_surrogate(updated_actions, direction):
    return -np.sum(direction * updated_actions)


def tanh_log_det_jacobian(actions):
    return np.sum(np.log((1.0 - actions) * (1.0 + actions) + 1e-6), axis=-1)


# Tabular: soft Q-iteration to a fixed point; policy evaluation by a linear solve.
def soft_q_iteration(transitions, rewards, discount, alpha):
    q = np.zeros_like(rewards)
    for _ in range(100_000):
        q_next = rewards + discount * transitions @ soft_value(q, alpha)
        gap = np.max(np.abs(q_next - q))
        q = q_next
        if discount * gap <= 1e-13 * (1 - discount) * max(1.0, np.max(np.abs(q))):
            break
    return q


def soft_policy_evaluation(transitions, rewards, discount, policy, alpha):
    s, a = rewards.shape
    bonus = alpha * entropy(policy)  # collected from the next state on
    p_pi = np.einsum("ijt,tb->ijtb", transitions, policy).reshape(s * a, s * a)
    rhs = (rewards + discount * transitions @ bonus).reshape(-1)
    return np.linalg.solve(np.eye(s * a) - discount * p_pi, rhs).reshape(s, a)


# Soft actor-critic (arXiv:1812.05905): the critic target with clipped double Q, eq. (5) with (3):
# y = r + gamma (1 - done) (min_n Q_n(s', a') - alpha log pi(a' | s'))
def sac_q_target(reward, discount, done, next_q, next_log_prob, alpha):
    return reward + discount * (1.0 - done) * (np.min(next_q, axis=0) - alpha * next_log_prob)


# Appendix C of arXiv:1801.01290: log pi(tanh u) = sum_i [log N(u_i; mu_i, sigma_i) - log(1 - tanh^2 u_i)],
# with 1 - tanh^2 u = 4 e^{-2u} / (1 + e^{-2u})^2, so log(1 - tanh^2 u) = 2 (log 2 - u - log(1 + e^{-2u})).
def tanh_gaussian_log_prob(u, mean, log_std):
    z = (u - mean) / np.exp(log_std)
    log_normal = -0.5 * z**2 - log_std - 0.5 * math.log(2.0 * math.pi)
    log_det = 2.0 * (math.log(2.0) - u - np.logaddexp(0.0, -2.0 * u))
    return np.sum(log_normal - log_det, axis=-1)


# eq. (9): J_pi = mean_B(alpha log pi - Q)
def sac_policy_loss(log_prob, q, alpha):
    return np.mean(alpha * log_prob - q)


# eq. (18): J(alpha) = mean_B(-alpha (log pi + target entropy)), alpha = exp(log alpha)
def sac_temperature_loss(log_alpha, log_prob, target_entropy):
    return -math.exp(log_alpha) * np.mean(log_prob + target_entropy)


# Soft returns: G_t = r_t - alpha log pi_t + gamma (1 - done_t) G_{t+1}, G_T = bootstrap
def soft_returns(rewards, log_probs, alpha, discount, done, bootstrap):
    out = np.zeros_like(rewards)
    g = bootstrap
    for t in reversed(range(len(rewards))):
        g = rewards[t] - alpha * log_probs[t] + discount * (1.0 - done[t]) * g
        out[t] = g
    return out
