"""An independent float64 NumPy implementation of one update of soft Q-learning and of DDPG.

Written from the paper (Haarnoja et al. 2017, Algorithm 1, eqs. (10), (11), (13), (14)) and
the original code's conventions (haarnoja/softqlearning, 2018: K_V uniform value actions on
[-1, 1]^d shared by the minibatch, ``- log K_V + d log 2``, the ``(1 - done)`` mask, loss
``0.5 * mean`` of squared errors, K fixed + M updated particles, the RBF kernel with bandwidth
``median(squared distances) / log K`` floored at 1e-3, the tanh correction
``sum log(1 - a^2 + 1e-6)`` added to Q in the SVGD target, Adam, a target copy every
``period`` steps).  It does not import ``softq_ref``: networks are lists of ``(W, b)`` float64
arrays (``W`` is ``[out, in]``, as Equinox stores it), gradients are hand-written backprop.

``bug=`` plants one deliberate error of the kinds public ports have; the golden tests assert
that each planted version does NOT match ``train_step`` (the must-fail twins).
"""

from __future__ import annotations

import math

import numpy as np

SQL_BUGS = (
    "terminal_mask",  # (1 - done) dropped from the target
    "value_at_obs",  # the soft value of s instead of s' enters the target
    "drop_log_k",  # the PyTorch port's missing - log K_V
    "online_q_in_value",  # eq. (10) with the online network instead of the target
    "svgd_target_q",  # the SVGD step follows the target network's Q instead of the online one
    "tanh_sign",  # the tanh correction subtracted instead of added
    "swap_particle_roles",  # the updated particles drive the kernel sum (grad log p there), not the fixed ones
    "bandwidth_log_m_plus_1",  # the paper's log(M + 1) instead of the code's log K
    "no_repulsion",  # the kernel-gradient term dropped
    "q_grad_at_next_obs",  # grad Q taken at s' (a port's bug) instead of s
)
DDPG_BUGS = ("terminal_mask", "online_actor_in_target", "no_reward_scale", "actor_follows_target_q")

ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-8
TANH_EPS = 1e-6
MIN_BANDWIDTH = 1e-3


# ---------------------------------------------------------------------------------- networks
def mlp_forward(params, x):
    """ReLU MLP on rows of ``x`` ``[N, in]``; returns ``(out [N, out], cache)``."""
    h = np.asarray(x, np.float64)
    cache = []
    for i, (w, b) in enumerate(params):
        z = h @ w.T + b
        cache.append((h, z))
        h = z if i == len(params) - 1 else np.maximum(z, 0.0)
    return h, cache


def mlp_backward(params, cache, dout):
    """Gradients ``[(dW, db), ...]`` and the input gradient ``[N, in]`` for an upstream ``dout``."""
    grads = [None] * len(params)
    dz = dout
    for i in reversed(range(len(params))):
        w, _ = params[i]
        h_prev, _ = cache[i]
        grads[i] = (dz.T @ h_prev, dz.sum(axis=0))
        dh = dz @ w
        if i > 0:
            _, z_prev = cache[i - 1]
            dz = dh * (z_prev > 0)
        else:
            dx = dh
    return grads, dx


def q_values(params, obs, actions):
    """Q(s_n, a_n) for rows ``obs [N, o]``, ``actions [N, d]``: ``[N]``."""
    out, _ = mlp_forward(params, np.concatenate([obs, actions], axis=-1))
    return out[:, 0]


def q_grads(params, obs, actions, dq):
    """Parameter gradients and action gradients ``[N, d]`` of ``sum_n dq_n Q(s_n, a_n)``."""
    out, cache = mlp_forward(params, np.concatenate([obs, actions], axis=-1))
    grads, dx = mlp_backward(params, cache, dq[:, None])
    return grads, dx[:, obs.shape[-1]:]


def sampler(params, obs, xi):
    """a = tanh(MLP([s, xi])) for rows: ``(a [N, d], cache)``."""
    pre, cache = mlp_forward(params, np.concatenate([obs, xi], axis=-1))
    return np.tanh(pre), cache


def actor(params, obs):
    pre, cache = mlp_forward(params, obs)
    return np.tanh(pre), cache


