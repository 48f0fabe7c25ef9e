"""The host training loop for any gymnasium environment with a bounded Box or a Discrete action space.

The environment runs on the host (MuJoCo through gymnasium, say); everything else — storing
the transition, sampling a minibatch, ``train_step`` and choosing the next action — is
compiled, with the carry donated.  Three dispatches (``dispatch``, see :func:`resolve_dispatch`):
``step``, one compiled call per environment step (one dispatch and one small transfer per
step); ``flat``, the same with the carry handed over as a few flat arrays
(:mod:`softq_ref.train.flat_carry`); ``callback``, one compiled call per stretch of steps, in which a ``lax.while_loop``
calls the host back for each environment step (:mod:`softq_ref.train.env_callback`).  The
host's work per step (``_HostSide``) and the computation are the same under all three.

Actions live in ``[-1, 1]^d`` for the agent (the sampler's tanh) and are rescaled affinely to
the environment's ``[low, high]``; a Discrete action is the index the agent returns as
``float32 [1]``, stored that way in the replay buffer and passed to ``env.step`` as an int.
gymnasium 1.x semantics: ``terminated`` (a terminal state,
no bootstrap: stored as ``done = 1``) and ``truncated`` (a time limit: stored as ``done = 0``,
the target still bootstraps); either one ends the episode.  Episode ``i`` of a run is reset
with seed ``seed * 1_000_003 + i``, and checkpoints are written at episode boundaries (every
``checkpoint_every`` steps or ``checkpoint_minutes`` minutes, whichever comes first), so a
resumed run replays exactly the episodes an uninterrupted one would.

Several seeds are trained one after the other into one run directory (the layout of the
jitted loop: one ``config.json``, one ``metrics.csv`` with a ``seed`` column, one
``checkpoint.eqx`` holding every seed's carry on a leading axis).  A non-finite reward or
observation from the environment stops the run at the step it arrived, before it can reach
the replay buffer.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from softq_ref.agent import registry, replay
from softq_ref.agent.algorithm import ACTION_SPACES, Algorithm, action_space_mismatch
from softq_ref.agent.replay import ReplayBuffer, Transition
from softq_ref.envs.task import task_for
from softq_ref.io.run_dir import RunDir, RunDirError
from softq_ref.train import env_callback, flat_carry
from softq_ref.train.runner import RunResult, TrainingDiverged, _check_metric_names, grow_buffer


class HostCarry(NamedTuple):
    agent: object
    buffer: ReplayBuffer
    key: jax.Array
    env_steps: jax.Array
    episodes: jax.Array


def make_env(env_id: str, max_episode_steps: int | None = None) -> gym.Env:
    """``gymnasium.make`` with the checks this loop needs, each failing with a one-line ``ValueError``."""
    import softq_ref.envs  # noqa: F401  (registers softq_ref/MultiGoal-v0)

    try:
        kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
        env = gym.make(env_id, **kwargs)
    except gym.error.Error as err:
        raise ValueError(f"unknown or unavailable environment {env_id!r}: {_first_line(err)}") from None
    except Exception as err:  # noqa: BLE001 - e.g. "module:Id" whose module fails to import
        raise ValueError(f"cannot make environment {env_id!r}: {type(err).__name__}: {_first_line(err)}") from None
    try:
        check_spaces(env, env_id)
    except ValueError:
        env.close()
        raise
    return env


def _first_line(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def action_space_kind(space) -> str:
    """``"box"`` or ``"discrete"`` (the kinds an :class:`Algorithm` may declare), else the class name."""
    if isinstance(space, gym.spaces.Box):
        return "box"
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    return type(space).__name__


def check_spaces(env: gym.Env, env_id: str, algo: Algorithm | None = None) -> None:
    """The action space is a bounded, flat, non-empty Box or a Discrete space (of the kind ``algo``
    declares, when given), the observation space a flat, non-empty Box; a one-line ``ValueError``
    naming the problem otherwise."""
    space = env.action_space
    kind = action_space_kind(space)
    if kind not in ACTION_SPACES:
        raise ValueError(f"{env_id} has a {kind} action space; a Box or a Discrete space is required")
    if algo is not None and kind != algo.action_space:
        raise ValueError(action_space_mismatch(algo, env_id, kind))
    if kind == "discrete":
        if space.start != 0:
            raise ValueError(f"{env_id} has a Discrete action space starting at {space.start}; actions must be 0..n-1")
    elif len(space.shape) != 1 or space.shape[0] == 0:
        raise ValueError(f"{env_id} has a Box action space of shape {space.shape}; a flat, non-empty Box (d,) is required")
    elif not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(f"{env_id} has unbounded action bounds {space.low}..{space.high}; a bounded Box is required")
    obs = env.observation_space
    if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1 or obs.shape[0] == 0:
        raise ValueError(f"{env_id} needs a flat, non-empty Box observation space, got {obs}")


def space_dims(env: gym.Env) -> tuple[int, int]:
    """``(obs_dim, action_dim)``: ``action_dim`` is the Box's dimension or the number of discrete actions."""
    space = env.action_space
    action_dim = int(space.n) if action_space_kind(space) == "discrete" else int(space.shape[0])
    return int(env.observation_space.shape[0]), action_dim


