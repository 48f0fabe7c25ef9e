"""Hostile input and faults around the run directory (issue 10, items 1-3, 5, 12, 16, 17, 19).

Each case asserts the exit code, that no traceback is printed, that the one-line message names the
problem, and that the user's directory is unchanged (hashed before and after).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from filelock import FileLock
from hostile_helpers import one_line_error, register_hostile_envs, tree_hash

import softq_ref
from softq_ref.cli import main
from softq_ref.io.run_dir import RunDir, RunDirError

register_hostile_envs()

FAST = ["--steps", "150", "--chunk-steps", "50", "--quiet"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A small finished jitted-loop run (two seeds), shared read-only by the cases below."""
    out = tmp_path_factory.mktemp("runs") / "good"
    assert main(["train", *FAST, "--seeds", "2", "--out", str(out)]) == 0
    return out


def _copy(run, tmp_path, name="copy"):
    import shutil

    dst = tmp_path / name
    shutil.copytree(run, dst)
    return dst


def _run_cli(capsys, argv):
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


# -- data loss -------------------------------------------------------------------------------------


def test_a_second_writer_of_the_same_run_is_refused(tmp_path, capsys, finished_run):
    """Item 1: while one process holds a run directory, a second `train --out` or `--resume` is refused."""
    out = tmp_path / "busy"
    out.mkdir()
    with FileLock(str(out / ".lock"), timeout=0):
        before = tree_hash(out)
        code, err = _run_cli(capsys, ["train", *FAST, "--out", str(out)])
        assert code == 2 and one_line_error(err, str(out), "in use by another")
        assert tree_hash(out) == before
    run = _copy(finished_run, tmp_path)
    with FileLock(str(run / ".lock"), timeout=0):
        before = tree_hash(run)
        code, err = _run_cli(capsys, ["train", "--resume", str(run), "--quiet"])
        assert code == 2 and one_line_error(err, "in use by another")
        assert tree_hash(run) == before


