"""A narrow well in a wide plateau, where the gradient all but vanishes."""

from __future__ import annotations

from typing import Any

import numpy as np

from common import ops
from common.spec import Spec
from landscapes.base import Bounds, CriticalPoint, Landscape


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once; ``q = (w²,)``."""
    w2 = q[0]
    g = ops.exp(-(x * x + y * y) / (2.0 * w2))
    return 1.0 - g, g / w2 * x, g / w2 * y


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``; ``q = (w²,)``."""
    w2 = q[0]
    g = ops.exp(-(x * x + y * y) / (2.0 * w2)) / w2
    return g * (1.0 - x * x / w2), -g * x * y / w2, g * (1.0 - y * y / w2)


class Plateau(Landscape):
    r"""``f(x, y) = 1 − exp(−(x^2 + y^2) / (2w^2))``.

    A well of width ``w`` at the origin (value 0, curvature ``1/w^2``) in a
    plateau at height 1. The gradient ``r/w^2 · exp(−r^2/(2w^2))`` falls off
    like a Gaussian: at ``r = 5w`` it is about ``3·10⁻⁵/w``, so a
    fixed-step method barely moves, while methods that divide by the gradient's
    size (RMSProp, Adam) keep a step of about ``lr``. Far enough out the
    gradient drops under any tolerance, and a gradient-norm stopping rule
    wrongly calls the run converged.

    Parameters
    ----------
    width : float
        ``w``, the well's radius; smaller makes the plateau wider and flatter.
    """

    name = "plateau"
    title = "Plateau"
    latex = r"f(x,y) = 1 - \exp\!\left(-\frac{x^2+y^2}{2w^2}\right)"
    lesson = "Flat regions: the gradient vanishes, so GD stalls while Adam's normalised step keeps moving."
    formula = _formula
    hessian_formula = _hessian
    specs = (
        Spec(
            "width", 0.6, low=0.1, high=3.0, log=True,
            help="Radius of the well; smaller makes the plateau around it wider and flatter.", label="w",
        ),
    )

    @property
    def bounds(self) -> Bounds:
        return ((-3.5, 3.5), (-3.5, 3.5))

    @property
    def minima(self) -> list[CriticalPoint]:
        return [CriticalPoint((0.0, 0.0), 0.0, "global")]

    @property
    def start(self) -> tuple[float, float]:
        return (2.6, 1.3)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "on the plateau": self.start,
            "on the well's rim": (1.0, 0.6),
            "far corner: looks converged": (-3.3, -3.3),
        }

    def kernel_params(self) -> np.ndarray:
        """``(w²,)``, squared in Python exactly as :meth:`value_and_grad` squares it."""
        return np.array([self.params["width"] ** 2], dtype=np.float64)

