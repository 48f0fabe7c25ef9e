r"""The sampling network's equations: the RBF kernel and its bandwidth, the SVGD direction (eq. (13)),
the surrogate whose gradient is that direction (eq. (14)), and the tanh squashing's log-Jacobian.

Targets: ``svgd_direction``, ``rbf_kernel``, ``median_bandwidth``, ``svgd_surrogate``,
``tanh_log_det_jacobian``, with their golden cases, Hypothesis inputs and tolerance
scales.  The traps: one particle, coincident particles (the bandwidth's floor), the sign
of the repulsion, the lower median, and actions at the edge of the tanh box.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from softq_ref.conformance.declaration import (
    RANDOM, Case, Target, absolute, as_float64, drawn, like, normal, properties, x64,
)
from softq_ref.core import svgd as core_svgd


# --------------------------------------------------------------------------- golden cases


def kernel_cases() -> list[Case]:
    x, y = normal(14, (4, 2)), normal(15, (3, 2))
    return [
        ("ordinary", "4 and 3 particles in 2-D, h = 1", {"x": x, "y": y, "bandwidth": 1.0}),
        ("coincident", "x = y: k = 1, gradient 0", {"x": np.ones((2, 3)), "y": np.ones((2, 3)), "bandwidth": 0.5}),
        ("one-particle", "N = M = 1, d = 1", {"x": np.array([[0.5]]), "y": np.array([[-0.25]]), "bandwidth": 2.0}),
        ("bandwidth-1e-3", "the floor: distant particles give k = 0", {"x": x, "y": y, "bandwidth": 1e-3}),
        ("bandwidth-1e3", "nearly flat kernel", {"x": x, "y": y, "bandwidth": 1e3}),
        ("d6", "6-D particles", {"x": normal(16, (3, 6)), "y": normal(17, (2, 6)), "bandwidth": 4.0}),
    ]


def bandwidth_cases() -> list[Case]:
    return [
        ("ordinary-8x8", "K = 8 fixed, 8 updated, 2-D: 64 distances, the lower median",
         {"x": normal(18, (8, 2)), "y": normal(19, (8, 2))}),
        ("odd-count", "3 x 5 = 15 distances: the middle one", {"x": normal(20, (3, 2)), "y": normal(21, (5, 2))}),
        ("even-count", "2 x 2: the lower of the two middle distances, not their mean",
         {"x": np.array([[0.0, 0.0], [3.0, 0.0]]), "y": np.array([[1.0, 0.0], [0.0, 2.0]])}),
        ("one-fixed", "N = 1: divide by log 2 (log 1 = 0)",
         {"x": np.array([[0.0]]), "y": np.array([[1.0], [2.0], [3.0]])}),
        ("coincident", "all particles equal: the floor 1e-3", {"x": np.zeros((4, 2)), "y": np.zeros((4, 2))}),
        ("clustered", "tiny distances: the floor 1e-3 applies",
         {"x": normal(22, (4, 2), 1e-3), "y": normal(23, (4, 2), 1e-3)}),
        ("d6-k16", "16 particles in 6-D (the MuJoCo setting)", {"x": normal(24, (16, 6)), "y": normal(25, (16, 6))}),
    ]


def direction_cases() -> list[Case]:
    fixed, grad_q, updated = normal(26, (4, 2)), normal(27, (4, 2), 3.0), normal(28, (3, 2))
    base = {"fixed": fixed, "grad_q": grad_q, "updated": updated}
    return [
        ("ordinary", "K = 4, M = 3, d = 2, alpha = 1, h = 1", {**base, "alpha": 1.0, "bandwidth": 1.0}),
        ("alpha-0", "no repulsion: a kernel-weighted mean of grad Q", {**base, "alpha": 0.0, "bandwidth": 1.0}),
        ("alpha-1e-6", "tiny repulsion", {**base, "alpha": 1e-6, "bandwidth": 0.5}),
        ("alpha-1e3", "repulsion dominates", {**base, "alpha": 1e3, "bandwidth": 2.0}),
        ("one-particle", "K = M = 1 at the same point: the direction is grad Q",
         {"fixed": np.array([[0.3, -0.2]]), "grad_q": np.array([[1.5, -4.0]]), "updated": np.array([[0.3, -0.2]]),
          "alpha": 1.0, "bandwidth": 1e-3}),
        ("coincident", "all particles equal: the repulsion cancels",
         {"fixed": np.zeros((3, 2)), "grad_q": normal(29, (3, 2)), "updated": np.zeros((2, 2)),
          "alpha": 2.0, "bandwidth": 1e-3}),
        ("d6-k16", "16 fixed and 16 updated particles in 6-D",
         {"fixed": normal(30, (16, 6)), "grad_q": normal(31, (16, 6)), "updated": normal(32, (16, 6)),
          "alpha": 0.1, "bandwidth": 3.0}),
    ]


def surrogate_cases() -> list[Case]:
    return [
        ("ordinary", "M = 4 actions in 2-D",
         {"updated_actions": np.tanh(normal(33, (4, 2))), "direction": normal(34, (4, 2))}),
        ("one-particle", "M = 1, d = 1", {"updated_actions": np.array([[0.5]]), "direction": np.array([[-2.0]])}),
        ("zero-direction", "no update: value 0, gradient 0",
         {"updated_actions": np.array([[0.1, 0.2]]), "direction": np.zeros((1, 2))}),
        ("large", "directions of 1e6",
         {"updated_actions": np.array([[1.0, -1.0]]), "direction": np.array([[1e6, 1e6]])}),
    ]


def tanh_cases() -> list[Case]:
    return [
        ("ordinary", "tanh of Gaussian pre-activations, d = 2", {"actions": np.tanh(normal(35, (4, 2)))}),
        ("zero", "a = 0: d log(1 + 1e-6)", {"actions": np.zeros((1, 3))}),
        ("edge", "|a| = 1: log(1e-6) per coordinate, finite",
         {"actions": np.array([[1.0, -1.0], [1.0, 0.0]])}),
        ("near-edge", "1 - a^2 below and near 1e-6",
         {"actions": np.array([[1.0 - 1e-12, -(1.0 - 1e-9)], [0.999999, -0.9999]])}),
        ("d6", "6-D actions", {"actions": np.tanh(normal(36, (2, 6), 2.0))}),
    ]


# --------------------------------------------------------------------------- randomised inputs (Hypothesis)


def _bandwidths(degenerate: bool):
    from softq_ref.conformance.strategies import st

    if degenerate:
        return st.sampled_from((1e-3, 1e3, 1.0))
    return st.one_of(st.sampled_from((1.0, 0.5, 2.0)), st.floats(1e-2, 10.0))


def _coincident(draw, n: int, d: int, bound: float) -> np.ndarray:
    from softq_ref.conformance.strategies import arrays

    point = draw(arrays((1, d), bound))
    return np.repeat(point, n, axis=0)


def _particle_sets(draw, n: int, m: int, d: int, degenerate: bool) -> tuple[np.ndarray, np.ndarray]:
    """``n`` and ``m`` particles in ``d`` dimensions; when degenerate, sometimes all at one point."""
    from softq_ref.conformance.strategies import arrays, st

    if degenerate and draw(st.booleans()):
        x = _coincident(draw, n, d, 3.0)
        return x, x[:1].repeat(m, axis=0)
    return draw(arrays((n, d), 3.0)), draw(arrays((m, d), 3.0))


def kernel_inputs(draw, degenerate: bool) -> dict:
    from softq_ref.conformance.strategies import st

    n = draw(st.sampled_from((3, 1)))
    m = draw(st.sampled_from((2, 1)))
    d = draw(st.sampled_from((2, 1)))
    x, y = _particle_sets(draw, n, m, d, degenerate)
    return {"x": x, "y": y, "bandwidth": draw(_bandwidths(degenerate))}


def bandwidth_inputs(draw, degenerate: bool) -> dict:
    from softq_ref.conformance.strategies import st

    n = draw(st.sampled_from((1, 3) if degenerate else (3, 1, 4)))  # N M of both parities (the lower median)
    m = draw(st.sampled_from((2, 5)))
    d = draw(st.sampled_from((2, 1)))
    x, y = _particle_sets(draw, n, m, d, degenerate)
    return {"x": x, "y": y}


def svgd_inputs(draw, alpha_kind: str, degenerate: bool) -> dict:
    from softq_ref.conformance.strategies import alphas, arrays, st

    k = draw(st.sampled_from((1, 3) if degenerate else (4, 1)))
    m = draw(st.sampled_from((1, 3) if degenerate else (3, 1)))
    d = draw(st.sampled_from((2, 1)))
    if degenerate and (k > 1 or draw(st.booleans())):  # coincident particles, or one particle anywhere
        fixed = _coincident(draw, k, d, 3.0)
        updated = fixed[:1].repeat(m, axis=0)
    else:
        fixed, updated = draw(arrays((k, d), 3.0)), draw(arrays((m, d), 3.0))
    return {
        "fixed": fixed,
        "grad_q": draw(arrays((k, d), 10.0)),
        "updated": updated,
        "alpha": draw(alphas("wide0" if alpha_kind == "wide" else alpha_kind)),
        "bandwidth": draw(_bandwidths(False)),
    }


def surrogate_inputs(draw) -> dict:
    from softq_ref.conformance.strategies import arrays, st

    m = draw(st.sampled_from((4, 1)))
    d = draw(st.sampled_from((2, 1)))
    return {"updated_actions": draw(arrays((m, d), 1.0)), "direction": draw(arrays((m, d), 10.0))}


def squashed_actions(draw, extreme: bool) -> dict:
    from softq_ref.conformance.strategies import arrays, st

    b = draw(st.sampled_from((1, 3)))
    d = draw(st.sampled_from((2, 1, 6)))
    edge = (1.0, -1.0, 0.0, 1.0 - 1e-12, -(1.0 - 1e-9), 0.999999) if extreme else ()
    actions = draw(arrays((b, d), 1.0, edge))
    return {"actions": actions}


# --------------------------------------------------------------------------- references that are not mechanical


@x64
def svgd_surrogate_reference(i):
    """eq. (14): ``svgd_surrogate`` and its gradient in the actions (``-direction``)."""
    actions, direction = as_float64(i["updated_actions"]), as_float64(i["direction"])
    value, grad = jax.value_and_grad(core_svgd.svgd_surrogate)(actions, direction)
    return {"value": value, "grad_updated_actions": grad}


# --------------------------------------------------------------------------- tolerance scales


def _kernel_terms(x, y, h):
    """(1 + (|x_i|^2 + |y_j|^2) / h) and |x_i| + |y_j|, both [N, M]: the kernel's sensitivity."""
    nx = np.linalg.norm(np.asarray(x, np.float64), axis=-1)
    ny = np.linalg.norm(np.asarray(y, np.float64), axis=-1)
    return 1.0 + (nx[:, None] ** 2 + ny[None, :] ** 2) / h, nx[:, None] + ny[None, :]


