r"""The inputs of the golden vectors: ordinary and edge cases for every target.

Each function returns a list of ``(name, note, inputs)``; the outputs are computed by the
reference (``softq_ref.conformance.vectors``).  Inputs are drawn once from NumPy
generators with fixed seeds, so the cases never change unless this file does.  The edge
cases follow the numerical traps of the paper and its public ports: temperatures from
1e-6 to 1e3, $|Q|$ up to 1e6 (where $\exp(Q/\alpha)$ overflows without the max
subtracted), one action, ties, one particle, coincident particles, actions at the tanh
box's edge, and, for the tabular solvers, discounts up to 0.99.
"""

from __future__ import annotations

import math

import numpy as np

Case = tuple[str, str, dict]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _normal(seed: int, shape, scale: float = 1.0) -> np.ndarray:
    return _rng(seed).standard_normal(shape) * scale


def _simplex(rng: np.random.Generator, shape, zeros: float = 0.0) -> np.ndarray:
    """Rows on the simplex along the last axis; each entry zero with probability ``zeros`` (one kept)."""
    w = rng.exponential(size=shape)
    if zeros:
        keep = rng.random(shape) >= zeros
        first = np.zeros(shape, dtype=bool)
        first[..., 0] = True
        w = np.where(keep | (first & ~keep.any(axis=-1, keepdims=True)), w, 0.0)
    return w / w.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- eq. (5), (6)


def q_cases() -> list[Case]:
    """``q[B, A]`` and ``alpha``: shared by soft_value, boltzmann_policy, log_boltzmann_policy."""
    q = _normal(1, (3, 4), 2.0)
    spread = _normal(2, (2, 5), 1e-6)
    return [
        ("ordinary", "Gaussian Q, alpha = 1", {"q": q, "alpha": 1.0}),
        ("alpha-0.1", "the multi-goal reward scale 10 of the original code", {"q": q, "alpha": 0.1}),
        ("alpha-1e-6", "near the hard maximum: Q gaps of 1", {"q": q, "alpha": 1e-6}),
        ("alpha-1e-6-fine", "Q gaps of order alpha = 1e-6: a non-trivial policy at a tiny temperature",
         {"q": spread, "alpha": 1e-6}),
        ("alpha-1e3", "nearly uniform: Q small against alpha", {"q": q, "alpha": 1e3}),
        ("large-q", "|Q| = 1e6, alpha = 1: exp(Q / alpha) overflows without max subtraction",
         {"q": np.array([[1e6, 1e6 - 1.0, 1e6 - 3.0], [-1e6, -1e6 + 0.5, -1e6 - 2.0]]), "alpha": 1.0}),
        ("large-q-alpha-1e3", "|Q| = 1e6 with alpha = 1e3: Q/alpha = 1e3 still overflows exp",
         {"q": np.array([[1e6, 999e3, 1e6 - 500.0], [-1e6, 0.0, 1e6]]), "alpha": 1e3}),
        ("mixed-extremes", "Q = +-1e6 in one row, alpha = 10", {"q": np.array([[1e6, -1e6, 0.0]]), "alpha": 10.0}),
        ("one-action", "A = 1: V = Q and the policy is 1", {"q": np.array([[3.5], [-2.0], [1e6]]), "alpha": 0.5}),
        ("ties", "all actions equal: V = Q + alpha log A, uniform policy",
         {"q": np.array([[2.0, 2.0, 2.0, 2.0], [-7.0, -7.0, -7.0, -7.0]]), "alpha": 0.3}),
        ("tied-maxima", "two maxima and a low action, small alpha",
         {"q": np.array([[1.0, 1.0, 0.0], [0.0, -5.0, 0.0]]), "alpha": 0.01}),
        ("zeros", "Q = 0: V = alpha log A", {"q": np.zeros((1, 6)), "alpha": 2.0}),
    ]


# --------------------------------------------------------------------------- entropy


