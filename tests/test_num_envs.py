"""Several environments per seed in the jitted loop (spec deviation ``dev-num-envs``).

What is checked: the buffer's batched write is the sequential one; every environment's transitions
are stored exactly (the scripted task of ``test_loop_transitions``, one script per environment);
one batched iteration equals its sequential definition (act in each environment, store in order,
then ``num_envs`` updates); a killed run resumes bit for bit; bad input is one line.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softq_ref.agent import SQL, replay
from softq_ref.agent.config import SQLConfig
from softq_ref.agent.replay import Transition
from softq_ref.train import jax_loop, memory
from tests.test_loop_transitions import STEPS, _config, _rows, check_buffer, scripted_jax_env

TINY = dict(hidden_sizes=(16, 16), batch_size=8, num_fixed_particles=4, num_updated_particles=4, value_samples=4)


# ------------------------------------------------------------------------------- replay.add_batch
def _transitions(start, n, obs_dim=2):
    base = jnp.arange(start, start + n, dtype=jnp.float32)
    return Transition(obs=jnp.stack([base] * obs_dim, 1), action=base[:, None], reward=base,
                      next_obs=jnp.stack([base + 0.5] * obs_dim, 1), done=(base % 2))


def _broken_add_batch(buffer, transitions):
    """A planted bug: the write does not wrap around the ring (rows past the end are dropped)."""
    n = transitions.reward.shape[0]
    idx = buffer.position + jnp.arange(n)
    data = jax.tree.map(lambda s, x: s.at[idx].set(x, mode="drop"), buffer.data, transitions)
    return replay.ReplayBuffer(data, (buffer.position + n) % buffer.capacity, jnp.minimum(buffer.size + n, buffer.capacity))


def _batched_equals_sequential(add_batch, capacity, batches):
    one = many = replay.init(capacity, 2, 1)
    start = 0
    for n in batches:
        t = _transitions(start, n)
        many = add_batch(many, t)
        for i in range(n):
            one = replay.add(one, jax.tree.map(lambda x: x[i], t))
        start += n
    return all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(many)))


@pytest.mark.parametrize("capacity, batches", [(8, [3, 3, 3, 3]), (6, [6, 6, 2]), (5, [1, 4, 2, 5]), (7, [3])])
def test_add_batch_is_n_sequential_adds(capacity, batches):
    assert _batched_equals_sequential(replay.add_batch, capacity, batches)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9).flatmap(lambda c: st.tuples(st.just(c), st.lists(st.integers(1, c), min_size=1, max_size=5))))
def test_add_batch_is_n_sequential_adds_for_any_capacity_and_batches(case):
    capacity, batches = case
    assert _batched_equals_sequential(replay.add_batch, capacity, batches)


def test_add_batch_check_catches_a_write_that_does_not_wrap():
    assert not _batched_equals_sequential(_broken_add_batch, 8, [3, 3, 3, 3])


def test_add_batch_refuses_more_rows_than_the_buffer_holds():
    with pytest.raises(ValueError, match="cannot add 5 transitions at once to a buffer of 4"):
        replay.add_batch(replay.init(4, 2, 1), _transitions(0, 5))


# ------------------------------------------------------------------ every environment, exactly
def test_each_environment_stores_its_own_script_exactly():
    """Three scripted environments for 14 iterations: buffer row ``3 i + j`` is environment ``j``'s step ``i``."""
    n = 3
    env = scripted_jax_env()
    config = _config(n * STEPS)
    carry = jax_loop.init_carry(SQL, config, env, jax.random.PRNGKey(0), n)
    carry, stats = jax.jit(jax_loop.make_chunk(SQL, config, env, n * STEPS, learn=False, num_envs=n))(carry)
    rows = _rows(carry.buffer)
    for j in range(n):
        # Each environment runs the whole script: 4 episodes end in its 14 steps.
        check_buffer({k: v[j::n] for k, v in rows.items()}, 4, STEPS)
    assert int(stats.episodes) == 3 * 4
    assert int(carry.env_steps) == n * STEPS
    assert carry.episode_return.shape == (n,)


