"""The candidate: loading ``MODULE:FUNCTION`` and reading what it returned.

Imports only the standard library and NumPy, so that the child process that runs a
candidate (``softq_ref.conformance.isolation``) starts in a fraction of a second; it
loads this file by its path, without the ``softq_ref`` package.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np


class OutputError(ValueError):
    """The candidate returned, but not something the target's outputs can be read from."""


def load_candidate(spec: str) -> Callable:
    """``MODULE:FUNCTION`` -> the function.

    ``MODULE`` is a dotted module importable from the current directory (which is put on
    ``sys.path``) or the path of a ``.py`` file; ``FUNCTION`` may be dotted
    (``Class.method``).

    Raises:
      ValueError: when the spec is malformed, the module cannot be imported, or the name
        is missing or not callable (the message is one line).
    """
    module_part, sep, attr = str(spec).rpartition(":")
    if not sep or not module_part or not attr:
        raise ValueError(f"expected MODULE:FUNCTION (a module or a .py file, a colon, a function name), got {spec!r}")
    try:
        if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
            path = Path(module_part).expanduser().resolve()
            if not path.is_file():
                raise ValueError(f"no such file: {module_part}")
            if str(path.parent) not in sys.path:
                sys.path.insert(0, str(path.parent))  # the file's own imports of its neighbours
            name = f"_softq_conform_{path.stem}_{abs(hash(str(path))) % 10**8}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_part)
    except ValueError:
        raise
    except Exception as err:  # an ImportError, or anything the user's module raised while importing
        message = " ".join(str(err).split())  # one line, whatever the module raised
        raise ValueError(f"cannot import {module_part}: {type(err).__name__}: {message}") from err
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{module_part} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{spec} is not callable")
    return obj


def describe(value) -> str:
    """What a candidate returned, in a few words: ``a list of 3 floats``, ``a torch.Tensor of shape [2]``."""
    if value is None:
        return "None"
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__.split('.')[0]}.{kind.__qualname__}"
    if isinstance(value, (bool, int, float, complex)):
        return f"{'an' if name[0] in 'aeiou' else 'a'} {name} ({value!r})"
    if isinstance(value, str):
        text = value if len(value) <= 20 else value[:17] + "..."
        return f"a str ({text!r})"
    if isinstance(value, (list, tuple)):
        kinds = {type(v).__name__ for v in value}
        of = f" ({kinds.pop()}{'s' if len(value) != 1 else ''})" if len(kinds) == 1 else ""
        return f"a {name} of {len(value)} value{'s' if len(value) != 1 else ''}{of}"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None:
        extra = f" and dtype {dtype}" if dtype is not None else ""
        return f"a {name} of shape {list(shape)}{extra}"
    return f"a {name}"


def to_float64(value, to_numpy: Callable = np.asarray) -> np.ndarray:
    """An array-like (array, tensor, list, tuple, scalar) as a float64 array; ``OutputError`` if it is none."""
    if value is None or isinstance(value, (str, bytes, dict)):
        raise OutputError(f"returned {describe(value)}, not an array of numbers")
    try:
        if isinstance(value, (list, tuple)):
            return np.asarray([to_float64(v, to_numpy) for v in value], dtype=np.float64)
        return np.asarray(to_numpy(value), dtype=np.float64)
    except OutputError:
        raise OutputError(f"returned {describe(value)}, not an array of numbers") from None
    except (TypeError, ValueError, RuntimeError) as err:
        reason = " ".join(str(err).split())
        raise OutputError(f"returned {describe(value)}, not an array of numbers ({reason})") from None


def read_outputs(raw, names: tuple[str, ...], to_numpy: Callable = np.asarray) -> dict:
    """The named outputs of one call, each as a float64 array.

    One output: any array-like (a bare array, a list or tuple of numbers, a scalar; a
    tuple holding one array is unwrapped).
    Several: a tuple or list of that many array-likes, in order.

    Raises:
      OutputError: saying what the candidate returned and what was expected.
    """
    if len(names) == 1:
        if isinstance(raw, tuple) and len(raw) == 1 and not isinstance(raw[0], (int, float, np.number)):
            raw = raw[0]  # (array,): the one output in a tuple; (0.5,) is an array of one number
        return {names[0]: to_float64(raw, to_numpy)}
    if not isinstance(raw, (tuple, list)) or len(raw) != len(names):
        raise OutputError(f"returned {describe(raw)}; expected a tuple of {len(names)} values ({', '.join(names)})")
    return {name: to_float64(value, to_numpy) for name, value in zip(names, raw)}


def call_once(fn: Callable, adapter, args: list, names: tuple[str, ...], gradient: tuple[int, str] | None) -> tuple:
    """One call of the candidate through ``adapter``, as a message: what came back, never an exception.

    Returns ``("ok", outputs, description)`` (outputs by name as float64 arrays, the
    gradient the adapter takes included), ``("raised", text)`` when the candidate raised
    (``sys.exit`` included: it is caught here, in whichever process runs the call), or
    ``("output", text)`` when what it returned cannot be read.
    """
    try:
        raw = adapter.call_raw(fn, args)
        returned = describe(raw)
        outputs = read_outputs(raw, names, adapter.to_numpy)
        if gradient is not None:
            argnum, name = gradient
            outputs[name] = to_float64(adapter.grad(fn, args, argnum), adapter.to_numpy)
    except OutputError as err:
        return ("output", str(err))
    except SystemExit as err:
        return ("raised", f"called sys.exit({err.code!r}) instead of returning")
    except Exception as err:  # the candidate's failure is a result, not a crash of the kit
        return ("raised", f"raised {type(err).__name__}: {' '.join(str(err).split())}")
    return ("ok", outputs, returned)