def entropy_cases() -> list[Case]:
    rng = _rng(3)
    return [
        ("ordinary", "random distributions over 5 actions", {"probs": _simplex(rng, (3, 5))}),
        ("uniform", "H = log A", {"probs": np.full((2, 4), 0.25)}),
        ("one-hot", "0 log 0 = 0: H = 0", {"probs": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])}),
        ("one-action", "A = 1: H = 0", {"probs": np.ones((2, 1))}),
        ("sparse", "exact zeros among the entries", {"probs": _simplex(_rng(4), (4, 6), zeros=0.5)}),
        ("tiny", "probabilities of 1e-300", {"probs": np.array([[1.0 - 2e-300, 1e-300, 1e-300]])}),
    ]


# --------------------------------------------------------------------------- eq. (10)


def importance_cases() -> list[Case]:
    q16 = _normal(5, (3, 16), 3.0)
    uniform2 = np.full((3, 16), -2.0 * math.log(2.0))
    return [
        ("uniform-d2", "the original code's proposal: uniform on [-1, 1]^2, K_V = 16, alpha = 1",
         {"q_samples": q16, "log_proposal": uniform2, "alpha": 1.0}),
        ("uniform-d2-alpha-0.1", "the same at alpha = 0.1 (reward scale 10)",
         {"q_samples": q16, "log_proposal": uniform2, "alpha": 0.1}),
        ("uniform-d6-alpha-10", "uniform on [-1, 1]^6, alpha = 10",
         {"q_samples": q16, "log_proposal": np.full((3, 16), -6.0 * math.log(2.0)), "alpha": 10.0}),
        ("proposal-density", "a non-uniform proposal: Gaussian log-densities",
         {"q_samples": _normal(6, (2, 8)), "log_proposal": -0.5 * _normal(7, (2, 8)) ** 2 - 0.5 * math.log(2 * math.pi),
          "alpha": 0.7}),
        ("alpha-1e-6", "near the sample maximum", {"q_samples": q16, "log_proposal": uniform2, "alpha": 1e-6}),
        ("alpha-1e3", "large temperature", {"q_samples": q16, "log_proposal": uniform2, "alpha": 1e3}),
        ("one-sample", "K = 1: V = Q - alpha log q",
         {"q_samples": np.array([[2.0], [-1.0]]), "log_proposal": np.array([[-1.5], [0.25]]), "alpha": 0.5}),
        ("equal-samples", "K equal samples: V = Q - alpha log q exactly",
         {"q_samples": np.full((1, 32), 4.0), "log_proposal": np.full((1, 32), -math.log(2.0)), "alpha": 2.0}),
        ("large-q", "|Q| = 1e6, alpha = 1",
         {"q_samples": np.array([[1e6, 1e6 - 2.0, 1e6 - 1.0, 1e6 - 10.0], [-1e6, -1e6, -1e6 + 1.0, -1e6 - 1.0]]),
          "log_proposal": np.full((2, 4), -math.log(2.0)), "alpha": 1.0}),
    ]


def uniform_density_cases() -> list[Case]:
    return [
        ("d1", "[-1, 1]: -log 2", {"action_dim": 1, "low": -1.0, "high": 1.0}),
        ("d2", "[-1, 1]^2, the multi-goal task", {"action_dim": 2, "low": -1.0, "high": 1.0}),
        ("d6", "[-1, 1]^6 (HalfCheetah)", {"action_dim": 6, "low": -1.0, "high": 1.0}),
        ("d17", "[-1, 1]^17 (Humanoid)", {"action_dim": 17, "low": -1.0, "high": 1.0}),
        ("unit-box", "[0, 1]^3: log density 0", {"action_dim": 3, "low": 0.0, "high": 1.0}),
        ("wide-box", "[-2, 3]^4", {"action_dim": 4, "low": -2.0, "high": 3.0}),
    ]


# --------------------------------------------------------------------------- eq. (11)


