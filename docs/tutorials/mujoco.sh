#!/usr/bin/env bash
# Tutorial: soft Q-learning on a MuJoCo task (needs the mujoco extra: pip install -e ".[mujoco]").
#
#   bash docs/tutorials/mujoco.sh                          # 1,000,000 steps: days on a CPU
#   SOFTQ_DOCS_QUICK=1 bash docs/tutorials/mujoco.sh       # 300 steps, one episode (what the tests run)
#
# Run from the directory that should hold runs/. docs/tutorials/mujoco.md shows the sections
# below exactly as written; tests/test_docs.py runs this file.
set -euo pipefail
if [ "${SOFTQ_DOCS_QUICK:-0}" = 1 ]; then
  # The tests' quick mode: the commands below unchanged, cut to 300 steps and one episode.
  softq-ref() {
    case "$1" in
      train) command softq-ref "$@" --steps 300 ;;
      evaluate) command softq-ref "$@" --episodes 1 ;;
      *) command softq-ref "$@" ;;
    esac
  }
fi

# --8<-- [start:train]
softq-ref train --env HalfCheetah-v5 --steps 1000000 --out runs/tutorial/halfcheetah
# --8<-- [end:train]

# --8<-- [start:evaluate]
softq-ref evaluate runs/tutorial/halfcheetah --episodes 10
# --8<-- [end:evaluate]
