"""A whole update, golden: one ``train_step`` of soft Q-learning (Algorithm 1) and of DDPG against an
independent float64 NumPy implementation (tests/golden/numpy_ref.py, which never imports softq_ref).

Same parameters, same batch, same random draws (the uniform value actions and the particles' noise are
drawn from the same ``jax.random`` splits as ``sql.train_step``), then every new parameter, the target
network, both Adam states (count, mu, nu), the Bellman target and every metric are compared.

Tolerance (float32 implementation vs float64 reference): ``|got - want| <= 2e-6 + 2e-4 |want|``.
float32 rounds at 6e-8 relative; the step chains about ten operations on O(1) values (two MLPs,
a logsumexp, a kernel, one Adam step), which puts the rounding of each output at a few 1e-7
relative; measured, the parameters use under a tenth of the bound (``test_golden_sql_step_error_is_small``).
Adam starts from non-zero moments (count 3): from zero moments its first step is
``lr * sign(g)``, blind to most errors in ``g``.  Each planted bug (``numpy_ref.SQL_BUGS``) moves some
output by far more than the tolerance, and the must-fail twins assert that it does.

Everything that touches softq_ref's agent API sits in the adapters at the top, so that a redesign of
``softq_ref.agent`` changes only them.
"""

from __future__ import annotations

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from golden import numpy_ref
from golden import vectors_io as vio

RTOL, ATOL = 2e-4, 2e-6
GOLDEN_KEY = 7  # the PRNG seed of the step's key


# ----------------------------------------------------------------------------------- adapters
def _layers(module):
    return module.net.layers


def _set_net(module, net):
    """``module`` with its MLP's weights replaced by the float64 ``[(W, b), ...]`` (cast to float32)."""
    leaves = [jnp.asarray(x, jnp.float32) for wb in net for x in wb]
    where = lambda mod: [x for layer in _layers(mod) for x in (layer.weight, layer.bias)]  # noqa: E731
    return eqx.tree_at(where, module, leaves)


def _read_net(module):
    return [(np.asarray(layer.weight, np.float64), np.asarray(layer.bias, np.float64)) for layer in _layers(module)]


def _set_adam(opt_state, adam, like):
    inner = opt_state.inner_state[0]
    inner = inner._replace(count=jnp.int32(adam["count"]), mu=_set_net(like, adam["mu"]), nu=_set_net(like, adam["nu"]))
    return opt_state._replace(count=jnp.int32(adam["count"]), inner_state=(inner, *opt_state.inner_state[1:]))


def _read_adam(opt_state):
    inner = opt_state.inner_state[0]
    return {"count": int(inner.count), "mu": _read_net(inner.mu), "nu": _read_net(inner.nu)}


def _batch(case):
    from softq_ref.agent.replay import Transition

    return Transition(**{k: jnp.asarray(v, jnp.float32) for k, v in case["batch"].items()})


def make_sql_state(case):
    from softq_ref.agent import SQLConfig, sql

    s, hp = case["sizes"], case["hparams"]
    config = SQLConfig(
        hidden_sizes=tuple(s["hidden_sizes"]), batch_size=s["batch"], num_fixed_particles=s["num_fixed"],
        num_updated_particles=s["num_updated"], value_samples=s["value_samples"], alpha=hp["alpha"],
        discount=hp["discount"], target_tau=hp["tau"], target_update_period=hp["period"],
        q_lr=hp["q_lr"], policy_lr=hp["pi_lr"],
    )
    state = sql.init(config, s["obs_dim"], s["action_dim"], jax.random.PRNGKey(0))
    q = _set_net(state.q, case["q"])
    return eqx.tree_at(
        lambda st: (st.q, st.q_target, st.policy, st.q_opt_state, st.policy_opt_state, st.step),
        state,
        (q, _set_net(state.q_target, case["q_target"]), _set_net(state.policy, case["policy"]),
         _set_adam(state.q_opt_state, case["q_adam"], state.q), _set_adam(state.policy_opt_state, case["policy_adam"], state.policy),
         jnp.int32(case["step"])),
    )


def sql_train_step(state, case):
    from softq_ref.agent import sql

    return jax.jit(sql.train_step)(state, _batch(case), jax.random.PRNGKey(GOLDEN_KEY))


