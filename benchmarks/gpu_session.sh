#!/usr/bin/env bash
# Every device check of issue 13 in one command, for a short accelerator lease (about 9 minutes):
#   bash benchmarks/gpu_session.sh OUT_DIR
# Runs these parts, in the order PARTS gives (default "tests device mjx dispatch"), each under its own
# time limit so that one slow part cannot eat the rest, writing logs to OUT_DIR (eight files at most):
#   tests:    the default test suite on the device (pytest -n, junit XML)          -> tests.log, tests.xml
#   device:   the device section (python -m benchmarks --gpu): matmul ceilings, train_step in scan and per
#             call, the host loop on HalfCheetah-v5, vmapped seeds 1..1024, the 16-point sweep -> device.log, .json
#   mjx:      MJX HalfCheetah-v5: env steps/s for MJX_SCENES scenes, an SQL run of MJX_STEPS stepping
#             MJX_NUM_ENVS scenes per seed (default 64; spec dev-num-envs), then one scene's step again
#             with every kernel and loop in CUDA graphs                              -> mjx.log, mjx.json
#   dispatch: train_step per call and the host loop under four XLA_FLAGS sets       -> dispatch.log
# The H200 run of 2026-11-30 (docs/benchmarks.md) took about 130 s for "device"; MJX's one-scene SQL run
# makes about 30 steps/s there, so MJX_STEPS=0 (no run, the environment table only) unless the lease is long.
# Budgets (seconds) come from the environment: T_DEVICE, T_DISPATCH, T_MJX, T_TESTS; MJX_STEPS (default 100000),
# MJX_NUM_ENVS (default 64), MJX_SCENES (default "1 64 1024 4096"), MJX_CB (default 1; 0: no command-buffer step).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:?usage: bash benchmarks/gpu_session.sh OUT_DIR}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python3}"
export PYTHON="$PY" PYTHONUNBUFFERED=1 MPLBACKEND=Agg XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
stamp() { echo "[gpu_session $(date +%H:%M:%S)] $*" | tee -a "$OUT_DIR/session.log"; }
stamp "start; $("$PY" -c 'import jax; print("jax", jax.__version__, jax.devices())' 2>&1 | tail -1)"
BACKEND=$("$PY" -c 'import jax; print(jax.default_backend())' 2>/dev/null)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$OUT_DIR/session.log" 2>&1 || true

CB_FLAGS="--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL --xla_gpu_graph_min_graph_size=1"

part_tests() {
  stamp "tests: the default suite on the device (limit ${T_TESTS:-150} s)"
  local workers=$(( $(nproc) > 4 ? $(nproc) - 2 : 2 ))
  # SIGINT first, so that a suite cut short still prints its summary and writes its XML.
  # -p no:benchmark: pytest-benchmark (in some GPU images) warns under xdist, and the suite makes warnings errors.
  # tests/test_wheel.py builds a virtual environment from the package index, which a device may not reach.
  timeout -s INT -k 20 "${T_TESTS:-150}" "$PY" -m pytest -v -n "$workers" -p no:cacheprovider -p no:benchmark \
    --ignore=tests/test_wheel.py --junitxml="$OUT_DIR/tests.xml" ${PYTEST_EXTRA:-} >"$OUT_DIR/tests.log" 2>&1
  stamp "   rc=$?; $(grep -E '^=+ .*(passed|failed).* =+$' "$OUT_DIR/tests.log" | tail -1)"
}

part_device() {
  stamp "device: the device section (limit ${T_DEVICE:-300} s)"
  timeout "${T_DEVICE:-300}" "$PY" -m benchmarks --gpu >"$OUT_DIR/device.log" 2>&1; stamp "   rc=$?"
  # Eight files at most in OUT_DIR (a device lease returns no more): the full JSON, else the partial one.
  cp "benchmarks/results/device-$BACKEND.json" "$OUT_DIR/device.json" 2>/dev/null \
    || cp "benchmarks/results/device-$BACKEND.partial.json" "$OUT_DIR/device.json" 2>/dev/null || true
}

part_mjx() {
  local envs="${MJX_NUM_ENVS:-64}"
  stamp "mjx: MJX HalfCheetah-v5 (limit ${T_MJX:-150} s, ${MJX_STEPS:-100000} steps, $envs envs per seed)$([[ "${MJX_CB:-1}" == 0 ]] || echo ', then one scene under command buffers')"
  timeout "${T_MJX:-150}" bash benchmarks/gpu.sh --mjx --steps "${MJX_STEPS:-100000}" --num-envs "$envs" >"$OUT_DIR/mjx.log" 2>&1
  stamp "   rc=$?"
  local suffix=""; [[ "$envs" != 1 ]] && suffix="-envs$envs"
  cp "benchmarks/results/mjx-$BACKEND$suffix.json" "$OUT_DIR/mjx.json" 2>/dev/null \
    || cp "benchmarks/results/mjx-$BACKEND-env-only.json" "$OUT_DIR/mjx.json" 2>/dev/null || true
  # The same one-scene step with every kernel and loop in CUDA graphs (docs/scale.md, "On a GPU"); no run.
  # MJX_CB=0 leaves it out (90 s at most).
  [[ "${MJX_CB:-1}" == 0 ]] && return
  echo "--- XLA_FLAGS=$CB_FLAGS" >>"$OUT_DIR/mjx.log"
  XLA_FLAGS="$CB_FLAGS" MJX_SCENES="1" timeout 90 bash benchmarks/gpu.sh --mjx --steps 0 >>"$OUT_DIR/mjx.log" 2>&1
  stamp "   rc=$? (command buffers)"
}

part_dispatch() {
  stamp "dispatch: probe under four XLA_FLAGS sets (limit ${T_DISPATCH:-120} s)"
  timeout "${T_DISPATCH:-120}" bash benchmarks/gpu.sh --dispatch 500 >"$OUT_DIR/dispatch.log" 2>&1; stamp "   rc=$?"
}

for part in ${PARTS:-tests device mjx dispatch}; do
  case "$part" in
    tests|device|mjx|dispatch) "part_$part" ;;
    *) stamp "unknown part '$part' (expected tests, device, mjx, dispatch)"; exit 2 ;;
  esac
done
stamp "done"