def bellman_cases() -> list[Case]:
    return [
        ("ordinary", "gamma = 0.99, no terminal",
         {"reward": _normal(8, (4,)), "discount": 0.99, "done": np.zeros(4), "next_value": _normal(9, (4,), 5.0)}),
        ("terminal", "done = 1 drops the bootstrap",
         {"reward": np.array([1.0, -2.0, 0.5]), "discount": 0.9, "done": np.array([1.0, 0.0, 1.0]),
          "next_value": np.array([100.0, 3.0, -50.0])}),
        ("discount-0", "gamma = 0: the target is the reward",
         {"reward": np.array([1.5, -0.5]), "discount": 0.0, "done": np.zeros(2), "next_value": np.array([7.0, 8.0])}),
        ("discount-1", "gamma = 1",
         {"reward": np.array([1.0, 2.0]), "discount": 1.0, "done": np.zeros(2), "next_value": np.array([-1.0, 0.25])}),
        ("large", "rewards and values of 1e6",
         {"reward": np.array([1e6, -1e6]), "discount": 0.99, "done": np.zeros(2), "next_value": np.array([-1e6, 1e6])}),
    ]


def loss_cases() -> list[Case]:
    return [
        ("ordinary", "16 Gaussian pairs", {"q_pred": _normal(10, (16,)), "target": _normal(11, (16,))}),
        ("equal", "zero loss", {"q_pred": np.array([1.0, -2.0, 3.0]), "target": np.array([1.0, -2.0, 3.0])}),
        ("one", "B = 1: 0.5 (t - q)^2 = 2", {"q_pred": np.array([1.0]), "target": np.array([3.0])}),
        ("large", "values of 1e6 with unit differences",
         {"q_pred": np.array([1e6, -1e6, 1e6]), "target": np.array([1e6 + 1.0, -1e6 - 2.0, 1e6])}),
    ]


def td_cases() -> list[Case]:
    q = _normal(12, (4, 16), 3.0)
    logq = np.full((4, 16), -2.0 * math.log(2.0))
    base = {"reward": _normal(13, (4,)), "discount": 0.99, "done": np.array([0.0, 0.0, 1.0, 0.0])}
    return [
        ("alpha-1", "uniform proposal on [-1, 1]^2, K_V = 16",
         {**base, "next_q_samples": q, "log_proposal": logq, "alpha": 1.0}),
        ("alpha-0.1", "alpha = 0.1: the 2017 code's alpha = 1 in the target is wrong here",
         {**base, "next_q_samples": q, "log_proposal": logq, "alpha": 0.1}),
        ("alpha-10", "alpha = 10 (the paper's multi-goal temperature)",
         {**base, "next_q_samples": q, "log_proposal": logq, "alpha": 10.0}),
        ("alpha-1e-6", "near the hard maximum", {**base, "next_q_samples": q, "log_proposal": logq, "alpha": 1e-6}),
        ("one-sample", "K_V = 1", {**base, "next_q_samples": q[:, :1], "log_proposal": logq[:, :1], "alpha": 0.5}),
    ]


# --------------------------------------------------------------------------- eq. (13), (14), tanh


def kernel_cases() -> list[Case]:
    x, y = _normal(14, (4, 2)), _normal(15, (3, 2))
    return [
        ("ordinary", "4 and 3 particles in 2-D, h = 1", {"x": x, "y": y, "bandwidth": 1.0}),
        ("coincident", "x = y: k = 1, gradient 0", {"x": np.ones((2, 3)), "y": np.ones((2, 3)), "bandwidth": 0.5}),
        ("one-particle", "N = M = 1, d = 1", {"x": np.array([[0.5]]), "y": np.array([[-0.25]]), "bandwidth": 2.0}),
        ("bandwidth-1e-3", "the floor: distant particles give k = 0", {"x": x, "y": y, "bandwidth": 1e-3}),
        ("bandwidth-1e3", "nearly flat kernel", {"x": x, "y": y, "bandwidth": 1e3}),
        ("d6", "6-D particles", {"x": _normal(16, (3, 6)), "y": _normal(17, (2, 6)), "bandwidth": 4.0}),
    ]


