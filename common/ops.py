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

    def _exp(x: Any) -> Any:
        return math.exp(x)

    def _log(x: Any) -> Any:
        return math.log(x)

    def _cos(x: Any) -> Any:
        return math.cos(x)

    def _sin(x: Any) -> Any:
        return math.sin(x)

    for fn, impl in ((sqrt, _sqrt), (maximum, _maximum), (minimum, _minimum), (sign, _sign), (where, _where),
                     (exp, _exp), (log, _log), (cos, _cos), (sin, _sin)):
        scalar(fn, impl)
