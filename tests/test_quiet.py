"""Controls read without being drawn (ui.quiet), and the surfaces page that sends its figure before its controls.

References: the widgets themselves. Read quietly, every control must give the value the same widget returns when
it is drawn (two paths that must agree), and nothing may be drawn while reading. On the surfaces page the controls
read before the figure must equal the controls drawn after it through a walk of the interactions a person makes;
the page records any difference (``redrawn`` in its timings) and would run again.
"""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.apptest_support import one_component_scan  # noqa: F401  (autouse fixture)

APP = str(Path(__file__).resolve().parents[1] / "ui" / "pages" / "surfaces.py")
TIMEOUT = 120


def _script() -> None:
    import streamlit as st

    from ui.quiet import UI, quiet

    ss = st.session_state
    for key, value in (("k.box", "b"), ("k.slider", 3), ("k.num", 1.5), ("k.check", True), ("k.radio", "y"),
                       ("k.multi", ["p"]), ("k.text", "hello"), ("k.sel", 0.01), ("k.exp", False)):
        if key not in ss:
            ss[key] = value

    def controls() -> dict:
        got = {}
        with UI.sidebar:
            UI.header("a header")
            left, right = UI.columns(2)
            with left:
                got["box"] = UI.selectbox("box", ["a", "b", "c"], key="k.box")
            with right:
                got["slider"] = UI.slider("slider", 0, 10, key="k.slider")
            got["num"] = UI.number_input("num", 0.0, 9.0, key="k.num")
            got["check"] = UI.checkbox("check", key="k.check")
            row = UI.container(horizontal=True)
            got["radio"] = row.radio("radio", ["x", "y"], key="k.radio")
            got["multi"] = UI.multiselect("multi", ["p", "q"], key="k.multi")
            got["text"] = UI.text_input("text", key="k.text")
            got["sel"] = UI.select_slider("sel", [0.001, 0.01, 0.1], key="k.sel")
            more = UI.expander("more", expanded=False, key="k.exp", on_change="rerun")
            got["open"] = more.open
            with more:
                UI.caption("inside")
        return got

    with quiet():
        read = controls()
    st.session_state["elements after reading"] = len(st.session_state)  # reading must not add widget state
    drawn = controls()
    st.session_state["read"], st.session_state["drawn"] = read, drawn


