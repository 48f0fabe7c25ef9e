"""Figures: the multi-goal picture of the paper's Figure 1, and learning curves over seeds.

Every function draws on a fresh :class:`matplotlib.figure.Figure` attached to the Agg
canvas (no pyplot, no display, no global state), saves a PNG and returns the figure.

* :func:`multigoal_figure` -- Figure 1 of Haarnoja et al. (2017): (a) evaluation
  trajectories on the plane, coloured by the goal they reach; (b) $Q(s, \\cdot)$ over the
  action square at three states, with actions drawn from the policy on top.  The paper's
  reading: soft Q-learning reaches all four goals, its Q is unimodal at $(-2, 0)$, convex
  at $(0, 0)$ and bimodal at $(2.5, 2.5)$, and its samples cover every mode; DDPG commits
  to one goal.
* :func:`learning_curve_figure` -- mean return against environment steps, mean over
  seeds with the min-max (or one-standard-deviation) band, from ``metrics.csv`` files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from softq_ref.agent import Algorithm
from softq_ref.envs import multigoal
from softq_ref.envs.jax_env import multigoal_env
from softq_ref.io.run_dir import read_metrics
from softq_ref.train.evaluate import goal_summary, rollout_jax

__all__ = ["FIGURE1_STATES", "GOAL_COLOURS", "learning_curve_figure", "multigoal_figure"]

FIGURE1_STATES: tuple[tuple[float, float], ...] = ((-2.5, 0.0), (0.0, 0.0), (2.5, 2.5))
"""The states at which Figure 1(b) shows $Q(s, \\cdot)$: those of the original code's plotting script
(``examples/multigoal_sql.py``); the paper gives no coordinates (spec ``dev-multigoal-env``)."""

GOAL_COLOURS: tuple[str, ...] = ("tab:blue", "tab:orange", "tab:green", "tab:red")
"""One colour per goal, in the order of :data:`softq_ref.envs.multigoal.GOALS`."""

_NO_GOAL_COLOUR = "0.55"
_DPI = 120


def _new_figure(figsize) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, format="png")


# -- Figure 1 -----------------------------------------------------------------------------


@eqx.filter_jit
def _q_on_actions(q, obs: jax.Array, actions: jax.Array) -> jax.Array:
    """$Q(s, a_i)$ for one observation and ``[N, d]`` actions: ``[N]``."""
    return jax.vmap(q, in_axes=(None, 0))(obs, actions)


@eqx.filter_jit
def _policy_actions(algo: Algorithm, agent_state, obs: jax.Array, key: jax.Array, num: int) -> jax.Array:
    """``num`` draws of ``algo.act`` at one observation (all equal for a deterministic policy)."""
    keys = jax.random.split(key, num)
    return jax.vmap(lambda k: algo.act(agent_state, obs, k))(keys)


def _distance_cost(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """$\\min_g \\lVert s - g \\rVert^2$ on a grid (the reward's distance term)."""
    goals = np.asarray(multigoal.GOALS, np.float64)
    d2 = (xs[..., None] - goals[:, 0]) ** 2 + (ys[..., None] - goals[:, 1]) ** 2
    return d2.min(axis=-1)


def _draw_plane(ax, rollouts, states, num_goals: int) -> None:
    """Figure 1(a): cost contours, goal discs, trajectories coloured by goal, the Q states."""
    bound = multigoal.BOUND
    grid = np.linspace(-bound, bound, 281)
    xs, ys = np.meshgrid(grid, grid)
    cost = _distance_cost(xs, ys)
    ax.contour(xs, ys, cost, levels=np.arange(2.0, cost.max(), 4.0), colors="0.8", linewidths=0.6, zorder=0)

    radius = multigoal.DEFAULT_PARAMS.goal_threshold
    for g, (gx, gy) in enumerate(np.asarray(multigoal.GOALS)):
        colour = GOAL_COLOURS[g % len(GOAL_COLOURS)]
        ax.add_patch(Circle((gx, gy), radius, facecolor=colour, alpha=0.18, edgecolor=colour, lw=1.2, zorder=1))
        ax.plot(gx, gy, marker="*", ms=13, color=colour, mec="k", mew=0.6, zorder=4)

    observations = np.asarray(rollouts.observations)
    lengths = np.asarray(rollouts.lengths)
    goals = np.asarray(rollouts.goal)
    for e in range(observations.shape[0]):
        path = observations[e, : lengths[e] + 1]
        colour = GOAL_COLOURS[goals[e] % len(GOAL_COLOURS)] if goals[e] >= 0 else _NO_GOAL_COLOUR
        ax.plot(path[:, 0], path[:, 1], "-", color=colour, lw=1.0, alpha=0.75, zorder=2)
        ax.plot(path[-1, 0], path[-1, 1], "o", color=colour, ms=2.5, alpha=0.9, zorder=3)
    starts = observations[:, 0]
    ax.plot(starts[:, 0], starts[:, 1], "k.", ms=3, zorder=3)

    for i, (sx, sy) in enumerate(states):
        ax.plot(sx, sy, marker="X", ms=9, color="k", mec="w", mew=0.8, zorder=5)
        ax.annotate(f"s{i + 1}", (sx, sy), xytext=(6, 6), textcoords="offset points", fontsize=9, weight="bold")

    summary = goal_summary(goals, num_goals)
    handles = [
        Line2D([], [], color=GOAL_COLOURS[g], lw=2, label=f"goal {g} {tuple(int(v) for v in multigoal.GOALS[g])}: "
               f"{summary['counts'][g]}/{summary['episodes']}")
        for g in range(num_goals)
    ]
    handles.append(Line2D([], [], color=_NO_GOAL_COLOUR, lw=2, label=f"no goal: {summary['none']}/{summary['episodes']}"))
    ax.legend(handles=handles, loc="upper left", fontsize=7.5, framealpha=0.9, handlelength=1.5)

    ax.set_xlim(-bound, bound)
    ax.set_ylim(-bound, bound)
    ax.set_aspect("equal")
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(f"(a) {observations.shape[0]} evaluation trajectories", fontsize=10)


def _draw_q_panel(ax, agent_state, actions: np.ndarray, obs: np.ndarray, label: str, resolution: int) -> None:
    """Figure 1(b) at one state: contours of $Q(s, \\cdot)$ on $[-1, 1]^2$ and policy actions."""
    grid = np.linspace(-1.0, 1.0, resolution, dtype=np.float32)
    ax_, ay_ = np.meshgrid(grid, grid)
    q = getattr(agent_state, "q", None)
    if q is not None:
        flat = np.stack([ax_.ravel(), ay_.ravel()], axis=-1)
        values = np.asarray(_q_on_actions(q, jnp.asarray(obs, jnp.float32), jnp.asarray(flat))).reshape(ax_.shape)
        if np.all(np.isfinite(values)) and np.ptp(values) > 1e-6 * max(1.0, np.abs(values).max()):
            filled = ax.contourf(ax_, ay_, values, levels=15, cmap="viridis", alpha=0.85, zorder=0)
            ax.contour(ax_, ay_, values, levels=filled.levels, colors="k", linewidths=0.3, alpha=0.5, zorder=1)
        else:
            ax.text(0.5, 0.5, "Q flat or non-finite", transform=ax.transAxes, ha="center", fontsize=10)
    else:
        ax.text(0.5, 0.5, "agent has no Q", transform=ax.transAxes, ha="center", fontsize=10)

    deterministic = bool(np.allclose(actions, actions[:1], atol=1e-6))
    if deterministic:
        ax.plot(actions[0, 0], actions[0, 1], "o", ms=8, color="red", mec="w", mew=1.2, zorder=3)
    else:
        ax.plot(actions[:, 0], actions[:, 1], "o", ms=3, color="red", mec="w", mew=0.4, alpha=0.9, zorder=3)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xticks([-1, 0, 1])
    ax.set_yticks([-1, 0, 1])
    ax.tick_params(labelsize=9)
    ax.set_xlabel("$a_x$", fontsize=10, labelpad=1)
    ax.set_ylabel("$a_y$", fontsize=10, labelpad=1)
    kind = "1 deterministic action" if deterministic else f"{len(actions)} sampled actions"
    ax.set_title(f"{label}: $Q(s, \\cdot)$ at $s$ = ({obs[0]:g}, {obs[1]:g})\n{kind}", fontsize=10)


def multigoal_figure(
    algo: Algorithm,
    agent_state,
    key: jax.Array,
    path,
    *,
    title: str | None = None,
    num_rollouts: int = 50,
    states: Sequence[Sequence[float]] = FIGURE1_STATES,
    num_action_samples: int = 100,
    resolution: int = 81,
) -> Figure:
    """Draw and save the paper's Figure 1 for an agent on the multi-goal task.

    Left, (a): the plane $[-7, 7]^2$ with the reward's distance term
    $\\min_g \\lVert s - g \\rVert^2$ as light contours, the four goal discs (radius 1,
    stars at the centres), and ``num_rollouts`` evaluation trajectories from the start
    distribution $\\mathcal{N}(0, 0.1^2 I)$, each coloured by the goal it reached (grey if
    none); the legend counts the episodes per goal.  Right, (b): one panel per state in
    ``states`` with contours of $Q(s, \\cdot)$ on the action square $[-1, 1]^2$ (brighter
    is higher) and ``num_action_samples`` draws of ``algo.act`` at $s$ as red dots --
    for DDPG these coincide, and a single larger dot is drawn.

    Args:
      algo: the algorithm (``SQL``, ``DDPG`` or any :class:`~softq_ref.agent.Algorithm`).
      agent_state: its state; ``agent_state.q(obs, action) -> scalar`` is drawn when present.
      key: a PRNG key (trajectories and action samples).
      path: where to write the PNG (parent directories are created).
      title: a suptitle, e.g. ``"soft Q-learning, 20k steps"``.
      num_rollouts: trajectories in panel (a).
      states: the states of panel (b); the paper's are $(-2, 0)$, $(0, 0)$, $(2.5, 2.5)$.
      num_action_samples: policy draws per state.
      resolution: action-grid points per axis for the Q contours.

    Returns:
      The :class:`matplotlib.figure.Figure` (already saved).

    Example:
      >>> from softq_ref.agent import SQL, SQLConfig
      >>> agent = SQL.init(SQLConfig(hidden_sizes=(16,)), 2, 2, jax.random.key(0))
      >>> fig = multigoal_figure(SQL, agent, jax.random.key(1), "/tmp/fig1.png", num_rollouts=5)

    Reference: Figure 1 and Sec. 5.1 of Haarnoja et al. (2017).  The paper starts its
    trajectories at the origin; the task we follow (the 2018 code) starts them at
    $\\mathcal{N}(0, 0.1^2 I)$, which is what is drawn here.
    """
    env = multigoal_env()
    k_roll, k_act = jax.random.split(key)
    rollouts = rollout_jax(algo, agent_state, env, k_roll, num_rollouts)

    states = [tuple(float(v) for v in s) for s in states]
    fig = _new_figure((9.6, 6.6))
    n = max(len(states), 1)
    grid = fig.add_gridspec(n, 2, width_ratios=[2.1, 1.0])
    plane = fig.add_subplot(grid[:, 0])
    _draw_plane(plane, rollouts, states, env.num_goals)

    for i, (s, k) in enumerate(zip(states, jax.random.split(k_act, n))):
        obs = np.asarray(multigoal.observe(multigoal.state_at(s)))
        actions = np.asarray(_policy_actions(algo, agent_state, jnp.asarray(obs), k, num_action_samples))
        _draw_q_panel(fig.add_subplot(grid[i, 1]), agent_state, actions, obs, f"(b{i + 1}) s{i + 1}", resolution)

    fig.suptitle(title if title is not None else f"Multi-goal task: {algo.name}", fontsize=12)
    fig.get_axes()[-1].annotate(
        "contours: Q (yellow high, purple low); dots: policy actions",
        (0.5, 0), xycoords="axes fraction", xytext=(0, -30), textcoords="offset points",
        ha="center", va="top", fontsize=7, color="0.3",
    )
    _save(fig, path)
    return fig


# -- learning curves ----------------------------------------------------------------------


def _rows_of(source) -> tuple[list[dict], str]:
    """Rows (dicts) of one source and a default label for it."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        rows = read_metrics(p)
        label = p.parent.name if p.name == "metrics.csv" and p.parent.name else p.stem
        return rows, label
    if isinstance(source, Mapping):
        columns = {k: list(v) for k, v in source.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of a frame must have equal lengths, got {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        return [{k: v[i] for k, v in columns.items()} for i in range(n)], "run"
    if isinstance(source, Sequence) and all(isinstance(r, Mapping) for r in source):
        return [dict(r) for r in source], "run"
    raise TypeError(f"expected a CSV path, a mapping of columns or a list of row dicts, got {type(source).__name__}")


def _to_float(value) -> float:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return math.nan
    return float(value)


def _curve(rows: list[dict], x: str, y: str) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Group ``rows`` by seed: the sorted x values of all seeds and each seed's finite (x, y)."""
    per_seed: dict[str, dict[float, float]] = {}
    for r in rows:
        if x not in r or y not in r:
            raise KeyError(f"metrics rows need columns {x!r} and {y!r}; got {sorted(r)}")
        xv, yv = _to_float(r[x]), _to_float(r[y])
        if math.isfinite(xv) and math.isfinite(yv):
            per_seed.setdefault(str(r.get("seed", "0")), {})[xv] = yv  # a resumed run's later row wins
    seeds = {s: (np.array(sorted(d)), np.array([d[k] for k in sorted(d)])) for s, d in per_seed.items()}
    xs = np.array(sorted({v for d in per_seed.values() for v in d}))
    return xs, seeds


def learning_curve_figure(
    sources,
    path,
    *,
    labels: Sequence[str] | None = None,
    x: str = "step",
    y: str = "mean_return",
    spread: str = "minmax",
    show_seeds: bool = False,
    title: str | None = None,
) -> Figure:
    """Plot the mean over seeds of ``y`` against ``x``, one curve per source, with a band.

    $$\\bar y(x) = \\frac{1}{|S_x|} \\sum_{s \\in S_x} y_s(x)$$

    where $S_x$ are the seeds with a finite value at $x$ (rows where no episode ended hold
    an empty or NaN ``mean_return`` and are skipped).  The band is the min-max over seeds
    (``spread="minmax"``) or $\\bar y \\pm$ one standard deviation (``spread="std"``).

    Args:
      sources: one source or a list of them; a source is a path to a ``metrics.csv``
        (columns including ``step``, ``seed``, ``mean_return``; one file may hold several
        seeds), a mapping of column name to values, or a list of row dicts.  Rows without
        a ``seed`` column count as one seed.
      path: where to write the PNG.
      labels: one legend label per source (default: the run directory's name).
      x, y: the columns to plot.
      spread: ``"minmax"`` or ``"std"``.
      show_seeds: also draw each seed's curve, thin.
      title: the axes' title.

    Returns:
      The saved :class:`matplotlib.figure.Figure`.

    Example:
      >>> rows = [{"step": s, "seed": k, "mean_return": -s / 10 - k} for s in (1, 2) for k in (0, 1)]
      >>> fig = learning_curve_figure(rows, "/tmp/curve.png", labels=["toy"])
    """
    if spread not in ("minmax", "std"):
        raise ValueError(f"spread must be 'minmax' or 'std', got {spread!r}")
    if isinstance(sources, (str, os.PathLike, Mapping)) or (
        isinstance(sources, Sequence) and sources and all(isinstance(r, Mapping) for r in sources)
    ):
        sources = [sources]
    sources = list(sources)
    if labels is not None and len(labels) != len(sources):
        raise ValueError(f"{len(labels)} labels for {len(sources)} sources")

    fig = _new_figure((7.0, 4.4))
    ax = fig.add_subplot()
    colours = [f"C{i}" for i in range(10)]
    for i, source in enumerate(sources):
        rows, default_label = _rows_of(source)
        xs, seeds = _curve(rows, x, y)
        colour = colours[i % len(colours)]
        label = labels[i] if labels is not None else default_label
        if xs.size == 0:
            ax.plot([], [], color=colour, label=f"{label} (no data)")
            continue
        table = np.full((len(seeds), xs.size), np.nan)
        for j, (sx, sy) in enumerate(seeds.values()):
            table[j, np.searchsorted(xs, sx)] = sy
        present = np.isfinite(table)
        count = present.sum(axis=0)
        mean = np.where(present, table, 0.0).sum(axis=0) / count
        if spread == "minmax":
            lo = np.where(present, table, np.inf).min(axis=0)
            hi = np.where(present, table, -np.inf).max(axis=0)
        else:
            var = np.where(present, (table - mean) ** 2, 0.0).sum(axis=0) / count
            lo, hi = mean - np.sqrt(var), mean + np.sqrt(var)
        if show_seeds:
            for sx, sy in seeds.values():
                ax.plot(sx, sy, color=colour, lw=0.6, alpha=0.35)
        ax.fill_between(xs, lo, hi, color=colour, alpha=0.2, lw=0)
        ax.plot(xs, mean, color=colour, lw=1.8, label=f"{label} ({len(seeds)} seed{'s' if len(seeds) != 1 else ''})")

    ax.set_xlabel("environment steps" if x == "step" else x)
    ax.set_ylabel("mean episode return" if y == "mean_return" else y)
    band = "min-max over seeds" if spread == "minmax" else "mean ± 1 std over seeds"
    ax.set_title(title if title is not None else f"Learning curves (band: {band})", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)
    return fig
