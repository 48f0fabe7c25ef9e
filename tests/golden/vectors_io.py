"""Build the whole-update golden cases and read/write them in the spec/vectors format.

Arrays are ``{"shape": [...], "data": [...]}`` row-major, floats written by Python's ``repr``
(the shortest decimal that reads back to the same double), as spec/vectors/README.md says.
Networks are lists of layers ``{"weight": [out, in], "bias": [out]}``; Adam states are
``{"count": int, "mu": network, "nu": network}``.

Regenerate the files (only after a deliberate change of the update):
``PYTHONPATH=. python -m tests.golden.vectors_io --write`` from the repository root, or
``cd tests && python -m golden.vectors_io --write``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

try:  # imported as ``golden.vectors_io`` by the tests, or as ``tests.golden.vectors_io``
    from . import numpy_ref
except ImportError:  # pragma: no cover
    import numpy_ref  # type: ignore

VECTORS_DIR = Path(__file__).resolve().parents[2] / "spec" / "vectors"
FORMAT = "softq_ref-golden-step/1"


def encode(x):
    x = np.asarray(x, np.float64)
    return {"shape": list(x.shape), "data": [float(v) for v in x.ravel()]}


def decode(obj):
    return np.asarray(obj["data"], np.float64).reshape(obj["shape"])


def encode_net(net):
    return [{"weight": encode(w), "bias": encode(b)} for w, b in net]


def decode_net(obj):
    return [(decode(layer["weight"]), decode(layer["bias"])) for layer in obj]


def encode_adam(state):
    return {"count": int(state["count"]), "mu": encode_net(state["mu"]), "nu": encode_net(state["nu"])}


def decode_adam(obj):
    return {"count": int(obj["count"]), "mu": decode_net(obj["mu"]), "nu": decode_net(obj["nu"])}


# ------------------------------------------------------------------------------------- cases
def _f32(x):
    """Values exactly representable in float32, so a float32 implementation sees the same inputs."""
    return np.asarray(np.asarray(x, np.float32), np.float64)


def random_net(rng, sizes, scale=0.6):
    return [
        (_f32(rng.normal(0, scale / np.sqrt(i), (o, i))), _f32(rng.normal(0, 0.1, o)))
        for i, o in zip(sizes[:-1], sizes[1:])
    ]


def perturb(rng, net, scale=0.05):
    return [(_f32(w + rng.normal(0, scale, w.shape)), _f32(b + rng.normal(0, scale, b.shape))) for w, b in net]


def random_adam(rng, net, count=3):
    """A non-fresh Adam state: with zero moments the first step is lr * sign(g), blind to b1, b2."""
    mu = [(_f32(rng.normal(0, 0.02, w.shape)), _f32(rng.normal(0, 0.02, b.shape))) for w, b in net]
    nu = [(_f32(1e-4 + rng.uniform(0, 4e-4, w.shape)), _f32(1e-4 + rng.uniform(0, 4e-4, b.shape))) for w, b in net]
    return {"count": count, "mu": mu, "nu": nu}


def sql_case(seed=0, obs_dim=2, action_dim=2, hidden=(8, 8), b=4, k=3, m=4, kv=5):
    """The inputs of one SQL update: tiny networks, B = 4, K = 3 fixed, M = 4 updated (12 distances: the lower median), K_V = 5."""
    rng = np.random.default_rng(seed)
    q = random_net(rng, (obs_dim + action_dim, *hidden, 1))
    pi = random_net(rng, (obs_dim + action_dim, *hidden, action_dim), scale=1.0)
    return {
        "hparams": {"alpha": 0.5, "discount": 0.9, "tau": 1.0, "period": 3, "q_lr": 0.01, "pi_lr": 0.01},
        "sizes": {"obs_dim": obs_dim, "action_dim": action_dim, "hidden_sizes": list(hidden),
                  "batch": b, "num_fixed": k, "num_updated": m, "value_samples": kv},
        "step": 2,
        "q": q, "q_target": perturb(rng, q), "policy": pi,
        "q_adam": random_adam(rng, q), "policy_adam": random_adam(rng, pi),
        "batch": {
            "obs": _f32(rng.uniform(-1, 1, (b, obs_dim))),
            "action": _f32(rng.uniform(-0.9, 0.9, (b, action_dim))),
            "reward": _f32(rng.normal(0, 1, b)),
            "next_obs": _f32(rng.uniform(-1, 1, (b, obs_dim))),
            "done": np.array([0.0, 1.0, 0.0, 1.0]),
        },
    }


def ddpg_case(seed=1, obs_dim=2, action_dim=2, hidden=(8, 8), b=4):
    rng = np.random.default_rng(seed)
    q = random_net(rng, (obs_dim + action_dim, *hidden, 1))
    mu = random_net(rng, (obs_dim, *hidden, action_dim), scale=1.0)
    return {
        "hparams": {"discount": 0.9, "reward_scale": 0.5, "tau": 0.1, "period": 1, "q_lr": 0.01, "pi_lr": 0.01},
        "sizes": {"obs_dim": obs_dim, "action_dim": action_dim, "hidden_sizes": list(hidden), "batch": b},
        "step": 2,
        "q": q, "q_target": perturb(rng, q), "actor": mu, "actor_target": perturb(rng, mu),
        "q_adam": random_adam(rng, q), "actor_adam": random_adam(rng, mu),
        "batch": {
            "obs": _f32(rng.uniform(-1, 1, (b, obs_dim))),
            "action": _f32(rng.uniform(-0.9, 0.9, (b, action_dim))),
            "reward": _f32(rng.normal(0, 1, b)),
            "next_obs": _f32(rng.uniform(-1, 1, (b, obs_dim))),
            "done": np.array([1.0, 0.0, 0.0, 1.0]),
        },
    }


NETS_SQL = ("q", "q_target", "policy")
ADAMS_SQL = ("q_adam", "policy_adam")
NETS_DDPG = ("q", "q_target", "actor", "actor_target")
ADAMS_DDPG = ("q_adam", "actor_adam")


def _encode_state(case, nets, adams):
    out = {"step": case["step"], "hparams": case["hparams"], "sizes": case["sizes"],
           "batch": {k: encode(v) for k, v in case["batch"].items()}}
    out.update({n: encode_net(case[n]) for n in nets})
    out.update({a: encode_adam(case[a]) for a in adams})
    return out


def _decode_state(obj, nets, adams):
    case = {"step": obj["step"], "hparams": obj["hparams"], "sizes": obj["sizes"],
            "batch": {k: decode(v) for k, v in obj["batch"].items()}}
    case.update({n: decode_net(obj[n]) for n in nets})
    case.update({a: decode_adam(obj[a]) for a in adams})
    return case


def _encode_result(res, nets, adams):
    out = {"step": res["step"], "metrics": {k: float(v) for k, v in res["metrics"].items()},
           "target": encode(res["target"])}
    out.update({n: encode_net(res[n]) for n in nets})
    out.update({a: encode_adam(res[a]) for a in adams})
    for extra in ("v_next", "direction", "bandwidth"):
        if extra in res:
            out[extra] = encode(res[extra])
    return out


def decode_result(obj, nets, adams):
    res = {"step": obj["step"], "metrics": obj["metrics"], "target": decode(obj["target"])}
    res.update({n: decode_net(obj[n]) for n in nets})
    res.update({a: decode_adam(obj[a]) for a in adams})
    for extra in ("v_next", "direction", "bandwidth"):
        if extra in obj:
            res[extra] = decode(obj[extra])
    return res


def run_sql(case, draws, bug=None):
    return numpy_ref.sql_step(case["q"], case["q_target"], case["policy"], case["q_adam"], case["policy_adam"],
                              case["step"], case["hparams"], case["batch"], draws, bug=bug)


def run_ddpg(case, bug=None):
    return numpy_ref.ddpg_step(case["q"], case["q_target"], case["actor"], case["actor_target"], case["q_adam"],
                               case["actor_adam"], case["step"], case["hparams"], case["batch"], bug=bug)


SQL_NOTE = (
    "One update of Algorithm 1 (soft Q-learning) from the given state, batch and random draws, computed in "
    "float64 by tests/golden/numpy_ref.py (independent of softq_ref.core). Networks: ReLU MLPs, layers "
    "{weight[out, in], bias[out]}, Q on concat(obs, action) with one output, the sampler tanh(MLP(concat(obs, xi))). "
    "draws.value_actions[K_V, d] are the uniform value samples shared by the minibatch; xi_fixed[B, K, d] and "
    "xi_updated[B, M, d] the sampler's noise. Adam: b1 0.9, b2 0.999, eps 1e-8, bias-corrected, count counts "
    "updates. The target network is updated when (step + 1) % period == 0."
)
DDPG_NOTE = (
    "One DDPG update (the paper's baseline) from the given state and batch, in float64 by "
    "tests/golden/numpy_ref.py. Actor a = tanh(MLP(obs)); target r * reward_scale + discount * (1 - done) * "
    "Q_target(s', actor_target(s')); actor loss -mean Q(s, actor(s)) with the pre-update critic; Polyak targets "
    "every period steps with tau."
)


def sql_document(case, draws):
    res = run_sql(case, draws)
    return {
        "format": FORMAT, "algorithm": "sql", "note": SQL_NOTE,
        "generated_by": "tests/golden/vectors_io.py --write",
        "rtol_float32": 2e-4, "atol_float32": 2e-6, "rtol_float64": 1e-10, "atol_float64": 1e-12,
        "inputs": {**_encode_state(case, NETS_SQL, ADAMS_SQL), "draws": {k: encode(v) for k, v in draws.items()}},
        "outputs": _encode_result(res, NETS_SQL, ADAMS_SQL),
    }


def ddpg_document(case):
    res = run_ddpg(case)
    return {
        "format": FORMAT, "algorithm": "ddpg", "note": DDPG_NOTE,
        "generated_by": "tests/golden/vectors_io.py --write",
        "rtol_float32": 2e-4, "atol_float32": 2e-6, "rtol_float64": 1e-10, "atol_float64": 1e-12,
        "inputs": _encode_state(case, NETS_DDPG, ADAMS_DDPG),
        "outputs": _encode_result(res, NETS_DDPG, ADAMS_DDPG),
    }


def load(name):
    doc = json.loads((VECTORS_DIR / name).read_text())
    nets, adams = (NETS_SQL, ADAMS_SQL) if doc["algorithm"] == "sql" else (NETS_DDPG, ADAMS_DDPG)
    case = _decode_state(doc["inputs"], nets, adams)
    draws = {k: decode(v) for k, v in doc["inputs"].get("draws", {}).items()}
    return doc, case, draws, decode_result(doc["outputs"], nets, adams)


def dumps(doc) -> str:
    return json.dumps(doc, indent=1) + "\n"


if __name__ == "__main__":  # pragma: no cover
    # The draws come from the same jax.random splits as softq_ref.agent.sql.train_step (see the test's adapter).
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import test_golden_step as t  # noqa: E402

    if "--write" in sys.argv:
        case = sql_case()
        (VECTORS_DIR / "sql_train_step.json").write_text(dumps(sql_document(case, t.golden_sql_draws(case))))
        (VECTORS_DIR / "ddpg_train_step.json").write_text(dumps(ddpg_document(ddpg_case())))
        print("wrote sql_train_step.json, ddpg_train_step.json")
