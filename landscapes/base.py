"""The :class:`Landscape` contract: analytic 2-D surfaces, batched over points.

The last axis is the coordinate axis. ``value_and_grad`` takes points of shape
``(..., 2)`` and returns values ``(...)`` and gradients ``(..., 2)``, so one
call serves one point, k starts or a whole meshgrid. Gradients and Hessians
are analytic; the tests compare them with central differences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from common.jit import DerivedKernel, Kernel
from common.spec import Spec, resolve

Bounds = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class CriticalPoint:
    """A known critical point of a surface.

    Attributes
    ----------
    point : tuple of float, length 2
    value : float
    kind : {"global", "local", "saddle"}
    """

    point: tuple[float, float]
    value: float
    kind: Literal["global", "local", "saddle"]


class Landscape:
    """Base class for analytic surfaces.

    Subclasses set ``name``, ``title``, ``latex``, optional ``specs`` for their
    own parameters, and implement :meth:`value_and_grad` and :meth:`hessian`,
    plus the ``bounds``, ``minima`` and ``start`` properties (which may depend
    on the parameters).

    Parameters
    ----------
    **params
        The surface's own parameters, validated against ``specs``.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    latex: ClassVar[str] = ""
    specs: ClassVar[tuple[Spec, ...]] = ()
    #: One line for the UI: what this surface teaches.
    lesson: ClassVar[str] = ""
    #: True when the surface spans many decades, so the map looks best on log(f - f_min).
    log_scale: ClassVar[bool] = False
    #: Optional compiled twin of :meth:`value_and_grad` for the fused runner (:mod:`optimizers.fused`):
    #: ``kernel(P, sp, f, G)`` reads points ``P`` of shape ``(2, n)`` (the x row, then the y row) and the
    #: numbers ``sp`` from :meth:`kernel_params`, and writes values into ``f`` ``(n,)`` and gradients into
    #: ``G`` ``(2, n)``, with the same operations in the same order as :meth:`value_and_grad`.
    #: It counts only on the class that also defines ``value_and_grad``, so a subclass that changes the
    #: formula never inherits a stale kernel.
    kernel: ClassVar[Kernel | None] = None
    #: The surface written once (optional, instead of ``value_and_grad`` and ``kernel``):
    #: ``formula(x, y, q) -> (f, df/dx, df/dy)`` in scalar arithmetic and :mod:`common.ops`, with ``q`` the
    #: tuple of :meth:`kernel_params`. numpy runs it on whole arrays of coordinates (:meth:`value_and_grad`);
    #: the compiled :attr:`kernel` is generated from it and calls it one point at a time.
    formula: ClassVar[Callable[..., Any] | None] = None
    #: Likewise for :meth:`hessian`: ``hessian_formula(x, y, q) -> (h_xx, h_xy, h_yy)``.
    hessian_formula: ClassVar[Callable[..., Any] | None] = None
    #: The Hessian's diagonal compiled from :attr:`hessian_formula` (set for a class that defines one):
    #: ``hessian_kernel(P, sp, H)`` writes ``h_xx`` into ``H[0]`` and ``h_yy`` into ``H[1]`` for the points
    #: ``P`` ``(2, n)``, as :meth:`hessian` computes them; the fused backend's input for Sophia.
    hessian_kernel: ClassVar[Kernel | None] = None
    #: The optimizers the surface opens with, as plain dicts (``lessons.demos.demo_configs`` builds them):
    #: ``"name"``, any of its hyperparameters, transform fields such as ``"clip_mode"``, and ``"label"``.
    demo: ClassVar[tuple[dict[str, Any], ...]] = (
        {"name": "gd", "lr": 0.001}, {"name": "momentum", "lr": 0.001, "momentum": 0.9}, {"name": "adam", "lr": 0.05},
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("formula") is not None:
            cls.kernel = DerivedKernel(cls.__dict__["formula"], lambda: _surface_loop(cls), "surface")
        if cls.__dict__.get("hessian_formula") is not None:
            cls.hessian_kernel = DerivedKernel(cls.__dict__["hessian_formula"], lambda: _hessian_loop(cls), "hessian")
        elif "hessian" in cls.__dict__:  # a hand-written Hessian: no compiled diagonal inherited from a parent
            cls.hessian_kernel = None

    def __init__(self, **params: Any) -> None:
        self.params = resolve(self.specs, params, self.name)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- geometry ------------------------------------------------------------
    @property
    def bounds(self) -> Bounds:
        """View window ``((xmin, xmax), (ymin, ymax))``."""
        raise NotImplementedError

    @property
    def minima(self) -> list[CriticalPoint]:
        """Known critical points (minima and saddles)."""
        return []

    @property
    def start(self) -> tuple[float, float]:
        """Default start point."""
        raise NotImplementedError

    @property
    def presets(self) -> dict[str, tuple[float, float]]:
        """Named start points worth trying; the default start first."""
        return {"default": self.start}

    # -- numerics ------------------------------------------------------------
    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Value and gradient.

        Parameters
        ----------
        points : ndarray, shape (..., 2)

        Returns
        -------
        values : ndarray, shape (...)
        grads : ndarray, shape (..., 2)
        """
        formula = type(self).formula
        if formula is None:
            raise NotImplementedError
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        with np.errstate(all="ignore"):
            f, gx, gy = formula(x, y, self.formula_params())
        f, gx, gy, _ = np.broadcast_arrays(f, gx, gy, x)
        return np.array(f), stack_grad(gx, gy)

    def formula_params(self) -> tuple[float, ...]:
        """:meth:`kernel_params` as the tuple ``q`` that :attr:`formula` reads."""
        return tuple(float(v) for v in self.kernel_params())

    def kernel_params(self) -> np.ndarray:
        """``(m,)`` float64 numbers the :attr:`kernel` reads: by default the parameters in spec order."""
        return np.array([float(self.params[s.name]) for s in self.specs], dtype=np.float64)

    def value(self, points: np.ndarray) -> np.ndarray:
        """Value only, shape ``(...)`` for points ``(..., 2)``."""
        return self.value_and_grad(points)[0]

    def hessian(self, points: np.ndarray) -> np.ndarray:
        """Hessian, shape ``(..., 2, 2)`` for points ``(..., 2)``."""
        formula = type(self).hessian_formula
        if formula is None:
            raise NotImplementedError
        p = as_points(points)
        x, y = p[..., 0], p[..., 1]
        with np.errstate(all="ignore"):
            hxx, hxy, hyy = formula(x, y, self.formula_params())
        return stack_hessian(*np.broadcast_arrays(hxx, hxy, hyy, x)[:3])

    @property
    def f_min(self) -> float:
        """Lowest known value (global minimum), or ``nan`` if unknown."""
        values = [c.value for c in self.minima if c.kind == "global"]
        return min(values) if values else float("nan")


def _q_source(cls: type[Landscape]) -> str:
    """Source of the tuple ``q`` a compiled loop passes to the formulas: ``(sp[0], sp[1], …, )``."""
    return "(" + "".join(f"sp[{j}], " for j in range(len(cls().kernel_params()))) + ")"


def _surface_loop(cls: type[Landscape]) -> str:
    """Source of the compiled loop around ``cls.formula``: ``loop(P, sp, f, G)`` as :attr:`Landscape.kernel` documents."""
    return ("def loop(P, sp, f, G):\n"
            f"    q = {_q_source(cls)}\n"
            "    for i in range(f.shape[0]):\n"
            "        fi, gx, gy = formula(P[0, i], P[1, i], q)\n"
            "        f[i] = fi\n"
            "        G[0, i] = gx\n"
            "        G[1, i] = gy\n")


def _hessian_loop(cls: type[Landscape]) -> str:
    """Source of the compiled loop around ``cls.hessian_formula``: ``loop(P, sp, H)``, the diagonal only."""
    return ("def loop(P, sp, H):\n"
            f"    q = {_q_source(cls)}\n"
            "    for i in range(P.shape[1]):\n"
            "        hxx, hxy, hyy = formula(P[0, i], P[1, i], q)\n"
            "        H[0, i] = hxx\n"
            "        H[1, i] = hyy\n")


def stack_grad(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Stack two ``(...)`` partials into a ``(..., 2)`` gradient."""
    return np.stack([gx, gy], axis=-1)


def stack_hessian(hxx: np.ndarray, hxy: np.ndarray, hyy: np.ndarray) -> np.ndarray:
    """Assemble a symmetric ``(..., 2, 2)`` Hessian from its three entries."""
    hxx, hxy, hyy = np.broadcast_arrays(hxx, hxy, hyy)
    return np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2)


