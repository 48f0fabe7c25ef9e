r"""Soft actor-critic's equations (the maximum-entropy family): the critic target, the policy's log-density, the losses.

Targets: ``sac_q_target`` (eq. (5) of arXiv:1812.05905 with clipped double Q),
``tanh_gaussian_log_prob`` (Appendix C of arXiv:1801.01290), ``sac_policy_loss`` (eq. (9))
and ``sac_temperature_loss`` (eq. (18)), with their golden cases, Hypothesis inputs and
tolerance scales.  The traps: the *minimum* over the target critics (not their mean), the
sign of the entropy term ($Q - \alpha \log \pi$, a bonus for a spread-out policy), terminal
transitions, and $\log(1 - \tanh^2 u)$, which rounds to $\log 0$ once $|u| \gtrsim 19$ in
float64 (and loses digits from $|u| \approx 10$) unless written as
$2(\log 2 - u - \mathrm{softplus}(-2u))$.

The golden cases are those first written by ``tests/test_family_vectors.py`` (same seeds,
same inputs); the scales are the ones recorded there.
"""

from __future__ import annotations

import math

import numpy as np

from softq_ref.conformance.declaration import RANDOM, Case, Target, drawn, like, properties, rng
from softq_ref.core import actor_critic as core_actor_critic

#: The properties' description of the far tails of the pre-squash sample.
FAR_OUT = "|u| up to 40: log(1 - tanh^2 u) rounds to log 0 unless written with softplus"
#: The temperature range of the SAC targets (0 included: SAC without entropy).
SAC_TEMPERATURE = "the temperature over its whole range, 0 and 1e-6 <= alpha <= 1e3"


# --------------------------------------------------------------------------- golden cases


def q_target_cases() -> list[Case]:
    r = rng(0)
    base = dict(reward=r.normal(size=6), discount=0.99, done=(r.uniform(size=6) < 0.3).astype(float),
                next_q=r.normal(size=(2, 6)) * 5, next_log_prob=r.normal(size=6), alpha=0.2)
    return [
        ("ordinary", "two critics, some terminal transitions", base),
        ("one-critic", "N = 1: no clipping", {**base, "next_q": base["next_q"][:1]}),
        ("all-terminal", "the target is the reward alone", {**base, "done": np.ones(6)}),
        ("alpha-large", "alpha = 100: the entropy term dominates", {**base, "alpha": 100.0}),
        ("discount-zero", "gamma = 0", {**base, "discount": 0.0}),
    ]


def tanh_gaussian_cases() -> list[Case]:
    r = rng(1)
    ordinary = dict(u=r.normal(size=(4, 3)), mean=r.normal(size=(4, 3)), log_std=r.normal(size=(4, 3)) * 0.5)
    return [
        ("ordinary", "moderate u, d = 3", ordinary),
        ("far-out", "|u| = 12 and 30: log(1 - tanh^2 u) underflows unless written with softplus",
         dict(u=np.array([[12.0], [-30.0], [30.0]]), mean=np.zeros((3, 1)), log_std=np.zeros((3, 1)))),
        ("narrow", "log std = -20 (the agent's lower clip)",
         dict(u=np.array([[0.1, -0.1]]), mean=np.array([[0.1, -0.1]]), log_std=np.full((1, 2), -20.0))),
    ]


def policy_loss_cases() -> list[Case]:
    r = rng(2)
    return [
        ("ordinary", "8 states", dict(log_prob=r.normal(size=8), q=r.normal(size=8) * 10, alpha=0.2)),
        ("alpha-zero", "alpha = 0: -mean(Q)", dict(log_prob=r.normal(size=8), q=r.normal(size=8), alpha=0.0)),
    ]


def temperature_cases() -> list[Case]:
    r = rng(3)
    return [
        ("ordinary", "log alpha = log 0.2, target -6",
         dict(log_alpha=math.log(0.2), log_prob=r.normal(size=8), target_entropy=-6.0)),
        ("on-target", "entropy exactly on target: loss 0",
         dict(log_alpha=0.5, log_prob=np.full(4, 1.0), target_entropy=-1.0)),
    ]


# --------------------------------------------------------------------------- Hypothesis inputs


def _discount(draw) -> float:
    from softq_ref.conformance.strategies import st

    return draw(st.one_of(st.sampled_from((0.99, 0.0, 1.0)), st.floats(0.0, 1.0)))


