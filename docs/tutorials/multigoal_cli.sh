#!/usr/bin/env bash
# Tutorial: train soft Q-learning on the multi-goal task from the command line
# (multigoal_ddpg.sh does the same for the DDPG baseline).
#
#   bash docs/tutorials/multigoal_cli.sh                      # the preset's 10,000 steps per seed
#   SOFTQ_DOCS_QUICK=1 bash docs/tutorials/multigoal_cli.sh   # 300 steps (what the tests run)
#
# Run from the directory that should hold runs/. Needs `softq-ref` on the PATH (activate the
# virtual environment, or prefix .venv/bin/). docs/tutorials/multigoal.md shows the sections
# below exactly as written; tests/test_docs.py runs this file.
set -euo pipefail
if [ "${SOFTQ_DOCS_QUICK:-0}" = 1 ]; then
  # The tests' quick mode: the commands below unchanged, training cut to 300 steps.
  softq-ref() { if [ "$1" = train ]; then command softq-ref "$@" --steps 300; else command softq-ref "$@"; fi; }
fi

# --8<-- [start:train]
softq-ref train --algo sql --seeds 2 --out runs/tutorial/sql
# --8<-- [end:train]

# --8<-- [start:evaluate]
softq-ref evaluate runs/tutorial/sql --episodes 20
# --8<-- [end:evaluate]

# --8<-- [start:files]
ls runs/tutorial/sql                 # checkpoint.eqx  config.json  figure.png  metrics.csv
head -3 runs/tutorial/sql/metrics.csv
# --8<-- [end:files]
