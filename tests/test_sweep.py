"""A sweep is one program: grid points equal the same points trained alone, sharded or not; resume; bad grids.

Tolerance.  A grid point's carry (networks, optimiser states, replay buffer, keys, counters) is
compared leaf by leaf with a one-seed ``train_jax`` run of the point's config: integer leaves
exactly, float leaves normwise, ``max|sweep - alone| <= 1e-5 * max|alone|``.  Why not bit for
bit: the sweep vmaps a batch of points, and XLA's CPU backend computes a batched matmul (each
point has its own weights) with another summation order than the unbatched one a one-seed run
compiles to (a batch of one is simplified away), so float32 results differ by reassociation.
Measured: 8.8e-7 normwise after one update and still 8.8e-7 after 120 (the error does not
grow over this run), hence 1e-5 (float32 epsilon 6e-8 times the depth of the sums, with 10x
headroom).  The same holds on 4 forced host devices with one point per device (the sharded
program is not bit-identical to the one-seed program either, so the same tolerance applies).
Metric rows: integer columns exactly, float columns at rtol 1e-4 (means of differences of large
terms, such as the Q loss, lose relative precision).
"""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from softq_ref.agent import registry
from softq_ref.agent.config import SQLConfig
from softq_ref.cli import main
from softq_ref.io.run_dir import RunDir, read_metrics
from softq_ref.train import runner, sweep

TINY = dict(hidden_sizes=(16, 16), batch_size=8, num_fixed_particles=4, num_updated_particles=4, value_samples=4,
            min_replay_size=50, total_steps=170)
CHUNK = 60  # schedule: warm-up 50, then 60, 60
MULTIGOAL = "softq_ref/MultiGoal-v0"


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


RTOL = 1e-5  # normwise float32 tolerance of a batched point against the unbatched run (module docstring)


def _close(x, y, rtol) -> bool:
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if rtol == 0 or x.dtype.kind != "f" or x.size == 0:
        return bool(np.array_equal(x, y))
    return bool(np.all(np.isfinite(x)) and np.max(np.abs(x - y)) <= rtol * np.max(np.abs(y)))


def mismatches(a, b, rtol: float = RTOL) -> list[int]:
    """Indices of the leaves of two pytrees that differ (``rtol=0``: bit for bit; a different structure is a mismatch)."""
    la, lb = _leaves(a), _leaves(b)
    if jax.tree.structure(a) != jax.tree.structure(b) or len(la) != len(lb):
        return [-1]
    return [i for i, (x, y) in enumerate(zip(la, lb)) if not _close(x, y, rtol)]


def _rows(path):
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in read_metrics(path)]


def same_rows(a, b) -> bool:
    """Two metrics.csv files agree: same columns and integer cells, float cells at rtol 1e-4."""
    ra, rb = _rows(a), _rows(b)
    if len(ra) != len(rb) or any(x.keys() != y.keys() for x, y in zip(ra, rb)):
        return False
    for x, y in zip(ra, rb):
        for k in x:
            if x[k] == y[k]:
                continue
            if "." not in x[k] + y[k] or not x[k] or not y[k] or not np.isclose(float(x[k]), float(y[k]), rtol=1e-4, atol=0):
                return False
    return True


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "s"
    config = SQLConfig(**TINY)
    result = sweep.sweep(config, grid={"alpha": ["1", "10"], "discount": [0.9]}, seeds=[0, 1], env_id=MULTIGOAL,
                         out_dir=out, chunk_steps=CHUNK, progress=False)
    return config, result


@pytest.fixture(scope="module")
def alone(tmp_path_factory, swept):
    """Two points of the grid, each trained alone with ``train_jax``."""
    config, result = swept
    out = {}
    for i in (0, 3):  # seed 0 alpha 1, seed 1 alpha 10
        p = result.points[i]
        d = tmp_path_factory.mktemp("alone") / p.name
        out[i] = (d, runner.train_jax(config.replace(**p.hparams), env_id=MULTIGOAL, seeds=[p.seed], out_dir=d,
                                      chunk_steps=CHUNK, progress=False))
    return out


def test_grid_layout_and_point_directories_are_ordinary_runs(swept):
    _, result = swept
    assert [p.name for p in result.points] == ["seed0-alpha1.0-discount0.9", "seed1-alpha1.0-discount0.9",
                                               "seed0-alpha10.0-discount0.9", "seed1-alpha10.0-discount0.9"]
    run = RunDir.open(result.run_dirs[2])
    assert run.config.alpha == 10.0 and run.config.discount == 0.9 and run.seeds == [0] and run.loop == "jax"
    assert [int(r["step"]) for r in run.read_metrics()] == [50, 110, 170]
    assert sweep.read_manifest(result.sweep_dir)["grid"] == {"alpha": [1.0, 10.0], "discount": [0.9]}


