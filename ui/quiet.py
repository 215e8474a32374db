"""Controls read without being drawn, so a page can send its figure before its sidebar.

A widget with a key holds its value in session state from the start of a run:
the value the browser sent with a moved slider, or the one the page seeded
before drawing it (every control here is seeded that way, see
:func:`ui.controls.spec_widget`). So the code that draws the controls can also
*read* them without drawing anything: :data:`UI` stands for ``streamlit`` in
that code, and inside :func:`quiet` each widget call returns its key's value,
each container, column or expander is an empty stand-in (an expander's
``open`` is its key's value), and every other element draws nothing.

The surfaces page reads its controls quietly, computes and sends its figure,
then draws the controls for real from the values read (the same code, so the
same values; the page checks that they are). Its sidebar, a third of a view's
server time, then waits behind the other sessions' figures
(:meth:`ui.admission.Turn.defer`).

Quiet mode is per thread: each session's script runs on its own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import streamlit as st

_STATE = threading.local()

#: Widget functions: quietly, each returns the value under its ``key`` in session state.
WIDGETS = frozenset({"button", "checkbox", "color_picker", "date_input", "multiselect", "number_input", "pills",
                     "radio", "segmented_control", "select_slider", "selectbox", "slider", "text_area", "text_input",
                     "time_input", "toggle"})


class _Block:
    """A container, column, expander or element that draws nothing; widgets called on it read session state."""

    def __init__(self, is_open: bool | None = None) -> None:
        self.open = is_open

    def __enter__(self) -> _Block:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return _quiet(name)


def _widget(*args: Any, key: str | None = None, **kwargs: Any) -> Any:
    return st.session_state[key] if key is not None and key in st.session_state else None


def _columns(spec: int | list[float], *args: Any, **kwargs: Any) -> list[_Block]:
    return [_Block() for _ in range(spec if isinstance(spec, int) else len(spec))]


def _expander(label: str, expanded: bool = False, *args: Any, key: str | None = None, **kwargs: Any) -> _Block:
    return _Block(bool(st.session_state.get(key, expanded)) if key is not None else expanded)


def _element(*args: Any, **kwargs: Any) -> _Block:
    return _Block()


def _quiet(name: str) -> Callable[..., Any]:
    if name in WIDGETS:
        return _widget
    return {"columns": _columns, "expander": _expander}.get(name, _element)


class _UI:
    """``streamlit`` itself, or its quiet stand-in inside :func:`quiet` (on this thread)."""

    def __getattr__(self, name: str) -> Any:
        if getattr(_STATE, "quiet", False) and name not in ("session_state", "query_params"):
            return _Block() if name == "sidebar" else _quiet(name)
        return getattr(st, name)


#: Use in place of ``st`` in code that draws controls a page may read quietly.
UI = _UI()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Within the block, on this thread, :data:`UI`'s widgets read session state and nothing is drawn."""
    before = getattr(_STATE, "quiet", False)
    _STATE.quiet = True
    try:
        yield
    finally:
        _STATE.quiet = before
