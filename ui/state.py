"""The surfaces page's settings and their URL query-string form.

Every control of the page lives in :class:`Settings`, a frozen, hashable value
that the page builds from its widgets and that caches key on. :func:`encode`
turns it into query parameters, :func:`decode` turns query parameters back,
replacing anything unknown, garbled or out of range by its default and saying
so in a list of short notices. Nothing here imports streamlit.

URL layout (all keys are plain ASCII, so links stay readable on a slide)::

    surface=rosenbrock&surface.b=50          landscape and its non-default params
    o0=adam&o0.lr=0.01&o0.beta1=0.8          optimizer 0: name, lr, non-default hparams
    o0.schedule=cosine&o0.schedule.period=300
    o0.clip=norm&o0.clip.threshold=2
    o0.noise=0.1&o0.noise.anneal=0.55&o0.noise.seed=3
    o0.dwd=0.01                              decoupled weight decay
    x=-1.5&y=2&steps=500&starts=1&spread=0.05&fps=25&layout=overlay&scale=log
    ref=BFGS&ref=CG                          SciPy reference overlays (repeated key)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import landscapes
import optimizers
from common.spec import Spec
from optimizers.config import TRANSFORM_SPECS, OptimizerConfig
from optimizers.transforms import SCHEDULES

MAX_STEPS = 5000
MAX_STARTS = 16
MAX_OPTIMIZERS = 10
MAX_TEXT = 500
LAYOUTS = ("overlay", "small_multiples", "3d")
#: Basin-map grid sizes (starts per axis) offered; 0 = no basin map.
BASIN_CHOICES = (0, 50, 100, 150, 200)
SCALES = ("log", "linear")
FPS_RANGE = (1, 60)
SPREAD_RANGE = (0.0, 0.5)
# A start further out than this fraction of the window size (on each side) would stop at once.
START_MARGIN = 0.25

DEFAULT_LANDSCAPE = "rosenbrock"
# Chosen so the three visibly differ on Rosenbrock in 500 steps and none diverges:
# GD crawls along the valley, momentum overshoots and swings, Adam walks the valley floor.
DEFAULT_OPTIMIZERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("gd", {"lr": 0.001}),
    ("momentum", {"lr": 0.001, "momentum": 0.9}),
    ("adam", {"lr": 0.05}),
)

_OPT_KEY = re.compile(r"^o(\d+)(?:\.(.+))?$")
_GLOBAL_KEYS = ("surface", "x", "y", "steps", "starts", "spread", "fps", "layout", "scale", "ref", "basins")


def scipy_methods() -> tuple[str, ...]:
    """SciPy reference methods available for overlays (empty if the module is missing)."""
    try:
        from optimizers.scipy_reference import SCIPY_METHODS
    except ImportError:
        return ()
    return tuple(SCIPY_METHODS)


@dataclass(frozen=True)
class Settings:
    """Everything the surfaces page shows, as one hashable value.

    Attributes
    ----------
    landscape : str
        Registry name.
    landscape_params : tuple of (str, value)
        Sorted ``(name, value)`` pairs; only values the user set.
    optimizers : tuple of OptimizerConfig
    start : (float, float)
        Centre start point.
    steps : int
        Updates per run, 1 … ``MAX_STEPS``.
    n_starts : int
        1 = one run; more = the centre plus a ring of ``n_starts - 1`` starts.
    spread : float
        Ring radius as a fraction of the window width.
    fps : int
        Animation frames per second.
    layout : {"overlay", "small_multiples", "3d"}
    scale : {"log", "linear"}
        Loss-curve axis.
    references : tuple of str
        SciPy methods drawn as dashed reference paths.
    basins : int
        Starts per axis of the basin map (one of ``BASIN_CHOICES``); 0 = none.
    """

    landscape: str
    landscape_params: tuple[tuple[str, Any], ...] = ()
    optimizers: tuple[OptimizerConfig, ...] = ()
    start: tuple[float, float] = (0.0, 0.0)
    steps: int = 500
    n_starts: int = 1
    spread: float = 0.05
    fps: int = 25
    layout: str = "overlay"
    scale: str = "log"
    references: tuple[str, ...] = field(default=())
    basins: int = 0


def default_optimizers() -> tuple[OptimizerConfig, ...]:
    """The teaching default (GD, momentum, Adam), keeping only registered ones."""
    out = [canonical(OptimizerConfig.make(n, hp)) for n, hp in DEFAULT_OPTIMIZERS if n in optimizers.REGISTRY]
    if not out:
        out = [OptimizerConfig(name=optimizers.names()[0])]
    return tuple(out)


def canonical(cfg: OptimizerConfig) -> OptimizerConfig:
    """``cfg`` with every hyperparameter and schedule parameter spelled out (defaults filled in).

    The panel and :func:`decode` both produce this form, so equal settings compare and hash equal.
    """
    specs = optimizers.REGISTRY[cfg.name].specs if cfg.name in optimizers.REGISTRY else ()
    given = dict(cfg.hparams)
    hp = {**{s.name: given.get(s.name, s.default) for s in specs}, **given}
    sg = dict(cfg.schedule_params)
    sspecs = SCHEDULES[cfg.schedule].specs if cfg.schedule in SCHEDULES else ()
    sp = {**{s.name: sg.get(s.name, s.default) for s in sspecs}, **sg}
    return replace(cfg, hparams=tuple(sorted(hp.items())), schedule_params=tuple(sorted(sp.items())))


def default_landscape() -> str:
    """``rosenbrock`` when registered, else the first registered surface."""
    names = landscapes.names()
    return DEFAULT_LANDSCAPE if DEFAULT_LANDSCAPE in names else names[0]


def default_settings(landscape: str | None = None) -> Settings:
    """The view a first-time visitor sees (optionally on another surface)."""
    name = landscape or default_landscape()
    # Rounded: a computed start such as 1.8000000000000007 would otherwise land in the share link.
    x, y = (float(f"{v:.6g}") for v in landscapes.get(name).start)
    return Settings(landscape=name, optimizers=default_optimizers(), start=(x, y))


# -- encoding ---------------------------------------------------------------------------
def fmt_value(value: Any) -> str:
    """Shortest text that parses back to the same value (``repr`` for floats)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def encode_optimizer(i: int, cfg: OptimizerConfig) -> dict[str, str]:
    """Query parameters ``o{i}…`` for one optimizer; only non-defaults besides its lr."""
    p = f"o{i}"
    out = {p: cfg.name}
    specs = {s.name: s for s in optimizers.REGISTRY[cfg.name].specs} if cfg.name in optimizers.REGISTRY else {}
    for name, value in cfg.hparams:
        spec = specs.get(name)
        if name == "lr" or spec is None or value != spec.default:
            out[f"{p}.{name}"] = fmt_value(value)
    if cfg.schedule != "constant":
        out[f"{p}.schedule"] = cfg.schedule
        sspecs = {s.name: s for s in SCHEDULES[cfg.schedule].specs} if cfg.schedule in SCHEDULES else {}
        for name, value in cfg.schedule_params:
            if name not in sspecs or value != sspecs[name].default:
                out[f"{p}.schedule.{name}"] = fmt_value(value)
    for attr, spec in TRANSFORM_SPECS.items():
        value = getattr(cfg, attr)
        if value != spec.default:
            out[f"{p}.{spec.name}"] = value if isinstance(value, str) else fmt_value(value)
    return out


