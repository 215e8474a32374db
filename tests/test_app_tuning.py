"""The tuning views (surfaces: maps, lr sensitivity, fair race; networks: lr sensitivity) through AppTest.

References: :func:`optimizers.sweep` and :func:`optimizers.tune_lr` called directly (a cell's values, the
tuned lr), :mod:`optimizers.theory` (the trough's 2/L and Polyak's optimum), and the control model's own
codec (values -> link -> values). Runs use few steps so each test stays fast.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import landscapes
import optimizers
from optimizers import theory
from tests.apptest_support import one_component_scan  # noqa: F401  (autouse fixture)
from ui import net_tuning, tuning
from ui.common import ring_starts
from ui.surfaces_model import MODEL

ROOT = Path(__file__).resolve().parents[1]
SURFACES = str(ROOT / "ui" / "pages" / "surfaces.py")
NETWORKS = str(ROOT / "ui" / "pages" / "networks.py")
STEPS = 60


def _app(page: str, query: dict) -> AppTest:
    at = AppTest.from_file(page, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def _no_failure(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _chart(at: AppTest, key: str) -> dict:
    found = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    assert found, f"no chart {key}"
    return json.loads(found[0].proto.spec)


def _array(v) -> np.ndarray:
    """Plotly JSON arrays may be typed ({dtype, bdata, shape}); decode either form."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(s) for s in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.asarray(v, dtype=np.float64)


def _query(at: AppTest) -> dict[str, list[str]]:
    return {k: [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)] for k, v in at.query_params.items()}


def _entries(at: AppTest) -> list:
    values, notices = MODEL.decode(_query(at))
    assert not notices
    return [e.config for e in values["optimizers"]]


@pytest.mark.parametrize("surface", ["rosenbrock", "narrow_trough"])
@pytest.mark.parametrize("view", ["map", "sensitivity", "race"])
def test_each_view_renders(surface, view):
    """Reference: the page's optimizers. Each view draws without an error: one map per optimizer (plus heavy
    ball's rate map on the trough), or one sensitivity or race figure."""
    at = _app(SURFACES, {"surface": surface, "tune": view, "steps": str(STEPS)})
    _no_failure(at)
    configs = _entries(at)
    ids = [c.proto.id for c in at.get("plotly_chart")]
    if view == "map":
        assert sum("surf.tune.map." in i for i in ids) == len(configs)
        assert any("surf.tune.rate." in i for i in ids) == (surface == "narrow_trough")
    else:
        assert sum(f"surf.tune.{'sens' if view == 'sensitivity' else 'race'}" in i for i in ids) == 1


def test_trough_maps_draw_theory():
    """Reference: optimizers.theory on the trough's own Hessian: GD's map has lines at 2/L and 2/(μ+L), heavy
    ball's has the edge η = 2(1+β)/L and Polyak's (η*, β*)."""
    at = _app(SURFACES, {"surface": "narrow_trough", "tune": "map", "steps": str(STEPS)})
    _no_failure(at)
    mu, big = theory.quadratic_curvatures(landscapes.get("narrow_trough"))
    names = [c.name for c in _entries(at)]
    gd = _chart(at, f"surf.tune.map.{names.index('gd')}")
    xs = sorted(s["x0"] for s in gd["layout"]["shapes"])
    np.testing.assert_allclose(xs, sorted([theory.gd_stable_lr(big), theory.gd_optimal_lr(mu, big)]))
    hb = _chart(at, f"surf.tune.map.{names.index('momentum')}")
    star = next(t for t in hb["data"] if t.get("name") == "Polyak's optimum")
    eta, beta, _ = theory.polyak_optimum(mu, big)
    np.testing.assert_allclose([_array(star["x"])[0], _array(star["y"])[0]], [eta, beta])
    edge = next(t for t in hb["data"] if t.get("name") == "stability edge")
    np.testing.assert_allclose(_array(edge["x"]), theory.heavy_ball_edge(_array(edge["y"]), big))


