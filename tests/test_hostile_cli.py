"""Hostile command lines (issue 10, items 6-9, 15, 18, 20): one line, the right exit code, nothing touched.

Exit codes of ``softq-ref``: 0 success, 2 bad input, 3 training diverged, 130 interrupted.
"""

from __future__ import annotations

import shutil

import jax
import numpy as np
import pytest
from hostile_helpers import one_line_error, register_hostile_envs, tree_hash

import softq_ref
from softq_ref.cli import main
from softq_ref.io.run_dir import RunDir
from softq_ref.train import launch

register_hostile_envs()

FAST = ["--steps", "150", "--chunk-steps", "50", "--quiet"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "good"
    assert main(["train", *FAST, "--out", str(out)]) == 0
    return out


def _run_cli(capsys, argv):
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


# -- item 6: --resume and the flags that contradict the run ------------------------------------------


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--alpha", "0.5"], "--alpha 0.5 contradicts"),
        (["--algo", "ddpg"], "--algo ddpg contradicts"),
        (["--env", "Pendulum-v1"], "--env Pendulum-v1 contradicts"),
        (["--preset", "mujoco"], "--preset mujoco contradicts"),
        (["--seeds", "3"], "--seeds 3 contradicts"),
        (["--seed", "7"], "--seed 7 contradicts"),
        (["--chunk-steps", "10"], "--chunk-steps 10 contradicts"),
        (["--loop", "gym"], "--loop gym contradicts"),
        (["--out", "/tmp/elsewhere"], "--out /tmp/elsewhere contradicts"),
        (["--steps", "100"], "--steps 100 is shorter"),
    ],
)
def test_resume_refuses_flags_that_contradict_the_run(tmp_path, capsys, finished_run, flags, needle):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = tree_hash(run)
    code, err = _run_cli(capsys, ["train", "--resume", str(run), "--quiet", *flags])
    assert code == 2 and one_line_error(err, needle)
    assert tree_hash(run) == before


def test_resume_accepts_flags_that_agree_with_the_run(tmp_path, capsys, finished_run):
    """Must-fail twin: the same check lets through the values the run was made with."""
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    code, err = _run_cli(capsys, ["train", "--resume", str(run), "--quiet", "--alpha", "10", "--seeds", "1",
                                  "--steps", "150", "--chunk-steps", "50", "--out", str(run)])
    assert code == 0, err


# -- items 7-9: action boxes, horizons, presets -------------------------------------------------------


@pytest.mark.parametrize("env_id, needle", [("hostile/Box22-v0", "shape (2, 2)"), ("hostile/Box0-v0", "shape (0,)")])
def test_non_flat_or_empty_action_boxes_are_refused(tmp_path, capsys, env_id, needle):
    out = tmp_path / "x"
    code, err = _run_cli(capsys, ["train", "--env", env_id, "--alpha", "1", "--quiet", "--out", str(out)])
    assert code == 2 and one_line_error(err, env_id, needle, "flat, non-empty")
    assert not out.exists()


def test_the_environments_own_time_limit_wins_over_the_mujoco_preset():
    """Item 8: Pendulum-v1 runs 200-step episodes on the mujoco preset, and config.json records 200."""
    assert launch.make_config("sql", "Pendulum-v1", alpha=1.0).max_path_length == 200
    assert launch.make_config("sql", "HalfCheetah-v5").max_path_length == 1000
    assert launch.make_config("sql", "Pendulum-v1", alpha=1.0, max_path_length=50).max_path_length == 50
    assert launch.make_config("ddpg", "softq_ref/MultiGoal-v0").max_path_length == 30


def test_an_explicit_alpha_keeps_the_tasks_own_preset_settings():
    """--alpha replaces the temperature only: soft DQN on Acrobot keeps its Acrobot settings (it was given the
    CartPole ones, since the task was hidden from the preset whenever --alpha was passed), and a MuJoCo task
    without a published reward scale still trains with an explicit temperature."""
    from softq_ref.agent.soft_dqn import SoftDQNConfig

    acrobot = SoftDQNConfig.preset_for("classic", "Acrobot-v1")
    got = launch.make_config("soft_dqn", "Acrobot-v1", alpha=0.05)
    assert got.alpha == 0.05 and got.q_lr == acrobot.q_lr and got.batch_size == acrobot.batch_size
    assert got.target_update_period == acrobot.target_update_period and got.total_steps == acrobot.total_steps
    assert got == acrobot.replace(alpha=0.05, max_path_length=got.max_path_length)
    assert launch.make_config("sql", "Pendulum-v1", alpha=0.25).alpha == 0.25  # no published scale: fine


