"""The compiled loop behind :mod:`nets.fused`: mini-batch steps of k MLPs, one call per stretch of steps.

Imported only when the compiled path runs (it imports numba). Every kernel
does the operations of :func:`nets.fused.batch_value_and_grad` and of the
optimizer's ``direction`` in the same order, so the results are the numpy
path's bits; see :mod:`nets.fused` for the arithmetic both follow.

The optimizer's own direction kernel (``Optimizer.kernel``) is called from
inside the loop through a function pointer: a numba function that received
the dispatcher itself would be compiled anew in every process (its type is not
cacheable) and would pay ~0.1 ms per call to convert it. The pointer is
passed as two integers and rebuilt by :func:`_direction_fn`, so the loop is
compiled once, cached on disk, and shared by every optimizer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.experimental.function_type import _get_wrapper_address
from numba.extending import intrinsic

from common.jit import kernel
from nets.fused import ACT_CODES, LOSS_CODES, OUTPUT_CODES
from nets.mlp import LEAKY_SLOPE
from optimizers import stops

_A1 = types.Array(types.float64, 1, "C")
_A2 = types.Array(types.float64, 2, "C")
#: ``kernel(g, p, S, c, d)`` of :class:`optimizers.base.Optimizer`, on C-contiguous float64 arrays.
DIRECTION_SIG = types.void(_A1, _A1, _A2, _A1, _A1)
_DIRECTION_FT = types.FunctionType(DIRECTION_SIG)


@intrinsic
def _direction_fn(typingctx: Any, jit_addr: Any, c_addr: Any) -> Any:
    """A first-class function of :data:`DIRECTION_SIG` from its two addresses (numba's and the C wrapper's)."""

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        fn = cgutils.create_struct_proxy(_DIRECTION_FT)(context, builder)
        vp = context.get_value_type(types.voidptr)
        fn.jit_addr = builder.inttoptr(args[0], vp)
        fn.c_addr = builder.inttoptr(args[1], vp)
        fn.py_addr = vp(None)
        return fn._getvalue()

    return _DIRECTION_FT(types.int64, types.int64), codegen


def direction_addresses(dispatcher: Any) -> tuple[int, int]:
    """Addresses of ``dispatcher`` compiled for :data:`DIRECTION_SIG` (it stays alive with its dispatcher)."""
    dispatcher.compile(DIRECTION_SIG.args)
    cres = dispatcher.get_compile_result(DIRECTION_SIG)
    jit_addr = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
    return int(jit_addr), int(_get_wrapper_address(dispatcher, DIRECTION_SIG))


@kernel
def libm_exp_expm1(x: np.ndarray, e: np.ndarray, m: np.ndarray) -> None:
    """``exp`` and ``expm1`` of ``x`` as the kernels call them, for :func:`nets.fused._same_math`."""
    for i in range(x.shape[0]):
        e[i] = math.exp(x[i])
        m[i] = math.expm1(x[i])


@kernel
def _segment(theta: np.ndarray, new: np.ndarray, active: np.ndarray, G: np.ndarray, D: np.ndarray, S: np.ndarray,
             Xt: np.ndarray, Yt: np.ndarray, order: np.ndarray, first_step: int, t_lo: int, t_hi: int,
             record_last: int, batch: int, sizes: np.ndarray, offsets: np.ndarray, act: int, out_kind: int,
             loss: int, l2: float, mask: np.ndarray, coefs: np.ndarray, lrs: np.ndarray, decay: float,
             clip: float, explode: float, div_step: np.ndarray, escape: np.ndarray, jit_addr: int, c_addr: int,
             A: np.ndarray, aoff: np.ndarray, B0: np.ndarray, B1: np.ndarray, rows: np.ndarray) -> int:
    """Optimizer steps ``t_lo..t_hi`` (1-based) of the k networks ``theta`` ``(k, P)``.

    Step ``t`` uses the rows ``order[e, i·b : (i+1)·b]`` with ``(e, i)`` the epoch
    (counted from the one of ``first_step``) and position of 0-based step
    ``t − 1``. Each step: the mini-batch gradient of every network into ``G``,
    clipping by value (``clip > 0``), the optimizer's direction into ``D``, the
    update ``θ − lr·(D + λθ)`` into ``new``, then the runner's divergence rule
    for the active runs: a run with a parameter beyond ``explode`` (or NaN)
    stops; its step goes into ``div_step`` and the point it tried into
    ``escape``, and it keeps its parameters. With ``record_last`` the last step
    stops after the update and leaves ``new`` to the caller (a record step).
    Returns the last step taken: earlier than ``t_hi`` when every run stopped.
    """
    k, P = theta.shape
    n_train = order.shape[1]
    spe = (n_train + batch - 1) // batch
    L = sizes.shape[0] - 1
    f = sizes[0]
    direction = _direction_fn(jit_addr, c_addr)
    Gf, Pf, Df = G.reshape(-1), theta.reshape(-1), D.reshape(-1)
    for t in range(t_lo, t_hi + 1):
        s = t - 1
        e, i = s // spe - first_step // spe, s % spe
        lo = i * batch
        nb = min(lo + batch, n_train) - lo
        for n in range(nb):
            rows[n] = order[e, lo + n]
            for j in range(f + 1):
                A[n, j] = Xt[rows[n], j]
        inv_n = 1.0 / nb
        for r in range(k):
            th = theta[r]
            # Forward, one row at a time, units along the inner loop (so that it vectorizes):
            # z[o] = Σ_j W[j, o] a[j] over j in order; the bias is row n_in, against the constant 1.
            for n in range(nb):
                for layer in range(L):
                    n_in, n_out, off, ain, aout = sizes[layer], sizes[layer + 1], offsets[layer], aoff[layer], aoff[layer + 1]
                    a0 = A[n, ain]
                    for o in range(n_out):
                        A[n, aout + o] = th[off + o] * a0
                    for j in range(1, n_in + 1):
                        aj = A[n, ain + j]
                        base = off + j * n_out
                        for o in range(n_out):
                            A[n, aout + o] = A[n, aout + o] + th[base + o] * aj
                    if layer < L - 1:
                        for o in range(n_out):
                            A[n, aout + o] = _act(act, A[n, aout + o])
                        A[n, aout + n_out] = 1.0
            # Output: dL/dz of the mean loss over the batch, into B0 (b, n_out).
            zo, C = aoff[L], sizes[L]
            for n in range(nb):
                col = rows[n]
                if out_kind == 0:
                    p = 1.0 / (1.0 + math.exp(-A[n, zo]))
                    if loss == 0:
                        B0[n, 0] = (p - Yt[col, 0]) * inv_n
                    else:
                        B0[n, 0] = (((p * (1.0 - p)) * (p - Yt[col, 0])) * 2.0) * inv_n
                    continue
                m = A[n, zo]
                for c in range(1, C):
                    v = A[n, zo + c]
                    if v > m or v != v:
                        m = v
                tot = 0.0
                for c in range(C):
                    ec = math.exp(A[n, zo + c] - m)
                    B0[n, c] = ec
                    tot = ec if c == 0 else tot + ec
                if loss == 0:
                    for c in range(C):
                        B0[n, c] = (B0[n, c] / tot - Yt[col, c]) * inv_n
                else:
                    scale = 2.0 / C
                    inner = 0.0
                    for c in range(C):
                        ec = B0[n, c] / tot
                        gc = scale * (ec - Yt[col, c])
                        B1[n, c] = gc
                        B0[n, c] = ec
                        inner = ec * gc if c == 0 else inner + ec * gc
                    for c in range(C):
                        B0[n, c] = (B0[n, c] * (B1[n, c] - inner)) * inv_n
            # Backward: dL/d[W; b] = Σ_n [a; 1] δᵀ over n in order, then δ of the layer below.
            cur, nxt = B0, B1
            for layer in range(L - 1, -1, -1):
                n_in, n_out, off, ain = sizes[layer], sizes[layer + 1], offsets[layer], aoff[layer]
                for j in range(n_in + 1):
                    aj = A[0, ain + j]
                    base = off + j * n_out
                    for o in range(n_out):
                        G[r, base + o] = aj * cur[0, o]
                for n in range(1, nb):
                    for j in range(n_in + 1):
                        aj = A[n, ain + j]
                        base = off + j * n_out
                        for o in range(n_out):
                            G[r, base + o] = G[r, base + o] + aj * cur[n, o]
                if layer > 0:
                    for n in range(nb):
                        for q in range(n_in):
                            base = off + q * n_out
                            acc = th[base] * cur[n, 0]
                            for o in range(1, n_out):
                                acc = acc + th[base + o] * cur[n, o]
                            nxt[n, q] = acc * _act_grad(act, A[n, ain + q])
                    cur, nxt = nxt, cur
            if l2 != 0.0:
                for q in range(P):
                    G[r, q] = G[r, q] + (l2 * th[q]) * mask[q]
        if clip > 0.0:
            for q in range(Gf.shape[0]):
                g = Gf[q]
                if g > clip:
                    Gf[q] = clip
                elif g < -clip:
                    Gf[q] = -clip
        direction(Gf, Pf, S, coefs[t - t_lo], Df)
        lr = lrs[t - t_lo]
        for r in range(k):
            for q in range(P):
                th = theta[r, q]
                if decay != 0.0:
                    new[r, q] = th - lr * (D[r, q] + decay * th)
                else:
                    new[r, q] = th - lr * D[r, q]
        if record_last != 0 and t == t_hi:
            return t
        n_active = 0
        for r in range(k):
            if active[r] == 0:
                continue
            bad = False
            for q in range(P):
                if not stops.bounded(new[r, q], explode):
                    bad = True
                    break
            if bad:
                active[r] = 0
                div_step[r] = t
                for q in range(P):
                    escape[r, q] = new[r, q]
            else:
                n_active += 1
                for q in range(P):
                    theta[r, q] = new[r, q]
        if n_active == 0:
            return t
    return t_hi


@njit(cache=True, nogil=True, error_model="numpy")
def _act(code: int, z: float) -> float:
    """The hidden activation of :func:`nets.fused._activate`."""
    if code == 0:
        t = math.expm1(-2.0 * abs(z))
        return math.copysign(-t / (t + 2.0), z)
    if code == 1:
        return 1.0 / (1.0 + math.exp(-z))
    if code == 2:
        return 0.0 if z <= 0.0 else z
    return z * (1.0 if z > 0.0 else LEAKY_SLOPE)


@njit(cache=True, nogil=True, error_model="numpy")
def _act_grad(code: int, a: float) -> float:
    """``act'`` from the activation, as :func:`nets.fused._act_grad`."""
    if code == 0:
        return 1.0 - a * a
    if code == 1:
        return (1.0 - a) * a
    d = 1.0 if a > 0.0 else 0.0
    if code == 3:
        d = d * (1.0 - LEAKY_SLOPE) + LEAKY_SLOPE
    return d


