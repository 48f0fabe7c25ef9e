"""The ``softq-ref`` command: train, evaluate (and, from the conformance kit, conform).

Bad input gets one line on stderr and a non-zero exit code, never a traceback.  Exit codes:
0 success; 2 bad input (arguments, environment, run directory, checkpoint, config); 3 training
diverged (the message says what was kept); 130 interrupted (Ctrl-C; the message names the run
directory and what it holds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

MULTIGOAL = "softq_ref/MultiGoal-v0"

#: train's options and their defaults when not given (``None`` in argparse, so that
#: ``--resume`` can tell a flag the user gave from a default).
TRAIN_DEFAULTS = {"env": MULTIGOAL, "algo": "sql", "seed": 0, "seeds": 1, "loop": "auto", "chunk_steps": 1000,
                  "log_every": 1000, "checkpoint_every": 10_000, "checkpoint_minutes": 5.0, "dispatch": "auto",
                  "num_envs": 1}


class UserError(Exception):
    """An error caused by the command line; printed as one line."""


def _given(args, name):
    return getattr(args, name) is not None


def _opt(args, name):
    value = getattr(args, name)
    return TRAIN_DEFAULTS[name] if value is None else value


def _check_resume_flags(args, run) -> int | None:
    """Refuse flags that contradict the run being resumed; return ``--steps`` when it extends the run."""
    cfg = run.config
    recorded = {
        "env": run.env_id, "algo": run.algo.name, "preset": cfg.preset, "seed": run.seeds[0],
        "seeds": len(run.seeds), "alpha": getattr(cfg, "alpha", None),
        "chunk_steps": run.settings.get("chunk_steps"), "max_path_length": cfg.max_path_length,
        "log_every": run.settings.get("log_every"), "checkpoint_every": run.settings.get("checkpoint_every"),
        "checkpoint_minutes": run.settings.get("checkpoint_minutes"),
        "num_envs": run.settings.get("num_envs", 1) if run.loop == "jax" else 1,
    }
    for name, value in recorded.items():
        if _given(args, name) and getattr(args, name) != value:
            flag = "--" + name.replace("_", "-")
            shown = "not set" if value is None else value
            raise UserError(f"{flag} {getattr(args, name)} contradicts the run in {run.path} ({flag}: {shown}); "
                            f"drop it to resume, or start a new run with --out")
    if _given(args, "loop") and (args.loop == "gym") != (run.loop == "gym"):
        raise UserError(f"--loop {args.loop} contradicts the run in {run.path}, written by the {run.loop} loop")
    if _given(args, "out") and Path(args.out).resolve() != run.path.resolve():
        raise UserError(f"--out {args.out} contradicts --resume {run.path}; a run is resumed in its own directory")
    if _given(args, "steps"):
        if args.steps < cfg.total_steps:
            raise UserError(f"--steps {args.steps} is shorter than the run's {cfg.total_steps} steps; a run can only be extended")
        if args.steps > cfg.total_steps:
            return args.steps
    return None


def _train(args) -> int:
    from softq_ref.io.run_dir import RunDir
    from softq_ref.train import launch

    if args.resume:
        run = RunDir.open(args.resume)
        extend_to = _check_resume_flags(args, run)
        args._run_dir = run.path
        if _given(args, "dispatch") and run.loop != "gym":
            raise UserError(f"--dispatch is for the host loop; the run in {run.path} was written by the {run.loop} loop")
        result = launch.resume(run, extend_to=extend_to, progress=not args.quiet, dispatch=_opt(args, "dispatch"))
        out = run.path
    else:
        env_id = _opt(args, "env")
        seeds_n, first = _opt(args, "seeds"), _opt(args, "seed")
        if seeds_n < 1:
            raise UserError(f"--seeds must be >= 1, got {seeds_n}")
        for name in ("chunk_steps", "log_every", "checkpoint_every", "checkpoint_minutes", "steps", "max_path_length",
                     "num_envs"):
            if _given(args, name) and getattr(args, name) <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
        if _given(args, "dispatch") and launch.uses_jax_loop(env_id, _opt(args, "loop")):
            raise UserError(f"--dispatch is for the host loop; {env_id} trains in the jitted loop here (--loop gym for the host loop)")
        num_envs = _opt(args, "num_envs")
        if num_envs > 1 and not launch.uses_jax_loop(env_id, _opt(args, "loop")):
            raise UserError(f"--num-envs is for the jitted loop; {env_id} trains in the host loop here "
                            f"(--loop jax for the jitted loop, where the task has a JAX version)")
        chunk_steps = _opt(args, "chunk_steps")
        if not _given(args, "chunk_steps"):
            from softq_ref.train.jax_loop import whole_iterations

            chunk_steps = whole_iterations(chunk_steps, num_envs)  # the default, rounded up to whole iterations
        if not launch.uses_jax_loop(env_id, _opt(args, "loop")):
            from softq_ref.train.gym_loop import make_env

            make_env(env_id).close()  # fail fast on a bad environment, before anything is written
        config = launch.make_config(_opt(args, "algo"), env_id, preset=args.preset, steps=args.steps,
                                    alpha=args.alpha, max_path_length=args.max_path_length)
        seeds = list(range(first, first + seeds_n))
        algo = _opt(args, "algo")
        out = Path(args.out) if args.out else Path("runs") / f"{algo}-{env_id.replace('/', '_').replace(':', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
        args._run_dir = out
        result = launch.train(config, env_id=env_id, seeds=seeds, out_dir=out, loop=_opt(args, "loop"),
                              chunk_steps=chunk_steps, num_envs=num_envs, log_every=_opt(args, "log_every"),
                              checkpoint_every=_opt(args, "checkpoint_every"),
                              checkpoint_minutes=_opt(args, "checkpoint_minutes"), progress=not args.quiet,
                              dispatch=_opt(args, "dispatch"))
    print(f"trained {result.env_steps} steps; run directory: {out}")
    from softq_ref.reports import report

    for line in report(out):
        print(line)
    return 0


def _evaluate(args) -> int:
    from softq_ref.evaluation import evaluate_run

    report = evaluate_run(args.run_dir, episodes=args.episodes, eval_seed=args.eval_seed)
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


#: ``sweep``'s shortcut flags for common traced fields (``--grid FIELD=V1,V2`` takes any traced field).
SWEEP_SHORTCUTS = ("alpha", "discount", "q_lr", "policy_lr")


def _sweep(args) -> int:
    from softq_ref.envs.task import task_for
    from softq_ref.train import launch, sweep

    if args.resume:
        given = [f"--{n.replace('_', '-')}" for n in ("env", "algo", "preset", "steps", "max_path_length", "out", "chunk_steps",
                                                     "num_envs")
                 if getattr(args, n) is not None]
        given += [f"--{n.replace('_', '-')}" for n in SWEEP_SHORTCUTS if getattr(args, n) is not None]
        given += ["--grid"] * bool(args.grid) + ["--seeds"] * (args.seeds is not None) + ["--seed"] * (args.seed is not None)
        if given:
            raise UserError(f"{given[0]} cannot be combined with --resume: a sweep resumes with the grid it was started with")
        out = Path(args.resume)
        result = _interruptible(out, lambda: sweep.resume(out, num_devices=args.devices, progress=not args.quiet))
    else:
        env_id = args.env or MULTIGOAL
        grid = {}
        for item in args.grid or []:
            name, sep, values = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or not name:
                raise UserError(f"--grid {item!r}: expected FIELD=V1,V2,... such as alpha=0.1,1,10")
            if name in grid:
                raise UserError(f"--grid {name} given twice")
            grid[name] = sweep.parse_values(values)
        for name in SWEEP_SHORTCUTS:
            if getattr(args, name) is not None:
                if name in grid:
                    raise UserError(f"--{name.replace('_', '-')} and --grid {name} both given")
                grid[name] = sweep.parse_values(getattr(args, name))
        seeds_n = 1 if args.seeds is None else args.seeds
        if seeds_n < 1:
            raise UserError(f"--seeds must be >= 1, got {seeds_n}")
        for name in ("chunk_steps", "steps", "max_path_length", "num_envs"):
            if getattr(args, name) is not None and getattr(args, name) <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
        algo = args.algo or "sql"
        if task_for(env_id).jax_env is None:
            raise UserError(f"{env_id} has no JAX version; a sweep runs the jitted loop only (use train --seeds for it)")
        base_alpha = None  # with alpha swept, the base config need not have a published reward scale
        if "alpha" in grid and algo == "sql":
            try:
                base_alpha = abs(float(grid["alpha"][0]))
            except ValueError:
                pass  # make_grid names the bad value
        config = launch.make_config(algo, env_id, preset=args.preset, steps=args.steps, alpha=base_alpha,
                                    max_path_length=args.max_path_length)
        first = 0 if args.seed is None else args.seed
        num_envs = args.num_envs or 1
        from softq_ref.train.jax_loop import whole_iterations

        out = Path(args.out) if args.out else Path("runs") / f"sweep-{algo}-{env_id.replace('/', '_').replace(':', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
        result = _interruptible(out, lambda: sweep.sweep(
            config, grid=grid, seeds=list(range(first, first + seeds_n)), env_id=env_id, out_dir=out,
            chunk_steps=args.chunk_steps or whole_iterations(1000, num_envs), num_envs=num_envs,
            num_devices=args.devices, progress=not args.quiet))
    if result is None:
        return 130
    print(f"swept {len(result.points)} grid points, {result.env_steps} steps each; sweep directory: {result.sweep_dir}")
    for line in sweep.summary(result):
        print("  " + line)
    return 0


def _interruptible(out: Path, run):
    """``run()``; on Ctrl-C, one line saying how to continue the sweep in ``out`` (and ``None``)."""
    try:
        return run()
    except KeyboardInterrupt:
        print(f"softq-ref: interrupted; every grid point keeps its last checkpoint in {out} "
              f"(continue with softq-ref sweep --resume {out})", file=sys.stderr)
        return None


def _git_commit() -> str:
    """The short commit of the working directory's repository, or "" outside one (or without git)."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _campaign(args) -> int:
    from softq_ref.campaign import load
    from softq_ref.campaign import runner

    campaign = load(args.file)
    if args.campaign_command == "report":
        from softq_ref.campaign.report import write_report

        path = write_report(campaign, Path(args.figures), commit=_git_commit())
        print(f"wrote {path} and its figures in {args.figures}")
        return 0
    if args.campaign_command == "status":
        for line in runner.format_status(campaign, [runner.status(campaign, r) for r in campaign.runs]):
            print(line)
        return 0
    jobs = runner.default_jobs() if args.jobs is None else args.jobs
    statuses = runner.run_campaign(campaign, jobs=jobs, only=args.only, progress=args.progress,
                                   say=lambda line: print(line, flush=True))
    for line in runner.format_status(campaign, statuses):
        print(line)
    return 0 if all(s.state == "done" for s in statuses) else 1


