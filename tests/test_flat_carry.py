"""The flat carry (softq_ref.train.flat_carry) and the host loop's ``flat`` dispatch that uses it."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softq_ref.train import flat_carry, gym_loop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_env_callback import CASES, _config, _run  # noqa: E402

DTYPES = (np.float32, np.int32, np.uint32, np.float16, np.bool_)


def _leaves(draw_shapes, dtypes, seed):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=shape) * 100).astype(dtype) for shape, dtype in zip(draw_shapes, dtypes)]


def _round_trips(leaves, packed, split=flat_carry.split) -> bool:
    """Whether ``split(join(leaves))`` gives every leaf back bit for bit, dtype and shape included,
    both with NumPy on the host and with ``jax.numpy`` inside ``jit``."""
    layout = flat_carry.layout_of(leaves, packed)
    host = split(flat_carry.join(leaves, layout), layout)
    jitted = jax.jit(lambda xs: split(flat_carry.join(xs, layout, jnp), layout))([jnp.asarray(x) for x in leaves])
    for back in (host, [np.asarray(x) for x in jitted]):
        for a, b in zip(back, leaves):
            if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b):
                return False
    return True


def _broken_split(arrays, layout):
    """Must-fail twin: each dtype's leaves read back from the end of its array, not the start."""
    arrays = list(arrays)
    leaves = flat_carry.split(arrays, layout)
    for flat, (_, idx) in zip(arrays, layout.groups):
        end = flat.shape[0]
        for i in idx:
            size = int(np.prod(layout.shapes[i], dtype=np.int64))
            leaves[i] = flat[end - size:end].reshape(layout.shapes[i])
            end -= size
    return leaves


leaf_specs = st.lists(
    st.tuples(st.lists(st.integers(0, 3), max_size=3).map(tuple), st.sampled_from(DTYPES), st.booleans()),
    min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(leaf_specs, st.integers(0, 2**16))
def test_join_then_split_gives_every_leaf_back_exactly(specs, seed):
    shapes, dtypes, packed = zip(*specs)
    assert _round_trips(_leaves(shapes, dtypes, seed), list(packed))


def test_the_round_trip_check_catches_a_split_that_reads_from_the_wrong_end():
    leaves = [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([7.0, 8.0], np.float32)]
    assert _round_trips(leaves, [True, True])
    assert not _round_trips(leaves, [True, True], split=_broken_split)


def test_the_replay_buffer_stays_loose_and_the_rest_is_one_array_per_dtype():
    from softq_ref.agent import registry
    from softq_ref.agent.config import SQLConfig

    cfg = SQLConfig(total_steps=100, hidden_sizes=(8, 8), batch_size=4)
    carry = gym_loop._init_carry(registry.get("sql"), cfg, 3, 2, 0)
    layout = gym_loop.carry_layout(carry)
    arrays = flat_carry.join(jax.tree.leaves(carry), layout, jnp)
    buffer_leaves = jax.tree.leaves(carry.buffer)
    assert len(arrays) == len(layout.groups) + len(buffer_leaves) < len(jax.tree.leaves(carry))
    assert sorted(name for name, _ in layout.groups) == ["float32", "int32", "uint32"]
    for loose, leaf in zip(arrays[len(layout.groups):], buffer_leaves):
        assert loose is leaf


def test_a_layout_for_another_number_of_leaves_is_refused_in_one_line():
    with pytest.raises(ValueError, match="^2 leaves but 1 packing flags$"):
        flat_carry.layout_of([np.zeros(2), np.zeros(3)], [True])


# ------------------------------------------------------------------ the flat dispatch in the host loop
@pytest.mark.skipif(jax.default_backend() != "cpu", reason="compares float figures measured on a CPU")
@pytest.mark.parametrize("algo,env_id,steps", CASES, ids=[f"{a}-{e.split('/')[-1]}" for a, e, _ in CASES])
def test_the_flat_dispatch_trains_the_same_run_as_the_per_step_one(algo, env_id, steps, tmp_path):
    """Same episodes, steps and goals; floats equal to 1e-5 relative.

    Not bit for bit: the flat program is another compilation of the same computation, and on
    this CPU its floats part from the per-step program's in the last bit after a few dozen
    updates (2026-12-01: worst relative gap over these runs' rows 1.9e-7; soft DQN identical).
    """
    cfg = _config(algo, env_id, steps)
    _, step_rows = _run(cfg, env_id, tmp_path / "step", "step")
    _, flat_rows = _run(cfg, env_id, tmp_path / "flat", "flat")
    assert len(step_rows) >= 3 and len(flat_rows) == len(step_rows)
    for s, f in zip(step_rows, flat_rows):
        assert s.keys() == f.keys()
        for k in s:
            if k in ("step", "seed", "episodes") or k.startswith("goal_") or s[k] == "":
                assert f[k] == s[k], k
            else:
                assert float(f[k]) == pytest.approx(float(s[k]), rel=1e-5, abs=1e-6), k


def test_auto_is_step_on_a_cpu_and_flat_on_an_accelerator():
    assert gym_loop.resolve_dispatch("auto") == ("step" if jax.default_backend() == "cpu" else "flat")
    assert gym_loop.resolve_dispatch("flat") == "flat"
