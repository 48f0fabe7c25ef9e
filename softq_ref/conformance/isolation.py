"""Running a candidate in a child process, with a time limit on every call.

A candidate is someone else's code: it may call ``os._exit(0)``, hang, crash the
interpreter or print to stdout.  None of that may end the kit's process, decide its exit
code or corrupt its ``--json`` output.  So ``check`` runs the candidate in one child
process per check (not per call), started with ``subprocess`` and fed over a pipe:

* the child is this file run as a script: it loads ``adapters.py`` and ``candidate.py``
  by their paths, so it starts without importing the ``softq_ref`` package (NumPy only,
  plus the candidate's own imports and the adapter's framework);
* the parent sends the inputs of each call and waits at most ``timeout`` seconds; a call
  that does not return in time stops the child, and so does a candidate that ends or
  crashes the child: each is a failure of the property (``CandidateFatal``) with a
  message naming what happened, and the next call starts a fresh child;
* the child's stdout is its stderr: what the candidate prints never reaches the report;
* it runs in its own session, so Ctrl-C reaches only the kit, which stops the child.

A candidate given as ``MODULE:FUNCTION`` is loaded by the child; a function passed to
``check`` is sent pickled (by reference: a module-level function of an importable
module).  One that cannot be sent (a lambda, a closure, a function of the ``__main__``
script) runs in the kit's own process, without a time limit; the report says so.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

#: Seconds a candidate's call may take before it counts as hung (``--timeout``).
DEFAULT_TIMEOUT = 60.0
#: Seconds the child may take to start and import the candidate.
LOAD_TIMEOUT = 120.0


class CandidateFailure(Exception):
    """One call failed (the candidate raised, or returned something unreadable): an ordinary failed input."""


class CandidateFatal(BaseException):
    """The candidate's process ended, crashed or hung: the property stops at this input.

    A ``BaseException``, so that Hypothesis does not try to shrink it (every later call
    would meet a stopped process).
    """

    def __init__(self, message: str, hung: bool = False):
        super().__init__(message)
        self.message = message
        self.hung = hung
        self.inputs: dict | None = None  # the call's inputs and expected outputs, attached by the checker
        self.want: dict | None = None


class CannotIsolate(Exception):
    """The candidate cannot be sent to a child process."""


# --------------------------------------------------------------------------- the kit's side


class InProcess:
    """Calls the candidate in the kit's own process (no time limit; ``os._exit`` cannot be caught)."""

    isolated = False
    hung = False

    def __init__(self, fn, adapter, reason: str = ""):
        self.fn, self.adapter, self.reason = fn, adapter, reason

    def describe(self) -> str:
        return f"in this process ({self.reason}); no time limit" if self.reason else "in this process; no time limit"

    def run(self, args: list, names: tuple, gradient) -> tuple[dict, str]:
        from softq_ref.conformance.candidate import call_once

        return _unpack(call_once(self.fn, self.adapter, args, names, gradient))

    def close(self) -> None:
        pass


def _unpack(reply: tuple) -> tuple[dict, str]:
    if reply[0] == "ok":
        return reply[1], reply[2]
    raise CandidateFailure(reply[1])


def _payload(candidate, adapter) -> dict:
    """What the child needs to rebuild the candidate and the adapter; ``CannotIsolate`` if impossible."""
    from softq_ref.conformance.adapters import ADAPTERS

    if type(adapter) is ADAPTERS.get(adapter.name):
        adapter_part = {"adapter": (adapter.name, adapter.dtype)}
    else:
        try:
            adapter_part = {"adapter_pickle": pickle.dumps(adapter)}
        except Exception as err:
            raise CannotIsolate(f"the adapter cannot be pickled: {type(err).__name__}") from None
    if isinstance(candidate, str):
        return {"spec": candidate, **adapter_part}
    if getattr(candidate, "__module__", None) in (None, "__main__"):
        raise CannotIsolate("the function is defined in the __main__ script")
    try:
        return {"pickle": pickle.dumps(candidate), **adapter_part}
    except Exception as err:
        raise CannotIsolate(f"the function cannot be pickled: {type(err).__name__}") from None


