"""The accelerator figures of issue 13, on whatever ``jax.default_backend()`` is (``--gpu`` / ``--only device``).

* **matmul ceilings**: ``jax.jit(a @ b)`` in bfloat16 and float32 (``2 n^3`` FLOPs; on a GPU
  float32 may run in TF32 under JAX's default matmul precision: the figure is what ``@`` gets);
* **train_step** at the MuJoCo preset (HalfCheetah sizes): median per update inside
  ``lax.scan`` and per jitted call (donated state, ``block_until_ready``);
* **vmapped seeds**: the jitted multi-goal loop (act, step, store, sample, update) with
  1 .. 1024 seeds as one ``vmap``, seconds per environment step and the ratio to one seed;
* **sweep**: 16 grid points (seeds x temperatures, :mod:`softq_ref.train.sweep`'s carries and
  sharding over every local device) against one point, seconds per step;
* **host loop**: ``train_gym`` on HalfCheetah-v5, steady-state steps per second under the
  callback dispatch (the default) and the per-step dispatch, and where a per-step dispatch step's time goes (``benchmarks.loops.host_breakdown``: waiting for the action, dispatch,
  ``env.step``).

Targets (issue 13, on a GPU): 16 grid points <= 2x one; ``train_step`` per call <= 0.3 ms;
host loop >= 2,000 steps/s; 1024 seeds <= 32x one.  On a CPU the same code runs (``--quick``
is its smoke test); its figures answer other questions (see docs/benchmarks.md).
"""

from __future__ import annotations

import json
import sys
import time

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec

from benchmarks.timing import summary

TARGETS = {
    "sweep16_over_one": ("16 grid points / 1 point, per step", "<=", 2.0),
    "seeds1024_over_one": ("1024 vmapped seeds / 1 seed, per step", "<=", 32.0),
    "train_step_per_call_ms": ("train_step per call, mujoco preset, state as flat arrays (ms)", "<=", 0.3),
    "host_steps_per_s": ("host loop, HalfCheetah-v5, auto dispatch (steps/s)", ">=", 2000.0),
}


def _chunk_timer(carry, chunk, repeats: int, steps: int) -> tuple[dict, float]:
    """Compile (first call) and time ``repeats`` calls of a donated chunk; seconds per step."""
    t0 = time.perf_counter()
    carry, _ = chunk(carry)
    jax.block_until_ready(carry)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        carry, stats = chunk(carry)
        jax.block_until_ready((carry, stats))
        times.append((time.perf_counter() - t0) / steps)
    return summary(times), first


def bench_grid(num_points: int, steps: int, repeats: int) -> dict:
    """Seconds per step of a sweep of ``num_points`` points (temperatures x one seed), as ``sweep`` runs it."""
    from softq_ref.agent.config import SQLConfig
    from softq_ref.agent import registry
    from softq_ref.envs.jax_env import multigoal_env
    from softq_ref.train import jax_loop, sweep

    config = SQLConfig(total_steps=10_000)
    env = multigoal_env()
    algo = registry.for_config(config)
    points = sweep.make_grid(config, {"alpha": [0.5 + 0.5 * i for i in range(num_points)]}, [0])
    mesh = sweep.grid_mesh()
    size = sweep.padded_size(num_points, mesh.devices.size)
    sharding = NamedSharding(mesh, PartitionSpec("grid"))
    carry = jax.device_put(sweep._pad(sweep.init_point_carries(algo, config, env, points), size), sharding)
    warm = jax.jit(jax.vmap(jax_loop.make_chunk(algo, config, env, config.min_replay_size, False)),
                   in_shardings=sharding, out_shardings=sharding, donate_argnums=0)
    carry, _ = warm(carry)
    chunk = jax.jit(jax.vmap(jax_loop.make_chunk(algo, config, env, steps, True)),
                    in_shardings=sharding, out_shardings=sharding, donate_argnums=0)
    per_step, first = _chunk_timer(carry, chunk, repeats, steps)
    return {"points": num_points, "padded_to": size, "devices": int(mesh.devices.size), "per_step": per_step,
            "first_chunk_with_compile_s": first}


