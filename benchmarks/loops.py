"""The two training loops: the fully jitted multi-goal loop and the gymnasium host loop.

* **jitted loop** -- ``softq_ref.train.jax_loop.make_chunk`` with the SQL algorithm on
  ``softq_ref.envs.jax_env.multigoal_env()`` at the ``multigoal`` preset: per environment
  step, act + step + store + sample + ``train_step``, all inside one ``lax.scan``; then
  1, 2, 4 and 8 seeds as one ``jax.vmap``-ed program (as ``softq_ref.train.runner`` runs
  them); and, in the full run, ``train_jax`` end to end for 10,000 steps of one seed.
* **host loop** -- ``softq_ref.train.gym_loop.train_gym`` on ``HalfCheetah-v5`` at the
  ``mujoco`` preset, one update per environment step; its steady-state rate is read from
  the wall-clock column of the run's ``metrics.csv`` after the first learning steps (which
  include compilation).  The raw environment rate with random actions is measured too.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import summary
from softq_ref.agent import SQL
from softq_ref.agent.config import SQLConfig
from softq_ref.envs.jax_env import multigoal_env
from softq_ref.train import jax_loop

TEN_K = 10_000


def _carries(config, env, seeds: int):
    keys = jnp.stack([jax.random.PRNGKey(s) for s in range(seeds)])
    carry = jax.vmap(lambda k: jax_loop.init_carry(SQL, config, env, k))(keys)
    return jax.tree.map(lambda x: jnp.array(x, copy=True), carry)


def xla_cost(jitted, *args) -> dict | None:
    """XLA's own estimate of one scan step of a compiled chunk: FLOPs and bytes accessed (all seeds together).

    XLA's cost analysis counts a loop's body once, whatever its trip count (on this CPU a chunk of one step
    and one of two give the same figures to three digits; ``tests/test_benchmarks_device.py`` checks it), so for a chunk, one ``lax.scan`` over environment steps,
    the figures are per environment step.  Bytes accessed are summed over the compiled program's operations
    after fusion, for the device it was compiled for; divided by the measured time per step they say how
    close a step runs to the memory's bandwidth.  ``None`` where the backend gives no estimate.
    """
    try:
        analysis = jitted.lower(*args).compile().cost_analysis()
    except Exception:  # noqa: BLE001 -- an estimate, never a reason to lose the timing
        return None
    if isinstance(analysis, list):
        analysis = analysis[0] if analysis else None
    if not analysis:
        return None
    return {"flops": float(analysis.get("flops", 0.0)), "bytes_accessed": float(analysis.get("bytes accessed", 0.0))}


def bench_jitted_loop(seeds: int, steps: int, repeats: int, total_steps: int = TEN_K, reference=None) -> dict:
    """Seconds per environment step (with one update each) of ``seeds`` vmapped seeds.

    ``total_steps`` sets the replay capacity the runner would allocate (``min(10^6,
    total_steps)``).  ``reference``, a thunk returning the seconds per update of
    ``train_step`` in a scan, is timed alternately with the loop when given.
    """
    config = SQLConfig(total_steps=total_steps)
    env = multigoal_env()
    carry = _carries(config, env, seeds)
    warmup = jax.jit(jax.vmap(jax_loop.make_chunk(SQL, config, env, config.min_replay_size, learn=False)), donate_argnums=0)
    carry, _ = warmup(carry)
    jax.block_until_ready(carry)
    chunk = jax.jit(jax.vmap(jax_loop.make_chunk(SQL, config, env, steps, learn=True)), donate_argnums=0)
    cost = xla_cost(chunk, carry)
    t0 = time.perf_counter()
    carry, stats = chunk(carry)
    jax.block_until_ready(carry)
    first_s = time.perf_counter() - t0
    times, ref_times = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        carry, stats = chunk(carry)
        jax.block_until_ready((carry, stats))
        times.append((time.perf_counter() - t0) / steps)
        if reference is not None:
            ref_times.append(reference())
    # The warm-up chunk (acting and storing, no updates), timed compiled on fresh carries.
    fresh = _carries(config, env, seeds)
    t0 = time.perf_counter()
    fresh, _ = warmup(fresh)
    jax.block_until_ready(fresh)
    warmup_step_s = (time.perf_counter() - t0) / config.min_replay_size
    out = {
        "seeds": seeds,
        "replay_capacity": jax_loop.buffer_capacity(config),
        "chunk_steps": steps,
        "per_step": summary(times),
        "warmup_step_s": warmup_step_s,
        "first_chunk_with_compile_s": first_s,
        "finite": bool(np.all(np.isfinite(np.asarray(stats.metrics["q_loss"])))),
        "xla_cost_per_step": cost,
    }
    if ref_times:
        out["train_step_in_scan"] = summary(ref_times)
        out["overhead_paired"] = statistics.median(t / r for t, r in zip(times, ref_times)) - 1.0
    return out


def bench_train_jax_end_to_end(steps: int = TEN_K) -> dict:
    """``softq_ref.train.runner.train_jax`` for ``steps`` steps of one seed, compile and I/O included."""
    from softq_ref.train.runner import train_jax

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train_jax(SQLConfig(total_steps=steps), seeds=[0], out_dir=Path(tmp) / "run", progress=False)
        return {"steps": steps, "wall_s": time.perf_counter() - t0}


def bench_env_random(env_id: str, steps: int) -> dict:
    """Raw gymnasium steps per second with random actions (the environment's own cost)."""
    from softq_ref.train.gym_loop import make_env

    env = make_env(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]
    t0 = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - t0
    env.close()
    return {"env_id": env_id, "steps": steps, "steps_per_s": steps / elapsed, "step_s": elapsed / steps}


def host_breakdown(env_id: str, warmup: int, steps: int) -> dict:
    """Where a host-loop step's time goes: the loop of ``train_gym`` re-timed piece by piece.

    Same calls as ``train_gym`` (``make_flat_host_step``, ``pack_step_input``,
    ``rescale_action``), no logging; medians over ``steps`` learning steps, in seconds.
    """
    from softq_ref.agent.config import SQLConfig as _Config
    from softq_ref.train import gym_loop

    config = _Config.preset_for("mujoco", env_id).replace(min_replay_size=warmup, total_steps=warmup + steps)
    env = gym_loop.make_env(env_id, config.max_path_length)
    obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
    low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
    carry = gym_loop._init_carry(SQL, config, obs_dim, action_dim, 0)
    leaves, treedef = jax.tree.flatten(carry)
    steps_fn = {learn: jax.jit(gym_loop.make_flat_host_step(SQL, config, learn, treedef, obs_dim, action_dim), donate_argnums=0)
                for learn in (False, True)}
    obs, _ = env.reset(seed=0)
    action = np.zeros(action_dim, np.float32)
    parts = {"env_step": [], "pack": [], "dispatch": [], "wait_for_action": []}
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        a = np.asarray(action)
        t1 = time.perf_counter()
        next_obs, reward, terminated, truncated, _ = env.step(gym_loop.rescale_action(a, low, high))
        act_obs = env.reset()[0] if (terminated or truncated) else next_obs
        t2 = time.perf_counter()
        packed = gym_loop.pack_step_input(obs, a, reward, next_obs, terminated, act_obs)
        t3 = time.perf_counter()
        leaves, action, _ = steps_fn[i >= warmup](leaves, packed)
        t4 = time.perf_counter()
        obs = act_obs
        if i >= warmup + 20:  # past the compilation of the learning step
            parts["wait_for_action"].append(t1 - t0)
            parts["env_step"].append(t2 - t1)
            parts["pack"].append(t3 - t2)
            parts["dispatch"].append(t4 - t3)
    env.close()
    out = {k: statistics.median(v) for k, v in parts.items()}
    out["sum"] = sum(out.values())
    return out


def bench_host_loop(env_id: str, warmup: int, steps: int, log_every: int = 100, reference=None,
                    dispatch: str = "auto") -> dict:
    """Steady-state environment steps per second of ``train_gym`` with one update per step.

    ``dispatch``: ``train_gym``'s (``step``: one compiled call per environment step;
    ``callback``: one per stretch of ``log_every`` steps; ``auto``: what this device gets).

    ``reference`` (seconds per update of ``train_step`` in a scan) is timed just before and
    just after the run, and the overhead is taken against their mean.
    """
    from softq_ref.io import checkpoint as ckpt
    from softq_ref.train.gym_loop import resolve_dispatch, train_gym

    config = SQLConfig.preset_for("mujoco", env_id).replace(min_replay_size=warmup, total_steps=warmup + steps)
    before = [reference() for _ in range(3)] if reference else []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train_gym(config, env_id=env_id, seed=0, out_dir=Path(tmp) / "run", log_every=log_every,
                  checkpoint_every=10 * (warmup + steps), progress=False, dispatch=dispatch)
        wall = time.perf_counter() - t0
        rows = ckpt.read_metrics(Path(tmp) / "run" / ckpt.METRICS)
    after = [reference() for _ in range(3)] if reference else []
    # Rows are written every log_every steps; skip the first learning rows (compilation).
    points = [(int(r["step"]), float(r["wall_time"])) for r in rows]
    start_step = warmup + 2 * log_every
    steady = [p for p in points if p[0] >= start_step]
    (s0, w0), (s1, w1) = steady[0], steady[-1]
    step_s = (w1 - w0) / (s1 - s0)
    out = {"env_id": env_id, "dispatch": resolve_dispatch(dispatch), "warmup": warmup, "learning_steps": steps, "measured_steps": s1 - s0,
           "step_s": step_s, "steps_per_s": 1.0 / step_s, "total_wall_s": wall}
    if reference:
        ref = 0.5 * (statistics.median(before) + statistics.median(after))
        out["train_step_in_scan_s"] = ref
        out["overhead_paired"] = step_s / ref - 1.0
    return out


def run(quick: bool) -> dict:
    from benchmarks.agent import scan_timer

    steps = 200 if quick else 1000
    repeats = 2 if quick else 3
    out = {"jitted": {}}
    multigoal_ref, _ = scan_timer("multigoal", None, 2, 2, steps)
    for seeds in (1, 2, 4, 8):
        out["jitted"][str(seeds)] = bench_jitted_loop(seeds, steps, repeats, reference=multigoal_ref if seeds == 1 else None)
    out["jitted_1e6_buffer"] = bench_jitted_loop(1, steps, repeats, total_steps=1_000_000, reference=multigoal_ref)
    one = out["jitted"]["1"]
    warm = SQLConfig(total_steps=TEN_K).min_replay_size
    out["extrapolated_10k_s"] = warm * one["warmup_step_s"] + (TEN_K - warm) * one["per_step"]["median_s"]
    if not quick:
        out["train_jax_10k"] = bench_train_jax_end_to_end(TEN_K)
    out["env_random"] = bench_env_random("HalfCheetah-v5", 2000 if quick else 10_000)
    mujoco_ref, _ = scan_timer("mujoco", "HalfCheetah-v5", 17, 6, 20 if quick else 100)
    out["host"] = bench_host_loop("HalfCheetah-v5", warmup=200, steps=500 if quick else 2000, reference=mujoco_ref,
                                  dispatch="step")
    # The same loop with one compiled call per stretch of steps.
    out["host_callback"] = bench_host_loop("HalfCheetah-v5", warmup=200, steps=500 if quick else 2000,
                                           reference=mujoco_ref, dispatch="callback")
    out["host_callback_over_step"] = out["host_callback"]["step_s"] / out["host"]["step_s"]
    # And with the carry handed over as a few flat arrays (the accelerators' default since 2026-12-01).
    out["host_flat"] = bench_host_loop("HalfCheetah-v5", warmup=200, steps=500 if quick else 2000,
                                       reference=mujoco_ref, dispatch="flat")
    out["host_flat_over_step"] = out["host_flat"]["step_s"] / out["host"]["step_s"]
    out["host_breakdown"] = host_breakdown("HalfCheetah-v5", warmup=200, steps=300 if quick else 1000)
    return out
