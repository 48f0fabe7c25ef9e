"""Frozen configurations and the published presets (spec deviation ``dev-settings``).

Sources for the numbers (see ``../shared/REFERENCE_FACTS.md`` and spec ``dev-settings``):

* ``multigoal`` — the original code's 2018 multi-goal example (haarnoja/softqlearning,
  ``examples/multigoal_sql.py``): 2x128 ReLU, Adam 3e-4 for Q and sampler, batch 64,
  32 kernel particles split half fixed / half updated, 16 value samples, reward scale
  0.1 (i.e. ``alpha = 10``), discount 0.99, hard target copy every 1000 steps, paths
  of 30 steps.
* ``mujoco`` — the 2018 MuJoCo examples: 2x128, batch 128, 16 kernel particles (8/8),
  16 value samples, Adam 3e-4, discount 0.99, hard target copy every 1000 steps, paths
  of 1000 steps, and a per-environment reward scale (30 for Swimmer/Hopper/HalfCheetah,
  10 for Walker2d, 300 for Ant, 100 for Humanoid), i.e. ``alpha = 1 / reward_scale``.

The paper's appendix D differs (200x200, lr 1e-3/1e-4, alpha 0.1 for MuJoCo, 100
kernel particles on the multi-goal task); we follow the public code, which produced the
published curves and is what other ports are compared with.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

#: Reward scales of the original code's 2018 MuJoCo examples, by environment family.
MUJOCO_REWARD_SCALES = {
    "Swimmer": 30.0,
    "Hopper": 30.0,
    "HalfCheetah": 30.0,
    "Walker2d": 10.0,
    "Ant": 300.0,
    "Humanoid": 100.0,
}

#: Preset names a task may declare: ``classic`` is the classic-control tasks (CartPole, Acrobot) of the
#: discrete-action agents (``soft_dqn``, ``pg``); each algorithm says which of these it has.
PRESETS = ("multigoal", "mujoco", "classic")

#: The presets of soft Q-learning and its DDPG baseline (the continuous-action tasks).
CONTINUOUS_PRESETS = ("multigoal", "mujoco")

#: ``dataclasses.field`` metadata key marking a traced hyperparameter.
TRACED = "softq_ref_traced"


def traced(default):
    """A config field whose value is traced: changing it does not recompile the training step.

    Temperature, discount, learning rates and the target schedule are traced (they become
    arrays in the agent's state); every other field is static (it fixes array shapes or
    Python control flow).  The traced fields are what a sweep may ``vmap`` over.
    """
    return dataclasses.field(default=default, metadata={TRACED: True})


def traced_fields(config_or_class) -> tuple[str, ...]:
    """Names of the traced fields of an algorithm's config, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(config_or_class) if f.metadata.get(TRACED, False))


def static_fields(config_or_class) -> tuple[str, ...]:
    """Names of the static fields (sizes, run length, preset name) of an algorithm's config."""
    return tuple(f.name for f in dataclasses.fields(config_or_class) if not f.metadata.get(TRACED, False))


class ConfigBase:
    """What every algorithm's frozen config shares: ``replace``, the traced/static split."""

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def traced_values(self) -> dict:
        """The traced hyperparameters, ``{name: value}``."""
        return {name: getattr(self, name) for name in traced_fields(self)}

    def static_values(self) -> dict:
        return {name: getattr(self, name) for name in static_fields(self)}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return _is_int(value) or isinstance(value, float)


def _kind(field: dataclasses.Field) -> str:
    """A field's declared kind as text: ``"float"`` whether the annotation is the string a module with
    ``from __future__ import annotations`` keeps (a ``str`` has no ``__name__``) or the evaluated type;
    an evaluated union has no name either and reads as its text (``"float | None"``)."""
    return getattr(field.type, "__name__", str(field.type))


