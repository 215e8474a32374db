"""The X-ray section of the surfaces page and the sharpness section of the networks page, through AppTest.

References: the readouts are recomputed from a separate ``optimizers.run`` with the same config and start,
``numpy.linalg.eigvalsh`` of the surface's analytic Hessian and ``landscapes.curvature.readout``; the
eigen-component split from ``numpy.linalg.eigh`` of the trough's Hessian; the link codec's two directions
(decode of encode); and ``nets.sharpness`` called directly on the same trained networks.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import landscapes
import optimizers
from landscapes.curvature import readout
from optimizers.config import OptimizerConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120
STEPS = 120
#: One GD-type pair (a 2/η line) and two methods whose step is not proportional to the gradient.
OPTS = (("gd", 0.05), ("momentum", 0.02), ("adam", 0.05), ("lion", 0.01))


def _surfaces_app(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page("ui/pages/surfaces.py")
    return at.run()


def _no_failure(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _array(v) -> np.ndarray:
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).astype(float)
    return np.asarray([np.nan if x is None else x for x in v], dtype=np.float64)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _xray_chart(at: AppTest) -> dict:
    found = [c for c in _charts(at) if any(t.get("name") == "readout" for t in c["data"])]
    assert len(found) == 1, "expected one X-ray figure"
    return found[0]


def _chart_titled(at: AppTest, ytitle: str) -> dict:
    """The one chart whose y axis has this title."""
    def title(c: dict) -> str:
        t = c.get("layout", {}).get("yaxis", {}).get("title")
        return t.get("text", "") if isinstance(t, dict) else str(t or "")
    found = [c for c in _charts(at) if title(c) == ytitle]
    assert len(found) == 1, f"expected one chart with y axis {ytitle!r}"
    return found[0]


def _reference_path(at: AppTest, surface_name: str, name: str, lr: float) -> tuple[landscapes.Landscape, object]:
    """The same run as the page's (same config, the start its x₀, y₀ show), recorded at every step, no state."""
    surface = landscapes.get(surface_name)
    start = np.array([[at.number_input(key="surf.w.x").value, at.number_input(key="surf.w.y").value]])
    traj = optimizers.run(surface, OptimizerConfig.make(name, {"lr": lr}).build(), start, STEPS)
    return surface, traj


def _expected_readout(surface, traj, step: int) -> str:
    r = int(np.flatnonzero(traj.steps == step)[0])
    lam = np.linalg.eigvalsh(surface.hessian(traj.params[r, 0]))
    return readout(step, float(lam[0]), float(lam[1]))


@pytest.mark.slow
@pytest.mark.parametrize("surface_name", ["saddle", "narrow_trough"])
def test_xray_renders_for_each_optimizer_and_its_readouts_match_an_independent_run(surface_name):
    """Reference: for GD, momentum, Adam and Lion on two surfaces, every readout sentence (listed under the figure
    and beside the marker in every frame) equals ``curvature.readout`` of ``eigvalsh(hessian)`` at the same step
    of a separate ``optimizers.run``; the 2/η line is drawn exactly for GD and momentum, at 2/lr; the ellipse
    (step per coordinate) appears exactly for Adam."""
    query = {"surface": surface_name, "steps": str(STEPS)}
    for i, (name, lr) in enumerate(OPTS):
        query[f"o{i}"], query[f"o{i}.lr"] = name, str(lr)
    at = _surfaces_app({**query, "xray": "0"})
    _no_failure(at)
    for i, (name, lr) in enumerate(OPTS):
        if i:
            at.selectbox(key="surf.w.xray").set_value(i).run()
            _no_failure(at)
        surface, traj = _reference_path(at, surface_name, name, lr)
        listed = next(m.value for m in at.markdown if m.value.startswith("**Curvature along the path**"))
        lines = listed.split("\n")[1:]
        assert len(lines) >= 2
        for line in lines:
            step = int(re.match(r"step (\d+):", line.strip()).group(1))
            assert line.strip() == _expected_readout(surface, traj, step)

        fig = _xray_chart(at)
        ti = next(j for j, t in enumerate(fig["data"]) if t.get("name") == "readout")
        assert len(fig["frames"]) > 10
        for frame in fig["frames"]:
            text = frame["data"][frame["traces"].index(ti)]["text"][0]
            assert text == _expected_readout(surface, traj, int(frame["name"]))
        ellipse = next(j for j, t in enumerate(fig["data"]) if t.get("name") == "step per coordinate")
        drawn = [np.isfinite(_array(f["data"][f["traces"].index(ellipse)]["x"])).any()
                 for f in fig["frames"] if ellipse in f["traces"] and "x" in f["data"][f["traces"].index(ellipse)]]
        assert any(drawn) == (name == "adam")
        # The player drives it: its buttons only notify the player.
        assert {b["name"] for b in fig["layout"]["updatemenus"][0]["buttons"]} >= {"player:back", "player:forward"}

        curv = _chart_titled(at, "Hessian eigenvalue")
        labels = [a["text"] for a in curv["layout"].get("annotations", [])]
        if name in ("gd", "momentum"):
            assert labels == [f"2/η = {2.0 / lr:.3g}"]
        else:
            assert labels == []


