"""The agents' batched network calls: same values as the per-example modules, and the layout the CPU is fast at.

``softq_ref.agent.networks`` evaluates the networks on a minibatch as row-major products
(``MLP.rows``, ``MLP.at_pairs``) through ``dense``, a dense layer with a hand-written backward
pass whose weight gradient $g^\\top x$ reaches XLA's fast CPU matmul (docs/benchmarks.md).
These tests pin down (1) that each batched call computes the per-example function and its
gradients, and (2) on the CPU, that the compiled SAC and soft Q-learning steps contain no
matrix product left to XLA's slow generic dot. Each check has a must-fail twin run against a
deliberately broken version.
"""

from __future__ import annotations

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softq_ref.agent import sac, sql
from softq_ref.agent.config import SQLConfig
from softq_ref.agent.networks import MLP, QNetwork, SamplingNetwork, dense
from softq_ref.agent.replay import Transition

# float32: the batched products sum in another order than the per-example ones.
RTOL, ATOL = 1e-5, 1e-6


def _plain_dense(x, weight, bias):
    return x @ weight.T + bias[None, :]


def _dense_grads(fn, x, weight, bias, g):
    """The VJP of ``fn`` at ``(x, weight, bias)`` for cotangent ``g``."""
    _, vjp = jax.vjp(fn, x, weight, bias)
    return vjp(g)


@jax.custom_vjp
def _broken_dense(x, weight, bias):  # a planted bug: the weight gradient summed over the wrong factor order
    return x @ weight.T + bias[None, :]


_broken_dense.defvjp(
    lambda x, w, b: (_broken_dense(x, w, b), (x, w)),
    lambda res, g: (g @ res[1], (res[0].T @ g).T[::-1], jnp.sum(g, axis=0)),
)


def _dense_case(seed=0, n=12, n_in=5, n_out=7):
    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    return (jax.random.normal(k[0], (n, n_in)), jax.random.normal(k[1], (n_out, n_in)),
            jax.random.normal(k[2], (n_out,)), jax.random.normal(k[3], (n, n_out)))


def _vjp_matches_autodiff(fn) -> bool:
    x, w, b, g = _dense_case()
    got, want = _dense_grads(fn, x, w, b, g), _dense_grads(_plain_dense, x, w, b, g)
    same_value = np.allclose(fn(x, w, b), _plain_dense(x, w, b), rtol=RTOL, atol=ATOL)
    return same_value and all(np.allclose(a, e, rtol=RTOL, atol=ATOL) for a, e in zip(got, want))


def test_dense_is_a_linear_layer_with_the_autodiff_gradients():
    assert _vjp_matches_autodiff(dense)


def test_dense_gradient_check_catches_broken_backward():
    assert not _vjp_matches_autodiff(_broken_dense)


# --------------------------------------------------------------------- batched = per-example
def _nets():
    k = jax.random.split(jax.random.PRNGKey(1), 3)
    return (QNetwork(5, 3, (16, 16), key=k[0]), SamplingNetwork(5, 3, (16, 16), key=k[1]),
            sac.TanhGaussianActor(5, 3, (16, 16), key=k[2]))


@eqx.filter_jit
def _batched_and_per_example(q, policy, actor) -> dict:
    """Every batched call and ``jax.vmap`` of the per-example module, as ``{name: (got, want)}`` (one compiled program)."""
    k = jax.random.split(jax.random.PRNGKey(2), 5)
    obs, act = jax.random.normal(k[0], (6, 5)), jax.random.uniform(k[1], (6, 3), minval=-1.0, maxval=1.0)
    each = jax.random.uniform(k[2], (6, 4, 3), minval=-1.0, maxval=1.0)
    shared = each[0]
    keys = jax.random.split(k[3], 6)
    out = {
        "QNetwork.rows": (q.rows(obs, act), jax.vmap(q)(obs, act)),
        "QNetwork.at_pairs per state": (q.at_pairs(obs, each), jax.vmap(q.at_actions)(obs, each)),
        "QNetwork.at_pairs shared": (q.at_pairs(obs, shared), jax.vmap(q.at_actions, in_axes=(0, None))(obs, shared)),
        "QNetwork.at_pairs = vmap(vmap(q))": (q.at_pairs(obs, each),
                                              jax.vmap(lambda o, a: jax.vmap(q, in_axes=(None, 0))(o, a))(obs, each)),
        "SamplingNetwork.at_pairs": (policy.at_pairs(obs, each), jax.vmap(policy.at_noise)(obs, each)),
    }
    a_rows, lp_rows = actor.sample_rows(obs, keys)
    a_vmap, lp_vmap = jax.vmap(actor.sample)(obs, keys)
    out["TanhGaussianActor.sample_rows action"] = (a_rows, a_vmap)
    out["TanhGaussianActor.sample_rows log-prob"] = (lp_rows, lp_vmap)
    # Gradients: in the parameters (the losses) and in the actions (SVGD's grad_a Q).
    gq = eqx.filter_grad(lambda m: jnp.sum(jnp.square(m.rows(obs, act))))(q)
    gq_ref = eqx.filter_grad(lambda m: jnp.sum(jnp.square(jax.vmap(m)(obs, act))))(q)
    for i, pair in enumerate(zip(jax.tree.leaves(gq), jax.tree.leaves(gq_ref))):
        out[f"QNetwork.rows parameter gradient {i}"] = pair
    out["QNetwork.at_pairs action gradient"] = (jax.grad(lambda a: jnp.sum(q.at_pairs(obs, a)))(each),
                                                jax.grad(lambda a: jnp.sum(jax.vmap(q.at_actions)(obs, a)))(each))
    gp = eqx.filter_grad(lambda m: jnp.sum(m.at_pairs(obs, each) * each))(policy)
    gp_ref = eqx.filter_grad(lambda m: jnp.sum(jax.vmap(m.at_noise)(obs, each) * each))(policy)
    for i, pair in enumerate(zip(jax.tree.leaves(gp), jax.tree.leaves(gp_ref))):
        out[f"SamplingNetwork.at_pairs parameter gradient {i}"] = pair
    return out


