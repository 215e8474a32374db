"""An ill-conditioned, rotated quadratic: the narrow trough (ravines, where GD zig-zags)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from common.spec import Spec
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once; ``q = (A00, A10, A01, A11)``.

    Written out rather than ``p @ A``: BLAS may fuse multiply-adds, and its rounding would then depend
    on the batch size.
    """
    a00, a10, a01, a11 = q
    gx = x * a00 + y * a10
    gy = x * a01 + y * a11
    return 0.5 * (x * gx + y * gy), gx, gy


def _hessian(x: Any, y: Any, q: tuple) -> tuple:
    """``(A00, A10, A11)``, the constant Hessian's entries as the gradient reads them (:meth:`NarrowTrough.hessian`
    returns ``A`` itself, a hair from symmetric; this form feeds the compiled diagonal)."""
    return q[0], q[1], q[3]


class NarrowTrough(Landscape):
    r"""``f(p) = ½ pᵀ A p`` with ``A = R(θ) diag(1, κ) R(θ)ᵀ``.

    The curvature is 1 along the trough's floor, which points at angle θ, and
    κ across it. Gradient descent is stable for ``lr < 2/κ``; its best fixed
    step ``2/(1+κ)`` contracts the distance to the minimum by ``(κ−1)/(κ+1)``
    per step. At θ = 0 the trough lies along the x axis, so per-coordinate
    methods (AdaGrad, RMSProp, Adam) rescale exactly the right directions;
    rotate it and that advantage goes away.

    Parameters
    ----------
    condition_number : float
        κ ≥ 1, the ratio of the largest to the smallest curvature.
    angle : float
        θ in degrees, direction of the trough's floor.
    """

    name = "narrow_trough"
    title = "Narrow trough (ill-conditioned quadratic)"
    latex = r"f(\mathbf{p}) = \tfrac12\,\mathbf{p}^\top R_\theta \begin{pmatrix}1&0\\0&\kappa\end{pmatrix} R_\theta^\top \mathbf{p}"
    lesson = "Ill-conditioning: GD zig-zags across the trough; adaptive methods help only when it is axis-aligned."
    demo = ({"name": "gd", "lr": 0.09}, {"name": "momentum", "lr": 0.03, "momentum": 0.7}, {"name": "adam", "lr": 0.1})
    log_scale = True
    formula = _formula
    hessian_formula = _hessian
    specs = (
        Spec(
            "condition_number", 20.0, low=1.0, high=1000.0, log=True,
            help="Ratio of the steepest to the flattest curvature (κ); GD needs lr < 2/κ.", label="κ",
        ),
        Spec(
            "angle", 30.0, low=-90.0, high=90.0,
            help="Direction of the trough in degrees; 0 aligns it with the x axis.", label="θ (°)",
        ),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        theta = math.radians(self.params["angle"])
        c, s = math.cos(theta), math.sin(theta)
        rot = np.array([[c, -s], [s, c]])
        self._rot = rot
        self._matrix = rot @ np.diag([1.0, self.condition_number]) @ rot.T
        m = self._matrix
        #: ``(A00, A10, A01, A11)``, read by :meth:`value_and_grad` and, as :meth:`kernel_params`, by the kernel.
        self._entries = (float(m[0, 0]), float(m[1, 0]), float(m[0, 1]), float(m[1, 1]))

    # -- conditioning ---------------------------------------------------------
    @property
    def condition_number(self) -> float:
        """κ = largest / smallest curvature."""
        return float(self.params["condition_number"])

    @property
    def curvatures(self) -> tuple[float, float]:
        """``(λ_min, λ_max)``, the Hessian's eigenvalues."""
        return (1.0, self.condition_number)

    @property
    def matrix(self) -> np.ndarray:
        """The constant Hessian ``A``, shape (2, 2)."""
        return self._matrix.copy()

    @property
    def optimal_lr(self) -> float:
        """Best fixed GD step ``2 / (λ_min + λ_max)``."""
        lo, hi = self.curvatures
        return 2.0 / (lo + hi)

    @property
    def optimal_rate(self) -> float:
        """Contraction per GD step at :attr:`optimal_lr`: ``(κ−1)/(κ+1)``."""
        k = self.condition_number
        return (k - 1.0) / (k + 1.0)

    # -- geometry --------------------------------------------------------------
    @property
    def bounds(self) -> Bounds:
        return ((-3.0, 3.0), (-3.0, 3.0))

    @property
    def minima(self) -> list[CriticalPoint]:
        return [CriticalPoint((0.0, 0.0), 0.0, "global")]

    def _along(self, floor: float, across: float) -> tuple[float, float]:
        p = self._rot @ np.array([floor, across])
        return (float(p[0]), float(p[1]))

    @property
    def start(self) -> tuple[float, float]:
        return self._along(-2.5, 0.6)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "up the trough, just off the floor": self.start,
            "on the steep wall": self._along(-0.3, 1.2),
            "on the floor: only the flat way left": self._along(-2.5, 0.0),
        }

    # -- numerics --------------------------------------------------------------
    def kernel_params(self) -> np.ndarray:
        """``(A00, A10, A01, A11)``: the entries of the Hessian ``A`` that the gradient ``pᵀA`` reads."""
        return np.array(self._entries, dtype=np.float64)

    def hessian(self, points: np.ndarray) -> np.ndarray:
        # The matrix itself, which rounding leaves a hair from symmetric (A01 vs A10), as the gradient reads it.
        p = as_points(points)
        return np.broadcast_to(self._matrix, (*p.shape[:-1], 2, 2)).copy()
