"""The evidence machinery of issue 11: ``benchmarks/sbx_sac.py --full`` (one JSON per run, skip
what exists, atomic writes, the updates/s measure) and ``benchmarks/family_curves.py`` (the
campaign results as CSV, the figures).  No training here: fake runners and tiny fake inputs.

Each check is a function run against the real code and against a deliberately broken twin,
which it must reject (the ``..._catches_broken_...`` tests).
"""

from __future__ import annotations

import csv
import json
import os

import pytest

from benchmarks import family_curves, sbx_sac

# ------------------------------------------------------------------ sbx_sac: runs, skip, writes


def _fake_runner(calls):
    def runner(seed, steps):
        calls.append((seed, steps))
        return {"evals": [{"step": steps, "deterministic_mean": 1.0 + seed, "stochastic_mean": 0.5}],
                "wall_seconds": 1.0, "updates_per_s_learning": 100.0}

    return runner


def check_skips_finished_runs(full_run, tmp_path) -> None:
    """A run whose JSON exists is not run again; a run whose runner crashed leaves no file."""
    calls = []
    path = full_run("ours", 0, tmp_path, 5, runner=_fake_runner(calls))
    assert path is not None and path.exists(), "a finished run must leave its JSON"
    record = json.loads(path.read_text())
    assert (record["impl"], record["seed"], record["steps"]) == ("ours", 0, 5)
    assert record["settings"]["total_steps"] == 5 and "machine" in record and "versions" in record
    again = full_run("ours", 0, tmp_path, 5, runner=_fake_runner(calls))
    assert calls == [(0, 5)], f"the finished run was run again: {calls}"
    assert again is None
    before = path.read_text()

    def crashing(seed, steps):
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        full_run("sbx", 1, tmp_path, 5, runner=crashing)
    assert not sbx_sac.result_path(tmp_path, "sbx", 1).exists(), "a crashed run must leave no result"
    assert path.read_text() == before
    assert sbx_sac.pending_runs(tmp_path, seeds=(0, 1)) == [("sbx", 0), ("ours", 1), ("sbx", 1)]


def test_full_run_skips_finished_runs(tmp_path):
    check_skips_finished_runs(sbx_sac.full_run, tmp_path)


def test_full_run_check_catches_broken_skip(tmp_path):
    def never_skips(impl, seed, out_dir, steps, runner):
        path = sbx_sac.result_path(out_dir, impl, seed)
        sbx_sac.write_json_atomic(path, {"impl": impl, "seed": seed, "steps": steps, **runner(seed, steps),
                                         "settings": sbx_sac.settings(steps), "machine": {}, "versions": {}})
        return path

    with pytest.raises(AssertionError, match="run again"):
        check_skips_finished_runs(never_skips, tmp_path)


