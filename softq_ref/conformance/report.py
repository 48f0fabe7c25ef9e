"""Text and JSON renderings of a conformance ``Report`` (``softq_ref.conformance.results``)."""

from __future__ import annotations

import math

import numpy as np

#: Cases of a failing golden property named in the report.
MAX_NAMED_CASES = 6


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.2g}" if math.isfinite(x) else "inf"


def format_value(value, indent: int) -> str:
    """An input or output, every float written so that it reads back exactly."""
    if isinstance(value, np.ndarray):
        text = np.array2string(value, separator=", ", floatmode="unique", threshold=24, edgeitems=2,
                               max_line_width=96)
        return text.replace("\n", "\n" + " " * indent)
    return repr(value)


def _counterexample_lines(result) -> list[str]:
    ce = result.counterexample
    lines = [f"  counterexample: {ce.label}" + (f" ({ce.note})" if ce.note else "")]
    width = max(len(n) for n in (*ce.inputs, *ce.want)) + 1
    lines.append("    inputs:")
    for name, value in ce.inputs.items():
        lines.append(f"      {name:<{width}}= {format_value(value, 8 + width)}")
    if ce.got is None:
        lines.append(f"    the function {ce.comparison.message}")
        for name, value in ce.want.items():
            lines.append(f"    want {name:<{width}}= {format_value(value, 11 + width)}")
        return lines
    for name, value in ce.want.items():
        lines.append(f"    want {name:<{width}}= {format_value(value, 11 + width)}")
        got = ce.got.get(name)
        shown = format_value(np.asarray(got, dtype=np.float64), 11 + width) if got is not None else "(missing)"
        lines.append(f"    got  {name:<{width}}= {shown}")
    lines.append(f"    worst: {ce.comparison.message}")
    return lines


def _same_inputs(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.shape(a[k]) == np.shape(b[k]) and np.array_equal(a[k], b[k]) for k in a)


def format_report(report) -> str:
    """The text that ``softq-ref conform`` prints."""
    t = report.target
    lines = [
        f"softq-ref conform: {report.candidate}",
        f"  equation   {t.label}  ({t.summary})",
        f"  signature  {t.signature}",
        f"  adapter    {report.adapter}, {report.dtype}; Hypothesis: {report.examples} examples per property, "
        f"seed {report.seed}",
        f"  tolerance  |got - want| <= {report.atol:g} + {report.rtol:g} * max(|want|, scale)",
        *([f"  candidate  run {report.isolation}"] if report.isolation else []),
        "",
        f"  {'property':<12}{'result':<8}{'checked':>9}  {'max abs err':>11}  {'max rel err':>11}  {'err/tol':>8}",
    ]
    for p in report.properties:
        lines.append(
            f"  {p.name:<12}{'pass' if p.passed else 'FAIL':<8}{p.checked:>9}  {_num(p.max_abs_error):>11}  "
            f"{_num(p.max_rel_error):>11}  {_num(p.max_ratio):>8}"
        )
    shown: list[tuple[str, dict]] = []
    for p in report.properties:
        if p.passed:
            continue
        lines += ["", f"FAIL {p.name}: {p.description}"]
        if p.failing_cases:
            more = ", ..." if len(p.failing_cases) > MAX_NAMED_CASES else ""
            names = ", ".join(p.failing_cases[:MAX_NAMED_CASES]) + more
            lines.append(f"  {len(p.failing_cases)} of {p.checked} cases failed: {names}")
        if p.message:
            lines.append(f"  {p.message}")
        if p.counterexample is not None:
            same = next((name for name, inputs in shown if _same_inputs(inputs, p.counterexample.inputs)), None)
            if same is not None:
                lines.append(f"  counterexample: the same as for {same}")
            else:
                lines += _counterexample_lines(p)
                shown.append((p.name, p.counterexample.inputs))
    lines.append("")
    if report.passed:
        lines.append(f"result: PASS ({len(report.properties)} properties)")
    else:
        lines.append(f"result: FAIL ({len(report.failed)} of {len(report.properties)} properties failed: "
                     f"{', '.join(report.failed)})")
    return "\n".join(lines)


def _jsonable(value):
    """Strict JSON: arrays as nested lists, non-finite floats as the strings "inf", "-inf", "nan"."""
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def report_dict(report) -> dict:
    """A JSON-ready summary of a report."""
    props = []
    for p in report.properties:
        entry = {"name": p.name, "description": p.description, "passed": p.passed, "checked": p.checked,
                 "max_abs_error": _jsonable(p.max_abs_error), "max_rel_error": _jsonable(p.max_rel_error),
                 "max_error_over_tolerance": _jsonable(p.max_ratio)}
        if p.failing_cases:
            entry["failing_cases"] = p.failing_cases
        if p.message:
            entry["message"] = p.message
        if p.counterexample is not None:
            ce = p.counterexample
            entry["counterexample"] = {
                "label": ce.label,
                "inputs": {k: _jsonable(v) for k, v in ce.inputs.items()},
                "want": {k: _jsonable(v) for k, v in ce.want.items()},
                "got": None if ce.got is None else {k: _jsonable(np.asarray(v, np.float64)) for k, v in ce.got.items()},
                "message": ce.comparison.message,
            }
        props.append(entry)
    return {"candidate": report.candidate, "equation": report.target.label, "signature": report.target.signature,
            "adapter": report.adapter, "dtype": report.dtype, "rtol": report.rtol, "atol": report.atol,
            "examples": report.examples, "seed": report.seed, "isolation": report.isolation,
            "timeout": report.timeout, "passed": report.passed, "failed": report.failed,
            "properties": props}
