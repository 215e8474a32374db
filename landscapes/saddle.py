"""A saddle whose flat neighbourhood stalls plain gradient descent."""

from __future__ import annotations

import math
from typing import Any

from landscapes.base import Bounds, CriticalPoint, Landscape


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once; no parameters."""
    y2 = y * y
    return x * x - y2 + 0.25 * y2 * y2, 2.0 * x, y * (y2 - 2.0)


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``."""
    return 2.0, 0.0, 3.0 * y * y - 2.0


class Saddle(Landscape):
    r"""``f(x, y) = x^2 - y^2 + y^4 / 4``.

    A saddle at the origin (value 0) between two global minima at
    ``(0, ±√2)`` (value −1). Along ``y = 0`` the surface is a valley that
    leads straight into the saddle: gradient descent started close to that
    line slides to the origin, where the escaping component of the gradient
    ``−2y`` is tiny and grows only geometrically, so the path stalls. The
    quartic term keeps the surface bounded below.
    """

    name = "saddle"
    title = "Saddle point"
    latex = r"f(x,y) = x^2 - y^2 + \tfrac{1}{4}y^4"
    lesson = "Near a saddle the gradient vanishes: plain GD stalls, momentum and Adam escape faster."
    demo = (
        {"name": "gd", "lr": 0.02}, {"name": "gd", "lr": 0.02, "noise_sigma": 0.3, "noise_seed": 1, "label": "GD + gradient noise"},
        {"name": "momentum", "lr": 0.02, "momentum": 0.9}, {"name": "adam", "lr": 0.04},
    )
    formula = _formula
    hessian_formula = _hessian

    @property
    def bounds(self) -> Bounds:
        return ((-2.0, 2.0), (-2.0, 2.0))

    @property
    def minima(self) -> list[CriticalPoint]:
        r = math.sqrt(2.0)
        return [
            CriticalPoint((0.0, r), -1.0, "global"),
            CriticalPoint((0.0, -r), -1.0, "global"),
            CriticalPoint((0.0, 0.0), 0.0, "saddle"),
        ]

    @property
    def start(self) -> tuple[float, float]:
        return (-1.5, 1e-3)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "stalls near the saddle": self.start,
            "on the ridge: never escapes": (-1.5, 0.0),
            "off the ridge: rolls down": (-1.5, 0.5),
        }

