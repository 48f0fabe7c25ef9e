"""Running a campaign: train each run in segments, evaluate between them, keep a small result file.

**Why segments.**  A run of ``steps`` environment steps evaluated every ``eval_every`` steps is
trained as a sequence of extensions of one run directory: train to the first evaluation
point, evaluate from the checkpoint, extend the run to the next point
(``softq_ref.train.launch.resume`` with ``extend_to``, the ``--resume RUN --steps N``
of the CLI), evaluate again, and so on.  This uses the loops exactly as they are (no
evaluation hook inside a loop, no second copy of a loop), evaluates the very agent a user
gets from ``softq_ref.load`` at that step, and makes every evaluation point a durable state:
the evaluations are appended atomically to ``campaign.json`` beside the run directory.

**Resuming.**  A killed campaign continues where it stopped: a segment cut short resumes
from the loop's last checkpoint (bit-identical, as the loops guarantee), a segment that
finished but was not yet evaluated is evaluated, and the evaluations already recorded are
kept.  Evaluation is a pure function of the checkpoint and of keys derived from ``(seed,
step)``, so a resumed campaign writes the same evaluations, the same training curve and the
same config as an uninterrupted one; only the wall time, the date and the machine differ.

**What segments change** (spec deviation ``dev-campaign-segments``).  The host loop ends a
segment with a checkpoint taken mid-episode and the next segment starts a new episode, so an
episode that spans an evaluation point is cut there, as a time limit would cut it (the last
transition is stored as not terminal, so the target still bootstraps).  With ``eval_every``
a multiple of the episode length (10k steps, episodes of 1000 steps) and a task without
early termination (Swimmer, HalfCheetah) nothing is cut; on Hopper at most one episode per
10k steps is.  A run trained in one piece would differ in those episodes only.

Each finished run leaves ``results/<campaign>/<run>.json``: the evaluation returns at every
point and mode, the training curve (``mean_return`` per logging row) and the task's episode
counters, the exact config, the versions, the wall time and the machine.  It is small (a few
kilobytes) and meant to be committed; the run directories under ``runs/`` are not.

**Source agents.**  A run that another group fine-tunes from (``init_from``) also leaves its final
agent, ``results/<campaign>/agents/<run>.eqx`` (networks, target network and optimiser state; about
half a megabyte at the MuJoCo sizes), with ``agents/<run>.json`` recording the group's fingerprint,
the file's SHA-256 and whether the agent is the run's own or one trained again.  Committed with the
result file, it lets a fine-tuning run start on another machine, or in a later sitting on a fresh
one, from the very agent the first fine-tuning runs started from, where a run directory would
otherwise have to be trained again (and, under other code or another float summation order, come
out different: ``results/pretraining/sql-pretrain-s0.regenerated.json`` records such a case).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from softq_ref.campaign.plan import Campaign, CampaignError, Run

#: ``campaign.json``: the work state of one run (its evaluations so far), beside its run directory.
STATE = "campaign.json"
TRAIN = "train"
RESULT_SCHEMA = 1
#: Evaluation keys and environment seeds are derived from these and ``(seed, step)``.
EVAL_KEY_BASE = 7_000_000
EVAL_ENV_BASE = 9_000_011


@dataclass
class RunStatus:
    """Where one run stands: ``done``, ``partial``, ``missing``, ``stale`` or ``unavailable``."""

    run: Run
    state: str
    steps: int
    evaluations: int
    wall_time_s: float
    note: str = ""


def work_dir(campaign: Campaign, run: Run) -> Path:
    return campaign.runs_dir / run.name


def result_path(campaign: Campaign, run: Run) -> Path:
    return campaign.results_dir / f"{run.name}.json"


def agent_path(campaign: Campaign, run: Run) -> Path:
    """``results/<campaign>/agents/<run>.eqx``: a source run's final agent, committed for its fine-tuning runs."""
    return campaign.results_dir / "agents" / f"{run.name}.eqx"


def agent_record_path(campaign: Campaign, run: Run) -> Path:
    """``results/<campaign>/agents/<run>.json``: what :func:`agent_path` holds (fingerprint, SHA-256, origin)."""
    return agent_path(campaign, run).with_suffix(".json")


