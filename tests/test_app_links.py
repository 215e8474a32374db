"""Hostile and heavy links, page switches, the add-optimizer cap and the error boundary, through AppTest.

References (issue 11, "Tests"): the pure codec (``MODEL.decode`` of the same
link, itself checked against the declarations in test_link_garbage.py) for
what each widget must show; Markdown's escaping rules for the notice box; the
work budget's own plan (common/budget.py, checked by hand in test_budget.py)
for what a heavy link is scaled to; each page's MAX_OPTIMIZERS for the cap;
the session-state keys present before a reset for what the reset may drop.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import nets
from common import budget
from tests.apptest_support import one_component_scan  # noqa: F401  (autouse fixture)
from tests.test_link_garbage import GARBAGE, PAYLOAD, unescaped, visible
from ui import networks_model as nm
from ui import surfaces_model as sm

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
NET_PAGE = str(ROOT / "ui" / "pages" / "networks.py")
TIMEOUT = 240
NOTICE = "Some link settings were ignored or capped"


def _open(script: str, query: dict) -> AppTest:
    at = AppTest.from_file(script, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def _switch(at: AppTest, page: str) -> AppTest:
    """Go to another page as the browser does: Streamlit clears the query string on a page change."""
    at.switch_page(page)
    at.query_params.clear()
    return at.run()


def _healthy(at: AppTest) -> None:
    """No exception element, no error box (a RuntimeWarning is an error under pytest and would land in the error
    boundary), and at least one chart."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.get("plotly_chart"), "no figure"


def _notices(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith(NOTICE)]


def _heads(at: AppTest) -> list[str]:
    return sorted((k for k in at.query_params if k[0] == "o" and k[1:].isdigit()), key=lambda k: int(k[1:]))


# -- garbage per control, batched ----------------------------------------------------------------------
_LABELS = [*GARBAGE, "repeated"]
#: Controls whose capped value would make the test heavy; they get every other kind of garbage.
_HEAVY = {"epochs", "seeds", "n"}


def _garbage_link(controls, j: int, heavy: set[str]) -> dict:
    link: dict = {}
    for i, c in enumerate(controls):
        label = _LABELS[(i + 3 * j) % len(_LABELS)]
        if c.key in heavy and label == "2**63":
            label = "abc"
        link[c.key] = ["1", "2"] if label == "repeated" else GARBAGE[label]
    return link


def _opt_garbage(j: int) -> dict:
    keys = ("lr", "beta1", "eps", "amsgrad", "clip", "clip.threshold", "noise", "noise.seed", "dwd")
    return {"o0": "adam", **{f"o0.{k}": GARBAGE[_LABELS[(i + 3 * j) % len(GARBAGE)]] for i, k in enumerate(keys)},
            "o1": "gd", "o1.schedule": "cosine", "o1.schedule.period": GARBAGE[_LABELS[(j + 6) % len(GARBAGE)]]}


_GARBAGE_CASES = [pytest.param(APP, sm, j, id=f"surfaces-{j}") for j in range(3)] + \
                 [pytest.param(NET_PAGE, nm, j, id=f"networks-{j}") for j in range(3)]


@pytest.mark.parametrize(("script", "model", "j"), _GARBAGE_CASES)
def test_garbage_in_every_control_gives_a_page_with_one_notice(script, model, j):
    """Every declared control gets garbage (each a different kind in each of three links), plus the optimizer's
    hyperparameters, transforms and a schedule parameter: the page draws its figure with one notice box and no
    error, and every drawn widget shows what MODEL.decode makes of the same link."""
    link = {**_garbage_link(model.CONTROLS, j, _HEAVY if model is nm else set()), **_opt_garbage(j)}
    if model is nm:
        link["o0.batch"] = GARBAGE[_LABELS[j]]
    at = _open(script, link)
    _healthy(at)
    assert len(_notices(at)) == 1, [w.value for w in at.warning]
    values, _ = model.MODEL.decode(link)
    prefix = "surf" if model is sm else "net"
    shown = 0
    for c in model.CONTROLS:
        key = f"{prefix}.w.{c.key}"
        if c.key == "bnd" or key not in at.session_state:
            continue
        got = at.session_state[key]
        assert (tuple(got) if c.many else got) == values[c.key], (c.key, got, values[c.key])
        shown += 1
    assert shown >= len(model.CONTROLS) // 2
    assert at.session_state[f"{prefix}.opt.0.name"] == "adam"


# -- impossible combinations ---------------------------------------------------------------------------
@pytest.mark.parametrize(("link", "widget"), [
    ({"data": "iris", "test": "0.9", "batch": "16", "epochs": "30"}, "net.w.batch"),
    ({"data": "xor", "batch": "8", "epochs": "30"}, "net.w.batch"),
    ({"data": "xor", "o0": "gd", "o0.batch": "8", "epochs": "30"}, "net.opt.0.x.batch"),
], ids=["iris-test0.9-batch16", "xor-batch8", "xor-o0.batch8"])
def test_batch_larger_than_the_training_rows_runs_full_batch_with_a_notice(link, widget):
    """Reference: the split's training rows (Iris with 90% held out: 15; XOR: 4): the page trains full batch (0 in
    the batch widget) and says why in its notice box."""
    at = _open(NET_PAGE, link)
    _healthy(at)
    (notice,) = _notices(at)
    assert "training rows" in notice and "full batch" in notice
    assert at.session_state[widget] == 0


