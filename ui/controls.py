"""Widgets derived from control declarations, and the page state they read and write.

A page keeps its values in ``st.session_state[f"{prefix}.values"]``, a plain
dict that survives page switches (Streamlit drops the *widget* keys of a page
that is not shown). Every widget key is re-seeded from those values when it
is missing, so leaving a page and coming back shows the same settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from common.controls import Control, echo
from common.spec import Spec
from ui.quiet import UI


# -- helpers on numbers ------------------------------------------------------------------------
def log_options(low: float, high: float, extra: Sequence[float] = ()) -> list[float]:
    """Values 1, 1.5, 2, 3, 5, 7 × 10^k spanning ``[low, high]``, plus ``extra``, sorted.

    ``extra`` keeps a value from a link selectable even when it is off the
    grid, so a shared link reproduces it exactly.
    """
    if not (low > 0 and high > low):
        raise ValueError(f"log range needs 0 < low < high, got ({low}, {high})")
    out: set[float] = set()
    for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for m in (1, 1.5, 2, 3, 5, 7):
            v = float(f"{m * 10.0**k:.6g}")
            if low * (1 - 1e-9) <= v <= high * (1 + 1e-9):
                out.add(v)
    out.update(float(v) for v in extra if v > 0 and math.isfinite(v) and low <= v <= high)
    return sorted(out)


def slider_step(lo: float, hi: float) -> float:
    """A round step giving about 200-2000 positions over ``[lo, hi]``."""
    return 10.0 ** math.floor(math.log10((hi - lo) / 200.0))


def _clip(spec: Spec, value: Any) -> Any:
    """``value`` inside the spec's range (a widget must never be seeded outside its own bounds)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return spec.default
    if not math.isfinite(v):
        return spec.default
    lo = spec.low if math.isfinite(spec.low) else -1e300
    hi = spec.high if math.isfinite(spec.high) else 1e300
    v = min(max(v, lo), hi)
    return int(v) if spec.kind == "int" else v


# -- one widget ---------------------------------------------------------------------------------
def spec_widget(spec: Spec, key: str, value: Any, *, widget: str = "", options: Sequence[Any] = (),
                fmt: Any = None, on_change: Any = None, args: tuple[Any, ...] = ()) -> Any:
    """One control for ``spec`` under widget key ``key``; returns its current value.

    ``value`` seeds the widget when ``key`` is missing (first run, or after
    Streamlit dropped it on a page switch); later the user's choice wins.

    Kinds: bool -> checkbox; options -> selectbox (``radio``,
    ``select_slider`` or ``multiselect`` on request); str without options ->
    text input; log float -> select-slider over round log-spaced values;
    int/float -> slider (``number`` on request), always within the spec's range.
    """
    ss = st.session_state
    label = spec.label or spec.name
    kw: dict[str, Any] = {"key": key, "help": spec.help or None, "on_change": on_change, "args": args}
    if widget == "multiselect":
        opts = list(options)
        if key not in ss or not all(v in opts for v in ss[key]):
            ss[key] = [v for v in value if v in opts]
        return tuple(UI.multiselect(label, opts, format_func=fmt or str, **kw))
    if spec.kind == "bool":
        if key not in ss:
            ss[key] = bool(value)
        return UI.checkbox(label, **kw)
    if options:
        opts = list(options)
        if key not in ss or ss[key] not in opts:
            ss[key] = value if value in opts else opts[0]
        if widget == "radio":
            return UI.radio(label, opts, format_func=fmt or str, horizontal=True, **kw)
        if widget == "select_slider":
            return UI.select_slider(label, opts, format_func=fmt or str, **kw)
        return UI.selectbox(label, opts, format_func=fmt or str, **kw)
    if spec.kind == "choice":
        if key not in ss:
            ss[key] = str(value)
        return UI.text_input(label, max_chars=500, **kw)
    lo, hi = spec.low, spec.high
    if spec.log and lo >= 0:
        try:
            lo, hi = spec.slider_range
        except ValueError:
            pass
        lo = max(lo, 1e-12)
        current = ss.get(key, value)
        opts = log_options(lo, hi, extra=[float(current)] if isinstance(current, (int, float)) else [])
        if key not in ss or ss[key] not in opts:
            target = float(value) if isinstance(value, (int, float)) and value > 0 else opts[0]
            ss[key] = min(opts, key=lambda o: abs(math.log(o / target)))
        return UI.select_slider(label, options=opts, format_func=lambda v: f"{v:g}", **kw)
    if key not in ss:
        ss[key] = _clip(spec, value)
    if widget == "number" or not (math.isfinite(lo) and math.isfinite(hi)) or (spec.ui_high is None and hi - lo > 1e4):
        fin = math.isfinite
        if spec.kind == "int":
            return UI.number_input(label, min_value=int(lo) if fin(lo) else None, max_value=int(hi) if fin(hi) else None,
                                   step=int(spec.step or 1), **kw)
        return UI.number_input(label, min_value=float(lo) if fin(lo) else None,
                               max_value=float(hi) if fin(hi) else None, format="%g",
                               step=float(spec.step) if spec.step else None, **kw)
    if spec.ui_low is not None or spec.ui_high is not None:
        # The usual range, widened to take a value from a link beyond it; kept (only ever widened) while the widget
        # lives. Streamlit names a slider by its range: narrowed again when the user moves back inside it, the
        # slider would be a new widget and drop the value just chosen.
        lo, hi = spec.slider_range
        cur = ss[key]
        kept = ss.get(f"{key}.range")
        if kept is not None:
            lo, hi = min(lo, kept[0]), max(hi, kept[1])
        lo, hi = min(lo, cur), max(hi, cur)
        ss[f"{key}.range"] = (lo, hi)
    if spec.kind == "int":
        return UI.slider(label, int(lo), int(hi), step=int(spec.step or 1), **kw)
    step = float(spec.step or slider_step(lo, hi))
    decimals = max(0, -math.floor(math.log10(step)))
    return UI.slider(label, float(lo), float(hi), step=step, format=f"%.{decimals}f", **kw)


