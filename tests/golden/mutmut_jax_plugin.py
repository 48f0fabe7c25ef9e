"""A pytest plugin for mutation testing with mutmut (docs/mutation.md); not used by the normal suite.

mutmut learns which tests call which function by counting calls through its trampolines while the
tests run ("stats"), then runs each mutant against those tests.  A jitted function is called in
Python only when it is traced; JAX then reuses the compiled code.  So in the stats run this plugin
clears JAX's caches before every test, and every test traces (and is recorded for) each function it
uses.  A mutant's run starts from empty in-memory caches (cleared at the start of the session; with
mutmut's forkserver the worker never inherits a compiled function), and the mutant is active for the
whole session, so nothing traced before it was switched on can be reused.

What makes a mutant cheap (measured in docs/mutation.md):

- JAX's persistent compilation cache, in ``.jax_cache`` of mutmut's working directory (``mutants/``).
  Its key is the compiled program itself (its HLO, the compile options and the versions), so a mutant
  that changes a program gets a fresh compilation and one that leaves it unchanged reuses it: only
  the programs a mutant touches are compiled again.  Tracing still happens in every run.
- The tests that call the mutated function run fastest first (mutmut's forkserver hands them over
  unordered), and pytest stops at the first failure (``-x``).
- Hypothesis properties draw fewer examples (profile ``mutation``; ``SOFTQ_MUTATION_MAX_EXAMPLES``,
  default 10).  The examples that once killed a mutant are kept in Hypothesis's database
  (``mutants/.hypothesis``) and replayed first for every later mutant.  A test that sets its own
  ``max_examples`` keeps it.

``SOFTQ_MUTMUT_PLAIN=1`` turns the three off (for measuring what they save).
"""

import os
from pathlib import Path

import jax
import pytest
from hypothesis import HealthCheck, settings

PLAIN = os.environ.get("SOFTQ_MUTMUT_PLAIN") == "1"


def _link_spec() -> None:
    """mutmut copies no symlinks: recreate the package's ``softq_ref/_spec -> ../spec`` in ``mutants/``."""
    link = Path("softq_ref") / "_spec"
    if Path.cwd().name == "mutants" and Path("spec").is_dir() and not link.exists():
        link.symlink_to(Path("..") / "spec")


def pytest_configure(config):
    _link_spec()
    if PLAIN:
        return
    # Loaded after tests/conftest.py has loaded its own profile, so this one wins.
    settings.register_profile(
        "mutation",
        deadline=None,
        max_examples=int(os.environ.get("SOFTQ_MUTATION_MAX_EXAMPLES", "10")),
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    settings.load_profile("mutation")
    jax.config.update("jax_compilation_cache_dir", os.path.abspath(".jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_sessionstart(session):
    jax.clear_caches()


def pytest_collection_modifyitems(session, config, items):
    """Fastest first, by the durations mutmut measured in its stats run (known in the worker)."""
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if PLAIN or mutant in ("", "stats", "list_all_tests", "fail"):
        return
    try:
        from mutmut.state import state
    except ImportError:  # pragma: no cover - only ever loaded by mutmut
        return
    durations = state().duration_by_test
    if durations:
        items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))


def pytest_collection_finish(session):
    """Refuse a selection whose collection starts JAX's backend.

    mutmut's forkserver forks each mutant's worker from a process that has collected the tests
    (``forkserver_warmup = "collect"``).  JAX is fork-safe only until its backend starts its threads;
    a worker forked after that can deadlock, and mutmut records the hang as a *timeout*, which its
    score counts as a kill.  So a module-level ``jnp`` array, an import that builds one (gymnax) or a
    ``skipif`` that asks ``jax.default_backend()`` at import is an error here, named with its cure.
    """
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        raise pytest.UsageError(
            "collecting the selected tests started JAX's backend (a module-level jnp array, an import "
            "that builds one, or a skipif calling jax.default_backend()); a worker forked after it can "
            "deadlock. Make it lazy (docs/mutation.md)."
        )


def pytest_runtest_setup(item):
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        jax.clear_caches()