def env_action(action: np.ndarray, space) -> np.ndarray | int:
    """The agent's action as the environment takes it.

    Box: ``[-1, 1]^d`` rescaled onto ``[low, high]`` (:func:`rescale_action`).  Discrete: the
    index the agent returns as ``float32 [1]`` (the replay buffer's layout), as a Python int.
    """
    if action_space_kind(space) == "discrete":
        return int(np.rint(np.asarray(action).reshape(-1)[0]))
    return rescale_action(action, space.low.astype(np.float64), space.high.astype(np.float64))


def rescale_action(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map ``[-1, 1]^d`` affinely onto ``[low, high]``."""
    return (low + (np.asarray(action, np.float64) + 1.0) * 0.5 * (high - low)).astype(np.float32)


def make_host_step(algo: Algorithm, config, learn: bool | None):
    """``step(carry, transition, next_obs[, learn]) -> (carry, action for next_obs, metrics)``, to be jitted.

    ``learn`` True or False: one program for each (the per-step dispatch compiles both and the
    host picks one per step).  ``learn=None``: the step takes ``learn`` as a traced boolean and
    learns under a ``lax.cond`` (the callback dispatch, :mod:`softq_ref.train.env_callback`);
    its metrics are zeros when it did not learn.
    """

    def train(agent, buffer, k_batch, k_train):
        # An on-policy algorithm is stepped only when the buffer was just filled anew (the
        # host decides, see _HostSide.learns): its whole content in time order is the rollout.
        batch = replay.in_time_order(buffer) if algo.on_policy else replay.sample(buffer, k_batch, config.batch_size)
        return algo.train_step(agent, batch, k_train)

    def host_step(carry: HostCarry, transition: Transition, next_obs: jax.Array, *traced_learn):
        key, k_batch, k_train, k_act = jax.random.split(carry.key, 4)
        buffer = replay.add(carry.buffer, transition)
        agent = carry.agent
        if learn is None:
            (flag,) = traced_learn
            shapes = jax.eval_shape(train, agent, buffer, k_batch, k_train)[1]
            zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
            agent, metrics = jax.lax.cond(flag, lambda a: train(a, buffer, k_batch, k_train), lambda a: (a, zeros), agent)
        elif learn:
            agent, metrics = train(agent, buffer, k_batch, k_train)
        else:
            metrics = {}
        action = algo.explore(agent, next_obs, k_act)
        carry = HostCarry(agent=agent, buffer=buffer, key=key, env_steps=carry.env_steps + 1, episodes=carry.episodes)
        return carry, action, metrics

    return host_step


def pack_step_input(obs, action, reward, next_obs, terminated, act_obs) -> np.ndarray:
    """One float32 vector ``[obs, action, reward, next_obs, done, act_obs]`` for the step after ``env.step``.

    The host loop sends it to the device as a single transfer; five separate ``jnp.asarray``
    conversions cost more than the environment step itself.  ``act_obs`` is the
    observation the next action is chosen at (``next_obs``, or the reset observation when
    the episode ended).
    """
    return np.concatenate([
        np.asarray(obs, np.float32).ravel(), np.asarray(action, np.float32).ravel(),
        np.asarray([reward], np.float32), np.asarray(next_obs, np.float32).ravel(),
        np.asarray([terminated], np.float32), np.asarray(act_obs, np.float32).ravel(),
    ])


def packed_length(obs_dim: int, action_dim: int) -> int:
    """The length of :func:`pack_step_input`'s vector: ``obs, action, reward, next_obs, done, act_obs``."""
    return 3 * obs_dim + action_dim + 2


def unpack_step_input(packed: jax.Array, obs_dim: int, action_dim: int) -> tuple[Transition, jax.Array]:
    """The inverse of :func:`pack_step_input`, inside ``jit``: ``(transition, act_obs)``."""
    o, d = obs_dim, action_dim
    transition = Transition(
        obs=packed[:o], action=packed[o:o + d], reward=packed[o + d],
        next_obs=packed[o + d + 1:2 * o + d + 1], done=packed[2 * o + d + 1],
    )
    return transition, packed[2 * o + d + 2:]


def make_flat_host_step(algo: Algorithm, config, learn: bool | None, treedef, obs_dim: int, action_dim: int,
                        layout: flat_carry.Layout | None = None):
    """:func:`make_host_step` on the carry's leaves and a packed input: ``(leaves, packed[, learn]) -> (leaves, action, metrics)``.

    The same computation; only the calling convention differs.  A flat list of arrays is
    cheaper for ``jit`` to take apart and donate on every call than an Equinox state (flattened
    in Python on each call), which matters when there is one call per environment step.  With
    ``layout`` the step takes and returns the carry in :mod:`~softq_ref.train.flat_carry`'s
    form instead (a few arrays, not one per leaf): what the per-step dispatch uses.
    """
    host_step = make_host_step(algo, config, learn)

    def flat_step(arrays, packed, *traced_learn):
        leaves = arrays if layout is None else flat_carry.split(arrays, layout)
        transition, act_obs = unpack_step_input(packed, obs_dim, action_dim)
        carry, action, metrics = host_step(jax.tree.unflatten(treedef, leaves), transition, act_obs, *traced_learn)
        leaves = jax.tree.leaves(carry)
        return (leaves if layout is None else flat_carry.join(leaves, layout, jnp)), action, metrics

    return flat_step


def carry_layout(carry: HostCarry) -> flat_carry.Layout:
    """How the per-step dispatch hands ``carry`` over: agent, key and counters packed by dtype, the buffer loose."""
    packed = carry._replace(agent=jax.tree.map(lambda _: True, carry.agent),
                            buffer=jax.tree.map(lambda _: False, carry.buffer), key=True, env_steps=True, episodes=True)
    return flat_carry.layout_of(jax.tree.leaves(carry), jax.tree.leaves(packed))


def _init_carry(algo, config, obs_dim, action_dim, seed):
    """One seed's fresh carry (every leaf its own buffer, so the compiled step may donate it)."""
    k_agent, k_loop = jax.random.split(jax.random.PRNGKey(seed))
    carry = HostCarry(
        agent=algo.init(config, obs_dim, action_dim, k_agent),
        buffer=replay.init(int(min(config.replay_capacity, config.total_steps)), obs_dim, algo.buffer_action_dim(action_dim)),
        key=k_loop,
        env_steps=jnp.zeros((), jnp.int32),
        episodes=jnp.zeros((), jnp.int32),
    )
    return jax.tree.map(lambda x: jnp.array(x, copy=True), carry)


def init_carries(algo, config, obs_dim: int, action_dim: int, seeds) -> HostCarry:
    """Every seed's fresh carry stacked on a leading axis, as host (NumPy) arrays: the checkpoint's structure."""
    carries = [jax.device_get(_init_carry(algo, config, obs_dim, action_dim, s)) for s in seeds]
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *carries)


