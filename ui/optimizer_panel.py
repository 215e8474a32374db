"""Controls for a list of optimizers, generated from the registries' specs.

Used by every page that compares optimizers. Nothing here names a particular
optimizer or schedule: controls come from ``optimizers.REGISTRY[name].specs``
and ``optimizers.transforms.SCHEDULES[name].specs``, so a new optimizer appears
with its controls without any UI change.

Widget state lives under keys ``f"{prefix}.{uid}.{...}"`` where ``uid`` is a
per-entry id that never changes while the entry exists: removing one optimizer
does not shift another's settings. Keys are seeded from the stored config only
when missing (first run, or after Streamlit dropped them on a page switch), so
widgets are never given both a ``value`` and a session-state value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import streamlit as st

import optimizers
from common.controls import Control
from optimizers.config import TRANSFORM_SPECS, OptimizerConfig
from optimizers.transforms import SCHEDULES
from ui.codec import OptEntry, canonical
from ui.controls import spec_widget
from ui.quiet import UI
from viz.palette import color_for

CLIP_LABELS = {"off": "off", "norm": "by norm (per run)", "value": "by value (each entry)"}
FAMILIES = ("classic", "adaptive", "modern")


def grouped_names() -> list[str]:
    """Registered optimizers grouped by family (classic, adaptive, modern), registry order within a family."""
    reg = optimizers.REGISTRY
    order = {f: i for i, f in enumerate(FAMILIES)}
    return sorted(reg, key=lambda k: order.get(reg[k].family, len(FAMILIES)))


def option_label(name: str) -> str:
    """How an optimizer reads in a select box: its title and its family."""
    cls = optimizers.REGISTRY[name]
    return f"{cls.title} · {cls.family}" if cls.family else cls.title


# -- pure helpers ---------------------------------------------------------------
def unique_labels(configs: Sequence[OptimizerConfig]) -> list[OptimizerConfig]:
    """Give every config a legend label, unique within the list.

    The title alone when unique; ``"Adam (lr=0.1)"`` when the same optimizer
    appears twice; a ``#n`` suffix when even that collides.
    """
    titles = [c.label or (optimizers.REGISTRY[c.name].title if c.name in optimizers.REGISTRY else c.name)
              for c in configs]
    count = Counter(titles)
    labels = []
    for cfg, title in zip(configs, titles, strict=True):
        if count[title] > 1:
            lr = dict(cfg.hparams).get("lr")
            labels.append(f"{title} (lr={lr:g})" if isinstance(lr, (int, float)) else title)
        else:
            labels.append(title)
    # Same optimizer and lr twice: name what else differs (the cliff's "GD, clipped" twin).
    dup = Counter(labels)
    labels = [f"{label[:-1]}, {extra})" if dup[label] > 1 and label.endswith(")") and (extra := _transform_tag(cfg))
              else label for cfg, label in zip(configs, labels, strict=True)]
    seen: Counter[str] = Counter()
    dup = Counter(labels)
    out = []
    for cfg, label in zip(configs, labels, strict=True):
        if dup[label] > 1:
            seen[label] += 1
            label = f"{label} #{seen[label]}"
        out.append(replace(cfg, label=label))
    return out


def _transform_tag(cfg: OptimizerConfig) -> str:
    """A few words on the transforms wrapped around an optimizer, for telling twins apart."""
    parts = []
    if cfg.clip_mode != "off":
        parts.append(f"clipped by {cfg.clip_mode} at {cfg.clip_threshold:g}")
    if cfg.noise_sigma:
        parts.append(f"noise σ={cfg.noise_sigma:g}")
    if cfg.schedule != "constant":
        parts.append(SCHEDULES[cfg.schedule].title if cfg.schedule in SCHEDULES else cfg.schedule)
    if cfg.decoupled_weight_decay:
        parts.append(f"decay {cfg.decoupled_weight_decay:g}")
    return ", ".join(parts)


def full_hparams(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """Every spec of optimizer ``name`` with ``given`` values over the defaults."""
    return {s.name: given.get(s.name, s.default) for s in optimizers.REGISTRY[name].specs}


# -- widgets ----------------------------------------------------------------------
def _store(prefix: str, defaults: Sequence[OptEntry]) -> dict[str, Any]:
    key = f"{prefix}.store"
    if key not in st.session_state:
        st.session_state[key] = {"entries": [{"uid": i, "entry": e} for i, e in enumerate(defaults)],
                                 "next": len(defaults)}
    return st.session_state[key]


def set_optimizers(prefix: str, entries: Sequence[OptEntry]) -> None:
    """Replace the panel's list (a preset, a lesson, a reset): its widgets re-seed from ``entries``."""
    for k in [k for k in st.session_state if str(k).startswith(f"{prefix}.")]:
        del st.session_state[k]
    _store(prefix, entries)


