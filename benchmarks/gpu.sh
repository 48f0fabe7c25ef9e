#!/usr/bin/env bash
# The accelerator benchmark of issue 13 in one command (127 s on an H200, 2026-11-30):
#   bash benchmarks/gpu.sh            # full
#   bash benchmarks/gpu.sh --quick    # smoke run (also on a CPU)
# Writes benchmarks/results/device-<backend>.json (raw figures) and .txt (the table).
#   bash benchmarks/gpu.sh --dispatch [N] # train_step per call and N host-loop steps under four XLA_FLAGS sets
#                                         # (default, graphs from size 1, command buffers off, all command
#                                         # types incl. WHILE/CONDITIONAL): one JSON line each (issue 13, item 3)
#
# MuJoCo in the jitted loop (MJX; needs `pip install softq_ref[mjx]` and a jax with the device's plugin):
#   bash benchmarks/gpu.sh --mjx          # env steps/s of MJX HalfCheetah-v5 for 1..4096 vmapped scenes, then
#                                         # the issue's target: a 1M-step SQL run on it (--loop auto, which must
#                                         # pick the jitted loop on the accelerator) in under 15 minutes
#   bash benchmarks/gpu.sh --mjx --quick  # smoke run, also on a CPU (forces the jitted loop there)
#   MJX_SCENES="1 4096" bash benchmarks/gpu.sh --mjx ...   # only these scene counts in the env-step table
#   bash benchmarks/gpu.sh --mjx --steps 0        # the env-step table only, no training run
#   bash benchmarks/gpu.sh --mjx --steps 200000   # a shorter run where a device lease is short (made the
#                                         # warm-up and whole chunks, so no extra compile is timed): its
#                                         # steady rate (metrics.csv's wall_time, compile excluded) is then
#                                         # extrapolated to 1M steps and reported as an extrapolation
#   bash benchmarks/gpu.sh --mjx --num-envs 64    # the run steps 64 MJX scenes per seed, 64 updates per
#                                         # iteration (spec dev-num-envs): the route to the 15-minute target
# Writes benchmarks/results/mjx-<backend>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
"$PY" -c 'import jax; print("jax", jax.__version__, "backend", jax.default_backend(), jax.devices())'
if [[ "${1:-}" == "--dispatch" ]]; then
  # train_step per call (and the host loop's steps/s) under each XLA_FLAGS set, one process each.
  HOST="${2:-1000}"
  for flags in "" "--xla_gpu_graph_min_graph_size=1" "--xla_gpu_enable_command_buffer=" \
      "--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL --xla_gpu_graph_min_graph_size=1"; do
    XLA_FLAGS="$flags" timeout 120 "$PY" -m benchmarks.dispatch_probe --host "$HOST" 2>/dev/null | tail -1 \
      || echo "{\"xla_flags\": \"$flags\", \"failed\": true}"
  done
  exit 0
fi
if [[ "${1:-}" != "--mjx" ]]; then
  exec timeout 900 "$PY" -m benchmarks --gpu "$@"
fi
shift
QUICK=0
MJX_STEPS=""
MJX_NUM_ENVS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --steps) MJX_STEPS="${2:?--steps needs a number of environment steps}"; shift 2 ;;
    --num-envs) MJX_NUM_ENVS="${2:?--num-envs needs a number of environments per seed}"; shift 2 ;;
    *) echo "gpu.sh: unknown argument '$1' (expected --mjx [--quick] [--steps N] [--num-envs N])" >&2; exit 2 ;;
  esac
done
export QUICK MJX_STEPS MJX_NUM_ENVS
exec timeout 1500 "$PY" - <<'PYEOF'
import json, os, sys, tempfile, time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.envs import mjx_locomotion as ml
from softq_ref.train import launch

quick = os.environ["QUICK"] == "1"
backend = jax.default_backend()
out = {"backend": backend, "devices": [str(d) for d in jax.devices()], "jax": jax.__version__, "quick": quick}

# 1. Environment steps alone: jit(vmap(scan of 100 steps of random actions)), N scenes.
env = ml.half_cheetah_env()
inner = 20 if quick else 100


def steps(states, key):
    def body(s, k):
        a = jax.random.uniform(k, (s.qpos.shape[0], env.action_dim), minval=-1.0, maxval=1.0)
        keys = jax.random.split(k, s.qpos.shape[0])
        s, *_ = jax.vmap(env.step_autoreset)(s, a, keys)
        return s, None
    return jax.lax.scan(body, states, jax.random.split(key, inner))[0]


fn = jax.jit(steps, donate_argnums=0)
rows = []
scenes = os.environ.get("MJX_SCENES", "1 8 64" if quick else "1 64 1024 4096")  # a short lease may ask for fewer
for n in [int(x) for x in scenes.split()]:
    states, _ = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), n))
    t0 = time.perf_counter(); states = jax.block_until_ready(fn(states, jax.random.PRNGKey(1)))
    compile_s = time.perf_counter() - t0
    reps = 3
    t0 = time.perf_counter()
    for r in range(reps):
        states = fn(states, jax.random.PRNGKey(2 + r))
    jax.block_until_ready(states)
    per_step = (time.perf_counter() - t0) / (reps * inner)
    rows.append({"scenes": n, "ms_per_step": 1e3 * per_step, "scene_steps_per_s": n / per_step,
                 "first_call_s": compile_s})
    print(f"MJX HalfCheetah-v5, {n:5d} scenes: {1e3 * per_step:8.3f} ms per step, "
          f"{n / per_step:12.0f} scene-steps/s (first call {compile_s:.1f} s)", flush=True)
