"""Class probabilities on a 2-D grid, for drawing decision boundaries of any dataset.

Datasets with more than two features (Iris, body metrics) are shown either
over two chosen features, the others fixed at their training mean, or over
the plane of the first two principal components of the network's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets.problem import NetProblem


@dataclass(frozen=True)
class BoundaryGrid:
    """Probabilities of F networks over a G×G grid.

    Attributes
    ----------
    xs, ys : ndarray, shape (G,)
        Grid coordinates in the shown units (raw feature units, or PC scores).
    probs : ndarray, shape (F, G, G, C)
        ``probs[f, iy, ix]`` is network f's class distribution at ``(xs[ix], ys[iy])``.
    points : ndarray, shape (n, 2)
        The training rows in the same coordinates.
    xlabel, ylabel : str
    """

    xs: np.ndarray
    ys: np.ndarray
    probs: np.ndarray
    points: np.ndarray
    xlabel: str
    ylabel: str


def boundary_grid(problem: NetProblem, thetas: np.ndarray, view: tuple[int, int] | None, *, resolution: int = 41) -> BoundaryGrid:
    """Class probabilities of networks ``thetas`` on a grid over two features or the first two PCs.

    Parameters
    ----------
    problem : NetProblem
    thetas : ndarray, shape (F, P)
        Flat parameters, e.g. one network at F animation frames.
    view : (int, int) or None
        Two feature indices (raw units, other features at their training mean), or ``None`` for the
        plane of the first two principal components of the network's (possibly standardized) inputs.
    resolution : int
        Grid points per axis, G.

    Returns
    -------
    BoundaryGrid
    """
    split = problem.split
    X_model = problem.X_train
    if view is None:
        mu = X_model.mean(axis=0)
        _, sv, vt = np.linalg.svd(X_model - mu, full_matrices=False)
        pcs = vt[:2]
        share = sv[:2] ** 2 / max(float((sv**2).sum()), 1e-300)
        pts = (X_model - mu) @ pcs.T
        xs, ys = _axis_range(pts[:, 0], resolution), _axis_range(pts[:, 1], resolution)
        U, V = np.meshgrid(xs, ys)
        grid_model = mu + U.reshape(-1, 1) * pcs[0] + V.reshape(-1, 1) * pcs[1]
        xlabel, ylabel = f"PC 1 ({share[0]:.0%} of variance)", f"PC 2 ({share[1]:.0%})"
    else:
        i, j = view
        X_raw = split.inverse_transform(X_model)
        pts = X_raw[:, [i, j]]
        xs, ys = _axis_range(pts[:, 0], resolution), _axis_range(pts[:, 1], resolution)
        U, V = np.meshgrid(xs, ys)
        grid_raw = np.tile(X_raw.mean(axis=0), (U.size, 1))
        grid_raw[:, i], grid_raw[:, j] = U.reshape(-1), V.reshape(-1)
        grid_model = problem.transform(grid_raw)
        names = split.dataset.feature_names
        xlabel, ylabel = names[i], names[j]
    probs = problem.predict_proba(thetas, grid_model)  # (F, G², C)
    probs = probs.reshape(thetas.shape[0], len(ys), len(xs), probs.shape[-1])
    return BoundaryGrid(xs=xs, ys=ys, probs=probs, points=pts, xlabel=xlabel, ylabel=ylabel)


def _axis_range(v: np.ndarray, n: int) -> np.ndarray:
    lo, hi = float(v.min()), float(v.max())
    pad = 0.15 * (hi - lo) if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, n)
