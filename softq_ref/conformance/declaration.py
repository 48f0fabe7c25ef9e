r"""How a conformance target is declared: ``Target``, ``Property`` and their helpers.

A target is a function of softq_ref that a third-party implementation can be compared
with: its name, the spec entry it implements, the signature a candidate must have (the
argument order, the shapes, what it returns), a float64 reference computation, the
*scale* that sets the comparison tolerance, the golden cases and the randomised
properties.  Each family module of ``softq_ref.conformance.families`` declares its
targets with everything they need; ``softq_ref.conformance.targets`` collects them.

Every candidate output $y$ is compared with the reference $y^\star$ element by element:

$$|y - y^\star| \le \mathrm{atol} + \mathrm{rtol} \cdot \max\big(|y^\star|, \mathrm{scale}\big)$$

where ``scale`` (an array of the output's shape, computed from the inputs) is the size of
the quantities the output is computed from: rounding them by one unit of the working
precision moves the output by about ``eps * scale``.  It makes the same ``rtol`` fair for
``soft_value`` at $|Q| = 10^6$ and at $|Q| = 1$.

The reference computation of most targets is *mechanical*: call the softq_ref function
with the inputs in the declared order (arrays as float64 JAX arrays, scalars as Python
numbers), in float64 and jitted, and name its outputs as declared.  ``Target`` derives it
from the declaration when ``compute`` is not given (``float64_reference``); a family
writes its own only for a composition or a polished solver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: Default tolerances ``(rtol, atol)`` by working precision.
DEFAULT_TOLERANCE = {"float64": (1e-10, 1e-10), "float32": (1e-4, 1e-6)}
#: The iterative solvers stop at a tolerance of their own choosing.
TABULAR_TOLERANCE = {"float64": (1e-6, 1e-9), "float32": (1e-4, 1e-6)}

#: Descriptions shared by the properties of several families.
RANDOM = "ordinary inputs: |values| <= 10, alpha in [0.05, 20]"
TEMPERATURE = "the temperature over its whole range, 1e-6 <= alpha <= 1e3 (alpha = 1 is not enough)"
EXTREME = "|Q| up to 1e6 with any alpha: exp(Q/alpha) overflows unless the maximum is factored out"

#: One golden case: ``(name, note, inputs)``.
Case = tuple[str, str, dict]


@dataclass(frozen=True)
class Property:
    """One randomised (Hypothesis) property of a target.

    Attributes:
      name: short id shown in reports (``random``, ``temperature``, ``extreme``, ``degenerate``).
      description: one line on what the inputs exercise.
      strategy: a zero-argument function returning a Hypothesis strategy of input dicts
        (built lazily: Hypothesis is imported only when a check runs; see ``drawn``).
    """

    name: str
    description: str
    strategy: Callable[[], object]


def drawn(draw_inputs: Callable, *args) -> Callable[[], object]:
    """A lazy strategy: ``hypothesis.strategies.composite(draw_inputs)(*args)``, built when a check runs."""

    def build():
        import hypothesis.strategies as st

        return st.composite(draw_inputs)(*args)

    build.__name__ = f"{draw_inputs.__name__}{args!r}"
    build.draw_inputs = draw_inputs  # where the inputs come from (tests check it is the target's family)
    return build


def properties(*items: tuple[str, str, Callable[[], object]]) -> tuple[Property, ...]:
    """``(name, description, strategy)`` triples as ``Property`` values."""
    return tuple(Property(name, description, strategy) for name, description, strategy in items)


def x64(fn: Callable[[dict], dict] | None = None, *, jit: bool = True):
    """Run a reference in float64 (jitted: one compilation per input shape) and hand back NumPy arrays."""
    if fn is None:
        return lambda f: x64(f, jit=jit)
    import jax

    inner = jax.jit(fn) if jit else fn

    def run(inputs: dict) -> dict:
        inputs = {k: np.asarray(v, np.float64) if isinstance(v, (np.ndarray, list)) else v for k, v in inputs.items()}
        with jax.enable_x64(True):
            out = inner(inputs)
            return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}

    for attribute in ("__name__", "__qualname__", "__module__", "__doc__"):
        setattr(run, attribute, getattr(fn, attribute))
    return run


def as_float64(x):
    """An input array as a float64 JAX array (inside ``x64``)."""
    import jax.numpy as jnp

    return jnp.asarray(x, dtype=jnp.float64)


def float64_reference(reference: Callable, inputs: tuple[str, ...], kinds: tuple[str, ...],
                      outputs: tuple[str, ...]) -> Callable[[dict], dict]:
    """The mechanical reference of a declaration: ``reference(*inputs)`` in float64, outputs named.

    Arrays become float64 JAX arrays, scalars stay Python numbers; a tuple result is
    matched to ``outputs`` in order.  Jitted unless an input is an ``int`` (a size, which
    the reference needs as a Python number).
    """

    def compute(i: dict) -> dict:
        args = [as_float64(i[name]) if kind == "array" else i[name] for name, kind in zip(inputs, kinds)]
        out = reference(*args)
        out = out if isinstance(out, tuple) else (out,)
        if len(out) != len(outputs):
            raise ValueError(f"{reference.__name__} returned {len(out)} values for the outputs {outputs}")
        return dict(zip(outputs, out))

    compute.__name__ = compute.__qualname__ = reference.__name__
    compute.__doc__ = f"``{reference.__module__}.{reference.__name__}`` in float64 (derived from its target)."
    return x64(compute, jit="int" not in kinds)


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
      scale: input dict and reference outputs -> scale arrays (the outputs' shapes).
      properties: the randomised properties.
      vectors: the golden-vector file under ``spec/vectors``.
      cases: the inputs of the golden vectors: ``() -> [(name, note, inputs)]``; targets
        sharing a file share their cases.
      summary: one line.
      notes: conventions a candidate must share (shown by ``softq-ref conform --list``).
      gradient: ``(input, output)`` when the check also needs the gradient of the
        candidate's (scalar) result with respect to an input: taken by the adapter.
      tolerance: default ``(rtol, atol)`` by dtype.
      compute: float64 reference: input dict -> output dict (NumPy arrays); derived from
        ``reference``, ``inputs``, ``kinds`` and ``outputs`` when not given.
      vector_extras: ``(inputs, outputs) -> (extra outputs, their scales)``: quantities the
        golden file records beside the outputs (V* and pi* of the tabular file), for
        implementations in other languages; no candidate is compared with them.
    """

    name: str
    spec_id: str
    reference: Callable
    signature: str
    inputs: tuple[str, ...]
    kinds: tuple[str, ...]
    outputs: tuple[str, ...]
    scale: Callable[[dict, dict], dict]
    properties: tuple[Property, ...]
    vectors: str
    cases: Callable[[], list[Case]]
    summary: str
    notes: tuple[str, ...] = ()
    gradient: tuple[str, str] | None = None
    tolerance: dict = field(default_factory=lambda: dict(DEFAULT_TOLERANCE))
    compute: Callable[[dict], dict] | None = None
    vector_extras: Callable[[dict, dict], tuple[dict, dict]] | None = None

    def __post_init__(self):
        if len(self.inputs) != len(self.kinds):
            raise ValueError(f"{self.name}: {len(self.inputs)} inputs but {len(self.kinds)} kinds")
        if self.compute is None:
            object.__setattr__(self, "compute", float64_reference(self.reference, self.inputs, self.kinds,
                                                                  self.outputs))

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


