"""Optimizers behind one pure step interface, plus the runner.

``opt = get("adam", lr=0.01)``; ``state = opt.init(params)``;
``params, state = opt.step(params, grads, state)`` with params ``(k, d)``.

Add an optimizer: write one module with an :class:`~optimizers.base.Optimizer`
subclass and add one line to ``REGISTRY``. The app builds its controls from
the class's ``specs``.
"""

from __future__ import annotations

from typing import Any

from optimizers.adam import Adam
from optimizers.base import Optimizer
from optimizers.gd import GD
from optimizers.runner import Trajectory, run
from optimizers.transforms import Chain, Clip, Noise, schedule

REGISTRY: dict[str, type[Optimizer]] = {
    GD.name: GD,
    Adam.name: Adam,
}


def names() -> list[str]:
    """Registered optimizer names, in display order."""
    return list(REGISTRY)


def get(name: str, **hparams: Any) -> Optimizer:
    """Build an optimizer by name.

    Raises
    ------
    ValueError
        On an unknown name or a bad hyperparameter, with a message a user can act on.
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name](**hparams)


__all__ = ["Chain", "Clip", "Noise", "Optimizer", "REGISTRY", "Trajectory", "get", "names", "run", "schedule"]
