"""``python -m benchmarks [--quick] [--gpu] [--out PATH] [--only SECTION ...]``

Measures, in one process: the machine's ceilings, ``train_step`` at the multi-goal and
MuJoCo sizes, the jitted and host training loops, and tabular soft Q-iteration; prints a
Markdown table with PASS/MISS beside each target and writes the raw figures as JSON
(``benchmarks/results/latest.json`` unless ``--out`` says otherwise).  ``--quick`` is a
smoke run of a minute or two whose figures are indicative only.  ``--gpu`` runs the
``device`` section (issue 13's accelerator figures: bf16/f32 matmul, train_step in scan and per
call, vmapped seeds 1..1024, a 16-point sweep against one point, the host loop) on whatever
device JAX has, in about 8 minutes on one GPU, and writes ``benchmarks/results/device-<backend>.json``
and ``.txt``; ``benchmarks/gpu.sh`` is that command.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

SECTIONS = ("ceilings", "train_step", "loops", "tabular", "device")
DEFAULT_SECTIONS = ("ceilings", "train_step", "loops", "tabular")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="short settings: a smoke run, figures indicative only")
    parser.add_argument("--gpu", action="store_true",
                        help="the accelerator figures only (section 'device'); written to results/device-<backend>.json/.txt")
    parser.add_argument("--out", type=Path, default=None, help=f"JSON output (default {DEFAULT_OUT})")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=None,
                        help=f"run only these sections (default: {' '.join(DEFAULT_SECTIONS)})")
    args = parser.parse_args(argv)
    if args.gpu and args.only:
        parser.error("--gpu is the 'device' section; do not combine it with --only")
    args.only = ["device"] if args.gpu else (args.only or list(DEFAULT_SECTIONS))
    if args.out is None:
        import jax

        args.out = DEFAULT_OUT.with_name(f"device-{jax.default_backend()}.json") if args.gpu else DEFAULT_OUT

    # Imported here so that --help is instant.
    from benchmarks import agent, ceilings, device, loops, report, tabular
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
    section("device", lambda: device.run(args.quick, partial=args.out.with_suffix(".partial.json")))

    results["load_average_end"] = load_average()
    results["wall_s"] = time.perf_counter() - start
    report.write_json(results, args.out)
    la0, la1 = results["load_average_start"], results["load_average_end"]
    print(f"softq_ref benchmarks ({results['mode']}), {results['machine']['cpu']}, {results['machine']['cpu_count']} CPUs, "
          f"jax {results['machine']['jax']}; load average {la0} at start, {la1} at end; {results['wall_s']:.0f} s")
    lines = [f"softq_ref benchmarks ({results['mode']}), {results['machine']['cpu']}, {results['machine']['cpu_count']} CPUs, "
             f"jax {results['machine']['jax']}; load average {la0} at start, {la1} at end; {results['wall_s']:.0f} s", ""]
    if set(args.only) - {"device"}:
        lines += [report.table(results), ""]
    if "device" in results:
        lines += [device.table(results["device"]), ""]
    print("\n".join(lines[1:]))
    if args.gpu:
        args.out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
        print(f"table: {args.out.with_suffix('.txt')}")
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
