"""The importance-sampled soft value of continuous actions: spec ``eq-10``.

$$V(s) = \\alpha \\log \\mathbb{E}_{q_{a'}}[\\exp(Q(s, a')/\\alpha) / q_{a'}(a')]$$ (Sec. 3.2 of
Haarnoja et al. 2017), estimated with K samples; the original code's proposal is uniform on
$[-1, 1]^d$ (Appendix C.2), whose log density ``uniform_log_density`` supplies.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy.special import logsumexp

from softq_ref.core import soft_value_is, uniform_log_density

ALPHA = 0.7


# The Q-functions are evaluated in NumPy (float64) on NumPy samples: only the estimator runs in JAX.


def q_1d(a):
    """A smooth, bimodal-ish Q on [-1, 1]: sin(3a) + a/2.  ``a`` is ``[..., 1]``."""
    return np.sin(3.0 * a[..., 0]) + 0.5 * a[..., 0]


def q_2d(a):
    """A smooth Q on [-1, 1]^2 that couples the coordinates.  ``a`` is ``[..., 2]``."""
    return np.sin(3.0 * a[..., 0]) * np.cos(2.0 * a[..., 1]) + 0.5 * a[..., 0] - 0.25 * a[..., 1] ** 2


def exact_soft_value_1d(alpha: float = ALPHA) -> float:
    """alpha log int_{-1}^{1} exp(Q(a)/alpha) da by adaptive quadrature (scipy.integrate.quad)."""
    value, _ = integrate.quad(lambda x: math.exp((math.sin(3 * x) + 0.5 * x) / alpha), -1.0, 1.0, epsabs=1e-13)
    return alpha * math.log(value)


def exact_soft_value_2d(alpha: float = ALPHA) -> float:
    """alpha log of the integral over [-1, 1]^2, by an 80 x 80 Gauss-Legendre product rule."""
    nodes, weights = np.polynomial.legendre.leggauss(80)
    x, y = np.meshgrid(nodes, nodes, indexing="ij")
    f = np.exp((np.sin(3 * x) * np.cos(2 * y) + 0.5 * x - 0.25 * y**2) / alpha)
    return alpha * math.log(weights @ f @ weights)


def _uniform_actions(seed, shape):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def check_is_converges(estimator, d: int, q_fn, exact: float, alpha: float = ALPHA) -> list[float]:
    """Fail unless ``estimator(q_samples, log_proposal, alpha)`` converges to ``exact`` as K grows.

    For K = 16, 256, 4096, 65536 uniform samples on [-1, 1]^d, 32 independent estimates
    each; the root-mean-square error must shrink by at least 0.6x per 16x more samples
    (Monte Carlo gives 0.25x) and end below 0.01.  Returns the errors.
    """
    log_q = uniform_log_density(d)
    errors = []
    with jax.enable_x64(True):
        for i, k in enumerate((16, 256, 4096, 65536)):
            q = q_fn(_uniform_actions(100 * d + i, (32, k, d)))
            estimates = np.asarray(estimator(jnp.asarray(q), log_q, alpha))
            errors.append(float(np.sqrt(np.mean((estimates - exact) ** 2))))
    for coarse, fine in zip(errors, errors[1:]):
        assert fine < 0.6 * coarse, f"error does not shrink with K: {errors}"
    assert errors[-1] < 0.01, f"estimate does not reach the exact soft value: {errors}"
    return errors


def test_eq10_exact_soft_values_agree_with_quadrature():
    # The two "exact" references agree with each other's method: quad vs. a product rule in 1-D.
    nodes, weights = np.polynomial.legendre.leggauss(80)
    one_d = ALPHA * math.log(weights @ np.exp((np.sin(3 * nodes) + 0.5 * nodes) / ALPHA))
    assert one_d == pytest.approx(exact_soft_value_1d(), abs=1e-12)
    inner = lambda y, x: math.exp((math.sin(3 * x) * math.cos(2 * y) + 0.5 * x - 0.25 * y * y) / ALPHA)  # noqa: E731
    two_d, _ = integrate.dblquad(inner, -1.0, 1.0, -1.0, 1.0, epsabs=1e-12)
    assert ALPHA * math.log(two_d) == pytest.approx(exact_soft_value_2d(), abs=1e-9)


@pytest.mark.parametrize("d, q_fn, exact_fn", [(1, q_1d, exact_soft_value_1d), (2, q_2d, exact_soft_value_2d)], ids=["d1", "d2"])
def test_eq10_uniform_proposal_converges_to_exact_soft_value(d, q_fn, exact_fn):
    check_is_converges(soft_value_is, d, q_fn, exact_fn())


def test_eq10_convergence_check_catches_broken_missing_log_k():
    def without_log_k(q, log_q, alpha):
        # A PyTorch port's slip: alpha * logsumexp(Q/alpha - log q), without -alpha log K.
        return soft_value_is(q, log_q, alpha) + alpha * math.log(q.shape[-1])

    with pytest.raises(AssertionError, match="does not shrink"):
        check_is_converges(without_log_k, 1, q_1d, exact_soft_value_1d())


def test_eq10_convergence_check_catches_broken_missing_proposal_density():
    def without_density(q, log_q, alpha):
        # Forgetting the importance weight 1/q (here + alpha d log 2): a constant offset.
        return soft_value_is(q, 0.0, alpha)

    with pytest.raises(AssertionError, match="does not (shrink|reach)"):
        check_is_converges(without_density, 2, q_2d, exact_soft_value_2d())


def test_eq10_k_equal_samples_closed_form():
    # K equal samples Q = c with log density l:
    #   V = alpha (log(K exp(c/alpha - l)) - log K) = c - alpha l.
    # Uniform on [-1, 1]^3 (l = -3 log 2), c = 1.3, alpha = 0.5, K = 7:
    #   V = 1.3 + 0.5 * 3 log 2 = 1.3 + 1.0397208 = 2.3397208.
    q = jnp.full((7,), 1.3)
    assert float(soft_value_is(q, uniform_log_density(3), 0.5)) == pytest.approx(2.3397208, rel=1e-6)
    # Per-sample log densities, all equal to l = 0.2 (a proposal of density e^0.2):  V = c - 0.5 * 0.2 = 1.2.
    assert float(soft_value_is(q, jnp.full((7,), 0.2), 0.5)) == pytest.approx(1.2, rel=1e-6)
    # A batch over axis 0: columns c = 0 and c = -2, alpha = 1, l = -log 2:  V = c + log 2.
    qb = jnp.array([[0.0, -2.0]] * 5)
    np.testing.assert_allclose(soft_value_is(qb, uniform_log_density(1), 1.0, axis=0), [math.log(2), -2 + math.log(2)], rtol=1e-6)


def test_eq10_alpha_zero_is_sample_max():
    q = jnp.array([0.3, -1.0, 2.5, 2.0])
    # alpha = 0: the proposal and the count drop out (they are multiplied by alpha); V = max_k Q_k.
    assert float(soft_value_is(q, uniform_log_density(2), 0.0)) == 2.5


def test_eq10_proposal_equal_to_target_is_exact_for_any_k():
    # Zero-variance importance sampling: if q_a' is the target density p = exp(Q/alpha) / Z itself,
    # every weight exp(Q/alpha)/p equals Z, so the estimate is alpha log Z for every K.
    # Take p(a) = (1 + a)/2 on [-1, 1] (sampled as 2 sqrt(u) - 1) and Q = alpha log p + c; then
    # exp(Q/alpha) = e^{c/alpha} p, Z = e^{c/alpha}, and the exact soft value is c.
    alpha, c = 0.4, 0.9
    rng = np.random.default_rng(5)
    u = rng.uniform(0.01, 1.0, size=(3, 50))
    a = 2.0 * np.sqrt(u) - 1.0
    log_p = np.log((1.0 + a) / 2.0)
    q = alpha * log_p + c
    with jax.enable_x64(True):
        for k in (1, 50):  # one sample, and 50 samples in each of three states
            v = soft_value_is(jnp.asarray(q[:, :k]), jnp.asarray(log_p[:, :k]), alpha)
            np.testing.assert_allclose(v, [c, c, c], rtol=0, atol=1e-12)


def test_eq10_biased_low_for_small_k():
    # Jensen: E[log mean(w)] <= log E[mean(w)] = log E[w], so the mean of many independent K-sample
    # estimates lies below the exact soft value, by about alpha Var(w) / (2 K E[w]^2).
    exact = exact_soft_value_1d()
    biases = {}
    with jax.enable_x64(True):
        for k in (4, 64):
            n = 20000
            q = q_1d(_uniform_actions(k, (n, k, 1)))
            estimates = np.asarray(soft_value_is(jnp.asarray(q), uniform_log_density(1), ALPHA))
            standard_error = estimates.std() / math.sqrt(n)
            biases[k] = estimates.mean() - exact
            assert biases[k] + 4 * standard_error < 0.0, (k, biases[k], standard_error)
            # The inner mean is unbiased: the average of exp(V_hat/alpha) matches exp(V/alpha).
            weights = np.exp(estimates / ALPHA) / math.exp(exact / ALPHA)
            assert abs(weights.mean() - 1.0) < 5 * weights.std() / math.sqrt(n)
    # The bias shrinks like 1/K.
    assert abs(biases[64]) < abs(biases[4]) / 4


def test_eq10_uniform_log_density_is_minus_d_log_2():
    for d in (1, 2, 6, 21):
        # Uniform on [-1, 1]^d has density 2^-d.
        assert uniform_log_density(d) == pytest.approx(-d * math.log(2.0), rel=1e-15)
    # A general box [low, high]^d has density (high - low)^-d: [0, 4]^2 gives -2 log 4.
    assert uniform_log_density(2, 0.0, 4.0) == pytest.approx(-2 * math.log(4.0), rel=1e-15)


@pytest.mark.parametrize("d", [1, 2, 6])
def test_eq10_matches_original_code_formula(d):
    # The original code (alpha = 1): V = logsumexp_k Q_k - log K + d log 2.
    # With an explicit temperature and the code's reward_scale = 1/alpha, its Q is ours over alpha,
    # so alpha * (logsumexp(Q/alpha) - log K + d log 2) is our V (spec dev-reward-scale, dev-is-constant).
    rng = np.random.default_rng(d)
    q = rng.normal(size=(5, 16)) * 3.0
    with jax.enable_x64(True):
        code_value = logsumexp(q, axis=-1) - math.log(16) + d * math.log(2.0)
        np.testing.assert_allclose(soft_value_is(jnp.asarray(q), uniform_log_density(d), 1.0), code_value, rtol=1e-12)
        alpha = 0.1
        code_value_scaled = alpha * (logsumexp(q / alpha, axis=-1) - math.log(16) + d * math.log(2.0))
        np.testing.assert_allclose(soft_value_is(jnp.asarray(q), uniform_log_density(d), alpha), code_value_scaled, rtol=1e-12)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0,), "positive int"),
        ((-2,), "positive int"),
        ((1.5,), "positive int"),
        ((True,), "positive int"),
        ((2, 1.0, 1.0), "low < high"),
        ((2, 1.0, -1.0), "low < high"),
        ((2, -math.inf, 1.0), "low < high"),
        ((2, -1.0, math.nan), "low < high"),
    ],
)
def test_eq10_uniform_log_density_bad_input_raises(args, message):
    with pytest.raises(ValueError, match=message):
        uniform_log_density(*args)


def test_eq10_soft_value_is_bad_input_raises():
    q = jnp.zeros((4,))
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        soft_value_is(q, 0.0, -1.0)
    with pytest.raises(ValueError, match="alpha must be finite"):
        soft_value_is(q, 0.0, float("nan"))
    with pytest.raises(ValueError, match="scalar"):
        soft_value_is(jnp.float32(0.0), 0.0, 1.0)
    with pytest.raises(ValueError, match="empty action axis"):
        soft_value_is(jnp.zeros((3, 0)), 0.0, 1.0)
