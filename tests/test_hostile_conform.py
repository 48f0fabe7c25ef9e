"""Hostile candidates for ``softq-ref conform`` (issue 10, items 4, 11, 13 and the conform half of 20).

A candidate is someone else's code: it may end the process, hang, crash, print, or return
a list.  Each case asserts the exit code, that no traceback is printed, and that the
message names the problem.  Every case failed on the kit before it ran candidates in a
child process (checked by running this file against the earlier kit):

* ``sys.exit(0)`` and ``os._exit(0)`` in the candidate, ``sys.exit(0)`` while its module
  is imported: exit code 0 with no report (CI read a pass); ``os._exit`` ended the kit;
* a hang: no ``--timeout`` and no end; a crash (``os.abort()``) killed the kit;
* a correct candidate returning a list: FAIL, "the function raised ValueError";
* a candidate that prints: its text inside the ``--json`` output;
* Ctrl-C: "the last checkpoint is kept (continue with --resume)", though a check keeps none.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from softq_ref.cli import main

#: The bodies of hostile candidates of eq-5, ``f(q[B, A], alpha) -> value[B]``.
SOURCE = """\
import os
import signal
import sys
import time

import numpy as np


def soft_value(q, alpha):
    m = q.max(axis=-1, keepdims=True)
    return (m + alpha * np.log(np.exp((q - m) / alpha).sum(axis=-1, keepdims=True)))[..., 0]


def exits(q, alpha):
    sys.exit(0)


def hard_exits(q, alpha):
    os._exit(0)


def hangs(q, alpha):
    time.sleep(600)


def crashes(q, alpha):
    os.abort()


def as_list(q, alpha):
    return [float(v) for v in soft_value(q, alpha)]


def as_nested_tuple(q, alpha):
    return tuple(soft_value(q, alpha).tolist())


def returns_none(q, alpha):
    return None


def returns_text(q, alpha):
    return "0.5"


def prints(q, alpha):
    print("hello from the candidate")
    return soft_value(q, alpha)


def exits_on_alpha_below_one(q, alpha):
    if alpha < 1.0:
        os._exit(3)
    return soft_value(q, alpha)


