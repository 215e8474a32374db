"""Arithmetic that means the same on numpy arrays and in compiled scalar code.

An update rule (:attr:`optimizers.base.Optimizer.rule`) or a surface formula
(:attr:`landscapes.base.Landscape.formula`) is written once, with ``+ - * /``,
``math``-free calls from this module and ``abs``. numpy runs it on whole
arrays; numba compiles it for one element at a time inside a generated loop
(:mod:`common.jit`). Where numpy's elementwise functions and numba's scalar
ones could disagree (which side wins at a tie of ±0 or a NaN, the sign of ±0)
the scalar forms below are written out to give numpy's bits, and the tests
compare both on zeros, infinities and NaNs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def sqrt(x: Any) -> Any:
    """Correctly rounded square root (``np.sqrt``; ``math.sqrt`` rounds the same)."""
    return np.sqrt(x)


def maximum(a: Any, b: Any) -> Any:
    """``np.maximum``: NaN from either side wins; at a tie (``-0.0`` vs ``0.0``) the second argument."""
    return np.maximum(a, b)


def minimum(a: Any, b: Any) -> Any:
    """``np.minimum``, with the same NaN and tie rules as :func:`maximum`."""
    return np.minimum(a, b)


def sign(x: Any) -> Any:
    """``np.sign``: ±1, ``0.0`` for either zero, NaN for NaN."""
    return np.sign(x)


def where(cond: Any, a: Any, b: Any) -> Any:
    """``np.where(cond, a, b)``; in scalar code ``a if cond else b``."""
    return np.where(cond, a, b)


def clip(x: Any, lo: Any, hi: Any) -> Any:
    """``np.clip(x, lo, hi)``: NaN stays NaN; in scalar code ``lo`` where ``x < lo``, then ``hi`` where above ``hi``."""
    return np.clip(x, lo, hi)


def lerp(a: Any, b: Any, w: Any) -> Any:
    """``torch.lerp(a, b, w)`` as torch computes it: ``a + w(b − a)`` for ``|w| < ½``, else ``b − (b − a)(1 − w)``."""
    return np.where(np.abs(w) < 0.5, a + w * (b - a), b - (b - a) * (1.0 - w))


def pow(x: Any, y: Any) -> Any:
    """``x ** y`` through the C library's ``pow`` one value at a time, as Python's ``**`` and compiled code call it
    (numpy's vectorized ``power`` may round differently)."""
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        xb, yb = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return np.fromiter(map(math.pow, xb.ravel().tolist(), yb.ravel().tolist()), np.float64, xb.size
                           ).reshape(xb.shape)
    return math.pow(x, y)


def exp(x: Any) -> Any:
    """``np.exp`` (the compiled form calls the C library's; see :func:`common.jit.available`)."""
    return np.exp(x)


def log(x: Any) -> Any:
    """``np.log``."""
    return np.log(x)


def cos(x: Any) -> Any:
    """``np.cos``."""
    return np.cos(x)


def sin(x: Any) -> Any:
    """``np.sin``."""
    return np.sin(x)


def register_scalar_forms() -> None:
    """Teach numba the scalar forms (called once, under :mod:`common.jit`'s lock)."""
    import math

    from numba.core import types
    from numba.extending import overload

    def numbers(*args: Any) -> bool:
        return all(isinstance(a, (types.Float, types.Integer, types.Boolean)) for a in args)

    # numba wants each typing function's parameters to match its implementation's, so one per arity.
    def scalar(fn: Any, impl: Any) -> None:
        arity = impl.__code__.co_argcount
        if arity == 1:
            @overload(fn)
            def _typed1(x: Any) -> Any:
                return impl if numbers(x) else None
        elif arity == 2:
            @overload(fn)
            def _typed2(a: Any, b: Any) -> Any:
                return impl if numbers(a, b) else None
        else:
            @overload(fn)
            def _typed3(cond: Any, a: Any, b: Any) -> Any:
                return impl if numbers(cond, a, b) else None

    # numba's own np.maximum on scalars is not documented to keep numpy's tie and NaN rules, so spell them out.
    def _sqrt(x: Any) -> Any:
        return math.sqrt(x)

    def _maximum(a: Any, b: Any) -> Any:
        return a if (a > b or a != a) else b

    def _minimum(a: Any, b: Any) -> Any:
        return a if (a < b or a != a) else b

    def _sign(x: Any) -> Any:
        if x > 0.0:
            return 1.0
        if x < 0.0:
            return -1.0
        return x * 0.0 + 0.0  # +0.0 for either zero, NaN for NaN

    def _where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    def _clip(x: Any, lo: Any, hi: Any) -> Any:
        low = lo if x < lo else x  # np.clip's order: the floor, then the ceiling (its signed zeros and NaN follow)
        return hi if low > hi else low

    def _lerp(a: Any, b: Any, w: Any) -> Any:
        return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1.0 - w)

    def _pow(a: Any, b: Any) -> Any:
        return math.pow(a, b)

    def _exp(x: Any) -> Any:
        return math.exp(x)

    def _log(x: Any) -> Any:
        return math.log(x)

    def _cos(x: Any) -> Any:
        return math.cos(x)

    def _sin(x: Any) -> Any:
        return math.sin(x)

    for fn, impl in ((sqrt, _sqrt), (maximum, _maximum), (minimum, _minimum), (sign, _sign), (where, _where),
                     (pow, _pow), (exp, _exp), (log, _log), (cos, _cos), (sin, _sin)):
        scalar(fn, impl)

    # Named like their implementations' parameters, which the three-argument form above is not.
    @overload(clip)
    def _typed_clip(x: Any, lo: Any, hi: Any) -> Any:
        return _clip if numbers(x, lo, hi) else None

    @overload(lerp)
    def _typed_lerp(a: Any, b: Any, w: Any) -> Any:
        return _lerp if numbers(a, b, w) else None
