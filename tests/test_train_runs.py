"""End-to-end runs: run directory, load(), interrupt-and-resume, divergence, bad input, MuJoCo smoke."""

import json
import os
import signal
import subprocess
import sys
import time

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softq_ref
from softq_ref.agent.config import DDPGConfig, SQLConfig
from softq_ref.cli import main
from softq_ref.io import checkpoint as ckpt
from softq_ref.train.runner import TrainingDiverged, agent_of, train_jax

TINY = dict(hidden_sizes=(32, 32), batch_size=16, num_fixed_particles=4, num_updated_particles=4, value_samples=4)


def test_jax_run_writes_run_directory_and_load_round_trips(tmp_path):
    cfg = SQLConfig(total_steps=600, **TINY)
    result = train_jax(cfg, seeds=[0, 1], out_dir=tmp_path, chunk_steps=250, progress=False)
    assert result.env_steps == 600
    for name in ("config.json", "metrics.csv", "checkpoint.eqx"):
        assert (tmp_path / name).is_file()
    rows = ckpt.read_metrics(tmp_path / "metrics.csv")
    # Warm-up (100) then chunks of 250, 250: rows at 100, 350, 600 for each of the 2 seeds.
    assert [int(r["step"]) for r in rows] == [100, 100, 350, 350, 600, 600]
    assert all(np.isfinite(float(r["q_loss"])) for r in rows if r["q_loss"])
    # load() gives the same policy as the in-memory final state: same key, same action.
    for i in (0, 1):
        agent = softq_ref.load(tmp_path, i)
        state = agent_of(result.carry, i)
        key = jax.random.PRNGKey(42)
        expected = np.asarray(jax.jit(agent.algo.act)(state, jnp.zeros(2), key))
        np.testing.assert_array_equal(agent.act(np.zeros(2), key), expected)
    assert not np.array_equal(softq_ref.load(tmp_path, 0).act(np.zeros(2), key), softq_ref.load(tmp_path, 1).act(np.zeros(2), key))


def test_non_finite_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    cfg = SQLConfig(total_steps=700, q_lr=1e9, policy_lr=1e9, **TINY)
    with pytest.raises(TrainingDiverged, match=r"non-finite Q loss at step \d+") as err:
        train_jax(cfg, seeds=[0], out_dir=tmp_path, chunk_steps=300, progress=False)
    assert "last good checkpoint (step 100)" in str(err.value)
    carry = softq_ref.train.runner.load_carry(tmp_path)[3]
    assert int(carry.env_steps[0]) == 100
    assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(carry.agent) if hasattr(x, "dtype") and x.dtype.kind == "f")


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    return [sys.executable, "-m", "softq_ref.cli", *args], env


@pytest.mark.parametrize("num_envs", [1, 4])
def test_interrupted_run_resumes_bit_identical(tmp_path, num_envs):
    """Kill a real `softq-ref train` mid-run, resume it, compare with an uninterrupted run byte for byte
    (with one environment per seed, and with four: spec dev-num-envs)."""
    args = ["train", "--steps", "1600", "--seeds", "2", "--chunk-steps", "500", "--num-envs", str(num_envs), "--quiet"]
    cmd, env = _cli(*args, "--out", str(tmp_path / "full"), cwd=tmp_path)
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)

    cmd, env = _cli(*args, "--out", str(tmp_path / "cut"), cwd=tmp_path)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = tmp_path / "cut" / "metrics.csv"
    deadline = time.time() + 300
    while time.time() < deadline:
        if metrics.is_file() and any(r["step"] == "600" for r in ckpt.read_metrics(metrics)):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    steps_done = max(int(r["step"]) for r in ckpt.read_metrics(metrics))
    assert steps_done < 1600, "the run finished before it could be interrupted"

    cmd, env = _cli("train", "--resume", str(tmp_path / "cut"), "--quiet", cwd=tmp_path)
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)
    full = (tmp_path / "full" / "checkpoint.eqx").read_bytes()
    cut = (tmp_path / "cut" / "checkpoint.eqx").read_bytes()
    assert full == cut
    drop = lambda rows: [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]
    assert drop(ckpt.read_metrics(tmp_path / "full" / "metrics.csv")) == drop(ckpt.read_metrics(metrics))


