r"""Golden vectors: the reference's inputs and outputs, written exactly, in ``spec/vectors/*.json``.

One JSON file per target (``soft_value.json``, ...; the two tabular solvers share
``tabular.json``), computed in float64 by the reference from the golden cases that each
target declares (``Target.cases``, in its family module of
``softq_ref.conformance.families``).  The format is described in ``spec/vectors/README.md``:

* an array is ``{"shape": [2, 3], "data": [...]}``, its elements flattened in row-major
  (C) order; an output that is a scalar is an array of shape ``[]``;
* a scalar *input* (``alpha``, ``discount``, ``bandwidth``, ``action_dim``, ...) is a bare
  JSON number;
* every float is written with Python's ``repr``: the shortest decimal string that reads
  back to the same IEEE-754 double, so any correctly rounding parser (C's ``strtod``,
  Julia's ``parse(Float64, ...)``, ``json.loads``) recovers the exact bits;
* non-finite values (none at present) would be the strings ``"inf"``, ``"-inf"``, ``"nan"``;
* each case carries, per output, the ``scale`` array of the tolerance
  ``|y - y*| <= atol + rtol * max(|y*|, scale)``.

Regenerate with ``python -m softq_ref.conformance.vectors --write``; ``--check`` (and the
test suite) recomputes every case and fails if a file and the code disagree.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from softq_ref.conformance.declaration import Case as CaseInputs
from softq_ref.conformance.targets import TARGETS, Target
from softq_ref.spec import SPEC_DIR

VECTORS_DIR = SPEC_DIR / "vectors"
FORMAT = "softq_ref-golden-vectors/1"
#: Recomputing a case must reproduce the file within this (relative to max(|y*|, scale)).
REGENERATION_RTOL = 1e-12


@dataclass(frozen=True)
class Case:
    """One decoded golden case: named inputs, reference outputs and tolerance scales."""

    name: str
    note: str
    inputs: dict
    outputs: dict
    scale: dict


# --------------------------------------------------------------------------- encoding


def encode_float(x: float):
    """A float as JSON: a number whose ``repr`` round-trips, or ``"inf"``/``"-inf"``/``"nan"``."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def decode_float(x) -> float:
    if isinstance(x, str):
        if x not in ("inf", "-inf", "nan"):
            raise ValueError(f"unexpected string {x!r} where a float was expected")
        return float(x)
    return float(x)


def encode_array(a) -> dict:
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "data": [encode_float(v) for v in a.reshape(-1).tolist()]}


def decode_array(obj) -> np.ndarray:
    shape = tuple(int(n) for n in obj["shape"])
    data = np.array([decode_float(v) for v in obj["data"]], dtype=np.float64)
    if data.size != math.prod(shape):
        raise ValueError(f"array of shape {list(shape)} needs {math.prod(shape)} values, got {data.size}")
    return data.reshape(shape)


def _encode_input(value, kind: str):
    if kind == "array":
        return encode_array(value)
    if kind == "int":
        return int(value)
    return encode_float(value)


def _decode_input(value, kind: str):
    if kind == "array":
        return decode_array(value)
    if kind == "int":
        return int(value)
    return decode_float(value)


def _dump(obj, indent: int = 0) -> str:
    """JSON with one key per line and every list of numbers on one line."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        if len(obj) <= 3 and all(not isinstance(v, (dict, list)) for v in obj.values()):
            return "{" + ", ".join(f"{json.dumps(k)}: {_dump(v)}" for k, v in obj.items()) + "}"
        items = [f"{inner}{json.dumps(k)}: {_dump(v, indent + 2)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return "[" + ", ".join(_dump(v) for v in obj) + "]"
        return "[\n" + ",\n".join(inner + _dump(v, indent + 2) for v in obj) + "\n" + pad + "]"
    if isinstance(obj, float):
        return repr(obj)
    return json.dumps(obj)


# --------------------------------------------------------------------------- building


def targets_of(filename: str) -> list[Target]:
    """The targets whose golden cases live in ``filename``."""
    return [t for t in TARGETS if t.vectors == filename]


def _kinds(targets: list[Target]) -> dict[str, str]:
    kinds = {}
    for t in targets:
        kinds.update(zip(t.inputs, t.kinds))
    return kinds


def cases_of(filename: str) -> list[CaseInputs]:
    """The golden inputs of ``filename``: ``(name, note, inputs)``, as its targets declare them."""
    builders = list(dict.fromkeys(t.cases for t in targets_of(filename)))
    if len(builders) != 1:
        raise ValueError(f"{filename}: its targets declare {len(builders)} different case lists; they must share one")
    return builders[0]()


def compute_case(filename: str, inputs: dict) -> tuple[dict, dict]:
    """The reference outputs and scales of one case of ``filename``."""
    outputs, scales = {}, {}
    targets = targets_of(filename)
    for t in targets:
        args = {n: inputs[n] for n in t.inputs}
        out = t.compute(args)
        outputs.update(out)
        scales.update(t.scale(args, out))
    for t in targets:  # recorded after every target's outputs (the files' key order)
        if t.vector_extras is not None:
            extra, extra_scale = t.vector_extras(inputs, outputs)
            outputs.update(extra)
            scales.update(extra_scale)
    return outputs, scales


def build(filename: str) -> dict:
    """The JSON document of one golden-vector file, computed now."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package_version = version("softq_ref")
    except PackageNotFoundError:
        package_version = "unknown"

    targets = targets_of(filename)
    kinds = _kinds(targets)
    doc_cases = []
    for name, note, inputs in cases_of(filename):
        outputs, scales = compute_case(filename, inputs)
        doc_cases.append({
            "name": name,
            "note": note,
            "inputs": {k: _encode_input(inputs[k], kinds[k]) for k in kinds},
            "outputs": {k: encode_array(v) for k, v in outputs.items()},
            "scale": {k: encode_array(v) for k, v in scales.items()},
        })
    return {
        "format": FORMAT,
        "generated_by": "python -m softq_ref.conformance.vectors --write",
        "softq_ref_version": package_version,
        "targets": [
            {
                "name": t.name,
                "spec_id": t.spec_id,
                "function": f"{t.reference.__module__}.{t.reference.__name__}",
                "signature": t.signature,
                "inputs": [{"name": n, "kind": k} for n, k in zip(t.inputs, t.kinds)],
                "outputs": list(t.outputs),
                "rtol_float64": t.tolerance["float64"][0],
                "atol_float64": t.tolerance["float64"][1],
            }
            for t in targets
        ],
        "cases": doc_cases,
    }


