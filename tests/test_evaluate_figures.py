"""Evaluation rollouts (JAX and gymnasium), goal counting, and the figures."""

import csv

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softq_ref.agent import DDPG, SQL, Algorithm, DDPGConfig, SQLConfig
from softq_ref.envs import multigoal
from softq_ref.envs.jax_env import multigoal_env
from softq_ref.figures import learning_curve_figure, multigoal_figure
from softq_ref.train.evaluate import goal_summary, rollout_gym, rollout_jax

ENV = multigoal_env()
T = ENV.max_steps
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def agents():
    """Fresh (untrained) soft Q-learning and DDPG states, small networks."""
    sql = SQL.init(SQLConfig(hidden_sizes=(32, 32)), 2, 2, jax.random.key(0))
    ddpg = DDPG.init(DDPGConfig(hidden_sizes=(32, 32)), 2, 2, jax.random.key(1))
    return {"sql": (SQL, sql), "ddpg": (DDPG, ddpg)}


def _straight_to(target):
    """A deterministic hand-made 'agent' that moves at full speed toward ``target``."""
    goal = np.asarray(target, np.float32)  # numpy: collection must not start JAX's backend (docs/mutation.md)

    def act(state, obs, key):
        del state, key
        return jnp.clip(goal - obs, -1.0, 1.0)

    return Algorithm("straight", None, None, act, act)


STRAIGHT_TO_GOAL_0 = _straight_to(multigoal.GOALS[0])  # (5, 0)


# -- rollout_jax ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sql", "ddpg"])
def test_rollouts_of_fresh_agents_are_well_formed(agents, name):
    algo, state = agents[name]
    E = 8
    ro = rollout_jax(algo, state, ENV, jax.random.key(2), E)
    assert ro.observations.shape == (E, T + 1, 2)
    assert ro.actions.shape == (E, T, 2)
    assert ro.rewards.shape == (E, T)
    assert ro.lengths.shape == ro.returns.shape == ro.terminated.shape == ro.goal.shape == (E,)
    lengths = np.asarray(ro.lengths)
    assert np.all((lengths >= 1) & (lengths <= T))
    # float32: the rollout accumulates step by step, np.sum pairwise (another summation order).
    np.testing.assert_allclose(ro.returns, np.sum(ro.rewards, axis=1), rtol=1e-5)
    goal = np.asarray(ro.goal)
    terminated = np.asarray(ro.terminated)
    # A goal is reached exactly when the episode terminated; an early end means termination.
    np.testing.assert_array_equal(goal >= 0, terminated)
    assert np.all(terminated[lengths < T])
    # Masking: nothing after the end.
    steps = np.arange(T)[None, :]
    assert np.all(np.asarray(ro.rewards)[steps >= lengths[:, None]] == 0.0)
    obs = np.asarray(ro.observations)
    for e in range(E):
        np.testing.assert_array_equal(obs[e, lengths[e] :], np.broadcast_to(obs[e, lengths[e]], obs[e, lengths[e] :].shape))


def test_straight_agent_golden_episode():
    # From the origin at full speed along x: positions 1, 2, 3, 4, 5.  Squared distances to
    # (5, 0): 16, 9, 4, 1, 0; at x = 4 the test |s - g|^2 < 1 fails (1 is not < 1), at x = 5
    # the goal is reached.  Rewards -(30 * 1 + d^2) (+10 on the last):
    # -46, -39, -34, -31, -20; return -170, length 5, goal 0.
    ro = rollout_jax(STRAIGHT_TO_GOAL_0, None, ENV, jax.random.key(0), 3, start_state=multigoal.state_at([0.0, 0.0]))
    np.testing.assert_array_equal(ro.lengths, [5, 5, 5])
    np.testing.assert_array_equal(ro.goal, [0, 0, 0])
    np.testing.assert_allclose(ro.returns, [-170.0] * 3)
    np.testing.assert_allclose(ro.rewards[0, :6], [-46.0, -39.0, -34.0, -31.0, -20.0, 0.0])
    np.testing.assert_allclose(ro.observations[0, :7, 0], [0, 1, 2, 3, 4, 5, 5])


def test_straight_agent_matches_python_loop_and_counts_goal_0():
    E = 16
    key = jax.random.key(3)
    ro = rollout_jax(STRAIGHT_TO_GOAL_0, None, ENV, key, E)
    # The same episodes with a plain Python loop over multigoal.step.
    for e, k in enumerate(jax.random.split(key, E)):
        state, obs = multigoal.reset(jax.random.split(k)[0])
        total, length, goal = 0.0, 0, -1
        for _ in range(T):
            state, obs, reward, terminated, truncated, info = multigoal.step(state, jnp.clip(multigoal.GOALS[0] - obs, -1, 1))
            total += float(reward)
            length += 1
            if terminated or truncated:
                goal = int(info["goal"])
                break
        assert int(ro.lengths[e]) == length
        assert int(ro.goal[e]) == goal
        np.testing.assert_allclose(float(ro.returns[e]), total, rtol=1e-5)
    summary = goal_summary(ro.goal, 4)
    assert summary["counts"] == [E, 0, 0, 0]
    assert summary["goals_reached"] == 1 and summary["none"] == 0


