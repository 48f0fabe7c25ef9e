"""SAC side by side with sbx's SAC on HalfCheetah-v5, with the same settings (issue 11, item 1).

Settings for both (the SAC paper's table, ``SACConfig.preset_for("mujoco")``): 2x256 ReLU,
Adam 3e-4 for critics, actor and temperature, batch 256, replay 1e6, discount 0.99, Polyak
``tau = 0.005`` every step, one gradient step per environment step, learned temperature
starting at 1.0 with target entropy ``-dim(A) = -6``, 1000 warm-up steps before the first
update, log std clipped to [-20, 2], twin critics with the clipped double-Q target.

Where the two still differ (read from sbx-rl 0.28.0's and stable-baselines3's source; none of
it is tuned here):

* warm-up actions: ours samples the (untrained) tanh-Gaussian policy for the first 1000 steps;
  SB3's ``learning_starts`` samples the action space uniformly;
* initialisation: Equinox's ``Linear`` (uniform in +-1/sqrt(fan_in)) against flax's ``Dense``
  (LeCun normal weights, zero biases);
* temperature loss: ours is eq. (18) in ``log alpha`` (``-alpha (log pi + H)``); sbx's is
  ``log(alpha) (entropy - H)`` on the batch entropy estimate: same sign of gradient, a
  factor ``alpha`` apart;
* first update: ours at the 1001st step (``env_steps >= 1000``), SB3 when
  ``num_timesteps > learning_starts``; sbx samples its minibatch with NumPy on the host, ours
  inside the jitted step;
* the environment: SB3 wraps it in ``Monitor`` and a ``DummyVecEnv``; both bootstrap through
  time-limit truncations (SB3's ``handle_timeout_termination``).

Two measurements:

* ``updates`` -- updates per second of the update alone: our jitted ``sac.train_step`` on a
  fixed random batch (one call per update, as the host loop makes), and, when sbx is installed,
  sbx's ``SAC.train(gradient_steps=1)`` on a filled replay buffer (its own jitted update plus
  its Python-side sampling, one call per update, as its ``learn`` makes).
* ``--full`` -- learning on HalfCheetah-v5 for 100k environment steps, seeds 0, 1, 2, each
  impl (FIXED before any run: ``SEEDS``, ``STEPS``, ``EVAL_EVERY``, ``EVAL_EPISODES``).  Ours
  through the host loop (``softq-ref train --algo sac --env HalfCheetah-v5``'s loop, run in
  10k-step pieces with ``resume``/``extend_to`` so it can be evaluated between them), sbx's
  through ``SAC.learn`` with a callback.  Every 10k steps (and at the end): 10 episodes with
  the deterministic mean action ``tanh(mu(s))`` and 10 with the stochastic policy, reset seeds
  ``1_000_000 + 100 * seed + episode`` (the same for both impls).  Updates per second during
  learning are the env steps (one update each) per second between 1000-step marks, leaving
  out the pieces that hold an evaluation or a compilation.  One JSON per run,
  ``benchmarks/results/sbx_sac/{impl}-seed{seed}.json``, written atomically when the run ends;
  a run whose file exists is skipped, so a crash loses only the run in progress.  The budget
  set before the runs: ours-sK beside sbx-sK, two processes, ~25-30 min a pair on the shared
  2-core machine.

sbx (``pip install 'softq_ref[bench]'``) is a benchmark dependency only: it brings
stable-baselines3 and PyTorch.  Without it the script measures our side and says so.

Usage::

    python -m benchmarks.sbx_sac                           # updates/s
    python -m benchmarks.sbx_sac --full                    # every missing run, one after the other
    python -m benchmarks.sbx_sac --full --impl ours --seed 0   # one run (start two side by side)
    python -m benchmarks.sbx_sac --full --summary          # the table of the finished runs
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import machine
from softq_ref.agent import sac
from softq_ref.agent.replay import Transition

ENV_ID = "HalfCheetah-v5"
OBS_DIM, ACTION_DIM = 17, 6


def _batch(key, batch_size: int) -> Transition:
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return Transition(
        obs=jax.random.normal(k1, (batch_size, OBS_DIM)),
        action=jax.random.uniform(k2, (batch_size, ACTION_DIM), minval=-1.0, maxval=1.0),
        reward=jax.random.normal(k3, (batch_size,)),
        next_obs=jax.random.normal(k4, (batch_size, OBS_DIM)),
        done=jnp.zeros((batch_size,)),
    )


def ours_updates_per_second(updates: int, repeats: int = 3) -> dict:
    """Our ``train_step``: ``updates`` jitted calls (carry donated), best and median of ``repeats``."""
    config = sac.SACConfig.preset_for("mujoco")
    state = sac.init(config, OBS_DIM, ACTION_DIM, jax.random.PRNGKey(0))
    state = jax.tree.map(lambda x: jnp.array(x, copy=True) if isinstance(x, jax.Array) else x, state)
    batch = _batch(jax.random.PRNGKey(1), config.batch_size)
    step = jax.jit(sac.train_step, donate_argnums=0)
    keys = jax.random.split(jax.random.PRNGKey(2), updates)
    state, _ = step(state, batch, keys[0])  # compile
    jax.block_until_ready(state)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for k in keys:
            state, metrics = step(state, batch, k)
        jax.block_until_ready(metrics)
        rates.append(updates / (time.perf_counter() - start))
    return {"best": max(rates), "median": float(np.median(rates)), "updates": updates}


def sbx_updates_per_second(updates: int, repeats: int = 3) -> dict | None:
    """sbx's ``SAC.train(gradient_steps=1)`` ``updates`` times on a buffer of 10k random transitions; None without sbx."""
    if importlib.util.find_spec("sbx") is None:
        return None
    import gymnasium as gym
    from sbx import SAC

    env = gym.make(ENV_ID)
    model = SAC("MlpPolicy", env, learning_rate=3e-4, buffer_size=1_000_000, batch_size=256, tau=0.005, gamma=0.99,
                train_freq=1, gradient_steps=1, learning_starts=1000, policy_kwargs={"net_arch": [256, 256]}, seed=0)
    model.learn(total_timesteps=1100)  # fills the buffer past learning_starts and compiles the update
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(updates):
            model.train(gradient_steps=1, batch_size=256)
        rates.append(updates / (time.perf_counter() - start))
    env.close()
    return {"best": max(rates), "median": float(np.median(rates)), "updates": updates}


