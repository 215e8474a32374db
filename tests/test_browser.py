"""End-to-end: the real app under ``streamlit run``, driven in Debian's chromium by Playwright.

References: plotly.js's own state in the page (the slider's active frame, the
rendered SVG paths), plotly.js's own rendering of a frame (``Plotly.animate``),
which the frame player's markers must match, and the app's start inputs, which
must take the coordinates carried by the clicked grid point.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from tests.e2e_support import (
    FIGURE_READY,
    FIND_GD,
    NET_FIGURE_READY,
    NET_FIND_GD,
    NET_PLAYER_READY,
    NET_SLIDER_ACTIVE,
    PLAYER_READY,
    ROOT,
    SLIDER_ACTIVE,
    chromium_page,
    streamlit_server,
)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "artifacts"

# Count contour traces, those whose SVG line path is actually drawn now, and the polylines drawn (all levels
# share one trace, each None-separated piece starts a new "M" in the path).
CONTOURS_DRAWN = f"""() => {{ const gd = ({FIND_GD})();
    const want = new Set(gd.data.map((t, i) => (t.meta && t.meta.role === 'contour') ? i : -1).filter(i => i >= 0));
    let drawn = 0, pieces = 0;
    gd.querySelectorAll('.scatterlayer g.trace').forEach(g => {{
        const cd = g.__data__;
        if (!cd || !cd[0] || !want.has(cd[0].trace.index)) return;
        const paths = [...g.querySelectorAll('path.js-line')].map(p => p.getAttribute('d') || '');
        if (paths.some(d => d.length > 20)) drawn++;
        paths.forEach(d => {{ pieces += (d.match(/M/g) || []).length; }});
    }});
    return [want.size, drawn, pieces]; }}"""

LISTEN_FRAMES = f"""() => {{ const gd = ({FIND_GD})(); window.__frames = 0;
    gd.addEventListener('descentlab:frame', () => {{ window.__frames += 1; }}); }}"""

# Pixel positions of every point of the animated traces, read from their SVG transforms, by trace role.
ANIMATED_PX = f"""() => {{ const gd = ({FIND_GD})(); const out = {{}};
    gd.querySelectorAll('.scatterlayer g.trace').forEach(g => {{
        const t = g.__data__ && g.__data__[0] && g.__data__[0].trace;
        if (!t || !t.meta || !['tail', 'marker', 'loss-marker'].includes(t.meta.role)) return;
        out[t.meta.role] = [...g.querySelectorAll('path.point')].map(
            p => (p.getAttribute('transform') || '').match(/-?[0-9.]+(?:e[-+]?[0-9]+)?/g).map(Number));
    }});
    return out; }}"""

# plotly.js's own rendering of slider step i: Plotly.animate with the slider's jump arguments.
PLOTLY_SHOW = f"""(i) => {{ const gd = ({FIND_GD})(); const step = gd._fullLayout.sliders[0].steps[i];
    return Plotly.animate(gd, step.args[0], step.args[1]).then(() => gd._fullLayout.sliders[0].active); }}"""

# The step shown on the slider ("step 123" label text of step i).
STEP_NAME = f"(i) => ({FIND_GD})()._fullLayout.sliders[0].steps[i].label"

# Page coordinates of the first current-position marker.
MARKER_XY = f"""() => {{ const gd = ({FIND_GD})();
    const g = [...gd.querySelectorAll('.scatterlayer g.trace')].find(
        g => g.__data__ && g.__data__[0].trace.meta && g.__data__[0].trace.meta.role === 'marker');
    const r = g.querySelector('path.point').getBoundingClientRect();
    return [r.left + r.width / 2, r.top + r.height / 2]; }}"""

# Hover labels of every current-position marker, through plotly's own hover (Plotly.Fx.hover on each point;
# a mouse hover would pick whichever trace is nearest, and paths and the click grid pass under the markers).
# plotly throttles hover to one per 50 ms, hence the pauses.
MARKER_HOVER = f"""async () => {{ const gd = ({FIND_GD})();
    const ti = gd._fullData.findIndex(t => t.meta && t.meta.role === 'marker');
    const pause = () => new Promise(r => setTimeout(r, 120));
    const out = [];
    for (let j = 0; j < gd.calcdata[ti].length; j++) {{
        await pause();
        Plotly.Fx.hover(gd, [{{curveNumber: ti, pointNumber: j}}]);
        await pause();
        out.push([...gd.querySelectorAll('.hoverlayer .hovertext')].map(h => h.textContent).join(' | '));
    }}
    Plotly.Fx.unhover(gd);
    return out; }}"""

# Page coordinates of the click-grid point farthest from the current start, and its data coordinates.
CLICK_TARGET = f"""([x0, y0]) => {{ const gd = ({FIND_GD})();
    const t = gd._fullData.find(t => t.meta && t.meta.role === 'click-grid');  // decoded arrays
    const xa = gd._fullLayout[(t.xaxis || 'x').replace('x', 'xaxis')];
    const ya = gd._fullLayout[(t.yaxis || 'y').replace('y', 'yaxis')];
    let best = -1, bestD = -1;
    for (let j = 0; j < t.x.length; j++) {{
        const px = xa.l2p(t.x[j]), py = ya.l2p(t.y[j]);
        if (px < 30 || py < 30 || px > xa._length - 30 || py > ya._length - 30) continue;
        const d = (t.x[j] - x0) ** 2 + (t.y[j] - y0) ** 2;
        if (d > bestD) {{ bestD = d; best = j; }}
    }}
    const r = gd.getBoundingClientRect();
    return [r.left + xa._offset + xa.l2p(t.x[best]), r.top + ya._offset + ya.l2p(t.y[best]), t.x[best], t.y[best]]; }}"""


@pytest.fixture(scope="module")
def app_url():
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server() as url:
        yield url


@pytest.fixture
def page():
    with chromium_page() as p:
        yield p


def _open_surfaces(page, url: str) -> None:
    page.goto(f"{url}/surfaces", wait_until="domcontentloaded")
    page.wait_for_function(FIGURE_READY, timeout=90_000)
    page.wait_for_function(PLAYER_READY, timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def _button(page, label: str):
    """The figure's updatemenu button whose text is exactly ``label``."""
    return page.locator("g.updatemenu-button").filter(has_text=re.compile(f"^{re.escape(label)}$")).first


