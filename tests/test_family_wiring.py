"""SAC, soft DQN and the soft policy gradient as registered algorithms (issue 11's wiring).

Each goes through the command line (``softq_ref.cli.main``, in-process): train, checkpoint,
resume (extending the run), ``softq_ref.load`` and ``act``.  Discrete actions go through both
loops (gymnax's CartPole-v1 in the jitted loop, gymnasium's in the host loop), stored in the
replay buffer as the index; the policy gradient's on-policy loop shape (one update per
rollout, on the rollout in time order) is checked in both loops.  Mismatched action spaces are
refused with one line naming both.

The ``slow`` tests at the end are the issue's learning bars, run through the real loops.
"""

from __future__ import annotations

import importlib.util
import json

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softq_ref
from softq_ref.agent import pg, registry, replay, sac, soft_dqn
from softq_ref.agent.config import traced_fields
from softq_ref.agent.replay import Transition
from softq_ref.cli import main
from softq_ref.io.run_dir import read_metrics

# Found, not imported: importing gymnax builds JAX arrays and so starts JAX's backend, which collecting
# this file must not do (mutation testing forks workers after collection; docs/mutation.md).
if importlib.util.find_spec("gymnax") is None:
    pytest.skip("the JAX twins of CartPole/Acrobot need gymnax (the test extra)", allow_module_level=True)


def _train(*args):
    return main(["train", "--quiet", *args])


# ------------------------------------------------------------------ registration


@pytest.mark.parametrize("name, module, kind", [("sac", sac, "box"), ("soft_dqn", soft_dqn, "discrete"),
                                                ("pg", pg, "discrete")])
def test_registered_with_traced_fields_that_with_hparams_accepts(name, module, kind):
    algo = registry.get(name)
    assert algo is module.ALGORITHM and algo.action_space == kind
    config = algo.config_class.preset_for(algo.config_class().preset)
    traced = config.traced_values()
    assert traced and set(traced) == set(traced_fields(algo.config_class))
    # Every traced field can be changed on a live state without re-initialising it.
    state = algo.init(config, 4, 2, jax.random.PRNGKey(0))
    changed = algo.with_hparams(state, **traced)
    assert jax.tree.structure(changed) == jax.tree.structure(state)
    # The config round-trips through config.json's dict by name.
    assert registry.config_from_dict(json.loads(json.dumps(registry.config_to_dict(config)))) == config


def test_presets_state_the_published_numbers():
    mujoco = sac.SACConfig.preset_for("mujoco")
    assert (mujoco.hidden_sizes, mujoco.q_lr, mujoco.policy_lr, mujoco.batch_size, mujoco.replay_capacity,
            mujoco.target_tau, mujoco.learn_alpha) == ((256, 256), 3e-4, 3e-4, 256, 1_000_000, 0.005, True)
    multigoal = sac.SACConfig.preset_for("multigoal")
    assert (multigoal.alpha, multigoal.learn_alpha, multigoal.total_steps, multigoal.max_path_length) == (10.0, False, 10_000, 30)
    cartpole = soft_dqn.SoftDQNConfig.preset_for("classic", "CartPole-v1")
    assert (cartpole.q_lr, cartpole.batch_size, cartpole.target_update_period, cartpole.total_steps) == (2.3e-3, 64, 10, 50_000)
    acrobot = soft_dqn.SoftDQNConfig.preset_for("classic", "Acrobot-v1")
    assert (acrobot.q_lr, acrobot.batch_size, acrobot.target_update_period) == (6.3e-4, 128, 250)
    with pytest.raises(ValueError, match="soft_dqn has no preset 'mujoco'"):
        soft_dqn.SoftDQNConfig.preset_for("mujoco")


# ------------------------------------------------------------------ CLI: train, checkpoint, resume, load, act


