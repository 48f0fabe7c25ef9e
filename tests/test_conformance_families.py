"""The kit's layout: one module per target family, mechanical references derived, imports one way.

* each target is declared in one family module, which also holds its golden cases, its
  tolerance scale, its randomised inputs and (when not mechanical) its reference;
* a target without ``compute`` gets the reference derived from its declaration, and that
  derivation is what reproduces the golden vectors (a wrong declaration is caught);
* the kit's modules import each other without a cycle (``check`` and ``report`` used to);
  the cycle finder is shown to find a planted one.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np

import softq_ref.conformance as kit
from softq_ref.conformance import TARGETS, vectors
from softq_ref.conformance.declaration import Target
from softq_ref.conformance.families import FAMILIES
from softq_ref.core import soft_values

KIT = Path(kit.__file__).resolve().parent


def _derived(target: Target) -> bool:
    return (target.compute.__doc__ or "").endswith("(derived from its target).")


def test_each_target_lives_in_one_family_with_its_cases_scale_and_strategies():
    seen = {}
    for family in FAMILIES:
        for target in family.TARGETS:
            assert target.name not in seen, f"{target.name} declared in {seen[target.name]} and {family.__name__}"
            seen[target.name] = family.__name__
            parts = {"cases": target.cases, "scale": target.scale}
            if not _derived(target):
                parts["reference"] = target.compute
            for prop in target.properties:  # st.composite(draw_inputs)(*args), built lazily
                parts[f"property {prop.name}"] = prop.strategy.draw_inputs
            for what, fn in parts.items():
                assert fn.__module__ == family.__name__, f"{target.name}: {what} comes from {fn.__module__}"
    assert sorted(seen) == sorted(t.name for t in TARGETS)


def test_mechanical_references_are_derived_from_the_declaration():
    derived = [t.name for t in TARGETS if _derived(t)]
    assert {"soft_value", "entropy", "soft_value_is", "uniform_log_density", "rbf_kernel", "svgd_direction",
            "soft_bellman_target", "tanh_log_det_jacobian", "sac_q_target", "tanh_gaussian_log_prob",
            "sac_policy_loss", "sac_temperature_loss", "soft_returns"} <= set(derived)
    assert len(derived) == 17, derived  # the other four are compositions or polished solvers


def _max_golden_error(target: Target) -> float:
    worst = 0.0
    for case in vectors.load_target(target):
        got = target.compute(case.inputs)
        for name, want in case.outputs.items():
            worst = max(worst, float(np.max(np.abs(np.asarray(got[name]) - want), initial=0.0)))
    return worst


def test_derived_reference_reproduces_the_golden_vectors_and_a_wrong_declaration_does_not():
    target = next(t for t in TARGETS if t.name == "log_boltzmann_policy")
    assert _max_golden_error(target) < 1e-9
    # Must-fail twin: the same declaration naming the wrong function (the policy, not its log).
    wrong = dataclasses.replace(target, reference=soft_values.boltzmann_policy, compute=None)
    assert _max_golden_error(wrong) > 0.1


def _kit_imports() -> dict[str, set[str]]:
    """module -> the kit modules it imports (at any depth of the file: lazy imports count)."""
    graph = {}
    for path in sorted(KIT.rglob("*.py")):
        rel = path.relative_to(KIT).with_suffix("")
        name = ".".join(("softq_ref", "conformance", *[p for p in rel.parts if p != "__init__"]))
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("softq_ref.conformance"):
                edges.add(node.module)
                edges.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name.startswith("softq_ref.conformance"))
        graph[name] = edges
    return {m: {e for e in edges if e in graph and e != m} for m, edges in graph.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle among the modules (package ``__init__`` files left out: they re-export)."""
    packages = {"softq_ref.conformance", "softq_ref.conformance.families"}
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt in packages:
                continue
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state and module not in packages:
            visit(module, [module])
    return found


def test_the_kit_has_no_import_cycle():
    graph = _kit_imports()
    assert "softq_ref.conformance.results" in graph["softq_ref.conformance.check"]
    assert not graph["softq_ref.conformance.report"], graph["softq_ref.conformance.report"]
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    # Must-fail twin: report importing check again (the circle this layout ended).
    graph = _kit_imports()
    graph["softq_ref.conformance.report"] = {"softq_ref.conformance.check"}
    assert any({"softq_ref.conformance.check", "softq_ref.conformance.report"} <= set(c) for c in _cycles(graph))
