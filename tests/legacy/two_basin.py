"""Pre-refactor copy (the reference for tests/test_single_source.py). Two basins, one deeper: where a path ends depends on where it starts."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from common.jit import kernel
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points, critical_points, stack_hessian

_BOWL = 0.05
_WIDTH = 0.8
#: (centre, depth) of the two Gaussian wells: the deep one upper right, the shallow one lower left.
_WELLS = (((1.2, 1.0), 2.0), ((-1.2, -1.0), 1.0))
#: ``_WIDTH**2`` as Python computes it in :meth:`TwoBasin.value_and_grad`, frozen into the kernel.
_W2 = _WIDTH**2


@kernel
def _value_and_grad_kernel(P: np.ndarray, sp: np.ndarray, f: np.ndarray, G: np.ndarray) -> None:
    """Compiled twin of :meth:`TwoBasin.value_and_grad` (its loop over the wells unrolled); ``sp`` is empty."""
    (m1x, m1y), depth1 = _WELLS[0]
    (m2x, m2y), depth2 = _WELLS[1]
    for i in range(f.shape[0]):
        x, y = P[0, i], P[1, i]
        value = _BOWL * (x * x + y * y)
        gx = 2.0 * _BOWL * x
        gy = 2.0 * _BOWL * y
        dx, dy = x - m1x, y - m1y
        g = depth1 * math.exp(-(dx * dx + dy * dy) / (2.0 * _W2))
        value = value - g
        gx = gx + g / _W2 * dx
        gy = gy + g / _W2 * dy
        dx, dy = x - m2x, y - m2y
        g = depth2 * math.exp(-(dx * dx + dy * dy) / (2.0 * _W2))
        value = value - g
        gx = gx + g / _W2 * dx
        gy = gy + g / _W2 * dy
        f[i] = value
        G[0, i] = gx
        G[1, i] = gy


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
    kernel = _value_and_grad_kernel

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

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = as_points(points)
        with np.errstate(all="ignore"):
            value = _BOWL * np.einsum("...i,...i->...", p, p)
            grad = 2.0 * _BOWL * p
            for centre, depth in _WELLS:
                d = p - np.asarray(centre)
                g = depth * np.exp(-np.einsum("...i,...i->...", d, d) / (2.0 * _WIDTH**2))
                value = value - g
                grad = grad + (g / _WIDTH**2)[..., None] * d
            return value, grad

    def hessian(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        with np.errstate(all="ignore"):
            hxx = np.full(p.shape[:-1], 2.0 * _BOWL)
            hyy = hxx.copy()
            hxy = np.zeros(p.shape[:-1])
            w2 = _WIDTH**2
            for centre, depth in _WELLS:
                d = p - np.asarray(centre)
                dx, dy = d[..., 0], d[..., 1]
                g = depth * np.exp(-(dx * dx + dy * dy) / (2.0 * w2)) / w2
                hxx = hxx + g * (1.0 - dx * dx / w2)
                hyy = hyy + g * (1.0 - dy * dy / w2)
                hxy = hxy - g * dx * dy / w2
            return stack_hessian(hxx, hxy, hyy)
