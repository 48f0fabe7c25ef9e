"""``python -m benchmarks [--quick] [--out PATH] [--only SECTION ...]``

Measures, in one process: the machine's ceilings, ``train_step`` at the multi-goal and
MuJoCo sizes, the jitted and host training loops, and tabular soft Q-iteration; prints a
Markdown table with PASS/MISS beside each target and writes the raw figures as JSON
(``benchmarks/results/latest.json`` unless ``--out`` says otherwise).  ``--quick`` is a
smoke run of a minute or two whose figures are indicative only.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

SECTIONS = ("ceilings", "train_step", "loops", "tabular")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="short settings: a smoke run, figures indicative only")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="run only these sections")
    args = parser.parse_args(argv)

    # Imported here so that --help is instant.
    from benchmarks import agent, ceilings, loops, report, tabular
    from benchmarks.timing import load_average, machine

    results = {
        "mode": "quick" if args.quick else "full",
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": load_average(),
    }
    start = time.perf_counter()

    def section(name, fn):
        if name not in args.only:
            return
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results[name] = fn()
        print(f"[benchmarks] {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    section("ceilings", lambda: {
        "matmul": ceilings.matmul_gflops(sizes=(1024,) if args.quick else (1024, 2048), repeats=5 if args.quick else 10),
        "copy": ceilings.copy_bandwidth(megabytes=128 if args.quick else 256, repeats=5 if args.quick else 10),
    })
    section("train_step", lambda: agent.run(args.quick))
    section("loops", lambda: loops.run(args.quick))
    section("tabular", lambda: tabular.run(args.quick))

    results["load_average_end"] = load_average()
    results["wall_s"] = time.perf_counter() - start
    report.write_json(results, args.out)
    la0, la1 = results["load_average_start"], results["load_average_end"]
    print(f"softq_ref benchmarks ({results['mode']}), {results['machine']['cpu']}, {results['machine']['cpu_count']} CPUs, "
          f"jax {results['machine']['jax']}; load average {la0} at start, {la1} at end; {results['wall_s']:.0f} s")
    print()
    print(report.table(results))
    print()
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
