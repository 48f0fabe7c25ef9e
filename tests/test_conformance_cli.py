"""`softq-ref conform` end to end, and the learning-curve check on synthetic curves."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from softq_ref.cli import main
from softq_ref.conformance import TARGETS, check_curve, read_reference_curve, summarize, write_reference_curve

IMPLS = Path(__file__).resolve().parent / "conformance_impls"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["conform", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_list_shows_every_equation_and_signature(capsys):
    code, out, _ = run(capsys, "--list")
    assert code == 0
    for target in TARGETS:
        assert f"--equation {target.label}" in out
        assert target.signature in out
    assert "eq-10  Importance-sampled soft value" in out and "not in the spec registry" not in out


def test_cli_pass_exits_0(capsys):
    code, out, _ = run(capsys, f"{IMPLS / 'numpy_reference.py'}:soft_value_is", "--equation", "eq-10",
                       "--examples", "10")
    assert code == 0, out
    assert "result: PASS (4 properties)" in out and "eq-10:soft_value_is" in out


def test_cli_fail_exits_1_and_prints_the_counterexample(capsys):
    code, out, _ = run(capsys, f"{IMPLS / 'broken.py'}:median_bandwidth_paper", "-e", "eq-13:median_bandwidth",
                       "--examples", "10", "--properties", "golden,random")
    assert code == 1
    assert "FAIL golden:" in out and "FAIL random:" in out and "counterexample: shrunk by Hypothesis" in out
    assert "result: FAIL (2 of 2 properties failed: golden, random)" in out


def test_cli_checks_sac_losses(capsys):
    # The maximum-entropy family (issue 11): a correct SAC critic target and tanh-Gaussian log-density pass ...
    for function, equation in [("sac_q_target", "eq-sac-5"), ("tanh_gaussian_log_prob", "def-tanh-gaussian")]:
        code, out, _ = run(capsys, f"{IMPLS / 'numpy_reference.py'}:{function}", "-e", equation, "--examples", "10")
        assert code == 0, out
        assert "result: PASS (3 properties)" in out and f"{equation}:{function}" in out
    # ... and their broken twins fail: min -> mean over the critics, the naive log(1 - tanh^2 u).
    code, out, _ = run(capsys, f"{IMPLS / 'broken.py'}:sac_q_target_mean_of_critics", "-e", "eq-sac-5",
                       "--examples", "10")
    assert code == 1 and "result: FAIL" in out, out
    code, out, _ = run(capsys, f"{IMPLS / 'broken.py'}:tanh_gaussian_log_prob_naive", "-e", "def-tanh-gaussian",
                       "--examples", "10")
    assert code == 1 and "FAIL extreme:" in out and "FAIL random" not in out, out


def test_cli_dotted_module_from_the_current_directory(capsys, tmp_path, monkeypatch):
    (tmp_path / "my_sql.py").write_text(
        "import numpy as np\n\n"
        "def target(reward, discount, done, next_value):\n"
        "    return reward + discount * (1.0 - done) * next_value\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    code, out, _ = run(capsys, "my_sql:target", "-e", "eq-11", "--examples", "10", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["passed"] and report["equation"] == "eq-11:soft_bellman_target"


@pytest.mark.parametrize("argv, message", [
    (["nope.py:f", "-e", "eq-5"], "no such file"),
    ([f"{IMPLS / 'numpy_reference.py'}:soft_value", "-e", "eq-99"], "unknown equation"),
    ([f"{IMPLS / 'numpy_reference.py'}:soft_value"], "--equation is required"),
    ([], "give MODULE:FUNCTION"),
    ([f"{IMPLS / 'numpy_reference.py'}:soft_value", "-e", "eq-5", "--properties", "nope"], "no property 'nope'"),
    (["--curve", "x.csv"], "--curve needs --reference"),
])
def test_cli_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("softq-ref: error:")


def test_cli_missing_torch_exits_2(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    code, _, err = run(capsys, f"{IMPLS / 'numpy_reference.py'}:soft_value", "-e", "eq-5", "--adapter", "torch")
    assert code == 2 and "pip install torch" in err


def test_cli_entry_point_in_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "softq_ref.cli", "conform", "--list"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "--equation eq-13:svgd_direction" in done.stdout


# --------------------------------------------------------------------------- learning curves


STEPS = np.arange(1, 21) * 1000


def _curve(seed: int, shift: float = 0.0, drop_after: int | None = None, steps=STEPS) -> np.ndarray:
    """A synthetic learning curve: a sigmoid from -100 to 0, an offset of std 4 per seed, noise of std 1."""
    rng = np.random.default_rng(seed)
    y = -100.0 / (1.0 + np.exp((steps - 8000.0) / 2000.0)) + rng.normal(0.0, 4.0) + rng.normal(0.0, 1.0, steps.shape)
    y = y + shift
    if drop_after is not None:
        y = np.where(steps > drop_after, y - 40.0, y)
    return y


def _write_metrics(path: Path, seeds, label=None, **kw) -> Path:
    """A metrics.csv with one curve per seed (the column ``seed`` reads ``label`` if given)."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "seed", "episodes", "mean_return", "wall_time"])
        for seed in seeds:
            steps = kw.get("steps", STEPS)
            for step, y in zip(steps, _curve(seed, **kw)):
                w.writerow([int(step), seed if label is None else label, 3, repr(float(y)), 0.1])
            w.writerow([int(steps[-1]) + 500, seed, 0, "", 0.2])  # a chunk with no finished episode
    return path


