"""The surfaces page's controls, declared once; its link, caps and defaults derive from them.

Nothing here imports streamlit. A new control is one :class:`Control` in
:data:`CONTROLS` plus the code that uses its value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import landscapes
import optimizers
from common.controls import Control
from common.spec import Spec
from ui.codec import OptEntry, PageModel, make_configs

MAX_STEPS = 5000
MAX_STARTS = 16
MAX_OPTIMIZERS = 8
#: A start further out than this fraction of the window size (on each side) would stop at once.
START_MARGIN = 0.25
#: Basin-map grid sizes (starts per axis) offered; 0 = no basin map.
BASIN_CHOICES = (0, 50, 100, 150, 200)
#: Tuning views (ui.tuning), map colours and race criteria.
TUNE_VIEWS = {"off": "off", "map": "map: lr × second knob", "sensitivity": "lr sensitivity", "race": "fair race"}
TUNE_MEASURES = {"final": "final loss", "steps": "steps to tolerance", "status": "outcome", "rate": "rate per step"}
RACE_CRITERIA = {"final": "final loss", "steps": "steps to tolerance"}
LAYOUT_LABELS = {"overlay": "overlay", "small_multiples": "small multiples", "3d": "3-D surface"}
DEFAULT_LANDSCAPE = "rosenbrock"
# Used on a surface that declares no demo of its own: on Rosenbrock GD crawls along the valley,
# momentum overshoots and swings, Adam walks the valley floor, and none diverges in 500 steps.
FALLBACK_OPTIMIZERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("gd", {"lr": 0.001}),
    ("momentum", {"lr": 0.001, "momentum": 0.9}),
    ("adam", {"lr": 0.05}),
)


def scipy_methods() -> tuple[str, ...]:
    """SciPy reference methods available for overlays."""
    from optimizers.scipy_reference import SCIPY_METHODS

    return tuple(SCIPY_METHODS)


def default_landscape() -> str:
    """``rosenbrock`` when registered, else the first registered surface."""
    names = landscapes.names()
    return DEFAULT_LANDSCAPE if DEFAULT_LANDSCAPE in names else names[0]


def _surface(values: Mapping[str, Any]) -> landscapes.Landscape:
    """The chosen surface with its parameters (its defaults when they do not build)."""
    name = values.get("surface", default_landscape())
    try:
        return landscapes.get(name, **dict(values.get("params", ())))
    except ValueError:
        return landscapes.get(name)


def _start(values: Mapping[str, Any], axis: int) -> float:
    # Rounded: a computed start such as 1.8000000000000007 would otherwise land in the share link.
    return float(f"{_surface(values).start[axis]:.6g}")


def _in_window(axis: int):
    def check(value: float, values: Mapping[str, Any]) -> float:
        lo, hi = _surface(values).bounds[axis]
        m = START_MARGIN * (hi - lo)
        if not lo - m <= value <= hi + m:
            raise ValueError(f"outside the map, which spans {lo - m:g} to {hi + m:g}")
        return float(value)
    return check


def demo_optimizers(values: Mapping[str, Any]) -> tuple[OptEntry, ...]:
    """The optimizers a surface opens with: its own ``demo`` when it declares one, else GD, momentum, Adam."""
    cls = landscapes.REGISTRY.get(values.get("surface", default_landscape()))
    demo = getattr(cls, "demo", ()) or FALLBACK_OPTIMIZERS
    return tuple(OptEntry(c) for c in make_configs(list(demo)))


def _xray_label(option: Any, values: Mapping[str, Any]) -> str:
    """``"2 · Adam"``: the optimizer's place in the list and its name (``"off"`` stays)."""
    if option == "off":
        return "off"
    entries = values.get("optimizers", ())
    if isinstance(option, int) and option < len(entries):
        name = entries[option].config.name
        cls = optimizers.REGISTRY.get(name)
        return f"{option + 1} · {entries[option].config.label or (cls.title if cls else name)}"
    return f"optimizer {option + 1}"


