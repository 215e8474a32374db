"""Start the real app with ``streamlit run`` and drive it with Debian's chromium.

Shared by the browser test and the frame-rate benchmark. Playwright's own
browser download is never used: we launch ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

# The surfaces figure is the plotly plot that carries the click grid.
FIND_GD = """() => [...document.querySelectorAll('.js-plotly-plot')].find(
    gd => (gd.data || []).some(t => t.meta && t.meta.role === 'click-grid'))"""

FIGURE_READY = f"""() => {{ const gd = ({FIND_GD})();
    return !!(gd && gd._fullLayout && gd._fullLayout.sliders && gd._fullLayout.sliders.length
              && gd._transitionData && gd._transitionData._frames.length > 10); }}"""

# The frame player (viz/player.js) has bound to that figure and listens to its buttons.
PLAYER_READY = f"""() => {{ const p = window.DescentLabPlayer, gd = ({FIND_GD})();
    return !!(p && gd && p.gd === gd && p.boundEv === gd._ev); }}"""

# The slider's current step index.
SLIDER_ACTIVE = f"() => ({FIND_GD})()._fullLayout.sliders[0].active || 0"

# The same for the networks page's training figure (the plot whose loss panel carries the epoch markers).
NET_FIND_GD = """() => [...document.querySelectorAll('.js-plotly-plot')].find(
    gd => (gd.data || []).some(t => t.meta && t.meta.role === 'loss-epoch'))"""

NET_FIGURE_READY = FIGURE_READY.replace(FIND_GD, NET_FIND_GD).replace("> 10", "> 5")

NET_PLAYER_READY = PLAYER_READY.replace(FIND_GD, NET_FIND_GD)

NET_SLIDER_ACTIVE = SLIDER_ACTIVE.replace(FIND_GD, NET_FIND_GD)

# Without the background-networking flags chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(timeout: float = 60.0) -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free localhost port; yield its base URL."""
    port = free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    log = open(ROOT / "artifacts" / f"streamlit-{port}.log", "w") if (ROOT / "artifacts").is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("streamlit did not become healthy")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log is not subprocess.DEVNULL:
            log.close()


@contextlib.contextmanager
def chromium_page(width: int = 1500, height: int = 950) -> Iterator[object]:
    """A Playwright page in headless Debian chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
