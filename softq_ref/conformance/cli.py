"""``softq-ref conform``: check a third-party function or learning curve from the command line.

    softq-ref conform MODULE:FUNCTION --equation eq-10 [--adapter numpy|torch|jax] [--dtype float32]
    softq-ref conform --list
    softq-ref conform --curve metrics.csv --reference multigoal-sql
    softq-ref conform --make-reference OUT.csv --from run1/metrics.csv run2/metrics.csv

Exit codes: 0 when everything passes, 1 when a property (or the curve check) fails, 2 for
bad input (one line on stderr, printed by ``softq_ref.cli``), 130 when interrupted.  The
candidate runs in a child process (``softq_ref.conformance.isolation``): whatever it does,
``os._exit(0)`` included, it cannot end this process or choose the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from softq_ref.conformance.isolation import DEFAULT_TIMEOUT

EPILOG = """\
MODULE is a dotted module importable from the current directory, or a .py file;
FUNCTION its function (dotted for a method). `--list` shows the signature each
equation expects. The report gives, per property, pass or fail, the worst absolute
and relative errors and, on failure, the shrunk counterexample.

The function runs in a child process: if it ends that process (sys.exit, os._exit),
crashes it, or does not return within --timeout seconds, its property fails (after a
timeout the remaining properties are not run). What it prints goes to stderr.
Exit codes: 0 pass, 1 fail, 2 bad input, 130 interrupted.
"""


def add_conform_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``conform`` subcommand to the ``softq-ref`` parser."""
    p = subparsers.add_parser(
        "conform",
        help="check a third-party implementation against the reference (golden vectors + Hypothesis)",
        description="Check a third-party implementation of one equation against softq_ref: the golden "
        "vectors of spec/vectors, then Hypothesis-generated inputs compared with the float64 reference.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", nargs="?", metavar="MODULE:FUNCTION", help="the function to check")
    p.add_argument("--equation", "-e",
                   help="spec id (eq-10), spec id:function (eq-13:median_bandwidth) or function name")
    p.add_argument("--adapter", choices=["numpy", "torch", "jax"], default="numpy",
                   help="how to call the function (default: %(default)s)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="the arrays the function receives (default: %(default)s)")
    p.add_argument("--examples", type=int, default=100, help="Hypothesis examples per property (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default: %(default)s)")
    p.add_argument("--rtol", type=float, default=None, help="relative tolerance (default: by equation and dtype)")
    p.add_argument("--atol", type=float, default=None, help="absolute tolerance (default: by equation and dtype)")
    p.add_argument("--properties", default=None, help="comma-separated subset, e.g. golden,temperature")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help="the longest one call of the function may take (default: %(default)g s)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--list", action="store_true", help="list the checkable equations and their signatures")
    curve = p.add_argument_group("learning curves")
    curve.add_argument("--curve", metavar="CSV", help="your metrics CSV (columns step, seed, mean_return)")
    curve.add_argument("--reference", metavar="CSV|NAME",
                       help="a reference curve (a file, or a name in spec/reference_curves)")
    curve.add_argument("--k", type=float, default=4.0,
                       help="band half-width in standard errors, k s sqrt(1/n + 1/N) (default: %(default)s)")
    curve.add_argument("--margin", type=float, default=0.0, help="absolute widening of the band (default: %(default)s)")
    curve.add_argument("--min-inside", type=float, default=0.9,
                       help="fraction of compared steps that must lie inside (default: %(default)s)")
    curve.add_argument("--test", choices=["band", "iqm"], default="band",
                       help="band: the mean curve inside the reference band at every step (reference: a summary "
                       "CSV); iqm: 95%% stratified-bootstrap intervals of the final IQM overlap (reference: per-seed "
                       "curves, columns step, seed, mean_return) (default: %(default)s)")
    curve.add_argument("--step", type=float, default=None,
                       help="--test iqm: the final step (default: the last step every reference seed reaches)")
    curve.add_argument("--window", type=int, default=1,
                       help="--test iqm: evaluations averaged into each seed's final score (default: %(default)s)")
    curve.add_argument("--make-reference", metavar="OUT_CSV",
                       help="write a reference curve, a new file (one already there is refused), from the files given as --from")
    curve.add_argument("--from", dest="sources", nargs="+", metavar="CSV",
                       help="metrics CSVs for --make-reference (a summary curve), or campaign result files "
                       "(results/<campaign>/*.json: written as per-seed curves, a reference for --test iqm)")
    curve.add_argument("--eval-mode", choices=["stochastic", "deterministic"], default=None,
                       help="--make-reference from campaign result files: which evaluation episodes make each "
                       "seed's curve (deterministic: DDPG's actor without noise, as the paper reports DDPG) "
                       "(default: stochastic)")
    p.set_defaults(func=run)
    return p


