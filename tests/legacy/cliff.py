"""Pre-refactor copy (the reference for tests/test_single_source.py). A gentle bowl below a steep cliff: the gradient-clipping demo."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from common.jit import kernel
from common.spec import Spec
from landscapes.base import Bounds, CriticalPoint, Landscape, as_points, critical_points, stack_grad, stack_hessian

_BOWL = 0.1
_CENTRE = (-2.0, 0.0)
_HEIGHT = 25.0
_EDGE = 1.0


def _sigmoid_parts(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """σ(z), σ'(z), σ''(z) without overflow for any finite or infinite z."""
    t = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1.0 / (1.0 + t), t / (1.0 + t))
    ds = t / (1.0 + t) ** 2
    return s, ds, ds * (1.0 - 2.0 * s)


@kernel
def _value_and_grad_kernel(P: np.ndarray, sp: np.ndarray, f: np.ndarray, G: np.ndarray) -> None:
    """Compiled twin of :meth:`Cliff.value_and_grad` (with :func:`_sigmoid_parts` inlined); ``sp = (k,)``."""
    k = sp[0]
    for i in range(f.shape[0]):
        x, y = P[0, i], P[1, i]
        z = k * (x - _EDGE)
        t = math.exp(-abs(z))
        # np.where's rule: a NaN z fails z >= 0 and takes the second branch.
        s = 1.0 / (1.0 + t) if z >= 0 else t / (1.0 + t)
        q = 1.0 + t
        ds = t / (q * q)
        u = x - _CENTRE[0]
        v = y - _CENTRE[1]
        f[i] = _BOWL * (u * u + v * v) + _HEIGHT * s
        G[0, i] = 2.0 * _BOWL * u + _HEIGHT * k * ds
        G[1, i] = 2.0 * _BOWL * v


class Cliff(Landscape):
    r"""``f(x, y) = 0.1((x + 2)^2 + y^2) + 25 σ(k (x − 1))``, σ the logistic function.

    A shallow bowl with its minimum at ``(−2, 0)`` and, at ``x = 1``, a cliff
    of height 25 whose face has slope up to ``25k/4`` (250 at the default
    ``k = 40``), after Goodfellow et al., *Deep Learning*, fig. 8.3 and
    Pascanu et al. (2013). A plain step taken on the face is ``lr`` times
    that slope, which throws the point far across the window; clipping the
    gradient's norm bounds the step at ``lr`` times the threshold.

    Parameters
    ----------
    steepness : float
        ``k``: the face is about ``6/k`` wide and its steepest slope ``25k/4``.
    """

    name = "cliff"
    title = "Cliff"
    latex = r"f(x,y) = 0.1\left((x+2)^2 + y^2\right) + \frac{25}{1 + e^{-k(x-1)}}"
    lesson = "A cliff makes the gradient explode: one plain step flies off, a clipped step walks down."
    demo = ({"name": "gd", "lr": 0.5}, {"name": "gd", "lr": 0.5, "clip_mode": "norm", "clip_threshold": 1.0, "label": "GD, clipped (norm ≤ 1)"})
    log_scale = True
    kernel = _value_and_grad_kernel
    specs = (
        Spec(
            "steepness", 40.0, low=5.0, high=200.0, log=True,
            help="How abrupt the cliff is; its steepest slope is 25·k/4.", label="k",
        ),
    )

    @property
    def bounds(self) -> Bounds:
        return ((-3.0, 3.0), (-2.0, 2.0))

    @cached_property
    def minima(self) -> list[CriticalPoint]:
        return critical_points(self, [(_CENTRE, "global")])

    @property
    def start(self) -> tuple[float, float]:
        # One face-width unit above the middle of the face, where the slope is ~0.2·25k.
        return (_EDGE + 1.0 / self.params["steepness"], 1.0)

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        return {
            "on the cliff face: flies off": self.start,
            "on the plateau above": (2.5, 1.2),
            "below the cliff": (-0.5, -1.5),
        }

    def _wall(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = self.params["steepness"]
        s, ds, d2s = _sigmoid_parts(k * (x - _EDGE))
        return _HEIGHT * s, _HEIGHT * k * ds, _HEIGHT * k * k * d2s

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        with np.errstate(all="ignore"):
            wall, slope, _ = self._wall(x)
            u = x - _CENTRE[0]
            v = y - _CENTRE[1]
            value = _BOWL * (u * u + v * v) + wall
            return value, stack_grad(2.0 * _BOWL * u + slope, 2.0 * _BOWL * v)

    def hessian(self, points: np.ndarray) -> np.ndarray:
        p = as_points(points)
        x = p[..., 0]
        with np.errstate(all="ignore"):
            _, _, bend = self._wall(x)
            return stack_hessian(2.0 * _BOWL + bend, np.zeros_like(x), np.full_like(x, 2.0 * _BOWL))
