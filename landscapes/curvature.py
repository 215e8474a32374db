"""The curvature a path meets: Hessian eigenvalues along it, a map of where a surface is a bowl or a saddle,
and the error split into the Hessian's eigendirections (Distill's "milestones").

Pure numerics on :class:`~landscapes.base.Landscape` and recorded paths; no plotting, no streamlit.
Eigenvalues come in ascending order, ``(..., 2)`` = ``(λmin, λmax)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from landscapes.base import Landscape, as_points

#: Kinds of curvature, by code: what :func:`classify` returns and :func:`curvature_map` shades.
POSITIVE_DEFINITE, INDEFINITE, NEGATIVE_DEFINITE, DEGENERATE = 0, 1, 2, 3
KINDS: dict[int, str] = {
    POSITIVE_DEFINITE: "a bowl",
    INDEFINITE: "a saddle",
    NEGATIVE_DEFINITE: "a hilltop",
    DEGENERATE: "flat in one direction",
}
#: An eigenvalue below this fraction of the larger one (in size) counts as zero.
ZERO_RTOL = 1e-6
#: ... and so does one below this, whatever the other.
ZERO_ATOL = 1e-12


def hessian_eigenvalues(landscape: Landscape, points: np.ndarray) -> np.ndarray:
    """``(λmin, λmax)`` of the Hessian at each point, by ``numpy.linalg.eigvalsh`` on the whole stack.

    Parameters
    ----------
    landscape : Landscape
    points : array_like, shape (..., 2)
        Non-finite points (a diverged run) give NaN.

    Returns
    -------
    ndarray, shape (..., 2)
        Ascending.
    """
    p = as_points(points)
    ok = np.isfinite(p).all(axis=-1)
    with np.errstate(all="ignore"):
        H = landscape.hessian(np.where(ok[..., None], p, 0.0))
    good = ok & np.isfinite(H).all(axis=(-2, -1))
    H = np.where(good[..., None, None], H, 0.0)
    eig = np.linalg.eigvalsh(H)
    eig[~good] = np.nan
    return eig


def classify(eigenvalues: np.ndarray) -> np.ndarray:
    """The kind of curvature for eigenvalue pairs ``(..., 2)`` (ascending): codes of :data:`KINDS`.

    An eigenvalue counts as zero when it is below :data:`ZERO_RTOL` of the
    larger one in size, or below :data:`ZERO_ATOL`; then the point is
    :data:`DEGENERATE`. NaN pairs give ``-1``.

    Returns
    -------
    ndarray of int8, shape (...)
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    lo, hi = lam[..., 0], lam[..., 1]
    with np.errstate(invalid="ignore"):
        size = np.maximum(np.abs(lo), np.abs(hi))
        tol = np.maximum(ZERO_RTOL * size, ZERO_ATOL)
        zero = (np.abs(lo) <= tol) | (np.abs(hi) <= tol)
        out = np.full(lo.shape, DEGENERATE, dtype=np.int8)
        out[~zero & (lo > 0)] = POSITIVE_DEFINITE
        out[~zero & (hi < 0)] = NEGATIVE_DEFINITE
        out[~zero & (lo < 0) & (hi > 0)] = INDEFINITE
    out[np.isnan(lo) | np.isnan(hi)] = -1
    return out


def path_eigenvalues(landscape: Landscape, params: np.ndarray) -> np.ndarray:
    """Hessian eigenvalues at every recorded point of a trajectory.

    Parameters
    ----------
    params : ndarray, shape (R, k, 2)
        ``Trajectory.params``.

    Returns
    -------
    ndarray, shape (R, k, 2)
        ``(λmin, λmax)`` at each record and run.
    """
    return hessian_eigenvalues(landscape, params)


def _number(x: float) -> str:
    """``4.0``, ``−2.0``, ``1.2e+03``, ``3.0e−05``: one decimal in a readable range, else two significant digits."""
    if not math.isfinite(x):
        return str(x)
    text = f"{x:.1f}" if x == 0 or 0.05 <= abs(x) < 1000 else f"{x:.1e}"
    return text.replace("-", "−")


