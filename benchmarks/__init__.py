"""Performance benchmarks of softq_ref: ``python -m benchmarks``.

One process, one run: it first measures the machine's own ceilings (float32 matmul
throughput, memory copy bandwidth), then the soft Q-learning update, the two training
loops and tabular soft Q-iteration, and reports every figure as a ratio to a ceiling or
to a simpler baseline measured in the same run, so the table means the same thing on a
quiet laptop and on a busy CI machine.  ``docs/benchmarks.md`` explains the table.

Modules:

* :mod:`benchmarks.timing` -- clocks, medians, machine description.
* :mod:`benchmarks.ceilings` -- matmul GFLOP/s and copy GB/s.
* :mod:`benchmarks.flops` -- a hand count of the matmul FLOPs of one SQL update.
* :mod:`benchmarks.agent` -- ``softq_ref.agent.sql.train_step``: time, FLOPs, compile time.
* :mod:`benchmarks.loops` -- the jitted multi-goal loop (one and many seeds) and the gymnasium host loop.
* :mod:`benchmarks.tabular` -- one soft Bellman sweep on dense MDPs against NumPy.
* :mod:`benchmarks.report` -- the table, the targets, the JSON file.
"""