def test_a_directory_that_is_not_a_run_is_never_written_into(tmp_path, capsys):
    """Item 2: the user's config.json, metrics.csv and figure.png are not overwritten."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "metrics.csv").write_text("my,own,data\n1,2,3\n")
    (out / "figure.png").write_bytes(b"not ours")
    (out / "notes.txt").write_text("thesis")
    before = tree_hash(out)
    code, err = _run_cli(capsys, ["train", *FAST, "--out", str(out)])
    assert code == 2 and one_line_error(err, str(out), "not empty", "not a softq-ref run")
    assert tree_hash(out) == before


def test_a_directory_holding_a_run_is_refused_by_both_loops(tmp_path, capsys, finished_run):
    """Item 3: training again into a finished run (jitted or gymnasium, one seed or many) is refused."""
    run = _copy(finished_run, tmp_path)
    before = tree_hash(run)
    for extra in ([], ["--loop", "gym", "--seeds", "2"]):
        code, err = _run_cli(capsys, ["train", *FAST, *extra, "--alpha", "0.5", "--out", str(run)])
        assert code == 2 and one_line_error(err, "already holds a run", "--resume")
    assert tree_hash(run) == before


# -- silently wrong: checkpoints -------------------------------------------------------------------


def _corrupt(path, how):
    data = bytearray(path.read_bytes())
    if how == "flip":
        for i in range(len(data) // 2, len(data) // 2 + 4):
            data[i] ^= 0xFF
    elif how == "truncate":
        data = data[: len(data) // 3]
    elif how == "empty":
        data = bytearray()
    elif how == "header":
        data[:16] = b"\x00" * 16
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip", "truncate", "empty", "header"])
def test_a_damaged_checkpoint_is_named_by_evaluate_resume_and_load(tmp_path, capsys, finished_run, how):
    """Items 5 and 16: the digest in config.json is checked on every load; the message names the file."""
    run = _copy(finished_run, tmp_path)
    _corrupt(run / "checkpoint.eqx", how)
    before = tree_hash(run)
    for argv in (["evaluate", str(run), "--episodes", "2"], ["train", "--resume", str(run), "--quiet"]):
        code, err = _run_cli(capsys, argv)
        assert code == 2 and one_line_error(err, "checkpoint.eqx", "corrupt")
    with pytest.raises(RunDirError, match="checkpoint.eqx is corrupt"):
        softq_ref.load(run)
    assert tree_hash(run) == before


def test_another_runs_checkpoint_is_refused(tmp_path, capsys, finished_run):
    """Item 16: a checkpoint copied from another run (same shapes) does not load silently."""
    other = tmp_path / "other"
    assert main(["train", *FAST, "--seeds", "2", "--seed", "5", "--out", str(other)]) == 0
    run = _copy(finished_run, tmp_path)
    (run / "checkpoint.eqx").write_bytes((other / "checkpoint.eqx").read_bytes())
    before = tree_hash(run)
    code, err = _run_cli(capsys, ["evaluate", str(run), "--episodes", "2"])
    assert code == 2 and one_line_error(err, "checkpoint.eqx", "another run")
    assert tree_hash(run) == before


def test_the_digest_check_can_fail_only_when_the_bytes_differ(finished_run):
    """Must-fail twin of the digest: the untouched checkpoint of the same run loads."""
    agent = softq_ref.load(finished_run, 1)
    assert agent.seed == 1


# -- malformed config.json and metrics.csv ---------------------------------------------------------


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda m: m.pop("loop"), "'loop' is missing"),
        (lambda m: m.update(env_id="NoSuchEnv-v9"), "NoSuchEnv-v9"),
        (lambda m: m.update(seeds="abc"), "'seeds'"),
        (lambda m: m["config"].update(hidden_sizes="big"), "hidden_sizes"),
        (lambda m: m["config"].update(discount="0.9"), "discount"),
        (lambda m: m.update(algo="nope"), "unknown algorithm 'nope'"),
        (None, "not valid JSON"),
    ],
)
def test_a_malformed_config_json_is_one_line_naming_the_file(tmp_path, capsys, finished_run, edit, needle):
    """Item 17."""
    run = _copy(finished_run, tmp_path)
    path = run / "config.json"
    if edit is None:
        path.write_text("{ this is not json")
    else:
        meta = json.loads(path.read_text())
        edit(meta)
        path.write_text(json.dumps(meta))
    before = tree_hash(run)
    for argv in (["evaluate", str(run), "--episodes", "2"], ["train", "--resume", str(run), "--quiet"]):
        code, err = _run_cli(capsys, argv)
        assert code == 2 and one_line_error(err, needle), err
        assert "config.json" in err or "NoSuchEnv" in err
    with pytest.raises(ValueError):
        softq_ref.load(run)
    assert tree_hash(run) == before


def test_a_garbage_line_in_metrics_csv_does_not_block_resuming(tmp_path, capsys, finished_run):
    """Item 17: the unreadable row is dropped; the good checkpoint resumes (here: extends by 50 steps)."""
    run = _copy(finished_run, tmp_path)
    with (run / "metrics.csv").open("a") as f:
        f.write("garbage,,\x00not a row\n")
    code, err = _run_cli(capsys, ["train", "--resume", str(run), "--steps", "200", "--quiet"])
    assert code == 0, err
    rows = RunDir.open(run).read_metrics()
    assert [int(r["step"]) for r in rows][-2:] == [200, 200] and all(r["seed"] in ("0", "1") for r in rows)


# -- divergence and early kills of the host loop -----------------------------------------------------


def test_a_non_finite_reward_names_its_step_and_says_truthfully_that_nothing_was_kept(tmp_path, capsys):
    """Item 12: the NaN reward arrives at step 6; no checkpoint exists yet, and the message says so."""
    out = tmp_path / "nan"
    code, err = _run_cli(capsys, ["train", "--env", "hostile/NaNReward-v0", "--alpha", "1", "--steps", "300",
                                  "--quiet", "--out", str(out)])
    assert code == 3 and one_line_error(err, "non-finite reward at step 6", "no checkpoint was written yet")
    assert "last good checkpoint" not in err


def test_a_host_run_killed_before_its_first_checkpoint_restarts_on_resume(tmp_path, capsys):
    """Item 19: a run with no checkpoint yet is started again from step 0 by --resume (and says so)."""
    out = tmp_path / "early"
    run = RunDir.create(out, config=softq_ref.SQLConfig.preset_for("mujoco").replace(
        alpha=1.0, total_steps=60, min_replay_size=20, max_path_length=20, hidden_sizes=(8,), batch_size=4,
        num_fixed_particles=2, num_updated_particles=2, value_samples=2),
        env_id="hostile/Fine-v0", seeds=[0], loop="gym",
        settings={"log_every": 20, "checkpoint_every": 10_000, "checkpoint_minutes": 5.0})
    run.release()  # as a SIGKILL before the first checkpoint leaves it
    code, err = _run_cli(capsys, ["train", "--resume", str(out), "--quiet"])
    assert code == 0 and "no checkpoint yet; starting it again from step 0" in err
    assert max(int(r["step"]) for r in RunDir.open(out).read_metrics()) == 60


def test_the_host_loop_checkpoints_by_wall_time_at_episode_boundaries(tmp_path):
    """Item 19: with checkpoint_every far away, the wall-time trigger still writes checkpoints."""
    from softq_ref.train.gym_loop import train_gym

    cfg = softq_ref.SQLConfig.preset_for("mujoco").replace(
        alpha=1.0, total_steps=80, min_replay_size=20, max_path_length=20, hidden_sizes=(8,), batch_size=4,
        num_fixed_particles=2, num_updated_particles=2, value_samples=2)
    saved = []
    original = RunDir.save_checkpoint

    def spy(self, tree):
        saved.append(int(np.asarray(tree.env_steps)[0]))
        return original(self, tree)

    RunDir.save_checkpoint = spy
    try:
        train_gym(cfg, env_id="hostile/Fine-v0", out_dir=tmp_path / "wall", log_every=1000, checkpoint_every=10_000,
                  checkpoint_minutes=1e-9, progress=False)
    finally:
        RunDir.save_checkpoint = original
    assert saved == [20, 40, 60, 80, 80]  # every episode end (20 steps), then the final one


def test_resume_with_more_steps_extends_a_host_loop_run_and_grows_its_buffer(tmp_path, capsys):
    """Item 6: `--resume RUN --steps N` trains the run on to N; the replay buffer grows to keep every transition."""
    from softq_ref.train.gym_loop import init_carries

    out = tmp_path / "grow"
    code, err = _run_cli(capsys, ["train", "--env", "hostile/Fine-v0", "--alpha", "1", "--steps", "40", "--quiet",
                                  "--out", str(out)])
    assert code == 0, err
    code, err = _run_cli(capsys, ["train", "--resume", str(out), "--steps", "80", "--quiet"])
    assert code == 0, err
    run = RunDir.open(out)
    assert run.config.total_steps == 80
    like = init_carries(run.algo, run.config, 2, 2, run.seeds)
    carry = run.load_checkpoint(like)
    assert int(carry.env_steps[0]) == 80 and carry.buffer.data.reward.shape == (1, 80) and int(carry.buffer.size[0]) == 80


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (not even `except Exception`)."""


