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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from optimizers.base import Optimizer, as_params

RUNNING, CONVERGED, DIVERGED, LEFT_WINDOW, MAX_STEPS = "running", "converged", "diverged", "left window", "max steps"


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
    label : str
    wall_time : float
        Seconds spent in the run.
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

    Returns
    -------
    Trajectory
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a whole number >= 0, got {steps!r}")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every!r}")
    p = as_params(starts).copy()
    if not np.isfinite(p).all():
        raise ValueError("start points must be finite numbers")
    k = p.shape[0]
    record_steps = _record_steps(steps, record_every, record_end_only)
    rec_index = {s: i for i, s in enumerate(record_steps)}
    n_rec = len(record_steps)

    batch_fn = getattr(problem, "batch_value_and_grad", None)
    window = _window(getattr(problem, "bounds", None), window_margin, p.shape[1])
    critical = _critical_points(getattr(problem, "minima", None), p.shape[1])

    out_p = np.empty((n_rec, k, p.shape[1]))
    out_v = np.empty((n_rec, k))
    out_g = np.empty((n_rec, k))
    out_x: dict[str, np.ndarray] = {}
    status = np.full(k, RUNNING, dtype=object)
    status_step = np.full(k, steps, dtype=np.int64)
    reason = [""] * k
    active = np.ones(k, dtype=bool)

    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        state = optimizer.init(p)
        v, g = problem.value_and_grad(p)
        bad = ~np.isfinite(v) | ~np.isfinite(g).all(axis=1)
        if bad.any():
            raise ValueError("the objective is not finite at the start point(s); pick another start")
        gn = np.sqrt(np.einsum("kd,kd->k", g, g))
        _record(0, rec_index, out_p, out_v, out_g, out_x, p, v, gn, metrics)
        _check_converged(0, p, gn, grad_tol, x_tol, critical, active, status, status_step, reason, stop_on_converge)
        last_v, last_gn = v, gn
        for t in range(1, steps + 1):
            if not active.any():
                break
            grad_for_step = g if batch_fn is None else batch_fn(p, t - 1)[1]
            new_p, state = optimizer.step(p, grad_for_step, state)
            need_full = batch_fn is None or t in rec_index
            if need_full:
                v, g = problem.value_and_grad(new_p)
                gn = np.sqrt(np.einsum("kd,kd->k", g, g))
                bad_v = ~np.isfinite(v) | (np.abs(v) > explode) | ~np.isfinite(gn)
            else:
                bad_v = np.zeros(k, dtype=bool)
            bad_p = ~np.isfinite(new_p).all(axis=1) | (np.abs(new_p) > explode).any(axis=1)
            newly_bad = active & (bad_p | bad_v)
            if newly_bad.any():
                for i in np.flatnonzero(newly_bad):
                    status[i], status_step[i] = DIVERGED, t
                    reason[i] = f"diverged at step {t} ({_why(new_p[i], v[i] if need_full else None, explode)})"
                active &= ~newly_bad
            if window is not None:
                lo, hi = window
                outside = active & ((new_p < lo) | (new_p > hi)).any(axis=1)
                if outside.any():
                    for i in np.flatnonzero(outside):
                        status[i], status_step[i] = LEFT_WINDOW, t
                        reason[i] = f"left the window at step {t}"
                    active &= ~outside
            # Frozen runs keep their last good point, value and gradient.
            p = np.where(active[:, None], new_p, p)
            if need_full:
                v = np.where(active, v, last_v)
                gn = np.where(active, gn, last_gn)
                g = np.where(active[:, None], g, 0.0)
                last_v, last_gn = v, gn
                _check_converged(t, p, gn, grad_tol, x_tol, critical, active, status, status_step, reason, stop_on_converge)
            if t in rec_index:
                _record(t, rec_index, out_p, out_v, out_g, out_x, p, last_v, last_gn, metrics)
        # Records after an early stop of every run repeat the final state.
        last = max(s for s in record_steps if s <= t) if steps else 0
        for s in record_steps:
            if s > last:
                _record(s, rec_index, out_p, out_v, out_g, out_x, p, last_v, last_gn, metrics)
    for i in np.flatnonzero(status == RUNNING):
        status[i], status_step[i] = MAX_STEPS, steps
        reason[i] = f"reached the step limit ({steps}) without converging"
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
    )


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


def _check_converged(t, p, gn, grad_tol, x_tol, critical, active, status, status_step, reason, stop) -> None:
    done = active & (gn < grad_tol)
    if critical is not None:
        dist = np.sqrt(((p[:, None, :] - critical[None, :, :]) ** 2).sum(-1)).min(axis=1)
        done |= active & (dist < x_tol)
    if not done.any():
        return
    for i in np.flatnonzero(done & (status == RUNNING)):
        status[i], status_step[i] = CONVERGED, t
        reason[i] = f"converged at step {t}"
    if stop:
        active &= ~done


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
