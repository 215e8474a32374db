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
import sys
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
                    compiled = numba.njit(cache=True, nogil=True, error_model="numpy")(self._function())
                    self._forget_stale(compiled)
                    self._compiled = compiled
        return self._compiled

    def _forget_stale(self, compiled: Any) -> None:
        """Drop numba's disk cache of this kernel when code it calls has changed since it was cached.

        numba checks only the kernel's own file; a kernel may also call :mod:`common.ops` or the
        stop rules (:data:`DEPENDENCIES`). A stamp per kernel in :func:`kernel_dir` holds the digest of
        those sources at the last compile; a different digest empties this kernel's cache index.
        """
        import hashlib

        fn = self.py_func
        # Per source file: two checkouts of the project keep separate numba caches, so separate stamps.
        where = hashlib.sha1(fn.__code__.co_filename.encode()).hexdigest()[:8]
        stamp = os.path.join(kernel_dir(), "stamps", f"{fn.__module__}.{fn.__qualname__}.{where}")
        digest = dependency_digest()
        try:
            with open(stamp, encoding="utf-8") as fh:
                if fh.read() == digest:
                    return
        except OSError:
            pass
        cache = getattr(compiled, "_cache", None)
        if cache is not None and hasattr(cache, "flush"):
            cache.flush()
        try:
            os.makedirs(os.path.dirname(stamp), exist_ok=True)
            with open(stamp, "w", encoding="utf-8") as fh:
                fh.write(digest)
        except OSError:  # a read-only cache folder: the kernel still compiles, it just cannot be kept
            pass

    def _function(self) -> Callable[..., Any]:
        """The Python function numba compiles (a derived kernel generates it here)."""
        return self.py_func

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

    from common import ops

    ops.register_scalar_forms()
    for fn in _SHARED:
        _register_shared(fn)

    # numba wants the implementations' parameters, annotations included, to match ``at``'s.
    def element(x: Any, i: int) -> Any:
        return x[i]

    def shared(x: Any, i: int) -> Any:
        return x

    @overload(at, inline="always")
    def _at(x: Any, i: int) -> Any:
        return element if isinstance(x, types.Array) else shared

    _HELPERS_REGISTERED = True


#: Plain functions that formulas call, compiled wherever a kernel calls them (see :func:`shared`).
_SHARED: list[Callable[..., Any]] = []


def shared(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a helper of a formula written once: numpy calls it as it is, compiled formulas call its compiled form.

    numba is not imported here; the helper is registered with it when the first kernel compiles.
    """
    with _LOCK:  # against a first compile registering the list on another thread at this moment
        _SHARED.append(fn)
        if _HELPERS_REGISTERED:
            _register_shared(fn)
    return fn


def _register_shared(fn: Callable[..., Any]) -> None:
    from numba.extending import register_jitable

    if not getattr(fn, "_numba_registered", False):
        # Compiled with the kernels' error model: x/0 gives inf or NaN, as numpy does (a branch not taken may divide).
        register_jitable(error_model="numpy", inline="always")(fn)
        fn._numba_registered = True  # type: ignore[attr-defined]


def kernel(fn: Callable[..., Any]) -> Kernel:
    """Mark ``fn`` as a compiled kernel (see the module docstring)."""
    return Kernel(fn)


class DerivedKernel(Kernel):
    """A kernel generated from a formula written once as scalar arithmetic (see :mod:`common.ops`).

    The formula runs on whole numpy arrays as it stands; for the compiled twin
    a loop that calls it one element at a time is written to a small module in
    :func:`kernel_dir` and compiled with numba's disk cache. The module's name
    carries a hash of the formula's source, so an edited formula never meets a
    stale cache.

    Parameters
    ----------
    fn : callable
        The formula, defined at module level.
    template : callable
        ``template(fn_module, fn_name) -> str``: the loop's source; it must define ``loop``.
    tag : str
        Distinguishes loops generated from one formula with different templates.
    """

    def __init__(self, fn: Callable[..., Any], template: Callable[[], str], tag: str) -> None:
        super().__init__(fn)
        self.template = template
        self.tag = tag

    def source(self) -> str:
        """The generated module's source."""
        fn = self.py_func
        return (f"# Generated by common.jit.DerivedKernel from {fn.__module__}.{fn.__qualname__}; do not edit.\n"
                f"import numba\n\nfrom common.jit import at  # noqa: F401\n"
                f"from {fn.__module__} import {fn.__name__} as _formula\n\n"
                "formula = numba.njit(inline=\"always\", nogil=True, error_model=\"numpy\")(_formula)\n\n\n"
                + self.template())

    def _function(self) -> Callable[..., Any]:
        import hashlib
        import importlib
        import inspect

        fn = self.py_func
        text = self.source()
        # The formula's whole module (its helpers too) and the code compiled formulas may call.
        module = inspect.getsource(inspect.getmodule(fn))  # type: ignore[arg-type]
        digest = hashlib.sha1((module + text + dependency_digest()).encode()).hexdigest()[:12]
        name = f"_dl_{fn.__module__.replace('.', '_')}_{fn.__name__}_{self.tag}_{digest}"
        path = os.path.join(kernel_dir(), name + ".py")
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)  # atomic: another process may be writing the same file
            importlib.invalidate_caches()  # the import system may have listed the folder before the file existed
        # Imported by name from a folder on sys.path: numba's disk cache finds the module again that way.
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.append(folder)
        return importlib.import_module(name).loop


#: Modules whose functions compiled code may call besides the kernel's own: their sources key every cache.
DEPENDENCIES = ("common.ops", "common.jit", "optimizers.stops", "optimizers.matrix_ops")
_DIGEST: str | None = None


def dependency_digest() -> str:
    """sha1 of the sources of :data:`DEPENDENCIES` (read once per process)."""
    global _DIGEST
    if _DIGEST is None:
        import hashlib
        import importlib.util

        h = hashlib.sha1()
        for name in DEPENDENCIES:
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.origin and os.path.exists(spec.origin):
                with open(spec.origin, "rb") as fh:
                    h.update(fh.read())
        _DIGEST = h.hexdigest()[:16]
    return _DIGEST


_KERNEL_DIR: str | None = None


def kernel_dir() -> str:
    """Where generated kernels and their stamps live: ``$DESCENT_LAB_KERNEL_DIR``, else a user cache folder.

    The folder is put on ``sys.path`` and imported from, so it must belong to this user and be writable
    by no one else; otherwise a private temporary folder (kept for this process only) is used.
    """
    global _KERNEL_DIR
    if _KERNEL_DIR is None:
        path = os.environ.get("DESCENT_LAB_KERNEL_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "descent-lab",
            "kernels")
        _KERNEL_DIR = path if _private_folder(path) else _temporary_folder()
    return _KERNEL_DIR


def _private_folder(path: str) -> bool:
    """Create ``path`` (mode 0o700) if needed; True when it is ours, not writable by others, and writable by us."""
    import stat

    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError:
        return False
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return mine and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and os.access(path, os.W_OK)


def _temporary_folder() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="descent-lab-kernels-")
