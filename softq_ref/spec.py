"""Load the spec registry (``spec/equations/*.toml``, ``spec/deviations/*.toml``).

The registry lives beside the package in the source tree (see ``spec/README.md``);
the docs, the traceability test and the conformance kit read it through here.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"

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
    directory = SPEC_DIR / sub
    if not directory.is_dir():
        raise FileNotFoundError(f"spec directory not found: {directory} (softq_ref.spec needs the source tree)")
    out = []
    for path in sorted(directory.glob("*.toml")):
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
        if raw["id"] != path.stem:
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
        if raw["id"] != path.stem:
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
