r"""The float64 reference computations and tolerance scales of the conformance targets.

For each target of ``softq_ref.conformance.targets`` two functions of the inputs (a dict of
float64 NumPy arrays and Python scalars keyed by argument name):

* ``<name>(inputs) -> outputs``: the softq_ref function run in float64 (``jax.enable_x64``),
  jitted, so each input shape compiles once; outputs as NumPy float64 arrays by name;
* ``scale_<name>(inputs, outputs) -> scales``: for each output an array of its shape, the
  magnitude of the quantities it is computed from, which sets the tolerance
  ``atol + rtol * max(|want|, scale)``: rounding those quantities by one unit in the last
  place moves the output by about ``eps * scale``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.core import bellman, soft_values, svgd
from softq_ref.tabular import solvers as _solvers
from softq_ref.tabular.mdp import TabularMDP


def _x64(fn: Callable[[dict], dict] | None = None, *, jit: bool = True):
    """Run a reference in float64 (jitted: one compilation per input shape) and hand back NumPy arrays."""
    if fn is None:
        return lambda f: _x64(f, jit=jit)
    inner = jax.jit(fn) if jit else fn

    def run(inputs: dict) -> dict:
        inputs = {k: np.asarray(v, np.float64) if isinstance(v, (np.ndarray, list)) else v for k, v in inputs.items()}
        with jax.enable_x64(True):
            out = inner(inputs)
            return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _a(x) -> jax.Array:
    return jnp.asarray(x, dtype=jnp.float64)


@_x64
def soft_value(i):
    """eq. (5): ``soft_value(q, alpha)``."""
    return {"value": soft_values.soft_value(_a(i["q"]), i["alpha"])}


@_x64
def boltzmann_policy(i):
    """eq. (6): ``boltzmann_policy(q, alpha)``."""
    return {"policy": soft_values.boltzmann_policy(_a(i["q"]), i["alpha"])}


@_x64
def log_boltzmann_policy(i):
    """eq. (6): ``log_boltzmann_policy(q, alpha)``."""
    return {"log_policy": soft_values.log_boltzmann_policy(_a(i["q"]), i["alpha"])}


@_x64
def entropy(i):
    """``def-entropy``: ``entropy(probs)``."""
    return {"entropy": soft_values.entropy(_a(i["probs"]))}


@_x64
def soft_value_is(i):
    """eq. (10): ``soft_value_is(q_samples, log_proposal, alpha)``."""
    return {"value": soft_values.soft_value_is(_a(i["q_samples"]), _a(i["log_proposal"]), i["alpha"])}


def uniform_log_density(i):
    """eq. (10): ``uniform_log_density(action_dim, low, high)`` (plain Python)."""
    value = soft_values.uniform_log_density(int(i["action_dim"]), float(i["low"]), float(i["high"]))
    return {"log_density": np.asarray(value, dtype=np.float64)}


@_x64
def soft_bellman_target(i):
    """eq. (11): ``soft_bellman_target(reward, discount, done, next_value)``."""
    r = _a(i["reward"])
    return {"target": bellman.soft_bellman_target(r, i["discount"], _a(i["done"]), _a(i["next_value"]))}


@_x64
def soft_q_loss(i):
    """eq. (11): ``soft_q_loss(q_pred, target)``."""
    return {"loss": bellman.soft_q_loss(_a(i["q_pred"]), _a(i["target"]))}


@_x64
def soft_q_target(i):
    """eq. (10) at the next state inside eq. (11)."""
    v = soft_values.soft_value_is(_a(i["next_q_samples"]), _a(i["log_proposal"]), i["alpha"])
    return {"target": bellman.soft_bellman_target(_a(i["reward"]), i["discount"], _a(i["done"]), v)}


@_x64
def rbf_kernel(i):
    """eq. (13): ``rbf_kernel(x, y, bandwidth)``."""
    k, grad = svgd.rbf_kernel(_a(i["x"]), _a(i["y"]), i["bandwidth"])
    return {"k": k, "grad_x": grad}


@_x64
def median_bandwidth(i):
    """eq. (13): ``median_bandwidth(x, y)``."""
    return {"bandwidth": svgd.median_bandwidth(_a(i["x"]), _a(i["y"]))}


@_x64
def svgd_direction(i):
    """eq. (13): ``svgd_direction(fixed, grad_q, updated, alpha, bandwidth)``."""
    return {
        "direction": svgd.svgd_direction(_a(i["fixed"]), _a(i["grad_q"]), _a(i["updated"]), i["alpha"], i["bandwidth"])
    }


@_x64
def svgd_surrogate(i):
    """eq. (14): ``svgd_surrogate`` and its gradient in the actions (``-direction``)."""
    actions, direction = _a(i["updated_actions"]), _a(i["direction"])
    value, grad = jax.value_and_grad(svgd.svgd_surrogate)(actions, direction)
    return {"value": value, "grad_updated_actions": grad}


@_x64
def tanh_log_det_jacobian(i):
    """``def-tanh-squash``: ``tanh_log_det_jacobian(actions)``."""
    return {"log_det": svgd.tanh_log_det_jacobian(_a(i["actions"]))}


def _mdp(i) -> TabularMDP:
    return TabularMDP(_a(i["transitions"]), _a(i["rewards"]), float(i["discount"]))


def q_bound(i) -> float:
    """$(\\max|r| + \\alpha \\log A) / (1 - \\gamma)$, a bound on $|Q|$ for any policy."""
    rewards = np.asarray(i["rewards"])
    return float((np.max(np.abs(rewards)) + i["alpha"] * math.log(rewards.shape[1])) / (1.0 - i["discount"]))


@_x64(jit=False)  # the solvers are jitted inside
def soft_q_iteration(i):
    """Soft Q-iteration to 1e-12 of the bound on |Q|, then two Newton steps to the fixed point.

    A Newton step of the soft Bellman equation is a step of soft policy iteration
    (Theorem 4): evaluate the Boltzmann policy of Q exactly.  From an error of 1e-12 two
    steps reach float64 rounding, so the golden Q* is exact, not merely converged.
    """
    mdp, alpha = _mdp(i), i["alpha"]
    q = _solvers.soft_q_iteration(mdp, alpha, tol=1e-12 * max(q_bound(i), 1.0), max_iters=200_000)
    for _ in range(2):
        q = _solvers.soft_policy_evaluation(mdp, _solvers.soft_policy_improvement(q, alpha), alpha)
    return {"q_star": q}


@_x64(jit=False)
def soft_policy_evaluation(i):
    """``def-soft-policy-evaluation``: the exact soft Q-function of ``policy``."""
    return {"q_pi": _solvers.soft_policy_evaluation(_mdp(i), _a(i["policy"]), i["alpha"])}


# --------------------------------------------------------------------------- tolerance scales


def _abs(x) -> np.ndarray:
    return np.abs(np.asarray(x, dtype=np.float64))


def _rows(x) -> np.ndarray:
    """max |x| over the last axis, keeping it."""
    return np.max(_abs(x), axis=-1, keepdims=True)


def _like(scale, out) -> np.ndarray:
    return np.broadcast_to(np.asarray(scale, dtype=np.float64), np.shape(out)).copy()


def scale_soft_value(i, o):
    a = np.shape(i["q"])[-1]
    return {"value": _like(_rows(i["q"])[..., 0] + i["alpha"] * math.log(a), o["value"])}


def _log_policy_scale(i, out):
    """max |Q| / alpha + log A: the size of Q / alpha and of its log-sum-exp."""
    return _like(_rows(i["q"]) / i["alpha"] + math.log(np.shape(i["q"])[-1]), out)


def scale_boltzmann_policy(i, o):
    # A probability moves by at most p times the error of its log: the log-probability's scale.
    return {"policy": _log_policy_scale(i, o["policy"])}


def scale_log_boltzmann_policy(i, o):
    return {"log_policy": _log_policy_scale(i, o["log_policy"])}


def scale_entropy(i, o):
    return {"entropy": _like(1.0 + math.log(np.shape(i["probs"])[-1]), o["entropy"])}


def _is_rows(q, log_proposal, alpha):
    k = np.shape(q)[-1]
    shifted = np.asarray(q, dtype=np.float64) - alpha * np.asarray(log_proposal, dtype=np.float64)
    return _rows(shifted)[..., 0] + alpha * math.log(k)


def scale_soft_value_is(i, o):
    return {"value": _like(_is_rows(i["q_samples"], i["log_proposal"], i["alpha"]), o["value"])}


def scale_uniform_log_density(i, o):
    return {"log_density": _like(1.0 + i["action_dim"] * abs(math.log(i["high"] - i["low"])), o["log_density"])}


def scale_soft_bellman_target(i, o):
    return {"target": _like(_abs(i["reward"]) + i["discount"] * _abs(i["next_value"]), o["target"])}


def scale_soft_q_loss(i, o):
    q, t = _abs(i["q_pred"]), _abs(i["target"])
    diff = np.abs(np.asarray(i["target"], np.float64) - np.asarray(i["q_pred"], np.float64))
    return {"loss": _like(np.max(diff * (q + t)) + float(o["loss"]), o["loss"])}


def scale_soft_q_target(i, o):
    v = _is_rows(i["next_q_samples"], i["log_proposal"], i["alpha"])
    return {"target": _like(_abs(i["reward"]) + i["discount"] * v, o["target"])}


def _kernel_terms(x, y, h):
    """(1 + (|x_i|^2 + |y_j|^2) / h) and |x_i| + |y_j|, both [N, M]: the kernel's sensitivity."""
    nx = np.linalg.norm(np.asarray(x, np.float64), axis=-1)
    ny = np.linalg.norm(np.asarray(y, np.float64), axis=-1)
    return 1.0 + (nx[:, None] ** 2 + ny[None, :] ** 2) / h, nx[:, None] + ny[None, :]


