"""What theory says about GD and heavy ball on a quadratic: stability edges, optimal settings, rates.

On ``f(p) = ½ pᵀ A p`` with the Hessian's eigenvalues ``μ ≤ L`` (κ = L/μ) both
methods act on each eigen-direction separately, so everything follows from the
scalar recursions:

- gradient descent ``x ← (1 − ηλ) x`` contracts by ``max(|1 − ημ|, |1 − ηL|)``
  per step: stable for ``0 < η < 2/L``, fastest at ``η = 2/(μ+L)`` with rate
  ``(κ−1)/(κ+1)``;
- heavy ball ``x_{t+1} = x_t − η λ x_t + β (x_t − x_{t−1})`` has the characteristic
  polynomial ``z² − (1 + β − ηλ) z + β``. Its rate is the largest root modulus
  over both eigenvalues; it is stable for ``0 ≤ β < 1`` and
  ``0 < η < 2(1+β)/L``; Polyak's optimum ``η* = 4/(√L+√μ)²``,
  ``β* = ((√κ−1)/(√κ+1))²`` gives the rate ``√β* = (√κ−1)/(√κ+1)``.

Goh, "Why Momentum Really Works", Distill 2017, draws the same rate map.
``torch.optim.SGD(momentum=β)``, our ``momentum`` optimizer, is exactly this
heavy ball with ``η`` its learning rate. Pure numpy; no state.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def quadratic_curvatures(landscape: Any) -> tuple[float, float]:
    """``(μ, L)``: the smallest and largest eigenvalue of a quadratic landscape's constant Hessian.

    Raises
    ------
    ValueError
        If the landscape has no constant ``matrix`` (it is not a quadratic) or is not positive definite.
    """
    matrix = getattr(landscape, "matrix", None)
    if matrix is None:
        raise ValueError(f"{getattr(landscape, 'name', landscape)!r} is not a quadratic with a known Hessian")
    eig = np.linalg.eigvalsh(np.asarray(matrix, dtype=np.float64))
    mu, big = float(eig[0]), float(eig[-1])
    if not mu > 0:
        raise ValueError(f"the Hessian must be positive definite, got eigenvalues {eig.tolist()}")
    return mu, big


def gd_stable_lr(big: float) -> float:
    """The largest stable GD step ``2/L`` (the divergence edge)."""
    return 2.0 / big


def gd_optimal_lr(mu: float, big: float) -> float:
    """The fastest fixed GD step ``2/(μ+L)``."""
    return 2.0 / (mu + big)


def gd_rate(lr: Any, mu: float, big: float) -> np.ndarray:
    """Contraction per GD step ``max(|1 − ημ|, |1 − ηL|)``; ≥ 1 means no convergence. Same shape as ``lr``."""
    lr = np.asarray(lr, dtype=np.float64)
    return np.maximum(np.abs(1.0 - lr * mu), np.abs(1.0 - lr * big))


def _root_modulus(lr: np.ndarray, beta: np.ndarray, lam: float) -> np.ndarray:
    """Largest ``|z|`` with ``z² − (1 + β − ηλ) z + β = 0``."""
    a = 1.0 + beta - lr * lam
    disc = a * a - 4.0 * beta
    with np.errstate(invalid="ignore"):
        real = 0.5 * (np.abs(a) + np.sqrt(np.maximum(disc, 0.0)))
    # Complex roots are conjugates with product β, so both have modulus √β.
    return np.where(disc < 0, np.sqrt(np.maximum(beta, 0.0)), real)


def heavy_ball_rate(lr: Any, beta: Any, mu: float, big: float) -> np.ndarray:
    """Heavy ball's contraction per step at ``(η, β)``, broadcast over both; ≥ 1 means no convergence.

    Parameters
    ----------
    lr, beta : array_like
        Learning rate η and momentum β (broadcast together).
    mu, big : float
        The Hessian's extreme eigenvalues μ and L.

    Returns
    -------
    ndarray
        ``max over λ ∈ {μ, L}`` of the largest root modulus.
    """
    lr = np.asarray(lr, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    return np.maximum(_root_modulus(lr, beta, mu), _root_modulus(lr, beta, big))


def heavy_ball_stable(lr: Any, beta: Any, big: float) -> np.ndarray:
    """Whether heavy ball converges: ``0 ≤ β < 1`` and ``0 < η < 2(1+β)/L`` (broadcast)."""
    lr = np.asarray(lr, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    return (beta >= 0) & (beta < 1) & (lr > 0) & (lr < heavy_ball_edge(beta, big))


def heavy_ball_edge(beta: Any, big: float) -> np.ndarray:
    """The stability boundary ``η = 2(1+β)/L`` as a function of β."""
    return 2.0 * (1.0 + np.asarray(beta, dtype=np.float64)) / big


def polyak_optimum(mu: float, big: float) -> tuple[float, float, float]:
    """Polyak's heavy-ball optimum ``(η*, β*, rate)`` with rate ``(√κ−1)/(√κ+1)``."""
    sm, sl = np.sqrt(mu), np.sqrt(big)
    rate = float((sl - sm) / (sl + sm))
    return float(4.0 / (sl + sm) ** 2), rate * rate, rate