def test_a_preset_that_does_not_fit_the_task_is_refused(tmp_path, capsys):
    """Item 9: --preset mujoco on the multi-goal task used to record 1000 steps and run 30."""
    out = tmp_path / "x"
    code, err = _run_cli(capsys, ["train", "--preset", "mujoco", "--quiet", "--out", str(out)])
    assert code == 2 and one_line_error(err, "preset 'mujoco' does not fit softq_ref/MultiGoal-v0", "multigoal")
    assert not out.exists()


# -- item 15: --out that cannot hold a run ------------------------------------------------------------


def test_out_pointing_at_a_file_is_refused(tmp_path, capsys):
    out = tmp_path / "a_file"
    out.write_text("mine")
    before = tree_hash(tmp_path)
    code, err = _run_cli(capsys, ["train", *FAST, "--out", str(out)])
    assert code == 2 and one_line_error(err, str(out), "is a file")
    assert tree_hash(tmp_path) == before


def test_out_below_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("mine")
    before = tree_hash(tmp_path)
    code, err = _run_cli(capsys, ["train", *FAST, "--out", str(tmp_path / "f" / "run")])
    assert code == 2 and one_line_error(err, "cannot create run directory")
    assert tree_hash(tmp_path) == before


def test_a_failed_checkpoint_write_leaves_no_tmp_file_and_one_line(tmp_path, capsys, monkeypatch):
    """A full disk (simulated: the write raises ENOSPC) leaves no checkpoint.eqx.tmp behind."""
    import errno

    import equinox as eqx

    def full_disk(f, tree):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(eqx, "tree_serialise_leaves", full_disk)
    out = tmp_path / "run"
    code, err = _run_cli(capsys, ["train", *FAST, "--out", str(out)])
    assert code == 2 and one_line_error(err, "No space left on device")
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())


# -- item 18: environments that cannot be made; act() inputs -------------------------------------------


def test_an_env_module_that_cannot_be_imported_is_one_line(tmp_path, capsys):
    code, err = _run_cli(capsys, ["train", "--env", "no_such_module_xyz:Thing-v0", "--alpha", "1", "--quiet",
                                  "--out", str(tmp_path / "x")])
    assert code == 2 and one_line_error(err, "no_such_module_xyz:Thing-v0")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "obs, needle",
    [(np.zeros(3), "shape (2,), got shape (3,)"), (1.0, "got shape ()"), (np.array([np.nan, 0.0]), "non-finite"),
     (np.array([np.inf, 0.0]), "non-finite"), ("abc", "numeric observation")],
)
def test_act_refuses_observations_it_cannot_use(finished_run, obs, needle):
    agent = softq_ref.load(finished_run)
    with pytest.raises(ValueError, match=__import__("re").escape(needle)):
        agent.act(obs, jax.random.PRNGKey(0))


def test_act_accepts_a_good_observation(finished_run):
    """Must-fail twin of the act() checks: a finite observation of the right shape passes."""
    a = softq_ref.load(finished_run).act([0.1, -0.2], jax.random.PRNGKey(0))
    assert a.shape == (2,) and np.all(np.abs(a) <= 1)


def test_load_with_a_bad_seed_index_is_a_value_error(finished_run):
    with pytest.raises(ValueError, match="seed_index 3 out of range"):
        softq_ref.load(finished_run, 3)


# -- item 20: Ctrl-C names the run directory and what it holds ------------------------------------------


def test_ctrl_c_after_a_checkpoint_names_the_run_and_how_to_resume(tmp_path, capsys, monkeypatch):
    original = RunDir.save_checkpoint

    def interrupt(self, tree):
        original(self, tree)
        raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "save_checkpoint", interrupt)
    out = tmp_path / "run"
    code, err = _run_cli(capsys, ["train", *FAST, "--out", str(out)])
    assert code == 130 and one_line_error(err, "interrupted", "the last checkpoint is kept in", str(out), "--resume")


def test_ctrl_c_before_any_checkpoint_says_so(tmp_path, capsys, monkeypatch):
    def interrupt(self, tree):
        raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "save_checkpoint", interrupt)
    out = tmp_path / "run"
    code, err = _run_cli(capsys, ["train", *FAST, "--out", str(out)])
    assert code == 130 and one_line_error(err, "before the first checkpoint", str(out))
    assert "checkpoint is kept" not in err
