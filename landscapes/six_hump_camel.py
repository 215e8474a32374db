"""The six-hump camel: two global minima, four local ones, saddles between."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from landscapes.base import Bounds, CriticalPoint, Landscape, critical_points

# Printed approximations (Dixon & Szegő 1978; Molga & Smutnicki 2005) and a
# Newton search from a grid for the saddles; polished by Newton at first use.
_GUESSES = [
    ((0.0898, -0.7126), "global"),
    ((-0.0898, 0.7126), "global"),
    ((1.7036, -0.7961), "local"),
    ((-1.7036, 0.7961), "local"),
    ((1.6071, 0.5687), "local"),
    ((-1.6071, -0.5687), "local"),
]
_SADDLES = [
    ((0.0, 0.0), "saddle"),
    ((1.10921, -0.76827), "saddle"),
    ((-1.10921, 0.76827), "saddle"),
    ((1.29607, 0.60508), "saddle"),
    ((-1.29607, -0.60508), "saddle"),
    ((1.63807, 0.22867), "saddle"),
    ((-1.63807, -0.22867), "saddle"),
]


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once; no parameters."""
    x2, y2 = x * x, y * y
    value = (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (4.0 * y2 - 4.0) * y2
    return value, 8.0 * x - 8.4 * x2 * x + 2.0 * x2 * x2 * x + y, x - 8.0 * y + 16.0 * y2 * y


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``."""
    x2 = x * x
    return 8.0 - 25.2 * x2 + 10.0 * x2 * x2, 1.0, 48.0 * y * y - 8.0


class SixHumpCamel(Landscape):
    r"""``f(x, y) = (4 − 2.1x^2 + x^4/3) x^2 + xy + (4y^2 − 4) y^2``.

    Two global minima ``≈ (±0.0898, ∓0.7126)`` with value ``≈ −1.0316``,
    four local minima and the seven saddles between them; two local maxima
    near ``(±1.2302, ±0.1623)`` are not listed.
    """

    name = "six_hump_camel"
    title = "Six-hump camel"
    latex = r"f(x,y) = \left(4 - 2.1x^2 + \tfrac{x^4}{3}\right)x^2 + xy + (4y^2-4)\,y^2"
    lesson = "Unequal basins: a local minimum can be nearly as deep as the global one, or far shallower."
    formula = _formula
    hessian_formula = _hessian

    @property
    def bounds(self) -> Bounds:
        return ((-2.0, 2.0), (-1.1, 1.1))

    @cached_property
    def minima(self) -> list[CriticalPoint]:
        return critical_points(self, _GUESSES + _SADDLES)

    @property
    def start(self) -> tuple[float, float]:
        return (-1.8, -1.0)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "lower left": self.start,
            "right hump": (1.9, 0.2),
            "centre": (0.0, 0.05),
        }

