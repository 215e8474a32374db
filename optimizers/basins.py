"""Basins of attraction: where an optimizer ends up from every start on a grid.

Seed 004 asks why a path ends in one valley rather than the other; a single
path cannot answer it, a map of all starts can. :func:`basin_map` runs one
optimizer from an ``n × n`` grid over the window (10,000 runs at the default
``n = 100``, in one batch through :func:`optimizers.run`, which takes its
fused backend at this size) and labels each start by its outcome: the known
critical point it ended next to, or that it stopped elsewhere, diverged or left
the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizers.base import Optimizer
from optimizers.runner import CONVERGED, DIVERGED, LEFT_WINDOW, MAX_STEPS, run

#: Caps for the grid and the number of steps (a user can type larger ones into a URL).
MAX_RESOLUTION = 200
MAX_STEPS_CAP = 5000
#: Outcome kinds that are not a critical point.
ELSEWHERE, DIVERGED_KIND, LEFT_KIND = "elsewhere", "diverged", "left window"
_KIND_WORD = {"global": "global minimum", "local": "local minimum", "saddle": "saddle point"}


@dataclass(frozen=True)
class BasinMap:
    """The outcome of every start on a grid.

    Attributes
    ----------
    x, y : ndarray, shape (n,)
        Grid axes; start ``(x[j], y[i])`` is cell ``[i, j]``.
    outcome : ndarray of int, shape (n, n)
        Index into ``labels`` for each start.
    labels : list of str
        Outcome names: one per known critical point (e.g. ``"global minimum (1, 1)"``),
        then ``"elsewhere"``, ``"diverged"``, ``"left window"``.
    kinds : list of str
        ``"global"``, ``"local"``, ``"saddle"``, ``"elsewhere"``, ``"diverged"`` or
        ``"left window"`` for each label.
    stop_step : ndarray of int, shape (n, n)
        Step at which the run converged, diverged or left (``steps`` if it never stopped).
    final_value : ndarray, shape (n, n)
        Objective at the last good point.
    steps : int
    wall_time : float
        Seconds spent in :func:`optimizers.run`.
    """

    x: np.ndarray
    y: np.ndarray
    outcome: np.ndarray
    labels: list[str]
    kinds: list[str]
    stop_step: np.ndarray
    final_value: np.ndarray
    steps: int
    wall_time: float

    def shares(self) -> dict[str, float]:
        """Fraction of starts per label, in label order."""
        counts = np.bincount(self.outcome.ravel(), minlength=len(self.labels))
        return {label: float(c) / self.outcome.size for label, c in zip(self.labels, counts, strict=True)}


def basin_map(landscape: Any, optimizer: Optimizer, steps: int, resolution: int = 100, *,
              radius: float = 0.02, backend: str = "auto") -> BasinMap:
    """Run ``optimizer`` from a ``resolution × resolution`` grid over ``landscape.bounds`` and label each start.

    Parameters
    ----------
    landscape : Landscape
        Needs ``bounds`` and ``minima``.
    optimizer : Optimizer
    steps : int
        1 … ``MAX_STEPS_CAP``.
    resolution : int
        Starts per axis, 2 … ``MAX_RESOLUTION``.
    radius : float
        A run that ends within ``radius`` × (window diagonal) of a known critical
        point is labelled by it (the nearest one); otherwise ``"elsewhere"``.
    backend : {"auto", "numpy", "fused"}
        Passed to :func:`optimizers.run`.

    Returns
    -------
    BasinMap

    Raises
    ------
    ValueError
        On a size beyond the caps or a radius that is not positive.
    """
    if not (isinstance(resolution, (int, np.integer)) and 2 <= resolution <= MAX_RESOLUTION):
        raise ValueError(f"basin map resolution must be a whole number in [2, {MAX_RESOLUTION}], got {resolution!r}")
    if not (isinstance(steps, (int, np.integer)) and 1 <= steps <= MAX_STEPS_CAP):
        raise ValueError(f"basin map steps must be a whole number in [1, {MAX_STEPS_CAP}], got {steps!r}")
    if not (radius > 0 and np.isfinite(radius)):
        raise ValueError(f"basin radius must be a positive number, got {radius!r}")
    (x0, x1), (y0, y1) = landscape.bounds
    # Cell centres, so the grid is symmetric inside the window and no start sits on its edge.
    x = x0 + (np.arange(resolution) + 0.5) * (x1 - x0) / resolution
    y = y0 + (np.arange(resolution) + 0.5) * (y1 - y0) / resolution
    X, Y = np.meshgrid(x, y)
    starts = np.stack([X.ravel(), Y.ravel()], axis=1)
    traj = run(landscape, optimizer, starts, steps, record_end_only=True, backend=backend)

    crit = list(landscape.minima)
    labels = [f"{_KIND_WORD[c.kind]} ({c.point[0]:.3g}, {c.point[1]:.3g})" for c in crit]
    kinds = [c.kind for c in crit]
    labels += [ELSEWHERE, DIVERGED_KIND, LEFT_KIND]
    kinds += [ELSEWHERE, DIVERGED_KIND, LEFT_KIND]
    n_crit = len(crit)
    outcome = np.full(len(starts), n_crit, dtype=np.int64)  # elsewhere
    final = traj.final_params
    settled = np.isin(traj.status, [CONVERGED, MAX_STEPS])
    if n_crit:
        pts = np.array([c.point for c in crit], dtype=np.float64)
        dist = np.sqrt(((final[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
        nearest = dist.argmin(axis=1)
        near = dist[np.arange(len(final)), nearest] <= radius * float(np.hypot(x1 - x0, y1 - y0))
        pick = settled & near
        outcome[pick] = nearest[pick]
    outcome[traj.status == DIVERGED] = n_crit + 1
    outcome[traj.status == LEFT_WINDOW] = n_crit + 2
    shape = (resolution, resolution)
    return BasinMap(
        x=x, y=y, outcome=outcome.reshape(shape), labels=labels, kinds=kinds,
        stop_step=traj.status_step.reshape(shape), final_value=traj.final_values.reshape(shape),
        steps=int(steps), wall_time=traj.wall_time,
    )