def q_target_inputs(draw, alpha_kind: str) -> dict:
    """``reward[B]``, ``discount``, ``done[B]`` in {0, 1}, ``next_q[N, B]`` (N = 2 first), ``next_log_prob[B]``."""
    from softq_ref.conformance.strategies import alphas, arrays, hnp, st

    b = draw(st.sampled_from((1, 4)))
    n = draw(st.sampled_from((2, 1, 3)))
    return {
        "reward": draw(arrays((b,), 10.0)),
        "discount": _discount(draw),
        "done": draw(hnp.arrays(np.float64, (b,), elements=st.sampled_from((0.0, 1.0)))),
        "next_q": draw(arrays((n, b), 10.0)),
        "next_log_prob": draw(arrays((b,), 10.0)),
        "alpha": draw(alphas(alpha_kind)),
    }


def tanh_gaussian_inputs(draw, far: bool) -> dict:
    """``u[B, d]``, ``mean[B, d]``, ``log_std[B, d]``; with ``far``, ``|u|`` up to 40 (+-10, +-12, +-30 first)."""
    from softq_ref.conformance.strategies import arrays, st

    b = draw(st.sampled_from((1, 3)))
    d = draw(st.sampled_from((2, 1, 6)))
    if far:
        u = draw(arrays((b, d), 40.0, (10.0, -12.0, 30.0, -30.0, 20.0)))
    else:
        u = draw(arrays((b, d), 3.0))
    mean = u + draw(arrays((b, d), 3.0)) if draw(st.booleans()) else draw(arrays((b, d), 3.0))
    log_std = draw(arrays((b, d), 1.0)) + draw(st.sampled_from((0.0, -2.0, -5.0) if far else (0.0,)))
    return {"u": u, "mean": mean, "log_std": log_std}


def policy_loss_inputs(draw, alpha_kind: str) -> dict:
    """``log_prob[B]``, ``q[B]``, ``alpha``."""
    from softq_ref.conformance.strategies import alphas, arrays, st

    b = draw(st.sampled_from((1, 8)))
    return {"log_prob": draw(arrays((b,), 10.0)), "q": draw(arrays((b,), 10.0)), "alpha": draw(alphas(alpha_kind))}


def temperature_inputs(draw, wide: bool) -> dict:
    """``log_alpha`` in [-5, 5] (``wide``: alpha from 1e-6 to 1e3), ``log_prob[B]``, ``target_entropy`` in [-10, 10]."""
    from softq_ref.conformance.strategies import arrays, st

    b = draw(st.sampled_from((1, 8)))
    low, high = (math.log(1e-6), math.log(1e3)) if wide else (-5.0, 5.0)
    return {
        "log_alpha": draw(st.one_of(st.sampled_from((0.0, math.log(0.2))), st.floats(low, high))),
        "log_prob": draw(arrays((b,), 10.0)),
        "target_entropy": draw(st.one_of(st.sampled_from((-1.0, -6.0)), st.floats(-10.0, 10.0))),
    }


# --------------------------------------------------------------------------- tolerance scales


def _max_abs(x) -> float:
    return float(np.max(np.abs(np.asarray(x, dtype=np.float64)), initial=0.0))


def scale_sac_q_target(i, o):
    """max |Q'| + alpha max |log pi| + max |r|: the sizes of the terms of the target."""
    s = _max_abs(i["next_q"]) + i["alpha"] * _max_abs(i["next_log_prob"]) + _max_abs(i["reward"])
    return {"target": like(s, o["target"])}


def scale_tanh_gaussian_log_prob(i, o):
    """max z^2 + max |u| + 1, z = (u - mean) / std: the Gaussian term and the Jacobian term (about 2|u|)."""
    z2 = np.square((np.asarray(i["u"]) - np.asarray(i["mean"])) * np.exp(-np.asarray(i["log_std"])))
    return {"log_prob": like(_max_abs(z2) + _max_abs(i["u"]) + 1.0, o["log_prob"])}


def scale_sac_policy_loss(i, o):
    return {"loss": like(_max_abs(i["q"]) + i["alpha"] * _max_abs(i["log_prob"]), o["loss"])}


def scale_sac_temperature_loss(i, o):
    s = math.exp(i["log_alpha"]) * (_max_abs(i["log_prob"]) + abs(i["target_entropy"]))
    return {"loss": like(s, o["loss"])}


