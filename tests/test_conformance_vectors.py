"""The golden vectors in spec/vectors/ agree with the code, are exact, and cover the edge cases."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from softq_ref.conformance import vectors
from softq_ref.conformance.targets import TARGETS


def test_vectors_agree_with_the_code():
    # Recomputes every case with the reference; a change of the code or of the cases a family declares
    # without `python -m softq_ref.conformance.vectors --write` fails here.
    problems = vectors.verify()
    assert not problems, "\n".join(problems)


def test_vectors_verify_detects_an_edited_value(tmp_path):
    shutil.copytree(vectors.VECTORS_DIR, tmp_path / "v")
    path = tmp_path / "v" / "soft_q_loss.json"
    doc = json.loads(path.read_text())
    doc["cases"][0]["outputs"]["loss"]["data"][0] += 1e-9
    path.write_text(json.dumps(doc))
    problems = vectors.verify(tmp_path / "v", only=["soft_q_loss.json"])
    assert problems and "soft_q_loss.json:ordinary: output loss differs" in problems[0]


@pytest.mark.parametrize("x", [0.1, 1 / 3, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                               1e-6, 1e6 - 1e-6, math.pi, -1.3862943611198906])
def test_float_encoding_round_trips_exactly(x):
    # repr is the shortest decimal that reads back to the same double: the bits survive JSON.
    text = vectors._dump({"a": vectors.encode_array(np.array([x]))})
    back = vectors.decode_array(json.loads(text)["a"])[0]
    assert np.float64(back).tobytes() == np.float64(x).tobytes()


def test_non_finite_values_are_strings():
    encoded = vectors.encode_array(np.array([np.inf, -np.inf, np.nan, 1.0]))
    assert encoded["data"][:3] == ["inf", "-inf", "nan"]
    decoded = vectors.decode_array(json.loads(json.dumps(encoded)))
    assert decoded[0] == np.inf and decoded[1] == -np.inf and np.isnan(decoded[2]) and decoded[3] == 1.0


def test_every_file_is_strict_json_and_documented():
    readme = (vectors.VECTORS_DIR / "README.md").read_text()
    for filename in vectors.filenames():
        text = (vectors.VECTORS_DIR / filename).read_text()
        json.loads(text, parse_constant=lambda c: pytest.fail(f"{filename}: non-standard JSON constant {c}"))
        assert f"`{filename}`" in readme, f"spec/vectors/README.md does not describe {filename}"
    for target in TARGETS:
        assert target.signature in readme, f"README lacks the signature of {target.name}"


def test_vectors_cover_the_edge_cases():
    def alphas(filename):
        return {c.inputs["alpha"] for c in vectors.load(filename)}

    def max_abs(filename, key):
        return max(float(np.max(np.abs(c.inputs[key]))) for c in vectors.load(filename))

    for filename in ("soft_value.json", "soft_value_is.json"):
        assert min(alphas(filename)) == 1e-6 and max(alphas(filename)) == 1e3
    assert max_abs("soft_value.json", "q") >= 1e6 and max_abs("soft_value_is.json", "q_samples") >= 1e6
    names = {f: {c.name for c in vectors.load(f)} for f in vectors.filenames()}
    assert {"one-action", "ties", "tied-maxima", "large-q"} <= names["boltzmann_policy.json"]
    assert {"one-particle", "coincident"} <= names["svgd_direction.json"]
    assert {"one-fixed", "coincident", "even-count"} <= names["median_bandwidth.json"]
    assert {"edge", "near-edge"} <= names["tanh_log_det_jacobian.json"]
    assert {"one-hot", "one-action", "tiny"} <= names["entropy.json"]
    assert {"alpha-0.1", "alpha-10"} <= names["soft_q_target.json"]


def test_tabular_vectors_are_exact_solutions():
    # Each case: Q* solves the soft Bellman equation, V* and pi* are its soft value and
    # Boltzmann policy, Q^{pi*} = Q*, and Q^pi solves its own linear equation -- checked
    # here with plain NumPy, independently of the solvers that wrote the file.
    for case in vectors.load("tabular.json"):
        p, r, gamma, alpha = (case.inputs[k] for k in ("transitions", "rewards", "discount", "alpha"))
        q, v, pi, q_pi = (case.outputs[k] for k in ("q_star", "v_star", "pi_star", "q_pi"))
        bound = (np.max(np.abs(r)) + alpha * math.log(r.shape[1])) / (1 - gamma)
        m = q.max(axis=1)
        np.testing.assert_allclose(v, m + alpha * np.log(np.exp((q - m[:, None]) / alpha).sum(axis=1)),
                                   rtol=0, atol=1e-12 * bound)
        np.testing.assert_allclose(q, r + gamma * p @ v, rtol=0, atol=1e-11 * bound)
        np.testing.assert_allclose(pi, np.exp((q - v[:, None]) / alpha), rtol=0, atol=1e-9)
        policy = case.inputs["policy"]
        h = -np.sum(policy * np.log(np.where(policy > 0, policy, 1.0)), axis=1)
        expected_next = (policy * q_pi).sum(axis=1) + alpha * h
        np.testing.assert_allclose(q_pi, r + gamma * p @ expected_next, rtol=0, atol=1e-11 * bound)
    one_state = vectors.load("tabular.json")[0]
    # Q = 0.5 (log 2 + Q)  =>  Q* = log 2; the uniform policy is optimal, so Q^pi = Q*.
    np.testing.assert_allclose(one_state.outputs["q_star"], [[math.log(2)] * 2], rtol=1e-14)
    np.testing.assert_allclose(one_state.outputs["q_pi"], [[math.log(2)] * 2], rtol=1e-14)


def test_vectors_command_writes_and_checks(tmp_path, capsys):
    assert vectors.main(["--write", "--dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(vectors.filenames())
    assert vectors.main(["--check", "--dir", str(tmp_path)]) == 0
    assert "agree" in capsys.readouterr().out
    (tmp_path / "entropy.json").unlink()
    assert vectors.main(["--check", "--dir", str(tmp_path)]) == 1
    assert "entropy.json: missing" in capsys.readouterr().out
