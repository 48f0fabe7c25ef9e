"""Regenerate the figures of the documentation site (``docs/figures/``).

    .venv/bin/python docs/make_figures.py                 # everything, published settings
    .venv/bin/python docs/make_figures.py --only alpha    # the gridworld figure only (seconds)
    .venv/bin/python docs/make_figures.py --quick         # 300 steps, 2 seeds: a smoke run

Figures (all PNG, in ``--figures-dir``, by default ``docs/figures``):

``alpha_limit.png``
    The Boltzmann policy of the gridworld tutorial as the temperature goes to 0 (exact
    soft Q-iteration; also rewrites the tutorial's printed table,
    ``docs/tutorials/tabular_gridworld.out``).
``multigoal_sql.png``, ``multigoal_ddpg.png``
    Figure 1 of the paper, redrawn for soft Q-learning and for DDPG on the multi-goal
    task (``softq_ref.figures.multigoal_figure``), from the first seed of each run.
``learning_curves.png``
    Mean return against environment steps for both algorithms, mean over seeds with the
    min-max band (``softq_ref.figures.learning_curve_figure``).
``multigoal.txt``
    A caption recording how the multi-goal figures were made (steps, seeds, date,
    versions); the docs pages include it, so the settings shown are always the real ones.

Training runs go to ``--runs-dir`` (default ``runs/docs-figures``); an existing finished
run with the requested settings is reused unless ``--retrain`` is given.  With the default
settings (the multi-goal preset and its default length, 10,000 steps, 5 seeds per algorithm, each
algorithm's seeds as one vmapped program) expect minutes to an hour on a CPU.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorials" / "tabular_gridworld.py"
FIGURES = ("alpha", "multigoal")
#: The multi-goal preset's default run length (SQLConfig().total_steps).
PRESET_STEPS = 10_000


def make_alpha(figures_dir: Path, table_path: Path | None) -> list[Path]:
    """The gridworld figure (and the tutorial's table when ``table_path`` is given).

    The tutorial runs in its own process: it enables float64 for the exact tables, which
    must not leak into the training runs of this process.
    """
    import subprocess

    path = figures_dir / "alpha_limit.png"
    done = subprocess.run([sys.executable, str(TUTORIAL), str(path)], check=True, capture_output=True, text=True)
    if table_path is not None:
        table = [line for line in done.stdout.splitlines() if not line.startswith("figure:")]
        table_path.write_text("\n".join(table) + "\n")
    return [path]


def _finished(run_dir: Path, steps: int, seeds: list[int]) -> bool:
    """Whether ``run_dir`` holds a completed run of ``steps`` steps with these seeds."""
    import csv

    config, metrics = run_dir / "config.json", run_dir / "metrics.csv"
    if not (config.is_file() and metrics.is_file() and (run_dir / "checkpoint.eqx").is_file()):
        return False
    meta = json.loads(config.read_text())
    if meta.get("seeds") != seeds or meta.get("config", {}).get("total_steps") != steps:
        return False
    with metrics.open(newline="") as f:
        last = max((int(row["step"]) for row in csv.DictReader(f)), default=0)
    return last >= steps


def train_or_reuse(algo: str, run_dir: Path, steps: int, seeds: list[int], retrain: bool) -> str:
    from softq_ref.agent.config import DDPGConfig, SQLConfig
    from softq_ref.train.runner import train_jax

    if not retrain and _finished(run_dir, steps, seeds):
        return "reused"
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    cls = SQLConfig if algo == "sql" else DDPGConfig
    config = cls.preset_for("multigoal").replace(total_steps=steps)
    train_jax(config, seeds=seeds, out_dir=run_dir, progress=sys.stderr.isatty())
    return "trained"


def make_multigoal(figures_dir: Path, runs_dir: Path, steps: int, num_seeds: int, retrain: bool) -> list[Path]:
    import jax

    import softq_ref
    from softq_ref.figures import learning_curve_figure, multigoal_figure
    from softq_ref.trained import load

    seeds = list(range(num_seeds))
    names = {"sql": "soft Q-learning", "ddpg": "DDPG"}
    written, status = [], {}
    for algo in ("sql", "ddpg"):
        run_dir = runs_dir / algo
        status[algo] = train_or_reuse(algo, run_dir, steps, seeds, retrain)
        agent = load(run_dir, 0)
        path = figures_dir / f"multigoal_{algo}.png"
        multigoal_figure(agent.algo, agent.state, jax.random.key(1234), path,
                         title=f"{names[algo]}: {steps:,} steps, seed {seeds[0]}")
        written.append(path)
    curves = figures_dir / "learning_curves.png"
    learning_curve_figure([runs_dir / a / "metrics.csv" for a in ("sql", "ddpg")], curves,
                          labels=[names["sql"], names["ddpg"]],
                          title=f"Multi-goal task: mean return per chunk, {num_seeds} seeds (band: min-max)")
    written.append(curves)

    today = datetime.date.today().isoformat()
    settings = "the published multi-goal preset" if steps == PRESET_STEPS else f"{steps:,} steps (the preset trains {PRESET_STEPS:,})"
    caption = (
        f"Made on {today} by `python docs/make_figures.py` with {settings}, {num_seeds} seed(s) per "
        f"algorithm (seeds {', '.join(map(str, seeds))}; Figure 1 panels from seed {seeds[0]}); "
        f"softq_ref {softq_ref.__version__}, JAX {jax.__version__}, Python {platform.python_version()}."
    )
    if steps < PRESET_STEPS:
        caption += (
            f" **These figures come from a short smoke run ({steps:,} steps) and do not show a trained "
            "agent.** Regenerate them with `python docs/make_figures.py`."
        )
    (figures_dir / "multigoal.txt").write_text(caption + "\n")
    written.append(figures_dir / "multigoal.txt")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=FIGURES, action="append", help="make only these figures (repeatable)")
    parser.add_argument("--steps", type=int, default=PRESET_STEPS, help="environment steps per multi-goal run")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per algorithm")
    parser.add_argument("--quick", action="store_true", help="smoke settings: 300 steps, 2 seeds")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "docs-figures")
    parser.add_argument("--figures-dir", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--retrain", action="store_true", help="train even if a finished run exists")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.seeds = 300, 2
    if args.steps < 1 or args.seeds < 1:
        parser.error("--steps and --seeds must be positive")
    wanted = args.only or list(FIGURES)
    args.figures_dir.mkdir(parents=True, exist_ok=True)

    written = []
    if "alpha" in wanted:
        # The tutorial's printed table is rewritten only with the real figures directory.
        default_dir = args.figures_dir.resolve() == (ROOT / "docs" / "figures").resolve()
        table = TUTORIAL.with_suffix(".out") if default_dir else None
        written += make_alpha(args.figures_dir, table)
    if "multigoal" in wanted:
        written += make_multigoal(args.figures_dir, args.runs_dir, args.steps, args.seeds, args.retrain)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
