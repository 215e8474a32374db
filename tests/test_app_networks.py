"""The networks page under Streamlit's AppTest.

References: the page must render without an exception for every dataset and preset (the app's own
widgets, the preset's own values); a bad hidden-sizes string must give an error message naming the text the
user typed; the link the page writes must decode (ui.networks_model.MODEL) to the values the given link
decodes to; the multi-seed band must be present (a filled trace in the chart's JSON). Widget keys follow
the control model: ``net.w.<url key>``, and ``net.opt.<uid>.…`` for the optimizer panel. The codec's own
tests are in test_url_state.py and test_link_garbage.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import nets
import optimizers
from tests.apptest_support import one_component_scan  # noqa: F401  (autouse fixture)
from ui.networks_model import MODEL, PRESETS

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
    """First visit: no exception, no error, no notice, the animated chart with frames is there."""
    at = _app().run()
    _ok(at)
    assert not at.warning, [w.value for w in at.warning]
    charts = _charts(at)
    assert charts and charts[0].get("frames")


@pytest.mark.parametrize("dataset", nets.datasets())
def test_each_dataset_runs(dataset):
    """Every registered dataset trains and draws (few epochs and no slice to keep the test short; the slice is
    drawn on the default page and in the presets)."""
    at = _app({"data": dataset, "epochs": "5", "slice": "off"}).run()
    _ok(at)
    assert at.selectbox(key="net.w.data").value == dataset
    assert _charts(at)


# xor_tanh trains 10 seeds one row at a time for 500 epochs: the heaviest preset.
@pytest.mark.parametrize("preset", [pytest.param(p, marks=pytest.mark.slow) if p.key == "xor_tanh" else p
                                    for p in PRESETS], ids=lambda p: p.key)
def test_each_preset_runs(preset):
    """Picking a seed-question preset sets the preset's own values in the widgets and runs without error."""
    at = _app({"epochs": "20"}).run()
    at.selectbox(key="net.preset").set_value(preset.key).run()
    _ok(at)
    want = preset.values()
    assert at.selectbox(key="net.w.data").value == want["data"]
    assert at.text_input(key="net.w.hidden").value == want["hidden"]
    assert at.number_input(key="net.w.epochs").value == want["epochs"]
    names = [at.selectbox(key=f"net.opt.{i}.name").value for i in range(len(want["optimizers"]))]
    assert names == [e.config.name for e in want["optimizers"]]
    assert any(preset.title in i.value for i in at.info)


def test_bad_hidden_sizes_shows_error_and_keeps_settings():
    """'4,x' is not a list of widths: a clear error naming the bad piece, no traceback, the dataset choice and the
    typed text kept."""
    at = _app({"data": "moons", "epochs": "20"}).run()
    at.text_input(key="net.w.hidden").set_value("4,x").run()
    assert not at.exception
    assert any("hidden" in e.value.lower() and "is not a number" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert at.selectbox(key="net.w.data").value == "moons"
    assert at.text_input(key="net.w.hidden").value == "4,x"


def test_multi_seed_mode_draws_band():
    """With 5 seeds the page adds the seeds figure, whose band is a filled trace."""
    at = _app({"data": "xor", "epochs": "30", "seeds": "5"}).run()
    _ok(at)
    fills = [t for c in _charts(at) for t in c["data"] if t.get("fill") == "tonexty"]
    assert fills


def test_query_params_round_trip():
    """A link with non-default values sets the widgets, and the page writes back a link that decodes to the same
    values (reference: MODEL.decode of the page's query string equals MODEL.decode of the given one)."""
    given = {"data": "circles", "hidden": "8,8", "act": "relu", "epochs": "40", "batch": "16",
             "shuffle": "false", "o0": "adam", "o0.lr": "0.01", "slice": "pca", "res": "21"}
    at = _app(given).run()
    _ok(at)
    assert at.selectbox(key="net.w.data").value == "circles"
    assert at.text_input(key="net.w.hidden").value == "8,8"
    assert at.selectbox(key="net.w.batch").value == 16
    assert at.checkbox(key="net.w.shuffle").value is False
    written = {k: at.query_params[k] for k in at.query_params}
    v_given, n1 = MODEL.decode(given)
    v_written, n2 = MODEL.decode(written)
    assert not n1 and not n2
    assert v_written == v_given


def test_garbage_params_fall_back_with_notice():
    """Unknown dataset, negative epochs, a broken hidden string and an unknown key: the declared defaults in the
    widgets, and one notice box."""
    at = _app({"data": "nonsense", "epochs": "-5", "hidden": "4,x", "zzz": "1", "o0": "nope"}).run()
    _ok(at)
    notices = [w.value for w in at.warning if "ignored" in w.value]
    assert len(notices) == 1
    d = MODEL.defaults()
    assert at.selectbox(key="net.w.data").value == d["data"]
    assert at.text_input(key="net.w.hidden").value == d["hidden"]
    assert at.number_input(key="net.w.epochs").value == d["epochs"]
    assert _charts(at)


def test_a_regression_set_shows_r2_not_accuracy_and_its_fitted_function():
    """Regression (sine): the score panel and the summary say R² (reference: problem.score_name, the library's
    own name for what it records), nothing is drawn as accuracy in percent, and the fitted function is shown."""
    at = _app({"data": "sine", "epochs": "50"}).run()
    _ok(at)
    fig = _charts(at)[0]
    titles = [a.get("text", "") for a in fig["layout"].get("annotations", [])]
    assert any(t.startswith("R²") for t in titles) and not any(t.startswith("accuracy") for t in titles)
    assert fig["layout"]["yaxis2"]["title"]["text"] == "R²"
    assert any("train R²" in str(col) for col in at.dataframe[0].value.columns)
    assert any(el.key == "net.fit" for el in at.get("plotly_chart") if getattr(el, "key", None))


def test_network_page_offers_the_settings_that_need_a_layout():
    """Reference: Muon's ``layout_specs``: on networks AdamW moves the biases and output layer, so its settings are
    offered there (the surfaces page hides them; tests/test_app_surfaces.py)."""
    at = _app({"o0": "muon", "epochs": "5"})
    at.session_state["net.opt.0.more"] = True
    at.run()
    _ok(at)
    for name in optimizers.REGISTRY["muon"].layout_specs:
        assert f"net.opt.0.muon.{name}" in at.session_state


def test_an_optimizer_that_refuses_the_network_is_left_out_with_its_reason():
    """Reference: Shampoo's own rule (it runs on 2-D surfaces only; its init refuses any other θ): on Iris 4-16-3
    (131 parameters) it gets a notice naming the size, Adam still trains and draws, and the link keeps both."""
    at = _app({"data": "iris", "hidden": "16", "o0": "shampoo", "o1": "adam", "epochs": "10"}).run()
    _ok(at)
    notes = [w.value for w in at.warning if "not run on this network" in w.value]
    assert len(notes) == 1 and "131" in notes[0] and "surfaces only" in notes[0]
    assert _charts(at)
    assert at.query_params["o0"] == "shampoo" and at.query_params["o1"] == "adam"
