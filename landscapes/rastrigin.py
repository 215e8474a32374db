"""Rastrigin's function: a bowl covered in a regular grid of local minima."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from common import ops
from landscapes.base import Bounds, CriticalPoint, Landscape, critical_points

_A = 10.0
_TWO_PI = 2.0 * np.pi


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once; no parameters."""
    value = 2.0 * _A + ((x * x - _A * ops.cos(_TWO_PI * x)) + (y * y - _A * ops.cos(_TWO_PI * y)))
    return value, 2.0 * x + _A * _TWO_PI * ops.sin(_TWO_PI * x), 2.0 * y + _A * _TWO_PI * ops.sin(_TWO_PI * y)


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``."""
    return 2.0 + _A * _TWO_PI**2 * ops.cos(_TWO_PI * x), 0.0, 2.0 + _A * _TWO_PI**2 * ops.cos(_TWO_PI * y)


class Rastrigin(Landscape):
    r"""``f(x, y) = 2A + Σ (x_i^2 − A cos 2π x_i)`` with ``A = 10``.

    Global minimum 0 at the origin. The surface separates into one 1-D
    function per coordinate, so its critical points are products of the 1-D
    ones: a local minimum near every integer point and saddles near the
    half-integers. All 25 minima in the window are listed, plus the four
    saddles around the origin.
    """

    name = "rastrigin"
    title = "Rastrigin's function"
    latex = r"f(x,y) = 20 + \sum_{i}\left(x_i^2 - 10\cos 2\pi x_i\right)"
    lesson = "Many regular local minima: local methods stop in the nearest one; noise or luck is needed to do better."
    formula = _formula
    hessian_formula = _hessian

    @property
    def bounds(self) -> Bounds:
        return ((-2.5, 2.5), (-2.5, 2.5))

    @cached_property
    def minima(self) -> list[CriticalPoint]:
        ints = range(-2, 3)
        guesses = [((float(i), float(j)), "global" if i == j == 0 else "local") for i in ints for j in ints]
        guesses += [((h, 0.0), "saddle") for h in (-0.5, 0.5)] + [((0.0, h), "saddle") for h in (-0.5, 0.5)]
        return critical_points(self, guesses)

    @property
    def start(self) -> tuple[float, float]:
        return (2.2, 1.6)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "far corner": self.start,
            "one ring out": (1.3, -0.6),
            "on a saddle line": (0.5, 2.0),
        }

