"""Optional compiled kernels (numba), with numpy as the path that always works.

A *kernel* is a plain Python function written in the subset numba compiles:
loops over float64 arrays, ``math`` functions, no allocation. It is the
compiled twin of a numpy method, doing the same floating-point operations in
the same order, so the two agree to the last bit wherever they call the same
math functions (the tests compare every kernel with its numpy twin).

Decorating with :func:`kernel` costs nothing at import time. numba is imported,
and the function compiled or loaded from numba's on-disk cache, on the first
call of :meth:`Kernel.compiled`. Without numba, or with the environment
variable ``DESCENT_LAB_NO_JIT=1``, :func:`available` is False and callers take
their numpy path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.Lock()
_AVAILABLE: bool | None = None


def available() -> bool:
    """Whether compiled kernels can be used (numba imports and JIT is not switched off)."""
    global _AVAILABLE
    if _AVAILABLE is None:
        if os.environ.get("DESCENT_LAB_NO_JIT", "") not in ("", "0"):
            _AVAILABLE = False
        else:
            try:
                import numba  # noqa: F401
            except Exception:  # an import error, or a numba built against another numpy
                _AVAILABLE = False
            else:
                _AVAILABLE = True
    return _AVAILABLE


class Kernel:
    """A function that numba compiles on first use.

    Parameters
    ----------
    fn : callable
        Defined at module level in a source file, so numba can cache it on disk.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.py_func = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self._compiled: Callable[..., Any] | None = None

    def compiled(self) -> Callable[..., Any]:
        """The numba dispatcher (compiled or loaded from cache on the first call)."""
        if self._compiled is None:
            with _LOCK:
                if self._compiled is None:
                    import numba

                    _register_helpers()

                    # error_model="numpy": x/0 gives inf or NaN, as numpy does, instead of raising.
                    self._compiled = numba.njit(cache=True, nogil=True, error_model="numpy")(self.py_func)
        return self._compiled

    def __call__(self, *args: Any) -> Any:
        return self.compiled()(*args)

    def __repr__(self) -> str:
        return f"Kernel({self.py_func.__module__}.{self.py_func.__qualname__})"


def at(x: Any, i: int) -> Any:
    """``x[i]`` when ``x`` is an array of per-element values, ``x`` itself when it is one shared number.

    A kernel reads its coefficients through this, so one kernel serves both a
    batch with shared hyperparameters (numba compiles that case exactly as if
    the number were written alone) and a batch with one setting per run. (A
    gather ``values[codes[i]]`` was tried instead of per-element arrays: it stops
    LLVM from vectorizing the loop and made Adam's kernel 8× slower.)
    """
    return x[i] if hasattr(x, "__getitem__") else x


_HELPERS_REGISTERED = False


def _register_helpers() -> None:
    """Teach numba :func:`at`, choosing the form by the argument's type at compile time (called under the lock)."""
    global _HELPERS_REGISTERED
    if _HELPERS_REGISTERED:
        return
    from numba.core import types
    from numba.extending import overload

    # numba wants the implementations' parameters, annotations included, to match ``at``'s.
    def element(x: Any, i: int) -> Any:
        return x[i]

    def shared(x: Any, i: int) -> Any:
        return x

    @overload(at, inline="always")
    def _at(x: Any, i: int) -> Any:
        return element if isinstance(x, types.Array) else shared

    _HELPERS_REGISTERED = True


def kernel(fn: Callable[..., Any]) -> Kernel:
    """Mark ``fn`` as a compiled kernel (see the module docstring)."""
    return Kernel(fn)
