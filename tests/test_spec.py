"""Traceability: the spec registry (``spec/``) and the code agree.

* every entry loads, and ids are unique;
* every ``functions`` path resolves to a callable, and every ``tests`` item names a test
  that exists (found by parsing the test file, so nothing is imported or run);
* every public function or class of the equation packages (``softq_ref.core``,
  ``softq_ref.tabular``) is named by at least one equation entry;
* every deviation an entry cites exists, every deviation's ``where`` resolves, and the
  code it names mentions the deviation id;
* the docstring of each function named by an ``eq-`` or ``def-`` entry mentions the id.

Each test gathers every problem before failing, so one run lists them all.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

from softq_ref import spec

ROOT = Path(__file__).resolve().parent.parent

#: Packages whose public functions and classes implement the paper; each must be traced.
TRACED_PACKAGES = ("softq_ref.core", "softq_ref.tabular")

#: Submodules of those packages that hold plumbing rather than mathematics (input checks):
#: their public helpers need no spec entry.
PLUMBING_MODULES = frozenset({"softq_ref.core.validation"})

KIND_PREFIXES = {"equation": "eq-", "theorem": "thm-", "definition": "def-", "property": "prop-"}
TEST_ITEM = re.compile(r"^tests/(?P<file>[A-Za-z0-9_]+\.py)::(?P<name>[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)?)$")


@functools.cache
def entries() -> tuple[spec.Entry, ...]:
    return tuple(spec.load_entries())


@functools.cache
def deviations() -> tuple[spec.Deviation, ...]:
    return tuple(spec.load_deviations())


def resolve_code(dotted: str):
    """The module, function or class a dotted path names (modules need not be imported yet)."""
    try:
        return importlib.import_module(dotted)
    except ImportError:
        return spec.resolve(dotted)


def _report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n  " + "\n  ".join(problems)


@functools.cache
def _test_names(file_name: str) -> frozenset[str]:
    """Top-level test functions and ``Class::method`` names defined in ``tests/<file_name>``."""
    tree = ast.parse((ROOT / "tests" / file_name).read_text(), filename=file_name)
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
                    names.add(f"{node.name}::{item.name}")
    return frozenset(names)


def public_objects(package_name: str) -> dict[str, object]:
    """Public functions and classes of a package: its ``__all__`` and those its submodules define."""
    package = importlib.import_module(package_name)
    found = {f"{package_name}.{name}": getattr(package, name) for name in getattr(package, "__all__", ())}
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
        if info.name in PLUMBING_MODULES:
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            names = list(module.__all__)
        else:
            names = [
                name
                for name, obj in vars(module).items()
                if not name.startswith("_")
                and (inspect.isfunction(obj) or inspect.isclass(obj))
                and getattr(obj, "__module__", None) == module.__name__
            ]
        for name in names:
            found[f"{info.name}.{name}"] = getattr(module, name)
    return found


# ---------------------------------------------------------------------------------------


def test_spec_entries_load():
    assert entries(), "spec/equations/ holds no entries"
    assert deviations(), "spec/deviations/ holds no entries"
    problems = []
    for e in entries():
        prefix = KIND_PREFIXES.get(e.kind)
        if prefix is None:
            problems.append(f"{e.id}: unknown kind {e.kind!r}; one of {sorted(KIND_PREFIXES)}")
        elif not e.id.startswith(prefix):
            problems.append(f"{e.id}: kind {e.kind!r} needs an id starting with {prefix!r}")
        for key in ("title", "paper", "latex", "explanation"):
            if not getattr(e, key).strip():
                problems.append(f"{e.id}: empty {key}")
        if not e.tests:
            problems.append(f"{e.id}: no tests verify it")
        if not all(isinstance(c, str) and c.strip() for c in e.conventions):
            problems.append(f"{e.id}: conventions must be non-empty strings")
    for d in deviations():
        if not d.id.startswith("dev-"):
            problems.append(f"{d.id}: deviation ids start with 'dev-'")
        for key in ("title", "paper", "original_code", "softq_ref", "why"):
            if not getattr(d, key).strip():
                problems.append(f"{d.id}: empty {key}")
        if not d.where:
            problems.append(f"{d.id}: 'where' names no code")
    assert not problems, _report(problems)


def test_spec_ids_unique():
    ids = [e.id for e in entries()] + [d.id for d in deviations()]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"ids used more than once: {duplicates}"


def test_spec_functions_resolve():
    problems = []
    for e in entries():
        for path in e.functions:
            try:
                obj = spec.resolve(path)
            except (ImportError, AttributeError) as err:
                problems.append(f"{e.id}: {path} does not resolve ({err})")
                continue
            if not callable(obj):
                problems.append(f"{e.id}: {path} is not a function or class")
    assert not problems, _report(problems)


def test_spec_tests_exist():
    problems = []
    for e in entries():
        for item in e.tests:
            match = TEST_ITEM.match(item)
            if match is None:
                problems.append(f"{e.id}: {item!r} is not of the form tests/<file>.py::<test>")
                continue
            file_name, name = match["file"], match["name"]
            if not (ROOT / "tests" / file_name).is_file():
                problems.append(f"{e.id}: {item}: no file tests/{file_name}")
            elif name not in _test_names(file_name):
                problems.append(f"{e.id}: {item}: no test {name!r} in tests/{file_name}")
    assert not problems, _report(problems)


@pytest.mark.parametrize("package_name", TRACED_PACKAGES)
def test_spec_every_public_function_is_named(package_name):
    named = set()
    for e in entries():
        for path in e.functions:
            try:
                named.add(id(spec.resolve(path)))
            except (ImportError, AttributeError):
                pass  # reported by test_spec_functions_resolve
    objects = public_objects(package_name)
    assert objects, f"{package_name} has no public functions or classes"
    # One line per object, under the path where it is defined (re-exports name the same object).
    missing = sorted({f"{obj.__module__}.{obj.__qualname__}" for obj in objects.values() if id(obj) not in named})
    assert not missing, "public code named by no spec entry (add it to an entry's `functions`):\n  " + "\n  ".join(
        missing
    )


def test_spec_deviation_references_exist():
    known = {d.id for d in deviations()}
    problems = [f"{e.id}: cites unknown deviation {dev!r}" for e in entries() for dev in e.deviations if dev not in known]
    assert not problems, _report(problems)


def test_spec_deviation_code_resolves_and_mentions_id():
    problems = []
    for d in deviations():
        docs = []
        for path in d.where:
            try:
                obj = resolve_code(path)
            except (ImportError, AttributeError) as err:
                problems.append(f"{d.id}: where {path} does not resolve ({err})")
                continue
            docs.append(inspect.getdoc(obj) or "")
            module = inspect.getmodule(obj)
            if module is not None and module is not obj:
                docs.append(inspect.getdoc(module) or "")
        if docs and not any(d.id in doc for doc in docs):
            problems.append(f"{d.id}: no docstring of {list(d.where)} (or their modules) mentions {d.id!r}")
    assert not problems, _report(problems)


def test_spec_docstrings_mention_entry_ids():
    problems = []
    for e in entries():
        if not e.id.startswith(("eq-", "def-")):
            continue
        for path in e.functions:
            try:
                obj = spec.resolve(path)
            except (ImportError, AttributeError):
                continue  # reported by test_spec_functions_resolve
            if e.id not in (inspect.getdoc(obj) or ""):
                problems.append(f"{e.id}: the docstring of {path} does not mention {e.id!r}")
    assert not problems, _report(problems)