def _wait_active(page, index: int) -> None:
    page.wait_for_function(f"() => ({SLIDER_ACTIVE})() === {index}", timeout=10_000)


def _same_pixels(a: dict, b: dict, tol: float = 0.05) -> bool:
    if a.keys() != b.keys() or any(len(a[k]) != len(b[k]) for k in a):
        return False
    return all(abs(p - q) <= tol for k in a for u, v in zip(a[k], b[k], strict=True) for p, q in zip(u, v, strict=True))


def _shot(page, name: str) -> Path:
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_play_advances_the_slider_and_contours_stay_drawn(page, app_url):
    """Pressing Play shows frames (the player's frame events) and moves the slider; mid-animation every contour
    line is still an SVG path (the trap: contour/heatmap traces vanish during redraw:false animations)."""
    _open_surfaces(page, app_url)
    total, drawn_before, pieces_before = page.evaluate(CONTOURS_DRAWN)
    assert total >= 1 and drawn_before == total and pieces_before > 5
    page.evaluate(LISTEN_FRAMES)
    start = page.evaluate(SLIDER_ACTIVE)
    page.locator("g.updatemenu-button", has_text="Play").first.click()
    page.wait_for_function("() => window.__frames >= 10", timeout=30_000)
    total_mid, drawn_mid, pieces_mid = page.evaluate(CONTOURS_DRAWN)
    assert (total_mid, drawn_mid, pieces_mid) == (total, total, pieces_before)
    assert page.evaluate(SLIDER_ACTIVE) > start
    _shot(page, "browser-surfaces-playing.png")


