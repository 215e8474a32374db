"""The fused runner's step loop, compiled: a stretch of steps of one block of runs in one call.

Imported only when the compiled path runs (it imports numba). Per step,
:func:`_steps` calls the kernels of a step in order (clipping, the optimizer's
direction kernel, :func:`~optimizers.fused._advance`, the landscape's kernel,
:func:`~optimizers.fused._commit`), so the numbers and the status rules are
theirs: nothing here computes a step or judges a run. At 4,096 runs × 2
coordinates a step's work is a few tens of microseconds, about what a Python
loop spent driving it (with the per-run numbers made step by step), so the
loop itself is compiled.

The kernels are called through function pointers, as in
:mod:`nets.fused_kernels`: a numba function that received dispatchers would be
compiled anew in every process, and one that called them as globals would keep
a stale copy of them in its disk cache when their file changes. Each pointer's
type is read from the arguments at the call (:func:`_pointer`); :func:`addresses`
compiles each kernel for the same types on the Python side, from
:func:`direction_type` and :func:`lr_type`, which mirror how the loop builds
the step's numbers and learning rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from common.jit import Kernel, kernel

_ROW = types.Array(types.float64, 1, "C")


@intrinsic
def _pointer(typingctx: Any, address: Any, ret: Any, args: Any) -> Any:
    """The compiled function at ``address`` (numba's own entry point) as a function of ``args``' types.

    ``ret`` is a witness of the return type (``None`` for none, ``0`` for an int64)
    and ``args`` a tuple of the call's arguments; only their types are read.
    """
    rtype = types.none if isinstance(ret, types.NoneType) else types.unliteral(ret)
    fnty = types.FunctionType(rtype(*(types.unliteral(a) for a in args.types)))

    def codegen(context: Any, builder: Any, sig: Any, llargs: Any) -> Any:
        fn = cgutils.create_struct_proxy(fnty)(context, builder)
        vp = context.get_value_type(types.voidptr)
        fn.jit_addr = builder.inttoptr(llargs[0], vp)
        fn.c_addr = vp(None)
        fn.py_addr = vp(None)
        return fn._getvalue()

    return fnty(types.int64, ret, args), codegen


@njit(cache=True, nogil=True)
def _at_step(table: np.ndarray, s: int) -> Any:
    """Row ``s`` of a per-step table, or row 0 of a table with one row (the same at every step)."""
    return table[0] if table.shape[0] == 1 else table[s]


@njit(cache=True, nogil=True)
def _spread(table: np.ndarray, s: int, segments: np.ndarray, out: np.ndarray) -> np.ndarray:
    """A per-setting number at step ``s`` for each element: ``table[s, code]`` into ``out``, a setting at a time.

    ``segments`` ``(2, r + 1)``: element ``i`` has setting ``segments[1, q]`` for
    ``segments[0, q] <= i < segments[0, q + 1]``. The runs of a block are sorted by
    setting, so each setting fills one stretch per coordinate (a gather element by
    element took as long as Adam's direction). A table of one row is already one
    value per element and is returned as it is.
    """
    if table.shape[0] == 1:
        return table[0]
    row = table[s]
    for q in range(segments.shape[1] - 1):
        # A slice, not ``out[i]`` over ``range(start, end)``: numba cannot tell that i >= 0 there, and the
        # check for negative indices kept the fill from vectorizing (4.9 µs against 1 µs at 8,192 values).
        out[segments[0, q]:segments[0, q + 1]] = row[segments[1, q]]
    return out


def _numbers(coefs, s, segments, buf):  # type: ignore[no-untyped-def]
    """The direction kernel's ``c`` at step ``s`` (compiled only; see :func:`direction_type`).

    Unannotated, as its overload: numba wants the implementations' parameters to match, annotations included.
    """
    raise NotImplementedError("compiled only")


@overload(_numbers)
def _numbers_impl(coefs, s, segments, buf):  # type: ignore[no-untyped-def]  # as _numbers
    """A 2-D table gives its row (every number shared, ``c`` an array as in :data:`nets.fused_kernels.DIRECTION_SIG`);
    a tuple gives a tuple, each 1-D entry a float, each 2-D entry one value per element (:func:`_spread`)."""
    if isinstance(coefs, types.Array):
        return lambda coefs, s, segments, buf: coefs[s]
    parts = [f"_at_step(coefs[{j}], s)" if e.ndim == 1 else f"_spread(coefs[{j}], s, segments, buf[{j}])"
             for j, e in enumerate(coefs.types)]
    namespace = {"_at_step": _at_step, "_spread": _spread}
    exec(f"def impl(coefs, s, segments, buf):\n    return ({', '.join(parts)},)\n", namespace)  # a tuple of this arity, built from the types
    return namespace["impl"]


@kernel
def _steps(P: np.ndarray, Pn: np.ndarray, f: np.ndarray, fn: np.ndarray, G: np.ndarray, Gn: np.ndarray,
           Gc: np.ndarray, D: np.ndarray, S: np.ndarray, active: np.ndarray, attention: np.ndarray,
           status: np.ndarray, status_step: np.ndarray, escape: np.ndarray, bad_value: np.ndarray, coefs: Any,
           segments: np.ndarray, buf: np.ndarray, lrs: np.ndarray, t_base: int, t_lo: int, t_hi: int, n_active: int,
           sp: np.ndarray, decay: float, clip_threshold: float, explode: float, window: np.ndarray, has_window: int,
           grad_tol: float, g_thr: float, critical: np.ndarray, x_tol: float, near2: float, stop: int,
           fns: np.ndarray, h_row: int, h_steps: np.ndarray, rec_slot: np.ndarray, rec_p: np.ndarray,
           rec_f: np.ndarray, rec_g: np.ndarray, lo: int) -> tuple[int, int, int]:
    """Steps ``t_lo..t_hi`` of one block: the body of the fused runner's loop, for each step.

    Points, values and gradients swap between the two buffers of each pair after
    every step, as in the Python loop. ``coefs`` and ``lrs`` hold the numbers of
    steps ``t_base, t_base + 1, …`` (see :func:`direction_type`, :func:`lr_type`).
    ``fns`` holds the addresses of the clip (0 for none), direction, advance,
    landscape and commit kernels and of the surface's Hessian diagonal (0 for none), from :func:`addresses`.
    On the steps ``t`` with ``h_steps[t]`` set, the Hessian diagonal at the points the step starts from is
    written into the state row ``h_row`` before the direction (Sophia's input; ``h_row`` is -1 otherwise).

    After a step ``t`` with ``rec_slot[t] = r >= 0`` the block's points, values and gradient norms are written
    into record ``r`` of the run's ``(R, k, 2)`` ``rec_p`` and ``(R, k)`` ``rec_f``, ``rec_g``, at columns
    ``lo, lo + 1, …``: recording in the loop keeps it to one call per stretch of steps (a call per record cost
    the surfaces page more than its steps).

    Returns
    -------
    last : int
        The last step taken: before ``t_hi`` when every run had stopped.
    n_active : int
    swapped : int
        1 when the current points are in ``Pn``, ``fn``, ``Gn``.
    """
    swapped = 0
    for t in range(t_lo, t_hi + 1):
        if n_active == 0:
            return t - 1, n_active, swapped
        s = t - t_base
        g_used = G
        if fns[0] != 0:
            _pointer(fns[0], None, (G, clip_threshold, Gc))(G, clip_threshold, Gc)
            g_used = Gc
        c = _numbers(coefs, s, segments, buf)
        if h_row >= 0 and h_steps[t] != 0:
            H = S[h_row].reshape(P.shape)
            _pointer(fns[5], None, (P, sp, H))(P, sp, H)
        gf, pf, df = g_used.reshape(-1), P.reshape(-1), D.reshape(-1)
        _pointer(fns[1], None, (gf, pf, S, c, df))(gf, pf, S, c, df)
        lr = _at_step(lrs, s)
        _pointer(fns[2], None, (P, D, active, lr, decay, Pn))(P, D, active, lr, decay, Pn)
        _pointer(fns[3], None, (Pn, sp, fn, Gn))(Pn, sp, fn, Gn)
        n_active = _pointer(fns[4], 0, (P, Pn, f, fn, G, Gn, active, status, status_step, escape, bad_value, t,
                                        explode, window, has_window, grad_tol, g_thr, critical, x_tol, near2, stop,
                                        attention))(
            P, Pn, f, fn, G, Gn, active, status, status_step, escape, bad_value, t, explode, window, has_window,
            grad_tol, g_thr, critical, x_tol, near2, stop, attention)
        P, Pn = Pn, P
        f, fn = fn, f
        G, Gn = Gn, G
        swapped ^= 1
        r = rec_slot[t]
        if r >= 0:
            for i in range(P.shape[1]):
                rec_p[r, lo + i, 0] = P[0, i]
                rec_p[r, lo + i, 1] = P[1, i]
                rec_f[r, lo + i] = f[i]
                rec_g[r, lo + i] = np.sqrt(G[0, i] * G[0, i] + G[1, i] * G[1, i])
    return t_hi, n_active, swapped


def direction_type(per_element: tuple[bool, ...] | None) -> Any:
    """numba type of the ``c`` that :func:`_numbers` makes: an array when every number is shared (``None``), else
    a tuple, a float for each shared number and an array for each with ``per_element`` set.

    :func:`_numbers` reads a C-contiguous ``(T, m)`` table as rows, or a tuple of one table per
    number: ``(T,)`` for a shared number, ``(1, n)`` for one value per element, ``(T, u)`` for one
    value per setting (spread through ``segments``, see :func:`_spread`).
    """
    if per_element is None:
        return _ROW
    return types.BaseTuple.from_types([_ROW if e else types.float64 for e in per_element])


def lr_type(lrs: np.ndarray) -> Any:
    """numba type of the learning rate :func:`_at_step` reads from ``lrs``: ``(T,)`` a float, ``(T or 1, n)`` a row."""
    return types.float64 if lrs.ndim == 1 else _ROW


def addresses(*, vg: Kernel, direction: Kernel, advance: Kernel, commit: Kernel, clip: Kernel | None,
              vg_args: tuple, direction_args: tuple, advance_args: tuple, commit_args: tuple,
              clip_args: tuple, hessian: Kernel | None = None, hessian_args: tuple = ()) -> np.ndarray:
    """``fns`` for :func:`_steps`: each kernel compiled (or loaded) for the types of its arguments in the loop.

    Each ``*_args`` is a tuple of numba types, or of values whose ``typeof`` is the type.
    """
    from numba import typeof

    out = np.zeros(6, dtype=np.int64)
    wanted = ((clip, clip_args, types.none), (direction, direction_args, types.none),
              (advance, advance_args, types.none), (vg, vg_args, types.none), (commit, commit_args, types.int64),
              (hessian, hessian_args, types.none))
    for j, (kern, args, ret) in enumerate(wanted):
        if kern is None:
            continue
        sig = tuple(a if isinstance(a, types.Type) else typeof(a) for a in args)
        dispatcher = kern.compiled()
        dispatcher.compile(sig)
        cres = dispatcher.overloads[sig]
        # A pointer typed with another return type would read garbage: refuse rather than guess.
        if cres.signature.return_type != ret:
            raise TypeError(f"{kern!r} returns {cres.signature.return_type}, the loop expects {ret}")
        out[j] = int(cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name))
    return out


def steps() -> Any:
    """The compiled :func:`_steps` (compiled or loaded on first use)."""
    return _steps.compiled()
