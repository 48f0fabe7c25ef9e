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
(see ``softq_ref.conformance.targets``); a non-finite output where the reference is
finite always fails, and so does an exception, a wrong shape or a missing output.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from softq_ref.conformance.adapters import Adapter, get_adapter
from softq_ref.conformance.targets import Target, get_target

#: Cases of a failing golden property named in the report.
MAX_NAMED_CASES = 6


class ReferenceFailure(RuntimeError):
    """The reference itself failed on generated inputs: a bug of this package, never the candidate's."""


@dataclass
class Comparison:
    """The outcome of comparing one candidate call with the reference."""

    ok: bool
    max_abs: float = 0.0
    max_rel: float = 0.0
    ratio: float = 0.0
    where: str = ""
    message: str = ""


@dataclass
class Counterexample:
    """A failing input: where it came from, the inputs, the expected and returned outputs."""

    label: str
    inputs: dict
    want: dict
    got: dict | None
    comparison: Comparison
    note: str = ""


@dataclass
class PropertyResult:
    """Pass or fail of one property, with its worst errors and (on failure) a counterexample."""

    name: str
    description: str
    passed: bool
    checked: int
    max_abs_error: float
    max_rel_error: float
    max_ratio: float
    counterexample: Counterexample | None = None
    failing_cases: list[str] = field(default_factory=list)
    message: str = ""


@dataclass
class Report:
    """The result of checking one candidate against one target."""

    target: Target
    candidate: str
    adapter: str
    dtype: str
    rtol: float
    atol: float
    properties: list[PropertyResult]
    examples: int
    seed: int

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.properties)

    @property
    def failed(self) -> list[str]:
        """Names of the failing properties."""
        return [p.name for p in self.properties if not p.passed]

    def format(self) -> str:
        """A readable report (what ``softq-ref conform`` prints)."""
        from softq_ref.conformance.report import format_report

        return format_report(self)

    def to_dict(self) -> dict:
        """A JSON-ready summary (``softq-ref conform --json``)."""
        from softq_ref.conformance.report import report_dict

        return report_dict(self)

    # Defined last: inside this class body the name ``property`` is this method from here on.
    def property(self, name: str) -> PropertyResult:
        """The result of one property by name (``KeyError`` if it was not run)."""
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)


# --------------------------------------------------------------------------- loading a candidate


def load_candidate(spec: str) -> Callable:
    """``MODULE:FUNCTION`` -> the function.

    ``MODULE`` is a dotted module importable from the current directory (which is put on
    ``sys.path``) or the path of a ``.py`` file; ``FUNCTION`` may be dotted
    (``Class.method``).

    Raises:
      ValueError: when the spec is malformed, the module cannot be imported, or the name
        is missing or not callable (the message is one line).
    """
    module_part, sep, attr = str(spec).rpartition(":")
    if not sep or not module_part or not attr:
        raise ValueError(f"expected MODULE:FUNCTION (a module or a .py file, a colon, a function name), got {spec!r}")
    try:
        if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
            path = Path(module_part).expanduser().resolve()
            if not path.is_file():
                raise ValueError(f"no such file: {module_part}")
            if str(path.parent) not in sys.path:
                sys.path.insert(0, str(path.parent))  # the file's own imports of its neighbours
            name = f"_softq_conform_{path.stem}_{abs(hash(str(path))) % 10**8}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_part)
    except ValueError:
        raise
    except Exception as err:  # an ImportError, or anything the user's module raised while importing
        message = " ".join(str(err).split())  # one line, whatever the module raised
        raise ValueError(f"cannot import {module_part}: {type(err).__name__}: {message}") from err
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{module_part} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{spec} is not callable")
    return obj


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


def compare(want: dict, got: dict, scale: dict, rtol: float, atol: float) -> Comparison:
    """Element-wise comparison of every output; the worst element is named in ``where``."""
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
                              message=f"{name} has shape {list(g.shape)}, expected {list(w.shape)}")
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


def _split_outputs(target: Target, raw) -> dict:
    names = target.call_outputs
    if len(names) == 1:
        if isinstance(raw, tuple):
            if len(raw) != 1:
                raise ValueError(f"returned a tuple of {len(raw)} values; expected one array ({names[0]})")
            raw = raw[0]
        return {names[0]: raw}
    if not isinstance(raw, tuple) or len(raw) != len(names):
        raise ValueError(f"expected a tuple of {len(names)} values ({', '.join(names)})")
    return dict(zip(names, raw))


