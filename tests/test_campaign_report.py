"""The campaign report: its table is the result files' numbers, stale results are left out, figures are drawn.

The result files are written here by hand (the report reads nothing else), so each number in
the table can be computed independently and compared.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from softq_ref.campaign import Run, load
from softq_ref.campaign import runner
from softq_ref.campaign.report import group_rows, write_report

CAMPAIGN = """
[campaign]
name = "rep"
fixed = "2026-11-30"
steps = 20
eval_every = 10
eval_episodes = 2
seeds = [0, 1, 2, 3]

[[group]]
name = "a"
task = "softq_ref/SwimmerSnake-v0"
algo = "sql"

[[group]]
name = "b"
task = "softq_ref/SwimmerSnake-v0"
algo = "ddpg"
eval_modes = ["stochastic", "deterministic"]
"""


def _write(campaign, group_name: str, seed: int, finals: dict, crossed: int, fingerprint=None):
    group = campaign.group(group_name)
    path = runner.result_path(campaign, Run(group, seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    evals = [{"step": 10, **{m: [0.0, 0.0] for m in finals}},
             {"step": 20, **finals, "x_displacement": {m: [1.0, -3.0] for m in finals}}]
    path.write_text(json.dumps({"fingerprint": fingerprint or group.fingerprint(), "seed": seed, "evaluations": evals,
                                "episode_counters": {"crossed": crossed}, "wall_time_s": 3600.0}))


@pytest.fixture
def campaign(tmp_path):
    (tmp_path / "rep.toml").write_text(CAMPAIGN)
    c = load(tmp_path / "rep.toml")
    _write(c, "a", 0, {"stochastic": [10.0, 20.0]}, crossed=3)
    _write(c, "a", 1, {"stochastic": [30.0, 30.0]}, crossed=0)
    _write(c, "a", 2, {"stochastic": [50.0, 70.0]}, crossed=1)
    _write(c, "b", 0, {"stochastic": [1.0, 3.0], "deterministic": [5.0, 5.0]}, crossed=0)
    _write(c, "b", 1, {"stochastic": [999.0, 999.0], "deterministic": [999.0, 999.0]}, crossed=9,
           fingerprint="made under other settings")  # stale: must not count
    return c


def test_the_table_holds_the_result_files_numbers(campaign):
    rows = {(r["group"], r["mode"]): r for r in group_rows(campaign)}
    a = rows["a", "stochastic"]
    finals = np.array([15.0, 30.0, 60.0])  # each run's mean over its episodes at the last evaluation
    assert a["finished"] == 3 and a["planned"] == 4
    assert a["finals"] == pytest.approx(finals.tolist())
    assert a["mean"] == pytest.approx(finals.mean()) and a["std"] == pytest.approx(finals.std(ddof=1))
    point, lo, hi = a["iqm"]
    assert lo <= point <= hi and point == pytest.approx(35.0)  # floor(3 / 4) = 0 cut from each end: the mean
    assert a["x_displacement"] == pytest.approx(-1.0) and a["abs_x_displacement"] == pytest.approx(2.0)
    b = rows["b", "deterministic"]
    assert b["finished"] == 1 and b["finals"] == [5.0] and "iqm" not in b  # the stale seed 1 is left out


def test_the_report_page_and_figure(campaign, tmp_path):
    path = write_report(campaign, tmp_path / "figs", commit="abc1234")
    text = path.read_text()
    assert path == campaign.results_dir / "report.md"
    assert "4 of 8 runs finished" in text and "`abc1234`" in text
    assert (tmp_path / "figs" / "campaign-rep-SwimmerSnake-v0.png").stat().st_size > 10_000
    assert "| `a` | `crossed`: 2 of 3 | 0.67 |" in text  # two of the three finished runs crossed
    assert "| `b` | `crossed`: 0 of 1 | 0.00 | [0.00, 0.97] |" in text  # the stale run's 9 crossings do not count
    assert "999" not in text


def test_report_from_the_command_line(campaign, tmp_path):
    out = subprocess.run([sys.executable, "-m", "softq_ref.cli", "campaign", "report", str(campaign.path),
                          "--figures", str(tmp_path / "cli-figs")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "report.md" in out.stdout and (tmp_path / "cli-figs" / "campaign-rep-SwimmerSnake-v0.png").is_file()


@pytest.mark.parametrize("name", ["mujoco", "exploration", "pretraining"])
def test_the_committed_reports_match_the_committed_results(name, tmp_path):
    """docs/experiments.md includes results/<name>/report.md: it must say what the result files say."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "experiments"
    committed = root / "results" / name / "report.md"
    again = write_report(load(root / f"{name}.toml"), tmp_path / "figs", out=tmp_path / "report.md")
    body = lambda text: text.split("\n", 1)[1]  # noqa: E731 (the first line holds the date and commit)
    assert body(committed.read_text()) == body(again.read_text()), (
        f"{committed} is out of date: run `softq-ref campaign report experiments/{name}.toml`")


def test_a_run_without_the_displacement_field_is_left_out_and_counted(campaign):
    """A result file written before the field existed has no ``x_displacement``: the column averages the
    runs that have it and says how many of the finished runs those are (it was left empty before)."""
    path = runner.result_path(campaign, Run(campaign.group("a"), 1))
    data = json.loads(path.read_text())
    del data["evaluations"][-1]["x_displacement"]
    path.write_text(json.dumps(data))
    a = {(r["group"], r["mode"]): r for r in group_rows(campaign)}["a", "stochastic"]
    assert a["x_displacement_runs"] == 2 and a["x_displacement"] == pytest.approx(-1.0)
    text = write_report(campaign, campaign.path.parent / "figs", commit="abc1234").read_text()
    assert "(2 of 3 runs)" in text