@pytest.mark.slow
def test_eigen_split_on_the_trough_equals_the_hessian_eigenbasis():
    """Reference: ``numpy.linalg.eigh`` of the trough's (constant) Hessian and a separate GD run: the plotted loss
    in each eigendirection is ½ λᵢ (qᵢᵀ(p − p*))² at every step; the surface with a varying Hessian (saddle) shows
    no split."""
    lr = 0.09
    at = _surfaces_app({"surface": "narrow_trough", "steps": str(STEPS), "o0": "gd", "o0.lr": str(lr), "xray": "0"})
    _no_failure(at)
    surface, traj = _reference_path(at, "narrow_trough", "gd", lr)
    star = np.zeros(2)  # the trough is a quadratic form: its only minimum is the origin
    lam, q = np.linalg.eigh(surface.hessian(star))
    parts = 0.5 * lam * ((traj.params[:, 0] - star) @ q) ** 2
    split = _chart_titled(at, "loss in this direction")
    last = traj.last_record(0)
    for i, trace in enumerate(split["data"]):
        assert _array(trace["x"]).tolist() == traj.steps[: last + 1].tolist()
        y = _array(trace["y"])
        ok = np.isfinite(y)
        # Rounding: a component is a dot product of p with a unit vector, so its error scales with |p|, not with
        # the component (the steep one shrinks much faster than |p|).
        want = parts[: last + 1, i][ok]
        slack = 1e-12 * lam[i] * np.sum(traj.params[: last + 1, 0] ** 2, axis=-1)[ok]
        assert np.all(np.abs(y[ok] - want) <= 1e-12 * want + slack)
    assert any("milestones" in m.value for m in at.markdown)

    saddle = _surfaces_app({"surface": "saddle", "steps": "30", "o0": "gd", "xray": "0"})
    _no_failure(saddle)
    assert not any("milestones" in m.value for m in saddle.markdown)


def test_xray_control_round_trips_through_the_link():
    """Reference: the codec's two directions must agree: MODEL.decode(MODEL.encode(v)) == v for every choice;
    and the page's own link after picking an optimizer in the widget holds xray=<index>."""
    from ui.surfaces_model import MODEL

    base, notices = MODEL.decode({})
    assert base["xray"] == "off" and not notices
    for choice in ("off", 0, 1, 2):
        v = {**base, "xray": choice}
        back, notices = MODEL.decode(MODEL.encode(v))
        assert back == v and not notices

    at = _surfaces_app({"steps": "30"})
    _no_failure(at)
    assert len(at.get("plotly_chart")) == 1
    at.selectbox(key="surf.w.xray").set_value(1).run()
    _no_failure(at)
    assert at.query_params["xray"] in (["1"], "1")
    assert len(at.get("plotly_chart")) >= 3