class Runner:
    """The compiled loop's buffers and numbers for one training job.

    Parameters
    ----------
    problem : NetProblem
    base : Optimizer
        The algorithm (its ``kernel``, ``kernel_state`` and ``kernel_coefs``).
    k : int
        Networks.
    clip : float
        Clip-by-value threshold, 0 for none.
    decay : float
        Decoupled weight decay.
    """

    def __init__(self, problem: Any, base: Any, k: int, *, clip: float, decay: float) -> None:
        mlp = problem.mlp
        self.problem, self.base, self.k = problem, base, k
        self.clip, self.decay = float(clip), float(decay)
        self.sizes = np.asarray(mlp.sizes, dtype=np.int64)
        self.offsets = np.asarray([ls.weights.start for ls in mlp.layer_slices], dtype=np.int64)
        self.aoff = np.concatenate([[0], np.cumsum([s + 1 for s in mlp.sizes[:-1]])]).astype(np.int64)
        b = int(problem.batch_size)
        width = max(mlp.sizes)
        self.A = np.zeros((b, int(self.aoff[-1]) + mlp.sizes[-1]))  # (rows, units): units contiguous
        self.B0, self.B1 = np.zeros((b, width)), np.zeros((b, width))
        self.rows = np.zeros(b, dtype=np.int64)
        P = mlp.n_params
        self.G, self.D, self.new = np.zeros((k, P)), np.zeros((k, P)), np.zeros((k, P))
        self.S = np.ascontiguousarray(base.kernel_state(k * P), dtype=np.float64)
        self.div_step = np.full(k, -1, dtype=np.int64)
        self.escape = np.full((k, P), np.nan)
        self.codes = (ACT_CODES[mlp.activation], OUTPUT_CODES[mlp.output], LOSS_CODES[mlp.loss])
        self.l2, self.mask = float(mlp.l2), np.ascontiguousarray(mlp.weight_mask, dtype=np.float64)
        self.Xt = np.ascontiguousarray(problem._Xa_train.T, dtype=np.float64)  # (n_train, f + 1)
        self.Yt = np.ascontiguousarray(problem.Y_train.T, dtype=np.float64)  # (n_train, n_out)
        self.addresses = direction_addresses(type(base).kernel.compiled())
        self.segment = _segment.compiled()
        self.width = len(base.kernel_coefs(1))

    def run(self, theta: np.ndarray, active: np.ndarray, order: np.ndarray, first_step: int, t_lo: int, t_hi: int,
            *, lr_series: Any) -> tuple[np.ndarray, int, list[int]]:
        """Steps ``t_lo..t_hi``; the last is a record step whose update is returned, not judged.

        ``theta`` ``(k, P)`` and ``active`` ``(k,)`` bool are updated in place for
        the steps before ``t_hi``.

        Returns
        -------
        new : ndarray, shape (k, P)
            The update of step ``t_hi`` (a copy), or of the step where every run had stopped.
        last : int
            The last step taken.
        diverged : list of int
            Runs that diverged in these steps (their step in ``div_step``, their point in ``escape``).
        """
        ts = range(t_lo, t_hi + 1)
        coefs = self.base.kernel_coefs_series(ts).reshape(len(ts), self.width)
        lrs = lr_series(ts)
        before = self.div_step.copy()
        act8 = active.view(np.uint8)
        act, out_kind, loss = self.codes
        last = self.segment(
            theta, self.new, act8, self.G, self.D, self.S, self.Xt, self.Yt, np.ascontiguousarray(order),
            first_step, t_lo, t_hi, 1, int(self.problem.batch_size), self.sizes, self.offsets, act, out_kind, loss,
            self.l2, self.mask, coefs, lrs, self.decay, self.clip, 1e12, self.div_step, self.escape,
            *self.addresses, self.A, self.aoff, self.B0, self.B1, self.rows)
        diverged = np.flatnonzero(self.div_step != before).tolist()
        return self.new.copy(), int(last), diverged
