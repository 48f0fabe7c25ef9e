r"""Check a third-party function against the reference: golden vectors, then Hypothesis.

``check(candidate, "eq-10")`` runs every property of the target and returns a ``Report``:

* ``golden``: every case of the target's file in ``spec/vectors`` (in float32, the golden
  inputs rounded to float32, the outputs recomputed by the reference from them);
* the target's randomised properties (``random``, ``temperature``, ``extreme``,
  ``degenerate``): Hypothesis draws inputs, the reference computes the expected outputs in
  float64, and a failure is shrunk to a minimal counterexample (differential testing).

Each property reports pass or fail, how many inputs it checked, the worst absolute and
relative errors over all of them, and, on failure, the counterexample: its inputs, the
expected and the returned outputs, and the worst element.  The comparison is
$|y - y^\star| \le \mathrm{atol} + \mathrm{rtol} \max(|y^\star|, \mathrm{scale})$
(see ``softq_ref.conformance.declaration``); a non-finite output where the reference is
finite always fails, and so does an exception, a wrong shape or a missing output.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np

from softq_ref.conformance.adapters import Adapter, get_adapter
from softq_ref.conformance.candidate import load_candidate
from softq_ref.conformance.isolation import DEFAULT_TIMEOUT, CandidateFailure, CandidateFatal, open_candidate
from softq_ref.conformance.results import Comparison, Counterexample, PropertyResult, Report
from softq_ref.conformance.targets import Target, get_target

# The result types and the loader are documented here, where ``check`` returns and uses them.
__all__ = ["Comparison", "Counterexample", "PropertyResult", "Report", "check", "compare", "evaluate",
           "load_candidate", "run_candidate"]

class ReferenceFailure(RuntimeError):
    """The reference itself failed on generated inputs: a bug of this package, never the candidate's."""


# --------------------------------------------------------------------------- comparing


def cast_inputs(target: Target, inputs: dict, dtype: str) -> dict:
    """The inputs as the candidate will see them: rounded to float32 when ``dtype`` is float32."""
    out = {}
    for name, kind in zip(target.inputs, target.kinds):
        value = inputs[name]
        if kind == "array":
            value = np.asarray(value, dtype=np.float64)
            out[name] = value.astype(np.float32).astype(np.float64) if dtype == "float32" else value.copy()
        elif kind == "float":
            out[name] = float(np.float32(value)) if dtype == "float32" else float(value)
        else:
            out[name] = int(value)
    return out