def as_points(points: Any) -> np.ndarray:
    """``points`` as float64 with a last axis of 2.

    Raises
    ------
    ValueError
        If the last axis is not 2.
    """
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2), got {arr.shape}")
    return arr


def newton_critical(
    landscape: Landscape, guess: tuple[float, float], *, tol: float = 1e-13, max_iter: int = 50
) -> tuple[float, float]:
    """Polish an approximate critical point with Newton's method on the gradient.

    Surfaces list their critical points from a few printed digits (or a coarse
    search) and polish them here, so the listed coordinates are exact to
    float64 rounding and the gradient there really vanishes.

    Parameters
    ----------
    landscape : Landscape
    guess : tuple of float, length 2
        Start, close enough for Newton to converge to the wanted point.
    tol : float
        Stop when the Newton step is shorter than this.
    max_iter : int

    Returns
    -------
    tuple of float, length 2

    Raises
    ------
    ValueError
        If Newton does not converge (a wrong guess, or a degenerate point).
    """
    p = np.asarray(guess, dtype=np.float64)
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            g = landscape.value_and_grad(p)[1]
            try:
                delta = np.linalg.solve(landscape.hessian(p), g)
            except np.linalg.LinAlgError:
                break
            p = p - delta
            if not np.isfinite(p).all():
                break
            if np.linalg.norm(delta) <= tol * max(1.0, float(np.linalg.norm(p))):
                return (float(p[0]), float(p[1]))
    raise ValueError(f"{landscape.name}: Newton did not find a critical point near {guess}")


def critical_points(
    landscape: Landscape, guesses: list[tuple[tuple[float, float], str]]
) -> list[CriticalPoint]:
    """:class:`CriticalPoint` list from ``(guess, kind)`` pairs, each polished by :func:`newton_critical`."""
    out = []
    for guess, kind in guesses:
        point = newton_critical(landscape, guess)
        out.append(CriticalPoint(point, float(landscape.value(np.asarray(point))), kind))  # type: ignore[arg-type]
    return out
