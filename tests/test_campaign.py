"""The campaign runner: a tiny campaign on the multi-goal task runs, is skipped when done,
resumes after being killed mid-run to the same result files, and status reports them.

Two seeds, 300 steps, an evaluation every 150 steps (so two), tiny networks.  A persistent
JAX compilation cache shared by the subprocesses keeps the repeated compilations cheap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from softq_ref.campaign import CampaignError, Run, load
from softq_ref.campaign import runner

TINY = """
[campaign]
name = "tiny"
fixed = "2026-11-30"
steps = 300
eval_every = 150
eval_episodes = 3
seeds = [0, 1]

[[group]]
task = "softq_ref/MultiGoal-v0"
algo = "sql"
config = {hidden_sizes = [8], num_fixed_particles = 4, num_updated_particles = 4, value_samples = 4, batch_size = 16}
"""
RUNS = ("sql-MultiGoal-v0-s0", "sql-MultiGoal-v0-s1")
#: What differs between two honest executions of the same run: when and where it ran.
CIRCUMSTANTIAL = ("wall_time_s", "started", "finished", "machine", "versions")


def _env(cache: Path) -> dict:
    return dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")


def _cli(args, cache, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "softq_ref.cli", *args], capture_output=True, text=True,
                          env=_env(cache), timeout=900, **kw)


def _comparable(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if k not in CIRCUMSTANTIAL}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("jax-cache")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, cache):
    """The tiny campaign run once, uninterrupted, two runs at a time (``--jobs 2``)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    (root / "tiny.toml").write_text(TINY)
    done = _cli(["campaign", "run", str(root / "tiny.toml"), "--jobs", "2"], cache)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return root, done


def test_a_tiny_campaign_runs_and_leaves_result_files(finished):
    root, done = finished
    for name in RUNS:
        assert f"{name}: done" in done.stdout
        data = json.loads((root / "results" / "tiny" / f"{name}.json").read_text())
        assert [e["step"] for e in data["evaluations"]] == [150, 300]
        assert all(len(e["stochastic"]) == 3 for e in data["evaluations"])
        assert data["config"]["total_steps"] == 300 and data["config"]["hidden_sizes"] == [8]
        assert data["train_curve"] and data["train_curve"][-1][0] <= 300
        assert set(data["episode_counters"]) == {"goal_0", "goal_1", "goal_2", "goal_3"}
        assert data["versions"]["jax"] and data["machine"]["cpu_count"] >= 1 and data["wall_time_s"] > 0
        assert "cpu_model" in data["machine"] and isinstance(data["machine"]["cpu_vector_isa"], list)
        # The precision its products ran in (dev-gpu-matmul-precision): the campaign ran in a child process
        # with JAX's default (None) unless the environment asks for another.
        assert data["machine"]["matmul_precision"] == os.environ.get("JAX_DEFAULT_MATMUL_PRECISION")
        # The code that trained it: this checkout's commit (a wheel outside a checkout records none).
        assert data["versions"].get("softq_ref_git", "") == runner.source_commit()
    root = Path(runner.__file__).resolve().parents[2]
    if (root / ".git").exists():
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        assert runner.source_commit().split("+")[0] == head


def test_status_reports_the_result_files(finished, cache):
    root, _ = finished
    shown = _cli(["campaign", "status", str(root / "tiny.toml")], cache)
    assert shown.returncode == 0, shown.stderr
    campaign = load(root / "tiny.toml")
    for run in campaign.runs:
        data = json.loads(runner.result_path(campaign, run).read_text())
        line = next(x for x in shown.stdout.splitlines() if x.strip().startswith(run.name))
        assert " done " in line and "300/300" in line and "2/2" in line
        assert runner._duration(data["wall_time_s"]) in line
    assert "2 done, 0 partial, 0 missing" in shown.stdout


def test_a_done_campaign_is_skipped(finished, cache):
    root, _ = finished
    results = sorted((root / "results" / "tiny").iterdir())
    before = {p: p.read_bytes() for p in results}
    again = _cli(["campaign", "run", str(root / "tiny.toml"), "--jobs", "1"], cache)
    assert again.returncode == 0, again.stderr
    assert all(f"{name}: done, skipped" in again.stdout for name in RUNS)
    assert "0 run(s) to do" in again.stdout
    assert {p: p.read_bytes() for p in results} == before