@pytest.mark.parametrize("window", ["before_checkpoint", "before_config"])
def test_a_kill_while_extending_a_run_leaves_it_resumable(tmp_path, capsys, monkeypatch, window):
    """Extending a run grows its buffer, checkpoints it, then records the longer config; a kill between any
    two of those (as a campaign killed just after starting a segment) resumes with the same --steps.

    Found on a real campaign: the config was recorded first, so a kill before the next checkpoint left a
    checkpoint whose buffer no longer fit the run's config, and the run could not be resumed."""
    from softq_ref.train.gym_loop import init_carries

    out = tmp_path / "ext"
    code, err = _run_cli(capsys, ["train", "--env", "hostile/Fine-v0", "--alpha", "1", "--steps", "40", "--quiet",
                                  "--out", str(out)])
    assert code == 0, err
    target = RunDir.save_checkpoint if window == "before_checkpoint" else RunDir.update

    def killed(self, *args, **kwargs):
        raise _Killed

    with monkeypatch.context() as m:
        m.setattr(RunDir, target.__name__, killed)
        with pytest.raises(_Killed):
            _run_cli(capsys, ["train", "--resume", str(out), "--steps", "80", "--quiet"])
    code, err = _run_cli(capsys, ["train", "--resume", str(out), "--steps", "80", "--quiet"])
    assert code == 0, err
    run = RunDir.open(out)
    carry = run.load_checkpoint(init_carries(run.algo, run.config, 2, 2, run.seeds))
    assert run.config.total_steps == 80 and int(carry.env_steps[0]) == 80 and carry.buffer.data.reward.shape == (1, 80)


