#!/usr/bin/env bash
# Tutorial: train the DDPG baseline on the multi-goal task from the command line.
#
#   bash docs/tutorials/multigoal_ddpg.sh                      # the preset's 10,000 steps per seed
#   SOFTQ_DOCS_QUICK=1 bash docs/tutorials/multigoal_ddpg.sh   # 300 steps (what the tests run)
#
# Run from the directory that should hold runs/. docs/tutorials/multigoal.md shows the section
# below exactly as written; tests/test_docs.py runs this file.
set -euo pipefail
if [ "${SOFTQ_DOCS_QUICK:-0}" = 1 ]; then
  # The tests' quick mode: the commands below unchanged, training cut to 300 steps.
  softq-ref() { if [ "$1" = train ]; then command softq-ref "$@" --steps 300; else command softq-ref "$@"; fi; }
fi

# --8<-- [start:ddpg]
softq-ref train --algo ddpg --seeds 2 --out runs/tutorial/ddpg
softq-ref evaluate runs/tutorial/ddpg --episodes 20
# --8<-- [end:ddpg]