def is_source(campaign: Campaign, run: Run) -> bool:
    """Whether some group of the campaign fine-tunes from ``run``'s group (``init_from``)."""
    return any(g.init_from == run.group.name for g in campaign.groups)


def check_path(campaign: Campaign, run: Run) -> Path:
    """``results/<campaign>/<run>.regenerated.json``: a finished run trained again, its last evaluation repeated."""
    return result_path(campaign, run).with_suffix(".regenerated.json")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CampaignError(f"{path}: unreadable ({err})") from None


def _write_json(path: Path, obj) -> None:
    from softq_ref.io.run_dir import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, obj)


def _availability(run: Run) -> str:
    """Empty when this installation can train the run, else why not (one line)."""
    from softq_ref.agent import registry

    try:
        registry.get(run.group.algo)
    except ValueError as err:
        return str(err)
    return ""


def status(campaign: Campaign, run: Run) -> RunStatus:
    """The status of one run, from its result file and its work directory (nothing is changed)."""
    fingerprint = run.group.fingerprint()
    result = result_path(campaign, run)
    if result.is_file():
        data = _read_json(result)
        if data.get("fingerprint") != fingerprint:
            return RunStatus(run, "stale", int(data.get("steps", 0)), len(data.get("evaluations", [])),
                             float(data.get("wall_time_s", 0.0)), f"{result} was made under other settings")
        return RunStatus(run, "done", int(data.get("steps", 0)), len(data["evaluations"]),
                         float(data.get("wall_time_s", 0.0)))
    missing = _availability(run)
    work = work_dir(campaign, run)
    state_file = work / STATE
    if state_file.is_file():
        state = _read_json(state_file)
        if state.get("fingerprint") != fingerprint:
            return RunStatus(run, "stale", 0, 0, 0.0, f"{work} was started under other settings")
        evals = state.get("evaluations", [])
        steps = max(evals[-1]["step"] if evals else 0, _trained_steps(work / TRAIN))
        return RunStatus(run, "partial", steps, len(evals), float(state.get("wall_time_s", 0.0)), missing)
    if missing:
        return RunStatus(run, "unavailable", 0, 0, 0.0, missing)
    return RunStatus(run, "missing", 0, 0, 0.0, _source_note(campaign, run))


def _source_note(campaign: Campaign, run: Run) -> str:
    """For a fine-tuning run not yet started: where its pretrained agent is to come from."""
    if not run.group.init_from:
        return ""
    source = Run(campaign.group(run.group.init_from), run.seed)
    if not result_path(campaign, source).is_file():
        return f"waits for {source.name}"
    if _has_final_agent(campaign, source):
        return f"starts from {source.name}'s run directory"
    if agent_record_path(campaign, source).is_file():
        return f"starts from {source.name}'s committed agent"
    return f"{source.name} is to be trained again first ({source.group.steps} steps)"


def _trained_steps(train_dir: Path) -> int:
    """The largest step in a run directory's ``metrics.csv`` (0 when there is none)."""
    from softq_ref.io.run_dir import RunDir, RunDirError

    if not RunDir.is_run(train_dir):
        return 0
    try:
        rows = RunDir.open(train_dir).read_metrics()
    except (RunDirError, OSError):
        return 0
    steps = [int(r["step"]) for r in rows if (r.get("step") or "").isdigit()]
    return max(steps, default=0)


# -- one run --------------------------------------------------------------------------------


def _config(run: Run, steps: int):
    """The run's config for a segment ending at ``steps``: the group's preset, alpha and config fields."""
    from softq_ref.train import launch

    g = run.group
    config = launch.make_config(g.algo, g.task, preset=g.preset, steps=steps, alpha=g.alpha)
    if g.config:
        try:
            config = config.replace(**g.config)
        except TypeError as err:
            raise CampaignError(f"{run.group.name}: bad config field ({err})") from None
    return config


