"""The conformance kit passes a correct independent implementation and flags every known bug.

``conformance_impls.numpy_reference`` is written from the paper's formulas without
softq_ref; ``conformance_impls.broken`` holds one bug per function, each seen in public
soft Q-learning code.  Every bug must make its report fail and name the property that
catches it.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from conformance_impls import broken
from conformance_impls import numpy_reference as ref
from softq_ref.conformance import TARGETS, check, checkable_entries, get_adapter, get_target, load_candidate
from softq_ref.conformance.check import compare
from softq_ref.conformance.strategies import WIDE_ALPHAS
from softq_ref.spec import load_entries, resolve

#: Hypothesis examples per property in these tests (the command line's default is 100).
EXAMPLES = 12


@pytest.mark.parametrize("name", [t.name for t in TARGETS])
def test_independent_numpy_implementation_passes(name):
    report = check(getattr(ref, name), name, examples=EXAMPLES)
    assert report.passed, report.format()
    assert [p.name for p in report.properties] == ["golden", *(p.name for p in get_target(name).properties)]
    assert all(p.checked > 0 for p in report.properties)


# (bug, broken function, equation, properties that must fail, properties that must pass)
BUGS = [
    ("missing -log K_V (a PyTorch port)", broken.soft_value_is_missing_log_k, "eq-10", {"golden", "random"}, set()),
    ("alpha left out of V (the 2017 code)", broken.soft_value_is_alpha_one, "eq-10",
     {"golden", "random", "temperature"}, set()),
    ("alpha left out of the TD target (the 2017 code)", broken.soft_q_target_alpha_one, "eq-11:soft_q_target",
     {"golden", "random", "temperature"}, set()),
    ("kernel gradient sign", broken.rbf_kernel_wrong_sign, "eq-13:rbf_kernel", {"golden", "random"}, set()),
    ("repulsion sign in the SVGD direction", broken.svgd_direction_wrong_sign, "eq-13:svgd_direction",
     {"golden", "random", "temperature"}, set()),
    ("the paper's bandwidth d / (2 log(M + 1))", broken.median_bandwidth_paper, "eq-13:median_bandwidth",
     {"golden", "random"}, set()),
    ("bandwidth median / log(K + 1) + 1e-3", broken.median_bandwidth_log_k_plus_1, "eq-13:median_bandwidth",
     {"golden", "random"}, set()),
    ("entropy counted on the first step", broken.soft_policy_evaluation_entropy_first_step,
     "def-soft-policy-evaluation", {"golden", "random", "temperature"}, set()),
    # Without the maximum subtracted the softmax is right for ordinary inputs: only the
    # extreme inputs (and the golden edge cases) catch it.
    ("Boltzmann policy without max subtraction", broken.boltzmann_policy_no_max_shift, "eq-6",
     {"golden", "extreme"}, {"random"}),
    ("soft value without max subtraction", broken.soft_value_no_max_shift, "eq-5", {"golden", "extreme"}, {"random"}),
    ("log(1 - a^2) without the 1e-6", broken.tanh_log_det_jacobian_no_eps, "def-tanh-squash",
     {"golden", "extreme"}, set()),
    ("sum instead of mean in the loss", broken.soft_q_loss_sum, "eq-11:soft_q_loss", {"golden", "random"}, set()),
    ("0 log 0 taken as nan", broken.entropy_nan_at_zero, "def-entropy", {"golden", "degenerate"}, set()),
    # The maximum-entropy family (issue 11): SAC's critic target, its log-density, its losses, the soft return.
    ("mean instead of min in clipped double Q", broken.sac_q_target_mean_of_critics, "eq-sac-5",
     {"golden", "random", "temperature"}, set()),
    ("entropy term added in the SAC target", broken.sac_q_target_entropy_sign, "eq-sac-5",
     {"golden", "random", "temperature"}, set()),
    # The naive log(1 - tanh^2 u) is right for moderate u: only the far-out inputs catch it.
    ("naive log(1 - tanh^2 u)", broken.tanh_gaussian_log_prob_naive, "def-tanh-gaussian",
     {"golden", "extreme"}, {"random"}),
    ("entropy sign in the SAC policy loss", broken.sac_policy_loss_entropy_sign, "eq-sac-9",
     {"golden", "random", "temperature"}, set()),
    ("entropy sign in the soft return", broken.soft_returns_entropy_sign, "def-soft-return",
     {"golden", "random", "temperature"}, set()),
]


@pytest.mark.parametrize("bug, fn, equation, must_fail, must_pass", BUGS, ids=[b[0] for b in BUGS])
def test_broken_implementation_is_flagged(bug, fn, equation, must_fail, must_pass):
    report = check(fn, equation, examples=EXAMPLES)
    assert not report.passed
    assert must_fail <= set(report.failed), f"{bug}: failed {report.failed}, expected {sorted(must_fail)}"
    assert not must_pass & set(report.failed), report.format()
    text = report.format()
    for name in must_fail:
        assert f"FAIL {name}:" in text
        assert report.property(name).counterexample is not None
    assert "result: FAIL" in text


def test_alpha_one_bug_counterexample_is_shrunk_to_a_readable_temperature():
    report = check(broken.soft_value_is_alpha_one, "eq-10", examples=EXAMPLES, properties=["temperature"])
    ce = report.property("temperature").counterexample
    # alpha = 1 is where the bug hides; Hypothesis shrinks to the next simplest temperature
    # of the list (0.5 with the Hypothesis of this writing) and to Q = 0 in one state.
    assert ce.inputs["alpha"] != 1.0 and ce.inputs["alpha"] in WIDE_ALPHAS
    assert np.all(ce.inputs["q_samples"] == 0.0) and ce.inputs["q_samples"].shape[0] == 1
    assert not ce.comparison.ok and ce.comparison.max_abs > 0.1


def test_golden_failure_names_the_cases_and_shows_the_smallest():
    report = check(broken.soft_value_is_missing_log_k, "eq-10", examples=EXAMPLES, properties=["golden"])
    golden = report.property("golden")
    assert "uniform-d2" in golden.failing_cases and "one-sample" not in golden.failing_cases  # log 1 = 0
    assert golden.counterexample.label == "golden case 'large-q'"


def test_report_gives_worst_errors_and_json():
    report = check(ref.soft_value, "eq-5", examples=EXAMPLES)
    for p in report.properties:
        assert 0.0 <= p.max_abs_error < 1e-9 and 0.0 <= p.max_rel_error < 1e-9 and p.max_ratio < 1.0
    data = report.to_dict()
    assert data["passed"] is True and data["equation"] == "eq-5:soft_value"
    assert [p["name"] for p in data["properties"]] == ["golden", "random", "temperature", "extreme"]


def test_hypothesis_runs_are_reproducible():
    a = check(broken.svgd_direction_wrong_sign, "eq-13", examples=EXAMPLES, seed=3, properties=["random"])
    b = check(broken.svgd_direction_wrong_sign, "eq-13", examples=EXAMPLES, seed=3, properties=["random"])
    ca, cb = a.property("random").counterexample, b.property("random").counterexample
    assert all(np.array_equal(ca.inputs[k], cb.inputs[k]) for k in ca.inputs)


def test_candidate_errors_shapes_and_nans_are_failures():
    def raises(q, alpha):
        raise RuntimeError("not implemented")

    report = check(raises, "eq-5", examples=3, properties=["golden", "random"])
    assert report.failed == ["golden", "random"]
    assert "raised RuntimeError: not implemented" in report.format()

    report = check(lambda q, alpha: ref.soft_value(q, alpha)[:, None], "eq-5", examples=3, properties=["random"])
    assert "has shape" in report.property("random").counterexample.comparison.message

    report = check(lambda x, y, h: ref.rbf_kernel(x, y, h)[0], "eq-13:rbf_kernel", examples=3, properties=["random"])
    assert "expected a tuple of 2 values" in report.format()


def test_compare_tolerance_and_non_finite_rules():
    want, scale = {"y": np.array([1.0, 1e6, 0.0, np.inf])}, {"y": np.array([1.0, 1e6, 0.0, 0.0])}
    ok = compare(want, {"y": np.array([1.0 + 1e-11, 1e6 + 1e-5, 0.0, np.inf])}, scale, 1e-10, 1e-10)
    assert ok.ok and ok.ratio < 1
    bad = compare(want, {"y": np.array([1.0, 1e6 + 1.0, 0.0, np.inf])}, scale, 1e-10, 1e-10)
    assert not bad.ok and bad.where == "y[1]" and bad.max_abs == 1.0
    nan = compare(want, {"y": np.array([np.nan, 1e6, 0.0, np.inf])}, scale, 1e-10, 1e-10)
    assert not nan.ok and nan.max_abs == np.inf and nan.where == "y[0]"
    scalar = compare({"l": np.array(2.0)}, {"l": np.array([2.0])}, {"l": np.array(1.0)}, 1e-10, 0.0)
    assert scalar.ok  # a one-element array stands for a scalar


def test_float32_mode_rounds_inputs_and_loosens_the_tolerance():
    def float32_soft_value(q, alpha):
        return ref.soft_value(np.asarray(q, np.float32), np.float32(alpha))

    assert not check(float32_soft_value, "eq-5", examples=EXAMPLES).passed
    report = check(float32_soft_value, "eq-5", dtype="float32", examples=EXAMPLES)
    assert report.passed, report.format()
    assert (report.rtol, report.atol) == (1e-4, 1e-6)


def test_jax_adapter_with_softq_refs_own_functions():
    from softq_ref import core

    report = check(lambda q, alpha: core.soft_value(q, alpha), "eq-5", adapter="jax", examples=EXAMPLES)
    assert report.passed, report.format()
    # svgd_surrogate has the target's signature; the adapter takes its gradient with jax.grad.
    report = check(core.svgd_surrogate, "eq-14", adapter="jax", examples=EXAMPLES)
    assert report.passed, report.format()
    report = check(lambda a, d: -core.svgd_surrogate(a, d), "eq-14", adapter="jax", examples=EXAMPLES)
    assert set(report.failed) == {"golden", "random"}


def test_numpy_adapter_gradient_is_exact_for_the_linear_surrogate():
    adapter = get_adapter("numpy")
    a, d = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[3.0, -4.0], [1e6, 0.5]])
    np.testing.assert_array_equal(adapter.grad(ref.svgd_surrogate, [a, d], 0), -d)


def test_torch_adapter():
    pytest.importorskip("torch")
    from conformance_impls import torch_port

    assert check(torch_port.soft_value_fixed, "eq-10", adapter="torch", examples=EXAMPLES).passed
    report = check(torch_port.soft_value, "eq-10", adapter="torch", examples=EXAMPLES)
    assert {"golden", "random"} <= set(report.failed)
    assert check(torch_port.svgd_surrogate, "eq-14", adapter="torch", examples=EXAMPLES).passed  # autograd
    assert check(torch_port.rbf_kernel, "eq-13:rbf_kernel", adapter="torch", examples=EXAMPLES).passed
    assert check(torch_port.soft_value_fixed, "eq-10", adapter="torch", dtype="float32", examples=EXAMPLES).passed


def test_torch_adapter_without_torch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(ImportError, match="pip install torch"):
        get_adapter("torch")


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="unknown equation"):
        check(ref.soft_value, "eq-99")
    with pytest.raises(ValueError, match="no property 'nope'"):
        check(ref.soft_value, "eq-5", properties=["nope"])
    with pytest.raises(ValueError, match="unknown adapter"):
        check(ref.soft_value, "eq-5", adapter="tensorflow")
    with pytest.raises(ValueError, match="dtype"):
        check(ref.soft_value, "eq-5", dtype="float16")
    with pytest.raises(ValueError, match="examples"):
        check(ref.soft_value, "eq-5", examples=0)


def test_equation_ids_resolve():
    assert get_target("eq-10").name == "soft_value_is"
    assert get_target("eq-13").name == "svgd_direction"
    assert get_target("eq-13:median_bandwidth").name == "median_bandwidth"
    assert get_target("rbf_kernel").label == "eq-13:rbf_kernel"
    assert get_target("thm-2").name == "soft_q_iteration"  # another entry listing a checkable function
    with pytest.raises(ValueError):
        get_target("eq-5:median_bandwidth")


def test_load_candidate_from_a_file_and_a_module(tmp_path, monkeypatch):
    source = "def f(q, alpha):\n    return q.max(-1)\n\nclass C:\n    g = staticmethod(f)\n"
    (tmp_path / "my_impl.py").write_text(source)
    assert load_candidate(f"{tmp_path / 'my_impl.py'}:C.g")(np.array([[1.0, 2.0]]), 1.0) == 2.0
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert callable(load_candidate("my_impl:f"))
    for spec, message in [("my_impl", "MODULE:FUNCTION"), ("nope.py:f", "no such file"),
                          ("no_such_module_xyz:f", "cannot import"), ("my_impl:missing", "no attribute")]:
        with pytest.raises(ValueError, match=message):
            load_candidate(spec)


def test_checkable_equations_come_from_the_spec():
    groups = checkable_entries()
    assert all(entry is not None for entry, _ in groups), [t.name for e, ts in groups if e is None for t in ts]
    by_id = {e.id: e for e in load_entries()}
    for entry, targets in groups:
        assert entry is by_id[entry.id] or entry.id in by_id
        for target in targets:
            assert target.spec_id == entry.id
            assert any(resolve(f) is target.reference for f in entry.functions)
    assert sorted(t.name for _, ts in groups for t in ts) == sorted(t.name for t in TARGETS)