def test_initial_carries_equal_each_points_own_init():
    config = SQLConfig(**TINY)
    env = runner.jax_env_of(MULTIGOAL)
    algo = registry.for_config(config)
    points = sweep.make_grid(config, {"alpha": [0.5, 2.0], "q_lr": [1e-3]}, [3, 4])
    carry = sweep.init_point_carries(algo, config, env, points)
    for i, p in enumerate(points):
        own = runner._init_carries(algo, config.replace(**p.hparams), env, [p.seed])
        assert mismatches(jax.tree.map(lambda x: x[i:i + 1], carry), own, rtol=0) == []


def test_initial_carries_check_catches_broken_init_that_skips_the_hparams():
    config = SQLConfig(**TINY)
    env = runner.jax_env_of(MULTIGOAL)
    algo = registry.for_config(config)
    points = sweep.make_grid(config, {"alpha": [0.5]}, [3])
    broken = runner._init_carries(algo, config, env, [3])  # the base config's alpha: the planted bug
    own = runner._init_carries(algo, config.replace(alpha=0.5), env, [3])
    assert mismatches(broken, own) != []
    assert mismatches(sweep.init_point_carries(algo, config, env, points), own, rtol=0) == []


def test_grid_point_equals_the_point_trained_alone(swept, alone):
    _, result = swept
    for i, (d, res) in alone.items():
        point = jax.tree.map(lambda x: x[i:i + 1], result.carry)
        assert mismatches(point, res.carry) == [], result.points[i].name
        assert same_rows(result.run_dirs[i], d)
        # and the point's checkpoint on disk is that carry
        assert mismatches(runner.load_carry(result.run_dirs[i])[3], res.carry) == []


def test_point_comparison_catches_a_point_with_another_temperature(swept, alone):
    # Must-fail twin: point 0 (seed 0, alpha 1) against the alone run of point 3 (seed 1, alpha 10),
    # and point 3's carry with point 0's alpha written into it (a sweep that mixed up hyperparameters).
    _, result = swept
    algo = registry.get("sql")
    p0 = jax.tree.map(lambda x: x[0:1], result.carry)
    assert mismatches(p0, alone[3][1].carry) != []
    assert not same_rows(result.run_dirs[0], alone[3][0])
    p3 = jax.tree.map(lambda x: x[3], result.carry)
    mixed = p3._replace(agent=algo.with_hparams(p3.agent, alpha=1.0))
    assert mismatches(jax.tree.map(lambda x: x[None], mixed), alone[3][1].carry) != []


