"""Calling a third-party function: NumPy, PyTorch or JAX, in float64 or float32.

An adapter turns the checker's NumPy inputs into the candidate's array type, calls it,
and turns whatever comes back (an array, a tensor, a tuple of them, a Python float) into
NumPy float64.  Scalars (``alpha``, ``discount``, ``bandwidth``, ``low``, ``high``) are
passed as Python floats and ``action_dim`` as a Python int, whatever the adapter.

* ``numpy``: ``np.ndarray`` of the working dtype.  A gradient (eq. (14)) is taken by
  central differences with step 1, which is exact for the linear surrogate up to rounding.
* ``torch``: ``torch.Tensor`` on the CPU.  Gradients by ``torch.autograd.grad``.  PyTorch is
  optional and imported only when this adapter is asked for.
* ``jax``: ``jax.Array``, the call made inside ``jax.enable_x64(True)`` when the working
  dtype is float64.  Gradients by ``jax.grad``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

DTYPES = ("float64", "float32")


class Adapter:
    """Calls a candidate on NumPy inputs and returns NumPy float64 outputs."""

    name = "numpy"

    def __init__(self, dtype: str = "float64"):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        self.dtype = dtype

    # -- conversion ---------------------------------------------------------------------

    def to_native(self, x: np.ndarray):
        """A NumPy array as the candidate's array type (a copy: the candidate may mutate it)."""
        return np.array(x, dtype=self.dtype)

    def to_numpy(self, x) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    def _args(self, args: Sequence) -> list:
        return [self.to_native(a) if isinstance(a, np.ndarray) else a for a in args]

    def _outputs(self, out):
        if isinstance(out, (tuple, list)):
            return tuple(self.to_numpy(o) for o in out)
        return self.to_numpy(out)

    # -- calls --------------------------------------------------------------------------

    def call_raw(self, fn: Callable, args: Sequence):
        """``fn(*args)`` with arrays converted; the result as the candidate returned it."""
        return fn(*self._args(args))

    def call(self, fn: Callable, args: Sequence):
        """``fn(*args)`` with arrays converted; the result as NumPy float64 (a tuple stays a tuple)."""
        return self._outputs(self.call_raw(fn, args))

    def grad(self, fn: Callable, args: Sequence, argnum: int) -> np.ndarray:
        """The gradient of the scalar ``fn(*args)`` with respect to ``args[argnum]``."""
        args = list(args)
        x = np.asarray(args[argnum], dtype=np.float64)
        grad = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            values = []
            for step in (1.0, -1.0):
                moved = x.copy()
                moved[index] += step
                values.append(float(np.asarray(self.call(fn, [*args[:argnum], moved, *args[argnum + 1:]]))))
            grad[index] = (values[0] - values[1]) / 2.0
        return grad


class TorchAdapter(Adapter):
    """PyTorch tensors (CPU)."""

    name = "torch"

    def __init__(self, dtype: str = "float64"):
        super().__init__(dtype)
        try:
            import torch
        except ImportError as err:
            raise ImportError(
                "the torch adapter needs PyTorch, which is not installed: `pip install torch` "
                "(a CPU build is enough)"
            ) from err
        self.torch = torch
        self.torch_dtype = getattr(torch, dtype)

    def to_native(self, x: np.ndarray):
        return self.torch.tensor(np.asarray(x), dtype=self.torch_dtype)

    def to_numpy(self, x) -> np.ndarray:
        if isinstance(x, self.torch.Tensor):
            return x.detach().cpu().to(self.torch.float64).numpy()
        return np.asarray(x, dtype=np.float64)

    def grad(self, fn, args, argnum):
        native = self._args(args)
        native[argnum] = native[argnum].clone().requires_grad_(True)
        out = fn(*native)
        if not isinstance(out, self.torch.Tensor) or out.numel() != 1:
            raise ValueError("the gradient needs the function to return a one-element tensor")
        (grad,) = self.torch.autograd.grad(out.reshape(()), native[argnum], allow_unused=True)
        if grad is None:  # the result does not depend on this argument
            return np.zeros(np.shape(args[argnum]))
        return self.to_numpy(grad)


class JaxAdapter(Adapter):
    """JAX arrays; float64 through ``jax.enable_x64``."""

    name = "jax"

    def __init__(self, dtype: str = "float64"):
        super().__init__(dtype)
        import jax

        self.jax = jax

    def _x64(self):
        return self.jax.enable_x64(self.dtype == "float64")

    def to_native(self, x: np.ndarray):
        return self.jax.numpy.asarray(np.asarray(x, dtype=self.dtype))

    def call_raw(self, fn, args):
        with self._x64():
            return fn(*self._args(args))

    def call(self, fn, args):
        with self._x64():
            return self._outputs(self.call_raw(fn, args))

    def grad(self, fn, args, argnum):
        with self._x64():
            native = self._args(args)

            def scalar(x):
                return self.jax.numpy.reshape(fn(*native[:argnum], x, *native[argnum + 1:]), ())

            return self.to_numpy(self.jax.grad(scalar)(native[argnum]))


ADAPTERS = {"numpy": Adapter, "torch": TorchAdapter, "jax": JaxAdapter}


def get_adapter(name: str = "numpy", dtype: str = "float64") -> Adapter:
    """An adapter by name: ``numpy``, ``torch`` or ``jax``.

    Raises:
      ValueError: for an unknown name or dtype.
      ImportError: if the adapter's framework is not installed.
    """
    if name not in ADAPTERS:
        raise ValueError(f"unknown adapter {name!r}; one of {', '.join(ADAPTERS)}")
    return ADAPTERS[name](dtype)