CONTROLS: tuple[Control, ...] = (
    Control(Spec("surface", DEFAULT_LANDSCAPE, choices=tuple(landscapes.names()), label="Surface",
                 help="The loss surface the optimizers race over."),
            section="surface", choices=lambda v: tuple(landscapes.names()), default=lambda v: default_landscape(),
            fmt=lambda k: landscapes.REGISTRY[k].title, resets=("x", "y")),
    Control(Spec("x", 0.0, low=-1e6, high=1e6, label="x₀", help="Start point, x."), section="start",
            widget="number", default=lambda v: _start(v, 0), check=_in_window(0)),
    Control(Spec("y", 0.0, low=-1e6, high=1e6, label="y₀", help="Start point, y."), section="start",
            widget="number", default=lambda v: _start(v, 1), check=_in_window(1)),
    Control(Spec("steps", 500, low=1, high=MAX_STEPS, label="steps", help=f"Updates per run (at most {MAX_STEPS})."),
            section="run"),
    Control(Spec("starts", 1, low=1, high=MAX_STARTS, label="number of starts",
                 help="More than one: the start plus a ring of starts around it (basins of attraction)."),
            section="run"),
    Control(Spec("spread", 0.05, low=0.0, high=0.5, step=0.01, label="ring radius (fraction of the map width)",
                 help="How far the ring of starts lies from the centre start."),
            section="run", shown=lambda v: v["starts"] > 1),
    Control(Spec("layout", "overlay", choices=tuple(LAYOUT_LABELS), label="layout",
                 help="One map for all, one small map per optimizer, or the surface in 3-D."),
            section="view", widget="radio", fmt=LAYOUT_LABELS.get),
    Control(Spec("scale", "log", choices=("log", "linear"), label="loss axis"), section="view", widget="radio"),
    Control(Spec("fps", 25, low=1, high=60, label="animation speed (frames/s)"), section="view"),
    Control(Spec("basins", 0, low=0, high=max(BASIN_CHOICES), label="basin map (starts per axis)",
                 help="Run every optimizer from every point of a grid and colour each start by where it ends."),
            section="view", widget="select_slider", steps=BASIN_CHOICES,
            fmt=lambda n: "off" if n == 0 else f"{n} × {n}"),
    Control(Spec("ref", "", choices=(), label="SciPy reference paths (dashed)",
                 help="scipy.optimize.minimize from the same start, for comparison."),
            section="view", many=True, choices=lambda v: scipy_methods()),
    Control(Spec("tune", "off", choices=tuple(TUNE_VIEWS), label="tuning view",
                 help="Where each optimizer works across its settings: a map over lr × its second knob (click a "
                      "cell to use it), final loss against lr over the starts, or a fair race with tuned lrs."),
            section="view", fmt=TUNE_VIEWS.get),
    Control(Spec("tune.measure", "final", choices=tuple(TUNE_MEASURES), label="map colour"),
            section="view", fmt=TUNE_MEASURES.get, shown=lambda v: v["tune"] == "map"),
    Control(Spec("tune.by", "final", choices=tuple(RACE_CRITERIA), label="race criterion"),
            section="view", widget="radio", fmt=RACE_CRITERIA.get, shown=lambda v: v["tune"] == "race"),
    # Before the optimizers are decoded (a link) any slot may be named; the widget offers the listed ones.
    Control(Spec("xray", "off", choices=("off", *range(MAX_OPTIMIZERS)), label="X-ray of",
                 help="Inside one optimizer (its first start): gradient, momentum and step arrows, the step per "
                      "coordinate, its state over time, and the curvature its path crosses."),
            section="view", choices=lambda v: ("off", *range(len(v.get("optimizers", range(MAX_OPTIMIZERS))))),
            fmt_in=_xray_label),
)


def _group_specs(values: Mapping[str, Any]) -> tuple[Spec, ...]:
    cls = landscapes.REGISTRY.get(values.get("surface", default_landscape()))
    return cls.specs if cls is not None else ()


def _repair(values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A surface whose parameters do not build together falls back to its defaults."""
    notices: list[str] = []
    try:
        landscapes.get(values["surface"], **dict(values.get("params", ())))
    except ValueError as err:
        from common.controls import echo

        notices.append(f"surface settings ({echo(err, 160)}; defaults used)")
        values = {**values, "params": ()}
    for axis, key in ((0, "x"), (1, "y")):
        if not math.isfinite(values[key]):
            values[key] = _start(values, axis)
    return values, notices


MODEL = PageModel(
    controls=CONTROLS,
    max_optimizers=MAX_OPTIMIZERS,
    default_optimizers=demo_optimizers,
    group="surface",
    group_specs=_group_specs,
    repair=_repair,
)
