"""Issues 3 and 4: the server time after one control changes, and the size of the figure sent.

Both pages run headless through ``streamlit.testing.v1.AppTest`` (the app's
own script, ``st.navigation`` and all). Each page is opened once from a URL
with 4 optimizers (which fills the caches), then one optimizer's learning rate
is moved to a value not seen before and ``at.run()`` is timed: the other three
runs come from the cache, as in the browser. Every repeat uses a fresh value,
so no repeat is a pure cache hit; the best repeat is reported.

The figure size is the length of the plotly JSON the page hands to the
browser (``plotly_chart`` element spec), in bytes.

The Playwright frame-rate benchmark (≥ 25 frames/s, issue 3) is not here; it
belongs with the browser tests.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks._timing import Goal

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")

SURFACE_QUERY = {
    "surface": "rosenbrock", "steps": "500",
    "o0": "gd", "o0.lr": "0.001", "o1": "momentum", "o1.lr": "0.001",
    "o2": "rmsprop", "o2.lr": "0.01", "o3": "adam", "o3.lr": "0.05",
}
NETWORK_QUERY = {
    "epochs": "500", "seeds": "1",
    "o0": "gd", "o0.lr": "0.1", "o1": "momentum", "o1.lr": "0.1",
    "o2": "rmsprop", "o2.lr": "0.01", "o3": "adam", "o3.lr": "0.01",
}


def _open(query: dict[str, str], page: str | None) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    if page is not None:
        at.switch_page(page)
    at.run()
    if at.exception:
        raise RuntimeError(f"{page or 'surfaces'} page raised: {at.exception[0].message}")
    return at


def _lr_widget(at: Any, slot: int) -> Any:
    """The learning-rate control of optimizer ``slot`` (a select_slider or slider keyed ``…{slot}.<name>.lr``)."""
    for kind in ("select_slider", "slider", "number_input"):
        for w in getattr(at, kind):
            key = w.key or ""
            if key.endswith(".lr") and f".{slot}." in f".{key}":
                return w
    raise RuntimeError(f"no learning-rate control found for optimizer {slot}")


def _figure_bytes(at: Any) -> int:
    charts = at.get("plotly_chart")
    if not charts:
        raise RuntimeError("the page showed no plotly chart")
    return max(len(c.proto.spec.encode("utf-8")) for c in charts)


def time_control_change(query: dict[str, str], page: str | None, repeats: int) -> dict[str, Any]:
    """Best ``at.run()`` time after moving optimizer 3's learning rate to a fresh value; figure size."""
    t0 = time.perf_counter()
    at = _open(query, page)
    cold = time.perf_counter() - t0
    widget = _lr_widget(at, 3)
    # AppTest lists select_slider options as their labels; the values are numbers.
    options = [float(o) for o in (getattr(widget, "options", []) or [])]
    current = float(widget.value)
    if options:
        i = min(range(len(options)), key=lambda j: abs(options[j] - current))
        fresh = [options[(i - j - 1) % len(options)] for j in range(repeats)]
    else:
        fresh = [float(current) * (0.9 ** (j + 1)) for j in range(repeats)]
    times = []
    for value in fresh:
        _lr_widget(at, 3).set_value(value)
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
        if at.exception:
            raise RuntimeError(f"page raised after the change: {at.exception[0].message}")
    return {"cold_seconds": cold, "change_seconds": min(times), "all_change_seconds": times,
            "figure_bytes": _figure_bytes(at)}


def run(quick: bool = False) -> dict[str, Any]:
    """Server time per control change on both pages, and the surfaces figure size."""
    repeats = 2 if quick else 5
    surf = time_control_change(SURFACE_QUERY, None, repeats)
    netw = time_control_change(NETWORK_QUERY, "ui/pages/networks.py", repeats)
    rows = [
        {"name": "surfaces: 4 optimizers × 500 steps, server time after one change", "seconds": surf["change_seconds"]},
        {"name": "surfaces: first open (imports, cold caches; not a goal)", "seconds": surf["cold_seconds"]},
        {"name": "surfaces: figure JSON", "value": surf["figure_bytes"] / 1e6, "unit": "MB"},
        {"name": "networks: 4 optimizers × 1 seed × 500 epochs, after one change", "seconds": netw["change_seconds"]},
        {"name": "networks: first open (not a goal)", "seconds": netw["cold_seconds"]},
        {"name": "networks: largest figure JSON", "value": netw["figure_bytes"] / 1e6, "unit": "MB"},
    ]
    goals = [
        Goal("surfaces server time after a change (issue 3)", surf["change_seconds"], 0.3, "<=", unit=" s"),
        Goal("surfaces figure JSON size (issue 3)", surf["figure_bytes"] / 1e6, 3.0, "<=", unit=" MB"),
        Goal("networks server time after a change (issue 4)", netw["change_seconds"], 1.0, "<=", unit=" s"),
    ]
    info = {"surfaces_query": SURFACE_QUERY, "networks_query": NETWORK_QUERY, "repeats": repeats,
            "surfaces_all_changes": surf["all_change_seconds"], "networks_all_changes": netw["all_change_seconds"],
            "not_measured_here": "Playwright playback frame rate (issue 3): belongs with the browser tests"}
    return {"rows": rows, "goals": [g.as_dict() for g in goals], "info": info}