def test_step_buttons_and_keys_move_exactly_one_frame(page, app_url):
    """◀ / ▶ and the ←/→ keys move the slider by exactly one step, paused, after Play/Pause and after a
    click on the slider; the markers drawn are where plotly.js itself draws that frame (Plotly.animate to the
    same step, pixel for pixel), and hover on the current marker reports the step shown."""
    _open_surfaces(page, app_url)
    assert page.evaluate(SLIDER_ACTIVE) == 0
    at_start = page.evaluate(ANIMATED_PX)
    for i in (1, 2, 3):
        _button(page, "▶").click()
        _wait_active(page, i)
    mine = page.evaluate(ANIMATED_PX)
    assert not _same_pixels(mine, at_start)
    assert page.evaluate(PLOTLY_SHOW, 3) == 3
    assert _same_pixels(mine, page.evaluate(ANIMATED_PX))

    _button(page, "◀").click()
    _wait_active(page, 2)
    mine, hover = page.evaluate(ANIMATED_PX), page.evaluate(MARKER_HOVER)
    # Hover on each current marker reports the step on the slider, and the same text plotly gives.
    label = page.evaluate(STEP_NAME, 2)
    assert hover and all(f"step {label}" in h for h in hover) and len(set(hover)) == len(hover), hover
    assert page.evaluate(PLOTLY_SHOW, 2) == 2
    assert _same_pixels(mine, page.evaluate(ANIMATED_PX))
    assert page.evaluate(MARKER_HOVER) == hover
    mx, my = page.evaluate(MARKER_XY)

    # Play, Pause, then step from wherever it stopped.
    page.evaluate(LISTEN_FRAMES)
    _button(page, "▶ Play").click()
    page.wait_for_function("() => window.__frames >= 8", timeout=30_000)
    _button(page, "❚❚ Pause").click()
    k = page.evaluate(SLIDER_ACTIVE)
    page.wait_for_timeout(400)
    assert page.evaluate(SLIDER_ACTIVE) == k > 2  # paused: it stays
    _button(page, "▶").click()
    _wait_active(page, k + 1)
    _button(page, "◀").click()
    _wait_active(page, k)

    # A click on the slider rail: plotly moves the grip to the nearest step, the player draws that frame.
    rail = page.locator("rect.slider-rail-rect").first.bounding_box()
    n_steps = page.evaluate(f"() => ({FIND_GD})()._fullLayout.sliders[0].steps.length")
    where = 0.25 if k > n_steps / 2 else 0.75
    page.mouse.click(rail["x"] + where * rail["width"], rail["y"] + rail["height"] / 2)
    page.wait_for_function(f"() => Math.abs(({SLIDER_ACTIVE})() - {k}) > 5", timeout=10_000)
    j = page.evaluate(SLIDER_ACTIVE)
    mine = page.evaluate(ANIMATED_PX)
    assert page.evaluate(PLOTLY_SHOW, j) == j
    assert _same_pixels(mine, page.evaluate(ANIMATED_PX))
    _button(page, "◀").click()
    _wait_active(page, j - 1)
    k = j - 1

    # Keys, with the pointer on the figure.
    page.mouse.move(mx, my)
    page.keyboard.press("ArrowRight")
    _wait_active(page, k + 1)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    _wait_active(page, k - 1)
    _button(page, "|◀").click()
    _wait_active(page, 0)
    _button(page, "◀").click()  # already at the first frame: stays
    page.wait_for_timeout(300)
    assert page.evaluate(SLIDER_ACTIVE) == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, "browser-surfaces-stepped.png")


def test_click_on_the_map_moves_the_start_point(page, app_url):
    """A click on a click-grid point becomes the new start: the x₀/y₀ inputs take that point's coordinates."""
    _open_surfaces(page, app_url)
    x_in, y_in = page.get_by_role("spinbutton", name="x₀"), page.get_by_role("spinbutton", name="y₀")
    x0, y0 = float(x_in.input_value()), float(y_in.input_value())
    px, py, gx, gy = page.evaluate(CLICK_TARGET, [x0, y0])
    page.mouse.move(px, py)
    page.wait_for_timeout(300)
    page.mouse.click(px, py)
    page.wait_for_function(
        "([x0]) => { const el = document.querySelector('input[aria-label=\"x₀\"]'); return el && parseFloat(el.value) !== x0; }",
        arg=[x0], timeout=30_000,
    )
    page.wait_for_function(FIGURE_READY, timeout=60_000)
    assert float(x_in.input_value()) == pytest.approx(gx, abs=1e-3)
    assert float(y_in.input_value()) == pytest.approx(gy, abs=1e-3)
    assert page.locator('[data-testid="stException"]').count() == 0
    # The player drives the new figure.
    page.wait_for_function(PLAYER_READY, timeout=30_000)
    page.wait_for_timeout(500)
    before = page.evaluate(SLIDER_ACTIVE)
    _button(page, "▶").click()
    _wait_active(page, before + 1)
    _shot(page, "browser-surfaces-clicked.png")


