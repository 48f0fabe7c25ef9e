"""Clocks and summaries shared by the benchmarks.

Every timed call ends in ``jax.block_until_ready`` (JAX dispatches asynchronously, so
without it a timer measures only the dispatch).  Figures are medians over repeats after
a warm-up that includes compilation; the best (minimum) is kept beside the median
because on a shared machine it is the figure least disturbed by other processes.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable

import jax


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 2) -> dict:
    """Wall time of ``fn()`` (which must block on its result), ``repeats`` times after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return summary(times)


def summary(times: list[float]) -> dict:
    """Median, best and count of a list of durations in seconds."""
    return {"median_s": statistics.median(times), "best_s": min(times), "repeats": len(times)}


def blocked(fn: Callable, *args) -> Callable[[], object]:
    """A thunk calling ``fn(*args)`` and waiting for its result."""
    return lambda: jax.block_until_ready(fn(*args))


def machine() -> dict:
    """What the numbers were measured on, including how busy the machine was."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (``None`` where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
