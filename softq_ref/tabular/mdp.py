r"""Finite Markov decision processes as immutable pytrees, and a random generator for tests.

Spec entry ``def-mdp``.  Reference: Haarnoja et al. (2017), Sec. 2.1 (the MDP
$(\mathcal S, \mathcal A, p_s, r)$ with a discount $\gamma$ in Appendix A),
specialised to finitely many states and actions so that every quantity of
Sec. 2 and Appendix A can be computed exactly.
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.core.validation import concrete_value

#: Rows of a transition table (and of a policy) must sum to 1 within this, plus
#: one machine epsilon of the table's dtype per entry of the row (so that a
#: float32 row of many entries normalised in float32 is accepted).
ROW_SUM_ATOL = 1e-6


def _format_sum(total: float) -> str:
    """A row sum with enough digits that it does not print as "1" when it is not 1."""
    for digits in (6, 9, 12, 17):
        text = f"{total:.{digits}g}"
        if float(text) != 1.0 or total == 1.0:
            return text
    return repr(total)


def _index(idx) -> str:
    return ", ".join(str(int(i)) for i in idx)


def _check_stochastic(table, name: str, what: str = "probabilities") -> None:
    """Raise ``ValueError`` unless a concrete array holds distributions over its last axis.

    Checks, in order: every entry finite, every entry non-negative, every row
    summing to 1 within ``ROW_SUM_ATOL + n * eps``.  The message names the first
    offending entry or row, e.g. ``transitions[2, 1] sums to 0.93, not 1``.  Does
    nothing for tracers.  Nothing is renormalised.
    """
    value = concrete_value(table)
    if value is None:
        return
    value = np.asarray(value, dtype=np.float64)
    bad = np.argwhere(~np.isfinite(value))
    if bad.size:
        idx = tuple(bad[0])
        raise ValueError(f"{name}[{_index(idx)}] is {float(value[idx])!r}; {what} must be finite")
    bad = np.argwhere(value < 0)
    if bad.size:
        idx = tuple(bad[0])
        raise ValueError(f"{name}[{_index(idx)}] = {value[idx]:.6g} is negative; {what} must be >= 0")
    n = value.shape[-1]
    eps = float(jnp.finfo(jnp.asarray(table).dtype).eps) if jnp.issubdtype(jnp.asarray(table).dtype, jnp.floating) else 0.0
    tol = ROW_SUM_ATOL + n * eps
    sums = value.sum(axis=-1)
    bad = np.argwhere(np.atleast_1d(np.abs(sums - 1.0) > tol))
    if bad.size:
        idx = tuple(bad[0]) if sums.ndim else ()
        where = f"{name}[{_index(idx)}]" if idx else name
        raise ValueError(
            f"{where} sums to {_format_sum(float(sums[idx]))}, not 1 "
            f"(rows over the last axis must sum to 1 within {tol:.2g}; nothing is renormalised)"
        )


def _as_float(x) -> jax.Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


class TabularMDP(eqx.Module):
    r"""A finite, discounted Markov decision process (spec ``def-mdp``).

    $$
    \begin{aligned}
    &\mathcal M = (\mathcal S, \mathcal A, p, r, \gamma), \\
    &p(s' \mid s, a) = \texttt{transitions}[s, a, s'], \quad r(s, a) = \texttt{rewards}[s, a]
    \end{aligned}
    $$

    with $|\mathcal S| = S$ states, $|\mathcal A| = A$ actions and
    $0 \le \gamma < 1$.  An immutable pytree (an Equinox module) whose three
    leaves are arrays, so it can be passed to ``jax.jit``, ``jax.vmap`` (a batch
    of MDPs of one size) and ``jax.grad`` like any other argument.

    Args:
      transitions: $p(s' \mid s, a)$, shape ``[S, A, S]``; every ``transitions[s, a]``
        is a distribution over next states (non-negative, summing to 1 within
        ``1e-6``).
      rewards: $r(s, a)$, shape ``[S, A]``, finite.
      discount: $\gamma$, a scalar with $0 \le \gamma < 1$ (the solvers are
        infinite-horizon; ``finite_horizon_soft_values`` takes its own discount).

    Raises:
      ValueError: naming the offending field (and entry) when shapes disagree, or,
        for concrete values, when a probability is negative or not finite, a row
        does not sum to 1, a reward is not finite, or the discount is outside
        $[0, 1)$.  Nothing is silently renormalised or clipped.  Under ``jit`` or
        ``vmap`` the arguments are tracers and only shapes are checked (see
        ``softq_ref.core.validation``).

    Example:
      >>> import jax.numpy as jnp
      >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.zeros((1, 2)), 0.5)
      >>> mdp.num_states, mdp.num_actions
      (1, 2)

    Reference: the MDP of Sec. 2.1 and the discounted setting of Appendix A of
    Haarnoja et al. (2017).  The paper's rewards are bounded; here they are a finite table.

    Note: integer tables are converted to the default float dtype; if the two
    tables have different float dtypes both are promoted to the wider one, and the
    discount is stored with the same dtype.
    """

    transitions: jax.Array
    rewards: jax.Array
    discount: jax.Array

    def __init__(self, transitions, rewards, discount):
        transitions = _as_float(transitions)
        rewards = _as_float(rewards)
        dtype = jnp.promote_types(transitions.dtype, rewards.dtype)
        if transitions.ndim != 3:
            raise ValueError(f"transitions must have shape [S, A, S], got shape {transitions.shape}")
        if rewards.ndim != 2:
            raise ValueError(f"rewards must have shape [S, A], got shape {rewards.shape}")
        num_states, num_actions, num_next = transitions.shape
        if num_states == 0 or num_actions == 0:
            raise ValueError(f"transitions needs at least one state and one action, got shape {transitions.shape}")
        if num_next != num_states:
            raise ValueError(
                f"transitions must have shape [S, A, S] (next states on the last axis), got shape {transitions.shape}"
            )
        if rewards.shape != (num_states, num_actions):
            raise ValueError(
                f"rewards must have shape [S, A] = {(num_states, num_actions)} to match transitions, got {rewards.shape}"
            )
        if isinstance(discount, (str, bytes)):
            raise ValueError(f"discount must be a number, got the string {discount!r}")
        if np.ndim(discount) != 0:
            raise ValueError(f"discount must be a scalar, got shape {np.shape(discount)}")
        _check_stochastic(transitions, "transitions", "transition probabilities")
        reward_values = concrete_value(rewards)
        if reward_values is not None and not np.all(np.isfinite(reward_values)):
            idx = tuple(np.argwhere(~np.isfinite(reward_values))[0])
            raise ValueError(f"rewards[{_index(idx)}] is {float(reward_values[idx])!r}; rewards must be finite")
        discount_value = concrete_value(discount)
        if discount_value is not None:
            gamma = float(discount_value)
            if not (math.isfinite(gamma) and 0.0 <= gamma < 1.0):
                raise ValueError(f"discount must lie in [0, 1), got {gamma!r}")
            if float(np.asarray(gamma, dtype)) >= 1.0:
                raise ValueError(f"discount {gamma!r} rounds to 1 in {jnp.dtype(dtype).name}; use float64 or a smaller discount")
            if reward_values is not None and reward_values.size:
                bound = float(np.max(np.abs(reward_values))) / (1.0 - gamma)
                if bound > float(jnp.finfo(dtype).max) / 16:
                    raise ValueError(
                        f"rewards up to {float(np.max(np.abs(reward_values))):.3g} with discount {gamma!r} give values "
                        f"up to {bound:.3g}, which overflow {jnp.dtype(dtype).name}; scale the rewards down"
                    )
        self.transitions = transitions.astype(dtype)
        self.rewards = rewards.astype(dtype)
        self.discount = jnp.asarray(discount, dtype=dtype)

    @property
    def num_states(self) -> int:
        """$S$, the number of states."""
        return self.transitions.shape[0]

    @property
    def num_actions(self) -> int:
        """$A$, the number of actions."""
        return self.transitions.shape[1]


def random_mdp(
    key: jax.Array,
    num_states: int,
    num_actions: int,
    *,
    discount=0.9,
    reward_scale=1.0,
    sparsity: float = 0.0,
) -> TabularMDP:
    r"""A random finite MDP, for tests and examples (spec ``def-mdp``).

    $$p(\cdot \mid s, a) \sim \mathrm{Dirichlet}(1, \dots, 1) \text{ on its support}, \qquad
      r(s, a) \sim \mathcal U[-c, c]$$

    Each next state other than one (chosen uniformly, so that every row has
    support) is left out of the support of ``transitions[s, a]`` with probability
    ``sparsity``; on its support the row is uniform on the simplex (normalised
    exponential draws).  ``sparsity`` close to 1 gives nearly deterministic
    dynamics.  Rewards are uniform on $[-c, c]$ with $c$ = ``reward_scale``.

    Args:
      key: a JAX PRNG key.
      num_states: $S \ge 1$ (a Python int: it fixes shapes).
      num_actions: $A \ge 1$.
      discount: $\gamma \in [0, 1)$.
      reward_scale: $c \ge 0$.
      sparsity: probability in $[0, 1)$ of dropping each non-guaranteed next state.

    Returns:
      A ``TabularMDP`` in the default float dtype.  The function is pure in
        ``key`` and can be ``vmap``-ped over keys (``num_states`` and
        ``num_actions`` static).

    Example:
      >>> import jax
      >>> mdp = random_mdp(jax.random.key(0), 3, 2, discount=0.5)
      >>> mdp.transitions.shape, mdp.rewards.shape
      ((3, 2, 3), (3, 2))

    Reference: a test fixture, not from the paper.
    """
    for value, name in ((num_states, "num_states"), (num_actions, "num_actions")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    scale = concrete_value(reward_scale)
    if scale is not None and (np.ndim(scale) != 0 or not np.isfinite(scale) or scale < 0):
        raise ValueError(f"reward_scale must be a finite scalar >= 0, got {reward_scale!r}")
    if not (isinstance(sparsity, (int, float)) and 0.0 <= sparsity < 1.0):
        raise ValueError(f"sparsity must be a float in [0, 1), got {sparsity!r}")
    transitions, rewards = _sample_tables(key, int(num_states), int(num_actions), float(sparsity), reward_scale)
    return TabularMDP(transitions, rewards, discount)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _sample_tables(key, num_states, num_actions, sparsity, reward_scale):
    # One uniform draw, cut into the four pieces (one PRNG call compiles much faster than four).
    n_sas, n_sa = num_states * num_actions * num_states, num_states * num_actions
    u = jax.random.uniform(key, (2 * n_sas + 2 * n_sa,))
    shape = (num_states, num_actions, num_states)
    weights = -jnp.log1p(-u[:n_sas].reshape(shape))  # Exponential(1): normalised, a Dirichlet(1) row
    kept = u[n_sas : 2 * n_sas].reshape(shape) >= sparsity
    pick = jnp.minimum(jnp.floor(u[2 * n_sas : 2 * n_sas + n_sa] * num_states), num_states - 1).astype(jnp.int32)
    guaranteed = jax.nn.one_hot(pick.reshape(shape[:2]), num_states, dtype=bool)
    # A guaranteed entry must be strictly positive even if the exponential draw was 0.
    tiny = jnp.finfo(weights.dtype).tiny
    weights = jnp.where(guaranteed, jnp.maximum(weights, tiny), jnp.where(kept, weights, 0.0))
    transitions = weights / jnp.sum(weights, axis=-1, keepdims=True)
    rewards = (2.0 * u[2 * n_sas + n_sa :] - 1.0).reshape(shape[:2])
    return transitions, rewards * jnp.asarray(reward_scale, dtype=rewards.dtype)
