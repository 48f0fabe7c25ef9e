"""Several environments per seed (spec ``dev-num-envs``): speed and what the agent learns, for 1, 8, 50, ... environments.

For each ``--num-envs`` value it trains one jitted-loop run (``--seeds`` vmapped seeds, the
task's preset, ``--steps`` environment steps, the same number of updates whatever the number of
environments) and reports:

* environment steps per second after compilation (from ``metrics.csv``'s wall times: the steps
  of the chunks after the first learning chunk, over their time);
* the whole run's wall time, compilation included;
* what was learned: on the multi-goal task, how many of 100 stochastic rollouts of each seed end at
  each goal (the ``train`` command's report); on another task, the mean episode return of each
  seed's last chunk.

Usage (the figures in docs/scale.md)::

    python -m benchmarks.num_envs --steps 10000 --seeds 3 --num-envs 1 8 50
    python -m benchmarks.num_envs --env HalfCheetah-v5 --steps 100000 --num-envs 1 64 256   # on a GPU (MJX)

Runs go to ``--out`` (default a temporary directory, removed afterwards); a JSON of the figures
is written with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from softq_ref.envs.multigoal_task import MULTIGOAL_ID


def measure(env_id: str, steps: int, seeds: int, num_envs: int, chunk_steps: int, out: Path) -> dict:
    from softq_ref.io import checkpoint as ckpt
    from softq_ref.train import launch

    config = launch.make_config("sql", env_id, steps=steps)
    from softq_ref.train.jax_loop import whole_iterations

    chunk = whole_iterations(chunk_steps, num_envs)
    start = time.perf_counter()
    launch.train(config, env_id=env_id, seeds=list(range(seeds)), out_dir=out, loop="jax", chunk_steps=chunk,
                 num_envs=num_envs, progress=False)
    wall = time.perf_counter() - start
    rows = ckpt.read_metrics(out / "metrics.csv")
    ends = sorted({(int(r["step"]), float(r["wall_time"])) for r in rows})
    # ends[0]: the warm-up; ends[1]: the first learning chunk (compiled in it); the rest run compiled code.
    steady = (ends[-1][0] - ends[1][0]) / (ends[-1][1] - ends[1][1]) if len(ends) > 2 else float("nan")
    result = {"num_envs": num_envs, "seeds": seeds, "steps": steps, "wall_s": round(wall, 2),
              "steps_per_s_compiled": round(steady, 1)}
    if env_id == MULTIGOAL_ID:
        from benchmarks.multigoal_goals import goal_counts

        result["goals"] = [{"seed": g["seed"], "counts": g["act"]["counts"], "none": g["act"]["none"],
                            "goals_reached": g["act"]["goals_reached"]} for g in goal_counts(out)]
    else:
        last = [r for r in rows if int(r["step"]) == ends[-1][0]]
        result["last_mean_return"] = [float(r["mean_return"]) if r["mean_return"] else None for r in last]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=MULTIGOAL_ID)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 50])
    parser.add_argument("--chunk-steps", type=int, default=1000, help="rounded up to whole iterations")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    bad = [n for n in args.num_envs if n < 1 or args.steps % n]
    if bad:  # refused before any run, not after the first ones
        parser.error(f"--steps {args.steps} is not a multiple of --num-envs {bad[0]}")
    import jax

    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        results = [measure(args.env, args.steps, args.seeds, n, args.chunk_steps, root / f"num_envs-{n}")
                   for n in args.num_envs]
    print(f"{args.env}, SQL, {args.steps} steps, {args.seeds} vmapped seeds, {jax.devices()[0].platform}")
    print("| environments per seed | steps/s (compiled) | wall time (s) | learned |")
    print("|---|---|---|---|")
    for r in results:
        if "goals" in r:
            learned = "; ".join(f"{g['goals_reached']} goals ({g['none']} none)" for g in r["goals"])
        else:
            learned = ", ".join("-" if v is None else f"{v:.1f}" for v in r["last_mean_return"])
        print(f"| {r['num_envs']} | {r['steps_per_s_compiled']} | {r['wall_s']} | {learned} |")
    if args.json:
        args.json.write_text(json.dumps({"env": args.env, "device": jax.devices()[0].platform, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
