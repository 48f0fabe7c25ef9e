"""From a user's choices to a run: the config a task's preset gives, and the loop that trains it.

What the ``softq-ref train`` command needs and no loop should know: the preset comes from
the task (its first declared preset unless one is named; a preset the task does not list is
refused), the episode length is the task's own or the environment's time limit (the preset's
only when the environment has neither), and the jitted loop is used when the task has a JAX
twin (for the MJX MuJoCo twins: only on an accelerator, see :func:`uses_jax_loop`).
``config.json`` records exactly the config that ran.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from softq_ref.agent import registry
from softq_ref.agent.algorithm import action_space_mismatch
from softq_ref.agent.config import PRESETS
from softq_ref.envs.task import task_for
from softq_ref.train import gym_loop, runner

#: The ``loop`` choices: ``auto`` (by task and device), ``jax`` (the jitted loop), ``gym`` (the host loop).
LOOPS = ("auto", "jax", "gym")


def make_config(algo_name: str, env_id: str, *, preset: str | None = None, steps: int | None = None,
                alpha: float | None = None, max_path_length: int | None = None):
    """The config of ``algo_name`` on ``env_id``: the task's preset, then the user's changes.

    Raises ``ValueError`` (one line) for an unknown algorithm or preset, a preset the task does
    not take, an ``alpha`` for an algorithm without a temperature, and invalid values.
    """
    algo = registry.get(algo_name)
    task = task_for(env_id)
    if task.action_space != algo.action_space:
        raise ValueError(action_space_mismatch(algo, env_id, task.action_space))
    name = preset or task.presets[0]
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    if name not in task.presets:
        raise ValueError(f"preset {name!r} does not fit {env_id} (it takes: {', '.join(task.presets)})")
    fields = {f.name for f in dataclasses.fields(algo.config_class)}
    if alpha is not None and "alpha" not in fields:
        raise ValueError(f"--alpha: {algo.name} has no temperature")
    # With an explicit alpha, a MuJoCo task without a published reward scale is fine: the `mujoco` preset
    # reads env_id only for that scale.  Other presets read the task's family (soft DQN's Acrobot settings),
    # so they always get env_id (passing None there gave Acrobot the CartPole settings under --alpha).
    config = algo.config_class.preset_for(name, None if (alpha is not None and name == "mujoco") else env_id)
    changes = {}
    if steps is not None:
        changes["total_steps"] = steps
    if alpha is not None:
        changes["alpha"] = alpha
    horizon = max_path_length or task.horizon or (None if task.jax_env else env_time_limit(env_id))
    if horizon is not None:
        changes["max_path_length"] = horizon
    return config.replace(**changes) if changes else config


def env_time_limit(env_id: str) -> int | None:
    """The environment's own time limit (``max_episode_steps`` of its registration), if any."""
    env = gym_loop.make_env(env_id)
    try:
        spec = env.spec
        return None if spec is None or spec.max_episode_steps is None else int(spec.max_episode_steps)
    finally:
        env.close()


def on_accelerator() -> bool:
    """Whether JAX's default device is an accelerator (GPU, TPU), not the CPU."""
    import jax

    return jax.default_backend() != "cpu"


def uses_jax_loop(env_id: str, loop: str = "auto") -> bool:
    """Whether a run of ``env_id`` goes through the jitted loop.

    ``loop="gym"``: never.  ``loop="jax"``: always (``ValueError`` when the task has no JAX
    twin).  ``loop="auto"``: when the task has a twin, except that a twin declared not for
    the CPU (``jax_twin_on_cpu = False``: the MJX MuJoCo tasks, slower than C MuJoCo there)
    is used only on an accelerator.  The run directory's ``loop`` records the choice; for the
    MuJoCo tasks ``"jax"`` means MJX physics and ``"gym"`` C MuJoCo (spec deviation ``dev-mjx-physics``).
    """
    if loop not in LOOPS:
        raise ValueError(f"unknown loop {loop!r}; choose one of {', '.join(LOOPS)}")
    task = task_for(env_id)
    if loop == "gym":
        return False
    if task.jax_env is None:
        if loop == "jax":
            raise ValueError(f"{env_id!r} has no JAX version; train it with the gymnasium host loop")
        return False
    return loop == "jax" or task.jax_twin_on_cpu or on_accelerator()


def train(config, *, env_id: str, seeds, out_dir: Path, loop: str = "auto", chunk_steps: int = 1000,
          num_envs: int = 1, log_every: int = 1000, checkpoint_every: int = 10_000, checkpoint_minutes: float = 5.0,
          progress: bool = True, dispatch: str = "auto") -> runner.RunResult:
    """A new run in ``out_dir`` with the loop that fits the task (``dispatch``: the host loop's, see
    :func:`softq_ref.train.gym_loop.resolve_dispatch`; ``num_envs``: the jitted loop's, see
    :func:`softq_ref.train.jax_loop.check_num_envs`)."""
    if uses_jax_loop(env_id, loop):
        return runner.train_jax(config, env_id=env_id, seeds=seeds, out_dir=out_dir, chunk_steps=chunk_steps,
                                num_envs=num_envs, progress=progress)
    if num_envs != 1:
        raise ValueError(f"num_envs is for the jitted loop; {env_id} trains in the host loop here")
    return gym_loop.train_gym(config, env_id=env_id, seeds=seeds, out_dir=out_dir, log_every=log_every,
                              checkpoint_every=checkpoint_every, checkpoint_minutes=checkpoint_minutes,
                              progress=progress, dispatch=dispatch)


def resume(run, *, extend_to: int | None = None, progress: bool = True, dispatch: str = "auto") -> runner.RunResult:
    """Continue the run ``run`` (an opened :class:`~softq_ref.io.run_dir.RunDir`) with the loop that wrote it."""
    if run.loop == "jax":
        return runner.train_jax(None, out_dir=run.path, resume=True, extend_to=extend_to, progress=progress)
    return gym_loop.train_gym(None, env_id=run.env_id, out_dir=run.path, resume=True, extend_to=extend_to,
                              progress=progress, dispatch=dispatch)
