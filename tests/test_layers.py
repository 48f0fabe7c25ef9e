"""The package's layering: imports point down only (STYLE.md, "Layout"), checked by import-linter.

The contract is the ``[tool.importlinter]`` section of pyproject.toml (cli on top; conformance
and reports; evaluation and figures; trained; train; io; agent; tabular; envs, core and spec at
the bottom).  Its must-fail twin plants one upward import in a copy of the package and checks
that the same contract then breaks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Beside the interpreter in a virtual environment; on the PATH where packages were installed elsewhere
# (pip --target, as on the GPU machine of docs/benchmarks.md).
LINT = Path(sys.executable).parent / "lint-imports"
if not LINT.exists() and shutil.which("lint-imports"):
    LINT = Path(shutil.which("lint-imports"))


def _env(package_parent: Path) -> dict:
    """This environment with ``package_parent`` first on the import path (kept: the rest of PYTHONPATH)."""
    rest = os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(package_parent), rest) if p))

pytest.importorskip("importlinter")


def _lint(package_parent: Path, config: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(config), "--no-cache"], cwd=cwd, env=_env(package_parent),
                          capture_output=True, text=True, timeout=300)


def test_the_layers_contract_is_kept():
    done = _lint(ROOT, ROOT / "pyproject.toml", ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 kept, 0 broken" in done.stdout


def test_an_inverted_import_breaks_the_contract(tmp_path):
    """Must-fail twin: the agent layer importing the CLI (an upward import) is reported as broken."""
    shutil.copytree(ROOT / "softq_ref", tmp_path / "softq_ref", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    planted = tmp_path / "softq_ref" / "agent" / "algorithm.py"
    planted.write_text(planted.read_text() + "\nimport softq_ref.cli  # planted upward import\n")
    done = _lint(tmp_path, tmp_path / "pyproject.toml", tmp_path)
    assert done.returncode != 0
    assert "BROKEN" in done.stdout and "softq_ref.agent.algorithm -> softq_ref.cli" in done.stdout


_FIND_CYCLES = """
import grimp
graph = grimp.build_graph("softq_ref")
problems = []
for module in sorted(graph.modules):
    if module.startswith("softq_ref.conformance") or module == "softq_ref":
        continue
    for imported in graph.find_modules_directly_imported_by(module):
        if imported == "softq_ref":
            problems.append(module + " imports the package front door softq_ref")
            continue
        if imported == module or imported.startswith("softq_ref.conformance"):
            continue
        chain = graph.find_shortest_chain(importer=imported, imported=module)
        if chain:
            problems.append(" -> ".join((module, *chain)))
print("\\n".join(problems))
"""


def _import_problems(package_parent: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _FIND_CYCLES], cwd=package_parent, env=_env(package_parent),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if line.strip()]


def test_no_import_cycles_outside_the_conformance_kit():
    """No module reaches itself through its imports, and none imports the package front door
    (the conformance kit's own check <-> report cycle is its maintainers' to end, issue 9 item 7)."""
    pytest.importorskip("grimp")
    assert _import_problems(ROOT) == []


def test_a_planted_cycle_is_found(tmp_path):
    """Must-fail twin: replay importing the SQL agent (which imports replay) is reported."""
    pytest.importorskip("grimp")
    shutil.copytree(ROOT / "softq_ref", tmp_path / "softq_ref", ignore=shutil.ignore_patterns("__pycache__"))
    planted = tmp_path / "softq_ref" / "agent" / "replay.py"
    planted.write_text(planted.read_text() + "\nimport softq_ref.agent.sql  # planted cycle\n")
    problems = _import_problems(tmp_path)
    assert any(p.startswith("softq_ref.agent.replay -> ") for p in problems), problems
