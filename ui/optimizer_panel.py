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

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import streamlit as st

import optimizers
from common.spec import Spec
from optimizers.config import CLIP_MODES, OptimizerConfig
from optimizers.transforms import SCHEDULES
from viz.palette import color_for

CLIP_LABELS = {"off": "off", "norm": "by norm (per run)", "value": "by value (each entry)"}


# -- pure helpers ---------------------------------------------------------------
def log_options(low: float, high: float, extra: Sequence[float] = ()) -> list[float]:
    """Values 1, 2, 3, 5, 7 × 10^k spanning ``[low, high]``, plus ``extra``, sorted.

    ``extra`` keeps a value that came from the URL selectable even when it is
    off the grid, so a shared link reproduces it exactly.
    """
    if not (low > 0 and high > low):
        raise ValueError(f"log range needs 0 < low < high, got ({low}, {high})")
    out: set[float] = set()
    for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for m in (1, 1.5, 2, 3, 5, 7):
            v = float(f"{m * 10.0**k:.6g}")
            if low * (1 - 1e-9) <= v <= high * (1 + 1e-9):
                out.add(v)
    out.update(float(v) for v in extra if v > 0 and math.isfinite(v))
    return sorted(out)


def slider_step(lo: float, hi: float) -> float:
    """A round step giving about 200-2000 positions over ``[lo, hi]``."""
    return 10.0 ** math.floor(math.log10((hi - lo) / 200.0))


def unique_labels(configs: Sequence[OptimizerConfig]) -> list[OptimizerConfig]:
    """Give every config a legend label, unique within the list.

    The title alone when unique; ``"Adam (lr=0.1)"`` when the same optimizer
    appears twice; a ``#n`` suffix when even that collides.
    """
    titles = [optimizers.REGISTRY[c.name].title if c.name in optimizers.REGISTRY else c.name for c in configs]
    count = Counter(titles)
    labels = []
    for cfg, title in zip(configs, titles, strict=True):
        if count[title] > 1:
            lr = dict(cfg.hparams).get("lr")
            labels.append(f"{title} (lr={lr:g})" if isinstance(lr, (int, float)) else title)
        else:
            labels.append(title)
    seen: Counter[str] = Counter()
    dup = Counter(labels)
    out = []
    for cfg, label in zip(configs, labels, strict=True):
        if dup[label] > 1:
            seen[label] += 1
            label = f"{label} #{seen[label]}"
        out.append(replace(cfg, label=label))
    return out


