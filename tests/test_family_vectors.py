"""Golden vectors of the family's equations (SAC, the soft return), in the format of ``spec/vectors``.

The files ``spec/vectors/{sac_q_target,tanh_gaussian_log_prob,sac_policy_loss,sac_temperature_loss,
soft_returns}.json`` are written by ``python tests/test_family_vectors.py --write`` (computed in
float64 by the reference) and checked here: the stored outputs equal a recomputation, and every
float reads back exactly.  They are not yet registered as ``softq-ref conform`` targets
(``softq_ref/conformance/targets.py``); the cases live here until then.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from softq_ref.conformance import vectors
from softq_ref.core.actor_critic import (
    sac_policy_loss,
    sac_q_target,
    sac_temperature_loss,
    tanh_gaussian_log_prob,
)
from softq_ref.core.policy_gradient import soft_returns

DIR = Path(__file__).resolve().parent.parent / "spec" / "vectors"
TOL = (1e-10, 1e-10)


def _rng(seed):
    return np.random.default_rng(seed)


def _arr(x):
    return np.asarray(x, np.float64)


# name -> (spec id, function, signature, [(input, kind)], [outputs], compute(inputs) -> outputs, scale(inputs) -> float, cases)
def _sac_q_target_cases():
    r = _rng(0)
    base = dict(reward=r.normal(size=6), discount=0.99, done=(r.uniform(size=6) < 0.3).astype(float),
                next_q=r.normal(size=(2, 6)) * 5, next_log_prob=r.normal(size=6), alpha=0.2)
    yield "ordinary", "two critics, some terminal transitions", base
    yield "one-critic", "N = 1: no clipping", {**base, "next_q": base["next_q"][:1]}
    yield "all-terminal", "the target is the reward alone", {**base, "done": np.ones(6)}
    yield "alpha-large", "alpha = 100: the entropy term dominates", {**base, "alpha": 100.0}
    yield "discount-zero", "gamma = 0", {**base, "discount": 0.0}


def _tanh_cases():
    r = _rng(1)
    yield "ordinary", "moderate u, d = 3", dict(u=r.normal(size=(4, 3)), mean=r.normal(size=(4, 3)),
                                                 log_std=r.normal(size=(4, 3)) * 0.5)
    yield "far-out", "|u| = 12 and 30: log(1 - tanh^2 u) underflows unless written with softplus", dict(
        u=np.array([[12.0], [-30.0], [30.0]]), mean=np.zeros((3, 1)), log_std=np.zeros((3, 1)))
    yield "narrow", "log std = -20 (the agent's lower clip)", dict(
        u=np.array([[0.1, -0.1]]), mean=np.array([[0.1, -0.1]]), log_std=np.full((1, 2), -20.0))


def _policy_loss_cases():
    r = _rng(2)
    yield "ordinary", "8 states", dict(log_prob=r.normal(size=8), q=r.normal(size=8) * 10, alpha=0.2)
    yield "alpha-zero", "alpha = 0: -mean(Q)", dict(log_prob=r.normal(size=8), q=r.normal(size=8), alpha=0.0)


def _temperature_cases():
    r = _rng(3)
    yield "ordinary", "log alpha = log 0.2, target -6", dict(log_alpha=math.log(0.2), log_prob=r.normal(size=8),
                                                              target_entropy=-6.0)
    yield "on-target", "entropy exactly on target: loss 0", dict(log_alpha=0.5, log_prob=np.full(4, 1.0),
                                                                 target_entropy=-1.0)


def _returns_cases():
    r = _rng(4)
    yield "ordinary", "T = 10, terminal steps, bootstrap 2", dict(
        rewards=r.normal(size=10), log_probs=r.normal(size=10), alpha=0.1, discount=0.99,
        done=(r.uniform(size=10) < 0.3).astype(float), bootstrap=2.0)
    yield "no-terminal", "T = 5, gamma 0.5, bootstrap 0", dict(
        rewards=r.normal(size=5), log_probs=r.normal(size=5), alpha=1.0, discount=0.5, done=np.zeros(5), bootstrap=0.0)


FILES = {
    "sac_q_target.json": (
        "eq-sac-5", sac_q_target, "f(reward[B], discount, done[B], next_q[N, B], next_log_prob[B], alpha) -> target[B]",
        [("reward", "array"), ("discount", "float"), ("done", "array"), ("next_q", "array"),
         ("next_log_prob", "array"), ("alpha", "float")], ["target"], _sac_q_target_cases,
        lambda i: np.max(np.abs(i["next_q"])) + i["alpha"] * np.max(np.abs(i["next_log_prob"])) + np.max(np.abs(i["reward"]))),
    "tanh_gaussian_log_prob.json": (
        "def-tanh-gaussian", tanh_gaussian_log_prob, "f(u[B, d], mean[B, d], log_std[B, d]) -> log_prob[B]",
        [("u", "array"), ("mean", "array"), ("log_std", "array")], ["log_prob"], _tanh_cases,
        lambda i: np.max(np.square((i["u"] - i["mean"]) * np.exp(-i["log_std"]))) + np.max(np.abs(i["u"])) + 1.0),
    "sac_policy_loss.json": (
        "eq-sac-9", sac_policy_loss, "f(log_prob[B], q[B], alpha) -> loss (a scalar)",
        [("log_prob", "array"), ("q", "array"), ("alpha", "float")], ["loss"], _policy_loss_cases,
        lambda i: np.max(np.abs(i["q"])) + i["alpha"] * np.max(np.abs(i["log_prob"]))),
    "sac_temperature_loss.json": (
        "eq-sac-18", sac_temperature_loss, "f(log_alpha, log_prob[B], target_entropy) -> loss (a scalar)",
        [("log_alpha", "float"), ("log_prob", "array"), ("target_entropy", "float")], ["loss"], _temperature_cases,
        lambda i: math.exp(i["log_alpha"]) * (np.max(np.abs(i["log_prob"])) + abs(i["target_entropy"]))),
    "soft_returns.json": (
        "def-soft-return", soft_returns,
        "f(rewards[T], log_probs[T], alpha, discount, done[T], bootstrap) -> returns[T]",
        [("rewards", "array"), ("log_probs", "array"), ("alpha", "float"), ("discount", "float"), ("done", "array"),
         ("bootstrap", "float")], ["returns"], _returns_cases,
        lambda i: (np.max(np.abs(i["rewards"])) + i["alpha"] * np.max(np.abs(i["log_probs"])) + abs(i["bootstrap"]))
        / max(1.0 - i["discount"], 1.0 / len(i["rewards"]))),
}


def _compute(filename, inputs):
    _, fn, _, spec_inputs, outputs, _, scale_fn = FILES[filename]
    with jax.enable_x64(True):
        args = [_arr(inputs[n]) if k == "array" else float(inputs[n]) for n, k in spec_inputs]
        out = np.asarray(fn(*args), np.float64)
    return {outputs[0]: out}, {outputs[0]: np.full(out.shape, float(scale_fn(inputs)))}


def build(filename: str) -> dict:
    spec_id, fn, signature, spec_inputs, outputs, cases, _ = FILES[filename]
    doc_cases = []
    for name, note, inputs in cases():
        out, scale = _compute(filename, inputs)
        doc_cases.append({
            "name": name, "note": note,
            "inputs": {n: vectors.encode_array(_arr(inputs[n])) if k == "array" else float(inputs[n]) for n, k in spec_inputs},
            "outputs": {k: vectors.encode_array(v) for k, v in out.items()},
            "scale": {k: vectors.encode_array(v) for k, v in scale.items()},
        })
    return {
        "format": vectors.FORMAT,
        "generated_by": "python tests/test_family_vectors.py --write",
        "targets": [{
            "name": fn.__name__, "spec_id": spec_id, "function": f"{fn.__module__}.{fn.__name__}",
            "signature": signature, "inputs": [{"name": n, "kind": k} for n, k in spec_inputs],
            "outputs": outputs, "rtol_float64": TOL[0], "atol_float64": TOL[1],
        }],
        "cases": doc_cases,
    }


@pytest.mark.parametrize("filename", sorted(FILES))
def test_family_vectors_agree_with_the_code(filename):
    doc = json.loads((DIR / filename).read_text())
    fresh = build(filename)
    assert doc["targets"] == fresh["targets"]
    assert [c["name"] for c in doc["cases"]] == [c["name"] for c in fresh["cases"]]
    for stored, new in zip(doc["cases"], fresh["cases"]):
        assert stored["inputs"] == new["inputs"], f"{filename}:{stored['name']}: inputs changed"
        for key, value in stored["outputs"].items():
            want = vectors.decode_array(value)
            got = vectors.decode_array(new["outputs"][key])
            scale = vectors.decode_array(stored["scale"][key])
            assert np.all(np.isfinite(got)), f"{filename}:{stored['name']}: non-finite output"
            assert np.all(np.abs(got - want) <= TOL[1] + 1e-12 * np.maximum(np.abs(want), scale)), (
                f"{filename}:{stored['name']}: {got} != {want}")


def test_family_vectors_catch_an_edited_value(tmp_path):
    """The check can fail: one stored output nudged by 1e-6 relative is reported."""
    doc = json.loads((DIR / "sac_q_target.json").read_text())
    data = doc["cases"][0]["outputs"]["target"]["data"]
    data[0] = data[0] * (1 + 1e-6)
    fresh = build("sac_q_target.json")
    want = vectors.decode_array(doc["cases"][0]["outputs"]["target"])
    got = vectors.decode_array(fresh["cases"][0]["outputs"]["target"])
    assert not np.all(np.abs(got - want) <= TOL[1] + 1e-12 * np.abs(want))


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/test_family_vectors.py --write")
    for name in sorted(FILES):
        (DIR / name).write_text(vectors._dump(build(name)) + "\n")
        print("wrote", DIR / name)
