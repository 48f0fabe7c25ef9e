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

# The suite checks float32 arithmetic against float64 references, so every float32 matrix product
# runs in float32. On a CPU that is JAX's default anyway; on a GPU JAX's default precision runs them in
# TF32 (a 10-bit mantissa, about 5e-4 relative per product), and on an H200 (2026-11-30, the device
# run in benchmarks/results/gpu-h200-2026-11-30/) twelve comparisons against NumPy, the golden step,
# the CPU backend and gymnasium's MuJoCo then missed their float32 tolerances (relative gaps 1e-4 to 1e-2). Training on a
# GPU keeps JAX's default (the benchmarks' speed figures are TF32's); JAX_DEFAULT_MATMUL_PRECISION=highest
# makes a run use float32 products too (docs/benchmarks.md, "Accelerators").
jax.config.update("jax_default_matmul_precision", "highest")
