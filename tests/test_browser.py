"""End-to-end: the real app under ``streamlit run``, driven in Debian's chromium by Playwright.

References: plotly.js's own state in the page (the slider's active frame, the
rendered SVG paths, the ``plotly_animatingframe`` event) and the app's start
inputs, which must take the coordinates carried by the clicked grid point.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e_support import ROOT, chromium_page, streamlit_server

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "artifacts"

# The surfaces figure is the plotly plot that carries the click grid.
FIND_GD = """() => [...document.querySelectorAll('.js-plotly-plot')].find(
    gd => (gd.data || []).some(t => t.meta && t.meta.role === 'click-grid'))"""

FIGURE_READY = f"""() => {{ const gd = ({FIND_GD})();
    return !!(gd && gd._fullLayout && gd._fullLayout.sliders && gd._fullLayout.sliders.length
              && gd._transitionData && gd._transitionData._frames.length > 10); }}"""

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
    gd.on('plotly_animatingframe', () => {{ window.__frames += 1; }}); }}"""

SLIDER_ACTIVE = f"() => ({FIND_GD})()._fullLayout.sliders[0].active || 0"

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
    page.goto(f"{url}/", wait_until="domcontentloaded")
    page.wait_for_function(FIGURE_READY, timeout=90_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def _shot(page, name: str) -> Path:
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_play_advances_the_slider_and_contours_stay_drawn(page, app_url):
    """Pressing Play fires plotly_animatingframe and moves the slider; mid-animation every contour line is
    still an SVG path (the trap: contour/heatmap traces vanish during redraw:false animations)."""
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


def test_click_on_the_map_moves_the_start_point(page, app_url):
    """A click on a click-grid point becomes the new start: the x₀/y₀ inputs take that point's coordinates."""
    _open_surfaces(page, app_url)
    x_in, y_in = page.get_by_label("x₀"), page.get_by_label("y₀")
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
    _shot(page, "browser-surfaces-clicked.png")


def test_networks_page_renders_without_error(page, app_url):
    """The networks page loads in a real browser with its animated figure and no exception box."""
    page.goto(f"{app_url}/networks", wait_until="domcontentloaded")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(gd => gd._transitionData && gd._transitionData._frames.length > 5)",
        timeout=120_000,
    )
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, "browser-networks.png")
