"""Check the two functions of conformance_port.py against softq_ref (run by the test suite)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# --8<-- [start:check]
from softq_ref.conformance import check

from conformance_port import soft_value_buggy, soft_value_fixed

for candidate in (soft_value_buggy, soft_value_fixed):
    report = check(candidate, "eq-10", adapter="numpy", examples=25)
    print(f"{candidate.__name__}: {'PASS' if report.passed else 'FAIL'}")
    for result in report.properties:
        print(f"  {result.name:12s} {'ok' if result.passed else 'FAIL':4s} max abs err {result.max_abs_error:.2g}")
# --8<-- [end:check]
