"""Properties of Algorithm 1 as composed in ``train_step`` (issue 15, item 3), each with a must-fail twin.

* discount 0: the target is the reward; nothing about s' (the target network, the next observations,
  the value samples) can change the Q update;
* every transition terminal: the next value never enters, at any discount;
* one fixed particle equal to the updated one (a sampler that ignores its noise) and alpha = 0: the
  SVGD step is the deterministic policy gradient, the sampler moves along grad_a Q of the *online* Q;
* DDPG with every transition terminal: the critic's update does not see the target networks.

A twin replaces one function ``train_step`` composes with a deliberately broken one (a port's bug)
and asserts that the same property then fails.  The states and the calls into the agent come from the
adapters of ``test_golden_step`` (one place to change when the agent API moves).
"""

from __future__ import annotations

import copy

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from golden import vectors_io as vio
from test_golden_step import (
    GOLDEN_KEY,
    _batch,
    _read_net,
    _set_net,
    golden_sql_draws,
    make_ddpg_state,
    make_sql_state,
    read_ddpg,
    read_sql,
)


def _sql_jit(fresh):
    """``sql.train_step`` jitted; ``fresh`` traces anew (so that a monkeypatched piece is really used)."""
    from softq_ref.agent import sql

    if fresh:
        # JAX can reuse a trace of the unpatched step even for a new wrapper: start from empty caches.
        jax.clear_caches()
        _CACHE.clear()
        return jax.jit(lambda s, b, k: sql.train_step(s, b, k))
    if "sql" not in _CACHE:
        _CACHE["sql"] = jax.jit(sql.train_step)
    return _CACHE["sql"]


def _ddpg_jit(fresh):
    from softq_ref.agent import ddpg

    if fresh:
        jax.clear_caches()
        _CACHE.clear()
        return jax.jit(lambda s, b, k: ddpg.train_step(s, b, k))
    if "ddpg" not in _CACHE:
        _CACHE["ddpg"] = jax.jit(ddpg.train_step)
    return _CACHE["ddpg"]


_CACHE = {}


def sql_step(case, fn):
    new, metrics = fn(make_sql_state(case), _batch(case), jax.random.PRNGKey(GOLDEN_KEY))
    return read_sql(new), {k: float(v) for k, v in metrics.items()}


def ddpg_step(case, fn):
    new, metrics = fn(make_ddpg_state(case), _batch(case), jax.random.PRNGKey(GOLDEN_KEY))
    return read_ddpg(new), {k: float(v) for k, v in metrics.items()}


def _same_nets(a, b):
    return all(np.array_equal(x, y) for (wa, ba), (wb, bb) in zip(a, b) for x, y in ((wa, wb), (ba, bb)))


def _scrambled_future(case, seed=5):
    """The same case with everything about s' changed: another target network, other next observations."""
    rng = np.random.default_rng(seed)
    other = copy.deepcopy(case)
    other["q_target"] = [(w * 3.0 + rng.normal(0, 1, w.shape), b + 5.0) for w, b in case["q_target"]]
    if "actor_target" in other:
        other["actor_target"] = [(-w, b + 1.0) for w, b in case["actor_target"]]
    other["batch"]["next_obs"] = rng.uniform(-1, 1, case["batch"]["next_obs"].shape).astype(np.float32).astype(np.float64)
    return other


def q_update_ignores_the_future(case, algo="sql", fresh=False):
    """The new Q (and the Q loss) are the same whatever s' and the target network are."""
    step, fn = (sql_step, _sql_jit(fresh)) if algo == "sql" else (ddpg_step, _ddpg_jit(fresh))
    a, ma = step(case, fn)
    b, mb = step(_scrambled_future(case), fn)
    assert _same_nets(a["q"], b["q"]), "the Q update depends on the next state"
    assert ma["q_loss"] == mb["q_loss"], "the Q loss depends on the next state"
    return a, ma


def _discount_zero(case):
    return {**case, "hparams": {**case["hparams"], "discount": 0.0}}


def _all_terminal(case):
    c = copy.deepcopy(case)
    c["batch"]["done"] = np.ones_like(c["batch"]["done"])
    return c


# --------------------------------------------------------------------------- discount 0
def test_discount_zero_target_is_the_reward():
    case = _discount_zero(vio.sql_case())
    got, metrics = q_update_ignores_the_future(case)
    # and the loss is that of regressing on r itself: 0.5 mean (r - Q(s, a))^2, computed independently
    from golden.numpy_ref import q_values

    q_pred = q_values(case["q"], case["batch"]["obs"], case["batch"]["action"])
    np.testing.assert_allclose(metrics["q_loss"], 0.5 * np.mean((case["batch"]["reward"] - q_pred) ** 2), rtol=1e-5)