def _slot(stacked, i: int):
    return jax.tree.map(lambda x: x[i], stacked)


def _set_slot(stacked, i: int, one) -> None:
    for dst, src in zip(jax.tree.leaves(stacked), jax.tree.leaves(one)):
        dst[i] = np.asarray(src)


#: How the host loop calls the compiled step: ``step`` (once per environment step, the carry as
#: its leaves), ``flat`` (once per environment step, the carry as a few flat arrays,
#: :mod:`~softq_ref.train.flat_carry`), ``callback`` (once per stretch of steps, the environment
#: called back from inside it), or ``auto``.
DISPATCHES = ("auto", "step", "flat", "callback")


def resolve_dispatch(dispatch: str) -> str:
    """``step``, ``flat`` or ``callback`` for a :data:`DISPATCHES` choice; ``ValueError`` (one line) otherwise.

    ``auto`` is ``step`` on a CPU, where the update's compute bounds the host loop and neither
    other dispatch measured faster, and ``flat`` on an accelerator, where the per-step call bounds
    it: on an H200 the same compiled update cost 0.87 ms a call with its state as 61 arrays and
    0.30 ms as one array per dtype, while the callback dispatch ran the host loop slower than
    ``step`` (530 against 569 steps/s; ``docs/benchmarks.md``, "On one NVIDIA H200
    (2026-12-01)").  The ``flat`` host loop itself has not yet been timed on a GPU.

    ``step`` and ``callback`` give the same bits on a CPU; ``flat`` compiles the same
    computation into another program, whose floats part from theirs in the last bits after a
    few dozen updates.  The choice is not recorded in the run directory: a run may be resumed
    under any dispatch, and it continues bit for bit under the one it was started with.
    """
    if dispatch not in DISPATCHES:
        raise ValueError(f"unknown dispatch {dispatch!r}; choose one of {', '.join(DISPATCHES)}")
    if dispatch == "auto":
        return "step" if jax.default_backend() == "cpu" else "flat"
    return dispatch


