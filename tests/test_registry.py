"""Adding an algorithm is one module and one registry line: a test-only algorithm goes through the
CLI, the run directory (config saved by name, its own metric columns), checkpoint, resume and load.

``ToyAlgorithm`` below is the whole "module": a linear tanh policy regressed toward the actions of
rewarding transitions.  Nothing else in the package is edited; ``registry.register(TOY)`` is the line.
"""

from __future__ import annotations

import dataclasses
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import softq_ref
from softq_ref.agent import registry
from softq_ref.agent.algorithm import Algorithm
from softq_ref.agent.config import ConfigBase, static_fields, traced, traced_fields
from softq_ref.cli import main
from softq_ref.io.run_dir import read_metrics

# ------------------------------------------------------------------ the test-only algorithm's module


@dataclasses.dataclass(frozen=True)
class ToyConfig(ConfigBase):
    lr: float = traced(0.05)
    noise: float = traced(0.3)
    batch_size: int = 8
    replay_capacity: int = 10_000
    min_replay_size: int = 100
    max_path_length: int = 30
    total_steps: int = 200
    preset: str = "multigoal"

    @classmethod
    def preset_for(cls, name, env_id=None):
        return cls(preset=name)


class ToyState(eqx.Module):
    w: jax.Array
    lr: jax.Array
    noise: jax.Array
    step: jax.Array


def toy_init(config, obs_dim, action_dim, key):
    return ToyState(w=0.01 * jax.random.normal(key, (action_dim, obs_dim)), lr=jnp.float32(config.lr),
                    noise=jnp.float32(config.noise), step=jnp.zeros((), jnp.int32))


def toy_act(state, obs, key):
    del key
    return jnp.tanh(state.w @ obs)


def toy_explore(state, obs, key):
    return jnp.clip(toy_act(state, obs, key) + state.noise * jax.random.normal(key, (state.w.shape[0],)), -1.0, 1.0)


def toy_train_step(state, batch, key):
    del key
    weight = jax.nn.softmax(batch.reward)

    def loss_fn(w):
        pred = jnp.tanh(batch.obs @ w.T)
        return jnp.sum(weight * jnp.sum(jnp.square(pred - batch.action), axis=-1))

    loss, grad = jax.value_and_grad(loss_fn)(state.w)
    new = eqx.tree_at(lambda s: (s.w, s.step), state, (state.w - state.lr * grad, state.step + 1))
    return new, {"toy_loss": loss}


def toy_with_hparams(state, *, lr=None, noise=None):
    return eqx.tree_at(lambda s: (s.lr, s.noise), state,
                       (state.lr if lr is None else jnp.float32(lr), state.noise if noise is None else jnp.float32(noise)))


TOY = Algorithm("toy", toy_init, toy_train_step, toy_explore, toy_act, config_class=ToyConfig,
                metrics=("toy_loss",), with_hparams=toy_with_hparams, action_space="box")

# ------------------------------------------------------------------ the one registry line

registry.register(TOY)


@dataclasses.dataclass(frozen=True)
class RequiredConfig(ConfigBase):
    size: int


registry.register(TOY._replace(name="toy_required", config_class=RequiredConfig))


def _train(*args):
    return main(["train", "--algo", "toy", "--quiet", *args])


def test_the_toy_config_declares_its_traced_fields_once():
    assert traced_fields(ToyConfig) == ("lr", "noise")
    assert "batch_size" in static_fields(ToyConfig) and "lr" not in static_fields(ToyConfig)


def test_action_space_mismatch_names_both_kinds_and_shows_an_undeclared_kind_as_it_is():
    from softq_ref.agent.algorithm import action_space_mismatch

    assert action_space_mismatch(TOY, "CartPole-v1", "discrete") == (
        "CartPole-v1 has a Discrete action space; toy needs a Box (continuous) one")
    discrete = TOY._replace(action_space="discrete")
    assert action_space_mismatch(discrete, "Pendulum-v1", "box") == (
        "Pendulum-v1 has a Box (continuous) action space; toy needs a Discrete one")
    # A kind without a display name (a gymnasium MultiBinary space, a future kind) is named as given.
    assert action_space_mismatch(TOY, "Env-v0", "MultiBinary") == "Env-v0 has a MultiBinary action space; toy needs a Box (continuous) one"
    assert action_space_mismatch(TOY._replace(action_space="graph"), "Env-v0", "box") == (
        "Env-v0 has a Box (continuous) action space; toy needs a graph one")