def execute(campaign: Campaign, run: Run, *, say=print, progress: bool = False) -> RunStatus:
    """Train and evaluate ``run`` to its end (or continue it), then write its result file."""
    from filelock import FileLock, Timeout

    current = status(campaign, run)
    if current.state == "done":
        return current
    if current.state in ("stale", "unavailable"):
        raise CampaignError(f"{run.name}: {current.state}: {current.note}")
    g = run.group
    if g.init_from is not None:
        source = campaign.group(g.init_from)
        source_run = Run(source, run.seed)
        if status(campaign, source_run).state != "done":
            raise CampaignError(f"{run.name}: starts from {source_run.name}, which is not finished")
        _ensure_source_agent(campaign, source_run, say=say, progress=progress)
    work = work_dir(campaign, run)
    work.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(work / ".campaign.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise CampaignError(f"{run.name}: {work} is in use by another campaign process") from None
    try:
        return _execute_locked(campaign, run, work, say=say, progress=progress)
    finally:
        lock.release()


def _execute_locked(campaign, run, work, *, say, progress) -> RunStatus:
    g = run.group
    _config(run, g.steps)  # fail early on a bad algorithm, preset, task or config field
    state_file = work / STATE
    if state_file.is_file():
        state = _read_json(state_file)
    else:
        state = {"campaign": campaign.name, "run": run.name, "seed": run.seed, "fingerprint": g.fingerprint(),
                 "evaluations": [], "wall_time_s": 0.0, "started": _now()}
        _write_json(state_file, state)
    done = {e["step"] for e in state["evaluations"]}
    total = len(g.eval_steps())
    for target in g.eval_steps():
        if target in done:
            continue
        start = time.monotonic()
        _train_to(campaign, run, work / TRAIN, target, progress=progress)
        record = _evaluate(run, work / TRAIN, target)
        state["evaluations"].append(record)
        state["wall_time_s"] = round(float(state["wall_time_s"]) + time.monotonic() - start, 3)
        _write_json(state_file, state)
        shown = ", ".join(f"{m} {_mean(record[m]):.2f}" for m in g.eval_modes)
        say(f"{run.name}: step {target}/{g.steps} (evaluation {len(state['evaluations'])}/{total}): "
            f"{shown} [{_duration(state['wall_time_s'])}]")
    _write_json(result_path(campaign, run), _result(campaign, run, work, state))
    if is_source(campaign, run):
        _export_agent(campaign, run, regenerated=False)
    say(f"{run.name}: done in {_duration(state['wall_time_s'])}; result {result_path(campaign, run)}")
    return status(campaign, run)


def _has_final_agent(campaign: Campaign, run: Run) -> bool:
    """Whether ``run``'s run directory is here and holds its agent at the run's last step."""
    from softq_ref.io.run_dir import RunDir, RunDirError

    train_dir = work_dir(campaign, run) / TRAIN
    if not RunDir.is_run(train_dir):
        return False
    try:
        return RunDir.open(train_dir).has_checkpoint and _trained_steps(train_dir) >= run.group.steps
    except (RunDirError, OSError):
        return False


def _ensure_source_agent(campaign: Campaign, source: Run, *, say, progress: bool) -> None:
    """Bring back a finished source run's final agent when only its result file is here.

    A fresh clone (or another machine) has the committed result files but not the run
    directories under ``runs/``, and a fine-tuning run needs the pretrained agent itself.  The
    source is trained again from its seed through the same segments as the first time
    (training does not depend on the evaluations between segments), and its last evaluation is
    repeated and compared with the committed one: identical on the machine that made it (the
    loops are deterministic), and possibly not elsewhere (other float summation orders), which
    is said, not hidden, and written to :func:`check_path` (with the repeated evaluation, which
    also holds what the first one may lack, such as the net x displacement).  The committed
    result file is never rewritten.  Two fine-tuning runs of
    one source wait for each other on the source's lock, so it is trained once.
    """
    from filelock import FileLock

    if _has_final_agent(campaign, source):
        # Committed from here if it is not yet: a run directory made by an earlier version, or trained again.
        _export_agent(campaign, source, regenerated=not (work_dir(campaign, source) / STATE).is_file())
        return
    if _committed_agent(campaign, source) is not None:
        return
    work = work_dir(campaign, source)
    work.mkdir(parents=True, exist_ok=True)
    with FileLock(str(work / ".campaign.lock")):
        if _has_final_agent(campaign, source):
            return
        say(f"{source.name}: finished, but its run directory is not here; training it again from seed "
            f"{source.seed} for its pretrained agent ({source.group.steps} steps)")
        for target in source.group.eval_steps():
            _train_to(campaign, source, work / TRAIN, target, progress=progress)
        committed = _read_json(result_path(campaign, source))["evaluations"][-1]
        again = _evaluate(source, work / TRAIN, committed["step"])
        modes = [m for m in source.group.eval_modes if m in committed]
        gap = max((abs(a - b) for m in modes for a, b in zip(committed[m], again[m])), default=0.0)
        verdict = "is the same as committed" if gap == 0.0 else f"differs from the committed one by up to {gap:.6g}"
        say(f"{source.name}: trained again; its last evaluation {verdict}")
        check = check_path(campaign, source)
        if not check.exists():  # the first regeneration's record is kept; nothing is overwritten
            _write_json(check, {"run": source.name, "regenerated": _now(), "committed_evaluation": committed,
                                "evaluation_again": again, "max_abs_difference": gap,
                                "versions": _versions(), "machine": _machine()})
        _export_agent(campaign, source, regenerated=True, evaluation=again, gap=gap)


def _export_agent(campaign: Campaign, run: Run, *, regenerated: bool, evaluation: dict | None = None,
                  gap: float | None = None) -> None:
    """Write ``agents/<run>.eqx`` and its record from the run directory's final agent, unless recorded already.

    The record is written last: an export cut short leaves no record, and is done again.  For an agent
    trained again it also holds that agent's repetition of the last evaluation and its largest gap from the
    committed one (``<run>.regenerated.json`` keeps the first regeneration's only).
    """
    import jax

    from softq_ref.io.checkpoint import save_atomic
    from softq_ref.trained import load

    record = agent_record_path(campaign, run)
    if record.is_file():
        return
    path = agent_path(campaign, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    agent = load(work_dir(campaign, run) / TRAIN, 0)
    digest = save_atomic(path, jax.device_get(agent.state))
    _write_json(record, {"run": run.name, "fingerprint": run.group.fingerprint(), "step": run.group.steps,
                         "algo": run.group.algo, "task": run.group.task, "sha256": digest,
                         "regenerated": regenerated, "written": _now(), "source_commit": source_commit(),
                         **({"evaluation_again": evaluation, "max_abs_difference": gap} if evaluation else {}),
                         "versions": _versions(), "machine": _machine()})


def _committed_agent(campaign: Campaign, run: Run) -> Path | None:
    """The committed agent file of ``run`` when it is there, whole and made under the group's settings.

    ``None`` when there is none; :class:`CampaignError` (one line) when there is one that cannot be used:
    its record names other settings (a stale agent), or the file is not the one the record describes.
    """
    from softq_ref.io.run_dir import file_sha256

    path, record = agent_path(campaign, run), agent_record_path(campaign, run)
    if not record.is_file():
        return None
    meta = _read_json(record)
    if meta.get("fingerprint") != run.group.fingerprint():
        raise CampaignError(f"{record}: made under other settings of group {run.group.name!r}; "
                            f"remove it (and {path.name}) to train the source again")
    try:
        digest = file_sha256(path)
    except OSError as err:
        raise CampaignError(f"{path}: unreadable ({err.strerror or err})") from None
    if digest != meta.get("sha256"):
        raise CampaignError(f"{path}: its SHA-256 is not the one {record.name} records (a changed or torn file)")
    return path


def _mean(values) -> float:
    return sum(values) / len(values)


def _loop(run: Run) -> str:
    """The loop a run trains with: a group's ``auto`` never switches physics with the device.

    A task whose JAX twin is meant for accelerators only (the MJX MuJoCo tasks, spec deviation
    ``dev-mjx-physics``) trains with C MuJoCo through the host loop in a campaign whatever the
    machine, so that every run of a campaign has the same physics; a new campaign file that says
    ``loop = "jax"`` is the way to run MJX.
    """
    from softq_ref.envs.task import task_for

    if run.group.loop == "auto" and not task_for(run.group.task).jax_twin_on_cpu:
        return "gym"
    return run.group.loop


def _train_to(campaign: Campaign, run: Run, train_dir: Path, target: int, *, progress: bool) -> None:
    """Bring the run directory to ``target`` steps: create it, finish an interrupted segment, or extend it."""
    from softq_ref.io.run_dir import RunDir
    from softq_ref.train import launch

    if RunDir.is_run(train_dir):
        rd = RunDir.open(train_dir)
        if run.group.init_from is not None and not rd.has_checkpoint:
            _write_initial_checkpoint(campaign, run, rd)
        extend = target if target > rd.config.total_steps else None
        launch.resume(rd, extend_to=extend, progress=progress)
        return
    config = _config(run, target)
    if run.group.init_from is None:
        from softq_ref.train.jax_loop import whole_iterations

        n = run.group.num_envs  # plan.py checked: only with the jitted loop, steps a multiple of it
        launch.train(config, env_id=run.group.task, seeds=[run.seed], out_dir=train_dir, loop=_loop(run),
                     chunk_steps=whole_iterations(1000, n), num_envs=n, progress=progress)
        return
    if launch.uses_jax_loop(run.group.task, _loop(run)):
        raise CampaignError(f"{run.name}: init_from is supported with the gymnasium host loop only (set loop = \"gym\")")
    from softq_ref.envs.task import task_for

    rd = RunDir.create(train_dir, config=config, env_id=run.group.task, seeds=[run.seed], loop="gym",
                       settings={"log_every": 1000, "checkpoint_every": 10_000, "checkpoint_minutes": 5.0},
                       stat_names=task_for(run.group.task).stat_names)
    try:
        _write_initial_checkpoint(campaign, run, rd)
    finally:
        rd.release()
    launch.resume(RunDir.open(train_dir), progress=progress)


def _write_initial_checkpoint(campaign: Campaign, run: Run, rd) -> None:
    """A fine-tuning run's step-0 checkpoint: the source run's final agent, an empty buffer, a fresh key.

    The whole agent state is carried over (networks, target network, optimiser moments), then
    the fine-tuning config's traced hyperparameters are set on it (``Algorithm.with_hparams``).
    """
    import jax
    import numpy as np

    from softq_ref.train.gym_loop import init_carries, make_env
    from softq_ref.trained import load

    source_run = Run(campaign.group(run.group.init_from), run.seed)
    env = make_env(rd.env_id, rd.config.max_path_length)
    obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    carries = init_carries(rd.algo, rd.config, obs_dim, action_dim, rd.seeds)
    if _has_final_agent(campaign, source_run):
        source = load(work_dir(campaign, source_run) / TRAIN, 0)
        if source.obs_dim != obs_dim:
            raise CampaignError(f"{run.name}: {source.env_id} has {source.obs_dim}-dimensional observations, "
                                f"{rd.env_id} {obs_dim}; a pretrained agent cannot be carried over")
        agent, origin = source.state, source.run_dir
    else:  # the committed agent file (_ensure_source_agent saw that it is whole and current)
        from softq_ref.io.checkpoint import load as load_tree

        origin = _committed_agent(campaign, source_run)
        if origin is None:
            raise CampaignError(f"{run.name}: neither a run directory nor a committed agent of {source_run.name} is here")
        like = jax.tree.map(lambda x: np.asarray(x)[0], jax.device_get(carries.agent))
        try:
            agent = load_tree(origin, like)
        except (RuntimeError, ValueError) as err:  # equinox names the leaf whose shape or dtype differs
            raise CampaignError(f"{run.name}: the agent in {origin} does not fit this run's config ({err})") from None
    if rd.algo.with_hparams is not None:
        agent = rd.algo.with_hparams(agent, **rd.config.traced_values())
    agent = jax.tree.map(lambda x: np.asarray(x)[None], jax.device_get(agent))
    if jax.tree.structure(agent) != jax.tree.structure(carries.agent):
        raise CampaignError(f"{run.name}: the agent of {origin} does not fit this run's config")
    rd.acquire()
    rd.save_checkpoint(carries._replace(agent=agent))


def _evaluate(run: Run, train_dir: Path, step: int) -> dict:
    """Evaluation episodes of the checkpoint at ``step`` in each of the group's modes.

    ``stochastic`` rolls out the algorithm's behaviour policy (``explore``: SQL's sampler,
    DDPG's actor plus its Gaussian noise, SAC's sampled action); ``deterministic`` its
    ``act`` (DDPG's actor, SAC's mean action).  Keys and environment seeds depend on
    ``(seed, step)`` only.  On a locomotion task (host loop) the record also holds each
    episode's net displacement along x per mode, ``record["x_displacement"][mode]``: the
    pretraining reward is the speed in either direction, which a policy could collect by
    rocking in place; the displacement shows whether it runs.
    """
    import jax
    import numpy as np

    from softq_ref.envs.task import task_for
    from softq_ref.io.run_dir import RunDir
    from softq_ref.train import evaluate
    from softq_ref.trained import load

    agent = load(train_dir, 0)
    loop = RunDir.open(train_dir).loop
    g = run.group
    record = {"step": step}
    for i, mode in enumerate(g.eval_modes):
        algo = agent.algo._replace(act=agent.algo.explore) if mode == "stochastic" else agent.algo
        key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(EVAL_KEY_BASE + run.seed), step), i)
        if loop == "jax":
            ro = evaluate.rollout_jax(algo, agent.state, task_for(g.task).jax_env(), key, g.eval_episodes)
            returns = np.asarray(ro.returns, np.float64)
        else:
            episodes = evaluate.rollout_gym(algo, agent.state, g.task, key, g.eval_episodes,
                                            seed=EVAL_ENV_BASE * (run.seed + 1) + step)
            returns = np.array([e["return"] for e in episodes], np.float64)
            if episodes and all("x_displacement" in e for e in episodes):
                moved = [round(e["x_displacement"], 6) for e in episodes]
                record.setdefault("x_displacement", {})[mode] = moved
        record[mode] = [round(float(r), 6) for r in returns]
    return record


