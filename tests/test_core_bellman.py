"""The soft Bellman target and the soft Q-learning loss: spec ``eq-11``.

$$J_Q = \\mathbb{E}[\\tfrac12 (\\hat Q(s, a) - Q(s, a))^2], \\quad \\hat Q = r + \\gamma \\mathbb{E}[V(s')]$$
(Sec. 3.2 of Haarnoja et al. 2017), with the terminal mask of the original code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softq_ref.core import soft_bellman_target, soft_q_loss, soft_value


def test_eq11_target_closed_form():
    # r = [1, 2, -0.5], gamma = 0.9, done = [0, 1, 0], V' = [10, 10, -2]:
    #   target = [1 + 0.9 * 10, 2 + 0 (terminal), -0.5 + 0.9 * (-2)] = [10, 2, -2.3].
    target = soft_bellman_target(
        jnp.array([1.0, 2.0, -0.5]), 0.9, jnp.array([0.0, 1.0, 0.0]), jnp.array([10.0, 10.0, -2.0])
    )
    np.testing.assert_allclose(target, [10.0, 2.0, -2.3], rtol=1e-6)


def test_eq11_done_masks_the_bootstrap():
    reward = jnp.array([0.5, 0.5])
    next_value = jnp.array([1e6, -1e6])
    # Every transition terminal: the target is the reward alone, whatever V(s') is.
    np.testing.assert_array_equal(soft_bellman_target(reward, 0.99, jnp.array([True, True]), next_value), reward)
    # A scalar done flag and a per-sample discount are accepted:  0.5 + [0.5, 0] * 1e6 * (+-1).
    np.testing.assert_allclose(
        soft_bellman_target(reward, jnp.array([0.5, 0.0]), 0.0, next_value), [0.5 + 5e5, 0.5], rtol=1e-7
    )
    # gamma = 0 and gamma = 1 are the ends of the allowed range.
    np.testing.assert_array_equal(soft_bellman_target(reward, 0.0, 0.0, next_value), reward)
    np.testing.assert_allclose(soft_bellman_target(reward, 1.0, 0.0, next_value), reward + next_value)


def test_eq11_target_with_soft_value_of_next_state():
    # Two actions at s' with Q = [0, 0] and alpha = 1:  V(s') = log 2 (eq. (5)).
    # r = 1, gamma = 0.5:  target = 1 + 0.5 log 2 = 1.3465736.
    v_next = soft_value(jnp.array([[0.0, 0.0]]), 1.0)
    target = soft_bellman_target(jnp.array([1.0]), 0.5, jnp.array([0.0]), v_next)
    np.testing.assert_allclose(target, [1.3465736], rtol=1e-6)


def test_eq11_loss_closed_form():
    # q = [0, 4, 1], target = [2, 2, 1]:  errors [2, -2, 0], squares [4, 4, 0],
    #   J = 0.5 * mean([4, 4, 0]) = 0.5 * 8/3 = 4/3.
    loss = soft_q_loss(jnp.array([0.0, 4.0, 1.0]), jnp.array([2.0, 2.0, 1.0]))
    assert float(loss) == pytest.approx(4.0 / 3.0, rel=1e-6)
    assert loss.shape == ()
    # dJ/dq_i = (q_i - target_i) / n = [-2, 2, 0] / 3.
    grad = jax.grad(soft_q_loss)(jnp.array([0.0, 4.0, 1.0]), jnp.array([2.0, 2.0, 1.0]))
    np.testing.assert_allclose(grad, [-2 / 3, 2 / 3, 0.0], rtol=1e-6)


def test_eq11_no_gradient_through_target():
    reward = jnp.array([1.0, -1.0])
    done = jnp.array([0.0, 0.0])

    # A toy Q with one parameter theta: Q(s, a) = theta and V(s') = theta + 1, both from the same theta.
    def loss(theta):
        q_pred = jnp.stack([theta, theta])
        target = soft_bellman_target(reward, 0.9, done, jnp.stack([theta + 1.0, theta + 1.0]))
        return soft_q_loss(q_pred, target)

    theta = jnp.float32(0.5)
    # Semi-gradient: dJ/dtheta = mean(theta - target) with the target held constant.
    # target = r + 0.9 * 1.5 = [2.35, 0.35]; mean(0.5 - [2.35, 0.35]) = mean([-1.85, 0.15]) = -0.85.
    assert float(jax.grad(loss)(theta)) == pytest.approx(-0.85, rel=1e-6)
    # Directly: the target has zero derivative in each of its inputs.
    for argnum in (0, 1, 3):
        g = jax.grad(lambda *a: jnp.sum(soft_bellman_target(*a)), argnums=argnum)(reward, 0.9, done, reward)
        np.testing.assert_array_equal(g, jnp.zeros_like(g))


def test_eq11_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        soft_q_loss(jnp.zeros((3,)), jnp.zeros((3, 1)))
    with pytest.raises(ValueError, match="same shape"):
        soft_q_loss(jnp.zeros((3,)), jnp.zeros((2,)))
    # [B] reward with [B, 1] values would otherwise broadcast silently to [B, B].
    with pytest.raises(ValueError, match="next_value must have the shape of reward"):
        soft_bellman_target(jnp.zeros((3,)), 0.9, jnp.zeros((3,)), jnp.zeros((3, 1)))
    with pytest.raises(ValueError, match="done must be a scalar or have the shape of reward"):
        soft_bellman_target(jnp.zeros((3,)), 0.9, jnp.zeros((3, 1)), jnp.zeros((3,)))
    with pytest.raises(ValueError, match="discount must be a scalar or have the shape of reward"):
        soft_bellman_target(jnp.zeros((3,)), jnp.full((1,), 0.9), 0.0, jnp.zeros((3,)))


@pytest.mark.parametrize("discount", [-0.01, 1.01, float("nan"), float("inf")])
def test_eq11_discount_out_of_range_raises(discount):
    with pytest.raises(ValueError, match=r"discount must lie in \[0, 1\]"):
        soft_bellman_target(jnp.zeros((2,)), discount, jnp.zeros((2,)), jnp.zeros((2,)))


# --------------------------------------------------------------------------- found by mutation testing (docs/mutation.md)


def test_eq11_target_keeps_the_reward_dtype_when_the_other_inputs_are_wider():
    """A float32 critic's target stays float32 when done, the discount and V(s') arrive in float64."""
    with jax.enable_x64(True):
        target = soft_bellman_target(jnp.array([1.0, 2.0], jnp.float32), np.float64(0.5), np.array([0.0, 1.0]),
                                     np.array([4.0, 4.0]))
    assert target.dtype == jnp.float32
    np.testing.assert_array_equal(target, [3.0, 2.0])
