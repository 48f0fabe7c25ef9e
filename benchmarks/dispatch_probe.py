"""``python -m benchmarks.dispatch_probe``: the per-call cost of ``train_step`` under this process's ``XLA_FLAGS``.

Issue 13, item 3: on a GPU the update computes in about 0.1 ms inside a ``lax.scan`` but cost
1.6 ms per call from Python, so the host loop is bound by launch and synchronisation, not by
compute.  The levers are on the device side (XLA's command buffers, i.e. CUDA graphs, which
replay a program's kernels as one launch) and are chosen by ``XLA_FLAGS``, which XLA reads once
per process.  So this module times one configuration per process; ``benchmarks/gpu.sh --dispatch``
runs it once per flag set and prints one line each:

* ``train_step`` at the MuJoCo preset (HalfCheetah sizes), donated state, one jitted call per
  update with ``block_until_ready``: median of ``--calls`` calls after 10 warm-up calls;
* the same update with the state handed over as the list of its ``state_leaves`` arrays
  (``per_call_leaves_*``, as the ``step`` dispatch does) and as one flat array per dtype
  (``per_call_flat_*``, as the ``flat`` dispatch does);
* with ``--host N``: the host loop (``train_gym`` on HalfCheetah-v5, one update per step) for
  ``N`` learning steps, steady-state steps per second, under the callback dispatch and the
  two per-step dispatches (``host_steps_per_s_callback``, ``_step``, ``_flat``).

It prints one JSON line (``XLA_FLAGS``, backend, figures), so a driver can collect the lines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def per_call_flat(train_step, state, batch, keys) -> list[float]:
    """Seconds per call of ``train_step`` with the state as one donated array per dtype (a few, not dozens).

    The same update; only what crosses the call differs (:mod:`softq_ref.train.flat_carry`, every
    leaf packed).  It asks whether the per-call cost on a device grows with the number of arrays
    handed over (``state_leaves`` in the output).
    """
    import jax
    import jax.numpy as jnp

    from softq_ref.train import flat_carry

    leaves, treedef = jax.tree.flatten(state)
    layout = flat_carry.layout_of(leaves, [True] * len(leaves))

    def step(arrays, batch, key):
        new_state, metrics = train_step(jax.tree.unflatten(treedef, flat_carry.split(arrays, layout)), batch, key)
        return flat_carry.join(jax.tree.leaves(new_state), layout, jnp), metrics

    arrays = flat_carry.join(leaves, layout, jnp)
    compiled = jax.jit(step, donate_argnums=0).lower(arrays, batch, keys[0]).compile()
    return time_calls(compiled, arrays, batch, keys)[1]


def per_call_leaves(train_step, state, batch, keys) -> list[float]:
    """Seconds per call with the state as the list of its leaves (what the ``step`` dispatch hands over).

    Between the Equinox state (its pytree taken apart in Python on every call) and
    :func:`per_call_flat` (a few arrays): it tells the cost of walking the pytree from the cost
    per array handed over.
    """
    import jax

    leaves, treedef = jax.tree.flatten(state)
    leaves = [jax.numpy.array(x, copy=True) for x in leaves]

    def step(leaves, batch, key):
        new_state, metrics = train_step(jax.tree.unflatten(treedef, leaves), batch, key)
        return jax.tree.leaves(new_state), metrics

    compiled = jax.jit(step, donate_argnums=0).lower(leaves, batch, keys[0]).compile()
    return time_calls(compiled, leaves, batch, keys)[1]


def time_calls(compiled, state, batch, keys):
    """``(state, seconds per call)``: ``compiled`` called on ``keys[:10]`` to warm up, then timed on the rest."""
    import jax

    for k in keys[:10]:
        state, metrics = compiled(state, batch, k)
    jax.block_until_ready(state)
    times = []
    for k in keys[10:]:
        t0 = time.perf_counter()
        state, metrics = compiled(state, batch, k)
        jax.block_until_ready((state, metrics))
        times.append(time.perf_counter() - t0)
    return state, times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dispatch_probe")
    parser.add_argument("--calls", type=int, default=300, help="timed calls of train_step (default 300)")
    parser.add_argument("--host", type=int, default=0, help="also time N learning steps of the host loop (default 0: no)")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.host < 0:
        parser.error("--calls must be at least 1 and --host at least 0")

    import jax

    from benchmarks.agent import fresh_state, random_batch
    from softq_ref.agent import sql
    from softq_ref.agent.config import SQLConfig

    config = SQLConfig.preset_for("mujoco", "HalfCheetah-v5")
    state = fresh_state(config, 17, 6, jax.random.PRNGKey(0))
    batch = random_batch(jax.random.PRNGKey(1), config.batch_size, 17, 6)
    t0 = time.perf_counter()
    compiled = jax.jit(sql.train_step, donate_argnums=0).lower(state, batch, jax.random.PRNGKey(2)).compile()
    compile_s = time.perf_counter() - t0
    keys = list(jax.random.split(jax.random.PRNGKey(3), args.calls + 10))
    state, times = time_calls(compiled, state, batch, keys)
    out = {"xla_flags": os.environ.get("XLA_FLAGS", ""), "backend": jax.default_backend(), "compile_s": compile_s,
           "per_call_ms_median": 1e3 * statistics.median(times), "per_call_ms_best": 1e3 * min(times),
           "state_leaves": len(jax.tree.leaves(state))}
    leaves = per_call_leaves(sql.train_step, state, batch, keys)
    out.update(per_call_leaves_ms_median=1e3 * statistics.median(leaves), per_call_leaves_ms_best=1e3 * min(leaves))
    flat = per_call_flat(sql.train_step, state, batch, keys)
    out.update(per_call_flat_ms_median=1e3 * statistics.median(flat), per_call_flat_ms_best=1e3 * min(flat))
    if args.host:
        from benchmarks.loops import bench_host_loop

        for dispatch in ("callback", "step", "flat"):
            host = bench_host_loop("HalfCheetah-v5", warmup=200, steps=args.host, log_every=max(50, args.host // 10),
                                   dispatch=dispatch)
            out[f"host_steps_per_s_{dispatch}"] = host["steps_per_s"]
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