# ------------------------------------------------------------------------------------- Adam
def adam(params, grads, state, lr):
    """optax.adam (b1 0.9, b2 0.999, eps 1e-8, bias-corrected): ``(new_params, new_state)``."""
    count = state["count"] + 1
    mu = [tuple(ADAM_B1 * m + (1 - ADAM_B1) * g for m, g in zip(ml, gl)) for ml, gl in zip(state["mu"], grads)]
    nu = [tuple(ADAM_B2 * v + (1 - ADAM_B2) * g * g for v, g in zip(vl, gl)) for vl, gl in zip(state["nu"], grads)]
    c1, c2 = 1 - ADAM_B1**count, 1 - ADAM_B2**count
    new = [
        tuple(p - lr * (m / c1) / (np.sqrt(v / c2) + ADAM_EPS) for p, m, v in zip(pl, ml, vl))
        for pl, ml, vl in zip(params, mu, nu)
    ]
    return new, {"count": count, "mu": mu, "nu": nu}


def target_update(target, online, step, period, tau):
    """Every ``period`` steps target <- tau * online + (1 - tau) * target; else unchanged."""
    if step % period != 0:
        return [tuple(np.array(t) for t in tl) for tl in target]
    return [tuple(tau * o + (1 - tau) * t for t, o in zip(tl, ol)) for tl, ol in zip(target, online)]