def _add(prefix: str, entry: OptEntry, limit: int) -> None:
    store = st.session_state[f"{prefix}.store"]
    if len(store["entries"]) >= limit:
        return
    store["entries"].append({"uid": store["next"], "entry": entry})
    store["next"] += 1


def _remove(prefix: str, uid: int) -> None:
    store = st.session_state[f"{prefix}.store"]
    store["entries"] = [e for e in store["entries"] if e["uid"] != uid]


def _add_selected(prefix: str, limit: int) -> None:
    _add(prefix, OptEntry(canonical(OptimizerConfig(name=st.session_state[f"{prefix}.add_pick"]))), limit)


def _duplicate(prefix: str, uid: int, limit: int) -> None:
    for e in st.session_state[f"{prefix}.store"]["entries"]:
        if e["uid"] == uid:
            _add(prefix, replace(e["entry"], config=replace(e["entry"].config, label="")), limit)
            return


def _transforms(base: str, cfg: OptimizerConfig) -> dict[str, Any]:
    """The transform widgets (schedule, clipping, noise, decoupled decay), from their specs."""
    UI.caption("Transforms (wrap any optimizer)")
    if st.session_state.get(f"{base}.sched") not in SCHEDULES:
        st.session_state[f"{base}.sched"] = cfg.schedule if cfg.schedule in SCHEDULES else "constant"
    sched = UI.selectbox("learning-rate schedule", list(SCHEDULES), key=f"{base}.sched",
                         format_func=lambda k: SCHEDULES[k].title)
    sgiven = dict(cfg.schedule_params) if sched == cfg.schedule else {}
    sparams = {s.name: spec_widget(s, f"{base}.sched.{sched}.{s.name}", sgiven.get(s.name, s.default))
               for s in SCHEDULES[sched].specs}
    out: dict[str, Any] = {"schedule": sched, "schedule_params": sparams}
    for attr, spec in TRANSFORM_SPECS.items():
        if attr == "clip_threshold" and out["clip_mode"] == "off":
            out[attr] = cfg.clip_threshold
        elif attr in ("noise_anneal", "noise_seed") and not out["noise_sigma"]:
            out[attr] = getattr(cfg, attr)
        else:
            out[attr] = spec_widget(spec, f"{base}.{attr}", getattr(cfg, attr), options=spec.choices,
                                    fmt=CLIP_LABELS.get if attr == "clip_mode" else None,
                                    widget="number" if spec.kind in ("int", "float") and attr != "noise_anneal" else "")
    return out