# -- page state ---------------------------------------------------------------------------------
def values_key(prefix: str) -> str:
    """Session-state key of a page's values."""
    return f"{prefix}.values"


def widget_key(prefix: str, key: str) -> str:
    """Session-state key of a control's widget."""
    return f"{prefix}.w.{key}"


def _reset_later(prefix: str, keys: tuple[str, ...]) -> None:
    st.session_state[f"{prefix}.reset"] = keys


def draw(controls: Sequence[Control], values: dict[str, Any], prefix: str, section: str | None = None) -> None:
    """Draw the controls of one section (all when None) and write their values into ``values``.

    Controls that are not shown keep their value. A control whose options
    changed under it (another control changed) falls back to its default. A
    control listed in another's ``resets`` returns to its default when that
    one changes.
    """
    ss = st.session_state
    reset = set(ss.get(f"{prefix}.reset", ()))
    for c in controls:
        if section is not None and c.section != section:
            continue
        wkey = widget_key(prefix, c.key)
        if c.key in reset:
            values[c.key] = c.default_for(values)
            ss.pop(wkey, None)
            reset.discard(c.key)
            ss[f"{prefix}.reset"] = tuple(reset)
        try:
            values[c.key] = c.coerce(values.get(c.key, c.default_for(values)), values)
        except (ValueError, TypeError):
            values[c.key] = c.default_for(values)
            ss.pop(wkey, None)
        if not c.is_shown(values):
            continue
        widget = c.widget or ("multiselect" if c.many else "")
        got = spec_widget(c.spec, wkey, values[c.key], widget=widget, options=c.options(values), fmt=c.formatter(values),
                          on_change=_reset_later if c.resets else None, args=(prefix, c.resets) if c.resets else ())
        try:
            values[c.key] = c.coerce(got, values)
        except (ValueError, TypeError) as err:
            UI.error(f"{c.spec.label or c.key}: {echo(err, 160)}. The other settings are kept.")


def forget_widgets(prefix: str) -> None:
    """Drop a page's widget keys, so they re-seed from its values (after a preset or a reset)."""
    for k in [k for k in st.session_state if str(k).startswith(f"{prefix}.w.")]:
        del st.session_state[k]


def sync_url(query: Mapping[str, str | list[str]]) -> None:
    """Make the address bar show ``query`` (only when it differs, to avoid a rerun)."""
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    wanted = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
    if current != wanted:
        st.query_params.from_dict(query)


def link_query() -> dict[str, list[str]]:
    """The current link's query parameters, every value as a list."""
    return {k: st.query_params.get_all(k) for k in st.query_params}


def notice_box(notices: Sequence[str]) -> None:
    """One warning naming what a link asked for that was replaced (the notices are already escaped)."""
    from common.controls import notice_text

    if notices:
        st.warning(notice_text(notices), icon=":material/link:")


def initial_values(prefix: str, model: Any) -> tuple[dict[str, Any], list[str]]:
    """The page's values: decoded from the link on the session's first visit, later the last ones shown.

    Returns the values (a copy to fill in) and the link's notices (only on the first visit).
    """
    ss = st.session_state
    vkey = values_key(prefix)
    notices: list[str] = []
    if vkey not in ss:
        values, notices = model.decode(link_query())
        ss[vkey] = values
    return dict(ss[vkey]), notices


def store(prefix: str, values: Mapping[str, Any]) -> None:
    """Keep the values shown, for the next run and for the return from another page."""
    st.session_state[values_key(prefix)] = dict(values)


def reset_page(prefix: str) -> None:
    """Forget one page's settings (its values, widgets and optimizer list); other pages keep theirs."""
    for k in [k for k in st.session_state if str(k).startswith(f"{prefix}.")]:
        del st.session_state[k]
    st.query_params.clear()