def _add_campaign_parser(sub) -> None:
    campaign = sub.add_parser("campaign", help="run or inspect an experiment campaign (experiments/*.toml)")
    csub = campaign.add_subparsers(dest="campaign_command", required=True)
    run = csub.add_parser("run", help="run what is missing (skip what is done, resume what was interrupted)")
    run.add_argument("file", help="a campaign file, e.g. experiments/mujoco.toml")
    run.add_argument("--jobs", type=int, default=None, help="runs at a time, each its own process (default: cores - 1)")
    run.add_argument("--only", nargs="+", metavar="RUN", default=None, help="only these runs (<group>-s<seed>)")
    run.add_argument("--progress", action="store_true", help="a progress bar per segment (with --jobs 1)")
    run.set_defaults(func=_campaign)
    st = csub.add_parser("status", help="done / partial / missing per run, with steps and wall time")
    st.add_argument("file")
    st.set_defaults(func=_campaign)
    rep = csub.add_parser("report", help="curves, table and statistics of the finished runs (for the docs)")
    rep.add_argument("file")
    rep.add_argument("--figures", default="docs/figures", help="where the figures go (default: docs/figures)")
    rep.set_defaults(func=_campaign)


def build_parser() -> argparse.ArgumentParser:
    from softq_ref.agent import registry

    parser = argparse.ArgumentParser(prog="softq-ref", description="Soft Q-learning (Haarnoja et al., 2017), the reference implementation.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train an agent and write a run directory")
    train.add_argument("--env", default=None, help=f"gymnasium id, or module:Id (default: {MULTIGOAL})")
    train.add_argument("--algo", choices=registry.names(), default=None, help="algorithm (default: sql)")
    train.add_argument("--preset", default=None, help="multigoal, mujoco or classic (default: the task's own)")
    train.add_argument("--seed", type=int, default=None, help="first seed (default: 0)")
    train.add_argument("--seeds", type=int, default=None,
                       help="number of seeds (default: 1; one vmapped program on JAX environments, one after another otherwise)")
    train.add_argument("--steps", type=int, default=None,
                       help="environment steps (default: the preset's); with --resume, a larger value extends the run")
    train.add_argument("--alpha", type=float, default=None, help="temperature (SQL only; default: the preset's)")
    train.add_argument("--max-path-length", type=int, default=None,
                       help="episode length (default: the task's own, else the environment's time limit, else the preset's)")
    train.add_argument("--out", default=None, help="run directory, new or empty (default: runs/<algo>-<env>-<time>)")
    train.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue an interrupted run (or extend it with --steps)")
    train.add_argument("--loop", choices=["auto", "jax", "gym"], default=None,
                       help="auto (default): the jitted loop when the task has a JAX twin (MJX MuJoCo only on an "
                            "accelerator); jax: force the jitted loop (MJX for the MuJoCo tasks); gym: force the host loop")
    train.add_argument("--chunk-steps", type=int, default=None,
                       help="steps per compiled chunk of the JAX loop (default: 1000); metrics and checkpoints are written between chunks")
    train.add_argument("--num-envs", type=int, default=None,
                       help="jitted loop: environments stepped per seed, with as many updates per iteration, so one "
                            "update per environment step is kept (default: 1, the paper's loop; spec dev-num-envs). "
                            "--steps and --chunk-steps must be multiples of it")
    train.add_argument("--log-every", type=int, default=None, help="host loop: steps between metric rows (default: 1000)")
    train.add_argument("--checkpoint-every", type=int, default=None,
                       help="host loop: checkpoint at the first episode end after this many steps (default: 10000)")
    train.add_argument("--checkpoint-minutes", type=float, default=None,
                       help="host loop: ... or after this many minutes (default: 5)")
    train.add_argument("--dispatch", choices=["auto", "step", "flat", "callback"], default=None,
                       help="host loop: one compiled call per environment step (step; flat: the same with the carry "
                            "as a few flat arrays) or per stretch of steps, the environment called back from inside "
                            "it (callback); auto (default): flat on an accelerator, step on a CPU. The same "
                            "computation each way")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="roll out a trained policy (stochastic for SQL)")
    ev.add_argument("run_dir")
    ev.add_argument("--episodes", type=int, default=100)
    ev.add_argument("--eval-seed", type=int, default=12345)
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=_evaluate)

    sw = sub.add_parser("sweep", help="train a grid of seeds x traced hyperparameters as one vmapped program over all devices")
    sw.add_argument("--env", default=None, help=f"a task with a JAX version (default: {MULTIGOAL})")
    sw.add_argument("--algo", choices=registry.names(), default=None, help="algorithm (default: sql)")
    sw.add_argument("--preset", default=None, help="multigoal, mujoco or classic (default: the task's own)")
    sw.add_argument("--seed", type=int, default=None, help="first seed (default: 0)")
    sw.add_argument("--seeds", type=int, default=None, help="number of seeds per hyperparameter setting (default: 1)")
    sw.add_argument("--steps", type=int, default=None, help="environment steps per grid point (default: the preset's)")
    sw.add_argument("--max-path-length", type=int, default=None, help="episode length (default: the task's own)")
    sw.add_argument("--grid", action="append", default=None, metavar="FIELD=V1,V2,...",
                    help="a traced config field and its values (repeatable); the grid is their product times the seeds")
    for name in SWEEP_SHORTCUTS:
        sw.add_argument("--" + name.replace("_", "-"), default=None, metavar="V1,V2,...",
                        help=f"shortcut for --grid {name}=V1,V2,...")
    sw.add_argument("--out", default=None, help="sweep directory, new or empty (default: runs/sweep-<algo>-<env>-<time>)")
    sw.add_argument("--resume", default=None, metavar="SWEEP_DIR", help="continue an interrupted sweep")
    sw.add_argument("--chunk-steps", type=int, default=None, help="steps per compiled chunk (default: 1000)")
    sw.add_argument("--num-envs", type=int, default=None,
                    help="environments per grid point, with as many updates per iteration (default: 1; spec dev-num-envs)")
    sw.add_argument("--devices", type=int, default=None, help="use the first N local devices (default: all)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=_sweep)


    _add_campaign_parser(sub)

    try:
        from softq_ref.conformance.cli import add_conform_parser
    except ImportError:
        pass
    else:
        add_conform_parser(sub)
    return parser


def _interrupted_message(args) -> str:
    run_dir = getattr(args, "_run_dir", None)
    if run_dir is None:
        return "softq-ref: interrupted"
    from softq_ref.io.run_dir import CHECKPOINT

    if (Path(run_dir) / CHECKPOINT).is_file():
        return f"softq-ref: interrupted; the last checkpoint is kept in {run_dir} (continue with softq-ref train --resume {run_dir})"
    return f"softq-ref: interrupted before the first checkpoint; restart with softq-ref train --resume {run_dir}"


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
        print(f"softq-ref: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        print(f"softq-ref: error:{where} {err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_interrupted_message(args), file=sys.stderr)
        return 130


def _one_line(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