def test_a_killed_campaign_resumes_to_the_same_results(finished, tmp_path, cache):
    root, _ = finished
    (tmp_path / "tiny.toml").write_text(TINY)
    state = tmp_path / "runs" / "tiny" / RUNS[0] / runner.STATE
    proc = subprocess.Popen([sys.executable, "-m", "softq_ref.cli", "campaign", "run", str(tmp_path / "tiny.toml"),
                             "--jobs", "1"], env=_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 600
        while time.time() < deadline:  # kill it once the first run has one evaluation and not two
            if state.is_file() and len(json.loads(state.read_text() or "{}").get("evaluations", [])) >= 1:
                break
            assert proc.poll() is None, "the campaign ended before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    mid = _cli(["campaign", "status", str(tmp_path / "tiny.toml")], cache)
    assert "partial" in mid.stdout and "missing" in mid.stdout, mid.stdout
    resumed = _cli(["campaign", "run", str(tmp_path / "tiny.toml"), "--jobs", "1"], cache)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    for name in RUNS:
        mine = _comparable(tmp_path / "results" / "tiny" / f"{name}.json")
        reference = _comparable(root / "results" / "tiny" / f"{name}.json")
        assert mine == reference, name


def test_the_resume_comparison_can_fail(finished):
    """Must-fail twin: the comparison tells two seeds' results apart (it is not vacuous)."""
    root, _ = finished
    a, b = (_comparable(root / "results" / "tiny" / f"{n}.json") for n in RUNS)
    assert a["evaluations"] != b["evaluations"]
    b["seed"], b["run"] = a["seed"], a["run"]
    assert a != b


def test_a_changed_campaign_file_marks_runs_stale(finished, tmp_path, cache):
    root, _ = finished
    import shutil

    shutil.copytree(root / "results", tmp_path / "results")
    (tmp_path / "tiny.toml").write_text(TINY.replace("eval_episodes = 3", "eval_episodes = 4"))
    shown = _cli(["campaign", "status", str(tmp_path / "tiny.toml")], cache)
    assert shown.stdout.count("stale") >= 2
    again = _cli(["campaign", "run", str(tmp_path / "tiny.toml"), "--jobs", "1"], cache)
    assert again.returncode == 1 and "stale, skipped" in again.stdout


BAD = {
    "no campaign table": ("[[group]]\ntask='x'\nalgo='sql'\n", "missing the [campaign] table"),
    "unknown key": (TINY.replace("fixed =", "fixd ="), "unknown key(s) ['fixd']"),
    "negative steps": (TINY.replace("steps = 300", "steps = -3"), "steps must be a positive integer"),
    "repeated seed": (TINY.replace("seeds = [0, 1]", "seeds = [0, 0]"), "repeats a seed"),
    "bad mode": (TINY + "eval_modes = ['greedy']\n", "eval_modes must be"),
    "two groups one name": (TINY + TINY[TINY.index("[[group]]"):], "used twice"),
    "unknown source": (TINY + "init_from = 'nowhere'\n", "names no group"),
    "not toml": ("[campaign\n", "not valid TOML"),
    "reserved config": (TINY.replace("batch_size = 16", "total_steps = 5"), "config may not set"),
    "num_envs off the jitted loop": (TINY + "num_envs = 2\n", 'num_envs is for the jitted loop; set loop = "jax"'),
    "num_envs not dividing steps": (TINY + "loop = 'jax'\nnum_envs = 7\n", "must be multiples of num_envs (7)"),
    "num_envs zero": (TINY + "loop = 'jax'\nnum_envs = 0\n", "num_envs must be a positive integer"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_campaign_files_get_one_line_errors(case, tmp_path):
    text, expected = BAD[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CampaignError) as err:
        load(path)
    assert expected in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_campaign_file_on_the_command_line(tmp_path, cache):
    path = tmp_path / "bad.toml"
    path.write_text(BAD["negative steps"][0])
    done = _cli(["campaign", "status", str(path)], cache)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "steps must be a positive integer" in done.stderr
    assert "Traceback" not in done.stderr
    missing = _cli(["campaign", "run", str(tmp_path / "nowhere.toml")], cache)
    assert missing.returncode == 2 and "campaign file not found" in missing.stderr


def test_the_experiment_campaigns_are_valid():
    root = Path(__file__).resolve().parent.parent / "experiments"
    files = sorted(root.glob("*.toml"))
    assert {p.stem for p in files} >= {"mujoco", "exploration", "pretraining"}
    for path in files:
        campaign = load(path)
        assert campaign.fixed, f"{path}: the date it was fixed is missing"
        assert campaign.estimated_wall_time, f"{path}: no wall-time estimate"
        for group in campaign.groups:
            run = Run(group, group.seeds[0])
            if runner._availability(run) or (group.task.endswith("TwoRouteMaze-v0") and not _has("gymnasium_robotics")):
                continue  # an algorithm or a package this installation lacks (status shows "unavailable")
            config = runner._config(run, group.steps)  # preset, temperature and config fields all accepted
            assert config.total_steps == group.steps


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


FINE_TUNE = """
[campaign]
name = "ft"
fixed = "2026-11-30"
steps = 150
eval_every = 150
eval_episodes = 1
seeds = [0]

[[group]]
name = "pre"
task = "softq_ref/MultiGoal-v0"
algo = "ddpg"
loop = "gym"
config = {hidden_sizes = [8], batch_size = 16}

[[group]]
name = "fine"
task = "softq_ref/MultiGoal-v0"
algo = "ddpg"
loop = "gym"
init_from = "pre"
config = {hidden_sizes = [8], batch_size = 16, exploration_std = 0.2}
"""


def _initial_checkpoint(campaign, fine):
    """A fresh run directory for ``fine`` holding only its step-0 checkpoint (the source's agent); returns its path."""
    from softq_ref.io.run_dir import RunDir

    train_dir = runner.work_dir(campaign, fine) / runner.TRAIN
    rd = RunDir.create(train_dir, config=runner._config(fine, 150), env_id=fine.group.task, seeds=[0], loop="gym",
                       settings={"log_every": 1000, "checkpoint_every": 10_000, "checkpoint_minutes": 5.0})
    try:
        runner._write_initial_checkpoint(campaign, fine, rd)
    finally:
        rd.release()
    return train_dir


def test_a_fine_tuning_run_starts_from_the_pretrained_agent(tmp_path):
    import jax
    import numpy as np

    from softq_ref.trained import load as load_agent

    (tmp_path / "ft.toml").write_text(FINE_TUNE)
    campaign = load(tmp_path / "ft.toml")
    pre, fine = campaign.runs
    assert pre.name == "pre-s0" and fine.name == "fine-s0"  # the source is ordered first
    with pytest.raises(CampaignError, match="not finished"):
        runner.execute(campaign, fine, say=lambda _: None)
    runner.execute(campaign, pre, say=lambda _: None)
    source = load_agent(runner.work_dir(campaign, pre) / runner.TRAIN)
    train_dir = _initial_checkpoint(campaign, fine)
    started = load_agent(train_dir)
    # The networks are the pretrained ones, leaf for leaf; the traced exploration noise is the fine-tuning config's.
    assert float(started.state.hparams.exploration_std) == pytest.approx(0.2)
    assert float(source.state.hparams.exploration_std) != pytest.approx(0.2)
    for a, b in zip(jax.tree.leaves(source.state.actor), jax.tree.leaves(started.state.actor)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Must-fail twin: the same comparison against a freshly initialised agent finds a difference.
    fresh = started.algo.init(started.config, 2, 2, jax.random.PRNGKey(0))
    assert any(not np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(jax.tree.leaves(fresh.actor), jax.tree.leaves(started.state.actor)))


def test_a_fine_tuning_run_trains_a_missing_source_again(tmp_path):
    """On a fresh clone only the source's result file is here: its agent is trained again, and checked."""
    import json
    import shutil

    (tmp_path / "ft.toml").write_text(FINE_TUNE)
    campaign = load(tmp_path / "ft.toml")
    pre, fine = campaign.runs
    runner.execute(campaign, pre, say=lambda _: None)
    committed = runner.result_path(campaign, pre).read_bytes()
    shutil.rmtree(runner.work_dir(campaign, pre))  # what a clone made before agents were committed has:
    shutil.rmtree(runner.agent_path(campaign, pre).parent)  # the result only
    said: list[str] = []
    runner.execute(campaign, fine, say=said.append)
    assert runner.status(campaign, fine).state == "done"
    assert any("training it again" in line for line in said)
    assert any("the same as committed" in line for line in said), said
    assert runner.result_path(campaign, pre).read_bytes() == committed  # never rewritten
    # Must-fail twin: a committed evaluation that the agent trained again does not give is reported as differing.
    shutil.rmtree(runner.work_dir(campaign, pre))
    shutil.rmtree(runner.agent_path(campaign, pre).parent)  # the agent trained again was committed; not this time
    data = json.loads(committed)
    data["evaluations"][-1]["stochastic"] = [r + 1.0 for r in data["evaluations"][-1]["stochastic"]]
    runner.result_path(campaign, pre).write_text(json.dumps(data))
    said.clear()
    runner._ensure_source_agent(campaign, pre, say=said.append, progress=False)
    assert any("differs from the committed one by up to 1" in line for line in said), said
    # The agent trained again is committed, with its own evaluation and the gap.
    record = json.loads(runner.agent_record_path(campaign, pre).read_text())
    assert record["regenerated"] is True and record["max_abs_difference"] == pytest.approx(1.0)
    assert record["evaluation_again"]["step"] == 150


def test_locomotion_evaluations_record_the_net_displacement():
    """A speed-in-either-direction reward cannot tell running from rocking; the x displacement can."""
    import jax

    from softq_ref.agent import DDPG, DDPGConfig
    from softq_ref.train.evaluate import rollout_gym

    agent = DDPG.init(DDPGConfig(hidden_sizes=(8,)), 17, 6, jax.random.PRNGKey(0))
    (episode,) = rollout_gym(DDPG, agent, "HalfCheetah-v5", jax.random.PRNGKey(1), 1, seed=3)
    assert episode["length"] == 1000
    assert isinstance(episode["x_displacement"], float) and episode["x_displacement"] != 0.0
    (plain,) = rollout_gym(DDPG, DDPG.init(DDPGConfig(hidden_sizes=(8,)), 2, 2, jax.random.PRNGKey(0)),
                           "softq_ref/MultiGoal-v0", jax.random.PRNGKey(1), 1, seed=3)
    assert "x_displacement" not in plain  # a task that reports no x position gets no such field


def test_a_group_with_several_environments_per_seed_trains_them_and_keeps_old_fingerprints(tmp_path):
    """``num_envs`` (spec dev-num-envs) reaches the run directory; a group without it keeps the fingerprint
    its finished runs were recorded with (no ``num_envs`` key), so adding the option staled nothing."""
    from softq_ref.io.run_dir import RunDir

    (tmp_path / "tiny.toml").write_text(TINY.replace("seeds = [0, 1]", "seeds = [0]") + "loop = 'jax'\nnum_envs = 2\n")
    campaign = load(tmp_path / "tiny.toml")
    (run,) = campaign.runs
    assert run.group.num_envs == 2 and run.group.fingerprint()["num_envs"] == 2
    assert "num_envs" not in load_text(tmp_path, TINY).groups[0].fingerprint()
    runner.execute(campaign, run, say=lambda _: None)
    data = json.loads(runner.result_path(campaign, run).read_text())
    assert [e["step"] for e in data["evaluations"]] == [150, 300]
    assert RunDir.open(runner.work_dir(campaign, run) / runner.TRAIN).settings["num_envs"] == 2


def load_text(tmp_path, text):
    path = tmp_path / "other.toml"
    path.write_text(text)
    return load(path)


def test_status_estimates_the_time_left_from_the_runs_rates(tmp_path):
    """Two partial runs of one group (200 steps in 20 s, 100 in 10 s): 0.1 s a step, so their 300 steps left
    take 30 s; the runs of a group of another algorithm with no run yet have no rate."""
    import dataclasses

    text = TINY + "\n[[group]]\nname = 'other'\ntask = 'softq_ref/MultiGoal-v0'\nalgo = 'ddpg'\n"
    campaign = load_text(tmp_path, text)
    a0, a1, b0, b1 = campaign.runs
    partial = [runner.RunStatus(a0, "partial", 200, 1, 20.0), runner.RunStatus(a1, "partial", 100, 0, 10.0)]
    missing = [runner.RunStatus(r, "missing", 0, 0, 0.0) for r in (b0, b1)]
    assert runner.remaining_time(partial + missing) == (pytest.approx(30.0), 2, 4)
    assert "about 0m30s of training left" in runner.format_status(campaign, partial + missing)[-1]
    # A group with no run of its own borrows its algorithm's rate from the campaign's other groups.
    same_algo = dataclasses.replace(campaign.groups[1], algo="sql")
    borrowed = [runner.RunStatus(Run(same_algo, 0), "missing", 0, 0, 0.0)]
    assert runner.remaining_time(partial + borrowed) == (pytest.approx(30.0 + 30.0), 0, 3)
    assert "no time estimate yet: none of the 2 unfinished" in runner.format_status(campaign, missing)[-1]
    assert runner.remaining_time([runner.RunStatus(a0, "stale", 200, 1, 20.0)]) is None  # nothing to train


def test_a_source_run_commits_its_agent_and_fine_tuning_starts_from_it_without_the_run_directory(tmp_path):
    """A fresh machine with the repository only: the fine-tuning run starts from the committed agent, bit for bit."""
    import json
    import shutil

    import jax
    import numpy as np

    from softq_ref.trained import load as load_agent

    (tmp_path / "ft.toml").write_text(FINE_TUNE)
    campaign = load(tmp_path / "ft.toml")
    pre, fine = campaign.runs
    assert runner.is_source(campaign, pre) and not runner.is_source(campaign, fine)
    runner.execute(campaign, pre, say=lambda _: None)
    final = load_agent(runner.work_dir(campaign, pre) / runner.TRAIN).state
    record = json.loads(runner.agent_record_path(campaign, pre).read_text())
    assert record["run"] == "pre-s0" and record["regenerated"] is False and record["step"] == 150
    assert record["fingerprint"] == pre.group.fingerprint()
    shutil.rmtree(runner.work_dir(campaign, pre))
    said: list[str] = []
    runner.execute(campaign, fine, say=said.append)
    assert not any("training it again" in line for line in said), said  # the agent file made that unnecessary
    assert not runner.work_dir(campaign, pre).exists()
    # The fine-tuning run's step-0 checkpoint holds the committed agent: compare it with the source's.
    shutil.rmtree(runner.work_dir(campaign, fine) / runner.TRAIN)
    started = load_agent(_initial_checkpoint(campaign, fine)).state
    assert float(started.hparams.exploration_std) == pytest.approx(0.2)  # the fine-tuning config's, as before
    # Every other leaf (networks, targets, optimiser moments, counters) is the source's final one, bit for bit.
    import equinox as eqx

    same = eqx.tree_at(lambda st: st.hparams, started, final.hparams)
    assert jax.tree.structure(same) == jax.tree.structure(final)
    for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(same)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("damage, message", [
    ("bytes", "SHA-256 is not the one"),
    ("fingerprint", "made under other settings"),
])
def test_a_damaged_or_stale_committed_agent_is_refused_in_one_line(damage, message, tmp_path):
    import json
    import shutil

    (tmp_path / "ft.toml").write_text(FINE_TUNE)
    campaign = load(tmp_path / "ft.toml")
    pre, fine = campaign.runs
    runner.execute(campaign, pre, say=lambda _: None)
    shutil.rmtree(runner.work_dir(campaign, pre))
    if damage == "bytes":
        path = runner.agent_path(campaign, pre)
        data = bytearray(path.read_bytes())
        data[-1] ^= 1
        path.write_bytes(bytes(data))
    else:
        record = runner.agent_record_path(campaign, pre)
        record.write_text(json.dumps({**json.loads(record.read_text()), "fingerprint": "0" * 16}))
    with pytest.raises(CampaignError, match=message) as err:
        runner.execute(campaign, fine, say=lambda _: None)
    assert "\n" not in str(err.value)


def test_status_says_where_a_fine_tuning_runs_agent_will_come_from(tmp_path):
    import shutil

    (tmp_path / "ft.toml").write_text(FINE_TUNE)
    campaign = load(tmp_path / "ft.toml")
    pre, fine = campaign.runs

    def note():
        return runner.status(campaign, fine).note

    assert note() == "waits for pre-s0"
    runner.execute(campaign, pre, say=lambda _: None)
    assert note() == "starts from pre-s0's run directory"
    shutil.rmtree(runner.work_dir(campaign, pre))
    assert note() == "starts from pre-s0's committed agent"
    shutil.rmtree(runner.agent_path(campaign, pre).parent)
    assert note() == "pre-s0 is to be trained again first (150 steps)"