def list_text() -> str:
    """What ``softq-ref conform --list`` prints: the checkable spec entries and their signatures."""
    from softq_ref.conformance.targets import checkable_entries

    lines = ["Checkable equations (softq-ref conform MODULE:FUNCTION --equation ID):", ""]
    for entry, targets in checkable_entries():
        title = f"{entry.id}  {entry.title}  ({entry.paper})" if entry is not None else "(not in the spec registry)"
        lines.append(title)
        for i, t in enumerate(targets):
            default = "  [default]" if i == 0 and len(targets) > 1 else ""
            lines.append(f"  --equation {t.label}{default}")
            lines.append(f"      {t.signature}")
            lines.append(textwrap.fill(t.summary, 92, initial_indent="      ", subsequent_indent="      "))
            for note in t.notes:
                lines.append(textwrap.fill(note, 92, initial_indent="      - ", subsequent_indent="        "))
            lines.append(f"      properties: golden, {', '.join(p.name for p in t.properties)}")
        lines.append("")
    lines.append("Scalars are Python floats (action_dim an int); arrays NumPy arrays, torch tensors or jax arrays.")
    return "\n".join(lines)


def _run_curve(args) -> int:
    from softq_ref.conformance import curves

    if args.make_reference and args.curve:
        raise ValueError("give either --curve (check a curve) or --make-reference (write one), not both")
    if args.make_reference:
        if not args.sources:
            raise ValueError("--make-reference needs --from METRICS.csv [METRICS.csv ...]")
        if all(str(s).endswith(".json") for s in args.sources):
            mode = args.eval_mode or "stochastic"
            curves.campaign_curves_csv(args.sources, args.make_reference, mode=mode)
            print(f"wrote {args.make_reference}: per-seed curves ({mode} evaluations) of {len(args.sources)} "
                  "campaign run(s)")
            return 0
        if args.eval_mode:
            raise ValueError("--eval-mode is for campaign result files (--from results/<campaign>/*.json); "
                             "a metrics CSV has one return per evaluation")
        reference = curves.write_reference_curve(args.sources, args.make_reference)
        print(f"wrote {args.make_reference}: {len(reference.steps)} steps, {int(reference.n_seeds.max())} seeds")
        return 0
    for flag, given in (("--from", args.sources), ("--eval-mode", args.eval_mode)):
        if given:  # silently ignoring it would check another curve than the one the user meant
            raise ValueError(f"{flag} goes with --make-reference; --curve checks the one metrics CSV it names")
    if not args.reference:
        raise ValueError("--curve needs --reference (a reference curve CSV or a name in spec/reference_curves)")
    if args.test == "iqm":
        report = curves.check_final_iqm(args.curve, curves.resolve_reference(args.reference), step=args.step,
                                        window=args.window)
    else:
        report = curves.check_curve(args.curve, args.reference, k=args.k, margin=args.margin,
                                    min_inside=args.min_inside)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    return 0 if report.passed else 1


def run(args) -> int:
    """The handler of ``softq-ref conform``: returns the exit code."""
    try:
        return _run(args)
    except KeyboardInterrupt:  # nothing to resume: a check keeps no state
        print("softq-ref conform: interrupted; nothing was written (run the check again)", file=sys.stderr)
        return 130


def _run(args) -> int:
    if args.list:
        print(list_text())
        return 0
    if args.curve or args.make_reference:
        if args.target:
            raise ValueError("give either MODULE:FUNCTION or --curve/--make-reference, not both")
        return _run_curve(args)
    if not args.target:
        raise ValueError("give MODULE:FUNCTION and --equation (or --list, or --curve)")
    if not args.equation:
        raise ValueError("--equation is required (see `softq-ref conform --list`)")
    from softq_ref.conformance.check import check

    properties = [s.strip() for s in args.properties.split(",") if s.strip()] if args.properties else None
    try:
        report = check(args.target, args.equation, adapter=args.adapter, dtype=args.dtype, examples=args.examples,
                       seed=args.seed, rtol=args.rtol, atol=args.atol, properties=properties, timeout=args.timeout)
    except ImportError as err:  # a missing optional framework: one line, exit code 2
        raise ValueError(str(err)) from err
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    return 0 if report.passed else 1
