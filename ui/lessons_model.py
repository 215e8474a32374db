"""The lessons page's controls, and the explorer link of a lesson's scenario. No streamlit here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import lessons
from common.controls import Control
from common.spec import Spec
from lessons.core import NetScenario, Scenario, SurfaceScenario
from ui import networks_model, surfaces_model
from ui.codec import OptEntry, PageModel

MAX_VARIATIONS = 4

CONTROLS: tuple[Control, ...] = (
    Control(Spec("lesson", next(iter(lessons.REGISTRY)), choices=tuple(lessons.REGISTRY), label="question"),
            section="lesson", fmt=lambda k: lessons.REGISTRY[k].title, resets=("v",)),
    Control(Spec("v", 0, low=0, high=MAX_VARIATIONS, label="variation"), section="lesson",
            choices=lambda v: tuple(range(1 + len(lessons.REGISTRY[v["lesson"]].variations)))),
)

MODEL = PageModel(controls=CONTROLS, max_optimizers=0, default_optimizers=lambda values: ())


def scenario(values: Mapping[str, Any]) -> Scenario:
    """The scenario a lesson shows: as curated, or with one variation applied (``v`` ≥ 1)."""
    lesson = lessons.REGISTRY[values["lesson"]]
    v = values["v"]
    return lesson.scenario if v == 0 else lesson.variations[v - 1].apply(lesson.scenario)


#: nets.problem keyword -> networks page control key
_NET_KEYS = {"dataset": "data", "activation": "act", "output": "out", "loss": "loss", "l2": "l2", "init": "init",
             "init_scale": "sigma", "batch_size": "batch", "shuffle": "shuffle", "seed": "dseed",
             "test_fraction": "test", "standardize": "std", "noise": "noise", "n": "n"}
_COMPARES = ("loss", "shuffle", "standardize")  # a per-run difference the networks page's "also run with" shows


def explorer_link(s: Scenario) -> tuple[str, dict[str, Any], str]:
    """The explorer page and its query for a scenario, plus a sentence on what the explorer cannot show.

    Returns
    -------
    page : {"surfaces", "networks"}
    query : dict
        The page's URL query (its model's encoding of the scenario's settings).
    note : str
        Empty when the link shows exactly the lesson's runs.
    """
    if isinstance(s, SurfaceScenario):
        given = {"surface": s.landscape, "params": s.landscape_params, "x": float(s.starts[0][0]),
                 "y": float(s.starts[0][1]), "steps": s.steps,
                 "optimizers": tuple(OptEntry(c) for c in s.optimizers)}
        if s.basins in surfaces_model.BASIN_CHOICES:
            given["basins"] = s.basins
        values = surfaces_model.MODEL.defaults(given)
        note = "" if len(s.starts) == 1 else "The explorer starts every optimizer from the first start only."
        return "surfaces", surfaces_model.MODEL.encode(values), note
    return _net_link(s)


def _net_link(s: NetScenario) -> tuple[str, dict[str, Any], str]:
    base = dict(s.problem_kwargs)
    overrides = [dict(o) for _, o in s.runs]
    varying = sorted({k for o in overrides for k in o})
    given: dict[str, Any] = {"epochs": s.epochs, "seeds": s.seeds}
    entries = [OptEntry(c) for c, _ in s.runs]
    note = ""
    configs = {replace(c, label="") for c, _ in s.runs}
    if len(s.runs) == 2 and len(configs) == 1 and len(varying) == 1 and varying[0] in _COMPARES:
        base.update(overrides[0])
        given["cmp"] = varying[0]
        entries = entries[:1]
    elif varying == ["batch_size"]:
        entries = [OptEntry(e.config, (("batch", int(o.get("batch_size") or 0)),)) for e, o in zip(entries, overrides,
                                                                                                    strict=True)]
    elif varying:
        base.update(overrides[0])
        note = ("The explorer runs every optimizer with one setting of " + ", ".join(varying)
                + " (the first run's); the lesson gives each run its own.")
    for k, v in base.items():
        key = _NET_KEYS.get(k)
        if key is None and k == "hidden":
            given["hidden"] = ",".join(str(int(w)) for w in v)
        elif key == "batch":
            given["batch"] = int(v or 0)
        elif key is not None and v is not None:
            given[key] = v
    given["optimizers"] = tuple(entries)
    values = networks_model.MODEL.defaults(given)
    return "networks", networks_model.MODEL.encode(values), note