def test_controls_read_quietly_equal_the_drawn_widgets_and_draw_nothing() -> None:
    """Reference: the drawn widgets' own return values, on the first run and after the user changed several."""
    at = AppTest.from_function(_script, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.session_state["read"] == at.session_state["drawn"]
    assert len(at.sidebar.get("selectbox")) == 1 and len(at.get("header")) == 1  # each drawn once, by the real pass
    at.selectbox(key="k.box").set_value("c")
    at.slider(key="k.slider").set_value(7)
    at.checkbox(key="k.check").uncheck()
    at.radio(key="k.radio").set_value("x")
    at.text_input(key="k.text").set_value("changed")
    at.run()
    assert not at.exception
    read = at.session_state["read"]
    assert read == at.session_state["drawn"]
    assert (read["box"], read["slider"], read["check"], read["radio"], read["text"]) == ("c", 7, False, "x", "changed")


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def _redraws(at: AppTest) -> int:
    try:
        return int(at.session_state["surf.redraws"])
    except KeyError:
        return 0


def _check(at: AppTest, what: str) -> None:
    assert not at.exception, (what, [e.message for e in at.exception])
    # The count survives the page's own rerun after a difference (the run's timings do not).
    assert _redraws(at) == 0, f"{what}: the controls drawn differ from those read before the figure"
    assert len(at.get("plotly_chart")) == 1, what


def test_surfaces_controls_read_before_the_figure_equal_those_drawn_after_it() -> None:
    """Reference: the drawn controls (the page compares them with those read, ``redrawn`` when they differ), through
    the interactions a person makes: a surface, the add button, an optimizer's name and learning rate, the steps,
    a preset start, the settings expander, a reset of one control by another, and a link's garbage."""
    at = _app({"surface": "himmelblau", "steps": "80"})
    _check(at, "open")
    at.slider(key="surf.w.steps").set_value(90).run()
    _check(at, "steps")
    at.selectbox(key="surf.w.surface").set_value("rosenbrock").run()
    _check(at, "surface")
    at.button(key="surf.opt.add").click().run()
    _check(at, "add")
    uid = at.session_state["surf.opt.store"]["entries"][-1]["uid"]
    at.selectbox(key=f"surf.opt.{uid}.name").set_value("rmsprop").run()
    _check(at, "name")
    lr = at.select_slider(key=f"surf.opt.{uid}.rmsprop.lr")
    lr.set_value(lr.options[len(lr.options) // 3] if isinstance(lr.options[0], float) else lr.value).run()
    _check(at, "lr")
    at.session_state[f"surf.opt.{uid}.more"] = True  # open its settings, as the browser does
    at.run()
    _check(at, "settings open")
    presets = at.selectbox(key="surf.preset")
    presets.set_value(presets.options[0]).run()
    _check(at, "preset")
    at.button(key=f"surf.opt.{uid}.rm").click().run()
    _check(at, "remove")
    garbage = _app({"surface": "himmelblau", "steps": "abc", "o0": "adam", "o0.lr": "nan"})
    _check(garbage, "garbage link")
    fig = json.loads(garbage.get("plotly_chart")[0].proto.spec)
    assert fig["frames"], "the figure of a garbage link still plays"


def test_a_slider_widened_by_a_link_keeps_the_value_moved_back_into_its_usual_range() -> None:
    """Reference: the value the user set. A link's β₂ = 0.5 lies below the slider's usual range (0.9-0.9999), so the
    slider widens to take it; moved back to 0.95, it must show and run 0.95. Streamlit names a slider by its range,
    so a range that narrowed again made a new widget: it dropped the value (to 0.9) and the controls read before
    the figure (0.95) differed from those drawn."""
    at = _app({"surface": "himmelblau", "steps": "80", "o0": "adam", "o0.beta2": "0.5"})
    uid = at.session_state["surf.opt.store"]["entries"][0]["uid"]
    at.session_state[f"surf.opt.{uid}.more"] = True
    at.run()
    _check(at, "settings open")
    slider = at.slider(key=f"surf.opt.{uid}.adam.beta2")
    assert slider.min <= 0.5 and slider.value == 0.5
    slider.set_value(0.95).run()
    _check(at, "moved back into the usual range")
    assert at.slider(key=f"surf.opt.{uid}.adam.beta2").value == 0.95
    assert dict(at.session_state["surf.values"]["optimizers"][0].config.hparams)["beta2"] == 0.95


def test_a_run_cut_short_by_a_newer_one_does_not_wait_to_draw_its_controls(monkeypatch) -> None:
    """Reference: Streamlit's own rerun signal, raised where a newer run interrupts the figure. The interrupted run
    must end at once (no deferred turn behind other sessions, no second drawing of the controls) and the newer run
    must draw the page; an ordinary error under the figure still keeps the controls on screen."""
    from streamlit.runtime.scriptrunner_utils.exceptions import RerunException
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

    import ui.surfaces_page as page
    from ui import quiet as q

    calls: list[str] = []
    real_sidebar, real_figure, real_shown = page._sidebar, page._figure_part, page.figure_shown
    fail: list[BaseException] = []

    def sidebar(values):
        calls.append("read" if getattr(q._STATE, "quiet", False) else "drawn")
        return real_sidebar(values)

    def figure(*args, **kwargs):
        if fail:
            calls.append("figure cut short")
            raise fail.pop()
        return real_figure(*args, **kwargs)

    def shown():
        calls.append("deferred")
        real_shown()

    monkeypatch.setattr(page, "_sidebar", sidebar)
    monkeypatch.setattr(page, "_figure_part", figure)
    monkeypatch.setattr(page, "figure_shown", shown)
    at = _app({"surface": "himmelblau", "steps": "80"})
    assert calls == ["read", "deferred", "drawn"]
    calls.clear()
    fail.append(RerunException(RerunData()))
    at.slider(key="surf.w.steps").set_value(90).run()
    assert calls == ["read", "figure cut short", "read", "deferred", "drawn"]
    _check(at, "after the newer run")
    calls.clear()
    fail.append(RuntimeError("a bug under the figure"))
    at.slider(key="surf.w.steps").set_value(95).run()
    assert calls == ["read", "figure cut short", "deferred", "drawn"]
    assert not at.exception and at.error, "the error boundary shows one short sentence"
    assert at.sidebar.get("selectbox"), "the controls stay on screen"
