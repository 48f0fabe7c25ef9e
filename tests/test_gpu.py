"""Device-only checks (``-m gpu``; each skips itself on a CPU-only machine).

The default suite is device-agnostic; these compare the accelerator with the CPU backend on the
same inputs.  The suite runs float32 products in float32 on every device (``conftest.py`` pins JAX's
matmul precision to ``highest``; under JAX's GPU default, TF32, this comparison failed on an H200 on
2026-11-30).  Tolerance: normwise ``max|gpu - cpu| <= 2e-3 * max|cpu|`` per array: XLA's GPU kernels
sum in other orders than its CPU ones, and the step's first Adam update moves each parameter by about
its learning rate whatever the size of its gradient, so a last-bit difference is not shrunk by it.
"""

import jax
import numpy as np
import pytest

from softq_ref.agent import registry, sql
from softq_ref.agent.config import SQLConfig
from softq_ref.agent.replay import Transition

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(jax.default_backend() == "cpu", reason="needs an accelerator (jax.default_backend() is cpu)"),
]

TOL = 2e-3


def _normwise_close(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    return bool(np.max(np.abs(a - b), initial=0.0) <= TOL * max(np.max(np.abs(b), initial=0.0), 1e-30))


def _step_on(device):
    cfg = SQLConfig(hidden_sizes=(32, 32), batch_size=16, num_fixed_particles=4, num_updated_particles=4, value_samples=4)
    k = jax.random.split(jax.random.PRNGKey(0), 6)
    batch = Transition(obs=jax.random.normal(k[1], (16, 2)), action=jax.random.uniform(k[2], (16, 2), minval=-1, maxval=1),
                       reward=jax.random.normal(k[3], (16,)), next_obs=jax.random.normal(k[4], (16, 2)),
                       done=jax.numpy.zeros((16,)))
    state = sql.init(cfg, 2, 2, k[0])
    state, batch, key = jax.device_put((state, batch, k[5]), device)
    return jax.jit(sql.train_step)(state, batch, key)


def test_train_step_on_the_accelerator_matches_the_cpu_backend():
    gpu_state, gpu_metrics = _step_on(jax.devices()[0])
    cpu_state, cpu_metrics = _step_on(jax.devices("cpu")[0])
    assert jax.devices()[0].platform != "cpu"
    for a, b in zip(jax.tree.leaves(gpu_state), jax.tree.leaves(cpu_state)):
        assert _normwise_close(a, b)
    for name in registry.get("sql").metrics:
        assert _normwise_close(gpu_metrics[name], cpu_metrics[name]), name


def test_the_comparison_catches_a_step_with_another_temperature():
    # Must-fail twin: the same check against a CPU step at ten times the temperature.
    gpu_state, _ = _step_on(jax.devices()[0])
    cpu_state, _ = _step_on(jax.devices("cpu")[0])
    hot = sql.with_hparams(cpu_state, alpha=100.0)
    assert not all(_normwise_close(a, b) for a, b in zip(jax.tree.leaves(gpu_state), jax.tree.leaves(hot)))


def test_sweep_over_every_local_device_matches_a_point_trained_alone(tmp_path):
    from test_sweep import CHUNK, MULTIGOAL, TINY, mismatches

    from softq_ref.train import runner, sweep

    n = len(jax.devices())
    config = SQLConfig(**TINY)
    alphas = [float(1 + i) for i in range(max(n, 2))]
    result = sweep.sweep(config, grid={"alpha": alphas}, seeds=[0], env_id=MULTIGOAL, out_dir=tmp_path / "s",
                         chunk_steps=CHUNK, progress=False)
    alone = runner.train_jax(config.replace(alpha=alphas[-1]), env_id=MULTIGOAL, seeds=[0], out_dir=tmp_path / "a",
                             chunk_steps=CHUNK, progress=False)
    last = len(alphas) - 1
    assert mismatches(jax.tree.map(lambda x: x[last:last + 1], result.carry), alone.carry, rtol=TOL) == []


def test_the_host_loops_three_dispatches_run_on_the_accelerator(tmp_path):
    """``auto`` picks the flat dispatch here; the per-step and callback dispatches run too.

    The three train the same short multi-goal run on the accelerator; their episode returns
    agree for the first rows (the same actions until float differences between the compiled
    programs grow), and every logged value is finite.
    """
    from softq_ref.io import checkpoint as ckpt
    from softq_ref.train import gym_loop

    assert gym_loop.resolve_dispatch("auto") == "flat"
    cfg = SQLConfig(total_steps=400, min_replay_size=100, hidden_sizes=(32, 32), batch_size=16,
                    num_fixed_particles=4, num_updated_particles=4, value_samples=4)
    rows = {}
    for dispatch in ("step", "flat", "callback"):
        gym_loop.train_gym(cfg, env_id="softq_ref/MultiGoal-v0", out_dir=tmp_path / dispatch, log_every=100,
                           progress=False, dispatch=dispatch)
        rows[dispatch] = ckpt.read_metrics(tmp_path / dispatch / "metrics.csv")
    for other in ("flat", "callback"):
        assert [r["step"] for r in rows[other]] == [r["step"] for r in rows["step"]]
        # Before any update; the same actions up to the programs' last bits.
        assert np.isclose(float(rows[other][0]["mean_return"]), float(rows["step"][0]["mean_return"]), rtol=1e-4)
        for r in rows[other]:
            assert all(np.isfinite(float(v)) for k, v in r.items() if v not in ("", None) and k != "seed")
