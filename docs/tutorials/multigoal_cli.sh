#!/usr/bin/env bash
# Tutorial: train soft Q-learning on the multi-goal task from the command line
# (multigoal_ddpg.sh does the same for the DDPG baseline).
#
#   bash docs/tutorials/multigoal_cli.sh            # the preset's 20,000 steps per run
#   SOFTQ_DOCS_QUICK=1 bash docs/tutorials/multigoal_cli.sh   # 300 steps (what the tests run)
#
# Needs `softq-ref` on the PATH (activate the virtual environment, or prefix .venv/bin/).
# docs/tutorials/multigoal.md includes this file piece by piece; tests/test_docs.py runs it.
set -euo pipefail
OUT=${OUT:-runs/tutorial}
STEPS=20000
if [ "${SOFTQ_DOCS_QUICK:-0}" = 1 ]; then STEPS=300; fi

# --8<-- [start:train]
softq-ref train --algo sql --seeds 2 --steps "$STEPS" --out "$OUT/sql"
# --8<-- [end:train]

# --8<-- [start:evaluate]
softq-ref evaluate "$OUT/sql" --episodes 20
# --8<-- [end:evaluate]

# --8<-- [start:files]
ls "$OUT/sql"                 # checkpoint.eqx  config.json  figure.png  metrics.csv
head -3 "$OUT/sql/metrics.csv"
# --8<-- [end:files]
