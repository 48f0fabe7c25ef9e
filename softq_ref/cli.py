"""The ``softq-ref`` command: train, evaluate (and, from the conformance kit, conform).

Bad input gets one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

MULTIGOAL = "softq_ref/MultiGoal-v0"


class UserError(Exception):
    """An error caused by the command line; printed as one line."""


def _train(args) -> int:

    from softq_ref.agent.config import DDPGConfig, SQLConfig
    from softq_ref.envs.jax_env import JAX_ENVS
    from softq_ref.train.runner import train_jax

    if args.resume:
        from softq_ref.io import checkpoint as ckpt

        meta = ckpt.read_json(Path(args.resume) / ckpt.CONFIG)
        out = Path(args.resume)
        if meta["loop"] == "jax":
            result = train_jax(None, out_dir=out, resume=True, progress=not args.quiet)
        else:
            from softq_ref.train.gym_loop import train_gym

            result = train_gym(None, env_id=meta["env_id"], out_dir=out, resume=True, progress=not args.quiet)
        env_id = meta["env_id"]
    else:
        if args.env not in JAX_ENVS or args.loop == "gym":
            from softq_ref.train.gym_loop import make_env

            make_env(args.env).close()  # fail fast on a bad environment, before anything is written
        cls = SQLConfig if args.algo == "sql" else DDPGConfig
        preset = args.preset or ("multigoal" if args.env == MULTIGOAL else "mujoco")
        # With an explicit --alpha, a task without a published reward scale is fine.
        scale_env = None if (args.env == MULTIGOAL or args.alpha is not None or args.algo != "sql") else args.env
        config = cls.preset_for(preset, scale_env)
        changes = {}
        if args.steps is not None:
            changes["total_steps"] = args.steps
        if args.alpha is not None:
            if args.algo != "sql":
                raise UserError("--alpha applies to --algo sql only")
            changes["alpha"] = args.alpha
        if changes:
            config = config.replace(**changes)
        if args.seeds < 1:
            raise UserError(f"--seeds must be >= 1, got {args.seeds}")
        seeds = list(range(args.seed, args.seed + args.seeds))
        out = Path(args.out) if args.out else Path("runs") / f"{args.algo}-{args.env.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
        if (out / "checkpoint.eqx").exists():
            raise UserError(f"{out} already holds a run; use --resume {out} or another --out")
        env_id = args.env
        use_jax = env_id in JAX_ENVS and args.loop != "gym"
        if use_jax:
            if args.chunk_steps < 1:
                raise UserError(f"--chunk-steps must be >= 1, got {args.chunk_steps}")
            result = train_jax(config, env_id=env_id, seeds=seeds, out_dir=out, chunk_steps=args.chunk_steps,
                               progress=not args.quiet)
        else:
            from softq_ref.train.gym_loop import train_gym

            for seed in seeds:
                run_out = out if len(seeds) == 1 else out / f"seed_{seed}"
                result = train_gym(config, env_id=env_id, seed=seed, out_dir=run_out, progress=not args.quiet)
    print(f"trained {result.env_steps} steps; run directory: {out}")
    if env_id == MULTIGOAL:
        _multigoal_report(out, quiet=args.quiet)
    return 0


def _multigoal_report(run_dir: Path, quiet: bool = False) -> None:
    """Write figure.png and print how many of 100 stochastic rollouts end at each goal, per seed."""
    import jax

    from softq_ref.envs.jax_env import multigoal_env
    from softq_ref.io import figures
    from softq_ref.train import evaluate
    from softq_ref.trained import load

    agent = load(run_dir, 0)
    figures.multigoal_figure(agent.algo, agent.state, jax.random.PRNGKey(1234), run_dir / "figure.png",
                             title=f"{agent.algo.name.upper()} on the multi-goal task")
    print(f"figure: {run_dir / 'figure.png'}")
    meta = json.loads((run_dir / "config.json").read_text())
    for i, seed in enumerate(meta["seeds"]):
        agent = load(run_dir, i) if i else agent
        ro = evaluate.rollout_jax(agent.algo, agent.state, multigoal_env(), jax.random.PRNGKey(10_000 + seed), 100)
        summary = evaluate.goal_summary(ro.goal, 4)
        print(f"seed {seed}: goals reached in 100 stochastic rollouts: {summary['counts']} (none: {summary['none']})")


def _evaluate(args) -> int:
    import jax
    import numpy as np

    from softq_ref.envs.jax_env import JAX_ENVS
    from softq_ref.io import checkpoint as ckpt
    from softq_ref.train import evaluate
    from softq_ref.trained import load

    run_dir = Path(args.run_dir)
    meta = ckpt.read_json(run_dir / ckpt.CONFIG)
    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    report = {"run_dir": str(run_dir), "env_id": meta["env_id"], "algo": meta["algo"], "seeds": []}
    for i, seed in enumerate(meta["seeds"]):
        agent = load(run_dir, i)
        key = jax.random.PRNGKey(args.eval_seed + seed)
        if meta["env_id"] in JAX_ENVS and meta["loop"] == "jax":
            env = JAX_ENVS[meta["env_id"]]()
            ro = evaluate.rollout_jax(agent.algo, agent.state, env, key, args.episodes)
            returns = [float(x) for x in np.asarray(ro.returns)]
            entry = {"seed": seed, "returns": returns}
            if env.num_goals:
                entry["goals"] = evaluate.goal_summary(ro.goal, env.num_goals)
        else:
            episodes = evaluate.rollout_gym(agent.algo, agent.state, meta["env_id"], key, args.episodes, seed=args.eval_seed + seed)
            entry = {"seed": seed, "returns": [float(e["return"]) for e in episodes]}
        entry["mean_return"] = float(np.mean(entry["returns"]))
        report["seeds"].append(entry)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for entry in report["seeds"]:
            line = f"seed {entry['seed']}: mean return {entry['mean_return']:.2f} over {len(entry['returns'])} episodes"
            if "goals" in entry:
                line += f"; goals {entry['goals']['counts']} (none: {entry['goals']['none']})"
            print(line)
            print("  returns: " + " ".join(f"{r:.1f}" for r in entry["returns"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="softq-ref", description="Soft Q-learning (Haarnoja et al., 2017), the reference implementation.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train an agent and write a run directory")
    train.add_argument("--env", default=MULTIGOAL, help="gymnasium id (default: %(default)s)")
    train.add_argument("--algo", choices=["sql", "ddpg"], default="sql")
    train.add_argument("--preset", default=None, help="multigoal or mujoco (default: by environment)")
    train.add_argument("--seed", type=int, default=0, help="first seed")
    train.add_argument("--seeds", type=int, default=1, help="number of seeds (one vmapped program on JAX environments)")
    train.add_argument("--steps", type=int, default=None, help="environment steps (default: the preset's)")
    train.add_argument("--alpha", type=float, default=None, help="temperature (SQL only; default: the preset's)")
    train.add_argument("--out", default=None, help="run directory (default: runs/<algo>-<env>-<time>)")
    train.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue an interrupted run")
    train.add_argument("--loop", choices=["auto", "gym"], default="auto", help="force the gymnasium host loop")
    train.add_argument("--chunk-steps", type=int, default=1000,
                       help="steps per compiled chunk of the JAX loop; metrics and checkpoints are written between chunks")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="roll out a trained policy (stochastic for SQL)")
    ev.add_argument("run_dir")
    ev.add_argument("--episodes", type=int, default=100)
    ev.add_argument("--eval-seed", type=int, default=12345)
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=_evaluate)

    try:
        from softq_ref.conformance.cli import add_conform_parser
    except ImportError:
        pass
    else:
        add_conform_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from softq_ref.train.runner import TrainingDiverged

    try:
        return args.func(args)
    except TrainingDiverged as err:
        print(f"softq-ref: training diverged: {err}", file=sys.stderr)
        return 3
    except (UserError, ValueError, FileNotFoundError) as err:
        print(f"softq-ref: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("softq-ref: interrupted; the last checkpoint is kept (continue with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