# -------------------------------------------------------------------------------------- SQL
def sql_step(q, q_target, pi, q_adam, pi_adam, step, hp, batch, draws, bug=None):
    """One update of Algorithm 1 (see the module docstring).

    ``hp``: alpha, discount, tau, period, q_lr, pi_lr.  ``batch``: obs [B, o], action [B, d],
    reward [B], next_obs [B, o], done [B].  ``draws``: value_actions [K_V, d] (uniform on the box,
    shared by the minibatch), xi_fixed [B, K, d], xi_updated [B, M, d].
    """
    assert bug is None or bug in SQL_BUGS, bug
    alpha, gamma = hp["alpha"], hp["discount"]
    obs, act, rew, nobs, done = (np.asarray(batch[k], np.float64) for k in ("obs", "action", "reward", "next_obs", "done"))
    va = np.asarray(draws["value_actions"], np.float64)
    xf = np.asarray(draws["xi_fixed"], np.float64)
    xu = np.asarray(draws["xi_updated"], np.float64)
    b, d = act.shape
    kv, k, m = va.shape[0], xf.shape[1], xu.shape[1]

    # Eq. (10): V(s') = alpha log( (1/K_V) sum_j exp(Q(s', a_j)/alpha) / q(a_j) ), q = 2^-d.
    value_net = q if bug == "online_q_in_value" else q_target
    value_states = obs if bug == "value_at_obs" else nobs
    qv = q_values(value_net, np.repeat(value_states, kv, axis=0), np.tile(va, (b, 1))).reshape(b, kv)
    log_k = 0.0 if bug == "drop_log_k" else math.log(kv)
    z = qv / alpha + d * math.log(2.0)  # - log q(a) = d log 2
    zmax = z.max(axis=1, keepdims=True)
    v_next = alpha * (zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1)) - log_k)

    # Eq. (11): target and loss, one Adam step on Q.
    mask = np.ones_like(done) if bug == "terminal_mask" else 1.0 - done
    target = rew + gamma * mask * v_next
    q_pred = q_values(q, obs, act)
    q_loss = 0.5 * np.mean((target - q_pred) ** 2)
    gq, _ = q_grads(q, obs, act, (q_pred - target) / b)
    new_q, new_q_adam = adam(q, gq, q_adam, hp["q_lr"])

    # Eq. (13): particles, the gradient of the log target exp(Q/alpha) |det tanh'| (times alpha).
    obs_f = np.repeat(obs, k, axis=0)
    fixed, _ = sampler(pi, obs_f, xf.reshape(b * k, d))
    svgd_q = q_target if bug == "svgd_target_q" else q
    grad_obs = np.repeat(nobs, k, axis=0) if bug == "q_grad_at_next_obs" else obs_f
    _, dq_da = q_grads(svgd_q, grad_obs, fixed, np.ones(b * k))
    sign = -1.0 if bug == "tanh_sign" else 1.0
    dlogdet = -2.0 * fixed / (1.0 - fixed**2 + TANH_EPS)
    grad_log_p = (dq_da + sign * alpha * dlogdet).reshape(b, k, d)
    fixed = fixed.reshape(b, k, d)

    obs_u = np.repeat(obs, m, axis=0)
    updated, cache_u = sampler(pi, obs_u, xu.reshape(b * m, d))
    updated = updated.reshape(b, m, d)

    directions, bandwidths = np.zeros((b, m, d)), np.zeros(b)
    if bug == "swap_particle_roles":
        # the updated particles drive the kernel sum (grad log p taken there) instead of the fixed ones
        _, dqu = q_grads(q, obs_u, updated.reshape(b * m, d), np.ones(b * m))
        uu = updated.reshape(b * m, d)
        grad_log_p = (dqu + alpha * (-2.0 * uu / (1.0 - uu**2 + TANH_EPS))).reshape(b, m, d)
        fixed, k = updated, m
    for s in range(b):
        a_i, b_j = fixed[s], updated[s]
        sq = ((a_i[:, None, :] - b_j[None, :, :]) ** 2).sum(-1)  # [K, M]
        med = np.sort(sq.ravel())[(sq.size - 1) // 2]  # lower median, as top_k gives
        denom = math.log(m + 1) if bug == "bandwidth_log_m_plus_1" else math.log(max(k, 2))
        h = max(med / denom, MIN_BANDWIDTH)
        bandwidths[s] = h
        kern = np.exp(-sq / h)  # k(a_i, b_j)
        grad_k = (-2.0 / h) * (a_i[:, None, :] - b_j[None, :, :]) * kern[:, :, None]  # d k / d a_i
        drive = kern.T @ grad_log_p[s]  # sum_i k(a_i, b_j) grad log p(a_i)
        repulse = 0.0 if bug == "no_repulsion" else grad_k.sum(axis=0)
        directions[s] = (drive + alpha * repulse) / k

    # Eq. (14): surrogate L = mean_s -sum_j <direction_j, f(xi_j; s)>; dL/d updated = -direction / B.
    d_pre = (-directions / b).reshape(b * m, d) * (1.0 - updated.reshape(b * m, d) ** 2)
    g_pi, _ = mlp_backward(pi, cache_u, d_pre)
    new_pi, new_pi_adam = adam(pi, g_pi, pi_adam, hp["pi_lr"])

    new_step = step + 1
    new_target = target_update(q_target, new_q, new_step, hp["period"], hp["tau"])
    metrics = {
        "q_loss": q_loss,
        "mean_q": q_pred.mean(),
        "soft_value": v_next.mean(),
        "svgd_direction_norm": np.linalg.norm(directions, axis=-1).mean(),
        "bandwidth": bandwidths.mean(),
        "policy_spread": updated.std(axis=1).mean(),
    }
    return {
        "q": new_q, "q_target": new_target, "policy": new_pi, "q_adam": new_q_adam, "policy_adam": new_pi_adam,
        "step": new_step, "metrics": metrics, "target": target, "v_next": v_next,
        "direction": directions, "bandwidth": bandwidths,
    }


# ------------------------------------------------------------------------------------- DDPG
def ddpg_step(q, q_target, mu, mu_target, q_adam, mu_adam, step, hp, batch, bug=None):
    """One DDPG update (Lillicrap et al. 2016): critic on r*scale + gamma (1-d) Q'(s', mu'(s')), actor up grad Q."""
    assert bug is None or bug in DDPG_BUGS, bug
    obs, act, rew, nobs, done = (np.asarray(batch[k], np.float64) for k in ("obs", "action", "reward", "next_obs", "done"))
    b = obs.shape[0]
    next_actor = mu if bug == "online_actor_in_target" else mu_target
    a_next, _ = actor(next_actor, nobs)
    q_next = q_values(q_target, nobs, a_next)
    mask = np.ones_like(done) if bug == "terminal_mask" else 1.0 - done
    scale = 1.0 if bug == "no_reward_scale" else hp["reward_scale"]
    target = scale * rew + hp["discount"] * mask * q_next
    q_pred = q_values(q, obs, act)
    q_loss = 0.5 * np.mean((target - q_pred) ** 2)
    gq, _ = q_grads(q, obs, act, (q_pred - target) / b)
    new_q, new_q_adam = adam(q, gq, q_adam, hp["q_lr"])

    a_pi, cache = actor(mu, obs)
    critic = q_target if bug == "actor_follows_target_q" else q
    q_pi = q_values(critic, obs, a_pi)
    actor_loss = -q_pi.mean()
    _, dq_da = q_grads(critic, obs, a_pi, np.full(b, -1.0 / b))
    g_mu, _ = mlp_backward(mu, cache, dq_da * (1.0 - a_pi**2))
    new_mu, new_mu_adam = adam(mu, g_mu, mu_adam, hp["pi_lr"])

    new_step = step + 1
    return {
        "q": new_q, "q_target": target_update(q_target, new_q, new_step, hp["period"], hp["tau"]),
        "actor": new_mu, "actor_target": target_update(mu_target, new_mu, new_step, hp["period"], hp["tau"]),
        "q_adam": new_q_adam, "actor_adam": new_mu_adam, "step": new_step, "target": target,
        "metrics": {"q_loss": q_loss, "mean_q": q_pred.mean(), "actor_loss": actor_loss},
    }
