r"""Exact dynamic programming for the maximum-entropy objective on finite MDPs.

Spec entries ``thm-1``, ``thm-2``, ``thm-3``, ``thm-4``, ``def-soft-policy-evaluation``,
``def-maxent-objective``, ``def-finite-horizon``, ``prop-alpha-limit`` and
``prop-soft-q-bound``.  Reference: Haarnoja, Tang, Abbeel and Levine (2017),
Sec. 2 (Theorems 1-3, Eqs. (2), (4)-(9)) and Appendix A (Theorem 4 and the
contraction proof).

With finitely many actions the integrals of the paper become sums over the action
axis, so every object of Sec. 2 has an exact tabular form; the soft values and
Boltzmann policies come from [`softq_ref.core.soft_values`][softq_ref.core.soft_values] and are not
reimplemented here.  Every function is pure and jit-able; argument checks run only
on concrete values (see [`softq_ref.core.validation`][softq_ref.core.validation]).

Conventions: natural logarithms; the temperature is ``alpha`` (the *Maximum Entropy RL* lecture slides'
``lambda``; the original code's ``1 / reward_scale``); arrays are ``[S, A]`` for
Q-tables and policies, ``[S, A, S]`` for transitions.  The soft Q-function of a
policy has *no* entropy bonus at its first state-action pair: the bonus starts at
the next state (Eq. (4); the lecture slides *Maximum Entropy RL*, "no entropy with the first reward term").
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.core.soft_values import boltzmann_policy, entropy, soft_value
from softq_ref.core.validation import check_discount, check_temperature, concrete_value
from softq_ref.tabular.mdp import TabularMDP, _check_stochastic

_HIGHEST = jax.lax.Precision.HIGHEST
#: The largest loop count the solvers' int32 counters hold (also checked by ``maxent_gradient_ascent``).
INT32_MAX = int(np.iinfo(np.int32).max)


# --------------------------------------------------------------------------- checks


def _check_mdp(mdp) -> None:
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")


def _check_alpha(alpha):
    if np.ndim(alpha) != 0:
        raise ValueError(f"alpha must be a scalar, got shape {np.shape(alpha)}")
    check_temperature(alpha)


def _check_table(q, mdp: TabularMDP, name: str) -> None:
    expected = (mdp.num_states, mdp.num_actions)
    if np.shape(q) != expected:
        raise ValueError(f"{name} must have shape [S, A] = {expected}, got {np.shape(q)}")
    value = concrete_value(q)
    if value is not None and not np.all(np.isfinite(value)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise ValueError(f"{name}{list(idx)} is {float(value[idx])!r}; {name} must be finite")


def _check_policy(policy, mdp: TabularMDP) -> None:
    expected = (mdp.num_states, mdp.num_actions)
    if np.shape(policy) != expected:
        raise ValueError(f"policy must have shape [S, A] = {expected}, got {np.shape(policy)}")
    _check_stochastic(policy, "policy", "action probabilities")


def _check_loop(tol, max_iters) -> None:
    value = concrete_value(tol)
    if value is not None and (np.ndim(value) != 0 or not np.isfinite(value) or value < 0):
        raise ValueError(f"tol must be a finite scalar >= 0, got {tol!r}")
    if max_iters is None:
        return
    value = concrete_value(max_iters)
    if value is not None and (
        np.ndim(value) != 0 or not np.issubdtype(np.asarray(value).dtype, np.integer) or value < 1
    ):
        raise ValueError(f"max_iters must be an int >= 1, got {max_iters!r}")
    if value is not None and value > INT32_MAX:  # the loop counts in int32
        raise ValueError(f"max_iters must be at most 2**31 - 1 = {INT32_MAX}, got {max_iters!r}")


def _cast(x, mdp: TabularMDP) -> jax.Array:
    return jnp.asarray(x, dtype=mdp.rewards.dtype)


# --------------------------------------------------------------------------- pure cores


def _expect_next(mdp: TabularMDP, v: jax.Array) -> jax.Array:
    """$\\mathbb E_{s' \\sim p(\\cdot \\mid s, a)}[v(s')]$ for every $(s, a)$: ``[S]`` -> ``[S, A]``."""
    return jnp.einsum("sat,t->sa", mdp.transitions, v, precision=_HIGHEST)


def _soft_backup(mdp: TabularMDP, q: jax.Array, alpha: jax.Array) -> jax.Array:
    return mdp.rewards + mdp.discount * _expect_next(mdp, soft_value(q, alpha, axis=-1))


def _hard_backup(mdp: TabularMDP, q: jax.Array) -> jax.Array:
    return mdp.rewards + mdp.discount * _expect_next(mdp, jnp.max(q, axis=-1))


#: The most backups an automatic ``max_iters`` may ask for; a discount and tolerance that need
#: more are refused up front (a loop of that length would look like a hang).
MAX_AUTO_ITERS = 50_000_000


class _SolverInfo(NamedTuple):
    r"""How an iterative solver ended (``return_info=True``); all fields are arrays, traced under ``jit``.

    ``converged``: the sup-norm error is guaranteed to be at most ``tol``; ``iterations``: the
    backups taken; ``error_bound``: the guaranteed bound on $\lVert Q_k - Q^* \rVert_\infty$ in
    exact arithmetic, the smaller of the a-posteriori $\gamma \lVert Q_k - Q_{k-1} \rVert / (1 - \gamma)$
    and the a-priori $\gamma^k B$ (``_error_scale``).
    """

    converged: jax.Array
    iterations: jax.Array
    error_bound: jax.Array


def _error_scale(mdp: TabularMDP, alpha: jax.Array, q0: jax.Array) -> jax.Array:
    """B >= |Q0 - Q*|_inf: |Q0|_inf + (max|r| + gamma alpha log A) / (1 - gamma) (spec ``prop-soft-q-bound``)."""
    gamma = mdp.discount
    q_star = (jnp.max(jnp.abs(mdp.rewards)) + gamma * alpha * jnp.log(jnp.asarray(mdp.num_actions, q0.dtype))) / (1 - gamma)
    return jnp.max(jnp.abs(q0)) + q_star


def _default_max_iters(mdp: TabularMDP, alpha: jax.Array, q0: jax.Array, tol: jax.Array) -> jax.Array:
    """The backups after which the contraction guarantees |Q_k - Q*| <= tol: gamma^k B <= tol, plus one.

    ``B`` is ``_error_scale``; ``gamma = 0`` needs one backup; the count is clipped to
    ``[1, MAX_AUTO_ITERS + 1]`` (``+ 1``: past the cap, which the caller refuses when concrete).
    """
    gamma = mdp.discount
    bound = _error_scale(mdp, alpha, q0)
    safe_gamma = jnp.where(gamma > 0, gamma, 0.5)
    ratio = jnp.where(bound > tol, tol / jnp.where(bound > 0, bound, 1.0), 1.0)
    k = jnp.ceil(jnp.log(ratio) / jnp.log(safe_gamma)) + 1
    k = jnp.where((gamma > 0) & (bound > tol), k, 1.0)
    over = ~jnp.isfinite(k) | (k > MAX_AUTO_ITERS)
    return jnp.where(over, MAX_AUTO_ITERS + 1, jnp.clip(jnp.where(over, 1.0, k), 1, MAX_AUTO_ITERS).astype(jnp.int32))


def _resolve_max_iters(mdp, alpha, q0, tol, max_iters):
    """``max_iters`` as an int32 array; ``None`` chooses it from the discount and the tolerance."""
    if max_iters is not None:
        return jnp.asarray(max_iters, jnp.int32)
    k = _default_max_iters(mdp, alpha, q0, tol)
    value = concrete_value(k)
    if value is not None and int(value) > MAX_AUTO_ITERS:
        raise ValueError(
            f"discount {float(mdp.discount)!r} and tol {float(tol)!r} need more than {MAX_AUTO_ITERS} backups "
            "to guarantee the tolerance; raise tol or pass max_iters"
        )
    return k


def _report(q, gap, iters, mdp, alpha, q0, tol, return_info):
    """``q`` or ``(q, _SolverInfo)``."""
    if not return_info:
        return q
    gamma = mdp.discount
    posterior = jnp.where(gamma > 0, gamma * gap / (1 - gamma), 0.0)
    prior = gamma**iters.astype(q.dtype) * _error_scale(mdp, alpha, q0)
    bound = jnp.minimum(posterior, prior)
    return q, _SolverInfo(converged=bound <= tol, iterations=iters, error_bound=bound)


def _fixed_point(backup, q0: jax.Array, discount: jax.Array, tol: jax.Array, max_iters: jax.Array):
    """Iterate a gamma-contraction until gamma * |Q_k - Q_{k-1}|_inf <= (1 - gamma) * tol: ``(q, gap, iterations)``."""

    def cond(carry):
        _, gap, i = carry
        converged = discount * gap <= tol * (1 - discount)
        return (i < max_iters) & ((i == 0) | ~converged)

    def body(carry):
        q, _, i = carry
        q_next = backup(q)
        return q_next, jnp.max(jnp.abs(q_next - q)), i + 1

    init = (q0, jnp.zeros((), q0.dtype), jnp.zeros((), jnp.int32))
    return jax.lax.while_loop(cond, body, init)


@jax.jit
def _soft_q_iteration(mdp, alpha, q0, tol, max_iters):
    return _fixed_point(lambda q: _soft_backup(mdp, q, alpha), q0, mdp.discount, tol, max_iters)


@jax.jit
def _q_iteration(mdp, q0, tol, max_iters):
    return _fixed_point(lambda q: _hard_backup(mdp, q), q0, mdp.discount, tol, max_iters)


def _evaluate(mdp: TabularMDP, policy: jax.Array, alpha: jax.Array) -> jax.Array:
    num_states, num_actions = mdp.rewards.shape
    n = num_states * num_actions
    bonus = alpha * entropy(policy, axis=-1)  # alpha H(pi(.|s')), [S]
    rhs = mdp.rewards + mdp.discount * _expect_next(mdp, bonus)
    # P_pi[(s, a), (s', a')] = p(s' | s, a) pi(a' | s')
    p_pi = jnp.einsum("sat,tb->satb", mdp.transitions, policy, precision=_HIGHEST).reshape(n, n)
    lhs = jnp.eye(n, dtype=p_pi.dtype) - mdp.discount * p_pi
    return jnp.linalg.solve(lhs, rhs.reshape(n)).reshape(num_states, num_actions)


_soft_backup_jit = jax.jit(_soft_backup)
_evaluate_jit = jax.jit(_evaluate)


@jax.jit
def _improve(q, alpha):
    policy = boltzmann_policy(q, alpha, axis=-1)
    # exp(log-softmax) of a large Q / alpha can miss 1 by ~|Q / alpha| eps in float32 when XLA
    # fuses it into a larger program; rescaling keeps every row a distribution to rounding.
    return policy / jnp.sum(policy, axis=-1, keepdims=True)


@jax.jit
def _soft_policy_iteration(mdp, alpha, policy0, tol, max_iters):
    discount = mdp.discount

    def cond(carry):
        _, _, gap, i = carry
        converged = discount * gap <= tol * (1 - discount)
        return (i < max_iters) & ((i == 0) | ~converged)

    def body(carry):
        q, _, _, i = carry
        # A row sum off 1 would act like a discount above gamma in the solve: _improve rescales.
        policy = _improve(q, alpha)
        q_next = _evaluate(mdp, policy, alpha)
        return q_next, policy, jnp.max(jnp.abs(q_next - q)), i + 1

    q0 = _evaluate(mdp, policy0, alpha)
    init = (q0, policy0, jnp.zeros((), q0.dtype), jnp.zeros((), jnp.int32))
    q, policy, _, _ = jax.lax.while_loop(cond, body, init)
    return q, policy


@jax.jit
def _state_value_average(policy, q, alpha, initial_distribution):
    state_value = jnp.sum(policy * q, axis=-1) + alpha * entropy(policy, axis=-1)
    return jnp.dot(initial_distribution, state_value, precision=_HIGHEST)


@functools.partial(jax.jit, static_argnames="horizon")
def _finite_horizon(mdp, horizon, alpha, discount):
    def step(v_next, _):
        q = mdp.rewards + discount * _expect_next(mdp, v_next)
        v = soft_value(q, alpha, axis=-1)
        return v, (q, v)

    v_end = jnp.zeros((mdp.num_states,), mdp.rewards.dtype)
    _, (qs, vs) = jax.lax.scan(step, v_end, None, length=horizon, reverse=True)
    return qs, vs


# --------------------------------------------------------------------------- public API


def soft_bellman_operator(mdp: TabularMDP, q, alpha) -> jax.Array:
    r"""One soft Bellman backup of a Q-table (spec ``thm-2``, ``thm-3``).

    $$(\mathcal T Q)(s, a) = r(s, a) + \gamma \, \mathbb E_{s' \sim p(\cdot \mid s, a)}
      \Big[\alpha \log \sum_{a'} \exp\big(Q(s', a') / \alpha\big)\Big]$$

    The right-hand side of the soft Bellman equation (7) with the soft value of
    eq. (5) (``softq_ref.core.soft_value``, so ``alpha == 0`` is the hard maximum),
    i.e. the update of soft Q-iteration, eqs. (8)-(9).  It is a
    $\gamma$-contraction in the sup-norm for every $\alpha \ge 0$, because the soft
    value is non-expansive: $|V_Q(s) - V_{Q'}(s)| \le \max_a |Q(s, a) - Q'(s, a)|$.

    Args:
      mdp: a ``TabularMDP``.
      q: a Q-table ``[S, A]``.
      alpha: temperature, a scalar >= 0.

    Returns:
      $\mathcal T Q$, ``[S, A]``.

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.zeros((1, 2)), 0.5)
      >>> round(float(soft_bellman_operator(mdp, jnp.zeros((1, 2)), 1.0)[0, 0]), 4)  # 0.5 log 2
      0.3466

    Reference: Eq. (7) (Theorem 2, Sec. 2.2) and Eqs. (8)-(9) (Theorem 3, Sec. 3.1) of
    Haarnoja et al. (2017); the contraction proof is in Appendix A.
    """
    _check_mdp(mdp)
    _check_alpha(alpha)
    _check_table(q, mdp, "q")
    return _soft_backup_jit(mdp, _cast(q, mdp), _cast(alpha, mdp))


def soft_q_iteration(mdp: TabularMDP, alpha, *, q0=None, tol=1e-8, max_iters: int | None = None, return_info: bool = False):
    r"""The optimal soft Q-function by soft Q-iteration (spec ``thm-3``).

    $$Q_{k+1}(s, a) \leftarrow r(s, a) + \gamma \, \mathbb E_{s'}\big[V_k(s')\big], \qquad
      V_k(s) = \alpha \log \sum_{a} \exp\big(Q_k(s, a) / \alpha\big)$$

    Repeats ``soft_bellman_operator`` from ``q0`` until
    $\gamma \lVert Q_k - Q_{k-1} \rVert_\infty \le (1 - \gamma)\,\mathrm{tol}$ (or
    ``max_iters`` backups), which guarantees
    $\lVert Q_k - Q^*_{\mathrm{soft}} \rVert_\infty \le \mathrm{tol}$ by the
    contraction property.  The limit is the unique solution of the soft Bellman
    equation (7), $Q^*_{\mathrm{soft}}$ of Theorem 1; its optimal policy is
    ``soft_policy_improvement(Q, alpha)`` (eq. (6)).

    Args:
      mdp: a ``TabularMDP``.
      alpha: temperature, a scalar >= 0 (``0`` gives ``q_iteration``'s answer).
      q0: the starting Q-table ``[S, A]``; zeros by default.  Any start converges.
      tol: the sup-norm accuracy guaranteed at exit (not the step size).
      max_iters: the largest number of backups; ``None`` chooses the number that guarantees ``tol``
        from the discount (``_default_max_iters``).
      return_info: also return ``info`` with fields ``converged`` (False when ``max_iters`` stopped
        the loop before ``tol`` was guaranteed), ``iterations`` and ``error_bound``.

    Returns:
      $Q^*_{\mathrm{soft}}$, ``[S, A]`` (and ``info`` when ``return_info``).

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.zeros((1, 2)), 0.5)
      >>> # Q = 0.5 (log 2 + Q), so Q = log 2
      >>> round(float(soft_q_iteration(mdp, 1.0, tol=1e-6)[0, 0]), 4)
      0.6931

    Reference: Theorem 3, Eqs. (8)-(9), Sec. 3.1 of Haarnoja et al. (2017); proof in
    Appendix A.

    Notes: the whole loop is one ``lax.while_loop`` under ``jit``; ``alpha``,
    ``tol``, ``max_iters`` and the MDP's arrays are traced, so changing them does
    not recompile.  In float32 a ``tol`` below the rounding level of Q (about
    $10^{-7} \lVert Q \rVert_\infty$) is never met and the loop runs ``max_iters``
    backups; enable float64 (``jax.enable_x64``) for tolerances like the default.
    """
    _check_mdp(mdp)
    _check_alpha(alpha)
    _check_loop(tol, max_iters)
    if q0 is None:
        q0 = jnp.zeros_like(mdp.rewards)
    _check_table(q0, mdp, "q0")
    alpha, q0, tol = _cast(alpha, mdp), _cast(q0, mdp), _cast(tol, mdp)
    iters = _resolve_max_iters(mdp, alpha, q0, tol, max_iters)
    q, gap, done = _soft_q_iteration(mdp, alpha, q0, tol, iters)
    return _report(q, gap, done, mdp, alpha, q0, tol, return_info)


def q_iteration(mdp: TabularMDP, *, q0=None, tol=1e-8, max_iters: int | None = None, return_info: bool = False):
    r"""The optimal (hard) Q-function by Q-iteration, the $\alpha \to 0$ limit (spec ``prop-alpha-limit``).

    $$Q_{k+1}(s, a) \leftarrow r(s, a) + \gamma \, \mathbb E_{s'}\big[\max_{a'} Q_k(s', a')\big]$$

    The ordinary Bellman optimality backup, written with ``max`` rather than as
    ``soft_q_iteration(mdp, 0.0)`` so that the two can be compared: for
    $\alpha > 0$, $0 \le Q^*_{\mathrm{soft}} - Q^* \le \gamma \alpha \log|\mathcal A| / (1 - \gamma)$.
    Same stopping rule as ``soft_q_iteration`` (sup-norm error at most ``tol``).

    Args:
      mdp: a ``TabularMDP``.
      q0: the starting Q-table ``[S, A]``; zeros by default.
      tol: the sup-norm accuracy guaranteed at exit.
      max_iters: the largest number of backups (``None``: chosen as in ``soft_q_iteration``).
      return_info: also return ``info`` (as ``soft_q_iteration``).

    Returns:
      $Q^*$, ``[S, A]`` (and ``info`` when ``return_info``).

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.array([[1.0, 0.0]]), 0.5)
      >>> round(float(q_iteration(mdp, tol=1e-6)[0, 0]), 4)  # 1 + 0.5 * 2
      2.0

    Reference: the standard objective, Eq. (1), Sec. 2.1; the limit $\alpha \to 0$
    of Eq. (2) discussed in Sec. 2.1 of Haarnoja et al. (2017).
    """
    _check_mdp(mdp)
    _check_loop(tol, max_iters)
    if q0 is None:
        q0 = jnp.zeros_like(mdp.rewards)
    _check_table(q0, mdp, "q0")
    zero, q0, tol = _cast(0.0, mdp), _cast(q0, mdp), _cast(tol, mdp)
    iters = _resolve_max_iters(mdp, zero, q0, tol, max_iters)
    q, gap, done = _q_iteration(mdp, q0, tol, iters)
    return _report(q, gap, done, mdp, zero, q0, tol, return_info)


def soft_policy_evaluation(mdp: TabularMDP, policy, alpha) -> jax.Array:
    r"""The soft Q-function of a fixed policy, exactly, by one linear solve (spec ``def-soft-policy-evaluation``).

    $$Q^\pi_{\mathrm{soft}}(s, a) = r(s, a) + \gamma \, \mathbb E_{s'}\Big[
      \mathbb E_{a' \sim \pi}\big[Q^\pi_{\mathrm{soft}}(s', a')\big] + \alpha \mathcal H\big(\pi(\cdot \mid s')\big)\Big]$$

    Stacking the $SA$ equations gives
    $(I - \gamma P_\pi)\,\mathrm{vec}\,Q^\pi = \mathrm{vec}\,r + \gamma P (\alpha \mathcal H_\pi)$
    with $P_\pi[(s,a),(s',a')] = p(s' \mid s, a)\,\pi(a' \mid s')$, solved with
    ``jnp.linalg.solve`` ($I - \gamma P_\pi$ is invertible for $\gamma < 1$).
    Equivalently $Q^\pi(s_0, a_0) = r_0 + \mathbb E\big[\sum_{t \ge 1} \gamma^t
    (r_t + \alpha \mathcal H(\pi(\cdot \mid s_t)))\big]$.

    Args:
      mdp: a ``TabularMDP``.
      policy: $\pi(a \mid s)$, ``[S, A]``, rows summing to 1.
      alpha: temperature, a scalar >= 0.

    Returns:
      $Q^\pi_{\mathrm{soft}}$, ``[S, A]``.

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.zeros((1, 2)), 0.5)
      >>> # uniform policy: Q = 0.5 (Q + log 2), so Q = log 2; no bonus on the first step
      >>> round(float(soft_policy_evaluation(mdp, jnp.full((1, 2), 0.5), 1.0)[0, 0]), 4)
      0.6931

    Reference: Eq. (4) of Theorem 1 (written there for the optimal policy) and its
    general-policy form in Appendix A.1 of Haarnoja et al. (2017); the *Maximum Entropy RL* lecture slides' soft
    policy evaluation.

    Note: the entropy bonus starts at the *next* state: the first action $a$ is
    given, not drawn from $\pi$, so $Q^\pi(s, a)$ carries no
    $\alpha \mathcal H(\pi(\cdot \mid s))$ (the lecture slides *Maximum Entropy RL*: "no entropy with the first
    reward term").  The state value, which does carry it, is
    $V^\pi(s) = \mathbb E_{a \sim \pi}[Q^\pi(s, a)] + \alpha \mathcal H(\pi(\cdot \mid s))$.
    """
    _check_mdp(mdp)
    _check_alpha(alpha)
    _check_policy(policy, mdp)
    return _evaluate_jit(mdp, _cast(policy, mdp), _cast(alpha, mdp))


def soft_policy_improvement(q, alpha) -> jax.Array:
    r"""The improved policy of soft policy iteration: Boltzmann in the current soft Q (spec ``thm-4``).

    $$\tilde\pi(a \mid s) = \frac{\exp\big(Q^\pi_{\mathrm{soft}}(s, a) / \alpha\big)}
      {\sum_{a'} \exp\big(Q^\pi_{\mathrm{soft}}(s, a') / \alpha\big)}$$

    The maximiser, state by state, of $\mathbb E_{a \sim \pi}[Q(s, a)] + \alpha
    \mathcal H(\pi(\cdot \mid s))$ (Theorem 1), which Theorem 4 shows improves the
    policy: $Q^{\tilde\pi}_{\mathrm{soft}} \ge Q^\pi_{\mathrm{soft}}$ everywhere.  A
    named alias of ``softq_ref.core.boltzmann_policy`` over the last axis, so
    that soft policy iteration reads as in Appendix A.1.

    Args:
      q: a Q-table, actions on the last axis (``[S, A]`` or ``[A]``).
      alpha: temperature, a scalar >= 0 (``0``: uniform over the greedy actions).

    Returns:
      $\tilde\pi$, same shape as ``q``, rows summing to 1.

    Example:
      >>> import jax.numpy as jnp
      >>> soft_policy_improvement(jnp.array([[0.0, 0.0]]), 1.0).tolist()
      [[0.5, 0.5]]

    Reference: Theorem 4, Appendix A.1, and Eq. (6) of Theorem 1, Sec. 2.2 of
    Haarnoja et al. (2017).

    Note: each row is divided by its sum after ``boltzmann_policy``.  In exact
    arithmetic this changes nothing; in float32, with $|Q / \alpha|$ in the hundreds,
    the exponentiated log-softmax can miss 1 by $10^{-5}$ once XLA fuses it into a
    larger program, and soft policy evaluation would read that as a discount above
    $\gamma$.
    """
    _check_alpha(alpha)
    if np.ndim(q) < 1:
        raise ValueError("q must have at least one dimension (the action axis), got a scalar")
    q = jnp.asarray(q)
    if not jnp.issubdtype(q.dtype, jnp.floating):
        q = q.astype(jnp.result_type(float))
    return _improve(q, jnp.asarray(alpha, dtype=q.dtype))


def soft_policy_iteration(
    mdp: TabularMDP, alpha, *, policy0=None, tol=1e-8, max_iters: int = 1_000
) -> tuple[jax.Array, jax.Array]:
    r"""Soft policy iteration: evaluate exactly, improve by Boltzmann, repeat (spec ``thm-4``).

    $$Q_k = Q^{\pi_k}_{\mathrm{soft}}, \qquad
      \pi_{k+1}(\cdot \mid s) \propto \exp\big(Q_k(s, \cdot) / \alpha\big)$$

    Starting from ``policy0`` (uniform by default), alternates
    ``soft_policy_evaluation`` and ``soft_policy_improvement``.  By Theorem 4 the
    $Q_k$ increase monotonically; they are bounded, and converge to
    $Q^*_{\mathrm{soft}}$.  Stops when
    $\gamma \lVert Q_k - Q_{k-1} \rVert_\infty \le (1 - \gamma)\,\mathrm{tol}$, which
    guarantees $\lVert Q_k - Q^*_{\mathrm{soft}} \rVert_\infty \le \mathrm{tol}$
    (since $Q_{k-1} \le \mathcal T Q_{k-1} \le Q_k \le Q^*$).

    Args:
      mdp: a ``TabularMDP``.
      alpha: temperature, a scalar >= 0.
      policy0: the first policy ``[S, A]``; uniform by default.
      tol: the sup-norm accuracy guaranteed at exit.
      max_iters: the largest number of improvement steps (at least one is taken).

    Returns:
      ``(q, policy)``: the last policy $\pi_k$ and its exact soft Q-function
        $Q^{\pi_k}_{\mathrm{soft}}$ (so ``q == soft_policy_evaluation(mdp, policy, alpha)``);
        at convergence ``policy`` is ``soft_policy_improvement(q, alpha)`` to within ``tol``.

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.zeros((1, 2)), 0.5)
      >>> q, policy = soft_policy_iteration(mdp, 1.0)
      >>> round(float(q[0, 0]), 4), policy.tolist()
      (0.6931, [[0.5, 0.5]])

    Reference: Theorem 4 and the policy iteration argument of Appendix A.1 of
    Haarnoja et al. (2017); the lecture slides *Maximum Entropy RL* ("soft policy iteration").

    Notes: one ``lax.while_loop`` under ``jit``, each step a dense solve of size
    $SA$.  As for ``soft_q_iteration``, a float32 run cannot meet a ``tol`` below
    the rounding level of Q and then takes ``max_iters`` steps.
    """
    _check_mdp(mdp)
    _check_alpha(alpha)
    _check_loop(tol, max_iters)
    if policy0 is None:
        policy0 = jnp.full_like(mdp.rewards, 1.0 / mdp.num_actions)
    _check_policy(policy0, mdp)
    return _soft_policy_iteration(
        mdp, _cast(alpha, mdp), _cast(policy0, mdp), _cast(tol, mdp), jnp.asarray(max_iters, jnp.int32)
    )


def maxent_objective(mdp: TabularMDP, policy, alpha, initial_distribution) -> jax.Array:
    r"""The discounted maximum-entropy objective of a policy (spec ``def-maxent-objective``).

    $$
    \begin{aligned}
    J(\pi) &= \sum_{t=0}^{\infty} \gamma^t \, \mathbb E_{(s_t, a_t) \sim \rho_\pi}
      \Big[r(s_t, a_t) + \alpha \mathcal H\big(\pi(\cdot \mid s_t)\big)\Big] \\
      &= \mathbb E_{s_0 \sim \mu}\Big[\mathbb E_{a \sim \pi}\big[Q^\pi_{\mathrm{soft}}(s_0, a)\big]
      + \alpha \mathcal H\big(\pi(\cdot \mid s_0)\big)\Big]
    \end{aligned}
    $$

    The entropy is collected at every visited state, the first one included
    (unlike $Q^\pi_{\mathrm{soft}}(s_0, a)$, whose first action is given).
    Computed from ``soft_policy_evaluation``.  It is maximised by the Boltzmann
    policy of $Q^*_{\mathrm{soft}}$, where it equals
    $\mathbb E_{s_0 \sim \mu}[V^*_{\mathrm{soft}}(s_0)]$.

    Args:
      mdp: a ``TabularMDP``.
      policy: $\pi(a \mid s)$, ``[S, A]``.
      alpha: temperature, a scalar >= 0 (``0`` gives the standard discounted return).
      initial_distribution: $\mu(s_0)$, ``[S]``, summing to 1.

    Returns:
      A scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.zeros((1, 2)), 0.5)
      >>> # log 2 per step, discounted: log 2 / (1 - 0.5)
      >>> round(float(maxent_objective(mdp, jnp.full((1, 2), 0.5), 1.0, jnp.ones(1))), 4)
      1.3863

    Reference: Eq. (2), Sec. 2.1 of Haarnoja et al. (2017), in the discounted form
    of Appendix A (the main text writes it without $\gamma$).
    """
    _check_mdp(mdp)
    _check_alpha(alpha)
    _check_policy(policy, mdp)
    if np.shape(initial_distribution) != (mdp.num_states,):
        raise ValueError(
            f"initial_distribution must have shape [S] = ({mdp.num_states},), got {np.shape(initial_distribution)}"
        )
    _check_stochastic(initial_distribution, "initial_distribution", "initial-state probabilities")
    policy, alpha = _cast(policy, mdp), _cast(alpha, mdp)
    q = _evaluate_jit(mdp, policy, alpha)  # shares the compiled linear solve with soft_policy_evaluation
    return _state_value_average(policy, q, alpha, _cast(initial_distribution, mdp))


def finite_horizon_soft_values(
    mdp: TabularMDP, horizon: int, alpha=1.0, *, discount=1.0
) -> tuple[jax.Array, jax.Array]:
    r"""Soft values of a finite horizon by backward recursion: control as inference (spec ``def-finite-horizon``).

    $$
    \begin{aligned}
    V_T(s) &= 0, \\
    Q_t(s, a) &= r(s, a) + \gamma \, \mathbb E_{s' \sim p(\cdot \mid s, a)}\big[V_{t+1}(s')\big], \\
    V_t(s) &= \alpha \log \sum_a \exp\big(Q_t(s, a) / \alpha\big)
    \end{aligned}
    $$

    for $t = T-1, \dots, 0$, as one reverse ``lax.scan``.  With $\alpha = 1$ and
    $\gamma = 1$ (the defaults) this is the backward-message recursion of control
    as inference (the CMU 10-708 lecture notes on maximum-entropy RL: $Q_t = \log \beta_t(s, a)$, $V_t = \log \beta_t(s)$,
    optimality likelihood $\exp(r)$) in its variational form for stochastic
    dynamics.  $V_t(s)$ is the largest
    $\mathbb E\big[\sum_{k=t}^{T-1} \gamma^{k-t} (r_k + \alpha \mathcal H(\pi_k(\cdot \mid s_k)))\big]$
    over time-varying policies, attained by
    $\pi_t(a \mid s) = \exp((Q_t(s, a) - V_t(s)) / \alpha)$; with deterministic
    dynamics and $\gamma = 1$, $V_0(s_0) = \alpha \log \sum_{a_{0:T-1}} \exp(\sum_t r_t / \alpha)$.

    Args:
      mdp: a ``TabularMDP`` (its own ``discount`` is *not* used; see ``discount``).
      horizon: $T \ge 1$, a Python int (it fixes the output shape).
      alpha: temperature, a scalar >= 0; the CMU 10-708 lecture notes fix it to 1.
      discount: $\gamma \in [0, 1]$; 1 by default, the undiscounted recursion of
        the CMU 10-708 lecture notes on maximum-entropy RL.  Pass ``mdp.discount`` for the discounted recursion, whose
        $Q_0$ tends to ``soft_q_iteration(mdp, alpha)`` as $T \to \infty$.

    Returns:
      ``(q, v)``: ``q[t]`` is $Q_t$, ``[T, S, A]``, and ``v[t]`` is $V_t$, ``[T, S]``.
        Index ``t`` counts steps taken, so ``t = 0`` has the whole horizon ahead and
        ``q[T - 1] == rewards``.  The CMU 10-708 lecture notes number the same steps $1, \dots, T$ with
        $V_{T+1} = 0$.

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.zeros((1, 2)), 0.5)
      >>> q, v = finite_horizon_soft_values(mdp, 3)
      >>> [round(float(x), 4) for x in v[:, 0]]  # t log 2 with t steps to go
      [2.0794, 1.3863, 0.6931]

    Reference: the CMU 10-708 lecture notes on maximum-entropy RL (the recursion of control as inference, finite horizon);
    the infinite-horizon, discounted counterpart is Eq. (7), Sec. 2.2 of Haarnoja
    et al. (2017).

    Note: the recursion takes the *expectation* of $V_{t+1}$ over next states,
    not $\log \mathbb E \exp(V_{t+1})$: the latter is exact inference, which with
    stochastic dynamics yields an optimistic, risk-seeking policy; the former is
    the maximum-entropy control objective (the CMU 10-708 lecture notes' ELBO for stochastic dynamics).
    """
    _check_mdp(mdp)
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive int, got {horizon!r}")
    _check_alpha(alpha)
    if np.ndim(discount) != 0:
        raise ValueError(f"discount must be a scalar, got shape {np.shape(discount)}")
    check_discount(discount)
    return _finite_horizon(mdp, int(horizon), _cast(alpha, mdp), _cast(discount, mdp))