@pytest.fixture
def reference(tmp_path) -> Path:
    # Five run directories, each of whose metrics.csv calls its seed 0: they stay five seeds.
    runs = [_write_metrics(tmp_path / f"ref{s}.csv", [s], label=0) for s in range(100, 105)]
    out = tmp_path / "reference.csv"
    curve = write_reference_curve(runs, out, steps=STEPS)
    assert list(curve.n_seeds) == [5] * len(STEPS)
    return out


def test_reference_curve_format_round_trips(reference):
    curve = read_reference_curve(reference)
    header = reference.read_text().splitlines()[0]
    assert header == "step,n_seeds,mean,std,min,max"
    np.testing.assert_array_equal(curve.steps, STEPS)
    again = summarize([reference.parent / f"ref{s}.csv" for s in range(100, 105)], steps=STEPS)
    np.testing.assert_array_equal(curve.mean, again.mean)  # written with repr: exact
    assert np.all(curve.min <= curve.mean) and np.all(curve.mean <= curve.max) and np.all(curve.std > 0)


def test_curve_from_the_same_process_passes(reference, tmp_path):
    report = check_curve(_write_metrics(tmp_path / "mine.csv", [7, 8, 9]), reference)
    assert report.passed, report.format()
    assert report.coverage == 1.0 and report.n_user_seeds == 3 and "result: PASS" in report.format()


def test_curve_shifted_down_fails(reference, tmp_path):
    # What a shifted soft value or a wrong temperature does: the whole curve moves.
    report = check_curve(_write_metrics(tmp_path / "mine.csv", [7, 8, 9], shift=-25.0), reference)
    assert not report.passed and report.inside_fraction < 0.5
    assert "steps inside the band" in report.format() and len(report.outside) > 10


def test_curve_that_collapses_at_the_end_fails_on_the_last_step(reference, tmp_path):
    report = check_curve(_write_metrics(tmp_path / "mine.csv", [7, 8, 9], drop_after=19000), reference)
    assert not report.passed and report.inside_fraction >= 0.9 and not report.last_inside
    assert report.reasons == ["the last covered step is outside the band"]


def test_short_run_fails_on_coverage(reference, tmp_path):
    report = check_curve(_write_metrics(tmp_path / "mine.csv", [7], steps=STEPS[:10]), reference)
    assert not report.passed and report.coverage == 0.5
    assert any("covers 50%" in r for r in report.reasons)


def test_band_widens_with_fewer_seeds_and_with_the_margin(reference, tmp_path):
    one = check_curve(_write_metrics(tmp_path / "one.csv", [7]), reference)
    three = check_curve(_write_metrics(tmp_path / "three.csv", [7, 8, 9]), reference)
    assert np.all(one.upper - one.lower > three.upper - three.lower)  # s sqrt(1/n + 1/N)
    mine = _write_metrics(tmp_path / "mine.csv", [7, 8, 9], shift=-25.0)
    assert not check_curve(mine, reference).passed
    assert check_curve(mine, reference, margin=40.0).passed


def test_curve_errors(reference, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("step,return\n1,2\n")
    with pytest.raises(ValueError, match="missing column"):
        check_curve(bad, reference)
    far = _write_metrics(tmp_path / "far.csv", [1], steps=STEPS + 10**6)
    with pytest.raises(ValueError, match="shares no step"):
        check_curve(far, reference)
    with pytest.raises(ValueError, match="no reference curve"):
        check_curve(far, "no-such-curve")
    with pytest.raises(ValueError, match="min_inside"):
        check_curve(far, reference, min_inside=2.0)


def test_cli_curve_and_make_reference(capsys, tmp_path):
    runs = [str(_write_metrics(tmp_path / f"r{s}.csv", [s])) for s in range(5)]
    ref = tmp_path / "ref.csv"
    code, out, _ = run(capsys, "--make-reference", str(ref), "--from", *runs)
    assert code == 0 and "wrote" in out and ref.is_file()
    # The reference is a new file: a second --make-reference onto it is refused and leaves it as it was.
    before = ref.read_bytes()
    code, _, err = run(capsys, "--make-reference", str(ref), "--from", *runs[:2])
    assert code == 2 and "already exists; nothing was written" in err and len(err.strip().splitlines()) == 1
    assert ref.read_bytes() == before
    code, _, err = run(capsys, "--make-reference", str(tmp_path / "other.csv"), "--from", *runs,
                       "--eval-mode", "deterministic")
    assert code == 2 and "--eval-mode is for campaign result files" in err
    assert not (tmp_path / "other.csv").exists()
    good = _write_metrics(tmp_path / "good.csv", [7, 8])
    code, out, _ = run(capsys, "--curve", str(good), "--reference", str(ref))
    assert code == 0 and "result: PASS" in out
    # Flags that belong to --make-reference are refused with --curve rather than ignored.
    for extra in (["--from", str(good)], ["--eval-mode", "deterministic"], ["--make-reference", str(tmp_path / "n.csv")]):
        code, out, err = run(capsys, "--curve", str(good), "--reference", str(ref), *extra)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (extra, err)
    assert not (tmp_path / "n.csv").exists()
    bad = _write_metrics(tmp_path / "bad.csv", [7, 8], shift=-30.0)
    code, out, _ = run(capsys, "--curve", str(bad), "--reference", str(ref), "--json")
    assert code == 1 and json.loads(out)["passed"] is False
