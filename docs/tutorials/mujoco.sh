#!/usr/bin/env bash
# Tutorial: soft Q-learning on a MuJoCo task (needs the mujoco extra: pip install -e ".[mujoco]").
#
#   bash docs/tutorials/mujoco.sh                          # 1,000,000 steps: days on a CPU
#   SOFTQ_DOCS_QUICK=1 bash docs/tutorials/mujoco.sh       # 300 steps (what the tests run)
#
# docs/tutorials/mujoco.md includes this file piece by piece; tests/test_docs.py runs it.
set -euo pipefail
OUT=${OUT:-runs/tutorial}
STEPS=1000000
EPISODES=10
if [ "${SOFTQ_DOCS_QUICK:-0}" = 1 ]; then STEPS=300; EPISODES=1; fi

# --8<-- [start:train]
softq-ref train --env HalfCheetah-v5 --steps "$STEPS" --out "$OUT/halfcheetah"
# --8<-- [end:train]

# --8<-- [start:evaluate]
softq-ref evaluate "$OUT/halfcheetah" --episodes "$EPISODES"
# --8<-- [end:evaluate]
