#!/usr/bin/env bash
# Every device check of issue 13 in one command, for a short accelerator lease (about 9 minutes):
#   bash benchmarks/gpu_session.sh OUT_DIR
# Runs, each under its own time limit so that one slow part cannot eat the rest, writing logs to OUT_DIR:
#   1. the device section (python -m benchmarks --gpu): matmul ceilings, train_step in scan and per call,
#      the host loop on HalfCheetah-v5, vmapped seeds 1..1024, the 16-point sweep   -> device.log, device.json
#   2. MJX HalfCheetah-v5: env steps/s for MJX_SCENES scenes, an SQL run of MJX_STEPS -> mjx.log, mjx.json
#   3. the default test suite on the device (pytest -n, junit XML)                   -> tests.log, tests.xml
#   4. train_step per call and the host loop under four XLA_FLAGS sets              -> dispatch.log
# Budgets (seconds) come from the environment: T_DEVICE, T_DISPATCH, T_MJX, T_TESTS; MJX_STEPS (default 100000),
# MJX_SCENES (default "1 64 1024 4096").
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:?usage: bash benchmarks/gpu_session.sh OUT_DIR}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python3}"
export PYTHON="$PY" PYTHONUNBUFFERED=1 MPLBACKEND=Agg XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
stamp() { echo "[gpu_session $(date +%H:%M:%S)] $*" | tee -a "$OUT_DIR/session.log"; }
stamp "start; $("$PY" -c 'import jax; print("jax", jax.__version__, jax.devices())' 2>&1 | tail -1)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$OUT_DIR/session.log" 2>&1 || true

stamp "1. device section (limit ${T_DEVICE:-300} s)"
timeout "${T_DEVICE:-300}" "$PY" -m benchmarks --gpu >"$OUT_DIR/device.log" 2>&1; stamp "   rc=$?"
# Eight files at most in OUT_DIR (a device lease returns no more): the full JSON, else the partial one.
b=$("$PY" -c 'import jax; print(jax.default_backend())' 2>/dev/null)
cp "benchmarks/results/device-$b.json" "$OUT_DIR/device.json" 2>/dev/null \
  || cp "benchmarks/results/device-$b.partial.json" "$OUT_DIR/device.json" 2>/dev/null || true

stamp "2. MJX (limit ${T_MJX:-150} s, ${MJX_STEPS:-100000} steps)"
timeout "${T_MJX:-150}" bash benchmarks/gpu.sh --mjx --steps "${MJX_STEPS:-100000}" >"$OUT_DIR/mjx.log" 2>&1; stamp "   rc=$?"
cp benchmarks/results/mjx-*.json "$OUT_DIR/mjx.json" 2>/dev/null || true

stamp "3. test suite on the device (limit ${T_TESTS:-150} s)"
workers=$(( $(nproc) > 4 ? $(nproc) - 2 : 2 ))
# SIGINT first, so that a suite cut short still prints its summary and writes its XML.
# -p no:benchmark: pytest-benchmark (in some GPU images) warns under xdist, and the suite makes warnings errors.
timeout -s INT -k 20 "${T_TESTS:-150}" "$PY" -m pytest -v -n "$workers" -p no:cacheprovider -p no:benchmark \
  --junitxml="$OUT_DIR/tests.xml" ${PYTEST_EXTRA:-} >"$OUT_DIR/tests.log" 2>&1; stamp "   rc=$?"
stamp "4. dispatch probe (limit ${T_DISPATCH:-120} s)"
timeout "${T_DISPATCH:-120}" bash benchmarks/gpu.sh --dispatch 500 >"$OUT_DIR/dispatch.log" 2>&1; stamp "   rc=$?"
stamp "done"