def check_field_kinds(cfg) -> None:
    """Each scalar field holds a value of its declared kind: one line naming the field and the value otherwise.

    A config read from JSON (``config.json``, a campaign's table) may hold anything; without this a string
    in a float field surfaced as Python's ``TypeError`` ("must be real number, not str", no field named) and a
    string in a bool field was taken for ``True``.  The kinds: ``float`` (an int or a float, not a bool),
    ``float | None``, ``int`` (not a bool), ``str``, ``bool`` (``True``/``False``, or the ``0``/``1`` a sweep
    grid gives a traced switch).  Tuple fields are left to each config (whether ``()`` is allowed differs).
    """
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        kind = _kind(f)
        if kind == "float" and not _is_number(value):
            raise ValueError(f"{f.name} must be a number, got {value!r}")
        if kind == "float | None" and not (value is None or _is_number(value)):
            raise ValueError(f"{f.name} must be a number or None, got {value!r}")
        if kind == "int" and not _is_int(value):
            raise ValueError(f"{f.name} must be an int, got {value!r}")
        if kind == "str" and not isinstance(value, str):
            raise ValueError(f"{f.name} must be a string, got {value!r}")
        if kind == "bool" and not (isinstance(value, bool) or (_is_number(value) and value in (0, 1))):
            raise ValueError(f"{f.name} must be True or False, got {value!r}")


def check_hidden_sizes(value, *, allow_empty: bool) -> None:
    """``hidden_sizes`` is a tuple of positive ints (non-empty unless ``allow_empty``: ``()`` means linear
    networks); one line naming the field and the value otherwise."""
    if not (isinstance(value, tuple) and (value or allow_empty) and all(_is_int(h) and h >= 1 for h in value)):
        what = "a tuple" if allow_empty else "a non-empty tuple"
        raise ValueError(f"hidden_sizes must be {what} of positive ints, got {value!r}")


def _check_types(cfg) -> None:
    """SQL's and DDPG's check: each scalar field of its kind (``check_field_kinds``), and each tuple field a
    non-empty tuple of positive ints (a config read from JSON may hold anything)."""
    check_field_kinds(cfg)
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        kind = _kind(f)
        if kind.startswith("tuple") and not (
            isinstance(value, tuple) and value and all(_is_int(h) and h >= 1 for h in value)
        ):
            raise ValueError(f"{f.name} must be a non-empty tuple of positive ints, got {value!r}")


def _check_common(cfg) -> None:
    _check_types(cfg)
    for name in ("batch_size", "replay_capacity", "max_path_length", "total_steps", "target_update_period"):
        value = getattr(cfg, name)
        if value < 1:  # an int by now: _check_types refused anything else
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(cfg.min_replay_size, int) or cfg.min_replay_size < 1:
        raise ValueError(f"min_replay_size must be a positive int, got {cfg.min_replay_size!r}")
    if not (0.0 <= cfg.discount <= 1.0):
        raise ValueError(f"discount must lie in [0, 1], got {cfg.discount!r}")
    if not (0.0 < cfg.target_tau <= 1.0):
        raise ValueError(f"target_tau must lie in (0, 1], got {cfg.target_tau!r}")
    for name in ("q_lr", "policy_lr"):
        value = getattr(cfg, name)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")


