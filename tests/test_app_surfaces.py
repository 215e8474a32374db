"""The surfaces page through Streamlit's AppTest (no browser).

References: the registries (every landscape and optimizer must be selectable),
the runner's own divergence status, and two URL encodings that must agree
(values -> query string -> a fresh session -> the same values). Runs use few
steps so each test stays fast; the default page uses its real defaults.
Widget keys follow the control model: ``surf.w.<url key>`` for the page's
controls, ``surf.opt.<uid>.…`` for the optimizer panel.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import landscapes
import optimizers
from common.controls import echo
from tests.apptest_support import one_component_scan  # noqa: F401  (autouse fixture)
from ui.surfaces_model import MODEL, demo_optimizers, scipy_methods

APP = str(Path(__file__).resolve().parents[1] / "ui" / "pages" / "surfaces.py")  # the page itself: the app opens on Lessons
TIMEOUT = 120


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def _figure(at: AppTest) -> dict:
    charts = at.get("plotly_chart")
    assert len(charts) == 1, "expected exactly one figure"
    return json.loads(charts[0].proto.spec)


def _array(v) -> np.ndarray:
    """Plotly JSON arrays may be typed ({dtype, bdata}); decode either form."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v, dtype=np.float64)


def _roles(fig: dict, role: str) -> list[dict]:
    return [t for t in fig["data"] if (t.get("meta") or {}).get("role") == role]


