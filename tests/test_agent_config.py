"""The configs of the agents: every field of every preset, the traced/static split, the messages.

The presets' numbers are the published settings of ``/work/shared/REFERENCE_FACTS.md`` ("Published
settings") and of the spec deviations that state them (``dev-settings``, ``dev-ddpg-baseline``); each
test pins a whole preset, field by field, so that a changed or dropped value is seen (the mutation
survivors of ``docs/mutation_survivors_agent.md`` were of that kind).  No test here compiles anything.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

import softq_ref.agent as agent
from softq_ref.agent import ddpg, sql
from softq_ref.agent.pg import PGConfig
from softq_ref.agent.sac import SACConfig
from softq_ref.agent.soft_dqn import SoftDQNConfig
from softq_ref.agent.config import (
    MUJOCO_REWARD_SCALES,
    TRACED,
    ConfigBase,
    DDPGConfig,
    SQLConfig,
    mujoco_reward_scale,
    static_fields,
    traced,
    traced_fields,
)

#: The 2018 multi-goal example (REFERENCE_FACTS "Published settings"; spec ``dev-settings``): 2x128,
#: Adam 3e-4 for both networks, batch 64, 32 kernel particles split 16/16, K_V = 16 uniform value
#: samples, reward scale 0.1 (alpha = 10), discount 0.99, hard copy (tau 1) every 1000 steps, replay
#: 1e6, paths of 30; 10,000 steps and 100 warm-up steps (``dev-settings``, ``dev-sac-multigoal``).
SQL_MULTIGOAL = dict(
    hidden_sizes=(128, 128), q_lr=3e-4, policy_lr=3e-4, batch_size=64, num_fixed_particles=16,
    num_updated_particles=16, value_samples=16, value_proposal="uniform", alpha=10.0, discount=0.99,
    target_update_period=1000, target_tau=1.0, replay_capacity=1_000_000, min_replay_size=100,
    max_path_length=30, total_steps=10_000, preset="multigoal",
)

#: The 2018 MuJoCo examples: as above but batch 128, 16 kernel particles (8/8), paths of 1000 steps,
#: alpha = 1 / the task's reward scale; the preset warms up for 1000 steps and runs 1M steps (the
#: README's ``softq-ref train --env HalfCheetah-v5 --steps 1000000``).
SQL_MUJOCO = dict(
    SQL_MULTIGOAL, batch_size=128, num_fixed_particles=8, num_updated_particles=8, value_samples=16,
    max_path_length=1000, min_replay_size=1000, total_steps=1_000_000, preset="mujoco",
)

#: The DDPG baseline (spec ``dev-ddpg-baseline``): SQL's networks, buffer and batch; Adam 1e-3
#: (critic) / 1e-4 (actor); Gaussian exploration std 0.3 on the multi-goal task; Polyak tau 0.01
#: every step; rewards scaled by 0.1 on the multi-goal task (SQL's scale).
DDPG_MULTIGOAL = dict(
    hidden_sizes=(128, 128), q_lr=1e-3, policy_lr=1e-4, batch_size=64, reward_scale=0.1, exploration_std=0.3,
    discount=0.99, target_update_period=1, target_tau=0.01, replay_capacity=1_000_000, min_replay_size=100,
    max_path_length=30, total_steps=10_000, preset="multigoal",
)

#: On MuJoCo: exploration std 0.1 (``dev-ddpg-baseline``), unscaled rewards, and the SQL MuJoCo
#: preset's batch, path length, warm-up and run length.
DDPG_MUJOCO = dict(
    DDPG_MULTIGOAL, batch_size=128, reward_scale=1.0, exploration_std=0.1, max_path_length=1000,
    min_replay_size=1000, total_steps=1_000_000, preset="mujoco",
)


def _fields(config) -> dict:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def _assert_fields(config, expected: dict) -> None:
    got = _fields(config)
    assert set(got) == set(expected)
    wrong = {k: (got[k], expected[k]) for k in expected if got[k] != expected[k] or type(got[k]) is not type(expected[k])}
    assert not wrong, f"fields (got, expected): {wrong}"


# ------------------------------------------------------------------ SQL presets


def test_sql_multigoal_preset_is_every_published_value():
    _assert_fields(SQLConfig.preset_for("multigoal"), SQL_MULTIGOAL)
    assert SQLConfig.preset_for("multigoal", "softq_ref/MultiGoal-v0") == SQLConfig()


@pytest.mark.parametrize("env_id, scale", [(None, 30.0), *MUJOCO_REWARD_SCALES.items()])
def test_sql_mujoco_preset_is_every_published_value(env_id, scale):
    env = None if env_id is None else f"{env_id}-v5"
    _assert_fields(SQLConfig.preset_for("mujoco", env), dict(SQL_MUJOCO, alpha=1.0 / scale))


def test_the_published_reward_scales_by_family():
    assert MUJOCO_REWARD_SCALES == {"Swimmer": 30.0, "Hopper": 30.0, "HalfCheetah": 30.0, "Walker2d": 10.0,
                                    "Ant": 300.0, "Humanoid": 100.0}
    assert mujoco_reward_scale(None) == 30.0  # HalfCheetah's, the default task


@pytest.mark.parametrize("env_id, scale", [("mjx/Ant-v5", 300.0), ("gymnasium/Walker2d-v5", 10.0),
                                           ("a/b/Humanoid-v4", 100.0), ("Hopper-v5", 30.0)])
def test_reward_scale_reads_the_family_after_a_namespace(env_id, scale):
    assert mujoco_reward_scale(env_id) == scale
    assert SQLConfig.preset_for("mujoco", env_id).alpha == 1.0 / scale


def test_a_task_without_a_published_scale_is_one_line_naming_it_and_the_way_out():
    expected = ("no published reward scale for 'Pendulum-v1'; known families: Swimmer, Hopper, HalfCheetah, "
                "Walker2d, Ant, Humanoid (pass --alpha explicitly)")
    with pytest.raises(ValueError) as err:
        mujoco_reward_scale("Pendulum-v1")
    assert str(err.value) == expected
    with pytest.raises(ValueError, match=re.escape(expected)):
        SQLConfig.preset_for("mujoco", "Pendulum-v1")


@pytest.mark.parametrize("cls", [SQLConfig, DDPGConfig])
@pytest.mark.parametrize("name", ["atari", "classic", "MUJOCO"])
def test_unknown_preset_names_it_and_lists_only_the_presets_the_algorithm_has(cls, name):
    # "classic" is a preset of the discrete-action agents, not of SQL or DDPG: it must not be offered.
    with pytest.raises(ValueError) as err:
        cls.preset_for(name)
    assert str(err.value) == f"unknown preset {name!r}; choose one of multigoal, mujoco"


# ------------------------------------------------------------------ DDPG presets


def test_ddpg_multigoal_preset_is_every_published_value():
    _assert_fields(DDPGConfig.preset_for("multigoal"), DDPG_MULTIGOAL)
    assert DDPGConfig.preset_for("multigoal", "softq_ref/MultiGoal-v0") == DDPGConfig()


@pytest.mark.parametrize("env_id", [None, "HalfCheetah-v5", "Ant-v5"])
def test_ddpg_mujoco_preset_is_every_published_value(env_id):
    # DDPG's MuJoCo preset does not depend on the task: no per-task reward scale.
    _assert_fields(DDPGConfig.preset_for("mujoco", env_id), DDPG_MUJOCO)


def test_the_presets_belong_to_their_algorithms():
    for config, algo in ((SQLConfig.preset_for("mujoco"), sql.ALGORITHM), (DDPGConfig.preset_for("mujoco"), ddpg.ALGORITHM),
                         (SQLConfig(), agent.SQL), (DDPGConfig(), agent.DDPG)):
        assert agent.algorithm_for(config) is algo
    with pytest.raises(TypeError, match="no registered algorithm has config class dict"):
        agent.algorithm_for({})


# ------------------------------------------------------------------ traced and static fields


def test_traced_declares_a_field_with_its_default_marked_traced():
    # traced() is called here, in the test (not at import), so that the test sees a changed traced().
    @dataclasses.dataclass(frozen=True)
    class Cfg(ConfigBase):
        size: int = 3
        lr: float = traced(0.25)
        name: str = "x"
        period: int = traced(7)

    lr = next(f for f in dataclasses.fields(Cfg) if f.name == "lr")
    assert lr.default == 0.25 and lr.metadata[TRACED] is True
    assert Cfg().lr == 0.25 and Cfg().period == 7
    assert traced_fields(Cfg) == ("lr", "period") and static_fields(Cfg) == ("size", "name")
    cfg = Cfg(size=4, lr=0.5, name="y", period=9)
    assert cfg.traced_values() == {"lr": 0.5, "period": 9}
    assert cfg.static_values() == {"size": 4, "name": "y"}


def test_the_agents_split_their_fields_into_traced_and_static():
    cfg = SQLConfig.preset_for("mujoco", "Ant-v5")
    traced_names = ("q_lr", "policy_lr", "alpha", "discount", "target_update_period", "target_tau")
    assert traced_fields(cfg) == traced_fields(SQLConfig) == traced_names
    assert cfg.traced_values() == {name: SQL_MUJOCO[name] if name != "alpha" else 1.0 / 300.0 for name in traced_names}
    static = {name: value for name, value in SQL_MUJOCO.items() if name not in traced_names}
    assert cfg.static_values() == static and tuple(static) == static_fields(cfg)
    ddpg_traced = ("q_lr", "policy_lr", "reward_scale", "exploration_std", "discount", "target_update_period", "target_tau")
    assert traced_fields(DDPGConfig) == ddpg_traced
    assert DDPGConfig().static_values() == {k: v for k, v in DDPG_MULTIGOAL.items() if k not in ddpg_traced}


# ------------------------------------------------------------------ validation: one line naming the field and the value

NAN, INF = float("nan"), float("inf")

BAD_VALUES = [
    (SQLConfig, {'hidden_sizes': ()}, 'hidden_sizes must be a non-empty tuple of positive ints, got ()'),
    (SQLConfig, {'hidden_sizes': (0, 4)}, 'hidden_sizes must be a non-empty tuple of positive ints, got (0, 4)'),
    (SQLConfig, {'hidden_sizes': [4]}, 'hidden_sizes must be a non-empty tuple of positive ints, got [4]'),
    (SQLConfig, {'hidden_sizes': (True,)}, 'hidden_sizes must be a non-empty tuple of positive ints, got (True,)'),
    (SQLConfig, {'q_lr': '1e-3'}, "q_lr must be a number, got '1e-3'"),
    (SQLConfig, {'q_lr': None}, 'q_lr must be a number, got None'),
    (SQLConfig, {'batch_size': True}, 'batch_size must be an int, got True'),
    (SQLConfig, {'batch_size': 2.0}, 'batch_size must be an int, got 2.0'),
    (SQLConfig, {'preset': 3}, 'preset must be a string, got 3'),
    (SQLConfig, {'batch_size': 0}, 'batch_size must be a positive int, got 0'),
    (SQLConfig, {'replay_capacity': 0}, 'replay_capacity must be a positive int, got 0'),
    (SQLConfig, {'max_path_length': 0}, 'max_path_length must be a positive int, got 0'),
    (SQLConfig, {'total_steps': 0}, 'total_steps must be a positive int, got 0'),
    (SQLConfig, {'target_update_period': 0}, 'target_update_period must be a positive int, got 0'),
    (SQLConfig, {'min_replay_size': 0}, 'min_replay_size must be a positive int, got 0'),
    (SQLConfig, {'discount': -0.01}, 'discount must lie in [0, 1], got -0.01'),
    (SQLConfig, {'discount': 1.01}, 'discount must lie in [0, 1], got 1.01'),
    (SQLConfig, {'target_tau': 0.0}, 'target_tau must lie in (0, 1], got 0.0'),
    (SQLConfig, {'target_tau': 1.5}, 'target_tau must lie in (0, 1], got 1.5'),
    (SQLConfig, {'q_lr': 0.0}, 'q_lr must be finite and > 0, got 0.0'),
    (SQLConfig, {'q_lr': INF}, 'q_lr must be finite and > 0, got inf'),
    (SQLConfig, {'policy_lr': -0.001}, 'policy_lr must be finite and > 0, got -0.001'),
    (SQLConfig, {'policy_lr': NAN}, 'policy_lr must be finite and > 0, got nan'),
    (SQLConfig, {'alpha': -1.0}, 'alpha must be finite and >= 0, got -1.0'),
    (SQLConfig, {'alpha': INF}, 'alpha must be finite and >= 0, got inf'),
    (SQLConfig, {'num_fixed_particles': 0}, 'num_fixed_particles must be a positive int, got 0'),
    (SQLConfig, {'num_updated_particles': 0}, 'num_updated_particles must be a positive int, got 0'),
    (SQLConfig, {'value_samples': 0}, 'value_samples must be a positive int, got 0'),
    (SQLConfig, {'value_proposal': 'gaussian'}, "value_proposal must be 'uniform' or 'policy', got 'gaussian'"),
    (SQLConfig, {'value_samples': True}, 'value_samples must be an int, got True'),
    (DDPGConfig, {'reward_scale': 0.0}, 'reward_scale must be finite and > 0, got 0.0'),
    (DDPGConfig, {'reward_scale': INF}, 'reward_scale must be finite and > 0, got inf'),
    (DDPGConfig, {'exploration_std': -0.1}, 'exploration_std must be finite and >= 0, got -0.1'),
    (DDPGConfig, {'exploration_std': NAN}, 'exploration_std must be finite and >= 0, got nan'),
    (DDPGConfig, {'batch_size': 0}, 'batch_size must be a positive int, got 0'),
    (DDPGConfig, {'q_lr': 0.0}, 'q_lr must be finite and > 0, got 0.0'),
    (DDPGConfig, {'target_tau': 0.0}, 'target_tau must lie in (0, 1], got 0.0'),
    (SACConfig, {'hidden_sizes': ()}, 'hidden_sizes must be a non-empty tuple of positive ints, got ()'),
    (SACConfig, {'hidden_sizes': (0,)}, 'hidden_sizes must be a non-empty tuple of positive ints, got (0,)'),
    (SACConfig, {'hidden_sizes': (True,)}, 'hidden_sizes must be a non-empty tuple of positive ints, got (True,)'),
    (SACConfig, {'hidden_sizes': 256}, 'hidden_sizes must be a non-empty tuple of positive ints, got 256'),
    (SACConfig, {'batch_size': 0}, 'batch_size must be a positive int, got 0'),
    (SACConfig, {'batch_size': True}, 'batch_size must be an int, got True'),
    (SACConfig, {'replay_capacity': 0}, 'replay_capacity must be a positive int, got 0'),
    (SACConfig, {'min_replay_size': 0}, 'min_replay_size must be a positive int, got 0'),
    (SACConfig, {'total_steps': 0}, 'total_steps must be a positive int, got 0'),
    (SACConfig, {'max_path_length': 0}, 'max_path_length must be a positive int, got 0'),
    (SACConfig, {'q_lr': 0.0}, 'q_lr must be finite and > 0, got 0.0'),
    (SACConfig, {'policy_lr': NAN}, 'policy_lr must be finite and > 0, got nan'),
    (SACConfig, {'alpha_lr': INF}, 'alpha_lr must be finite and > 0, got inf'),
    (SACConfig, {'alpha': 0.0}, 'alpha must be finite and > 0, got 0.0'),
    (SACConfig, {'discount': 1.5}, 'discount must lie in [0, 1], got 1.5'),
    (SACConfig, {'target_tau': 0.0}, 'target_tau must lie in (0, 1], got 0.0'),
    (SACConfig, {'target_tau': 1.5}, 'target_tau must lie in (0, 1], got 1.5'),
    (SACConfig, {'discount': -0.5}, 'discount must lie in [0, 1], got -0.5'),
    (SACConfig, {'target_entropy': NAN}, 'target_entropy must be finite or None, got nan'),
    (SACConfig, {'batch_size': 2.0}, 'batch_size must be an int, got 2.0'),
    # The family's configs check each field's kind as SQLConfig does (a config.json may hold anything).
    (SACConfig, {'q_lr': '3e-4'}, "q_lr must be a number, got '3e-4'"),
    (SACConfig, {'discount': None}, 'discount must be a number, got None'),
    (SACConfig, {'alpha': True}, 'alpha must be a number, got True'),
    (SACConfig, {'learn_alpha': 'no'}, "learn_alpha must be True or False, got 'no'"),
    (SACConfig, {'learn_alpha': 0.5}, 'learn_alpha must be True or False, got 0.5'),
    (SACConfig, {'learn_alpha': None}, 'learn_alpha must be True or False, got None'),
    (SACConfig, {'target_entropy': '-3'}, "target_entropy must be a number or None, got '-3'"),
    (SACConfig, {'target_entropy': False}, 'target_entropy must be a number or None, got False'),
    (SACConfig, {'preset': 3}, 'preset must be a string, got 3'),
    (SACConfig, {'max_path_length': 10.0}, 'max_path_length must be an int, got 10.0'),
    (SoftDQNConfig, {'hidden_sizes': (0,)}, 'hidden_sizes must be a tuple of positive ints, got (0,)'),
    (SoftDQNConfig, {'hidden_sizes': (True,)}, 'hidden_sizes must be a tuple of positive ints, got (True,)'),
    (SoftDQNConfig, {'hidden_sizes': [4]}, 'hidden_sizes must be a tuple of positive ints, got [4]'),
    (SoftDQNConfig, {'hidden_sizes': 4}, 'hidden_sizes must be a tuple of positive ints, got 4'),
    (SoftDQNConfig, {'batch_size': 0}, 'batch_size must be a positive int, got 0'),
    (SoftDQNConfig, {'target_update_period': 0}, 'target_update_period must be a positive int, got 0'),
    (SoftDQNConfig, {'replay_capacity': 0}, 'replay_capacity must be a positive int, got 0'),
    (SoftDQNConfig, {'min_replay_size': 0}, 'min_replay_size must be a positive int, got 0'),
    (SoftDQNConfig, {'total_steps': 0}, 'total_steps must be a positive int, got 0'),
    (SoftDQNConfig, {'max_path_length': 0}, 'max_path_length must be a positive int, got 0'),
    (SoftDQNConfig, {'batch_size': True}, 'batch_size must be an int, got True'),
    (SoftDQNConfig, {'alpha': True}, 'alpha must be a number, got True'),
    (SoftDQNConfig, {'q_lr': '1e-3'}, "q_lr must be a number, got '1e-3'"),
    (SoftDQNConfig, {'discount': None}, 'discount must be a number, got None'),
    (SoftDQNConfig, {'target_update_period': 2.0}, 'target_update_period must be an int, got 2.0'),
    (SoftDQNConfig, {'preset': None}, 'preset must be a string, got None'),
    (SoftDQNConfig, {'q_lr': 0.0}, 'q_lr must be finite and > 0, got 0.0'),
    (SoftDQNConfig, {'q_lr': NAN}, 'q_lr must be finite and > 0, got nan'),
    (SoftDQNConfig, {'alpha': -0.5}, 'alpha must be finite and >= 0, got -0.5'),
    (SoftDQNConfig, {'alpha': INF}, 'alpha must be finite and >= 0, got inf'),
    (SoftDQNConfig, {'discount': -0.5}, 'discount must lie in [0, 1], got -0.5'),
    (PGConfig, {'hidden_sizes': (0,)}, 'hidden_sizes must be a tuple of positive ints, got (0,)'),
    (PGConfig, {'hidden_sizes': (2.0,)}, 'hidden_sizes must be a tuple of positive ints, got (2.0,)'),
    (PGConfig, {'hidden_sizes': [64, 64]}, 'hidden_sizes must be a tuple of positive ints, got [64, 64]'),
    (PGConfig, {'rollout_length': 0}, 'rollout_length must be a positive int, got 0'),
    (PGConfig, {'total_steps': 0}, 'total_steps must be a positive int, got 0'),
    (PGConfig, {'max_path_length': 0}, 'max_path_length must be a positive int, got 0'),
    (PGConfig, {'rollout_length': True}, 'rollout_length must be an int, got True'),
    (PGConfig, {'discrete': 'no'}, "discrete must be True or False, got 'no'"),
    (PGConfig, {'discrete': 2}, 'discrete must be True or False, got 2'),
    (PGConfig, {'initial_log_std': '0'}, "initial_log_std must be a number, got '0'"),
    (PGConfig, {'initial_log_std': NAN}, 'initial_log_std must be finite, got nan'),
    (PGConfig, {'initial_log_std': -INF}, 'initial_log_std must be finite, got -inf'),
    (PGConfig, {'value_lr': None}, 'value_lr must be a number, got None'),
    (PGConfig, {'preset': b'classic'}, "preset must be a string, got b'classic'"),
    (PGConfig, {'policy_lr': 0.0}, 'policy_lr must be finite and > 0, got 0.0'),
    (PGConfig, {'value_lr': INF}, 'value_lr must be finite and > 0, got inf'),
    (PGConfig, {'alpha': -1.0}, 'alpha must be finite and >= 0, got -1.0'),
    (PGConfig, {'alpha': NAN}, 'alpha must be finite and >= 0, got nan'),
    (PGConfig, {'discount': 2.0}, 'discount must lie in [0, 1], got 2.0'),
]


@pytest.mark.parametrize("cls, changes, message", BAD_VALUES,
                         ids=[f"{c.__name__}-{next(iter(ch))}={ch[next(iter(ch))]!r}" for c, ch, _ in BAD_VALUES])
def test_configs_refuse_each_bad_value_with_one_line_naming_the_field_and_the_value(cls, changes, message):
    with pytest.raises(ValueError) as err:
        cls(**changes)
    assert str(err.value) == message


#: The edges of each range, which must be accepted (the checks' boundaries: ``>= 1``, ``[0, 1]``, ``(0, 1]``,
#: ``>= 0``); an int is a number.
GOOD_EDGES = [
    (SQLConfig, dict(batch_size=1, replay_capacity=1, max_path_length=1, total_steps=1, target_update_period=1,
                     min_replay_size=1, num_fixed_particles=1, num_updated_particles=1, value_samples=1, hidden_sizes=(1,))),
    (SQLConfig, dict(discount=0.0, target_tau=1.0, alpha=0.0, value_proposal="policy")),
    (SQLConfig, dict(discount=1, target_tau=1, alpha=0, q_lr=1, policy_lr=5e-324)),
    (DDPGConfig, dict(discount=1.0, exploration_std=0.0, reward_scale=5e-324, batch_size=1, min_replay_size=1)),
    (DDPGConfig, dict(discount=0, exploration_std=0, reward_scale=1, hidden_sizes=(3, 1, 2))),
    (SACConfig, dict(batch_size=1, replay_capacity=1, min_replay_size=1, total_steps=1, max_path_length=1, hidden_sizes=(1,))),
    (SACConfig, dict(discount=0.0, target_tau=1.0, alpha=5e-324, target_entropy=-3.0)),
    (SACConfig, dict(discount=1.0, target_entropy=None)),
    # A traced switch swept on a grid arrives as 0.0 / 1.0; an int is a number.
    (SACConfig, dict(learn_alpha=0.0, target_entropy=-2, alpha=1, q_lr=1)),
    (SACConfig, dict(learn_alpha=1, target_entropy=0.0)),
    (SACConfig, dict(learn_alpha=False)),
    (SoftDQNConfig, dict(hidden_sizes=(), batch_size=1, target_update_period=1, replay_capacity=1, min_replay_size=1,
                         total_steps=1, max_path_length=1)),
    (SoftDQNConfig, dict(alpha=0.0, discount=0.0, q_lr=5e-324)),
    (SoftDQNConfig, dict(discount=1.0, hidden_sizes=(1,))),
    (PGConfig, dict(hidden_sizes=(), rollout_length=1, total_steps=1, max_path_length=1, alpha=0.0, discount=0.0)),
    (PGConfig, dict(hidden_sizes=(1,), discount=1.0, policy_lr=5e-324, value_lr=5e-324)),
    (PGConfig, dict(discrete=False, initial_log_std=-20, alpha=1)),
    (PGConfig, dict(discrete=1.0, initial_log_std=1e300)),
    (SoftDQNConfig, dict(alpha=1, discount=1, q_lr=2)),
]


@pytest.mark.parametrize("cls, changes", GOOD_EDGES)
def test_configs_accept_the_edges_of_each_range(cls, changes):
    config = cls(**changes)
    assert all(getattr(config, k) == v for k, v in changes.items())


# ------------------------------------------------------------------ the family's presets

#: SAC on MuJoCo: the hyperparameter table of arXiv:1812.05905 (Appendix D): 2x256, Adam 3e-4 for critics,
#: actor and temperature, batch 256, replay 1e6, discount 0.99, Polyak tau 0.005, learned temperature with
#: target entropy -dim(A) (None); 1000 warm-up steps, 1M steps, episodes of 1000 (SACConfig's docstring).
SAC_MUJOCO = dict(
    hidden_sizes=(256, 256), q_lr=3e-4, policy_lr=3e-4, alpha_lr=3e-4, batch_size=256, alpha=1.0, learn_alpha=True,
    target_entropy=None, discount=0.99, target_tau=0.005, replay_capacity=1_000_000, min_replay_size=1_000,
    total_steps=1_000_000, max_path_length=1000, preset="mujoco",
)
#: SAC on the multi-goal task (spec ``dev-sac-multigoal``): soft Q-learning's shared settings (2x128, Adam 3e-4,
#: batch 64, discount 0.99, 10,000 steps, 100 warm-up steps, paths of 30), alpha fixed at 10, SAC's tau 0.005.
SAC_MULTIGOAL = dict(SAC_MUJOCO, hidden_sizes=(128, 128), batch_size=64, alpha=10.0, learn_alpha=False,
                     min_replay_size=100, total_steps=10_000, max_path_length=30, preset="multigoal")
#: Soft DQN on CartPole-v1 (spec ``dev-soft-dqn``: the RL Baselines3 Zoo's DQN settings): 2x256, Adam 2.3e-3,
#: batch 64, buffer 1e5, 1000 warm-up steps, gamma 0.99, target copy every 10 steps, 5e4 steps; alpha 0.01 ours.
SOFT_DQN_CARTPOLE = dict(
    hidden_sizes=(256, 256), q_lr=2.3e-3, batch_size=64, alpha=0.01, discount=0.99, target_update_period=10,
    replay_capacity=100_000, min_replay_size=1_000, total_steps=50_000, max_path_length=500, preset="classic",
)
#: ... and on Acrobot-v1: Adam 6.3e-4, batch 128, buffer 5e4, target period 250, 1e5 steps.
SOFT_DQN_ACROBOT = dict(SOFT_DQN_CARTPOLE, q_lr=6.3e-4, batch_size=128, replay_capacity=50_000,
                        target_update_period=250, total_steps=100_000)
#: The policy gradient's ``classic`` preset (spec ``dev-pg-settings``): 2x64, Adam 1e-3 for policy and value,
#: alpha 0.01, discount 0.99, rollouts of 128 steps, 1e5 steps; discrete actions.
PG_CLASSIC = dict(hidden_sizes=(64, 64), policy_lr=1e-3, value_lr=1e-3, alpha=0.01, discount=0.99, rollout_length=128,
                  discrete=True, initial_log_std=0.0, total_steps=100_000, max_path_length=500, preset="classic")


@pytest.mark.parametrize("env_id", [None, "HalfCheetah-v5", "Ant-v5"])
def test_sac_presets_are_every_published_value(env_id):
    _assert_fields(SACConfig.preset_for("mujoco", env_id), SAC_MUJOCO)
    _assert_fields(SACConfig.preset_for("multigoal", env_id), SAC_MULTIGOAL)
    for name in ("classic", "atari"):
        with pytest.raises(ValueError) as err:
            SACConfig.preset_for(name, env_id)
        assert str(err.value) == f"sac has no preset {name!r}; choose one of mujoco, multigoal"


@pytest.mark.parametrize("env_id, expected", [
    (None, SOFT_DQN_CARTPOLE), ("CartPole-v1", SOFT_DQN_CARTPOLE), ("gymnax/CartPole-v1", SOFT_DQN_CARTPOLE),
    ("Acrobot-v1", SOFT_DQN_ACROBOT), ("gymnax/Acrobot-v1", SOFT_DQN_ACROBOT), ("a/b/Acrobot-v0", SOFT_DQN_ACROBOT),
])
def test_soft_dqn_classic_preset_is_every_published_value_by_family(env_id, expected):
    _assert_fields(SoftDQNConfig.preset_for("classic", env_id), expected)


@pytest.mark.parametrize("env_id", [None, "CartPole-v1", "Acrobot-v1"])
def test_pg_classic_preset_is_every_stated_value(env_id):
    config = PGConfig.preset_for("classic", env_id)
    _assert_fields(config, PG_CLASSIC)
    # An on-policy agent: the buffer is one rollout, read whole, with no warm-up.
    assert (config.replay_capacity, config.batch_size, config.min_replay_size) == (128, 128, 0)
    assert PGConfig(rollout_length=7).replay_capacity == PGConfig(rollout_length=7).batch_size == 7


@pytest.mark.parametrize("cls, algo", [(SoftDQNConfig, "soft_dqn"), (PGConfig, "pg")])
@pytest.mark.parametrize("name", ["multigoal", "mujoco", "Classic"])
def test_discrete_agents_name_the_one_preset_they_take(cls, algo, name):
    with pytest.raises(ValueError) as err:
        cls.preset_for(name, "CartPole-v1")
    assert str(err.value) == f"{algo} has no preset {name!r}; it takes: classic"


def test_reward_scale_is_one_over_alpha_and_infinite_at_alpha_zero():
    assert SQLConfig(alpha=4.0).reward_scale == 0.25 and SQLConfig().reward_scale == 0.1
    assert SQLConfig(alpha=0.0).reward_scale == float("inf")


@pytest.mark.parametrize("config", [SQLConfig(), DDPGConfig(), SACConfig(), SoftDQNConfig(), PGConfig()])
def test_replace_changes_only_the_named_fields_and_validates_them(config):
    new = config.replace(total_steps=123, discount=0.5)
    assert type(new) is type(config) and (new.total_steps, new.discount) == (123, 0.5)
    assert {k: v for k, v in _fields(new).items() if k not in ("total_steps", "discount")} == {
        k: v for k, v in _fields(config).items() if k not in ("total_steps", "discount")}
    assert config.total_steps != 123  # frozen: the original is unchanged
    with pytest.raises(ValueError, match="^discount must lie in"):
        config.replace(discount=2.0)


def test_field_kinds_are_read_from_evaluated_annotations_too():
    """``_check_types`` reads a field's kind from its annotation's text (``from __future__ import annotations``,
    as in every config here) or from the evaluated type (a config class written without that import)."""
    from softq_ref.agent.config import _check_types

    cls = dataclasses.make_dataclass("Evaluated", [("lr", float), ("n", int), ("name", str),
                                                   ("sizes", tuple[int, ...]), ("entropy", float | None)])
    _check_types(cls(lr=1, n=2, name="a", sizes=(3,), entropy=None))
    _check_types(cls(lr=0.5, n=2, name="a", sizes=(3, 1), entropy=-2.0))
    for changes, message in [({"lr": "1"}, "lr must be a number, got '1'"), ({"n": 2.0}, "n must be an int, got 2.0"),
                             ({"name": None}, "name must be a string, got None"),
                             ({"sizes": ()}, "sizes must be a non-empty tuple of positive ints, got ()"),
                             ({"entropy": "x"}, "entropy must be a number or None, got 'x'")]:
        with pytest.raises(ValueError) as err:
            _check_types(cls(**{**dict(lr=1, n=2, name="a", sizes=(3,), entropy=None), **changes}))
        assert str(err.value) == message
