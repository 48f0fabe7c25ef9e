"""The algorithms by name: what ``--algo``, ``config.json``, the metric columns and ``load`` go through.

Adding an algorithm is one module exporting an :class:`~softq_ref.agent.algorithm.Algorithm`
and one line here (or, from outside the package, one call to :func:`register`).
"""

from __future__ import annotations

import dataclasses

from softq_ref.agent import ddpg, pg, sac, soft_dqn, sql
from softq_ref.agent.algorithm import ACTION_SPACES, Algorithm

_ALGORITHMS: dict[str, Algorithm] = {}


def register(algo: Algorithm) -> Algorithm:
    """Add ``algo`` under ``algo.name`` (re-registering the same value is a no-op)."""
    if not isinstance(algo, Algorithm):
        raise TypeError(f"expected an Algorithm, got {type(algo).__name__}")
    if algo.config_class is None or not dataclasses.is_dataclass(algo.config_class):
        raise ValueError(f"algorithm {algo.name!r} needs a dataclass config_class")
    if algo.action_space not in ACTION_SPACES:
        raise ValueError(f"algorithm {algo.name!r}: action_space must be one of {ACTION_SPACES}, got {algo.action_space!r}")
    if not algo.metrics:
        raise ValueError(f"algorithm {algo.name!r} declares no metrics")
    known = _ALGORITHMS.get(algo.name)
    if known is not None and known != algo:
        raise ValueError(f"an algorithm named {algo.name!r} is already registered")
    for other in _ALGORITHMS.values():
        if other.name != algo.name and other.config_class is algo.config_class:
            raise ValueError(f"algorithm {algo.name!r}: config class {algo.config_class.__name__} already belongs to {other.name!r}")
    _ALGORITHMS[algo.name] = algo
    return algo


def names() -> tuple[str, ...]:
    """The registered names, in registration order."""
    return tuple(_ALGORITHMS)


def get(name: str) -> Algorithm:
    """The algorithm called ``name``; a one-line ``ValueError`` listing the known ones otherwise."""
    try:
        return _ALGORITHMS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(_ALGORITHMS)}") from None


def for_config(config) -> Algorithm:
    """The algorithm a config belongs to (by its class)."""
    for algo in _ALGORITHMS.values():
        if type(config) is algo.config_class:
            return algo
    raise TypeError(f"no registered algorithm has config class {type(config).__name__}")


def config_to_dict(config) -> dict:
    """A JSON-able dict of ``config``: its fields, the algorithm's name and the config's version."""
    algo = for_config(config)
    out = dataclasses.asdict(config)
    out["algo"] = algo.name
    out["config_version"] = algo.config_version
    return out


def config_from_dict(raw: dict):
    """The config saved by :func:`config_to_dict`; ``ValueError`` (one line) for anything malformed."""
    if not isinstance(raw, dict):
        raise ValueError(f"a config must be a JSON object, got {type(raw).__name__}")
    raw = dict(raw)
    algo = get(raw.pop("algo", "sql"))
    version = raw.pop("config_version", 1)
    if version != algo.config_version:
        raise ValueError(f"{algo.name} config version {version!r} is not the supported version {algo.config_version}")
    cls = algo.config_class
    names_ = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - names_
    if unknown:
        raise ValueError(f"unknown {algo.name} config keys: {sorted(unknown)}")
    if isinstance(raw.get("hidden_sizes"), list):
        raw["hidden_sizes"] = tuple(raw["hidden_sizes"])
    try:
        return cls(**raw)
    except TypeError as err:
        raise ValueError(f"bad {algo.name} config: {err}") from None


# One line per algorithm.
register(sql.ALGORITHM)
register(ddpg.ALGORITHM)
register(sac.ALGORITHM)
register(soft_dqn.ALGORITHM)
register(pg.ALGORITHM)