def test_garbage_in_the_xray_key_gives_the_default_and_a_notice():
    """Reference: the control's default ("off") and the codec's notice naming the key and the value."""
    at = _surfaces_app({"steps": "30", "xray": "banana"})
    _no_failure(at)
    assert at.selectbox(key="surf.w.xray").value == "off"
    assert len(at.get("plotly_chart")) == 1
    notes = [w.value for w in at.warning if "xray=banana" in w.value]
    assert len(notes) == 1


def test_networks_sharpness_section_renders_on_xor_and_measures_the_trained_networks():
    """Reference: ``nets.sharpness_along`` called directly on the same network (the page's default XOR problem,
    GD at lr 0.5, seed 0, 100 full-batch epochs, every epoch recorded), and 2/η = 2/0.5 for the dashed line;
    off by default (no chart)."""
    import nets

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in {"data": "xor", "epochs": "100", "o0": "gd", "o0.lr": "0.5"}.items():
        at.query_params[k] = v
    at.switch_page("ui/pages/networks.py").run()
    _no_failure(at)
    assert not any("edge of stability" in s.value for s in at.subheader)
    at.checkbox(key="net.w.sharp").check().run()
    _no_failure(at)
    assert any("edge of stability" in s.value for s in at.subheader)
    fig = _chart_titled(at, "top Hessian eigenvalue")

    entry = nets.DATASETS["xor"]
    problem = nets.problem("xor", test_fraction=entry.default_test_fraction,
                           noise=entry.default_noise if entry.generated else None,
                           n=entry.default_n if entry.generated else None)
    traj = nets.train(problem, OptimizerConfig.make("gd", {"lr": 0.5}), 100, seeds=[0], record_every_epochs=1)
    steps, sharp = nets.sharpness_along(problem, traj)
    line = next(t for t in fig["data"] if t.get("name", "").endswith(": sharpness"))
    np.testing.assert_allclose(_array(line["x"]), steps / problem.steps_per_epoch)
    np.testing.assert_allclose(_array(line["y"]), sharp[:, 0, 0], rtol=1e-6)
    assert [s["y0"] for s in fig["layout"]["shapes"]] == [pytest.approx(4.0)]
    assert at.query_params["sharp"] in (["true"], "true")


def test_sharpness_plan_thins_records_to_the_budget_then_refuses():
    """Reference: the plan's own cost estimate (``sharpness_cost``): the records it keeps fit the budget and one
    step less thinning would not; a network too large for even the minimum gets 0 and a sentence."""
    import math

    from ui.sharpness import BUDGET_S, MIN_RECORDS, sharpness_cost, sharpness_plan

    assert sharpness_plan([(17, 3)], 126) == (1, "")
    sizes = [(337, 150), (337, 150)]  # moons 2-16-16-2, two optimizers: ~4 s at every record
    every, note = sharpness_plan(sizes, 126)
    assert every > 1 and "every" in note

    def cost(n: int) -> float:
        return sum(sharpness_cost(n_params=p, rows=r, records=n) for p, r in sizes)

    assert cost(math.ceil(126 / every)) <= BUDGET_S < cost(math.ceil(126 / (every - 1)))
    every, note = sharpness_plan([(4482, 150)], 126)
    assert every == 0 and f"{MIN_RECORDS} records" in note and "budget" in note


def test_gd_type_finds_exactly_the_methods_whose_update_is_linear_in_the_gradient():
    """Reference: the update rules as written (torch.optim's and the authors' docs): GD, heavy-ball momentum,
    Nesterov, QHM (a mix of the two), ASGD (GD with a decaying step) and Schedule-Free SGD (an SGD sequence and its
    average, with weights fixed by the step count) are linear recurrences in the gradients;
    every other registered method rescales or takes signs (RAdam after its rectification starts), so only those
    get a 2/η line."""
    from ui.xray import gd_type

    found = {name for name in optimizers.REGISTRY if gd_type(OptimizerConfig.make(name, {}))}
    assert found == {"gd", "momentum", "nesterov", "qhm", "asgd", "schedule_free_sgd"}
