"""A gentle bowl below a steep cliff: the gradient-clipping demo."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from common import jit, ops
from common.spec import Spec
from landscapes.base import Bounds, CriticalPoint, Landscape, critical_points

_BOWL = 0.1
_CENTRE = (-2.0, 0.0)
_HEIGHT = 25.0
_EDGE = 1.0


@jit.shared
def _sigmoid_parts(z: Any) -> tuple[Any, Any, Any]:
    """σ(z), σ'(z), σ''(z) without overflow for any finite or infinite z (a NaN z takes the second branch)."""
    t = ops.exp(-abs(z))
    q = 1.0 + t
    s = ops.where(z >= 0, 1.0 / q, t / q)
    ds = t / (q * q)
    return s, ds, ds * (1.0 - 2.0 * s)


def _formula(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """Value and gradient, written once; ``q = (k,)``."""
    k = q[0]
    s, ds, _ = _sigmoid_parts(k * (x - _EDGE))
    u = x - _CENTRE[0]
    v = y - _CENTRE[1]
    return _BOWL * (u * u + v * v) + _HEIGHT * s, 2.0 * _BOWL * u + _HEIGHT * k * ds, 2.0 * _BOWL * v


def _hessian(x: Any, y: Any, q: tuple) -> tuple[Any, Any, Any]:
    """``(h_xx, h_xy, h_yy)``; ``q = (k,)``."""
    k = q[0]
    _, _, d2s = _sigmoid_parts(k * (x - _EDGE))
    return 2.0 * _BOWL + _HEIGHT * k * k * d2s, 0.0, 2.0 * _BOWL


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
    formula = _formula
    hessian_formula = _hessian
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