# -- navigation -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_surfaces_networks_surfaces_networks_keeps_each_pages_settings():
    """QA (issue 11): a KeyError on every return to Networks, and a scrambled sidebar. Reference: the widget values
    each page showed before it was left (settings and a learning rate changed by hand on Surfaces, a networks
    preset chosen). Streamlit drops the widget state of a page not shown, and the browser the query string."""
    at = _open(APP, {"steps": "25", "o0": "adam", "o0.lr": "0.02"})
    _healthy(at)
    at.slider(key="surf.w.steps").set_value(40).run()
    at.select_slider(key="surf.opt.0.adam.lr").set_value(0.05).run()
    at.selectbox(key="surf.w.surface").set_value("himmelblau").run()
    surf_before = {k: at.session_state[k] for k in ("surf.w.steps", "surf.w.surface", "surf.opt.0.name",
                                                    "surf.opt.0.adam.lr")}
    assert surf_before == {"surf.w.steps": 40, "surf.w.surface": "himmelblau", "surf.opt.0.name": "adam",
                           "surf.opt.0.adam.lr": 0.05}

    _switch(at, "ui/pages/networks.py")
    _healthy(at)
    assert not _notices(at), "the surfaces link must not leak into the networks page"
    preset = next(p for p in nm.PRESETS if p.key == "sigmoid_zero")
    at.selectbox(key="net.preset").set_value(preset.key).run()
    _healthy(at)
    want = preset.values()
    net_keys = {f"net.w.{k}": want[k] for k in ("data", "hidden", "act", "init", "loss", "epochs", "batch")}
    assert {k: at.session_state[k] for k in net_keys} == net_keys

    for _ in range(2):
        _switch(at, "ui/pages/surfaces.py")
        _healthy(at)
        assert {k: at.session_state[k] for k in surf_before} == surf_before
        _switch(at, "ui/pages/networks.py")
        _healthy(at)
        assert {k: at.session_state[k] for k in net_keys} == net_keys
        names = [at.session_state[f"net.opt.{i}.name"] for i in range(len(want["optimizers"]))]
        assert names == [e.config.name for e in want["optimizers"]]


# -- injection ------------------------------------------------------------------------------------------
def _texts(at: AppTest) -> list[str]:
    out = []
    for kind in ("warning", "error", "info", "success", "markdown", "caption"):
        out += [str(el.value) for el in at.get(kind)]
    return out


@pytest.mark.parametrize(("script", "link"), [
    (APP, {"surface": PAYLOAD, "o0": PAYLOAD, "o1": "gd", "o1.lr": PAYLOAD, "zzz": PAYLOAD, PAYLOAD: "1",
           "steps": "15"}),
    (NET_PAGE, {"data": PAYLOAD, "hidden": PAYLOAD, "o0": PAYLOAD, "o1": "adam", "o1.lr": PAYLOAD, "zzz": PAYLOAD,
                "epochs": "20"}),
], ids=["surfaces", "networks"])
def test_markup_in_a_link_is_shown_as_plain_text(script, link):
    """Reference: Markdown's escaping rules: the notice box, and every other text element of the page, holds no
    unescaped `[`, `](`, `![` or `**` from the link, and the payload is cut before the image address."""
    at = _open(script, link)
    _healthy(at)
    (notice,) = _notices(at)
    for token in ("[", "](", "![", "**"):
        assert not unescaped(notice, token), (token, notice)
    assert "example.invalid/t.png" not in visible(notice)
    assert visible(notice).count(PAYLOAD[:20]) >= 3
    for text in _texts(at):
        assert "](https://example.invalid" not in text, text[:200]
        assert "t.png" not in text, text[:200]


# -- work budget ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_heaviest_networks_link_is_scaled_down_with_a_notice():
    """Issue 11: spirals n=2000, hidden 64,64,64, 50 seeds, 3,000 epochs, 6 optimizers (an estimated 9-11 hours
    before). Reference: budget.net_plan for the same sizes (1 seed, a few epochs): the page finishes, names the
    reduction, and runs what the plan says."""
    names = ["gd", "momentum", "nesterov", "adam", "rmsprop", "adagrad"]
    link = {"data": "spirals", "n": "2000", "hidden": "64,64,64", "seeds": "50", "epochs": "3000",
            **{f"o{i}": n for i, n in enumerate(names)}}
    at = _open(NET_PAGE, link)
    _healthy(at)
    assert not _notices(at), "every value is within its cap"
    scaled = [i.value for i in at.info if "scaled down" in i.value]
    assert len(scaled) == 1 and "instead of 50" in scaled[0] and "instead of 3,000" in scaled[0], scaled
    v, _ = nm.MODEL.decode(link)
    problem = nets.problem(dataset=v["data"], hidden=(64, 64, 64), activation=v["act"], output=v["out"],
                           loss=v["loss"], l2=v["l2"], init=v["init"], init_scale=v["sigma"], batch_size=None,
                           shuffle=v["shuffle"], seed=v["dseed"], test_fraction=v["test"], standardize=v["std"],
                           noise=v["noise"], n=v["n"])
    assert problem.n_train == 1500
    plan = budget.net_plan(n_params=problem.n_params, rows=problem.n_train, batches=[problem.n_train] * 6,
                           epochs=3000, seeds=50)
    assert plan.reductions == scaled
    assert plan.estimate <= budget.SECONDS