@pytest.mark.parametrize("point", [pytest.param("while_serialising", marks=pytest.mark.slow), "before_rename",
                                   pytest.param("after_rename", marks=pytest.mark.slow)])
def test_a_kill_inside_the_checkpoint_write_loses_nothing(tmp_path, monkeypatch, point):
    """A kill at each step of RunDir.save_checkpoint (write the file, record both digests, rename, record
    the new digest) leaves a run that resumes to the same bytes as an uninterrupted one."""
    import os

    import equinox as eqx

    from softq_ref.io import run_dir as rd
    from softq_ref.train.runner import train_jax

    cfg = softq_ref.SQLConfig(total_steps=300, hidden_sizes=(8,), batch_size=4, num_fixed_particles=2,
                              num_updated_particles=2, value_samples=2)
    train_jax(cfg, out_dir=tmp_path / "full", chunk_steps=100, progress=False)

    calls = {"n": 0}
    real_replace, real_serialise, real_update = os.replace, eqx.tree_serialise_leaves, rd.RunDir.update

    def nth_checkpoint():  # the third checkpoint write (after step 200) is the one killed
        return calls["n"] == 3

    def serialise(f, tree):
        calls["n"] += 1
        if point == "while_serialising" and nth_checkpoint():
            f.write(b"half a checkpoint")
            raise _Killed
        return real_serialise(f, tree)

    def replace(src, dst):
        if str(dst).endswith("checkpoint.eqx") and point == "before_rename" and nth_checkpoint():
            raise _Killed
        real_replace(src, dst)
        if str(dst).endswith("checkpoint.eqx") and point == "after_rename" and nth_checkpoint():
            raise _Killed

    monkeypatch.setattr(eqx, "tree_serialise_leaves", serialise)
    monkeypatch.setattr(rd.os, "replace", replace)
    with pytest.raises(_Killed):
        train_jax(cfg, out_dir=tmp_path / "cut", chunk_steps=100, progress=False)
    monkeypatch.undo()
    assert real_update is rd.RunDir.update
    train_jax(None, out_dir=tmp_path / "cut", resume=True, progress=False)
    assert (tmp_path / "full" / "checkpoint.eqx").read_bytes() == (tmp_path / "cut" / "checkpoint.eqx").read_bytes()


def test_a_run_records_its_backend_and_matmul_precision(tmp_path):
    # Spec deviation dev-gpu-matmul-precision: a curve says which arithmetic made it. The suite pins
    # "highest" (conftest.py); a run started under another precision records that one.
    import jax

    from softq_ref.agent.config import SQLConfig

    def recorded(path):
        run = RunDir.create(path, config=SQLConfig(), env_id="softq_ref/MultiGoal-v0", seeds=[0], loop="jax", settings={})
        run.release()
        return json.loads((path / "config.json").read_text())["device"]

    assert recorded(tmp_path / "a") == {"backend": jax.default_backend(), "matmul_precision": "highest"}
    with jax.default_matmul_precision("bfloat16"):
        assert recorded(tmp_path / "b") == {"backend": jax.default_backend(), "matmul_precision": "bfloat16"}