def test_networks_page_renders_without_error(page, app_url):
    """The networks page loads in a real browser with its animated figure and no exception box."""
    page.goto(f"{app_url}/networks", wait_until="domcontentloaded")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(gd => gd._transitionData && gd._transitionData._frames.length > 5)",
        timeout=180_000,  # a cold server trains and compiles first: 80-120 s on a loaded 2-core machine
    )
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, "browser-networks.png")


# -- networks: the same frame player -------------------------------------------------------------------------------
NET_ROLES = ("loss-epoch", "acc-epoch", "tail", "marker")

# What the networks figure shows now: marker pixels by role (from their SVG transforms) and the decision
# boundary's SVG paths (one per piece).
NET_DRAWN = f"""() => {{ const gd = ({NET_FIND_GD})(); const px = {{}}; let lines = null;
    gd.querySelectorAll('.scatterlayer g.trace').forEach(g => {{
        const t = g.__data__ && g.__data__[0] && g.__data__[0].trace;
        if (!t || !t.meta) return;
        if ({list(NET_ROLES)}.includes(t.meta.role)) px[t.meta.role] = [...g.querySelectorAll('path.point')].map(
            p => (p.getAttribute('transform') || '').match(/-?[0-9.]+(?:e[-+]?[0-9]+)?/g).map(Number));
        if (t.meta.role === 'boundary') lines = [...g.querySelectorAll('path.js-line')].map(p => p.getAttribute('d'));
    }});
    return [px, lines]; }}"""

NET_PLOTLY_SHOW = PLOTLY_SHOW.replace(FIND_GD, NET_FIND_GD)
NET_STEP_NAME = STEP_NAME.replace(FIND_GD, NET_FIND_GD)

NET_LISTEN = f"""() => {{ const gd = ({NET_FIND_GD})(); window.__netFrames = [];
    gd.addEventListener('descentlab:frame', e => {{ window.__netFrames.push([e.detail.name, e.detail.fast]); }}); }}"""

# Per frame name, the "no boundary" note's text (the one animated attribute the player leaves to plotly).
NET_NOTES = f"""() => {{ const gd = ({NET_FIND_GD})();
    const ti = gd.data.findIndex(t => t.meta && t.meta.role === 'boundary-note');
    const out = {{}};
    gd._transitionData._frames.forEach(f => {{ const j = f.traces.indexOf(ti);
        out[f.name] = j < 0 ? null : JSON.stringify(f.data[j].text); }});
    return out; }}"""

# Hover labels of the slice's current-epoch markers, through plotly's own hover (as MARKER_HOVER, on their subplot).
NET_MARKER_HOVER = f"""async () => {{ const gd = ({NET_FIND_GD})();
    const ti = gd._fullData.findIndex(t => t.meta && t.meta.role === 'marker');
    const sub = gd._fullData[ti].xaxis + gd._fullData[ti].yaxis;  // the slice panel's subplot
    const pause = () => new Promise(r => setTimeout(r, 120));
    const out = [];
    for (let j = 0; j < gd.calcdata[ti].length; j++) {{
        await pause();
        Plotly.Fx.hover(gd, [{{curveNumber: ti, pointNumber: j}}], sub);
        await pause();
        out.push([...gd.querySelectorAll('.hoverlayer .hovertext')].map(h => h.textContent).join(' | '));
    }}
    Plotly.Fx.unhover(gd);
    return out; }}"""

# Zoom the boundary panel in and back out: plotly redraws it from its calcdata, without Plotly.animate.
NET_ZOOM_BACK = f"""async () => {{ const gd = ({NET_FIND_GD})();
    const t = gd._fullData.find(t => t.meta && t.meta.role === 'boundary');
    const ax = t.xaxis.replace('x', 'xaxis'), r = gd._fullLayout[ax].range.slice();
    await Plotly.relayout(gd, {{[ax + '.range']: [r[0], (r[0] + r[1]) / 2]}});
    await Plotly.relayout(gd, {{[ax + '.range']: r}}); }}"""


