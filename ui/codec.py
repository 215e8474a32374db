"""URL form of the parts of a page that are lists or registries: the optimizers and a surface's parameters.

Plain controls go through :mod:`common.controls`; this module handles the
keys whose set depends on a registry entry::

    o0=adam&o0.lr=0.01&o0.beta1=0.8          optimizer 0: name, lr, non-default hyperparameters
    o0.schedule=cosine&o0.schedule.period=300
    o0.clip=norm&o0.clip.threshold=2&o0.noise=0.1&o0.dwd=0.01
    o0.batch=1                               a page's own per-optimizer control (networks)
    surface=two_basin&surface.depth=2        a surface's own parameters

Everything a link carries is checked against the registries' specs; unusable
pieces become defaults with an escaped notice. Nothing here imports streamlit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import optimizers
from common.controls import Control, echo, fmt_value
from common.spec import Spec
from optimizers.config import TRANSFORM_SPECS, OptimizerConfig
from optimizers.transforms import SCHEDULES

OPT_KEY = re.compile(r"^o(\d{1,3})(?:\.(.+))?$")
#: Keys such as ``o12345678…`` are garbage, not optimizer number 12345678.
MAX_INDEX = 99


@dataclass(frozen=True)
class OptEntry:
    """One optimizer on a page: its config and the page's own per-optimizer values (e.g. batch size)."""

    config: OptimizerConfig
    extras: tuple[tuple[str, Any], ...] = field(default=())

    def extra(self, key: str, default: Any = None) -> Any:
        """A per-optimizer value by key."""
        return dict(self.extras).get(key, default)


def canonical(cfg: OptimizerConfig) -> OptimizerConfig:
    """``cfg`` with every hyperparameter and schedule parameter spelled out, so equal settings hash equal."""
    specs = optimizers.REGISTRY[cfg.name].specs if cfg.name in optimizers.REGISTRY else ()
    given = dict(cfg.hparams)
    hp = {**{s.name: given.get(s.name, s.default) for s in specs}, **given}
    sg = dict(cfg.schedule_params)
    sspecs = SCHEDULES[cfg.schedule].specs if cfg.schedule in SCHEDULES else ()
    sp = {**{s.name: sg.get(s.name, s.default) for s in sspecs}, **sg}
    return replace(cfg, hparams=tuple(sorted(hp.items())), schedule_params=tuple(sorted(sp.items())))


def make_configs(items: Sequence[tuple[str, dict[str, Any]] | dict[str, Any]]) -> tuple[OptimizerConfig, ...]:
    """Canonical configs from ``(name, hparams)`` pairs or plain dicts with transform fields.

    A dict may carry ``name``, hyperparameters, any :class:`OptimizerConfig`
    field (``clip_mode``, ``schedule``, …) and ``label``. Unregistered names
    are skipped, so a page's defaults survive a registry without them.
    """
    fields = set(OptimizerConfig.__dataclass_fields__) - {"name", "hparams", "schedule_params"}
    out = []
    for item in items:
        if isinstance(item, dict):
            d = dict(item)
            name = d.pop("name")
            rest = {k: d.pop(k) for k in list(d) if k in fields}
            sparams = d.pop("schedule_params", None)
            hp = d
        else:
            name, hp = item
            rest, sparams = {}, None
        if name in optimizers.REGISTRY:
            out.append(canonical(OptimizerConfig.make(name, hp, schedule_params=sparams, **rest)))
    return tuple(out)


def _spec_map(specs: Sequence[Spec]) -> dict[str, Spec]:
    return {s.name: s for s in specs}


