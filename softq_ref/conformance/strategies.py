r"""Hypothesis strategies for the inputs of every conformance target.

Each strategy draws a dict of float64 NumPy arrays and Python scalars keyed by the
target's argument names (see ``softq_ref.conformance.targets``).  Shapes come from a few
fixed sizes (each new shape makes JAX compile the reference again).  The strategies are
written so that Hypothesis shrinks to readable counterexamples: values shrink towards 0,
temperatures towards the first entry of their list (1, then 0.5, 2, ...), so that a
candidate that is right only at ``alpha = 1`` is reported with ``alpha = 0.5``.

Needs Hypothesis (the ``test`` extra).
"""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np

#: Temperatures tried first, in shrinking order.
MODERATE_ALPHAS = (1.0, 0.5, 2.0, 0.1, 10.0)
WIDE_ALPHAS = (1.0, 0.5, 2.0, 1e-3, 1e3, 1e-6, 0.1, 10.0)


def floats(bound: float) -> st.SearchStrategy[float]:
    """Finite floats in ``[-bound, bound]``, no subnormals (XLA on CPU flushes them)."""
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def alphas(kind: str) -> st.SearchStrategy[float]:
    """``moderate``: [0.05, 20]; ``wide``: [1e-6, 1e3], log-uniform; ``wide0`` adds 0."""
    if kind == "moderate":
        return st.one_of(st.sampled_from(MODERATE_ALPHAS), st.floats(0.05, 20.0))
    wide = st.one_of(st.sampled_from(WIDE_ALPHAS), st.floats(-6.0, 3.0).map(lambda e: float(10.0**e)))
    return st.one_of(wide, st.just(0.0)) if kind == "wide0" else wide