def train_gym(
    config,
    *,
    env_id: str,
    seed: int = 0,
    seeds=None,
    out_dir: str | Path,
    resume: bool = False,
    log_every: int = 1000,
    checkpoint_every: int = 10_000,
    checkpoint_minutes: float = 5.0,
    extend_to: int | None = None,
    progress: bool = True,
    dispatch: str = "auto",
) -> RunResult:
    """Train on a gymnasium environment on the host, one seed after another; see the module docstring.

    ``seeds`` (a list) trains several seeds into one run directory; ``seed`` is the single
    seed otherwise.  With ``resume=True`` everything is read from ``out_dir`` and training
    continues from the checkpoint (a seed that finished is not trained again); ``extend_to``
    raises the run's ``total_steps`` (each seed is trained to the new length).  ``dispatch``
    (:data:`DISPATCHES`) chooses how the host calls the compiled step; it does not change the
    computation, so it is not part of the run directory (see :func:`resolve_dispatch`).
    """
    dispatch = resolve_dispatch(dispatch)
    out_dir = Path(out_dir)
    if resume:
        run = RunDir.open(out_dir)
        run.acquire()
    else:
        seeds = [int(seed)] if seeds is None else [int(s) for s in seeds]
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
        for name, value in (("log_every", log_every), ("checkpoint_every", checkpoint_every),
                            ("checkpoint_minutes", checkpoint_minutes)):
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value!r}")
        algo = registry.for_config(config)
        env = make_env(env_id, config.max_path_length)
        check_spaces(env, env_id, algo)
        env.close()
        run = RunDir.create(
            out_dir, config=config, env_id=env_id, seeds=seeds, loop="gym",
            settings={"log_every": int(log_every), "checkpoint_every": int(checkpoint_every),
                      "checkpoint_minutes": float(checkpoint_minutes)},
            stat_names=task_for(env_id).stat_names,
        )
    try:
        return _train(run, resume=resume, extend_to=extend_to, progress=progress, dispatch=dispatch)
    finally:
        run.release()