class _UnboundedEnv(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, False, False, {}


if "test/Unbounded-v0" not in gym.registry:
    gym.register("test/Unbounded-v0", entry_point=_UnboundedEnv)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--env", "NoSuchEnv-v0"], "unknown or unavailable environment"),
        (["train", "--env", "CartPole-v1"], "Discrete action space"),
        (["train", "--env", "test/Unbounded-v0", "--alpha", "1"], "unbounded action bounds"),
        (["train", "--alpha", "-0.5"], "alpha must be finite and >= 0"),
        (["train", "--preset", "atari"], "unknown preset"),
        (["evaluate", "/nonexistent/run"], "not found"),
    ],
)
def test_cli_bad_input_is_one_line_and_nonzero(argv, message, capsys, tmp_path):
    code = main([*argv, "--out", str(tmp_path / "x")] if argv[0] == "train" else argv)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("env_id", ["Swimmer-v5", "HalfCheetah-v5", "Ant-v5"])
def test_mujoco_smoke_run_through_the_host_loop(env_id, tmp_path):
    from softq_ref.train.gym_loop import train_gym

    cfg = SQLConfig.preset_for("mujoco", env_id).replace(total_steps=250, min_replay_size=100, **TINY)
    result = train_gym(cfg, env_id=env_id, out_dir=tmp_path, log_every=100, progress=False)
    assert result.env_steps == 250
    rows = ckpt.read_metrics(tmp_path / "metrics.csv")
    assert any(r["q_loss"] for r in rows) and all(np.isfinite(float(r["q_loss"])) for r in rows if r["q_loss"])
    agent = softq_ref.load(tmp_path)
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    a = agent.env_action(obs, jax.random.PRNGKey(0))
    assert env.action_space.contains(a)
    env.close()


def test_ddpg_and_gym_loop_on_multigoal(tmp_path):
    from softq_ref.train.gym_loop import train_gym

    cfg = DDPGConfig(total_steps=300, hidden_sizes=(32, 32), batch_size=16)
    train_gym(cfg, env_id="softq_ref/MultiGoal-v0", out_dir=tmp_path, log_every=100, progress=False)
    rows = ckpt.read_metrics(tmp_path / "metrics.csv")
    assert int(rows[-1]["step"]) == 300 and rows[-1]["actor_loss"]


_GYM_RUN = """
import sys
from softq_ref.agent.config import SQLConfig
from softq_ref.train.gym_loop import train_gym
cfg = SQLConfig(total_steps=1500, hidden_sizes=(32, 32), batch_size=16, num_fixed_particles=4,
                num_updated_particles=4, value_samples=4)
train_gym(cfg, env_id="softq_ref/MultiGoal-v0", out_dir=sys.argv[1], log_every=100, checkpoint_every=300,
          progress=False, dispatch=sys.argv[2])
"""


@pytest.mark.parametrize("dispatch", ["step", "callback"])
def test_gym_loop_resumed_run_is_bit_identical(tmp_path, dispatch):
    """Kill a host-loop run after an episode-boundary checkpoint, resume it, compare bytes.

    Under the callback dispatch the kill lands inside a compiled stretch of steps.
    """
    from softq_ref.train.gym_loop import train_gym

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    subprocess.run([sys.executable, "-c", _GYM_RUN, str(tmp_path / "full"), dispatch], env=env, check=True, timeout=600)
    proc = subprocess.Popen([sys.executable, "-c", _GYM_RUN, str(tmp_path / "cut"), dispatch], env=env)
    checkpoint = tmp_path / "cut" / "checkpoint.eqx"
    deadline = time.time() + 300
    while time.time() < deadline and not checkpoint.exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rows = ckpt.read_metrics(tmp_path / "cut" / "metrics.csv")
    assert max(int(r["step"]) for r in rows) < 1500, "the run finished before it could be interrupted"
    train_gym(None, env_id="softq_ref/MultiGoal-v0", out_dir=tmp_path / "cut", resume=True, progress=False,
              dispatch=dispatch)
    assert (tmp_path / "full" / "checkpoint.eqx").read_bytes() == checkpoint.read_bytes()


