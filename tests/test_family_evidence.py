"""The evidence machinery of issue 11: ``benchmarks/sbx_sac.py --full`` (one JSON per run, skip
what exists, atomic writes, the updates/s measure) and ``benchmarks/family_curves.py`` (skip
and resume of a group, the CSV rows, the figures).  No training here: fake runners and tiny fake inputs.

Each check is a function run against the real code and against a deliberately broken twin,
which it must reject (the ``..._catches_broken_...`` tests).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

# benchmarks/ is not part of the installed package: import it from the source tree under test.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import family_curves, sbx_sac  # noqa: E402

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


def _metrics(seed, walls=(1.0, 2.0, 3.0)):
    return [{"step": 1000 * (i + 1), "seed": seed, "episodes": 4,
             "mean_return": "" if i == 0 and seed == 1 else 10.0 * (i + 1) + seed, "wall_time": w}
            for i, w in enumerate(walls)]


def test_rows_of_run_and_plot_on_fake_run(tmp_path):
    group = "soft_dqn-CartPole"
    evaluations = {0: {"stochastic": [1.0, 3.0], "deterministic": [5.0, 7.0]},
                   1: {"stochastic": [4.0, 4.0], "deterministic": [6.0, 6.0]}}
    machine = {"cpu": "test cpu", "cpu_count": 2, "jax_backend": "cpu"}
    rows = family_curves.rows_of_run(group, _metrics(0) + _metrics(1), evaluations, machine, "2026-11-30T07:00:00Z")
    path = tmp_path / f"{group}.csv"
    family_curves.write_csv_atomic(path, rows)
    with open(path, newline="") as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == family_curves.COLUMNS
    assert len(read) == 2 * (3 + 2)  # per seed: 3 metrics rows, 2 evaluation modes
    by = {(r["seed"], r["kind"], r["step"]): r for r in read}
    steps = str(family_curves.GROUPS[group][2])
    det = by[("0", "eval_deterministic", steps)]
    assert (float(det["mean_return"]), float(det["std_return"]), det["episodes"]) == (6.0, 1.0, "2")
    assert det["wall_time_s"] == "3.0" and det["cpu"] == "test cpu"  # the seed's training wall time at its end
    assert by[("1", "train", "1000")]["mean_return"] == ""  # no episode ended: left empty, not 0
    curves = family_curves.read_curves(path)
    assert curves["train"][1] == ([2000, 3000], [21.0, 31.0])
    assert family_curves._mean_curve(curves["train"]) == ([2000, 3000], [20.5, 30.5])
    png = family_curves.plot_group(path, tmp_path / "fig" / f"family-{group}.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_run_group_skips_and_resumes(run_group, tmp_path) -> None:
    """A group whose CSV exists is not trained again; a run directory with a checkpoint is resumed."""
    results, runs = tmp_path / "results", tmp_path / "runs"
    results.mkdir()
    (results / "pg-CartPole.csv").write_text("group\n")
    calls = []
    assert run_group("pg-CartPole", results, runs, train=calls.append) is None
    assert calls == [], f"a finished group was trained again: {calls}"
    assert (results / "pg-CartPole.csv").read_text() == "group\n"
    fresh = family_curves.train_command("sac-Pendulum", runs)
    assert fresh[:5] == ["train", "--algo", "sac", "--env", "Pendulum-v1"] and "--seeds" in fresh
    (runs / "sac-Pendulum").mkdir(parents=True)
    (runs / "sac-Pendulum" / "checkpoint.eqx").write_bytes(b"")
    assert family_curves.train_command("sac-Pendulum", runs)[:3] == ["train", "--resume", str(runs / "sac-Pendulum")]


def test_run_group_skips_and_resumes(tmp_path):
    check_run_group_skips_and_resumes(family_curves.run_group, tmp_path)


def test_run_group_check_catches_broken_skip(tmp_path):
    def never_skips(group, results_dir, runs_dir, train):
        train(family_curves.train_command(group, runs_dir))
        return None

    with pytest.raises(AssertionError, match="trained again"):
        check_run_group_skips_and_resumes(never_skips, tmp_path)


def test_groups_are_the_fixed_plan():
    # The plan fixed before any run (module docstring): changing it must be deliberate.
    assert family_curves.GROUPS == {
        "soft_dqn-CartPole": ("soft_dqn", "CartPole-v1", 50_000), "soft_dqn-Acrobot": ("soft_dqn", "Acrobot-v1", 100_000),
        "pg-CartPole": ("pg", "CartPole-v1", 100_000), "pg-Acrobot": ("pg", "Acrobot-v1", 100_000),
        "sac-Pendulum": ("sac", "Pendulum-v1", 20_000)}
    assert family_curves.SEEDS == 3 and family_curves.EVAL_EPISODES == 10


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
