"""Class probabilities on a 2-D grid, for drawing decision boundaries of any dataset; fitted curves for regression.

Datasets with more than two features (Iris, body metrics) are shown either
over two chosen features, the others fixed at their training mean, or over
the plane of the first two principal components of the network's inputs.
A regression net is shown by :func:`fit_grid`: its fitted curve ``ŷ(x)`` (one
input) or surface (two inputs). Batch-normalized nets are evaluated with the
training set's statistics.
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


@dataclass(frozen=True)
class FitGrid:
    """Regression outputs of F networks along the input (1-D) or over a G×G grid (2-D).

    Attributes
    ----------
    xs : ndarray, shape (G,)
        Grid along the first input, in raw feature units.
    ys : ndarray, shape (G,) or (0,)
        Grid along the second input (raw units); empty for one input.
    values : ndarray, shape (F, G) or (F, G, G)
        ``ŷ`` of network f: ``values[f, ix]`` at ``xs[ix]`` for one input;
        ``values[f, iy, ix]`` at ``(xs[ix], ys[iy])`` for two.
    points : ndarray, shape (n_train, d)
        The training inputs in raw units (d = 1 or 2).
    targets : ndarray, shape (n_train,)
        Their targets ``y``.
    test_points : ndarray, shape (n_test, d)
    test_targets : ndarray, shape (n_test,)
    xlabel, ylabel : str
        Feature names (``ylabel`` is ``""`` for one input).
    target_label : str
        The name of ``y``.
    """

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    points: np.ndarray
    targets: np.ndarray
    test_points: np.ndarray
    test_targets: np.ndarray
    xlabel: str
    ylabel: str
    target_label: str


def fit_grid(problem: NetProblem, thetas: np.ndarray, resolution: int = 41) -> FitGrid:
    """The fitted curve (one input) or surface (two inputs) of regression networks ``thetas``.

    Parameters
    ----------
    problem : NetProblem
        A regression problem with one target and one or two inputs.
    thetas : ndarray, shape (F, P)
        Flat parameters, e.g. one network at F recorded frames.
    resolution : int
        Grid points per axis, G, in ``[2, 401]``. The grid spans the training
        inputs plus 15% on each side, in raw units.

    Returns
    -------
    FitGrid

    Raises
    ------
    ValueError
        For a classification problem (use :func:`boundary_grid`), more than one
        target, more than two inputs, or a bad resolution.
    """
    if not problem.regression:
        raise ValueError("fit_grid draws regression nets; for classes use boundary_grid")
    split, data = problem.split, problem.split.dataset
    if data.n_targets != 1:
        raise ValueError(f"fit_grid draws one target, this data has {data.n_targets}")
    d = data.n_features
    if d not in (1, 2):
        raise ValueError(f"fit_grid draws a curve (1 input) or a surface (2 inputs), this data has {d} inputs")
    if isinstance(resolution, bool) or int(resolution) != resolution or not 2 <= resolution <= 401:
        raise ValueError(f"resolution must be a whole number in [2, 401], got {resolution!r}")
    thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    pts = split.inverse_transform(problem.X_train)
    xs = _axis_range(pts[:, 0], int(resolution))
    if d == 1:
        ys = np.zeros(0)
        grid_raw = xs[:, None]
    else:
        ys = _axis_range(pts[:, 1], int(resolution))
        U, V = np.meshgrid(xs, ys)
        grid_raw = np.c_[U.reshape(-1), V.reshape(-1)]
    values = problem.predict(thetas, problem.transform(grid_raw))  # (F, G) or (F, G²)
    if d == 2:
        values = values.reshape(thetas.shape[0], len(ys), len(xs))
    names = data.feature_names
    return FitGrid(xs=xs, ys=ys, values=values, points=pts, targets=np.asarray(problem.y_train, dtype=np.float64),
                   test_points=split.inverse_transform(problem.X_test),
                   test_targets=np.asarray(problem.y_test, dtype=np.float64),
                   xlabel=names[0], ylabel=names[1] if d == 2 else "", target_label=data.target_names[0])


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