# --- one run-directory layout for a multi-seed gymnasium run (issue 9, item 3) --------------------


def test_multi_seed_gymnasium_run_through_the_cli_trains_evaluates_and_loads(tmp_path, capsys):
    """`softq-ref train --env Pendulum-v1 --alpha 1 --seeds 2` used to train both seeds and exit 2
    ("config.json not found"); evaluate and load could not open the run."""
    out = tmp_path / "pendulum"
    code = main(["train", "--env", "Pendulum-v1", "--alpha", "1", "--seeds", "2", "--steps", "400", "--quiet",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    meta = json.loads((out / "config.json").read_text())
    assert meta["seeds"] == [0, 1] and meta["loop"] == "gym" and meta["config"]["max_path_length"] == 200
    rows = ckpt.read_metrics(out / "metrics.csv")
    assert {r["seed"] for r in rows} == {"0", "1"} and max(int(r["step"]) for r in rows) == 400
    capsys.readouterr()
    assert main(["evaluate", str(out), "--episodes", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [e["seed"] for e in report["seeds"]] == [0, 1]
    a0 = softq_ref.load(out, 0).act(np.zeros(3), jax.random.PRNGKey(0))
    a1 = softq_ref.load(out, 1).act(np.zeros(3), jax.random.PRNGKey(0))
    assert a0.shape == (1,) and not np.array_equal(a0, a1)


_GYM_SEEDS_RUN = """
import sys
from softq_ref.agent.config import SQLConfig
from softq_ref.train.gym_loop import train_gym
cfg = SQLConfig.preset_for("mujoco").replace(alpha=1.0, total_steps=600, min_replay_size=100, max_path_length=200,
      hidden_sizes=(32, 32), batch_size=16, num_fixed_particles=4, num_updated_particles=4, value_samples=4)
train_gym(cfg, env_id="Pendulum-v1", seeds=[0, 1], out_dir=sys.argv[1], log_every=100, checkpoint_every=200,
          progress=False)
"""


def test_multi_seed_gymnasium_run_resumes_after_sigkill_bit_identical(tmp_path):
    """Kill a two-seed host-loop run while its second seed trains, resume it, compare bytes."""
    from softq_ref.train.gym_loop import train_gym

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    subprocess.run([sys.executable, "-c", _GYM_SEEDS_RUN, str(tmp_path / "full")], env=env, check=True, timeout=600)
    proc = subprocess.Popen([sys.executable, "-c", _GYM_SEEDS_RUN, str(tmp_path / "cut")], env=env)
    metrics = tmp_path / "cut" / "metrics.csv"
    deadline = time.time() + 300
    while time.time() < deadline:
        if metrics.is_file() and any(r["seed"] == "1" for r in ckpt.read_metrics(metrics)):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rows = ckpt.read_metrics(metrics)
    assert not any(r["seed"] == "1" and r["step"] == "600" for r in rows), "the run finished before it could be interrupted"
    train_gym(None, env_id="Pendulum-v1", out_dir=tmp_path / "cut", resume=True, progress=False)
    assert (tmp_path / "full" / "checkpoint.eqx").read_bytes() == (tmp_path / "cut" / "checkpoint.eqx").read_bytes()
    drop = lambda rows: sorted(((r["seed"], int(r["step"])) for r in rows))  # noqa: E731
    assert drop(ckpt.read_metrics(tmp_path / "full" / "metrics.csv")) == drop(ckpt.read_metrics(metrics))