def _numbers(d: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?[0-9.]+(?:e[-+]?[0-9]+)?", d)]


def _same_drawing(a, b, tol: float = 0.05) -> bool:
    """Markers within ``tol`` px, and the same boundary pieces with every vertex within ``tol`` px."""
    (pa, la), (pb, lb) = a, b
    if not _same_pixels(pa, pb, tol) or (la is None) != (lb is None):
        return False
    if la is None:
        return True
    if len(la) != len(lb):
        return False
    for u, v in zip(la, lb, strict=True):
        nu, nv = _numbers(u), _numbers(v)
        if len(nu) != len(nv) or any(abs(p - q) > tol for p, q in zip(nu, nv, strict=True)):
            return False
    return True


def _open_networks(page, url: str, query: str = "") -> None:
    page.goto(f"{url}/networks{query}", wait_until="domcontentloaded")
    page.wait_for_function(NET_FIGURE_READY, timeout=180_000)
    page.wait_for_function(NET_PLAYER_READY, timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def _net_wait_active(page, index: int) -> None:
    page.wait_for_function(f"() => ({NET_SLIDER_ACTIVE})() === {index}", timeout=20_000)


def _assert_fast_unless_note_changed(shown: list, notes: dict, before: str) -> None:
    """Each frame in ``shown`` ([name, fast] in order, after frame ``before``) was drawn by the player itself
    unless the "no boundary" note's text differs from the previous frame's."""
    prev = before
    for name, fast in shown:
        assert fast or notes[name] != notes[prev], (prev, name, notes[name])
        prev = name


def test_networks_play_advances_the_epoch_slider_without_plotly_animate(page, app_url):
    """Play on the networks figure moves the epoch slider, and the player draws every frame itself except
    those where the "no boundary" note changes its text (reference: the figure's own frames, read in the
    page; those frames are the only ones that need Plotly.animate)."""
    _open_networks(page, app_url, "?fps=60")
    page.evaluate(NET_LISTEN)
    assert page.evaluate(NET_SLIDER_ACTIVE) == 0
    _button(page, "▶ Play").click()
    page.wait_for_function("() => window.__netFrames.length >= 15", timeout=60_000)
    _button(page, "❚❚ Pause").click()
    shown = page.evaluate("() => window.__netFrames")
    assert page.evaluate(NET_SLIDER_ACTIVE) >= 15
    notes = page.evaluate(NET_NOTES)
    names = page.evaluate(f"() => ({NET_FIND_GD})()._fullLayout.sliders[0].steps.map(s => s.args[0][0])")
    _assert_fast_unless_note_changed(shown, notes, names[0])
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, "browser-networks-playing.png")


def test_networks_steps_move_one_frame_and_draw_what_plotly_draws(page, app_url):
    """◀ / ▶ and the ←/→ keys move the epoch slider by exactly one step; after each, the markers (loss,
    accuracy, slice tails and current points) and the decision boundary's SVG paths are where plotly.js draws
    that frame itself (Plotly.animate to the same step, to 0.05 px), the boundary differs from the first
    frame's (it follows the frame), a zoom and back redraws the same picture from plotly's state, and hover on
    the slice's current points names the epoch on the slider."""
    _open_networks(page, app_url)
    page.evaluate(NET_LISTEN)
    first = page.evaluate(NET_DRAWN)
    assert first[1] is not None, "the default view draws a decision boundary"
    for i in (1, 2, 3):
        _button(page, "▶").click()
        _net_wait_active(page, i)
    mine = page.evaluate(NET_DRAWN)
    assert not _same_pixels(mine[0], first[0])
    assert page.evaluate(NET_PLOTLY_SHOW, 3) == 3
    assert _same_drawing(mine, page.evaluate(NET_DRAWN))

    _button(page, "▶|").click()  # the last frame: the boundary has moved since the first
    n = page.evaluate(f"() => ({NET_FIND_GD})()._fullLayout.sliders[0].steps.length")
    _net_wait_active(page, n - 1)
    mine = page.evaluate(NET_DRAWN)
    assert mine[1] and mine[1] != first[1]
    page.evaluate(NET_ZOOM_BACK)
    assert _same_drawing(mine, page.evaluate(NET_DRAWN))
    assert page.evaluate(NET_PLOTLY_SHOW, n - 1) == n - 1
    assert _same_drawing(mine, page.evaluate(NET_DRAWN))

    _button(page, "◀").click()
    _net_wait_active(page, n - 2)
    mine = page.evaluate(NET_DRAWN)
    label = page.evaluate(NET_STEP_NAME, n - 2)
    hover = page.evaluate(NET_MARKER_HOVER)
    assert hover and all(f"epoch {label}" in h for h in hover), (label, hover)
    assert page.evaluate(NET_PLOTLY_SHOW, n - 2) == n - 2
    assert _same_drawing(mine, page.evaluate(NET_DRAWN))

    # Keys, with the pointer on the figure.
    box = page.locator(".js-plotly-plot").filter(has=page.locator("g.updatemenu-button")).first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
    page.keyboard.press("ArrowLeft")
    _net_wait_active(page, n - 3)
    mine = page.evaluate(NET_DRAWN)
    assert page.evaluate(NET_PLOTLY_SHOW, n - 3) == n - 3
    assert _same_drawing(mine, page.evaluate(NET_DRAWN))
    page.keyboard.press("ArrowRight")
    _net_wait_active(page, n - 2)
    _button(page, "▶|").click()
    _net_wait_active(page, n - 1)
    _button(page, "▶").click()  # already at the last frame: stays
    page.wait_for_timeout(300)
    assert page.evaluate(NET_SLIDER_ACTIVE) == n - 1
    # The comparisons above were of the player's own drawing, not of Plotly.animate with itself.
    names = page.evaluate(f"() => ({NET_FIND_GD})()._fullLayout.sliders[0].steps.map(s => s.args[0][0])")
    shown = page.evaluate("() => window.__netFrames")
    assert len(shown) >= 9
    _assert_fast_unless_note_changed(shown, page.evaluate(NET_NOTES), names[0])
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, "browser-networks-stepped.png")


