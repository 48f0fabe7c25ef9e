"""Amortised SVGD: spec ``eq-13`` (direction, kernel, bandwidth), ``eq-14`` (surrogate), ``def-tanh-squash``.

Sec. 3.3 and Appendices C.1, D.1 of Haarnoja et al. (2017); the kernel and bandwidth follow the
original code (spec ``dev-bandwidth``), the squashing correction its 2018 version (``dev-tanh``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from softq_ref.core import (
    median_bandwidth,
    rbf_kernel,
    svgd_direction,
    svgd_surrogate,
    tanh_log_det_jacobian,
)
from softq_ref.core.svgd import MIN_BANDWIDTH, TANH_EPS

# ---------------------------------------------------------------------------------------
# eq-13: the kernel
# ---------------------------------------------------------------------------------------


@functools.cache
def _kernel_and_jacobian(kernel_fn):
    """jit of (k, grad_x, d k / d x) for one kernel function: one compile per shape, h traced."""

    def run(x, y, bandwidth):
        k, grad_x = kernel_fn(x, y, bandwidth)
        return k, grad_x, jax.jacrev(lambda x_: kernel_fn(x_, y, bandwidth)[0])(x)

    return jax.jit(run)


def check_kernel_gradient(kernel_fn, x, y, bandwidth) -> None:
    """Fail unless ``kernel_fn(x, y, h)[1][i, j]`` is the autodiff gradient of ``k[i, j]`` in ``x_i``."""
    k, grad_x, jac = _kernel_and_jacobian(kernel_fn)(x, y, bandwidth)
    # The full Jacobian d k[i, j] / d x[l, :] is [n, m, n, d]; x_i only enters row i, so keep l = i.
    jac = np.asarray(jac)
    n = x.shape[0]
    expected = jac[np.arange(n), :, np.arange(n), :]  # [n, m, d]
    np.testing.assert_allclose(np.asarray(grad_x), expected, rtol=1e-9, atol=1e-12)
    # And only row i: the off-diagonal blocks of the Jacobian vanish.
    off = jac.copy()
    off[np.arange(n), :, np.arange(n), :] = 0.0
    np.testing.assert_array_equal(off, 0.0)
    assert k.shape == (x.shape[0], y.shape[0])


# Four shapes (each compiles once): 1 or 3 particles in x, 4 in y, dimension 1 or 2.
particle_sets = st.tuples(st.sampled_from([1, 3]), st.just(4), st.sampled_from([1, 2])).flatmap(
    lambda nmd: st.tuples(
        hnp.arrays(np.float64, (nmd[0], nmd[2]), elements=st.floats(-3.0, 3.0)),
        hnp.arrays(np.float64, (nmd[1], nmd[2]), elements=st.floats(-3.0, 3.0)),
        st.floats(0.05, 10.0),
    )
)


@given(particles=particle_sets)
def test_eq13_rbf_kernel_gradient_matches_autodiff(particles):
    x, y, h = particles
    with jax.enable_x64(True):
        check_kernel_gradient(rbf_kernel, jnp.asarray(x), jnp.asarray(y), h)


def test_eq13_kernel_gradient_check_catches_broken_sign():
    def wrong_sign_kernel(x, y, h):
        k, grad_x = rbf_kernel(x, y, h)
        # Differentiating exp(-|x - y|^2/h) in y instead of x flips the sign.
        return k, -grad_x

    x = np.array([[0.0, 1.0], [0.5, -0.2]])
    y = np.array([[0.3, 0.3], [-1.0, 0.0], [0.2, 1.0]])
    with jax.enable_x64(True):
        x, y = jnp.asarray(x), jnp.asarray(y)
        check_kernel_gradient(rbf_kernel, x, y, 0.7)  # the real one passes on the same input
        with pytest.raises(AssertionError):
            check_kernel_gradient(wrong_sign_kernel, x, y, 0.7)


def test_eq13_rbf_kernel_closed_form():
    x = jnp.array([[0.0, 0.0]])
    y = jnp.array([[1.0, 1.0], [0.0, 0.0]])
    # h = 2:  |x - y_0|^2 = 2, k = exp(-2/2) = e^-1;  |x - y_1|^2 = 0, k = 1.
    # grad_x k = -2 (x - y)/h k = -(x - y) k:  (1, 1) e^-1 for y_0, (0, 0) for y_1.
    k, grad_x = rbf_kernel(x, y, 2.0)
    np.testing.assert_allclose(k, [[math.exp(-1.0), 1.0]], rtol=1e-6)
    np.testing.assert_allclose(grad_x, [[[math.exp(-1.0)] * 2, [0.0, 0.0]]], rtol=1e-6, atol=1e-7)


def test_eq13_rbf_kernel_bad_input_raises():
    x = jnp.zeros((3, 2))
    with pytest.raises(ValueError, match="2 dimensions"):
        rbf_kernel(jnp.zeros((3,)), x, 1.0)
    with pytest.raises(ValueError, match="at least one particle"):
        rbf_kernel(jnp.zeros((0, 2)), x, 1.0)
    with pytest.raises(ValueError, match="same dimension"):
        rbf_kernel(jnp.zeros((3, 1)), x, 1.0)
    for h in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="bandwidth must be finite and > 0"):
            rbf_kernel(x, x, h)


# ---------------------------------------------------------------------------------------
# eq-13: the median bandwidth
# ---------------------------------------------------------------------------------------


def test_eq13_median_bandwidth_by_hand():
    # x = y = {0, 1, 3} (1-D): squared distances 0 1 9 / 1 0 4 / 9 4 0, sorted 0 0 0 1 1 4 4 9 9;
    # 9 of them, median (5th) = 1;  h = 1 / log 3 = 0.9102392.
    x = jnp.array([[0.0], [1.0], [3.0]])
    assert float(median_bandwidth(x, x)) == pytest.approx(1.0 / math.log(3.0), rel=1e-6)
    # Even count: x = {0, 2}, y = {0, 3}: squared distances 0, 9, 4, 1, sorted 0 1 4 9.
    # The lower median is 1 (not 4, nor the average 2.5);  h = 1 / log 2 (n = 2 fixed particles).
    assert float(median_bandwidth(jnp.array([[0.0], [2.0]]), jnp.array([[0.0], [3.0]]))) == pytest.approx(
        1.0 / math.log(2.0), rel=1e-6
    )
    # In 2-D: x = {(0, 0), (1, 1)}, y = {(0, 1)}: squared distances 1, 1; lower median 1;  h = 1 / log 2.
    assert float(median_bandwidth(jnp.array([[0.0, 0.0], [1.0, 1.0]]), jnp.array([[0.0, 1.0]]))) == pytest.approx(
        1.0 / math.log(2.0), rel=1e-6
    )


def test_eq13_median_bandwidth_floor_and_single_particle():
    # All particles coincide: the median is 0 and h is floored at 1e-3.
    same = jnp.ones((4, 2))
    assert float(median_bandwidth(same, same)) == pytest.approx(MIN_BANDWIDTH, rel=1e-6)
    assert MIN_BANDWIDTH == 1e-3
    assert float(median_bandwidth(same, same, min_bandwidth=0.5)) == pytest.approx(0.5)
    # One fixed particle: log 1 = 0, so we divide by log 2.  x = {0}, y = {2, 0, 5}: squared
    # distances 4, 0, 25, median 4;  h = 4 / log 2 = 5.7707802.
    h = median_bandwidth(jnp.array([[0.0]]), jnp.array([[2.0], [0.0], [5.0]]))
    assert float(h) == pytest.approx(4.0 / math.log(2.0), rel=1e-6)


@pytest.mark.parametrize("n, m", [(3, 3), (4, 4), (5, 2), (8, 8), (7, 9)])
def test_eq13_median_bandwidth_matches_original_code_top_k(n, m):
    # The original code takes the (nm//2 + 1) largest squared distances and keeps the smallest of
    # them, then divides by log n: a NumPy transcription of that recipe (our own, for the check).
    rng = np.random.default_rng(n * 10 + m)
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
    sq = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1).ravel()
    top = np.sort(sq)[::-1][: sq.size // 2 + 1]
    expected = max(top[-1] / math.log(n), 1e-3)
    with jax.enable_x64(True):
        assert float(median_bandwidth(jnp.asarray(x), jnp.asarray(y))) == pytest.approx(expected, rel=1e-12)


def test_eq13_median_bandwidth_has_no_gradient():
    x = jnp.array([[0.0, 0.1], [1.0, -0.5], [2.0, 0.3]])
    g = jax.grad(lambda p: median_bandwidth(p, p + 0.25))(x)
    np.testing.assert_array_equal(g, jnp.zeros_like(x))


# ---------------------------------------------------------------------------------------
# eq-13: the SVGD direction
# ---------------------------------------------------------------------------------------


def test_eq13_svgd_direction_closed_form():
    # One fixed particle a = 0 with grad Q = 2, one updated particle b = 1, h = 1, alpha = 0.5:
    #   k(a, b) = exp(-1);  grad_a k(a, b) = -2 (a - b)/h k = 2 exp(-1);
    #   direction = k * 2 + 0.5 * 2 exp(-1) = 3 exp(-1) = 1.1036383.
    d = svgd_direction(jnp.array([[0.0]]), jnp.array([[2.0]]), jnp.array([[1.0]]), 0.5, 1.0)
    np.testing.assert_allclose(d, [[3.0 * math.exp(-1.0)]], rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_eq13_single_particle_direction_is_grad_q(alpha):
    # K = 1 and updated == fixed: k(a, a) = 1 and grad k(a, a) = 0, so the direction is grad Q(a).
    # (alpha = 0 drops the repulsion altogether: SVGD becomes gradient ascent on Q.)
    a = jnp.array([[0.4, -0.7]])

    def q(x):
        return -jnp.sum((x - jnp.array([1.0, 2.0])) ** 2) + jnp.sin(x[0])

    grad_q = jax.grad(q)(a[0])[None, :]
    d = svgd_direction(a, grad_q, a, alpha, median_bandwidth(a, a))
    np.testing.assert_allclose(d, grad_q, rtol=1e-6)


def test_eq13_svgd_direction_matches_python_loop():
    # The vectorised direction against the sum of eq. (13) written out term by term.
    rng = np.random.default_rng(3)
    fixed, grad_q, updated = rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    alpha, h = 0.6, 0.8
    expected = np.zeros((4, 2))
    for j in range(4):
        for i in range(5):
            diff = fixed[i] - updated[j]
            k = math.exp(-diff @ diff / h)
            expected[j] += k * grad_q[i] + alpha * (-2.0 * diff / h) * k
    expected /= 5
    with jax.enable_x64(True):
        d = svgd_direction(jnp.asarray(fixed), jnp.asarray(grad_q), jnp.asarray(updated), alpha, h)
        np.testing.assert_allclose(d, expected, rtol=1e-12)


def _direction_loop(fixed, grad_q, updated, alpha, h):
    """Eq. (13) written out term by term in float64 NumPy."""
    expected = np.zeros(updated.shape)
    for j in range(updated.shape[0]):
        for i in range(fixed.shape[0]):
            diff = fixed[i] - updated[j]
            k = math.exp(-diff @ diff / h)
            expected[j] += k * grad_q[i] + alpha * (-2.0 * diff / h) * k
    return expected / fixed.shape[0]


@pytest.mark.parametrize("num_fixed", [1, 8, 32, 33, 48])
def test_eq13_svgd_direction_matches_the_loop_on_both_sides_of_the_written_out_sum(num_fixed):
    # Up to 32 fixed particles the sum over them is written out, above it is a product: both agree
    # with the term-by-term loop (1, 8 and 32 take the first path, 33 and 48 the second).
    rng = np.random.default_rng(num_fixed)
    fixed, grad_q = rng.normal(size=(num_fixed, 3)), rng.normal(size=(num_fixed, 3))
    updated = rng.normal(size=(7, 3))
    with jax.enable_x64(True):
        d = svgd_direction(jnp.asarray(fixed), jnp.asarray(grad_q), jnp.asarray(updated), 0.7, 1.3)
    np.testing.assert_allclose(d, _direction_loop(fixed, grad_q, updated, 0.7, 1.3), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("num_fixed, expect_product", [(32, False), (33, True)])
def test_eq13_direction_is_a_written_out_sum_up_to_32_fixed_particles_and_a_product_above(num_fixed, expect_product):
    # Which form is used changes no value (the test above), only the kernels XLA runs: up to 32
    # fixed particles no matrix product may appear in the lowered program, above 32 one does.
    # The bound counts fixed particles (the leading axis), not the action dimension.
    fixed, updated = jnp.zeros((num_fixed, 3)), jnp.zeros((5, 3))
    text = jax.jit(svgd_direction).lower(fixed, fixed, updated, 0.5, 1.0).as_text()
    assert ("dot_general" in text) == expect_product


@pytest.mark.parametrize("num_fixed", [8, 48])
def test_eq13_float32_direction_of_particles_far_from_the_origin_keeps_the_repulsion(num_fixed):
    # Particles 0.05 apart, 30 units from the origin, with a bandwidth that makes repulsion
    # dominate: the float32 direction must keep float32 accuracy relative to its own size (the
    # reference is the loop in float64 on the same float32-rounded inputs).  Measured: 2e-7 of the
    # largest entry; the form that sums k_ij a_i and (sum_i k_ij) b_j without first subtracting a
    # centre is off by 3e-4 here (it cancels two numbers near 30 whose difference is near 0.05).
    rng = np.random.default_rng(11)
    offset = np.array([30.0, -30.0])
    as32 = lambda x: np.asarray(x, np.float32)  # noqa: E731
    fixed = as32(offset + 0.05 * rng.normal(size=(num_fixed, 2)))
    updated = as32(offset + 0.05 * rng.normal(size=(5, 2)))
    grad_q = as32(0.01 * rng.normal(size=(num_fixed, 2)))
    h, alpha = 0.005, 1.0
    expected = _direction_loop(fixed.astype(np.float64), grad_q.astype(np.float64), updated.astype(np.float64), alpha, h)
    d = svgd_direction(jnp.asarray(fixed), jnp.asarray(grad_q), jnp.asarray(updated), alpha, h)
    assert d.dtype == jnp.float32
    np.testing.assert_allclose(d, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_eq13_svgd_direction_bad_input_raises():
    p = jnp.zeros((3, 2))
    with pytest.raises(ValueError, match="grad_q must have the shape of fixed"):
        svgd_direction(p, jnp.zeros((3, 1)), p, 1.0, 1.0)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        svgd_direction(p, p, p, -1.0, 1.0)
    with pytest.raises(ValueError, match="at least one particle"):
        svgd_direction(jnp.zeros((0, 2)), jnp.zeros((0, 2)), p, 1.0, 1.0)
    # The message names the argument that is wrong (found by mutation testing, docs/mutation.md).
    with pytest.raises(ValueError, match=r"^fixed needs at least one particle"):
        svgd_direction(jnp.zeros((0, 2)), jnp.zeros((0, 2)), p, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"^updated needs at least one particle"):
        svgd_direction(p, p, jnp.zeros((0, 2)), 1.0, 1.0)
    with pytest.raises(ValueError, match=r"^updated must have 2 dimensions"):
        svgd_direction(p, p, jnp.zeros(2), 1.0, 1.0)


GAUSS_MU, GAUSS_SIGMA, GAUSS_ALPHA = 1.5, 0.7, 0.5


def check_svgd_matches_gaussian(direction_fn, steps: int = 250, step_size: float = 0.5) -> tuple[float, float]:
    """Fail unless plain SVGD with ``direction_fn`` moves 100 particles to N(mu, sigma^2).

    Q(a) = -alpha |a - mu|^2 / (2 sigma^2), so exp(Q/alpha) is the Gaussian N(mu, sigma^2) and
    grad Q(a) = -alpha (a - mu) / sigma^2.  The particles start at N(-1, 0.3^2); every particle is
    both fixed and updated; the bandwidth is the median heuristic.  Returns (mean, variance).
    """

    def grad_q(a):
        return -GAUSS_ALPHA * (a - GAUSS_MU) / GAUSS_SIGMA**2

    def step(_, a):
        return a + step_size * direction_fn(a, grad_q(a), a, GAUSS_ALPHA, median_bandwidth(a, a))

    start = -1.0 + 0.3 * jax.random.normal(jax.random.key(0), (100, 1))
    final = jax.jit(lambda a: jax.lax.fori_loop(0, steps, step, a))(start)
    mean, var = float(jnp.mean(final)), float(jnp.var(final))
    assert abs(mean - GAUSS_MU) < 0.05, f"SVGD particle mean {mean} is not the target's {GAUSS_MU}"
    # SVGD with the median heuristic slightly underestimates the variance (about 4% here).
    assert 0.85 < var / GAUSS_SIGMA**2 < 1.15, f"SVGD particle variance {var} is not the target's {GAUSS_SIGMA**2}"
    return mean, var


def test_eq13_svgd_recovers_gaussian_target():
    check_svgd_matches_gaussian(svgd_direction)


def test_eq13_gaussian_check_catches_broken_no_repulsion():
    def no_repulsion(fixed, grad_q, updated, alpha, bandwidth):
        # Only the driving term: the particles all climb to the mode and the variance collapses.
        return svgd_direction(fixed, grad_q, updated, 0.0, bandwidth)

    with pytest.raises(AssertionError, match="variance"):
        check_svgd_matches_gaussian(no_repulsion)


def test_eq13_gaussian_check_catches_broken_temperature():
    def repulsion_without_alpha(fixed, grad_q, updated, alpha, bandwidth):
        # Forgetting alpha on the repulsive term (the code's temperature is 1): the particles then
        # sample exp(Q) instead of exp(Q/alpha), a Gaussian with variance sigma^2/alpha (twice the target's).
        return svgd_direction(fixed, grad_q, updated, 1.0, bandwidth)

    with pytest.raises(AssertionError, match="variance"):
        check_svgd_matches_gaussian(repulsion_without_alpha)


# ---------------------------------------------------------------------------------------
# eq-14: the surrogate whose gradient is the amortised SVGD update
# ---------------------------------------------------------------------------------------


def _tiny_sampler(params, noise):
    """A one-layer tanh map f(xi) = tanh(W xi + b): noise [M, p] -> actions [M, d]."""
    return jnp.tanh(noise @ params["w"].T + params["b"][None, :])


@jax.jit
def _surrogate_grads(params, noise, direction):
    """(grad of the surrogate in the parameters, the VJP of the directions, grad in the directions)."""
    grad = jax.grad(lambda p: svgd_surrogate(_tiny_sampler(p, noise), direction))(params)
    _, pullback = jax.vjp(lambda p: _tiny_sampler(p, noise), params)
    (vjp,) = pullback(direction)
    grad_direction = jax.grad(lambda d: svgd_surrogate(_tiny_sampler(params, noise), d))(direction)
    return grad, vjp, grad_direction


def test_eq14_surrogate_gradient_is_minus_direction_times_jacobian():
    rng = np.random.default_rng(7)
    params = {"w": rng.normal(size=(2, 3)).astype(np.float32), "b": rng.normal(size=(2,)).astype(np.float32)}
    noise = rng.normal(size=(6, 3)).astype(np.float32)
    direction = rng.normal(size=(6, 2)).astype(np.float32)
    grad, vjp, grad_direction = _surrogate_grads(params, noise, direction)
    # Eq. (14): dJ/dphi = -sum_j Delta f_j . d f(xi_j)/d phi, a vector-Jacobian product.
    for name in params:
        # float32: jax.grad and the explicit vjp contract in different orders (reassociation).
        np.testing.assert_allclose(grad[name], -vjp[name], rtol=1e-5, atol=1e-6)
    # The direction is a constant: no gradient reaches it.
    np.testing.assert_array_equal(grad_direction, np.zeros_like(direction))


def test_eq14_descent_moves_actions_along_direction():
    # One small gradient-descent step on the surrogate changes the actions by
    # -lr J J^T (-Delta f) = lr J J^T Delta f, whose inner product with Delta f is >= 0.
    params = {"w": jnp.array([[0.3, -0.2], [0.1, 0.4]]), "b": jnp.array([0.05, -0.1])}
    noise = jnp.array([[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]])
    direction = jnp.array([[1.0, 0.0], [0.0, -1.0], [0.5, 0.5]])
    grad = jax.grad(lambda p: svgd_surrogate(_tiny_sampler(p, noise), direction))(params)
    stepped = jax.tree.map(lambda p, g: p - 1e-3 * g, params, grad)
    moved = _tiny_sampler(stepped, noise) - _tiny_sampler(params, noise)
    assert float(jnp.sum(moved * direction)) > 0.0


def test_eq14_surrogate_closed_form_and_shape_check():
    # L = -sum_j <Delta f_j, f_j>:  -(1*2 + 3*(-1) + 0*5) = -(2 - 3) = 1.
    assert float(svgd_surrogate(jnp.array([[1.0, 3.0], [0.0, 4.0]]), jnp.array([[2.0, -1.0], [5.0, 0.0]]))) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        svgd_surrogate(jnp.zeros((3, 2)), jnp.zeros((2, 3)))


# ---------------------------------------------------------------------------------------
# def-tanh-squash
# ---------------------------------------------------------------------------------------


@jax.jit
def _tanh_log_abs_det_at(a):
    """log |det d tanh(u)/du| at u = arctanh(a), from the full Jacobian (jacfwd) of the d-dim map."""
    return jax.vmap(lambda row: jnp.linalg.slogdet(jax.jacfwd(jnp.tanh)(jnp.arctanh(row)))[1])(a)


def test_def_tanh_squash_log_det_matches_jacobian():
    # Squashed actions with |a| <= tanh(3) = 0.99505, so 1 - a^2 >= 0.0099.
    a_np = np.tanh(np.random.default_rng(11).uniform(-3.0, 3.0, size=(5, 3)))
    with jax.enable_x64(True):
        a = jnp.asarray(a_np)
        logdet = np.asarray(_tanh_log_abs_det_at(a))
        ours = np.asarray(tanh_log_det_jacobian(a))
    # The exact identity with the code's eps: sum log(1 - a^2 + eps) = logdet + sum log1p(eps / (1 - a^2)).
    np.testing.assert_allclose(ours, logdet + np.sum(np.log1p(TANH_EPS / (1.0 - a_np**2)), axis=-1), rtol=1e-10)
    # So the eps changes the result by less than d eps / min(1 - a^2) = 3e-6 / 0.0099 < 3.1e-4.
    np.testing.assert_allclose(ours, logdet, atol=3.1e-4)


def test_def_tanh_squash_closed_form_and_edge():
    # a = 0: log(1 + eps) = eps - eps^2/2 per coordinate;  a = (0.6, 0.8):  log(0.64 + eps) + log(0.36 + eps).
    with jax.enable_x64(True):
        np.testing.assert_allclose(tanh_log_det_jacobian(jnp.zeros((2,), dtype=jnp.float64)), 2e-6, rtol=1e-6)
    np.testing.assert_allclose(tanh_log_det_jacobian(jnp.array([0.6, 0.8])), math.log(0.64) + math.log(0.36), rtol=1e-5)
    # At the edge of the box the eps keeps it finite: log(eps) = -13.8155106 per coordinate.
    np.testing.assert_allclose(tanh_log_det_jacobian(jnp.array([[1.0, -1.0]])), [2 * math.log(1e-6)], rtol=1e-3)


# --------------------------------------------------------------------------- found by mutation testing (docs/mutation.md)


@pytest.mark.parametrize("fn", [lambda x, y: rbf_kernel(x, y, 1.0), median_bandwidth], ids=["rbf_kernel", "median_bandwidth"])
def test_eq13_kernel_and_bandwidth_errors_name_the_wrong_argument(fn):
    p = jnp.zeros((3, 2))
    with pytest.raises(ValueError, match=r"^x must have 2 dimensions, got shape \(2,\)"):
        fn(jnp.zeros(2), p)
    with pytest.raises(ValueError, match=r"^y must have 2 dimensions"):
        fn(p, jnp.zeros(2))
    with pytest.raises(ValueError, match=r"^x needs at least one particle"):
        fn(jnp.zeros((0, 2)), p)
    with pytest.raises(ValueError, match=r"^y needs at least one particle"):
        fn(p, jnp.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"^x and y must have the same dimension, got \(3, 2\) and \(3, 1\)"):
        fn(p, jnp.zeros((3, 1)))


def test_eq13_bandwidth_checks_name_the_bandwidth():
    p = jnp.zeros((3, 2))
    with pytest.raises(ValueError, match=r"^bandwidth must be finite and > 0"):
        rbf_kernel(p, p, 0.0)
    with pytest.raises(ValueError, match=r"^min_bandwidth must be finite and > 0"):
        median_bandwidth(p, p, min_bandwidth=0.0)


def test_eq14_surrogate_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"updated_actions and direction must have the same shape, got \(3, 2\) and \(3, 1\)"):
        svgd_surrogate(jnp.zeros((3, 2)), jnp.zeros((3, 1)))