def _one_optimizer(prefix: str, uid: int, entry: OptEntry, color: str, n: int, limit: int,
                   extras: Sequence[Control], layouts: bool) -> OptEntry:
    base = f"{prefix}.{uid}"
    reg = optimizers.REGISTRY
    cfg = entry.config
    # Horizontal containers rather than columns: one layout block each instead of three, in every session.
    row = UI.container(horizontal=True, vertical_alignment="center", gap="small")
    row.markdown(f"<span style='color:{color};font-size:1.6em'>●</span>", unsafe_allow_html=True, width="content")
    with row:
        if st.session_state.get(f"{base}.name") not in reg:
            st.session_state[f"{base}.name"] = cfg.name if cfg.name in reg else next(iter(reg))
        current = st.session_state[f"{base}.name"]
        name = UI.selectbox(f"optimizer {uid}", grouped_names(), key=f"{base}.name", format_func=lambda k: reg[k].title,
                            label_visibility="collapsed", help=reg[current].summary or None)
    if cfg.label:
        UI.caption(cfg.label)
    specs = reg[name].specs
    given = dict(cfg.hparams) if name == cfg.name else {}
    hp_key = f"{base}.{name}"
    hparams = {s.name: spec_widget(s, f"{hp_key}.{s.name}", given.get(s.name, s.default))
               for s in specs if s.name == "lr"}
    extra_values = dict(entry.extras)
    for c in extras:
        extra_values[c.key] = spec_widget(c.spec, f"{base}.x.{c.key}", extra_values.get(c.key, c.default_for({})),
                                          widget=c.widget, options=c.options({}), fmt=c.fmt)
    more = UI.expander("settings, schedule, clipping…", expanded=False, key=f"{base}.more", on_change="rerun")
    with more:
        if more.open:
            for spec in specs:
                if spec.name == "lr":
                    continue
                if layouts or spec.name not in reg[name].layout_specs:
                    hparams[spec.name] = spec_widget(spec, f"{hp_key}.{spec.name}", given.get(spec.name, spec.default))
                else:
                    hparams[spec.name] = given.get(spec.name, spec.default)
            tf = _transforms(base, cfg)
        else:
            # Closed, its widgets are not drawn (about half of the panel's server time in every session that
            # opens a link); the entry keeps the settings it has, and opening the expander seeds the widgets
            # from them.
            hparams.update((s.name, given.get(s.name, s.default)) for s in specs if s.name != "lr")
            tf = {"schedule": cfg.schedule, "schedule_params": dict(cfg.schedule_params),
                  **{attr: getattr(cfg, attr) for attr in TRANSFORM_SPECS}}
    buttons = UI.container(horizontal=True, gap="small")
    buttons.button("duplicate", icon=":material/content_copy:", key=f"{base}.dup", type="tertiary",
                   help="Add a copy with the current settings (e.g. to compare two learning rates)",
                   on_click=_duplicate, args=(prefix, uid, limit), disabled=n >= limit)
    buttons.button("remove", icon=":material/delete:", key=f"{base}.rm", type="tertiary", help="Remove this optimizer",
                  on_click=_remove, args=(prefix, uid), disabled=n <= 1)
    label = cfg.label if name == cfg.name else ""
    new = canonical(OptimizerConfig.make(name, hparams, label=label, **tf))
    return OptEntry(new, tuple(sorted(extra_values.items())))


def optimizer_panel(prefix: str, defaults: Sequence[OptEntry], *, limit: int,
                    extras: Sequence[Control] = (), layouts: bool = True) -> list[OptEntry]:
    """Controls for up to ``limit`` optimizers; returns their entries in order.

    Parameters
    ----------
    prefix : str
        Prefix of every widget key and of the panel's own store.
    defaults : sequence of OptEntry
        The list shown when the panel has no store yet (first visit: the
        link's optimizers). :func:`set_optimizers` replaces it later.
    limit : int
        Most optimizers the page runs; the add and duplicate buttons stop there.
    extras : sequence of Control
        The page's own per-optimizer controls (e.g. a batch size).
    layouts : bool
        Whether the page's problems have a layout (networks); without one, settings an optimizer declares
        in ``layout_specs`` are not offered (they keep their values).

    Returns
    -------
    list of OptEntry
        Valid entries only, each config with a unique ``label``; the colour of
        the i-th is ``viz.palette.color_for(i)``. An entry whose settings do
        not build shows its error inline and is left out.
    """
    store = _store(prefix, defaults)
    store["entries"] = store["entries"][:limit]
    out: list[OptEntry] = []
    for item in list(store["entries"]):
        with UI.container(border=True):
            entry = _one_optimizer(prefix, item["uid"], item["entry"], color_for(len(out)), len(store["entries"]),
                                   limit, extras, layouts)
            try:
                entry.config.build()
            except ValueError as err:
                UI.error(f"Not run: {err}")
                continue
            item["entry"] = entry
            out.append(entry)
    full = len(store["entries"]) >= limit
    add_row = UI.container(horizontal=True, vertical_alignment="bottom", gap="small")
    add_row.selectbox("add an optimizer", grouped_names(), key=f"{prefix}.add_pick", format_func=option_label,
                      disabled=full)
    add_row.button("Add", icon=":material/add:", key=f"{prefix}.add", on_click=_add_selected, args=(prefix, limit),
                   disabled=full, help=f"At most {limit} optimizers on this page." if full else None)
    labels = unique_labels([e.config for e in out])
    return [replace(e, config=c) for e, c in zip(out, labels, strict=True)]
