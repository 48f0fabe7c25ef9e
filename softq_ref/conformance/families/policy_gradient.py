r"""The soft return of maximum-entropy policy gradients (the maximum-entropy family).

Target: ``soft_returns``, the discounted reward-to-go of the soft reward
$r_t - \alpha \log \pi(a_t \mid s_t)$ with terminal cuts and a bootstrap value, with its
golden cases, Hypothesis inputs and tolerance scale.  The traps: the sign of the entropy
bonus, ``done[t]`` cutting the sum *after* step ``t``, and the bootstrap entering only
through the last step.

The golden cases are those first written by ``tests/test_family_vectors.py`` (same seed,
same inputs); the scale is the one recorded there.
"""

from __future__ import annotations

import numpy as np

from softq_ref.conformance.declaration import RANDOM, Case, Target, drawn, like, properties, rng
from softq_ref.core import policy_gradient as core_policy_gradient


# --------------------------------------------------------------------------- golden cases


def returns_cases() -> list[Case]:
    r = rng(4)
    return [
        ("ordinary", "T = 10, terminal steps, bootstrap 2",
         dict(rewards=r.normal(size=10), log_probs=r.normal(size=10), alpha=0.1, discount=0.99,
              done=(r.uniform(size=10) < 0.3).astype(float), bootstrap=2.0)),
        ("no-terminal", "T = 5, gamma 0.5, bootstrap 0",
         dict(rewards=r.normal(size=5), log_probs=r.normal(size=5), alpha=1.0, discount=0.5, done=np.zeros(5),
              bootstrap=0.0)),
    ]


# --------------------------------------------------------------------------- Hypothesis inputs


def returns_inputs(draw, alpha_kind: str) -> dict:
    """``rewards[T]``, ``log_probs[T]``, ``alpha``, ``discount`` in [0, 1], ``done[T]`` in {0, 1}, ``bootstrap``."""
    from softq_ref.conformance.strategies import alphas, arrays, floats, hnp, st

    t = draw(st.sampled_from((5, 1, 10)))
    return {
        "rewards": draw(arrays((t,), 10.0)),
        "log_probs": draw(arrays((t,), 10.0)),
        "alpha": draw(alphas(alpha_kind)),
        "discount": draw(st.one_of(st.sampled_from((0.99, 0.0, 1.0)), st.floats(0.0, 1.0))),
        "done": draw(hnp.arrays(np.float64, (t,), elements=st.sampled_from((0.0, 1.0)))),
        "bootstrap": draw(floats(10.0)),
    }


# --------------------------------------------------------------------------- tolerance scales


def scale_soft_returns(i, o):
    """(max |r| + alpha max |log pi| + |bootstrap|) / max(1 - gamma, 1 / T): the largest a return can be."""
    rewards = np.asarray(i["rewards"], dtype=np.float64)
    size = (np.max(np.abs(rewards), initial=0.0) + i["alpha"] * np.max(np.abs(np.asarray(i["log_probs"])), initial=0.0)
            + abs(i["bootstrap"]))
    return {"returns": like(size / max(1.0 - i["discount"], 1.0 / len(rewards)), o["returns"])}


# --------------------------------------------------------------------------- targets


TARGETS: tuple[Target, ...] = (
    Target(
        name="soft_returns", spec_id="def-soft-return", reference=core_policy_gradient.soft_returns,
        signature="f(rewards[T], log_probs[T], alpha, discount, done[T], bootstrap) -> returns[T]",
        inputs=("rewards", "log_probs", "alpha", "discount", "done", "bootstrap"),
        kinds=("array", "array", "float", "float", "array", "float"), outputs=("returns",),
        scale=scale_soft_returns, vectors="soft_returns.json", cases=returns_cases,
        summary="discounted soft returns: G_t = r_t - alpha log pi_t + gamma (1 - done_t) G_{t+1}, G_T = bootstrap",
        notes=("time on axis 0; the entropy bonus -alpha log pi is collected at every step, the first included",
               "done[t] = 1 cuts the sum after step t (s_{t+1} is terminal)",
               "bootstrap is the value after the last step (0 for a finished episode)"),
        properties=properties(("random", RANDOM + "; T = 1, 5, 10", drawn(returns_inputs, "moderate")),
                              ("temperature", "the temperature over its whole range, 0 and 1e-6 <= alpha <= 1e3",
                               drawn(returns_inputs, "wide0"))),
    ),
)
