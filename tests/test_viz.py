"""The animated surfaces figure, checked on the JSON the browser receives.

References: the Trajectory that was drawn (positions, values, status steps), the landscape function itself
(contour lines), linear-interpolation error theory (contour tolerance), and payload sizes at two run lengths
(linear, not quadratic, growth).
"""

from __future__ import annotations

import base64
import json
import pickle

import numpy as np
import pytest

import landscapes
import optimizers
from viz import palette
from viz.surface_figure import Series, animated_figure, contour_data, figure_bytes, surface_3d_figure

DYNAMIC_ROLES = {"tail", "marker", "loss-marker", "step-line"}


def decode(v):
    """plotly.js typed-array spec or list -> float ndarray (None -> NaN)."""
    if isinstance(v, dict) and "bdata" in v:
        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            arr = arr.reshape([int(n) for n in v["shape"].split(",")])
        return arr.astype(np.float64)
    return np.array([np.nan if e is None else e for e in np.asarray(v, dtype=object).ravel()],
                    dtype=np.float64).reshape(np.shape(v))


class _NoWindow:
    """Rosenbrock without bounds/minima, so a too-large step really diverges instead of leaving the window."""

    def __init__(self, land):
        self.value_and_grad = land.value_and_grad


@pytest.fixture(scope="module")
def land():
    return landscapes.get("rosenbrock")


@pytest.fixture(scope="module")
def series(land):
    start = np.array([[-1.5, 2.0]])
    adam = optimizers.run(land, optimizers.get("adam", lr=0.05), start, 200)
    two = optimizers.run(land, optimizers.get("gd", lr=1e-3), np.array([[-1.5, 2.0], [1.5, -0.5]]), 200)
    bad = optimizers.run(_NoWindow(land), optimizers.get("gd", lr=0.05), start, 200)
    assert bad.status[0] == "diverged", "fixture should diverge"
    return [Series("Adam", palette.color_for(0), adam), Series("GD two starts", palette.color_for(1), two),
            Series("GD too fast", palette.color_for(2), bad)]


def payload(fig) -> dict:
    return json.loads(fig.to_json())


def roles(d: dict) -> list[str]:
    return [t.get("meta", {}).get("role") for t in d["data"]]


def frame_record(traj, step: int) -> np.ndarray:
    """(k,) record index shown at ``step``: the last record at or before it, but never past a run's status step."""
    i = int(np.searchsorted(traj.steps, step, side="right") - 1)
    return np.array([min(i, traj.last_record(r)) for r in range(traj.k)])


def test_structure(land, series):
    """Reference: the contract — one path and one loss trace per series, slider steps = frames, scatter only."""
    fig = animated_figure(land, series, max_frames=60)
    d = payload(fig)
    rs = roles(d)
    for i in range(len(series)):
        assert sum(1 for t in d["data"] if t["meta"].get("series") == i and t["meta"]["role"] == "path") == 1
        assert sum(1 for t in d["data"] if t["meta"].get("series") == i and t["meta"]["role"] == "loss") == 1
    assert {t["type"] for t in d["data"]} == {"scatter"}, "contour/heatmap traces vanish mid-animation"
    frames = d["frames"]
    assert 2 <= len(frames) <= 60
    slider = d["layout"]["sliders"][0]
    assert len(slider["steps"]) == len(frames)
    assert [s["label"] for s in slider["steps"]] == [f["name"] for f in frames]
    assert [int(f["name"]) for f in frames] == sorted({int(f["name"]) for f in frames})
    for f in frames:
        assert {rs[i] for i in f["traces"]} <= DYNAMIC_ROLES
        assert len(f["traces"]) == len(f["data"])
    assert all(f["data"] for f in frames)
    for f in frames:  # frames never carry whole paths
        for t in f["data"]:
            assert len(decode(t["x"])) < 200
    # plotly.js re-runs defaults and calc on every trace each frame: one trace per contour level or per series
    # tail/marker would multiply the frame cost. Static: contour, click grid, one critical kind, start, end,
    # loss-stop; animated: tail, marker, loss-marker; plus one path and one loss curve per series.
    assert rs.count("contour") == 1
    assert len(d["data"]) <= 9 + 2 * len(series)
    assert len(frames[0]["traces"]) <= 4
    buttons = d["layout"]["updatemenus"][0]["buttons"]
    assert any(b["args"][0] is None for b in buttons), "a Play button"
    assert all(b["args"][1]["frame"]["redraw"] is False for b in buttons)
    assert figure_bytes(fig) == len(fig.to_json().encode())


def test_click_grid_customdata(land, series):
    """Reference: the trace's own x/y — customdata must carry the same point the user clicked."""
    d = payload(animated_figure(land, series, click_grid=12))
    grid = [t for t in d["data"] if t["meta"]["role"] == "click-grid"]
    assert len(grid) == 1 and grid[0]["name"] == "click-grid"
    x, y, cd = decode(grid[0]["x"]), decode(grid[0]["y"]), decode(grid[0]["customdata"])
    assert len(x) == 144
    np.testing.assert_array_equal(cd[:, 0], x)
    np.testing.assert_array_equal(cd[:, 1], y)
    (x0, x1), (y0, y1) = land.bounds
    assert x.min() > x0 and x.max() < x1 and y.min() > y0 and y.max() < y1
    assert grid[0]["marker"]["opacity"] <= 0.1


