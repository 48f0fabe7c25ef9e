r"""Exact dynamic programming on finite MDPs: soft Q-iteration (Theorems 2, 3) and soft policy evaluation.

Targets: ``soft_q_iteration`` and ``soft_policy_evaluation``, sharing the golden file
``tabular.json`` (which also records V* and pi* of each case, for implementations in
other languages), with their golden cases, Hypothesis inputs and tolerance scales.  The
golden Q* is polished by two Newton steps (soft policy iteration, Theorem 4), so it is
exact, not merely converged; candidates are compared at a tolerance fit for an iterative
solver stopped at 1e-6 of the bound on |Q|.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from softq_ref.conformance.declaration import (
    TABULAR_TOLERANCE, TEMPERATURE, Case, Target, as_float64, drawn, like, properties, rng, simplex, x64,
)
from softq_ref.core import soft_values as core_soft_values
from softq_ref.tabular import solvers as _solvers
from softq_ref.tabular.mdp import TabularMDP


# --------------------------------------------------------------------------- golden cases


def _mdp(transitions, rewards, discount, alpha, policy) -> dict:
    return {"transitions": np.asarray(transitions, np.float64), "rewards": np.asarray(rewards, np.float64),
            "discount": float(discount), "alpha": float(alpha), "policy": np.asarray(policy, np.float64)}


def _random_mdp(seed: int, s: int, a: int, discount: float, alpha: float, sparsity: float = 0.3) -> dict:
    generator = rng(seed)
    transitions = simplex(generator, (s, a, s), zeros=sparsity)
    rewards = generator.uniform(-1.0, 1.0, (s, a))
    policy = simplex(generator, (s, a), zeros=0.3)
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


# --------------------------------------------------------------------------- randomised inputs (Hypothesis)


def mdp_inputs(draw, alpha_kind: str, with_policy: bool) -> dict:
    """A finite MDP (``transitions``, ``rewards``, ``discount``), ``alpha`` and, if asked, a ``policy``."""
    from softq_ref.conformance.strategies import alphas, arrays, probability_arrays, st

    s = draw(st.sampled_from((3, 1)))  # few shapes: each one compiles the reference solvers once
    a = draw(st.sampled_from((2, 1, 3)))
    out = {
        "transitions": draw(probability_arrays((s, a, s))),
        "rewards": draw(arrays((s, a), 10.0)),
        "discount": draw(st.one_of(st.sampled_from((0.9, 0.5, 0.0)), st.floats(0.0, 0.95))),
        "alpha": draw(alphas(alpha_kind)),
    }
    if with_policy:
        out["policy"] = draw(probability_arrays((s, a)))
        out = {k: out[k] for k in ("transitions", "rewards", "discount", "policy", "alpha")}
    return out


# --------------------------------------------------------------------------- references that are not mechanical


def _tabular_mdp(i) -> TabularMDP:
    return TabularMDP(as_float64(i["transitions"]), as_float64(i["rewards"]), float(i["discount"]))


def q_bound(i) -> float:
    """$(\\max|r| + \\alpha \\log A) / (1 - \\gamma)$, a bound on $|Q|$ for any policy."""
    rewards = np.asarray(i["rewards"])
    return float((np.max(np.abs(rewards)) + i["alpha"] * math.log(rewards.shape[1])) / (1.0 - i["discount"]))


@x64(jit=False)  # the solvers are jitted inside
def soft_q_iteration_reference(i):
    """Soft Q-iteration to 1e-12 of the bound on |Q|, then two Newton steps to the fixed point.

    A Newton step of the soft Bellman equation is a step of soft policy iteration
    (Theorem 4): evaluate the Boltzmann policy of Q exactly.  From an error of 1e-12 two
    steps reach float64 rounding, so the golden Q* is exact, not merely converged.
    """
    mdp, alpha = _tabular_mdp(i), i["alpha"]
    q = _solvers.soft_q_iteration(mdp, alpha, tol=1e-12 * max(q_bound(i), 1.0), max_iters=200_000)
    for _ in range(2):
        q = _solvers.soft_policy_evaluation(mdp, _solvers.soft_policy_improvement(q, alpha), alpha)
    return {"q_star": q}


@x64(jit=False)
def soft_policy_evaluation_reference(i):
    """``def-soft-policy-evaluation``: the exact soft Q-function of ``policy``."""
    return {"q_pi": _solvers.soft_policy_evaluation(_tabular_mdp(i), as_float64(i["policy"]), i["alpha"])}


# --------------------------------------------------------------------------- tolerance scales


def scale_tabular(key):
    return lambda i, o: {key: like(q_bound(i), o[key])}


def tabular_extras(inputs: dict, outputs: dict) -> tuple[dict, dict]:
    """V* and pi* of the Q* just computed, with their scales."""
    with jax.enable_x64(True):
        q = jax.numpy.asarray(outputs["q_star"])
        v = np.asarray(core_soft_values.soft_value(q, inputs["alpha"]), np.float64)
        pi = np.asarray(core_soft_values.boltzmann_policy(q, inputs["alpha"]), np.float64)
    bound = q_bound(inputs)
    scales = {"v_star": np.full(v.shape, bound), "pi_star": np.full(pi.shape, bound / inputs["alpha"])}
    return {"v_star": v, "pi_star": pi}, scales


# --------------------------------------------------------------------------- targets


TARGETS: tuple[Target, ...] = (
    Target(
        name="soft_q_iteration", spec_id="thm-3", reference=_solvers.soft_q_iteration,
        signature="f(transitions[S, A, S], rewards[S, A], discount, alpha) -> q_star[S, A]",
        inputs=("transitions", "rewards", "discount", "alpha"), kinds=("array", "array", "float", "float"),
        outputs=("q_star",), compute=soft_q_iteration_reference, scale=scale_tabular("q_star"),
        vectors="tabular.json", cases=tabular_cases,
        summary="the optimal soft Q-function of a finite MDP (the fixed point of the soft Bellman backup)",
        notes=("transitions[s, a, s'] = p(s' | s, a); discount < 1",
               "scale = (max|r| + alpha log A) / (1 - discount): a solver stopped at sup-norm error 1e-6 scale passes"),
        tolerance=dict(TABULAR_TOLERANCE), vector_extras=tabular_extras,
        properties=properties(("random", "MDPs with 1 or 3 states, 1..3 actions, sparse rows, alpha in [0.05, 20]",
                               drawn(mdp_inputs, "moderate", False)),
                              ("temperature", TEMPERATURE, drawn(mdp_inputs, "wide", False))),
    ),
    Target(
        name="soft_policy_evaluation", spec_id="def-soft-policy-evaluation", reference=_solvers.soft_policy_evaluation,
        signature="f(transitions[S, A, S], rewards[S, A], discount, policy[S, A], alpha) -> q_pi[S, A]",
        inputs=("transitions", "rewards", "discount", "policy", "alpha"),
        kinds=("array", "array", "float", "array", "float"), outputs=("q_pi",),
        compute=soft_policy_evaluation_reference, scale=scale_tabular("q_pi"),
        vectors="tabular.json", cases=tabular_cases,
        summary="the soft Q-function of a fixed policy",
        notes=("no entropy bonus at the first (s, a): it starts at the next state",
               "Q(s, a) = r + gamma E_s'[ sum_a' pi(a'|s') Q(s', a') + alpha H(pi(.|s')) ]"),
        tolerance=dict(TABULAR_TOLERANCE),
        properties=properties(("random", "MDPs and policies (some deterministic rows), alpha in [0.05, 20]",
                               drawn(mdp_inputs, "moderate", True)),
                              ("temperature", TEMPERATURE, drawn(mdp_inputs, "wide", True))),
    ),
)
