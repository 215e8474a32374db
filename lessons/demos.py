"""Turn a surface's ``demo`` (plain data on the landscape class) into optimizer configs.

Landscapes declare the optimizers their page opens with as plain dicts, so
``landscapes`` never imports ``optimizers``; this is the one place that reads them.
"""

from __future__ import annotations

from typing import Any

import optimizers
from optimizers.config import TRANSFORM_SPECS, OptimizerConfig

#: Keys of a demo entry that are not the algorithm's own hyperparameters.
_CONFIG_KEYS = frozenset(TRANSFORM_SPECS) | {"name", "label", "schedule", "schedule_params"}


def demo_config(entry: dict[str, Any]) -> OptimizerConfig:
    """One demo entry, e.g. ``{"name": "gd", "lr": 0.5, "clip_mode": "norm", "label": "GD, clipped"}``.

    Every hyperparameter of the optimizer is spelled out (the given value or the spec's default),
    as the optimizer panel and the URL decoder do, so the config equals the one the page builds.

    Raises
    ------
    ValueError
        On an unknown optimizer or a key that is neither one of its hyperparameters nor a transform.
    """
    name = entry.get("name")
    if name not in optimizers.REGISTRY:
        raise ValueError(f"demo optimizer {name!r} is not registered; choose one of {', '.join(optimizers.REGISTRY)}")
    specs = optimizers.REGISTRY[name].specs
    known = {s.name for s in specs}
    unknown = set(entry) - known - _CONFIG_KEYS
    if unknown:
        raise ValueError(f"demo entry for {name}: unknown key(s) {', '.join(sorted(unknown))}")
    hp = {s.name: entry.get(s.name, s.default) for s in specs}
    rest = {k: v for k, v in entry.items() if k in _CONFIG_KEYS and k not in ("name", "schedule_params")}
    return OptimizerConfig.make(name, hp, dict(entry.get("schedule_params", {})), **rest)


def demo_configs(landscape: Any) -> tuple[OptimizerConfig, ...]:
    """The configs a surface opens with, from its class attribute ``demo`` (a landscape or its class)."""
    return tuple(demo_config(dict(e)) for e in landscape.demo)