# --------------------------------------------------------------------------- scale helpers


def absolute(x) -> np.ndarray:
    """``|x|`` as float64."""
    return np.abs(np.asarray(x, dtype=np.float64))


def row_max(x) -> np.ndarray:
    """max |x| over the last axis, keeping it."""
    return np.max(absolute(x), axis=-1, keepdims=True)


def like(scale, out) -> np.ndarray:
    """``scale`` broadcast to the shape of ``out`` (a scale array per output element)."""
    return np.broadcast_to(np.asarray(scale, dtype=np.float64), np.shape(out)).copy()


# --------------------------------------------------------------------------- case helpers


def rng(seed: int) -> np.random.Generator:
    """A NumPy generator with a fixed seed: golden inputs never change unless their family does."""
    return np.random.default_rng(seed)


def normal(seed: int, shape, scale: float = 1.0) -> np.ndarray:
    """Standard normal draws of ``shape`` from generator ``seed``, times ``scale``."""
    return rng(seed).standard_normal(shape) * scale


def simplex(generator: np.random.Generator, shape, zeros: float = 0.0) -> np.ndarray:
    """Rows on the simplex along the last axis; each entry zero with probability ``zeros`` (one kept)."""
    w = generator.exponential(size=shape)
    if zeros:
        keep = generator.random(shape) >= zeros
        first = np.zeros(shape, dtype=bool)
        first[..., 0] = True
        w = np.where(keep | (first & ~keep.any(axis=-1, keepdims=True)), w, 0.0)
    return w / w.sum(axis=-1, keepdims=True)