def bandwidth_cases() -> list[Case]:
    return [
        ("ordinary-8x8", "K = 8 fixed, 8 updated, 2-D: 64 distances, the lower median",
         {"x": _normal(18, (8, 2)), "y": _normal(19, (8, 2))}),
        ("odd-count", "3 x 5 = 15 distances: the middle one", {"x": _normal(20, (3, 2)), "y": _normal(21, (5, 2))}),
        ("even-count", "2 x 2: the lower of the two middle distances, not their mean",
         {"x": np.array([[0.0, 0.0], [3.0, 0.0]]), "y": np.array([[1.0, 0.0], [0.0, 2.0]])}),
        ("one-fixed", "N = 1: divide by log 2 (log 1 = 0)",
         {"x": np.array([[0.0]]), "y": np.array([[1.0], [2.0], [3.0]])}),
        ("coincident", "all particles equal: the floor 1e-3", {"x": np.zeros((4, 2)), "y": np.zeros((4, 2))}),
        ("clustered", "tiny distances: the floor 1e-3 applies",
         {"x": _normal(22, (4, 2), 1e-3), "y": _normal(23, (4, 2), 1e-3)}),
        ("d6-k16", "16 particles in 6-D (the MuJoCo setting)", {"x": _normal(24, (16, 6)), "y": _normal(25, (16, 6))}),
    ]


def direction_cases() -> list[Case]:
    fixed, grad_q, updated = _normal(26, (4, 2)), _normal(27, (4, 2), 3.0), _normal(28, (3, 2))
    base = {"fixed": fixed, "grad_q": grad_q, "updated": updated}
    return [
        ("ordinary", "K = 4, M = 3, d = 2, alpha = 1, h = 1", {**base, "alpha": 1.0, "bandwidth": 1.0}),
        ("alpha-0", "no repulsion: a kernel-weighted mean of grad Q", {**base, "alpha": 0.0, "bandwidth": 1.0}),
        ("alpha-1e-6", "tiny repulsion", {**base, "alpha": 1e-6, "bandwidth": 0.5}),
        ("alpha-1e3", "repulsion dominates", {**base, "alpha": 1e3, "bandwidth": 2.0}),
        ("one-particle", "K = M = 1 at the same point: the direction is grad Q",
         {"fixed": np.array([[0.3, -0.2]]), "grad_q": np.array([[1.5, -4.0]]), "updated": np.array([[0.3, -0.2]]),
          "alpha": 1.0, "bandwidth": 1e-3}),
        ("coincident", "all particles equal: the repulsion cancels",
         {"fixed": np.zeros((3, 2)), "grad_q": _normal(29, (3, 2)), "updated": np.zeros((2, 2)),
          "alpha": 2.0, "bandwidth": 1e-3}),
        ("d6-k16", "16 fixed and 16 updated particles in 6-D",
         {"fixed": _normal(30, (16, 6)), "grad_q": _normal(31, (16, 6)), "updated": _normal(32, (16, 6)),
          "alpha": 0.1, "bandwidth": 3.0}),
    ]


def surrogate_cases() -> list[Case]:
    return [
        ("ordinary", "M = 4 actions in 2-D",
         {"updated_actions": np.tanh(_normal(33, (4, 2))), "direction": _normal(34, (4, 2))}),
        ("one-particle", "M = 1, d = 1", {"updated_actions": np.array([[0.5]]), "direction": np.array([[-2.0]])}),
        ("zero-direction", "no update: value 0, gradient 0",
         {"updated_actions": np.array([[0.1, 0.2]]), "direction": np.zeros((1, 2))}),
        ("large", "directions of 1e6",
         {"updated_actions": np.array([[1.0, -1.0]]), "direction": np.array([[1e6, 1e6]])}),
    ]


def tanh_cases() -> list[Case]:
    return [
        ("ordinary", "tanh of Gaussian pre-activations, d = 2", {"actions": np.tanh(_normal(35, (4, 2)))}),
        ("zero", "a = 0: d log(1 + 1e-6)", {"actions": np.zeros((1, 3))}),
        ("edge", "|a| = 1: log(1e-6) per coordinate, finite",
         {"actions": np.array([[1.0, -1.0], [1.0, 0.0]])}),
        ("near-edge", "1 - a^2 below and near 1e-6",
         {"actions": np.array([[1.0 - 1e-12, -(1.0 - 1e-9)], [0.999999, -0.9999]])}),
        ("d6", "6-D actions", {"actions": np.tanh(_normal(36, (2, 6), 2.0))}),
    ]


