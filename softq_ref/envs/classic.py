"""CartPole-v1 and Acrobot-v1 declared as tasks, with gymnax's pure-JAX versions as their twins.

The discrete-action agents (``soft_dqn``, ``pg``) train on the classic-control tasks.  The
gymnasium environments drive the host loop; their JAX twins, for the fully jitted loop (and
vmapped seeds), are **gymnax's** ports (Lange 2022, ``pip install softq_ref[gymnax]``): this
project does not write its own CartPole.  gymnax is imported only when a twin is built, and a
task declares a twin only when gymnax is installed, so without it both tasks still train
through the host loop.

Conventions of the twins (gymnax 1.0): actions are the index the agents return as
``float32 [1]`` (the replay buffer's layout), rounded to an int; ``terminated`` is the natural
end (pole fallen, tip above the line) and ``truncated`` the 500-step limit, as in gymnasium;
``step_autoreset`` is gymnax's ``step``, whose ``info["final_observation"]`` is the true
successor stored in the buffer.  ``step`` (no reset; the evaluation rollouts) uses a fixed
key: CartPole's dynamics use none, and Acrobot's torque noise is 0 in its default parameters.
The twins follow gymnasium's dynamics but are not bit-identical to them (float32 throughout).
"""

from __future__ import annotations

import importlib.util

import jax
import jax.numpy as jnp

from softq_ref.envs.task import JaxEnv, Task

CARTPOLE_ID = "CartPole-v1"
ACROBOT_ID = "Acrobot-v1"
#: Both tasks' time limit (gymnasium's registration and gymnax's ``max_steps_in_episode``).
HORIZON = 500


def gymnax_available() -> bool:
    """Whether gymnax is installed (the JAX twins need it; the host loop does not)."""
    return importlib.util.find_spec("gymnax") is not None


def _index(action: jax.Array) -> jax.Array:
    """The int32 action index stored as ``float32 [1]``."""
    return jnp.round(jnp.reshape(action, (-1,))[0]).astype(jnp.int32)


def gymnax_env(env_id: str) -> JaxEnv:
    """The gymnax version of ``env_id`` as a :class:`~softq_ref.envs.task.JaxEnv` (discrete actions)."""
    try:
        import gymnax
    except ImportError as err:
        raise ValueError(f"{env_id}'s JAX version needs gymnax (pip install 'softq_ref[gymnax]'): {err}") from None
    env, params = gymnax.make(env_id)
    fixed_key = jax.random.PRNGKey(0)

    def reset(key):
        obs, state = env.reset(key, params)
        return state, obs

    def step(state, action):
        obs, next_state, reward, terminated, info = env.step_env(fixed_key, state, _index(action), params)
        truncated = env.is_truncated(next_state, params)
        return next_state, obs, jnp.asarray(reward, jnp.float32), terminated, truncated, info

    def step_autoreset(state, action, key):
        obs, state_to_act_in, reward, terminated, truncated, info = env.step(key, state, _index(action), params)
        next_obs = info["final_observation"]
        return state_to_act_in, next_obs, jnp.asarray(reward, jnp.float32), terminated, truncated, info

    def observe(state):
        return env.get_obs(state, params)

    return JaxEnv(
        name=env_id,
        reset=reset,
        step=step,
        step_autoreset=step_autoreset,
        observe=observe,
        obs_dim=int(env.observation_space(params).shape[0]),
        action_dim=int(env.num_actions),
        max_steps=int(params.max_steps_in_episode),
        action_space="discrete",
    )


def cartpole_env() -> JaxEnv:
    """gymnax's CartPole-v1."""
    return gymnax_env(CARTPOLE_ID)


def acrobot_env() -> JaxEnv:
    """gymnax's Acrobot-v1."""
    return gymnax_env(ACROBOT_ID)


def _task(env_id: str, factory) -> Task:
    return Task(env_id=env_id, presets=("classic",), horizon=HORIZON, action_space="discrete",
                jax_env=factory if gymnax_available() else None)


CARTPOLE = _task(CARTPOLE_ID, cartpole_env)
ACROBOT = _task(ACROBOT_ID, acrobot_env)