# --- --full: learning runs, one JSON each -------------------------------------------------------

SEEDS = (0, 1, 2)
STEPS = 100_000
EVAL_EVERY = 10_000
EVAL_EPISODES = 10
WARMUP = 1_000  # ours: SACConfig().min_replay_size; sbx: learning_starts
IMPLS = ("ours", "sbx")
RESULTS_DIR = Path(__file__).resolve().parent / "results" / "sbx_sac"
RATE_EVERY = 1_000  # the marks between which updates/s are measured


def settings(steps: int = STEPS) -> dict:
    """The exact settings of a run, both impls (written into every JSON)."""
    config = sac.SACConfig.preset_for("mujoco")
    assert config.min_replay_size == WARMUP
    return {
        "env": ENV_ID, "total_steps": steps, "eval_every": EVAL_EVERY, "eval_episodes": EVAL_EPISODES,
        "eval_reset_seeds": "1_000_000 + 100 * seed + episode",
        "hidden_sizes": list(config.hidden_sizes), "lr": config.q_lr, "batch_size": config.batch_size,
        "replay_capacity": config.replay_capacity, "tau": config.target_tau, "gamma": config.discount,
        "train_freq": 1, "gradient_steps": 1, "warmup_steps": WARMUP, "ent_coef_init": config.alpha,
        "learn_alpha": config.learn_alpha, "target_entropy": -ACTION_DIM, "log_std_clip": [-20.0, 2.0],
        "ours": "softq_ref.train.gym_loop.train_gym(SACConfig.preset_for('mujoco').replace(total_steps=...)), "
                "10k-step pieces via resume=True, extend_to=...",
        "sbx": "sbx.SAC('MlpPolicy', env, learning_rate=3e-4, buffer_size=1_000_000, learning_starts=1000, "
               "batch_size=256, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1, ent_coef='auto', "
               "target_entropy='auto', policy_kwargs={'net_arch': [256, 256]}, seed=seed)",
    }


