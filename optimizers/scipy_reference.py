"""Reference paths from ``scipy.optimize.minimize``, as :class:`~optimizers.runner.Trajectory` objects.

Quasi-Newton, conjugate-gradient, Newton and simplex methods are what a
practitioner would reach for on a smooth 2-D problem; overlaying their paths
shows how far a first-order method is from them. Each iterate is recorded
through ``minimize``'s ``callback(intermediate_result)``, so one record is one
*iteration* of the method (which may cost several function evaluations).

A method that fails never raises: its trajectory stops at its last finite
point, with status ``"diverged"`` (non-finite or exploding values),
``"left window"`` (outside the problem's view window, as the runner does),
``"failed"`` (scipy gave up, e.g. a line search failed) or ``"max steps"``.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from scipy.optimize import minimize

from optimizers.runner import CONVERGED, DIVERGED, LEFT_WINDOW, MAX_STEPS, Problem, Trajectory

#: Methods offered, in display order.
SCIPY_METHODS: list[str] = ["BFGS", "L-BFGS-B", "CG", "Newton-CG", "trust-ncg", "Nelder-Mead"]
#: Status of a run scipy itself abandoned (e.g. a failed line search).
FAILED = "failed"

_SECOND_ORDER = {"Newton-CG", "trust-ncg"}
_GRADIENT_FREE = {"Nelder-Mead"}


def reference_path(
    problem: Problem,
    method: str,
    start: Any,
    maxiter: int = 200,
    *,
    grad_tol: float = 1e-8,
    explode: float = 1e12,
    window_margin: float = 0.25,
    label: str = "",
) -> Trajectory:
    """Minimize ``problem`` with a SciPy method from ``start`` and record every iterate.

    Parameters
    ----------
    problem : Problem
        Anything with ``value_and_grad(params (k, d)) -> ((k,), (k, d))``. Its
        ``hessian(points (..., d)) -> (..., d, d)`` is used by Newton-CG and
        trust-ncg when present (else central differences of the gradient);
        its ``bounds``, when present, give the window a path may not leave.
    method : str
        One of :data:`SCIPY_METHODS` (case-insensitive).
    start : array_like, shape (d,) or (1, d)
    maxiter : int
        Iteration limit passed to scipy, >= 1.
    grad_tol : float
        Passed as the gradient tolerance (``gtol``) where the method has one.
    explode : float
        ``|value|`` or ``|x|`` above this counts as divergence.
    window_margin : float
        Fraction of the window size added on each side, as in :func:`optimizers.run`.
    label : str
        Legend label; defaults to the method name.

    Returns
    -------
    Trajectory
        With ``k = 1``: params ``(R, 1, d)``, values and grad norms ``(R, 1)``,
        ``steps = 0..R-1`` (iterations). All entries are finite.

    Raises
    ------
    ValueError
        On an unknown method, a bad start or a bad ``maxiter``.
    """
    canonical = {m.lower(): m for m in SCIPY_METHODS}
    if not isinstance(method, str) or method.lower() not in canonical:
        raise ValueError(f"unknown SciPy method {method!r}; choose one of {', '.join(SCIPY_METHODS)}")
    method = canonical[method.lower()]
    if isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)) or maxiter < 1:
        raise ValueError(f"maxiter must be a whole number >= 1, got {maxiter!r}")
    x0 = np.asarray(start, dtype=np.float64)
    if x0.ndim == 2 and x0.shape[0] == 1:
        x0 = x0[0]
    if x0.ndim != 1 or x0.size == 0:
        raise ValueError(f"start must have shape (d,) or (1, d), got {np.shape(start)}")
    if not np.isfinite(x0).all():
        raise ValueError("start must be finite numbers")

    t0 = time.perf_counter()
    path: list[np.ndarray] = [x0.copy()]
    result = None
    error = ""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # scipy warns on precision loss and maxiter; the status and reason carry that instead.
        warnings.simplefilter("ignore")
        v0, _ = _value_and_grad(problem, x0)
        if not np.isfinite(v0):
            raise ValueError("the objective is not finite at the start point; pick another start")
        def objective(x: np.ndarray):
            # Line searches on an unbounded problem can probe points ever further out for thousands of
            # evaluations; past ``explode`` the run is lost anyway.
            if not np.isfinite(x).all() or np.abs(x).max() > explode:
                raise _Escaped
            value, grad = _value_and_grad(problem, x)
            return value if method in _GRADIENT_FREE else (value, grad)

        try:
            result = minimize(
                objective,
                x0,
                method=method,
                jac=None if method in _GRADIENT_FREE else True,
                hess=_hessian(problem) if method in _SECOND_ORDER else None,
                callback=_recorder(path),
                options=_options(method, maxiter, grad_tol),
            )
        except _Escaped:
            error = _ESCAPED
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            # Non-finite values can make scipy's line searches or solvers raise; keep what was recorded.
            error = f"{type(exc).__name__}: {exc}"
        return _trajectory(problem, path, result, error, method, maxiter, grad_tol, explode, window_margin,
                           label or method, t0)


class _Escaped(Exception):
    """Raised inside the objective when scipy probes a point beyond ``explode``."""


_ESCAPED = "escaped"


def _value_and_grad(problem: Problem, x: np.ndarray) -> tuple[float, np.ndarray]:
    v, g = problem.value_and_grad(x[None, :])
    return float(np.asarray(v).reshape(-1)[0]), np.asarray(g, dtype=np.float64).reshape(-1)


def _hessian(problem: Problem):
    own = getattr(problem, "hessian", None)
    if own is not None:
        return lambda x: np.asarray(own(x[None, :]), dtype=np.float64)[0]

    def by_differences(x: np.ndarray) -> np.ndarray:
        d = x.size
        h = 1e-5 * np.maximum(1.0, np.abs(x))
        cols = [(_value_and_grad(problem, x + h[i] * e)[1] - _value_and_grad(problem, x - h[i] * e)[1]) / (2 * h[i])
                for i, e in enumerate(np.eye(d))]
        hess = np.array(cols)
        return 0.5 * (hess + hess.T)

    return by_differences


def _recorder(path: list[np.ndarray]):
    def callback(intermediate_result) -> None:  # the name selects scipy's new-style callback
        path.append(np.array(intermediate_result.x, dtype=np.float64, copy=True))

    return callback


def _options(method: str, maxiter: int, grad_tol: float) -> dict[str, Any]:
    options: dict[str, Any] = {"maxiter": int(maxiter)}
    if method in ("BFGS", "CG", "L-BFGS-B", "trust-ncg"):
        options["gtol"] = grad_tol
    if method == "Newton-CG":
        # Its default xtol (1e-5, relative step size) stops a few 1e-6 short of Rosenbrock's minimum.
        options["xtol"] = 1e-10
    return options


def _trajectory(problem, path, result, error, method, maxiter, grad_tol, explode, margin, label, t0) -> Trajectory:
    xs = np.array(path)  # (R, d)
    values, grads = problem.value_and_grad(xs)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    gnorm = np.sqrt(np.einsum("rd,rd->r", grads, grads))
    bad = ~np.isfinite(xs).all(axis=1) | (np.abs(xs) > explode).any(axis=1) | ~np.isfinite(values)
    bad |= (np.abs(values) > explode) | ~np.isfinite(gnorm)
    outside = np.zeros(len(xs), dtype=bool)
    bounds = getattr(problem, "bounds", None)
    if bounds is not None and len(bounds) == xs.shape[1]:
        b = np.asarray(bounds, dtype=np.float64)
        width = b[:, 1] - b[:, 0]
        outside = ((xs < b[:, 0] - margin * width) | (xs > b[:, 1] + margin * width)).any(axis=1)

    first_bad = int(np.argmax(bad)) if bad.any() else None
    first_out = int(np.argmax(outside)) if outside.any() else None
    iters = len(xs) - 1
    # scipy can report success where a gradient method merely stalled (e.g. Newton-CG on a zero
    # Hessian), so a gradient method must also have shrunk the gradient; Nelder-Mead never sees it.
    stalled = method not in _GRADIENT_FREE and bool(np.isfinite(gnorm).all()) and gnorm[-1] > 1e-3 * max(1.0, gnorm[0])
    if first_bad is not None and (first_out is None or first_bad <= first_out):
        stop, status = first_bad, DIVERGED
        reason = f"{method} diverged at iteration {stop} (value or point became non-finite or huge)"
    elif first_out is not None:
        stop, status = first_out, LEFT_WINDOW
        reason = f"{method} left the window at iteration {stop}"
    elif error == _ESCAPED:
        stop, status = iters, DIVERGED
        reason = f"{method} diverged after iteration {iters} (it searched beyond {explode:.0e})"
    elif error:
        stop, status = iters, FAILED
        reason = f"{method} failed after {iters} iterations ({error})"
    elif result is not None and (gnorm[-1] < grad_tol or (result.success and not stalled)):
        stop, status = iters, CONVERGED
        reason = f"{method} converged in {iters} iterations"
    elif result is not None and result.success:
        stop, status = iters, FAILED
        reason = f"{method} stopped after {iters} iterations with the gradient norm still {gnorm[-1]:.3g}"
    elif result is not None and iters >= maxiter:
        stop, status = iters, MAX_STEPS
        reason = f"{method} reached the iteration limit ({maxiter}) without converging"
    else:
        stop, status = iters, FAILED
        message = result.message if result is not None else "no result"
        reason = f"{method} stopped after {iters} iterations: {message}"
    # A stopped path keeps its last good point; the bad one is never recorded.
    # As in the runner, status_step is the iteration where things went wrong and the offending
    # iterate is not kept (the start was checked to be finite, so at least one point remains).
    keep = stop if status in (DIVERGED, LEFT_WINDOW) and stop > 0 and (bad[stop] or outside[stop]) else stop + 1
    xs, values, gnorm = xs[:keep], values[:keep], gnorm[:keep]
    return Trajectory(
        params=xs[:, None, :],
        values=values[:, None],
        grad_norms=gnorm[:, None],
        steps=np.arange(len(xs), dtype=np.int64),
        status=np.array([status]),
        status_step=np.array([stop], dtype=np.int64),
        reason=[reason],
        label=label,
        wall_time=time.perf_counter() - t0,
    )