class ChildProcess:
    """Calls the candidate in a child process, each call limited to ``timeout`` seconds."""

    isolated = True

    def __init__(self, payload: dict, timeout: float | None, load_timeout: float = LOAD_TIMEOUT):
        self.payload = {**payload, "sys_path": list(sys.path)}
        self.timeout = timeout
        self.load_timeout = load_timeout if timeout is None else max(load_timeout, timeout)
        self.proc: subprocess.Popen | None = None
        self.hung = False  # a call ran out of time: the checker runs no further property
        self._start()

    def describe(self) -> str:
        limit = "no time limit" if self.timeout is None else f"at most {self.timeout:g} s per call"
        return f"a child process, {limit}"

    def _start(self) -> None:
        down_r, down_w = os.pipe()  # kit -> child
        up_r, up_w = os.pipe()  # child -> kit
        try:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), str(down_r), str(up_w)],
                pass_fds=(down_r, up_w), stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            os.close(down_r)
            os.close(up_w)
        self.out = Connection(down_w, readable=False)
        self.inp = Connection(up_r, writable=False)
        self.out.send(("load", self.payload))
        reply = self._receive(self.load_timeout, "while its module was imported")
        if reply[0] != "loaded":
            self.close()
            raise ValueError(reply[1])

    def _receive(self, timeout: float | None, during: str) -> tuple:
        try:
            if self.inp.poll(timeout):
                return self.inp.recv()
        except (EOFError, OSError):
            pass
        else:  # no answer in time
            self.close()
            self.hung = True
            raise CandidateFatal(f"did not return within {timeout:g} s {during} (stopped; the limit is --timeout)",
                                 hung=True)
        code = self.proc.wait()
        self.close()
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            raise CandidateFatal(f"crashed its process ({name}) {during}")
        raise CandidateFatal(f"ended its process (exit code {code}, e.g. os._exit) {during}")

    def run(self, args: list, names: tuple, gradient) -> tuple[dict, str]:
        if self.proc is None:  # stopped after a fatal call: a fresh child for the next one
            try:
                self._start()
            except ValueError as err:
                raise CandidateFatal(f"could not be loaded again after its process ended: {err}") from None
        try:
            self.out.send(("call", args, names, gradient))
        except OSError:
            pass  # the child is gone; _receive says how
        return _unpack(self._receive(self.timeout, "instead of returning"))

    def close(self) -> None:
        if self.proc is None:
            return
        for conn in (self.out, self.inp):
            conn.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None


def open_candidate(candidate, adapter, *, timeout: float | None, isolate: bool | None):
    """The runner of a check: a ``ChildProcess`` whenever possible, else ``InProcess``.

    ``isolate=None`` isolates when the candidate can be sent to a child (a
    ``MODULE:FUNCTION`` string, or a picklable function) and otherwise runs it here;
    ``True`` requires a child (``ValueError`` if impossible); ``False`` runs it here.
    """
    from softq_ref.conformance.candidate import load_candidate

    if isolate is False:
        return InProcess(load_candidate(candidate) if isinstance(candidate, str) else candidate, adapter,
                         "isolate=False")
    try:
        if os.name != "posix":  # the pipes are handed to the child with pass_fds
            raise CannotIsolate(f"child processes are implemented for POSIX systems, not {os.name!r}")
        payload = _payload(candidate, adapter)
    except CannotIsolate as err:
        if isolate:
            raise ValueError(f"cannot run the candidate in a child process: {err}") from None
        return InProcess(load_candidate(candidate) if isinstance(candidate, str) else candidate, adapter, str(err))
    try:
        return ChildProcess(payload, timeout)
    except CandidateFatal as err:
        raise ValueError(f"the candidate {err.message}") from None
    except ValueError as err:
        if "pickle" in payload and not isolate:  # e.g. its module is not importable from a fresh process
            return InProcess(candidate, adapter, f"the child process could not load it: {err}")
        raise


# --------------------------------------------------------------------------- the child's side


def _sibling(name: str):
    """``adapters.py`` or ``candidate.py`` of this directory, loaded without the softq_ref package."""
    import importlib.util

    path = Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_softq_conform_child_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _serve(read_fd: int, write_fd: int) -> None:
    inp, out = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    os.dup2(2, 1)  # what the candidate prints goes to stderr, never into the kit's report
    adapters, candidate = _sibling("adapters"), _sibling("candidate")
    _, payload = inp.recv()
    sys.path[:] = payload["sys_path"]
    try:
        if "adapter" in payload:
            adapter = adapters.get_adapter(*payload["adapter"])
        else:
            adapter = pickle.loads(payload["adapter_pickle"])
        fn = candidate.load_candidate(payload["spec"]) if "spec" in payload else pickle.loads(payload["pickle"])
    except SystemExit as err:
        out.send(("load-error", f"the candidate's module called sys.exit({err.code!r}) while loading"))
        return
    except Exception as err:
        message = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
        out.send(("load-error", " ".join(message.split())))
        return
    out.send(("loaded",))
    while True:
        try:
            _, args, names, gradient = inp.recv()
        except EOFError:  # the kit closed the pipe: done
            return
        out.send(candidate.call_once(fn, adapter, args, names, gradient))


if __name__ == "__main__":
    del sys.path[0]  # this directory: its modules must not shadow the candidate's imports
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve(int(sys.argv[1]), int(sys.argv[2]))
