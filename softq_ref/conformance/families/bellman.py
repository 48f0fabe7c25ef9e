r"""The soft Bellman target and the soft Q-learning loss (eq. (11)), alone and with eq. (10) inside.

Targets: ``soft_bellman_target``, ``soft_q_loss`` and ``soft_q_target`` (the whole TD
target: the importance-sampled soft value of the next state inside eq. (11), for code
that computes both in one function), with their golden cases, Hypothesis inputs and
tolerance scales.  The traps: terminal transitions, discounts 0 and 1, the mean (not the
sum) and the factor 1/2 of the loss, and the temperature that the 2017 code left out of
the target.
"""

from __future__ import annotations

import math

import numpy as np

from softq_ref.conformance.declaration import (
    RANDOM, TEMPERATURE, Case, Target, absolute, as_float64, drawn, like, normal, properties, x64,
)
from softq_ref.conformance.families.soft_values import importance_sampling_scale, importance_samples
from softq_ref.core import bellman as core_bellman
from softq_ref.core import soft_values as core_soft_values


# --------------------------------------------------------------------------- golden cases


def bellman_cases() -> list[Case]:
    return [
        ("ordinary", "gamma = 0.99, no terminal",
         {"reward": normal(8, (4,)), "discount": 0.99, "done": np.zeros(4), "next_value": normal(9, (4,), 5.0)}),
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
        ("ordinary", "16 Gaussian pairs", {"q_pred": normal(10, (16,)), "target": normal(11, (16,))}),
        ("equal", "zero loss", {"q_pred": np.array([1.0, -2.0, 3.0]), "target": np.array([1.0, -2.0, 3.0])}),
        ("one", "B = 1: 0.5 (t - q)^2 = 2", {"q_pred": np.array([1.0]), "target": np.array([3.0])}),
        ("large", "values of 1e6 with unit differences",
         {"q_pred": np.array([1e6, -1e6, 1e6]), "target": np.array([1e6 + 1.0, -1e6 - 2.0, 1e6])}),
    ]


def td_cases() -> list[Case]:
    q = normal(12, (4, 16), 3.0)
    logq = np.full((4, 16), -2.0 * math.log(2.0))
    base = {"reward": normal(13, (4,)), "discount": 0.99, "done": np.array([0.0, 0.0, 1.0, 0.0])}
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


# --------------------------------------------------------------------------- randomised inputs (Hypothesis)


def _discounts():
    from softq_ref.conformance.strategies import st

    return st.one_of(st.sampled_from((0.99, 0.5, 0.0, 1.0)), st.floats(0.0, 1.0))


def _dones(b: int):
    from softq_ref.conformance.strategies import hnp, st

    return hnp.arrays(np.float64, (b,), elements=st.sampled_from((0.0, 1.0)))


def bellman_inputs(draw, bound: float) -> dict:
    from softq_ref.conformance.strategies import arrays, st

    b = draw(st.sampled_from((1, 4)))
    return {
        "reward": draw(arrays((b,), bound)),
        "discount": draw(_discounts()),
        "done": draw(_dones(b)),
        "next_value": draw(arrays((b,), bound)),
    }


def loss_inputs(draw, bound: float) -> dict:
    from softq_ref.conformance.strategies import arrays, st

    b = draw(st.sampled_from((1, 4, 16)))
    return {"q_pred": draw(arrays((b,), bound)), "target": draw(arrays((b,), bound))}


def td_inputs(draw, alpha_kind: str) -> dict:
    """The inputs of ``soft_q_target``: a batch of transitions and K next-state samples each."""
    from softq_ref.conformance.strategies import arrays

    samples = importance_samples(draw, alpha_kind, 10.0)
    b = samples["q_samples"].shape[0]
    return {
        "reward": draw(arrays((b,), 10.0)),
        "discount": draw(_discounts()),
        "done": draw(_dones(b)),
        "next_q_samples": samples["q_samples"],
        "log_proposal": samples["log_proposal"],
        "alpha": samples["alpha"],
    }