@pytest.mark.parametrize(
    "algo, env_id, steps, extended, updates, obs",
    [
        # SAC on the multi-goal task (jitted loop): 100 warm-up steps, then one update per step.
        ("sac", "softq_ref/MultiGoal-v0", 200, 300, 200, [0.5, -0.5]),
        # Soft DQN on gymnax's CartPole (jitted loop): 1000 warm-up steps (the preset), then updates.
        ("soft_dqn", "CartPole-v1", 1100, 1200, 200, [0.0, 0.1, 0.02, -0.1]),
        # The policy gradient on CartPole: one update per 128-step rollout, no warm-up.
        ("pg", "CartPole-v1", 256, 512, 4, [0.0, 0.1, 0.02, -0.1]),
    ],
)
def test_cli_trains_checkpoints_resumes_and_loads(algo, env_id, steps, extended, updates, obs, tmp_path, capsys):
    out = tmp_path / algo
    assert _train("--algo", algo, "--env", env_id, "--steps", str(steps), "--chunk-steps", "100", "--out", str(out)) == 0
    assert (out / "checkpoint.eqx").is_file()
    assert main(["train", "--resume", str(out), "--steps", str(extended), "--quiet"]) == 0
    capsys.readouterr()
    meta = json.loads((out / "config.json").read_text())
    assert meta["algo"] == algo and meta["config"]["total_steps"] == extended
    rows = read_metrics(out)
    assert [int(r["step"]) for r in rows][-1] == extended
    names = registry.get(algo).metrics
    # A chunk without an update (the warm-up; for pg, a chunk in which no rollout completed) leaves
    # the metric columns empty; every other row holds finite values of every declared metric.
    learned = [r for r in rows if r[names[0]] != ""]
    assert learned and all(np.isfinite(float(r[n])) for r in learned for n in names)

    agent = softq_ref.load(out)
    assert agent.algo is registry.get(algo) and agent.config.total_steps == extended
    assert int(agent.state.step) == updates  # trained, and as often as the loop shape says
    a = agent.act(np.array(obs, np.float32), jax.random.PRNGKey(0))
    if registry.get(algo).action_space == "discrete":
        assert a.shape == (1,) and a[0] in (0.0, 1.0)
    else:
        assert a.shape == (2,) and np.all(np.abs(a) <= 1.0)


# ------------------------------------------------------------------ discrete actions through both loops


def _tiny_dqn(total=400):
    return soft_dqn.SoftDQNConfig(hidden_sizes=(32,), batch_size=16, min_replay_size=100, total_steps=total)


def test_soft_dqn_through_the_jitted_loop_on_gymnax_cartpole_with_vmapped_seeds(tmp_path):
    from softq_ref.train.runner import train_jax

    result = train_jax(_tiny_dqn(), env_id="CartPole-v1", seeds=[0, 1], out_dir=tmp_path, chunk_steps=100, progress=False)
    assert result.env_steps == 400
    actions = np.asarray(result.carry.buffer.data.action)  # [seeds, capacity, 1]
    assert actions.shape == (2, 400, 1) and set(np.unique(actions)) == {0.0, 1.0}  # the index, both actions taken
    rows = read_metrics(tmp_path)
    assert {r["seed"] for r in rows} == {"0", "1"}
    learned = [r for r in rows if r["q_loss"]]
    assert len(learned) == 6 and all(np.isfinite(float(r["q_loss"])) for r in learned)
    assert all(int(r["episodes"]) > 0 for r in rows)
    # The two seeds are different runs.
    assert not np.array_equal(actions[0], actions[1])


def test_discrete_actions_through_the_host_loop_store_the_index(tmp_path):
    from softq_ref.train.gym_loop import train_gym

    result = train_gym(_tiny_dqn(300), env_id="CartPole-v1", out_dir=tmp_path, log_every=100, progress=False)
    actions = np.asarray(result.carry.buffer.data.action)  # one seed: no seed axis
    assert actions.shape == (300, 1) and set(np.unique(actions)) == {0.0, 1.0}
    assert int(result.carry.agent.step) == 300 - 100


def test_rollout_gym_plays_a_discrete_agent():
    from softq_ref.train.evaluate import rollout_gym

    state = soft_dqn.init(soft_dqn.SoftDQNConfig(hidden_sizes=(8,)), 4, 2, jax.random.PRNGKey(0))
    episodes = rollout_gym(soft_dqn.ALGORITHM, state, "CartPole-v1", jax.random.PRNGKey(1), 2, seed=0)
    assert len(episodes) == 2 and all(1 <= e["length"] <= 500 for e in episodes)