def scale_rbf_kernel(i, o):
    expo, size = _kernel_terms(i["x"], i["y"], i["bandwidth"])
    return {"k": like(expo, o["k"]), "grad_x": like((2.0 / i["bandwidth"] * size * expo)[..., None], o["grad_x"])}


def scale_median_bandwidth(i, o):
    expo, _ = _kernel_terms(i["x"], i["y"], 1.0)
    return {"bandwidth": like(np.max(expo) / math.log(max(np.shape(i["x"])[0], 2)), o["bandwidth"])}


def scale_svgd_direction(i, o):
    h, alpha = i["bandwidth"], i["alpha"]
    expo, size = _kernel_terms(i["fixed"], i["updated"], h)
    g = np.linalg.norm(np.asarray(i["grad_q"], np.float64), axis=-1)
    per_pair = expo * (g[:, None] + alpha * 2.0 / h * size)  # [K, M]
    return {"direction": like(np.mean(per_pair, axis=0)[:, None], o["direction"])}


def scale_svgd_surrogate(i, o):
    d, a = absolute(i["direction"]), absolute(i["updated_actions"])
    return {"value": like(np.sum(d * a), o["value"]), "grad_updated_actions": like(d, o["grad_updated_actions"])}


def scale_tanh_log_det_jacobian(i, o):
    a = np.asarray(i["actions"], np.float64)
    return {"log_det": like(np.sum(1.0 / (1.0 - a * a + core_svgd.TANH_EPS), axis=-1), o["log_det"])}