def scale_rbf_kernel(i, o):
    expo, size = _kernel_terms(i["x"], i["y"], i["bandwidth"])
    return {"k": _like(expo, o["k"]), "grad_x": _like((2.0 / i["bandwidth"] * size * expo)[..., None], o["grad_x"])}


def scale_median_bandwidth(i, o):
    expo, _ = _kernel_terms(i["x"], i["y"], 1.0)
    return {"bandwidth": _like(np.max(expo) / math.log(max(np.shape(i["x"])[0], 2)), o["bandwidth"])}


def scale_svgd_direction(i, o):
    h, alpha = i["bandwidth"], i["alpha"]
    expo, size = _kernel_terms(i["fixed"], i["updated"], h)
    g = np.linalg.norm(np.asarray(i["grad_q"], np.float64), axis=-1)
    per_pair = expo * (g[:, None] + alpha * 2.0 / h * size)  # [K, M]
    return {"direction": _like(np.mean(per_pair, axis=0)[:, None], o["direction"])}


def scale_svgd_surrogate(i, o):
    d, a = _abs(i["direction"]), _abs(i["updated_actions"])
    return {"value": _like(np.sum(d * a), o["value"]), "grad_updated_actions": _like(d, o["grad_updated_actions"])}


def scale_tanh_log_det_jacobian(i, o):
    a = np.asarray(i["actions"], np.float64)
    return {"log_det": _like(np.sum(1.0 / (1.0 - a * a + svgd.TANH_EPS), axis=-1), o["log_det"])}


def scale_tabular(key):
    return lambda i, o: {key: _like(q_bound(i), o[key])}
