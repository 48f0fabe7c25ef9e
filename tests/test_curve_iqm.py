"""``conform --curve --test iqm``: overlapping bootstrap intervals of the final IQM, on synthetic curves.

The reference and the candidates are drawn from known distributions: per-seed learning
curves ``final * (1 - exp(-step / 50k))`` plus noise, with ``final ~ N(3000, 300)`` across seeds.
A matching candidate passes; a broken agent's curve (its finals 3 standard deviations lower)
fails.  Over repeated draws the test's error rates are what its design says.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from softq_ref.conformance import curves

STEPS = np.arange(10_000, 300_001, 10_000)


def _write(path, finals, rng):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "seed", "mean_return"])
        for seed, final in enumerate(finals):
            for step in STEPS:
                w.writerow([int(step), seed, final * (1 - np.exp(-step / 50_000)) + rng.normal(0, 30)])
    return path


def _finals(rng, n, shift_sd=0.0):
    return rng.normal(3000 - shift_sd * 300, 300, size=n)


def test_iqm_matches_the_trimmed_mean():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 8, 13):
        x = rng.normal(size=n)
        assert curves.iqm(x) == pytest.approx(scipy_stats.trim_mean(x, 0.25))


def test_bootstrap_interval_covers_and_shrinks():
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 1.0, size=40)
    point, lo, hi = curves.stratified_bootstrap_ci(x, reps=4000)
    assert lo < point < hi and lo < 5.0 < hi
    _, lo10, hi10 = curves.stratified_bootstrap_ci(x[:10], reps=4000)
    assert hi - lo < hi10 - lo10  # more runs, narrower interval
    with pytest.raises(ValueError, match="at least 2 runs"):
        curves.stratified_bootstrap_ci([1.0])


def test_a_matching_curve_passes(tmp_path):
    rng = np.random.default_rng(2)
    ref = _write(tmp_path / "ref.csv", _finals(rng, 10), rng)
    mine = _write(tmp_path / "mine.csv", _finals(rng, 10), rng)
    report = curves.check_final_iqm(mine, ref)
    assert report.passed, report.format()
    assert report.step == 300_000 and report.n_ref_seeds == 10 and report.n_user_seeds == 10


def test_a_broken_agents_curve_fails(tmp_path):
    """Must-fail twin: the same check on an agent whose final returns are 3 sd lower fails."""
    rng = np.random.default_rng(2)
    ref = _write(tmp_path / "ref.csv", _finals(rng, 10), rng)
    broken = _write(tmp_path / "broken.csv", _finals(rng, 10, shift_sd=3.0), rng)
    report = curves.check_final_iqm(broken, ref)
    assert not report.passed and "below" in report.reasons[0]


def test_error_rates_over_repeated_draws():
    """False alarms are rare for a matching agent; a 3-sd shift is caught with 10 seeds each."""
    rng = np.random.default_rng(3)
    trials = 100

    def overlap(a, b):
        _, alo, ahi = curves.stratified_bootstrap_ci(a, reps=500, seed=1)
        _, blo, bhi = curves.stratified_bootstrap_ci(b, reps=500, seed=2)
        return not (ahi < blo or bhi < alo)

    same = sum(overlap(_finals(rng, 10), _finals(rng, 10)) for _ in range(trials))
    shifted = sum(overlap(_finals(rng, 10), _finals(rng, 10, 3.0)) for _ in range(trials))
    assert same >= 0.95 * trials
    assert shifted <= 0.05 * trials


def test_the_report_says_how_many_seeds_it_needs(tmp_path):
    rng = np.random.default_rng(4)
    ref = _write(tmp_path / "ref.csv", _finals(rng, 10), rng)
    mine = _write(tmp_path / "mine.csv", _finals(rng, 3), rng)
    report = curves.check_final_iqm(mine, ref)
    # 1.96 / sqrt(0.84) * (1/sqrt(3) + 1/sqrt(10)) = 2.139 * (0.5774 + 0.3162) = 1.911 sd.
    assert report.detectable_shift_sd == pytest.approx(1.911, abs=2e-3)
    # One sd with 10 reference seeds: 1/sqrt(n) <= 1/2.139 - 0.3162 = 0.1513 -> n >= 43.7 -> 44.
    assert report.seeds_for_one_sd == 44
    assert "a shift of one sd needs 44 seeds of yours" in report.format()
    assert curves.seeds_needed(1.0, 3) is None  # three reference seeds cannot resolve one sd


def test_conform_iqm_on_the_command_line(tmp_path):
    rng = np.random.default_rng(5)
    ref = _write(tmp_path / "ref.csv", _finals(rng, 8), rng)
    ok = _write(tmp_path / "ok.csv", _finals(rng, 8), rng)
    bad = _write(tmp_path / "bad.csv", _finals(rng, 8, 3.0), rng)

    def conform(csv_path):
        return subprocess.run([sys.executable, "-m", "softq_ref.cli", "conform", "--curve", str(csv_path),
                               "--reference", str(ref), "--test", "iqm"], capture_output=True, text=True, timeout=300)

    passed, failed = conform(ok), conform(bad)
    assert passed.returncode == 0 and "result: PASS" in passed.stdout, passed.stdout + passed.stderr
    assert failed.returncode == 1 and "result: FAIL" in failed.stdout


def test_reference_from_campaign_result_files(tmp_path):
    for seed in range(3):
        (tmp_path / f"r{seed}.json").write_text(json.dumps({"seed": seed, "evaluations": [
            {"step": 10, "stochastic": [1.0 + seed, 3.0 + seed]}, {"step": 20, "stochastic": [5.0, 7.0 + seed]}]}))
    out = curves.campaign_curves_csv(sorted(tmp_path.glob("r*.json")), tmp_path / "ref.csv")
    got = curves.read_metrics(out)
    # Seed 2 at step 10: mean(3, 5) = 4; at step 20: mean(5, 9) = 7.
    assert got["2"][1].tolist() == [4.0, 7.0]
    with pytest.raises(ValueError, match="no 'deterministic' evaluations"):
        curves.campaign_curves_csv(sorted(tmp_path.glob("r*.json")), tmp_path / "x.csv", mode="deterministic")
    with pytest.raises(ValueError, match="already exists; nothing was written"):
        curves.campaign_curves_csv(sorted(tmp_path.glob("r*.json")), out)
    assert curves.read_metrics(out)["2"][1].tolist() == [4.0, 7.0]


def test_make_reference_from_campaign_files_picks_the_evaluation_mode(tmp_path, capsys):
    """``conform --make-reference --eval-mode deterministic`` takes DDPG's noiseless episodes, the default the
    stochastic ones: the two files differ exactly where the two modes' returns do."""
    from softq_ref.cli import main

    for seed in range(2):
        (tmp_path / f"r{seed}.json").write_text(json.dumps({"seed": seed, "evaluations": [
            {"step": 10, "stochastic": [1.0, 3.0], "deterministic": [10.0 + seed, 12.0]}]}))
    files = [str(f) for f in sorted(tmp_path.glob("r*.json"))]
    assert main(["conform", "--make-reference", str(tmp_path / "s.csv"), "--from", *files]) == 0
    assert main(["conform", "--make-reference", str(tmp_path / "d.csv"), "--from", *files,
                 "--eval-mode", "deterministic"]) == 0
    assert "deterministic evaluations" in capsys.readouterr().out
    assert curves.read_metrics(tmp_path / "s.csv")["1"][1].tolist() == [2.0]
    assert curves.read_metrics(tmp_path / "d.csv")["1"][1].tolist() == [11.5]