def _parse_fields(specs: Mapping[str, Spec], fields: Mapping[str, str], prefix: str, notices: list[str]) -> dict[str, Any]:
    """Parse ``{name: text}`` against specs; bad values become escaped notices and are left out."""
    out: dict[str, Any] = {}
    for key, text in fields.items():
        if key not in specs:
            notices.append(f"{prefix}.{echo(key)} (unknown setting)")
            continue
        spec = specs[key]
        ctl = Control(spec) if spec.kind not in ("int", "float") or _finite(spec) else Control(_bounded(spec))
        value, note = ctl.parse(text, {})
        if note:
            notices.append(f"{prefix}.{note}")
            if "capped" not in note:
                continue
        out[key] = value
    return out


def _finite(spec: Spec) -> bool:
    return abs(spec.low) < float("inf") and abs(spec.high) < float("inf")


def _bounded(spec: Spec) -> Spec:
    """A spec whose open sides are closed at ±1e12, for parsing: no finite spec range means no cap."""
    return replace(spec, low=max(spec.low, -1e12), high=min(spec.high, 1e12))


def decode_optimizer(name: str, fields: Mapping[str, str], owner: str, notices: list[str],
                     extras: Sequence[Control] = ()) -> OptEntry | None:
    """One optimizer from its ``o{i}.*`` fields (prefix stripped); None if unusable."""
    if name not in optimizers.REGISTRY:
        notices.append(f"{owner}={echo(name)} (unknown optimizer)")
        return None
    specs = _spec_map(optimizers.REGISTRY[name].specs)
    by_key = {spec.name: (attr, spec) for attr, spec in TRANSFORM_SPECS.items()}
    extra_by_key = {c.key: c for c in extras}
    schedule = fields.get("schedule", "constant")
    if schedule not in SCHEDULES:
        notices.append(f"{owner}.schedule={echo(schedule)} (unknown schedule)")
        schedule = "constant"
    sspecs = _spec_map(SCHEDULES[schedule].specs)
    hparams = _parse_fields(specs, {k: v for k, v in fields.items() if k in specs}, owner, notices)
    sparams = _parse_fields(sspecs, {k.split(".", 1)[1]: v for k, v in fields.items() if k.startswith("schedule.")},
                            f"{owner}.schedule", notices)
    transforms = {by_key[k][0]: v for k, v in _parse_fields(
        {k: by_key[k][1] for k in by_key}, {k: v for k, v in fields.items() if k in by_key}, owner, notices).items()}
    extra_values: dict[str, Any] = {}
    for key, c in extra_by_key.items():
        if key in fields:
            value, note = c.parse(fields[key], {})
            if note:
                notices.append(f"{owner}.{note}")
            extra_values[key] = value
    for key in fields:
        if not (key in specs or key in by_key or key in extra_by_key or key == "schedule" or key.startswith("schedule.")):
            notices.append(f"{owner}.{echo(key)} (unknown setting)")
    cfg = canonical(OptimizerConfig.make(name, hparams, schedule=schedule, schedule_params=sparams, **transforms))
    try:
        cfg.build()
    except ValueError as err:
        # Each value was fine alone, the combination is not (e.g. beta1 >= 1): fall back to the defaults.
        notices.append(f"{owner} settings ({echo(err, 160)}; defaults used)")
        cfg = canonical(OptimizerConfig(name=name))
    return OptEntry(cfg, tuple(sorted(extra_values.items())))


