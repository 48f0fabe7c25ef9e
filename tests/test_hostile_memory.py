"""Issue 10, item 14: a run whose seeds cannot fit in memory is refused up front, with the estimate."""

from __future__ import annotations

import math

import jax
import pytest

from softq_ref.agent import registry
from softq_ref.cli import main
from softq_ref.envs.task import task_for
from softq_ref.train import jax_loop, memory
from softq_ref.train.launch import make_config

MULTIGOAL = "softq_ref/MultiGoal-v0"


def _multigoal(steps=1000):
    config = make_config("sql", MULTIGOAL, steps=steps)
    return registry.get("sql"), config, task_for(MULTIGOAL).jax_env()


def test_carry_bytes_equals_the_allocated_carry():
    algo, config, env = _multigoal()
    carry = jax_loop.init_carry(algo, config, env, jax.random.PRNGKey(0))
    allocated = sum(math.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(carry) if hasattr(x, "dtype"))
    assert memory.carry_bytes(algo, config, env) == allocated


def test_carry_bytes_grows_with_the_replay_buffer():
    # 1000 more slots of (obs 2 + action 2 + reward + next_obs 2 + done) float32 = 8 * 4 bytes each.
    algo, config, env = _multigoal(steps=1000)
    _, longer, _ = _multigoal(steps=2000)
    assert memory.carry_bytes(algo, longer, env) - memory.carry_bytes(algo, config, env) == 1000 * 8 * 4


def test_check_fits_refuses_with_the_estimate_and_accepts_what_fits():
    per_seed = 10 * 2**20
    assert memory.check_fits(per_seed, 4, available=(2**30, "test memory")) == 3 * 4 * per_seed
    with pytest.raises(ValueError, match=r"10000 seeds need about 292\.97 GiB .* at most 34 seeds fit"):
        memory.check_fits(per_seed, 10_000, available=(2**30, "test memory"))


def test_check_fits_catches_a_broken_estimate():
    # Must-fail twin: an estimate that ignored the seed count would accept 10000 seeds.
    per_seed = 10 * 2**20

    def broken(per, n, *, available):
        return memory.check_fits(per, 1, available=available)

    broken(per_seed, 10_000, available=(2**30, "test memory"))  # accepted: the bug the real check has not
    with pytest.raises(ValueError):
        memory.check_fits(per_seed, 10_000, available=(2**30, "test memory"))


def test_cli_refuses_too_many_seeds_in_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: (64 * 2**20, "available host memory"))
    out = tmp_path / "run"
    code = main(["train", "--seeds", "10000", "--steps", "20000", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "10000 seeds need about" in err and "at most" in err
    assert not out.exists()


def test_sweep_refuses_a_grid_that_cannot_fit(tmp_path, monkeypatch):
    from softq_ref.train import sweep

    monkeypatch.setattr(memory, "available_bytes", lambda device=None: (64 * 2**20, "available host memory"))
    _, config, _ = _multigoal(steps=20_000)
    with pytest.raises(ValueError, match=r"grid points need about .* at most \d+ grid points fit"):
        sweep.sweep(config, grid={"alpha": [0.1, 1.0, 10.0]}, seeds=list(range(1000)), env_id=MULTIGOAL,
                    out_dir=tmp_path / "sweep", progress=False)
    assert not (tmp_path / "sweep").exists()
