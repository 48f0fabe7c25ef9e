"""A campaign file, read and checked: what runs a campaign holds (no training here).

A campaign is one TOML file (``experiments/<name>.toml``)::

    [campaign]
    name = "mujoco"                 # results go to results/<name>/, run directories to runs/<name>/
    fixed = "2026-11-30"            # the date the file was fixed, before any run
    steps = 300_000                 # environment steps of each run (a group may override)
    eval_every = 10_000             # evaluate after every eval_every steps (and at the end)
    eval_episodes = 10              # episodes per evaluation and per mode
    seeds = [0, 1, 2]               # a group may override

    [[group]]                       # one task x algorithm; one run per seed
    name = "sql-HalfCheetah"        # optional: default "<algo>-<task>"
    task = "HalfCheetah-v5"         # a gymnasium id (or a declared softq_ref task)
    algo = "sql"                    # a registered algorithm
    preset = "mujoco"               # optional: default the task's own
    alpha = 0.0333                  # optional: SQL's temperature (default: the preset's)
    eval_modes = ["stochastic"]     # "stochastic" (the behaviour policy) and/or "deterministic" (act)
    config = {min_replay_size = 1000}   # optional: other config fields, applied after the preset
    init_from = "sql-pretrain"      # optional: start from the same seed's final agent of that group
    loop = "auto"                   # optional: "gym" forces the host loop, "jax" the jitted one (MJX)
    num_envs = 64                   # optional, with loop = "jax": environments per seed (spec dev-num-envs)

Every mistake in the file is a :class:`CampaignError` with one line naming the file and the key.
The group's checked settings (:meth:`Group.fingerprint`) are stored with every run it starts, so a
run started under other settings is never silently continued under changed ones.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

EVAL_MODES = ("stochastic", "deterministic")
LOOPS = ("auto", "jax", "gym")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TOP_KEYS = {"campaign", "group"}
_CAMPAIGN_KEYS = {"name", "description", "fixed", "steps", "eval_every", "eval_episodes", "seeds",
                  "estimated_wall_time", "notes"}
_GROUP_KEYS = {"name", "task", "algo", "preset", "alpha", "eval_modes", "config", "init_from", "loop", "seeds",
               "steps", "eval_every", "notes", "num_envs"}
#: Config fields a group may not set: the run length is the campaign's, the preset is ``preset``.
_RESERVED_CONFIG = {"total_steps", "preset", "alpha"}


class CampaignError(ValueError):
    """A campaign file is missing, malformed or inconsistent: one line naming the file and the problem."""


@dataclass(frozen=True)
class Group:
    """One task x algorithm of a campaign, with its evaluation schedule and seeds."""

    name: str
    task: str
    algo: str
    seeds: tuple[int, ...]
    steps: int
    eval_every: int
    eval_episodes: int
    eval_modes: tuple[str, ...] = ("stochastic",)
    preset: str | None = None
    alpha: float | None = None
    config: dict = field(default_factory=dict)
    init_from: str | None = None
    loop: str = "auto"
    num_envs: int = 1

    def eval_steps(self) -> list[int]:
        """The steps at which a run is evaluated: every ``eval_every``, and the last step."""
        points = list(range(self.eval_every, self.steps + 1, self.eval_every))
        if not points or points[-1] != self.steps:
            points.append(self.steps)
        return points

    def run_name(self, seed: int) -> str:
        return f"{self.name}-s{seed}"

    def fingerprint(self) -> dict:
        """What fixes a run's outcome (seeds aside): compared with the settings a run was started under."""
        return json.loads(json.dumps({"task": self.task, "algo": self.algo, "preset": self.preset, "alpha": self.alpha,
                "config": dict(sorted(self.config.items())), "steps": self.steps, "eval_every": self.eval_every,
                "eval_episodes": self.eval_episodes, "eval_modes": list(self.eval_modes),
                "init_from": self.init_from, "loop": self.loop}
                | ({"num_envs": self.num_envs} if self.num_envs != 1 else {})))  # runs from before the key keep theirs


@dataclass(frozen=True)
class Run:
    """One seed of one group: the unit that is trained, evaluated, resumed and committed."""

    group: Group
    seed: int

    @property
    def name(self) -> str:
        return self.group.run_name(self.seed)


