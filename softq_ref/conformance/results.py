"""The results of a check: one ``Comparison`` per call, one ``PropertyResult`` per property, a ``Report``.

Plain data, apart from ``Report.format`` and ``Report.to_dict``, which hand the report to
``softq_ref.conformance.report`` (the renderings; it imports nothing of the kit).
``softq_ref.conformance.check`` produces these values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from softq_ref.conformance.declaration import Target
from softq_ref.conformance.report import format_report, report_dict


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
    isolation: str = ""
    timeout: float | None = None

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.properties)

    @property
    def failed(self) -> list[str]:
        """Names of the failing properties."""
        return [p.name for p in self.properties if not p.passed]

    def format(self) -> str:
        """A readable report (what ``softq-ref conform`` prints)."""
        return format_report(self)

    def to_dict(self) -> dict:
        """A JSON-ready summary (``softq-ref conform --json``)."""
        return report_dict(self)

    # Defined last: inside this class body the name ``property`` is this method from here on.
    def property(self, name: str) -> PropertyResult:
        """The result of one property by name (``KeyError`` if it was not run)."""
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)
