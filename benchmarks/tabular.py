"""Tabular soft Q-iteration on dense random MDPs: one soft Bellman sweep, JAX against NumPy.

A sweep is one application of the soft Bellman operator (Theorem 2, eqs. (7)-(9)),

    Q'(s, a) = r(s, a) + gamma * sum_s' p(s' | s, a) * alpha * log sum_a' exp(Q(s', a') / alpha),

whose cost is reading the ``[S, A, S]`` float32 transition tensor once (the soft value is
``[S]``): it is memory-bound, so its rate is compared with the copy bandwidth.  Timed two
ways: ``softq_ref.tabular.soft_q_iteration`` run for a fixed number of sweeps
(``tol=0``) divided by that number (the solver's own loop, no dispatch per sweep), and one
call of the public ``soft_bellman_operator`` (with its argument checks and dispatch).  The
NumPy baseline is the same sweep written directly with a max-shifted log-sum-exp and a
``[S*A, S] @ [S]`` product, run in the same process.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import blocked, time_calls
from softq_ref.tabular import TabularMDP, soft_bellman_operator, soft_q_iteration

ALPHA = 0.5
DISCOUNT = 0.9


def dense_mdp_arrays(num_states: int, num_actions: int, seed: int = 0):
    """A dense random MDP: every next state reachable, rows normalised in float64 then cast."""
    rng = np.random.default_rng(seed)
    p = rng.random((num_states, num_actions, num_states))
    p /= p.sum(axis=-1, keepdims=True)
    r = rng.standard_normal((num_states, num_actions))
    return p.astype(np.float32), r.astype(np.float32)


def numpy_sweep(p_flat: np.ndarray, r: np.ndarray, q: np.ndarray, alpha: float, discount: float) -> np.ndarray:
    """The soft Bellman operator in plain NumPy (``p_flat`` is ``[S*A, S]``)."""
    m = q.max(axis=1)
    v = m + alpha * np.log(np.exp((q - m[:, None]) / alpha).sum(axis=1))
    return r + discount * (p_flat @ v).reshape(r.shape)


def bench_size(num_states: int, num_actions: int, sweeps: int, repeats: int) -> dict:
    p, r = dense_mdp_arrays(num_states, num_actions)
    mdp = TabularMDP(jnp.asarray(p), jnp.asarray(r), DISCOUNT)
    q0 = jnp.zeros((num_states, num_actions), jnp.float32)
    nbytes = p.nbytes

    def solver():
        return soft_q_iteration(mdp, ALPHA, q0=q0, tol=0.0, max_iters=sweeps)

    t_loop = time_calls(lambda: jax.block_until_ready(solver()), repeats)
    t_call = time_calls(blocked(soft_bellman_operator, mdp, q0, ALPHA), repeats * 3)

    p_flat = p.reshape(num_states * num_actions, num_states)
    q_np = np.zeros((num_states, num_actions), np.float32)
    t_np = time_calls(lambda: numpy_sweep(p_flat, r, q_np, ALPHA, DISCOUNT), repeats * 3)

    # Same answer: NumPy's sweep applied `sweeps` times against the jitted solver.
    q_ref = q_np
    for _ in range(sweeps):
        q_ref = numpy_sweep(p_flat, r, q_ref, ALPHA, DISCOUNT)
    max_diff = float(np.max(np.abs(np.asarray(solver()) - q_ref)))

    sweep_s = t_loop["median_s"] / sweeps
    return {
        "states": num_states,
        "actions": num_actions,
        "transition_bytes": nbytes,
        "sweeps_per_solve": sweeps,
        "sweep_s": sweep_s,
        "sweep_best_s": t_loop["best_s"] / sweeps,
        "operator_call_s": t_call["median_s"],
        "numpy_sweep_s": t_np["median_s"],
        "gbs": nbytes / sweep_s / 1e9,
        "operator_call_gbs": nbytes / t_call["median_s"] / 1e9,
        "numpy_gbs": nbytes / t_np["median_s"] / 1e9,
        "speedup_vs_numpy": t_np["median_s"] / sweep_s,
        "max_abs_diff_vs_numpy": max_diff,
    }


def run(quick: bool) -> dict:
    return {
        str(s): bench_size(s, 10, sweeps=20 if quick else 50, repeats=3 if quick else 5)
        for s in (500, 2000)
    }