def check_atomic_write(write, tmp_path) -> None:
    """A write that fails half-way keeps the old file whole and leaves no stray file."""
    path = tmp_path / "r.json"
    write(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    with pytest.raises(TypeError):
        write(path, {"a": 2, "b": object()})  # not JSON-serialisable: fails after "a" is written
    try:
        kept = json.loads(path.read_text())
    except json.JSONDecodeError:
        kept = "unreadable"
    assert kept == {"a": 1}, f"a failed write damaged the existing file: {kept}"
    assert sorted(os.listdir(tmp_path)) == ["r.json"], f"stray files: {os.listdir(tmp_path)}"


def test_write_json_atomic(tmp_path):
    check_atomic_write(sbx_sac.write_json_atomic, tmp_path)


def test_atomic_write_check_catches_broken_in_place_write(tmp_path):
    def in_place(path, data):
        with open(path, "w") as f:
            json.dump(data, f)

    with pytest.raises(AssertionError, match="damaged"):
        check_atomic_write(in_place, tmp_path)


def test_eval_steps():
    assert sbx_sac.eval_steps(100_000) == list(range(10_000, 100_001, 10_000))
    assert sbx_sac.eval_steps(5_000) == [5_000]
    assert sbx_sac.eval_steps(25_000) == [10_000, 20_000, 25_000]


def check_learning_rate(rate) -> None:
    """Intervals in the warm-up or overlapping an excluded range (an evaluation, a compilation) are left out."""
    marks = [(0, 0.0), (1000, 1.0), (2000, 11.0), (3000, 12.0), (4000, 13.0), (5000, 14.0), (5000, 60.0),
             (6000, 61.0)]
    # 1000->2000 holds the compilation; 5000 is an evaluation point (two marks: before and after).
    got = rate(marks, [(1000, 2000), (5000, 5001)], 1000)
    assert got == pytest.approx(1000.0), f"updates/s {got}, expected 1000 (4 clean intervals of 1000 steps/s)"
    assert rate([(0, 0.0), (1000, 1.0)], [], 1000) is None


def test_learning_rate():
    check_learning_rate(sbx_sac.learning_rate)


def test_learning_rate_check_catches_broken_rate_counting_evaluations():
    def all_intervals(marks, excluded, warmup):
        return (marks[-1][0] - marks[0][0]) / (marks[-1][1] - marks[0][1]) if len(marks) > 1 else None

    with pytest.raises(AssertionError):
        check_learning_rate(all_intervals)


def test_summary_of_fake_results(tmp_path):
    for impl, seed, value in (("ours", 0, 10.0), ("ours", 1, 30.0), ("sbx", 0, 20.0)):
        sbx_sac.write_json_atomic(sbx_sac.result_path(tmp_path, impl, seed), {
            "impl": impl, "seed": seed, "updates_per_s_learning": 50.0,
            "evals": [{"step": 5, "deterministic_mean": -1.0, "stochastic_mean": 0.0},
                      {"step": 10, "deterministic_mean": value, "stochastic_mean": value / 2}]})
    out = sbx_sac.summary(tmp_path)
    assert out["ours"]["deterministic_mean"] == pytest.approx(20.0)
    assert out["ours"]["deterministic_std"] == pytest.approx(10.0)
    assert out["ours"]["deterministic_min_max"] == [10.0, 30.0]
    assert out["sbx"]["seeds"][0] == {"step": 10, "deterministic": 20.0, "stochastic": 10.0}


def test_full_cli_rejects_bad_steps(capsys):
    with pytest.raises(SystemExit) as exc:
        sbx_sac.main(["--full", "--steps", "0", "--impl", "ours"])
    assert exc.value.code == 2
    assert "--steps must be >= 1" in capsys.readouterr().err


# ------------------------------------------------------------------ family_curves: CSV and plot


def _fake_result(group, seed, task="CartPole-v1", algo="soft_dqn"):
    return {"run": f"{group}-s{seed}", "group": group, "task": task, "algo": algo, "seed": seed,
            "train_curve": [[1000, 10.0 + seed], [2000, 20.0 + seed], [3000, 30.0 + seed]],
            "evaluations": [{"step": 2000, "stochastic": [1.0, 3.0], "deterministic": [2.0, 2.0]},
                            {"step": 3000, "stochastic": [4.0, 4.0], "deterministic": [5.0, 7.0]}],
            "machine": {"cpu_count": 2, "jax_backend": "cpu"}, "finished": "2026-11-30T07:00:00Z"}


def _write_metrics(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["step", "seed", "mean_return", "wall_time"])
        writer.writeheader()
        writer.writerows(rows)


def check_segment_wall_times(wall_times, tmp_path) -> None:
    """A campaign run's later segments restart wall_time at 0: the export continues the clock."""
    path = tmp_path / "metrics.csv"
    _write_metrics(path, [{"step": 1000, "seed": 0, "mean_return": 1, "wall_time": 2.0},
                          {"step": 2000, "seed": 0, "mean_return": 1, "wall_time": 4.0},
                          {"step": 3000, "seed": 0, "mean_return": 1, "wall_time": 1.5}])
    got = wall_times(path)
    assert got == {1000: 2.0, 2000: 4.0, 3000: 5.5}, f"wall times {got}"


def test_training_wall_times_across_segments(tmp_path):
    check_segment_wall_times(family_curves.training_wall_times, tmp_path)


def test_wall_time_check_catches_broken_raw_wall_times(tmp_path):
    def raw(path):
        with open(path, newline="") as f:
            return {int(r["step"]): float(r["wall_time"]) for r in csv.DictReader(f)}

    with pytest.raises(AssertionError, match="wall times"):
        check_segment_wall_times(raw, tmp_path)


def test_export_and_plot_on_fake_campaign(tmp_path):
    results, runs, figures = tmp_path / "results", tmp_path / "runs", tmp_path / "figures"
    results.mkdir()
    for seed in (0, 1):
        result = _fake_result("soft_dqn-CartPole", seed)
        (results / f"{result['run']}.json").write_text(json.dumps(result))
    _write_metrics(runs / "soft_dqn-CartPole-s0" / "train" / "metrics.csv",
                   [{"step": s, "seed": 0, "mean_return": 1, "wall_time": w} for s, w in ((1000, 1.0), (2000, 2.0), (3000, 0.5))])
    (csv_path,) = family_curves.export(results, runs)
    assert csv_path == results / "soft_dqn-CartPole.csv"
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == family_curves.COLUMNS
    assert len(rows) == 2 * (3 + 2 + 2)  # per seed: 3 training rows, 2 evaluations x 2 modes
    by = {(r["seed"], r["kind"], r["step"]): r for r in rows}
    det = by[("0", "eval_deterministic", "3000")]
    assert (float(det["mean_return"]), float(det["std_return"]), det["episodes"]) == (6.0, 1.0, "2")
    assert det["wall_time_s"] == "2.5"  # seed 0's run directory: 2.0 + 0.5 across the segment boundary
    assert by[("1", "train", "2000")]["wall_time_s"] == ""  # seed 1's run directory is gone
    assert by[("1", "train", "2000")]["mean_return"] == "21.0"
    curves = family_curves.read_curves(csv_path)
    assert family_curves._mean_curve(curves["eval_deterministic"]) == ([2000, 3000], [2.0, 6.0])
    png = family_curves.plot_group(csv_path, figures / "family-soft_dqn-CartPole.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_sbx_on_fake_results(tmp_path):
    assert family_curves.plot_sbx(tmp_path, tmp_path / "x.png") is None
    for impl in ("ours", "sbx"):
        sbx_sac.write_json_atomic(sbx_sac.result_path(tmp_path, impl, 0), {
            "impl": impl, "seed": 0, "evals": [{"step": 10, "deterministic_mean": 1.0}, {"step": 20, "deterministic_mean": 2.0}]})
    png = family_curves.plot_sbx(tmp_path, tmp_path / "fig" / "x.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_csv_atomic(tmp_path):
    """A row with a field outside the columns fails after the header is written: the old CSV survives whole."""
    path = tmp_path / "r.csv"
    family_curves.write_csv_atomic(path, [{"a": 1}], columns=["a"])
    with pytest.raises(ValueError):
        family_curves.write_csv_atomic(path, [{"a": 2, "b": 3}], columns=["a"])
    assert path.read_text().splitlines() == ["a", "1"]
    assert sorted(os.listdir(tmp_path)) == ["r.csv"]