@pytest.mark.slow
def test_heaviest_surfaces_link_sends_at_most_10_mb_of_figure():
    """Issue 11: 8 optimizers (the cap) × 16 starts × 5,000 steps made a 74 MB figure. Reference: the 10 MB goal
    and budget.surface_plan for the same sizes (every 17th step drawn, 46 frames): the page shows both notes and
    sends that many frames."""
    names = ["gd", "momentum", "nesterov", "adam", "rmsprop", "adagrad", "lion", "nadam"]
    link = {"steps": "5000", "starts": "16", **{f"o{i}": n for i, n in enumerate(names)}}
    at = _open(APP, link)
    _healthy(at)
    assert not _notices(at)
    plan = budget.surface_plan(8, 16, 5000)
    shown = [i.value for i in at.info]
    assert len(plan.reductions) == 2 and all(r in shown for r in plan.reductions), shown
    (chart,) = at.get("plotly_chart")
    size = len(chart.proto.spec)
    assert size <= 10_000_000, size
    fig = json.loads(chart.proto.spec)
    assert sum(1 for t in fig["data"] if (t.get("meta") or {}).get("role") == "path") == 8
    assert len(fig["frames"]) == plan.values["max_frames"]


# -- add-optimizer cap ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("script", "prefix", "cap", "extra"), [
    (APP, "surf", sm.MAX_OPTIMIZERS, {"steps": "15"}),
    (NET_PAGE, "net", nm.MAX_OPTIMIZERS, {"epochs": "20"}),
], ids=["surfaces", "networks"])
def test_add_button_stops_at_the_cap_and_the_link_keeps_every_optimizer(script, prefix, cap, extra):
    """QA (issue 11): Surfaces allowed 15 optimizers and its share link then dropped 5. Reference: the page's
    MAX_OPTIMIZERS: from cap - 1, Add brings the list to the cap, then Add and every duplicate button are disabled
    (AppTest, like a browser, cannot click them), and the link names all of them."""
    names = ["gd", "momentum", "adam", "rmsprop", "nesterov", "adagrad", "lion", "nadam"][: cap - 1]
    at = _open(script, {**extra, **{f"o{i}": n for i, n in enumerate(names)}})
    _healthy(at)
    assert not at.button(key=f"{prefix}.opt.add").disabled
    at.button(key=f"{prefix}.opt.add").click().run()
    _healthy(at)
    assert _heads(at) == [f"o{i}" for i in range(cap)]
    assert at.button(key=f"{prefix}.opt.add").disabled
    dups = [b for b in at.button if str(b.key).endswith(".dup")]
    assert len(dups) == cap and all(b.disabled for b in dups)
    assert len(json.loads(at.get("plotly_chart")[0].proto.spec)["data"]) > 0


# -- error boundary ---------------------------------------------------------------------------------------
def _boundary_app(kind: str) -> AppTest:
    def script(kind: str) -> None:
        import streamlit as st

        from ui.page import run_page

        def body() -> None:
            st.write("drawn before the failure")
            if kind == "runtime":
                raise RuntimeError("internal detail that must not be shown")
            raise ValueError("steps must be ≤ 5000, got **9**")

        run_page("demo", body)

    return AppTest.from_function(script, args=(kind,), default_timeout=60)


def test_unexpected_error_shows_one_sentence_and_a_reset_that_forgets_only_that_page():
    """Reference: the session keys before the reset: ``demo.*`` are dropped, ``demo2.*`` and ``other.*`` (another
    page, a look-alike prefix) stay; the page shows one error naming the exception type, no traceback element."""
    at = _boundary_app("runtime")
    keep = {"other.values": {"steps": 40}, "demo2.values": {"a": 1}}
    drop = {"demo.values": {"steps": 99}, "demo.w.steps": 99, "demo.opt.store": {"entries": []}}
    for k, v in {**keep, **drop}.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception
    (err,) = at.error
    assert "RuntimeError" in err.value and "internal detail" not in err.value
    (button,) = at.button
    assert button.label == "Reset this page"
    button.click().run()
    state = {k: at.session_state[k] for k in (*keep, *drop) if k in at.session_state}
    assert state == keep
    assert not at.exception and len(at.error) == 1


def test_value_error_is_one_plain_escaped_sentence():
    """Reference: the ValueError's own text, escaped (its ** must not become bold)."""
    at = _boundary_app("value").run()
    assert not at.exception
    (err,) = at.error
    assert "steps must be" in err.value and not unescaped(err.value, "**")
    assert [b.label for b in at.button] == ["Reset this page"]
