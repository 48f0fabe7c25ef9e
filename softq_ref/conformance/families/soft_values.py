r"""Soft values over discrete actions (eq. (5), (6), the entropy) and their importance-sampled form (eq. (10)).

Targets: ``soft_value``, ``boltzmann_policy``, ``log_boltzmann_policy``, ``entropy``,
``soft_value_is``, ``uniform_log_density``, with their golden cases, Hypothesis inputs and
tolerance scales.  The numerical traps: temperatures from 1e-6 to 1e3, $|Q|$ up to 1e6
(where $\exp(Q/\alpha)$ overflows without the maximum subtracted), one action, ties, and
the $-\log K$ of the importance-sampled estimator.
"""

from __future__ import annotations

import math

import numpy as np

from softq_ref.conformance.declaration import (
    EXTREME, RANDOM, TEMPERATURE, Case, Target, drawn, like, normal, properties, rng, row_max, simplex,
)
from softq_ref.core import soft_values as core_soft_values


# --------------------------------------------------------------------------- golden cases


def q_cases() -> list[Case]:
    """``q[B, A]`` and ``alpha``: shared by soft_value, boltzmann_policy, log_boltzmann_policy."""
    q = normal(1, (3, 4), 2.0)
    spread = normal(2, (2, 5), 1e-6)
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


def entropy_cases() -> list[Case]:
    generator = rng(3)
    return [
        ("ordinary", "random distributions over 5 actions", {"probs": simplex(generator, (3, 5))}),
        ("uniform", "H = log A", {"probs": np.full((2, 4), 0.25)}),
        ("one-hot", "0 log 0 = 0: H = 0", {"probs": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])}),
        ("one-action", "A = 1: H = 0", {"probs": np.ones((2, 1))}),
        ("sparse", "exact zeros among the entries", {"probs": simplex(rng(4), (4, 6), zeros=0.5)}),
        ("tiny", "probabilities of 1e-300", {"probs": np.array([[1.0 - 2e-300, 1e-300, 1e-300]])}),
    ]


