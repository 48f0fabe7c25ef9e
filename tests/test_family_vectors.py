"""Golden vectors of the maximum-entropy family's equations (SAC, the soft return): conformance targets.

The files ``spec/vectors/{sac_q_target,tanh_gaussian_log_prob,sac_policy_loss,sac_temperature_loss,
soft_returns}.json`` are declared by the family modules ``softq_ref/conformance/families/actor_critic.py``
and ``policy_gradient.py`` (their golden cases, scales and Hypothesis inputs) and written and checked
by the kit like every other file: ``python -m softq_ref.conformance.vectors --write`` / ``--check``.
This file checks that they are part of the kit and agree with the code, and that the check can fail.
(``softq-ref conform`` against them: ``tests/test_conformance_kit.py``.)
"""

from __future__ import annotations

import json
import shutil

import numpy as np

from softq_ref.conformance import get_target, vectors
from softq_ref.conformance.families import actor_critic, policy_gradient

FAMILY_FILES = {
    "sac_q_target.json": ("eq-sac-5", "softq_ref.core.actor_critic.sac_q_target"),
    "tanh_gaussian_log_prob.json": ("def-tanh-gaussian", "softq_ref.core.actor_critic.tanh_gaussian_log_prob"),
    "sac_policy_loss.json": ("eq-sac-9", "softq_ref.core.actor_critic.sac_policy_loss"),
    "sac_temperature_loss.json": ("eq-sac-18", "softq_ref.core.actor_critic.sac_temperature_loss"),
    "soft_returns.json": ("def-soft-return", "softq_ref.core.policy_gradient.soft_returns"),
}


def test_family_files_are_conformance_targets_of_the_family_modules():
    declared = {t.vectors: t for family in (actor_critic, policy_gradient) for t in family.TARGETS}
    assert set(declared) == set(FAMILY_FILES)
    assert set(FAMILY_FILES) <= set(vectors.filenames())
    for filename, (spec_id, function) in FAMILY_FILES.items():
        target = declared[filename]
        assert get_target(spec_id) is target  # `--equation eq-sac-5` and the like resolve to it
        doc = json.loads((vectors.VECTORS_DIR / filename).read_text())
        assert doc["generated_by"] == "python -m softq_ref.conformance.vectors --write"
        assert [(t["spec_id"], t["function"]) for t in doc["targets"]] == [(spec_id, function)]


def test_family_vectors_agree_with_the_code():
    assert vectors.verify(only=sorted(FAMILY_FILES)) == []


def test_family_vectors_cover_their_edge_cases():
    names = {f: {c.name for c in vectors.load(f)} for f in FAMILY_FILES}
    assert {"one-critic", "all-terminal", "discount-zero"} <= names["sac_q_target.json"]
    assert {"far-out", "narrow"} <= names["tanh_gaussian_log_prob.json"]
    far = next(c for c in vectors.load("tanh_gaussian_log_prob.json") if c.name == "far-out")
    assert np.max(np.abs(far.inputs["u"])) >= 30 and np.all(np.isfinite(far.outputs["log_prob"]))
    assert {"alpha-zero"} <= names["sac_policy_loss.json"]
    assert {"on-target"} <= names["sac_temperature_loss.json"]


def test_family_vectors_catch_an_edited_value(tmp_path):
    """Must-fail twin: one stored output nudged by 1e-6 relative, and one input changed, are both reported."""
    for filename in FAMILY_FILES:
        shutil.copy(vectors.VECTORS_DIR / filename, tmp_path / filename)
    path = tmp_path / "sac_q_target.json"
    doc = json.loads(path.read_text())
    data = doc["cases"][0]["outputs"]["target"]["data"]
    data[0] = data[0] * (1 + 1e-6)
    path.write_text(json.dumps(doc))
    problems = vectors.verify(tmp_path, only=sorted(FAMILY_FILES))
    assert len(problems) == 1 and problems[0].startswith("sac_q_target.json:ordinary: output target differs"), problems

    path = tmp_path / "soft_returns.json"
    doc = json.loads(path.read_text())
    doc["cases"][1]["inputs"]["alpha"] = 2.0
    path.write_text(json.dumps(doc))
    problems = vectors.verify(tmp_path, only=["soft_returns.json"])
    assert "soft_returns.json:no-terminal: input alpha differs from the declared case" in problems
