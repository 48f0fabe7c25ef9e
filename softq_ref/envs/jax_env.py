"""The interface the fully jitted training loop needs of a JAX environment.

The contract itself (:class:`JaxEnv`) is declared with the task contract in
:mod:`softq_ref.envs.task`; this module keeps the historical import path and
``JAX_ENVS``, a read-only view of the declared tasks that have a JAX twin.
"""

from __future__ import annotations

from collections.abc import Mapping

from softq_ref.envs import task as _task
from softq_ref.envs.multigoal_task import multigoal_env
from softq_ref.envs.task import JaxEnv


class _JaxEnvs(Mapping):
    """``{env_id: factory}`` of the registered tasks that have a pure-JAX twin."""

    def __getitem__(self, env_id):
        found = _task._TASKS.get(env_id)
        if found is None or found.jax_env is None:
            raise KeyError(env_id)
        return found.jax_env

    def __iter__(self):
        return iter(_task.jax_env_ids())

    def __len__(self):
        return len(_task.jax_env_ids())


#: Environments that have a pure-JAX version, by gymnasium id.
JAX_ENVS = _JaxEnvs()

__all__ = ["JAX_ENVS", "JaxEnv", "multigoal_env"]