def test_a_discrete_host_loop_run_loads_and_evaluates(tmp_path):
    from softq_ref.train.gym_loop import train_gym

    train_gym(_tiny_dqn(150), env_id="CartPole-v1", out_dir=tmp_path, log_every=50, progress=False)
    agent = softq_ref.load(tmp_path)
    assert agent.act(np.zeros(4, np.float32), jax.random.PRNGKey(0))[0] in (0.0, 1.0)
    assert main(["evaluate", str(tmp_path), "--episodes", "2"]) == 0


def test_pg_host_loop_updates_once_per_rollout(tmp_path):
    from softq_ref.train.gym_loop import train_gym

    config = pg.PGConfig(hidden_sizes=(16,), rollout_length=50, total_steps=230)
    result = train_gym(config, env_id="CartPole-v1", out_dir=tmp_path, log_every=100, progress=False)
    assert int(result.carry.agent.step) == 230 // 50


def test_the_jax_and_host_loops_restore_the_rollout_in_time_order():
    buffer = replay.init(4, 1, 1)
    for t in range(6):  # 6 adds into 4 slots: slots hold t = 4, 5, 2, 3
        buffer = replay.add(buffer, Transition(obs=jnp.array([t]), action=jnp.array([0.0]), reward=jnp.float32(t),
                                               next_obs=jnp.array([t + 1]), done=jnp.float32(0)))
    np.testing.assert_array_equal(np.asarray(replay.in_time_order(buffer).reward), [2, 3, 4, 5])


def _rollout(boundary_at=None, terminal_at=None):
    """A 6-step rollout whose successor chain breaks after ``boundary_at`` (an episode ended there)."""
    obs = np.arange(6, dtype=np.float32)[:, None]
    next_obs = obs + 1.0
    if boundary_at is not None:
        obs[boundary_at + 1:] += 100.0  # the rows after the reset start elsewhere
        next_obs[boundary_at + 1:] += 100.0
    done = np.zeros(6, np.float32)
    if terminal_at is not None:
        done[terminal_at] = 1.0
    return Transition(obs=jnp.asarray(obs), action=jnp.zeros((6, 1)), reward=jnp.arange(6, dtype=jnp.float32),
                      next_obs=jnp.asarray(next_obs), done=jnp.asarray(done))