# ---------------------------------------------------------- one iteration, by its definition
def _sequential_iteration(config, env, carry, num_envs, updates):
    """One iteration of dev-num-envs written out one environment and one update at a time."""
    key, k_act, k_env, k_batch, k_train = jax.random.split(carry.key, 5)
    k_acts, k_envs = jax.random.split(k_act, num_envs), jax.random.split(k_env, num_envs)
    buffer, states, rewards = carry.buffer, [], []
    for j in range(num_envs):
        state = jax.tree.map(lambda x: x[j], carry.env_state)
        obs = env.observe(state)
        action = SQL.explore(carry.agent, obs, k_acts[j])
        state, next_obs, reward, terminated, _, _ = env.step_autoreset(state, action, k_envs[j])
        buffer = replay.add(buffer, Transition(obs, action, reward, next_obs, terminated.astype(jnp.float32)))
        states.append(state)
        rewards.append(reward)
    agent = carry.agent
    k_batches, k_trains = jax.random.split(k_batch, num_envs), jax.random.split(k_train, num_envs)
    for u in range(updates):
        agent, _, _ = jax_loop.update(SQL, config, agent, buffer, k_batches[u], k_trains[u])
    return agent, buffer, jax.tree.map(lambda *xs: jnp.stack(xs), *states)


def _batched_vs_sequential(updates):
    from softq_ref.envs.multigoal_task import multigoal_env

    n = 3
    env = multigoal_env()
    config = SQLConfig(total_steps=30, min_replay_size=6, **TINY)
    carry = jax_loop.init_carry(SQL, config, env, jax.random.PRNGKey(4), n)
    carry, _ = jax.jit(jax_loop.make_chunk(SQL, config, env, 6, learn=False, num_envs=n))(carry)
    batched, _ = jax.jit(jax_loop.make_chunk(SQL, config, env, n, learn=True, num_envs=n))(carry)
    agent, buffer, env_state = jax.jit(lambda c: _sequential_iteration(config, env, c, n, updates))(carry)
    same_buffer = all(np.allclose(a, b, atol=1e-6) for a, b in zip(jax.tree.leaves(buffer), jax.tree.leaves(batched.buffer)))
    same_env = all(np.allclose(a, b, atol=1e-6) for a, b in zip(jax.tree.leaves(env_state), jax.tree.leaves(batched.env_state)))
    params = lambda a: [x for x in jax.tree.leaves(a) if hasattr(x, "dtype") and x.dtype.kind == "f"]
    same_agent = all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(params(agent), params(batched.agent)))
    return same_buffer, same_env, same_agent


def test_one_batched_iteration_is_its_sequential_definition():
    """Act and step in each environment with its own key, store in environment order, then ``num_envs`` updates.

    Float tolerance: the batched version runs the sampler and the environment under ``vmap``
    (one matrix product for all environments instead of one each), which may sum in another order.
    """
    assert _batched_vs_sequential(updates=3) == (True, True, True)


def test_sequential_definition_check_catches_one_update_per_iteration():
    """The must-fail twin: one update per iteration (not one per environment step) is told apart."""
    same_buffer, same_env, same_agent = _batched_vs_sequential(updates=1)
    assert same_buffer and same_env and not same_agent


def test_one_environment_is_the_papers_loop_unchanged():
    """``num_envs=1`` is the scalar carry of Algorithm 1 (no environment axis), so old checkpoints still load."""
    env = scripted_jax_env()
    config = _config(8)
    carry = jax_loop.init_carry(SQL, config, env, jax.random.PRNGKey(0))
    assert carry.episode_return.shape == () and carry.env_state.t.shape == ()
    assert memory.carry_bytes(SQL, config, env, 4) > memory.carry_bytes(SQL, config, env)