def arrays(shape, bound: float, extra=()) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` with entries in ``[-bound, bound]`` or from ``extra``."""
    elements = floats(bound) if not extra else st.one_of(st.sampled_from(extra), floats(bound))
    return hnp.arrays(np.float64, shape, elements=elements)


def _extreme_values(bound: float) -> tuple[float, ...]:
    return (0.0, bound, -bound, 1.0) if bound >= 1e3 else ()


# --------------------------------------------------------------------------- soft values


@st.composite
def q_and_alpha(draw, alpha_kind: str, bound: float) -> dict:
    """``q[B, A]`` and ``alpha``; one action and ties included."""
    b = draw(st.sampled_from((1, 3)))
    a = draw(st.sampled_from((2, 1, 5)))
    q = draw(arrays((b, a), bound, _extreme_values(bound)))
    return {"q": q, "alpha": draw(alphas(alpha_kind))}


def _normalise(weights: np.ndarray) -> np.ndarray:
    totals = weights.sum(axis=-1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / weights.shape[-1])
    safe = np.where(totals > 0, totals, 1.0)
    return np.where(totals > 0, weights / safe, uniform)


def _weights(shape, degenerate: bool) -> st.SearchStrategy[np.ndarray]:
    options = [st.just(0.0), st.floats(1e-3, 1.0)]
    if degenerate:
        options.append(st.floats(1e-300, 1e-250))
    return hnp.arrays(np.float64, shape, elements=st.one_of(*options))


@st.composite
def distributions(draw, degenerate: bool) -> dict:
    """``probs[B, A]``: rows summing to 1, some exact zeros (all-zero weights give a uniform row)."""
    b = draw(st.sampled_from((1, 3)))
    a = draw(st.sampled_from((1, 4) if degenerate else (3, 1, 5)))
    return {"probs": _normalise(draw(_weights((b, a), degenerate)))}


@st.composite
def importance_samples(draw, alpha_kind: str, bound: float) -> dict:
    """``q_samples[B, K]``, ``log_proposal[B, K]`` (uniform on [-1, 1]^d or arbitrary), ``alpha``."""
    b = draw(st.sampled_from((1, 3)))
    k = draw(st.sampled_from((4, 1, 16)))
    q = draw(arrays((b, k), bound, _extreme_values(bound)))
    if draw(st.booleans()):
        log_proposal = draw(arrays((b, k), 5.0))
    else:
        d = draw(st.sampled_from((2, 1, 6)))
        log_proposal = np.full((b, k), -d * math.log(2.0))
    return {"q_samples": q, "log_proposal": log_proposal, "alpha": draw(alphas(alpha_kind))}


@st.composite
def uniform_boxes(draw) -> dict:
    """``action_dim``, ``low``, ``high`` with ``high - low`` in [1e-3, 1e3]."""
    d = draw(st.integers(1, 64))
    low = draw(floats(10.0))
    width = draw(st.one_of(st.just(2.0), st.floats(1e-3, 1e3)))
    high = low + width
    if not high > low:  # width lost to rounding
        high = math.nextafter(low, math.inf)
    return {"action_dim": d, "low": low, "high": high}


# --------------------------------------------------------------------------- Bellman target and loss


def _discounts() -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from((0.99, 0.5, 0.0, 1.0)), st.floats(0.0, 1.0))


def _dones(b: int) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, (b,), elements=st.sampled_from((0.0, 1.0)))


@st.composite
def bellman_inputs(draw, bound: float) -> dict:
    b = draw(st.sampled_from((1, 4)))
    return {
        "reward": draw(arrays((b,), bound)),
        "discount": draw(_discounts()),
        "done": draw(_dones(b)),
        "next_value": draw(arrays((b,), bound)),
    }


@st.composite
def loss_inputs(draw, bound: float) -> dict:
    b = draw(st.sampled_from((1, 4, 16)))
    return {"q_pred": draw(arrays((b,), bound)), "target": draw(arrays((b,), bound))}


@st.composite
def td_inputs(draw, alpha_kind: str) -> dict:
    """The inputs of ``soft_q_target``: a batch of transitions and K next-state samples each."""
    samples = draw(importance_samples(alpha_kind, 10.0))
    b = samples["q_samples"].shape[0]
    return {
        "reward": draw(arrays((b,), 10.0)),
        "discount": draw(_discounts()),
        "done": draw(_dones(b)),
        "next_q_samples": samples["q_samples"],
        "log_proposal": samples["log_proposal"],
        "alpha": samples["alpha"],
    }


# --------------------------------------------------------------------------- SVGD


def _bandwidths(degenerate: bool) -> st.SearchStrategy[float]:
    if degenerate:
        return st.sampled_from((1e-3, 1e3, 1.0))
    return st.one_of(st.sampled_from((1.0, 0.5, 2.0)), st.floats(1e-2, 10.0))


def _coincident(draw, n: int, d: int, bound: float) -> np.ndarray:
    point = draw(arrays((1, d), bound))
    return np.repeat(point, n, axis=0)


def _particle_sets(draw, n: int, m: int, d: int, degenerate: bool) -> tuple[np.ndarray, np.ndarray]:
    """``n`` and ``m`` particles in ``d`` dimensions; when degenerate, sometimes all at one point."""
    if degenerate and draw(st.booleans()):
        x = _coincident(draw, n, d, 3.0)
        return x, x[:1].repeat(m, axis=0)
    return draw(arrays((n, d), 3.0)), draw(arrays((m, d), 3.0))


@st.composite
def kernel_inputs(draw, degenerate: bool) -> dict:
    n = draw(st.sampled_from((3, 1)))
    m = draw(st.sampled_from((2, 1)))
    d = draw(st.sampled_from((2, 1)))
    x, y = _particle_sets(draw, n, m, d, degenerate)
    return {"x": x, "y": y, "bandwidth": draw(_bandwidths(degenerate))}


@st.composite
def bandwidth_inputs(draw, degenerate: bool) -> dict:
    n = draw(st.sampled_from((1, 3) if degenerate else (3, 1, 4)))  # N M of both parities (the lower median)
    m = draw(st.sampled_from((2, 5)))
    d = draw(st.sampled_from((2, 1)))
    x, y = _particle_sets(draw, n, m, d, degenerate)
    return {"x": x, "y": y}


@st.composite
def svgd_inputs(draw, alpha_kind: str, degenerate: bool) -> dict:
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


@st.composite
def surrogate_inputs(draw) -> dict:
    m = draw(st.sampled_from((4, 1)))
    d = draw(st.sampled_from((2, 1)))
    return {"updated_actions": draw(arrays((m, d), 1.0)), "direction": draw(arrays((m, d), 10.0))}


@st.composite
def squashed_actions(draw, extreme: bool) -> dict:
    b = draw(st.sampled_from((1, 3)))
    d = draw(st.sampled_from((2, 1, 6)))
    edge = (1.0, -1.0, 0.0, 1.0 - 1e-12, -(1.0 - 1e-9), 0.999999) if extreme else ()
    actions = draw(arrays((b, d), 1.0, edge))
    return {"actions": actions}


# --------------------------------------------------------------------------- tabular


@st.composite
def mdp_inputs(draw, alpha_kind: str, with_policy: bool) -> dict:
    """A finite MDP (``transitions``, ``rewards``, ``discount``), ``alpha`` and, if asked, a ``policy``."""
    s = draw(st.sampled_from((3, 1)))  # few shapes: each one compiles the reference solvers once
    a = draw(st.sampled_from((2, 1, 3)))
    out = {
        "transitions": _normalise(draw(_weights((s, a, s), False))),
        "rewards": draw(arrays((s, a), 10.0)),
        "discount": draw(st.one_of(st.sampled_from((0.9, 0.5, 0.0)), st.floats(0.0, 0.95))),
        "alpha": draw(alphas(alpha_kind)),
    }
    if with_policy:
        out["policy"] = _normalise(draw(_weights((s, a), False)))
        out = {k: out[k] for k in ("transitions", "rewards", "discount", "policy", "alpha")}
    return out
