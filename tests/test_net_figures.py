"""Figures of the networks page (viz.net_figures).

References: numpy's percentile for the seed band; the network itself (``predict_proba``) for the points
of the drawn decision boundary; the input arrays for the plotted curves and the CSV; plotly's own trace
types for the "no contour/heatmap traces" rule.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import nets
import optimizers
from viz import net_figures as nf

COLORS = ["#4477AA", "#EE6677", "#228833", "#CCBB44"]


def _series(rng: np.random.Generator, n: int = 3, R: int = 301, s: int = 1, test: bool = True) -> list[nf.NetSeries]:
    ep = np.arange(R)
    out = []
    for i in range(n):
        loss = np.exp(-ep / (50.0 * (i + 1)))[:, None] + 0.05 + 0.02 * rng.random((R, s))
        acc = np.clip(ep / 200.0, 0, 1)[:, None] * np.ones((1, s))
        out.append(nf.NetSeries(f"opt {i}", COLORS[i % 4], ep, loss, acc, loss * 1.1 if test else None,
                                acc * 0.9 if test else None, rng.random((R, 2)) + 0.01, rng.random(R), rng.random(R)))
    return out


def _xor_problem_and_thetas(k: int = 5) -> tuple[nets.NetProblem, np.ndarray]:
    prob = nets.problem("xor", hidden=(4,), activation="tanh")
    traj = nets.train(prob, optimizers.get("adam", lr=0.05), 300, seeds=[0])
    idx = nf.frame_indices(len(traj.steps), k)
    return prob, traj.params[idx, 0, :]


def _boundary(prob: nets.NetProblem, thetas: np.ndarray, m: int = 61) -> nf.BoundaryData:
    xs = np.linspace(-2.5, 2.5, m)
    ys = np.linspace(-2.0, 2.0, m - 10)
    U, V = np.meshgrid(xs, ys)
    grid = np.c_[U.ravel(), V.ravel()]
    probs = prob.predict_proba(thetas, grid).reshape(len(thetas), len(ys), len(xs), -1)
    return nf.BoundaryData(xs, ys, probs, prob.X_train, prob.y_train, "Adam")


def _all_trace_types(fig) -> set[str]:
    d = fig.to_dict()
    types = {t.get("type", "scatter") for t in d["data"]}
    for fr in d.get("frames", []):
        types |= {t.get("type", "scatter") for t in fr["data"]}
    return types


def test_training_figure_structure(rng):
    """Per optimizer one solid train and one dotted test curve per panel; frames within the cap, one slider
    step per frame, no contour/heatmap traces anywhere (reference: the inputs and plotly's trace types)."""
    series = _series(rng, n=3, R=301)
    prob, thetas = _xor_problem_and_thetas(k=40)
    fidx = nf.frame_indices(301, 40)
    assert len(fidx) == len(thetas)
    sl = nf.SliceData(np.linspace(-1, 1, 21), np.linspace(-1, 1, 21),
                      np.add.outer(np.linspace(-1, 1, 21) ** 2, np.linspace(-1, 1, 21) ** 2),
                      [np.c_[np.linspace(1, 0, 301), np.linspace(-1, 0, 301)]] * 3)
    fig = nf.training_figure(series, boundary=_boundary(prob, thetas), landscape=sl, max_frames=40)
    d = fig.to_dict()
    for s in series:
        curves = [t for t in d["data"] if t.get("name") == s.label and t.get("mode") == "lines"]
        dashes = sorted(t["line"]["dash"] for t in curves)
        assert dashes == ["dot", "dot", "solid", "solid"]  # loss and accuracy, train and test
        solid_loss = next(t for t in curves if t["line"]["dash"] == "solid" and t["xaxis"] == "x")
        np.testing.assert_allclose(_arr(solid_loss["y"]), s.train_loss[:, 0])
    assert len(d["frames"]) == len(fidx) <= 40
    assert len(d["layout"]["sliders"][0]["steps"]) == len(d["frames"])
    assert not _all_trace_types(fig) & set(nf.FORBIDDEN_TRACE_TYPES)
    n_traces = len(d["data"])
    for fr in d["frames"]:
        assert all(0 <= i < n_traces for i in fr["traces"])
        assert len(fr["traces"]) == len(fr["data"])


def _arr(v) -> np.ndarray:
    """Plotly may encode arrays as base64 typed arrays in to_dict; decode either form."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v, dtype=float)


def test_frame_indices_cap_and_ends():
    """At most max_frames indices, strictly increasing, first and last record included (reference: the cap)."""
    for n, cap in [(1, 10), (5, 10), (501, 100), (126, 100), (3000, 7)]:
        idx = nf.frame_indices(n, cap)
        assert len(idx) <= cap and idx[0] == 0 and idx[-1] == n - 1
        assert np.all(np.diff(idx) > 0)
    with pytest.raises(ValueError):
        nf.frame_indices(0, 10)


def test_band_is_10th_to_90th_percentile(rng):
    """The shaded band of the multi-seed figure is numpy's 10th and 90th percentile over seeds, and the
    line the median (reference: np.percentile on the input curves)."""
    series = _series(rng, n=2, R=120, s=17)
    fig = nf.seeds_figure(series)
    d = fig.to_dict()
    for s in series:
        hi = next(t for t in d["data"] if t.get("name") == f"{s.label} 90th pct")
        lo = next(t for t in d["data"] if t.get("name") == f"{s.label} 10th pct")
        med = next(t for t in d["data"] if t.get("name") == s.label and t.get("meta") == "median")
        np.testing.assert_allclose(_arr(hi["y"]), np.percentile(s.train_loss, 90, axis=1))
        np.testing.assert_allclose(_arr(lo["y"]), np.percentile(s.train_loss, 10, axis=1))
        np.testing.assert_allclose(_arr(med["y"]), np.median(s.train_loss, axis=1))
        assert lo["fill"] == "tonexty"
        boxes = [t for t in d["data"] if t.get("type") == "box" and t.get("name") == s.label]
        finals = sorted(np.concatenate([_arr(b["y"]) for b in boxes]))
        want = sorted(np.r_[s.train_acc[-1], s.test_acc[-1]] * 100)
        np.testing.assert_allclose(finals, want)


def test_boundary_points_have_probability_one_half():
    """Every vertex of the drawn decision boundary is where the network itself predicts p ≈ 0.5
    (reference: predict_proba at those points; tolerance = linear interpolation over a 61-point grid)."""
    prob, thetas = _xor_problem_and_thetas(k=4)
    b = _boundary(prob, thetas)
    checked = 0
    for f in range(len(thetas)):
        x, y = nf.boundary_lines(b.xs, b.ys, b.probs[f])
        pts = np.array([(u, v) for u, v in zip(x, y, strict=True) if u is not None])
        if len(pts) == 0:
            continue
        p = prob.predict_proba(thetas[f : f + 1], pts)[0]
        p1 = p[:, -1]
        assert np.max(np.abs(p1 - 0.5)) < 0.03
        checked += len(pts)
    assert checked > 20


def test_multiclass_boundary_is_where_two_classes_tie():
    """For softmax (Iris), boundary points are where the two most likely classes have equal probability
    (reference: the network's own probabilities)."""
    prob = nets.problem("iris", hidden=(8,), activation="tanh")
    traj = nets.train(prob, optimizers.get("adam", lr=0.02), 100, seeds=[0])
    theta = traj.params[-1:, 0, :]
    mu = prob.X_train.mean(axis=0)
    xs, ys = np.linspace(-3, 3, 81), np.linspace(-3, 3, 81)
    U, V = np.meshgrid(xs, ys)
    grid = np.tile(mu, (U.size, 1))
    grid[:, 2], grid[:, 3] = U.ravel(), V.ravel()
    probs = prob.predict_proba(theta, grid).reshape(1, len(ys), len(xs), 3)
    x, y = nf.boundary_lines(xs, ys, probs[0])
    pts = np.array([(u, v) for u, v in zip(x, y, strict=True) if u is not None])
    assert len(pts) > 10
    full = np.tile(mu, (len(pts), 1))
    full[:, 2], full[:, 3] = pts[:, 0], pts[:, 1]
    p = np.sort(prob.predict_proba(theta, full)[0], axis=1)
    assert np.max(p[:, -1] - p[:, -2]) < 0.05


def test_diagnostics_figure_has_one_curve_per_layer_and_log_axis(rng):
    """Gradient-norm panel: one trace per (optimizer, layer) on a log axis (reference: the input shapes)."""
    series = _series(rng, n=2)
    d = nf.diagnostics_figure(series).to_dict()
    grad = [t for t in d["data"] if t.get("xaxis", "x") == "x"]
    assert len(grad) == 2 * 2
    assert d["layout"]["yaxis"]["type"] == "log"


def test_payload_within_budget():
    """The page's heaviest default view (4 optimizers, 100 frames, 41-grid boundary, 41-grid slice) stays
    under 3 MB of JSON (reference: the budget in the issue)."""
    rng = np.random.default_rng(0)
    series = _series(rng, n=4, R=501, s=1)
    prob, _ = _xor_problem_and_thetas(k=2)
    thetas = np.repeat(prob.init(1, 0), 100, axis=0) + 0.3 * rng.standard_normal((100, prob.n_params))
    b = _boundary(prob, thetas, m=41)
    g = np.linspace(-1, 1, 41)
    sl = nf.SliceData(g, g, np.add.outer(g**2, np.sin(3 * g)), [np.cumsum(rng.normal(size=(501, 2)), 0) * 0.01] * 4)
    fig = nf.training_figure(series, boundary=b, landscape=sl, max_frames=100)
    assert len(fig.to_json()) < 3_000_000
    assert len(fig.frames) <= 100


def test_csv_holds_every_curve_value(rng):
    """The CSV has one row per (optimizer, seed, epoch) with the curve values (reference: the input arrays)."""
    series = _series(rng, n=2, R=30, s=3)
    df = pd.read_csv(io.StringIO(nf.curves_csv(series)))
    assert len(df) == 2 * 30 * 3
    sub = df[(df.optimizer == "opt 1") & (df.seed == 2)].sort_values("epoch")
    np.testing.assert_allclose(sub.train_loss.to_numpy(), series[1].train_loss[:, 2], rtol=1e-5)
    np.testing.assert_allclose(sub.test_acc.to_numpy(), series[1].test_acc[:, 2], rtol=1e-5)


def test_summary_rows_median_and_range(rng):
    """Summary cells: median and 10–90% range of the final values (reference: numpy median/percentile)."""
    series = _series(rng, n=1, R=10, s=11)
    row = nf.summary_rows(series)[0]
    final = series[0].train_loss[-1]
    lo, hi = np.percentile(final, [10, 90])
    assert row["train loss"] == f"{np.median(final):.4g} ({lo:.4g}–{hi:.4g})"


def test_figure_json_is_plain(rng):
    """The figure serializes to JSON that plotly.js can read (reference: json.loads round trip)."""
    fig = nf.training_figure(_series(rng, n=2, R=50))
    assert json.loads(fig.to_json())["frames"]


def test_export_scene_frames_follow_records():
    """The GIF/MP4 scene has one frame per requested record, and frame f draws the boundary of grid f
    (reference: boundary_lines on the same grid) with the marker at that record's epoch."""
    from viz.export import render_frames

    prob, thetas = _xor_problem_and_thetas(k=6)
    rng = np.random.default_rng(1)
    series = _series(rng, n=2, R=301)
    records = nf.frame_indices(301, 6)
    scene = nf.net_scene(series, boundary=_boundary(prob, thetas), records=records)
    assert scene.n_frames == len(records) == len(thetas)
    frames = list(render_frames(scene, [0, 3]))
    assert frames[0].ndim == 3 and frames[0].shape[2] == 3
    scene.update(3)
    line = next(a for a in scene.animated if hasattr(a, "get_xdata") and a.get_color() == "#111111")
    bx, _ = nf.boundary_lines(_boundary(prob, thetas).xs, _boundary(prob, thetas).ys, _boundary(prob, thetas).probs[3])
    np.testing.assert_allclose(np.asarray(line.get_xdata(), dtype=float),
                               np.array([np.nan if v is None else v for v in bx]), equal_nan=True)
    head = scene.animated[0]
    assert head.get_xdata()[0] == series[0].epochs[records[3]]


def test_player_buttons_sit_above_the_slider_not_on_it():
    """QA (browser at 1280x720): the Play/Pause buttons, placed beside the slider at x=0.17 of the width,
    covered the slider's start on a projector-sized window. Reference: plotly's layout (paper coordinates,
    both anchored at their top): the slider starts below the buttons' row, and the panel columns are
    far enough apart for the slice's y-axis title (at least 0.12 of the width)."""
    fig = nf.training_figure(_series(np.random.default_rng(0), n=2, R=50))
    layout = fig.to_plotly_json()["layout"] if hasattr(fig, "to_plotly_json") else fig.layout
    menu, slider = layout["updatemenus"][0], layout["sliders"][0]
    assert menu["yanchor"] == slider["yanchor"] == "top"
    assert slider["y"] <= menu["y"] - 0.05, (menu["y"], slider["y"])
    xa1, xa2 = layout["xaxis"]["domain"], layout["xaxis2"]["domain"]
    assert xa2[0] - xa1[1] >= 0.12


def test_png_is_the_last_frame_of_the_export_scene():
    """The "PNG (last frame)" export: its pixels equal the last frame of the GIF/MP4 scene rendered over all
    frames (two routes to the same frame: one alone, one after blitting every earlier frame), and any frame
    index can be asked for (reference: ``render_frames`` on ``net_scene`` with the page's records)."""
    from PIL import Image

    from viz.export import render_frames

    prob, thetas = _xor_problem_and_thetas(k=6)
    series = _series(np.random.default_rng(2), n=2, R=301)
    bnd = _boundary(prob, thetas)
    records = nf.frame_indices(301, 6)
    frames = list(render_frames(nf.net_scene(series, boundary=bnd, records=records, dpi=60)))
    for frame, want in ((None, frames[-1]), (2, frames[2]), (-6, frames[0])):
        png = nf.net_png(series, boundary=bnd, max_frames=6, frame=frame, dpi=60)
        got = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(frames[0], frames[-1])
    with pytest.raises(ValueError, match="frame must be in"):
        nf.net_png(series, boundary=bnd, max_frames=6, frame=6)
    with pytest.raises(ValueError, match="one per frame"):
        nf.net_png(series, boundary=bnd, max_frames=5)


def test_animated_panels_have_fixed_ranges_that_hold_every_point(rng):
    """Every axis that carries an animated trace has a fixed range (the frame player does not update
    autorange extremes), and that range holds every point any frame draws there (reference:
    the frames' own x/y values, log10 on a log axis)."""
    series = _series(rng, n=3, R=301)
    prob, thetas = _xor_problem_and_thetas(k=20)
    sl = nf.SliceData(np.linspace(-1, 1, 21), np.linspace(-1, 1, 21),
                      np.add.outer(np.linspace(-1, 1, 21) ** 2, np.linspace(-1, 1, 21) ** 2),
                      [np.c_[np.linspace(1, 0, 301), np.linspace(-1, 0, 301)]] * 3)
    for scale in ("log", "linear"):
        fig = nf.training_figure(series, boundary=_boundary(prob, thetas), landscape=sl, max_frames=20,
                                 loss_scale=scale, reference_loss=1.2, reference_label="guess")
        d = fig.to_dict()
        lay = d["layout"]
        for fr in d["frames"]:
            for ti, up in zip(fr["traces"], fr["data"], strict=True):
                tr = d["data"][ti]
                for letter in ("x", "y"):
                    ax = lay[letter + "axis" + tr.get(letter + "axis", letter)[1:]]
                    vals = np.array([np.nan if v is None else v for v in _arr(up[letter])], dtype=float)
                    vals = vals[np.isfinite(vals)]
                    if ax.get("type") == "log":
                        vals = np.log10(vals)
                    lo, hi = ax["range"]
                    assert ax.get("autorange") in (None, False)
                    assert (vals >= lo).all() and (vals <= hi).all(), (tr.get("meta"), letter, lo, hi)
