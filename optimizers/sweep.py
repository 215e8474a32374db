"""Hyperparameter sweeps: one optimizer over a grid of settings × starts, as one batched run.

Every setting of the grid, from every start, is one run of the same batch: the
swept hyperparameters are given to the optimizer as arrays of shape ``(k,)``
(see :attr:`optimizers.base.Optimizer.per_run`), so a 64 × 64 grid is a single
call of :func:`optimizers.run` and takes its compiled backend on surfaces. A
cell therefore equals the run of that one setting alone, to the bit.

On top of it: :func:`lr_sensitivity` (final loss against lr, median and a
10–90% band over starts or seeds) and :func:`tune_lr` (a fair race: each
optimizer's lr tuned on the same log grid with the same steps and starts).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizers import fused
from optimizers.base import Optimizer
from optimizers.runner import CONVERGED, DIVERGED, LEFT_WINDOW, run
from optimizers.transforms import Chain

#: Caps on a sweep: values per axis, starts (or seeds), and steps. 64 × 64 × 16 × 5,000 run-steps compiled.
MAX_AXIS = 64
MAX_STARTS = 16
MAX_STEPS = 5000
#: Runs × steps allowed when the job takes the numpy loop (networks, custom formulas, no kernel).
MAX_NUMPY_WORK = 20_000_000
#: Runs × recorded steps allowed when the rate is measured (every step is kept): about 100 MB.
MAX_RATE_RECORDS = 6_000_000
#: Scores and band for lr sensitivity: the 10th and 90th percentiles.
BAND = (10.0, 90.0)


@dataclass(frozen=True)
class Sweep:
    """Outcomes of one optimizer over a grid of hyperparameters × starts.

    Axes: ``shape = (n1, s)`` for one swept hyperparameter, ``(n1, n2, s)`` for two.

    Attributes
    ----------
    name : str
        Optimizer name.
    axes : dict of str to ndarray
        Swept hyperparameters, in axis order, each ``(n_i,)``.
    fixed : dict
        The other hyperparameters given.
    final_values : ndarray, shape (n1[, n2], s)
        Objective at each run's last good point.
    status : ndarray of str, shape (n1[, n2], s)
        The runner's statuses: ``converged``, ``diverged``, ``left window``, ``max steps``.
    status_step : ndarray of int, shape (n1[, n2], s)
        Step at which each status happened.
    steps_to_tol : ndarray of int, shape (n1[, n2], s)
        Step at which the run converged (within ``tol``), −1 if it never did.
    rate : ndarray, shape (n1[, n2], s), optional
        Measured contraction of the distance to the nearest known minimum per step
        (:func:`measured_rate`); > 1 grows. ``None`` unless asked for.
    steps : int
    tol : float
    wall_time : float
        Seconds in :func:`optimizers.run`.
    """

    name: str
    axes: dict[str, np.ndarray]
    fixed: dict[str, Any]
    final_values: np.ndarray
    status: np.ndarray
    status_step: np.ndarray
    steps_to_tol: np.ndarray
    steps: int
    tol: float
    wall_time: float
    rate: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Swept hyperparameter names, in axis order."""
        return list(self.axes)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """``(n1,)`` or ``(n1, n2)``."""
        return tuple(len(v) for v in self.axes.values())

    def setting(self, index: Sequence[int]) -> dict[str, float]:
        """Hyperparameters of grid cell ``index`` (one index per axis), fixed ones included."""
        return {**self.fixed, **{n: float(v[i]) for (n, v), i in zip(self.axes.items(), index, strict=True)}}

    def diverged(self) -> np.ndarray:
        """``(n1[, n2], s)`` bool: the run diverged or left the window."""
        return (self.status == DIVERGED) | (self.status == LEFT_WINDOW)


def _optimizer_class(name: str) -> type[Optimizer]:
    import optimizers

    if name not in optimizers.REGISTRY:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(optimizers.REGISTRY)}")
    return optimizers.REGISTRY[name]


