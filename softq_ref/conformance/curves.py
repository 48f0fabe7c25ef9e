r"""Learning-curve conformance: do your evaluation returns fall inside the reference band?

A *metrics CSV* is what a softq_ref run directory holds (``metrics.csv``) and what a user
supplies: one row per seed per evaluation point, with at least the columns ``step``,
``seed`` and ``mean_return`` (other columns are ignored; a row whose ``mean_return`` is
empty, as when no episode ended in a chunk, is skipped; a later row for the same seed and
step replaces an earlier one, as after a resumed run).

A *reference curve* (``spec/reference_curves/<name>.csv``) summarises several seeds of the
reference implementation, one row per step:

    step,n_seeds,mean,std,min,max

with ``mean``, ``std`` (sample standard deviation, ``ddof = 1``; 0 for one seed), ``min``
and ``max`` of ``mean_return`` over the ``n_seeds`` seeds that reach that step.  Each
seed's curve is linearly interpolated between its own evaluation points, so seeds
evaluated at different steps can be combined; nothing is extrapolated.

The check interpolates every one of your seeds at the reference's steps, averages the
$n$ seeds of yours that cover a step, and asks whether that mean $\hat y$ lies in the band

$$|\hat y - \bar y| \le k \, s \sqrt{1/n + 1/N} + m$$

with $\bar y$, $s$ and $N$ the reference's mean, standard deviation and number of seeds
at that step, $k = 4$ and margin $m = 0$ by default.  $s \sqrt{1/n + 1/N}$ is the
standard error of the difference of two means of seeds with the same spread, so the band
is as wide as the evidence: one seed of yours against five reference seeds gets a wider
band than ten against ten.  With $k = 4$ a correct implementation fails about 3% of the
time (measured on synthetic curves whose seeds differ by a constant offset, five
reference seeds, one or three of yours), while a curve shifted by 3.75 seed standard
deviations fails 95% of the time with three seeds.  A reference needs at least two seeds
($s = 0$ otherwise; use ``margin``).

It passes when your curve covers at least ``min_coverage`` (90%) of the reference's
steps, at least ``min_inside`` (90%) of the covered steps are inside, and the last
covered step is inside (final performance is what a port is judged by).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from softq_ref.spec import SPEC_DIR
from softq_ref.stats import iqm, stratified_bootstrap_ci  # noqa: F401  (part of this module's API)

REFERENCE_DIR = SPEC_DIR / "reference_curves"
REFERENCE_COLUMNS = ("step", "n_seeds", "mean", "std", "min", "max")
METRICS_COLUMNS = ("step", "seed", "mean_return")


@dataclass(frozen=True)
class ReferenceCurve:
    """Mean and spread over seeds of ``mean_return`` at each step."""

    steps: np.ndarray
    n_seeds: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    source: str = ""


# --------------------------------------------------------------------------- reading runs


def _float(text) -> float:
    if text is None or (isinstance(text, str) and not text.strip()):
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None


def read_metrics(sources) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-seed learning curves ``{seed: (steps, returns)}`` from one or several metrics CSVs.

    With several files, seeds are named ``<file>:<seed>`` so that runs that share a seed
    number stay apart.

    Raises:
      FileNotFoundError: if a file is missing.
      ValueError: if a file lacks a column or holds no usable row.
    """
    paths = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    if not paths:
        raise ValueError("no metrics CSV given")
    curves: dict[str, dict[float, float]] = {}
    for path in paths:
        path = Path(path)
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in METRICS_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; need {', '.join(METRICS_COLUMNS)}")
            for row in reader:
                step, value = _float(row["step"]), _float(row["mean_return"])
                if not (math.isfinite(step) and math.isfinite(value)):
                    continue
                seed = str(row["seed"]).strip() or "0"
                key = f"{path}:{seed}" if len(paths) > 1 else seed
                curves.setdefault(key, {})[step] = value
    if not curves:
        raise ValueError(f"no row with a finite step and mean_return in {', '.join(str(p) for p in paths)}")
    return {k: (np.array(sorted(d)), np.array([d[s] for s in sorted(d)])) for k, d in sorted(curves.items())}


def _at(curves: dict, steps: np.ndarray) -> np.ndarray:
    """Each seed interpolated at ``steps``: ``[seeds, steps]``, NaN outside a seed's range."""
    out = np.full((len(curves), len(steps)), np.nan)
    for i, (x, y) in enumerate(curves.values()):
        inside = (steps >= x[0]) & (steps <= x[-1])
        out[i, inside] = np.interp(steps[inside], x, y)
    return out


