"""The runner's compiled backend: the same runs as the numpy loop, fused into a few kernels per step.

numpy spends a whole pass over memory on every operation of a step, about 24
passes for Adam on Rosenbrock. Here each step is four compiled loops
(:mod:`common.jit`): the optimizer's direction kernel, the update, the
landscape's value-and-gradient kernel, and the status checks. The loop over
steps is compiled too (:mod:`optimizers.fused_loop`): it calls those kernels,
so the rules below stay here, and returns to Python only at records. The runs
are split into contiguous blocks, one thread each; kernels release the GIL.

It is used by :func:`optimizers.run` when the problem and the optimizer both
have kernels (see :func:`unsupported`) and the job is big enough to pay for the
first compile. The results equal the numpy loop's: the kernels do the same
floating-point operations in the same order, and the status rules below are
those of :mod:`optimizers.runner`, one run at a time. ``tests/test_fused.py``
compares the two paths on every surface and optimizer that has kernels.

Layout: points are stored as ``(2, n)`` (the x row, then the y row), so each
kernel walks contiguous memory and numba can vectorize it.
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common import jit
from common.jit import at
from optimizers import stops
from optimizers.base import Optimizer, unique_rows

# Status codes inside the kernels.
RUNNING_C, CONVERGED_C, DIVERGED_C, LEFT_WINDOW_C = 0, 1, 2, 3
#: Runs × steps below which the numpy loop is used: small jobs (the app's few starts) finish in
#: milliseconds there, and need no compile on a fresh machine.
MIN_WORK = 100_000
#: Runs per thread below which another thread does not pay for itself.
MIN_BLOCK = 2048
#: Distinct per-run settings (or runs, for a per-run lr that changes with t) × steps of the tables made at once:
#: a longer run makes them a stretch of steps at a time.
MAX_TABLE = 4_000_000


#: The attributes that hold a formula written once, from which ``method`` and its kernel are both derived.
_SOURCE = {"direction": ("rule", "point_rule", "run_rule"), "value_and_grad": ("formula",)}


def _owns(obj: Any, method: str) -> bool:
    """True when the class that defines ``method`` (or the formula it is derived from) for ``obj`` also has ``kernel``."""
    sources = _SOURCE.get(method, (method,))
    for cls in type(obj).__mro__:
        if any(cls.__dict__.get(source) is not None for source in sources):
            return cls.__dict__.get("kernel") is not None
        if method in cls.__dict__:
            return cls.__dict__.get("kernel") is not None
    return False


def unsupported(problem: Any, optimizer: Optimizer, *, metrics: Any = None) -> str | None:
    """Why the fused backend cannot run this job, or ``None`` when it can.

    Parameters
    ----------
    problem : object
        Needs a ``kernel`` owned by the class defining ``value_and_grad`` (the landscapes).
    optimizer : Optimizer
        A plain optimizer or a :class:`~optimizers.transforms.Chain` without noise, whose
        algorithm owns a ``kernel``.
    metrics : callable, optional
        Per-record metrics run numpy code on every record; not fused.
    """
    from optimizers.transforms import Chain

    if not jit.available():
        return "numba is not available"
    if metrics is not None:
        return "per-record metrics are computed in numpy"
    if getattr(problem, "batch_value_and_grad", None) is not None:
        return "mini-batch gradients are computed in numpy"
    if not _owns(problem, "value_and_grad"):
        return f"{type(problem).__name__} has no compiled kernel"
    base = optimizer.base if isinstance(optimizer, Chain) else optimizer
    if isinstance(optimizer, Chain) and optimizer.noise is not None and optimizer.noise.sigma != 0:
        return "gradient noise is drawn by numpy's generator"
    if not _owns(base, "direction"):
        return f"{type(base).__name__} has no compiled kernel"
    for name in base.needs:
        if name not in type(base).input_slots:
            return f"{type(base).__name__} needs {name}, which the fused backend does not make"
        if name == "hessian_diag" and getattr(type(problem), "hessian_kernel", None) is None:
            return f"{type(problem).__name__} has no compiled Hessian (Sophia needs its diagonal)"
    return None


@dataclass
class Plan:
    """Everything the fused loop needs, prepared once per run.

    Attributes
    ----------
    coefs : ndarray, shape (T, m)
        The optimizer's numbers for each step (``(0, m)`` when ``codes`` is set).
    lrs : ndarray, shape (T,)
        ``optimizer.lr_at(t)`` (schedule included) when it is one number for every run, else empty.
    per_run : bool
        Some hyperparameter holds one value per run. The numbers then come from
        ``reduced``, the optimizer over the u distinct settings of the per-run
        hyperparameters other than lr, and ``codes`` ``(k,)`` says which setting each
        run has (``None`` when only lr varies: then ``coefs`` are the shared rows).
    window : ndarray, shape (4,)
        ``xlo, xhi, ylo, yhi`` of the grown window (unused when ``has_window`` is 0).
    critical : ndarray, shape (c, 2)
        Known critical points (possibly none).
    """

    problem: Any
    optimizer: Optimizer
    base: Optimizer
    sp: np.ndarray
    coefs: np.ndarray
    lrs: np.ndarray
    clip_mode: int  # 0 none, 1 norm, 2 value
    clip_threshold: float
    decay: float
    window: np.ndarray
    has_window: int
    critical: np.ndarray
    grad_tol: float
    g_thr: float
    x_tol: float
    near2: float
    explode: float
    stop: int
    per_run: bool = False
    reduced: Optimizer | None = None
    codes: np.ndarray | None = None
    #: With ``codes``, the runs sorted by setting (stable): blocks run in this order, so that each
    #: setting's runs sit together and spreading its numbers reads the tables in order.
    order: np.ndarray | None = None
    #: With ``codes``: which of the kernel's numbers hold one value per setting (the others are shared).
    per_element: tuple[bool, ...] | None = None
    #: The learning rate is one value per run; ``run_lrs`` ``(k,)`` holds them when they are the same at every
    #: step (no schedule), else ``lr_at(t)`` is asked for every step, a stretch at a time.
    lr_per_run: bool = False
    run_lrs: np.ndarray | None = None
    #: Steps per stretch of tables (:data:`MAX_TABLE`).
    chunk: int = 1
    #: With an optimizer that reads the Hessian diagonal (:attr:`~optimizers.base.Optimizer.input_slots`): the
    #: state row it is written into, and ``(steps + 1,)`` flags of the steps that take it (``needs_at``); else -1
    #: and an empty table, and the loop never asks.
    hessian_row: int = -1
    hessian_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))
    _tables: dict[tuple[int, int], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def tables(self, t_lo: int, t_hi: int) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """:func:`_coef_tables` of steps ``t_lo..t_hi``, made once for every block (the latest two stretches kept)."""
        with self._lock:
            if (t_lo, t_hi) not in self._tables:
                while len(self._tables) >= 2:
                    self._tables.pop(next(iter(self._tables)))
                self._tables[t_lo, t_hi] = _coef_tables(self.reduced, t_lo, t_hi)
            return self._tables[t_lo, t_hi]


def _lr_fixed(optimizer: Optimizer, base: Optimizer) -> bool:
    """Whether ``lr_at(t)`` is the lr hyperparameter itself at every step: no schedule, and ``lr_at`` not overridden
    (Adagrad's decays)."""
    from optimizers.transforms import Chain

    return type(base).lr_at is Optimizer.lr_at and (not isinstance(optimizer, Chain) or optimizer.schedule is None)


def plan(problem: Any, optimizer: Optimizer, steps: int, *, window: Any, critical: np.ndarray | None,
         grad_tol: float, x_tol: float, explode: float, stop_on_converge: bool) -> Plan:
    """Prepare the per-step numbers; see :class:`Plan`."""
    from optimizers.transforms import Chain

    chain = optimizer if isinstance(optimizer, Chain) else None
    base = chain.base if chain is not None else optimizer
    per_run = base.runs is not None
    reduced, codes = _distinct_settings(base) if per_run else (base, None)
    # Built once per run, Adam's bias corrections in one vectorized pass (kernel_coefs_series: the same numbers).
    coefs = np.zeros((0, 0)) if codes is not None or steps == 0 else np.ascontiguousarray(
        reduced.kernel_coefs_series(range(1, steps + 1)), dtype=np.float64).reshape(steps, -1)
    lr1 = optimizer.lr_at(1)
    lr_per_run = isinstance(lr1, np.ndarray)
    run_lrs = np.ascontiguousarray(lr1, dtype=np.float64).reshape(-1) if lr_per_run and _lr_fixed(optimizer, base) \
        else None
    width = max(reduced.runs if codes is not None else 0, base.runs if lr_per_run and run_lrs is None else 0)
    clip = chain.clip if chain is not None else None
    out = Plan(
        problem=problem, optimizer=optimizer, base=base, per_run=per_run, reduced=reduced, codes=codes,
        order=None if codes is None else np.argsort(codes, kind="stable"),
        sp=np.ascontiguousarray(problem.kernel_params(), dtype=np.float64),
        coefs=coefs,
        lrs=np.array([] if lr_per_run else [float(optimizer.lr_at(t)) for t in range(1, steps + 1)],
                     dtype=np.float64),
        lr_per_run=lr_per_run, run_lrs=run_lrs,
        chunk=max(1, steps if width == 0 else min(steps, MAX_TABLE // width)),
        clip_mode=0 if clip is None else (1 if clip.mode == "norm" else 2),
        clip_threshold=0.0 if clip is None else float(clip.threshold),
        decay=float(chain.decoupled_weight_decay) if chain is not None else 0.0,
        window=np.zeros(4) if window is None else np.array(
            [window[0][0], window[1][0], window[0][1], window[1][1]], dtype=np.float64),
        has_window=int(window is not None),
        critical=np.zeros((0, 2)) if critical is None else np.ascontiguousarray(critical, dtype=np.float64),
        grad_tol=float(grad_tol), g_thr=_slack_square(grad_tol), x_tol=float(x_tol), near2=_slack_square(x_tol),
        explode=float(explode), stop=int(stop_on_converge),
    )
    if codes is not None:
        out.per_element = tuple(tab is not None for tab in out.tables(1, out.chunk)[1])
    slot = type(base).input_slots.get("hessian_diag") if "hessian_diag" in base.needs else None
    if slot is not None:
        out.hessian_row = base.slots().index(slot)
        out.hessian_steps = np.array([0, *("hessian_diag" in base.needs_at(t) for t in range(1, steps + 1))],
                                     dtype=np.uint8)
    return out


def _coef_tables(reduced: Optimizer, t_lo: int, t_hi: int) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """The kernel's numbers for steps ``t_lo..t_hi`` (T of them) of ``reduced`` (u settings): ``shared (T, m)`` and
    per-setting tables.

    ``kernel_coefs`` is first asked once with ``t`` a ``(T, 1)`` column of steps (Adam's bias
    terms are then made in one pass); an optimizer whose numbers need a plain int is asked
    step by step. A per-setting number that does not change with t gets a ``(1, u)`` table.
    """
    u = reduced.runs
    steps = t_hi - t_lo + 1
    n_t = steps + 1 if steps == u else steps  # a (T, 1) column must not look like a (u, 1) one
    entries: list[Any]
    try:
        entries = list(reduced.kernel_coefs(np.arange(t_lo, t_lo + n_t, dtype=np.float64)[:, None]))
    except (TypeError, ValueError):
        rows = [reduced.kernel_coefs(t) for t in range(t_lo, t_hi + 1)]
        entries = []
        for j in range(len(rows[0]) if rows else 0):
            col = [r[j] for r in rows]
            if not isinstance(col[0], np.ndarray):
                entries.append(np.array([float(c) for c in col])[:, None])
            elif all(c is col[0] for c in col):
                entries.append(col[0])
            else:
                entries.append(np.stack([c.reshape(-1) for c in col]))
    shared = np.zeros((steps, len(entries)))
    tables: list[np.ndarray | None] = []
    for j, e in enumerate(entries):
        arr = np.asarray(e, dtype=np.float64)
        if arr.ndim == 0:
            shared[:, j] = arr
            tables.append(None)
        elif arr.shape == (u, 1):
            tables.append(np.ascontiguousarray(arr.reshape(1, u)))
        elif arr.shape[1] == 1:
            shared[:, j] = arr[:steps, 0]
            tables.append(None)
        else:
            tables.append(np.ascontiguousarray(arr[:steps]))
    return shared, tables


def _distinct_settings(base: Optimizer) -> tuple[Optimizer, np.ndarray | None]:
    """``base`` over the distinct settings of its per-run hyperparameters other than lr, and each run's code.

    The kernel's numbers do not involve lr (the update applies it), so an lr sweep
    needs only the shared rows, and a 64 × 64 (lr, β₁) grid only 64 settings' numbers.
    """
    # Rprop and ASGD read lr inside the direction (``direction_uses_lr``): their settings include it.
    names = [n for n in getattr(base, "_per_run_names", ()) if n != "lr" or getattr(base, "direction_uses_lr", False)]
    scalars = {n: v for n, v in base.hparams.items() if not isinstance(v, np.ndarray)}
    if not names:
        return type(base)(**scalars), None
    uniq, codes = unique_rows(np.column_stack([base.hparams[n][:, 0] for n in names]))
    arrays = {n: np.ascontiguousarray(uniq[:, j]) for j, n in enumerate(names)}
    return type(base)(**scalars, **arrays), codes.reshape(-1).astype(np.int64)


def _slack_square(tol: float) -> float:
    """``(tol·(1 + 10⁻⁶))²``: a squared norm at or above it surely has a norm ≥ ``tol``.

    ``-1`` when ``tol <= 0`` (nothing is below it); ``inf`` when the square under-
    or overflows, so that every run gets the exact test.
    """
    if tol <= 0:
        return -1.0
    r = tol * (1.0 + 1e-6)
    r2 = r * r  # float multiplication gives inf where ** would raise OverflowError
    return r2 if 0.0 < r2 < math.inf else math.inf


@dataclass
class Result:
    """The fused loop's output for all k runs, in the numpy runner's shapes."""

    params: np.ndarray  # (R, k, 2)
    values: np.ndarray  # (R, k)
    grad_norms: np.ndarray  # (R, k)
    status: np.ndarray  # (k,) int8 codes
    status_step: np.ndarray  # (k,) int64
    escape: np.ndarray  # (k, 2), NaN where the run did not diverge or leave
    bad_value: np.ndarray  # (k,) value at the step a run diverged
    #: With ``record_state``, per record: the optimizer's kernel state rows before (``S_prev``) and after
    #: (``S``) the step, ``(R, slots, 2, k)``, and the raw gradient ``G`` and point ``P0`` it started from,
    #: ``(R, 2, k)``; NaN for records the loop never reached.
    state: dict[str, np.ndarray] | None = None
    #: Seconds spent compiling or loading the kernels (once per process): not part of a run's time.
    compile_seconds: float = 0.0


def run_fused(p: Plan, starts: np.ndarray, steps: int, record_steps: list[int], *,
              record_state: bool = False) -> Result:
    """Run all ``starts`` ``(k, 2)``; blocks of runs go to threads. ``record_state`` fills :attr:`Result.state`.

    Raises
    ------
    ValueError
        When the objective is not finite at some start.
    """
    k = starts.shape[0]
    n_rec = len(record_steps)
    out = Result(
        params=np.empty((n_rec, k, 2)), values=np.empty((n_rec, k)), grad_norms=np.empty((n_rec, k)),
        status=np.zeros(k, dtype=np.int8), status_step=np.full(k, steps, dtype=np.int64),
        escape=np.full((k, 2), np.nan), bad_value=np.full(k, np.nan),
    )
    if record_state:
        slots = p.base.kernel_state(1).shape[0]
        out.state = {"S_prev": np.full((n_rec, slots, 2, k), np.nan), "S": np.full((n_rec, slots, 2, k), np.nan),
                     "G": np.full((n_rec, 2, k), np.nan), "P0": np.full((n_rec, 2, k), np.nan)}
    n_threads = max(1, min(os.cpu_count() or 1, k // MIN_BLOCK))
    edges = np.linspace(0, k, n_threads + 1).astype(int)
    blocks = [(int(a), int(b)) for a, b in itertools.pairwise(edges.tolist()) if b > a]
    t_compile = time.perf_counter()
    fns = _compile(p)
    compile_seconds = time.perf_counter() - t_compile
    if p.order is not None:
        starts = np.take(starts, p.order, axis=0)  # np.take: fancy indexing is several times slower here
    # The first block runs on the calling thread, the others on kept threads (none is started per run); a block
    # that no thread has begun when the caller is done (a busy machine) runs on the caller too.
    futures = [_pool().submit(_run_block, p, starts, steps, record_steps, out, a, b, fns) for a, b in blocks[1:]]
    try:
        _run_block(p, starts, steps, record_steps, out, *blocks[0], fns)
    except BaseException:
        for fut in futures:
            if not fut.cancel():
                fut.exception()  # wait: the block writes into ``out``
        raise
    for fut, (a, b) in zip(futures, blocks[1:], strict=True):
        if fut.cancel():
            _run_block(p, starts, steps, record_steps, out, a, b, fns)
        else:
            fut.result()
    if p.order is not None:
        back = np.empty_like(p.order)
        back[p.order] = np.arange(k)  # the inverse permutation, without a second sort
        out = Result(params=np.take(out.params, back, axis=1), values=np.take(out.values, back, axis=1),
                     grad_norms=np.take(out.grad_norms, back, axis=1), status=np.take(out.status, back),
                     status_step=np.take(out.status_step, back), escape=np.take(out.escape, back, axis=0),
                     bad_value=np.take(out.bad_value, back),
                     state=None if out.state is None else {key: np.take(a, back, axis=-1) for key, a in out.state.items()})
    out.compile_seconds = compile_seconds
    return out


_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """Threads for the blocks after the first, made once (``MIN_BLOCK`` keeps their number to the cores)."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max(1, (os.cpu_count() or 1) - 1), thread_name_prefix="fused"))
        return _POOL[0]


def _compile(p: Plan) -> np.ndarray:
    """Compile (or load) every kernel before threads start, so they never compile twice; the loop's addresses."""
    from optimizers import fused_loop

    for kern in (_finite_start, _commit, type(p.problem).kernel):
        kern.compiled()
    if p.hessian_row >= 0:
        type(p.problem).hessian_kernel.compiled()
    fused_loop.steps()
    return _addresses(p)


def _block_runs(p: Plan, lo: int, hi: int) -> Any:
    """Indices (into the caller's runs) of block ``lo:hi``: a slice, or the sorted order's part."""
    return slice(lo, hi) if p.order is None else p.order[lo:hi]


def _chunks(p: Plan, steps: int) -> list[tuple[int, int]]:
    """Stretches ``(t_lo, t_hi)`` of steps whose tables are made at once, each at most ``p.chunk`` steps."""
    return [(t, min(t + p.chunk - 1, steps)) for t in range(1, steps + 1, p.chunk)]


def _block_numbers(p: Plan, t_lo: int, t_hi: int, idx: Any, codes2: np.ndarray | None) -> tuple[Any, np.ndarray]:
    """The direction kernel's numbers and the learning rates of steps ``t_lo..t_hi`` for the runs ``idx`` of a block.

    In the forms :func:`optimizers.fused_loop.direction_type` and :func:`~optimizers.fused_loop.lr_type` read:
    numbers shared by every run are ``(T, m)`` rows, or a ``(T,)`` table each next to per-run ones; a per-setting
    hyperparameter is spread once to its ``(1, 2n)`` values per coordinate (x row, then y row, as ``codes2``),
    and a per-setting number that changes with t stays a ``(T, u)`` table, spread in the loop.
    """
    if codes2 is None:
        coefs: Any = p.coefs[t_lo - 1:t_hi]
    else:
        shared, tables = p.tables(t_lo, t_hi)
        coefs = tuple(np.ascontiguousarray(shared[:, j]) if tab is None
                      else np.take(tab[0], codes2)[None, :] if tab.shape[0] == 1 else tab
                      for j, tab in enumerate(tables))
    if not p.lr_per_run:
        lrs = p.lrs[t_lo - 1:t_hi]
    elif p.run_lrs is not None:
        lrs = (p.run_lrs[idx] if isinstance(idx, slice) else np.take(p.run_lrs, idx))[None, :]
    else:
        lrs = np.stack([np.asarray(p.optimizer.lr_at(t), dtype=np.float64).reshape(-1)[idx]  # (T, n)
                        for t in range(t_lo, t_hi + 1)])
    return coefs, lrs


def _segments(codes: np.ndarray) -> np.ndarray:
    """``(2, r + 1)``: where each stretch of equal ``codes`` starts (and, last, the end), and its code."""
    starts = np.concatenate(([0], np.flatnonzero(np.diff(codes)) + 1, [len(codes)])).astype(np.int64)
    return np.stack([starts, np.append(codes[starts[:-1]], 0)]).astype(np.int64)


#: The loop's kernel addresses by what decides their argument types (:func:`_addresses`).
_ADDRESSES: dict[tuple, np.ndarray] = {}


def _addresses(p: Plan) -> np.ndarray:
    """The kernels' addresses for :func:`optimizers.fused_loop._steps`, compiled for a block's argument types.

    Every array the loop passes is made here with a fixed dtype and layout, except the surface's numbers and the
    critical points (whose writability is part of their type), so the types, and the addresses, depend only on
    the key below.
    """
    hessian = type(p.problem).hessian_kernel if p.hessian_row >= 0 else None
    key = (type(p.problem).kernel, type(p.base).kernel, p.clip_mode, p.per_element, p.lr_per_run,
           p.sp.flags.writeable, p.critical.flags.writeable, hessian)
    if key in _ADDRESSES:
        return _ADDRESSES[key]
    from numba import types

    from optimizers import fused_loop

    two, one = np.empty((2, 1)), np.empty(1)
    flat = two.reshape(-1)
    S = np.ascontiguousarray(p.base.kernel_state(2), dtype=np.float64)
    u8, i8, i64 = np.zeros(1, dtype=np.uint8), np.zeros(1, dtype=np.int8), np.zeros(1, dtype=np.int64)
    lr = types.float64 if not p.lr_per_run else fused_loop.lr_type(np.empty((1, 1)))
    clip = None if p.clip_mode == 0 else (_clip_norm if p.clip_mode == 1 else _clip_value)
    _ADDRESSES[key] = fused_loop.addresses(
        vg=type(p.problem).kernel, direction=type(p.base).kernel, advance=_advance, commit=_commit, clip=clip,
        vg_args=(two, p.sp, one, two),
        direction_args=(flat, flat, S, fused_loop.direction_type(p.per_element), flat),
        advance_args=(two, two, u8, lr, p.decay, two),
        commit_args=(two, two, one, one, two, two, u8, i8, i64, two, one, types.int64, p.explode, p.window,
                     p.has_window, p.grad_tol, p.g_thr, p.critical, p.x_tol, p.near2, p.stop, u8),
        clip_args=(two, p.clip_threshold, two), hessian=hessian, hessian_args=(two, p.sp, two),
    )
    return _ADDRESSES[key]


def _run_block(p: Plan, starts: np.ndarray, steps: int, record_steps: list[int], out: Result, lo: int, hi: int,
               fns: np.ndarray) -> None:
    """Runs ``lo:hi`` of ``starts``, written into their slice of ``out``.

    The steps run in the compiled loop (:mod:`optimizers.fused_loop`), which writes the
    records itself: one call per chunk of steps, and per record when the optimizer's state
    is kept (that part of a record is written here). Points, values and gradients live in two buffers
    each, swapped after every step: a frozen run's point is carried over by
    :func:`_advance`, and a run that stops at this step gets its previous point
    back in :func:`_commit`, so nothing is copied for the runs that go on.
    """
    from optimizers import fused_loop

    n = hi - lo
    idx = _block_runs(p, lo, hi)
    vg = type(p.problem).kernel.compiled()
    commit, finite_start = _commit.compiled(), _finite_start.compiled()
    loop = fused_loop.steps()
    # (2, n): x row, y row. A copy: for one run the transpose is already contiguous, and the loop writes into P.
    P, Pn = np.array(starts[lo:hi].T, order="C"), np.empty((2, n))
    G, Gn = np.empty((2, n)), np.empty((2, n))
    f, fn = np.empty(n), np.empty(n)
    Gc = np.empty((2, n))
    D = np.empty((2, n))
    S = np.ascontiguousarray(p.base.kernel_init(starts[lo:hi]), dtype=np.float64)
    active = np.ones(n, dtype=np.uint8)
    attention = np.zeros(n, dtype=np.uint8)
    status = np.zeros(n, dtype=np.int8)
    status_step = out.status_step[lo:hi].copy()
    escape = np.full((2, n), np.nan)
    bad_value = np.full(n, np.nan)
    rec_at = {s: i for i, s in enumerate(record_steps)}
    rec_slot = np.full(steps + 1, -1, dtype=np.int64)
    rec_slot[record_steps] = np.arange(len(record_steps))
    kept = out.state
    # The loop records as it goes; with kept state it also returns at every record and just before one (the
    # state the step started from), which is written here.
    stops = sorted({*record_steps, *(s - 1 for s in record_steps if s > 0)}) if kept is not None else [steps]
    codes2 = None if p.codes is None else np.tile(np.take(p.codes, idx), 2)  # with codes, idx is p.order's part
    segments = np.zeros((2, 1), dtype=np.int64) if codes2 is None else _segments(codes2)
    buf = np.empty((0, 0)) if p.codes is None else np.empty((len(p.per_element), 2 * n))

    def record(i: int) -> None:
        out.params[i, lo:hi] = P.T
        out.values[i, lo:hi] = f
        np.sqrt(G[0] * G[0] + G[1] * G[1], out=out.grad_norms[i, lo:hi])

    vg(P, p.sp, f, G)
    if not finite_start(f, G):
        raise ValueError("the objective is not finite at the start point(s); pick another start")
    n_active = commit(P, P, f, f, G, G, active, status, status_step, escape, bad_value, 0, p.explode, p.window,
                      p.has_window, p.grad_tol, p.g_thr, p.critical, p.x_tol, p.near2, p.stop, attention)
    record(rec_at[0])
    done_t = 0
    for c_lo, c_hi in _chunks(p, steps):
        coefs, lrs = _block_numbers(p, c_lo, c_hi, idx, codes2)
        t = c_lo
        while t <= c_hi and n_active > 0:
            t_hi = min(stops[bisect.bisect_left(stops, t)] if stops[-1] >= t else c_hi, c_hi)
            r = rec_at.get(t, -1) if kept is not None else -1
            if r >= 0:
                kept["S_prev"][r, :, :, lo:hi] = S.reshape(-1, 2, n)
                kept["G"][r, :, lo:hi] = G
                kept["P0"][r, :, lo:hi] = P
            done_t, n_active, swapped = loop(
                P, Pn, f, fn, G, Gn, Gc, D, S, active, attention, status, status_step, escape, bad_value, coefs,
                segments, buf, lrs, c_lo, t, t_hi, n_active, p.sp, p.decay,
                p.clip_threshold, p.explode, p.window, p.has_window, p.grad_tol, p.g_thr, p.critical, p.x_tol,
                p.near2, p.stop, fns, p.hessian_row, p.hessian_steps, rec_slot, out.params, out.values,
                out.grad_norms, lo)
            if swapped:
                P, Pn, f, fn, G, Gn = Pn, P, fn, f, Gn, G
            if kept is not None and done_t == t_hi and t_hi in rec_at:
                kept["S"][rec_at[t_hi], :, :, lo:hi] = S.reshape(-1, 2, n)
            t = t_hi + 1
        if n_active == 0:
            break
    for s in record_steps:
        if s > done_t:
            record(rec_at[s])
    out.status[lo:hi] = status
    out.status_step[lo:hi] = status_step
    out.escape[lo:hi] = escape.T
    out.bad_value[lo:hi] = bad_value


# ----------------------------------------------------------------------------------------------------
# Kernels shared by every problem and optimizer
# ----------------------------------------------------------------------------------------------------
@jit.kernel
def _advance(P: np.ndarray, D: np.ndarray, active: np.ndarray, lr: float, decay: float, out: np.ndarray) -> None:
    """``out = P − lr·(D + λP)`` for active runs, as :meth:`Optimizer.step` and :class:`Chain` compute it;
    frozen runs keep ``P``. ``P``, ``D``, ``out`` are ``(2, n)``, ``active`` ``(n,)``, ``lr`` a float or ``(n,)``."""
    for j in range(P.shape[0]):
        if decay != 0.0:
            for i in range(P.shape[1]):
                q = P[j, i]
                moved = q - at(lr, i) * (D[j, i] + decay * q)
                out[j, i] = moved if active[i] != 0 else q
        else:
            for i in range(P.shape[1]):
                q = P[j, i]
                moved = q - at(lr, i) * D[j, i]
                out[j, i] = moved if active[i] != 0 else q


@jit.kernel
def _clip_value(G: np.ndarray, threshold: float, out: np.ndarray) -> None:
    """:meth:`Clip.apply` with ``mode="value"`` (``np.clip``: NaN stays NaN); ``(2, n)``."""
    for j in range(G.shape[0]):
        for i in range(G.shape[1]):
            g = G[j, i]
            if g > threshold:
                g = threshold
            elif g < -threshold:
                g = -threshold
            out[j, i] = g


@jit.kernel
def _clip_norm(G: np.ndarray, threshold: float, out: np.ndarray) -> None:
    """:meth:`Clip.apply` with ``mode="norm"``, per run, step for step; ``(2, n)``."""
    inf = math.inf
    for i in range(G.shape[1]):
        g0, g1 = G[0, i], G[1, i]
        a0, a1 = abs(g0), abs(g1)
        # np.max propagates NaN.
        big = a0 if (a0 >= a1 or a0 != a0) else a1
        if a1 != a1:
            big = a1
        safe = big if (big > 0.0 and -inf < big < inf) else 1.0
        u0, u1 = g0 / safe, g1 / safe
        norm = safe * math.sqrt(u0 * u0 + u1 * u1)
        scale = threshold / norm
        if scale > 1.0:
            scale = 1.0
        # np.minimum(1, NaN) is NaN, and a non-finite scale becomes 1.
        if not (-inf < scale < inf):
            scale = 1.0
        out[0, i] = g0 * scale
        out[1, i] = g1 * scale


@jit.kernel
def _finite_start(f: np.ndarray, G: np.ndarray) -> bool:
    """Whether every value and gradient at the starts is finite."""
    inf = math.inf
    for i in range(f.shape[0]):
        if not (-inf < f[i] < inf and -inf < G[0, i] < inf and -inf < G[1, i] < inf):
            return False
    return True


@jit.kernel
def _commit(P: np.ndarray, Pn: np.ndarray, f: np.ndarray, fn: np.ndarray, G: np.ndarray, Gn: np.ndarray,
            active: np.ndarray, status: np.ndarray, status_step: np.ndarray, escape: np.ndarray,
            bad_value: np.ndarray, t: int, explode: float, window: np.ndarray, has_window: int, grad_tol: float,
            g_thr: float, critical: np.ndarray, x_tol: float, near2: float, stop: int,
            attention: np.ndarray) -> int:
    """Judge step ``t`` of each active run; returns how many runs are still active.

    ``Pn``, ``fn``, ``Gn`` hold the new points, values and gradients; ``P``, ``f``,
    ``G`` the previous ones. The rules of ``optimizers.runner``, one run at a
    time: divergence (value or a coordinate beyond ``explode``, or anything
    non-finite) before leaving the window; a run stopped by either gets its
    previous point, value and gradient back. Then convergence on the accepted
    point: the gradient norm under ``grad_tol``, or within ``x_tol`` of a known
    critical point. At ``t = 0`` (the starts) only convergence is tested.

    A first pass without branches, so that it vectorizes, marks the runs that
    might stop or converge; ``g_thr`` and ``near2`` are squared thresholds with
    a little slack for rounding (``inf`` when the square is not representable,
    which marks every run). The exact rules then run on the marked runs only;
    ``attention`` ``(n,)`` is scratch.
    """
    inf = math.inf
    n = fn.shape[0]
    if has_window == 0 or t == 0:
        xlo, xhi, ylo, yhi = -inf, inf, -inf, inf
    else:
        xlo, xhi, ylo, yhi = window[0], window[1], window[2], window[3]
    lim = explode if t > 0 else inf
    n_attention = 0
    n_active = 0
    for i in range(n):
        x, y, v = Pn[0, i], Pn[1, i], fn[i]
        gn2 = Gn[0, i] * Gn[0, i] + Gn[1, i] * Gn[1, i]
        # ``x <= bound`` is False for NaN, so these catch inf and NaN too.
        fine = (stops.bounded(v, lim) & stops.finite_gradient(gn2) & stops.bounded(x, lim) & stops.bounded(y, lim)
                & stops.inside(x, xlo, xhi) & stops.inside(y, ylo, yhi) & ~(gn2 < g_thr))
        live = active[i] != 0
        flag = live & ~fine
        attention[i] = flag
        n_attention += flag
        n_active += live
    for c in range(critical.shape[0]):
        cx, cy = critical[c, 0], critical[c, 1]
        for i in range(n):
            dx = Pn[0, i] - cx
            dy = Pn[1, i] - cy
            flag = (active[i] != 0) & (attention[i] == 0) & (dx * dx + dy * dy < near2)
            attention[i] |= flag
            n_attention += flag
    if n_attention == 0:
        return n_active
    for i in range(n):
        if attention[i] == 0:
            continue
        x, y, v = Pn[0, i], Pn[1, i], fn[i]
        gn2 = Gn[0, i] * Gn[0, i] + Gn[1, i] * Gn[1, i]
        stopped = RUNNING_C
        if t > 0 and not (stops.bounded(v, explode) and stops.finite_gradient(gn2) and stops.bounded(x, explode)
                          and stops.bounded(y, explode)):
            stopped = DIVERGED_C
            bad_value[i] = v
        elif t > 0 and has_window and not (stops.inside(x, window[0], window[1])
                                           and stops.inside(y, window[2], window[3])):
            stopped = LEFT_WINDOW_C
        if stopped != RUNNING_C:
            status[i] = stopped
            status_step[i] = t
            escape[0, i], escape[1, i] = x, y
            active[i] = 0
            n_active -= 1
            Pn[0, i], Pn[1, i], fn[i] = P[0, i], P[1, i], f[i]
            Gn[0, i], Gn[1, i] = G[0, i], G[1, i]
            continue
        done = stops.small_gradient(math.sqrt(gn2), grad_tol)
        if not done and critical.shape[0] > 0:
            best = inf
            for c in range(critical.shape[0]):
                dx = x - critical[c, 0]
                dy = y - critical[c, 1]
                best = min(best, math.sqrt(dx * dx + dy * dy))
            done = stops.near_critical(best, x_tol)
        if done:
            if status[i] == RUNNING_C:
                status[i] = CONVERGED_C
                status_step[i] = t
            if stop:
                active[i] = 0
                n_active -= 1
    return n_active