def filenames() -> list[str]:
    """Every golden-vector file, in registry order."""
    return list(dict.fromkeys(t.vectors for t in TARGETS))


def write_all(directory: Path = VECTORS_DIR) -> list[Path]:
    """(Re)write every golden-vector file; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename in filenames():
        path = directory / filename
        path.write_text(_dump(build(filename)) + "\n")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- reading and checking


def load(filename: str, directory: Path = VECTORS_DIR) -> list[Case]:
    """The decoded cases of one golden-vector file.

    Raises:
      FileNotFoundError: if the file is missing.
      ValueError: if it is not in this format.
    """
    path = Path(directory) / filename
    with path.open() as f:
        doc = json.load(f)
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: format {doc.get('format')!r}, expected {FORMAT!r}")
    kinds = {}
    for t in doc["targets"]:
        kinds.update({i["name"]: i["kind"] for i in t["inputs"]})
    return [
        Case(
            name=c["name"], note=c.get("note", ""),
            inputs={k: _decode_input(v, kinds[k]) for k, v in c["inputs"].items()},
            outputs={k: decode_array(v) for k, v in c["outputs"].items()},
            scale={k: decode_array(v) for k, v in c["scale"].items()},
        )
        for c in doc["cases"]
    ]


def load_target(target: Target, directory: Path = VECTORS_DIR) -> list[Case]:
    """The golden cases of one target: only its inputs and outputs."""
    out = []
    for c in load(target.vectors, directory):
        out.append(Case(c.name, c.note, {n: c.inputs[n] for n in target.inputs},
                        {n: c.outputs[n] for n in target.outputs}, {n: c.scale[n] for n in target.outputs}))
    return out


def verify(directory: Path = VECTORS_DIR, rtol: float = REGENERATION_RTOL, only: list[str] | None = None) -> list[str]:
    """Recompute every golden case; return one line per disagreement (empty: all agree).

    Checks that every file exists, holds exactly the cases its targets declare (same
    names and inputs), and that every output matches the reference within
    ``rtol * max(|y*|, scale)`` (rounding may differ between machines; the bits usually do not).
    ``only`` restricts the check to some files.
    """
    problems = []
    for filename in filenames() if only is None else only:
        try:
            stored = load(filename, directory)
        except FileNotFoundError:
            problems.append(f"{filename}: missing (run python -m softq_ref.conformance.vectors --write)")
            continue
        expected = cases_of(filename)
        names = [c.name for c in stored]
        if names != [name for name, _, _ in expected]:
            problems.append(f"{filename}: cases {names} != {[name for name, _, _ in expected]}")
            continue
        for case, (name, _, inputs) in zip(stored, expected):
            for key, value in inputs.items():
                if not np.array_equal(np.asarray(case.inputs[key]), np.asarray(value, dtype=np.float64)):
                    problems.append(f"{filename}:{name}: input {key} differs from the declared case")
            outputs, scales = compute_case(filename, case.inputs)
            for key, want in outputs.items():
                got = case.outputs.get(key)
                if got is None or got.shape != want.shape:
                    problems.append(f"{filename}:{name}: output {key} missing or of another shape")
                    continue
                tol = rtol * np.maximum(np.abs(want), scales[key])
                bad = ~((np.abs(got - want) <= tol) | (got == want) | (np.isnan(got) & np.isnan(want)))
                if np.any(bad):
                    worst = float(np.max(np.abs(got - want)[bad]))
                    problems.append(f"{filename}:{name}: output {key} differs from the reference by up to {worst:.3g}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softq_ref.conformance.vectors",
                                     description="Write or check the golden vectors in spec/vectors/.")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="recompute and write every file")
    group.add_argument("--check", action="store_true", help="recompute and compare; exit 1 on a difference")
    parser.add_argument("--dir", default=str(VECTORS_DIR), help="directory (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_all(Path(args.dir)):
            print(f"wrote {path}")
        return 0
    problems = verify(Path(args.dir))
    for line in problems:
        print(line)
    print("golden vectors agree with the code" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