def _no_failure(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _query(at: AppTest) -> dict[str, list[str]]:
    out = {}
    for k, v in at.query_params.items():
        out[k] = [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]
    return out


def _configs(values: dict) -> list:
    return [e.config for e in values["optimizers"]]


def test_default_page_shows_the_animated_figure():
    """Reference: the default values (the default surface's demo optimizers): one path and one loss trace per
    optimizer, frames, a slider and Play; none of the defaults diverges (the runner's status); the link written
    and the link shown for copying both equal the pure encoder's."""
    at = _app()
    _no_failure(at)
    fig = _figure(at)
    configs = _configs(MODEL.defaults())
    n = len(configs)
    paths, losses = _roles(fig, "path"), _roles(fig, "loss")
    assert len(paths) == n and len(losses) == n
    assert {p["name"] for p in paths} == {c.display for c in configs}
    assert all(t.get("xaxis", "x") != p.get("xaxis", "x") for t, p in zip(losses, paths, strict=True))
    assert len(fig["frames"]) > 10
    assert fig["layout"]["sliders"] and fig["layout"]["sliders"][0]["steps"]
    assert any("Play" in b.get("label", "") for m in fig["layout"]["updatemenus"] for b in m["buttons"])
    # The frame player drives the figure: its buttons (one frame back/forward among them) only notify it.
    buttons = fig["layout"]["updatemenus"][0]["buttons"]
    assert {"player:back", "player:forward", "player:play", "player:pause"} <= {b.get("name") for b in buttons}
    assert all(b.get("execute") is False for b in buttons)
    assert _roles(fig, "click-grid"), "the map needs the click grid for click-to-start"
    assert not any("diverged" in w.value for w in at.warning)
    # The summary table has one row per optimizer.
    assert len(at.table) == 1 and len(at.table[0].value) == n
    # Exports are offered once "Export and share" is opened (files rendered lazily, only on click).
    assert len(at.get("download_button")) == 0 and not at.code
    at.session_state["surf.export"] = True
    at.run()
    _no_failure(at)
    assert len(at.get("download_button")) == 5
    # The link: MODEL.encode of the defaults is what the page writes to the address bar, and the share box shows
    # MODEL.query_string of that link decoded again (two encodings that must agree).
    assert _query(at) == parse_qs(urlencode(MODEL.encode(MODEL.defaults()), doseq=True))
    values, _ = MODEL.decode(_query(at))
    assert any(c.value.endswith("?" + MODEL.query_string(values)) for c in at.code), [c.value for c in at.code]


@pytest.mark.parametrize("name", landscapes.names())
def test_every_landscape_can_be_selected_and_run(name):
    """Reference: landscapes.names(); each draws the figure with its own demo optimizers and its known minima
    marked, no error."""
    at = _app({"surface": name, "steps": "15"})
    _no_failure(at)
    assert at.selectbox(key="surf.w.surface").value == name
    fig = _figure(at)
    assert len(_roles(fig, "path")) == len(demo_optimizers({"surface": name}))
    if landscapes.get(name).minima:
        assert _roles(fig, "critical")


_NAMES = optimizers.names()
_CHUNKS = [_NAMES[i:i + 7] for i in range(0, len(_NAMES), 7)]  # within the page's cap of 8


@pytest.mark.parametrize("names", _CHUNKS, ids=lambda c: "+".join(c))
def test_every_optimizer_can_be_selected_and_run(names):
    """Reference: optimizers.names(); each optimizer named in the link is the one its panel shows, and drives one
    path and one loss curve (several per link, in the link's order)."""
    at = _app({**{f"o{i}": n for i, n in enumerate(names)}, "steps": "15"})
    _no_failure(at)
    assert [at.selectbox(key=f"surf.opt.{i}.name").value for i in range(len(names))] == names
    fig = _figure(at)
    assert [p["name"] for p in _roles(fig, "path")] == [optimizers.REGISTRY[n].title for n in names]
    assert len(_roles(fig, "loss")) == len(names)


def test_optimizer_added_through_the_panel_runs():
    """Reference: the panel's own add button: one more optimizer -> one more path, in a new colour."""
    at = _app({"steps": "15"})
    before = len(_roles(_figure(at), "path"))
    at.button(key="surf.opt.add").click().run()
    _no_failure(at)
    paths = _roles(_figure(at), "path")
    assert len(paths) == before + 1
    assert len({p["line"]["color"] for p in paths}) == len(paths)


def test_divergent_learning_rate_warns_and_shows_the_path_up_to_divergence():
    """Reference: the runner's DIVERGED status: GD with lr=10 on the default surface blows up within a few steps;
    the page warns with the reason and still draws a finite path from the start."""
    at = _app({"o0": "gd", "o0.lr": "10", "steps": "50"})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("diverged at step" in w for w in warnings), warnings
    path = _roles(_figure(at), "path")[0]
    x, y = _array(path["x"]), _array(path["y"])
    finite = np.isfinite(x) & np.isfinite(y)
    assert finite.sum() >= 2
    d = MODEL.defaults()
    assert (x[finite][0], y[finite][0]) == pytest.approx((d["x"], d["y"]))


def test_query_parameters_round_trip():
    """Reference: two encodings that must agree: values changed in one session -> its URL -> a fresh session
    opened with that URL shows the same widget values and writes back the same URL."""
    at = _app({"steps": "40"})
    at.select_slider(key="surf.opt.0.gd.lr").set_value(0.002)
    at.slider(key="surf.w.steps").set_value(60)
    at.radio(key="surf.w.scale").set_value("linear")
    at.number_input(key="surf.w.x").set_value(-1.0)
    at.run()
    _no_failure(at)
    url1 = _query(at)
    assert url1["o0.lr"] == ["0.002"] and url1["steps"] == ["60"] and url1["scale"] == ["linear"]

    fresh = _app(url1)
    _no_failure(fresh)
    assert fresh.select_slider(key="surf.opt.0.gd.lr").value == 0.002
    assert fresh.slider(key="surf.w.steps").value == 60
    assert fresh.radio(key="surf.w.scale").value == "linear"
    assert fresh.number_input(key="surf.w.x").value == -1.0
    assert _query(fresh) == url1
    assert not any("ignored" in w.value for w in fresh.warning)



def test_closed_optimizer_settings_keep_the_links_values_and_open_with_them():
    """Reference: the link itself (MODEL.decode of the same query). The optimizer's settings expander is not drawn
    while closed; the page still runs the link's β₁ and clipping (its URL stays the same), and opening the expander
    shows widgets holding those values; changing one there reaches the URL."""
    link = {"o0": "adam", "o0.beta1": "0.8", "o0.clip": "norm", "steps": "15"}
    at = _app(link)
    _no_failure(at)
    assert "surf.opt.0.adam.beta1" not in at.session_state  # closed: not drawn
    (cfg,) = _configs(MODEL.decode(link)[0])
    assert dict(cfg.hparams)["beta1"] == 0.8 and cfg.clip_mode == "norm"
    closed = _query(at)
    assert closed["o0.beta1"] == ["0.8"] and closed["o0.clip"] == ["norm"]

    at.session_state["surf.opt.0.more"] = True  # the user opens the expander
    at.run()
    _no_failure(at)
    assert at.session_state["surf.opt.0.adam.beta1"] == 0.8
    assert at.session_state["surf.opt.0.clip_mode"] == "norm"
    assert _query(at) == closed
    at.selectbox(key="surf.opt.0.clip_mode").set_value("off").run()
    assert "o0.clip" not in _query(at) and _query(at)["o0.beta1"] == ["0.8"]



def test_settings_that_need_a_network_are_not_offered_on_surfaces():
    """Reference: Muon's declaration (``layout_specs``: AdamW's settings move a network's biases and output layer).
    With the settings open, the surfaces page offers Muon's own knobs and none of AdamW's, and a link's AdamW
    value is kept in the run's settings and in the URL."""
    at = _app({"o0": "muon", "o0.adamw_lr": "0.002", "steps": "15"})
    at.session_state["surf.opt.0.more"] = True
    at.run()
    _no_failure(at)
    assert "surf.opt.0.muon.momentum" in at.session_state
    hidden = optimizers.REGISTRY["muon"].layout_specs
    assert hidden and not any(f"surf.opt.0.muon.{name}" in at.session_state for name in hidden)
    assert _query(at)["o0.adamw_lr"] == ["0.002"]


def test_garbage_parameters_fall_back_to_defaults_with_one_notice():
    """Reference: MODEL.defaults(): lr=banana, steps=-5, surface=nope, x=nan -> those defaults, one notice naming
    each (escaped, so -5 reads -5 once rendered)."""
    at = _app({"surface": "nope", "o0": "gd", "o0.lr": "banana", "steps": "-5", "x": "nan", "y": "1"})
    _no_failure(at)
    notices = [w.value for w in at.warning if "ignored" in w.value]
    assert len(notices) == 1
    for key, bad in (("surface", "nope"), ("o0.lr", "banana"), ("steps", "-5"), ("x", "nan")):
        assert f"{key}={echo(bad)}" in notices[0]
    d = MODEL.defaults()
    assert at.selectbox(key="surf.w.surface").value == d["surface"]
    assert at.slider(key="surf.w.steps").value == d["steps"]
    lr_default = next(s.default for s in optimizers.REGISTRY["gd"].specs if s.name == "lr")
    assert at.select_slider(key="surf.opt.0.gd.lr").value == lr_default
    assert at.number_input(key="surf.w.x").value == pytest.approx(d["x"])
    assert at.number_input(key="surf.w.y").value == 1.0
    _figure(at)


def test_preset_moves_the_start_and_keeps_other_settings():
    """Reference: the landscape's own presets: clicking one sets x0, y0 to it; steps stay as they were."""
    at = _app({"steps": "30"})
    surface = landscapes.get(at.selectbox(key="surf.w.surface").value)
    label, point = list(surface.presets.items())[-1]
    at.selectbox(key="surf.preset").set_value(label).run()
    _no_failure(at)
    assert (at.number_input(key="surf.w.x").value, at.number_input(key="surf.w.y").value) == pytest.approx(point)
    assert at.slider(key="surf.w.steps").value == 30
    path = _roles(_figure(at), "path")[0]
    assert (_array(path["x"])[0], _array(path["y"])[0]) == pytest.approx(point)


def _free_text_landscape() -> tuple[str, str] | None:
    for name in landscapes.names():
        for spec in landscapes.REGISTRY[name].specs:
            if spec.kind == "choice" and not spec.choices:
                return name, spec.name
    return None


def test_formula_that_does_not_parse_shows_the_parser_message():
    """Reference: landscapes.get raising ValueError for the text: the page shows that message (escaped) as an error
    and still draws the surface with its defaults."""
    found = _free_text_landscape()
    assert found is not None, "the registry has the formula surface"
    name, param = found
    at = _app({"surface": name, "steps": "10"})
    _no_failure(at)
    bad = "x ** + * y)"
    with pytest.raises(ValueError) as info:
        landscapes.get(name, **{param: bad})
    at.text_input(key=f"surf.w.surface.{name}.{param}").set_value(bad).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(echo(info.value, 160)[:40] in e for e in errors), errors
    _figure(at)


@pytest.mark.parametrize("layout", ["small_multiples", "3d"])
def test_other_layouts_draw_without_error(layout):
    """Reference: the layout choices in ui.surfaces_model.LAYOUT_LABELS; the 3-D view carries a surface trace."""
    at = _app({"layout": layout, "steps": "15"})
    _no_failure(at)
    fig = _figure(at)
    assert fig["frames"]
    if layout == "3d":
        assert any(t.get("type") == "surface" for t in fig["data"])


def test_scipy_reference_overlays_are_dashed_and_told_apart():
    """Reference: ui.surfaces_model.scipy_methods(); each chosen method appears as one more dashed path, and two
    references get different colours so they can be told apart."""
    methods = scipy_methods()
    assert len(methods) >= 2
    at = _app({"ref": [methods[0], methods[1]], "steps": "15"})
    _no_failure(at)
    paths = _roles(_figure(at), "path")
    refs = [next(p for p in paths if m in p["name"]) for m in methods[:2]]
    assert all(r["line"].get("dash") not in (None, "solid") for r in refs)
    assert refs[0]["line"]["color"] != refs[1]["line"]["color"]


def test_ring_of_starts_gives_one_summary_row_per_run():
    """Reference: ring_starts geometry (centre plus n-1 points at radius spread x width) and one row per run."""
    from ui.common import ring_starts

    pts = ring_starts((1.0, 2.0), 5, 0.1, ((-2.0, 2.0), (-1.0, 3.0)))
    assert pts.shape == (5, 2) and tuple(pts[0]) == (1.0, 2.0)
    assert np.hypot(*(pts[1:] - pts[0]).T) == pytest.approx(np.full(4, 0.4))
    at = _app({"starts": "5", "steps": "15"})
    _no_failure(at)
    assert len(at.table[0].value) == 5 * len(_configs(MODEL.defaults()))


def test_switching_surface_gives_a_short_start_in_the_share_link():
    """QA (browser walk-through): switching to the narrow trough put x=-2.4650635094610966 in the link.
    Reference: the landscape's own start to 6 significant digits; it is the surface's default, so the link (which
    holds non-defaults only) leaves it out, and the link decodes to that start."""
    at = _app({"steps": "20"})
    at.selectbox(key="surf.w.surface").set_value("narrow_trough").run()
    _no_failure(at)
    q = _query(at)
    want = [float(f"{v:.6g}") for v in landscapes.get("narrow_trough").start]
    assert [at.number_input(key=f"surf.w.{k}").value for k in ("x", "y")] == want
    assert all(k not in q or len(q[k][0]) <= 10 for k in ("x", "y")), q
    values, _ = MODEL.decode(q)
    assert [values["x"], values["y"]] == want


def _decode_z(v) -> np.ndarray:
    if isinstance(v, dict) and "bdata" in v:
        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return arr.reshape([int(s) for s in str(v["shape"]).split(",")])
    return np.asarray(v)


def test_basin_map_colours_every_start_by_where_it_ends():
    """Reference: ``optimizers.basins.basin_map`` called directly with the same settings (two computations that
    must agree): one heatmap per optimizer with the same outcome grid; the grid size stays in the URL."""
    from optimizers.basins import basin_map

    at = _app({"surface": "two_basin", "steps": "150", "basins": "50"})
    _no_failure(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 2, "the animated figure and the basin maps"
    spec = json.loads(charts[1].proto.spec)
    heat = [t for t in spec["data"] if t["type"] == "heatmap"]
    configs = _configs(MODEL.defaults({"surface": "two_basin"}))
    assert len(heat) == len(configs)
    surface = landscapes.get("two_basin")
    for trace, cfg in zip(heat, configs, strict=True):
        want = basin_map(surface, cfg.build(), 150, 50).outcome
        np.testing.assert_array_equal(_decode_z(trace["z"]), want)
    assert _query(at)["basins"] == ["50"]
    assert at.get("arrow_data_frame") or at.dataframe


def test_basin_map_beyond_the_work_budget_says_so_instead_of_running():
    """Reference: the page's own budget (ui.basins.BUDGET_FUSED): 200² starts × 5,000 steps per optimizer is
    refused with a message naming what to change, and the rest of the page still works."""
    from ui.basins import BUDGET_FUSED

    assert 200 * 200 * 5000 > BUDGET_FUSED
    at = _app({"steps": "5000", "basins": "200"})
    _no_failure(at)
    assert len(at.get("plotly_chart")) == 1
    assert any("smaller grid" in i.value for i in at.info)


def test_basin_map_follows_a_changed_learning_rate():
    """Reference: ``basin_map`` called directly: after Adam's learning rate changes (its label does not), the
    basin figure shows the new outcome grid, not a cached one."""
    from optimizers.basins import basin_map

    base = {"surface": "two_basin", "steps": "150", "basins": "50", "o0": "adam", "o0.lr": "0.001"}
    surface = landscapes.get("two_basin")
    for lr in ("0.001", "0.1"):
        at = _app({**base, "o0.lr": lr})
        _no_failure(at)
        heat = [t for t in json.loads(at.get("plotly_chart")[1].proto.spec)["data"] if t["type"] == "heatmap"]
        want = basin_map(surface, optimizers.get("adam", lr=float(lr)), 150, 50).outcome
        np.testing.assert_array_equal(_decode_z(heat[0]["z"]), want)