@dataclass(frozen=True)
class SQLConfig(ConfigBase):
    """Hyperparameters of soft Q-learning (Algorithm 1; presets per spec deviation ``dev-settings``).

    ``alpha`` is the temperature of the paper; the original code's ``reward_scale`` is
    ``1 / alpha`` (spec deviation ``dev-reward-scale``).  ``num_fixed_particles`` and
    ``num_updated_particles`` are the code's ``kernel_n_particles`` split by
    ``kernel_update_ratio`` (K fixed, M updated).  The target network is updated every
    ``target_update_period`` steps as ``target <- tau * online + (1 - tau) * target``:
    ``tau = 1`` is the paper's hard copy, ``period = 1, tau = 0.005`` Polyak averaging.
    """

    hidden_sizes: tuple[int, ...] = (128, 128)
    q_lr: float = traced(3e-4)
    policy_lr: float = traced(3e-4)
    batch_size: int = 64
    num_fixed_particles: int = 16
    num_updated_particles: int = 16
    value_samples: int = 16
    value_proposal: str = "uniform"
    alpha: float = traced(10.0)
    discount: float = traced(0.99)
    target_update_period: int = traced(1000)
    target_tau: float = traced(1.0)
    replay_capacity: int = 1_000_000
    min_replay_size: int = 100
    max_path_length: int = 30
    total_steps: int = 10_000
    preset: str = "multigoal"

    def __post_init__(self):
        _check_common(self)
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be finite and >= 0, got {self.alpha!r}")
        for name in ("num_fixed_particles", "num_updated_particles", "value_samples"):
            value = getattr(self, name)
            if value < 1:  # an int by now: _check_types refused anything else
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.value_proposal not in ("uniform", "policy"):
            raise ValueError(f"value_proposal must be 'uniform' or 'policy', got {self.value_proposal!r}")

    @property
    def reward_scale(self) -> float:
        """The original code's equivalent reward scale, ``1 / alpha``."""
        return math.inf if self.alpha == 0 else 1.0 / self.alpha

    @classmethod
    def preset_for(cls, name: str, env_id: str | None = None) -> "SQLConfig":
        """The named preset; ``mujoco`` takes its temperature from ``env_id``'s family."""
        if name == "multigoal":
            return cls()
        if name == "mujoco":
            scale = mujoco_reward_scale(env_id)
            return cls(
                batch_size=128,
                num_fixed_particles=8,
                num_updated_particles=8,
                value_samples=16,
                alpha=1.0 / scale,
                max_path_length=1000,
                min_replay_size=1000,
                total_steps=1_000_000,
                preset="mujoco",
            )
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(CONTINUOUS_PRESETS)}")


@dataclass(frozen=True)
class DDPGConfig(ConfigBase):
    """Hyperparameters of the DDPG baseline (the comparison of Sec. 5; ``dev-ddpg-baseline``).

    Same networks, buffer and batch as soft Q-learning; a deterministic tanh actor with
    Gaussian exploration noise ``exploration_std``, Polyak-averaged targets (``target_tau``
    every step, as in Lillicrap et al. 2016), and rewards multiplied by ``reward_scale``
    (0.1 on the multi-goal task, matching the soft Q-learning preset's scale).
    """

    hidden_sizes: tuple[int, ...] = (128, 128)
    q_lr: float = traced(1e-3)
    policy_lr: float = traced(1e-4)
    batch_size: int = 64
    reward_scale: float = traced(0.1)
    exploration_std: float = traced(0.3)
    discount: float = traced(0.99)
    target_update_period: int = traced(1)
    target_tau: float = traced(0.01)
    replay_capacity: int = 1_000_000
    min_replay_size: int = 100
    max_path_length: int = 30
    total_steps: int = 10_000
    preset: str = "multigoal"

    def __post_init__(self):
        _check_common(self)
        if not (math.isfinite(self.reward_scale) and self.reward_scale > 0):
            raise ValueError(f"reward_scale must be finite and > 0, got {self.reward_scale!r}")
        if not (math.isfinite(self.exploration_std) and self.exploration_std >= 0):
            raise ValueError(f"exploration_std must be finite and >= 0, got {self.exploration_std!r}")

    @classmethod
    def preset_for(cls, name: str, env_id: str | None = None) -> "DDPGConfig":
        if name == "multigoal":
            return cls()
        if name == "mujoco":
            return cls(
                batch_size=128,
                reward_scale=1.0,
                exploration_std=0.1,
                max_path_length=1000,
                min_replay_size=1000,
                total_steps=1_000_000,
                preset="mujoco",
            )
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(CONTINUOUS_PRESETS)}")


def mujoco_reward_scale(env_id: str | None) -> float:
    """The 2018 code's reward scale for a MuJoCo task (``HalfCheetah-v5`` -> 30)."""
    if env_id is None:
        return MUJOCO_REWARD_SCALES["HalfCheetah"]
    family = env_id.split("/")[-1].split("-")[0]
    if family not in MUJOCO_REWARD_SCALES:
        raise ValueError(
            f"no published reward scale for {env_id!r}; known families: {', '.join(MUJOCO_REWARD_SCALES)}"
            " (pass --alpha explicitly)"
        )
    return MUJOCO_REWARD_SCALES[family]