out["env_steps"] = rows

# For comparison: gymnasium's HalfCheetah-v5 (C MuJoCo, float64) on this machine's CPU, one scene.
import gymnasium as gym

genv = gym.make("HalfCheetah-v5")
genv.reset(seed=0)
rng = np.random.default_rng(0)
acts = rng.uniform(-1, 1, (2000, 6)).astype(np.float32)
t0 = time.perf_counter()
for a in acts:
    _, _, term, trunc, _ = genv.step(a)
    if term or trunc:
        genv.reset()
c_ms = 1e3 * (time.perf_counter() - t0) / len(acts)
out["c_mujoco_ms_per_step"] = c_ms
print(f"C MuJoCo (gymnasium) HalfCheetah-v5, 1 scene: {c_ms:.3f} ms per step", flush=True)

# 2. The target: SQL (mujoco preset) on MJX HalfCheetah-v5, 1M steps, one seed, --loop auto.
total = int(os.environ["MJX_STEPS"]) if os.environ["MJX_STEPS"] else (3000 if quick else 1_000_000)
if total == 0:  # --steps 0: the environment figures only
    path = Path("benchmarks/results") / f"mjx-{backend}-env-only.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"--steps 0: no training run; wrote {path}")
    sys.exit(0)
loop = "jax" if quick else "auto"
num_envs = int(os.environ["MJX_NUM_ENVS"])
total = -(-total // num_envs) * num_envs  # whole iterations (spec dev-num-envs); 1M is a multiple of 64
chunk = 1000 if quick or total <= 50_000 else 10_000
chunk = -(-chunk // num_envs) * num_envs
config = launch.make_config("sql", "HalfCheetah-v5", steps=total)
if quick:
    config = config.replace(min_replay_size=1000)
if not quick and total != 1_000_000:
    # A shorter run is there for its steady rate: make it the warm-up and whole chunks, so that no shorter
    # last chunk compiles a third program inside the timed rows (jax_loop.schedule's warm-up rounding).
    warm = -(-config.min_replay_size // num_envs) * num_envs
    total = warm + max(2, (total - warm) // chunk) * chunk
    config = config.replace(total_steps=total)
chosen = launch.uses_jax_loop("HalfCheetah-v5", loop)
print(f"--loop {loop} on {backend}: {'jitted loop (MJX)' if chosen else 'host loop (C MuJoCo)'}", flush=True)
if not chosen:
    sys.exit("the automatic choice did not pick MJX on this device; is it an accelerator?")
run_dir = Path(tempfile.mkdtemp(prefix="mjx-cheetah-"))
t0 = time.perf_counter()
print(f"{num_envs} environment(s) per seed, {total // num_envs} iterations of {num_envs} steps and as many updates",
      flush=True)
launch.train(config, env_id="HalfCheetah-v5", seeds=[0], out_dir=run_dir / "run", loop=loop,
             chunk_steps=chunk, num_envs=num_envs, progress=True)
seconds = time.perf_counter() - t0
meta = json.loads((run_dir / "run" / "config.json").read_text())
lines = (run_dir / "run" / "metrics.csv").read_text().splitlines()
header, last = lines[0].split(","), lines[-1].split(",")
final = dict(zip(header, last))
out["run"] = {"steps": total, "num_envs": num_envs, "seconds": seconds, "loop": meta["loop"], "last_row": final, "run_dir": str(run_dir)}
# The steady rate: wall_time (seconds since the loop started) of the metrics rows, first learning chunk
# (which holds the compile) left out.
rows = [dict(zip(header, line.split(","))) for line in lines[1:]]
walls = sorted({(int(r["step"]), float(r["wall_time"])) for r in rows})
if len(walls) >= 3:
    (s0, w0), (s1, w1) = walls[1], walls[-1]
    rate = (s1 - s0) / (w1 - w0)
    out["run"]["steady_steps_per_s"] = rate
    out["run"]["extrapolated_1m_s"] = (seconds - (w1 - w0)) + (1_000_000 - (s1 - s0)) / rate
    print(f"steady rate {rate:.0f} env steps/s (steps {s0}..{s1}); 1M steps at that rate, with this run's "
          f"start-up and compile: {out['run']['extrapolated_1m_s']:.0f} s (extrapolated)", flush=True)
if quick:
    target = ""
elif total == 1_000_000:
    target = "  PASS (<= 900 s)" if seconds <= 900 else "  MISS (> 900 s)"
else:
    target = f"  (a {total}-step run; the 1M target is judged on the extrapolation above, not measured)"
print(f"SQL on MJX HalfCheetah-v5, {total} steps, {num_envs} env(s) per seed: {seconds:.0f} s, loop {meta['loop']}, "
      f"last chunk mean return {final.get('mean_return')}{target}", flush=True)
path = Path("benchmarks/results") / f"mjx-{backend}{'' if num_envs == 1 else f'-envs{num_envs}'}{'-quick' if quick else ''}.json"
path.write_text(json.dumps(out, indent=2) + "\n")
print(f"wrote {path}")
PYEOF
