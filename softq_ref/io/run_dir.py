"""A run directory as one object: the only code that reads or writes a run's files.

Layout (the same for the jitted and the host loop, for one seed or many)::

    RUN/
      config.json     metadata (schema below), rewritten atomically
      metrics.csv     one row per seed per logging point; columns declared in config.json
      checkpoint.eqx  the loop carry of every seed, stacked on a leading seed axis
      figure.png      written by a task's report (the multi-goal task's Figure 1)
      .lock           held (``filelock``) by the one process writing the run

``config.json`` (schema :data:`SCHEMA_VERSION`) holds ``schema``, ``algo``, ``config`` (the
algorithm's config by :func:`~softq_ref.agent.registry.config_to_dict`), ``env_id``, ``seeds``,
``loop`` (``"jax"`` or ``"gym"``), ``settings`` (the loop's own: chunk length, logging and
checkpoint intervals), ``stat_names`` and ``metric_names`` (the metric columns), the
versions that wrote it, and ``checkpoint_sha256``, the digests a valid ``checkpoint.eqx``
may have.

Guarantees:

* **Atomic files.** ``checkpoint.eqx`` and ``config.json`` are written to a temporary file
  in the same directory, flushed to disk and renamed over the old one: a crash at any moment
  leaves the old file or the new one.  The checkpoint's digest is recorded *before* the
  rename (both the old and the new digest are accepted) and the old one dropped after, so
  a crash between the two steps never makes a good checkpoint look corrupt.
* **Verified loads.** Every load checks the checkpoint's SHA-256 against ``config.json``
  and names the file when they differ (a flipped byte, a truncated copy, another run's
  checkpoint).
* **Nothing of the user's is touched.** A run is only created in a new or empty directory;
  a directory that already holds a run is refused (resume it instead), and so is any
  other non-empty directory.  One process at a time: a second writer is refused.
* **What a crash can lose:** the steps after the last checkpoint (the jitted loop
  checkpoints after every chunk, the host loop at episode boundaries every
  ``checkpoint_every`` steps or ``checkpoint_minutes`` minutes) and the metric rows
  after it, which a resume drops and writes again.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import json
import math
import os
from pathlib import Path

import equinox as eqx
import jax

from softq_ref.agent import registry

SCHEMA_VERSION = 2
CONFIG = "config.json"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.eqx"
FIGURE = "figure.png"
LOCK = ".lock"
#: Every file a run directory may hold (temporary files end in ``.tmp``).
OWN_FILES = (CONFIG, METRICS, CHECKPOINT, FIGURE, LOCK)
LOOPS = ("jax", "gym")
BASE_COLUMNS = ("step", "seed", "episodes", "mean_return")


class RunDirError(ValueError):
    """A run directory, or a file in it, is missing, malformed or in use: one line naming it."""


def package_version() -> str:
    """The installed version of softq_ref (``importlib.metadata``; no import of the package)."""
    try:
        return importlib.metadata.version("softq_ref")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def columns_for(stat_names, metric_names) -> list[str]:
    """The ``metrics.csv`` columns of a run reporting these episode statistics and metrics."""
    return [*BASE_COLUMNS, *stat_names, *metric_names, "wall_time"]


# -- low-level atomic writes ------------------------------------------------------------------


class _HashingWriter:
    """A binary file that also feeds everything written to it into a SHA-256."""

    def __init__(self, f):
        self.f = f
        self.sha = hashlib.sha256()

    def write(self, data):
        self.sha.update(data)
        return self.f.write(data)


def _write_bytes_atomic(path: Path, write) -> str:
    """Run ``write(file)`` into ``path.tmp``, fsync, rename over ``path``; return the SHA-256 of the bytes."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            hw = _HashingWriter(f)
            write(hw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return hw.sha.hexdigest()


def write_json_atomic(path: Path, obj) -> None:
    text = (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
    _write_bytes_atomic(Path(path), lambda f: f.write(text))


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def read_metrics(path) -> list[dict]:
    """The rows of a ``metrics.csv`` (a run directory or the file itself) as dicts of strings."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# -- the metadata schema ----------------------------------------------------------------------


def _require(meta: dict, key: str, kind, path: Path):
    if key not in meta:
        raise RunDirError(f"{path}: the key {key!r} is missing (not a softq-ref run's config.json?)")
    value = meta[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RunDirError(f"{path}: {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def device_record() -> dict:
    """Where a run's arithmetic happens: JAX's backend and float32 matmul precision (``None``: JAX's default).

    Recorded in every run's ``config.json``, since on a GPU JAX's default runs float32 products in TF32
    (spec deviation ``dev-gpu-matmul-precision``).
    """
    return {"backend": jax.default_backend(), "matmul_precision": jax.config.jax_default_matmul_precision}


def _upgrade(meta: dict) -> dict:
    """Schema 1 (no ``schema`` key; loop settings at top level; no digests) read as schema 2."""
    if "schema" in meta:
        return meta
    meta = dict(meta)
    meta["schema"] = 1
    meta["settings"] = {k: meta.pop(k) for k in ("chunk_steps", "log_every") if k in meta}
    return meta


def parse_meta(meta, path: Path) -> dict:
    """Check a ``config.json``'s content; a one-line :class:`RunDirError` naming the file and key otherwise."""
    if not isinstance(meta, dict):
        raise RunDirError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    meta = _upgrade(meta)
    schema = meta["schema"]
    if schema not in (1, SCHEMA_VERSION):
        raise RunDirError(f"{path}: schema {schema!r} is not one this softq_ref reads (1 or {SCHEMA_VERSION})")
    loop = _require(meta, "loop", str, path)
    if loop not in LOOPS:
        raise RunDirError(f"{path}: 'loop' must be one of {', '.join(LOOPS)}, got {loop!r}")
    _require(meta, "env_id", str, path)
    seeds = _require(meta, "seeds", list, path)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds) or len(set(seeds)) != len(seeds):
        raise RunDirError(f"{path}: 'seeds' must be a non-empty list of distinct ints, got {seeds!r}")
    raw = _require(meta, "config", dict, path)
    try:
        config = registry.config_from_dict({"algo": meta.get("algo", "sql"), **raw})
    except ValueError as err:
        raise RunDirError(f"{path}: {err}") from None
    meta["config"] = config
    meta["algo"] = registry.for_config(config).name
    settings = meta.get("settings", {})
    if not isinstance(settings, dict):
        raise RunDirError(f"{path}: 'settings' must be an object, got {settings!r}")
    for key, value in settings.items():
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
            raise RunDirError(f"{path}: settings.{key} must be a positive number, got {value!r}")
    digests = meta.get("checkpoint_sha256", [])
    if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
        raise RunDirError(f"{path}: 'checkpoint_sha256' must be a list of hex digests, got {digests!r}")
    return meta


# -- the run directory ------------------------------------------------------------------------


class RunDir:
    """One run directory.  Create it with :meth:`create`, open an existing one with :meth:`open`.

    The object holds the parsed metadata (``meta``; ``meta["config"]`` is the config object)
    and, once :meth:`acquire` was called, the directory's lock.
    """

    def __init__(self, path: Path, meta: dict):
        self.path = Path(path)
        self.meta = meta
        self._lock = None
        self._on_disk = None  # SHA-256 of the checkpoint.eqx on disk, once known

    # - properties
    @property
    def config(self):
        return self.meta["config"]

    @property
    def algo(self):
        return registry.get(self.meta["algo"])

    @property
    def env_id(self) -> str:
        return self.meta["env_id"]

    @property
    def seeds(self) -> list[int]:
        return list(self.meta["seeds"])

    @property
    def loop(self) -> str:
        return self.meta["loop"]

    @property
    def settings(self) -> dict:
        return dict(self.meta.get("settings", {}))

    @property
    def stat_names(self) -> list[str]:
        return list(self.meta.get("stat_names", []))

    @property
    def metric_names(self) -> list[str]:
        names = self.meta.get("metric_names")
        return list(self.algo.metrics if names is None else names)

    @property
    def columns(self) -> list[str]:
        return columns_for(self.stat_names, self.metric_names)

    @property
    def figure_path(self) -> Path:
        return self.path / FIGURE

    @property
    def has_checkpoint(self) -> bool:
        return (self.path / CHECKPOINT).is_file()

    # - creating and opening
    @staticmethod
    def is_run(path) -> bool:
        return (Path(path) / CONFIG).is_file()

    @classmethod
    def create(cls, path, *, config, env_id: str, seeds, loop: str, settings: dict, stat_names=()) -> "RunDir":
        """A new run in ``path`` (created if needed), locked by this process.

        Refuses a path that is a file, a directory that already holds a run, and any other
        non-empty directory: nothing the user made is ever overwritten.  ``config.json`` records
        the device the run starts on: JAX's backend and its float32 matmul precision (``null``:
        JAX's default, which on a GPU is TF32; spec deviation ``dev-gpu-matmul-precision``).
        """
        path = Path(path)
        _check_new_dir(path, allow=(LOCK,))
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunDirError(f"cannot create run directory {path}: {err.strerror or err}") from None
        algo = registry.for_config(config)
        run = cls(path, {
            "schema": SCHEMA_VERSION,
            "algo": algo.name,
            "config": config,
            "env_id": env_id,
            "seeds": [int(s) for s in seeds],
            "loop": loop,
            "settings": dict(settings),
            "stat_names": list(stat_names),
            "metric_names": list(algo.metrics),
            "softq_ref_version": package_version(),
            "jax_version": jax.__version__,
            "device": device_record(),
            "checkpoint_sha256": [],
        })
        run.acquire()
        try:
            _check_new_dir(path, allow=(LOCK,))  # a second process may have won the race
            run.write_meta()
            with run._file(METRICS).open("w", newline="") as f:
                csv.DictWriter(f, fieldnames=run.columns).writeheader()
        except BaseException:
            run.release()
            raise
        return run

    @classmethod
    def open(cls, path) -> "RunDir":
        """An existing run directory (not locked; call :meth:`acquire` before writing)."""
        path = Path(path)
        if not path.exists():
            raise RunDirError(f"{path} not found (is this a softq-ref run directory?)")
        if not path.is_dir():
            raise RunDirError(f"{path} is a file, not a softq-ref run directory")
        meta_path = path / CONFIG
        if not meta_path.is_file():
            raise RunDirError(f"{meta_path} not found (is this a softq-ref run directory?)")
        try:
            meta = json.loads(meta_path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RunDirError(f"{meta_path} is not valid JSON ({err})") from None
        except OSError as err:
            raise RunDirError(f"cannot read {meta_path}: {err.strerror or err}") from None
        return cls(path, parse_meta(meta, meta_path))

    # - the lock
    def acquire(self) -> None:
        """Take the directory's lock; :class:`RunDirError` when another process holds it."""
        from filelock import FileLock, Timeout

        if self._lock is not None:
            return
        lock = FileLock(str(self.path / LOCK), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RunDirError(f"{self.path} is in use by another softq-ref process (lock {self.path / LOCK})") from None
        except OSError as err:
            raise RunDirError(f"cannot lock {self.path}: {err.strerror or err}") from None
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    # - metadata
    def _file(self, name: str) -> Path:
        return self.path / name

    def meta_dict(self) -> dict:
        out = dict(self.meta)
        out["config"] = {k: v for k, v in registry.config_to_dict(self.config).items() if k != "algo"}
        return out

    def write_meta(self) -> None:
        self._writes()
        write_json_atomic(self._file(CONFIG), self.meta_dict())

    def update(self, **changes) -> None:
        """Change metadata fields (``config=...``, ``settings=...``) and rewrite ``config.json``."""
        self.meta.update(changes)
        self.write_meta()

    def _writes(self) -> None:
        if self._lock is None:
            raise RuntimeError(f"{self.path}: write without holding the run's lock")

    # - checkpoints
    def save_checkpoint(self, tree) -> None:
        """Write ``tree`` as ``checkpoint.eqx`` atomically and record its digest."""
        self._writes()
        path = self._file(CHECKPOINT)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                hw = _HashingWriter(f)
                eqx.tree_serialise_leaves(hw, tree)
                f.flush()
                os.fsync(f.fileno())
            digest = hw.sha.hexdigest()
            # The file now on disk stays accepted until the rename: a crash in between loses nothing.
            old = [self._on_disk] if self._on_disk and path.is_file() else []
            self.update(checkpoint_sha256=[*old, digest])
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._on_disk = digest
        self.update(checkpoint_sha256=[digest])

    def load_checkpoint(self, like):
        """The checkpoint, deserialised into the structure of ``like``, after its digest is checked."""
        path = self._file(CHECKPOINT)
        if not path.is_file():
            raise RunDirError(f"{path} not found: the run has no checkpoint yet")
        digests = self.meta.get("checkpoint_sha256", [])
        actual = file_sha256(path)
        if self.meta.get("schema", 1) >= 2:
            if actual not in digests:
                raise RunDirError(
                    f"{path} is corrupt or belongs to another run: its SHA-256 {actual[:12]}... "
                    f"is not the one recorded in {self._file(CONFIG).name}"
                )
        try:
            with open(path, "rb") as f:
                tree = eqx.tree_deserialise_leaves(f, like)
        except Exception as err:  # noqa: BLE001 - any failure to read the file is reported as one line
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise RunDirError(f"{path} is not a readable checkpoint of this run ({reason})") from None
        self._on_disk = actual
        return tree

    # - metrics
    def metrics_writer(self, resume_step: int | None = None) -> "MetricsWriter":
        """A writer of ``metrics.csv``; on resume, rows past ``resume_step`` (and unreadable ones) are dropped first."""
        self._writes()
        return MetricsWriter(self._file(METRICS), self.columns, resume_step=resume_step)

    def read_metrics(self) -> list[dict]:
        return read_metrics(self._file(METRICS))


def _check_new_dir(path: Path, allow=()) -> None:
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path} is a file; --out needs a directory")
    if not path.is_dir():
        return
    if (path / CONFIG).exists() or (path / CHECKPOINT).exists():
        raise RunDirError(f"{path} already holds a run; use --resume {path} or another --out")
    try:
        entries = [p.name for p in path.iterdir() if p.name not in allow]
    except OSError as err:
        raise RunDirError(f"cannot read {path}: {err.strerror or err}") from None
    if entries:
        shown = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
        raise RunDirError(f"{path} is not empty ({shown}) and is not a softq-ref run; choose a new or empty directory")


class MetricsWriter:
    """Appends rows to ``metrics.csv``.  A row with a column the run did not declare is an error."""

    def __init__(self, path: Path, columns: list[str], *, resume_step: int | None = None):
        self.path = Path(path)
        self.columns = list(columns)
        if resume_step is not None and self.path.is_file():
            kept = []
            with self.path.open(newline="") as f:
                for row in csv.DictReader(f):
                    try:
                        ok = int(row.get("step") or "") <= resume_step and None not in row
                    except ValueError:
                        ok = False  # an unreadable line (a torn append, a stray edit): dropped, not fatal
                    if ok:
                        kept.append({k: row.get(k, "") for k in self.columns})
            text_rows = kept

            def write(f):
                import io

                buf = io.StringIO(newline="")
                w = csv.DictWriter(buf, fieldnames=self.columns)
                w.writeheader()
                w.writerows(text_rows)
                f.write(buf.getvalue().encode())

            _write_bytes_atomic(self.path, write)
        elif not self.path.is_file():
            with self.path.open("w", newline="") as f:
                csv.DictWriter(f, fieldnames=self.columns).writeheader()

    def write(self, rows: list[dict]) -> None:
        for row in rows:
            unknown = set(row) - set(self.columns)
            if unknown:
                raise ValueError(
                    f"metrics {sorted(unknown)} are not among the run's declared columns "
                    f"(an algorithm must list every metric its train_step reports)"
                )
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns).writerows(rows)
            f.flush()
