"""The runner's stop rules, written once for the numpy loop and the compiled loops.

Each rule takes floats (the compiled loops, one run at a time, through
:func:`common.jit.shared`) or arrays (the numpy loop, every run at once). The
order in which a step applies them is the same in every loop: a run that
*diverged* (its value or a coordinate beyond ``explode``, or anything not
finite) stops before one that *left the window*; a run stopped by either keeps
its previous point; convergence is then judged on the accepted point.
Comparisons are written so that NaN fails them: ``NaN <= bound`` is False.
"""

from __future__ import annotations

import math
from typing import Any

from common import jit


@jit.shared
def bounded(a: Any, explode: float) -> Any:
    """``|a| <= explode``: False for a value or coordinate past the bound, for ±inf and for NaN."""
    return abs(a) <= explode


@jit.shared
def finite_gradient(gn2: Any) -> Any:
    """The squared gradient norm is finite (False for inf and NaN)."""
    return gn2 < math.inf


@jit.shared
def inside(a: Any, lo: Any, hi: Any) -> Any:
    """The coordinate lies in ``[lo, hi]`` (False for NaN)."""
    return (lo <= a) & (a <= hi)


@jit.shared
def small_gradient(gn: Any, grad_tol: float) -> Any:
    """Converged by the gradient: its norm below ``grad_tol``."""
    return gn < grad_tol


@jit.shared
def near_critical(dist: Any, x_tol: float) -> Any:
    """Converged by position: within ``x_tol`` of a known critical point."""
    return dist < x_tol
