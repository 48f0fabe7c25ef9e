"""Input checks shared by the equation functions.

Every function in [`softq_ref.core`][softq_ref.core] is pure and jit-able.  Inside ``jit`` its
arguments are tracers whose values are unknown, so the checks here run only when
a value is concrete (eager calls, or static configuration); under ``jit`` they are
skipped and the caller (the agent's config, the tabular ``TabularMDP``) is
responsible for having validated its hyperparameters once, up front.
"""

from __future__ import annotations

import numpy as np
import jax


def concrete_value(x) -> np.ndarray | None:
    """``x`` as a NumPy array when its value is known now, else ``None`` (a tracer)."""
    if isinstance(x, jax.core.Tracer):
        return None
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_temperature(alpha, name: str = "alpha") -> None:
    """Raise ``ValueError`` if a concrete temperature is negative or not finite."""
    value = concrete_value(alpha)
    if value is None:
        return
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if np.any(value < 0):
        raise ValueError(f"{name} must be >= 0 (the temperature of eq. (2)), got {value!r}")


def check_positive(x, name: str) -> None:
    """Raise ``ValueError`` if a concrete value is not finite and strictly positive."""
    value = concrete_value(x)
    if value is None:
        return
    if not np.all(np.isfinite(value)) or np.any(value <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")


def check_discount(discount, name: str = "discount") -> None:
    """Raise ``ValueError`` unless a concrete discount lies in [0, 1]."""
    value = concrete_value(discount)
    if value is None:
        return
    if not np.all(np.isfinite(value)) or np.any(value < 0) or np.any(value > 1):
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


def check_rank(x, rank: int, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` has exactly ``rank`` dimensions (shapes are always known)."""
    ndim = np.ndim(x)
    if ndim != rank:
        raise ValueError(f"{name} must have {rank} dimensions, got shape {np.shape(x)}")


def check_numeric(x, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` holds real numbers (bool, int or float), e.g. not a string."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(x).dtype
        except (TypeError, ValueError):
            dtype = np.dtype(object)
    if np.dtype(dtype).kind not in "biuf":
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__} {x!r:.40}")


def check_axis(x, axis: int, name: str) -> int:
    """Normalise ``axis`` for ``x`` and require a non-empty reduction axis."""
    check_numeric(x, name)
    ndim = np.ndim(x)
    if ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the action axis), got a scalar")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {name} with shape {np.shape(x)}")
    axis = axis % ndim
    if np.shape(x)[axis] == 0:
        raise ValueError(f"{name} has an empty action axis (shape {np.shape(x)}, axis {axis})")
    return axis
