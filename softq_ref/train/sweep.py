"""A sweep is one program: seeds x traced hyperparameters, vmapped, sharded over the local devices.

A grid point is one seed and one value of each swept *traced* config field (temperature,
discount, learning rates, the target schedule: the fields an algorithm's config declares with
:func:`~softq_ref.agent.config.traced`).  Traced fields live in the agent's state, so every
point runs the same compiled chunk of the jitted loop (:func:`softq_ref.train.jax_loop.make_chunk`):
the points' carries are stacked on a leading axis, placed on a 1-D mesh of ``jax.devices()``
with a ``NamedSharding`` (the points are independent, so XLA partitions the vmapped program
without communication), and run as one ``jax.jit(jax.vmap(chunk))``.  One device is the
degenerate case: the same program, unsharded.  A grid that does not divide the device count is
padded with copies of its first point, whose results are dropped.

Layout on disk: ``SWEEP/sweep.json`` (the manifest: algorithm, task, base config, grid, and
one entry per point) and one ordinary run directory per point, ``SWEEP/<point>/``, written
through :class:`~softq_ref.io.run_dir.RunDir` exactly as ``softq-ref train`` writes a one-seed
run of that point's config: ``softq-ref evaluate``, ``softq_ref.load`` and
``softq-ref train --resume`` work on a point directory as on any run.  After every chunk each
point's metrics and checkpoint are written; ``resume`` reloads the points, first brings any
point that a crash left one chunk behind up to the others (same chunk, same numbers), then
continues them together.

Past one machine: start one process per host with ``jax.distributed.initialize`` (see
``docs/scale.md``); ``jax.devices()`` then lists every host's devices and the same mesh spans
them.  This module drives the local devices; the multi-host path is documented, not tested here.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from softq_ref.agent import registry
from softq_ref.agent.config import static_fields, traced_fields
from softq_ref.io.run_dir import RunDir, write_json_atomic
from softq_ref.train import jax_loop, memory, runner

MANIFEST = "sweep.json"
MANIFEST_SCHEMA = 1


class SweepError(ValueError):
    """A bad grid or sweep directory: one line naming what is wrong."""


@dataclass(frozen=True)
class GridPoint:
    """One point of a sweep: a seed and the swept traced fields' values."""

    seed: int
    hparams: dict

    @property
    def name(self) -> str:
        parts = [f"seed{self.seed}"] + [f"{k}{_fmt(v)}" for k, v in self.hparams.items()]
        return "-".join(parts)


def _fmt(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


@dataclass
class SweepResult:
    sweep_dir: Path
    points: list[GridPoint]
    run_dirs: list[Path]
    carry: object  # stacked on the grid axis (padding removed)
    env_steps: int


# -- the grid ----------------------------------------------------------------------------------


def parse_values(text: str) -> list[str]:
    """``"0.1,1,10"`` -> ``["0.1", "1", "10"]``; an empty item or list is an error."""
    items = [t.strip() for t in str(text).split(",")]
    if not items or any(not t for t in items):
        raise SweepError(f"empty value in the list {text!r}; give comma-separated values such as 0.1,1,10")
    return items


def make_grid(config, grid: dict[str, list], seeds: list[int]) -> list[GridPoint]:
    """The points ``seeds x product(grid values)`` (hyperparameters outer, seeds inner).

    ``grid`` maps traced field names of ``config``'s class to lists of values (strings are
    converted to the field's type).  Raises :class:`SweepError` (one line) for an unknown field,
    a static field, an empty list, a repeated value, or a value the config refuses.
    """
    cls = type(config)
    traced, static = traced_fields(cls), static_fields(cls)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise SweepError("a sweep needs at least one seed (--seeds >= 1)")
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"seeds must be distinct, got {seeds}")
    algo = registry.for_config(config)
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    axes = {}
    for name, values in grid.items():
        if name in static:
            raise SweepError(
                f"{name} is a static field of {algo.name} (it changes shapes or control flow, so it cannot be vmapped);"
                f" sweepable fields: {', '.join(traced)}")
        if name not in traced:
            raise SweepError(f"unknown field {name!r} for {algo.name}; sweepable fields: {', '.join(traced)}")
        values = list(values)
        if not values:
            raise SweepError(f"--grid {name}: empty list of values")
        kind = types[name] if isinstance(types[name], str) else types[name].__name__
        converted = [_convert(name, kind, v) for v in values]
        if len(set(converted)) != len(converted):
            raise SweepError(f"--grid {name}: repeated value in {values}")
        axes[name] = converted
    if axes and algo.with_hparams is None:
        raise SweepError(f"{algo.name} declares no with_hparams, so only seeds can be swept")
    combos = [dict(zip(axes, vals)) for vals in itertools.product(*axes.values())] if axes else [{}]
    for combo in combos:
        try:
            config.replace(**combo)
        except ValueError as err:
            raise SweepError(f"grid point {combo}: {err}") from None
    return [GridPoint(seed=s, hparams=combo) for combo in combos for s in seeds]