# --------------------------------------------------------------------------- references that are not mechanical


@x64
def soft_q_target_reference(i):
    """eq. (10) at the next state inside eq. (11)."""
    v = core_soft_values.soft_value_is(as_float64(i["next_q_samples"]), as_float64(i["log_proposal"]), i["alpha"])
    reward, done = as_float64(i["reward"]), as_float64(i["done"])
    return {"target": core_bellman.soft_bellman_target(reward, i["discount"], done, v)}


# --------------------------------------------------------------------------- tolerance scales


def scale_soft_bellman_target(i, o):
    return {"target": like(absolute(i["reward"]) + i["discount"] * absolute(i["next_value"]), o["target"])}


def scale_soft_q_loss(i, o):
    q, t = absolute(i["q_pred"]), absolute(i["target"])
    diff = np.abs(np.asarray(i["target"], np.float64) - np.asarray(i["q_pred"], np.float64))
    return {"loss": like(np.max(diff * (q + t)) + float(o["loss"]), o["loss"])}


def scale_soft_q_target(i, o):
    v = importance_sampling_scale(i["next_q_samples"], i["log_proposal"], i["alpha"])
    return {"target": like(absolute(i["reward"]) + i["discount"] * v, o["target"])}


# --------------------------------------------------------------------------- targets


TARGETS: tuple[Target, ...] = (
    Target(
        name="soft_bellman_target", spec_id="eq-11", reference=core_bellman.soft_bellman_target,
        signature="f(reward[B], discount, done[B], next_value[B]) -> target[B]",
        inputs=("reward", "discount", "done", "next_value"), kinds=("array", "float", "array", "array"),
        outputs=("target",), scale=scale_soft_bellman_target,
        vectors="soft_bellman_target.json", cases=bellman_cases,
        summary="soft Bellman target r + gamma (1 - done) V(s')",
        notes=("done is 1.0 for a terminal next state, 0.0 otherwise (given as floats)",),
        properties=properties(("random", "ordinary rewards and values, discount in [0, 1], done in {0, 1}",
                               drawn(bellman_inputs, 10.0)),
                              ("extreme", "rewards and values up to 1e6", drawn(bellman_inputs, 1e6))),
    ),
    Target(
        name="soft_q_loss", spec_id="eq-11", reference=core_bellman.soft_q_loss,
        signature="f(q_pred[B], target[B]) -> loss (a scalar)",
        inputs=("q_pred", "target"), kinds=("array", "array"), outputs=("loss",),
        scale=scale_soft_q_loss, vectors="soft_q_loss.json", cases=loss_cases,
        summary="soft Q-learning loss: 0.5 mean (target - Q)^2",
        notes=("the mean, not the sum, over the batch; the factor 1/2",),
        properties=properties(("random", "ordinary values", drawn(loss_inputs, 10.0)),
                              ("extreme", "values up to 1e6", drawn(loss_inputs, 1e6))),
    ),
    Target(
        name="soft_q_target", spec_id="eq-11", reference=core_bellman.soft_bellman_target,
        signature="f(reward[B], discount, done[B], next_q_samples[B, K], log_proposal[B, K], alpha) -> target[B]",
        inputs=("reward", "discount", "done", "next_q_samples", "log_proposal", "alpha"),
        kinds=("array", "float", "array", "array", "array", "float"), outputs=("target",),
        compute=soft_q_target_reference, scale=scale_soft_q_target, vectors="soft_q_target.json", cases=td_cases,
        summary="the whole TD target: eq. (10) at the next state inside eq. (11)",
        notes=("for code that computes V(s') and the target in one function",
               "V(s') = alpha (logsumexp(Q/alpha - log q) - log K): alpha appears twice"),
        properties=properties(("random", RANDOM, drawn(td_inputs, "moderate")),
                              ("temperature", TEMPERATURE, drawn(td_inputs, "wide"))),
    ),
)