def _progress(name: str, out: dict, partial) -> None:
    """One line per finished piece on stderr, and the figures so far written to ``partial``.

    A device lease can end mid-run (its command has a hard time limit): whatever was measured
    before that stays in the log and in the partial JSON.
    """
    value = out[name]
    brief = json.dumps(value, default=str)
    print(f"[device] {name}: {brief[:300]}", file=sys.stderr, flush=True)
    if partial is not None:
        partial.write_text(json.dumps(out, indent=1, default=str) + "\n")


def run(quick: bool, partial=None) -> dict:
    """The device section; ``partial`` (a path) receives the figures measured so far after each piece."""
    from benchmarks import agent, ceilings, loops

    out = {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]}
    sizes = (1024,) if quick else (2048, 4096)
    out["matmul_f32"] = ceilings.matmul_gflops(sizes=sizes, repeats=3 if quick else 10, dtype=jnp.float32)
    out["matmul_bf16"] = ceilings.matmul_gflops(sizes=sizes, repeats=3 if quick else 10, dtype=jnp.bfloat16)
    _progress("matmul_f32", out, partial)
    _progress("matmul_bf16", out, partial)
    out["train_step_mujoco"] = agent.bench_train_step(
        "mujoco", "HalfCheetah-v5", 17, 6, calls=30 if quick else 300, scan_len=10 if quick else 200,
        scans=2 if quick else 5, ceiling_sizes=(1024,))
    _progress("train_step_mujoco", out, partial)
    # The host loop before the seeds and the sweep: its figures are the ones a lease cut short most needs.
    # `host` is what `auto` picks on this device (flat on an accelerator), the figure the target is judged on.
    out["host"] = loops.bench_host_loop("HalfCheetah-v5", warmup=200, steps=300 if quick else 3000,
                                        log_every=50 if quick else 500, dispatch="auto")
    _progress("host", out, partial)
    # The other dispatches: per step with the carry as its leaves (634 steps/s on the H200 of 2026-11-30,
    # 640 on 2026-12-01) and the callback one (479 on 2026-12-01).
    for name, dispatch in (("host_step_dispatch", "step"), ("host_callback_dispatch", "callback")):
        out[name] = loops.bench_host_loop("HalfCheetah-v5", warmup=200, steps=300 if quick else 2000,
                                          log_every=50 if quick else 500, dispatch=dispatch)
        _progress(name, out, partial)
    # Where a host-loop step's time goes on this device (wait for the action, dispatch, env.step, packing).
    out["host_breakdown"] = loops.host_breakdown("HalfCheetah-v5", warmup=200, steps=100 if quick else 500)
    _progress("host_breakdown", out, partial)
    # The memory's bandwidth, to read the vmapped seeds' bytes per step against (are 1024 seeds memory-bound?).
    out["copy_bandwidth"] = ceilings.copy_bandwidth(megabytes=64 if quick else 1024, repeats=3 if quick else 10)
    _progress("copy_bandwidth", out, partial)
    steps = 50 if quick else 500
    seeds_list = (1, 4) if quick else (1, 16, 128, 1024)
    out["vmapped_seeds"] = {}
    for n in seeds_list:
        r = loops.bench_jitted_loop(n, steps, 2 if quick else 3)
        out["vmapped_seeds"][str(n)] = {"per_step": r["per_step"], "first_chunk_with_compile_s": r["first_chunk_with_compile_s"],
                                        "xla_cost_per_step": r["xla_cost_per_step"]}
        _progress("vmapped_seeds", out, partial)
    one = out["vmapped_seeds"]["1"]["per_step"]["median_s"]
    last = str(seeds_list[-1])
    out["seeds_ratio"] = {"seeds": int(last), "over_one": out["vmapped_seeds"][last]["per_step"]["median_s"] / one}
    grid_n = 4 if quick else 16
    g1 = bench_grid(1, steps, 2 if quick else 3)
    gn = bench_grid(grid_n, steps, 2 if quick else 3)
    out["sweep"] = {"one": g1, "many": gn, "over_one": gn["per_step"]["median_s"] / g1["per_step"]["median_s"]}
    _progress("sweep", out, partial)
    return out