def importance_cases() -> list[Case]:
    q16 = normal(5, (3, 16), 3.0)
    uniform2 = np.full((3, 16), -2.0 * math.log(2.0))
    return [
        ("uniform-d2", "the original code's proposal: uniform on [-1, 1]^2, K_V = 16, alpha = 1",
         {"q_samples": q16, "log_proposal": uniform2, "alpha": 1.0}),
        ("uniform-d2-alpha-0.1", "the same at alpha = 0.1 (reward scale 10)",
         {"q_samples": q16, "log_proposal": uniform2, "alpha": 0.1}),
        ("uniform-d6-alpha-10", "uniform on [-1, 1]^6, alpha = 10",
         {"q_samples": q16, "log_proposal": np.full((3, 16), -6.0 * math.log(2.0)), "alpha": 10.0}),
        ("proposal-density", "a non-uniform proposal: Gaussian log-densities",
         {"q_samples": normal(6, (2, 8)), "log_proposal": -0.5 * normal(7, (2, 8)) ** 2 - 0.5 * math.log(2 * math.pi),
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


# --------------------------------------------------------------------------- randomised inputs (Hypothesis)


def q_and_alpha(draw, alpha_kind: str, bound: float) -> dict:
    """``q[B, A]`` and ``alpha``; one action and ties included."""
    from softq_ref.conformance.strategies import alphas, arrays, extreme_values, st

    b = draw(st.sampled_from((1, 3)))
    a = draw(st.sampled_from((2, 1, 5)))
    q = draw(arrays((b, a), bound, extreme_values(bound)))
    return {"q": q, "alpha": draw(alphas(alpha_kind))}


def distributions(draw, degenerate: bool) -> dict:
    """``probs[B, A]``: rows summing to 1, some exact zeros (all-zero weights give a uniform row)."""
    from softq_ref.conformance.strategies import probability_arrays, st

    b = draw(st.sampled_from((1, 3)))
    a = draw(st.sampled_from((1, 4) if degenerate else (3, 1, 5)))
    return {"probs": draw(probability_arrays((b, a), tiny=degenerate))}


def importance_samples(draw, alpha_kind: str, bound: float) -> dict:
    """``q_samples[B, K]``, ``log_proposal[B, K]`` (uniform on [-1, 1]^d or arbitrary), ``alpha``."""
    from softq_ref.conformance.strategies import alphas, arrays, extreme_values, st

    b = draw(st.sampled_from((1, 3)))
    k = draw(st.sampled_from((4, 1, 16)))
    q = draw(arrays((b, k), bound, extreme_values(bound)))
    if draw(st.booleans()):
        log_proposal = draw(arrays((b, k), 5.0))
    else:
        d = draw(st.sampled_from((2, 1, 6)))
        log_proposal = np.full((b, k), -d * math.log(2.0))
    return {"q_samples": q, "log_proposal": log_proposal, "alpha": draw(alphas(alpha_kind))}


def uniform_boxes(draw) -> dict:
    """``action_dim``, ``low``, ``high`` with ``high - low`` in [1e-3, 1e3]."""
    from softq_ref.conformance.strategies import floats, st

    d = draw(st.integers(1, 64))
    low = draw(floats(10.0))
    width = draw(st.one_of(st.just(2.0), st.floats(1e-3, 1e3)))
    high = low + width
    if not high > low:  # width lost to rounding
        high = math.nextafter(low, math.inf)
    return {"action_dim": d, "low": low, "high": high}


# --------------------------------------------------------------------------- tolerance scales


def scale_soft_value(i, o):
    a = np.shape(i["q"])[-1]
    return {"value": like(row_max(i["q"])[..., 0] + i["alpha"] * math.log(a), o["value"])}


def _log_policy_scale(i, out):
    """max |Q| / alpha + log A: the size of Q / alpha and of its log-sum-exp."""
    return like(row_max(i["q"]) / i["alpha"] + math.log(np.shape(i["q"])[-1]), out)


def scale_boltzmann_policy(i, o):
    # A probability moves by at most p times the error of its log: the log-probability's scale.
    return {"policy": _log_policy_scale(i, o["policy"])}


def scale_log_boltzmann_policy(i, o):
    return {"log_policy": _log_policy_scale(i, o["log_policy"])}


def scale_entropy(i, o):
    return {"entropy": like(1.0 + math.log(np.shape(i["probs"])[-1]), o["entropy"])}


def importance_sampling_scale(q, log_proposal, alpha):
    """max_k |Q_k - alpha log q_k| + alpha log K: the size of the terms of eq. (10) (also used by eq. (11))."""
    k = np.shape(q)[-1]
    shifted = np.asarray(q, dtype=np.float64) - alpha * np.asarray(log_proposal, dtype=np.float64)
    return row_max(shifted)[..., 0] + alpha * math.log(k)


def scale_soft_value_is(i, o):
    return {"value": like(importance_sampling_scale(i["q_samples"], i["log_proposal"], i["alpha"]), o["value"])}


def scale_uniform_log_density(i, o):
    return {"log_density": like(1.0 + i["action_dim"] * abs(math.log(i["high"] - i["low"])), o["log_density"])}


# --------------------------------------------------------------------------- targets


#: The properties of every target that takes ``(q, alpha)``: soft value, Boltzmann policy and its log.
Q_ALPHA_PROPERTIES = properties(("random", RANDOM, drawn(q_and_alpha, "moderate", 10.0)),
                                ("temperature", TEMPERATURE, drawn(q_and_alpha, "wide", 10.0)),
                                ("extreme", EXTREME, drawn(q_and_alpha, "wide", 1e6)))


TARGETS: tuple[Target, ...] = (
    Target(
        name="soft_value", spec_id="eq-5", reference=core_soft_values.soft_value,
        signature="f(q[B, A], alpha) -> value[B]",
        inputs=("q", "alpha"), kinds=("array", "float"), outputs=("value",),
        scale=scale_soft_value, vectors="soft_value.json", cases=q_cases,
        summary="soft value over a discrete action axis: alpha log sum_a exp(Q/alpha)",
        notes=("reduce over the last axis",),
        properties=Q_ALPHA_PROPERTIES,
    ),
    Target(
        name="boltzmann_policy", spec_id="eq-6", reference=core_soft_values.boltzmann_policy,
        signature="f(q[B, A], alpha) -> policy[B, A]",
        inputs=("q", "alpha"), kinds=("array", "float"), outputs=("policy",),
        scale=scale_boltzmann_policy,
        vectors="boltzmann_policy.json", cases=q_cases,
        summary="energy-based policy: softmax of Q/alpha over the last axis",
        properties=Q_ALPHA_PROPERTIES,
    ),
    Target(
        name="log_boltzmann_policy", spec_id="eq-6", reference=core_soft_values.log_boltzmann_policy,
        signature="f(q[B, A], alpha) -> log_policy[B, A]",
        inputs=("q", "alpha"), kinds=("array", "float"), outputs=("log_policy",),
        scale=scale_log_boltzmann_policy,
        vectors="log_boltzmann_policy.json", cases=q_cases,
        summary="log of the energy-based policy: (Q - V)/alpha",
        properties=Q_ALPHA_PROPERTIES,
    ),
    Target(
        name="entropy", spec_id="def-entropy", reference=core_soft_values.entropy,
        signature="f(probs[B, A]) -> entropy[B]",
        inputs=("probs",), kinds=("array",), outputs=("entropy",),
        scale=scale_entropy, vectors="entropy.json", cases=entropy_cases,
        summary="Shannon entropy in nats over the last axis",
        notes=("0 log 0 = 0: a zero probability contributes nothing",),
        properties=properties(("random", "distributions with some exact zeros", drawn(distributions, False)),
                              ("degenerate", "one action, one-hot rows, probabilities down to 1e-300",
                               drawn(distributions, True))),
    ),
    Target(
        name="soft_value_is", spec_id="eq-10", reference=core_soft_values.soft_value_is,
        signature="f(q_samples[B, K], log_proposal[B, K], alpha) -> value[B]",
        inputs=("q_samples", "log_proposal", "alpha"), kinds=("array", "array", "float"), outputs=("value",),
        scale=scale_soft_value_is, vectors="soft_value_is.json", cases=importance_cases,
        summary="importance-sampled soft value: alpha (log sum_k exp(Q_k/alpha - log q_k) - log K)",
        notes=("the -log K term is part of the estimator (a mean of importance weights)",
               "log_proposal is the proposal's log-density at each sample; -d log 2 for uniform on [-1, 1]^d",
               "alpha multiplies the whole log-sum-exp: the 2017 code's alpha = 1 is wrong for alpha != 1"),
        properties=properties(("random", RANDOM, drawn(importance_samples, "moderate", 10.0)),
                              ("temperature", TEMPERATURE, drawn(importance_samples, "wide", 10.0)),
                              ("extreme", EXTREME, drawn(importance_samples, "wide", 1e6))),
    ),
    Target(
        name="uniform_log_density", spec_id="eq-10", reference=core_soft_values.uniform_log_density,
        signature="f(action_dim: int, low: float, high: float) -> log_density (a float)",
        inputs=("action_dim", "low", "high"), kinds=("int", "float", "float"), outputs=("log_density",),
        scale=scale_uniform_log_density,
        vectors="uniform_log_density.json", cases=uniform_density_cases,
        summary="log-density of the uniform proposal on [low, high]^d: -d log(high - low)",
        properties=properties(("random", "dimensions 1..64, boxes of width 1e-3..1e3", drawn(uniform_boxes))),
    ),
)
