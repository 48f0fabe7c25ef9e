"""A pytest plugin for mutation testing with mutmut (docs/mutation.md); not used by the normal suite.

mutmut learns which tests call which function by counting calls through its trampolines while the
tests run ("stats"), then runs each mutant against those tests.  A jitted function is called in
Python only when it is traced; JAX then reuses the compiled code.  So in the stats run this plugin
clears JAX's caches before every test, and every test traces (and is recorded for) each function it
uses.  A mutant's run starts from empty caches (cleared at the start of the session; with mutmut's
forkserver the worker never inherits a compiled function), and the mutant is active for the whole
session, so nothing compiled before it was switched on can be reused.
"""

import os

import jax


def pytest_sessionstart(session):
    jax.clear_caches()


def pytest_runtest_setup(item):
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        jax.clear_caches()
