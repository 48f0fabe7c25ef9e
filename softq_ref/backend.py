"""How JAX compiles softq_ref's programs on a CPU: one choice, made once, that changes no number.

Every update draws its random numbers with ``threefry2x32`` (``jax.random``'s default generator).
JAX lowers that hash with its 20 rounds unrolled on GPUs and TPUs, but as a ``fori_loop`` of five
iterations on CPUs, to keep compile times down for large programs.  In the SQL update the three
draws (``K_V`` uniform proposal actions, ``K`` and ``M`` particles' noise) then run as three XLA
``while`` loops that cannot fuse with anything: on the 2-core development machine they took
0.28 ms of a 3.0 ms MuJoCo-preset update (``jax.profiler`` trace, 2026-11-30).

:func:`unroll_threefry_on_cpu` gives the CPU the lowering the other backends use.  It is the same
hash, so every random bit, and every result of the project, is unchanged (checked bit for bit on 50
MuJoCo-preset updates; the golden-step, resume and conformance tests pass unchanged); measured in
one process, alternating: the MuJoCo-preset update 0.81 of the time, the multi-goal update 0.88, and
the scan of 50 updates compiled faster (1.8 s against 2.5 s).  It is called when
:mod:`softq_ref.agent` is imported, so every training loop, evaluation and benchmark gets it.

JAX's lowering rules are not public API: the function returns ``False`` and changes nothing where
this JAX has no such rule, and ``SOFTQ_REF_ROLLED_THREEFRY=1`` in the environment keeps JAX's own
CPU lowering.  It registers a rule for the ``cpu`` platform only, for the whole process.

It is applied on JAX versions before 0.11 only (:data:`UNROLL_BEFORE`): with jax 0.11.2 on a CPU
the unrolled hash made XLA's compilation of SAC's host-loop step take more than 15 minutes
(XLA's "Very slow compile?" alarm; 2.1 s with the rolled hash, measured 2026-11-30 with
Python 3.12).  With jax 0.10.2 that step compiles in 9.1 s against 1.8 s rolled, a one-off cost.
"""

from __future__ import annotations

import functools
import os

#: The unrolled lowering is used with JAX versions before this one (see the module docstring).
UNROLL_BEFORE = (0, 11)


@functools.cache
def unroll_threefry_on_cpu() -> bool:
    """Lower ``threefry2x32`` on CPU with its rounds unrolled, as on GPU and TPU; the same bits, faster.

    Idempotent.  Returns whether the unrolled lowering is in force (never on JAX >= 0.11).
    """
    if os.environ.get("SOFTQ_REF_ROLLED_THREEFRY", "") not in ("", "0"):
        return False
    import jax

    if tuple(jax.__version_info__[:2]) >= UNROLL_BEFORE:
        return False
    try:
        from jax._src.interpreters import mlir

        try:
            from jax._src.random import threefry2x32 as tf
        except ImportError:  # jax < 0.6 kept it in jax._src.prng
            from jax._src import prng as tf
        primitive, rule = tf.threefry2x32_p, tf._threefry2x32_lowering_rule
    except (ImportError, AttributeError):
        return False
    mlir.register_lowering(primitive, rule, platform="cpu")
    return True