def decode_optimizers(query: Mapping[str, Sequence[str]], notices: list[str], limit: int,
                      extras: Sequence[Control] = ()) -> tuple[OptEntry, ...] | None:
    """The optimizers ``o0``, ``o1``, … of a normalised query; None when the link names no usable one."""
    groups: dict[int, dict[str, str]] = {}
    heads: dict[int, str] = {}
    repeated: set[int] = set()
    for key, texts in query.items():
        m = OPT_KEY.match(key)
        if not m or int(m.group(1)) > MAX_INDEX:
            continue
        i = int(m.group(1))
        if len(texts) > 1:
            # As for plain controls: a repeated key is ambiguous, so neither copy wins silently.
            head = m.group(2) is None
            notices.append(f"{echo(key)} given {len(texts)} times ({'optimizer dropped' if head else 'default kept'})")
            if head:
                repeated.add(i)
            continue
        text = texts[-1] if texts else ""
        if m.group(2) is None:
            heads[i] = text
        else:
            groups.setdefault(i, {})[m.group(2)] = text
    for i in sorted(set(groups) - set(heads) - repeated):
        notices.append(f"o{i}.* without o{i}")
    entries: list[OptEntry] = []
    for i in sorted(heads):
        if len(entries) >= limit:
            notices.append(f"more than {limit} optimizers (the rest dropped)")
            break
        entry = decode_optimizer(heads[i], groups.get(i, {}), f"o{i}", notices, extras)
        if entry is not None:
            entries.append(entry)
    if heads and not entries:
        notices.append("no usable optimizer (defaults shown)")
    return tuple(entries) if entries else None


def is_optimizer_key(key: str) -> bool:
    """Whether a URL key belongs to the optimizer list (``o3``, ``o3.lr``)."""
    m = OPT_KEY.match(key)
    return bool(m) and int(m.group(1)) <= MAX_INDEX


def encode_optimizer(i: int, entry: OptEntry, extras: Sequence[Control] = ()) -> dict[str, str]:
    """Query parameters ``o{i}…`` for one optimizer: its lr and every non-default."""
    cfg = entry.config
    p = f"o{i}"
    out = {p: cfg.name}
    specs = _spec_map(optimizers.REGISTRY[cfg.name].specs) if cfg.name in optimizers.REGISTRY else {}
    for name, value in cfg.hparams:
        spec = specs.get(name)
        if name == "lr" or spec is None or value != spec.default:
            out[f"{p}.{name}"] = fmt_value(value)
    if cfg.schedule != "constant":
        out[f"{p}.schedule"] = cfg.schedule
        sspecs = _spec_map(SCHEDULES[cfg.schedule].specs) if cfg.schedule in SCHEDULES else {}
        for name, value in cfg.schedule_params:
            if name not in sspecs or value != sspecs[name].default:
                out[f"{p}.schedule.{name}"] = fmt_value(value)
    for attr, spec in TRANSFORM_SPECS.items():
        value = getattr(cfg, attr)
        if value != spec.default:
            out[f"{p}.{spec.name}"] = fmt_value(value)
    given = dict(entry.extras)
    for c in extras:
        if c.key in given and given[c.key] != c.default_for({}):
            out[f"{p}.{c.key}"] = fmt_value(given[c.key])
    return out


def encode_optimizers(entries: Sequence[OptEntry], extras: Sequence[Control] = ()) -> dict[str, str]:
    """Query parameters for a list of optimizers."""
    out: dict[str, str] = {}
    for i, e in enumerate(entries):
        out.update(encode_optimizer(i, e, extras))
    return out


def decode_group(prefix: str, specs: Sequence[Spec], query: Mapping[str, Sequence[str]], notices: list[str]
                 ) -> tuple[tuple[str, Any], ...]:
    """A registry entry's own parameters from ``{prefix}.{name}`` keys, as sorted non-default pairs."""
    fields = {}
    for k, v in sorted(query.items()):
        if not k.startswith(prefix + "."):
            continue
        if len(v) > 1:
            notices.append(f"{echo(k)} given {len(v)} times (default kept)")
            continue
        fields[k.split(".", 1)[1]] = v[-1] if v else ""
    parsed = _parse_fields(_spec_map(specs), fields, prefix, notices)
    defaults = {s.name: s.default for s in specs}
    return tuple(sorted((k, v) for k, v in parsed.items() if v != defaults.get(k)))


def encode_group(prefix: str, specs: Sequence[Spec], params: Sequence[tuple[str, Any]]) -> dict[str, str]:
    """``{prefix}.{name}`` keys for the non-default parameters."""
    defaults = {s.name: s.default for s in specs}
    return {f"{prefix}.{k}": fmt_value(v) for k, v in params if v != defaults.get(k)}


