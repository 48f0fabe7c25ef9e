#!/usr/bin/env bash
# The accelerator benchmark of issue 13 in one command (about 8 minutes on one GPU):
#   bash benchmarks/gpu.sh            # full
#   bash benchmarks/gpu.sh --quick    # smoke run (also on a CPU)
# Writes benchmarks/results/device-<backend>.json (raw figures) and .txt (the table).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
"$PY" -c 'import jax; print("jax", jax.__version__, "backend", jax.default_backend(), jax.devices())'
exec timeout 900 "$PY" -m benchmarks --gpu "$@"
