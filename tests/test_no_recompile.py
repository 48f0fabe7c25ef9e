"""``train_step`` compiles once: new arrays of the same shapes, a new temperature or a new
learning rate reuse the compiled program (alpha and the learning rates are traced values,
STYLE.md: "the whole update is one jit region, and a test proves the second call does not
recompile").  No timings here; ``python -m benchmarks`` measures speed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softq_ref.agent import sql
from softq_ref.agent.config import SQLConfig
from softq_ref.agent.replay import Transition

SMALL = dict(hidden_sizes=(16, 16), batch_size=8, num_fixed_particles=4, num_updated_particles=4, value_samples=4)


def _batch(seed, b=8, obs_dim=3, act_dim=2):
    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    return Transition(
        obs=jax.random.normal(k[0], (b, obs_dim)),
        action=jax.random.uniform(k[1], (b, act_dim), minval=-1.0, maxval=1.0),
        reward=jax.random.normal(k[2], (b,)),
        next_obs=jax.random.normal(k[3], (b, obs_dim)),
        done=jnp.zeros((b,)),
    )


def _fresh_jit():
    """``jax.jit(train_step)`` with a compilation cache of its own.

    ``jax.jit`` wrappers of one function share their cache, so ``jax.jit(sql.train_step)``
    would also count programs compiled by other tests; a new wrapper function does not.
    """
    return jax.jit(lambda state, batch, key: sql.train_step(state, batch, key))


@pytest.fixture
def compiled_once():
    """A freshly jitted ``train_step`` and a state, after one call (one compilation)."""
    step = _fresh_jit()
    state = sql.init(SQLConfig(**SMALL), 3, 2, jax.random.PRNGKey(0))
    state, _ = step(state, _batch(1), jax.random.PRNGKey(2))
    assert step._cache_size() == 1
    return step, state


def test_second_call_with_new_arrays_does_not_recompile(compiled_once):
    step, state = compiled_once
    for i in range(3):
        state, metrics = step(state, _batch(10 + i), jax.random.PRNGKey(20 + i))
    assert np.isfinite(float(metrics["q_loss"]))
    assert step._cache_size() == 1


@pytest.mark.parametrize(
    "change",
    [{"alpha": 0.25}, {"alpha": 3}, {"q_lr": 1e-2}, {"policy_lr": 5e-5}, {"discount": 0.9}, {"alpha": 0.5, "q_lr": 1e-3}],
    ids=lambda c: ",".join(c),
)
def test_changing_hyperparameters_does_not_recompile(compiled_once, change):
    step, state = compiled_once
    new_state = sql.with_hparams(state, **change)
    new_state, _ = step(new_state, _batch(3), jax.random.PRNGKey(4))
    assert step._cache_size() == 1, f"with_hparams({change}) recompiled train_step"


def test_the_new_hyperparameters_are_the_ones_used(compiled_once):
    """Guard against a cache hit that silently keeps the old value: a zero learning rate freezes Q."""
    step, state = compiled_once
    frozen = sql.with_hparams(state, q_lr=0.0, policy_lr=0.0)
    after, _ = step(frozen, _batch(5), jax.random.PRNGKey(6))
    for a, b in zip(jax.tree.leaves(after.q), jax.tree.leaves(state.q)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert step._cache_size() == 1


def test_with_hparams_leaves_the_original_state_unchanged():
    state = sql.init(SQLConfig(**SMALL), 3, 2, jax.random.PRNGKey(0))
    before = float(state.q_opt_state.hyperparams["learning_rate"])
    sql.with_hparams(state, q_lr=1.0, policy_lr=1.0)
    assert float(state.q_opt_state.hyperparams["learning_rate"]) == before
    assert float(state.policy_opt_state.hyperparams["learning_rate"]) == pytest.approx(SQLConfig().policy_lr)


def test_the_compile_count_would_catch_a_recompile():
    """The check can fail: a static setting (the number of value samples K_V fixes array shapes) recompiles."""
    step = _fresh_jit()
    for value_samples in (4, 6):
        state = sql.init(SQLConfig(**{**SMALL, "value_samples": value_samples}), 3, 2, jax.random.PRNGKey(0))
        step(state, _batch(1), jax.random.PRNGKey(2))
    assert step._cache_size() == 2


# --- every registered algorithm: the traced fields its config declares are what with_hparams changes ---


def _small(algo_name):
    from softq_ref.agent import registry

    algo = registry.get(algo_name)
    base = {"hidden_sizes": (16, 16), "batch_size": 8}
    if algo_name == "sql":
        base.update(num_fixed_particles=4, num_updated_particles=4, value_samples=4)
    return algo, algo.config_class(**base)


def _new_value(name, value):
    return 7 if name == "target_update_period" else (value * 0.5 if value else 0.1)


@pytest.mark.parametrize("algo_name", ["sql", "ddpg"])
def test_every_declared_traced_field_changes_without_recompiling(algo_name):
    """The config's traced fields (``traced_fields``) are exactly the keywords of ``algo.with_hparams``, and
    changing each of them reuses the compiled ``train_step`` and changes the state it acts on."""
    import inspect

    from softq_ref.agent.config import traced_fields

    algo, cfg = _small(algo_name)
    traced = traced_fields(cfg)
    keywords = {p.name for p in inspect.signature(algo.with_hparams).parameters.values() if p.kind == p.KEYWORD_ONLY}
    assert set(traced) == keywords
    step = jax.jit(lambda state, batch, key: algo.train_step(state, batch, key))
    state = algo.init(cfg, 3, 2, jax.random.PRNGKey(0))
    step(state, _batch(1), jax.random.PRNGKey(2))
    for name in traced:
        changed = algo.with_hparams(state, **{name: _new_value(name, getattr(cfg, name))})
        differs = any(not np.array_equal(np.asarray(a), np.asarray(b))
                      for a, b in zip(jax.tree.leaves(changed), jax.tree.leaves(state)))
        assert differs, f"with_hparams({name}=...) changed nothing"
        step(changed, _batch(3), jax.random.PRNGKey(4))
        assert step._cache_size() == 1, f"changing {name} recompiled {algo_name}.train_step"


def test_a_static_field_declared_traced_would_be_caught():
    """Must-fail twin: a size (value_samples) passed as if it were traced changes shapes and recompiles."""
    algo, cfg = _small("sql")
    step = jax.jit(lambda state, batch, key: algo.train_step(state, batch, key))
    for k in (4, 5):
        step(algo.init(cfg.replace(value_samples=k), 3, 2, jax.random.PRNGKey(0)), _batch(1), jax.random.PRNGKey(2))
    assert step._cache_size() == 2
