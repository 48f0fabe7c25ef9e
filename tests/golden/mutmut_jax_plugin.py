"""A pytest plugin for mutation testing with mutmut (docs/mutation.md); not used by the normal suite.

mutmut learns which tests call which function by counting calls through its trampolines while the
tests run ("stats"), then runs each mutant against those tests.  A jitted function is called in
Python only when it is traced; JAX then reuses the compiled code.  So before every test this plugin
clears JAX's caches: in the stats run every test traces (and is recorded for) each function it uses,
and in a mutant's run no compiled code from before the mutant was active can be reused.
"""

import jax


def pytest_runtest_setup(item):
    jax.clear_caches()
