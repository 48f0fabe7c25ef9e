"""The machine's own ceilings, measured in the same run as everything else.

* **float32 matmul throughput**: ``jax.jit(a @ b)`` on square float32 matrices of a few
  sizes; a product of two ``n x n`` matrices is ``2 n^3`` FLOPs; the ceiling is the best
  rate over sizes and repeats (the figure the update's GFLOP/s is compared with).
* **memory copy bandwidth**: a jitted ``x + 1`` on a float32 array much larger than the
  last-level cache (reads and writes every byte once: ``2 * nbytes`` per call), NumPy's
  ``np.copyto`` of the same size for comparison, and a jitted ``sum(x)`` (reads only).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import blocked, time_calls


def matmul_gflops(sizes=(1024, 2048), repeats: int = 10, dtype=jnp.float32) -> dict:
    """Best and median GFLOP/s of ``a @ b`` through ``jax.jit`` at each size (float32 unless ``dtype``)."""
    matmul = jax.jit(jnp.matmul)
    out = {"by_size": {}, "dtype": jnp.dtype(dtype).name}
    for n in sizes:
        a = jax.random.normal(jax.random.PRNGKey(0), (n, n), dtype)
        b = jax.random.normal(jax.random.PRNGKey(1), (n, n), dtype)
        t = time_calls(blocked(matmul, a, b), repeats)
        flops = 2.0 * n**3
        out["by_size"][str(n)] = {
            "gflops_best": flops / t["best_s"] / 1e9,
            "gflops_median": flops / t["median_s"] / 1e9,
        }
    out["gflops"] = max(v["gflops_best"] for v in out["by_size"].values())
    return out


def copy_bandwidth(megabytes: int = 256, repeats: int = 10) -> dict:
    """GB/s of a large array copy (bytes read + bytes written per second), JAX and NumPy.

    The JAX copy is ``x + 1`` with ``x`` donated, so it writes into the input's buffer: a
    fresh 256 MB output per call would measure the kernel's page faulting, not the memory.
    """
    n = megabytes * (1 << 20) // 4
    nbytes = 4 * n
    add_one = jax.jit(lambda v: v + 1.0, donate_argnums=0)
    box = [jnp.ones((n,), jnp.float32)]

    def jax_copy():
        box[0] = jax.block_until_ready(add_one(box[0]))

    t_jax = time_calls(jax_copy, repeats)
    read = jax.jit(jnp.sum)
    t_read = time_calls(blocked(read, box[0]), repeats)
    box.clear()
    src = np.ones((n,), np.float32)
    dst = np.empty_like(src)
    t_np = time_calls(lambda: np.copyto(dst, src), repeats)
    del src, dst
    return {
        "megabytes": megabytes,
        "jax_copy_gbs": 2 * nbytes / t_jax["best_s"] / 1e9,
        "numpy_copy_gbs": 2 * nbytes / t_np["best_s"] / 1e9,
        "jax_read_gbs": nbytes / t_read["best_s"] / 1e9,
        # The reference for memory-bound kernels: the better of the two copies.
        "gbs": max(2 * nbytes / t_jax["best_s"], 2 * nbytes / t_np["best_s"]) / 1e9,
    }