def encode(settings: Settings) -> dict[str, str | list[str]]:
    """Query parameters for ``settings`` (a ``st.query_params``-ready dict)."""
    out: dict[str, str | list[str]] = {"surface": settings.landscape}
    specs = _landscape_specs(settings.landscape)
    for name, value in settings.landscape_params:
        if name not in specs or value != specs[name].default:
            out[f"surface.{name}"] = fmt_value(value)
    for i, cfg in enumerate(settings.optimizers):
        out.update(encode_optimizer(i, cfg))
    out.update(
        x=fmt_value(float(settings.start[0])),
        y=fmt_value(float(settings.start[1])),
        steps=str(settings.steps),
        starts=str(settings.n_starts),
        spread=fmt_value(float(settings.spread)),
        fps=str(settings.fps),
        layout=settings.layout,
        scale=settings.scale,
    )
    if settings.references:
        out["ref"] = list(settings.references)
    if settings.basins:
        out["basins"] = str(settings.basins)
    return out


def query_string(settings: Settings) -> str:
    """``encode(settings)`` as a URL query string (without the ``?``)."""
    return urlencode(encode(settings), doseq=True)


# -- decoding ---------------------------------------------------------------------------
def parse_value(spec: Spec, text: str, owner: str = "") -> Any:
    """Parse URL text for ``spec`` and validate it.

    Raises
    ------
    ValueError
        If the text does not parse or the value is out of the spec's range.
    """
    if spec.kind == "bool":
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{spec.name} must be true or false, got {text!r}")
    if spec.kind == "choice" and not spec.choices:
        # Free text (e.g. a formula): the owner checks it when it is built.
        if len(text) > MAX_TEXT:
            raise ValueError(f"{spec.name} is longer than {MAX_TEXT} characters")
        return text
    return spec.validate(text, owner)


def _landscape_specs(name: str) -> dict[str, Spec]:
    cls = landscapes.REGISTRY.get(name)
    return {s.name: s for s in cls.specs} if cls is not None else {}


def _number(text: str, what: str, *, integer: bool = False) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{what}={text}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}={text}")
    if integer:
        if value != int(value):
            raise ValueError(f"{what}={text}")
        return int(value)
    return value


