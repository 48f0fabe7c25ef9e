r"""The multi-goal task of Sec. 5.1 as a ``gymnasium.Env``, written in NumPy.

This is a second, independent implementation of the task defined in
[`softq_ref.envs.multigoal`][softq_ref.envs.multigoal] (see that module for the equations and for every
choice: 2018 code, post-step scoring, clipped-action cost, quadratic reward,
squared-distance goal test, float32).  It deliberately does not call the JAX
functions, so that ``tests/test_envs_multigoal.py``, which runs both on the same
start positions and actions and demands the same observations, rewards, flags
and goal indices, checks two codings of the definition against each other rather
than one against itself.  It serves the gymnasium host loop and third-party
agents (``gymnasium.make("softq_ref/MultiGoal-v0")``).

Truncation: the environment truncates itself after ``max_steps`` (30) steps, as
the JAX version does, and is registered *without* ``max_episode_steps``, so
``gymnasium.make`` adds no ``TimeLimit`` wrapper and there is one horizon, held in
``env.unwrapped.max_steps`` (``env.spec.max_episode_steps`` is ``None``).  Passing
``max_episode_steps=N`` to ``gymnasium.make`` would stack a ``TimeLimit`` on top:
the episode would then end at ``min(N, max_steps)``; change the horizon with
``gymnasium.make(..., max_steps=N)`` instead.  As with ``TimeLimit``,
``truncated`` is set on the step that reaches the horizon even if that step also
reached a goal.

Float32 arithmetic: every operation is done in float32 in the same order as the
JAX version, so the two agree bitwise on positions and to the last bit or two on
rewards (XLA may fuse a multiply-add).  One difference is left alone on purpose:
XLA on CPU flushes subnormal floats (magnitude below 1.2e-38) to zero and NumPy
does not, so a coordinate of, say, 2e-43 stays 2e-43 here and becomes 0 there.
Imitating the flush would put knowledge of XLA into the independent
implementation, for a difference that cannot change a reward or a goal.

Reference: Sec. 5.1 of Haarnoja et al. (2017), arXiv:1702.08165;
haarnoja/softqlearning, ``softqlearning/environments/multigoal.py`` (2018).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

__all__ = ["MultiGoalEnv"]

_GOALS = np.array([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0], [0.0, -5.0]], dtype=np.float32)
_BOUND = np.float32(7.0)
_MAX_ACTION = np.float32(1.0)

_FRAME = 256  # rendered frames are _FRAME x _FRAME RGB
_TICKS = (np.arange(_FRAME) + 0.5) / _FRAME * (2 * float(_BOUND)) - float(_BOUND)
_PIXEL_X, _PIXEL_Y = np.meshgrid(_TICKS, _TICKS[::-1])


class MultiGoalEnv(gymnasium.Env):
    """The multi-goal task (spec ``def-multigoal-task``, deviation ``dev-multigoal-env``) as a gymnasium env.

    Move a point in the plane to one of four goals (the paper's multi-goal task).

    Observation: the position, ``Box(-7, 7, (2,), float32)``.  Action: a velocity,
    ``Box(-1, 1, (2,), float32)``; actions outside the box are clipped, as in the
    original code, and the action cost is computed on the clipped action.

    Args:
      render_mode: ``None`` or ``"rgb_array"`` (a 256x256 frame: the distance cost
        shaded, the goal discs in red, the episode's path in blue).
      goal_reward: bonus on reaching a goal (10).
      action_cost_coeff: weight of the squared action norm (30).
      distance_cost_coeff: weight of the squared distance to the nearest goal (1).
      goal_threshold: goal disc radius (1), strict inequality.
      init_sigma: standard deviation of the start position per coordinate (0.1).
      max_steps: the horizon; ``truncated`` is true on step ``max_steps`` (30).

    ``reset(options={"position": (x, y)})`` starts the episode at a chosen point
    (clipped to the box) instead of sampling; the test-suite uses it to align
    this environment with the JAX one, and the figures to start from the points
    of Figure 1.  ``info`` from ``step`` holds ``"goal"`` (index of the goal
    reached, -1 if none), ``"action_cost"`` and ``"distance_cost"``; ``info``
    from ``reset`` is empty.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        goal_reward: float = 10.0,
        action_cost_coeff: float = 30.0,
        distance_cost_coeff: float = 1.0,
        goal_threshold: float = 1.0,
        init_sigma: float = 0.1,
        max_steps: int = 30,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        if not 0 < goal_threshold < 2.5:
            raise ValueError(f"goal_threshold must lie in (0, 2.5), got {goal_threshold!r}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        if init_sigma < 0 or action_cost_coeff < 0 or distance_cost_coeff < 0:
            raise ValueError("init_sigma, action_cost_coeff and distance_cost_coeff must be >= 0")
        self.render_mode = render_mode
        self.goal_reward = np.float32(goal_reward)
        self.action_cost_coeff = np.float32(action_cost_coeff)
        self.distance_cost_coeff = np.float32(distance_cost_coeff)
        self.goal_threshold = np.float32(goal_threshold)
        self.init_sigma = np.float32(init_sigma)
        self.max_steps = int(max_steps)

        self.observation_space = spaces.Box(-_BOUND, _BOUND, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-_MAX_ACTION, _MAX_ACTION, shape=(2,), dtype=np.float32)
        self.goals = _GOALS.copy()

        self._position: np.ndarray | None = None
        self._t = 0
        self._path: list[np.ndarray] = []
        self._background: np.ndarray | None = None

    # -- gymnasium API -------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode: $s_0 \\sim \\mathcal{N}(0, 0.1^2 I)$ (or ``options["position"]``), clipped."""
        super().reset(seed=seed)
        options = options or {}
        if "position" in options:
            start = np.asarray(options["position"], dtype=np.float32).reshape(-1)
            if start.shape != (2,):
                raise ValueError(f"options['position'] must hold 2 numbers, got shape {np.shape(options['position'])}")
        else:
            start = self.init_sigma * self.np_random.standard_normal(2, dtype=np.float32)
        self._position = np.clip(start, -_BOUND, _BOUND).astype(np.float32)
        self._t = 0
        self._path = [self._position.copy()]
        return self._position.copy(), {}

    def step(self, action):
        """Move by the clipped action, score the new position, end on a goal or at the horizon."""
        if self._position is None:
            raise RuntimeError("call reset() before step()")
        # Clip in float64 before the cast, so that huge finite inputs do not
        # overflow the float32 cast; the clipped value is exactly representable.
        velocity = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0).astype(np.float32)
        if velocity.shape != (2,):
            raise ValueError(f"action must hold 2 numbers, got shape {np.shape(action)}")

        position = np.clip(self._position + velocity, -_BOUND, _BOUND).astype(np.float32)
        self._position = position
        self._t += 1
        self._path.append(position.copy())

        # Squared distance to each goal, x term plus y term, in float32.
        offsets = position[np.newaxis, :] - self.goals
        squared = offsets[:, 0] * offsets[:, 0] + offsets[:, 1] * offsets[:, 1]
        nearest = int(np.argmin(squared))
        reached = bool(squared[nearest] < self.goal_threshold * self.goal_threshold)

        action_cost = self.action_cost_coeff * (velocity[0] * velocity[0] + velocity[1] * velocity[1])
        distance_cost = self.distance_cost_coeff * squared[nearest]
        reward = -(action_cost + distance_cost)
        if reached:
            reward = reward + self.goal_reward

        terminated = reached
        truncated = self._t >= self.max_steps
        info = {
            "goal": nearest if reached else -1,
            "action_cost": float(action_cost),
            "distance_cost": float(distance_cost),
        }
        return position.copy(), float(np.float32(reward)), terminated, truncated, info

    def render(self):
        """A ``[256, 256, 3]`` uint8 frame (``render_mode="rgb_array"``), else ``None``."""
        if self.render_mode != "rgb_array":
            return None
        if self._background is None:
            self._background = self._draw_background()
        frame = self._background.copy()
        for point in self._path:
            self._disc(frame, point, 0.12, (60, 90, 220))
        if self._position is not None:
            self._disc(frame, self._position, 0.25, (20, 30, 120))
        return frame

    # -- drawing ---------------------------------------------------------------

    @staticmethod
    def _pixel_centres() -> tuple[np.ndarray, np.ndarray]:
        """World coordinates of the pixel centres (x right, y up), each ``[256, 256]``."""
        return _PIXEL_X, _PIXEL_Y

    def _draw_background(self) -> np.ndarray:
        x, y = self._pixel_centres()
        cost = np.min([(x - gx) ** 2 + (y - gy) ** 2 for gx, gy in self.goals], axis=0)
        shade = 1.0 - 0.5 * np.sqrt(cost / cost.max())  # lighter near the goals
        frame = np.stack([shade, shade, shade], axis=-1)
        frame = (255 * frame).astype(np.uint8)
        for goal in self.goals:
            self._disc(frame, goal, float(self.goal_threshold), (230, 120, 120))
        return frame

    def _disc(self, frame: np.ndarray, centre, radius: float, colour) -> None:
        x, y = self._pixel_centres()
        inside = (x - float(centre[0])) ** 2 + (y - float(centre[1])) ** 2 <= radius**2
        frame[inside] = np.asarray(colour, dtype=np.uint8)
