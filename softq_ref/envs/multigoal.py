r"""The multi-goal task of Sec. 5.1 as a pure-JAX functional environment.

A point in the plane moves by the velocity it is given and is rewarded for
approaching the nearest of four goals, while paying for speed.  Every function
here is pure, jit-able and vmap-able; float32 throughout; the episode horizon and
the reward constants are static (a frozen, hashable
[`MultiGoalParams`][softq_ref.envs.multigoal.MultiGoalParams]).

$$
\begin{aligned}
s' &= \mathrm{clip}\big(s + \mathrm{clip}(a, -1, 1), -7, 7\big), \\
r(s, a, s') &= -\Big(30\,\lVert \mathrm{clip}(a, -1, 1) \rVert^2 + \min_g \lVert s' - g \rVert^2\Big) \\
&\quad + 10\,\mathbb{1}\big[\min_g \lVert s' - g \rVert < 1\big]
\end{aligned}
$$

with goals $g \in \{(5,0), (-5,0), (0,5), (0,-5)\}$.  Reaching a goal (the
indicator above) terminates the episode; otherwise it is truncated after 30 steps.
The start position is drawn from $\mathcal{N}(0, 0.1^2)$ per coordinate.

A gymnasium implementation written independently in NumPy lives in
[`softq_ref.envs.multigoal_gym`][softq_ref.envs.multigoal_gym]; ``tests/test_envs_multigoal.py`` proves the two
agree step by step.

Reference: Sec. 5.1 and Figure 1 of Haarnoja, Tang, Abbeel and Levine (2017),
"Reinforcement Learning with Deep Energy-Based Policies", arXiv:1702.08165; the
task as coded in haarnoja/softqlearning, ``softqlearning/environments/multigoal.py``.

Which version, and why:

* **We follow the 2018 code** (the garage-era ``multigoal.py``), which is the one
  the published example script trains on.  The 2017 (rllab-era) code differed in
  two ways: it started every episode at the origin exactly (``init_sigma = 0``),
  and it scored the *pre-step* position $s$ -- both the distance cost and the goal
  test (so the +10 bonus and termination came one step after entering a goal).
  The 2018 code scores the *post-step* position $s'$, as we do.
* **The action cost uses the clipped action.**  Both code versions clip the action
  to the action box first and then compute ``30 * sum(action**2)`` on the clipped
  value; an out-of-range action therefore costs no more than the boundary action it
  is clipped to.  A policy whose outputs leave [-1, 1] (the original samplers end
  in ``tanh``, so they never do) sees a flat cost outside the box.
* **The reward is quadratic, not Gaussian.**  The paper's text calls the reward a
  mixture of Gaussians; both code versions use the quadratic cost above, which is
  what we implement.  Likewise the paper's appendix D lists path length 20, the
  code 30; we use 30.
* **Goal test on squared distances.**  The code tests ``norm(s' - g) < 1``; we test
  ``|s' - g|^2 < 1``, identical in exact arithmetic and free of a square root
  whose rounding could flip the test at the boundary.  The goal discs (radius 1,
  centres at least $5\sqrt{2}$ apart) are disjoint, so "the nearest goal, if
  within the radius" is unambiguous.
* **Float32.**  The 2018 code adds float64 noise to a float32 mean, so its
  positions and rewards are float64; ours are float32, like the observation space
  it declares.
* **Truncation follows gymnasium's ``TimeLimit``.**  ``truncated`` is true when the
  step counter reaches ``max_steps``, whether or not the same step also
  terminated; learning code must cut the bootstrap on ``terminated`` only.  The
  original sampler likewise stored ``terminal = done`` (goal reached) and reset
  silently at the path length.

Spec: ``def-multigoal-task``; the choices below are spec deviation ``dev-multigoal-env``.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "GOALS",
    "BOUND",
    "MAX_ACTION",
    "DEFAULT_PARAMS",
    "MultiGoalParams",
    "MultiGoalState",
    "goal_index",
    "state_at",
    "reset",
    "step",
    "step_autoreset",
    "observe",
]

GOALS: np.ndarray = np.array([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0], [0.0, -5.0]], dtype=np.float32)
"""The four goal positions, shape ``[4, 2]``, float32, in the code's order
(index 0: (5, 0), 1: (-5, 0), 2: (0, 5), 3: (0, -5)).  Read-only NumPy so that
importing this module does not initialise a JAX backend."""
GOALS.setflags(write=False)

BOUND: float = 7.0
"""Positions are clipped to ``[-BOUND, BOUND]^2`` (the code's ``xlim``/``ylim``)."""

MAX_ACTION: float = 1.0
"""Actions are clipped to ``[-MAX_ACTION, MAX_ACTION]^2`` (the code's ``vel_bound``)."""


@dataclasses.dataclass(frozen=True)
class MultiGoalParams:
    """Static constants of the multi-goal task; defaults are the 2018 code's.

    Frozen and hashable, so it can be closed over or passed as a static argument
    of ``jax.jit``.  The field names match the keyword arguments of
    [`MultiGoalEnv`][softq_ref.envs.multigoal_gym.MultiGoalEnv].

    Attributes:
      goal_reward: bonus added on the step that reaches a goal (code: ``goal_reward=10``).
      action_cost_coeff: weight of $\\lVert a \\rVert^2$ (code: ``actuation_cost_coeff=30``).
      distance_cost_coeff: weight of $\\min_g \\lVert s' - g \\rVert^2$ (code: 1).
      goal_threshold: radius of each goal disc, strict inequality (code: 1).
      init_sigma: standard deviation of the start position per coordinate (code: 0.1).
      max_steps: episode horizon; ``truncated`` on the step that reaches it
        (code: ``max_path_length = 30`` in the example script).
    """

    goal_reward: float = 10.0
    action_cost_coeff: float = 30.0
    distance_cost_coeff: float = 1.0
    goal_threshold: float = 1.0
    init_sigma: float = 0.1
    max_steps: int = 30

    def __post_init__(self):
        for name in ("goal_reward", "action_cost_coeff", "distance_cost_coeff", "goal_threshold", "init_sigma"):
            value = getattr(self, name)
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
        for name in ("action_cost_coeff", "distance_cost_coeff", "init_sigma"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 < self.goal_threshold < 2.5:
            # Below 5 / 2 the goal discs are disjoint, so the reached goal is unique.
            raise ValueError(f"goal_threshold must lie in (0, 2.5), got {self.goal_threshold!r}")
        if isinstance(self.max_steps, bool) or not isinstance(self.max_steps, (int, np.integer)) or self.max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {self.max_steps!r}")


DEFAULT_PARAMS = MultiGoalParams()


class MultiGoalState(NamedTuple):
    """The environment state, a pytree of two leaves (batch them with ``vmap``).

    Attributes:
      position: float32 ``[2]``, the point's position (also the observation).
      t: int32 ``[]``, steps taken in the current episode (0 after a reset).
    """

    position: jax.Array
    t: jax.Array


def observe(state: MultiGoalState) -> jax.Array:
    """The observation of a state: its position, float32 ``[2]`` (the task is fully observed)."""
    return state.position


def state_at(position) -> MultiGoalState:
    """A fresh episode's state at a chosen ``position`` (``[2]``, clipped to the box).

    Used to start from the points of Figure 1 ((-2.5, 0), (0, 0), (2.5, 2.5) in the
    original code's plotting script) and to compare with the gymnasium environment's
    ``reset(options={"position": ...})``.

    Example:
      >>> state = state_at([0.0, 0.0])
      >>> state.t.dtype
      dtype('int32')
    """
    position = jnp.clip(jnp.asarray(position, dtype=jnp.float32), -BOUND, BOUND)
    if position.shape != (2,):
        raise ValueError(f"position must have shape (2,), got {position.shape}")
    return MultiGoalState(position=position, t=jnp.zeros((), dtype=jnp.int32))


def _squared_distances(position: jax.Array) -> jax.Array:
    """$\\lVert s - g \\rVert^2$ for each goal, ``[4]``, summed x then y."""
    diff = position[None, :] - jnp.asarray(GOALS)
    return diff[:, 0] * diff[:, 0] + diff[:, 1] * diff[:, 1]


def goal_index(position, params: MultiGoalParams = DEFAULT_PARAMS) -> jax.Array:
    """Index into [`GOALS`][softq_ref.envs.multigoal.GOALS] of the goal whose disc contains ``position``, else -1.

    $$\\mathrm{goal}(s) = \\arg\\min_g \\lVert s - g \\rVert^2 \\text{ if }
      \\min_g \\lVert s - g \\rVert^2 < \\rho^2 \\text{ else } -1$$

    with $\\rho$ = ``params.goal_threshold`` (strict inequality, as the code's ``<``).

    Args:
      position: float ``[2]``.
      params: the task constants.

    Returns:
      int32 ``[]`` in ``{-1, 0, 1, 2, 3}``.

    Example:
      >>> int(goal_index(jnp.array([4.5, 0.2])))
      0
      >>> int(goal_index(jnp.array([0.0, 0.0])))
      -1
    """
    d2 = _squared_distances(jnp.asarray(position, dtype=jnp.float32))
    nearest = jnp.argmin(d2).astype(jnp.int32)
    within = d2[nearest] < jnp.float32(params.goal_threshold) ** 2
    return jnp.where(within, nearest, jnp.int32(-1))


def reset(key: jax.Array, params: MultiGoalParams = DEFAULT_PARAMS) -> tuple[MultiGoalState, jax.Array]:
    """Start an episode at $s_0 \\sim \\mathcal{N}(0, \\sigma^2 I)$, clipped to the box (spec ``def-multigoal-task``).

    Args:
      key: a PRNG key.
      params: the task constants (``init_sigma`` = 0.1 in the 2018 code, 0 in 2017).

    Returns:
      ``(state, obs)`` with ``obs = state.position``, float32 ``[2]``.

    Example:
      >>> state, obs = reset(jax.random.key(0))
      >>> obs.shape
      (2,)
    """
    noise = jax.random.normal(key, (2,), dtype=jnp.float32)
    position = jnp.clip(jnp.float32(params.init_sigma) * noise, -BOUND, BOUND)
    state = MultiGoalState(position=position, t=jnp.zeros((), dtype=jnp.int32))
    return state, observe(state)


def step(
    state: MultiGoalState, action, params: MultiGoalParams = DEFAULT_PARAMS
) -> tuple[MultiGoalState, jax.Array, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]]:
    """One transition of the multi-goal task (spec ``def-multigoal-task``; 2018 code: post-step scoring).

    $$
    \\begin{aligned}
    a_c &= \\mathrm{clip}(a, -1, 1), \\qquad s' = \\mathrm{clip}(s + a_c, -7, 7), \\\\
    r &= -\\big(30 \\lVert a_c \\rVert^2 + \\min_g \\lVert s' - g \\rVert^2\\big)
          + 10\\,\\mathbb{1}[\\mathrm{goal}(s') \\ne -1]
    \\end{aligned}
    $$

    Args:
      state: the current state (``position`` float32 ``[2]``, ``t`` int32 ``[]``).
      action: float ``[2]``; any finite or infinite value, clipped to [-1, 1]
        (NaN propagates into the position, as in the code).
      params: the task constants.

    Returns:
      ``(next_state, next_obs, reward, terminated, truncated, info)``:
        ``next_obs`` float32 ``[2]`` (= ``next_state.position``); ``reward`` float32
        ``[]``; ``terminated`` bool ``[]`` (a goal was reached);
        ``truncated`` bool ``[]`` (``next_state.t >= max_steps``, independent of
        ``terminated``, as gymnasium's ``TimeLimit``); ``info`` a dict of arrays:
        ``"goal"`` int32 (index of the goal reached, -1 if none),
        ``"action_cost"`` and ``"distance_cost"`` float32 (the two costs, weighted).

    Example:
      >>> state = state_at([4.0, 0.0])
      >>> _, obs, reward, terminated, truncated, info = step(state, jnp.array([1.0, 0.0]))
      >>> float(reward), bool(terminated), int(info["goal"])  # -(30 * 1 + 0) + 10
      (-20.0, True, 0)

    Reference: Sec. 5.1 of Haarnoja et al. (2017); ``MultiGoalEnv.step`` and
    ``compute_reward`` of haarnoja/softqlearning (2018).  Stepping past the end of an
    episode is allowed (the dynamics simply continue); a training loop should use
    [`step_autoreset`][softq_ref.envs.multigoal.step_autoreset].
    """
    action = jnp.clip(jnp.asarray(action, dtype=jnp.float32), -MAX_ACTION, MAX_ACTION)
    if action.shape != (2,):
        raise ValueError(f"action must have shape (2,), got {action.shape}")
    position = jnp.clip(state.position + action, -BOUND, BOUND)
    t = state.t + jnp.int32(1)

    d2 = _squared_distances(position)
    action_cost = jnp.float32(params.action_cost_coeff) * (action[0] * action[0] + action[1] * action[1])
    distance_cost = jnp.float32(params.distance_cost_coeff) * jnp.min(d2)
    goal = goal_index(position, params)
    terminated = goal >= 0
    bonus = jnp.where(terminated, jnp.float32(params.goal_reward), jnp.float32(0.0))
    reward = -(action_cost + distance_cost) + bonus
    truncated = t >= params.max_steps

    next_state = MultiGoalState(position=position, t=t)
    info = {"goal": goal, "action_cost": action_cost, "distance_cost": distance_cost}
    return next_state, observe(next_state), reward, terminated, truncated, info


def step_autoreset(
    state: MultiGoalState, action, key: jax.Array, params: MultiGoalParams = DEFAULT_PARAMS
) -> tuple[MultiGoalState, jax.Array, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]]:
    """[`step`][softq_ref.envs.multigoal.step], then [`reset`][softq_ref.envs.multigoal.reset] with ``key`` if the episode ended.

    For a ``lax.scan`` training loop: the returned state is the one to act in
    next (a fresh episode's when ``terminated | truncated``), while ``next_obs``
    is always the true successor $s'$ of this transition, the one the replay buffer
    must store beside ``terminated`` (bootstrap mask) -- never the reset
    observation.  ``key`` is consumed only when a reset happens, but is always
    required (the choice is made with ``jnp.where``, without Python control flow).

    Args:
      state: the current state.
      action: float ``[2]``.
      key: a PRNG key for the possible reset (split it yourself each step).
      params: the task constants.

    Returns:
      ``(state_to_act_in, next_obs, reward, terminated, truncated, info)``, as
        [`step`][softq_ref.envs.multigoal.step] except the first element; act on
        ``observe(state_to_act_in)``.

    Example:
      >>> state = state_at([4.0, 0.0])
      >>> new_state, next_obs, *_ = step_autoreset(state, jnp.array([1.0, 0.0]), jax.random.key(1))
      >>> next_obs.tolist(), int(new_state.t)  # the goal was reached: reset
      ([5.0, 0.0], 0)
    """
    next_state, next_obs, reward, terminated, truncated, info = step(state, action, params)
    fresh_state, _ = reset(key, params)
    done = jnp.logical_or(terminated, truncated)
    state_to_act_in = jax.tree.map(lambda fresh, cont: jnp.where(done, fresh, cont), fresh_state, next_state)
    return state_to_act_in, next_obs, reward, terminated, truncated, info