def run_candidate(target: Target, candidate: Callable, adapter: Adapter, inputs: dict) -> dict:
    """Call the candidate on (cast) inputs; its outputs by name, the adapter's gradient included."""
    args = [inputs[name] for name in target.inputs]
    got = _split_outputs(target, adapter.call(candidate, args))
    if target.gradient is not None:
        wrt, name = target.gradient
        got[name] = adapter.grad(candidate, args, target.inputs.index(wrt))
    return got


def _reference(target: Target, inputs: dict) -> tuple[dict, dict]:
    try:
        want = target.compute(inputs)
        return want, target.scale(inputs, want)
    except Exception as err:
        raise ReferenceFailure(f"the reference {target.name} failed on {inputs!r}: {err}") from err


def evaluate(target: Target, candidate: Callable, adapter: Adapter, inputs: dict, rtol: float, atol: float,
             want: dict | None = None, scale: dict | None = None) -> tuple[Comparison, dict, dict, dict | None]:
    """One differential test: ``(comparison, inputs as cast, want, got)``."""
    cast = cast_inputs(target, inputs, adapter.dtype)
    if want is None:
        want, scale = _reference(target, cast)
    try:
        got = run_candidate(target, candidate, adapter, cast)
    except Exception as err:  # the candidate's failure is a result, not a crash
        return (Comparison(ok=False, max_abs=math.inf, max_rel=math.inf, ratio=math.inf,
                           message=f"raised {type(err).__name__}: {err}"), cast, want, None)
    return compare(want, got, scale, rtol, atol), cast, want, got


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


def _golden(target, candidate, adapter, rtol, atol, directory) -> PropertyResult:
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
        stored = adapter.dtype == "float64"
        comparison, cast, want, got = evaluate(target, candidate, adapter, case.inputs, rtol, atol,
                                               want=case.outputs if stored else None,
                                               scale=case.scale if stored else None)
        worst.add(comparison)
        if not comparison.ok:
            failing.append(case.name)
            size = sum(np.size(v) for v in cast.values())
            if size < shown_size:  # show the smallest failing case: the easiest to read
                shown, shown_size = Counterexample(f"golden case {case.name!r}", cast, want, got, comparison,
                                                   note=case.note), size
    return PropertyResult("golden", description, not failing, worst.count, worst.max_abs, worst.max_rel,
                          worst.ratio, counterexample=shown, failing_cases=failing)


def _hypothesis(prop, target, candidate, adapter, rtol, atol, examples, seed) -> PropertyResult:
    try:
        from hypothesis import HealthCheck, Verbosity, find, settings
        from hypothesis.errors import NoSuchExample
    except ImportError as err:
        raise ImportError("the randomised checks need Hypothesis: `pip install hypothesis` "
                          "(or `pip install 'softq_ref[test]'`)") from err

    worst = _Worst()

    def fails(inputs: dict) -> bool:
        comparison, *_ = evaluate(target, candidate, adapter, inputs, rtol, atol)
        worst.add(comparison)
        return not comparison.ok

    config = settings(max_examples=examples, database=None, deadline=None, verbosity=Verbosity.quiet,
                      suppress_health_check=list(HealthCheck))
    try:
        minimal = find(prop.strategy(), fails, settings=config, random=random.Random(seed))
    except NoSuchExample:
        return PropertyResult(prop.name, prop.description, True, worst.count, worst.max_abs, worst.max_rel, worst.ratio)
    except ReferenceFailure:
        raise
    except Exception as err:  # e.g. Hypothesis's Flaky: the candidate answered differently for the same input
        return PropertyResult(prop.name, prop.description, False, worst.count, worst.max_abs, worst.max_rel,
                              worst.ratio, message=f"Hypothesis stopped: {type(err).__name__}: {err}")
    comparison, cast, want, got = evaluate(target, candidate, adapter, minimal, rtol, atol)
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
        label, candidate = candidate, load_candidate(candidate)
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
    known = ["golden", *(p.name for p in target.properties)]
    wanted = known if properties is None else list(properties)
    if not wanted:
        raise ValueError(f"no property to run; {target.name} has {', '.join(known)}")
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise ValueError(f"{target.name} has no property {unknown[0]!r}; its properties: {', '.join(known)}")
    directory = Path(vectors_dir) if vectors_dir is not None else None
    results = []
    if "golden" in wanted:
        results.append(_golden(target, candidate, adapter_obj, rtol, atol, directory))
    for prop in target.properties:
        if prop.name in wanted:
            results.append(_hypothesis(prop, target, candidate, adapter_obj, rtol, atol, examples, seed))
    return Report(target=target, candidate=label, adapter=adapter_obj.name, dtype=adapter_obj.dtype, rtol=rtol,
                  atol=atol, properties=results, examples=examples, seed=seed)