def test_clicking_a_cell_sets_lr_and_knob():
    """Reference: the Sweep's axes (optimizers.sweep on the same grid). A cell's customdata is that cell's
    (lr, momentum); the click handler (parse the selection, then set the panel entry and its widgets) makes
    the page run momentum with exactly those values, as the link shows."""
    at = _app(SURFACES, {"surface": "narrow_trough", "tune": "map", "steps": str(STEPS)})
    _no_failure(at)
    configs = _entries(at)
    i = [c.name for c in configs].index("momentum")
    heat = _chart(at, f"surf.tune.map.{i}")["data"][0]
    custom = _array(heat["customdata"])  # (n_knob, n_lr, 3)
    grid = tuning.map_grid("momentum", custom.shape[1])
    sw = optimizers.sweep(landscapes.get("narrow_trough"), "momentum", grid, np.zeros((1, 2)), 2)
    j, k = 17, 40  # a cell away from the current setting
    lr, beta = float(custom[j, k, 0]), float(custom[j, k, 1])
    assert sw.setting((k, j))["lr"] == lr and sw.setting((k, j))["momentum"] == beta
    event = {"selection": {"points": [{"customdata": {"0": lr, "1": beta, "2": 0.5}}]}}
    assert tuning.parse_cell(event) == (lr, beta)
    uid = tuning.panel_uids(at.session_state, [type("E", (), {"config": c})() for c in configs])[i]
    assert tuning.set_hparams(at.session_state, uid, {"lr": lr, "momentum": beta})
    # The panel's stored entry (what its widgets re-seed from) now holds the cell's values. AppTest's proxy
    # cannot drop a drawn widget's key, so the rerun in a browser is not replayed here.
    item = next(it for it in at.session_state["surf.opt.store"]["entries"] if it["uid"] == uid)
    after = dict(item["entry"].config.hparams)
    assert (after["lr"], after["momentum"]) == (lr, beta)
    assert tuning.parse_cell({"selection": {"points": [{"customdata": ["x", 1]}]}}) is None


def test_race_tunes_like_tune_lr_and_applies_it():
    """Reference: optimizers.tune_lr called directly on the same grid, starts (the page's one start and a
    ring of 8) and steps; the button sets each optimizer's lr to its tuned value."""
    at = _app(SURFACES, {"surface": "narrow_trough", "tune": "race", "steps": str(STEPS)})
    _no_failure(at)
    values, _ = MODEL.decode(_query(at))
    surface = landscapes.get("narrow_trough")
    starts = ring_starts((values["x"], values["y"]), tuning.RING, values["spread"], surface.bounds)
    lrs = tuning.lr_grid([e.config.name for e in values["optimizers"]], tuning.RACE_LRS)
    table = next(t.value for t in at.table if "tuned lr" in t.value.columns)
    expected = []
    for row, e in zip(table["tuned lr"], values["optimizers"], strict=True):
        cfg = e.config
        fixed = {k: v for k, v in cfg.hparams if k != "lr"}
        race = optimizers.tune_lr(surface, [cfg.name], lrs, starts, STEPS, fixed={cfg.name: fixed})
        assert row == f"{race.entries[0].lr:.4g}"
        expected.append(race.entries[0].lr)
    at.button(key="surf.tune.apply").click().run()
    _no_failure(at)
    assert [dict(c.hparams)["lr"] for c in _entries(at)] == expected


def test_tuning_controls_round_trip_and_garbage():
    """Reference: the control model's codec: values -> link -> the same values; garbage -> default + notice."""
    base = MODEL.defaults()
    for view in ("map", "sensitivity", "race"):
        for key, choice in (("tune.measure", "rate"), ("tune.by", "steps")):
            v = {**base, "tune": view, key: choice}
            back, notices = MODEL.decode(MODEL.encode(v))
            assert not notices and (back["tune"], back[key]) == (view, choice)
    back, notices = MODEL.decode({"tune": "lots", "tune.measure": "<b>x</b>", "tune.by": "1e9"})
    assert (back["tune"], back["tune.measure"], back["tune.by"]) == ("off", "final", "final")
    assert len(notices) == 3 and all("not one of the options" in n for n in notices)


def test_map_plan_coarsens_past_the_budget():
    """Reference: the budget's own arithmetic: 4 maps of 64² × 1 start × 500 steps fit; 16 starts × 5000 steps
    take a coarser grid whose run-steps fit, and a note says so."""
    assert tuning.map_plan([1, 2, 2, 2], 1, 500, compiled=True, rate=False) == (64, "")
    n, note = tuning.map_plan([2, 2, 2, 2], 16, 5000, compiled=True, rate=False)
    assert 0 < n < 64 and 4 * n * n * 16 * 5000 <= tuning.BUDGET_FUSED and str(n) in note


def test_networks_sensitivity_on_xor():
    """Reference: the page's optimizers and the section's caps (5 seeds, 200 epochs): one sensitivity figure
    with a median curve per optimizer over the section's 16 learning rates."""
    at = _app(NETWORKS, {"data": "xor", "lrsens": "true", "epochs": "400", "seeds": "8"})
    _no_failure(at)
    fig = _chart(at, "net.tune.sens")
    curves = [t for t in fig["data"] if t.get("mode") == "lines+markers"]
    assert len(curves) == 3 and all(len(_array(t["x"])) == net_tuning.N_LRS for t in curves)
    s, e, _ = net_tuning.sens_plan(n_params=17, rows=4, batches=[4], epochs=3000, seeds=50)
    assert s <= net_tuning.MAX_SEEDS and e <= net_tuning.MAX_EPOCHS
