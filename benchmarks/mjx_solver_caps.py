"""``python -m benchmarks.mjx_solver_caps``: does capping MJX's solver iterations change HalfCheetah-v5?

For docs/scale.md ("On a GPU"): one MJX scene of HalfCheetah-v5 with gymnasium's solver caps
(100 Newton, 50 line-search iterations) and with caps of 8/8, 4/4 and 1/4: milliseconds per
environment step (5 MuJoCo steps, a jitted scan of 40 steps, mean of 3) and the largest gap of
``(qpos, qvel)`` to C MuJoCo (float64) after 5, 20 and 40 steps of the same random actions.
"""
import time, numpy as np, jax, jax.numpy as jnp, mujoco
from mujoco import mjx
from softq_ref.envs import mjx_locomotion as ml
spec = ml.HALF_CHEETAH
m = ml.mj_model(spec)
print("solver", m.opt.solver, "iterations", m.opt.iterations, "ls_iterations", m.opt.ls_iterations, "tol", m.opt.tolerance, "integrator", m.opt.integrator, "timestep", m.opt.timestep)
rng = np.random.default_rng(0)
acts = rng.uniform(-1, 1, (40, m.nu))
def c_run(steps):
    d = mujoco.MjData(m); mujoco.mj_resetData(m, d); mujoco.mj_forward(m, d)
    out = []
    for a in acts[:steps]:
        d.ctrl[:] = a
        mujoco.mj_step(m, d, nstep=spec.frame_skip)
        out.append(np.concatenate([d.qpos, d.qvel]).copy())
    return np.array(out)
ref = c_run(40)
for iters, ls in [(m.opt.iterations, m.opt.ls_iterations), (8, 8), (4, 4), (1, 4)]:
    mm = ml.mj_model(spec); mm.opt.iterations = iters; mm.opt.ls_iterations = ls
    model = mjx.put_model(mm)
    d0 = mjx.make_data(model)
    with jax.numpy_rank_promotion("allow"):
        d0 = mjx.forward(model, d0)
    def env_step(d, a):
        d = d.replace(ctrl=a)
        def sub(d, _):
            return mjx.step(model, d), None
        with jax.numpy_rank_promotion("allow"):
            d, _ = jax.lax.scan(sub, d, None, length=spec.frame_skip)
        return d, jnp.concatenate([d.qpos, d.qvel])
    run = jax.jit(lambda d, A: jax.lax.scan(env_step, d, A))
    A = jnp.asarray(acts, jnp.float32)
    _, traj = run(d0, A); jax.block_until_ready(traj)
    t0 = time.perf_counter(); 
    for _ in range(3):
        _, traj = run(d0, A); jax.block_until_ready(traj)
    ms = (time.perf_counter() - t0) / 3 / 40 * 1e3
    traj = np.asarray(traj)
    gap = lambda n: float(np.max(np.abs(traj[:n] - ref[:n])))
    print(f"iterations {iters} ls {ls}: {ms:.3f} ms per env step on CPU; max |state gap| vs C MuJoCo after 5/20/40 steps: {gap(5):.2e} {gap(20):.2e} {gap(40):.2e}", flush=True)
