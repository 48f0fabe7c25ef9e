"""Atomic checkpoints of pytrees (Equinox serialisation) and the run directory's files.

A checkpoint is ``eqx.tree_serialise_leaves`` of the training loop's whole carry, written
to a temporary file in the same directory, flushed to disk, then renamed over the old one
(``os.replace`` is atomic on POSIX): a crash at any moment leaves either the previous
checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import equinox as eqx

CHECKPOINT = "checkpoint.eqx"
CONFIG = "config.json"
METRICS = "metrics.csv"
FIGURE = "figure.png"


def save_atomic(path: str | os.PathLike, tree) -> None:
    """Serialise ``tree`` to ``path`` atomically (write a temporary file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        eqx.tree_serialise_leaves(f, tree)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: str | os.PathLike, like):
    """Deserialise a checkpoint into the structure of ``like`` (a freshly initialised pytree)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        return eqx.tree_deserialise_leaves(f, like)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (is this a softq-ref run directory?)")
    return json.loads(path.read_text())


class MetricsWriter:
    """Appends rows to ``metrics.csv``; on resume, drops rows past the checkpoint's step first."""

    def __init__(self, path: str | os.PathLike, columns: list[str], *, resume_step: int | None = None):
        self.path = Path(path)
        self.columns = columns
        if resume_step is not None and self.path.is_file():
            with self.path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
            with self.path.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
        elif not self.path.is_file() or resume_step is None:
            with self.path.open("w", newline="") as f:
                csv.DictWriter(f, fieldnames=columns).writeheader()

    def write(self, rows: list[dict]) -> None:
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            writer.writerows(rows)
            f.flush()


def read_metrics(path: str | os.PathLike) -> list[dict]:
    with Path(path).open(newline="") as f:
        return list(csv.DictReader(f))