def read_sql(state):
    return {"q": _read_net(state.q), "q_target": _read_net(state.q_target), "policy": _read_net(state.policy),
            "q_adam": _read_adam(state.q_opt_state), "policy_adam": _read_adam(state.policy_opt_state),
            "step": int(state.step)}


def golden_sql_draws(case):
    """The random numbers ``sql.train_step`` draws from its key, by the same splits (float64 copies)."""
    s = case["sizes"]
    b, k, m, kv, d = s["batch"], s["num_fixed"], s["num_updated"], s["value_samples"], s["action_dim"]
    k_value, k_fixed, k_updated = jax.random.split(jax.random.PRNGKey(GOLDEN_KEY), 3)
    f64 = lambda x: np.asarray(x, np.float64)  # noqa: E731
    return {
        "value_actions": f64(jax.random.uniform(k_value, (kv, d), jnp.float32, -1.0, 1.0)),
        "xi_fixed": f64(jax.random.normal(k_fixed, (b, k, d), jnp.float32)),
        "xi_updated": f64(jax.random.normal(k_updated, (b, m, d), jnp.float32)),
    }


def make_ddpg_state(case):
    from softq_ref.agent import DDPGConfig, ddpg

    s, hp = case["sizes"], case["hparams"]
    config = DDPGConfig(
        hidden_sizes=tuple(s["hidden_sizes"]), batch_size=s["batch"], discount=hp["discount"],
        reward_scale=hp["reward_scale"], target_tau=hp["tau"], target_update_period=hp["period"],
        q_lr=hp["q_lr"], policy_lr=hp["pi_lr"],
    )
    state = ddpg.init(config, s["obs_dim"], s["action_dim"], jax.random.PRNGKey(0))
    return eqx.tree_at(
        lambda st: (st.q, st.q_target, st.actor, st.actor_target, st.q_opt_state, st.actor_opt_state, st.step),
        state,
        (_set_net(state.q, case["q"]), _set_net(state.q_target, case["q_target"]), _set_net(state.actor, case["actor"]),
         _set_net(state.actor_target, case["actor_target"]), _set_adam(state.q_opt_state, case["q_adam"], state.q),
         _set_adam(state.actor_opt_state, case["actor_adam"], state.actor), jnp.int32(case["step"])),
    )


def ddpg_train_step(state, case):
    from softq_ref.agent import ddpg

    return jax.jit(ddpg.train_step)(state, _batch(case), jax.random.PRNGKey(GOLDEN_KEY))


def read_ddpg(state):
    return {"q": _read_net(state.q), "q_target": _read_net(state.q_target), "actor": _read_net(state.actor),
            "actor_target": _read_net(state.actor_target), "q_adam": _read_adam(state.q_opt_state),
            "actor_adam": _read_adam(state.actor_opt_state), "step": int(state.step)}


# --------------------------------------------------------------------------------- comparing
def mismatches(got, want, nets, adams, metrics=(), rtol=RTOL, atol=ATOL):
    """One line per output that differs beyond ``atol + rtol |want|``: empty when all agree."""
    out = []

    def close(name, g, w):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        err = np.abs(g - w) - (atol + rtol * np.abs(w))
        if g.shape != w.shape or not np.all(np.isfinite(g)) or np.any(err > 0):
            out.append(f"{name}: max |diff| {np.max(np.abs(g - w)) if g.shape == w.shape else 'shape'}")

    for n in nets:
        for i, ((gw, gb), (ww, wb)) in enumerate(zip(got[n], want[n], strict=True)):
            close(f"{n}[{i}].weight", gw, ww)
            close(f"{n}[{i}].bias", gb, wb)
    for a in adams:
        if got[a]["count"] != want[a]["count"]:
            out.append(f"{a}.count: {got[a]['count']} != {want[a]['count']}")
        for part in ("mu", "nu"):
            for i, ((gw, gb), (ww, wb)) in enumerate(zip(got[a][part], want[a][part], strict=True)):
                close(f"{a}.{part}[{i}].weight", gw, ww)
                close(f"{a}.{part}[{i}].bias", gb, wb)
    if got["step"] != want["step"]:
        out.append(f"step: {got['step']} != {want['step']}")
    for name in metrics:
        close(f"metric {name}", got["metrics"][name], want["metrics"][name])
    return out


