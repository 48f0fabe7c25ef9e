r"""Check another implementation of soft Q-learning against this reference (floor 4).

The public implementations of Haarnoja et al. (2017) disagree in ways that change results:
one port drops the $-\log K_V$ of the importance-sampled soft value (eq. (10)), the 2017
code leaves the temperature out of the TD target, kernel bandwidths and signs vary.  This
package compares a third-party function with the reference, one equation at a time:

* ``check(candidate, "eq-10")``: the golden vectors of ``spec/vectors`` and
  Hypothesis-generated inputs (differential testing against the float64 reference), with
  a report per property: pass or fail, worst absolute and relative error, and the shrunk
  counterexample.  Adapters call NumPy, PyTorch or JAX functions.
* ``check_curve(metrics_csv, reference)``: a learning curve against a reference band.
* ``TARGETS`` / ``checkable_entries()``: what can be checked, and with which signature.
* ``softq-ref conform``: the same from the command line.

The candidate runs in a child process with a time limit per call
(``softq_ref.conformance.isolation``): a candidate that ends, crashes or hangs fails its
property; it cannot end the caller's process.

Layout: ``families/`` declares the targets, one module per family of equations (each
with its references, tolerance scales, golden cases and Hypothesis inputs);
``declaration`` is what a declaration holds; ``targets`` collects them; ``check`` runs the
properties and ``results`` / ``report`` hold and render the outcome; ``candidate``,
``isolation`` and ``adapters`` call the candidate; ``vectors`` writes and reads
``spec/vectors``; ``curves`` checks learning curves.

Example:
  >>> import numpy as np
  >>> from softq_ref.conformance import check
  >>> def entropy(p):
  ...     return -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=-1)
  >>> check(entropy, "def-entropy", examples=10).passed
  True

Hypothesis is needed for the randomised properties (the ``test`` extra); PyTorch only
for ``adapter="torch"``.
"""

from softq_ref.conformance.adapters import ADAPTERS, Adapter, get_adapter
from softq_ref.conformance.candidate import load_candidate
from softq_ref.conformance.check import check
from softq_ref.conformance.curves import (
    CurveReport,
    ReferenceCurve,
    check_curve,
    read_reference_curve,
    summarize,
    write_reference_curve,
)
from softq_ref.conformance.results import Counterexample, PropertyResult, Report
from softq_ref.conformance.targets import TARGETS, Property, Target, checkable_entries, get_target

__all__ = [
    "ADAPTERS",
    "Adapter",
    "Counterexample",
    "CurveReport",
    "Property",
    "PropertyResult",
    "ReferenceCurve",
    "Report",
    "TARGETS",
    "Target",
    "check",
    "check_curve",
    "checkable_entries",
    "get_adapter",
    "get_target",
    "load_candidate",
    "read_reference_curve",
    "summarize",
    "write_reference_curve",
]