# --------------------------------------------------------------------------- targets


TARGETS: tuple[Target, ...] = (
    Target(
        name="sac_q_target", spec_id="eq-sac-5", reference=core_actor_critic.sac_q_target,
        signature="f(reward[B], discount, done[B], next_q[N, B], next_log_prob[B], alpha) -> target[B]",
        inputs=("reward", "discount", "done", "next_q", "next_log_prob", "alpha"),
        kinds=("array", "float", "array", "array", "array", "float"), outputs=("target",),
        scale=scale_sac_q_target, vectors="sac_q_target.json", cases=q_target_cases,
        summary="SAC's critic target: r + gamma (1 - done) (min_n Q_n(s', a') - alpha log pi(a' | s'))",
        notes=("clipped double Q: the minimum over the N target critics on the leading axis, not their mean",
               "the entropy term is subtracted: V(s') = Q - alpha log pi (a bonus for a spread-out policy)",
               "done = 1 drops the bootstrap; next_log_prob is at a fresh action from the current policy"),
        properties=properties(("random", RANDOM + "; N = 1, 2, 3 critics", drawn(q_target_inputs, "moderate")),
                              ("temperature", SAC_TEMPERATURE, drawn(q_target_inputs, "wide0"))),
    ),
    Target(
        name="tanh_gaussian_log_prob", spec_id="def-tanh-gaussian", reference=core_actor_critic.tanh_gaussian_log_prob,
        signature="f(u[B, d], mean[B, d], log_std[B, d]) -> log_prob[B]",
        inputs=("u", "mean", "log_std"), kinds=("array", "array", "array"), outputs=("log_prob",),
        scale=scale_tanh_gaussian_log_prob, vectors="tanh_gaussian_log_prob.json", cases=tanh_gaussian_cases,
        summary="log-density of a = tanh(u), u ~ N(mean, exp(log_std)^2), summed over the last axis",
        notes=("u is the pre-squash Gaussian sample, not the action tanh(u)",
               "log(1 - tanh^2 u) = 2 (log 2 - u - softplus(-2u)): exact for every u; the naive form is -inf "
               "from |u| ~ 19 in float64",
               "natural logarithms; the Gaussian term includes -log std - log(2 pi) / 2 per coordinate"),
        properties=properties(("random", "moderate u, mean and log std in [-1, 1]", drawn(tanh_gaussian_inputs, False)),
                              ("extreme", FAR_OUT, drawn(tanh_gaussian_inputs, True))),
    ),
    Target(
        name="sac_policy_loss", spec_id="eq-sac-9", reference=core_actor_critic.sac_policy_loss,
        signature="f(log_prob[B], q[B], alpha) -> loss (a scalar)",
        inputs=("log_prob", "q", "alpha"), kinds=("array", "array", "float"), outputs=("loss",),
        scale=scale_sac_policy_loss, vectors="sac_policy_loss.json", cases=policy_loss_cases,
        summary="SAC's reparameterised policy loss: mean_B(alpha log pi - Q)",
        notes=("the mean over the batch, not the sum", "alpha log pi - Q: the policy minimises it"),
        properties=properties(("random", RANDOM, drawn(policy_loss_inputs, "moderate")),
                              ("temperature", SAC_TEMPERATURE, drawn(policy_loss_inputs, "wide0"))),
    ),
    Target(
        name="sac_temperature_loss", spec_id="eq-sac-18", reference=core_actor_critic.sac_temperature_loss,
        signature="f(log_alpha, log_prob[B], target_entropy) -> loss (a scalar)",
        inputs=("log_alpha", "log_prob", "target_entropy"), kinds=("float", "array", "float"), outputs=("loss",),
        scale=scale_sac_temperature_loss, vectors="sac_temperature_loss.json", cases=temperature_cases,
        summary="SAC's temperature loss: -exp(log_alpha) mean_B(log pi + target_entropy)",
        notes=("the parameter is log alpha; the loss value is eq. (18) at alpha = exp(log_alpha)",
               "the default target entropy is -d (d the action dimension)"),
        properties=properties(("random", "log alpha in [-5, 5], target entropy in [-10, 10]",
                               drawn(temperature_inputs, False)),
                              ("temperature", "alpha = exp(log alpha) over its whole range, 1e-6 to 1e3",
                               drawn(temperature_inputs, True))),
    ),
)
