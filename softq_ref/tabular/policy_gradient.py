r"""The exact gradient of the maximum-entropy objective for softmax policies on finite MDPs.

Spec entries ``thm-soft-policy-gradient`` and ``prop-pg-soft-q-learning``.  Reference: the
soft policy gradient of the CMU 10-708 lecture notes and Appendix B of Haarnoja et al. (2017, "connection to
actor-critic"), for the discounted objective of Eq. (2) in its Appendix A form
(``maxent_objective``).

For a policy $\pi_\theta(a \mid s) = \mathrm{softmax}_a\, \theta(s, \cdot)$ the gradient is

$$
\begin{aligned}
\frac{\partial J}{\partial \theta(s, b)} &= d^\pi_\mu(s)\, \pi(b \mid s)\,
  \Big[Q^\pi_{\mathrm{soft}}(s, b) - \alpha \log \pi(b \mid s) - V^\pi(s)\Big], \\
V^\pi(s) &= \sum_a \pi(a \mid s)\big(Q^\pi_{\mathrm{soft}}(s, a) - \alpha \log \pi(a \mid s)\big)
\end{aligned}
$$

with $d^\pi_\mu(s) = \sum_t \gamma^t \Pr(s_t = s)$ the discounted visitation from
$s_0 \sim \mu$ (the derivation: differentiate $V^\pi$ through $\pi$, where
$\sum_a \nabla \pi(a \mid s) = 0$ removes the $-\alpha$ that differentiating $\log \pi$
produces: the CMU 10-708 lecture notes' "$-1$").  All functions are pure and jit-able.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.tabular.mdp import TabularMDP
from softq_ref.tabular.solvers import INT32_MAX, maxent_objective, soft_policy_evaluation

_HIGHEST = jax.lax.Precision.HIGHEST


def _check(mdp, table, initial_distribution, name: str = "logits") -> None:
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    expected = (mdp.num_states, mdp.num_actions)
    if np.shape(table) != expected:
        raise ValueError(f"{name} must have shape [S, A] = {expected}, got {np.shape(table)}")
    if np.shape(initial_distribution) != (mdp.num_states,):
        raise ValueError(f"initial_distribution must have shape [S] = ({mdp.num_states},), got {np.shape(initial_distribution)}")


def discounted_state_visitation(mdp: TabularMDP, policy, initial_distribution) -> jax.Array:
    r"""The discounted state visitation $d^\pi_\mu$ of a policy (spec ``thm-soft-policy-gradient``).

    $$
    \begin{aligned}
    d^\pi_\mu(s) &= \sum_{t \ge 0} \gamma^t \Pr(s_t = s \mid s_0 \sim \mu, \pi), \\
    d^\top &= \mu^\top (I - \gamma P_\pi)^{-1}, \quad P_\pi[s, s'] = \sum_a \pi(a \mid s)\, p(s' \mid s, a)
    \end{aligned}
    $$

    Unnormalised: it sums to $1 / (1 - \gamma)$.

    Args:
      mdp: a ``TabularMDP``.
      policy: $\pi$, ``[S, A]``.
      initial_distribution: $\mu$, ``[S]``.

    Returns:
      ``[S]``.

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.zeros((1, 2)), 0.5)
      >>> discounted_state_visitation(mdp, jnp.full((1, 2), 0.5), jnp.ones(1)).tolist()  # 1 / (1 - 0.5)
      [2.0]

    Reference: the discounted state distribution of the policy gradient theorem (Sutton et al.
    2000), used by the soft policy gradient of the CMU 10-708 lecture notes / Appendix B of Haarnoja et al. (2017).
    """
    policy = jnp.asarray(policy, mdp.rewards.dtype)
    mu = jnp.asarray(initial_distribution, mdp.rewards.dtype)
    p_pi = jnp.einsum("sa,sat->st", policy, mdp.transitions, precision=_HIGHEST)
    eye = jnp.eye(mdp.num_states, dtype=mdp.rewards.dtype)
    return jnp.linalg.solve((eye - mdp.discount * p_pi).T, mu)


def maxent_policy_gradient(mdp: TabularMDP, logits, alpha, initial_distribution) -> jax.Array:
    r"""The exact gradient of the maximum-entropy objective in softmax logits (spec ``thm-soft-policy-gradient``).

    $$\frac{\partial J}{\partial \theta(s, b)} = d^\pi_\mu(s)\, \pi(b \mid s)\, \big[Q^\pi_{\mathrm{soft}}(s, b) - \alpha \log \pi(b \mid s) - V^\pi(s)\big]$$

    The soft policy gradient theorem, from ``soft_policy_evaluation`` and
    ``discounted_state_visitation``; it equals ``jax.grad`` of
    ``maxent_objective(mdp, softmax(logits), alpha, mu)`` (tested).

    Args:
      mdp: a ``TabularMDP``.
      logits: $\theta$, ``[S, A]``; $\pi = \mathrm{softmax}(\theta)$ over the last axis.
      alpha: temperature >= 0.
      initial_distribution: $\mu$, ``[S]``.

    Returns:
      $\nabla_\theta J$, ``[S, A]``.

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.array([[1.0, 0.0]]), 0.5)
      >>> g = maxent_policy_gradient(mdp, jnp.zeros((1, 2)), 1.0, jnp.ones(1))
      >>> [round(float(x), 4) for x in g[0]]  # d = 2, pi = 1/2, advantage +-1/2
      [0.5, -0.5]

    Reference: the CMU 10-708 lecture notes ("Soft Policy Gradients"); Appendix B of Haarnoja et al. (2017).
    """
    _check(mdp, logits, initial_distribution)
    logits = jnp.asarray(logits, mdp.rewards.dtype)
    log_pi = jax.nn.log_softmax(logits, axis=-1)
    policy = jnp.exp(log_pi)
    alpha = jnp.asarray(alpha, mdp.rewards.dtype)
    q = soft_policy_evaluation(mdp, policy, alpha)
    d = discounted_state_visitation(mdp, policy, initial_distribution)
    return _gradient_from_critic(policy, log_pi, q, alpha, d)


def _gradient_from_critic(policy, log_pi, critic, alpha, d):
    """d(s) pi(b|s) [critic(s, b) - alpha log pi(b|s) - sum_a pi(a|s) (critic(s, a) - alpha log pi(a|s))]."""
    soft_q = critic - alpha * log_pi
    v = jnp.sum(policy * soft_q, axis=-1, keepdims=True)
    return d[:, None] * policy * (soft_q - v)


def boltzmann_policy_gradient(mdp: TabularMDP, q, alpha, initial_distribution, critic=None) -> jax.Array:
    r"""The soft policy gradient in the Q-table of the Boltzmann policy $\pi = \exp((Q - V)/\alpha)$ (spec ``prop-pg-soft-q-learning``).

    $$
    \begin{aligned}
    \frac{\partial J}{\partial Q(s, b)} &= \frac{1}{\alpha}\, d^\pi_\mu(s)\, \pi(b \mid s)\,
      \big[C(s, b) - \alpha \log \pi(b \mid s) \\
    &\qquad - \textstyle\sum_a \pi(a \mid s)\,(C(s, a) - \alpha \log \pi(a \mid s))\big]
    \end{aligned}
    $$

    The parameterisation of the CMU 10-708 lecture notes' last step (logits $Q/\alpha$, so the chain rule gives
    $1/\alpha$).  With ``critic=None``, $C = Q^\pi_{\mathrm{soft}}$ and this is the exact
    gradient.  With a critic table $C$ (for instance ``soft_bellman_operator(mdp, q, alpha)``,
    the soft Q-learning target), it is the actor-critic gradient the seed arrives at; then
    $C - \alpha \log \pi - \mathbb E_\pi[\cdot] = \delta - \mathbb E_\pi \delta$ with
    $\delta = C - Q$ the soft Q-learning TD error, because $\alpha \log \pi = Q - V$ (eq. (6)).

    Args:
      mdp: a ``TabularMDP``.
      q: the Q-table $Q$, ``[S, A]``; $\pi$ = ``boltzmann_policy(q, alpha)``.
      alpha: temperature > 0.
      initial_distribution: $\mu$, ``[S]``.
      critic: ``None`` (exact $Q^\pi_{\mathrm{soft}}$) or an ``[S, A]`` table.

    Returns:
      $\nabla_Q J$, ``[S, A]``.

    Reference: the CMU 10-708 lecture notes ("Soft Q-learning": the policy gradient in the Boltzmann
    parameterisation); Appendix B of Haarnoja et al. (2017).
    """
    _check(mdp, q, initial_distribution, "q")
    q = jnp.asarray(q, mdp.rewards.dtype)
    alpha = jnp.asarray(alpha, mdp.rewards.dtype)
    if critic is None:
        return maxent_policy_gradient(mdp, q / alpha, alpha, initial_distribution) / alpha
    if np.shape(critic) != np.shape(q):
        raise ValueError(f"critic must have the shape of q {np.shape(q)}, got {np.shape(critic)}")
    log_pi = jax.nn.log_softmax(q / alpha, axis=-1)
    policy = jnp.exp(log_pi)
    d = discounted_state_visitation(mdp, policy, initial_distribution)
    return _gradient_from_critic(policy, log_pi, jnp.asarray(critic, q.dtype), alpha, d) / alpha


def maxent_gradient_ascent(
    mdp: TabularMDP, alpha, initial_distribution, *, learning_rate=1.0, steps: int = 2_000, logits0=None
) -> jax.Array:
    r"""Exact gradient ascent on the maximum-entropy objective in softmax logits (spec ``thm-soft-policy-gradient``).

    $$\theta_{k+1} = \theta_k + \eta\, \nabla_\theta J(\pi_{\theta_k})$$

    ``steps`` iterations of ``maxent_policy_gradient`` in one ``lax.fori_loop``.  With
    $\alpha > 0$ and $\mu$ of full support the iterates converge to the Boltzmann
    policy of $Q^*_{\mathrm{soft}}$ (Theorem 1; linearly, Mei et al. 2020), the maximiser
    of $J$ that soft Q-iteration finds.

    Args:
      mdp: a ``TabularMDP``.
      alpha: temperature >= 0.
      initial_distribution: $\mu$, ``[S]``.
      learning_rate: $\eta > 0$.
      steps: the number of iterations (a Python int).
      logits0: the start, ``[S, A]``; zeros (the uniform policy) by default.

    Returns:
      The final logits, ``[S, A]``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.array([[1.0, 0.0]]), 0.5)
      >>> pi = jax.nn.softmax(maxent_gradient_ascent(mdp, 1.0, jnp.ones(1), steps=500))
      >>> [round(float(x), 3) for x in pi[0]]  # Boltzmann in Q*: exp(1) : exp(0)
      [0.731, 0.269]

    Reference: the CMU 10-708 lecture notes; Theorem 1 of Haarnoja et al. (2017) for the limit.
    """
    if logits0 is None:
        logits0 = jnp.zeros_like(mdp.rewards)
    _check(mdp, logits0, initial_distribution, "logits0")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if steps > INT32_MAX:  # the loop counts in int32
        raise ValueError(f"steps must be at most 2**31 - 1 = {INT32_MAX}, got {steps!r}")
    return _ascent(mdp, jnp.asarray(alpha, mdp.rewards.dtype), jnp.asarray(initial_distribution, mdp.rewards.dtype),
                   jnp.asarray(learning_rate, mdp.rewards.dtype), steps, jnp.asarray(logits0, mdp.rewards.dtype))


def _ascent(mdp, alpha, mu, lr, steps, logits0):
    return _ascent_jit(mdp, alpha, mu, lr, jnp.asarray(steps, jnp.int32), logits0)


@jax.jit
def _ascent_jit(mdp, alpha, mu, lr, steps, logits0):
    def body(_, logits):
        return logits + lr * maxent_policy_gradient(mdp, logits, alpha, mu)

    return jax.lax.fori_loop(0, steps, body, logits0)


def objective_of_logits(mdp: TabularMDP, logits, alpha, initial_distribution) -> jax.Array:
    r"""$J(\mathrm{softmax}(\theta))$: ``maxent_objective`` of the softmax policy of ``logits`` (spec ``thm-soft-policy-gradient``).

    Differentiable in ``logits``; ``jax.grad`` of it is the reference the analytic gradient is
    tested against.

    Args:
      mdp: a ``TabularMDP``.
      logits: $\theta$, ``[S, A]``.
      alpha: temperature >= 0.
      initial_distribution: $\mu$, ``[S]``.

    Returns:
      A scalar.

    Reference: Eq. (2) of Haarnoja et al. (2017), discounted (Appendix A).
    """
    _check(mdp, logits, initial_distribution)
    policy = jax.nn.softmax(jnp.asarray(logits, mdp.rewards.dtype), axis=-1)
    return maxent_objective(mdp, policy, alpha, initial_distribution)