def test_markers_follow_trajectory(land, series):
    """Reference: Trajectory.params/values/steps at each frame's step — the current map marker, its hover data
    and the loss marker of every run sit exactly there (points ordered by series, then run)."""
    for scale in ("linear", "log"):
        d = payload(animated_figure(land, series, max_frames=40, loss_scale=scale))
        rs = roles(d)
        i_marker, i_loss = rs.index("marker"), rs.index("loss-marker")
        assert d["data"][i_marker]["meta"]["series"] == [i for i, s in enumerate(series) for _ in range(s.trajectory.k)]
        assert d["data"][i_marker]["marker"]["color"] == [s.color for s in series for _ in range(s.trajectory.k)]
        for f in d["frames"]:
            step = int(f["name"])
            up = dict(zip(f["traces"], f["data"], strict=True))
            want_xy, want_f, want_step = [], [], []
            for s in series:
                tr = s.trajectory
                rec = frame_record(tr, step)
                want_xy.append(tr.params[rec, np.arange(tr.k)])
                want_f.append(tr.values[rec, np.arange(tr.k)])
                want_step.append(tr.steps[rec])
            xy, fv, st = np.concatenate(want_xy), np.concatenate(want_f), np.concatenate(want_step)
            np.testing.assert_allclose(decode(up[i_marker]["x"]), xy[:, 0], rtol=0, atol=1e-12)
            np.testing.assert_allclose(decode(up[i_marker]["y"]), xy[:, 1], rtol=0, atol=1e-12)
            np.testing.assert_allclose(decode(up[i_marker]["customdata"])[:, 1], fv)
            assert decode(up[i_loss]["x"]).tolist() == st.tolist()
            want_loss = np.maximum(fv - land.f_min, 1e-12) if scale == "log" else fv
            np.testing.assert_allclose(decode(up[i_loss]["y"]), want_loss, rtol=1e-12)


