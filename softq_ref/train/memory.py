"""How much memory a jitted run will hold, estimated before anything is allocated.

``softq-ref train --seeds 10000`` used to grind for minutes, silently, before running out of
memory.  The loop carry of one seed (networks, optimiser states, replay buffer, environment,
key) has a size known from shapes alone: :func:`carry_bytes` reads it with
``equinox.filter_eval_shape`` (no array is allocated), and :func:`check_fits` refuses a run
whose seeds cannot fit, with the estimate in a one-line ``ValueError``.

The run holds up to three copies of the carry at once: the carry itself, the one the
compiled chunk writes into (the input is donated, but XLA may still keep both while a chunk
runs), and the host copy written to ``checkpoint.eqx``.  Compiled temporaries (one
minibatch's activations) are small beside the replay buffer and are left out.
"""

from __future__ import annotations

import math
import os

import equinox as eqx
import jax

from softq_ref.train import jax_loop

#: Copies of the carry a run may hold at once (see the module docstring).
CARRY_COPIES = 3


def carry_bytes(algo, config, env, num_envs: int = 1) -> int:
    """Bytes of one seed's loop carry (:func:`softq_ref.train.jax_loop.init_carry`), from shapes alone."""
    shapes = eqx.filter_eval_shape(lambda key: jax_loop.init_carry(algo, config, env, key, num_envs),
                                   jax.random.PRNGKey(0))
    return int(sum(math.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(shapes) if hasattr(x, "dtype")))


def available_bytes(device=None) -> tuple[int | None, str]:
    """``(bytes, where)``: free memory of an accelerator, or the host's available memory for the CPU.

    ``None`` when neither can be read (then nothing is refused).
    """
    device = device or jax.devices()[0]
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 -- backends without memory statistics
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)), f"{device.platform} device memory"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "available host memory"
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "available host memory"
    except (ValueError, OSError, AttributeError):
        return None, "unknown"


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def check_fits(per_seed: int, num_seeds: int, *, available: tuple[int | None, str] | None = None) -> int:
    """The estimated bytes of ``num_seeds`` seeds; ``ValueError`` (one line, with the estimate) when they cannot fit."""
    need = CARRY_COPIES * per_seed * num_seeds
    limit, where = available if available is not None else available_bytes()
    if limit is not None and need > limit:
        fit = max(limit // (CARRY_COPIES * per_seed), 0)
        raise ValueError(
            f"{num_seeds} seeds need about {_gib(need)} ({_gib(per_seed)} of loop state per seed, replay buffer "
            f"included, held up to {CARRY_COPIES} times), more than the {_gib(limit)} of {where}; "
            f"at most {fit} seeds fit (or lower the replay capacity or --steps)"
        )
    return need
