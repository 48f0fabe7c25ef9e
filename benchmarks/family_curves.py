"""Reference learning curves of the soft family on the classic tasks (issue 11): runs, CSV, figures.

FIXED ON 2026-11-30, BEFORE ANY RUN (seeds, budgets and settings are not changed after looking
at outcomes).  Five groups, 3 seeds each (0, 1, 2), each algorithm's own preset unchanged:

=================== ========= ============= ======== ====================================
group               algo      task          steps    loop
=================== ========= ============= ======== ====================================
soft_dqn-CartPole   soft_dqn  CartPole-v1   50,000   jitted (gymnax twin), seeds vmapped
soft_dqn-Acrobot    soft_dqn  Acrobot-v1    100,000  jitted (gymnax twin), seeds vmapped
pg-CartPole         pg        CartPole-v1   100,000  jitted (gymnax twin), seeds vmapped
pg-Acrobot          pg        Acrobot-v1    100,000  jitted (gymnax twin), seeds vmapped
sac-Pendulum        sac       Pendulum-v1   20,000   gymnasium host loop, seeds in turn
=================== ========= ============= ======== ====================================

Each group is one ``softq-ref train --algo A --env E --seeds 3 --steps N`` run directory under
``experiments/runs/family/<group>/`` (not committed), then, per seed, 10 evaluation episodes of
the final agent on the gymnasium task with ``act`` ("deterministic": soft DQN's greedy-limit
``act`` samples eq. (6) at its alpha, the policy gradient's and SAC's mean/most likely action)
and 10 with ``explore`` ("stochastic": the behaviour policy), environment seed
``5_000_000 + 1000 * seed`` and key ``PRNGKey(5_000_000 + seed)``.  A group whose CSV exists is
skipped; an interrupted group is resumed from its run directory's checkpoint.

Writes

* ``experiments/results/family/<group>.csv``: one row per (seed, step, kind) with columns
  ``group, task, algo, seed, step, kind, mean_return, std_return, episodes, wall_time_s, cpu,
  cpu_count, jax_backend, finished``; ``kind`` is ``train`` (the mean return of the training
  episodes that ended in the 1000-step logging interval; empty when none ended),
  ``eval_stochastic`` or ``eval_deterministic`` (the final agent's evaluation episodes);
  ``wall_time_s`` is the loop's training wall time at that step;
* ``docs/figures/family-<group>.png``: each seed's training curve (thin), their mean (thick) and
  the final evaluations (markers with the spread over seeds);
* with ``--sbx``, ``docs/figures/family-sac-halfcheetah-sbx.png`` from
  ``benchmarks/results/sbx_sac/*.json``: ours against sbx's SAC, per seed and mean.

Usage::

    python -m benchmarks.family_curves run            # every missing group, one after the other
    python -m benchmarks.family_curves run --group pg-CartPole
    python -m benchmarks.family_curves plot [--sbx]   # the figures from the committed CSVs
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
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


GROUPS = {  # group: (algo, task, steps) -- fixed before any run, see the module docstring
    "soft_dqn-CartPole": ("soft_dqn", "CartPole-v1", 50_000),
    "soft_dqn-Acrobot": ("soft_dqn", "Acrobot-v1", 100_000),
    "pg-CartPole": ("pg", "CartPole-v1", 100_000),
    "pg-Acrobot": ("pg", "Acrobot-v1", 100_000),
    "sac-Pendulum": ("sac", "Pendulum-v1", 20_000),
}
SEEDS = 3
EVAL_EPISODES = 10
EVAL_BASE = 5_000_000


def train_command(group: str, runs_dir: Path = RUNS) -> list[str]:
    """The ``softq-ref train`` arguments of ``group`` (``--resume`` when its run directory has a checkpoint)."""
    algo, task, steps = GROUPS[group]
    run_dir = Path(runs_dir) / group
    if (run_dir / "checkpoint.eqx").exists():
        return ["train", "--resume", str(run_dir), "--quiet"]
    return ["train", "--algo", algo, "--env", task, "--seeds", str(SEEDS), "--steps", str(steps),
            "--out", str(run_dir), "--quiet"]


def deterministic_act(algo_name: str):
    """The evaluation policy of the Zoo's tables ("deterministic"): soft DQN's argmax Q, the policy
    gradient's most likely action, SAC's mean action (its own ``act``)."""
    import jax.numpy as jnp

    if algo_name == "soft_dqn":
        from softq_ref.agent import soft_dqn

        return lambda state, obs, key: soft_dqn.greedy(state, obs)
    if algo_name == "pg":
        return lambda state, obs, key: jnp.argmax(state.policy.net(obs)).astype(jnp.float32)[None]
    return None  # sac: act is already the mean action


def evaluate_seed(run_dir: Path, seed_index: int, seed: int, task: str, algo_name: str) -> dict:
    """``{"stochastic": [...], "deterministic": [...]}``: returns of the final agent of one seed."""
    import jax

    import softq_ref
    from softq_ref.train import evaluate

    agent = softq_ref.load(run_dir, seed_index)
    det = deterministic_act(algo_name)
    modes = {"stochastic": agent.algo._replace(act=agent.algo.explore),
             "deterministic": agent.algo if det is None else agent.algo._replace(act=det)}
    out = {}
    for i, (mode, algo) in enumerate(modes.items()):
        key = jax.random.fold_in(jax.random.PRNGKey(EVAL_BASE + seed), i)
        episodes = evaluate.rollout_gym(algo, agent.state, task, key, EVAL_EPISODES, seed=EVAL_BASE + 1000 * seed)
        out[mode] = [float(e["return"]) for e in episodes]
    return out


def rows_of_run(group: str, metrics: list[dict], evaluations: dict, machine: dict, finished: str) -> list[dict]:
    """The CSV rows of one group: every metrics row (``train``) and each seed's final evaluations.

    ``metrics``: the run directory's ``metrics.csv`` rows (``step, seed, mean_return, wall_time``);
    ``evaluations``: ``{seed: {"stochastic": [...], "deterministic": [...]}}``.
    """
    algo, task, steps = GROUPS[group]
    base = {"group": group, "task": task, "algo": algo, "cpu": machine.get("cpu", ""),
            "cpu_count": machine.get("cpu_count", ""), "jax_backend": machine.get("jax_backend", ""),
            "finished": finished}
    rows, last_wall = [], {}
    for r in metrics:
        seed, step = int(r["seed"]), int(r["step"])
        wall = r.get("wall_time", "")
        last_wall[seed] = max(last_wall.get(seed, 0.0), float(wall)) if wall not in ("", None) else last_wall.get(seed, "")
        value = r.get("mean_return", "")
        rows.append({**base, "seed": seed, "step": step, "kind": "train",
                     "mean_return": "" if value in ("", None) else float(value), "std_return": "",
                     "episodes": r.get("episodes", ""), "wall_time_s": wall})
    for seed, modes in sorted(evaluations.items()):
        for mode in ("stochastic", "deterministic"):
            returns = modes[mode]
            mean = sum(returns) / len(returns)
            std = (sum((x - mean) ** 2 for x in returns) / len(returns)) ** 0.5
            rows.append({**base, "seed": seed, "step": steps, "kind": f"eval_{mode}", "mean_return": round(mean, 6),
                         "std_return": round(std, 6), "episodes": len(returns), "wall_time_s": last_wall.get(seed, "")})
    rows.sort(key=lambda r: (r["seed"], KINDS.index(r["kind"]), r["step"]))
    return rows


def machine_info() -> dict:
    import jax

    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "jax_backend": jax.default_backend()}


def run_group(group: str, results_dir: Path = RESULTS, runs_dir: Path = RUNS, train=None) -> Path | None:
    """Train (or resume) and evaluate ``group``, then write its CSV; ``None`` (nothing done) if the CSV exists."""
    out = Path(results_dir) / f"{group}.csv"
    if out.exists():
        print(f"{out} exists: skipped", flush=True)
        return None
    algo, task, steps = GROUPS[group]
    run_dir = Path(runs_dir) / group
    if train is None:
        import subprocess
        import sys

        def train(args):
            subprocess.run([sys.executable, "-m", "softq_ref.cli", *args], check=True)

    start = time.time()
    train(train_command(group, runs_dir))
    from softq_ref.io.run_dir import RunDir

    rd = RunDir.open(run_dir)
    metrics = rd.read_metrics()
    evaluations = {seed: evaluate_seed(run_dir, i, seed, task, algo) for i, seed in enumerate(rd.seeds)}
    rows = rows_of_run(group, metrics, evaluations, machine_info(),
                       time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    write_csv_atomic(out, rows)
    print(f"{group}: {time.time() - start:.0f} s; wrote {out}", flush=True)
    return out


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


def read_curves(path: Path) -> dict:
    """``{kind: {seed: ([steps], [returns])}}`` from one group's CSV (rows without a return left out), plus ``"meta"``."""
    out = {kind: defaultdict(lambda: ([], [])) for kind in KINDS}
    meta = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            meta = {"group": r["group"], "task": r["task"], "algo": r["algo"]}
            if r["mean_return"] == "":
                continue
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
    """One group's figure: training curves per seed and mean, final evaluations (see the module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = read_curves(csv_path)
    meta = curves["meta"]
    fig, ax = plt.subplots(figsize=(8.6, 4.0), dpi=100)
    train = curves["train"]
    for seed, (steps, values) in sorted(train.items()):
        ax.plot(steps, values, color="C0", lw=0.7, alpha=0.45, label="training episodes, each seed" if seed == min(train) else None)
    if train:
        steps, values = _mean_curve(train)
        ax.plot(steps, values, color="C0", lw=2.0, label=f"training episodes, mean of {len(train)} seeds")
    for shift, color, marker, kind, label in ((-0.015, "C3", "o", "eval_deterministic", "final evaluation, deterministic"),
                                              (0.015, "C2", "s", "eval_stochastic", "final evaluation, stochastic")):
        per_seed = curves[kind]
        if not per_seed:
            continue
        finals = [values[-1] for _, values in per_seed.values()]
        last = max(steps[-1] for steps, _ in per_seed.values())
        step = last * (1 + shift)  # the two markers side by side, both at the final step
        mean = sum(finals) / len(finals)
        ax.errorbar([step], [mean], yerr=[[mean - min(finals)], [max(finals) - mean]], color=color, marker=marker,
                    capsize=4, ls="none", label=f"{label} (mean, min-max over seeds)")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(f"{meta.get('algo', '?')} on {meta.get('task', '?')}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, png_path)


def _save(fig, png_path) -> Path:
    """Lay out, write and close a figure; its path (parents created)."""
    import matplotlib.pyplot as plt

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
            label = (f"{impl}: seed {next(iter(per_seed))}" if len(per_seed) == 1
                     else f"{impl}: mean of {len(per_seed)} seeds (thin: each)")
            ax.plot(steps, values, color=color, lw=2.2, label=label)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return (10 episodes, mean action)")
    ax.set_title("SAC on HalfCheetah-v5: softq_ref vs sbx")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, png_path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train and evaluate every missing group (skip those whose CSV exists)")
    run.add_argument("--group", choices=sorted(GROUPS), action="append", help="only this group (repeatable)")
    plot = sub.add_parser("plot", help="the figures from the CSVs")
    plot.add_argument("--sbx", action="store_true", help="also the HalfCheetah figure of benchmarks.sbx_sac")
    for p in (run, plot):
        p.add_argument("--results", type=Path, default=RESULTS, help="where the CSVs are (written)")
        p.add_argument("--figures", type=Path, default=FIGURES, help="where the PNGs go")
    run.add_argument("--runs", type=Path, default=RUNS, help="the run directories (not committed)")
    args = parser.parse_args(argv)
    if args.command == "run":
        for group in args.group or list(GROUPS):
            path = run_group(group, args.results, args.runs)
            if path is not None:
                print(f"wrote {plot_group(path, args.figures / f'family-{group}.png')}", flush=True)
        return 0
    paths = sorted(Path(args.results).glob("*.csv"))
    if not paths and not args.sbx:
        parser.error(f"no CSV in {args.results} (python -m benchmarks.family_curves run makes them)")
    for path in paths:
        print(f"wrote {plot_group(path, args.figures / f'family-{path.stem}.png')}")
    if args.sbx:
        png = plot_sbx(png_path=args.figures / "family-sac-halfcheetah-sbx.png")
        print(f"wrote {png}" if png else f"no results in {SBX_RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