def compare(want: dict, got: dict, scale: dict, rtol: float, atol: float, returned: str = "") -> Comparison:
    """Element-wise comparison of every output; the worst element is named in ``where``.

    ``returned`` (what the candidate returned, in words) is added to a shape mismatch.
    """
    worst = Comparison(ok=True)
    for name, w in want.items():
        if name not in got:
            return Comparison(ok=False, max_abs=math.inf, max_rel=math.inf, ratio=math.inf, where=name,
                              message=f"no output {name!r}")
        g = np.asarray(got[name], dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if w.ndim == 0 and g.size == 1:
            g = g.reshape(())
        if g.shape != w.shape:
            return Comparison(ok=False, max_abs=math.inf, max_rel=math.inf, ratio=math.inf, where=name,
                              message=f"{name} has shape {list(g.shape)}, expected {list(w.shape)}"
                              + (f" (the candidate returned {returned})" if returned else ""))
        tol = atol + rtol * np.maximum(np.abs(w), np.broadcast_to(scale[name], w.shape))
        same = (g == w) | (np.isnan(g) & np.isnan(w))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            err = np.where(same, 0.0, np.abs(g - w))
            err = np.where(np.isnan(err), math.inf, err)  # NaN where a number was expected, or inf - inf
            ratio = np.divide(err, tol, out=np.full(err.shape, math.inf), where=tol > 0)
            ratio = np.where(err == 0, 0.0, ratio)
            rel = np.divide(err, np.abs(w), out=err.copy(), where=(w != 0) & np.isfinite(w))
        if err.size == 0:
            continue
        worst.max_abs = max(worst.max_abs, float(np.max(err)))
        worst.max_rel = max(worst.max_rel, float(np.max(rel)))
        i = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        r = float(ratio[i])
        if r > worst.ratio or (worst.where == "" and r >= worst.ratio):
            worst.ratio = r
            worst.where = f"{name}[{', '.join(str(int(k)) for k in i)}]" if i else name
            worst.message = (
                f"{worst.where}: got {float(g[i])!r}, want {float(w[i])!r}, |got - want| = {float(err[i]):.3g}, "
                f"tolerance {float(tol[i]):.3g}"
            )
        if r > 1.0:
            worst.ok = False
    return worst


def run_candidate(target: Target, runner, inputs: dict) -> tuple[dict, str]:
    """Call the candidate on (cast) inputs: its outputs by name (the adapter's gradient included)
    and what it returned, in words.

    Raises:
      CandidateFailure: it raised, or returned something that is not the target's outputs.
      CandidateFatal: its process ended, crashed or did not return in time.
    """
    args = [inputs[name] for name in target.inputs]
    gradient = None
    if target.gradient is not None:
        wrt, name = target.gradient
        gradient = (target.inputs.index(wrt), name)
    return runner.run(args, target.call_outputs, gradient)


def _reference(target: Target, inputs: dict) -> tuple[dict, dict]:
    try:
        want = target.compute(inputs)
        return want, target.scale(inputs, want)
    except Exception as err:
        raise ReferenceFailure(f"the reference {target.name} failed on {inputs!r}: {err}") from err


def _failed(message: str) -> Comparison:
    return Comparison(ok=False, max_abs=math.inf, max_rel=math.inf, ratio=math.inf, message=message)


def evaluate(target: Target, runner, dtype: str, inputs: dict, rtol: float, atol: float,
             want: dict | None = None, scale: dict | None = None) -> tuple[Comparison, dict, dict, dict | None]:
    """One differential test: ``(comparison, inputs as cast, want, got)``.

    ``CandidateFatal`` propagates (with the cast inputs and the expectation attached).
    """
    cast = cast_inputs(target, inputs, dtype)
    if want is None:
        want, scale = _reference(target, cast)
    try:
        got, returned = run_candidate(target, runner, cast)
    except CandidateFailure as err:  # the candidate's failure is a result, not a crash
        return _failed(str(err)), cast, want, None
    except CandidateFatal as err:
        err.inputs, err.want = cast, want
        raise
    return compare(want, got, scale, rtol, atol, returned), cast, want, got


def _fatal_result(name: str, description: str, worst, err: CandidateFatal, label: str,
                  failing: list[str] | None = None) -> PropertyResult:
    """A property stopped by a candidate that ended, crashed or hung its process."""
    counterexample = Counterexample(label, err.inputs, err.want, None, _failed(err.message))
    return PropertyResult(name, description, False, worst.count + 1, math.inf, math.inf, math.inf,
                          counterexample=counterexample, failing_cases=failing or [],
                          message=f"stopped: the candidate {err.message}")


# --------------------------------------------------------------------------- properties


class _Worst:
    """Running maxima of the errors over all inputs of a property."""

    def __init__(self):
        self.count, self.max_abs, self.max_rel, self.ratio = 0, 0.0, 0.0, 0.0

    def add(self, c: Comparison) -> None:
        self.count += 1
        self.max_abs = max(self.max_abs, c.max_abs)
        self.max_rel = max(self.max_rel, c.max_rel)
        self.ratio = max(self.ratio, c.ratio)


def _golden(target, runner, dtype, rtol, atol, directory) -> PropertyResult:
    from softq_ref.conformance import vectors as _vectors

    description = f"the golden vectors in spec/vectors/{target.vectors}"
    try:
        cases = _vectors.load_target(target, _vectors.VECTORS_DIR if directory is None else directory)
    except FileNotFoundError:
        return PropertyResult("golden", description, False, 0, math.nan, math.nan, math.nan,
                              message=f"spec/vectors/{target.vectors} is missing")
    worst, failing, shown, shown_size = _Worst(), [], None, math.inf
    for case in cases:
        # In float64 the stored outputs are the expectation; in float32 the rounded inputs need their own.
        stored = dtype == "float64"
        try:
            comparison, cast, want, got = evaluate(target, runner, dtype, case.inputs, rtol, atol,
                                                   want=case.outputs if stored else None,
                                                   scale=case.scale if stored else None)
        except CandidateFatal as err:
            return _fatal_result("golden", description, worst, err, f"golden case {case.name!r}",
                                 [*failing, case.name])
        worst.add(comparison)
        if not comparison.ok:
            failing.append(case.name)
            size = sum(np.size(v) for v in cast.values())
            if size < shown_size:  # show the smallest failing case: the easiest to read
                shown, shown_size = Counterexample(f"golden case {case.name!r}", cast, want, got, comparison,
                                                   note=case.note), size
    return PropertyResult("golden", description, not failing, worst.count, worst.max_abs, worst.max_rel,
                          worst.ratio, counterexample=shown, failing_cases=failing)


def _hypothesis(prop, target, runner, dtype, rtol, atol, examples, seed) -> PropertyResult:
    try:
        from hypothesis import HealthCheck, Verbosity, find, settings
        from hypothesis.errors import NoSuchExample
    except ImportError as err:
        raise ImportError("the randomised checks need Hypothesis: `pip install hypothesis` "
                          "(or `pip install 'softq_ref[test]'`)") from err

    worst = _Worst()

    def fails(inputs: dict) -> bool:
        comparison, *_ = evaluate(target, runner, dtype, inputs, rtol, atol)
        worst.add(comparison)
        return not comparison.ok

    config = settings(max_examples=examples, database=None, deadline=None, verbosity=Verbosity.quiet,
                      suppress_health_check=list(HealthCheck))
    try:
        minimal = find(prop.strategy(), fails, settings=config, random=random.Random(seed))
    except NoSuchExample:
        return PropertyResult(prop.name, prop.description, True, worst.count, worst.max_abs, worst.max_rel, worst.ratio)
    except CandidateFatal as err:  # not shrunk: every later call would meet a stopped process
        return _fatal_result(prop.name, prop.description, worst, err, f"generated by Hypothesis (seed {seed})")
    except ReferenceFailure:
        raise
    except Exception as err:  # e.g. Hypothesis's Flaky: the candidate answered differently for the same input
        return PropertyResult(prop.name, prop.description, False, worst.count, worst.max_abs, worst.max_rel,
                              worst.ratio, message=f"Hypothesis stopped: {type(err).__name__}: {err}")
    try:
        comparison, cast, want, got = evaluate(target, runner, dtype, minimal, rtol, atol)
    except CandidateFatal as err:
        return _fatal_result(prop.name, prop.description, worst, err, f"shrunk by Hypothesis (seed {seed})")
    counterexample = Counterexample(f"shrunk by Hypothesis (seed {seed})", cast, want, got, comparison)
    return PropertyResult(prop.name, prop.description, False, worst.count, worst.max_abs, worst.max_rel,
                          worst.ratio, counterexample=counterexample)


def check(
    candidate,
    equation,
    *,
    adapter: str | Adapter = "numpy",
    dtype: str = "float64",
    examples: int = 100,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    properties: list[str] | None = None,
    vectors_dir: Path | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    isolate: bool | None = None,
) -> Report:
    r"""Check ``candidate`` against the reference for one equation.

    Args:
      candidate: the function to check, or ``"MODULE:FUNCTION"`` (see ``load_candidate``).
        Its signature must be the target's (``softq-ref conform --list``).
      equation: a spec id (``"eq-10"``: its default function), a full id
        (``"eq-13:median_bandwidth"``) or a function name (``"median_bandwidth"``).
      adapter: ``"numpy"``, ``"torch"`` or ``"jax"`` (or an ``Adapter``).
      dtype: ``"float64"`` or ``"float32"``: the arrays the candidate receives (the
        reference always runs in float64, on the same rounded inputs).
      examples: Hypothesis examples per randomised property (before shrinking).
      seed: the seed of Hypothesis's random generator (reports are reproducible).
      rtol, atol: the tolerance; defaults by target and dtype (``Target.tolerance``).
      properties: run only these (``["golden"]``, ``["random", "temperature"]``, ...).
      vectors_dir: where the golden vectors are (default ``spec/vectors``).
      timeout: seconds one call of the candidate may take (``None``: no limit); a call
        that takes longer fails its property and the remaining properties are not run.
      isolate: run the candidate in a child process (``softq_ref.conformance.isolation``),
        so that ``os._exit``, a crash or a hang is a failure of the candidate, never of the
        kit.  ``None`` (the default): whenever the candidate can be sent there (a
        ``"MODULE:FUNCTION"`` string, or a picklable module-level function), else in this
        process without a time limit (a lambda, a closure); ``Report.isolation`` says which.

    Returns:
      A ``Report``; ``report.passed`` is the verdict and ``report.format()`` the text.

    Raises:
      ValueError: for an unknown equation, adapter, dtype or property, or a bad candidate spec.
      ImportError: if the adapter's framework (or Hypothesis) is missing.

    Example:
      >>> import numpy as np
      >>> def soft_value(q, alpha):
      ...     m = q.max(axis=-1, keepdims=True)
      ...     return (m + alpha * np.log(np.exp((q - m) / alpha).sum(axis=-1, keepdims=True)))[..., 0]
      >>> check(soft_value, "eq-5", examples=20).passed
      True
    """
    target = get_target(equation)
    if isinstance(candidate, str):
        label = candidate
    else:
        label = f"{getattr(candidate, '__module__', '?')}.{getattr(candidate, '__qualname__', repr(candidate))}"
        if not callable(candidate):
            raise ValueError(f"the candidate must be callable, got {type(candidate).__name__}")
    adapter_obj = adapter if isinstance(adapter, Adapter) else get_adapter(adapter, dtype)
    default_rtol, default_atol = target.tolerance[adapter_obj.dtype]
    rtol = default_rtol if rtol is None else float(rtol)
    atol = default_atol if atol is None else float(atol)
    if not (rtol >= 0 and atol >= 0):
        raise ValueError(f"rtol and atol must be >= 0, got {rtol}, {atol}")
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples must be a positive int, got {examples!r}")
    if timeout is not None and not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds (or None), got {timeout!r}")
    known = ["golden", *(p.name for p in target.properties)]
    wanted = known if properties is None else list(properties)
    if not wanted:
        raise ValueError(f"no property to run; {target.name} has {', '.join(known)}")
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise ValueError(f"{target.name} has no property {unknown[0]!r}; its properties: {', '.join(known)}")
    directory = Path(vectors_dir) if vectors_dir is not None else None
    dtype = adapter_obj.dtype
    runner = open_candidate(candidate, adapter_obj, timeout=timeout, isolate=isolate)
    results: list[PropertyResult] = []
    try:
        hung = None
        for name in [p for p in known if p in wanted]:
            if hung is not None:  # each further property would wait out the time limit again
                prop = next((p for p in target.properties if p.name == name), None)
                results.append(PropertyResult(name, prop.description if prop else "", False, 0, math.nan, math.nan,
                                              math.nan, message=f"not run: the candidate hung in {hung}"))
            elif name == "golden":
                results.append(_golden(target, runner, dtype, rtol, atol, directory))
            else:
                prop = next(p for p in target.properties if p.name == name)
                results.append(_hypothesis(prop, target, runner, dtype, rtol, atol, examples, seed))
            if runner.hung and hung is None:
                hung = name
    finally:
        runner.close()
    return Report(target=target, candidate=label, adapter=adapter_obj.name, dtype=dtype, rtol=rtol,
                  atol=atol, properties=results, examples=examples, seed=seed, isolation=runner.describe(),
                  timeout=timeout if runner.isolated else None)
