"""Pre-refactor copy (the reference for tests/test_single_source.py). Beale's function: a flat centre and sharp ridges running to the corners."""

from __future__ import annotations

import numpy as np

from common.jit import kernel
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points, stack_grad, stack_hessian

_C = (1.5, 2.25, 2.625)


@kernel
def _value_and_grad_kernel(P: np.ndarray, sp: np.ndarray, f: np.ndarray, G: np.ndarray) -> None:
    """Compiled twin of :meth:`Beale.value_and_grad` (its loop over the three terms unrolled); ``sp`` is empty."""
    c1, c2, c3 = _C
    for i in range(f.shape[0]):
        x, y = P[0, i], P[1, i]
        y2 = y * y
        y3 = y2 * y
        value = 0.0
        gx = 0.0
        gy = 0.0
        r = c1 - x + x * y
        value = value + r * r
        gx = gx + 2.0 * r * (y - 1.0)
        gy = gy + 2.0 * r * x * 1.0 * 1.0  # × i × y^(i-1) with i = 1, as numpy multiplies them
        r = c2 - x + x * y2
        value = value + r * r
        gx = gx + 2.0 * r * (y2 - 1.0)
        gy = gy + 2.0 * r * x * 2.0 * y
        r = c3 - x + x * y3
        value = value + r * r
        gx = gx + 2.0 * r * (y3 - 1.0)
        gy = gy + 2.0 * r * x * 3.0 * y2
        f[i] = value
        G[0, i] = gx
        G[1, i] = gy


class Beale(Landscape):
    r"""``f(x, y) = Σ_{i=1..3} (c_i − x + x y^i)^2`` with ``c = (1.5, 2.25, 2.625)``.

    Global minimum 0 at ``(3, 0.5)``. At ``x = 0`` every term is constant in
    y, which makes ``(0, 1)`` a saddle (Hessian ``[[0, 27.75], [27.75, 0]]``)
    with value 14.203125.
    """

    name = "beale"
    title = "Beale's function"
    latex = r"f(x,y) = (1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2"
    lesson = "Values span many decades: steep ridges beside a flat valley punish a fixed learning rate."
    log_scale = True
    kernel = _value_and_grad_kernel

    @property
    def bounds(self) -> Bounds:
        return ((-4.5, 4.5), (-4.5, 4.5))

    @property
    def minima(self) -> list[CriticalPoint]:
        return [
            CriticalPoint((3.0, 0.5), 0.0, "global"),
            CriticalPoint((0.0, 1.0), sum(c * c for c in _C), "saddle"),
        ]

    @property
    def start(self) -> tuple[float, float]:
        return (1.0, 1.4)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "near the flat centre": self.start,
            "on the upper ridge": (-2.0, 2.0),
            "bottom left": (-3.0, -3.0),
        }

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        value = np.zeros_like(x)
        gx = np.zeros_like(x)
        gy = np.zeros_like(x)
        with np.errstate(all="ignore"):
            # Powers of y as products (y**3 would call pow, whose last bit numpy and the kernel may round
            # differently); powers[i] = y^i, with y^0 = 1 as numpy's y**0 gives, even at inf and NaN.
            y2 = y * y
            powers = (np.ones_like(y), y, y2, y2 * y)
            for i, c in enumerate(_C, start=1):
                yi = powers[i]
                r = c - x + x * yi
                value = value + r * r
                gx = gx + 2.0 * r * (yi - 1.0)
                gy = gy + 2.0 * r * x * i * powers[i - 1]
            return value, stack_grad(gx, gy)

    def hessian(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        hxx = np.zeros_like(x)
        hxy = np.zeros_like(x)
        hyy = np.zeros_like(x)
        with np.errstate(all="ignore"):
            for i, c in enumerate(_C, start=1):
                yi = y**i
                r = c - x + x * yi
                dr_dx = yi - 1.0
                dr_dy = x * i * y ** (i - 1)
                d2r_dy2 = x * i * (i - 1) * y ** (i - 2) if i >= 2 else np.zeros_like(x)
                d2r_dxdy = i * y ** (i - 1)
                hxx = hxx + 2.0 * dr_dx * dr_dx
                hxy = hxy + 2.0 * (dr_dx * dr_dy + r * d2r_dxdy)
                hyy = hyy + 2.0 * (dr_dy * dr_dy + r * d2r_dy2)
            return stack_hessian(hxx, hxy, hyy)