def _convert(name: str, kind: str, value):
    try:
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value, 10)
        out = float(value)
    except (TypeError, ValueError):
        raise SweepError(f"--grid {name}: {value!r} is not a valid {kind}") from None
    if not math.isfinite(out):
        raise SweepError(f"--grid {name}: {value!r} is not finite")
    return out


# -- devices -----------------------------------------------------------------------------------


def grid_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh (axis ``"grid"``) over the first ``num_devices`` of ``jax.devices()`` (all by default)."""
    devices = jax.devices()
    if num_devices is not None:
        if not 1 <= num_devices <= len(devices):
            raise SweepError(f"--devices {num_devices}: this process sees {len(devices)} device(s)")
        devices = devices[:num_devices]
    return Mesh(np.array(devices), ("grid",))


def padded_size(num_points: int, num_devices: int) -> int:
    """The grid size rounded up to a multiple of the device count."""
    return -(-num_points // num_devices) * num_devices


def _pad(tree, size: int):
    def pad(x):
        extra = size - x.shape[0]
        return x if extra == 0 else jnp.concatenate([x, jnp.repeat(x[:1], extra, axis=0)], axis=0)

    return jax.tree.map(pad, tree)


# -- the carries -------------------------------------------------------------------------------


def point_config(config, point: GridPoint):
    return config.replace(**point.hparams)


def init_point_carries(algo, config, env, points: list[GridPoint], num_envs: int = 1):
    """The stacked initial carries: point ``i`` is the carry a one-seed run of its config would start from.

    Every point is initialised with the base config (one program), then its traced fields are
    set with the algorithm's ``with_hparams``; :func:`test_sweep` checks that this equals
    initialising with the point's own config.
    """
    keys = jnp.stack([jax.random.PRNGKey(p.seed) for p in points])
    carry = jax.vmap(lambda k: jax_loop.init_carry(algo, config, env, k, num_envs))(keys)
    if any(p.hparams for p in points):
        agents = [algo.with_hparams(jax.tree.map(lambda x, i=i: x[i], carry.agent), **p.hparams) for i, p in enumerate(points)]
        carry = carry._replace(agent=jax.tree.map(lambda *xs: jnp.stack(xs), *agents))
    return jax.tree.map(lambda x: jnp.array(x, copy=True), carry)


def _slice(tree, i: int):
    return jax.tree.map(lambda x: x[i:i + 1], tree)


# -- creating, running, resuming ---------------------------------------------------------------


def sweep(config, *, grid: dict[str, list], seeds: list[int], env_id: str, out_dir: str | Path,
          chunk_steps: int = 1000, num_envs: int = 1, num_devices: int | None = None,
          progress: bool = True) -> SweepResult:
    """Train every point of ``seeds x grid`` as one vmapped, sharded program; one run directory per point.

    ``num_envs``: environments per point (spec deviation ``dev-num-envs``; 1 is the paper's loop).
    """
    out_dir = Path(out_dir)
    env = runner.jax_env_of(env_id)
    algo = registry.for_config(config)
    runner._check_action_space(algo, env.action_space, env_id)
    if chunk_steps < 1:
        raise SweepError(f"chunk_steps must be >= 1, got {chunk_steps}")
    try:
        jax_loop.check_num_envs(algo, config, num_envs, chunk_steps)
    except ValueError as err:
        raise SweepError(str(err)) from None
    points = make_grid(config, grid, seeds)
    mesh = grid_mesh(num_devices)  # checked before anything is written
    try:  # the padded grid's loop state, refused up front when it cannot fit
        memory.check_fits(memory.carry_bytes(algo, config, env, num_envs), padded_size(len(points), mesh.size))
    except ValueError as err:
        raise SweepError(str(err).replace(" seeds ", " grid points ")) from None
    _check_new_sweep_dir(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    try:
        for p in points:
            runs.append(RunDir.create(out_dir / p.name, config=point_config(config, p), env_id=env_id, seeds=[p.seed],
                                      loop="jax", settings={"chunk_steps": int(chunk_steps), "num_envs": num_envs},
                                      stat_names=env.stat_names))
        write_json_atomic(out_dir / MANIFEST, {
            "schema": MANIFEST_SCHEMA,
            "algo": algo.name,
            "env_id": env_id,
            "config": {k: v for k, v in registry.config_to_dict(config).items() if k != "algo"},
            "grid": {k: sorted({p.hparams[k] for p in points}) for k in grid},
            "seeds": [int(s) for s in dict.fromkeys(p.seed for p in points)],
            "chunk_steps": int(chunk_steps),
            "num_envs": num_envs,
            "points": [{"dir": p.name, "seed": p.seed, "hparams": p.hparams} for p in points],
        })
        return _run(config, algo, env, points, runs, mesh, chunk_steps, num_envs, resume=False, progress=progress,
                    out_dir=out_dir)
    finally:
        for r in runs:
            r.release()


def resume(sweep_dir: str | Path, *, num_devices: int | None = None, progress: bool = True) -> SweepResult:
    """Continue an interrupted sweep from its points' checkpoints."""
    sweep_dir = Path(sweep_dir)
    manifest = read_manifest(sweep_dir)
    config = registry.config_from_dict({"algo": manifest["algo"], **manifest["config"]})
    algo = registry.for_config(config)
    env = runner.jax_env_of(manifest["env_id"])
    points = [GridPoint(seed=int(e["seed"]), hparams=dict(e["hparams"])) for e in manifest["points"]]
    mesh = grid_mesh(num_devices)
    runs = []
    try:
        for p, entry in zip(points, manifest["points"]):
            run = RunDir.open(sweep_dir / entry["dir"])
            if run.config != point_config(config, p) or run.seeds != [p.seed]:
                raise SweepError(f"{run.path}: its config.json does not match the point recorded in {sweep_dir / MANIFEST}")
            run.acquire()
            runs.append(run)
        return _run(config, algo, env, points, runs, mesh, int(manifest["chunk_steps"]),
                    int(manifest.get("num_envs", 1)), resume=True, progress=progress, out_dir=sweep_dir)
    finally:
        for r in runs:
            r.release()


def read_manifest(sweep_dir: Path) -> dict:
    path = Path(sweep_dir) / MANIFEST
    if not path.is_file():
        raise SweepError(f"{path} not found (is {sweep_dir} a softq-ref sweep directory?)")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SweepError(f"{path} is not valid JSON ({err})") from None
    for key in ("schema", "algo", "env_id", "config", "points", "chunk_steps"):
        if not isinstance(manifest, dict) or key not in manifest:
            raise SweepError(f"{path}: the key {key!r} is missing")
    if manifest["schema"] != MANIFEST_SCHEMA:
        raise SweepError(f"{path}: schema {manifest['schema']!r} is not {MANIFEST_SCHEMA}")
    return manifest


def _check_new_sweep_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise SweepError(f"{path} is a file; --out needs a directory")
    if path.is_dir() and any(path.iterdir()):
        what = "holds a sweep; use --resume" if (path / MANIFEST).exists() else "is not empty"
        raise SweepError(f"{path} {what}; choose a new or empty directory")


def _run(config, algo, env, points, runs, mesh, chunk_steps, num_envs, *, resume, progress, out_dir) -> SweepResult:
    carry = init_point_carries(algo, config, env, points, num_envs)
    done = np.zeros(len(points), np.int64)
    if resume:
        loaded = []
        for i, run in enumerate(runs):
            if run.has_checkpoint:
                c = run.load_checkpoint(_slice(carry, i))
                done[i] = int(np.asarray(c.env_steps)[0])
            else:
                c = _slice(carry, i)
            loaded.append(c)
        carry = jax.tree.map(lambda *xs: jnp.concatenate(xs), *loaded)
    writers = [run.metrics_writer(resume_step=int(done[i]) if resume else None) for i, run in enumerate(runs)]
    schedule = jax_loop.schedule(config, chunk_steps, num_envs)
    ends = np.cumsum([n for n, _ in schedule])
    sharding = NamedSharding(mesh, PartitionSpec("grid"))
    num_devices = mesh.devices.size
    note = padding_note(len(points), num_devices)
    if note:
        print(note, file=sys.stderr)
    compiled = {}
    start = time.time()
    bar = tqdm(total=config.total_steps * len(points), initial=int(done.sum()), unit="step", disable=not progress,
               desc=f"sweep {algo.name} x{len(points)} on {num_devices} device(s)")
    try:
        for c, ((num_steps, learn), end) in enumerate(zip(schedule, ends)):
            # The points still behind `end` (all of them, except after a crash mid-save).
            todo = np.flatnonzero(done < end)
            if todo.size == 0:
                continue
            size = padded_size(todo.size, num_devices)
            key = (num_steps, learn, size)
            if key not in compiled:
                chunk = jax_loop.make_chunk(algo, config, env, num_steps, learn, num_envs)
                compiled[key] = jax.jit(jax.vmap(chunk), in_shardings=sharding, out_shardings=sharding, donate_argnums=0)
            part = carry if todo.size == len(points) else jax.tree.map(lambda x: x[todo], carry)
            part = jax.device_put(_pad(part, size), sharding)
            new_part, stats = compiled[key](part)
            # Only the statistics come to the host here; the carry stays on the device(s) for the next
            # chunk and is copied to the host once, below, for the checkpoints (it used to make the round
            # trip: the whole carry, replay buffers included, down and up again after every chunk).
            stats = jax.device_get(stats)
            runner._check_metric_names(algo, stats.metrics)
            bad = np.asarray(stats.first_nonfinite)[: todo.size]
            if np.any(bad >= 0):
                i = int(np.argmax(bad >= 0))
                p = points[todo[i]]
                what = "Q loss" if "q_loss" in stats.metrics else "training metric"
                raise runner.TrainingDiverged(
                    f"non-finite {what} at step {end - num_steps + int(bad[i]) + 1} of point {p.name}; sweep stopped,"
                    f" every point keeps its checkpoint from step {end - num_steps} (resume with --resume {out_dir})")
            new_part = jax.tree.map(lambda x: x[: todo.size], new_part)
            on_host = jax.device_get(new_part)
            if todo.size == len(points):
                carry = new_part
            else:
                carry = jax.tree.map(lambda x, y: jnp.asarray(x).at[todo].set(y), carry, new_part)
            wall = round(time.time() - start, 3)
            for j, i in enumerate(todo):
                writers[i].write([runner.metrics_row(env, stats, j, int(end), points[i].seed, wall,
                                                       on_policy=algo.on_policy)])
                runs[i].save_checkpoint(jax.tree.map(lambda x: x[j:j + 1], on_host))
                done[i] = end
            bar.update(num_steps * todo.size)
    finally:
        bar.close()
    return SweepResult(sweep_dir=out_dir, points=points, run_dirs=[r.path for r in runs], carry=carry,
                       env_steps=int(done.min()) if len(done) else 0)


def summary(result: SweepResult) -> list[str]:
    """One line per point: its directory and its last logged mean return."""
    lines = []
    for p, path in zip(result.points, result.run_dirs):
        rows = RunDir.open(path).read_metrics()
        last = next((r["mean_return"] for r in reversed(rows) if r.get("mean_return")), "")
        shown = f"{float(last):.2f}" if last else "n/a"
        lines.append(f"{path.name}: last mean return {shown}")
    return lines


def padding_note(num_points: int, num_devices: int) -> str | None:
    """A line for stderr when the grid is padded to the device count."""
    size = padded_size(num_points, num_devices)
    if size == num_points:
        return None
    return f"softq-ref: {num_points} grid points on {num_devices} devices: padded to {size} (the copies are discarded)"


__all__ = ["GridPoint", "SweepError", "SweepResult", "make_grid", "parse_values", "sweep", "resume", "grid_mesh",
           "padded_size", "init_point_carries", "read_manifest", "summary"]