def table(res: dict) -> str:
    """A Markdown table of the device section, with PASS/MISS against issue 13's GPU targets."""
    figures = {
        "sweep16_over_one": res["sweep"]["over_one"] if res["sweep"]["many"]["points"] == 16 else None,
        "seeds1024_over_one": res["seeds_ratio"]["over_one"] if res["seeds_ratio"]["seeds"] == 1024 else None,
        "train_step_per_call_ms": 1e3 * res["train_step_mujoco"].get("per_call_flat", res["train_step_mujoco"]["per_call"])["median_s"],
        "host_steps_per_s": res["host"]["steps_per_s"],
    }
    ts = res["train_step_mujoco"]
    rows = [
        ("backend / devices", f"{res['backend']} / {len(res['devices'])}", "", ""),
        ("matmul bf16 (GFLOP/s, best)", f"{res['matmul_bf16']['gflops']:.0f}", "", ""),
        ("matmul f32 (GFLOP/s, best)", f"{res['matmul_f32']['gflops']:.0f}", "", ""),
        ("train_step mujoco in scan (ms)", f"{1e3 * ts['in_scan']['median_s']:.3f}", "", ""),
        ("train_step mujoco GFLOP/s / f32 matmul (paired)", f"{ts['ceiling_ratio_paired']:.2f}", "", ""),
    ]
    copy = res.get("copy_bandwidth", {}).get("jax_copy_gbs")
    if copy:
        rows.append(("JAX copy bandwidth, read + write (GB/s, best)", f"{copy:.0f}", "", ""))
    for n, r in res["vmapped_seeds"].items():
        rows.append((f"jitted loop, {n} seeds (ms/step)", f"{1e3 * r['per_step']['median_s']:.3f}", "", ""))
        cost = r.get("xla_cost_per_step")
        if cost and cost["bytes_accessed"]:
            t = r["per_step"]["median_s"]
            rate = f"{cost['bytes_accessed'] / t / 1e9:.0f} GB/s" + (f" ({cost['bytes_accessed'] / t / 1e9 / copy:.2f} of copy)" if copy else "")
            rows.append((f"  {n} seeds: XLA's bytes / FLOPs per step; bytes / time",
                         f"{cost['bytes_accessed'] / 1e6:.1f} MB / {cost['flops'] / 1e9:.2f} GFLOP; {rate}", "", ""))
    rows.append((f"sweep, {res['sweep']['many']['points']} points on {res['sweep']['many']['devices']} device(s) (ms/step)",
                 f"{1e3 * res['sweep']['many']['per_step']['median_s']:.3f}", "", ""))
    rows.append(("sweep, 1 point (ms/step)", f"{1e3 * res['sweep']['one']['per_step']['median_s']:.3f}", "", ""))
    rows.append(("train_step mujoco per call, state as its leaves (ms)",
                 f"{1e3 * ts['per_call']['median_s']:.3f}", "", ""))
    if "host" in res and "dispatch" in res["host"]:
        rows.append((f"host loop, auto dispatch = {res['host']['dispatch']} (steps/s)", f"{res['host']['steps_per_s']:.0f}", "", ""))
    for name, label in (("host_step_dispatch", "per-step"), ("host_callback_dispatch", "callback")):
        if name in res:
            rows.append((f"host loop, {label} dispatch (steps/s)", f"{res[name]['steps_per_s']:.0f}", "", ""))
    hb = res.get("host_breakdown")
    if hb:
        rows.append(("host step: wait for action / dispatch / env.step (ms)",
                     f"{1e3 * hb['wait_for_action']:.3f} / {1e3 * hb['dispatch']:.3f} / {1e3 * hb['env_step']:.3f}", "", ""))
    rows.append((f"{res['seeds_ratio']['seeds']} seeds / 1 seed", f"{res['seeds_ratio']['over_one']:.2f}", "", ""))
    rows.append((f"{res['sweep']['many']['points']} points / 1 point", f"{res['sweep']['over_one']:.2f}", "", ""))
    for key, (label, op, target) in TARGETS.items():
        value = figures[key]
        if value is None:
            rows.append((label, "not measured at this size (--quick)", f"{op} {target:g}", ""))
            continue
        ok = value <= target if op == "<=" else value >= target
        verdict = ("PASS" if ok else "MISS") if res["backend"] != "cpu" else "(GPU target; CPU figure)"
        rows.append((label, f"{value:.3g}", f"{op} {target:g}", verdict))
    lines = ["| figure | value | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)
