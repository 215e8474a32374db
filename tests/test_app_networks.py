"""The networks page under Streamlit's AppTest, and its URL encoding.

References: the page must render without an exception for every dataset and preset (the app's own
widgets); a bad hidden-sizes string must give an error message (the text the user typed); the URL must
decode to the settings that encoded it (round trip through ui.net_state); the multi-seed band must be
present (a filled trace in the chart's JSON).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import nets
from ui import net_state as ns

PAGE = str(Path(__file__).resolve().parents[1] / "ui" / "pages" / "networks.py")
TIMEOUT = 240


def _app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_default_page_runs():
    """First visit: no exception, no error, the animated chart with frames is there."""
    at = _app().run()
    _ok(at)
    charts = _charts(at)
    assert charts and charts[0].get("frames")


@pytest.mark.parametrize("dataset", nets.datasets())
def test_each_dataset_runs(dataset):
    """Every registered dataset trains and draws (few epochs to keep the test short)."""
    at = _app({"data": dataset, "epochs": "20"}).run()
    _ok(at)
    assert at.selectbox(key="net.data").value == dataset
    assert _charts(at)


@pytest.mark.parametrize("key", [p.key for p in ns.presets()])
def test_each_preset_runs(key):
    """Picking a seed-question preset sets its dataset and runs without error."""
    at = _app().run()
    at.selectbox(key="net.preset").set_value(key).run()
    _ok(at)
    preset = next(p for p in ns.presets() if p.key == key)
    assert at.selectbox(key="net.data").value == preset.settings.dataset
    assert at.text_input(key="net.hidden").value == preset.settings.hidden
    assert any(preset.title in i.value for i in at.info)


def test_bad_hidden_sizes_shows_error_and_keeps_settings():
    """'4,x' is not a list of widths: a clear error, no traceback, the dataset choice kept."""
    at = _app({"data": "moons", "epochs": "20"}).run()
    at.text_input(key="net.hidden").set_value("4,x").run()
    assert not at.exception
    assert any("hidden" in e.value.lower() and "'x'" in e.value for e in at.error)
    assert at.selectbox(key="net.data").value == "moons"
    assert at.text_input(key="net.hidden").value == "4,x"


def test_multi_seed_mode_draws_band():
    """With 5 seeds the page adds the seeds figure, whose band is a filled trace."""
    at = _app({"data": "xor", "epochs": "30", "seeds": "5"}).run()
    _ok(at)
    fills = [t for c in _charts(at) for t in c["data"] if t.get("fill") == "tonexty"]
    assert fills


def test_query_params_round_trip():
    """A link with non-default settings sets the widgets, and the page writes back the same settings
    (reference: ui.net_state.decode of the page's query string equals decode of the given one)."""
    given = {"data": "circles", "hidden": "8,8", "act": "relu", "epochs": "40", "batch": "16",
             "shuffle": "false", "o0": "adam", "o0.lr": "0.01", "slice": "pca", "res": "21"}
    at = _app(given).run()
    _ok(at)
    assert at.selectbox(key="net.data").value == "circles"
    assert at.text_input(key="net.hidden").value == "8,8"
    assert at.radio(key="net.batch_mode").value == "b"
    written = {k: at.query_params[k] for k in at.query_params}
    s_given, n1 = ns.decode(given)
    s_written, n2 = ns.decode(written)
    assert not n1 and not n2
    assert s_written.optimizers[0].name == "adam"
    assert dict(s_written.optimizers[0].hparams)["lr"] == 0.01
    for field in ("dataset", "hidden", "activation", "epochs", "batch_size", "shuffle", "slice", "resolution"):
        assert getattr(s_written, field) == getattr(s_given, field), field


def test_garbage_params_fall_back_with_notice():
    """Unknown dataset, negative epochs, a broken hidden string and an unknown key: defaults + one notice."""
    at = _app({"data": "nonsense", "epochs": "-5", "hidden": "4,x", "zzz": "1", "o0": "nope"}).run()
    assert not at.exception
    assert at.warning and "ignored" in at.warning[0].value
    d = ns.default_settings()
    assert at.selectbox(key="net.data").value == d.dataset
    assert at.text_input(key="net.hidden").value == d.hidden
    assert at.number_input(key="net.epochs").value == d.epochs


def test_encode_decode_round_trip_of_presets():
    """Every preset survives encode -> decode unchanged, with no notices (reference: the preset itself)."""
    for p in ns.presets():
        s, notices = ns.decode(ns.encode(p.settings))
        assert not notices, (p.key, notices)
        assert s == p.settings, p.key


def test_parse_hidden():
    """Widths parse from text; bad text names the bad piece (reference: the typed strings)."""
    assert ns.parse_hidden("") == ()
    assert ns.parse_hidden(" 16, 16 ") == (16, 16)
    with pytest.raises(ValueError, match="'x'"):
        ns.parse_hidden("4,x")
    with pytest.raises(ValueError, match="units"):
        ns.parse_hidden("0")


def test_negative_hidden_width_is_not_called_not_a_number():
    """QA (browser walk-through): typing "-3" said "'-3' is not a number", and the page read
    "Hidden sizes: hidden sizes ...". Reference: the typed strings; -3 is a number, just not a width."""
    with pytest.raises(ValueError, match="'-3' is not a positive whole number"):
        ns.parse_hidden("-3")
    with pytest.raises(ValueError, match="'x' is not a number"):
        ns.parse_hidden("4,x")
    for text in ("-3", "4,x", "1" * (ns.MAX_HIDDEN_TEXT + 1)):
        with pytest.raises(ValueError) as err:
            ns.parse_hidden(text)
        assert not str(err.value).lower().startswith("hidden sizes"), str(err.value)