def _train(run: RunDir, *, resume: bool, extend_to: int | None, progress: bool, dispatch: str) -> RunResult:
    config, algo, seeds, env_id = run.config, run.algo, run.seeds, run.env_id
    settings = run.settings
    log_every = int(settings.get("log_every", 1000))
    checkpoint_every = int(settings.get("checkpoint_every", 10_000))
    checkpoint_seconds = 60.0 * float(settings.get("checkpoint_minutes", 5.0))
    env = make_env(env_id, config.max_path_length)
    check_spaces(env, env_id, algo)
    obs_dim, action_dim = space_dims(env)
    carries = init_carries(algo, config, obs_dim, action_dim, seeds)
    if resume:
        if run.has_checkpoint:
            try:
                carries = run.load_checkpoint(carries)
            except RunDirError:
                if extend_to is None or extend_to <= config.total_steps:
                    raise
                # Killed between the extension's checkpoint (buffer already grown) and its config
                # update: the checkpoint fits the extended run.
                longer = config.replace(total_steps=int(extend_to))
                carries = run.load_checkpoint(init_carries(algo, longer, obs_dim, action_dim, seeds))
        else:
            print(f"softq-ref: {run.path} has no checkpoint yet; starting it again from step 0", file=sys.stderr)
    if extend_to is not None and extend_to != config.total_steps:
        if extend_to < config.total_steps:
            raise ValueError(f"--steps {extend_to} is shorter than the run's {config.total_steps} steps; a run can only be extended")
        config = config.replace(total_steps=int(extend_to))
        capacity = int(min(config.replay_capacity, config.total_steps))
        carries = jax.device_get(carries._replace(buffer=grow_buffer(carries.buffer, capacity)))
        carries = jax.tree.map(np.array, carries)
        # The grown buffer is checkpointed before the config says the run is longer, so a kill at
        # any point leaves a checkpoint that the config (or the resume's --steps) describes.
        if run.has_checkpoint:
            run.save_checkpoint(carries)
        run.update(config=config)
    # On resume, metric rows are kept per seed up to that seed's checkpointed step.
    steps_done = [int(x) for x in np.asarray(carries.env_steps)]
    writer = _truncate_rows(run, steps_done) if resume else run.metrics_writer()
    result_carry = None
    try:
        for i, seed in enumerate(seeds):
            if steps_done[i] >= config.total_steps:
                continue
            result_carry = _train_seed(
                run, env, algo, config, carries, i, seed, writer, log_every, checkpoint_every, checkpoint_seconds,
                progress, obs_dim, action_dim, dispatch,
            )
    finally:
        env.close()
    total = int(np.asarray(carries.env_steps)[-1])
    return RunResult(run_dir=run.path, carry=carries if len(seeds) > 1 else _slot(carries, 0), env_steps=total, seeds=seeds)


def _truncate_rows(run: RunDir, steps_done: list[int]):
    """Drop each seed's metric rows past its checkpoint (and unreadable ones); a writer appending after them."""
    keep_step = {str(s): n for s, n in zip(run.seeds, steps_done)}
    rows = []
    for row in run.read_metrics():
        try:
            ok = None not in row and int(row.get("step") or "") <= keep_step.get(row.get("seed"), -1)
        except ValueError:
            ok = False
        if ok:
            rows.append(row)
    writer = run.metrics_writer(resume_step=-1)  # rewrite with the header only, atomically
    writer.write([{k: r.get(k, "") for k in writer.columns} for r in rows])
    return writer


