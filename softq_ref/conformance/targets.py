r"""What can be checked: the registry of ``Target`` values, one per reference function.

The targets are declared by family in ``softq_ref.conformance.families`` (each module
holding its targets' declarations, references, scales, golden cases and Hypothesis
inputs; see ``softq_ref.conformance.declaration`` for what a declaration holds and how
the comparison's tolerance is scaled).  This module collects them and resolves what
``--equation`` names.

Conventions shared by every signature: arrays are NumPy arrays (or tensors, through an
adapter) with one explicit leading batch axis ``B`` where the reference reduces over the
last axis; scalars (``alpha``, ``discount``, ``bandwidth``, ``low``, ``high``) are Python
floats; ``action_dim`` is a Python int; natural logarithms; the temperature is ``alpha``
(the original code's ``1 / reward_scale``).  Default tolerances: ``rtol = atol = 1e-10`` in
float64 and ``1e-4`` / ``1e-6`` in float32 (``1e-6`` / ``1e-9`` and ``1e-4`` / ``1e-6``
for the iterative tabular solvers).

Which *spec entries* are checkable is derived from the spec registry
(``checkable_entries``): a target belongs to the entry whose id is its ``spec_id`` and
which lists its function.
"""

from __future__ import annotations

from softq_ref import spec as _spec
from softq_ref.conformance.declaration import DEFAULT_TOLERANCE, TABULAR_TOLERANCE, Property, Target
from softq_ref.conformance.families import FAMILIES

__all__ = ["DEFAULT_TOLERANCE", "TABULAR_TOLERANCE", "TARGETS", "Property", "Target", "checkable_entries",
           "get_target", "target_names", "targets_for"]

#: Every target, family by family.
TARGETS: tuple[Target, ...] = tuple(target for family in FAMILIES for target in family.TARGETS)

_BY_NAME = {t.name: t for t in TARGETS}


def target_names() -> list[str]:
    """The names of every target, in registry order."""
    return [t.name for t in TARGETS]


def get_target(equation: str) -> Target:
    """Resolve ``--equation``: a function name (``svgd_direction``), a full id
    (``eq-13:svgd_direction``) or a spec id (``eq-13``: its first target).

    Raises:
      ValueError: for an unknown id, listing the known ones.
    """
    if isinstance(equation, Target):
        return equation
    text = str(equation).strip()
    spec_id, _, name = text.partition(":")
    if name:
        target = _BY_NAME.get(name)
        if target is None or target.spec_id != spec_id:
            raise ValueError(f"unknown equation {text!r}; `softq-ref conform --list` shows the checkable ones")
        return target
    if text in _BY_NAME:
        return _BY_NAME[text]
    for target in TARGETS:
        if target.spec_id == text:
            return target
    for entry in _spec.load_entries():  # another entry that lists a checkable function (thm-2 -> soft_q_iteration)
        if entry.id == text:
            for function in _entry_functions(entry):
                for target in TARGETS:
                    if target.reference is function:
                        return target
    known = ", ".join(dict.fromkeys(t.spec_id for t in TARGETS))
    raise ValueError(f"unknown equation {text!r}; checkable: {known} (or a function name: {', '.join(target_names())})")


def targets_for(spec_id: str) -> list[Target]:
    """Every target of one spec entry, the default (``--equation spec_id``) first."""
    return [t for t in TARGETS if t.spec_id == spec_id]


def _entry_functions(entry) -> list:
    out = []
    for dotted in entry.functions:
        try:
            out.append(_spec.resolve(dotted))
        except (ImportError, AttributeError):
            continue
    return out


def checkable_entries() -> list[tuple[object, list[Target]]]:
    """The spec entries that can be checked, in the spec's order, each with its targets.

    Derived from ``softq_ref.spec.load_entries()``: a target belongs to the entry whose id
    is its ``spec_id``, provided that entry lists the target's reference function (a
    function may appear in several entries, e.g. ``soft_q_iteration`` in ``thm-2`` and
    ``thm-3``; its target belongs to one).  Targets that no entry claims are returned
    last with ``None`` as the entry; the test suite requires there to be none.
    """
    out, seen = [], set()
    for entry in _spec.load_entries():
        functions = _entry_functions(entry)
        matched = [t for t in TARGETS if t.spec_id == entry.id and t.reference in functions]
        if matched:
            out.append((entry, matched))
            seen.update(t.name for t in matched)
    rest = [t for t in TARGETS if t.name not in seen]
    if rest:
        out.append((None, rest))
    return out
