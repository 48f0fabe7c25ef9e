#!/usr/bin/env bash
# A device lease in one command: the device tool's `run` with carry [".whl"] and
#   bash benchmarks/lease.sh "$OUT"
# 1. installs the wheels the GPU image lacks (gymnasium, mujoco, mujoco-mjx, gymnax, import-linter, ...; carried
#    in .whl/, which git ignores) into /tmp/site, without touching the image's own packages.  On a fresh machine,
#    fill .whl/ here first: `bash benchmarks/lease_wheels.sh` (52 MiB; versions as installed here);
# 2. puts a `softq-ref` command on PATH (`python -m softq_ref.cli`), for the tests that call it;
# 3. runs benchmarks/gpu_session.sh with the parts and budgets of the next lease (docs/benchmarks.md, "the next
#    lease"): the device section and the dispatch probe, about 220 s; any of gpu_session.sh's variables (PARTS,
#    T_MJX, T_TESTS, T_DEVICE, T_DISPATCH, MJX_STEPS, MJX_NUM_ENVS, MJX_SCENES, MJX_CB) given in the environment
#    wins. The lease's second command is the 1M-step MJX run:
#      PARTS=mjx MJX_STEPS=1000000 MJX_SCENES=64 T_MJX=570 bash benchmarks/lease.sh "$OUT"
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:?usage: bash benchmarks/lease.sh OUT_DIR}"
PY="${PYTHON:-python3}"
SITE="${LEASE_SITE:-/tmp/site}"
mkdir -p "$OUT_DIR"
if compgen -G ".whl/*.whl" >/dev/null; then
  # The log comes back only on failure: a lease returns eight files at most, and gpu_session.sh writes seven.
  if ! "$PY" -m pip install --quiet --no-index --no-deps --target "$SITE" .whl/*.whl >/tmp/lease-install.log 2>&1; then
    cp /tmp/lease-install.log "$OUT_DIR/lease-install.log"
    echo "lease.sh: installing .whl/ failed (see lease-install.log); going on with the image's packages" >&2
  fi
fi
mkdir -p "$SITE/bin"
printf '#!/bin/sh\nexec "%s" -m softq_ref.cli "$@"\n' "$(command -v "$PY")" >"$SITE/bin/softq-ref"
chmod +x "$SITE/bin/softq-ref"
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" PATH="$SITE/bin:$PATH" PYTHON="$PY"
export PARTS="${PARTS:-device dispatch}" T_MJX="${T_MJX:-170}" T_TESTS="${T_TESTS:-280}" T_DEVICE="${T_DEVICE:-160}"
export T_DISPATCH="${T_DISPATCH:-70}"
export MJX_STEPS="${MJX_STEPS:-60000}" MJX_NUM_ENVS="${MJX_NUM_ENVS:-64}" MJX_SCENES="${MJX_SCENES:-64}"
export MJX_CB="${MJX_CB:-0}"
exec bash benchmarks/gpu_session.sh "$OUT_DIR"