def test_a_registered_algorithm_trains_checkpoints_resumes_and_loads(tmp_path, capsys):
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _train("--steps", "300", "--chunk-steps", "100", "--out", str(full)) == 0
    # Train 200 steps, then resume the run with --steps 300 (it is extended with the same chunks).
    assert _train("--steps", "200", "--chunk-steps", "100", "--out", str(cut)) == 0
    assert main(["train", "--resume", str(cut), "--steps", "300", "--quiet"]) == 0
    capsys.readouterr()

    meta = json.loads((cut / "config.json").read_text())
    assert meta["algo"] == "toy" and meta["config"]["total_steps"] == 300 and meta["config"]["config_version"] == 1
    rows = read_metrics(cut)
    assert list(rows[0]) == ["step", "seed", "episodes", "mean_return", "goal_0", "goal_1", "goal_2", "goal_3",
                             "toy_loss", "wall_time"]
    assert [int(r["step"]) for r in rows] == [100, 200, 300]
    assert all(np.isfinite(float(r["toy_loss"])) for r in rows[1:])
    assert (full / "checkpoint.eqx").read_bytes() == (cut / "checkpoint.eqx").read_bytes()

    agent = softq_ref.load(cut)
    assert agent.algo is TOY and isinstance(agent.config, ToyConfig) and agent.config.total_steps == 300
    a = agent.act(np.array([0.5, -0.5], np.float32), jax.random.PRNGKey(0))
    np.testing.assert_allclose(a, np.tanh(np.asarray(agent.state.w) @ np.array([0.5, -0.5])), rtol=1e-5, atol=1e-6)

    assert main(["evaluate", str(cut), "--episodes", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["algo"] == "toy" and len(report["seeds"][0]["returns"]) == 3


def test_an_undeclared_metric_fails_loudly(tmp_path, capsys):
    """Must-fail twin of the metric columns: a train_step reporting a metric its Algorithm does not list
    stops the run with a message naming it (it used to be dropped silently)."""

    def leaky_step(state, batch, key):
        new, metrics = toy_train_step(state, batch, key)
        return new, {**metrics, "secret": jnp.float32(1.0)}

    class LeakyConfig(ToyConfig):
        pass

    registry.register(TOY._replace(name="toy_leaky", train_step=leaky_step, config_class=LeakyConfig))
    code = main(["train", "--algo", "toy_leaky", "--steps", "150", "--chunk-steps", "100", "--quiet",
                 "--out", str(tmp_path / "leaky")])
    err = capsys.readouterr().err
    assert code == 2 and "secret" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_registering_a_different_algorithm_under_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(TOY._replace(metrics=("other",)))
    with pytest.raises(ValueError, match="already belongs to 'toy'"):
        registry.register(TOY._replace(name="toy_twin"))
    with pytest.raises(ValueError, match="unknown algorithm 'nope'"):
        registry.get("nope")


def test_registry_refusals_are_one_line_naming_the_algorithm_and_what_is_wrong():
    from softq_ref.agent import sql

    builtins = "sql, ddpg, sac, soft_dqn, pg"
    assert registry.names()[:5] == tuple(builtins.split(", "))
    cases = [
        (lambda: registry.register("sql"), TypeError, "expected an Algorithm, got str"),
        (lambda: registry.register(TOY._replace(name="t2", config_class=None)), ValueError,
         "algorithm 't2' needs a dataclass config_class"),
        (lambda: registry.register(TOY._replace(name="t2", config_class=int)), ValueError,
         "algorithm 't2' needs a dataclass config_class"),
        (lambda: registry.register(TOY._replace(name="t2", action_space="Box")), ValueError,
         "algorithm 't2': action_space must be one of ('box', 'discrete'), got 'Box'"),
        (lambda: registry.register(TOY._replace(name="t2", metrics=())), ValueError, "algorithm 't2' declares no metrics"),
        (lambda: registry.register(sql.ALGORITHM._replace(metrics=("x",))), ValueError,
         "an algorithm named 'sql' is already registered"),
        (lambda: registry.register(sql.ALGORITHM._replace(name="sql2")), ValueError,
         "algorithm 'sql2': config class SQLConfig already belongs to 'sql'"),
        (lambda: registry.for_config({"alpha": 1.0}), TypeError, "no registered algorithm has config class dict"),
        (lambda: registry.config_from_dict([1]), ValueError, "a config must be a JSON object, got list"),
        (lambda: registry.config_from_dict({"algo": "sql", "config_version": 2}), ValueError,
         "sql config version 2 is not the supported version 1"),
        (lambda: registry.config_from_dict({"algo": "ddpg", "config_version": "1"}), ValueError,
         "ddpg config version '1' is not the supported version 1"),
        (lambda: registry.config_from_dict({"zeta": 1, "alpha_": 2}), ValueError, "unknown sql config keys: ['alpha_', 'zeta']"),
        (lambda: registry.config_from_dict({"algo": "sac", "q_lr": "fast"}), ValueError,
         "q_lr must be a number, got 'fast'"),
        # A registered config class whose constructor raises TypeError (a required field left out).
        (lambda: registry.config_from_dict({"algo": "toy_required"}), ValueError,
         "bad toy_required config: RequiredConfig.__init__() missing 1 required positional argument: 'size'"),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind) as err:
            call()
        assert type(err.value) is kind and str(err.value) == message
    for name in ("nope", ["sql"], None):
        with pytest.raises(ValueError) as err:
            registry.get(name)
        assert str(err.value) == f"unknown algorithm {name!r}; known: {', '.join(registry.names())}"
        assert f"known: {builtins}" in str(err.value)
    with pytest.raises(ValueError, match="^unknown algorithm 'nope'; known: sql, ddpg"):
        registry.config_from_dict({"algo": "nope"})
    # Nothing refused was registered; registering the same value again is a no-op.
    assert "t2" not in registry.names() and "sql2" not in registry.names()
    assert registry.register(sql.ALGORITHM) is sql.ALGORITHM and registry.get("sql") is sql.ALGORITHM


def test_config_from_dict_defaults_to_sql_version_1_and_reads_json_lists_as_tuples():
    from softq_ref.agent.config import SQLConfig

    config = registry.config_from_dict({"hidden_sizes": [4, 4], "alpha": 2.0})
    assert config == SQLConfig(hidden_sizes=(4, 4), alpha=2.0) and type(config.hidden_sizes) is tuple
    saved = registry.config_to_dict(config)
    assert saved["algo"] == "sql" and saved["config_version"] == 1 and saved["hidden_sizes"] == (4, 4)
    assert set(saved) == {f.name for f in dataclasses.fields(SQLConfig)} | {"algo", "config_version"}
    assert registry.config_from_dict(json.loads(json.dumps(saved))) == config
    assert registry.config_to_dict(ToyConfig()) == {**dataclasses.asdict(ToyConfig()), "algo": "toy", "config_version": 1}


def test_buffer_action_dim_is_the_box_width_or_one_slot_for_a_discrete_index():
    assert TOY.buffer_action_dim(3) == 3 and type(TOY.buffer_action_dim(np.int64(3))) is int
    discrete = TOY._replace(action_space="discrete")
    assert discrete.buffer_action_dim(7) == 1 and discrete.buffer_action_dim(1) == 1
    assert [registry.get(n).buffer_action_dim(5) for n in ("sql", "ddpg", "sac", "soft_dqn", "pg")] == [5, 5, 5, 1, 1]
    assert Algorithm("a", *[None] * 4).action_space == "box" and not Algorithm("a", *[None] * 4).on_policy
    assert [registry.get(n).on_policy for n in ("sql", "ddpg", "sac", "soft_dqn", "pg")] == [False] * 4 + [True]


@pytest.mark.parametrize("raw, message", [
    ({"algo": "sac", "q_lr": "3e-4"}, "q_lr must be a number, got '3e-4'"),
    ({"algo": "sac", "learn_alpha": "false"}, "learn_alpha must be True or False, got 'false'"),
    ({"algo": "soft_dqn", "discount": None}, "discount must be a number, got None"),
    ({"algo": "pg", "discrete": "no"}, "discrete must be True or False, got 'no'"),
    ({"algo": "sql", "alpha": "10"}, "alpha must be a number, got '10'"),
])
def test_a_config_json_with_a_value_of_the_wrong_kind_is_one_line_naming_the_field(raw, message):
    """A hand-edited ``config.json`` of any algorithm: the field and the value named (not Python's bare
    "must be real number, not str"), and a string is never taken for ``True``."""
    with pytest.raises(ValueError) as err:
        registry.config_from_dict(raw)
    assert str(err.value) == message
