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
