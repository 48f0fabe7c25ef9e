"""``softq_ref.agent.sql.train_step`` at the published sizes: time, FLOPs, compile time.

Two timings of one update, both after compilation:

* **per call** -- ``jax.jit(train_step, donate_argnums=0)`` called once per update from
  Python, as a host loop would, waiting for each result (includes dispatch);
* **in scan** -- ``lax.scan`` over many updates in one compiled program (the device time
  of an update, as inside the fully jitted loop; the figure the loops are compared with,
  and the one the GFLOP/s rate is computed from).  Each timed scan is preceded by a short
  matmul-ceiling measurement, and the ratio to the ceiling is the median of these pairs,
  so that load from other processes affects numerator and denominator alike.

FLOPs come from XLA's cost analysis of the compiled step and, independently, from the
hand count in :mod:`benchmarks.flops`.
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp

from benchmarks.ceilings import matmul_gflops
from benchmarks.flops import Sizes, sql_update_flops
from benchmarks.timing import summary
from softq_ref.agent import sql
from softq_ref.agent.config import SQLConfig
from softq_ref.agent.replay import Transition

#: (name, preset, env id for the preset's temperature, obs dim, action dim)
PRESETS = (
    ("multigoal", "multigoal", None, 2, 2),
    ("mujoco", "mujoco", "HalfCheetah-v5", 17, 6),
)


def random_batch(key, batch_size: int, obs_dim: int, action_dim: int) -> Transition:
    k = jax.random.split(key, 4)
    return Transition(
        obs=jax.random.normal(k[0], (batch_size, obs_dim), jnp.float32),
        action=jax.random.uniform(k[1], (batch_size, action_dim), jnp.float32, -1.0, 1.0),
        reward=jax.random.normal(k[2], (batch_size,), jnp.float32),
        next_obs=jax.random.normal(k[3], (batch_size, obs_dim), jnp.float32),
        done=jnp.zeros((batch_size,), jnp.float32),
    )


def fresh_state(config: SQLConfig, obs_dim: int, action_dim: int, key):
    state = sql.init(config, obs_dim, action_dim, key)
    # Q and its target start as the same arrays; give each leaf its own buffer so it can be donated.
    return jax.tree.map(lambda x: jnp.array(x, copy=True), state)


def cost_flops(compiled) -> float:
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0]
    return float(analysis.get("flops", float("nan")))


def scan_timer(preset: str, env_id, obs_dim: int, action_dim: int, scan_len: int):
    """A compiled ``lax.scan`` of ``scan_len`` updates and a thunk timing one run of it (seconds per update)."""
    config = SQLConfig.preset_for(preset, env_id)
    state = fresh_state(config, obs_dim, action_dim, jax.random.PRNGKey(0))
    batch = random_batch(jax.random.PRNGKey(1), config.batch_size, obs_dim, action_dim)

    def many(state, key):
        def body(s, k):
            s, m = sql.train_step(s, batch, k)
            return s, m["q_loss"]

        return jax.lax.scan(body, state, jax.random.split(key, scan_len))

    many = jax.jit(many, donate_argnums=0)
    box = {"state": state, "i": 0}

    def run_once() -> float:
        box["i"] += 1
        t0 = time.perf_counter()
        box["state"], losses = many(box["state"], jax.random.PRNGKey(box["i"]))
        jax.block_until_ready((box["state"], losses))
        box["last_q_loss"] = float(losses[-1])
        return (time.perf_counter() - t0) / scan_len

    run_once()  # compile
    return run_once, box


def bench_train_step(preset: str, env_id, obs_dim: int, action_dim: int, *, calls: int, scan_len: int, scans: int,
                     ceiling_sizes=(1024,)) -> dict:
    config = SQLConfig.preset_for(preset, env_id)
    key = jax.random.PRNGKey(0)
    state = fresh_state(config, obs_dim, action_dim, key)
    batch = random_batch(jax.random.PRNGKey(1), config.batch_size, obs_dim, action_dim)

    step = jax.jit(sql.train_step, donate_argnums=0)
    start = time.perf_counter()
    compiled = step.lower(state, batch, key).compile()
    compile_s = time.perf_counter() - start
    xla_flops = cost_flops(compiled)

    # Per call: a fresh key each update, the state donated and threaded through.
    keys = jax.random.split(jax.random.PRNGKey(2), calls + 5)
    for i in range(5):
        state, metrics = compiled(state, batch, keys[i])
    jax.block_until_ready(state)
    times = []
    for i in range(5, calls + 5):
        t0 = time.perf_counter()
        state, metrics = compiled(state, batch, keys[i])
        jax.block_until_ready((state, metrics))
        times.append(time.perf_counter() - t0)
    per_call = summary(times)
    # The same update with the state as one array per dtype (softq_ref.train.flat_carry), as the
    # host loop's flat dispatch hands its carry over: on an H200 (2026-12-01) 0.30 ms a call against
    # 0.87 ms with the state as its 61 arrays.
    from benchmarks.dispatch_probe import per_call_flat

    per_call_flat_s = summary(per_call_flat(sql.train_step, state, batch, list(keys)))

    # In scan, each run paired with a matmul-ceiling measurement taken just before it, so the
    # ratio compares two figures measured under the same load.
    run_scan, box = scan_timer(preset, env_id, obs_dim, action_dim, scan_len)
    times, ratios = [], []
    for _ in range(scans):
        ceiling = matmul_gflops(sizes=ceiling_sizes, repeats=3)["gflops"]
        t = run_scan()
        times.append(t)
        ratios.append(xla_flops / t / 1e9 / ceiling)
    in_scan = summary(times)

    sizes = Sizes(config.batch_size, obs_dim, action_dim, tuple(config.hidden_sizes), config.value_samples,
                  config.num_fixed_particles, config.num_updated_particles)
    hand = sql_update_flops(sizes)
    return {
        "preset": preset,
        "env_id": env_id,
        "sizes": sizes.__dict__,
        "compile_s": compile_s,
        "per_call": per_call,
        "per_call_flat": per_call_flat_s,
        "in_scan": in_scan,
        "xla_flops": xla_flops,
        "hand_flops": hand,
        "hand_over_xla": hand["total"] / xla_flops,
        "gflops_in_scan": xla_flops / in_scan["median_s"] / 1e9,
        "gflops_per_call": xla_flops / per_call["median_s"] / 1e9,
        "ceiling_ratio_paired": statistics.median(ratios),
        "last_q_loss": box["last_q_loss"],
    }


def run(quick: bool) -> dict:
    out = {}
    for name, preset, env_id, obs_dim, action_dim in PRESETS:
        out[name] = bench_train_step(
            preset, env_id, obs_dim, action_dim,
            calls=50 if quick else 300, scan_len=20 if quick else 100, scans=3 if quick else 7,
            ceiling_sizes=(1024,) if quick else (1024, 2048),
        )
    return out
