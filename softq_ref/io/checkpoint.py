"""Atomic serialisation of pytrees (Equinox) and, for older callers, the run directory's file names.

A checkpoint is ``eqx.tree_serialise_leaves`` of the training loop's whole carry, written
to a temporary file in the same directory, flushed to disk, then renamed over the old one
(``os.replace`` is atomic on POSIX): a crash at any moment leaves either the previous
checkpoint or the new one, never a torn file.  Run directories are read and written by
:mod:`softq_ref.io.run_dir` only, which also records and verifies each checkpoint's digest.
"""

from __future__ import annotations

import os
from pathlib import Path

import equinox as eqx

from softq_ref.io.run_dir import CHECKPOINT, CONFIG, FIGURE, METRICS, _write_bytes_atomic, read_metrics

__all__ = ["CHECKPOINT", "CONFIG", "FIGURE", "METRICS", "load", "read_metrics", "save_atomic"]


def save_atomic(path: str | os.PathLike, tree) -> str:
    """Serialise ``tree`` to ``path`` atomically (temporary file, fsync, rename); returns its SHA-256."""
    return _write_bytes_atomic(Path(path), lambda f: eqx.tree_serialise_leaves(f, tree))


def load(path: str | os.PathLike, like):
    """Deserialise a checkpoint into the structure of ``like`` (a freshly initialised pytree)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        return eqx.tree_deserialise_leaves(f, like)
