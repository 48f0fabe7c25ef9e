"""Reference curves of the soft family: CSV per campaign group and the docs' figures (issue 11).

Reads what ``softq-ref campaign run experiments/family.toml`` left: the committed result files
``experiments/results/family/<group>-s<seed>.json`` (evaluations every ``eval_every`` steps,
the training curve, the run's wall time and machine) and, where they are still on disk, the
run directories ``experiments/runs/family/<run>/train/metrics.csv`` (the training wall time
at every logged step).  Writes

* ``experiments/results/family/<group>.csv``: one row per (seed, step, kind) with columns
  ``group, task, algo, seed, step, kind, mean_return, std_return, episodes, wall_time_s, cpu,
  cpu_count, jax_backend, finished``; ``kind`` is ``train`` (the mean return of the training
  episodes that ended in the logging interval), ``eval_stochastic`` or ``eval_deterministic``
  (the evaluation episodes of the checkpoint at that step); ``wall_time_s`` is the training
  wall time from the start of the run (evaluations excluded; empty where the run directory
  is gone);
* ``docs/figures/family-<group>.png``: each seed's deterministic evaluation (thin), their mean
  (thick), the mean stochastic evaluation (dashed) and the mean training return (faint);
* with ``--sbx``, ``docs/figures/family-sac-halfcheetah-sbx.png`` from
  ``benchmarks/results/sbx_sac/*.json``: ours against sbx's SAC, per seed and mean.

Usage::

    python -m benchmarks.family_curves                 # CSVs and figures of the family campaign
    python -m benchmarks.family_curves --sbx           # + the HalfCheetah figure of benchmarks.sbx_sac
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results" / "family"
RUNS = ROOT / "experiments" / "runs" / "family"
FIGURES = ROOT / "docs" / "figures"
SBX_RESULTS = ROOT / "benchmarks" / "results" / "sbx_sac"
COLUMNS = ["group", "task", "algo", "seed", "step", "kind", "mean_return", "std_return", "episodes", "wall_time_s",
           "cpu", "cpu_count", "jax_backend", "finished"]
KINDS = ("train", "eval_stochastic", "eval_deterministic")


def cpu_model() -> str:
    """The CPU model of this machine (``/proc/cpuinfo``), or ``""``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def training_wall_times(metrics_csv: Path) -> dict[int, float]:
    """``{step: seconds}`` from a run directory's ``metrics.csv``, continued across campaign segments.

    Each segment of a campaign run (one ``--resume --steps N``) restarts the loop's ``wall_time``
    at 0; a row whose ``wall_time`` is below the previous row's starts a new segment, whose
    times are added to the previous segment's last one.  The time between segments (the
    evaluation, the compilation before the first logged row) is not counted.
    """
    out, offset, last = {}, 0.0, 0.0
    with open(metrics_csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("step") and r.get("wall_time") not in (None, "")]
    for r in sorted(rows, key=lambda r: int(r["step"])):
        wall = float(r["wall_time"])
        if wall < last:
            offset += last
        last = wall
        out[int(r["step"])] = round(offset + wall, 3)
    return out


def rows_of_result(result: dict, wall: dict[int, float], machine_cpu: str) -> list[dict]:
    """The CSV rows of one campaign result file (``wall``: the run's training wall time by step)."""
    machine = result.get("machine", {})
    base = {"group": result["group"], "task": result["task"], "algo": result["algo"], "seed": result["seed"],
            "cpu": machine_cpu, "cpu_count": machine.get("cpu_count", ""),
            "jax_backend": machine.get("jax_backend", ""), "finished": result.get("finished", "")}
    rows = []
    for step, mean_return in result["train_curve"]:
        rows.append({**base, "step": int(step), "kind": "train", "mean_return": float(mean_return), "std_return": "",
                     "episodes": "", "wall_time_s": wall.get(int(step), "")})
    for record in result["evaluations"]:
        for mode in ("stochastic", "deterministic"):
            if mode not in record:
                continue
            returns = [float(x) for x in record[mode]]
            mean = sum(returns) / len(returns)
            std = (sum((x - mean) ** 2 for x in returns) / len(returns)) ** 0.5
            rows.append({**base, "step": int(record["step"]), "kind": f"eval_{mode}", "mean_return": round(mean, 6),
                         "std_return": round(std, 6), "episodes": len(returns),
                         "wall_time_s": wall.get(int(record["step"]), "")})
    return rows


