"""What a training loop, a run directory and ``softq_ref.load`` need of an algorithm: one value.

Each agent module (``sql``, ``ddpg``, ...) exports one :class:`Algorithm` named ``ALGORITHM``
and :mod:`softq_ref.agent.registry` lists them by name.  Nothing above the agent layer names
an algorithm: the loops call ``init``/``train_step``/``explore``, the run directory saves the
config under ``name``, the metric columns are ``metrics``, evaluation calls ``act``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

#: Action-space kinds an algorithm or an environment may declare.
ACTION_SPACES = ("box", "discrete")


class Algorithm(NamedTuple):
    """One algorithm: pure functions over its state pytree, its config class and its metric names.

    Attributes:
      name: the registry name (``--algo``, ``config.json``'s ``algo``).
      init: ``init(config, obs_dim, action_dim, key) -> state``.
      train_step: ``train_step(state, batch, key) -> (state, metrics)``, jit-able.
      explore: ``explore(state, obs, key) -> action``, the behaviour policy while training.
      act: ``act(state, obs, key) -> action``, the evaluation policy.
      config_class: the frozen config dataclass (one per algorithm); its traced fields are
        declared with :func:`softq_ref.agent.config.traced`.  The loops read ``total_steps``,
        ``min_replay_size``, ``replay_capacity``, ``batch_size``, ``max_path_length`` and
        ``preset`` from it, and the CLI builds it with ``preset_for(name, env_id)``.
      metrics: the names of the scalars ``train_step`` reports, in column order.  A run
        fails loudly when ``train_step`` reports a name that is not listed here.
      with_hparams: ``with_hparams(state, **traced) -> state``: a copy of the state with new
        values of traced config fields (no recompilation).
      action_space: ``"box"`` (actions in ``[-1, 1]^d``) or ``"discrete"`` (an index).
      config_version: bumped when the config's fields change meaning; saved with the config.
      on_policy: ``False`` (replay): each training step draws a uniform minibatch of
        ``config.batch_size`` from the replay buffer.  ``True`` (an on-policy rollout, the policy
        gradient): the buffer of ``config.replay_capacity`` slots is the rollout storage, and
        ``train_step`` is called once each time it has been filled anew, with its whole content
        in time order (:func:`softq_ref.agent.replay.in_time_order`), i.e. on the latest
        ``replay_capacity`` transitions, all collected by the current policy.
    """

    name: str
    init: Callable
    train_step: Callable
    explore: Callable
    act: Callable
    config_class: type | None = None
    metrics: tuple[str, ...] = ()
    with_hparams: Callable | None = None
    action_space: str = "box"
    config_version: int = 1
    on_policy: bool = False

    def buffer_action_dim(self, action_dim: int) -> int:
        """Width of the replay buffer's ``action``: ``action_dim`` for a Box, 1 for discrete actions.

        A discrete action is stored as ``float32 [1]`` holding its index (exact for any
        realistic number of actions), so one buffer layout serves every algorithm; ``init``
        still gets the number of actions as ``action_dim``.
        """
        return 1 if self.action_space == "discrete" else int(action_dim)


def action_space_mismatch(algo: Algorithm, env_id: str, env_kind: str) -> str:
    """The one-line error for an algorithm and an environment whose action spaces differ (naming both)."""
    shown = {"box": "Box (continuous)", "discrete": "Discrete"}
    return (f"{env_id} has a {shown.get(env_kind, env_kind)} action space; {algo.name} needs a "
            f"{shown.get(algo.action_space, algo.action_space)} one")