@dataclass(frozen=True)
class PageModel:
    """Everything a page's link holds, declared once; decoding and encoding derive from it.

    A page's values are a dict: one entry per control, plus ``"optimizers"``
    (a tuple of :class:`OptEntry`) and, when the page has a registry group
    (a surface's own parameters), ``"params"`` (sorted non-default pairs).

    Parameters
    ----------
    controls : tuple of Control
        Plain controls in dependency order.
    max_optimizers : int
        Cap on the optimizer list (the panel's add button stops there too).
    default_optimizers : callable
        ``default_optimizers(values)`` -> the list shown when the link names none.
    optimizer_extras : tuple of Control
        The page's own per-optimizer controls (``o{i}.{key}``).
    group : str
        URL prefix of the registry group (``"surface"``), or ``""``.
    group_specs : callable
        ``group_specs(values)`` -> the specs of the chosen registry entry.
    repair : callable
        ``repair(values)`` -> (values, notices) for combinations that are each
        valid but impossible together (a batch larger than the training rows).
    """

    controls: tuple[Control, ...]
    max_optimizers: int
    default_optimizers: Any
    optimizer_extras: tuple[Control, ...] = ()
    group: str = ""
    group_specs: Any = None
    repair: Any = None

    def known(self, key: str) -> bool:
        """Keys decoded outside the plain controls."""
        return is_optimizer_key(key) or (bool(self.group) and key.startswith(self.group + "."))

    def decode(self, query: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Values from a link: always usable, with an escaped notice for each replaced piece."""
        from common.controls import decode, normalise

        q = normalise(query)
        # The registry group's parameters are decoded right after the control that picks the entry, so the
        # controls after it (a start point inside the surface's window) see them.
        cut = next((i + 1 for i, c in enumerate(self.controls) if c.key == self.group), 0)
        values, notices = decode(self.controls[:cut], q, known=lambda k: True)
        if self.group:
            values["params"] = decode_group(self.group, self.group_specs(values), q, notices)
        values, more = decode(self.controls[cut:], q, known=self.known, start=values)
        notices.extend(more)
        entries = decode_optimizers(q, notices, self.max_optimizers, self.optimizer_extras)
        values["optimizers"] = entries if entries is not None else tuple(self.default_optimizers(values))
        return self.fix(values, notices)

    def fix(self, values: dict[str, Any], notices: list[str] | None = None) -> tuple[dict[str, Any], list[str]]:
        """Apply the page's cross-field repair."""
        notices = [] if notices is None else notices
        if self.repair is not None:
            values, more = self.repair(values)
            notices.extend(more)
        return values, notices

    def encode(self, values: Mapping[str, Any]) -> dict[str, str | list[str]]:
        """Query parameters: the non-default controls, the group's non-defaults, and the optimizers."""
        from common.controls import encode

        out = encode(self.controls, values, start={"params": values.get("params", ())} if self.group else None)
        if self.group:
            out.update(encode_group(self.group, self.group_specs(values), values.get("params", ())))
        out.update(encode_optimizers(values.get("optimizers", ()), self.optimizer_extras))
        return out

    def query_string(self, values: Mapping[str, Any]) -> str:
        """``encode(values)`` as a URL query string (without the ``?``)."""
        from urllib.parse import urlencode

        return urlencode(self.encode(values), doseq=True)

    def defaults(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Values from code (a preset, a lesson): ``given`` over the defaults. Raises ValueError on a bad one."""
        from common.controls import defaults

        given = dict(given or {})
        opts = given.pop("optimizers", None)
        params = given.pop("params", ())
        values = defaults(self.controls, given)
        if self.group:
            values["params"] = tuple(sorted(dict(params).items()))
        values["optimizers"] = tuple(opts) if opts is not None else tuple(self.default_optimizers(values))
        return values