def write_csv_atomic(path: Path, rows: list[dict], columns=COLUMNS) -> None:
    """``rows`` as a CSV at ``path``, written through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="raise")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def export(results_dir: Path = RESULTS, runs_dir: Path = RUNS, out_dir: Path | None = None) -> list[Path]:
    """One CSV per group from the result files in ``results_dir``; the paths written."""
    out_dir = Path(out_dir or results_dir)
    by_group = defaultdict(list)
    cpu = cpu_model()
    for path in sorted(Path(results_dir).glob("*.json")):
        result = json.loads(path.read_text())
        metrics = Path(runs_dir) / result["run"] / "train" / "metrics.csv"
        wall = training_wall_times(metrics) if metrics.exists() else {}
        by_group[result["group"]].extend(rows_of_result(result, wall, cpu))
    written = []
    for group, rows in sorted(by_group.items()):
        rows.sort(key=lambda r: (r["seed"], KINDS.index(r["kind"]), r["step"]))
        path = out_dir / f"{group}.csv"
        write_csv_atomic(path, rows)
        written.append(path)
    return written


def read_curves(path: Path) -> dict:
    """``{kind: {seed: ([steps], [returns])}}`` from one group's CSV, plus ``"meta"`` (task, algo)."""
    out = {kind: defaultdict(lambda: ([], [])) for kind in KINDS}
    meta = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            meta = {"group": r["group"], "task": r["task"], "algo": r["algo"]}
            steps, values = out[r["kind"]][int(r["seed"])]
            steps.append(int(r["step"]))
            values.append(float(r["mean_return"]))
    return {"meta": meta, **{k: dict(v) for k, v in out.items()}}


def _mean_curve(per_seed: dict) -> tuple[list[int], list[float]]:
    """The mean over seeds at the steps every seed has."""
    common = sorted(set.intersection(*(set(s) for s, _ in per_seed.values()))) if per_seed else []
    lookup = [dict(zip(s, v)) for s, v in per_seed.values()]
    return common, [sum(d[x] for d in lookup) / len(lookup) for x in common]


def plot_group(csv_path: Path, png_path: Path) -> Path:
    """One group's figure (see the module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = read_curves(csv_path)
    meta = curves["meta"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    det = curves["eval_deterministic"]
    for seed, (steps, values) in sorted(det.items()):
        ax.plot(steps, values, color="C0", lw=0.8, alpha=0.5, marker=".", label=f"deterministic, seed {seed}" if seed == min(det) else None)
    if det:
        steps, values = _mean_curve(det)
        ax.plot(steps, values, color="C0", lw=2.2, label=f"deterministic, mean of {len(det)} seeds")
    if curves["eval_stochastic"]:
        steps, values = _mean_curve(curves["eval_stochastic"])
        ax.plot(steps, values, color="C1", lw=1.6, ls="--", label="stochastic (behaviour policy), mean")
    if curves["train"]:
        steps, values = _mean_curve(curves["train"])
        ax.plot(steps, values, color="0.5", lw=1.0, alpha=0.6, label="training episodes, mean")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return (10 evaluation episodes)")
    ax.set_title(f"{meta.get('algo', '?')} on {meta.get('task', '?')}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


def plot_sbx(results_dir: Path = SBX_RESULTS, png_path: Path = FIGURES / "family-sac-halfcheetah-sbx.png") -> Path | None:
    """Ours against sbx's SAC on HalfCheetah-v5 (deterministic evaluation), per seed and mean; None without results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = defaultdict(dict)
    for path in sorted(Path(results_dir).glob("*.json")):
        rec = json.loads(path.read_text())
        runs[rec["impl"]][rec["seed"]] = ([e["step"] for e in rec["evals"]], [e["deterministic_mean"] for e in rec["evals"]])
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for color, impl in zip(("C0", "C3"), ("ours", "sbx")):
        per_seed = runs.get(impl, {})
        for steps, values in per_seed.values():
            ax.plot(steps, values, color=color, lw=0.8, alpha=0.45, marker=".")
        if per_seed:
            steps, values = _mean_curve(per_seed)
            ax.plot(steps, values, color=color, lw=2.2, label=f"{impl}: mean of {len(per_seed)} seeds (thin: each)")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return (10 episodes, mean action)")
    ax.set_title("SAC on HalfCheetah-v5: softq_ref vs sbx")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="the campaign's result files (and CSV output)")
    parser.add_argument("--runs", type=Path, default=RUNS, help="the campaign's run directories (for wall times)")
    parser.add_argument("--figures", type=Path, default=FIGURES, help="where the PNGs go")
    parser.add_argument("--sbx", action="store_true", help="also the HalfCheetah figure of benchmarks.sbx_sac")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        parser.error(f"{args.results} is not a directory (run the campaign first: softq-ref campaign run experiments/family.toml)")
    for path in export(args.results, args.runs):
        png = plot_group(path, args.figures / f"family-{path.stem}.png")
        print(f"wrote {path} and {png}")
    if args.sbx:
        png = plot_sbx(png_path=args.figures / "family-sac-halfcheetah-sbx.png")
        print(f"wrote {png}" if png else f"no results in {SBX_RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
