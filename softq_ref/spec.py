"""Load the spec registry (``spec/equations/*.toml``, ``spec/deviations/*.toml``).

The registry's source of truth is the top-level ``spec/`` directory of the repository
(see ``spec/README.md``).  It ships with the package as package data: ``softq_ref/_spec``
is a symbolic link to ``../spec`` in the source tree, and the wheel holds a copy of its
files there (``[tool.setuptools.package-data]`` in ``pyproject.toml``).  Everything reads
it through ``importlib.resources``, so one path works in all three ways of importing
softq_ref: from the source tree (``PYTHONPATH``), from an editable install (the link
resolves to ``spec/``), and from an installed wheel (the copied files).  The docs hook,
the traceability test and the conformance kit all go through ``spec_dir()``.

Why a link rather than setuptools' ``package-dir`` mapping of ``softq_ref._spec`` to
``spec``: a mapped package exists only once installed, so imports through ``PYTHONPATH``
(how the test suite runs) would need a second code path, and an editable install of
another checkout would silently serve *its* spec; ``packages.find`` does not see a mapped
package either.  The link gives one location for every way of importing.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

#: The package-data directory that holds the spec (a link to ``spec/`` in the source tree).
SPEC_PACKAGE_DIR = "_spec"


def _locate() -> Path | Traversable:
    root = resources.files(__package__) / SPEC_PACKAGE_DIR
    return root.resolve() if isinstance(root, Path) else root


def spec_dir() -> Path | Traversable:
    """The spec registry shipped with the package (``spec/`` of the source tree, or its installed copy).

    A ``pathlib.Path`` whenever softq_ref is installed as files (the link resolved, so
    messages name the top-level ``spec/`` in a checkout); another ``Traversable`` for an
    import from a zip archive.

    Raises:
      FileNotFoundError: if the package data is missing (a broken link or a stripped install).
    """
    root = _locate()
    if not root.is_dir():
        raise FileNotFoundError(
            f"the spec registry is missing from the softq_ref package ({root}); reinstall softq_ref, or in a "
            "checkout restore the link softq_ref/_spec -> ../spec"
        )
    return root


#: Where the spec is (not checked on import: ``spec_dir()`` raises if it is missing).
SPEC_DIR = _locate()

SECTIONS = (
    "preliminaries",
    "soft-values",
    "soft-q-iteration",
    "soft-q-learning",
    "sampling",
    "algorithm",
    "experiments",
)

_EQUATION_KEYS = {"id", "kind", "title", "paper", "section", "order", "latex", "explanation", "conventions", "functions", "tests"}
_DEVIATION_KEYS = {"id", "title", "paper", "original_code", "softq_ref", "why", "where"}


@dataclass(frozen=True)
class Entry:
    """One equation, definition, theorem or property of the paper."""

    id: str
    kind: str
    title: str
    paper: str
    section: str
    order: int
    latex: str
    explanation: str
    conventions: tuple[str, ...]
    functions: tuple[str, ...]
    tests: tuple[str, ...]
    deviations: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Deviation:
    """One place where the paper, the original code and softq_ref differ."""

    id: str
    title: str
    paper: str
    original_code: str
    softq_ref: str
    why: str
    where: tuple[str, ...]
    ports: str = ""


def _load_dir(sub: str) -> list[tuple[Path, dict]]:
    directory = spec_dir() / sub
    if not directory.is_dir():
        raise FileNotFoundError(f"spec directory not found: {directory}")
    out = []
    for path in sorted((p for p in directory.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name):
        with path.open("rb") as f:
            out.append((path, tomllib.load(f)))
    return out


def load_entries() -> list[Entry]:
    """All equation entries, sorted by docs section then order."""
    entries = []
    for path, raw in _load_dir("equations"):
        missing = _EQUATION_KEYS - raw.keys()
        if missing:
            raise ValueError(f"{path.name}: missing keys {sorted(missing)}")
        if raw["id"] != path.name.removesuffix(".toml"):
            raise ValueError(f"{path.name}: id {raw['id']!r} does not match the file name")
        if raw["section"] not in SECTIONS:
            raise ValueError(f"{path.name}: unknown section {raw['section']!r}; one of {SECTIONS}")
        entries.append(
            Entry(
                id=raw["id"], kind=raw["kind"], title=raw["title"], paper=raw["paper"],
                section=raw["section"], order=int(raw["order"]), latex=raw["latex"].strip(),
                explanation=raw["explanation"].strip(), conventions=tuple(raw["conventions"]),
                functions=tuple(raw["functions"]), tests=tuple(raw["tests"]),
                deviations=tuple(raw.get("deviations", ())),
            )
        )
    return sorted(entries, key=lambda e: (SECTIONS.index(e.section), e.order, e.id))


def load_deviations() -> list[Deviation]:
    """All deviation entries, sorted by id."""
    out = []
    for path, raw in _load_dir("deviations"):
        missing = _DEVIATION_KEYS - raw.keys()
        if missing:
            raise ValueError(f"{path.name}: missing keys {sorted(missing)}")
        if raw["id"] != path.name.removesuffix(".toml"):
            raise ValueError(f"{path.name}: id {raw['id']!r} does not match the file name")
        out.append(
            Deviation(
                id=raw["id"], title=raw["title"], paper=raw["paper"].strip(),
                original_code=raw["original_code"].strip(), softq_ref=raw["softq_ref"].strip(),
                why=raw["why"].strip(), where=tuple(raw["where"]), ports=raw.get("ports", "").strip(),
            )
        )
    return out


def resolve(dotted: str):
    """Import ``package.module.name`` and return the object it names."""
    module_name, _, attr = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, attr)
