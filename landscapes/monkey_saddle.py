"""The monkey saddle: a degenerate saddle with three ways down."""

from __future__ import annotations

from typing import Any

from landscapes.base import Bounds, CriticalPoint, Landscape


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once; no parameters."""
    x2, y2 = x * x, y * y
    return x * (x2 - 3.0 * y2), 3.0 * (x2 - y2), -6.0 * x * y


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``."""
    return 6.0 * x, -6.0 * y, -6.0 * x


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
    formula = _formula
    hessian_formula = _hessian

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

