"""The results of a campaign, as a docs page shows them: curves, a table, and the paper's statistics.

``softq-ref campaign report experiments/X.toml`` reads the campaign's committed result files
(finished runs only: a partial run is not a result) and writes

* one figure per task, ``<figures>/campaign-<name>-<task>.png``: each group's evaluation
  return over steps, the mean over its finished runs with the min-max band and each run thin
  (:func:`softq_ref.figures.learning_curve_figure`);
* ``results/<name>/report.md``, which the experiments page includes: per group, how many runs
  finished, the final evaluation return (mean and standard deviation over runs, each run's own
  mean over its episodes), the interquartile mean with a 95% stratified-bootstrap interval
  (:mod:`softq_ref.stats`, rliable's estimators; two or more runs), the wall time per run; the
  fraction of runs whose training crossed each of the task's episode counters (the swimming
  snake's threshold line, the maze's goal), with its exact 95% interval; and, for locomotion
  evaluations, the net displacement along x per episode, which tells running from rocking in
  place under a reward for speed in either direction.

Nothing here trains or evaluates: the report is a function of the result files, so it can be
made again on any machine and gives the same numbers.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from softq_ref.campaign.plan import Campaign, Group
from softq_ref.campaign.summary import crossing_fraction

#: The order of the modes in the table (a result whose fingerprint is not its group's is left out: stale).
_MODES_ORDER = ("stochastic", "deterministic")


def _finished(campaign: Campaign, group: Group) -> list[tuple[Path, dict]]:
    from softq_ref.campaign.plan import Run
    from softq_ref.campaign.runner import result_path

    out = []
    for seed in group.seeds:
        path = result_path(campaign, Run(group, seed))
        if path.is_file():
            data = json.loads(path.read_text())
            if data.get("fingerprint") == group.fingerprint():
                out.append((path, data))
    return out


def _last_evaluation(path: Path, data: dict) -> dict:
    """The run's last evaluation; the repeated one of a run trained again when it holds more fields."""
    last = data["evaluations"][-1]
    again = path.with_suffix(".regenerated.json")
    if "x_displacement" not in last and again.is_file():
        check = json.loads(again.read_text())
        if check.get("max_abs_difference") == 0.0:  # the same agent: its other fields may be used
            return check["evaluation_again"]
    return last


def _final(data: dict, mode: str) -> float:
    last = data["evaluations"][-1]
    return float(np.mean(last[mode]))


def _slug(task: str) -> str:
    return task.replace("softq_ref/", "").replace("/", "-")


