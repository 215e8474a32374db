"""Rosenbrock's banana valley: easy to find, slow to follow."""

from __future__ import annotations

from typing import Any

from common.spec import Spec
from landscapes.base import Bounds, CriticalPoint, Landscape


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once; ``q = (a, b)``."""
    a, b = q
    r = y - x * x
    u = a - x
    return u * u + b * r * r, -2.0 * u - 4.0 * b * x * r, 2.0 * b * r


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``; ``q = (a, b)``."""
    b = q[1]
    return 2.0 - 4.0 * b * (y - 3.0 * x * x), -4.0 * b * x, 2.0 * b


class Rosenbrock(Landscape):
    r"""``f(x, y) = (a - x)^2 + b (y - x^2)^2``; with a=1, b=100 it equals ``scipy.optimize.rosen``.

    The global minimum is at ``(a, a^2)`` with value 0.
    """

    name = "rosenbrock"
    title = "Rosenbrock valley"
    latex = r"f(x,y) = (a-x)^2 + b\,(y-x^2)^2"
    lesson = "A curved, flat-bottomed valley: reaching it is easy, following it to (1, 1) is slow."
    log_scale = True
    formula = _formula
    hessian_formula = _hessian
    specs = (
        Spec("a", 1.0, low=-2.0, high=2.0, help="Position of the minimum (a, a²).", label="a"),
        Spec("b", 100.0, low=0.0, high=1000.0, low_open=True, log=True, ui_low=1.0, help="Steepness of the valley walls.", label="b"),
    )

    @property
    def bounds(self) -> Bounds:
        # Widened when a moves the minimum (a, a²) out of the classic window.
        a = self.params["a"]
        return ((min(-2.0, a - 0.5), max(2.0, a + 0.5)), (-1.0, max(3.0, a * a + 0.5)))

    @property
    def minima(self) -> list[CriticalPoint]:
        a = self.params["a"]
        return [CriticalPoint((a, a * a), 0.0, "global")]

    @property
    def start(self) -> tuple[float, float]:
        return (-1.5, 2.0)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {"default": self.start, "valley floor": (-1.0, 1.0), "right wall": (1.5, -0.5)}

