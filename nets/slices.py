"""Loss landscapes of a network: 2-D slices and 1-D interpolations, evaluated as one batch of networks.

* :func:`slice_2d` -- the loss on the plane ``θ* + α d₁ + β d₂``, with ``d₁, d₂``
  either random and *filter-normalised* (Li et al., 2018, "Visualizing the Loss
  Landscape of Neural Nets": each neuron's part of a random direction is
  rescaled to the norm of that neuron's incoming weights), or the top two
  principal directions of recorded training paths (Li et al., section 7).
  Recorded paths are projected onto the plane.
* :func:`interpolate_1d` -- the loss on the segment ``(1-α) θ₀ + α θ₁``
  (Goodfellow, Vinyals & Saxe, 2015, "Qualitatively characterizing neural
  network optimization problems").

The grid points are stacked into one ``(m, P)`` array and go through the same
batched forward pass as training, so a 41×41 slice is one call on 1681 networks.
Everything returned is a plain array for a pure figure builder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets.problem import NetProblem

MAX_RESOLUTION = 101
CHUNK = 4096  # networks per forward pass: bounds memory on big grids


@dataclass(frozen=True)
class Slice2D:
    """A 2-D loss slice.

    Attributes
    ----------
    alphas : ndarray, shape (na,)
        Coordinates along ``d1`` (x axis); 0 is the centre.
    betas : ndarray, shape (nb,)
        Coordinates along ``d2`` (y axis).
    Z : ndarray, shape (nb, na)
        Training objective at ``center + alphas[j] d1 + betas[i] d2`` (row i, column j).
    center : ndarray, shape (P,)
    d1, d2 : ndarray, shape (P,)
    center_value : float
    paths : list of ndarray, each (R, 2)
        Each given path projected on the plane (least-squares coordinates).
    path_values : list of ndarray, each (R,)
        The true loss along each path (the plane's Z at the projected point
        may differ: the path leaves the plane).
    residual : list of ndarray, each (R,)
        Distance of each path point from the plane, relative to ``‖θ − center‖``.
    method : str
        ``"random"`` or ``"pca"``.
    explained : tuple of float
        For ``"pca"``: share of the path variance along d1 and d2.
    """

    alphas: np.ndarray
    betas: np.ndarray
    Z: np.ndarray
    center: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    center_value: float
    paths: list[np.ndarray]
    path_values: list[np.ndarray]
    residual: list[np.ndarray]
    method: str
    explained: tuple[float, float] = (float("nan"), float("nan"))


def batched_values(problem: NetProblem, thetas: np.ndarray) -> np.ndarray:
    """Training objective for many networks ``(m, P) -> (m,)``, in chunks of :data:`CHUNK`."""
    thetas = np.asarray(thetas, dtype=np.float64)
    out = np.empty(thetas.shape[0])
    for lo in range(0, thetas.shape[0], CHUNK):
        out[lo:lo + CHUNK] = problem.value(thetas[lo:lo + CHUNK])
    return out


def filter_normalized_direction(problem: NetProblem, theta: np.ndarray, rng: np.random.Generator,
                                biases: str = "zero") -> np.ndarray:
    """A random direction ``(P,)`` scaled neuron by neuron to the norms in ``theta``.

    For every unit j of every layer, the direction's incoming weights ``d_j``
    become ``d_j / ‖d_j‖ · ‖w_j‖`` (Li et al. 2018, filter normalisation with a
    "filter" = one unit). ``biases="zero"`` sets the bias entries to 0, as Li
    et al. do; ``"keep"`` treats a unit's bias as part of its filter.
    """
    if biases not in ("zero", "keep"):
        raise ValueError(f"biases must be 'zero' or 'keep', got {biases!r}")
    d = rng.standard_normal(problem.n_params)
    for ls in problem.layer_slices:
        W = theta[ls.weights].reshape(ls.n_in, ls.n_out)
        D = d[ls.weights].reshape(ls.n_in, ls.n_out)
        if biases == "keep":
            W = np.vstack([W, theta[ls.bias]])
            D = np.vstack([D, d[ls.bias]])
        w_norm = np.linalg.norm(W, axis=0)
        d_norm = np.linalg.norm(D, axis=0)
        D = D * np.divide(w_norm, d_norm, out=np.zeros_like(w_norm), where=d_norm > 0)
        d[ls.weights] = D[: ls.n_in].ravel()
        d[ls.bias] = D[ls.n_in] if biases == "keep" else 0.0
        if ls.gamma is not None:  # Li et al. leave batch-norm scales and shifts out of the directions
            d[ls.gamma] = d[ls.beta] = 0.0
    return d


def _pca_directions(center: np.ndarray, paths: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    M = np.concatenate([p - center for p in paths], axis=0)
    if M.shape[0] < 2:
        raise ValueError("PCA directions need at least two recorded points on the paths")
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    total = float((s * s).sum())
    if Vt.shape[0] < 2 or total == 0 or s[1] <= 1e-12 * s[0]:
        raise ValueError("the recorded paths span less than two directions; use directions='random'")
    explained = (float(s[0] ** 2 / total), float(s[1] ** 2 / total))
    return Vt[0], Vt[1], explained


def _project(center: np.ndarray, d1: np.ndarray, d2: np.ndarray, path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    D = np.stack([d1, d2], axis=1)  # (P, 2)
    rel = path - center
    coef, *_ = np.linalg.lstsq(D, rel.T, rcond=None)
    coef = coef.T
    off = np.linalg.norm(rel - coef @ D.T, axis=1)
    size = np.linalg.norm(rel, axis=1)
    residual = np.divide(off, size, out=np.zeros_like(off), where=size > 0)
    return coef, residual


def slice_2d(
    problem: NetProblem,
    center: np.ndarray,
    *,
    directions: str = "random",
    paths: list[np.ndarray] | np.ndarray | None = None,
    span: float | tuple[float, float] = 1.0,
    resolution: int = 41,
    seed: int = 0,
    biases: str = "zero",
) -> Slice2D:
    """The training loss on a plane through ``center``.

    Parameters
    ----------
    problem : NetProblem
    center : ndarray, shape (P,)
        E.g. the final parameters of one run.
    directions : {"random", "pca"}
        ``"random"``: two filter-normalised Gaussian directions (seeded).
        ``"pca"``: the top two principal directions of ``paths - center``.
    paths : list of ndarray (R, P), or ndarray (R, k, P), optional
        Recorded parameters (``trajectory.params``) to project; needed for PCA.
    span : float or (float, float)
        Half-width of the grid along d1 and d2, in units of the direction.
        For PCA directions (unit vectors), ``None``-like spans are scaled so
        the projected paths fit: the grid covers ``span`` × their extent.
    resolution : int
        Odd number of grid points per axis (so the centre is on the grid), 3..101.
    seed : int
        For the random directions.
    biases : {"zero", "keep"}
        Bias entries of random directions: zero (Li et al.) or normalised with their unit.

    Returns
    -------
    Slice2D
    """
    if directions not in ("random", "pca"):
        raise ValueError(f"directions must be 'random' or 'pca', got {directions!r}")
    if int(resolution) != resolution or resolution % 2 == 0 or not 3 <= resolution <= MAX_RESOLUTION:
        raise ValueError(f"resolution must be an odd whole number in [3, {MAX_RESOLUTION}], got {resolution!r}")
    span_a, span_b = (span, span) if np.isscalar(span) else span
    if not (span_a > 0 and span_b > 0):
        raise ValueError(f"span must be > 0, got {span!r}")
    center = np.asarray(center, dtype=np.float64).reshape(-1)
    if center.size != problem.n_params:
        raise ValueError(f"center must have {problem.n_params} entries for this network, got {center.size}")
    path_list = _as_paths(paths, problem.n_params)
    explained = (float("nan"), float("nan"))
    if directions == "random":
        rng = np.random.default_rng([int(seed), 0x511CE])
        d1 = filter_normalized_direction(problem, center, rng, biases)
        d2 = filter_normalized_direction(problem, center, rng, biases)
        if not (np.any(d1) and np.any(d2)):
            raise ValueError("the centre has all-zero weights, so filter-normalised directions are 0; "
                             "slice through trained parameters")
        scale_a, scale_b = span_a, span_b
    else:
        if not path_list:
            raise ValueError("directions='pca' needs the recorded paths (trajectory.params)")
        d1, d2, explained = _pca_directions(center, path_list)
        coords = np.concatenate([_project(center, d1, d2, p)[0] for p in path_list])
        # PCA directions are unit vectors: size the grid to the projected paths.
        ext = np.abs(coords).max(axis=0)
        ext = np.where(ext > 0, ext, 1.0)
        scale_a, scale_b = span_a * 1.2 * ext[0], span_b * 1.2 * ext[1]
    m = int(resolution)
    unit = np.linspace(-1.0, 1.0, m)
    unit[m // 2] = 0.0
    alphas, betas = scale_a * unit, scale_b * unit
    A, B = np.meshgrid(alphas, betas)  # (nb, na)
    thetas = center[None, :] + A.reshape(-1, 1) * d1[None, :] + B.reshape(-1, 1) * d2[None, :]
    Z = batched_values(problem, thetas).reshape(m, m)
    projected, values, residual = [], [], []
    for p in path_list:
        coef, res = _project(center, d1, d2, p)
        projected.append(coef)
        residual.append(res)
        values.append(batched_values(problem, p))
    return Slice2D(alphas, betas, Z, center, d1, d2, float(Z[m // 2, m // 2]), projected, values, residual,
                   directions, explained)


def _as_paths(paths: list[np.ndarray] | np.ndarray | None, P: int) -> list[np.ndarray]:
    if paths is None:
        return []
    if isinstance(paths, np.ndarray) and paths.ndim == 3:
        paths = [paths[:, j, :] for j in range(paths.shape[1])]
    out = []
    for p in paths:
        p = np.asarray(p, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != P:
            raise ValueError(f"each path must have shape (R, {P}), got {p.shape}")
        out.append(p)
    return out


def interpolate_1d(
    problem: NetProblem,
    theta0: np.ndarray,
    theta1: np.ndarray,
    *,
    num: int = 51,
    lo: float = -0.5,
    hi: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss along the line from ``theta0`` (α = 0) to ``theta1`` (α = 1), Goodfellow et al. 2015.

    Parameters
    ----------
    problem : NetProblem
    theta0, theta1 : ndarray, shape (P,) or (k, P)
        Start and end (e.g. ``trajectory.params[0]`` and ``[-1]``), one line per row.
    num : int
        Points on ``[lo, hi]``; 0 and 1 are always included.
    lo, hi : float
        Range of α, ``lo <= 0`` and ``hi >= 1``.

    Returns
    -------
    alphas : ndarray, shape (m,)
    values : ndarray, shape (k, m)
        ``values[:, alphas == 0]`` is the loss at ``theta0``; ``alphas == 1`` at ``theta1``.
    """
    if not (lo <= 0.0 and hi >= 1.0):
        raise ValueError(f"need lo <= 0 and hi >= 1 so both end points are on the line, got lo={lo}, hi={hi}")
    if int(num) != num or not 2 <= num <= 1001:
        raise ValueError(f"num must be a whole number in [2, 1001], got {num!r}")
    t0 = np.atleast_2d(np.asarray(theta0, dtype=np.float64))
    t1 = np.atleast_2d(np.asarray(theta1, dtype=np.float64))
    if t0.shape != t1.shape or t0.shape[1] != problem.n_params:
        raise ValueError(f"theta0 and theta1 must both have shape (k, {problem.n_params}), got {t0.shape} and {t1.shape}")
    alphas = np.union1d(np.linspace(lo, hi, int(num)), [0.0, 1.0])
    a = alphas[None, :, None]
    thetas = (1.0 - a) * t0[:, None, :] + a * t1[:, None, :]  # (k, m, P); exact at α = 0 and 1
    k, m = thetas.shape[:2]
    values = batched_values(problem, thetas.reshape(k * m, -1)).reshape(k, m)
    return alphas, values