def _budget_used(got, want, nets):
    """The largest ``|got - want| / (atol + rtol |want|)`` over the parameters: 1 is the tolerance."""
    used = []
    for n in nets:
        for (gw, gb), (ww, wb) in zip(got[n], want[n]):
            for g, w in ((gw, ww), (gb, wb)):
                used.append(np.max(np.abs(g - w) / (ATOL + RTOL * np.abs(w))))
    return max(used)


SQL_METRICS = ("q_loss", "mean_q", "soft_value", "svgd_direction_norm", "bandwidth", "policy_spread")
DDPG_METRICS = ("q_loss", "mean_q", "actor_loss")


@pytest.fixture(scope="module")
def sql_golden():
    case = vio.sql_case()
    new_state, metrics = sql_train_step(make_sql_state(case), case)
    got = read_sql(new_state)
    got["metrics"] = {k: float(v) for k, v in metrics.items()}
    return case, golden_sql_draws(case), got


@pytest.fixture(scope="module")
def ddpg_golden():
    case = vio.ddpg_case()
    new_state, metrics = ddpg_train_step(make_ddpg_state(case), case)
    got = read_ddpg(new_state)
    got["metrics"] = {k: float(v) for k, v in metrics.items()}
    return case, got


# ------------------------------------------------------------------------------------- SQL
def test_golden_sql_step_matches_the_numpy_reference(sql_golden):
    case, draws, got = sql_golden
    want = vio.run_sql(case, draws)
    # The case exercises every branch: a terminal and a non-terminal transition, a target copy on this step
    # (step 2 -> 3, period 3), a target network that differs from Q.
    assert set(case["batch"]["done"]) == {0.0, 1.0} and (case["step"] + 1) % case["hparams"]["period"] == 0
    assert not np.allclose(case["q"][0][0], case["q_target"][0][0])
    problems = mismatches(got, want, vio.NETS_SQL, vio.ADAMS_SQL, SQL_METRICS)
    assert not problems, "\n".join(problems)
    # the hard copy happened: the new target is the new Q
    for (tw, tb), (qw, qb) in zip(got["q_target"], got["q"]):
        np.testing.assert_array_equal(tw, qw)
        np.testing.assert_array_equal(tb, qb)


def test_golden_sql_step_without_a_target_update(sql_golden):
    case, draws, _ = sql_golden
    case = {**case, "hparams": {**case["hparams"], "period": 1000, "tau": 0.5}}  # traced: no recompile
    new_state, metrics = sql_train_step(make_sql_state(case), case)
    got = read_sql(new_state) | {"metrics": {k: float(v) for k, v in metrics.items()}}
    want = vio.run_sql(case, draws)
    problems = mismatches(got, want, vio.NETS_SQL, vio.ADAMS_SQL, SQL_METRICS)
    assert not problems, "\n".join(problems)
    for (tw, _), (ow, _) in zip(got["q_target"], case["q_target"]):
        np.testing.assert_array_equal(tw, ow)


def test_golden_sql_step_error_is_small(sql_golden):
    # The float32 step is far inside the stated tolerance (the measured margin of the docstring).
    case, draws, got = sql_golden
    want = vio.run_sql(case, draws)
    assert _budget_used(got, want, vio.NETS_SQL) < 0.1


@pytest.mark.parametrize("bug", numpy_ref.SQL_BUGS)
def test_golden_sql_catches_planted_bug(sql_golden, bug):
    # Must-fail twin: the reference with one planted bug of the kinds public ports have does not match.
    case, draws, got = sql_golden
    twin = vio.run_sql(case, draws, bug=bug)
    assert mismatches(got, twin, vio.NETS_SQL, vio.ADAMS_SQL, SQL_METRICS), f"planted bug {bug!r} went unnoticed"


def test_golden_sql_catches_a_wrong_adam_constant(sql_golden):
    case, draws, got = sql_golden
    saved = numpy_ref.ADAM_B2
    try:
        numpy_ref.ADAM_B2 = 0.99
        twin = vio.run_sql(case, draws)
    finally:
        numpy_ref.ADAM_B2 = saved
    assert mismatches(got, twin, vio.NETS_SQL, vio.ADAMS_SQL)