def full_hparams(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """Every spec of optimizer ``name`` with ``given`` values over the defaults."""
    return {s.name: given.get(s.name, s.default) for s in optimizers.REGISTRY[name].specs}


# -- widgets ----------------------------------------------------------------------
def _seed(key: str, value: Any) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def spec_widget(spec: Spec, key: str, value: Any) -> Any:
    """One control for ``spec``; returns its current value.

    ``value`` seeds the control the first time ``key`` is seen; later the
    user's choice (kept by Streamlit under ``key``) wins.

    Kinds: bool -> checkbox; str with choices -> selectbox; str without
    choices -> text input; log float -> slider over round log-spaced values;
    float/int with a finite range -> slider; otherwise a number input.
    """
    label = spec.label or spec.name
    kind = spec.kind
    if kind == "bool":
        _seed(key, bool(value))
        return st.checkbox(label, key=key, help=spec.help or None)
    if kind == "choice":
        if not spec.choices:
            _seed(key, str(value))
            return st.text_input(label, key=key, help=spec.help or None)
        _seed(key, value if value in spec.choices else spec.default)
        return st.selectbox(label, spec.choices, key=key, help=spec.help or None)
    try:
        lo, hi = spec.slider_range
    except ValueError:
        lo = hi = math.nan
    if spec.log and lo > 0 and hi > lo:
        current = st.session_state.get(key, value)
        opts = log_options(lo, hi, extra=[float(current)] if isinstance(current, (int, float)) else [])
        if key not in st.session_state or st.session_state[key] not in opts:
            st.session_state[key] = min(opts, key=lambda o: abs(math.log(o / float(value))) if value > 0 else o)
        return st.select_slider(label, options=opts, key=key, format_func=lambda v: f"{v:g}", help=spec.help or None)
    if kind == "int":
        _seed(key, int(value))
        if math.isfinite(lo) and math.isfinite(hi):
            cur = st.session_state[key]
            return st.slider(label, int(min(lo, cur)), int(max(hi, cur)), step=int(spec.step or 1), key=key,
                             help=spec.help or None)
        return st.number_input(label, step=1, key=key, help=spec.help or None,
                               min_value=int(spec.low) if math.isfinite(spec.low) else None,
                               max_value=int(spec.high) if math.isfinite(spec.high) else None)
    _seed(key, float(value))
    if math.isfinite(lo) and math.isfinite(hi):
        cur = float(st.session_state[key])
        lo, hi = min(lo, cur), max(hi, cur)
        step = float(spec.step or slider_step(lo, hi))
        decimals = max(0, -math.floor(math.log10(step)))
        return st.slider(label, float(lo), float(hi), step=step, format=f"%.{decimals}f", key=key,
                         help=spec.help or None)
    return st.number_input(label, key=key, help=spec.help or None, format="%g",
                           min_value=float(spec.low) if math.isfinite(spec.low) else None,
                           max_value=float(spec.high) if math.isfinite(spec.high) else None)


def _entries(state_key: str, defaults: Sequence[OptimizerConfig]) -> dict[str, Any]:
    if state_key not in st.session_state:
        st.session_state[state_key] = {
            "entries": [{"uid": i, "config": cfg} for i, cfg in enumerate(defaults)],
            "next": len(defaults),
        }
    return st.session_state[state_key]


def _add(state_key: str, cfg: OptimizerConfig) -> None:
    store = st.session_state[state_key]
    store["entries"].append({"uid": store["next"], "config": cfg})
    store["next"] += 1


def _remove(state_key: str, uid: int) -> None:
    store = st.session_state[state_key]
    store["entries"] = [e for e in store["entries"] if e["uid"] != uid]


def _add_selected(state_key: str, picker_key: str) -> None:
    _add(state_key, OptimizerConfig(name=st.session_state[picker_key]))


def _duplicate(state_key: str, uid: int) -> None:
    store = st.session_state[state_key]
    for e in store["entries"]:
        if e["uid"] == uid:
            _add(state_key, replace(e["config"], label=""))
            return


def _one_optimizer(prefix: str, uid: int, cfg: OptimizerConfig, color: str, state_key: str, n: int) -> OptimizerConfig:
    base = f"{prefix}.{uid}"
    reg = optimizers.REGISTRY
    dot, head = st.columns([1, 9], vertical_alignment="center", gap="small")
    dot.markdown(f"<span style='color:{color};font-size:1.6em'>●</span>", unsafe_allow_html=True)
    with head:
        _seed(f"{base}.name", cfg.name if cfg.name in reg else next(iter(reg)))
        name = st.selectbox(
            f"optimizer {uid}", list(reg), key=f"{base}.name", format_func=lambda k: reg[k].title,
            label_visibility="collapsed",
        )
    specs = reg[name].specs
    given = dict(cfg.hparams) if name == cfg.name else {}
    hp_key = f"{base}.{name}"
    hparams: dict[str, Any] = {}
    main = [s for s in specs if s.name == "lr"]
    rest = [s for s in specs if s.name != "lr"]
    for spec in main:
        hparams[spec.name] = spec_widget(spec, f"{hp_key}.{spec.name}", given.get(spec.name, spec.default))
    with st.expander("settings, schedule, clipping…", expanded=False):
        for spec in rest:
            hparams[spec.name] = spec_widget(spec, f"{hp_key}.{spec.name}", given.get(spec.name, spec.default))
        st.caption("Transforms (wrap any optimizer)")
        _seed(f"{base}.sched", cfg.schedule if cfg.schedule in SCHEDULES else "constant")
        sched = st.selectbox("learning-rate schedule", list(SCHEDULES), key=f"{base}.sched",
                             format_func=lambda k: SCHEDULES[k].title)
        sgiven = dict(cfg.schedule_params) if sched == cfg.schedule else {}
        sparams = {
            s.name: spec_widget(s, f"{base}.sched.{sched}.{s.name}", sgiven.get(s.name, s.default))
            for s in SCHEDULES[sched].specs
        }
        _seed(f"{base}.clip", cfg.clip_mode if cfg.clip_mode in CLIP_MODES else "off")
        clip = st.selectbox("gradient clipping", CLIP_MODES, key=f"{base}.clip", format_func=CLIP_LABELS.get)
        threshold = cfg.clip_threshold
        if clip != "off":
            _seed(f"{base}.clip_t", float(cfg.clip_threshold))
            threshold = st.number_input("clip threshold", min_value=1e-6, key=f"{base}.clip_t", format="%g",
                                        help="Largest gradient norm (or entry) let through.")
        _seed(f"{base}.noise", float(cfg.noise_sigma))
        sigma = st.number_input("gradient noise σ", min_value=0.0, step=0.05, key=f"{base}.noise", format="%g",
                                help="Gaussian noise added to every gradient: 'SGD' on a surface. 0 = off.")
        anneal, seed = cfg.noise_anneal, cfg.noise_seed
        if sigma > 0:
            _seed(f"{base}.anneal", float(cfg.noise_anneal))
            anneal = st.slider("noise annealing γ (σ/t^γ)", 0.0, 2.0, step=0.05, key=f"{base}.anneal",
                               help="0 = constant noise; 0.55 as in Neelakantan et al. (2015).")
            _seed(f"{base}.seed", int(cfg.noise_seed))
            seed = st.number_input("noise seed", min_value=0, step=1, key=f"{base}.seed")
        _seed(f"{base}.dwd", float(cfg.decoupled_weight_decay))
        dwd = st.number_input("decoupled weight decay λ", min_value=0.0, step=0.001, key=f"{base}.dwd", format="%g",
                              help="AdamW-style: θ ← θ − lr·(d + λθ), independent of the gradient.")
    dup_col, rm_col = st.columns(2)
    dup_col.button("duplicate", icon=":material/content_copy:", key=f"{base}.dup", type="tertiary",
                   help="Add a copy with the current settings (e.g. to compare two learning rates)",
                   on_click=_duplicate, args=(state_key, uid))
    rm_col.button("remove", icon=":material/delete:", key=f"{base}.rm", type="tertiary", help="Remove this optimizer",
                  on_click=_remove, args=(state_key, uid), disabled=n <= 1)
    return OptimizerConfig.make(
        name, hparams, schedule=sched, schedule_params=sparams, clip_mode=clip, clip_threshold=float(threshold),
        noise_sigma=float(sigma), noise_anneal=float(anneal), noise_seed=int(seed), decoupled_weight_decay=float(dwd),
    )


def optimizer_panel(prefix: str, defaults: list[OptimizerConfig], *, state_key: str) -> list[OptimizerConfig]:
    """Controls for any number of optimizers; returns their configs in order.

    Parameters
    ----------
    prefix : str
        Prefix of every widget key (pages use different prefixes).
    defaults : list of OptimizerConfig
        The starting list (e.g. decoded from the URL); used only the first
        time ``state_key`` is seen in this session.
    state_key : str
        Session-state key holding the list of entries.

    Returns
    -------
    list of OptimizerConfig
        Valid configs only, each with a unique ``label``; the colour of the
        i-th is ``viz.palette.color_for(i)``. An entry whose settings do not
        build shows its error inline and is left out.
    """
    store = _entries(state_key, defaults)
    out: list[OptimizerConfig] = []
    entries = list(store["entries"])
    for entry in entries:
        color = color_for(len(out))
        with st.container(border=True):
            cfg = _one_optimizer(prefix, entry["uid"], entry["config"], color, state_key, len(entries))
            try:
                cfg.build()
            except ValueError as err:
                st.error(f"Not run: {err}")
                continue
            entry["config"] = cfg
            out.append(cfg)
    picker = f"{prefix}.add_pick"
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    with c1:
        st.selectbox("add an optimizer", optimizers.names(), key=picker,
                     format_func=lambda k: optimizers.REGISTRY[k].title)
    c2.button("Add", icon=":material/add:", key=f"{prefix}.add", on_click=_add_selected, args=(state_key, picker), width="stretch")
    return unique_labels(out)
