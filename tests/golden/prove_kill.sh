#!/bin/bash
# Prove that tests kill a mutant, by hand (docs/mutation.md, "Proving a kill by hand").
#
#   bash tests/golden/prove_kill.sh MUTANT_NAME TEST [TEST ...]
#   e.g. bash tests/golden/prove_kill.sh softq_ref.agent.soft_dqn.x_with_hparams__mutmut_6 tests/test_agent.py
#
# Run from the repository root after a `mutmut run` (it reads mutmut's trampolined copy of the package in
# mutants/softq_ref, where every mutant is present and MUTANT_UNDER_TEST switches one on).  The package copy
# and the repository's CURRENT tests/, spec/ and pyproject.toml go to a scratch directory (so tests written
# after the run are used, and mutants/ is left alone); the tests run there twice, with the mutant on (they
# must fail) and with none on (they must pass).  Prints KILLED, SURVIVED or CLEAN-RUN-FAILS; exits 0 only
# for KILLED.
set -u
if [ $# -lt 2 ] || [ ! -d mutants/softq_ref ]; then
  echo "usage: bash tests/golden/prove_kill.sh MUTANT_NAME TEST [TEST ...] (from the repository root, after mutmut run)" >&2
  exit 2
fi
name=$1; shift
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/mutants"  # the plugin links softq_ref/_spec only in a directory named mutants
cp -r mutants/softq_ref tests spec pyproject.toml "$scratch/mutants/"
run() {  # $1: the mutant to switch on ("" for none)
  (cd "$scratch/mutants" && MUTANT_UNDER_TEST=$1 env -u PYTHONPATH python -m pytest -q -x -p no:cacheprovider \
     -p tests.golden.mutmut_jax_plugin "${@:2}")
}
run "$name" "$@" > "$scratch/mutant.log" 2>&1; on=$?
run "" "$@" > "$scratch/clean.log" 2>&1; off=$?
if [ $off -ne 0 ]; then echo "CLEAN-RUN-FAILS $name"; tail -5 "$scratch/clean.log"; exit 1; fi
if [ $on -ne 0 ]; then echo "KILLED $name by $(grep -m1 -E '^(FAILED|ERROR)' "$scratch/mutant.log" || tail -1 "$scratch/mutant.log")"; exit 0; fi
echo "SURVIVED $name ($(tail -1 "$scratch/mutant.log"))"; exit 1