def _fmt(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


def group_rows(campaign: Campaign) -> list[dict]:
    """One dict per (group, evaluation mode): the numbers of the report's table."""
    from softq_ref.stats import stratified_bootstrap_ci

    rows = []
    for g in campaign.groups:
        finished = _finished(campaign, g)
        for mode in (m for m in _MODES_ORDER if m in g.eval_modes):
            row = {"group": g.name, "task": g.task, "algo": g.algo, "mode": mode, "planned": len(g.seeds),
                   "finished": len(finished), "steps": g.steps}
            if finished:
                finals = np.array([_final(d, mode) for _, d in finished])
                row.update(finals=finals.tolist(), mean=float(finals.mean()),
                           std=float(finals.std(ddof=1)) if finals.size > 1 else float("nan"),
                           wall_time_h=float(np.mean([d["wall_time_s"] for _, d in finished])) / 3600.0)
                if finals.size >= 2:
                    row["iqm"] = stratified_bootstrap_ci(finals)
                moved = [_last_evaluation(p, d).get("x_displacement", {}).get(mode) for p, d in finished]
                moved = [m for m in moved if m is not None]  # a run that predates the field has none
                if moved:
                    row["x_displacement"] = float(np.mean([np.mean(m) for m in moved]))
                    row["abs_x_displacement"] = float(np.mean([np.mean(np.abs(m)) for m in moved]))
                    row["x_displacement_runs"] = len(moved)
            rows.append(row)
    return rows


def crossing_rows(campaign: Campaign) -> list[dict]:
    """Per group with finished runs and episode counters: the fraction of runs with such an episode."""
    out = []
    for g in campaign.groups:
        files = [p for p, _ in _finished(campaign, g)]
        if not files:
            continue
        for counter in sorted(json.loads(files[0].read_text()).get("episode_counters", {})):
            got = crossing_fraction(files, counter)
            out.append({"group": g.name, "counter": counter, **got})
    return out


def curve_rows(finished: list[tuple[Path, dict]], mode: str) -> list[dict]:
    """``{"step", "seed", "mean_return"}`` rows of the evaluations (the mean over a point's episodes)."""
    return [{"step": e["step"], "seed": d["seed"], "mean_return": float(np.mean(e[mode]))}
            for _, d in finished for e in d["evaluations"] if mode in e]


def write_report(campaign: Campaign, figures_dir: Path, *, commit: str = "", out: Path | None = None) -> Path:
    """Write the figures and ``results/<name>/report.md`` (or ``out``); return the report's path."""
    from softq_ref.campaign.plan import Run
    from softq_ref.campaign.runner import result_path
    from softq_ref.figures import learning_curve_figure

    figures_dir = Path(figures_dir)
    rows = group_rows(campaign)
    report = Path(out) if out is not None else result_path(campaign, Run(campaign.groups[0],
                                                                         campaign.groups[0].seeds[0])).parent / "report.md"
    done = sum(len(_finished(campaign, g)) for g in campaign.groups)
    planned = sum(len(g.seeds) for g in campaign.groups)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [f"**Campaign `{campaign.name}`: {done} of {planned} runs finished** (report made {stamp}"
             + (f" at commit `{commit}`" if commit else "") + f" by `softq-ref campaign report {campaign.path.name}`; "
             "finished runs only).", ""]
    if done == 0:
        lines.append("No run has finished yet: no curve, no table.")
    tasks = list(dict.fromkeys(g.task for g in campaign.groups))
    for task in tasks:
        groups = [g for g in campaign.groups if g.task == task]
        sources, labels = [], []
        for g in groups:
            finished = _finished(campaign, g)
            if not finished:
                continue
            for mode in (m for m in _MODES_ORDER if m in g.eval_modes):
                sources.append(curve_rows(finished, mode))
                labels.append(f"{g.name} ({mode})")
        if not sources:
            continue
        figures_dir.mkdir(parents=True, exist_ok=True)
        name = f"campaign-{campaign.name}-{_slug(task)}.png"
        learning_curve_figure(sources, figures_dir / name, labels=labels, show_seeds=True,
                              title=f"{task}: evaluation return (mean, min-max band, runs thin)")
        lines += ["", f"![{campaign.name}: {task}](figures/{name})", ""]
    if done:
        lines += ["", "| group | mode | runs | final return, mean ± sd | IQM [95% CI] | per run | net x displacement per episode | wall time per run |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if not r["finished"]:
                lines.append(f"| `{r['group']}` | {r['mode']} | 0/{r['planned']} | | | | | |")
                continue
            sd = "" if np.isnan(r["std"]) else f" ± {_fmt(r['std'])}"
            ci = (f"{_fmt(r['iqm'][0])} [{_fmt(r['iqm'][1])}, {_fmt(r['iqm'][2])}]" if "iqm" in r else "(one run)")
            moved = (f"{r['x_displacement']:+.2f} m (mean \\|·\\| {r['abs_x_displacement']:.2f} m)"
                     if "x_displacement" in r else "")
            if "x_displacement" in r and r["x_displacement_runs"] < r["finished"]:
                moved += f" ({r['x_displacement_runs']} of {r['finished']} runs)"
            per = ", ".join(_fmt(x) for x in r["finals"])
            lines.append(f"| `{r['group']}` | {r['mode']} | {r['finished']}/{r['planned']} | {_fmt(r['mean'])}{sd} | "
                         f"{ci} | {per} | {moved} | {r['wall_time_h']:.2f} h |")
        crossings = crossing_rows(campaign)
        if crossings:
            lines += ["", "| group | runs with an episode that reached | fraction | exact 95% interval |", "|---|---|---|---|"]
            for c in crossings:
                lo, hi = c["interval"]
                lines.append(f"| `{c['group']}` | `{c['counter']}`: {c['crossed']} of {c['runs']} | "
                             f"{c['fraction']:.2f} | [{lo:.2f}, {hi:.2f}] |")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines) + "\n")
    return report
