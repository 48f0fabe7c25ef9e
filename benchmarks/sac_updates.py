"""Updates per second of our SAC and sbx's SAC, measured alternately in one process (issue 11, item 1).

``benchmarks/sbx_sac.py`` times the two one after the other; on a shared machine the load
changes between them, so its ratio can move by more than the difference it measures. Here
both updates are built first and then timed in alternating chunks (``--chunk`` updates of
one, then of the other, the order swapped every round), so that each round's ratio compares
two figures taken under the same load; the figure reported is the median over rounds.

What is timed is the same as in ``sbx_sac.py``: our jitted ``sac.train_step`` called once per
update from Python on a fixed random batch of the HalfCheetah-v5 sizes (carry donated, as the
host loop calls it), and sbx's ``SAC.train(gradient_steps=1, batch_size=256)`` on a buffer
filled by 1,100 environment steps (its jitted update plus its Python-side replay sampling and
logging, as its ``learn`` calls it). Same settings for both: 2x256 ReLU, Adam 3e-4, batch 256,
``tau = 0.005``, learned temperature. Our update is also timed inside a ``lax.scan`` (no
dispatch) and reported against a float32 matmul ceiling measured just before it.

Usage::

    python -m benchmarks.sac_updates                      # 12 rounds of 100 updates each
    python -m benchmarks.sac_updates --rounds 20 --chunk 50 --out sac.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from benchmarks.agent import cost_flops, random_batch
from benchmarks.ceilings import matmul_gflops
from benchmarks.timing import load_average, machine
from softq_ref.agent import sac

ENV_ID = "HalfCheetah-v5"
OBS_DIM, ACTION_DIM = 17, 6


def ours(chunk: int):
    """A thunk running ``chunk`` of our updates, one jitted call each; returns seconds per update."""
    config = sac.SACConfig.preset_for("mujoco")
    state = sac.init(config, OBS_DIM, ACTION_DIM, jax.random.PRNGKey(0))
    state = jax.tree.map(lambda x: jnp.array(x, copy=True) if isinstance(x, jax.Array) else x, state)
    batch = random_batch(jax.random.PRNGKey(1), config.batch_size, OBS_DIM, ACTION_DIM)
    step = jax.jit(sac.train_step, donate_argnums=0)
    keys = list(jax.random.split(jax.random.PRNGKey(2), chunk))
    box = {"state": step(state, batch, keys[0])[0]}
    jax.block_until_ready(box["state"])

    def run() -> float:
        start = time.perf_counter()
        for k in keys:
            box["state"], metrics = step(box["state"], batch, k)
        jax.block_until_ready(metrics)
        return (time.perf_counter() - start) / chunk

    return run


def ours_in_scan(scan_len: int):
    """A thunk timing one ``lax.scan`` of ``scan_len`` updates (seconds per update), and XLA's FLOPs per update."""
    config = sac.SACConfig.preset_for("mujoco")
    state = sac.init(config, OBS_DIM, ACTION_DIM, jax.random.PRNGKey(0))
    state = jax.tree.map(lambda x: jnp.array(x, copy=True) if isinstance(x, jax.Array) else x, state)
    batch = random_batch(jax.random.PRNGKey(1), config.batch_size, OBS_DIM, ACTION_DIM)
    flops = cost_flops(jax.jit(sac.train_step).lower(state, batch, jax.random.PRNGKey(0)).compile())

    def many(s, key):
        return jax.lax.scan(lambda c, k: (sac.train_step(c, batch, k)[0], None), s, jax.random.split(key, scan_len))[0]

    many = jax.jit(many, donate_argnums=0)
    box = {"state": many(state, jax.random.PRNGKey(3)), "i": 3}
    jax.block_until_ready(box["state"])

    def run() -> float:
        box["i"] += 1
        start = time.perf_counter()
        box["state"] = jax.block_until_ready(many(box["state"], jax.random.PRNGKey(box["i"])))
        return (time.perf_counter() - start) / scan_len

    return run, flops


def sbx(chunk: int):
    """A thunk running ``chunk`` of sbx's updates; ``None`` when sbx is not installed."""
    if importlib.util.find_spec("sbx") is None:
        return None
    import gymnasium as gym
    from sbx import SAC

    model = SAC("MlpPolicy", gym.make(ENV_ID), learning_rate=3e-4, buffer_size=1_000_000, batch_size=256, tau=0.005,
                gamma=0.99, train_freq=1, gradient_steps=1, learning_starts=1000,
                policy_kwargs={"net_arch": [256, 256]}, seed=0)
    model.learn(total_timesteps=1100)  # fills the buffer past learning_starts and compiles the update

    def run() -> float:
        start = time.perf_counter()
        for _ in range(chunk):
            model.train(gradient_steps=1, batch_size=256)
        return (time.perf_counter() - start) / chunk

    return run


def measure(rounds: int, chunk: int, scan_len: int = 50) -> dict:
    run_ours, run_sbx = ours(chunk), sbx(chunk)
    run_scan, flops = ours_in_scan(scan_len)
    for fn in (run_ours, run_sbx, run_scan):  # one warm round each
        if fn is not None:
            fn()
    t_ours, t_sbx, ratio, scan, ceiling_ratio = [], [], [], [], []
    for r in range(rounds):
        order = [("ours", run_ours), ("sbx", run_sbx)]
        if r % 2:
            order.reverse()
        got = {name: fn() for name, fn in order if fn is not None}
        t_ours.append(got["ours"])
        if "sbx" in got:
            t_sbx.append(got["sbx"])
            ratio.append(got["sbx"] / got["ours"])  # > 1: ours faster
        ceiling = matmul_gflops(sizes=(1024,), repeats=3)["gflops"]
        t = run_scan()
        scan.append(t)
        ceiling_ratio.append(flops / t / 1e9 / ceiling)
    out = {
        "rounds": rounds,
        "chunk": chunk,
        "ours_updates_per_s": {"median": 1 / statistics.median(t_ours), "best": 1 / min(t_ours)},
        "ours_in_scan": {"median_ms": 1e3 * statistics.median(scan), "xla_gflop": flops / 1e9,
                         "ceiling_ratio_paired": statistics.median(ceiling_ratio)},
    }
    if t_sbx:
        out["sbx_updates_per_s"] = {"median": 1 / statistics.median(t_sbx), "best": 1 / min(t_sbx)}
        out["ours_over_sbx_per_round"] = {"median": statistics.median(ratio), "min": min(ratio), "max": max(ratio),
                                          "rounds_ours_faster": sum(x > 1 for x in ratio)}
    else:
        out["sbx_updates_per_s"] = "not measured: sbx is not installed (pip install 'softq_ref[bench]')"
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="alternating rounds (default 12)")
    parser.add_argument("--chunk", type=int, default=100, help="updates of each per round (default 100)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.chunk < 1:
        print("sac_updates: --rounds and --chunk must be positive", file=sys.stderr)
        return 2
    report = {"machine": machine(), "env": ENV_ID, "load_average_start": load_average()}
    report.update(measure(args.rounds, args.chunk))
    report["load_average_end"] = load_average()
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