# --------------------------------------------------------------------------- targets


TARGETS: tuple[Target, ...] = (
    Target(
        name="svgd_direction", spec_id="eq-13", reference=core_svgd.svgd_direction,
        signature="f(fixed[K, d], grad_q[K, d], updated[M, d], alpha, bandwidth) -> direction[M, d]",
        inputs=("fixed", "grad_q", "updated", "alpha", "bandwidth"),
        kinds=("array", "array", "array", "float", "float"), outputs=("direction",),
        scale=scale_svgd_direction, vectors="svgd_direction.json", cases=direction_cases,
        summary="(1/K) sum_i [k(a_i, b_j) grad_q_i + alpha grad_{a_i} k(a_i, b_j)]",
        notes=("the mean over the K fixed particles",
               "the repulsion is alpha times the kernel's gradient in the fixed particle a_i"),
        properties=properties(("random", RANDOM, drawn(svgd_inputs, "moderate", False)),
                              ("temperature", "alpha in {0} and [1e-6, 1e3]", drawn(svgd_inputs, "wide", False)),
                              ("degenerate", "one particle, coincident particles",
                               drawn(svgd_inputs, "moderate", True))),
    ),
    Target(
        name="rbf_kernel", spec_id="eq-13", reference=core_svgd.rbf_kernel,
        signature="f(x[N, d], y[M, d], bandwidth) -> (k[N, M], grad_x[N, M, d])",
        inputs=("x", "y", "bandwidth"), kinds=("array", "array", "float"), outputs=("k", "grad_x"),
        scale=scale_rbf_kernel, vectors="rbf_kernel.json", cases=kernel_cases,
        summary="k = exp(-|x - y|^2 / h) and its gradient in x: -2 (x - y) / h k",
        notes=("h divides the squared distance (no factor 2, no square root)",
               "the gradient is with respect to the first argument"),
        properties=properties(("random", "particles in [-3, 3]^d, bandwidth in [0.01, 10]",
                               drawn(kernel_inputs, False)),
                              ("degenerate", "coincident particles, one particle, bandwidth 1e-3 or 1e3",
                               drawn(kernel_inputs, True))),
    ),
    Target(
        name="median_bandwidth", spec_id="eq-13", reference=core_svgd.median_bandwidth,
        signature="f(x[N, d], y[M, d]) -> bandwidth (a scalar)",
        inputs=("x", "y"), kinds=("array", "array"), outputs=("bandwidth",),
        scale=scale_median_bandwidth, vectors="median_bandwidth.json", cases=bandwidth_cases,
        summary="h = max(median_ij |x_i - y_j|^2 / log N, 1e-3); log 2 when N = 1",
        notes=("the lower median of the N M squared distances when N M is even (np.median averages: it differs)",
               "divide by log N, N the number of particles in x (the fixed set)"),
        properties=properties(("random", "1, 3 or 4 fixed and 2 or 5 updated particles in [-3, 3]^d",
                               drawn(bandwidth_inputs, False)),
                              ("degenerate", "coincident particles (the 1e-3 floor), one fixed particle",
                               drawn(bandwidth_inputs, True))),
    ),
    Target(
        name="svgd_surrogate", spec_id="eq-14", reference=core_svgd.svgd_surrogate,
        signature="f(updated_actions[M, d], direction[M, d]) -> value (a scalar); its gradient in updated_actions",
        inputs=("updated_actions", "direction"), kinds=("array", "array"), outputs=("value", "grad_updated_actions"),
        compute=svgd_surrogate_reference, scale=scale_svgd_surrogate,
        vectors="svgd_surrogate.json", cases=surrogate_cases,
        summary="-sum <stop_gradient(direction), actions>; its gradient in the actions is -direction",
        notes=("the gradient is taken by the adapter: autograd for torch and jax, central differences for numpy",),
        gradient=("updated_actions", "grad_updated_actions"),
        properties=properties(("random", "ordinary actions and directions", drawn(surrogate_inputs))),
    ),
    Target(
        name="tanh_log_det_jacobian", spec_id="def-tanh-squash", reference=core_svgd.tanh_log_det_jacobian,
        signature="f(actions[B, d]) -> log_det[B]",
        inputs=("actions",), kinds=("array",), outputs=("log_det",),
        scale=scale_tanh_log_det_jacobian,
        vectors="tanh_log_det_jacobian.json", cases=tanh_cases,
        summary="sum_l log(1 - a_l^2 + 1e-6) at squashed actions a",
        notes=("takes the squashed action a = tanh(u), not u; epsilon 1e-6 inside the log",),
        properties=properties(("random", "actions in [-1, 1]^d", drawn(squashed_actions, False)),
                              ("extreme", "actions at and next to +-1", drawn(squashed_actions, True))),
    ),
)
