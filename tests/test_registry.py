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
