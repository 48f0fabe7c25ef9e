"""The fraction of runs that cross a threshold, with its exact interval (Sec. 5.2's statistic)."""

from __future__ import annotations

import json

import pytest

from softq_ref.campaign.summary import clopper_pearson, crossing_fraction


def test_clopper_pearson_by_hand():
    # k = n: the lower bound solves p^n = 0.025, p = 0.025^(1/5) = 0.47818; k = 0: 1 - 0.025^(1/5) = 0.52182.
    assert clopper_pearson(5, 5) == pytest.approx((0.025 ** 0.2, 1.0))
    assert clopper_pearson(0, 5) == pytest.approx((0.0, 1 - 0.025 ** 0.2))


def _check_against_beta_quantiles(interval) -> None:
    stats = pytest.importorskip("scipy.stats")
    for k, n in [(1, 5), (3, 5), (4, 10), (7, 10)]:
        lo, hi = interval(k, n)
        assert lo == pytest.approx(stats.beta.ppf(0.025, k, n - k + 1), abs=1e-9)
        assert hi == pytest.approx(stats.beta.ppf(0.975, k + 1, n - k), abs=1e-9)


def test_clopper_pearson_matches_the_beta_quantiles():
    _check_against_beta_quantiles(clopper_pearson)


def test_the_interval_check_catches_a_normal_approximation():
    """Must-fail twin: the Wald interval p +- 1.96 sqrt(p (1 - p) / n) fails the same check."""

    def wald(k, n):
        p = k / n
        half = 1.96 * (p * (1 - p) / n) ** 0.5
        return max(0.0, p - half), min(1.0, p + half)

    with pytest.raises(AssertionError):
        _check_against_beta_quantiles(wald)


def test_crossing_fraction_of_result_files(tmp_path):
    files = []
    for i, crossed in enumerate([3, 0, 1, 0, 12]):
        path = tmp_path / f"r{i}.json"
        path.write_text(json.dumps({"episode_counters": {"crossed": crossed}}))
        files.append(path)
    got = crossing_fraction(files, "crossed")
    assert (got["runs"], got["crossed"], got["fraction"]) == (5, 3, 0.6)
    assert got["interval"] == pytest.approx(clopper_pearson(3, 5))
    with pytest.raises(ValueError, match="no episode counter 'success'"):
        crossing_fraction(files, "success")
    with pytest.raises(ValueError, match="k <= n"):
        clopper_pearson(6, 5)