def test_exported_html_plays_and_steps_offline(tmp_path):
    """The HTML export opened from disk (no server, no network): ▶ steps exactly one frame and Play advances.

    Reference: plotly.js's own slider state in the exported page, as in the app.
    """
    import numpy as np

    import landscapes
    import optimizers
    from viz import export
    from viz.surface_figure import Series, animated_figure

    land = landscapes.get("rosenbrock")
    series = [Series(name, color, optimizers.run(land, optimizers.get(name, lr=lr), np.array([land.start]), 200))
              for name, lr, color in (("gd", 1e-3, "#4477AA"), ("adam", 0.05, "#228833"))]
    path = tmp_path / "export.html"
    path.write_text(export.to_html(animated_figure(land, series)), encoding="utf-8")
    with chromium_page() as page:
        page.goto(path.as_uri())
        page.wait_for_function(PLAYER_READY, timeout=60_000)
        assert page.evaluate(SLIDER_ACTIVE) == 0
        page.locator("g.updatemenu-button", has_text=re.compile(r"^▶$")).first.click()
        page.wait_for_function(f"() => ({SLIDER_ACTIVE})() === 1", timeout=10_000)
        page.locator("g.updatemenu-button", has_text="Play").first.click()
        page.wait_for_function(f"() => ({SLIDER_ACTIVE})() >= 6", timeout=20_000)


def test_boundary_pieces_follow_frames_in_the_exported_networks_figure(tmp_path):
    """The networks figure exported to HTML (no server): stepping ▶ through frames whose decision boundary
    has 1, 2, 1 (a ring) and 3 pieces, the player draws one SVG path per piece, adding and removing paths,
    at plotly's own coordinates (reference: Plotly.animate to the same step, to 0.05 px), without plotly.

    The boundaries are zero sets chosen by hand, off the grid's nodes: x = 0.06; x = ±√1.1; a circle;
    sin(2x + 0.1) = 0 (three vertical lines); x = 0.56."""
    import numpy as np

    from viz import export
    from viz import net_figures as nf

    xs, ys = np.linspace(-2.5, 2.5, 41), np.linspace(-2.0, 2.0, 33)
    X, Y = np.meshgrid(xs, ys)
    zero_sets = [X - 0.06, X**2 - 1.1, 1.1 - X**2 - Y**2, np.sin(2 * X + 0.1), X - 0.56]
    probs = np.stack([1 / (1 + np.exp(-4 * f)) for f in zero_sets])[..., None]  # (5, ny, nx, 1)
    pts = np.array([[-1.0, 0.0], [1.0, 0.0]])
    R = 41
    ep = np.arange(R)
    series = [nf.NetSeries(f"opt {i}", c, ep, np.exp(-ep / (10.0 * (i + 1)))[:, None] + 0.05,
                           np.clip(ep / 30.0, 0, 1)[:, None]) for i, c in enumerate(("#4477AA", "#EE6677"))]
    fig = nf.training_figure(series, boundary=nf.BoundaryData(xs, ys, probs, pts, np.array([0, 1])), max_frames=5)
    path = tmp_path / "net.html"
    path.write_text(export.to_html(fig), encoding="utf-8")
    with chromium_page() as page:
        page.goto(path.as_uri())
        page.wait_for_function(NET_PLAYER_READY, timeout=60_000)
        page.evaluate(NET_LISTEN)
        assert len(page.evaluate(NET_DRAWN)[1]) == 1
        for i, pieces in ((1, 2), (2, 1), (3, 3), (4, 1)):
            _button(page, "▶").click()
            _net_wait_active(page, i)
            mine = page.evaluate(NET_DRAWN)
            assert len(mine[1]) == pieces, (i, mine[1])
            assert page.evaluate(NET_PLOTLY_SHOW, i) == i
            assert _same_drawing(mine, page.evaluate(NET_DRAWN))
        shown = page.evaluate("() => window.__netFrames")
        assert [name for name, _ in shown] == [str(int(ep[j])) for j in nf.frame_indices(R, 5)[1:]]
        assert all(fast for _, fast in shown)