# --------------------------------------------------------------------------- tabular


def _mdp(transitions, rewards, discount, alpha, policy) -> dict:
    return {"transitions": np.asarray(transitions, np.float64), "rewards": np.asarray(rewards, np.float64),
            "discount": float(discount), "alpha": float(alpha), "policy": np.asarray(policy, np.float64)}


def _random_mdp(seed: int, s: int, a: int, discount: float, alpha: float, sparsity: float = 0.3) -> dict:
    rng = _rng(seed)
    transitions = _simplex(rng, (s, a, s), zeros=sparsity)
    rewards = rng.uniform(-1.0, 1.0, (s, a))
    policy = _simplex(rng, (s, a), zeros=0.3)
    return _mdp(transitions, rewards, discount, alpha, policy)


def tabular_cases() -> list[Case]:
    # A 3-state chain: action 0 moves left, action 1 right (deterministic); reward 1 at the right end.
    chain = np.zeros((3, 2, 3))
    for s in range(3):
        chain[s, 0, max(s - 1, 0)] = 1.0
        chain[s, 1, min(s + 1, 2)] = 1.0
    chain_r = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    # An absorbing, zero-reward state 2 reached from state 0 by action 1.
    absorb = np.array([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]] * 2])
    absorb_r = np.array([[0.1, 1.0], [0.2, -1.0], [0.0, 0.0]])
    return [
        ("one-state", "S = 1, A = 2, r = 0, gamma = 0.5, alpha = 1: Q* = log 2 (by hand: Q = 0.5 (log 2 + Q))",
         _mdp(np.ones((1, 2, 1)), np.zeros((1, 2)), 0.5, 1.0, [[0.5, 0.5]])),
        ("chain", "a deterministic 3-state chain, gamma = 0.9, alpha = 0.5, a deterministic policy",
         _mdp(chain, chain_r, 0.9, 0.5, [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])),
        ("absorbing", "an absorbing zero-reward state, gamma = 0.95, alpha = 0.2",
         _mdp(absorb, absorb_r, 0.95, 0.2, [[0.5, 0.5], [0.9, 0.1], [0.5, 0.5]])),
        ("random-3x3", "random sparse dynamics, gamma = 0.9, alpha = 1", _random_mdp(37, 3, 3, 0.9, 1.0)),
        ("one-action", "A = 1: Q* = Q^pi, soft and hard agree", _random_mdp(38, 3, 1, 0.8, 1.0)),
        ("alpha-1e-3", "nearly hard Q-iteration", _random_mdp(39, 3, 2, 0.9, 1e-3)),
        ("alpha-100", "entropy dominates the reward", _random_mdp(40, 3, 3, 0.9, 100.0)),
        ("discount-0.99", "a long horizon: gamma = 0.99", _random_mdp(41, 3, 2, 0.99, 0.5)),
        ("discount-0", "gamma = 0: Q* = r", _random_mdp(42, 3, 3, 0.0, 1.0)),
    ]


#: Case builder of every golden-vector file.
CASES = {
    "soft_value.json": q_cases,
    "boltzmann_policy.json": q_cases,
    "log_boltzmann_policy.json": q_cases,
    "entropy.json": entropy_cases,
    "soft_value_is.json": importance_cases,
    "uniform_log_density.json": uniform_density_cases,
    "soft_bellman_target.json": bellman_cases,
    "soft_q_loss.json": loss_cases,
    "soft_q_target.json": td_cases,
    "rbf_kernel.json": kernel_cases,
    "median_bandwidth.json": bandwidth_cases,
    "svgd_direction.json": direction_cases,
    "svgd_surrogate.json": surrogate_cases,
    "tanh_log_det_jacobian.json": tanh_cases,
    "tabular.json": tabular_cases,
}
