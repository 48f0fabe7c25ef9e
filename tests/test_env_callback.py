"""The host loop's callback dispatch (issue 13, item 3): the same run as the per-step dispatch, bit for bit.

``softq_ref.train.env_callback`` compiles the loop over environment steps and calls the host back
for each ``env.step``; ``gym_loop`` under ``dispatch="step"`` makes one compiled call per step.
On a CPU the two must leave the same checkpoint bytes and metric rows for every algorithm (the
run directory does not record the dispatch, and a run may be resumed under the other one), raise
the same errors, and the comparison must be able to fail (a planted change to the first action
of each episode is caught).
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softq_ref import cli
from softq_ref.agent import registry
from softq_ref.io import checkpoint as ckpt
from softq_ref.train import env_callback, gym_loop
from softq_ref.train.launch import make_config
from softq_ref.train.runner import TrainingDiverged

sys.path.insert(0, str(Path(__file__).parent))
from hostile_helpers import one_line_error, register_hostile_envs  # noqa: E402

register_hostile_envs()

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="bit-identity of the two dispatches is a CPU property")

# Small networks, a short warm-up, and runs long enough to cross episode ends (a new episode's first
# action), metric rows (stretch ends) and episode-boundary checkpoints.
CASES = [
    ("sql", "softq_ref/MultiGoal-v0", 400),
    ("sql", "HalfCheetah-v5", 300),
    ("ddpg", "Pendulum-v1", 500),
    ("sac", "Pendulum-v1", 450),
    ("soft_dqn", "CartPole-v1", 400),
    ("pg", "CartPole-v1", 400),
]


def _config(algo: str, env_id: str, steps: int):
    # HalfCheetah's own 1000-step episodes would not end inside a short run.
    cfg = make_config(algo, env_id, steps=steps, max_path_length=120 if "Cheetah" in env_id else None)
    small = {"min_replay_size": 100, "batch_size": 16, "hidden_sizes": (32, 32), "num_fixed_particles": 4,
             "num_updated_particles": 4, "value_samples": 4}
    if registry.get(algo).on_policy:
        small["replay_capacity"] = 64
    fields = cfg.__dataclass_fields__
    return cfg.replace(**{k: v for k, v in small.items() if k in fields})


def _run(cfg, env_id, out, dispatch, **kw):
    gym_loop.train_gym(cfg, env_id=env_id, out_dir=out, log_every=100, checkpoint_every=150, progress=False,
                       dispatch=dispatch, **kw)
    rows = [{k: v for k, v in r.items() if k != "wall_time"} for r in ckpt.read_metrics(out / "metrics.csv")]
    return (out / "checkpoint.eqx").read_bytes(), rows


@pytest.mark.parametrize("algo,env_id,steps", CASES, ids=[f"{a}-{e.split('/')[-1]}" for a, e, _ in CASES])
def test_the_callback_dispatch_leaves_the_same_bytes_and_rows_as_the_per_step_one(algo, env_id, steps, tmp_path):
    cfg = _config(algo, env_id, steps)
    step_bytes, step_rows = _run(cfg, env_id, tmp_path / "step", "step")
    cb_bytes, cb_rows = _run(cfg, env_id, tmp_path / "callback", "callback")
    assert len(step_rows) >= 3 and any(v for r in step_rows for k, v in r.items() if k.endswith("loss"))
    assert cb_rows == step_rows
    assert cb_bytes == step_bytes


def test_a_changed_first_action_is_caught_by_the_comparison(tmp_path, monkeypatch):
    """The must-fail twin: a callback dispatch whose episodes start from another key leaves other bytes."""
    cfg = _config("ddpg", "Pendulum-v1", 300)
    step_bytes, step_rows = _run(cfg, "Pendulum-v1", tmp_path / "step", "step")
    real = env_callback.make_chunk

    def planted(flat_step, first_action, *args):
        return real(flat_step, lambda agent, obs, key: first_action(agent, obs, jax.random.fold_in(key, 1)), *args)

    monkeypatch.setattr(env_callback, "make_chunk", planted)
    cb_bytes, cb_rows = _run(cfg, "Pendulum-v1", tmp_path / "callback", "callback")
    assert cb_bytes != step_bytes and cb_rows != step_rows


# step -> callback: a run continues bit for bit under the other dispatch; flat -> flat: a run under the flat
# dispatch (another compilation, tests/test_flat_carry.py) continues bit for bit under its own.
@pytest.mark.parametrize("first, then", [("step", "callback"), ("flat", "flat")])
def test_a_run_started_under_one_dispatch_continues_under_the_other_bit_identically(first, then, tmp_path):
    cfg = _config("sql", "softq_ref/MultiGoal-v0", 300)
    full_bytes, full_rows = _run(cfg.replace(total_steps=450), "softq_ref/MultiGoal-v0", tmp_path / "full", first)
    _run(cfg, "softq_ref/MultiGoal-v0", tmp_path / "cut", first)
    gym_loop.train_gym(None, env_id="softq_ref/MultiGoal-v0", out_dir=tmp_path / "cut", resume=True, extend_to=450,
                       progress=False, dispatch=then)
    assert (tmp_path / "cut" / "checkpoint.eqx").read_bytes() == full_bytes


def test_a_non_finite_reward_stops_the_callback_dispatch_with_the_per_step_message(tmp_path):
    cfg = make_config("sql", "hostile/NaNReward-v0", steps=300, alpha=1.0).replace(hidden_sizes=(16, 16), batch_size=8)
    messages = {}
    for dispatch in ("step", "callback", "flat"):
        with pytest.raises(TrainingDiverged) as err:
            gym_loop.train_gym(cfg, env_id="hostile/NaNReward-v0", out_dir=tmp_path / dispatch, progress=False,
                               dispatch=dispatch)
        messages[dispatch] = str(err.value).replace(str(tmp_path / dispatch), "RUN")
    assert "non-finite reward at step 6" in messages["callback"]
    assert messages["callback"] == messages["step"] == messages["flat"]


class _Failing(gym.Wrapper):
    """``env.step`` raises on its 40th call, as a broken simulator might."""

    def __init__(self, env):
        super().__init__(env)
        self.calls = 0

    def step(self, action):
        self.calls += 1
        if self.calls == 40:
            raise RuntimeError("simulator exploded")
        return self.env.step(action)


def test_an_exception_in_env_step_reaches_the_caller_as_itself(tmp_path, monkeypatch):
    real = gym_loop.make_env
    monkeypatch.setattr(gym_loop, "make_env", lambda *a, **k: _Failing(real(*a, **k)))
    cfg = _config("sql", "softq_ref/MultiGoal-v0", 300)
    with pytest.raises(RuntimeError, match="^simulator exploded$"):
        gym_loop.train_gym(cfg, env_id="softq_ref/MultiGoal-v0", out_dir=tmp_path / "run", progress=False,
                           dispatch="callback")


def test_dispatch_choices_resolve_and_a_bad_one_is_one_line():
    assert gym_loop.resolve_dispatch("auto") == ("step" if jax.default_backend() == "cpu" else "flat")
    assert gym_loop.resolve_dispatch("callback") == "callback"
    with pytest.raises(ValueError, match="^unknown dispatch 'fast'; choose one of auto, step, flat, callback$"):
        gym_loop.resolve_dispatch("fast")


def test_metrics_that_are_not_float32_scalars_are_refused_by_name():
    ok = {"q_loss": jax.ShapeDtypeStruct((), jnp.float32), "a": jax.ShapeDtypeStruct((), jnp.float32)}
    assert env_callback.metric_names(ok) == ("a", "q_loss")
    with pytest.raises(ValueError, match="'count' is int32"):
        env_callback.metric_names({**ok, "count": jax.ShapeDtypeStruct((), jnp.int32)})
    with pytest.raises(ValueError, match=r"'hist' is float32\[3\]"):
        env_callback.metric_names({**ok, "hist": jax.ShapeDtypeStruct((3,), jnp.float32)})


def test_the_cli_refuses_dispatch_for_the_jitted_loop_in_one_line(tmp_path, capsys):
    code = cli.main(["train", "--steps", "100", "--dispatch", "callback", "--quiet", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code != 0 and one_line_error(err, "--dispatch is for the host loop")
    assert not (tmp_path / "r").exists()


def test_the_cli_trains_the_host_loop_under_the_callback_dispatch(tmp_path, capsys):
    out = tmp_path / "r"
    code = cli.main(["train", "--env", "Pendulum-v1", "--algo", "ddpg", "--steps", "400", "--dispatch", "callback", "--quiet",
                     "--log-every", "100", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    # Pendulum's episodes last 200 steps and the preset's warm-up is longer than the run: one row per episode.
    assert [int(r["step"]) for r in ckpt.read_metrics(out / "metrics.csv")] == [200, 400]
    assert np.isfinite(float(ckpt.read_metrics(out / "metrics.csv")[-1]["mean_return"]))


def test_the_control_numbers_travel_exactly_past_float32s_integer_range():
    """Episode indices ride in the float32 reply as int32 bit patterns, so 2**30 + 1 arrives as itself."""
    packed = np.arange(5, dtype=np.float32)
    reply = env_callback.to_device(packed, [1, 0, 1, 2**30 + 1])
    assert reply.dtype == np.float32 and np.array_equal(reply[:5], packed)
    control = jax.lax.bitcast_convert_type(jnp.asarray(reply[5:]), jnp.int32)
    assert control.tolist() == [1, 0, 1, 2**30 + 1]
    assert float(np.float32(2**30 + 1)) != 2**30 + 1  # what a plain float32 would have made of it
    action, metrics, learned = env_callback.from_device(np.array([0.5, -1, 3, 4, 1], np.float32), 2, 2)
    assert action.tolist() == [0.5, -1] and metrics.tolist() == [3, 4] and learned is True


def test_two_seeds_in_one_run_directory_match_across_dispatches(tmp_path):
    cfg = _config("ddpg", "Pendulum-v1", 300)
    got = {d: _run(cfg, "Pendulum-v1", tmp_path / d, d, seeds=[0, 1]) for d in ("step", "callback")}
    assert {r["seed"] for r in got["step"][1]} == {"0", "1"}
    assert got["callback"] == got["step"]