class _Advanced(NamedTuple):
    """What the host knows after one environment step, for the compiled step and the bookkeeping after it."""

    packed: np.ndarray
    learn: bool
    ended: bool
    write_row: bool
    checkpoint: bool


class _HostSide:
    """The host's half of every environment step, the same under every dispatch.

    :meth:`advance` steps the environment with the agent's action, does the episode's
    bookkeeping (returns, statistics, the reset with its seed), decides whether this step
    learns, packs the transition, and says whether a metric row and a checkpoint are due
    after the step.  The per-step dispatch calls it from the Python loop; the callback
    dispatch from inside the compiled loop (:mod:`softq_ref.train.env_callback`).
    """

    def __init__(self, run, env, config, seed, env_steps, episode, log, bar, capacity, on_policy,
                 log_every, checkpoint_every, checkpoint_seconds):
        self.run, self.env, self.config, self.seed, self.log, self.bar = run, env, config, int(seed), log, bar
        self.env_steps, self.episode, self.capacity, self.on_policy = env_steps, episode, capacity, on_policy
        self.log_every, self.checkpoint_every, self.checkpoint_seconds = log_every, checkpoint_every, checkpoint_seconds
        self.last_checkpoint, self.last_checkpoint_time = env_steps, time.monotonic()
        self.obs, _ = env.reset(seed=self.seed * 1_000_003 + episode)

    def advance(self, action) -> _Advanced:
        a = np.asarray(action)
        next_obs, reward, terminated, truncated, info = self.env.step(env_action(a, self.env.action_space))
        if not (math.isfinite(float(reward)) and np.all(np.isfinite(next_obs))):
            what = "reward" if not math.isfinite(float(reward)) else "observation"
            raise TrainingDiverged(
                f"the environment returned a non-finite {what} at step {self.env_steps + 1} (seed {self.seed}); "
                f"training stopped, {_kept(self.run)}"
            )
        self.log.episode_return += float(reward)
        ended = bool(terminated or truncated)
        if ended:
            self.episode += 1
            self.log.end_episode(info)
            act_obs, _ = self.env.reset(seed=self.seed * 1_000_003 + self.episode)
        else:
            act_obs = next_obs
        learn = self.learns(self.env_steps)
        packed = pack_step_input(self.obs, a, reward, next_obs, terminated, act_obs)
        self.obs = act_obs
        self.env_steps += 1
        due = ended and (self.env_steps - self.last_checkpoint >= self.checkpoint_every
                         or time.monotonic() - self.last_checkpoint_time >= self.checkpoint_seconds)
        row = self.env_steps % self.log_every == 0 or self.env_steps == self.config.total_steps or due
        self.bar.update(1)
        return _Advanced(packed=packed, learn=learn, ended=ended, write_row=row, checkpoint=due)

    def learns(self, step: int) -> bool:
        """Whether the compiled step after environment step ``step`` (0-based) learns."""
        learn = step >= self.config.min_replay_size
        if self.on_policy:  # once per rollout: when this transition completes the buffer
            learn = learn and (step + 1) % self.capacity == 0
        return bool(learn)

    def checkpointed(self) -> None:
        self.last_checkpoint, self.last_checkpoint_time = self.env_steps, time.monotonic()