#: The MuJoCo reference curves in spec/reference_curves and the campaign result files they summarise.
#: Name -> (the result files, the evaluation mode: stochastic for SQL and SAC, deterministic for DDPG as the paper).
MUJOCO_REFERENCES = {
    "mujoco-swimmer-sql": (("sql-Swimmer-s0.json", "sql-Swimmer-s1.json", "sql-Swimmer-s2.json"), "stochastic"),
    "mujoco-swimmer-ddpg": (("ddpg-Swimmer-s0.json", "ddpg-Swimmer-s1.json", "ddpg-Swimmer-s2.json"), "deterministic"),
    "mujoco-hopper-sql": (("sql-Hopper-s0.json", "sql-Hopper-s1.json", "sql-Hopper-s2.json"), "stochastic"),
    "mujoco-hopper-ddpg": (("ddpg-Hopper-s0.json", "ddpg-Hopper-s1.json", "ddpg-Hopper-s2.json"), "deterministic"),
    "mujoco-halfcheetah-ddpg": (("ddpg-HalfCheetah-s0.json", "ddpg-HalfCheetah-s1.json", "ddpg-HalfCheetah-s2.json"),
                                "deterministic"),
}


@pytest.mark.parametrize("name", sorted(MUJOCO_REFERENCES))
def test_the_mujoco_reference_curves_are_what_the_result_files_say(name, tmp_path):
    """``NAME-seeds.csv`` (per seed, for ``--test iqm``) and ``NAME.csv`` (the summary, for ``--test band``)
    are remade from the committed result files byte for byte: a reference cannot drift from its runs."""
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "experiments" / "results" / "mujoco"
    files, mode = MUJOCO_REFERENCES[name]
    per_seed = curves.campaign_curves_csv([results / f for f in files], tmp_path / "seeds.csv", mode=mode)
    assert per_seed.read_bytes() == (curves.REFERENCE_DIR / f"{name}-seeds.csv").read_bytes()
    curves.write_reference_curve([per_seed], tmp_path / "summary.csv")
    assert (tmp_path / "summary.csv").read_bytes() == (curves.REFERENCE_DIR / f"{name}.csv").read_bytes()
    assert set(curves.read_metrics(per_seed)) == {"0", "1", "2"}


