"""Issue 3: playback frame rate of the real app in headless Debian chromium.

The app runs under ``streamlit run``; Playwright opens it from a URL with 4
optimizers × 500 steps and the fastest animation speed, presses Play, and
counts plotly's ``plotly_animatingframe`` events with their timestamps (the
browser's own clock). The rate is frames over the time between the first and
the last event, so page load and figure build are not counted.
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

from benchmarks.bench_app import SURFACE_QUERY  # noqa: E402
from tests.e2e_support import chromium_page, streamlit_server  # noqa: E402
from tests.test_browser import FIGURE_READY, FIND_GD  # noqa: E402

LISTEN = f"""() => {{ const gd = ({FIND_GD})(); window.__times = [];
    gd.on('plotly_animatingframe', () => window.__times.push(performance.now())); }}"""


def measure_fps(url: str, fps: int, seconds: float) -> dict[str, Any]:
    """Play the surfaces animation requested at ``fps`` for ``seconds``; return the measured rate."""
    query = urlencode({**SURFACE_QUERY, "fps": str(fps)})
    with chromium_page() as page:
        page.goto(f"{url}/?{query}", wait_until="domcontentloaded")
        page.wait_for_function(FIGURE_READY, timeout=120_000)
        page.wait_for_timeout(1000)
        page.evaluate(LISTEN)
        page.locator("g.updatemenu-button", has_text="Play").first.click()
        page.wait_for_timeout(seconds * 1000)
        times = page.evaluate("() => window.__times")
    n = len(times)
    rate = (n - 1) / ((times[-1] - times[0]) / 1000) if n > 2 else 0.0
    return {"requested_fps": fps, "frames": n, "fps": rate}


def run(quick: bool = False) -> dict[str, Any]:
    """Frame rate at the fastest setting and at 30 frames/s requested."""
    seconds = 3.0 if quick else 6.0
    with streamlit_server() as url:
        fastest = measure_fps(url, 60, seconds)
        thirty = measure_fps(url, 30, seconds)
    rows = [
        {"name": "playback, 60 frames/s requested (4 optimizers × 500 steps)", "value": fastest["fps"], "unit": "frames/s"},
        {"name": "playback, 30 frames/s requested", "value": thirty["fps"], "unit": "frames/s"},
    ]
    goals = [Goal("playback frame rate in headless chromium (issue 3)", fastest["fps"], 25.0, ">=", unit=" fps")]
    return {"rows": rows, "goals": [g.as_dict() for g in goals], "info": {"fastest": fastest, "thirty": thirty}}