def _train_seed(run, env, algo, config, carries, i, seed, writer, log_every, checkpoint_every, checkpoint_seconds,
                progress, obs_dim, action_dim, dispatch):
    task = task_for(run.env_id)
    carry = jax.tree.map(jnp.asarray, _slot(carries, i))
    carry = jax.tree.map(lambda x: jnp.array(x, copy=True), carry)
    leaves, treedef = jax.tree.flatten(carry)
    capacity = int(carry.buffer.capacity)
    first_action = jax.jit(lambda agent, obs, key: algo.explore(agent, obs, key))

    def checkpoint(leaves, episode):
        carry = jax.tree.unflatten(treedef, leaves)._replace(episodes=jnp.int32(episode))
        _set_slot(carries, i, jax.device_get(carry))
        run.save_checkpoint(carries)
        return jax.tree.leaves(carry)

    log = _Log(seed, writer, task, run.stat_names)
    desc = f"{algo.name} {run.env_id}" + (f" seed {seed}" if len(run.seeds) > 1 else "")
    bar = tqdm(total=config.total_steps, initial=int(carry.env_steps), unit="step", disable=not progress, desc=desc)
    host = _HostSide(run, env, config, seed, int(carry.env_steps), int(carry.episodes), log, bar, capacity,
                     algo.on_policy, log_every, checkpoint_every, checkpoint_seconds)
    action = first_action(carry.agent, jnp.asarray(host.obs, jnp.float32), jax.random.fold_in(carry.key, host.episode))
    buffer_action_dim = algo.buffer_action_dim(action_dim)

    def after_step(leaves, adv: _Advanced):
        if adv.write_row:
            log.flush(host.env_steps, algo, run)
        if adv.checkpoint:
            leaves = checkpoint(leaves, host.episode)
            host.checkpointed()
        return leaves

    try:
        if dispatch == "callback":
            leaves = _run_callback(host, algo, config, treedef, leaves, action, log, obs_dim, buffer_action_dim,
                                   after_step)
        else:
            # Under `flat` the carry crosses each call as a few arrays (flat_carry; measured reason there).
            layout = carry_layout(carry) if dispatch == "flat" else None
            join = (lambda leaves: leaves) if layout is None else (lambda leaves: flat_carry.join(leaves, layout, jnp))
            split = (lambda arrays: arrays) if layout is None else (lambda arrays: flat_carry.split(arrays, layout))
            steps = {
                learn: jax.jit(make_flat_host_step(algo, config, learn, treedef, obs_dim, buffer_action_dim, layout),
                               donate_argnums=0)
                for learn in (False, True)
            }
            arrays = join(leaves)
            while host.env_steps < config.total_steps:
                adv = host.advance(action)
                arrays, action, metrics = steps[adv.learn](arrays, adv.packed)
                if adv.ended:
                    # A new episode's first action is drawn from (key, episode index) as on a resume,
                    # so that a run resumed from an episode-boundary checkpoint acts identically.
                    now = jax.tree.unflatten(treedef, split(arrays))
                    action = first_action(now.agent, jnp.asarray(host.obs, jnp.float32),
                                          jax.random.fold_in(now.key, host.episode))
                if adv.learn:
                    log.pending.append(metrics)
                if adv.checkpoint:
                    arrays = join(after_step(split(arrays), adv))
                else:
                    after_step(None, adv)
            leaves = split(arrays)
    finally:
        bar.close()
    log.flush(host.env_steps, algo, run)
    checkpoint(leaves, host.episode)
    return jax.tree.unflatten(treedef, leaves)._replace(episodes=jnp.int32(host.episode))