def test_tail_dots_trail_the_marker(land, series):
    """Reference: Trajectory.params — every tail dot is a point the run really visited at or before the frame's
    step, dots run oldest to newest, the newest is the current position, and size/opacity grow towards it."""
    d = payload(animated_figure(land, series, max_frames=40, tail=6))
    rs = roles(d)
    i_tail = rs.index("tail")
    tail = d["data"][i_tail]
    sizes, alphas = decode(tail["marker"]["size"]), decode(tail["marker"]["opacity"])
    colors = tail["marker"]["color"]
    n_dots = [colors.count(s.color) // s.trajectory.k for s in series]  # per series (colours are distinct)
    assert min(n_dots) >= 2 and len(sizes) == len(alphas) == len(colors)
    assert colors == [s.color for s, n in zip(series, n_dots, strict=True) for _ in range(s.trajectory.k * n)]
    for f in d["frames"]:
        step = int(f["name"])
        up = dict(zip(f["traces"], f["data"], strict=True))
        x, y = decode(up[i_tail]["x"]), decode(up[i_tail]["y"])
        assert len(x) == len(sizes)
        j = 0
        for s, n in zip(series, n_dots, strict=True):
            tr = s.trajectory
            for r, rec in enumerate(frame_record(tr, step)):
                dots = np.stack([x[j : j + n], y[j : j + n]], axis=1)
                visited = tr.params[: rec + 1, r].astype(np.float32).astype(np.float64)
                hit = np.abs(dots[:, None, :] - visited[None, :, :]).max(axis=2) == 0  # (n_dots, rec + 1)
                assert hit.any(axis=1).all(), "a tail dot off the path"
                order = [int(np.flatnonzero(h).max()) for h in hit]
                assert order == sorted(order) and order[-1] == rec
                assert (np.diff(sizes[j : j + n]) > 0).all() and (np.diff(alphas[j : j + n]) > 0).all()
                j += n


def test_loss_curves_equal_values_and_stop_at_divergence(land, series):
    """Reference: Trajectory.values (linear scale: plotted as-is; log: f − f*) and Trajectory.status_step."""
    for scale in ("linear", "log"):
        d = payload(animated_figure(land, series, loss_scale=scale))
        for t in d["data"]:
            if t["meta"]["role"] != "loss":
                continue
            tr = series[t["meta"]["series"]].trajectory
            x, y = decode(t["x"]), decode(t["y"])
            runs = np.split(np.arange(len(x)), np.flatnonzero(np.isnan(x)))
            assert len(runs) == tr.k
            for r, ix in enumerate(runs):
                ix = ix[~np.isnan(x[ix])]
                m = tr.last_record(r) + 1
                np.testing.assert_array_equal(x[ix], tr.steps[:m])
                want = tr.values[:m, r] - (land.f_min if scale == "log" else 0.0)
                if scale == "log":
                    want = np.maximum(want, 1e-12)
                np.testing.assert_allclose(y[ix], want, rtol=1e-12, atol=0)
                assert x[ix][-1] == tr.status_step[r] or tr.status[r] == "max steps"
    bad = series[2].trajectory
    d = payload(animated_figure(land, series))
    stop = next(t for t in d["data"] if t["meta"]["role"] == "loss-stop")
    assert stop["meta"]["series"] == [2], "only the diverged series stops early"
    assert decode(stop["x"]).tolist() == [bad.status_step[0]]
    assert "diverged at step" in stop["text"][0]
    end = next(t for t in d["data"] if t["meta"]["role"] == "end")
    j = end["meta"]["series"].index(2)
    assert end["marker"]["symbol"][j] == "x" and "diverged at step" in end["text"][j]
    np.testing.assert_allclose([decode(end["x"])[j], decode(end["y"])[j]], bad.params[bad.last_record(0), 0])


def test_payload_grows_linearly(land):
    """Reference: frames carry tails, not whole paths, so doubling the steps (and frames) about doubles the size."""
    start = np.array([[-1.5, 2.0]])
    sizes = []
    for steps in (250, 500):
        tr = optimizers.run(land, optimizers.get("gd", lr=1e-3), start, steps)
        ser = [Series(f"s{i}", palette.color_for(i), tr) for i in range(3)]
        base = figure_bytes(animated_figure(land, ser[:1], max_frames=1000, click_grid=0))
        full = figure_bytes(animated_figure(land, ser, max_frames=1000, click_grid=0))
        sizes.append(full - base)  # the series-dependent part; the map is the same in both
    assert sizes[1] / sizes[0] < 2.6


def test_size_goal(land):
    """Reference: issue 3's budget — 4 optimizers x 500 steps -> figure JSON <= 3 MB."""
    start = np.array([[-1.5, 2.0]])
    ser = [Series(f"adam {lr}", palette.color_for(i), optimizers.run(land, optimizers.get("adam", lr=lr), start, 500))
           for i, lr in enumerate((0.01, 0.03, 0.1, 0.3))]
    assert figure_bytes(animated_figure(land, ser)) <= 3_000_000
    assert figure_bytes(animated_figure(land, ser, layout="small_multiples")) <= 3_000_000


def test_small_multiples_one_panel_per_series(land, series):
    """Reference: the contract — one map panel per series, every panel with the landscape's fixed ranges."""
    d = payload(animated_figure(land, series, layout="small_multiples"))
    path_axes = {t["xaxis"] for t in d["data"] if t["meta"]["role"] == "path"}
    loss_axes = {t["xaxis"] for t in d["data"] if t["meta"]["role"] == "loss"}
    assert len(path_axes) == len(series) and len(loss_axes) == 1 and not path_axes & loss_axes
    for ax in path_axes:
        key = "xaxis" + ax[1:]
        assert d["layout"][key]["range"] == list(land.bounds[0])
        assert d["layout"][key]["autorange"] is False


def test_pickle_roundtrip_keeps_payload(land, series):
    """Reference: the figure before pickling — st.cache_data must hand back the same JSON."""
    fig = animated_figure(land, series, max_frames=30)
    again = pickle.loads(pickle.dumps(fig))
    assert json.loads(again.to_json()) == json.loads(fig.to_json())
    assert len(again.frames) == len(fig.frames) == len(payload(fig)["frames"])


def test_bad_layout_is_a_clear_error(land, series):
    """Reference: the contract's ValueError-with-message rule."""
    with pytest.raises(ValueError, match="layout"):
        animated_figure(land, series, layout="grid")
    with pytest.raises(ValueError, match="at least one"):
        animated_figure(land, [])


@pytest.mark.parametrize("name", landscapes.names())
def test_every_landscape_draws(name):
    """Reference: the registry — every surface gets a figure with lines, its minima marked, and frames."""
    land = landscapes.get(name)
    tr = optimizers.run(land, optimizers.get("adam", lr=0.05), np.array([land.start]), 60)
    d = payload(animated_figure(land, [Series("adam", palette.color_for(0), tr)], max_frames=30))
    rs = roles(d)
    contour = d["data"][rs.index("contour")]
    assert rs.count("contour") == 1 and len(contour["meta"]["levels"]) >= 3
    n_crit = sum(len(decode(t["x"])) for t in d["data"] if t["meta"]["role"] == "critical")
    assert n_crit == len(land.minima)
    assert len(d["frames"]) == 30 or len(d["frames"]) == len(tr.steps)
    assert d["layout"]["xaxis"]["range"] == list(land.bounds[0])


@pytest.mark.parametrize("name", ["rosenbrock", "himmelblau", "six_hump_camel", "two_basin"])
def test_contour_points_lie_on_their_level(name):
    """Reference: the function itself. Vertices come from linear interpolation along grid edges of width h, so
    |f(p) − c| <= h²/8 · max|f''| along the edge (interpolation error bound); we use the Hessian's diagonal at p
    with a factor-3 margin for its variation over the edge, plus 1e-9 relative to the level."""
    land = landscapes.get(name)
    cd = contour_data(land)
    h = max(cd.x[1] - cd.x[0], cd.y[1] - cd.y[0])
    checked = 0
    for level, line in zip(cd.levels, cd.lines, strict=True):
        pts = line[~np.isnan(line).any(axis=1)]
        if not len(pts):
            continue
        pts = pts[:: max(1, len(pts) // 200)]
        err = np.abs(land.value(pts) - level)
        hess = land.hessian(pts)
        curv = np.maximum(np.abs(hess[..., 0, 0]), np.abs(hess[..., 1, 1]))
        tol = 3.0 * h * h / 8.0 * curv + 1e-9 * max(1.0, abs(level))
        assert (err <= tol).all(), f"level {level}: worst {err.max()} vs tol {tol[err.argmax()]}"
        checked += len(pts)
    assert checked > 100


@pytest.mark.parametrize("name", ["rosenbrock", "himmelblau", "six_hump_camel"])
def test_contour_trace_polylines_lie_on_listed_levels(name):
    """Reference: the function itself — each None-separated polyline of the single contour trace is a level
    set of f for one of the levels in its meta (tolerance: the interpolation bound above plus float32 rounding
    of the drawn coordinates, |∇f|·|p|·2⁻²³), and every listed level is drawn."""
    land = landscapes.get(name)
    tr = optimizers.run(land, optimizers.get("gd", lr=1e-3), np.array([land.start]), 5)
    d = payload(animated_figure(land, [Series("gd", palette.color_for(0), tr)], max_frames=5))
    contour = next(t for t in d["data"] if t["meta"]["role"] == "contour")
    levels = np.asarray(contour["meta"]["levels"])
    x, y = decode(contour["x"]), decode(contour["y"])
    cd = contour_data(land)
    h = max(cd.x[1] - cd.x[0], cd.y[1] - cd.y[0])
    breaks = np.flatnonzero(np.isnan(x))
    used = set()
    for ix in np.split(np.arange(len(x)), breaks):
        ix = ix[~np.isnan(x[ix])]
        if not len(ix):
            continue
        pts = np.stack([x[ix], y[ix]], axis=1)
        _, grad = land.value_and_grad(pts)
        hess = land.hessian(pts)
        curv = np.maximum(np.abs(hess[..., 0, 0]), np.abs(hess[..., 1, 1]))
        f32 = np.hypot(*grad.T) * np.abs(pts).max(axis=1) * 2.0**-22
        err = np.abs(land.value(pts)[:, None] - levels[None, :])  # (m, n_levels)
        tol = (3.0 * h * h / 8.0 * curv + f32)[:, None] + 1e-9 * np.maximum(1.0, np.abs(levels))[None, :]
        ok = (err <= tol).all(axis=0)
        assert ok.any(), f"a polyline of {len(ix)} points lies on none of the levels"
        used.add(int(np.flatnonzero(ok)[np.argmin(err.max(axis=0)[ok])]))
    assert used == set(range(len(levels)))


def test_log_levels_are_log_spaced():
    """Reference: the definition — log-scale surfaces get levels with a constant ratio of f − f*."""
    land = landscapes.get("rosenbrock")
    gaps = contour_data(land).levels - land.f_min
    ratios = gaps[1:] / gaps[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)


LOG_SURFACES = [n for n in landscapes.REGISTRY if n != "formula" and landscapes.get(n).log_scale]


def surface_trace(d: dict) -> dict:
    return next(t for t in d["data"] if t["meta"]["role"] == "surface")


def drawn_grid(d: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = surface_trace(d)
    return decode(t["x"]), decode(t["y"]), decode(t["z"])


def mesh_ceiling(gx: np.ndarray, gy: np.ndarray, gz: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Height of the drawn mesh at (px, py), rebuilt by hand: the cell holding the point is split into two
    triangles along either diagonal (plotly.js picks one), and the higher of the two planes is returned."""
    out = np.empty(len(px))
    for n, (x, y) in enumerate(zip(px, py, strict=True)):
        i = min(max(int(np.searchsorted(gx, x, side="right")) - 1, 0), len(gx) - 2)
        j = min(max(int(np.searchsorted(gy, y, side="right")) - 1, 0), len(gy) - 2)
        u = min(max((x - gx[i]) / (gx[i + 1] - gx[i]), 0.0), 1.0)
        v = min(max((y - gy[j]) / (gy[j + 1] - gy[j]), 0.0), 1.0)
        a, b, c, e = gz[j, i], gz[j, i + 1], gz[j + 1, i], gz[j + 1, i + 1]  # (0,0) (1,0) (0,1) (1,1)
        diag = a + u * (b - a) + v * (e - b) if u >= v else a + v * (c - a) + u * (e - c)
        anti = a + u * (b - a) + v * (c - a) if u + v <= 1 else e + (1 - u) * (c - e) + (1 - v) * (b - e)
        out[n] = max(diag, anti)
    return out


@pytest.mark.parametrize("name", LOG_SURFACES)
def test_3d_surface_is_the_smooth_log_transform(name):
    """Reference: the formula rebuilt by hand on the grid — z = log10(f − f* + ε) with f the landscape's own
    value, and ε taken from the surface's range (between 1e-5 of the largest gap and the gap itself)."""
    land = landscapes.get(name)
    traj = optimizers.run(land, optimizers.get("gd", lr=1e-4), np.array([land.start]), 5)
    d = payload(surface_3d_figure(land, [Series("gd", "#000000", traj)], max_frames=5))
    gx, gy, gz = drawn_grid(d)
    meta = surface_trace(d)["meta"]
    (x0, x1), (y0, y1) = land.bounds
    np.testing.assert_allclose(gx, np.linspace(x0, x1, len(gx)))
    np.testing.assert_allclose(gy, np.linspace(y0, y1, len(gy)))
    mx, my = np.meshgrid(gx, gy)
    f = np.array([[land.value(np.array([x, y])) for x, y in zip(rx, ry, strict=True)]
                  for rx, ry in zip(mx[::17], my[::17], strict=True)])  # every 17th row, point by point
    gap = f - land.f_min
    eps = meta["eps"]
    assert meta["log"] is True and meta["base"] == land.f_min
    big = float(np.max(land.value(np.stack([mx, my], axis=-1)) - land.f_min))
    assert big * 1e-5 * 0.999 <= eps <= big * 1.001
    np.testing.assert_allclose(gz[::17], np.log10(np.maximum(gap, 0) + eps), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", LOG_SURFACES)
def test_3d_log_surface_has_no_sawtooth(name):
    """Reference: a smooth surface sampled at step h changes between neighbours by at most h·max|∇z|; near a
    floor f − f* ≈ κd²/2 that is h·sqrt(κ/2ε)/ln 10, which the figure keeps within 0.3 decades. A sawtooth —
    the unresolved crease of the old figure (90 points, ε = 1e-6 of the range) — breaks that bound by far:
    rebuilt here, its neighbours on Rosenbrock differ by about 2.5 decades."""
    from viz.surface_figure import MAX_STEP_DECADES

    land = landscapes.get(name)
    traj = optimizers.run(land, optimizers.get("gd", lr=1e-4), np.array([land.start]), 5)
    _, _, gz = drawn_grid(payload(surface_3d_figure(land, [Series("gd", "#000000", traj)], max_frames=5)))
    assert MAX_STEP_DECADES == 0.3
    steps = np.concatenate([np.abs(np.diff(gz, axis=0)).ravel(), np.abs(np.diff(gz, axis=1)).ravel()])
    assert np.nanmax(steps) <= 0.3 + 1e-6
    if name == "rosenbrock":  # the bound has teeth: the old surface breaks it
        (x0, x1), (y0, y1) = land.bounds
        x, y = np.linspace(x0, x1, 90), np.linspace(y0, y1, 90)
        f = land.value(np.stack(np.meshgrid(x, y), axis=-1))
        old = np.log10(f - land.f_min + 1e-6 * float(f.max() - land.f_min))
        assert max(np.abs(np.diff(old, axis=0)).max(), np.abs(np.diff(old, axis=1)).max()) > 2.0


def test_3d_paths_lie_above_the_surface(land, series):
    """Reference: the drawn mesh rebuilt by hand (both ways of splitting each cell into triangles): every
    drawn point of every path, start marker, tail dot and current marker, in every frame, is above it."""
    d = payload(surface_3d_figure(land, series, max_frames=30))
    gx, gy, gz = drawn_grid(d)
    checked = 0
    pieces = [t for t in d["data"] if t["type"] == "scatter3d" and t["meta"]["role"] in ("path", "start")]
    dyn = [d["data"][i] for i in d["frames"][0]["traces"]]
    pieces += [u for f in d["frames"] for u, t in zip(f["data"], dyn, strict=True) if t["type"] == "scatter3d"]
    for t in pieces:
        x, y, z = decode(t["x"]), decode(t["y"]), decode(t["z"])
        ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
        ok &= (x >= gx[0]) & (x <= gx[-1]) & (y >= gy[0]) & (y <= gy[-1])  # outside the box nothing is drawn
        ceiling = mesh_ceiling(gx, gy, gz, x[ok], y[ok])
        assert (z[ok] > ceiling).all(), f"{t.get('meta', {}).get('role')}: {np.min(z[ok] - ceiling)}"
        checked += int(ok.sum())
    assert checked > 500


def test_3d_paths_are_visible_from_the_default_camera(land, series):
    """Reference: a ray tracer written here — the camera is plotly's eye in scene units (each axis range
    mapped onto ±aspect/2, gl-plot3d's model matrix); a path point is hidden when the straight line from it to
    the eye passes under the drawn mesh (bilinear, scipy). At least 90% of the drawn path points are seen."""
    from scipy.interpolate import RegularGridInterpolator

    d = payload(surface_3d_figure(land, series))
    gx, gy, gz = drawn_grid(d)
    scene = d["layout"]["scene"]
    eye = np.array([scene["camera"]["eye"][k] for k in "xyz"])
    a = np.array([scene["aspectratio"][k] for k in "xyz"])
    lo = np.array([scene["xaxis"]["range"][0], scene["yaxis"]["range"][0], scene["zaxis"]["range"][0]])
    hi = np.array([scene["xaxis"]["range"][1], scene["yaxis"]["range"][1], scene["zaxis"]["range"][1]])
    height = RegularGridInterpolator((gy, gx), gz)
    seen = total = 0
    for t in (t for t in d["data"] if t["meta"]["role"] == "path"):
        pts = np.stack([decode(t["x"]), decode(t["y"]), decode(t["z"])], axis=1)
        pts = pts[np.isfinite(pts).all(axis=1) & (pts >= lo).all(axis=1) & (pts <= hi).all(axis=1)]
        for p in pts[:: max(1, len(pts) // 60)]:
            ps = (p - (lo + hi) / 2) / (hi - lo) * a
            q = ps + np.linspace(0.004, 1.0, 400)[:, None] * (eye - ps)  # samples along the line of sight
            qd = q / a * (hi - lo) + (lo + hi) / 2
            inside = ((lo[:2] <= qd[:, :2]) & (qd[:, :2] <= hi[:2])).all(axis=1)
            n_in = len(inside) if inside.all() else int(np.argmin(inside))  # up to where it leaves the box
            under = qd[:n_in, 2] < height(qd[:n_in, 1::-1]) - 1e-3 * (hi[2] - lo[2])
            seen += not under.any()
            total += 1
    assert total > 100 and seen / total >= 0.9, f"{seen}/{total} path points visible"


def test_3d_frames_carry_only_what_moves(land):
    """Reference: payload sizes at three frame counts — frames carry the markers, short tails and loss markers
    only, so the figure grows linearly (equal increments per added frame) and each frame's point count is fixed
    by the runs, not by the step; whole paths per frame would grow it as frames²."""
    start = np.array([[-1.5, 2.0], [1.5, -0.5]])
    ser = [Series(n, palette.color_for(i), optimizers.run(land, optimizers.get(n, lr=lr), start, 400))
           for i, (n, lr) in enumerate((("gd", 1e-3), ("adam", 0.05)))]
    d = payload(surface_3d_figure(land, ser, max_frames=40, tail=10))
    moving = {d["data"][i]["meta"]["role"] for i in d["frames"][0]["traces"]}
    assert moving == {"tail", "marker", "loss-marker"}
    counts = {tuple(len(decode(u["x"])) for u in f["data"]) for f in d["frames"]}
    assert len(counts) == 1
    (tail_n, marker_n, loss_n), = counts
    assert marker_n == loss_n == 4 and tail_n <= 4 * 8
    sizes = [figure_bytes(surface_3d_figure(land, ser, max_frames=n)) for n in (50, 100, 200)]
    ratio = (sizes[2] - sizes[1]) / (sizes[1] - sizes[0])  # 100 frames added over 50 added: 2 when linear
    assert 1.8 <= ratio <= 2.2, ratio


def test_3d_has_the_player_controls_a_step_label_and_loss_curves(land, series):
    """Reference: the 2-D figure's contract and viz.player.use_player's — a Play button (redraw: true, 3-D
    needs it), a slider with one step per frame labelled "step N", and one loss curve per series in a 2-D panel
    beside the scene; use_player turns the menu into the player's buttons."""
    from viz.player import BUTTONS, use_player

    d = payload(surface_3d_figure(land, series, max_frames=20, frame_ms=70))
    lay = d["layout"]
    play = next(b for b in lay["updatemenus"][0]["buttons"] if b["args"][0] is None)
    assert play["args"][1]["frame"] == {"duration": 70, "redraw": True}
    slider = lay["sliders"][0]
    assert [s["args"][0][0] for s in slider["steps"]] == [f["name"] for f in d["frames"]]
    assert slider["currentvalue"]["prefix"] == "step "
    assert sorted(t["meta"]["series"] for t in d["data"] if t["meta"]["role"] == "loss") == list(range(len(series)))
    assert lay["scene"]["domain"]["x"][1] < lay["xaxis"]["domain"][0]
    assert lay["yaxis"]["side"] == "right"
    player = use_player(lay)
    assert [b["name"] for b in player["updatemenus"][0]["buttons"]] == [f"player:{n}" for n, _ in BUTTONS]


def test_axis_titles_stay_off_the_other_panel_and_the_controls(land, series):
    """Reference: the layout's own numbers, in pixels at the projector's width (980 px). The loss axis keeps
    its ticks and title on its right, inside the right margin, so nothing reaches the map; the map's y title
    fits the left margin; the x titles end above the buttons. Text extents: 0.6 em per character of a tick
    label (the map's "−0.5" has 4, the loss axis's "10⁻¹²" 5), lines 1.2 em high."""
    d = payload(animated_figure(land, series))
    lay = d["layout"]
    m = lay["margin"]
    width = 980 - m["l"] - m["r"]
    tick = lay["yaxis"]["tickfont"]["size"]
    title = lay["yaxis"]["title"]["font"]["size"]
    label_w, map_label_w = 5 * 0.6 * tick, 4 * 0.6 * tick
    ticklen = 5
    loss_y, map_x, loss_x = lay["yaxis2"], lay["xaxis"], lay["xaxis2"]
    assert loss_y["side"] == "right"
    assert map_x["domain"][1] < loss_x["domain"][0]
    gap_px = (loss_x["domain"][0] - map_x["domain"][1]) * width
    assert gap_px >= 0.5 * label_w  # room for the half of the loss panel's first x tick label ("0") and more
    assert ticklen + label_w + loss_y["title"]["standoff"] + 1.2 * title <= m["r"]
    assert ticklen + map_label_w + lay["yaxis"]["title"]["standoff"] + 1.2 * title <= m["l"]
    for ax in (map_x, loss_x):
        below = ticklen + 1.2 * tick + ax["title"]["standoff"] + 1.2 * title
        assert below <= lay["updatemenus"][0]["pad"]["t"]
    assert lay["height"] <= 720 - 140  # the projector's room under the page's header and caption


def test_theme_is_explicit(land, series):
    """Reference: the palette — colours and fonts are set in the figure itself, so no host theme recolours it."""
    d = payload(animated_figure(land, series))
    assert d["layout"]["font"]["family"] == palette.FONT_FAMILY
    assert d["layout"]["paper_bgcolor"] == palette.PAPER_BG
    assert d["layout"]["template"]["layout"]  # a full template, not a name the host could reinterpret
    loss = {t["meta"]["series"]: t["line"]["color"] for t in d["data"] if t["meta"]["role"] == "loss"}
    assert loss == {i: s.color for i, s in enumerate(series)}
    fig = animated_figure(land, series)
    assert palette.apply_theme(fig) is fig


def test_escape_arrow_points_along_the_failed_step():
    """Reference: the GD step rebuilt by hand, −lr·∇f(θ₀). The arrow starts at the last good point (the start),
    is parallel to −∇f there, and its head stays inside the window; a run that converges gets no arrow."""
    from viz.surface_figure import escape_arrows

    land = landscapes.get("rosenbrock")
    start = np.array([-1.5, 2.0])
    bad = optimizers.run(land, optimizers.get("gd", lr=10.0), start[None], 20)
    good = optimizers.run(land, optimizers.get("adam", lr=0.05), start[None], 20)
    arrows = escape_arrows([Series("bad", "#000000", bad), Series("good", "#111111", good)], land.bounds)
    assert [a[0] for a in arrows] == [0]
    _, tail, head = arrows[0]
    np.testing.assert_allclose(tail, start)
    step = -land.value_and_grad(start)[1]
    d = head - tail
    assert abs(d[0] * step[1] - d[1] * step[0]) <= 1e-9 * np.linalg.norm(d) * np.linalg.norm(step)
    assert d @ step > 0
    (x0, x1), (y0, y1) = land.bounds
    assert x0 <= head[0] <= x1 and y0 <= head[1] <= y1


def test_no_escape_arrow_from_outside_the_view():
    """Reference: the window itself. A run whose last good point lies outside the view (the runner allows a
    margin) gets no arrow, so no arrow can point back into the map."""
    from viz.surface_figure import escape_arrows

    land = landscapes.get("rosenbrock")
    traj = optimizers.run(land, optimizers.get("momentum", lr=0.003), np.array([[-1.5, 2.0]]), 500)
    assert traj.status[0] == "left window"
    (x0, x1), (y0, y1) = land.bounds
    last = traj.params[traj.last_record(0), 0]
    assert not (x0 <= last[0] <= x1 and y0 <= last[1] <= y1)
    assert escape_arrows([Series("m", "#000000", traj)], land.bounds) == []


def test_legend_clicks_are_off_because_markers_share_traces():
    """Reference: the figure's own structure. Every series' current marker lives in one shared trace, so a
    legend toggle could hide a path but not its marker; the legend must therefore not toggle."""
    land = landscapes.get("rosenbrock")
    series = [Series(n, palette.color_for(i), optimizers.run(land, optimizers.get(n, lr=0.01), np.array([land.start]), 30))
              for i, n in enumerate(("gd", "adam"))]
    fig = animated_figure(land, series).to_dict()
    markers = [t for t in fig["data"] if (t.get("meta") or {}).get("role") == "marker"]
    assert len(markers) == 1
    assert fig["layout"]["legend"]["itemclick"] is False and fig["layout"]["legend"]["itemdoubleclick"] is False


def test_use_player_swaps_the_buttons_and_keeps_their_meaning(land, series):
    """Reference: the figure's own Play button and slider steps — the player's Play carries the same arguments
    (frame duration), first/last name the first/last slider step, every button and slider step only notifies
    (execute=False, arguments kept),
    and the original layout is not modified (the exports keep plotly's own Play/Pause)."""
    from viz.player import BUTTONS, use_player

    d = payload(animated_figure(land, series, max_frames=40, frame_ms=33))
    before = json.dumps(d["layout"], sort_keys=True)
    lay = use_player(d["layout"])
    assert json.dumps(d["layout"], sort_keys=True) == before
    buttons = lay["updatemenus"][0]["buttons"]
    assert [b["name"] for b in buttons] == [f"player:{n}" for n, _ in BUTTONS]
    assert all(b["execute"] is False for b in buttons)
    by = {b["name"].split(":")[1]: b for b in buttons}
    orig_play = next(b for b in d["layout"]["updatemenus"][0]["buttons"] if b["args"][0] is None)
    assert by["play"]["args"] == orig_play["args"] and by["play"]["args"][1]["frame"]["duration"] == 33
    steps = lay["sliders"][0]["steps"]
    assert by["first"]["args"][0] == steps[0]["args"][0] and by["last"]["args"][0] == steps[-1]["args"][0]
    assert [{**s, "execute": True} for s in steps] == [{**s, "execute": True} for s in d["layout"]["sliders"][0]["steps"]]
    assert all(s["execute"] is False for s in steps)  # the player draws slider moves too
    assert lay["sliders"][0]["x"] + lay["sliders"][0]["len"] <= 1.0 + 1e-12


def test_use_player_refuses_a_layout_without_controls():
    """Reference: the documented contract — no updatemenu/slider (e.g. a static figure) is a clear error."""
    from viz.player import use_player

    with pytest.raises(ValueError, match="updatemenus"):
        use_player({"sliders": []})
    with pytest.raises(ValueError, match="Play"):
        use_player({"updatemenus": [{"buttons": [{"method": "relayout", "args": [{}]}]}],
                    "sliders": [{"steps": [{"args": [["0"], {}]}]}]})


def test_player_script_is_a_classic_script_defining_the_player():
    """Reference: how it is loaded — as a classic script (the Streamlit component appends its own module
    export), so it must not contain import/export statements and must define window.DescentLabPlayer."""
    from viz.player import player_js

    js = player_js()
    assert "window.DescentLabPlayer = new Player()" in js
    assert not any(line.lstrip().startswith(("import ", "export ")) for line in js.splitlines())


@pytest.mark.parametrize("layout", ["overlay", "small_multiples"])
def test_figure_sent_from_parts_equals_the_plotly_figure(land, series, layout):
    """Reference: plotly.py itself. The page encodes the builder's plain dicts without a ``go.Figure``
    (``PrecomputedFigure.from_parts``); the JSON must equal what ``PrecomputedFigure(go.Figure)`` sends, and the
    export figure built later must equal the one built first."""
    import plotly.io as pio

    from ui.common import PrecomputedFigure
    from viz.surface_figure import animated_parts

    parts = animated_parts(land, series, layout=layout, max_frames=40)
    fast = PrecomputedFigure.from_parts(parts)
    slow = PrecomputedFigure(parts.figure())
    assert json.loads(pio.to_json(fast.to_dict(), validate=False)) == json.loads(
        pio.to_json(slow.to_dict(), validate=False))
    assert fast.full.to_json() == slow.full.to_json()
    # plotly.io encodes with orjson and falls back to a slow pure-Python clean of the whole figure when orjson
    # refuses a value (a strided array): the page's spec must go through orjson as it is.
    import orjson

    orjson.dumps(fast.to_dict(), option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def test_plotly_encoded_encodes_a_shared_container_once_to_the_same_json():
    """Reference: the same value written out twice. A dict that appears twice (a slider's steps share their
    animation options) is encoded once and its encoding reused; the JSON is that of two separate copies."""
    import copy

    from viz.plotly_json import plotly_encoded

    shared = {"frame": {"duration": 0}, "a": np.arange(3.0)}
    obj = {"steps": [{"args": [["0"], shared]}, {"args": [["1"], shared]}], "other": shared}
    apart = copy.deepcopy(obj)
    apart["steps"][1]["args"][1] = copy.deepcopy(shared)
    ours = plotly_encoded(obj)
    assert ours["steps"][0]["args"][1] is ours["steps"][1]["args"][1] is ours["other"]
    assert json.dumps(ours, sort_keys=True) == json.dumps(plotly_encoded(apart), sort_keys=True)


def test_plotly_encoded_equals_plotly_convert_to_base64():
    """Reference: plotly.py's ``convert_to_base64`` on the same nested values: int64 narrowed, skipped keys kept,
    arrays inside lists kept, dicts inside lists encoded; the input is left unchanged."""
    import copy

    from _plotly_utils.utils import convert_to_base64

    from viz.plotly_json import plotly_encoded

    obj = {"x": np.arange(5.0), "i": np.arange(3), "big": np.array([2**40, 1]), "range": np.array([0.0, 1.0]),
           "e": np.array([]), "m": np.ones((2, 3)), "nested": {"y": np.linspace(0, 1, 4), "s": "text"},
           "lst": [np.arange(2.0), {"z": np.arange(3.0)}, 1.5, None], "tup": ({"w": np.arange(2.0)},),
           "b": np.array([True, False]), "u": np.array([1, 70_000], dtype=np.uint64), "f32": np.arange(3, dtype=np.float32),
           "neg": np.array([-(2**40), 5]), "i16": np.array([-300, 5]), "t": np.array([3, 4]).reshape(2, 1)[:, 0]}
    before = copy.deepcopy(obj)
    theirs = copy.deepcopy(obj)
    convert_to_base64(theirs)
    ours = plotly_encoded(obj)

    def canon(v):
        if isinstance(v, np.ndarray):
            return ("array", str(v.dtype), v.tolist())
        if isinstance(v, dict):
            return {k: canon(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [canon(x) for x in v]
        return v

    assert canon(ours) == canon(theirs)
    assert canon(obj) == canon(before)