def test_the_swimmer_references_tell_sql_from_ddpg():
    """SQL's three seeds checked against DDPG's reference fail ``--test iqm`` (39.28 [34.07, 45.22] against
    55.40 [52.35, 61.17], 2026-12-01), and each reference passes against itself: on Swimmer-v5 the per-seed
    references are far enough apart that a port of one algorithm is not taken for the other."""
    sql = curves.REFERENCE_DIR / "mujoco-swimmer-sql-seeds.csv"
    ddpg = curves.REFERENCE_DIR / "mujoco-swimmer-ddpg-seeds.csv"
    crossed = curves.check_final_iqm(sql, ddpg)
    assert not crossed.passed and "below" in crossed.reasons[0], crossed.format()
    assert curves.check_final_iqm(ddpg, ddpg).passed and curves.check_final_iqm(sql, sql).passed


# ------------------------------------------------ the conformance campaign's curves (experiments/conformance.toml)
def _heldout_csv(tmp_path, shift=0.0, group="heldout"):
    """The committed SQL Swimmer runs of one group of the conformance campaign (``heldout``: seeds the reference
    does not hold; ``unscaled``: the planted bug) as a per-seed curve CSV, every return moved by ``shift``."""
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "experiments" / "results" / "conformance"
    files = sorted(results.glob(f"sql-Swimmer-{group}-s[0-9].json"))
    assert len(files) == 3, f"the conformance campaign's {group} runs s3 to s5 are committed"
    out = curves.campaign_curves_csv(files, tmp_path / f"{group}.csv")
    if shift:
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
        with open(out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            for r in rows:
                w.writerow({**r, "mean_return": float(r["mean_return"]) + shift})
    return out


def test_held_out_seeds_of_sql_on_swimmer_pass_both_curve_tests(tmp_path):
    """Seeds 3 to 5 (2026-12-01) against the reference of seeds 0 to 2: IQM 39.53 [32.63, 43.14] against
    39.28 [34.07, 45.22]; 27 of 30 points inside the band (the 90% it needs)."""
    heldout = _heldout_csv(tmp_path)
    iqm = curves.check_final_iqm(heldout, curves.REFERENCE_DIR / "mujoco-swimmer-sql-seeds.csv")
    assert iqm.passed, iqm.reasons
    band = curves.check_curve(heldout, curves.REFERENCE_DIR / "mujoco-swimmer-sql.csv")
    assert band.passed, band.reasons


def test_the_same_curves_moved_down_three_reference_sds_fail_the_iqm_test(tmp_path):
    # Must-fail twin on the real data: the check has the power to reject these seeds had they been worse.
    ref = curves.REFERENCE_DIR / "mujoco-swimmer-sql-seeds.csv"
    sd = float(np.std(curves.final_scores(curves.read_metrics(ref), 300_000.0), ddof=1))
    iqm = curves.check_final_iqm(_heldout_csv(tmp_path, shift=-3 * sd), ref)
    assert not iqm.passed and "below" in iqm.reasons[0]


def test_the_planted_bugs_curves_fail_the_iqm_test(tmp_path):
    """The port with the reward scale forgotten (alpha 1 instead of 1/30; experiments/conformance.toml, fixed before
    its runs) against the same reference: seeds 3 to 5 ended at 28.3, 31.4 and 31.2 (2026-12-01), IQM 30.29
    [28.29, 31.37], below the reference's 39.28 [34.07, 45.22].  The held-out seeds above pass the same test."""
    ref = curves.REFERENCE_DIR / "mujoco-swimmer-sql-seeds.csv"
    iqm = curves.check_final_iqm(_heldout_csv(tmp_path, group="unscaled"), ref)
    assert not iqm.passed and "below" in iqm.reasons[0], iqm.format()
