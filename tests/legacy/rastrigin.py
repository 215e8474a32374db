"""Pre-refactor copy (the reference for tests/test_single_source.py). Rastrigin's function: a bowl covered in a regular grid of local minima."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from common.jit import kernel
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points, critical_points, stack_hessian

_A = 10.0
_TWO_PI = 2.0 * np.pi


@kernel
def _value_and_grad_kernel(P: np.ndarray, sp: np.ndarray, f: np.ndarray, G: np.ndarray) -> None:
    """Compiled twin of :meth:`Rastrigin.value_and_grad`; ``sp`` is empty."""
    for i in range(f.shape[0]):
        x, y = P[0, i], P[1, i]
        f[i] = 2.0 * _A + ((x * x - _A * math.cos(_TWO_PI * x)) + (y * y - _A * math.cos(_TWO_PI * y)))
        G[0, i] = 2.0 * x + _A * _TWO_PI * math.sin(_TWO_PI * x)
        G[1, i] = 2.0 * y + _A * _TWO_PI * math.sin(_TWO_PI * y)


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
    kernel = _value_and_grad_kernel

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

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = as_points(points)
        with np.errstate(all="ignore"):
            value = 2.0 * _A + (p * p - _A * np.cos(_TWO_PI * p)).sum(axis=-1)
            return value, 2.0 * p + _A * _TWO_PI * np.sin(_TWO_PI * p)

    def value(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        with np.errstate(all="ignore"):
            return 2.0 * _A + (p * p - _A * np.cos(_TWO_PI * p)).sum(axis=-1)

    def hessian(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        with np.errstate(all="ignore"):
            diag = 2.0 + _A * _TWO_PI**2 * np.cos(_TWO_PI * p)
            return stack_hessian(diag[..., 0], np.zeros_like(diag[..., 0]), diag[..., 1])
