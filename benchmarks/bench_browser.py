"""Issue 3: playback frame rate of the real app in headless Debian chromium.

The app runs under ``streamlit run``; Playwright opens it from a URL with 4 optimizers × 500 steps (150
frames) at the fastest animation speed and presses the figure's Play button.

The surfaces page plays its figure with the frame player (``viz/player.js``), not ``Plotly.animate``, so
plotly's ``plotly_animatingframe`` events alone would not show whether a frame reached the screen. The
goal figure counts what reaches the screen: a ``requestAnimationFrame`` loop reads the SVG transform of the first current-position marker
on every frame the browser renders, and a frame counts when that transform differs from the previous
rendered frame's (the marker moves on every animation frame of this run, so no frame is missed by this
test; held frames are not counted). The rate is counted frames over the browser-clock time between the first
and last counted frame, so page load and figure build are not included. The player's own frame events
(``descentlab:frame``) are reported beside it as a cross-check, with how many went through its fast path,
and so is the display rate (``requestAnimationFrame`` callbacks per second while playing): the player shows
at most one animation frame per rendered frame, so the display rate bounds the playback rate.

The player also emits plotly's ``plotly_animatingframe`` for each frame it applies itself (as
``Plotly.animate`` does for the others), so the issue's measure, those events' rate, is reported too; it
counts frames handed to the page, and the rate above counts the ones that were drawn.

For comparison, the same page is reloaded and ``Plotly.animate`` plays the same frames (what plotly's own
Play button did before the player), counted the same way.

Issue 11: the networks page (``NETWORK_QUERY`` of ``bench_app``: 4 optimizers × 500 epochs, 100 frames, with
the decision boundary and the landscape slice) is played the same way at 60 frames/s requested, counting the
frames on which its first loss-panel epoch marker moved; the share of frames the player drew itself (not through
``Plotly.animate``) is reported beside it, and plotly's own animation of that figure as the "before" line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchmarks._timing import Goal

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_app import NETWORK_QUERY, SURFACE_QUERY  # noqa: E402
from tests.e2e_support import (  # noqa: E402
    FIGURE_READY,
    FIND_GD,
    NET_FIGURE_READY,
    NET_FIND_GD,
    NET_PLAYER_READY,
    PLAYER_READY,
    chromium_page,
    streamlit_server,
)

# Timestamps of rendered frames on which the first current-position marker moved; player frame events.
WATCH = f"""() => {{ const gd = ({FIND_GD})();
    window.__moved = []; window.__rafs = []; window.__events = []; window.__plotlyFrames = [];
    gd.addEventListener('descentlab:frame', e => window.__events.push(e.detail.fast));
    gd.on('plotly_animatingframe', () => {{ window.__plotlyFrames.push(performance.now()); }});
    let last = null;
    const loop = now => {{
        window.__rafs.push(now);
        const g = [...gd.querySelectorAll('.scatterlayer g.trace')].find(
            g => g.__data__ && g.__data__[0].trace.meta && g.__data__[0].trace.meta.role === 'marker');
        const p = g && g.querySelector('path.point');
        const t = p ? p.getAttribute('transform') : null;
        if (last !== null && t !== last) window.__moved.push(now);
        last = t;
        requestAnimationFrame(loop);
    }};
    requestAnimationFrame(loop); }}"""

PLOTLY_PLAY = f"""() => {{ const gd = ({FIND_GD})();
    const play = gd.layout.updatemenus[0].buttons.find(b => b.name === 'player:play');
    Plotly.animate(gd, null, play.args[1]); }}"""

COLLECT = "() => [window.__moved, window.__rafs, window.__events, window.__plotlyFrames]"

# The networks figure: the same counts, on its first loss-panel epoch marker (its epoch changes every frame).
NET_WATCH = WATCH.replace(FIND_GD, NET_FIND_GD).replace("=== 'marker'", "=== 'loss-epoch'")
NET_PLOTLY_PLAY = PLOTLY_PLAY.replace(FIND_GD, NET_FIND_GD)

# page -> (path, query, figure ready, player ready, watch, Plotly.animate play)
PAGES = {
    "surfaces": ("/", SURFACE_QUERY, FIGURE_READY, PLAYER_READY, WATCH, PLOTLY_PLAY),
    "networks": ("/networks", NETWORK_QUERY, NET_FIGURE_READY, NET_PLAYER_READY, NET_WATCH, NET_PLOTLY_PLAY),
}


def _rate(times: list[float]) -> float:
    return (len(times) - 1) / ((times[-1] - times[0]) / 1000) if len(times) > 2 else 0.0


def measure_fps(url: str, fps: int, seconds: float, engine: str = "player", page_name: str = "surfaces"
                ) -> dict[str, Any]:
    """Play a page's animation requested at ``fps`` for ``seconds``; frames that reached the screen.

    Parameters
    ----------
    url : str
        Base URL of the running app.
    fps : int
        Requested animation speed (the page's ``fps`` setting).
    seconds : float
        How long to watch after pressing Play.
    engine : {"player", "plotly"}
        Press the figure's Play button (the frame player), or call ``Plotly.animate`` with the same
        arguments (plotly's own animation, for comparison).
    page_name : {"surfaces", "networks"}
        Which page's figure (query: ``SURFACE_QUERY`` or ``NETWORK_QUERY`` of ``bench_app``).
    """
    path, base, ready, player_ready, watch, plotly_play = PAGES[page_name]
    query = urlencode({**base, "fps": str(fps)})
    with chromium_page() as page:
        page.goto(f"{url}{path}?{query}", wait_until="domcontentloaded")
        page.wait_for_function(ready, timeout=240_000)
        page.wait_for_function(player_ready, timeout=30_000)
        page.wait_for_timeout(1000)
        page.evaluate(watch)
        if engine == "player":
            page.locator("g.updatemenu-button", has_text="Play").first.click()
        else:
            page.evaluate(plotly_play)
        page.wait_for_timeout(seconds * 1000)
        moved, rafs, events, plotly_frames = page.evaluate(COLLECT)
    during = [t for t in rafs if moved and moved[0] <= t <= moved[-1]]
    return {"page": page_name, "engine": engine, "requested_fps": fps, "frames_drawn": len(moved), "fps": _rate(moved),
            "display_fps": _rate(during), "player_frames": len(events),
            "player_fast_frames": sum(map(bool, events)), "plotly_animatingframe_events": len(plotly_frames),
            "plotly_animatingframe_fps": _rate(plotly_frames)}


def run(quick: bool = False) -> dict[str, Any]:
    """Frame rate at the fastest setting and at 30 frames/s requested; plotly's own animation beside it."""
    seconds = 4.0 if quick else 6.0
    with streamlit_server() as url:
        fastest = measure_fps(url, 60, seconds)
        plotly60 = measure_fps(url, 60, seconds, engine="plotly")
        thirty = measure_fps(url, 30, seconds)
        net60 = measure_fps(url, 60, seconds, page_name="networks")
        net_plotly = measure_fps(url, 60, seconds, engine="plotly", page_name="networks")
    rows = [
        {"name": "playback (player), 60 frames/s requested (4 optimizers × 500 steps)", "value": fastest["fps"],
         "unit": "frames/s"},
        {"name": "  display rate meanwhile (rendered frames/s; the player's ceiling)", "value": fastest["display_fps"],
         "unit": "frames/s"},
        {"name": "  plotly_animatingframe events meanwhile (the issue's measure)",
         "value": fastest["plotly_animatingframe_fps"], "unit": "frames/s"},
        {"name": "playback (player), 30 frames/s requested", "value": thirty["fps"], "unit": "frames/s"},
        {"name": "same figure through Plotly.animate, 60 frames/s requested (before)", "value": plotly60["fps"],
         "unit": "frames/s"},
        {"name": "networks playback (player), 60 frames/s requested (4 optimizers × 500 epochs)",
         "value": net60["fps"], "unit": "frames/s"},
        {"name": "  display rate meanwhile", "value": net60["display_fps"], "unit": "frames/s"},
        {"name": "  frames the player drew itself (of all it showed)",
         "value": net60["player_fast_frames"] / max(net60["player_frames"], 1), "unit": "share"},
        {"name": "networks figure through Plotly.animate (before)", "value": net_plotly["fps"], "unit": "frames/s"},
    ]
    goals = [Goal("playback frame rate in headless chromium (issue 3)", fastest["fps"], 25.0, ">=", unit=" fps"),
             Goal("networks playback frame rate in headless chromium (issue 11)", net60["fps"], 30.0, ">=",
                  unit=" fps")]
    return {"rows": rows, "goals": [g.as_dict() for g in goals],
            "info": {"fastest": fastest, "thirty": thirty, "plotly_animate": plotly60, "networks": net60,
                     "networks_plotly_animate": net_plotly, "networks_query": NETWORK_QUERY}}
