"""Ackley's function: a sharp funnel under a field of ripples."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from common import ops
from landscapes.base import Bounds, CriticalPoint, Landscape, critical_points

_TWO_PI = 2.0 * np.pi
#: Radius over which the cone tip at the origin is rounded off.
TIP = 1e-3


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once; no parameters."""
    s = ops.sqrt(0.5 * (x * x + y * y) + TIP * TIP)
    e1 = ops.exp(-0.2 * (s - TIP))
    e2 = ops.exp(0.5 * (ops.cos(_TWO_PI * x) + ops.cos(_TWO_PI * y)))
    radial = 2.0 * e1 / s
    return (20.0 + math.e - 20.0 * e1 - e2, radial * x + math.pi * e2 * ops.sin(_TWO_PI * x),
            radial * y + math.pi * e2 * ops.sin(_TWO_PI * y))


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``."""
    s = ops.sqrt(0.5 * (x * x + y * y) + TIP * TIP)
    e1 = ops.exp(-0.2 * (s - TIP))
    cx, cy = ops.cos(_TWO_PI * x), ops.cos(_TWO_PI * y)
    e2 = ops.exp(0.5 * (cx + cy))
    sx, sy = ops.sin(_TWO_PI * x), ops.sin(_TWO_PI * y)
    bend = e1 * (0.2 / (s * s) + 1.0 / (s * s * s))
    pi2 = math.pi * math.pi
    hxx = 2.0 * e1 / s - bend * x * x + pi2 * e2 * (2.0 * cx - sx * sx)
    hyy = 2.0 * e1 / s - bend * y * y + pi2 * e2 * (2.0 * cy - sy * sy)
    return hxx, -bend * x * y - pi2 * e2 * sx * sy, hyy


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
    formula = _formula
    hessian_formula = _hessian

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

