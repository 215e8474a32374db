"""Pre-refactor copy (the reference for tests/test_single_source.py). Ackley's function: a sharp funnel under a field of ripples."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from common.jit import kernel
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points, critical_points, stack_grad, stack_hessian

_TWO_PI = 2.0 * np.pi
#: Radius over which the cone tip at the origin is rounded off.
TIP = 1e-3


@kernel
def _value_and_grad_kernel(P: np.ndarray, sp: np.ndarray, f: np.ndarray, G: np.ndarray) -> None:
    """Compiled twin of :meth:`Ackley.value_and_grad`; ``sp`` is empty."""
    for i in range(f.shape[0]):
        x, y = P[0, i], P[1, i]
        s = math.sqrt(0.5 * (x * x + y * y) + TIP * TIP)
        e1 = math.exp(-0.2 * (s - TIP))
        cx, cy = math.cos(_TWO_PI * x), math.cos(_TWO_PI * y)
        e2 = math.exp(0.5 * (cx + cy))
        f[i] = 20.0 + math.e - 20.0 * e1 - e2
        radial = 2.0 * e1 / s
        G[0, i] = radial * x + math.pi * e2 * math.sin(_TWO_PI * x)
        G[1, i] = radial * y + math.pi * e2 * math.sin(_TWO_PI * y)


class Ackley(Landscape):
    r"""``f = 20 + e − 20 exp(−0.2 (s − δ)) − exp(½(cos 2πx + cos 2πy))``, ``s = √(½(x²+y²) + δ²)``.

    With ``δ = 0`` this is Ackley's function, whose cone tip at the global
    minimum has no gradient. Here the tip is rounded over ``δ = 1e-3``, so
    gradient and Hessian exist everywhere (the Hessian at the origin is about
    ``2/δ``); values move by less than ``4δ`` and the minimum stays 0 at the
    origin. The four nearest local minima are listed too.
    """

    name = "ackley"
    title = "Ackley's function"
    latex = r"f(x,y) = 20 + e - 20\,e^{-0.2\sqrt{(x^2+y^2)/2}} - e^{(\cos 2\pi x + \cos 2\pi y)/2}"
    lesson = "A nearly flat, rippled plateau around one sharp funnel: small steps get trapped in the ripples."
    kernel = _value_and_grad_kernel

    @property
    def bounds(self) -> Bounds:
        return ((-4.0, 4.0), (-4.0, 4.0))

    @cached_property
    def minima(self) -> list[CriticalPoint]:
        guesses = [((0.0, 0.0), "global")]
        guesses += [(g, "local") for g in ((0.97, 0.0), (-0.97, 0.0), (0.0, 0.97), (0.0, -0.97))]
        return critical_points(self, guesses)

    @property
    def start(self) -> tuple[float, float]:
        return (2.6, 1.9)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "out on the ripples": self.start,
            "one ripple from the funnel": (1.2, 0.3),
            "far corner": (-3.7, -3.4),
        }

    def _parts(self, p: np.ndarray) -> tuple[np.ndarray, ...]:
        x, y = p[..., 0], p[..., 1]
        s = np.sqrt(0.5 * (x * x + y * y) + TIP * TIP)
        e1 = np.exp(-0.2 * (s - TIP))
        cx, cy = np.cos(_TWO_PI * x), np.cos(_TWO_PI * y)
        e2 = np.exp(0.5 * (cx + cy))
        return x, y, s, e1, e2, cx, cy

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = as_points(points)
        with np.errstate(all="ignore"):
            x, y, s, e1, e2, _, _ = self._parts(p)
            value = 20.0 + np.e - 20.0 * e1 - e2
            radial = 2.0 * e1 / s
            gx = radial * x + np.pi * e2 * np.sin(_TWO_PI * x)
            gy = radial * y + np.pi * e2 * np.sin(_TWO_PI * y)
            return value, stack_grad(gx, gy)

    def hessian(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        with np.errstate(all="ignore"):
            x, y, s, e1, e2, cx, cy = self._parts(p)
            sx, sy = np.sin(_TWO_PI * x), np.sin(_TWO_PI * y)
            bend = e1 * (0.2 / (s * s) + 1.0 / (s * s * s))
            pi2 = np.pi * np.pi
            hxx = 2.0 * e1 / s - bend * x * x + pi2 * e2 * (2.0 * cx - sx * sx)
            hyy = 2.0 * e1 / s - bend * y * y + pi2 * e2 * (2.0 * cy - sy * sy)
            hxy = -bend * x * y - pi2 * e2 * sx * sy
            return stack_hessian(hxx, hxy, hyy)
