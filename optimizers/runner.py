"""Drive any problem with any optimizer, k runs at once, and record the paths.

A *problem* is anything with ``value_and_grad(params) -> (values (k,), grads (k, d))``:
a landscape, or a batch of networks. Optional attributes refine the run:

``bounds``
    ``((xmin, xmax), (ymin, ymax))``: a run that leaves this window (grown by
    ``window_margin`` of its size on each side) stops there.
``minima``
    Known critical points (objects with ``.point``): a run within ``x_tol`` of
    a minimum or saddle counts as converged.
``batch_value_and_grad(params, step)``
    The gradient used for the update at ``step`` (0-based), e.g. a mini-batch.
    When present the full objective is evaluated only at recorded steps.
``hessian(params)``
    ``(k, d, d)``: for optimizers that need the Hessian diagonal (Sophia), which
    is otherwise estimated from that gradient (:mod:`optimizers.curvature`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from common.spec import short_repr
from optimizers import curvature, fused, stops
from optimizers.base import Optimizer, as_params
from optimizers.layout import bind as bind_layout

RUNNING, CONVERGED, DIVERGED, LEFT_WINDOW, MAX_STEPS = "running", "converged", "diverged", "left window", "max steps"
#: Most steps one call to :func:`run` takes (the networks page allows up to 200,000: epochs × steps per epoch).
MAX_STEPS_CAP = 200_000
#: Most numbers one run records, records × k × (d + 2) (parameters, value, gradient norm): about 800 MB.
MAX_RECORDED_FLOATS = 100_000_000


class Problem(Protocol):
    """What the runner needs: a batched value and gradient."""

    def value_and_grad(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class Trajectory:
    """Recorded runs of one optimizer from k starts.

    Attributes
    ----------
    params : ndarray, shape (R, k, d)
        Parameters at each recorded step. After a run stops, its last good
        point repeats, so every entry is finite.
    values : ndarray, shape (R, k)
        Objective at those points (finite).
    grad_norms : ndarray, shape (R, k)
        Euclidean norm of the full gradient there.
    steps : ndarray of int, shape (R,)
        Which step each record is (0 = start).
    status : ndarray of str, shape (k,)
        ``converged``, ``diverged``, ``left window`` or ``max steps``.
    status_step : ndarray of int, shape (k,)
        Step at which the status happened (``steps`` for ``max steps``).
    reason : list of str, length k
        A sentence for people, e.g. ``"diverged at step 37 (value became inf)"``.
    extras : dict of str to ndarray
        Per-record metrics from ``metrics``; each of shape ``(R, k, ...)``.
        With ``record_state``, also ``"state.<field>"`` for each field of
        :meth:`Optimizer.xray` (``(R, k, d)`` or ``(R, k)``) and ``"state.step"``
        ``(R, k, d)``, the step just taken, ``p_t − p_{t−1}``.
    label : str
    wall_time : float
        Seconds spent in the run; on the fused backend without the once-per-process compiling or
        loading of its kernels (reported apart, as JAX's compile time is).
    escape : ndarray, shape (k, d), optional
        For a run that diverged or left the window, the point its last step
        tried to reach (possibly inf or NaN): where it was heading. NaN rows
        for the other runs. Figures draw it as an arrow.
    """

    params: np.ndarray
    values: np.ndarray
    grad_norms: np.ndarray
    steps: np.ndarray
    status: np.ndarray
    status_step: np.ndarray
    reason: list[str]
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    label: str = ""
    wall_time: float = 0.0
    escape: np.ndarray | None = None

    @property
    def k(self) -> int:
        """Number of runs."""
        return self.params.shape[1]

    @property
    def final_params(self) -> np.ndarray:
        """``(k, d)`` last good parameters."""
        return self.params[-1]

    @property
    def final_values(self) -> np.ndarray:
        """``(k,)`` last good values."""
        return self.values[-1]

    def last_record(self, run: int) -> int:
        """Index into the records of the last point that run ``run`` reached."""
        return int(np.searchsorted(self.steps, self.status_step[run], side="right") - 1)


def run(
    problem: Problem,
    optimizer: Optimizer,
    starts: np.ndarray,
    steps: int,
    *,
    record_every: int = 1,
    record_end_only: bool = False,
    grad_tol: float = 1e-8,
    x_tol: float = 1e-6,
    stop_on_converge: bool = True,
    explode: float = 1e12,
    window_margin: float = 0.25,
    metrics: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None,
    label: str = "",
    backend: str = "auto",
    record_state: bool = False,
) -> Trajectory:
    """Run ``optimizer`` on ``problem`` from each row of ``starts``.

    Parameters
    ----------
    problem : Problem
        Provides ``value_and_grad``; see the module docstring for extras.
    optimizer : Optimizer
    starts : array_like, shape (k, d)
    steps : int
        Number of updates, >= 0.
    record_every : int
        Record every n-th step (and always the first and last).
    record_end_only : bool
        Record only the start and the end.
    grad_tol, x_tol : float
        Convergence: gradient norm below ``grad_tol``, or within ``x_tol`` of
        a known critical point.
    stop_on_converge : bool
        Freeze runs once they converge.
    explode : float
        ``|value|`` or ``|param|`` above this counts as divergence.
    window_margin : float
        Fraction of the window size added on each side before a run is
        declared to have left it.
    metrics : callable, optional
        ``metrics(params (k, d)) -> {name: (k, ...)}`` at each record.
    label : str
    backend : {"auto", "numpy", "fused", "prefer_fused"}
        ``"numpy"``: the array loop here, for any problem. ``"fused"``: the
        compiled kernels of :mod:`optimizers.fused`, same results, for
        landscapes and optimizers that have kernels (``ValueError`` otherwise).
        ``"auto"``: fused when it can run and the job has at least
        ``fused.MIN_WORK`` runs × steps, else numpy. ``"prefer_fused"``: fused
        whenever it can run, however small the job (a server, where the
        kernels stay loaded once compiled: a page's few runs take 2 ms there
        against 16 ms in numpy), else numpy.
    record_state : bool
        Record the optimizer's X-ray at every recorded step (both backends):
        :meth:`Optimizer.xray` of the state step ``t`` returned, with that
        step's gradient and starting point, into ``extras["state.<field>"]``.
        At step 0 the state is :meth:`Optimizer.init`'s and derived fields are
        NaN; so is every field of a stopped run after the step it stopped at
        (it takes no more steps).

    Returns
    -------
    Trajectory
    """
    # bool is an int to Python, but steps=True is a mistake, not one step.
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) or not 0 <= steps <= MAX_STEPS_CAP:
        raise ValueError(f"steps must be a whole number in [0, {MAX_STEPS_CAP}], got {short_repr(steps)}")
    steps = int(steps)
    if isinstance(record_every, (bool, np.bool_)) or not isinstance(record_every, (int, np.integer)) or record_every < 1:
        raise ValueError(f"record_every must be a whole number >= 1, got {short_repr(record_every)}")
    p = as_params(starts).copy()
    if not np.isfinite(p).all():
        raise ValueError("start points must be finite numbers")
    k, d = p.shape
    # A problem that says which slices of θ are which matrices (a network) lets per-group optimizers bind to it.
    layout = getattr(problem, "layout", None)
    optimizer = bind_layout(optimizer, layout() if callable(layout) else None)
    n_recorded = (2 if record_end_only else steps // int(record_every) + 2) * k * (d + 2)
    if n_recorded > MAX_RECORDED_FLOATS:
        raise ValueError(
            f"recording {k} run(s) of {d} parameter(s) over {steps} steps would keep {n_recorded:,} numbers, more than "
            f"{MAX_RECORDED_FLOATS:,}; record less often (record_every), or use fewer runs or steps"
        )
    if getattr(optimizer, "runs", None) not in (None, k):
        raise ValueError(f"the optimizer has per-run hyperparameters for {optimizer.runs} runs but {k} starts were given")
    record_steps = _record_steps(steps, record_every, record_end_only)
    rec_index = {s: i for i, s in enumerate(record_steps)}
    # A list lookup per step is cheaper than hashing into the dict.
    rec_at = [-1] * (steps + 1)
    for i, s in enumerate(record_steps):
        rec_at[s] = i
    n_rec = len(record_steps)

    batch_fn = getattr(problem, "batch_value_and_grad", None)
    window = _window(getattr(problem, "bounds", None), window_margin, d)
    critical = _critical_points(getattr(problem, "minima", None), d)
    if backend not in ("auto", "numpy", "fused", "prefer_fused"):
        raise ValueError(f"backend must be 'auto', 'numpy', 'fused' or 'prefer_fused', got {backend!r}")
    # Small jobs on "auto" never ask: numba is not even imported for a script's few starts.
    if backend in ("fused", "prefer_fused") or (backend == "auto" and k * steps >= fused.MIN_WORK):
        why = "the fused backend runs 2-D problems only" if d != 2 else fused.unsupported(
            problem, optimizer, metrics=metrics)
        if why is not None and backend == "fused":
            raise ValueError(f"the fused backend cannot run this job: {why}")
        if why is None:
            return _run_fused(problem, optimizer, p, steps, record_steps, window, critical,
                              grad_tol=grad_tol, x_tol=x_tol, explode=explode,
                              stop_on_converge=stop_on_converge, label=label, record_state=record_state)
    near = None if critical is None else _NearCritical(critical, x_tol)
    quick = _QuickChecks(window, near, explode, grad_tol)

    out_p = np.empty((n_rec, k, d))
    out_v = np.empty((n_rec, k))
    out_g = np.empty((n_rec, k))
    out_x: dict[str, np.ndarray] = {}
    status = np.full(k, RUNNING, dtype=object)
    status_step = np.full(k, steps, dtype=np.int64)
    reason = [""] * k
    active = np.ones(k, dtype=bool)
    escape = np.full((k, d), np.nan)

    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        state = optimizer.init(p)
        v, g = problem.value_and_grad(p)
        bad = ~np.isfinite(v) | ~_rows_all(np.isfinite(g))
        if bad.any():
            raise ValueError("the objective is not finite at the start point(s); pick another start")
        gn2 = _sq_norms(g)
        _record(0, rec_index, out_p, out_v, out_g, out_x, p, v, np.sqrt(gn2), metrics)
        if record_state:
            _record_state(out_x, 0, n_rec, optimizer.xray(state, params=p), np.full((k, d), np.nan))
        _check_converged(0, p, np.sqrt(gn2), grad_tol, x_tol, near, active, status, status_step, reason, stop_on_converge)
        all_active = bool(active.all())
        last_v, last_gn2 = v, gn2
        step_fn, vg = optimizer.step, problem.value_and_grad
        needs = bool(getattr(optimizer, "needs", ()))
        done_t = 0
        for t in range(1, steps + 1):
            if not all_active and not active.any():
                break
            grad_for_step = g if batch_fn is None else batch_fn(p, t - 1)[1]
            prev_state, prev_p = state, p
            wanted = optimizer.needs_at(t) if needs else ()
            if wanted:
                inputs = curvature.provide(wanted, problem, _step_gradient(vg, batch_fn, t - 1), p, t, optimizer)
                new_p, state = step_fn(p, grad_for_step, state, **inputs)
            else:
                new_p, state = step_fn(p, grad_for_step, state)
            ri = rec_at[t]
            need_full = batch_fn is None or ri >= 0
            if need_full:
                v, g = vg(new_p)
                gn2 = _sq_norms(g)
            verdict = quick.classify(new_p, v if need_full else None, gn2 if need_full else None) if all_active else MAY_STOP
            if verdict != MAY_STOP:
                # Every run is still going and none stops here: no masking needed.
                p = new_p
                if need_full:
                    last_v, last_gn2 = v, gn2
                    if verdict == MAY_CONVERGE:
                        _check_converged(
                            t, p, np.sqrt(gn2), grad_tol, x_tol, near, active, status, status_step, reason, stop_on_converge
                        )
                        all_active = bool(active.all())
            else:
                p, v, g, gn2, last_v, last_gn2 = _masked_step(
                    t, p, new_p, v, g, gn2, last_v, last_gn2, need_full, active, status, status_step, reason,
                    explode, window, escape,
                )
                if need_full:
                    _check_converged(
                        t, p, np.sqrt(gn2), grad_tol, x_tol, near, active, status, status_step, reason, stop_on_converge
                    )
                all_active = bool(active.all())
            if ri >= 0:
                out_p[ri], out_v[ri] = p, last_v
                np.sqrt(last_gn2, out=out_g[ri])
                if metrics is not None:
                    _record(t, rec_index, out_p, out_v, out_g, out_x, p, last_v, out_g[ri], metrics)
                if record_state:
                    xray = optimizer.xray(state, prev=prev_state, grads=grad_for_step, params=prev_p)
                    _record_state(out_x, ri, n_rec, xray, p - prev_p)
            done_t = t
        # Records after an early stop of every run repeat the final state.
        last_gn = np.sqrt(last_gn2)
        for s in record_steps:
            if s > done_t:
                _record(s, rec_index, out_p, out_v, out_g, out_x, p, last_v, last_gn, metrics)
    for i in np.flatnonzero(status == RUNNING):
        status[i], status_step[i] = MAX_STEPS, steps
        reason[i] = f"reached the step limit ({steps}) without converging"
    if record_state:
        _blank_stopped(out_x, record_steps, status, status_step, stop_on_converge)
    return Trajectory(
        params=out_p,
        values=out_v,
        grad_norms=out_g,
        steps=np.asarray(record_steps, dtype=np.int64),
        status=status.astype(str),
        status_step=status_step,
        reason=reason,
        extras=out_x,
        label=label,
        wall_time=time.perf_counter() - t0,
        escape=escape,
    )


def _run_fused(problem: Problem, optimizer: Optimizer, starts: np.ndarray, steps: int, record_steps: list[int],
               window: Any, critical: np.ndarray | None, *, grad_tol: float, x_tol: float, explode: float,
               stop_on_converge: bool, label: str, record_state: bool = False) -> Trajectory:
    """:func:`run` through :mod:`optimizers.fused`; statuses and reasons worded as the numpy loop words them."""
    t0 = time.perf_counter()
    plan = fused.plan(problem, optimizer, steps, window=window, critical=critical, grad_tol=grad_tol,
                      x_tol=x_tol, explode=explode, stop_on_converge=stop_on_converge)
    with np.errstate(all="ignore"):
        res = fused.run_fused(plan, starts, steps, record_steps, record_state=record_state)
    # A str array, not objects: turning thousands of objects into str cost more than the rest of this wrapper.
    names = np.empty(4, dtype=np.array([MAX_STEPS, CONVERGED, DIVERGED, LEFT_WINDOW]).dtype)
    names[[fused.RUNNING_C, fused.CONVERGED_C, fused.DIVERGED_C, fused.LEFT_WINDOW_C]] = [
        MAX_STEPS, CONVERGED, DIVERGED, LEFT_WINDOW]
    status = names[res.status]
    # Most runs of a big batch share one sentence; only the others are worded one by one.
    reason = [f"reached the step limit ({steps}) without converging"] * len(status)
    steps_at = res.status_step.tolist()
    for i in np.flatnonzero(res.status != fused.RUNNING_C).tolist():
        code, t = int(res.status[i]), steps_at[i]
        if code == fused.CONVERGED_C:
            reason[i] = f"converged at step {t}"
        elif code == fused.DIVERGED_C:
            reason[i] = f"diverged at step {t} ({_why(res.escape[i], float(res.bad_value[i]), explode)})"
        else:
            reason[i] = f"left the window at step {t}"
    extras: dict[str, np.ndarray] = {}
    if record_state:
        _state_from_fused(extras, optimizer, starts, record_steps, res)
        _blank_stopped(extras, record_steps, status, res.status_step, stop_on_converge)
    return Trajectory(
        params=res.params, values=res.values, grad_norms=res.grad_norms,
        steps=np.asarray(record_steps, dtype=np.int64), status=status.astype(str), status_step=res.status_step,
        reason=reason, extras=extras, label=label, wall_time=time.perf_counter() - t0 - res.compile_seconds, escape=res.escape,
    )


def _step_gradient(vg: Callable, batch_fn: Callable | None, step: int) -> Callable[[np.ndarray], np.ndarray]:
    """``theta -> gradient``: the one the update at 0-based ``step`` uses (its mini-batch, if any)."""
    if batch_fn is None:
        return lambda theta: vg(theta)[1]
    return lambda theta: batch_fn(theta, step)[1]


def _record_state(out_x: dict[str, np.ndarray], ri: int, n_rec: int, xray: dict[str, np.ndarray],
                  step: np.ndarray) -> None:
    """Store one record of the X-ray (and the step taken) as ``extras["state.<name>"]`` ``(R, k, ...)``."""
    for name, arr in (*xray.items(), ("step", step)):
        key = f"state.{name}"
        if key not in out_x:
            out_x[key] = np.full((n_rec, *arr.shape), np.nan)
        out_x[key][ri] = arr


def _state_from_fused(out_x: dict[str, np.ndarray], optimizer: Optimizer, starts: np.ndarray, record_steps: list[int],
                      res: fused.Result) -> None:
    """The X-ray records from the kernel state rows the fused loop kept, through the same :meth:`Optimizer.xray`."""
    n_rec = len(record_steps)
    raw = res.state
    with np.errstate(all="ignore"):
        for r, t in enumerate(record_steps):
            if t == 0:
                _record_state(out_x, r, n_rec, optimizer.xray(optimizer.init(starts), params=starts),
                              np.full(starts.shape, np.nan))
                continue
            before = raw["P0"][r].T
            xray = optimizer.xray(
                optimizer.state_from_kernel(raw["S"][r], t), prev=optimizer.state_from_kernel(raw["S_prev"][r], t - 1),
                grads=raw["G"][r].T, params=before,
            )
            _record_state(out_x, r, n_rec, xray, res.params[r] - before)


def _blank_stopped(out_x: dict[str, np.ndarray], record_steps: list[int], status: np.ndarray,
                   status_step: np.ndarray, stop_on_converge: bool) -> None:
    """NaN in the state records of each frozen run after the step it stopped at: it takes no more steps."""
    frozen = (status == DIVERGED) | (status == LEFT_WINDOW) | ((status == CONVERGED) & stop_on_converge)
    after = np.asarray(record_steps)[:, None] > np.asarray(status_step)[None, :]  # (R, k)
    mask = after & frozen[None, :]
    if not mask.any():
        return
    for key, arr in out_x.items():
        if key.startswith("state."):
            arr[mask] = np.nan


def _masked_step(t, p, new_p, v, g, gn2, last_v, last_gn2, need_full, active, status, status_step, reason, explode, window,
                 escape):
    """Stop runs that diverged or left the window at step ``t``; freeze stopped runs.

    The general path, taken once some run has stopped or when a quick check
    says one might stop now. Returns ``p, v, g, gn2, last_v, last_gn2``.
    """
    if need_full:
        # ``x <= bound`` is False for NaN and inf, so one comparison covers both.
        bad_v = ~stops.bounded(v, explode) | ~stops.finite_gradient(gn2)
    else:
        bad_v = np.zeros(p.shape[0], dtype=bool)
    bad_p = ~_rows_all(stops.bounded(new_p, explode))
    newly_bad = active & (bad_p | bad_v)
    if newly_bad.any():
        for i in np.flatnonzero(newly_bad):
            status[i], status_step[i] = DIVERGED, t
            reason[i] = f"diverged at step {t} ({_why(new_p[i], v[i] if need_full else None, explode)})"
            escape[i] = new_p[i]
        active &= ~newly_bad
    if window is not None:
        lo, hi = window
        outside = active & ~_rows_all(stops.inside(new_p, lo, hi))
        if outside.any():
            for i in np.flatnonzero(outside):
                status[i], status_step[i] = LEFT_WINDOW, t
                reason[i] = f"left the window at step {t}"
                escape[i] = new_p[i]
            active &= ~outside
    # Frozen runs keep their last good point, value and gradient.
    p = np.where(active[:, None], new_p, p)
    if need_full:
        v = np.where(active, v, last_v)
        gn2 = np.where(active, gn2, last_gn2)
        g = np.where(active[:, None], g, 0.0)
        last_v, last_gn2 = v, gn2
    return p, v, g, gn2, last_v, last_gn2


CLEAN, MAY_CONVERGE, MAY_STOP = 0, 1, 2


class _QuickChecks:
    """Whole-array tests that prove no run stops at a step, in a few reductions.

    They are necessary conditions only: when one fails the runner takes the
    exact per-run path, so statuses are the same as checking every run.
    Tiny batches (the app's few starts) are checked on Python floats, which
    costs less than one numpy call per test.
    """

    def __init__(self, window, near: _NearCritical | None, explode: float, grad_tol: float) -> None:
        self.explode = explode
        self.window = None if window is None else (window[0].tolist(), window[1].tolist())
        self.box_lo = -np.inf if window is None else float(np.max(window[0]))
        self.box_hi = np.inf if window is None else float(np.min(window[1]))
        # Inside the window already means |param| <= explode, unless the window is wider than that.
        self.check_explode_p = window is None or max(np.abs(window[0]).max(), np.abs(window[1]).max()) > explode
        # Slack covers rounding between sqrt(sum of squares) and these squared forms.
        self.g_thr = grad_tol * grad_tol * (1.0 + 1e-6) if grad_tol > 0 else -1.0
        self.near = near
        self.near_py = None if near is None else [tuple(c) for c in near.points.tolist()]
        # Squares that underflow or overflow would make the slack meaningless: test every step.
        self.always_exact = (grad_tol > 0 and not 0.0 < self.g_thr < np.inf) or (near is not None and near.everyone)

    def classify(self, p: np.ndarray, v: np.ndarray | None, gn2: np.ndarray | None) -> int:
        """``CLEAN``: no run stops; ``MAY_CONVERGE``: only convergence is possible; else ``MAY_STOP``."""
        if p.size <= 32:
            return self._classify_py(p, v, gn2)
        explode = self.explode
        # max/min propagate NaN, and every comparison with NaN is False.
        if v is not None and not (v.max() <= explode and v.min() >= -explode and gn2.max() < np.inf):
            return MAY_STOP
        if self.check_explode_p and not (p.max() <= explode and p.min() >= -explode):
            return MAY_STOP
        if self.window is not None:
            lo, hi = self.window
            pmin, pmax = p.min(), p.max()
            if self.box_lo <= pmin and pmax <= self.box_hi:
                pass  # every coordinate lies inside the window's tightest box
            elif p.shape[0] <= 256:
                # Along short rows numpy reduces slowly, so only small batches use axis=0.
                if not all(a <= x for a, x in zip(lo, p.min(axis=0).tolist(), strict=True)):
                    return MAY_STOP
                if not all(x <= b for b, x in zip(hi, p.max(axis=0).tolist(), strict=True)):
                    return MAY_STOP
            else:
                for j in range(p.shape[1]):
                    col = p[:, j]
                    if not (col.min() >= lo[j] and col.max() <= hi[j]):
                        return MAY_STOP
        if v is None:
            return CLEAN
        if self.always_exact or gn2.min() < self.g_thr:
            return MAY_CONVERGE
        if self.near is not None and self.near.any(p):
            return MAY_CONVERGE
        return CLEAN

    def _classify_py(self, p: np.ndarray, v: np.ndarray | None, gn2: np.ndarray | None) -> int:
        explode = self.explode
        rows = p.tolist()
        if v is not None:
            if not all(-explode <= x <= explode for x in v.tolist()):
                return MAY_STOP
            g2 = gn2.tolist()
            if not all(x < np.inf for x in g2):
                return MAY_STOP
        for row in rows:
            if self.check_explode_p and not all(-explode <= x <= explode for x in row):
                return MAY_STOP
            if self.window is not None and not all(a <= x <= b for x, a, b in zip(row, *self.window, strict=True)):
                return MAY_STOP
        if v is None:
            return CLEAN
        if self.always_exact or any(x < self.g_thr for x in g2):
            return MAY_CONVERGE
        if self.near_py is not None and self.near.r > 0:
            r2 = self.near.r2
            for row in rows:
                for c in self.near_py:
                    if sum((x - y) * (x - y) for x, y in zip(row, c, strict=True)) < r2:
                        return MAY_CONVERGE
        return CLEAN


def _sq_norms(a: np.ndarray) -> np.ndarray:
    """Row-wise squared norms of ``(k, d)``; column sums when d is small (numpy is slow along short rows)."""
    d = a.shape[1]
    if d <= 4:
        out = a[:, 0] * a[:, 0]
        for j in range(1, d):
            out += a[:, j] * a[:, j]
        return out
    return np.einsum("kd,kd->k", a, a)


def _rows_all(mask: np.ndarray) -> np.ndarray:
    """``mask.all(axis=1)`` for a ``(k, d)`` bool array, fast for small d."""
    d = mask.shape[1]
    if d <= 4:
        out = mask[:, 0].copy()
        for j in range(1, d):
            out &= mask[:, j]
        return out
    return mask.all(axis=1)


def _record_steps(steps: int, every: int, end_only: bool) -> list[int]:
    if end_only:
        return [0, steps] if steps else [0]
    rec = list(range(0, steps + 1, every))
    if rec[-1] != steps:
        rec.append(steps)
    return rec


def _record(t, rec_index, out_p, out_v, out_g, out_x, p, v, gn, metrics) -> None:
    if t not in rec_index:
        return
    i = rec_index[t]
    out_p[i], out_v[i], out_g[i] = p, v, gn
    if metrics is not None:
        for name, arr in metrics(p).items():
            arr = np.asarray(arr)
            if name not in out_x:
                out_x[name] = np.empty((out_p.shape[0], *arr.shape), dtype=arr.dtype)
            out_x[name][i] = arr


def _window(bounds: Any, margin: float, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    if bounds is None or d != len(bounds):
        return None
    b = np.asarray(bounds, dtype=np.float64)
    width = b[:, 1] - b[:, 0]
    return b[:, 0] - margin * width, b[:, 1] + margin * width


def _critical_points(minima: Any, d: int) -> np.ndarray | None:
    if not minima:
        return None
    pts = np.asarray([m.point for m in minima], dtype=np.float64)
    return pts if pts.shape[1] == d else None


def _check_converged(t, p, gn, grad_tol, x_tol, near, active, status, status_step, reason, stop) -> None:
    done = active & stops.small_gradient(gn, grad_tol)
    if near is not None:
        rows = np.flatnonzero(active & near.candidates(p))
        if rows.size:
            crit = near.points
            dist = np.sqrt(((p[rows][:, None, :] - crit[None, :, :]) ** 2).sum(-1)).min(axis=1)
            done[rows[stops.near_critical(dist, x_tol)]] = True
    if not done.any():
        return
    for i in np.flatnonzero(done & (status == RUNNING)):
        status[i], status_step[i] = CONVERGED, t
        reason[i] = f"converged at step {t}"
    if stop:
        active &= ~done


class _NearCritical:
    """Which runs may lie within ``x_tol`` of a known critical point (a superset; cheap).

    Squared distances with a little slack, so the exact test in
    :func:`_check_converged` runs only on the few candidate rows. Many points
    (Rastrigin lists 29) go through a k-d tree instead of a ``(k, m, d)`` array.
    """

    def __init__(self, points: np.ndarray, x_tol: float) -> None:
        self.points = points
        self.list = list(points)
        self.r = x_tol * (1.0 + 1e-6)
        self.r2 = self.r * self.r
        # Squares that underflow or overflow would make the slack meaningless.
        self.everyone = x_tol > 0 and not 0.0 < self.r2 < np.inf
        self.tree = None
        if len(points) > 4:
            from scipy.spatial import cKDTree

            self.tree = cKDTree(points)

    def candidates(self, p: np.ndarray) -> np.ndarray:
        if self.everyone:
            return np.ones(p.shape[0], dtype=bool)
        if self.r <= 0:
            return np.zeros(p.shape[0], dtype=bool)
        if self.tree is not None and p.shape[0] * len(self.list) > 64:
            return self.tree.query(p, distance_upper_bound=self.r)[0] < np.inf
        out = _sq_norms(p - self.list[0]) < self.r2
        for c in self.list[1:]:
            out |= _sq_norms(p - c) < self.r2
        return out

    def any(self, p: np.ndarray) -> bool:
        if self.everyone:
            return True
        if self.r <= 0:
            return False
        if self.tree is not None and p.shape[0] * len(self.list) > 64:
            return bool((self.tree.query(p, distance_upper_bound=self.r)[0] < np.inf).any())
        if self.tree is not None:
            diff = p[:, None, :] - self.points[None, :, :]
            return bool(_sq_norms(diff.reshape(-1, p.shape[1])).min() < self.r2)
        # One column first: a run can only be within r of c if its first coordinate is.
        return any(
            np.abs(p[:, 0] - c[0]).min() < self.r and _sq_norms(p - c).min() < self.r2 for c in self.list
        )


def _why(p: np.ndarray, v: float | None, explode: float) -> str:
    if not np.isfinite(p).all():
        return "parameters became inf or NaN"
    if np.abs(p).max() > explode:
        return f"parameters grew past {explode:.0e}"
    if v is not None and not np.isfinite(v):
        return f"value became {v}"
    if v is not None:
        return f"value grew past {explode:.0e}"
    return "gradient became inf or NaN"