def result_path(out_dir: Path, impl: str, seed: int) -> Path:
    return Path(out_dir) / f"{impl}-seed{seed}.json"


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def pending_runs(out_dir: Path, impls=IMPLS, seeds=SEEDS) -> list[tuple[str, int]]:
    """The ``(impl, seed)`` runs whose JSON is not in ``out_dir`` yet, in order."""
    return [(impl, s) for s in seeds for impl in impls if not result_path(out_dir, impl, s).exists()]


def eval_steps(total: int, every: int = EVAL_EVERY) -> list[int]:
    """The env-step counts at which a run is evaluated: every ``every`` steps, and at the end."""
    marks = list(range(every, total + 1, every))
    if not marks or marks[-1] != total:
        marks.append(total)
    return marks


def learning_rate(marks: list[tuple[int, float]], excluded: list[tuple[int, int]], warmup: int = WARMUP) -> float | None:
    """Updates per second from ``(env_step, time)`` marks: the learning steps between consecutive
    marks over their time, leaving out any interval that overlaps an ``excluded`` ``(start, end]``
    step range (an evaluation, a compilation) or lies in the warm-up."""
    steps = seconds = 0.0
    for (s0, t0), (s1, t1) in zip(marks, marks[1:]):
        if s0 < warmup or s1 <= s0 or any(s0 < e and a < s1 for a, e in excluded):
            continue
        steps += s1 - s0
        seconds += t1 - t0
    return steps / seconds if seconds > 0 else None


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("jax", "jaxlib", "equinox", "optax", "gymnasium", "mujoco", "numpy", "sbx-rl", "stable_baselines3",
                 "flax", "torch", "tfp-nightly"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    try:
        out["softq_ref_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                                 cwd=Path(__file__).resolve().parent, check=False).stdout.strip() or None
    except OSError:
        out["softq_ref_commit"] = None
    return out


def evaluate(policy, seed: int, episodes: int = EVAL_EPISODES) -> list[float]:
    """Returns of ``episodes`` episodes run in lockstep; ``policy(obs [n, obs_dim]) -> actions [n, d]`` in env units."""
    import gymnasium as gym

    envs = [gym.make(ENV_ID) for _ in range(episodes)]
    obs = np.stack([env.reset(seed=1_000_000 + 100 * seed + i)[0] for i, env in enumerate(envs)])
    totals, alive = np.zeros(episodes), np.ones(episodes, bool)
    while alive.any():
        actions = np.asarray(policy(obs.astype(np.float32)))
        for i, env in enumerate(envs):
            if not alive[i]:
                continue
            obs[i], reward, terminated, truncated, _ = env.step(actions[i])
            totals[i] += float(reward)
            alive[i] = not (terminated or truncated)
    for env in envs:
        env.close()
    return [float(x) for x in totals]


def _eval_record(step: int, det: list[float], sto: list[float], seconds: float) -> dict:
    return {"step": step, "deterministic_mean": float(np.mean(det)), "deterministic_std": float(np.std(det)),
            "deterministic_returns": det, "stochastic_mean": float(np.mean(sto)), "stochastic_std": float(np.std(sto)),
            "stochastic_returns": sto, "eval_seconds": round(seconds, 2)}


def run_ours(seed: int, steps: int = STEPS) -> dict:  # pragma: no cover - minutes of CPU
    """Our SAC through the host loop, evaluated every ``EVAL_EVERY`` steps."""
    import csv

    import softq_ref
    from softq_ref.train.gym_loop import train_gym

    config = sac.SACConfig.preset_for("mujoco")
    evals, marks, excluded = [], [], []
    start = time.perf_counter()
    key = jax.random.PRNGKey(10_000 + seed)
    with tempfile.TemporaryDirectory(prefix=f"sbx_sac_ours{seed}_") as tmp:
        run_dir = Path(tmp) / "run"
        done = 0
        for mark in eval_steps(steps):
            piece_start = time.perf_counter()
            if done == 0:
                train_gym(config.replace(total_steps=mark), env_id=ENV_ID, seed=seed, out_dir=run_dir,
                          progress=False, checkpoint_every=EVAL_EVERY)
            else:
                train_gym(None, env_id=ENV_ID, out_dir=run_dir, resume=True, extend_to=mark, progress=False)
            # marks from this piece's metrics rows (wall_time counts from the piece's start);
            # the piece's first row holds the compilation, so its interval is excluded.
            with open(run_dir / "metrics.csv") as f:
                rows = [r for r in csv.DictReader(f) if r.get("wall_time") and int(r["step"]) > done]
            for j, r in enumerate(rows):
                marks.append((int(r["step"]), piece_start + float(r["wall_time"])))
                if j == 0:
                    excluded.append((done, int(r["step"])))
            excluded.append((mark, mark + 1))  # evaluation time below
            agent = softq_ref.load(run_dir)
            low, high = agent.action_low, agent.action_high
            det_fn = jax.jit(jax.vmap(lambda o: agent.algo.act(agent.state, o, None)))
            sto_fn = jax.jit(lambda o, k: jax.vmap(agent.algo.explore, in_axes=(None, 0, 0))(
                agent.state, o, jax.random.split(k, o.shape[0])))
            to_env = lambda a: (low + (np.asarray(a, np.float64) + 1.0) * 0.5 * (high - low)).astype(np.float32)  # noqa: E731
            t0 = time.perf_counter()
            det = evaluate(lambda o: to_env(det_fn(jnp.asarray(o))), seed)

            def stochastic(o):
                nonlocal key
                key, sub = jax.random.split(key)
                return to_env(sto_fn(jnp.asarray(o), sub))

            sto = evaluate(stochastic, seed)
            evals.append(_eval_record(mark, det, sto, time.perf_counter() - t0))
            print(f"ours seed {seed} step {mark}: det {np.mean(det):.1f} sto {np.mean(sto):.1f}", flush=True)
            done = mark
    return {"evals": evals, "wall_seconds": round(time.perf_counter() - start, 1),
            "updates_per_s_learning": learning_rate(sorted(marks), excluded)}


def run_sbx(seed: int, steps: int = STEPS) -> dict:  # pragma: no cover - minutes of CPU
    """sbx's SAC through ``SAC.learn``, evaluated every ``EVAL_EVERY`` steps by a callback."""
    import gymnasium as gym
    from sbx import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    marks, excluded, evals = [], [], []
    first_update = WARMUP + 1

    class Every(BaseCallback):
        def _on_step(self) -> bool:
            n = self.num_timesteps
            if n % RATE_EVERY == 0:
                marks.append((n, time.perf_counter()))
            if n in targets:
                t0 = time.perf_counter()
                det = evaluate(lambda o: model.predict(o, deterministic=True)[0], seed)
                sto = evaluate(lambda o: model.predict(o, deterministic=False)[0], seed)
                evals.append(_eval_record(n, det, sto, time.perf_counter() - t0))
                excluded.append((n, n + 1))
                marks.append((n, time.perf_counter()))
                print(f"sbx seed {seed} step {n}: det {np.mean(det):.1f} sto {np.mean(sto):.1f}", flush=True)
            return True

    targets = set(eval_steps(steps))
    excluded.append((WARMUP, first_update + RATE_EVERY))  # the first update's compilation
    start = time.perf_counter()
    model = SAC("MlpPolicy", gym.make(ENV_ID), learning_rate=3e-4, buffer_size=1_000_000, learning_starts=WARMUP,
                batch_size=256, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1, ent_coef="auto",
                target_entropy="auto", policy_kwargs={"net_arch": [256, 256]}, seed=seed)
    model.learn(total_timesteps=steps, callback=Every())
    # Two marks at an evaluation step (before and after it): keep the later, so no interval spans it.
    by_step = {}
    for s, t in marks:
        by_step[s] = t
    return {"evals": evals, "wall_seconds": round(time.perf_counter() - start, 1),
            "updates_per_s_learning": learning_rate(sorted(by_step.items()), excluded)}


def full_run(impl: str, seed: int, out_dir: Path = RESULTS_DIR, steps: int = STEPS, runner=None) -> Path | None:
    """One learning run written to ``{out_dir}/{impl}-seed{seed}.json``; ``None`` (nothing done) if it exists."""
    path = result_path(out_dir, impl, seed)
    if path.exists():
        print(f"{path} exists: skipped", flush=True)
        return None
    runner = runner or {"ours": run_ours, "sbx": run_sbx}[impl]
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    from benchmarks.timing import load_average

    load_before, at_start = load_average(), versions()  # the commit the run started from
    body = runner(seed, steps)
    record = {"impl": impl, "seed": seed, "env": ENV_ID, "steps": steps, "started_utc": started,
              "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **body,
              "load_average_start": load_before, "load_average_end": load_average(),
              "machine": machine(), "versions": at_start, "settings": settings(steps),
              "command": f"python -m benchmarks.sbx_sac --full --impl {impl} --seed {seed}"
                         + ("" if steps == STEPS else f" --steps {steps}")}
    write_json_atomic(path, record)
    return path


def summary(out_dir: Path = RESULTS_DIR) -> dict:
    """Per impl: the final evaluation per seed, mean and spread, and the learning updates/s."""
    out = {}
    for path in sorted(Path(out_dir).glob("*.json")):
        rec = json.loads(path.read_text())
        last = rec["evals"][-1]
        row = out.setdefault(rec["impl"], {"seeds": {}, "updates_per_s": {}})
        row["seeds"][rec["seed"]] = {"step": last["step"], "deterministic": last["deterministic_mean"],
                                     "stochastic": last["stochastic_mean"]}
        row["updates_per_s"][rec["seed"]] = rec["updates_per_s_learning"]
    for row in out.values():
        det = [v["deterministic"] for v in row["seeds"].values()]
        row["deterministic_mean"], row["deterministic_std"] = float(np.mean(det)), float(np.std(det))
        row["deterministic_min_max"] = [float(min(det)), float(max(det))]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=500, help="updates per timed repeat")
    parser.add_argument("--full", action="store_true", help="learning runs (100k steps, seeds 0 1 2), one JSON each")
    parser.add_argument("--impl", choices=IMPLS, help="with --full: only this impl")
    parser.add_argument("--seed", type=int, help="with --full: only this seed")
    parser.add_argument("--steps", type=int, default=STEPS, help="with --full: env steps per run (a shorter run is a trial)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="with --full: where the JSON files go")
    parser.add_argument("--summary", action="store_true", help="with --full: print the table of finished runs only")
    args = parser.parse_args(argv)
    if args.full:
        if args.steps < 1:
            parser.error(f"--steps must be >= 1, got {args.steps}")
        if args.summary:
            print(json.dumps(summary(args.out), indent=2))
            return 0
        if args.impl in ("sbx", None) and importlib.util.find_spec("sbx") is None:
            parser.error("sbx is not installed (pip install 'softq_ref[bench]')")
        impls = IMPLS if args.impl is None else (args.impl,)
        seeds = SEEDS if args.seed is None else (args.seed,)
        for impl, seed in [(i, s) for s in seeds for i in impls]:
            path = full_run(impl, seed, args.out, args.steps)
            if path is not None:
                print(f"wrote {path}", flush=True)
        return 0
    report = {"machine": machine(), "env": ENV_ID, "ours_updates_per_s": ours_updates_per_second(args.updates)}
    sbx = sbx_updates_per_second(args.updates)
    report["sbx_updates_per_s"] = sbx if sbx is not None else "not measured: sbx is not installed (pip install 'softq_ref[bench]')"
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
