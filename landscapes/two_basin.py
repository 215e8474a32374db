"""Two basins, one deeper: where a path ends depends on where it starts."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from common import ops
from landscapes.base import Bounds, CriticalPoint, Landscape, critical_points

_BOWL = 0.05
_WIDTH = 0.8
#: (centre, depth) of the two Gaussian wells: the deep one upper right, the shallow one lower left.
_WELLS = (((1.2, 1.0), 2.0), ((-1.2, -1.0), 1.0))
#: ``_WIDTH**2`` as Python computes it in :meth:`TwoBasin.value_and_grad`, frozen into the kernel.
_W2 = _WIDTH**2


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once (the sum over the two wells unrolled); no parameters."""
    (m1x, m1y), depth1 = _WELLS[0]
    (m2x, m2y), depth2 = _WELLS[1]
    value = _BOWL * (x * x + y * y)
    gx = 2.0 * _BOWL * x
    gy = 2.0 * _BOWL * y
    dx, dy = x - m1x, y - m1y
    g = depth1 * ops.exp(-(dx * dx + dy * dy) / (2.0 * _W2))
    value = value - g
    gx = gx + g / _W2 * dx
    gy = gy + g / _W2 * dy
    dx, dy = x - m2x, y - m2y
    g = depth2 * ops.exp(-(dx * dx + dy * dy) / (2.0 * _W2))
    return value - g, gx + g / _W2 * dx, gy + g / _W2 * dy


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``."""
    hxx = hyy = 2.0 * _BOWL
    hxy = 0.0
    for (cx, cy), depth in _WELLS:
        dx, dy = x - cx, y - cy
        g = depth * ops.exp(-(dx * dx + dy * dy) / (2.0 * _W2)) / _W2
        hxx = hxx + g * (1.0 - dx * dx / _W2)
        hyy = hyy + g * (1.0 - dy * dy / _W2)
        hxy = hxy - g * dx * dy / _W2
    return hxx, hxy, hyy


class TwoBasin(Landscape):
    r"""``f(p) = 0.05 |p|^2 − 2 G(p − μ_1) − G(p − μ_2)``, ``G(d) = exp(−|d|^2 / (2·0.8^2))``.

    Two Gaussian wells in a gentle bowl: a deep one near ``μ_1 = (1.2, 1)``
    holds the global minimum, a shallower one near ``μ_2 = (−1.2, −1)`` a
    local minimum, and a saddle sits on the ridge between them. The bowl keeps
    the surface bounded below and gives the far field a slope towards the
    middle. The three critical points are found by Newton's method from the
    well centres and the midpoint, because the wells pull each other's minima
    slightly off their centres.
    """

    name = "two_basin"
    title = "Two basins"
    latex = (
        r"f(\mathbf{p}) = 0.05\,\|\mathbf{p}\|^2 - 2\,e^{-\|\mathbf{p}-\mu_1\|^2/1.28}"
        r" - e^{-\|\mathbf{p}-\mu_2\|^2/1.28}"
    )
    lesson = "A local minimum beside the global one: plain GD ends in whichever basin it starts in."
    demo = ({"name": "gd", "lr": 0.1}, {"name": "momentum", "lr": 0.1, "momentum": 0.9}, {"name": "adam", "lr": 0.05})
    formula = _formula
    hessian_formula = _hessian

    @property
    def bounds(self) -> Bounds:
        return ((-3.0, 3.0), (-3.0, 3.0))

    @cached_property
    def minima(self) -> list[CriticalPoint]:
        (mu1, _), (mu2, _) = _WELLS
        mid = (0.5 * (mu1[0] + mu2[0]), 0.5 * (mu1[1] + mu2[1]))
        return critical_points(self, [(mu1, "global"), (mu2, "local"), (mid, "saddle")])

    @property
    def start(self) -> tuple[float, float]:
        return (-2.5, -0.2)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "lower left: shallow basin": self.start,
            "upper right: deep basin": (2.5, -0.5),
            "upper left: momentum rolls on": (-2.6, 2.4),
        }