def _run_callback(host: _HostSide, algo, config, treedef, leaves, action, log, obs_dim, buffer_action_dim, after_step):
    """The callback dispatch (:mod:`softq_ref.train.env_callback`): one compiled call per stretch of steps.

    The host's work between two steps runs inside ``host_callback``; an exception there (a
    diverged environment, a failing ``env.step``) is kept, the stretch stops, and it is raised
    here, so the user sees the same error as under the per-step dispatch.
    """
    flat_step = make_flat_host_step(algo, config, None, treedef, obs_dim, buffer_action_dim)
    packed_size = packed_length(obs_dim, buffer_action_dim)
    probe = jax.eval_shape(flat_step, leaves, jax.ShapeDtypeStruct((packed_size,), jnp.float32), True)[2]
    names = env_callback.metric_names(probe)
    state = {"error": None, "last": None}
    action_shape = tuple(action.shape)
    action_size = int(np.prod(action_shape))
    if action.dtype != jnp.float32:
        raise ValueError(f"the callback dispatch needs float32 actions; {algo.name} explores with {action.dtype} (use --dispatch step)")
    stop_now = env_callback.to_device(np.zeros(packed_size, np.float32), [0, 0, 1, 0])

    def host_callback(message):
        action, metrics, learned = env_callback.from_device(message, action_size, len(names))
        if learned:
            log.pending.append(dict(zip(names, metrics)))
        try:
            adv = host.advance(action.reshape(action_shape))
        except BaseException as err:  # noqa: BLE001 - re-raised by the host after the stretch
            state["error"] = err
            return stop_now
        state["last"] = adv
        # A row is due at the run's last step too, so the stretch always ends there.
        stop = adv.write_row or adv.checkpoint
        return env_callback.to_device(adv.packed, [adv.learn, adv.ended, stop, host.episode])

    chunk = jax.jit(env_callback.make_chunk(flat_step, algo.explore, treedef, obs_dim, packed_size, names,
                                            host_callback), donate_argnums=0)
    while host.env_steps < config.total_steps:
        leaves, action, metrics, learned = chunk(leaves, action)
        learned = bool(learned)  # waits for the stretch to finish
        if state["error"] is not None:
            raise state["error"]
        if learned:
            log.pending.append(dict(zip(names, np.asarray(metrics))))
        leaves = after_step(leaves, state["last"])
    return leaves


def _kept(run: RunDir) -> str:
    """What a stopped run leaves behind, truthfully."""
    if run.has_checkpoint:
        return f"the last checkpoint is kept in {run.path} (continue with --resume)"
    return f"no checkpoint was written yet, so there is nothing to resume in {run.path}"


class _Log:
    """The metric rows of one seed: episode returns, the task's episode statistics, train_step's metrics."""

    def __init__(self, seed, writer, task, stat_names):
        self.seed, self.writer, self.task, self.stat_names = seed, writer, task, list(stat_names)
        self.pending, self.returns, self.episode_return = [], [], 0.0
        self.stats = np.zeros(len(self.stat_names), np.int64)
        self.start = time.time()

    def end_episode(self, info) -> None:
        self.returns.append(self.episode_return)
        self.episode_return = 0.0
        if self.task.episode_stats is not None and self.stat_names:
            self.stats += np.asarray(self.task.episode_stats(info), np.int64)

    def flush(self, env_steps, algo, run) -> None:
        if not self.pending and not self.returns:
            return
        row = {"step": env_steps, "seed": self.seed, "episodes": len(self.returns),
               "mean_return": float(np.mean(self.returns)) if self.returns else "",
               "wall_time": round(time.time() - self.start, 3)}
        for name, count in zip(self.stat_names, self.stats):
            row[name] = int(count)
        if self.pending:
            stacked = jax.device_get(jax.tree.map(lambda *xs: jnp.stack(xs), *self.pending))
            _check_metric_names(algo, stacked)
            watched = ["q_loss"] if "q_loss" in stacked else sorted(stacked)
            bad = np.zeros(len(self.pending), bool)
            for name in watched:
                bad |= ~np.isfinite(np.asarray(stacked[name]))
            if np.any(bad):
                first = int(np.argmax(bad))
                what = "Q loss" if watched == ["q_loss"] else "training metric"
                raise TrainingDiverged(
                    f"non-finite {what} at step {env_steps - len(bad) + first + 1} (seed {self.seed}); "
                    f"training stopped, {_kept(run)}"
                )
            for name, values in stacked.items():
                row[name] = float(np.mean(values))
        self.writer.write([row])
        self.pending, self.returns = [], []
        self.stats[:] = 0
