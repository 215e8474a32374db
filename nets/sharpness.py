"""Sharpness: the top eigenvalues of the full-batch loss Hessian, for k networks at once.

Under full-batch gradient descent with rate η the sharpness (the largest
eigenvalue) rises until it reaches about 2/η and then hovers there: the edge
of stability (Cohen et al., 2021, "Gradient Descent on Neural Networks
Typically Occurs at the Edge of Stability"). On a quadratic, GD is stable only
while λmax < 2/η, so 2/η is the line to draw beside it.

The eigenvalues come from the Lanczos iteration (with full
reorthogonalization) on Hessian–vector products, for all k networks in one
batch. Each product is a central difference of the analytic gradient of
:mod:`nets.mlp`'s hand-written backprop,

.. math::
    H v \\approx \\frac{\\nabla L(\\theta + h v) - \\nabla L(\\theta - h v)}{2h},

whose error is O(h²) (about 1e-9 relative at h = 1e-4 for a unit v), so one
Lanczos step costs one batched gradient of 2k networks.
"""

from __future__ import annotations

import numpy as np

from nets.mlp import Workspace
from nets.problem import NetProblem
from optimizers.curvature import HVP_STEP
from optimizers.curvature import central_hvp as _hvp
from optimizers.runner import Trajectory


def _gradient_fn(problem: NetProblem):
    """``theta (m, P) -> gradient (m, P)`` of the full training objective, always in float64."""
    Xa = problem._Xa_train.astype(np.float64, copy=False)
    Y = problem.Y_train.astype(np.float64, copy=False)
    work = Workspace()
    chunk = problem._chunk(Xa.shape[1])
    mlp = problem.mlp

    def grads(theta: np.ndarray) -> np.ndarray:
        out = np.empty_like(theta)
        for lo in range(0, theta.shape[0], chunk):
            out[lo:lo + chunk] = mlp.value_and_grad(theta[lo:lo + chunk], Xa, Y, True, work)[1]
        return out

    return grads


def hessian_vector_products(problem: NetProblem, theta: np.ndarray, vectors: np.ndarray,
                            step: float = HVP_STEP) -> np.ndarray:
    """``H(θᵢ) vᵢ`` for each row, by central differences of the analytic gradient.

    Parameters
    ----------
    problem : NetProblem
    theta, vectors : ndarray, shape (k, P)
    step : float
        ``h``, applied along ``vᵢ / ‖vᵢ‖`` and scaled back.

    Returns
    -------
    ndarray, shape (k, P)
    """
    theta = problem._check(theta)
    v = np.asarray(vectors, dtype=np.float64).reshape(theta.shape)
    return _hvp(_gradient_fn(problem), theta, v, step)


def sharpness(problem: NetProblem, theta: np.ndarray, n: int = 1, *, tol: float = 1e-6,
              max_iter: int | None = None, seed: int = 0) -> np.ndarray:
    """The top ``n`` eigenvalues of the full-batch loss Hessian at each row of ``theta``.

    Parameters
    ----------
    problem : NetProblem
        Its training rows define the loss (L2 term included).
    theta : ndarray, shape (k, P)
        One network per row.
    n : int
        How many of the largest eigenvalues, ``1 <= n <= P``.
    tol : float
        Stop when every wanted Ritz value's residual bound is below
        ``tol · max|Ritz value|`` for every network.
    max_iter : int, optional
        Lanczos steps at most (default: P, where the iteration is exact).
    seed : int
        Seeds the starting vectors.

    Returns
    -------
    ndarray, shape (k, n)
        Largest first.

    Raises
    ------
    ValueError
        On a bad ``n``, ``tol``, ``max_iter`` or ``theta`` shape.
    """
    theta = problem._check(theta)
    k, P = theta.shape
    if isinstance(n, bool) or int(n) != n or not 1 <= n <= P:
        raise ValueError(f"n must be a whole number in [1, {P}] (the number of parameters), got {n!r}")
    if not (tol > 0 and np.isfinite(tol)):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    m_max = P if max_iter is None else int(max_iter)
    if not n <= m_max <= P:
        raise ValueError(f"max_iter must be in [{n}, {P}], got {max_iter!r}")
    if not np.isfinite(theta).all():
        raise ValueError("theta must be finite; a diverged network has no curvature to measure")
    n = int(n)
    grads = _gradient_fn(problem)
    with np.errstate(all="ignore"):
        return _lanczos(lambda v, rows: _hvp(grads, theta[rows], v, HVP_STEP), k, P, n, m_max, tol, seed)


