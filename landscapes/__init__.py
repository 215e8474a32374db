"""Analytic 2-D loss surfaces behind one batched interface.

Add a surface: write one module with a :class:`~landscapes.base.Landscape`
subclass and add one line to ``REGISTRY``. The app picks it up, with controls
built from its ``specs``.
"""

from __future__ import annotations

from typing import Any

from landscapes.base import CriticalPoint, Landscape
from landscapes.rosenbrock import Rosenbrock

REGISTRY: dict[str, type[Landscape]] = {
    Rosenbrock.name: Rosenbrock,
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


__all__ = ["CriticalPoint", "Landscape", "REGISTRY", "get", "names"]
