"""Test configuration: a Hypothesis profile fit for JIT compilation, strict JAX."""

import os

import jax
from hypothesis import HealthCheck, settings

# Each new array shape recompiles; a compile can take longer than Hypothesis's default deadline.
settings.register_profile(
    "default",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=500,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("SOFTQ_HYPOTHESIS_PROFILE", "default"))

# Strict array semantics, as equinox's own test-suite does: implicit rank promotion is a bug.
jax.config.update("jax_numpy_rank_promotion", "raise")