@dataclass(frozen=True)
class Campaign:
    """A checked campaign file."""

    path: Path
    name: str
    groups: tuple[Group, ...]
    description: str = ""
    fixed: str = ""
    estimated_wall_time: str = ""

    @property
    def runs(self) -> list[Run]:
        """Every run, dependencies (``init_from``) before the runs that start from them."""
        ordered, placed = [], set()
        pending = list(self.groups)
        while pending:
            for g in pending:
                if g.init_from is None or g.init_from in placed:
                    ordered.append(g)
                    placed.add(g.name)
                    pending.remove(g)
                    break
        return [Run(g, s) for g in ordered for s in g.seeds]

    def group(self, name: str) -> Group:
        for g in self.groups:
            if g.name == name:
                return g
        raise CampaignError(f"{self.path}: no group named {name!r}")

    @property
    def runs_dir(self) -> Path:
        """Run directories (large; not committed): ``runs/<name>/`` beside the campaign file."""
        return self.path.parent / "runs" / self.name

    @property
    def results_dir(self) -> Path:
        """Result files (small; committed): ``results/<name>/`` beside the campaign file."""
        return self.path.parent / "results" / self.name


def _fail(path, message) -> CampaignError:
    return CampaignError(f"{path}: {message}")


def _pos_int(path, where, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(path, f"{where} must be a positive integer, got {value!r}")
    return value


def _seeds(path, where, value) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(path, f"{where} must be a non-empty list of integers, got {value!r}")
    for s in value:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise _fail(path, f"{where} must hold non-negative integers, got {s!r}")
    if len(set(value)) != len(value):
        raise _fail(path, f"{where} repeats a seed: {value}")
    return tuple(value)


def load(path) -> Campaign:
    """Read and check a campaign file; :class:`CampaignError` (one line) for any problem.

    Checked here: the file exists and is TOML, every key is known, numbers are positive,
    names are unique and usable as file names, evaluation modes and loops are known, and
    every ``init_from`` names an earlier-trainable group with the same seeds, task family
    size and algorithm.  Whether the task and the algorithm exist is checked when a run
    starts (:mod:`softq_ref.campaign.runner`), so that a campaign naming an algorithm this
    installation lacks can still report the status of the others.
    """
    path = Path(path)
    if not path.is_file():
        raise CampaignError(f"{path}: campaign file not found")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise _fail(path, f"not valid TOML ({err})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise _fail(path, f"cannot read it ({err})") from None
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise _fail(path, f"unknown top-level key(s) {sorted(unknown)}; expected [campaign] and [[group]]")
    head = raw.get("campaign")
    if not isinstance(head, dict):
        raise _fail(path, "missing the [campaign] table")
    unknown = set(head) - _CAMPAIGN_KEYS
    if unknown:
        raise _fail(path, f"[campaign]: unknown key(s) {sorted(unknown)}; known: {sorted(_CAMPAIGN_KEYS)}")
    for key in ("name", "steps", "eval_every", "eval_episodes", "seeds"):
        if key not in head:
            raise _fail(path, f"[campaign]: missing key {key!r}")
    name = head["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(path, f"[campaign] name must be a file-name-safe string, got {name!r}")
    steps = _pos_int(path, "[campaign] steps", head["steps"])
    eval_every = _pos_int(path, "[campaign] eval_every", head["eval_every"])
    episodes = _pos_int(path, "[campaign] eval_episodes", head["eval_episodes"])
    seeds = _seeds(path, "[campaign] seeds", head["seeds"])
    raw_groups = raw.get("group")
    if not isinstance(raw_groups, list) or not raw_groups:
        raise _fail(path, "no [[group]] entries")
    groups = []
    for i, g in enumerate(raw_groups):
        groups.append(_group(path, i, g, steps, eval_every, episodes, seeds))
    names = [g.name for g in groups]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _fail(path, f"group name(s) used twice: {dup}")
    by_name = {g.name: g for g in groups}
    for g in groups:
        if g.init_from is None:
            continue
        src = by_name.get(g.init_from)
        if src is None:
            raise _fail(path, f"group {g.name!r}: init_from {g.init_from!r} names no group of this campaign")
        if src.name == g.name:
            raise _fail(path, f"group {g.name!r}: init_from names the group itself")
        if src.algo != g.algo:
            raise _fail(path, f"group {g.name!r}: init_from {src.name!r} trains {src.algo}, this group {g.algo}")
        missing = sorted(set(g.seeds) - set(src.seeds))
        if missing:
            raise _fail(path, f"group {g.name!r}: init_from {src.name!r} has no seed(s) {missing}")
    _check_acyclic(path, by_name)
    return Campaign(path=path, name=name, groups=tuple(groups), description=str(head.get("description", "")),
                    fixed=str(head.get("fixed", "")), estimated_wall_time=str(head.get("estimated_wall_time", "")))


def _group(path, i, g, steps, eval_every, episodes, seeds) -> Group:
    where = f"[[group]] #{i + 1}"
    if not isinstance(g, dict):
        raise _fail(path, f"{where} must be a table")
    unknown = set(g) - _GROUP_KEYS
    if unknown:
        raise _fail(path, f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_GROUP_KEYS)}")
    for key in ("task", "algo"):
        if not isinstance(g.get(key), str) or not g.get(key):
            raise _fail(path, f"{where}: {key!r} must be a non-empty string")
    name = g.get("name", f"{g['algo']}-{g['task'].split('/')[-1]}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(path, f"{where}: name {name!r} is not a file-name-safe string (letters, digits, _ . -)")
    where = f"group {name!r}"
    group_steps = _pos_int(path, f"{where} steps", g.get("steps", steps))
    group_every = _pos_int(path, f"{where} eval_every", g.get("eval_every", eval_every))
    modes = g.get("eval_modes", ["stochastic"])
    if not isinstance(modes, list) or not modes or any(m not in EVAL_MODES for m in modes) or len(set(modes)) != len(modes):
        raise _fail(path, f"{where}: eval_modes must be a non-empty list of distinct {EVAL_MODES}, got {modes!r}")
    alpha = g.get("alpha")
    if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
                              or not math.isfinite(alpha) or alpha < 0):
        raise _fail(path, f"{where}: alpha must be a finite number >= 0, got {alpha!r}")
    config = g.get("config", {})
    if not isinstance(config, dict):
        raise _fail(path, f"{where}: config must be a table of config fields, got {config!r}")
    reserved = sorted(set(config) & _RESERVED_CONFIG)
    if reserved:
        raise _fail(path, f"{where}: config may not set {reserved} (use steps, preset and alpha)")
    preset = g.get("preset")
    if preset is not None and not isinstance(preset, str):
        raise _fail(path, f"{where}: preset must be a string, got {preset!r}")
    init_from = g.get("init_from")
    if init_from is not None and not isinstance(init_from, str):
        raise _fail(path, f"{where}: init_from must be a group name, got {init_from!r}")
    loop = g.get("loop", "auto")
    if loop not in LOOPS:
        raise _fail(path, f"{where}: loop must be one of {LOOPS}, got {loop!r}")
    num_envs = _pos_int(path, f"{where} num_envs", g.get("num_envs", 1))
    if num_envs != 1:
        if loop != "jax":
            raise _fail(path, f"{where}: num_envs is for the jitted loop; set loop = \"jax\"")
        if group_steps % num_envs or group_every % num_envs:
            raise _fail(path, f"{where}: steps ({group_steps}) and eval_every ({group_every}) must be multiples of "
                              f"num_envs ({num_envs})")
        if init_from is not None:
            raise _fail(path, f"{where}: init_from is supported with the host loop only, not with num_envs")
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return Group(name=name, task=g["task"], algo=g["algo"],
                 seeds=_seeds(path, f"{where} seeds", g.get("seeds", list(seeds))), steps=group_steps,
                 eval_every=group_every, eval_episodes=episodes, eval_modes=tuple(modes), preset=preset,
                 alpha=None if alpha is None else float(alpha), config=config, init_from=init_from, loop=loop,
                 num_envs=num_envs)


def _check_acyclic(path, by_name) -> None:
    for start in by_name.values():
        seen, g = {start.name}, start
        while g.init_from is not None:
            g = by_name[g.init_from]
            if g.name in seen:
                raise _fail(path, f"group {start.name!r}: init_from forms a cycle")
            seen.add(g.name)
