"""Amortised Stein variational gradient descent: the kernel, its bandwidth, eq. (13) and eq. (14).

Spec entries ``eq-13`` (SVGD direction, kernel and bandwidth), ``eq-14`` (the
sampler's surrogate loss) and ``def-tanh-squash`` (the squashed sampler's
log-Jacobian).  Reference: Haarnoja et al. (2017), Sec. 3.3 and Appendix C.1, D.1;
Liu and Wang (2016), "Stein Variational Gradient Descent".
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.core.validation import check_positive, check_rank, check_temperature, concrete_value

#: Smallest kernel bandwidth, as in the original code (``h_min = 1e-3``): keeps the
#: kernel defined when all particles coincide.
MIN_BANDWIDTH = 1e-3

#: Added inside ``log(1 - a^2 + eps)``, as in the original code, so that the log-Jacobian
#: stays finite at the box's edge.
TANH_EPS = 1e-6

#: Up to this many fixed particles ``svgd_direction`` writes its sum over them out term by term.
_UNROLLED_PARTICLES = 32


def _check_particles(x, name: str) -> None:
    check_rank(x, 2, name)
    if x.shape[0] == 0:
        raise ValueError(f"{name} needs at least one particle, got shape {x.shape}")


def rbf_kernel(x: jax.Array, y: jax.Array, bandwidth) -> tuple[jax.Array, jax.Array]:
    r"""The RBF kernel matrix and its gradient in the first argument (spec ``eq-13``).

    $$k(x_i, y_j) = \exp\big(-\lVert x_i - y_j \rVert^2 / h\big), \qquad
      \nabla_{x_i} k(x_i, y_j) = -\frac{2 (x_i - y_j)}{h} \, k(x_i, y_j)$$

    Args:
      x: particles ``[n, d]``.
      y: particles ``[m, d]``.
      bandwidth: $h > 0$, a scalar.

    Returns:
      ``(k, grad_x)``: the kernel matrix ``[n, m]`` and the gradient with respect to
        ``x_i`` of each entry, ``[n, m, d]``.

    Reference: the kernel of Eq. (13) and Appendix D.1 of Haarnoja et al. (2017).
    """
    _check_particles(x, "x")
    _check_particles(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape} and {y.shape}")
    check_positive(bandwidth, "bandwidth")
    diff = x[:, None, :] - y[None, :, :]
    sq_dist = jnp.sum(jnp.square(diff), axis=-1)
    k = jnp.exp(-sq_dist / bandwidth)
    grad_x = (-2.0 / bandwidth) * diff * k[:, :, None]
    return k, grad_x



_SAME_WIDTH_INT = {2: jnp.int16, 4: jnp.int32, 8: jnp.int64}


def _sorted_nonnegative(x: jax.Array) -> jax.Array:
    """``jnp.sort`` of non-negative floats, done on their bit patterns as integers.

    For IEEE floats >= 0 the order of the bit patterns, read as signed integers, is the
    order of the values (NaN sorting last, as ``jnp.sort`` puts it), so the result is the
    same, and an integer sort on the CPU is several times faster than XLA's float sort,
    which must order NaNs and signed zeros (measured in ``docs/benchmarks.md``: the
    multi-goal update went from 3.8 to 2.4 ms).  Squared distances are never negative.
    """
    int_type = _SAME_WIDTH_INT[x.dtype.itemsize]
    bits = jax.lax.sort(jax.lax.bitcast_convert_type(x, int_type), is_stable=False)
    return jax.lax.bitcast_convert_type(bits, x.dtype)


def median_bandwidth(x: jax.Array, y: jax.Array, min_bandwidth: float = MIN_BANDWIDTH) -> jax.Array:
    r"""The median-heuristic kernel bandwidth of the original code (spec ``eq-13``).

    $$h = \max\Big(\frac{\operatorname{med}_{i,j} \lVert x_i - y_j \rVert^2}{\log n},\; h_{\min}\Big)$$

    with $n$ the number of particles in ``x`` (the fixed set), the median taken
    over all $n m$ squared distances (the lower median when $nm$ is even, as the
    original code's ``top_k`` gives), $h_{\min} = 10^{-3}$, and no gradient
    through $h$.

    Why this formula: the kernel is $\exp(-\lVert x - y\rVert^2 / h)$, so $h$ is
    a squared distance; dividing the median squared distance by $\log n$ makes
    $\sum_j k(x_i, x_j) \approx 1 + \ldots$ (each particle's own weight balances the
    others'), the heuristic of Liu and Wang (2016).  The paper's Appendix D.1
    writes $h = d / (2 \log(M + 1))$ with $d$ the median distance, which is not in
    squared-distance units; the original code (``misc/kernel.py``), which produced
    the published results, uses median-of-squares over $\log K$.  We follow the
    code (spec deviation ``dev-bandwidth``).  For a single fixed particle
    $\log 1 = 0$; we divide by $\log 2$ instead (the code would divide by zero).

    Args:
      x: fixed particles ``[n, d]``.
      y: updated particles ``[m, d]``.
      min_bandwidth: the floor $h_{\min}$.

    Returns:
      A scalar bandwidth (no gradient).

    Reference: Appendix D.1 of Haarnoja et al. (2017); softqlearning ``misc/kernel.py``.
    """
    _check_particles(x, "x")
    _check_particles(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape} and {y.shape}")
    check_positive(min_bandwidth, "min_bandwidth")
    sq_dist = jnp.sum(jnp.square(x[:, None, :] - y[None, :, :]), axis=-1).reshape(-1)
    count = sq_dist.shape[0]
    median = _sorted_nonnegative(jax.lax.stop_gradient(sq_dist))[(count - 1) // 2]
    h = median / math.log(max(x.shape[0], 2))
    return jax.lax.stop_gradient(jnp.maximum(h, min_bandwidth))


def svgd_direction(fixed: jax.Array, grad_q: jax.Array, updated: jax.Array, alpha, bandwidth) -> jax.Array:
    r"""The amortised SVGD direction for each updated particle (spec ``eq-13``).

    $$\Delta f(\xi_j; s) = \frac{1}{K} \sum_{i=1}^{K} \Big[ k(a_i, b_j) \, \nabla_{a} Q(s, a)\big|_{a = a_i}
      + \alpha \, \nabla_{a_i} k(a_i, b_j) \Big]$$

    over the $K$ fixed particles $a_i$, for each updated particle $b_j = f(\xi_j; s)$.
    This is $\alpha$ times the SVGD direction toward $\exp(Q / \alpha)$; the first
    term pulls particles to high Q, the second (the kernel's repulsion) keeps them
    apart.  With one particle and $\alpha = 0$ it is $\nabla_a Q$.

    Args:
      fixed: the fixed particles $a_i$, ``[K, d]`` (no gradient is taken through them).
      grad_q: $\nabla_a Q(s, a)$ at each fixed particle, ``[K, d]`` — for a
        tanh-squashed sampler, the gradient of $Q + \alpha \log|\det J|$ (see
        ``tanh_log_det_jacobian``).
      updated: the updated particles $b_j$, ``[M, d]``.
      alpha: temperature >= 0.
      bandwidth: kernel bandwidth $h > 0$ (``median_bandwidth``).

    Returns:
      The direction ``[M, d]``.

    Reference: Eq. (13), Sec. 3.3 and Appendix C.1 of Haarnoja et al. (2017).
    """
    _check_particles(fixed, "fixed")
    _check_particles(updated, "updated")
    if grad_q.shape != fixed.shape:
        raise ValueError(f"grad_q must have the shape of fixed {fixed.shape}, got {grad_q.shape}")
    check_temperature(alpha)
    k, _ = rbf_kernel(fixed, updated, bandwidth)
    # The repulsion sum_i grad_{a_i} k(a_i, b_j) = -(2/h) sum_i k_ij (a_i - b_j) is evaluated as
    # -(2/h) [(k^T a)_j - (sum_i k_ij) b_j], so that drive and repulsion share one sum over i of
    # k_ij times a [d] row, instead of a [K, M, d] tensor summed over K.  Subtracting the fixed
    # particles' mean first (the difference is translation-invariant) keeps the cancellation in the
    # bracket to the particles' spread, not their offset.  For up to 32 fixed particles the sum over
    # i is written out, which XLA fuses into one element-wise kernel (as a product it is a small
    # batched dot that XLA:CPU runs as a generic loop).  Measured on the MuJoCo-preset update, in one
    # process, against the previous form: the same time on a quiet machine (0.999), 0.91 of it while
    # other processes load the cores (docs/benchmarks.md).
    center = jnp.mean(fixed, axis=0, keepdims=True)
    scale = 2.0 * alpha / bandwidth
    rows = grad_q - scale * (fixed - center)
    if fixed.shape[0] <= _UNROLLED_PARTICLES:
        pulled = sum(k[i][:, None] * rows[i][None, :] for i in range(fixed.shape[0]))
    else:
        pulled = k.T @ rows
    return (pulled + (scale * jnp.sum(k, axis=0))[:, None] * (updated - center)) / fixed.shape[0]


def svgd_surrogate(updated_actions: jax.Array, direction: jax.Array) -> jax.Array:
    r"""A scalar whose parameter gradient is eq. (14) (spec ``eq-14``).

    $$L(\phi) = -\sum_j \big\langle \operatorname{sg}[\Delta f(\xi_j; s)],\; f^\phi(\xi_j; s) \big\rangle,
      \qquad \nabla_\phi L = -\sum_j \Delta f(\xi_j; s) \, \frac{\partial f^\phi(\xi_j; s)}{\partial \phi}$$

    so that a minimiser (``optax``) moves every sampled action along its SVGD
    direction.  ``sg`` is ``stop_gradient``.  The sum runs over every particle and
    action coordinate, as the original code's ``tf.gradients(..., grad_ys=...)``;
    Appendix C.1's extra $1/M$ only rescales the gradient, which Adam undoes
    (spec deviation ``dev-surrogate-scale``).

    Args:
      updated_actions: $f^\phi(\xi_j; s)$, ``[..., d]``, differentiable in $\phi$.
      direction: $\Delta f$, same shape (treated as a constant).

    Returns:
      A scalar.

    Reference: Eq. (14), Sec. 3.3 and Appendix C.1 of Haarnoja et al. (2017).
    """
    if updated_actions.shape != direction.shape:
        raise ValueError(
            f"updated_actions and direction must have the same shape, got {updated_actions.shape} and {direction.shape}"
        )
    return -jnp.sum(jax.lax.stop_gradient(direction) * updated_actions)


def tanh_log_det_jacobian(actions: jax.Array) -> jax.Array:
    r"""Log-determinant of the tanh squashing's Jacobian at squashed actions (spec ``def-tanh-squash``).

    $$\log \Big|\det \frac{\partial \tanh(u)}{\partial u}\Big| = \sum_{l=1}^{d} \log\big(1 - a_l^2 + \epsilon\big),
      \quad a = \tanh(u), \ \epsilon = 10^{-6}$$

    The original code adds this to Q in the SVGD target, so that the direction of
    eq. (13) accounts for the sampler's tanh output layer; the agent adds
    $\alpha$ times it (the code's temperature is 1).

    Args:
      actions: squashed actions in $[-1, 1]$, ``[..., d]``.

    Returns:
      ``[...]``.

    Reference: the squashed sampler of the original code (2018); spec deviation ``dev-tanh``.
    """
    value = concrete_value(actions)
    if value is not None and not np.all(np.abs(value) <= 1.0):
        bad = value[~(np.abs(value) <= 1.0)].ravel()[0]
        raise ValueError(f"actions must lie in the tanh box [-1, 1], got {float(bad)!r}")
    actions = jnp.asarray(actions)
    return jnp.sum(jnp.log(1.0 - jnp.square(actions) + TANH_EPS), axis=-1)
