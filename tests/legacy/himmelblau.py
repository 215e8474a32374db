"""Pre-refactor copy (the reference for tests/test_single_source.py). Himmelblau's function: four equal minima, so the start decides the answer."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from common.jit import kernel
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points, critical_points, stack_grad, stack_hessian

# Printed approximations (e.g. Himmelblau 1972; Wikipedia), polished by Newton.
_GUESSES = [
    ((3.0, 2.0), "global"),
    ((-2.805118, 3.131312), "global"),
    ((-3.779310, -3.283186), "global"),
    ((3.584428, -1.848126), "global"),
    ((3.385154, 0.073852), "saddle"),
    ((0.086678, 2.884254), "saddle"),
    ((-3.073026, -0.081353), "saddle"),
    ((-0.127961, -1.953715), "saddle"),
]


@kernel
def _value_and_grad_kernel(P: np.ndarray, sp: np.ndarray, f: np.ndarray, G: np.ndarray) -> None:
    """Compiled twin of :meth:`Himmelblau.value_and_grad`; ``sp`` is empty."""
    for i in range(f.shape[0]):
        x, y = P[0, i], P[1, i]
        u = x * x + y - 11.0
        v = x + y * y - 7.0
        f[i] = u * u + v * v
        G[0, i] = 4.0 * x * u + 2.0 * v
        G[1, i] = 2.0 * u + 4.0 * y * v


class Himmelblau(Landscape):
    r"""``f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2``.

    Four global minima with value 0, four saddles between them, and a local
    maximum near ``(−0.2708, −0.9230)`` (not listed: it is not a place a
    descent method stops).
    """

    name = "himmelblau"
    title = "Himmelblau's function"
    latex = r"f(x,y) = (x^2+y-11)^2 + (x+y^2-7)^2"
    lesson = "Several equally good minima: which one you reach depends only on where you start."
    log_scale = True
    kernel = _value_and_grad_kernel

    @property
    def bounds(self) -> Bounds:
        return ((-5.0, 5.0), (-5.0, 5.0))

    @cached_property
    def minima(self) -> list[CriticalPoint]:
        return critical_points(self, _GUESSES)

    @property
    def start(self) -> tuple[float, float]:
        return (-0.5, -0.5)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "beside the hilltop": self.start,
            "near the top edge": (0.0, 4.5),
            "between two basins": (-3.0, 0.2),
            "lower right": (4.5, -4.5),
        }

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        with np.errstate(all="ignore"):
            u = x * x + y - 11.0
            v = x + y * y - 7.0
            return u * u + v * v, stack_grad(4.0 * x * u + 2.0 * v, 2.0 * u + 4.0 * y * v)

    def value(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        with np.errstate(all="ignore"):
            return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2

    def hessian(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        with np.errstate(all="ignore"):
            hxx = 12.0 * x * x + 4.0 * y - 42.0
            hyy = 12.0 * y * y + 4.0 * x - 26.0
            return stack_hessian(hxx, 4.0 * (x + y), hyy)
