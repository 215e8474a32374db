"""Analytic 2-D loss surfaces behind one batched interface.

Add a surface: write one module with a :class:`~landscapes.base.Landscape`
subclass and add one line to ``REGISTRY``. The app picks it up, with controls
built from its ``specs``.
"""

from __future__ import annotations

from typing import Any

from landscapes.ackley import Ackley
from landscapes.base import CriticalPoint, Landscape
from landscapes.beale import Beale
from landscapes.cliff import Cliff
from landscapes.formula import Formula
from landscapes.himmelblau import Himmelblau
from landscapes.monkey_saddle import MonkeySaddle
from landscapes.narrow_trough import NarrowTrough
from landscapes.plateau import Plateau
from landscapes.rastrigin import Rastrigin
from landscapes.rosenbrock import Rosenbrock
from landscapes.saddle import Saddle
from landscapes.six_hump_camel import SixHumpCamel
from landscapes.two_basin import TwoBasin

REGISTRY: dict[str, type[Landscape]] = {
    Rosenbrock.name: Rosenbrock,
    Saddle.name: Saddle,
    NarrowTrough.name: NarrowTrough,
    TwoBasin.name: TwoBasin,
    Himmelblau.name: Himmelblau,
    Beale.name: Beale,
    Rastrigin.name: Rastrigin,
    Ackley.name: Ackley,
    SixHumpCamel.name: SixHumpCamel,
    MonkeySaddle.name: MonkeySaddle,
    Plateau.name: Plateau,
    Cliff.name: Cliff,
    Formula.name: Formula,
}


def names() -> list[str]:
    """Registered surface names, in display order."""
    return list(REGISTRY)


def get(name: str, **params: Any) -> Landscape:
    """Build a surface by name.

    Raises
    ------
    ValueError
        On an unknown name or an invalid parameter.
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown landscape {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name](**params)


__all__ = ["REGISTRY", "CriticalPoint", "Landscape", "get", "names"]
