r"""What can be checked: one ``Target`` per reference function, with its expected signature.

A target is a function of softq_ref that a third-party implementation can be compared
with: its name, the spec entry it implements, the signature a candidate must have (the
argument order, the shapes, what it returns), a float64 reference computation, and the
*scale* that sets the comparison tolerance.  Every candidate output $y$ is compared with
the reference $y^\star$ element by element:

$$|y - y^\star| \le \mathrm{atol} + \mathrm{rtol} \cdot \max\big(|y^\star|, \mathrm{scale}\big)$$

where ``scale`` (an array of the output's shape, computed from the inputs by
``softq_ref.conformance.references``) is the size of the quantities the output is computed
from: rounding them by one unit of the working precision moves the output by about
``eps * scale``.  It makes the same ``rtol`` fair for
``soft_value`` at $|Q| = 10^6$ and at $|Q| = 1$.  Defaults: ``rtol = atol = 1e-10`` in
float64 and ``1e-4`` / ``1e-6`` in float32 (``1e-6`` / ``1e-9`` and ``1e-4`` / ``1e-6``
for the iterative tabular solvers).

Conventions shared by every signature: arrays are NumPy arrays (or tensors, through an
adapter) with one explicit leading batch axis ``B`` where the reference reduces over the
last axis; scalars (``alpha``, ``discount``, ``bandwidth``, ``low``, ``high``) are Python
floats; ``action_dim`` is a Python int; natural logarithms; the temperature is ``alpha``
(the original code's ``1 / reward_scale``).

The list of targets is fixed here; which *spec entries* are checkable is derived from the
spec registry (``checkable_entries``): a target belongs to the entry whose id is its
``spec_id`` and which lists its function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from softq_ref import spec as _spec
from softq_ref.conformance import references
from softq_ref.core import bellman, soft_values, svgd
from softq_ref.tabular import solvers as _solvers

#: Default tolerances ``(rtol, atol)`` by working precision.
DEFAULT_TOLERANCE = {"float64": (1e-10, 1e-10), "float32": (1e-4, 1e-6)}
#: The iterative solvers stop at a tolerance of their own choosing.
TABULAR_TOLERANCE = {"float64": (1e-6, 1e-9), "float32": (1e-4, 1e-6)}


@dataclass(frozen=True)
class Property:
    """One randomised (Hypothesis) property of a target.

    Attributes:
      name: short id shown in reports (``random``, ``temperature``, ``extreme``, ``degenerate``).
      description: one line on what the inputs exercise.
      strategy: a zero-argument function returning a Hypothesis strategy of input dicts
        (built lazily: Hypothesis is imported only when a check runs).
    """

    name: str
    description: str
    strategy: Callable[[], object]


@dataclass(frozen=True)
class Target:
    """A checkable reference function.

    Attributes:
      name: the function's name (``soft_value_is``); unique.
      spec_id: the spec entry it implements (``eq-10``), as declared here; the test
        ``tests/test_conformance_kit.py`` checks it against ``spec/equations``.
      reference: the softq_ref function (or, for a composition, the one whose spec
        entry it belongs to).
      signature: the call a candidate must accept, e.g.
        ``f(q[B, A], alpha) -> value[B]``.
      inputs: argument names, in call order.
      kinds: ``"array"``, ``"float"`` or ``"int"`` for each input.
      outputs: names of the returned values (a tuple is returned when there are several).
      compute: float64 reference: input dict -> output dict (NumPy arrays); in
        ``softq_ref.conformance.references``.
      scale: input dict and reference outputs -> scale arrays (the outputs' shapes).
      properties: the randomised properties.
      vectors: the golden-vector file under ``spec/vectors``.
      summary: one line.
      notes: conventions a candidate must share (shown by ``softq-ref conform --list``).
      gradient: ``(input, output)`` when the check also needs the gradient of the
        candidate's (scalar) result with respect to an input: taken by the adapter.
      tolerance: default ``(rtol, atol)`` by dtype.
    """

    name: str
    spec_id: str
    reference: Callable
    signature: str
    inputs: tuple[str, ...]
    kinds: tuple[str, ...]
    outputs: tuple[str, ...]
    compute: Callable[[dict], dict]
    scale: Callable[[dict, dict], dict]
    properties: tuple[Property, ...]
    vectors: str
    summary: str
    notes: tuple[str, ...] = ()
    gradient: tuple[str, str] | None = None
    tolerance: dict = field(default_factory=lambda: dict(DEFAULT_TOLERANCE))

    @property
    def call_outputs(self) -> tuple[str, ...]:
        """The outputs returned by the call itself (without a gradient the adapter takes)."""
        if self.gradient is None:
            return self.outputs
        return tuple(o for o in self.outputs if o != self.gradient[1])

    @property
    def label(self) -> str:
        """``spec_id:name``, the full id accepted by ``--equation``."""
        return f"{self.spec_id}:{self.name}"


# --------------------------------------------------------------------------- the registry


def _strategy(name: str, *args):
    """A lazy reference to ``softq_ref.conformance.strategies.<name>(*args)``."""

    def build():
        from softq_ref.conformance import strategies

        return getattr(strategies, name)(*args)

    return build


def _props(*items) -> tuple[Property, ...]:
    return tuple(Property(name, description, strategy) for name, description, strategy in items)


_RANDOM = "ordinary inputs: |values| <= 10, alpha in [0.05, 20]"
_TEMPERATURE = "the temperature over its whole range, 1e-6 <= alpha <= 1e3 (alpha = 1 is not enough)"
_EXTREME = "|Q| up to 1e6 with any alpha: exp(Q/alpha) overflows unless the maximum is factored out"

TARGETS: tuple[Target, ...] = (
    Target(
        name="soft_value", spec_id="eq-5", reference=soft_values.soft_value,
        signature="f(q[B, A], alpha) -> value[B]",
        inputs=("q", "alpha"), kinds=("array", "float"), outputs=("value",),
        compute=references.soft_value, scale=references.scale_soft_value, vectors="soft_value.json",
        summary="soft value over a discrete action axis: alpha log sum_a exp(Q/alpha)",
        notes=("reduce over the last axis",),
        properties=_props(("random", _RANDOM, _strategy("q_and_alpha", "moderate", 10.0)),
                          ("temperature", _TEMPERATURE, _strategy("q_and_alpha", "wide", 10.0)),
                          ("extreme", _EXTREME, _strategy("q_and_alpha", "wide", 1e6))),
    ),
    Target(
        name="boltzmann_policy", spec_id="eq-6", reference=soft_values.boltzmann_policy,
        signature="f(q[B, A], alpha) -> policy[B, A]",
        inputs=("q", "alpha"), kinds=("array", "float"), outputs=("policy",),
        compute=references.boltzmann_policy, scale=references.scale_boltzmann_policy,
        vectors="boltzmann_policy.json",
        summary="energy-based policy: softmax of Q/alpha over the last axis",
        properties=_props(("random", _RANDOM, _strategy("q_and_alpha", "moderate", 10.0)),
                          ("temperature", _TEMPERATURE, _strategy("q_and_alpha", "wide", 10.0)),
                          ("extreme", _EXTREME, _strategy("q_and_alpha", "wide", 1e6))),
    ),
    Target(
        name="log_boltzmann_policy", spec_id="eq-6", reference=soft_values.log_boltzmann_policy,
        signature="f(q[B, A], alpha) -> log_policy[B, A]",
        inputs=("q", "alpha"), kinds=("array", "float"), outputs=("log_policy",),
        compute=references.log_boltzmann_policy, scale=references.scale_log_boltzmann_policy,
        vectors="log_boltzmann_policy.json",
        summary="log of the energy-based policy: (Q - V)/alpha",
        properties=_props(("random", _RANDOM, _strategy("q_and_alpha", "moderate", 10.0)),
                          ("temperature", _TEMPERATURE, _strategy("q_and_alpha", "wide", 10.0)),
                          ("extreme", _EXTREME, _strategy("q_and_alpha", "wide", 1e6))),
    ),
    Target(
        name="entropy", spec_id="def-entropy", reference=soft_values.entropy,
        signature="f(probs[B, A]) -> entropy[B]",
        inputs=("probs",), kinds=("array",), outputs=("entropy",),
        compute=references.entropy, scale=references.scale_entropy, vectors="entropy.json",
        summary="Shannon entropy in nats over the last axis",
        notes=("0 log 0 = 0: a zero probability contributes nothing",),
        properties=_props(("random", "distributions with some exact zeros", _strategy("distributions", False)),
                          ("degenerate", "one action, one-hot rows, probabilities down to 1e-300",
                           _strategy("distributions", True))),
    ),
    Target(
        name="soft_value_is", spec_id="eq-10", reference=soft_values.soft_value_is,
        signature="f(q_samples[B, K], log_proposal[B, K], alpha) -> value[B]",
        inputs=("q_samples", "log_proposal", "alpha"), kinds=("array", "array", "float"), outputs=("value",),
        compute=references.soft_value_is, scale=references.scale_soft_value_is, vectors="soft_value_is.json",
        summary="importance-sampled soft value: alpha (log sum_k exp(Q_k/alpha - log q_k) - log K)",
        notes=("the -log K term is part of the estimator (a mean of importance weights)",
               "log_proposal is the proposal's log-density at each sample; -d log 2 for uniform on [-1, 1]^d",
               "alpha multiplies the whole log-sum-exp: the 2017 code's alpha = 1 is wrong for alpha != 1"),
        properties=_props(("random", _RANDOM, _strategy("importance_samples", "moderate", 10.0)),
                          ("temperature", _TEMPERATURE, _strategy("importance_samples", "wide", 10.0)),
                          ("extreme", _EXTREME, _strategy("importance_samples", "wide", 1e6))),
    ),
    Target(
        name="uniform_log_density", spec_id="eq-10", reference=soft_values.uniform_log_density,
        signature="f(action_dim: int, low: float, high: float) -> log_density (a float)",
        inputs=("action_dim", "low", "high"), kinds=("int", "float", "float"), outputs=("log_density",),
        compute=references.uniform_log_density, scale=references.scale_uniform_log_density,
        vectors="uniform_log_density.json",
        summary="log-density of the uniform proposal on [low, high]^d: -d log(high - low)",
        properties=_props(("random", "dimensions 1..64, boxes of width 1e-3..1e3", _strategy("uniform_boxes"))),
    ),
    Target(
        name="soft_bellman_target", spec_id="eq-11", reference=bellman.soft_bellman_target,
        signature="f(reward[B], discount, done[B], next_value[B]) -> target[B]",
        inputs=("reward", "discount", "done", "next_value"), kinds=("array", "float", "array", "array"),
        outputs=("target",), compute=references.soft_bellman_target, scale=references.scale_soft_bellman_target,
        vectors="soft_bellman_target.json",
        summary="soft Bellman target r + gamma (1 - done) V(s')",
        notes=("done is 1.0 for a terminal next state, 0.0 otherwise (given as floats)",),
        properties=_props(("random", "ordinary rewards and values, discount in [0, 1], done in {0, 1}",
                           _strategy("bellman_inputs", 10.0)),
                          ("extreme", "rewards and values up to 1e6", _strategy("bellman_inputs", 1e6))),
    ),
    Target(
        name="soft_q_loss", spec_id="eq-11", reference=bellman.soft_q_loss,
        signature="f(q_pred[B], target[B]) -> loss (a scalar)",
        inputs=("q_pred", "target"), kinds=("array", "array"), outputs=("loss",),
        compute=references.soft_q_loss, scale=references.scale_soft_q_loss, vectors="soft_q_loss.json",
        summary="soft Q-learning loss: 0.5 mean (target - Q)^2",
        notes=("the mean, not the sum, over the batch; the factor 1/2",),
        properties=_props(("random", "ordinary values", _strategy("loss_inputs", 10.0)),
                          ("extreme", "values up to 1e6", _strategy("loss_inputs", 1e6))),
    ),
    Target(
        name="soft_q_target", spec_id="eq-11", reference=bellman.soft_bellman_target,
        signature="f(reward[B], discount, done[B], next_q_samples[B, K], log_proposal[B, K], alpha) -> target[B]",
        inputs=("reward", "discount", "done", "next_q_samples", "log_proposal", "alpha"),
        kinds=("array", "float", "array", "array", "array", "float"), outputs=("target",),
        compute=references.soft_q_target, scale=references.scale_soft_q_target, vectors="soft_q_target.json",
        summary="the whole TD target: eq. (10) at the next state inside eq. (11)",
        notes=("for code that computes V(s') and the target in one function",
               "V(s') = alpha (logsumexp(Q/alpha - log q) - log K): alpha appears twice"),
        properties=_props(("random", _RANDOM, _strategy("td_inputs", "moderate")),
                          ("temperature", _TEMPERATURE, _strategy("td_inputs", "wide"))),
    ),
    Target(
        name="svgd_direction", spec_id="eq-13", reference=svgd.svgd_direction,
        signature="f(fixed[K, d], grad_q[K, d], updated[M, d], alpha, bandwidth) -> direction[M, d]",
        inputs=("fixed", "grad_q", "updated", "alpha", "bandwidth"),
        kinds=("array", "array", "array", "float", "float"), outputs=("direction",),
        compute=references.svgd_direction, scale=references.scale_svgd_direction, vectors="svgd_direction.json",
        summary="(1/K) sum_i [k(a_i, b_j) grad_q_i + alpha grad_{a_i} k(a_i, b_j)]",
        notes=("the mean over the K fixed particles",
               "the repulsion is alpha times the kernel's gradient in the fixed particle a_i"),
        properties=_props(("random", _RANDOM, _strategy("svgd_inputs", "moderate", False)),
                          ("temperature", "alpha in {0} and [1e-6, 1e3]", _strategy("svgd_inputs", "wide", False)),
                          ("degenerate", "one particle, coincident particles",
                           _strategy("svgd_inputs", "moderate", True))),
    ),
    Target(
        name="rbf_kernel", spec_id="eq-13", reference=svgd.rbf_kernel,
        signature="f(x[N, d], y[M, d], bandwidth) -> (k[N, M], grad_x[N, M, d])",
        inputs=("x", "y", "bandwidth"), kinds=("array", "array", "float"), outputs=("k", "grad_x"),
        compute=references.rbf_kernel, scale=references.scale_rbf_kernel, vectors="rbf_kernel.json",
        summary="k = exp(-|x - y|^2 / h) and its gradient in x: -2 (x - y) / h k",
        notes=("h divides the squared distance (no factor 2, no square root)",
               "the gradient is with respect to the first argument"),
        properties=_props(("random", "particles in [-3, 3]^d, bandwidth in [0.01, 10]",
                           _strategy("kernel_inputs", False)),
                          ("degenerate", "coincident particles, one particle, bandwidth 1e-3 or 1e3",
                           _strategy("kernel_inputs", True))),
    ),
    Target(
        name="median_bandwidth", spec_id="eq-13", reference=svgd.median_bandwidth,
        signature="f(x[N, d], y[M, d]) -> bandwidth (a scalar)",
        inputs=("x", "y"), kinds=("array", "array"), outputs=("bandwidth",),
        compute=references.median_bandwidth, scale=references.scale_median_bandwidth, vectors="median_bandwidth.json",
        summary="h = max(median_ij |x_i - y_j|^2 / log N, 1e-3); log 2 when N = 1",
        notes=("the lower median of the N M squared distances when N M is even (np.median averages: it differs)",
               "divide by log N, N the number of particles in x (the fixed set)"),
        properties=_props(("random", "1, 3 or 4 fixed and 2 or 5 updated particles in [-3, 3]^d",
                           _strategy("bandwidth_inputs", False)),
                          ("degenerate", "coincident particles (the 1e-3 floor), one fixed particle",
                           _strategy("bandwidth_inputs", True))),
    ),
    Target(
        name="svgd_surrogate", spec_id="eq-14", reference=svgd.svgd_surrogate,
        signature="f(updated_actions[M, d], direction[M, d]) -> value (a scalar); its gradient in updated_actions",
        inputs=("updated_actions", "direction"), kinds=("array", "array"), outputs=("value", "grad_updated_actions"),
        compute=references.svgd_surrogate, scale=references.scale_svgd_surrogate, vectors="svgd_surrogate.json",
        summary="-sum <stop_gradient(direction), actions>; its gradient in the actions is -direction",
        notes=("the gradient is taken by the adapter: autograd for torch and jax, central differences for numpy",),
        gradient=("updated_actions", "grad_updated_actions"),
        properties=_props(("random", "ordinary actions and directions", _strategy("surrogate_inputs"))),
    ),
    Target(
        name="tanh_log_det_jacobian", spec_id="def-tanh-squash", reference=svgd.tanh_log_det_jacobian,
        signature="f(actions[B, d]) -> log_det[B]",
        inputs=("actions",), kinds=("array",), outputs=("log_det",),
        compute=references.tanh_log_det_jacobian, scale=references.scale_tanh_log_det_jacobian,
        vectors="tanh_log_det_jacobian.json",
        summary="sum_l log(1 - a_l^2 + 1e-6) at squashed actions a",
        notes=("takes the squashed action a = tanh(u), not u; epsilon 1e-6 inside the log",),
        properties=_props(("random", "actions in [-1, 1]^d", _strategy("squashed_actions", False)),
                          ("extreme", "actions at and next to +-1", _strategy("squashed_actions", True))),
    ),
    Target(
        name="soft_q_iteration", spec_id="thm-3", reference=_solvers.soft_q_iteration,
        signature="f(transitions[S, A, S], rewards[S, A], discount, alpha) -> q_star[S, A]",
        inputs=("transitions", "rewards", "discount", "alpha"), kinds=("array", "array", "float", "float"),
        outputs=("q_star",), compute=references.soft_q_iteration, scale=references.scale_tabular("q_star"),
        vectors="tabular.json",
        summary="the optimal soft Q-function of a finite MDP (the fixed point of the soft Bellman backup)",
        notes=("transitions[s, a, s'] = p(s' | s, a); discount < 1",
               "scale = (max|r| + alpha log A) / (1 - discount): a solver stopped at sup-norm error 1e-6 scale passes"),
        tolerance=dict(TABULAR_TOLERANCE),
        properties=_props(("random", "MDPs with 1 or 3 states, 1..3 actions, sparse rows, alpha in [0.05, 20]",
                           _strategy("mdp_inputs", "moderate", False)),
                          ("temperature", _TEMPERATURE, _strategy("mdp_inputs", "wide", False))),
    ),
    Target(
        name="soft_policy_evaluation", spec_id="def-soft-policy-evaluation", reference=_solvers.soft_policy_evaluation,
        signature="f(transitions[S, A, S], rewards[S, A], discount, policy[S, A], alpha) -> q_pi[S, A]",
        inputs=("transitions", "rewards", "discount", "policy", "alpha"),
        kinds=("array", "array", "float", "array", "float"), outputs=("q_pi",),
        compute=references.soft_policy_evaluation, scale=references.scale_tabular("q_pi"), vectors="tabular.json",
        summary="the soft Q-function of a fixed policy",
        notes=("no entropy bonus at the first (s, a): it starts at the next state",
               "Q(s, a) = r + gamma E_s'[ sum_a' pi(a'|s') Q(s', a') + alpha H(pi(.|s')) ]"),
        tolerance=dict(TABULAR_TOLERANCE),
        properties=_props(("random", "MDPs and policies (some deterministic rows), alpha in [0.05, 20]",
                           _strategy("mdp_inputs", "moderate", True)),
                          ("temperature", _TEMPERATURE, _strategy("mdp_inputs", "wide", True))),
    ),
)

_BY_NAME = {t.name: t for t in TARGETS}


def target_names() -> list[str]:
    """The names of every target, in registry order."""
    return [t.name for t in TARGETS]


def get_target(equation: str) -> Target:
    """Resolve ``--equation``: a function name (``svgd_direction``), a full id
    (``eq-13:svgd_direction``) or a spec id (``eq-13``: its first target).

    Raises:
      ValueError: for an unknown id, listing the known ones.
    """
    if isinstance(equation, Target):
        return equation
    text = str(equation).strip()
    spec_id, _, name = text.partition(":")
    if name:
        target = _BY_NAME.get(name)
        if target is None or target.spec_id != spec_id:
            raise ValueError(f"unknown equation {text!r}; `softq-ref conform --list` shows the checkable ones")
        return target
    if text in _BY_NAME:
        return _BY_NAME[text]
    for target in TARGETS:
        if target.spec_id == text:
            return target
    for entry in _spec.load_entries():  # another entry that lists a checkable function (thm-2 -> soft_q_iteration)
        if entry.id == text:
            for function in _entry_functions(entry):
                for target in TARGETS:
                    if target.reference is function:
                        return target
    known = ", ".join(dict.fromkeys(t.spec_id for t in TARGETS))
    raise ValueError(f"unknown equation {text!r}; checkable: {known} (or a function name: {', '.join(target_names())})")


def targets_for(spec_id: str) -> list[Target]:
    """Every target of one spec entry, the default (``--equation spec_id``) first."""
    return [t for t in TARGETS if t.spec_id == spec_id]


def _entry_functions(entry) -> list:
    out = []
    for dotted in entry.functions:
        try:
            out.append(_spec.resolve(dotted))
        except (ImportError, AttributeError):
            continue
    return out


def checkable_entries() -> list[tuple[object, list[Target]]]:
    """The spec entries that can be checked, in the spec's order, each with its targets.

    Derived from ``softq_ref.spec.load_entries()``: a target belongs to the entry whose id
    is its ``spec_id``, provided that entry lists the target's reference function (a
    function may appear in several entries, e.g. ``soft_q_iteration`` in ``thm-2`` and
    ``thm-3``; its target belongs to one).  Targets that no entry claims are returned
    last with ``None`` as the entry; the test suite requires there to be none.
    """
    out, seen = [], set()
    for entry in _spec.load_entries():
        functions = _entry_functions(entry)
        matched = [t for t in TARGETS if t.spec_id == entry.id and t.reference in functions]
        if matched:
            out.append((entry, matched))
            seen.update(t.name for t in matched)
    rest = [t for t in TARGETS if t.name not in seen]
    if rest:
        out.append((None, rest))
    return out