def test_warm_up_is_rounded_up_to_whole_iterations():
    config = SQLConfig(total_steps=1000, min_replay_size=100, **TINY)
    plan = jax_loop.schedule(config, 256, 8)
    assert plan[0] == (104, False) and sum(n for n, _ in plan) == 1000 and all(n % 8 == 0 for n, _ in plan)
    assert jax_loop.schedule(config, 250) == [(100, False), (250, True), (250, True), (250, True), (150, True)]


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("num_envs, changes, chunk, message", [
    (0, {}, None, r"num_envs must be a positive int, got 0"),
    (2.0, {}, None, r"num_envs must be a positive int, got 2.0"),
    (3, {}, None, r"total_steps \(1000\) must be a multiple of num_envs \(3\)"),
    (8, {}, 500, r"chunk_steps \(500\) must be a multiple of num_envs \(8\)"),
    (8, {"replay_capacity": 4}, None, r"replay buffer \(4 transitions\) must hold at least num_envs \(8\)"),
])
def test_check_num_envs_names_what_is_wrong(num_envs, changes, chunk, message):
    config = SQLConfig(total_steps=1000, **TINY).replace(**changes)
    with pytest.raises(ValueError, match=message):
        jax_loop.check_num_envs(SQL, config, num_envs, chunk)


def test_an_on_policy_algorithm_keeps_one_environment():
    from softq_ref.agent import registry
    from softq_ref.train.launch import make_config

    config = make_config("pg", "CartPole-v1", steps=1000)
    with pytest.raises(ValueError, match="on-policy"):
        jax_loop.check_num_envs(registry.for_config(config), config, 2)


@pytest.mark.parametrize("argv, message", [
    (["--env", "HalfCheetah-v5", "--num-envs", "4"], "--num-envs is for the jitted loop"),
    (["--steps", "1002", "--num-envs", "4"], r"total_steps \(1002\) must be a multiple of num_envs \(4\)"),
    (["--num-envs", "0"], "--num-envs must be > 0"),
])
def test_cli_refuses_bad_num_envs_in_one_line(argv, message, capsys, tmp_path):
    from softq_ref.cli import main

    assert main(["train", *argv, "--out", str(tmp_path / "run"), "--quiet"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(message, err)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------ runs on disk
def test_a_run_with_several_environments_records_them_loads_and_reports_divergence(tmp_path):
    import json

    import softq_ref
    from softq_ref.train.runner import TrainingDiverged, agent_of, train_jax

    cfg = SQLConfig(total_steps=400, **TINY)
    result = train_jax(cfg, seeds=[0, 1], out_dir=tmp_path / "ok", chunk_steps=100, num_envs=4, progress=False)
    assert json.loads((tmp_path / "ok" / "config.json").read_text())["settings"] == {"chunk_steps": 100, "num_envs": 4}
    assert result.env_steps == 400 and np.asarray(result.carry.buffer.size).tolist() == [400, 400]
    key = jax.random.PRNGKey(1)
    loaded = softq_ref.load(tmp_path / "ok", 1)
    expected = np.asarray(jax.jit(loaded.algo.act)(agent_of(result.carry, 1), jnp.zeros(2), key))
    np.testing.assert_array_equal(loaded.act(np.zeros(2), key), expected)

    bad = SQLConfig(total_steps=700, q_lr=1e9, policy_lr=1e9, **TINY)
    with pytest.raises(TrainingDiverged, match=r"non-finite Q loss at step (\d+)") as err:
        train_jax(bad, seeds=[0], out_dir=tmp_path / "bad", chunk_steps=300, num_envs=4, progress=False)
    step = int(re.search(r"at step (\d+)", str(err.value)).group(1))
    assert 100 < step <= 400 and "last good checkpoint (step 100)" in str(err.value)


# --------------------------------------------------------------------------- the benchmark script
def test_the_num_envs_benchmark_runs_and_refuses_a_step_count_it_cannot_split(tmp_path, capsys):
    import json

    from benchmarks import num_envs as bench

    with pytest.raises(SystemExit) as err:
        bench.main(["--steps", "1000", "--num-envs", "1", "3"])
    assert err.value.code == 2 and "--steps 1000 is not a multiple of --num-envs 3" in capsys.readouterr().err
    out = tmp_path / "figures.json"
    assert bench.main(["--steps", "400", "--seeds", "1", "--num-envs", "1", "4", "--chunk-steps", "150",
                       "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [r["num_envs"] for r in results] == [1, 4]
    assert all(len(r["goals"]) == 1 and r["wall_s"] > 0 for r in results)
    assert "| 4 |" in capsys.readouterr().out