# -- lessons, page walks, hostile links ---------------------------------------------------------------
# The lesson's figure: the first plotly plot with frames (a surfaces or a networks figure).
LESSON_GD = """() => [...document.querySelectorAll('.js-plotly-plot')].find(
    gd => gd._transitionData && gd._transitionData._frames && gd._transitionData._frames.length > 5)"""
LESSON_READY = f"""() => {{ const gd = ({LESSON_GD})(), p = window.DescentLabPlayer;
    return !!(gd && gd._fullLayout && gd._fullLayout.sliders && gd._fullLayout.sliders.length && p); }}"""
LESSON_ACTIVE = f"() => ({LESSON_GD})()._fullLayout.sliders[0].active || 0"


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.slow
def test_every_lesson_opens_and_plays(page, app_url):
    """Each lesson from its link: its figure appears with no exception, and Play moves its slider (plotly's own
    slider state). Reference: the lessons registry lists the keys."""
    import lessons

    for key in lessons.REGISTRY:
        page.goto(f"{app_url}/?lesson={key}", wait_until="domcontentloaded")
        page.wait_for_function(LESSON_READY, timeout=120_000)
        _no_exception(page)
        page.locator("g.updatemenu-button", has_text="Play").first.click()
        page.wait_for_function(f"() => ({LESSON_ACTIVE})() > 0", timeout=30_000)
    _shot(page, "browser-lesson-playing.png")


def _nav(page, label: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=label).first.click()


@pytest.mark.slow
def test_walking_the_pages_in_any_order_keeps_each_pages_settings(page, app_url):
    """Lessons → Surfaces → Networks → Surfaces → Lessons → Networks through the sidebar, as a person clicks:
    never an exception, and each page comes back with its own settings (reference: the link each page
    writes, which carries its values)."""
    page.goto(f"{app_url}/surfaces?surface=two_basin&steps=123", wait_until="domcontentloaded")
    page.wait_for_function(FIGURE_READY, timeout=90_000)
    for label, ready, check in (
        ("Networks", NET_FIGURE_READY, None), ("Surfaces", FIGURE_READY, "steps=123"),
        ("Lessons", LESSON_READY, None), ("Networks", NET_FIGURE_READY, None), ("Surfaces", FIGURE_READY, "steps=123"),
    ):
        _nav(page, label)
        page.wait_for_function(ready, timeout=120_000)
        _no_exception(page)
        if check:
            page.wait_for_function(f"() => window.location.search.includes({check!r})", timeout=30_000)
            assert "surface=two_basin" in page.url


def test_a_hostile_link_shows_plain_text_and_fetches_nothing(page, app_url):
    """A link whose values hold markdown, a link and an image: the notice shows them as text (no <a>, no <img>
    from them, no bold), and no request leaves for the image's host (reference: the browser's own request log)."""
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    bait = "**Session expired** [sign in](https://bait.invalid/login) ![x](https://bait.invalid/t.png)"

    page.goto(f"{app_url}/surfaces?surface={quote(bait)}&o0={quote(bait)}", wait_until="domcontentloaded")
    page.wait_for_function(FIGURE_READY, timeout=90_000)
    alert = page.locator('[data-testid="stAlert"]').first
    text = alert.inner_text()
    assert "[sign in]" in text and "**Session" in text
    assert alert.locator("a[href*='bait.invalid'], img[src*='bait.invalid'], strong").count() == 0
    assert not [u for u in asked if urlparse(u).hostname == "bait.invalid"]
    _no_exception(page)