def test_goal_counting_can_fail():
    # An agent heading for (-5, 0) must not be counted at goal 0.
    ro = rollout_jax(_straight_to(multigoal.GOALS[1]), None, ENV, jax.random.key(4), 4)
    assert goal_summary(ro.goal, 4)["counts"] == [0, 4, 0, 0]
    # An agent that stands still reaches nothing.
    still = Algorithm("still", None, None, None, lambda s, o, k: jnp.zeros(2, jnp.float32))
    ro = rollout_jax(still, None, ENV, jax.random.key(5), 4)
    np.testing.assert_array_equal(ro.goal, [-1] * 4)
    np.testing.assert_array_equal(ro.lengths, [T] * 4)


def test_goal_summary_golden():
    s = goal_summary(np.array([0, 0, 3, -1]), 4)
    assert s == {
        "episodes": 4,
        "counts": [2, 0, 0, 1],
        "fractions": [0.5, 0.0, 0.0, 0.25],
        "none": 1,
        "none_fraction": 0.25,
        "goals_reached": 2,
    }
    with pytest.raises(ValueError):
        goal_summary([4], 4)


# -- rollout_gym ----------------------------------------------------------------------------


def test_rollout_gym_multigoal_agrees_with_jax():
    import softq_ref.envs

    env_id = getattr(softq_ref.envs, "MULTIGOAL_ID", "softq_ref/MultiGoal-v0")
    if env_id not in gymnasium.registry:
        pytest.skip(f"{env_id} is not registered by softq_ref.envs")
    episodes = rollout_gym(STRAIGHT_TO_GOAL_0, None, env_id, jax.random.key(0), 4, seed=0)
    assert [ep["goal"] for ep in episodes] == [0, 0, 0, 0]
    assert all(ep["terminated"] and ep["length"] < T for ep in episodes)
    jax_goals = np.asarray(rollout_jax(STRAIGHT_TO_GOAL_0, None, ENV, jax.random.key(0), 4).goal)
    assert goal_summary([ep["goal"] for ep in episodes], 4) == goal_summary(jax_goals, 4)


class _RecordingEnv(gymnasium.Env):
    """Records the actions it receives; action box [0, 2] x [-4, 4]; three steps per episode."""

    def __init__(self):
        self.observation_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gymnasium.spaces.Box(np.array([0.0, -4.0], np.float32), np.array([2.0, 4.0], np.float32))
        self.received = []
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.received.append(np.array(action))
        self._t += 1
        return np.zeros(2, np.float32), 1.0, False, self._t >= 3, {}


def test_rollout_gym_rescales_actions_to_the_box(monkeypatch):
    env = _RecordingEnv()
    env_id = "softq_ref_test/Recording-v0"
    monkeypatch.setitem(gymnasium.registry, env_id, gymnasium.envs.registration.EnvSpec(env_id, entry_point=lambda: env))
    corner = Algorithm("corner", None, None, None, lambda s, o, k: jnp.array([-1.0, 1.0], jnp.float32))
    episodes = rollout_gym(corner, None, env_id, jax.random.key(0), 2, seed=0)
    assert episodes == [{"return": 3.0, "length": 3, "terminated": False}] * 2
    # low + (a + 1) / 2 * (high - low): (-1, 1) -> (0, 4).
    np.testing.assert_allclose(env.received, [[0.0, 4.0]] * 6)


# -- figures -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sql", "ddpg"])
def test_multigoal_figure_writes_png(agents, tmp_path, name):
    algo, state = agents[name]
    path = tmp_path / f"{name}.png"
    fig = multigoal_figure(algo, state, jax.random.key(0), path, num_rollouts=6, num_action_samples=20, resolution=15)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert len(fig.axes) == 4  # the plane and three Q panels


def test_learning_curve_mean_and_band(tmp_path):
    csv_path = tmp_path / "run" / "metrics.csv"
    csv_path.parent.mkdir()
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "seed", "mean_return", "q_loss"])
        w.writeheader()
        # Seeds 0 and 1 at steps 100, 200; seed 1 has no finished episode at 200 (empty).
        w.writerows([
            {"step": 100, "seed": 0, "mean_return": -10.0, "q_loss": 1},
            {"step": 100, "seed": 1, "mean_return": -20.0, "q_loss": 1},
            {"step": 200, "seed": 0, "mean_return": -4.0, "q_loss": 1},
            {"step": 200, "seed": 1, "mean_return": "", "q_loss": 1},
        ])
    out = tmp_path / "curve.png"
    fig = learning_curve_figure(csv_path, out)
    assert out.read_bytes().startswith(PNG_MAGIC)
    ax = fig.axes[0]
    (mean_line,) = [line for line in ax.lines if line.get_label().startswith("run")]
    np.testing.assert_allclose(mean_line.get_xdata(), [100, 200])
    np.testing.assert_allclose(mean_line.get_ydata(), [-15.0, -4.0])  # (-10 - 20) / 2; only seed 0 at 200
    # The band spans the min and max over seeds: [-20, -10] at 100, [-4, -4] at 200.
    (band,) = ax.collections
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(-20.0) and ys.max() == pytest.approx(-4.0)