def summarize(sources, steps: Sequence[float] | None = None) -> ReferenceCurve:
    """The reference curve of some runs: mean, std, min and max over seeds at each step.

    Args:
      sources: metrics CSV path(s), one or several seeds each.
      steps: where to summarise; by default every step at which some seed was evaluated.
    """
    curves = read_metrics(sources)
    if steps is None:
        grid = np.array(sorted({float(s) for x, _ in curves.values() for s in x}))
    else:
        grid = np.asarray(steps, float)
    values = _at(curves, grid)
    n = np.sum(np.isfinite(values), axis=0)
    keep = n > 0
    values, grid, n = values[:, keep], grid[keep], n[keep]
    mean = np.nansum(values, axis=0) / n
    squares = np.nansum((values - mean) ** 2, axis=0)
    std = np.sqrt(squares / np.maximum(n - 1, 1)) * (n > 1)
    names = [sources] if isinstance(sources, (str, os.PathLike)) else sources
    return ReferenceCurve(grid, n, mean, std, np.nanmin(values, axis=0), np.nanmax(values, axis=0),
                          source=", ".join(str(s) for s in names))


def _create_csv(path):
    """``path`` opened for writing, created new: a file already there is never overwritten (``ValueError``).

    The parent folder is created if needed.  Opened with mode ``"x"``, so a file that appears between the
    check and the write is refused too.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.open("x", newline="")
    except FileExistsError:
        raise ValueError(f"{path} already exists; nothing was written (remove it, or choose another name)") from None


def write_reference_curve(sources, path, steps: Sequence[float] | None = None) -> ReferenceCurve:
    """Summarise runs (``summarize``) and write the reference CSV, a new file; returns the curve."""
    reference = summarize(sources, steps)
    with _create_csv(path) as f:
        writer = csv.writer(f)
        writer.writerow(REFERENCE_COLUMNS)
        for i in range(len(reference.steps)):
            step = reference.steps[i]
            writer.writerow([int(step) if float(step).is_integer() else repr(float(step)), int(reference.n_seeds[i]),
                             *(repr(float(getattr(reference, c)[i])) for c in ("mean", "std", "min", "max"))])
    return reference


def resolve_reference(name_or_path) -> Path:
    """A reference curve file: a path, or a name in ``spec/reference_curves`` (without ``.csv``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    named = REFERENCE_DIR / f"{name_or_path}.csv"
    if named.is_file():
        return named
    available = sorted(p.stem for p in REFERENCE_DIR.glob("*.csv")) if REFERENCE_DIR.is_dir() else []
    raise ValueError(f"no reference curve {name_or_path!r}: not a file, and spec/reference_curves has "
                     f"{', '.join(available) if available else 'no curves yet'}")


def read_reference_curve(name_or_path) -> ReferenceCurve:
    """Read a reference curve CSV (``step,n_seeds,mean,std,min,max``)."""
    path = resolve_reference(name_or_path)
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REFERENCE_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; need {', '.join(REFERENCE_COLUMNS)}")
        rows = [{c: _float(r[c]) for c in REFERENCE_COLUMNS} for r in reader]
    rows = [r for r in rows if all(math.isfinite(r[c]) for c in REFERENCE_COLUMNS)]
    if not rows:
        raise ValueError(f"{path}: no rows")
    rows.sort(key=lambda r: r["step"])
    col = {c: np.array([r[c] for r in rows]) for c in REFERENCE_COLUMNS}
    return ReferenceCurve(col["step"], col["n_seeds"].astype(int), col["mean"], col["std"], col["min"], col["max"],
                          source=str(path))


# --------------------------------------------------------------------------- the check


@dataclass
class CurveReport:
    """The outcome of ``check_curve``."""

    passed: bool
    reference: str
    candidate: str
    k: float
    margin: float
    min_inside: float
    min_coverage: float
    steps: np.ndarray
    user_mean: np.ndarray
    user_seeds: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ref_mean: np.ndarray
    coverage: float
    inside_fraction: float
    last_inside: bool
    n_user_seeds: int
    n_ref_seeds: int
    reasons: list[str] = field(default_factory=list)

    @property
    def outside(self) -> list[int]:
        """Indices of the covered steps whose mean lies outside the band."""
        covered = np.isfinite(self.user_mean)
        inside = (self.user_mean >= self.lower) & (self.user_mean <= self.upper)
        return [int(i) for i in np.flatnonzero(covered & ~inside)]

    def format(self, max_rows: int = 10) -> str:
        band = f"reference mean +- {self.k:g} s sqrt(1/n + 1/N)" + (f" + {self.margin:g}" if self.margin else "")
        covered = np.isfinite(self.user_mean)
        lines = [
            f"softq-ref conform --curve {self.candidate}",
            f"  reference  {self.reference} ({self.n_ref_seeds} seeds, {len(self.steps)} steps)",
            f"  yours      {self.n_user_seeds} seed(s); mean over your seeds compared with the band: {band}",
            "",
            f"  coverage      {self.coverage:6.1%} of the reference's steps (needs {self.min_coverage:.0%})",
            f"  inside band   {self.inside_fraction:6.1%} of the covered steps (needs {self.min_inside:.0%})",
        ]
        if covered.any():
            last = int(np.flatnonzero(covered)[-1])
            lines.append(f"  last step     {self.steps[last]:g}: yours {self.user_mean[last]:.4g}, reference "
                         f"{self.ref_mean[last]:.4g}, band [{self.lower[last]:.4g}, {self.upper[last]:.4g}] -> "
                         f"{'inside' if self.last_inside else 'OUTSIDE'}")
        outside = self.outside
        if outside:
            lines += ["", f"  {len(outside)} step(s) outside the band:",
                      f"  {'step':>10}  {'yours':>10}  {'lower':>10}  {'upper':>10}  {'ref mean':>10}"]
            for i in outside[:max_rows]:
                lines.append(f"  {self.steps[i]:>10g}  {self.user_mean[i]:>10.4g}  {self.lower[i]:>10.4g}  "
                             f"{self.upper[i]:>10.4g}  {self.ref_mean[i]:>10.4g}")
            if len(outside) > max_rows:
                lines.append(f"  ... and {len(outside) - max_rows} more")
        lines += ["", "result: PASS" if self.passed else "result: FAIL (" + "; ".join(self.reasons) + ")"]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        def clean(a):
            return [None if not math.isfinite(x) else float(x) for x in np.asarray(a, float)]

        return {"passed": self.passed, "reasons": self.reasons, "reference": self.reference,
                "candidate": self.candidate,
                "k": self.k, "margin": self.margin, "coverage": self.coverage,
                "inside_fraction": self.inside_fraction, "last_inside": self.last_inside,
                "steps": clean(self.steps), "user_mean": clean(self.user_mean), "lower": clean(self.lower),
                "upper": clean(self.upper), "reference_mean": clean(self.ref_mean)}


def check_curve(
    user,
    reference,
    *,
    k: float = 4.0,
    margin: float = 0.0,
    min_inside: float = 0.9,
    min_coverage: float = 0.9,
) -> CurveReport:
    r"""Compare your learning curve with a reference curve.

    Args:
      user: your metrics CSV path(s) (columns ``step``, ``seed``, ``mean_return``).
      reference: a reference curve path, a name in ``spec/reference_curves``, or a
        ``ReferenceCurve``.
      k: the width of the band in standard errors of the difference of the means.
      margin: an absolute widening of the band (e.g. when the reference has one seed).
      min_inside: the fraction of covered steps that must be inside.
      min_coverage: the fraction of the reference's steps your curve must cover.

    Returns:
      A ``CurveReport``; ``.passed`` is the verdict and ``.format()`` the text.

    Raises:
      ValueError: for malformed files, bad parameters, or no step in common.
    """
    for name, value in (("k", k), ("margin", margin)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    for name, value in (("min_inside", min_inside), ("min_coverage", min_coverage)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    ref = reference if isinstance(reference, ReferenceCurve) else read_reference_curve(reference)
    curves = read_metrics(user)
    values = _at(curves, ref.steps)
    seeds = np.sum(np.isfinite(values), axis=0)
    with np.errstate(invalid="ignore"):
        user_mean = np.where(seeds > 0, np.nansum(values, axis=0) / np.maximum(seeds, 1), np.nan)
    half = k * ref.std * np.sqrt(1.0 / np.maximum(seeds, 1) + 1.0 / np.maximum(ref.n_seeds, 1)) + margin
    lower, upper = ref.mean - half, ref.mean + half
    covered = np.isfinite(user_mean)
    if not covered.any():
        raise ValueError(f"your curve (steps {min(x[0] for x, _ in curves.values()):g} to "
                         f"{max(x[-1] for x, _ in curves.values()):g}) shares no step with the reference "
                         f"(steps {ref.steps[0]:g} to {ref.steps[-1]:g})")
    inside = covered & (user_mean >= lower) & (user_mean <= upper)
    coverage = float(np.mean(covered))
    inside_fraction = float(np.sum(inside) / np.sum(covered))
    last_inside = bool(inside[np.flatnonzero(covered)[-1]])
    reasons = []
    if coverage < min_coverage:
        reasons.append(f"covers {coverage:.0%} of the reference's steps, needs {min_coverage:.0%}")
    if inside_fraction < min_inside:
        reasons.append(f"{inside_fraction:.0%} of the covered steps inside the band, needs {min_inside:.0%}")
    if not last_inside:
        reasons.append("the last covered step is outside the band")
    label = str(user) if isinstance(user, (str, os.PathLike)) else ", ".join(str(u) for u in user)
    return CurveReport(
        passed=not reasons, reference=ref.source, candidate=label, k=k, margin=margin,
        min_inside=min_inside, min_coverage=min_coverage, steps=ref.steps, user_mean=user_mean, user_seeds=seeds,
        lower=lower, upper=upper, ref_mean=ref.mean, coverage=coverage, inside_fraction=inside_fraction,
        last_inside=last_inside, n_user_seeds=len(curves), n_ref_seeds=int(np.max(ref.n_seeds)), reasons=reasons,
    )


# --------------------------------------------------------------------------- final IQM, bootstrap intervals
#
# The second test, for MuJoCo-scale curves: the interquartile mean of the final returns of the seeds with a
# stratified-bootstrap interval (the estimators live in softq_ref.stats, shared with the campaign report).

#: Relative efficiency of the 25%-trimmed mean under a normal distribution (its variance is
#: sigma^2 / (0.84 n) for large n): used to say how many seeds the test needs.
IQM_EFFICIENCY = 0.84


def final_scores(curves: dict, step: float, window: int = 1) -> np.ndarray:
    """Each seed's final score: the mean of its returns at its last ``window`` evaluations up to ``step``.

    A seed that does not reach ``step`` (its last evaluation is earlier) has no final score (NaN).
    """
    out = []
    for x, y in curves.values():
        if x[-1] < step:
            out.append(np.nan)
            continue
        upto = x <= step
        vals = y[upto][-window:] if upto.any() else y[:1]
        out.append(float(np.mean(vals)))
    return np.asarray(out)


def seeds_needed(shift_in_sd: float, n_reference: int, z: float = 1.96) -> int | None:
    """How many seeds of yours make a shift of ``shift_in_sd`` reference standard deviations separate the intervals.

    Normal approximation: an interval's half width is $z \\sigma / \\sqrt{e n}$ with $e$ =
    :data:`IQM_EFFICIENCY`; the intervals stop overlapping when the shift exceeds the sum of
    the two half widths.  ``None`` when even infinitely many seeds of yours would not do
    (the reference's own interval is wider than the shift).
    """
    spare = shift_in_sd * math.sqrt(IQM_EFFICIENCY) / z - 1.0 / math.sqrt(n_reference)
    if spare <= 0:
        return None
    return max(2, math.ceil(1.0 / spare ** 2))


@dataclass
class IQMReport:
    """The outcome of :func:`check_final_iqm`."""

    passed: bool
    reference: str
    candidate: str
    step: float
    window: int
    confidence: float
    user: tuple[float, float, float]
    ref: tuple[float, float, float]
    n_user_seeds: int
    n_ref_seeds: int
    ref_sd: float
    detectable_shift_sd: float
    seeds_for_one_sd: int | None
    reasons: list[str] = field(default_factory=list)

    def format(self) -> str:
        u, r = self.user, self.ref
        need = ("no number of seeds (the reference's own interval is too wide: it needs more seeds)"
                if self.seeds_for_one_sd is None else f"{self.seeds_for_one_sd} seeds of yours")
        lines = [
            f"softq-ref conform --curve {self.candidate} --test iqm",
            f"  reference  {self.reference} ({self.n_ref_seeds} seeds)",
            f"  yours      {self.n_user_seeds} seed(s)",
            f"  test       {self.confidence:.0%} stratified-bootstrap intervals of the IQM of the final return "
            f"(mean of the last {self.window} evaluation(s) up to step {self.step:g}) must overlap",
            "",
            f"  reference IQM  {r[0]:.4g}  [{r[1]:.4g}, {r[2]:.4g}]",
            f"  your IQM       {u[0]:.4g}  [{u[1]:.4g}, {u[2]:.4g}]",
            "",
            f"  power: with {self.n_user_seeds} seeds of yours the test separates a shift of about "
            f"{self.detectable_shift_sd:.2g} reference standard deviations (sd {self.ref_sd:.3g}); "
            f"a shift of one sd needs {need}.",
            "",
            "result: PASS" if self.passed else "result: FAIL (" + "; ".join(self.reasons) + ")",
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "reasons": self.reasons, "reference": self.reference, "candidate": self.candidate,
                "test": "final-iqm-bootstrap-overlap", "step": self.step, "window": self.window,
                "confidence": self.confidence, "user_iqm": list(self.user), "reference_iqm": list(self.ref),
                "n_user_seeds": self.n_user_seeds, "n_reference_seeds": self.n_ref_seeds,
                "detectable_shift_sd": self.detectable_shift_sd, "seeds_for_one_sd": self.seeds_for_one_sd}


def check_final_iqm(user, reference, *, step: float | None = None, window: int = 1, confidence: float = 0.95,
                    reps: int = 2000, seed: int = 0) -> IQMReport:
    """Compare the final returns of your seeds with a reference's by overlapping bootstrap intervals of the IQM.

    Args:
      user: your metrics CSV path(s) (columns ``step``, ``seed``, ``mean_return``).
      reference: the reference's per-seed curves in the same format (e.g. written from a
        campaign's result files by :func:`campaign_curves_csv`).
      step: the final step (default: the last step every reference seed reaches).
      window: how many of each seed's last evaluations are averaged into its final score.
      confidence: of each interval.
      reps: bootstrap replicates.

    A matching implementation fails when the two intervals miss each other by chance, which
    for two independent 95% intervals of the same quantity happens well under 5% of the
    time; the report says which shift the seeds at hand can detect.
    """
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must lie in [0.5, 1), got {confidence!r}")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    ref_curves = read_metrics(reference)
    user_curves = read_metrics(user)
    if step is None:
        step = float(min(x[-1] for x, _ in ref_curves.values()))
    ref_scores = final_scores(ref_curves, step, window)
    user_scores = final_scores(user_curves, step, window)
    ref_scores, user_scores = ref_scores[np.isfinite(ref_scores)], user_scores[np.isfinite(user_scores)]
    if len(ref_scores) < 2:
        raise ValueError(f"the reference has {len(ref_scores)} seed(s) reaching step {step:g}; the test needs at least 2")
    if len(user_scores) < 2:
        raise ValueError(f"your curve has {len(user_scores)} seed(s) reaching step {step:g}; the test needs at least 2")
    r = stratified_bootstrap_ci(ref_scores, reps=reps, confidence=confidence, seed=seed)
    u = stratified_bootstrap_ci(user_scores, reps=reps, confidence=confidence, seed=seed + 1)
    sd = float(np.std(ref_scores, ddof=1))
    z = float(_normal_quantile(0.5 + confidence / 2))
    detect = z / math.sqrt(IQM_EFFICIENCY) * (1 / math.sqrt(len(user_scores)) + 1 / math.sqrt(len(ref_scores)))
    reasons = []
    if u[2] < r[1]:
        reasons.append(f"your interval lies below the reference's ({u[2]:.4g} < {r[1]:.4g})")
    elif u[1] > r[2]:
        reasons.append(f"your interval lies above the reference's ({u[1]:.4g} > {r[2]:.4g})")
    label = str(user) if isinstance(user, (str, os.PathLike)) else ", ".join(str(x) for x in user)
    ref_label = str(reference) if isinstance(reference, (str, os.PathLike)) else ", ".join(str(x) for x in reference)
    return IQMReport(passed=not reasons, reference=ref_label, candidate=label, step=step, window=window,
                     confidence=confidence, user=u, ref=r, n_user_seeds=len(user_scores), n_ref_seeds=len(ref_scores),
                     ref_sd=sd, detectable_shift_sd=detect, seeds_for_one_sd=seeds_needed(1.0, len(ref_scores), z),
                     reasons=reasons)


def _normal_quantile(p: float) -> float:
    """The standard normal quantile (``statistics.NormalDist``)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def campaign_curves_csv(result_files, path, mode: str = "stochastic") -> Path:
    """Write the per-seed evaluation curves of campaign result files as a metrics CSV (``step,seed,mean_return``).

    ``mean_return`` at each step is the mean over that evaluation's episodes in ``mode`` (``stochastic``, the
    behaviour policy; ``deterministic``, DDPG's actor without noise, the way the paper reports DDPG).  ``path``
    is a new file: one already there is refused, never overwritten.
    """
    import json

    rows = []
    for f in result_files:
        data = json.loads(Path(f).read_text())
        for e in data["evaluations"]:
            if mode not in e:
                raise ValueError(f"{f}: no {mode!r} evaluations (modes: {[k for k in e if k not in ('step', 'x_displacement')]})")
            rows.append((e["step"], data["seed"], float(np.mean(e[mode]))))
    path = Path(path)
    with _create_csv(path) as out:
        w = csv.writer(out)
        w.writerow(METRICS_COLUMNS)
        w.writerows(rows)
    return path
