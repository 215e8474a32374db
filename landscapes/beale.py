"""Beale's function: a flat centre and sharp ridges running to the corners."""

from __future__ import annotations

from typing import Any

from landscapes.base import Bounds, CriticalPoint, Landscape

_C = (1.5, 2.25, 2.625)


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once (the sum over the three terms unrolled); no parameters.

    Powers of y as products (``y**3`` would call ``pow``, which numpy and compiled code may round
    differently); the factors ``i · y^(i−1)`` are multiplied in as the sum's terms read.
    """
    c1, c2, c3 = _C
    y2 = y * y
    y3 = y2 * y
    r = c1 - x + x * y
    value = 0.0 + r * r
    gx = 0.0 + 2.0 * r * (y - 1.0)
    gy = 0.0 + 2.0 * r * x * 1.0 * 1.0
    r = c2 - x + x * y2
    value = value + r * r
    gx = gx + 2.0 * r * (y2 - 1.0)
    gy = gy + 2.0 * r * x * 2.0 * y
    r = c3 - x + x * y3
    value = value + r * r
    gx = gx + 2.0 * r * (y3 - 1.0)
    gy = gy + 2.0 * r * x * 3.0 * y2
    return value, gx, gy


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``, written once: the sum over ``i = 1, 2, 3`` unrolled, each power as numpy computes
    ``y ** i`` (``y ** 1`` is y, ``y ** 2`` a product, ``y ** 3`` C's ``pow``, ``y ** 0`` one), so the compiled
    diagonal (Sophia's input on the fused backend) has numpy's bits."""
    c1, c2, c3 = _C
    y2 = y * y
    y3 = y**3.0
    # i = 1: r = c − x + x y, ∂r/∂y = x, ∂²r/∂y² = 0, ∂²r/∂x∂y = 1.
    r = c1 - x + x * y
    dr_dx, dr_dy = y - 1.0, x * 1 * 1.0
    hxx = 0.0 + 2.0 * dr_dx * dr_dx
    hxy = 0.0 + 2.0 * (dr_dx * dr_dy + r * (1 * 1.0))
    hyy = 0.0 + 2.0 * (dr_dy * dr_dy + r * (0.0 * x))
    # i = 2
    r = c2 - x + x * y2
    dr_dx, dr_dy = y2 - 1.0, x * 2 * y
    hxx = hxx + 2.0 * dr_dx * dr_dx
    hxy = hxy + 2.0 * (dr_dx * dr_dy + r * (2 * y))
    hyy = hyy + 2.0 * (dr_dy * dr_dy + r * (x * 2 * 1 * 1.0))
    # i = 3
    r = c3 - x + x * y3
    dr_dx, dr_dy = y3 - 1.0, x * 3 * y2
    hxx = hxx + 2.0 * dr_dx * dr_dx
    hxy = hxy + 2.0 * (dr_dx * dr_dy + r * (3 * y2))
    hyy = hyy + 2.0 * (dr_dy * dr_dy + r * (x * 3 * 2 * y))
    return hxx, hxy, hyy


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
    formula = _formula
    hessian_formula = _hessian

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

