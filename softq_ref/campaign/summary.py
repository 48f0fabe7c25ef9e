"""Statistics of finished campaign runs: the fraction of runs that reached a threshold (Sec. 5.2).

The paper's exploration claim is about runs: "all soft Q-learning runs cross the threshold
line, while some runs of DDPG do not".  A run counts as crossing when any of its training
episodes did (the task's episode counter, e.g. ``crossed`` for the swimming snake or
``success`` for the two-route maze, is positive in its result file); the fraction over a
group's finished runs is reported with an exact (Clopper-Pearson) 95% interval, which with
five runs is wide: 5 of 5 gives [0.48, 1].
"""

from __future__ import annotations

import json
import math
from pathlib import Path


def _binom_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))


def _solve(f, lo: float = 0.0, hi: float = 1.0) -> float:
    """The root of a decreasing ``f`` on [lo, hi] by bisection (to 1e-12)."""
    for _ in range(60):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact binomial interval for ``k`` successes in ``n`` trials.

    Lower bound: the ``p`` with $P(X \\ge k \\mid p) = \\alpha/2$ (0 when ``k = 0``); upper: the
    ``p`` with $P(X \\le k \\mid p) = \\alpha/2$ (1 when ``k = n``).

    Example:
      >>> [round(x, 4) for x in clopper_pearson(5, 5)]
      [0.4782, 1.0]
    """
    if not (isinstance(n, int) and n >= 1 and isinstance(k, int) and 0 <= k <= n):
        raise ValueError(f"need integers 0 <= k <= n, n >= 1; got k={k!r}, n={n!r}")
    tail = (1 - confidence) / 2
    lower = 0.0 if k == 0 else _solve(lambda p: tail - (1 - _binom_cdf(k - 1, n, p)))
    upper = 1.0 if k == n else _solve(lambda p: _binom_cdf(k, n, p) - tail)
    return lower, upper


def crossing_fraction(result_files, counter: str) -> dict:
    """``{"runs", "crossed", "fraction", "interval"}`` over result files, a run crossing when ``counter > 0``."""
    crossed, runs = 0, 0
    for path in result_files:
        data = json.loads(Path(path).read_text())
        counters = data.get("episode_counters", {})
        if counter not in counters:
            raise ValueError(f"{path}: no episode counter {counter!r} (has {sorted(counters)})")
        runs += 1
        crossed += int(counters[counter] > 0)
    if runs == 0:
        raise ValueError("no finished run to summarise")
    return {"runs": runs, "crossed": crossed, "fraction": crossed / runs, "interval": clopper_pearson(crossed, runs)}