def check_grid(name: str, grid: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate a sweep grid; return its axes as float arrays.

    Raises
    ------
    ValueError
        For no or more than two hyperparameters, an unknown one or one that cannot
        vary per run, an axis that is empty, not 1-D, longer than ``MAX_AXIS``, or
        holds a value that is not finite or outside the hyperparameter's range.
    """
    cls = _optimizer_class(name)
    if not isinstance(grid, Mapping) or not 1 <= len(grid) <= 2:
        raise ValueError(f"a sweep grid maps one or two hyperparameter names to values, got {grid!r:.80}")
    specs = cls.spec_map()
    axes: dict[str, np.ndarray] = {}
    for hp, values in grid.items():
        if hp not in specs:
            raise ValueError(f"{name} has no hyperparameter {hp!r}; it has {', '.join(specs)}")
        if hp not in cls.per_run:
            raise ValueError(f"{name}: {hp} cannot be swept; sweepable: {', '.join(cls.per_run)}")
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: the values of {hp} must be numbers, got {values!r:.80}") from None
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name}: {hp} needs a non-empty 1-D list of values, got shape {arr.shape}")
        if arr.size > MAX_AXIS:
            raise ValueError(f"{name}: at most {MAX_AXIS} values of {hp} (the cap is {MAX_AXIS} × {MAX_AXIS} "
                             f"settings × {MAX_STARTS} starts × {MAX_STEPS} steps), got {arr.size}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: every value of {hp} must be finite, got {arr[~np.isfinite(arr)][0]!r}")
        for value in np.unique(arr).tolist():
            specs[hp].validate(value, name)
        axes[hp] = arr
    return axes


def _check_size(starts: np.ndarray, steps: Any) -> None:
    if not (isinstance(steps, (int, np.integer)) and 1 <= steps <= MAX_STEPS):
        raise ValueError(f"sweep steps must be a whole number in [1, {MAX_STEPS}], got {steps!r}")
    if starts.ndim != 2 or not 1 <= starts.shape[0] <= MAX_STARTS:
        raise ValueError(f"starts must have shape (s, d) with 1 <= s <= {MAX_STARTS}, got {starts.shape}")
    if not np.isfinite(starts).all():
        raise ValueError("start points must be finite numbers")


def sweep(
    problem: Any,
    name: str,
    grid: Mapping[str, Any],
    starts: Any,
    steps: int,
    *,
    fixed: Mapping[str, Any] | None = None,
    transforms: Mapping[str, Any] | None = None,
    tol: float = 1e-6,
    rate: bool = False,
    backend: str = "auto",
) -> Sweep:
    """Run optimizer ``name`` for every setting of ``grid`` from every start, as one batch.

    Parameters
    ----------
    problem : Problem
        A landscape, or a network problem (``value_and_grad`` on ``(k, P)``).
    name : str
        Registered optimizer name.
    grid : mapping of str to array_like
        One or two hyperparameters (those in the optimizer's ``per_run``) to 1-D values,
        at most ``MAX_AXIS`` each.
    starts : array_like, shape (s, d)
        Start points; for a network, the seeds' initial parameter vectors. ``s <= MAX_STARTS``.
    steps : int
        1 … ``MAX_STEPS``.
    fixed : mapping, optional
        Other hyperparameters, shared by every cell.
    transforms : mapping, optional
        Keyword arguments of :class:`~optimizers.transforms.Chain` (``schedule``, ``clip``,
        ``noise``, ``decoupled_weight_decay``); a schedule multiplies each run's lr.
    tol : float
        A run has converged when its gradient norm is below ``tol`` or it is within ``tol``
        of a known minimum (the runner's ``grad_tol`` and ``x_tol``).
    rate : bool
        Also measure each run's contraction per step (:func:`measured_rate`); needs known
        minima and records every step.
    backend : {"auto", "numpy", "fused"}
        Passed to :func:`optimizers.run`.

    Returns
    -------
    Sweep

    Raises
    ------
    ValueError
        On a bad grid (see :func:`check_grid`), bad starts or steps, a job over the caps,
        or hyperparameters the optimizer rejects.
    """
    axes = check_grid(name, grid)
    fixed = dict(fixed or {})
    clash = sorted(set(fixed) & set(axes))
    if clash:
        raise ValueError(f"{', '.join(clash)} given both as swept and as fixed; keep one")
    s0 = np.asarray(starts, dtype=np.float64)
    _check_size(s0, steps)
    if not (tol >= 0 and np.isfinite(tol)):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    shape = tuple(len(v) for v in axes.values())
    n_settings = int(np.prod(shape))
    s = s0.shape[0]
    k = n_settings * s
    # Run r = (cell, start): the cell's values repeat over its s starts.
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    per_run = {hp: np.repeat(m.ravel(), s) for hp, m in zip(axes, mesh, strict=True)}
    opt: Optimizer = _optimizer_class(name)(**fixed, **per_run)
    if transforms:
        opt = Chain(opt, **transforms)
    all_starts = np.tile(s0, (n_settings, 1))
    compiled = s0.shape[1] == 2 and backend != "numpy" and fused.unsupported(problem, opt) is None
    if not compiled and k * steps > MAX_NUMPY_WORK:
        raise ValueError(f"this sweep is {k:,} runs × {steps} steps; without compiled kernels the cap is "
                         f"{MAX_NUMPY_WORK:,} run-steps: use fewer values, starts or steps")
    minima = getattr(problem, "minima", None)
    if rate:
        if not minima:
            raise ValueError("the rate needs a problem with known minima (a surface)")
        if k * (steps + 1) > MAX_RATE_RECORDS:
            raise ValueError(f"measuring the rate keeps every step: {k:,} runs × {steps} steps is over the cap of "
                             f"{MAX_RATE_RECORDS:,}; use fewer values, starts or steps")
    t0 = time.perf_counter()
    traj = run(problem, opt, all_starts, int(steps), record_end_only=not rate, grad_tol=tol, x_tol=tol,
               backend=backend)
    wall = time.perf_counter() - t0
    out_shape = (*shape, s)
    status = traj.status.reshape(out_shape)
    status_step = traj.status_step.reshape(out_shape)
    measured = None
    if rate:
        pts = np.array([m.point for m in minima], dtype=np.float64)
        measured = measured_rate(traj.params, traj.status_step, pts).reshape(out_shape)
    return Sweep(
        name=name, axes=axes, fixed=fixed, final_values=traj.final_values.reshape(out_shape), status=status,
        status_step=status_step, steps_to_tol=np.where(status == CONVERGED, status_step, -1), steps=int(steps),
        tol=float(tol), wall_time=wall, rate=measured,
    )


def measured_rate(params: np.ndarray, stop_step: np.ndarray, minima: np.ndarray) -> np.ndarray:
    """Contraction per step of each run's distance to the nearest known minimum.

    A least-squares line through ``log d_t`` against ``t`` over the last three
    quarters of the run (up to the step it stopped), fitted to the envelope of
    ``d``: the running maximum from the end for a shrinking distance, from the
    start for a growing one. The envelope follows the peaks when momentum makes
    the distance oscillate, so the slope is the decay of the amplitude, which is
    what a theoretical rate (the largest root modulus) describes.

    Parameters
    ----------
    params : ndarray, shape (T + 1, k, d)
        Every step's point, from step 0.
    stop_step : ndarray of int, shape (k,)
        Steps after which the run was frozen.
    minima : ndarray, shape (m, d)

    Returns
    -------
    ndarray, shape (k,)
        ``exp(slope)``; NaN where fewer than 3 usable steps exist.
    """
    with np.errstate(all="ignore"):
        diff = params[:, :, None, :] - minima[None, None, :, :]
        dist = np.sqrt((diff * diff).sum(-1)).min(-1)  # (T + 1, k)
        n_t, k = dist.shape
        t = np.arange(n_t, dtype=np.float64)[:, None]
        last = np.minimum(np.asarray(stop_step, dtype=np.int64), n_t - 1)
        first = last // 4
        inside = (t >= first[None, :]) & (t <= last[None, :])
        usable = inside & (dist > 0) & np.isfinite(dist)
        fine = (usable.sum(0) == inside.sum(0)) & (last - first >= 2)
        d = np.where(usable, dist, 0.0)
        cols = np.arange(k)
        shrinking = d[last, cols] <= d[first, cols]
        from_end = np.maximum.accumulate(np.where(t <= last[None, :], d, 0.0)[::-1], axis=0)[::-1]
        from_start = np.maximum.accumulate(np.where(t >= first[None, :], d, 0.0), axis=0)
        env = np.where(shrinking[None, :], from_end, from_start)
        y = np.where(inside, np.log(np.where(env > 0, env, 1.0)), 0.0)
        w = inside.astype(np.float64)
        n = w.sum(0)
        t_mean = (w * t).sum(0) / n
        y_mean = y.sum(0) / n
        tc = (t - t_mean[None, :]) * w
        slope = (tc * (y - y_mean[None, :])).sum(0) / (tc * tc).sum(0)
        return np.where(fine, np.exp(slope), np.nan)


# ------------------------------------------------------------------------------------------------------------
# Learning-rate sensitivity and a fair race
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sensitivity:
    """Final loss against lr for several optimizers, over the same starts or seeds.

    Attributes
    ----------
    lrs : ndarray, shape (n,)
    names : list of str
    final : ndarray, shape (n_opt, n, s)
        Final value of each run; ``inf`` where it diverged or left the window.
    median, low, high : ndarray, shape (n_opt, n)
        Median and the ``BAND`` percentiles over starts (``inf`` where most diverged).
    """

    lrs: np.ndarray
    names: list[str]
    final: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _final_or_inf(sw: Sweep) -> np.ndarray:
    return np.where(sw.diverged(), np.inf, sw.final_values)


def _percentiles(x: np.ndarray, q: Sequence[float]) -> list[np.ndarray]:
    # "nearest" picks actual runs: an interpolation between inf and a finite loss would be inf or NaN.
    return [np.percentile(x, qq, axis=-1, method="nearest") for qq in q]


def lr_sensitivity(problem: Any, names: Sequence[str], lrs: Any, starts: Any, steps: int, *,
                   fixed: Mapping[str, Mapping[str, Any]] | None = None, backend: str = "auto") -> Sensitivity:
    """Final loss against learning rate for each optimizer in ``names``: median and a 10–90% band.

    Parameters
    ----------
    problem : Problem
    names : sequence of str
        Registered optimizer names.
    lrs : array_like, shape (n,)
        Learning rates, the same for every optimizer.
    starts : array_like, shape (s, d)
        Starts or seeds' initial parameters, the same for every optimizer.
    steps : int
    fixed : mapping of name to mapping, optional
        Other hyperparameters per optimizer.

    Returns
    -------
    Sensitivity
    """
    if not names:
        raise ValueError("choose at least one optimizer")
    fixed = fixed or {}
    finals = []
    for name in names:
        sw = sweep(problem, name, {"lr": lrs}, starts, steps, fixed=fixed.get(name), backend=backend)
        finals.append(_final_or_inf(sw))
    final = np.stack(finals)
    median, low, high = _percentiles(final, (50.0, *BAND))
    return Sensitivity(lrs=np.asarray(lrs, dtype=np.float64), names=list(names), final=final, median=median,
                       low=low, high=high)


@dataclass(frozen=True)
class Tuned:
    """One optimizer's lr tuned on a grid.

    Attributes
    ----------
    name : str
    lr : float
        The best lr on the grid.
    score : float
        Its score: median final loss (``inf`` when most runs diverged) or median
        steps to tolerance (``steps + 1`` for a run that never got there).
    runner_up_lr, runner_up_score : float
        The next-best lr on the grid and its score.
    margin : float
        How much better the best is than the runner-up: ``runner_up_score / score``
        for final loss (``inf`` when the best reaches 0), ``runner_up_score − score``
        (steps saved) for steps to tolerance.
    scores : ndarray, shape (n,)
        Every lr's score.
    """

    name: str
    lr: float
    score: float
    runner_up_lr: float
    runner_up_score: float
    margin: float
    scores: np.ndarray


@dataclass(frozen=True)
class Race:
    """Each optimizer's lr tuned with an equal budget; see :func:`tune_lr`."""

    lrs: np.ndarray
    criterion: str
    steps: int
    entries: list[Tuned]


def race_scores(sw: Sweep, criterion: str) -> np.ndarray:
    """Per-lr score of a 1-D lr sweep (lower is better): see :class:`Tuned`."""
    if criterion == "final":
        return np.percentile(_final_or_inf(sw), 50.0, axis=-1, method="nearest")
    if criterion == "steps":
        reached = np.where(sw.steps_to_tol >= 0, sw.steps_to_tol, sw.steps + 1).astype(np.float64)
        return np.percentile(reached, 50.0, axis=-1, method="nearest")
    raise ValueError(f"criterion must be 'final' or 'steps', got {criterion!r}")


def tune_lr(problem: Any, names: Sequence[str], lrs: Any, starts: Any, steps: int, *, criterion: str = "final",
            fixed: Mapping[str, Mapping[str, Any]] | None = None, tol: float = 1e-6,
            backend: str = "auto") -> Race:
    """A fair race: tune each optimizer's lr on the same grid, with the same steps and starts.

    Parameters
    ----------
    problem : Problem
    names : sequence of str
    lrs : array_like, shape (n,)
        The grid (a log grid, e.g. ``np.geomspace(1e-4, 1, 16)``), at least 2 values.
    starts : array_like, shape (s, d)
    steps : int
    criterion : {"final", "steps"}
        Median final loss, or median steps to ``tol``.
    fixed : mapping of name to mapping, optional
    tol : float

    Returns
    -------
    Race
        Ties go to the smaller lr.
    """
    if criterion not in ("final", "steps"):
        raise ValueError(f"criterion must be 'final' or 'steps', got {criterion!r}")
    if not names:
        raise ValueError("choose at least one optimizer")
    grid = np.asarray(lrs, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(f"tuning needs at least two learning rates, got {grid.size}")
    order = np.argsort(grid, kind="stable")
    grid = grid[order]
    fixed = fixed or {}
    entries = []
    for name in names:
        sw = sweep(problem, name, {"lr": grid}, starts, steps, fixed=fixed.get(name), tol=tol, backend=backend)
        scores = race_scores(sw, criterion)
        ranked = np.argsort(scores, kind="stable")
        best, second = int(ranked[0]), int(ranked[1])
        b, r = float(scores[best]), float(scores[second])
        if criterion == "final":
            with np.errstate(all="ignore"):
                margin = 1.0 if b == r else (np.inf if b == 0 else r / b)
        else:
            margin = r - b
        entries.append(Tuned(name=name, lr=float(grid[best]), score=b, runner_up_lr=float(grid[second]),
                             runner_up_score=r, margin=float(margin), scores=scores))
    return Race(lrs=grid, criterion=criterion, steps=int(steps), entries=entries)
