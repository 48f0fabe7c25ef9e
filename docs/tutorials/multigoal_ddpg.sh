#!/usr/bin/env bash
# Tutorial: train the DDPG baseline on the multi-goal task from the command line.
#
#   bash docs/tutorials/multigoal_ddpg.sh                      # the preset's 20,000 steps
#   SOFTQ_DOCS_QUICK=1 bash docs/tutorials/multigoal_ddpg.sh   # 300 steps (what the tests run)
#
# docs/tutorials/multigoal.md includes this file; tests/test_docs.py runs it.
set -euo pipefail
OUT=${OUT:-runs/tutorial}
STEPS=20000
if [ "${SOFTQ_DOCS_QUICK:-0}" = 1 ]; then STEPS=300; fi

# --8<-- [start:ddpg]
softq-ref train --algo ddpg --seeds 2 --steps "$STEPS" --out "$OUT/ddpg"
softq-ref evaluate "$OUT/ddpg" --episodes 20
# --8<-- [end:ddpg]