def test_sweep_resumed_after_a_crash_in_the_middle_of_saving_matches_the_uninterrupted_one(swept, tmp_path, monkeypatch):
    config, reference = swept
    out = tmp_path / "s"
    saves = []
    real_save = RunDir.save_checkpoint

    def crashing_save(self, tree):
        saves.append(self.path.name)
        if len(saves) == 4 + 3:  # chunk 2 (the first learning chunk): two points saved, the third crashes
            raise KeyboardInterrupt
        real_save(self, tree)

    monkeypatch.setattr(RunDir, "save_checkpoint", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        sweep.sweep(config, grid={"alpha": ["1", "10"], "discount": [0.9]}, seeds=[0, 1], env_id=MULTIGOAL, out_dir=out,
                    chunk_steps=CHUNK, progress=False)
    monkeypatch.setattr(RunDir, "save_checkpoint", real_save)
    steps = [int(np.asarray(runner.load_carry(out / p.name)[3].env_steps)[0]) for p in reference.points]
    assert steps == [110, 110, 50, 50]  # two points a chunk ahead of the other two
    assert main(["sweep", "--resume", str(out), "--quiet"]) == 0
    for i, p in enumerate(reference.points):
        assert mismatches(runner.load_carry(out / p.name)[3], jax.tree.map(lambda x: x[i:i + 1], reference.carry)) == []
        assert same_rows(out / p.name, reference.run_dirs[i])


def test_sweep_on_four_forced_host_devices_matches_points_trained_alone(tmp_path):
    # The device count is fixed when JAX starts: a fresh interpreter with XLA_FLAGS set first.
    script = textwrap.dedent(f"""
        import os, sys
        import jax, numpy as np
        assert len(jax.devices()) == 4, jax.devices()
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_sweep import TINY, CHUNK, MULTIGOAL, mismatches
        from softq_ref.agent.config import SQLConfig
        from softq_ref.train import runner, sweep
        config = SQLConfig(**TINY)
        # 3 points on 4 devices: padded to 4, the copy dropped
        result = sweep.sweep(config, grid={{"alpha": [1.0, 10.0, 3.0]}}, seeds=[0], env_id=MULTIGOAL,
                             out_dir={str(tmp_path / "s")!r}, chunk_steps=CHUNK, progress=False)
        assert sweep.grid_mesh().devices.size == 4
        p = result.points[2]
        alone = runner.train_jax(config.replace(**p.hparams), env_id=MULTIGOAL, seeds=[p.seed],
                                 out_dir={str(tmp_path / "alone")!r}, chunk_steps=CHUNK, progress=False)
        assert mismatches(jax.tree.map(lambda x: x[2:3], result.carry), alone.carry) == []
        assert mismatches(jax.tree.map(lambda x: x[0:1], result.carry), alone.carry) != []  # must-fail twin
        print("SHARDED-OK", len(result.points))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHARDED-OK 3" in proc.stdout
    assert "padded to 4" in proc.stderr


@pytest.mark.parametrize("argv, message", [
    (["--grid", "hidden=1,2"], "unknown field 'hidden' for sql; sweepable fields: q_lr, policy_lr, alpha"),
    (["--grid", "batch_size=8,16"], "batch_size is a static field of sql"),
    (["--alpha", ""], "empty value in the list ''"),
    (["--alpha", "1,,2"], "empty value in the list '1,,2'"),
    (["--grid", "alpha"], "expected FIELD=V1,V2"),
    (["--alpha", "1,1"], "repeated value"),
    (["--alpha", "-1"], "alpha must be finite and >= 0"),
    (["--alpha", "x"], "'x' is not a valid float"),
    (["--alpha", "1", "--grid", "alpha=2"], "--alpha and --grid alpha both given"),
    (["--devices", "99"], "--devices 99: this process sees"),
    (["--env", "Pendulum-v1"], "has no JAX version"),
    (["--num-envs", "7"], "total_steps (60) must be a multiple of num_envs (7)"),
    (["--num-envs", "0"], "--num-envs must be > 0"),
])
def test_bad_grid_is_one_line_and_nonzero(argv, message, capsys, tmp_path):
    code = main(["sweep", "--quiet", "--steps", "60", "--out", str(tmp_path / "s"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s").exists()  # nothing written


def test_a_sweep_with_several_environments_per_point_equals_its_point_trained_alone(tmp_path):
    """Spec dev-num-envs in a sweep: two environments per point; the manifest and the point's run record them."""
    config = SQLConfig(**TINY)
    result = sweep.sweep(config, grid={"alpha": ["1", "10"]}, seeds=[0], env_id=MULTIGOAL, out_dir=tmp_path / "s",
                         chunk_steps=CHUNK, num_envs=2, progress=False)
    p = result.points[1]
    alone = runner.train_jax(config.replace(**p.hparams), env_id=MULTIGOAL, seeds=[p.seed], out_dir=tmp_path / "alone",
                             chunk_steps=CHUNK, num_envs=2, progress=False)
    assert np.asarray(alone.carry.episode_return).shape == (1, 2)
    assert mismatches(jax.tree.map(lambda x: x[1:2], result.carry), alone.carry) == []
    assert same_rows(result.run_dirs[1], tmp_path / "alone")
    assert RunDir.open(result.run_dirs[1]).settings["num_envs"] == 2
    assert sweep.read_manifest(tmp_path / "s")["num_envs"] == 2
    # The must-fail twin: the other point (alpha 1) is told apart from this one.
    assert mismatches(jax.tree.map(lambda x: x[0:1], result.carry), alone.carry) != []


def test_sweep_refuses_a_directory_in_use_and_flags_with_resume(swept, capsys, tmp_path):
    _, result = swept
    assert main(["sweep", "--quiet", "--alpha", "1", "--out", str(result.sweep_dir)]) == 2
    assert "holds a sweep; use --resume" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(result.sweep_dir), "--alpha", "2"]) == 2
    assert "--alpha cannot be combined with --resume" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(tmp_path)]) == 2
    assert "sweep.json not found" in capsys.readouterr().err




def test_interrupted_sweep_says_how_to_resume_it(monkeypatch, capsys, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "sweep", interrupted)
    assert main(["sweep", "--quiet", "--alpha", "1,2", "--out", str(tmp_path / "s")]) == 130
    err = capsys.readouterr().err.strip()
    assert err == f"softq-ref: interrupted; every grid point keeps its last checkpoint in {tmp_path / 's'} " \
                  f"(continue with softq-ref sweep --resume {tmp_path / 's'})"