def _batched_matches_per_example(q, policy, actor) -> list[str]:
    """The names of the batched calls that differ from the per-example modules beyond float32 rounding."""
    pairs = _batched_and_per_example(q, policy, actor)
    return [name for name, (got, want) in pairs.items() if not np.allclose(got, want, rtol=RTOL, atol=ATOL)]


def test_batched_calls_equal_the_vmapped_per_example_modules():
    assert _batched_matches_per_example(*_nets()) == []


class _ShuffledMLP(MLP):
    """A planted bug: ``at_pairs`` pairs each state with the wrong row of actions."""

    def at_pairs(self, shared, each):
        out = MLP.at_pairs(self, shared, each)
        return out[::-1] if each.ndim == 3 else out


def test_batched_check_catches_a_pairing_bug():
    q, policy, actor = _nets()
    broken_net = _ShuffledMLP.__new__(_ShuffledMLP)
    object.__setattr__(broken_net, "layers", q.net.layers)
    broken_q = eqx.tree_at(lambda m: m.net, q, broken_net)
    bad = _batched_matches_per_example(broken_q, policy, actor)
    assert "QNetwork.at_pairs per state" in bad


# --------------------------------------------------------------------- the compiled layout (CPU)
def _slow_dots(hlo_text: str) -> list[str]:
    """Matrix products (both output dimensions >= 8) that XLA did not hand to its YNNPACK matmul.

    On the CPU a product kept by XLA's fast path is the root of a ``__ynn_fusion`` computation;
    one left as a bare ``dot(`` in another computation runs through the generic dot emitter.
    """
    ynn_bodies = set(re.findall(r"calls=%([\w.\-]+), [^\n]*__ynn_fusion", hlo_text))
    slow, current = [], None
    for line in hlo_text.splitlines():
        head = re.match(r"^(?:ENTRY )?%([\w.\-]+) ", line)
        if head and line.rstrip().endswith("{"):
            current = head.group(1)
        m = re.search(r"= f32\[([\d,]*)\][^ ]* dot\(", line)
        if m and current not in ynn_bodies:
            dims = [int(x) for x in m.group(1).split(",") if x]
            if len(dims) == 2 and min(dims) >= 8:
                slow.append(line.strip()[:120])
    return slow


def _batch(b, obs_dim, act_dim):
    k = jax.random.split(jax.random.PRNGKey(3), 4)
    return Transition(obs=jax.random.normal(k[0], (b, obs_dim)),
                      action=jax.random.uniform(k[1], (b, act_dim), minval=-1.0, maxval=1.0),
                      reward=jax.random.normal(k[2], (b,)), next_obs=jax.random.normal(k[3], (b, obs_dim)),
                      done=jnp.zeros((b,)))


def _compiled_text(train_step, state, batch) -> str:
    return jax.jit(train_step).lower(state, batch, jax.random.PRNGKey(0)).compile().as_text()


# A string condition is evaluated when the test runs, not at import: collecting this file must not
# start JAX's backend (mutation testing forks workers after collection; docs/mutation.md).
cpu_only = pytest.mark.skipif("jax.default_backend() != 'cpu'", reason="XLA:CPU's matmul kernels (YNNPACK)")


def _sac_case():
    config = sac.SACConfig(hidden_sizes=(32, 32), batch_size=16)
    return sac.init(config, 5, 3, jax.random.PRNGKey(0)), _batch(16, 5, 3)


def _sql_case():
    config = SQLConfig(hidden_sizes=(32, 32), batch_size=16, num_fixed_particles=4, num_updated_particles=4,
                       value_samples=8)
    return sql.init(config, 5, 3, jax.random.PRNGKey(0)), _batch(16, 5, 3)


@cpu_only
def test_compiled_steps_leave_no_matrix_product_to_the_generic_dot():
    text = _compiled_text(sac.train_step, *_sac_case())
    if "__ynn_fusion" not in text:
        pytest.skip("this XLA build does not use YNNPACK for dots")
    assert _slow_dots(text) == []
    assert _slow_dots(_compiled_text(sql.train_step, *_sql_case())) == []


@cpu_only
def test_layout_check_catches_vmapped_per_example_layers():
    """The step as it was written before: ``jax.vmap`` of the per-example critics (``W x`` per row)."""
    state, batch = _sac_case()
    text = _compiled_text(sac.train_step, state, batch)
    if "__ynn_fusion" not in text:
        pytest.skip("this XLA build does not use YNNPACK for dots")

    def vmapped_critic_loss(critics, batch, target):
        return sum(jnp.mean(jnp.square(jax.vmap(q)(batch.obs, batch.action) - target)) for q in critics)

    def step(state, batch, key):
        target = sac.critic_target(state, batch, key)
        return eqx.filter_grad(vmapped_critic_loss)(state.critics, batch, target)

    assert _slow_dots(_compiled_text(step, state, batch)) != []
