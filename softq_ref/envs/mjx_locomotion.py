"""HalfCheetah-v5, Hopper-v5 and Swimmer-v5 in pure JAX through MJX, for the jitted loop.

The MuJoCo tasks of Sec. 5 normally run in gymnasium (C MuJoCo, one step per Python call,
the host loop).  Here the same tasks are written as :class:`~softq_ref.envs.task.JaxEnv`
twins whose physics is MJX (MuJoCo XLA, ``pip install softq_ref[mjx]``), so the whole
training loop, environment included, is one ``lax.scan`` and many seeds are one ``vmap``.

What is gymnasium's and what is ours:

* **The scenes** are gymnasium's own v5 XML files (``gymnasium/envs/mujoco/assets/*.xml``,
  read with :mod:`importlib.resources`), with their integrators (Euler for the cheetah, RK4
  for the hopper and the swimmer), timesteps, solver settings and control ranges.
* **The task terms** (observation layout, reward terms, health rule, frame skip, reset
  noise, 1000-step limit) are gymnasium 1.x's v5 constants, copied into
  :class:`LocomotionSpec` (:data:`HALF_CHEETAH`, :data:`HOPPER`, :data:`SWIMMER`; each field
  cites the ``__init__`` default of ``half_cheetah_v5.py``, ``hopper_v5.py`` or
  ``swimmer_v5.py`` and the ``max_episode_steps=1000`` of ``gymnasium/envs/__init__.py``).
  They are pure functions of ``(qpos, qvel, action)`` (:func:`observation`,
  :func:`is_healthy`, :func:`reward_terms`), tested against gymnasium's on the same states.
* **The physics differs** (spec deviation ``dev-mjx-physics``): MJX runs in float32 (C
  MuJoCo in float64) and its constraint solver is not C MuJoCo's, so trajectories from the
  same state agree to a tolerance over a few steps and then drift apart (contacts are
  chaotic).  ``tests/test_mjx_envs.py`` measures the gap; docs/scale.md states it.

The state carried between steps is ``(qpos, qvel, qacc_warmstart, steps)``
(:class:`LocomotionState`): each step rebuilds a template ``mjx.Data`` from it, since
``mjx.step`` recomputes every derived quantity from the positions and velocities, and
MuJoCo's solver warm start is the only other input that changes a step's result.

Actions are the agent's ``[-1, 1]^d``, mapped affinely onto the actuators' control range
(all three tasks' ranges are ``[-1, 1]``, so the map is the identity), as the host loop does.

Which loop runs a task is chosen by device (``Task.jax_twin_on_cpu = False``): on a CPU MJX is
slower than C MuJoCo for one scene, so the host loop stays the default there; on a GPU
or TPU the MJX twin and the jitted loop are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
from importlib import resources
from importlib.util import find_spec
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from softq_ref.envs.task import JaxEnv, Task

#: gymnasium's registration of all three v5 tasks: ``max_episode_steps=1000``.
MAX_STEPS = 1000


@dataclass(frozen=True)
class LocomotionSpec:
    """The constants of one gymnasium v5 locomotion task (the defaults of its ``__init__``).

    Attributes:
      env_id: the gymnasium id.
      xml_file: the scene, a file of ``gymnasium/envs/mujoco/assets``.
      frame_skip: MuJoCo steps per environment step (``dt = timestep * frame_skip``).
      forward_reward_weight: weight of the root's x velocity over the step.
      ctrl_cost_weight: weight of ``|a|^2``.
      reset_noise_scale: half-width of the uniform reset noise (the standard deviation of the
        cheetah's normal velocity noise).
      qvel_noise: ``"uniform"`` or ``"normal"`` (HalfCheetah's velocity noise).
      skipped_qpos: leading positions left out of the observation (the root's x; the
        swimmer's x and y).
      qvel_clip: bound of the velocities in the observation (Hopper: 10), or ``None``.
      healthy_reward: reward per step while healthy (Hopper: 1).
      terminate_when_unhealthy: whether leaving the healthy ranges ends the episode.
      healthy_state_range: open bounds of ``concat(qpos, qvel)[2:]``, or ``None`` (no rule).
      healthy_z_range: open bounds of the torso height ``qpos[1]``.
      healthy_angle_range: open bounds of the torso angle ``qpos[2]``.
      max_steps: the time limit.
    """

    env_id: str
    xml_file: str
    frame_skip: int
    forward_reward_weight: float
    ctrl_cost_weight: float
    reset_noise_scale: float
    qvel_noise: str
    skipped_qpos: int
    qvel_clip: float | None = None
    healthy_reward: float = 0.0
    terminate_when_unhealthy: bool = False
    healthy_state_range: tuple[float, float] | None = None
    healthy_z_range: tuple[float, float] | None = None
    healthy_angle_range: tuple[float, float] | None = None
    max_steps: int = MAX_STEPS

    def replace(self, **changes) -> "LocomotionSpec":
        """A copy with ``changes`` (the tests' deliberately wrong twins)."""
        return dataclasses.replace(self, **changes)


#: ``half_cheetah_v5.HalfCheetahEnv.__init__``: frame_skip=5, forward_reward_weight=1.0,
#: ctrl_cost_weight=0.1, reset_noise_scale=0.1 (uniform positions, ``0.1 * N(0, 1)``
#: velocities); observation ``qpos[1:]`` and ``qvel`` (17); never terminates.
HALF_CHEETAH = LocomotionSpec(
    env_id="HalfCheetah-v5", xml_file="half_cheetah.xml", frame_skip=5, forward_reward_weight=1.0,
    ctrl_cost_weight=0.1, reset_noise_scale=0.1, qvel_noise="normal", skipped_qpos=1,
)

#: ``hopper_v5.HopperEnv.__init__``: frame_skip=4, forward_reward_weight=1.0,
#: ctrl_cost_weight=1e-3, healthy_reward=1.0, terminate_when_unhealthy=True,
#: healthy_state_range=(-100, 100), healthy_z_range=(0.7, inf), healthy_angle_range=(-0.2, 0.2),
#: reset_noise_scale=5e-3 (uniform); observation ``qpos[1:]`` and ``clip(qvel, -10, 10)`` (11).
HOPPER = LocomotionSpec(
    env_id="Hopper-v5", xml_file="hopper.xml", frame_skip=4, forward_reward_weight=1.0,
    ctrl_cost_weight=1e-3, reset_noise_scale=5e-3, qvel_noise="uniform", skipped_qpos=1, qvel_clip=10.0,
    healthy_reward=1.0, terminate_when_unhealthy=True, healthy_state_range=(-100.0, 100.0),
    healthy_z_range=(0.7, float("inf")), healthy_angle_range=(-0.2, 0.2),
)

#: ``swimmer_v5.SwimmerEnv.__init__``: frame_skip=4, forward_reward_weight=1.0,
#: ctrl_cost_weight=1e-4, reset_noise_scale=0.1 (uniform); observation ``qpos[2:]`` and
#: ``qvel`` (8); never terminates.
SWIMMER = LocomotionSpec(
    env_id="Swimmer-v5", xml_file="swimmer.xml", frame_skip=4, forward_reward_weight=1.0,
    ctrl_cost_weight=1e-4, reset_noise_scale=0.1, qvel_noise="uniform", skipped_qpos=2,
)

SPECS = {spec.env_id: spec for spec in (HALF_CHEETAH, HOPPER, SWIMMER)}


class LocomotionState(NamedTuple):
    """What an MJX locomotion task carries between steps.

    ``qpos [nq]``, ``qvel [nv]``, ``qacc_warmstart [nv]`` (MuJoCo's solver warm start, the
    previous step's accelerations; zero after a reset, as ``mj_resetData`` leaves it), and
    ``steps``, the int32 number of steps since the episode began.
    """

    qpos: jax.Array
    qvel: jax.Array
    qacc_warmstart: jax.Array
    steps: jax.Array


# ----------------------------------------------------------------------------------------
# The task terms: pure functions of positions, velocities and actions.


def observation(spec: LocomotionSpec, qpos, qvel) -> jax.Array:
    """The v5 observation: ``qpos[skipped_qpos:]`` then ``qvel`` (clipped to ``qvel_clip`` if set).

    Example:
      >>> observation(SWIMMER, jnp.arange(5.0), jnp.arange(5.0) + 10).tolist()
      [2.0, 3.0, 4.0, 10.0, 11.0, 12.0, 13.0, 14.0]
    """
    qpos, qvel = jnp.asarray(qpos), jnp.asarray(qvel)
    if spec.qvel_clip is not None:
        qvel = jnp.clip(qvel, -spec.qvel_clip, spec.qvel_clip)
    return jnp.concatenate([qpos[spec.skipped_qpos:], qvel])


def is_healthy(spec: LocomotionSpec, qpos, qvel) -> jax.Array:
    """Hopper-v5's health rule (always true for a task without one); all bounds are open.

    Healthy when every entry of ``concat(qpos, qvel)[2:]`` lies in ``healthy_state_range``,
    the torso height ``qpos[1]`` in ``healthy_z_range`` and its angle ``qpos[2]`` in
    ``healthy_angle_range`` (``hopper_v5.HopperEnv.is_healthy``).

    Example:
      >>> bool(is_healthy(HOPPER, jnp.array([0.0, 1.25, 0.0, 0.0, 0.0, 0.0]), jnp.zeros(6)))
      True
      >>> bool(is_healthy(HOPPER, jnp.array([0.0, 0.6, 0.0, 0.0, 0.0, 0.0]), jnp.zeros(6)))
      False
    """
    if spec.healthy_state_range is None:
        return jnp.bool_(True)
    qpos, qvel = jnp.asarray(qpos), jnp.asarray(qvel)
    state = jnp.concatenate([qpos, qvel])[2:]
    lo, hi = spec.healthy_state_range
    z_lo, z_hi = spec.healthy_z_range
    a_lo, a_hi = spec.healthy_angle_range
    z, angle = qpos[1], qpos[2]
    return (jnp.all((lo < state) & (state < hi)) & (z_lo < z) & (z < z_hi)
            & (a_lo < angle) & (angle < a_hi))


def reward_terms(spec: LocomotionSpec, x_before, x_after, action, healthy, dt: float) -> dict:
    """The v5 reward and its terms for one step (gymnasium's ``_get_rew``).

    $$r = w_f \\frac{x' - x}{\\Delta t} + r_h \\mathbb{1}[\\text{healthy}] - w_c \\lVert a \\rVert^2$$

    with $x$ the root's x position before and after the step, $\\Delta t$ the step's
    duration (``timestep * frame_skip``), $w_f$, $w_c$, $r_h$ the spec's forward weight,
    control-cost weight and healthy reward (0 except Hopper).

    Returns:
      ``{"reward", "x_velocity", "reward_forward", "reward_ctrl", "reward_survive"}`` (the
        control term negative, as gymnasium's ``info`` reports it).

    Example:
      >>> terms = reward_terms(HALF_CHEETAH, 0.0, 0.1, jnp.ones(6), True, 0.05)
      >>> round(float(terms["reward"]), 4)  # 0.1 / 0.05 - 0.1 * 6
      1.4
    """
    x_velocity = (jnp.asarray(x_after) - jnp.asarray(x_before)) / dt
    forward = spec.forward_reward_weight * x_velocity
    ctrl_cost = spec.ctrl_cost_weight * jnp.sum(jnp.square(jnp.asarray(action)))
    survive = spec.healthy_reward * jnp.asarray(healthy, jnp.float32)
    return {
        "reward": (forward + survive - ctrl_cost).astype(jnp.float32),
        "x_velocity": x_velocity,
        "reward_forward": forward,
        "reward_ctrl": -ctrl_cost,
        "reward_survive": survive,
    }


def terminated(spec: LocomotionSpec, healthy) -> jax.Array:
    """``not healthy and terminate_when_unhealthy`` (never for HalfCheetah and Swimmer)."""
    return jnp.logical_and(jnp.logical_not(healthy), spec.terminate_when_unhealthy)


# ----------------------------------------------------------------------------------------
# The physics: gymnasium's scene in MJX.


def mjx_available() -> bool:
    """Whether MJX is importable (``mujoco.mjx``: the ``mujoco-mjx`` package)."""
    try:
        return find_spec("mujoco.mjx") is not None
    except ImportError:  # mujoco itself is missing
        return False


def _import_mjx():
    # mujoco-mjx prints a line when its optional warp backend is missing; keep stdout clean.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from mujoco import mjx
    except ImportError as err:
        raise ValueError(f"the MJX twins need mujoco-mjx (pip install 'softq_ref[mjx]'): {err}") from None
    return mjx


def scene_xml(spec: LocomotionSpec) -> str:
    """The text of gymnasium's v5 XML file of the task."""
    return (resources.files("gymnasium.envs.mujoco") / "assets" / spec.xml_file).read_text()


def mj_model(spec: LocomotionSpec):
    """The C MuJoCo ``MjModel`` of gymnasium's scene (what the gymnasium task simulates)."""
    import mujoco

    return mujoco.MjModel.from_xml_string(scene_xml(spec))


class Physics(NamedTuple):
    """The device model and a template ``mjx.Data`` of one scene, and its constants."""

    model: object
    template: object
    qpos0: np.ndarray
    ctrl_mid: np.ndarray
    ctrl_half: np.ndarray
    dt: float
    frame_skip: int


def make_physics(spec: LocomotionSpec) -> Physics:
    """Put gymnasium's scene of ``spec`` on the default device."""
    mjx = _import_mjx()
    m = mj_model(spec)
    model = mjx.put_model(m)
    low, high = m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1]
    return Physics(
        model=model,
        template=mjx.make_data(model),
        qpos0=np.asarray(m.qpos0, np.float32),
        ctrl_mid=np.asarray((low + high) / 2, np.float32),
        ctrl_half=np.asarray((high - low) / 2, np.float32),
        dt=float(m.opt.timestep * spec.frame_skip),
        frame_skip=spec.frame_skip,
    )


def physics_step(physics: Physics, state: LocomotionState, ctrl) -> LocomotionState:
    """``frame_skip`` MJX steps with control ``ctrl`` held (gymnasium's ``do_simulation``); ``steps`` + 1."""
    mjx = _import_mjx()
    data = physics.template.replace(qpos=state.qpos, qvel=state.qvel, qacc_warmstart=state.qacc_warmstart,
                                    ctrl=jnp.asarray(ctrl, physics.template.ctrl.dtype))

    def substep(d, _):
        return mjx.step(physics.model, d), None

    # MJX broadcasts by implicit rank promotion, which a strict caller (the tests) may forbid.
    with jax.numpy_rank_promotion("allow"):
        data, _ = jax.lax.scan(substep, data, None, length=physics.frame_skip)
    return LocomotionState(qpos=data.qpos, qvel=data.qvel, qacc_warmstart=data.qacc_warmstart,
                           steps=state.steps + 1)


def state_from(qpos, qvel, steps: int = 0) -> LocomotionState:
    """The state at positions ``qpos`` and velocities ``qvel`` (zero warm start, as after gymnasium's ``set_state`` on a reset env)."""
    qpos = jnp.asarray(qpos, jnp.float32)
    qvel = jnp.asarray(qvel, jnp.float32)
    return LocomotionState(qpos=qpos, qvel=qvel, qacc_warmstart=jnp.zeros_like(qvel),
                           steps=jnp.asarray(steps, jnp.int32))


def locomotion_env(spec: LocomotionSpec) -> JaxEnv:
    """The MJX twin of ``spec``'s gymnasium task as a :class:`~softq_ref.envs.task.JaxEnv`.

    ``step`` returns ``info`` with gymnasium's keys (``x_position``, ``x_velocity``,
    ``reward_forward``, ``reward_ctrl``, ``reward_survive``).  ``truncated`` is true on the
    ``max_steps``-th step of an episode; ``terminated`` is Hopper's health rule.
    """
    physics = make_physics(spec)
    nq, nv = physics.qpos0.shape[0], physics.template.qvel.shape[0]
    scale = spec.reset_noise_scale

    def reset(key):
        k_pos, k_vel = jax.random.split(key)
        qpos = physics.qpos0 + jax.random.uniform(k_pos, (nq,), jnp.float32, -scale, scale)
        if spec.qvel_noise == "normal":
            qvel = scale * jax.random.normal(k_vel, (nv,), jnp.float32)
        else:
            qvel = jax.random.uniform(k_vel, (nv,), jnp.float32, -scale, scale)
        state = state_from(qpos, qvel)
        return state, observation(spec, state.qpos, state.qvel)

    def step(state, action):
        action = jnp.reshape(jnp.asarray(action, jnp.float32), (-1,))
        ctrl = physics.ctrl_mid + physics.ctrl_half * action
        next_state = physics_step(physics, state, ctrl)
        healthy = is_healthy(spec, next_state.qpos, next_state.qvel)
        terms = reward_terms(spec, state.qpos[0], next_state.qpos[0], ctrl, healthy, physics.dt)
        info = {"x_position": next_state.qpos[0], **{k: v for k, v in terms.items() if k != "reward"}}
        return (next_state, observation(spec, next_state.qpos, next_state.qvel), terms["reward"],
                terminated(spec, healthy), next_state.steps >= spec.max_steps, info)

    def step_autoreset(state, action, key):
        next_state, next_obs, reward, done, truncated, info = step(state, action)
        fresh, _ = reset(key)
        ended = jnp.logical_or(done, truncated)
        state_to_act_in = jax.tree.map(lambda a, b: jnp.where(ended, a, b), fresh, next_state)
        return state_to_act_in, next_obs, reward, done, truncated, info

    def observe(state):
        return observation(spec, state.qpos, state.qvel)

    return JaxEnv(
        name=spec.env_id,
        reset=reset,
        step=step,
        step_autoreset=step_autoreset,
        observe=observe,
        obs_dim=nq - spec.skipped_qpos + nv,
        action_dim=int(physics.ctrl_mid.shape[0]),
        max_steps=spec.max_steps,
        action_space="box",
    )


@functools.cache
def half_cheetah_env() -> JaxEnv:
    """HalfCheetah-v5 in MJX (17-d observation, 6-d action)."""
    return locomotion_env(HALF_CHEETAH)


@functools.cache
def hopper_env() -> JaxEnv:
    """Hopper-v5 in MJX (11-d observation, 3-d action; terminates when unhealthy)."""
    return locomotion_env(HOPPER)


@functools.cache
def swimmer_env() -> JaxEnv:
    """Swimmer-v5 in MJX (8-d observation, 2-d action)."""
    return locomotion_env(SWIMMER)


# ----------------------------------------------------------------------------------------
# The tasks.


def _task(spec: LocomotionSpec, factory) -> Task:
    """The task, its MJX twin used by ``--loop auto`` only on an accelerator (``jax_twin_on_cpu=False``)."""
    return Task(env_id=spec.env_id, presets=("mujoco",), horizon=spec.max_steps,
                jax_env=factory if mjx_available() else None, jax_twin_on_cpu=False)


HALF_CHEETAH_TASK = _task(HALF_CHEETAH, half_cheetah_env)
HOPPER_TASK = _task(HOPPER, hopper_env)
SWIMMER_TASK = _task(SWIMMER, swimmer_env)