# ------------------------------------------------------------------------------------ DDPG
def test_golden_ddpg_step_matches_the_numpy_reference(ddpg_golden):
    case, got = ddpg_golden
    assert set(case["batch"]["done"]) == {0.0, 1.0}
    want = vio.run_ddpg(case)
    problems = mismatches(got, want, vio.NETS_DDPG, vio.ADAMS_DDPG, DDPG_METRICS)
    assert not problems, "\n".join(problems)
    assert _budget_used(got, want, vio.NETS_DDPG) < 0.1


@pytest.mark.parametrize("bug", numpy_ref.DDPG_BUGS)
def test_golden_ddpg_catches_planted_bug(ddpg_golden, bug):
    case, got = ddpg_golden
    twin = vio.run_ddpg(case, bug=bug)
    assert mismatches(got, twin, vio.NETS_DDPG, vio.ADAMS_DDPG, DDPG_METRICS), f"planted bug {bug!r} went unnoticed"


# ------------------------------------------------------------------------ spec/vectors files
def _assert_same_numbers(got, want, path="$"):
    """``got`` and ``want`` (parsed JSON) have the same structure and strings, and numbers equal to rtol 1e-12."""
    assert type(got) is type(want) or {type(got), type(want)} <= {int, float}, f"{path}: {type(got)} != {type(want)}"
    if isinstance(want, dict):
        assert got.keys() == want.keys(), f"{path}: keys differ"
        for k in want:
            _assert_same_numbers(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), f"{path}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same_numbers(g, w, f"{path}[{i}]")
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, err_msg=path)
    else:
        assert got == want, path


def test_sql_vector_file_is_the_reference_and_train_step_passes_it():
    doc, case, draws, want = vio.load("sql_train_step.json")
    # The file is what the float64 reference computes from its inputs (no drift), to float64 rounding: NumPy's
    # float64 kernels differ in the last bits between instruction sets (on an AVX2 EPYC, 2026-12-01, the text
    # differed from the one written on an AVX-512 Xeon), so the numbers are compared at rtol 1e-12, not the bytes ...
    _assert_same_numbers(json.loads(vio.dumps(vio.sql_document(case, draws))),
                         json.loads((vio.VECTORS_DIR / "sql_train_step.json").read_text()))
    # ... its draws are those train_step takes from its key (the random bits are the same on every backend;
    # the normals made of them go through each backend's own float32 inverse error function, which on an
    # H200 differed from the CPU's by 2 ulp in 2 of 32 numbers: hence 8 ulp, not equality) ...
    for name, x in golden_sql_draws(case).items():
        np.testing.assert_allclose(x, draws[name], rtol=8 * np.finfo(np.float32).eps, atol=0)
    # ... and one train_step from its inputs reproduces its outputs within the stated float32 tolerance.
    new_state, metrics = sql_train_step(make_sql_state(case), case)
    got = read_sql(new_state) | {"metrics": {k: float(v) for k, v in metrics.items()}}
    problems = mismatches(got, want, vio.NETS_SQL, vio.ADAMS_SQL, SQL_METRICS, doc["rtol_float32"], doc["atol_float32"])
    assert not problems, "\n".join(problems)


def test_ddpg_vector_file_is_the_reference_and_train_step_passes_it():
    doc, case, _, want = vio.load("ddpg_train_step.json")
    assert vio.dumps(vio.ddpg_document(case)) == (vio.VECTORS_DIR / "ddpg_train_step.json").read_text()
    new_state, metrics = ddpg_train_step(make_ddpg_state(case), case)
    got = read_ddpg(new_state) | {"metrics": {k: float(v) for k, v in metrics.items()}}
    problems = mismatches(got, want, vio.NETS_DDPG, vio.ADAMS_DDPG, DDPG_METRICS, doc["rtol_float32"], doc["atol_float32"])
    assert not problems, "\n".join(problems)


def test_vector_files_are_strict_json():
    for name in ("sql_train_step.json", "ddpg_train_step.json"):
        json.loads((vio.VECTORS_DIR / name).read_text(), parse_constant=lambda c: pytest.fail(f"{name}: {c}"))
