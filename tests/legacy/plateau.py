"""Pre-refactor copy (the reference for tests/test_single_source.py). A narrow well in a wide plateau, where the gradient all but vanishes."""

from __future__ import annotations

import math

import numpy as np

from common.jit import kernel
from common.spec import Spec
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points, stack_hessian


@kernel
def _value_and_grad_kernel(P: np.ndarray, sp: np.ndarray, f: np.ndarray, G: np.ndarray) -> None:
    """Compiled twin of :meth:`Plateau.value_and_grad`; ``sp = (w²,)``."""
    w2 = sp[0]
    for i in range(f.shape[0]):
        x, y = P[0, i], P[1, i]
        g = math.exp(-(x * x + y * y) / (2.0 * w2))
        f[i] = 1.0 - g
        G[0, i] = g / w2 * x
        G[1, i] = g / w2 * y


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
    kernel = _value_and_grad_kernel
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

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = as_points(points)
        w2 = self.params["width"] ** 2
        with np.errstate(all="ignore"):
            g = np.exp(-np.einsum("...i,...i->...", p, p) / (2.0 * w2))
            return 1.0 - g, (g / w2)[..., None] * p

    def hessian(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        w2 = self.params["width"] ** 2
        with np.errstate(all="ignore"):
            g = np.exp(-(x * x + y * y) / (2.0 * w2)) / w2
            return stack_hessian(g * (1.0 - x * x / w2), -g * x * y / w2, g * (1.0 - y * y / w2))
