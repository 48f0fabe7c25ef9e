"""The device benchmark's report logic (no timing: the figures here are made up to test the verdicts)."""

import sys
from pathlib import Path

import pytest

# benchmarks/ is not part of the installed package: import it from the source tree under test.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import __main__ as bench_main  # noqa: E402
from benchmarks import device  # noqa: E402


def _result(*, backend="gpu", sweep_ratio=1.5, seeds_ratio=20.0, per_call_s=2e-4, host_steps=2500.0):
    per_step = {"median_s": 1e-4}
    return {
        "backend": backend,
        "devices": ["cuda:0"],
        "matmul_f32": {"gflops": 50_000.0},
        "matmul_bf16": {"gflops": 700_000.0},
        "train_step_mujoco": {"in_scan": {"median_s": 1e-4}, "per_call": {"median_s": 9e-4},
                              "per_call_flat": {"median_s": per_call_s},
                              "ceiling_ratio_paired": 0.1},
        "vmapped_seeds": {"1": {"per_step": per_step}, "1024": {"per_step": per_step}},
        "seeds_ratio": {"seeds": 1024, "over_one": seeds_ratio},
        "sweep": {"one": {"per_step": per_step, "points": 1, "devices": 1},
                  "many": {"per_step": per_step, "points": 16, "devices": 1}, "over_one": sweep_ratio},
        "host": {"steps_per_s": host_steps},
    }


def _verdicts(table: str) -> dict:
    rows = [line.split("|")[1:-1] for line in table.splitlines()[2:]]
    return {r[0].strip(): r[3].strip() for r in rows}


def test_gpu_targets_pass_when_met():
    verdicts = _verdicts(device.table(_result()))
    assert [verdicts[label] for label, _, _ in device.TARGETS.values()] == ["PASS"] * 4


@pytest.mark.parametrize("change, label", [
    (dict(sweep_ratio=2.5), "16 grid points / 1 point, per step"),
    (dict(seeds_ratio=40.0), "1024 vmapped seeds / 1 seed, per step"),
    (dict(per_call_s=1.6e-3), "train_step per call, mujoco preset, state as flat arrays (ms)"),
    (dict(host_steps=773.0), "host loop, HalfCheetah-v5, auto dispatch (steps/s)"),
])
def test_each_missed_gpu_target_is_reported_as_miss(change, label):
    # Must-fail twin of the check above: one figure past its target turns exactly its verdict to MISS.
    verdicts = _verdicts(device.table(_result(**change)))
    assert verdicts[label] == "MISS"
    assert sum(v == "MISS" for v in verdicts.values()) == 1


def test_cpu_figures_get_no_gpu_verdict():
    verdicts = _verdicts(device.table(_result(backend="cpu", host_steps=57.0)))
    assert "PASS" not in verdicts.values() and "MISS" not in verdicts.values()


def test_gpu_flag_is_the_device_section_alone():
    with pytest.raises(SystemExit) as exit_:
        bench_main.main(["--gpu", "--only", "loops"])
    assert exit_.value.code == 2


def test_the_table_reads_the_seeds_bytes_against_the_copy_bandwidth():
    res = _result()
    res["copy_bandwidth"] = {"jax_copy_gbs": 4000.0}
    # 2 GB per step in 1 ms: 2000 GB/s, half the copy bandwidth.
    res["vmapped_seeds"]["1024"] = {"per_step": {"median_s": 1e-3},
                                    "xla_cost_per_step": {"flops": 5e11, "bytes_accessed": 2e9}}
    rows = {r[0].strip(): r[1].strip() for r in (line.split("|")[1:-1] for line in device.table(res).splitlines()[2:])}
    assert rows["1024 seeds: XLA's bytes / FLOPs per step; bytes / time"] == "2000.0 MB / 500.00 GFLOP; 2000 GB/s (0.50 of copy)"
    assert rows["JAX copy bandwidth, read + write (GB/s, best)"] == "4000"


def test_xla_cost_counts_a_scan_body_once():
    # benchmarks.loops.xla_cost reads a chunk's figures as per environment step because XLA's cost analysis
    # counts a loop's body once, whatever its trip count.  Should a JAX release multiply by the trip count,
    # this fails and the per-step reading (docs/benchmarks.md) must change.
    import jax
    import jax.numpy as jnp

    from benchmarks.loops import xla_cost

    def chunk(steps):
        def run(x):
            return jax.lax.scan(lambda c, _: (jnp.tanh(c @ c), None), x, None, length=steps)[0]
        return jax.jit(run)

    x = jnp.ones((64, 64), jnp.float32)
    one, five = xla_cost(chunk(1), x), xla_cost(chunk(5), x)
    if one is None:
        pytest.skip("this backend gives no cost analysis")
    assert abs(five["flops"] - one["flops"]) <= 1e-3 * one["flops"]  # the loop counter's adds differ, not 5x
    assert one["flops"] >= 2 * 64**3  # the body's matrix product is in it