def test_pg_rollout_step_marks_truncations_as_episode_ends():
    state = pg.init(pg.PGConfig(hidden_sizes=(8,)), 1, 2, jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(1)
    cut = _rollout(boundary_at=2)  # truncated after row 2: done stays 0 in the buffer
    _, restored = pg.rollout_train_step(state, cut, key)
    _, marked = pg.train_step(state, cut._replace(done=cut.done.at[2].set(1.0)), key)
    for name in marked:
        np.testing.assert_allclose(restored[name], marked[name], rtol=1e-6)


def test_pg_rollout_boundary_check_catches_returns_running_across_episodes():
    """Must-fail twin: the raw train_step (no boundary restored) lets row 2's return run into the next
    episode's rewards, so its soft returns differ from the correctly cut ones."""
    state = pg.init(pg.PGConfig(hidden_sizes=(8,)), 1, 2, jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(1)
    cut = _rollout(boundary_at=2)
    _, raw = pg.train_step(state, cut, key)
    _, marked = pg.train_step(state, cut._replace(done=cut.done.at[2].set(1.0)), key)
    assert not np.isclose(float(raw["mean_soft_return"]), float(marked["mean_soft_return"]), rtol=1e-4)
    # And with no boundary, rollout_train_step changes nothing.
    whole = _rollout()
    np.testing.assert_allclose(pg.rollout_train_step(state, whole, key)[1]["mean_soft_return"],
                               pg.train_step(state, whole, key)[1]["mean_soft_return"])


# ------------------------------------------------------------------ mismatched action spaces


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--algo", "sac", "--env", "CartPole-v1"], "CartPole-v1 has a Discrete action space; sac needs a Box (continuous) one"),
        (["--algo", "soft_dqn"], "softq_ref/MultiGoal-v0 has a Box (continuous) action space; soft_dqn needs a Discrete one"),
        (["--algo", "pg", "--env", "Pendulum-v1"], "Pendulum-v1 has a Box (continuous) action space; pg needs a Discrete one"),
        (["--algo", "sql", "--env", "Acrobot-v1"], "Acrobot-v1 has a Discrete action space; sql needs a Box (continuous) one"),
        # An undeclared discrete environment: refused by the host loop's own check.
        (["--algo", "sql", "--env", "MountainCar-v0", "--alpha", "1"],
         "MountainCar-v0 has a Discrete action space; sql needs a Box (continuous) one"),
    ],
)
def test_mismatched_action_spaces_are_one_line_errors_naming_both(argv, message, tmp_path, capsys):
    out = tmp_path / "x"
    assert _train(*argv, "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (out / "checkpoint.eqx").exists()


def test_the_jitted_loop_refuses_a_mismatch_from_python(tmp_path):
    from softq_ref.train.runner import train_jax

    with pytest.raises(ValueError, match="CartPole-v1 has a Discrete action space; sac needs a Box"):
        train_jax(sac.SACConfig.preset_for("multigoal"), env_id="CartPole-v1", out_dir=tmp_path, progress=False)


def test_gymnax_twin_matches_the_declared_sizes():
    from softq_ref.envs.task import task_for

    for env_id, obs_dim, actions in (("CartPole-v1", 4, 2), ("Acrobot-v1", 6, 3)):
        env = task_for(env_id).jax_env()
        ref = gym.make(env_id)
        assert (env.obs_dim, env.action_dim, env.action_space) == (obs_dim, actions, "discrete")
        assert ref.observation_space.shape == (obs_dim,) and ref.action_space.n == actions
        assert env.max_steps == ref.spec.max_episode_steps == 500
        state, obs = env.reset(jax.random.PRNGKey(0))
        _, next_obs, reward, terminated, truncated, _ = env.step_autoreset(state, jnp.array([1.0]), jax.random.PRNGKey(1))
        assert next_obs.shape == (obs_dim,) and reward.dtype == jnp.float32 and not bool(truncated)
        ref.close()


# ------------------------------------------------------------------ the learning bars (slow)


def _evaluate(agent, env_id: str, episodes: int, seed: int) -> list[float]:
    """Returns of ``agent.act`` (soft DQN: the Boltzmann policy, eq. (6); SAC: the mean action) on gymnasium's env."""
    env = gym.make(env_id)
    key, out = jax.random.PRNGKey(seed), []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            key, k = jax.random.split(key)
            a = agent.env_action(obs, k)
            a = int(a[0]) if isinstance(env.action_space, gym.spaces.Discrete) else a
            obs, reward, terminated, truncated, _ = env.step(a)
            total += float(reward)
            done = terminated or truncated
        out.append(total)
    env.close()
    return out


@pytest.mark.slow
def test_slow_soft_dqn_learns_cartpole(tmp_path):
    """The preset's 50k steps through the jitted loop (gymnax's CartPole); the bar: mean return >= 475
    over 10 episodes of gymnasium's CartPole-v1 with the Boltzmann policy."""
    assert _train("--algo", "soft_dqn", "--env", "CartPole-v1", "--chunk-steps", "5000", "--out", str(tmp_path / "r")) == 0
    returns = _evaluate(softq_ref.load(tmp_path / "r"), "CartPole-v1", 10, 1000)
    print(f"soft DQN CartPole-v1 (50k steps): evaluation mean return {np.mean(returns):.1f}")
    assert np.mean(returns) >= 475.0


@pytest.mark.slow
def test_slow_sac_learns_pendulum(tmp_path):
    """20k steps of the published settings through the host loop; the bar: mean return >= -200
    over 10 episodes with the mean action."""
    assert _train("--algo", "sac", "--env", "Pendulum-v1", "--steps", "20000", "--out", str(tmp_path / "r")) == 0
    returns = _evaluate(softq_ref.load(tmp_path / "r"), "Pendulum-v1", 10, 1000)
    print(f"SAC Pendulum-v1 (20k steps): evaluation mean return {np.mean(returns):.1f}")
    assert np.mean(returns) >= -200.0
