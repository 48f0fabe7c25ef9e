"""Statistics of a handful of RL runs: the interquartile mean and its stratified-bootstrap interval.

Agarwal et al., "Deep reinforcement learning at the edge of the statistical precipice"
(NeurIPS 2021) recommend, for the few seeds RL experiments can afford, the interquartile mean
(IQM) of the runs' scores with a stratified-bootstrap confidence interval; their library
``rliable`` implements both.  rliable 1.2.0 does not import next to arch 7.2 (a decorator
signature changed), so the two estimators are written here with NumPy, as rliable defines
them: IQM = the mean of the middle 50% of the scores (``scipy.stats.trim_mean(x, 0.25)``,
rliable's ``aggregate_iqm``); the bootstrap resamples runs with replacement within each task
(stratified) and takes the percentile interval.  Used by ``softq-ref conform --curve --test
iqm`` and by the campaign report.
"""

from __future__ import annotations

import numpy as np


def iqm(scores, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the scores left after cutting ``floor(n / 4)`` from each end.

    Example:
      >>> float(iqm([0.0, 1.0, 2.0, 3.0, 100.0, -100.0, 4.0, 5.0]))
      2.5
    """
    x = np.sort(np.asarray(scores, float), axis=axis)
    n = x.shape[axis]
    cut = int(0.25 * n)
    return np.mean(np.take(x, np.arange(cut, n - cut), axis=axis), axis=axis)


def stratified_bootstrap_ci(scores, *, reps: int = 2000, confidence: float = 0.95, seed: int = 0,
                            statistic=iqm) -> tuple[float, float, float]:
    """``(point, lower, upper)``: a statistic of ``scores [runs, tasks]`` and its percentile bootstrap interval.

    Each replicate resamples the runs with replacement independently within every task (the
    stratified bootstrap of rliable), flattens and applies ``statistic``.
    """
    x = np.asarray(scores, float)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 runs, got {x.shape[0]}")
    rng = np.random.default_rng(seed)
    n, tasks = x.shape
    idx = rng.integers(0, n, size=(reps, n, tasks))
    samples = np.take_along_axis(np.broadcast_to(x, (reps, n, tasks)), idx, axis=1).reshape(reps, n * tasks)
    values = statistic(samples, axis=-1)
    alpha = (1.0 - confidence) / 2.0
    return float(statistic(x.reshape(-1))), float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))