def readout(step: int, lam_min: float, lam_max: float) -> str:
    """One line for the current frame, e.g. ``"step 120: λ = (−2.0, 4.0), a saddle"``.

    Parameters
    ----------
    step : int
    lam_min, lam_max : float
        The Hessian's eigenvalues there (NaN: the run has no point).
    """
    lam = np.array([[lam_min, lam_max]], dtype=np.float64)
    code = int(classify(np.sort(lam, axis=-1))[0])
    if code < 0:
        return f"step {step}: no curvature (the point is not finite)"
    return f"step {step}: λ = ({_number(float(lam_min))}, {_number(float(lam_max))}), {KINDS[code]}"


@dataclass(frozen=True)
class CurvatureMap:
    """The kind of curvature on a grid over a window, for shading a map.

    Attributes
    ----------
    xs : ndarray, shape (nx,)
    ys : ndarray, shape (ny,)
    eigenvalues : ndarray, shape (ny, nx, 2)
    kinds : ndarray of int8, shape (ny, nx)
        Codes of :data:`KINDS` (``-1`` where the Hessian is not finite).
    """

    xs: np.ndarray
    ys: np.ndarray
    eigenvalues: np.ndarray
    kinds: np.ndarray

    def share(self, code: int) -> float:
        """Fraction of the grid of one kind."""
        return float(np.mean(self.kinds == code))


def curvature_map(landscape: Landscape, resolution: int = 120,
                  bounds: tuple[tuple[float, float], tuple[float, float]] | None = None) -> CurvatureMap:
    """Classify the Hessian on a ``resolution × resolution`` grid over ``bounds`` (the surface's window).

    Raises
    ------
    ValueError
        When ``resolution`` is not a whole number in [2, 2000].
    """
    if isinstance(resolution, bool) or int(resolution) != resolution or not 2 <= resolution <= 2000:
        raise ValueError(f"resolution must be a whole number in [2, 2000], got {resolution!r}")
    (x0, x1), (y0, y1) = bounds if bounds is not None else landscape.bounds
    xs, ys = np.linspace(x0, x1, int(resolution)), np.linspace(y0, y1, int(resolution))
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    eig = hessian_eigenvalues(landscape, grid)
    return CurvatureMap(xs, ys, eig, classify(eig))


@dataclass(frozen=True)
class EigenSplit:
    """The error ``p − p*`` in the eigenbasis of the Hessian at a minimum ``p*``.

    Attributes
    ----------
    minimum : ndarray, shape (2,)
    eigenvalues : ndarray, shape (2,)
        Ascending: the flattest direction first.
    directions : ndarray, shape (2, 2)
        Column ``i`` is the unit eigenvector of ``eigenvalues[i]``.
    components : ndarray, shape (R, k, 2)
        ``qᵢᵀ (p − p*)`` at each record and run.
    loss_parts : ndarray, shape (R, k, 2)
        ``½ λᵢ cᵢ²``: on a quadratic they add up to ``f − f*`` (Distill's "milestones").
    """

    minimum: np.ndarray
    eigenvalues: np.ndarray
    directions: np.ndarray
    components: np.ndarray
    loss_parts: np.ndarray


def eigen_split(landscape: Landscape, params: np.ndarray, minimum: tuple[float, float] | None = None) -> EigenSplit:
    """Split the error along a path into the Hessian's eigendirections at the minimum.

    On the narrow trough (a quadratic) the split is exact: under gradient
    descent with rate η each component shrinks by ``1 − ηλᵢ`` per step, so the
    steep direction settles first and the flat one last.

    Parameters
    ----------
    landscape : Landscape
    params : ndarray, shape (R, k, 2)
        ``Trajectory.params``.
    minimum : tuple of float, optional
        ``p*``; the surface's first global minimum by default.

    Raises
    ------
    ValueError
        When no minimum is given and the surface lists no global minimum.
    """
    if minimum is None:
        found = [c.point for c in landscape.minima if c.kind == "global"]
        if not found:
            raise ValueError(f"{landscape.name} lists no global minimum; pass minimum=(x, y)")
        minimum = found[0]
    star = np.asarray(minimum, dtype=np.float64)
    lam, vec = np.linalg.eigh(landscape.hessian(star))
    with np.errstate(all="ignore"):
        comps = (np.asarray(params, dtype=np.float64) - star) @ vec
        parts = 0.5 * lam * comps * comps
    return EigenSplit(star, lam, vec, comps, parts)