def _lanczos(matvec, k: int, P: int, n: int, m_max: int, tol: float, seed: int) -> np.ndarray:
    """Batched Lanczos with full reorthogonalization: the top ``n`` Ritz values ``(k, n)``.

    ``matvec(v, rows)`` multiplies ``v`` ``(len(rows), P)`` by the Hessians of networks ``rows``. A
    network leaves the batch once its values have converged, so a batch costs what its networks need
    on average, not what the slowest one needs.
    """
    rng = np.random.default_rng(seed)
    Q = np.zeros((k, m_max + 1, P))
    q = rng.standard_normal((k, P))
    Q[:, 0] = q / np.linalg.norm(q, axis=1, keepdims=True)
    alpha = np.zeros((k, m_max))
    beta = np.zeros((k, m_max))
    result = np.full((k, n), np.nan)
    live = np.arange(k)
    for j in range(m_max):
        Ql = Q[live, :j + 2]
        w = matvec(Ql[:, j], live)
        alpha[live, j] = np.einsum("kp,kp->k", w, Ql[:, j])
        # Twice is enough (Kahan): keeps the basis orthogonal to rounding.
        for _ in range(2):
            w -= np.einsum("kj,kjp->kp", np.einsum("kjp,kp->kj", Ql[:, :j + 1], w), Ql[:, :j + 1])
        b = np.linalg.norm(w, axis=1)
        beta[live, j] = b
        m = j + 1
        Q[live, m] = w / np.where(b > 0, b, 1.0)[:, None]
        if m < n:
            continue
        T = np.zeros((live.size, m, m))
        diag, off = np.arange(m), np.arange(m - 1)
        T[:, diag, diag] = alpha[live, :m]
        T[:, off, off + 1] = beta[live, :m - 1]
        T[:, off + 1, off] = beta[live, :m - 1]
        ritz, S = np.linalg.eigh(T)
        top = ritz[:, ::-1][:, :n]
        bound = np.abs(b[:, None] * S[:, -1, ::-1][:, :n])
        scale = np.maximum(np.abs(ritz).max(axis=1), 1e-300)
        # b ≈ 0 is an invariant subspace: the Ritz values are exact.
        fresh = (bound <= tol * scale[:, None]).all(axis=1) | (b <= 1e-12 * scale) | (m == m_max)
        result[live[fresh]] = top[fresh]
        live = live[~fresh]
        if live.size == 0:
            break
    return result


def sharpness_along(problem: NetProblem, trajectory: Trajectory, n: int = 1, *, every: int = 1,
                    **kw) -> tuple[np.ndarray, np.ndarray]:
    """The sharpness at a trajectory's recorded epochs, all records and networks in one batch.

    Parameters
    ----------
    problem : NetProblem
    trajectory : Trajectory
        From :func:`nets.train`; ``params`` of shape ``(R, k, P)``.
    n : int
    every : int
        Use every this many records (the last one always).
    **kw
        Passed to :func:`sharpness`.

    Returns
    -------
    steps : ndarray of int, shape (R',)
        The optimizer steps of the records used.
    values : ndarray, shape (R', k, n)
        NaN where a network's parameters are not finite.
    """
    if isinstance(every, bool) or int(every) != every or every < 1:
        raise ValueError(f"every must be a whole number >= 1, got {every!r}")
    R, k, P = trajectory.params.shape
    idx = np.unique(np.r_[np.arange(0, R, int(every)), R - 1])
    flat = trajectory.params[idx].reshape(-1, P)
    out = np.full((flat.shape[0], n), np.nan)
    ok = np.isfinite(flat).all(axis=1)
    if ok.any():
        out[ok] = sharpness(problem, flat[ok], n, **kw)
    return trajectory.steps[idx], out.reshape(len(idx), k, n)
