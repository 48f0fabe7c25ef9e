"""Check the two functions of conformance_port.py against softq_ref (run by the test suite).

Run from the repository root: ``python docs/tutorials/conformance_check.py``. The page shows
the section below as it is, and the rendered-docs test runs it from there.
"""

# --8<-- [start:check]
import sys

sys.path.insert(0, "docs/tutorials")  # where conformance_port.py lives (run from the repository root)

from conformance_port import soft_value_buggy, soft_value_fixed

from softq_ref.conformance import check

for candidate in (soft_value_buggy, soft_value_fixed):
    report = check(candidate, "eq-10", adapter="numpy", examples=25)
    print(f"{candidate.__name__}: {'PASS' if report.passed else 'FAIL'}")
    for result in report.properties:
        print(f"  {result.name:12s} {'ok' if result.passed else 'FAIL':4s} max abs err {result.max_abs_error:.2g}")
# --8<-- [end:check]