def _first(params: Mapping[str, Sequence[str]], key: str) -> str | None:
    vals = params.get(key)
    return vals[-1] if vals else None


def _normalise(params: Mapping[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in params.items():
        out[str(k)] = [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]
    return out


def _parse_fields(specs: Mapping[str, Spec], fields: Mapping[str, str], owner: str, prefix: str,
                  notices: list[str]) -> dict[str, Any]:
    """Parse ``{name: text}`` against ``specs``; unknown names and bad values become notices and are left out."""
    out: dict[str, Any] = {}
    for key, text in fields.items():
        if key not in specs:
            notices.append(f"{prefix}.{key} (unknown setting)")
            continue
        try:
            out[key] = parse_value(specs[key], text, owner)
        except ValueError:
            notices.append(f"{prefix}.{key}={text}")
    return out


def decode_optimizer(name: str, fields: Mapping[str, str], owner: str, notices: list[str]) -> OptimizerConfig | None:
    """One optimizer from its ``o{i}.*`` fields (prefix stripped); ``None`` if unusable."""
    if name not in optimizers.REGISTRY:
        notices.append(f"{owner}={name} (unknown optimizer)")
        return None
    specs = {s.name: s for s in optimizers.REGISTRY[name].specs}
    by_key = {spec.name: (attr, spec) for attr, spec in TRANSFORM_SPECS.items()}
    schedule_text = fields.get("schedule", "constant")
    if schedule_text not in SCHEDULES:
        notices.append(f"{owner}.schedule={schedule_text}")
        schedule_text = "constant"
    sspecs = {s.name: s for s in SCHEDULES[schedule_text].specs}
    hparams = _parse_fields(specs, {k: v for k, v in fields.items() if k in specs}, owner, owner, notices)
    sparams = _parse_fields(sspecs, {k.split(".", 1)[1]: v for k, v in fields.items() if k.startswith("schedule.")},
                            owner, f"{owner}.schedule", notices)
    transforms = {by_key[k][0]: v for k, v in
                  _parse_fields({k: by_key[k][1] for k in by_key}, {k: v for k, v in fields.items() if k in by_key},
                                owner, owner, notices).items()}
    for key in fields:
        if key not in specs and key not in by_key and key != "schedule" and not key.startswith("schedule."):
            notices.append(f"{owner}.{key} (unknown setting)")
    cfg = OptimizerConfig.make(
        name, {s: hparams.get(s, spec.default) for s, spec in specs.items()}, schedule=schedule_text,
        schedule_params={s: sparams.get(s, spec.default) for s, spec in sspecs.items()}, **transforms,
    )
    try:
        cfg.build()
    except ValueError as err:
        # Each value was fine alone, the combination is not (e.g. beta1 >= 1): fall back to the defaults.
        notices.append(f"{owner} settings ({err})")
        cfg = OptimizerConfig.make(name, {s: spec.default for s, spec in specs.items()})
    return cfg


def decode_optimizers(q: Mapping[str, Sequence[str]], notices: list[str],
                      limit: int = MAX_OPTIMIZERS) -> tuple[OptimizerConfig, ...] | None:
    """The optimizers ``o0``, ``o1``, … with their dotted fields, from a normalised query.

    Both pages share this. Unusable entries are dropped with a notice; ``None``
    when the link names no usable optimizer (the caller keeps its defaults).
    """
    groups: dict[int, dict[str, str]] = {}
    heads: dict[int, str] = {}
    for key in q:
        m = _OPT_KEY.match(key)
        if not m:
            continue
        i = int(m.group(1))
        if m.group(2) is None:
            heads[i] = _first(q, key) or ""
        else:
            groups.setdefault(i, {})[m.group(2)] = _first(q, key) or ""
    for i in sorted(set(groups) - set(heads)):
        notices.append(f"o{i}.* without o{i}")
    configs: list[OptimizerConfig] = []
    for i in sorted(heads):
        if len(configs) >= limit:
            notices.append(f"more than {limit} optimizers (extra ones dropped)")
            break
        cfg = decode_optimizer(heads[i], groups.get(i, {}), f"o{i}", notices)
        if cfg is not None:
            configs.append(cfg)
    if heads and not configs:
        notices.append("no usable optimizer (defaults shown)")
    return tuple(configs) if configs else None


def decode(params: Mapping[str, Any]) -> tuple[Settings, list[str]]:
    """Settings from query parameters, with a notice for everything ignored.

    Parameters
    ----------
    params : mapping of str to str or list of str
        E.g. ``{k: st.query_params.get_all(k) for k in st.query_params}``.

    Returns
    -------
    settings : Settings
        Always usable: bad pieces replaced by defaults, sizes clamped to caps.
    notices : list of str
        One short item per ignored or clamped parameter, e.g. ``"steps=-5"``.
    """
    q = _normalise(params)
    notices: list[str] = []

    name = _first(q, "surface")
    if name is None:
        name = default_landscape()
    elif name not in landscapes.REGISTRY:
        notices.append(f"surface={name} (unknown surface)")
        name = default_landscape()
    specs = _landscape_specs(name)
    lparams = _parse_fields(specs, {k.split(".", 1)[1]: _first(q, k) or "" for k in sorted(q) if k.startswith("surface.")},
                            name, "surface", notices)
    try:
        surface = landscapes.get(name, **lparams)
    except ValueError as err:
        notices.append(f"surface settings ({err})")
        lparams = {}
        surface = landscapes.get(name)
    base = replace(default_settings(name), landscape_params=tuple(sorted(lparams.items())))

    opts = decode_optimizers(q, notices) or base.optimizers

    start = base.start
    xt, yt = _first(q, "x"), _first(q, "y")
    if xt is not None or yt is not None:
        try:
            x = _number(xt if xt is not None else str(start[0]), f"x={xt}")
            y = _number(yt if yt is not None else str(start[1]), f"y={yt}")
            (x0, x1), (y0, y1) = surface.bounds
            mx, my = START_MARGIN * (x1 - x0), START_MARGIN * (y1 - y0)
            if not (x0 - mx <= x <= x1 + mx and y0 - my <= y <= y1 + my):
                raise ValueError(f"start=({xt}, {yt}) (outside the map)")
            start = (float(x), float(y))
        except ValueError as err:
            given = ", ".join(f"{k}={v}" for k, v in (("x", xt), ("y", yt)) if v is not None)
            notices.append(str(err) if "outside" in str(err) else f"start {given}")

    steps = _int_field(q, "steps", base.steps, 1, MAX_STEPS, notices, clamp_high=True)
    n_starts = _int_field(q, "starts", base.n_starts, 1, MAX_STARTS, notices, clamp_high=True)
    fps = _int_field(q, "fps", base.fps, FPS_RANGE[0], FPS_RANGE[1], notices, clamp_high=True)
    spread = base.spread
    if (t := _first(q, "spread")) is not None:
        try:
            spread = _number(t, f"spread={t}")
            if not SPREAD_RANGE[0] <= spread <= SPREAD_RANGE[1]:
                raise ValueError
        except ValueError:
            notices.append(f"spread={t}")
            spread = base.spread
    layout = _choice_field(q, "layout", base.layout, LAYOUTS, notices)
    scale = _choice_field(q, "scale", base.scale, SCALES, notices)
    refs: list[str] = []
    known = scipy_methods()
    for r in q.get("ref", []):
        if r in known and r not in refs:
            refs.append(r)
        elif r not in known:
            notices.append(f"ref={r}")

    basins = base.basins
    if (t := _first(q, "basins")) is not None:
        try:
            basins = int(_number(t, "basins", integer=True))
            if basins not in BASIN_CHOICES:
                raise ValueError
        except ValueError:
            notices.append(f"basins={t} (choose one of {', '.join(map(str, BASIN_CHOICES))})")
            basins = base.basins

    for key in q:
        if not (key in _GLOBAL_KEYS or key.startswith("surface.") or _OPT_KEY.match(key)):
            notices.append(f"{key} (unknown parameter)")

    settings = Settings(
        landscape=name, landscape_params=base.landscape_params, optimizers=opts, start=start, steps=steps,
        n_starts=n_starts, spread=float(spread), fps=fps, layout=layout, scale=scale, references=tuple(refs),
        basins=basins,
    )
    return settings, notices


def _int_field(q: Mapping[str, list[str]], key: str, default: int, low: int, high: int, notices: list[str],
               *, clamp_high: bool) -> int:
    text = _first(q, key)
    if text is None:
        return default
    try:
        value = int(_number(text, key, integer=True))
    except ValueError:
        notices.append(f"{key}={text}")
        return default
    if value < low:
        notices.append(f"{key}={text} (must be ≥ {low})")
        return default
    if value > high:
        notices.append(f"{key}={text} (capped at {high})")
        return high if clamp_high else default
    return value


def _choice_field(q: Mapping[str, list[str]], key: str, default: str, choices: Sequence[str],
                  notices: list[str]) -> str:
    text = _first(q, key)
    if text is None:
        return default
    if text not in choices:
        notices.append(f"{key}={text}")
        return default
    return text


def notice_text(notices: Sequence[str]) -> str:
    """One short sentence naming what was ignored, for a single ``st.warning``."""
    shown = list(notices[:6])
    more = f" and {len(notices) - 6} more" if len(notices) > 6 else ""
    return "Some link settings were ignored and replaced by defaults: " + "; ".join(shown) + more + "."