def test_discount_zero_catches_a_target_that_ignores_the_discount(monkeypatch):
    from softq_ref.agent import sql
    from softq_ref.core import soft_bellman_target

    monkeypatch.setattr(sql, "soft_bellman_target", lambda r, g, d, v: soft_bellman_target(r, 0.99, d, v))
    with pytest.raises(AssertionError):
        q_update_ignores_the_future(_discount_zero(vio.sql_case()), fresh=True)


# ---------------------------------------------------------------------- all terminal
def test_all_terminal_next_value_never_enters():
    q_update_ignores_the_future(_all_terminal(vio.sql_case()))


def test_all_terminal_catches_a_dropped_terminal_mask(monkeypatch):
    from softq_ref.agent import sql
    from softq_ref.core import soft_bellman_target

    monkeypatch.setattr(sql, "soft_bellman_target", lambda r, g, d, v: soft_bellman_target(r, g, jnp.zeros_like(d), v))
    with pytest.raises(AssertionError):
        q_update_ignores_the_future(_all_terminal(vio.sql_case()), fresh=True)


def test_ddpg_all_terminal_next_value_never_enters():
    q_update_ignores_the_future(_all_terminal(vio.ddpg_case()), algo="ddpg")


def test_ddpg_all_terminal_catches_a_dropped_terminal_mask(monkeypatch):
    from softq_ref.agent import ddpg
    from softq_ref.core import soft_bellman_target

    monkeypatch.setattr(ddpg, "soft_bellman_target", lambda r, g, d, v: soft_bellman_target(r, g, jnp.zeros_like(d), v))
    with pytest.raises(AssertionError):
        q_update_ignores_the_future(_all_terminal(vio.ddpg_case()), algo="ddpg", fresh=True)


# ------------------------------------------------- one particle, alpha 0: grad Q ascent
def _noise_blind(case):
    """K = M = 1, alpha = 0, and a sampler whose first layer ignores the noise: fixed == updated particle."""
    c = copy.deepcopy(case)
    c["sizes"] = {**c["sizes"], "num_fixed": 1, "num_updated": 1}
    c["hparams"] = {**c["hparams"], "alpha": 0.0}
    obs_dim = c["sizes"]["obs_dim"]
    w0, b0 = c["policy"][0]
    w0 = w0.copy()
    w0[:, obs_dim:] = 0.0
    c["policy"] = [(w0, b0), *c["policy"][1:]]
    return c


def sampler_follows_grad_q(case, fresh=False):
    """The sampler's new parameters are one Adam step on -mean_s Q(s, f(xi; s)), the online Q's ascent."""
    from softq_ref.agent.optim import adam_step

    got, metrics = sql_step(case, _sql_jit(fresh))
    state = make_sql_state(case)
    xi = jnp.asarray(golden_sql_draws(case)["xi_updated"], jnp.float32)  # [B, 1, d]
    obs = jnp.asarray(case["batch"]["obs"], jnp.float32)

    def loss(policy):
        a = jax.vmap(lambda o, z: policy(o, z[0]))(obs, xi)
        return -jnp.mean(jax.vmap(state.q)(obs, a))

    grads = eqx.filter_grad(loss)(state.policy)
    want, _ = adam_step(state.policy, grads, state.policy_opt_state)
    np.testing.assert_allclose(metrics["bandwidth"], 1e-3)  # coincident particles: the floor
    for (gw, gb), (ww, wb) in zip(got["policy"], _read_net(want)):
        np.testing.assert_allclose(gw, ww, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(gb, wb, rtol=1e-4, atol=1e-6)


def test_one_particle_alpha_zero_is_grad_q_ascent():
    sampler_follows_grad_q(_noise_blind(vio.sql_case()))


def test_one_particle_catches_svgd_following_the_target_q(monkeypatch):
    from softq_ref.agent import sql

    original = sql._svgd_log_target_grad
    monkeypatch.setattr(sql, "_svgd_log_target_grad", lambda q, obs, a, alpha: original(_TARGET[0], obs, a, alpha))
    case = _noise_blind(vio.sql_case())
    _TARGET[0] = make_sql_state(case).q_target
    with pytest.raises(AssertionError):
        sampler_follows_grad_q(case, fresh=True)


def test_one_particle_catches_a_flipped_drive_sign(monkeypatch):
    from softq_ref.agent import sql
    from softq_ref.core import svgd_direction

    monkeypatch.setattr(sql, "svgd_direction", lambda f, g, u, a, h: svgd_direction(f, -g, u, a, h))
    with pytest.raises(AssertionError):
        sampler_follows_grad_q(_noise_blind(vio.sql_case()), fresh=True)


_TARGET = [None]