def _result(campaign: Campaign, run: Run, work: Path, state: dict) -> dict:
    from softq_ref.agent import registry
    from softq_ref.io.run_dir import RunDir

    rd = RunDir.open(work / TRAIN)
    rows = rd.read_metrics()
    curve = [[int(r["step"]), float(r["mean_return"])] for r in rows if r.get("mean_return") not in ("", None)]
    counters = {name: sum(int(r.get(name) or 0) for r in rows) for name in rd.stat_names}
    config = registry.config_to_dict(rd.config)
    config["hidden_sizes"] = list(config["hidden_sizes"])
    return {
        "schema": RESULT_SCHEMA,
        "campaign": campaign.name,
        "campaign_file": campaign.path.name,
        "run": run.name,
        "group": run.group.name,
        "task": run.group.task,
        "algo": run.group.algo,
        "seed": run.seed,
        "steps": run.group.steps,
        "fingerprint": run.group.fingerprint(),
        "config": config,
        "evaluations": state["evaluations"],
        "train_curve": curve,
        "episode_counters": counters,
        "wall_time_s": state["wall_time_s"],
        "started": state.get("started", ""),
        "finished": _now(),
        "versions": _versions(),
        "machine": _machine(),
    }


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _versions() -> dict:
    import importlib.metadata

    out = {"python": platform.python_version()}
    for name in ("softq_ref", "jax", "jaxlib", "equinox", "optax", "gymnasium", "mujoco", "numpy"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    commit = source_commit()
    if commit:
        out["softq_ref_git"] = commit
    return out


def source_commit() -> str:
    """The commit of the git checkout the running ``softq_ref`` was imported from, with ``+modified``
    when its tracked files differ from that commit; "" when it is not in a checkout (an installed wheel)
    or git is missing.

    The package version alone does not tell two states of the code apart between releases, and
    a result can change with the code (``docs/experiments.md``: seed 0's pretrained agent
    trained again after a change of summation order differed by up to 869).
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return ""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                "softq_ref"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    if head.returncode != 0:
        return ""
    return head.stdout.strip() + ("+modified" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def _machine() -> dict:
    import jax

    from softq_ref.io.run_dir import device_record

    # matmul_precision: None is JAX's default, TF32 on a GPU (spec deviation dev-gpu-matmul-precision).
    # cpu_model and cpu_vector_isa: XLA's CPU kernels differ by instruction set, and with them float rounding; SQL's
    # pretrained agents trained again on another 2-core machine came out different (experiments.md), so say which.
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), **_cpu(), "jax_backend": jax.default_backend(),
            "devices": sorted({str(d.device_kind) for d in jax.devices()}),
            "matmul_precision": device_record()["matmul_precision"]}


def _cpu() -> dict:
    """The processor's model name and its vector instruction sets (AVX*, FMA, AMX), from ``/proc/cpuinfo`` if present."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return {}
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    isa = sorted(f for f in set(flags) if f.startswith(("avx", "fma", "amx")))
    return {"cpu_model": model, "cpu_vector_isa": isa}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


# -- a whole campaign -----------------------------------------------------------------------


def default_jobs() -> int:
    """One job per core, leaving one core free."""
    return max(1, (os.cpu_count() or 2) - 1)


def run_campaign(campaign: Campaign, *, jobs: int = 1, only: list[str] | None = None, say=print,
                 progress: bool = False) -> list[RunStatus]:
    """Run what is missing of ``campaign`` (skip what is done); ``jobs > 1`` runs that many processes.

    Runs whose ``init_from`` source is not finished wait for it.  A run that fails is reported
    (one line) and the others continue; the returned statuses say what stands at the end.
    """
    from softq_ref.train.runner import TrainingDiverged

    if jobs < 1:
        raise CampaignError(f"--jobs must be >= 1, got {jobs}")
    runs = campaign.runs
    if only:
        names = {r.name for r in runs}
        unknown = sorted(set(only) - names)
        if unknown:
            raise CampaignError(f"{campaign.path}: no run named {unknown[0]!r} (runs are <group>-s<seed>)")
        runs = [r for r in runs if r.name in only]
    todo = []
    for r in runs:
        st = status(campaign, r)
        if st.state == "done":
            say(f"{r.name}: done, skipped")
        elif st.state in ("stale", "unavailable"):
            say(f"{r.name}: {st.state}, skipped: {st.note}")
        else:
            todo.append(r)
    say(f"campaign {campaign.name}: {len(todo)} run(s) to do, {jobs} at a time")
    failed: set[str] = set()
    if jobs == 1:
        for r in todo:
            if r.group.init_from and Run(campaign.group(r.group.init_from), r.seed).name in failed:
                failed.add(r.name)
                say(f"{r.name}: skipped, its source run failed")
                continue
            try:
                execute(campaign, r, say=say, progress=progress)
            except (CampaignError, ValueError, TrainingDiverged) as err:  # reported; the other runs go on
                failed.add(r.name)
                say(f"{r.name}: FAILED: {_one_line(err)}")
    else:
        _run_parallel(campaign, todo, jobs, say, failed)
    return [status(campaign, r) for r in runs]


def _one_line(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _run_parallel(campaign: Campaign, todo: list[Run], jobs: int, say, failed: set[str]) -> None:
    """Each run in its own ``softq-ref campaign run FILE --only RUN --jobs 1`` process, ``jobs`` at a time."""
    pending = list(todo)
    active: dict[str, subprocess.Popen] = {}
    env = dict(os.environ)
    try:
        while pending or active:
            for name, proc in list(active.items()):
                if proc.poll() is not None:
                    del active[name]
                    if proc.returncode != 0:
                        failed.add(name)
                        say(f"{name}: FAILED (exit {proc.returncode})")
            for r in list(pending):
                if len(active) >= jobs:
                    break
                source = Run(campaign.group(r.group.init_from), r.seed).name if r.group.init_from else None
                if source in failed:
                    pending.remove(r)
                    failed.add(r.name)
                    say(f"{r.name}: skipped, its source run failed")
                    continue
                if source is not None and (source in active or any(p.name == source for p in pending)):
                    continue
                pending.remove(r)
                cmd = [sys.executable, "-m", "softq_ref.cli", "campaign", "run", str(campaign.path),
                       "--only", r.name, "--jobs", "1"]
                active[r.name] = subprocess.Popen(cmd, env=env)
                say(f"{r.name}: started (process {active[r.name].pid})")
            time.sleep(0.5)
    finally:
        for proc in active.values():
            proc.terminate()
        for proc in active.values():
            proc.wait()


def format_status(campaign: Campaign, statuses: list[RunStatus]) -> list[str]:
    """The lines of ``softq-ref campaign status``: one per run, then a summary."""
    width = max((len(s.run.name) for s in statuses), default=10)
    lines = [f"campaign {campaign.name} ({campaign.path})",
             f"  {'run':<{width}}  {'state':<11}  {'steps':>16}  {'evals':>7}  {'wall time':>9}"]
    for s in statuses:
        g = s.run.group
        lines.append(f"  {s.run.name:<{width}}  {s.state:<11}  {s.steps:>7}/{g.steps:<8}  "
                     f"{s.evaluations:>3}/{len(g.eval_steps()):<3}  {_duration(s.wall_time_s):>9}"
                     + (f"  {s.note}" if s.note else ""))
    lines += _threshold_lines(campaign, statuses)
    counts = {k: sum(s.state == k for s in statuses) for k in ("done", "partial", "missing", "stale", "unavailable")}
    lines.append("  " + ", ".join(f"{v} {k}" for k, v in counts.items() if v or k in ("done", "partial", "missing")))
    left = remaining_time(statuses)
    if left is not None:
        seconds, unknown, todo = left
        if unknown == todo:
            lines.append(f"  no time estimate yet: none of the {todo} unfinished run(s) has a measured rate")
        else:
            lines.append(f"  about {_duration(seconds)} of training left at the rates this campaign's runs have shown"
                         + (f" (and {unknown} run(s) of groups with no measured rate yet)" if unknown else ""))
    return lines


def remaining_time(statuses: list[RunStatus]) -> tuple[float, int, int] | None:
    """``(seconds, unknown, unfinished)``: the training time the unfinished runs still need, estimated, or
    ``None`` when none is left.

    Each group's rate is its done and partial runs' wall time over their steps (training and
    evaluation, as ``wall_time_s`` counts them); a group with none uses the rate of the same
    algorithm's other groups in the campaign; ``unknown`` counts the runs that have neither.
    One ``--jobs`` at a time: with N jobs the wall time is about this divided by N.
    """
    todo = [s for s in statuses if s.state in ("partial", "missing")]
    if not todo:
        return None

    def rate(selected):
        steps = sum(s.steps for s in selected)
        return sum(s.wall_time_s for s in selected) / steps if steps else None

    measured = [s for s in statuses if s.state in ("done", "partial") and s.steps > 0]
    seconds, unknown = 0.0, 0
    for s in todo:
        g = s.run.group
        r = rate([m for m in measured if m.run.group is g]) or rate([m for m in measured if m.run.group.algo == g.algo])
        if r is None:
            unknown += 1
        else:
            seconds += r * (g.steps - s.steps)
    return seconds, unknown, len(todo)


def _threshold_lines(campaign: Campaign, statuses: list[RunStatus]) -> list[str]:
    """Per group with finished runs and episode counters: how many runs reached each counter (Sec. 5.2)."""
    from softq_ref.campaign.summary import crossing_fraction

    lines = []
    for g in campaign.groups:
        files = [result_path(campaign, s.run) for s in statuses if s.run.group is g and s.state == "done"]
        if not files:
            continue
        counters = sorted(_read_json(files[0]).get("episode_counters", {}))
        for name in counters:
            got = crossing_fraction(files, name)
            lo, hi = got["interval"]
            lines.append(f"  {g.name}: {got['crossed']}/{got['runs']} finished runs had an episode with {name} "
                         f"(95% interval [{lo:.2f}, {hi:.2f}])")
    return lines