def announces_then_hangs(q, alpha):
    with open(os.environ["SOFTQ_TEST_MARKER"], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(600)
"""


@pytest.fixture
def impl(tmp_path) -> Path:
    path = tmp_path / "hostile.py"
    path.write_text(SOURCE)
    return path


def conform(capfd, *argv) -> tuple[int, str, str]:
    """``softq-ref conform ...`` in this process; the exit code, stdout and stderr (the child's included)."""
    code = main(["conform", *argv])
    out, err = capfd.readouterr()
    return code, out, err


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err, err


@pytest.mark.parametrize("function, message", [
    ("exits", "called sys.exit(0) instead of returning"),
    ("hard_exits", "ended its process (exit code 0"),
    ("crashes", "crashed its process (SIGABRT)"),
], ids=["sys.exit", "os._exit", "abort"])
def test_a_candidate_cannot_end_the_kit_or_choose_its_exit_code(capfd, impl, function, message):
    code, out, err = conform(capfd, f"{impl}:{function}", "-e", "eq-5", "--examples", "5")
    assert code == 1, out + err
    _no_traceback(err)
    assert message in out and "FAIL golden" in out and "result: FAIL" in out


def test_a_candidate_that_ends_its_process_fails_in_json_too(capfd, impl):
    code, out, err = conform(capfd, f"{impl}:hard_exits", "-e", "eq-5", "--examples", "5", "--json")
    assert code == 1
    _no_traceback(err)
    report = json.loads(out)
    assert report["passed"] is False and report["isolation"].startswith("a child process")
    golden = report["properties"][0]
    assert "ended its process (exit code 0" in golden["message"]


def test_a_process_ending_input_is_the_counterexample_and_other_properties_still_run(capfd, impl):
    # The golden property stops at the first case with alpha < 1; a fresh child runs the next.
    code, out, err = conform(capfd, f"{impl}:exits_on_alpha_below_one", "-e", "eq-5", "--examples", "10", "--json")
    assert code == 1
    _no_traceback(err)
    props = {p["name"]: p for p in json.loads(out)["properties"]}
    golden = props["golden"]
    assert "exit code 3" in golden["message"] and golden["counterexample"]["inputs"]["alpha"] < 1.0
    assert golden["counterexample"]["label"] == "golden case 'alpha-0.1'"  # the first case with alpha < 1
    assert all(p["checked"] > 0 for p in props.values())


def test_a_hanging_candidate_is_stopped_by_the_timeout(capfd, impl):
    start = time.monotonic()
    code, out, err = conform(capfd, f"{impl}:hangs", "-e", "eq-5", "--examples", "5", "--timeout", "0.5")
    assert code == 1
    _no_traceback(err)
    assert "did not return within 0.5 s" in out
    assert "not run: the candidate hung in golden" in out and "result: FAIL (4 of 4" in out
    assert time.monotonic() - start < 60  # one time limit, not one per property or per example


def test_help_states_the_default_timeout(capfd):
    with pytest.raises(SystemExit) as exit_info:
        main(["conform", "--help"])
    out, _ = capfd.readouterr()
    assert exit_info.value.code == 0
    assert "--timeout SECONDS" in out and "(default: 60 s)" in " ".join(out.split())


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_bad_timeout_is_one_line(capfd, impl, value):
    code, out, err = conform(capfd, f"{impl}:soft_value", "-e", "eq-5", "--timeout", value)
    assert code == 2 and out == "" and err.count("\n") == 1 and "timeout must be a positive number" in err


@pytest.mark.parametrize("function", ["as_list", "as_nested_tuple"])
def test_array_likes_are_accepted(capfd, impl, function):
    code, out, err = conform(capfd, f"{impl}:{function}", "-e", "eq-5", "--examples", "5")
    assert code == 0, out
    assert "result: PASS (4 properties)" in out


@pytest.mark.parametrize("function, message", [
    ("returns_none", "the function returned None, not an array of numbers"),
    ("returns_text", "the function returned a str ('0.5'), not an array of numbers"),
], ids=["None", "str"])
def test_unreadable_results_say_what_was_returned(capfd, impl, function, message):
    code, out, err = conform(capfd, f"{impl}:{function}", "-e", "eq-5", "--examples", "5", "--properties", "golden")
    assert code == 1
    _no_traceback(err)
    assert message in out and "raised" not in out


def test_a_list_of_the_wrong_length_names_what_was_returned(capfd, impl):
    # value[B] expected; a list of B + 1 floats: the shape and what came back.
    from softq_ref.conformance import check

    report = check(f"{impl}:as_list", "eq-5", examples=3, properties=["golden"])
    assert report.passed
    bad = impl.parent / "short.py"
    bad.write_text("def f(q, alpha):\n    return [0.0] * (q.shape[0] + 1)\n")
    report = check(f"{bad}:f", "eq-5", examples=3, properties=["golden"])
    message = report.property("golden").counterexample.comparison.message
    assert "has shape" in message and "the candidate returned a list of" in message and "(floats)" in message


def test_what_a_candidate_prints_stays_out_of_the_json(capfd, impl):
    code, out, err = conform(capfd, f"{impl}:prints", "-e", "eq-5", "--examples", "3", "--json")
    assert code == 0
    assert json.loads(out)["passed"] is True
    assert "hello from the candidate" in err


def test_a_module_that_exits_while_imported_is_bad_input(capfd, tmp_path):
    path = tmp_path / "exits_on_import.py"
    path.write_text("import sys\nsys.exit(0)\n")
    code, out, err = conform(capfd, f"{path}:f", "-e", "eq-5")
    assert code == 2 and out == ""
    _no_traceback(err)
    assert err.count("\n") == 1 and "called sys.exit(0) while loading" in err


def test_interrupted_conform_says_nothing_of_checkpoints_and_stops_its_child(impl, tmp_path):
    marker = tmp_path / "called"
    env = {**os.environ, "SOFTQ_TEST_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "softq_ref.cli", "conform", f"{impl}:announces_then_hangs",
                             "-e", "eq-5", "--timeout", "300"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (marker.is_file() and marker.read_text()) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        child = int(marker.read_text())
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends to the kit (the child has a session of its own)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # Closed here, not read to the end: a candidate left running would hold their other ends open.
        # (Left open, they fail a later test as unraisable warnings.)
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
    assert proc.returncode == 130, err
    _no_traceback(err)
    assert "interrupted" in err and "checkpoint" not in err and "resume" not in err
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # the candidate's process is gone too
