"""Pre-refactor copy (the reference for tests/test_single_source.py). The monkey saddle: a degenerate saddle with three ways down."""

from __future__ import annotations

import numpy as np

from common.jit import kernel
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points, stack_grad, stack_hessian


@kernel
def _value_and_grad_kernel(P: np.ndarray, sp: np.ndarray, f: np.ndarray, G: np.ndarray) -> None:
    """Compiled twin of :meth:`MonkeySaddle.value_and_grad`; ``sp`` is empty."""
    for i in range(f.shape[0]):
        x, y = P[0, i], P[1, i]
        x2, y2 = x * x, y * y
        f[i] = x * (x2 - 3.0 * y2)
        G[0, i] = 3.0 * (x2 - y2)
        G[1, i] = -6.0 * x * y


class MonkeySaddle(Landscape):
    r"""``f(x, y) = x^3 − 3 x y^2``.

    The origin is a critical point whose Hessian is zero: second-order tests
    cannot classify it, yet f falls away in three directions (angles 60°,
    180°, 300°) and rises in the three between. The surface is unbounded
    below, so runs end when they leave the window.
    """

    name = "monkey_saddle"
    title = "Monkey saddle"
    latex = r"f(x,y) = x^3 - 3xy^2"
    lesson = "A degenerate saddle: the gradient vanishes quadratically, so GD creeps toward it and crawls away."
    kernel = _value_and_grad_kernel

    @property
    def bounds(self) -> Bounds:
        return ((-1.5, 1.5), (-1.5, 1.5))

    @property
    def minima(self) -> list[CriticalPoint]:
        return [CriticalPoint((0.0, 0.0), 0.0, "saddle")]

    @property
    def start(self) -> tuple[float, float]:
        return (1.2, 0.05)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "creeps in along a ridge": self.start,
            "on the ridge: stalls at the saddle": (1.2, 0.0),
            "between ridges: slides away": (0.3, 0.8),
        }

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        with np.errstate(all="ignore"):
            x2, y2 = x * x, y * y
            return x * (x2 - 3.0 * y2), stack_grad(3.0 * (x2 - y2), -6.0 * x * y)

    def hessian(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        with np.errstate(all="ignore"):
            return stack_hessian(6.0 * x, -6.0 * y, -6.0 * x)
