"""The wheel, installed outside the source tree, carries the spec and runs ``softq-ref conform``.

The spec registry is package data (``softq_ref/_spec``, a link to the top-level ``spec/``;
see ``softq_ref.spec``).  An import through ``PYTHONPATH`` or an editable install reads
it through the link, which hides a wheel that forgot it: ``softq-ref conform --list`` then
fails with "spec directory not found".  So this test builds the wheel from a copy of the
tree, installs it with ``--no-deps`` into a fresh virtual environment in a temporary
directory, whose only other packages are those of the running interpreter (its
site-packages appended through a ``.pth`` file, so nothing is downloaded but the build
backend), and runs the installed ``softq-ref`` console script there, with no
``PYTHONPATH`` and the working directory outside the tree.

About 25 s: building the wheel (pip fetches setuptools into an isolated build environment,
as any ``pip install`` of the sdist would) and two runs of the command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: A correct independent implementation of def-entropy, checked by the installed command.
CANDIDATE = """\
import numpy as np


def entropy(p):
    return -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=-1)
"""


def _run(cmd, *, cwd: Path, env=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command; the caller checks the exit code (the output says why it failed)."""
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args}: {done.stdout}\n{done.stderr}"
    return done


def _copy_tree(dst: Path) -> Path:
    """What the sdist holds: pyproject, README, the package (its spec link kept) and spec/."""
    dst.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dst / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "softq_ref", dst / "softq_ref", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "spec", dst / "spec", ignore=ignore)
    return dst


def test_packaged_spec_is_the_top_level_spec():
    # The link keeps one source of truth: the package data *is* spec/ in a checkout.
    from softq_ref import spec

    link = ROOT / "softq_ref" / spec.SPEC_PACKAGE_DIR
    assert link.is_symlink() and link.resolve() == (ROOT / "spec").resolve()
    assert spec.spec_dir() == (ROOT / "spec").resolve()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict, Path]:
    """The wheel installed in a fresh virtual environment: (its bin directory, environment, a work directory)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = _copy_tree(tmp / "src")
    dist = tmp / "dist"
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, source], cwd=tmp))
    (wheel,) = dist.glob("softq_ref-*.whl")
    venv = tmp / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp))
    python = venv / "bin" / "python"
    purelib = Path(_ok(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            cwd=tmp)).stdout.strip())
    # The running interpreter's packages (jax, numpy, hypothesis, ...), after the venv's own.
    outer = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (purelib / "_outer_site_packages.pth").write_text("\n".join(outer) + "\n")
    _ok(_run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
            cwd=tmp))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    work = tmp / "elsewhere"
    work.mkdir()
    code = "import softq_ref, softq_ref.spec as s; print(softq_ref.__file__); print(s.spec_dir())"
    where = _ok(_run([python, "-c", code], cwd=work, env=env))
    module_file, spec_path = where.stdout.split()
    assert Path(module_file).is_relative_to(venv) and Path(spec_path).is_relative_to(venv), where.stdout
    (work / "my_entropy.py").write_text(CANDIDATE)
    return venv / "bin", env, work


def test_installed_wheel_lists_the_checkable_equations(installed):
    bin_dir, env, work = installed
    done = _run([bin_dir / "softq-ref", "conform", "--list"], cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    assert "eq-10  Importance-sampled soft value" in done.stdout and "--equation def-entropy" in done.stdout


def test_installed_wheel_runs_a_full_check(installed):
    # Every property, the golden vectors read from the installed package data included.
    bin_dir, env, work = installed
    done = _run([bin_dir / "softq-ref", "conform", "my_entropy.py:entropy", "--equation", "def-entropy",
                 "--examples", "20"], cwd=work, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "golden      pass" in done.stdout and "result: PASS (3 properties)" in done.stdout
