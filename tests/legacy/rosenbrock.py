"""Pre-refactor copy (the reference for tests/test_single_source.py). Rosenbrock's banana valley: easy to find, slow to follow."""

from __future__ import annotations

import numpy as np

from common.jit import kernel
from common.spec import Spec
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points, stack_grad, stack_hessian


@kernel
def _value_and_grad_kernel(P: np.ndarray, sp: np.ndarray, f: np.ndarray, G: np.ndarray) -> None:
    """Compiled twin of :meth:`Rosenbrock.value_and_grad`; ``sp = (a, b)``."""
    a, b = sp[0], sp[1]
    for i in range(f.shape[0]):
        x, y = P[0, i], P[1, i]
        r = y - x * x
        u = a - x
        f[i] = u * u + b * r * r
        G[0, i] = -2.0 * u - 4.0 * b * x * r
        G[1, i] = 2.0 * b * r


class Rosenbrock(Landscape):
    r"""``f(x, y) = (a - x)^2 + b (y - x^2)^2``; with a=1, b=100 it equals ``scipy.optimize.rosen``.

    The global minimum is at ``(a, a^2)`` with value 0.
    """

    name = "rosenbrock"
    title = "Rosenbrock valley"
    latex = r"f(x,y) = (a-x)^2 + b\,(y-x^2)^2"
    lesson = "A curved, flat-bottomed valley: reaching it is easy, following it to (1, 1) is slow."
    log_scale = True
    kernel = _value_and_grad_kernel
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

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        a, b = self.params["a"], self.params["b"]
        with np.errstate(all="ignore"):
            r = y - x * x
            u = a - x
            value = u * u + b * r * r
            return value, stack_grad(-2.0 * u - 4.0 * b * x * r, 2.0 * b * r)

    def hessian(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        b = self.params["b"]
        with np.errstate(all="ignore"):
            return stack_hessian(2.0 - 4.0 * b * (y - 3.0 * x * x), -4.0 * b * x, np.full_like(x, 2.0 * b))
