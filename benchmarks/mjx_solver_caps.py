"""``python -m benchmarks.mjx_solver_caps``: does capping MJX's solver iterations change HalfCheetah-v5?

For docs/scale.md ("On a GPU"): one MJX scene of HalfCheetah-v5 with gymnasium's solver caps
(100 Newton, 50 line-search iterations) and with caps of 8/8, 4/4 and 1/4: milliseconds per
environment step (5 MuJoCo steps, a jitted scan of 40 steps, mean of 3) and the largest gap of
``(qpos, qvel)`` to C MuJoCo (float64) after 5, 20 and 40 steps of the same random actions.
"""

from __future__ import annotations

import sys
import time

import numpy as np

STEPS = 40
CAPS = ((None, None), (8, 8), (4, 4), (1, 4))  # (Newton, line search); None: the scene's own


def c_mujoco_states(m, spec, actions) -> np.ndarray:
    """``(qpos, qvel)`` after each environment step of C MuJoCo (float64) from the reset state."""
    import mujoco

    d = mujoco.MjData(m)
    mujoco.mj_resetData(m, d)
    mujoco.mj_forward(m, d)
    out = []
    for a in actions:
        d.ctrl[:] = a
        mujoco.mj_step(m, d, nstep=spec.frame_skip)
        out.append(np.concatenate([d.qpos, d.qvel]))
    return np.array(out)


def mjx_states(m, spec, actions) -> tuple[np.ndarray, float]:
    """The same with MJX (float32) on model ``m``, and milliseconds per environment step (mean of 3 runs)."""
    import jax
    import jax.numpy as jnp
    from mujoco import mjx

    model = mjx.put_model(m)
    with jax.numpy_rank_promotion("allow"):
        d0 = mjx.forward(model, mjx.make_data(model))

    def env_step(d, a):
        def substep(d, _):
            return mjx.step(model, d), None

        with jax.numpy_rank_promotion("allow"):
            d, _ = jax.lax.scan(substep, d.replace(ctrl=a), None, length=spec.frame_skip)
        return d, jnp.concatenate([d.qpos, d.qvel])

    run = jax.jit(lambda d, acts: jax.lax.scan(env_step, d, acts))
    acts = jnp.asarray(actions, jnp.float32)
    jax.block_until_ready(run(d0, acts))  # compile
    t0 = time.perf_counter()
    for _ in range(3):
        _, traj = run(d0, acts)
        jax.block_until_ready(traj)
    return np.asarray(traj), 1e3 * (time.perf_counter() - t0) / (3 * len(actions))


def main() -> int:
    from softq_ref.envs import mjx_locomotion as ml

    spec = ml.HALF_CHEETAH
    m = ml.mj_model(spec)
    print(f"HalfCheetah-v5: solver {m.opt.solver}, iterations {m.opt.iterations}, ls_iterations {m.opt.ls_iterations}, "
          f"tolerance {m.opt.tolerance}, integrator {m.opt.integrator}, timestep {m.opt.timestep}")
    actions = np.random.default_rng(0).uniform(-1, 1, (STEPS, m.nu))
    ref = c_mujoco_states(m, spec, actions)
    for newton, line_search in CAPS:
        capped = ml.mj_model(spec)
        capped.opt.iterations = newton or m.opt.iterations
        capped.opt.ls_iterations = line_search or m.opt.ls_iterations
        traj, ms = mjx_states(capped, spec, actions)
        gaps = [float(np.max(np.abs(traj[:n] - ref[:n]))) for n in (5, 20, STEPS)]
        print(f"iterations {capped.opt.iterations}, ls {capped.opt.ls_iterations}: {ms:.3f} ms per env step; "
              f"max |state gap| to C MuJoCo after 5/20/{STEPS} steps: {gaps[0]:.2e} {gaps[1]:.2e} {gaps[2]:.2e}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
