"""Server memory under heavy links (issue 11): 60 distinct heavy views, then the server's resident memory.

Each view is a link at the caps: the surfaces page with 8 optimizers × 16 starts × up to 5,000 steps, and the
networks page with 6 optimizers on spirals (2,000 rows, hidden 64,64,64, 50 seeds, 3,000 epochs). Each
link differs in one value, so every view misses the caches and adds its results to them. The caches are
bounded (``max_entries`` on every result cache, figures ≤ 10 MB, network parameters kept for the first
seed only), so the resident memory must level off. Goal: ≤ 1.5 GB after the 60 views. The slowest view's
time to figure is reported beside it (goal: the heaviest allowed view computes in ≤ 10 s, at the work
budget's estimate).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from benchmarks._timing import Goal
from benchmarks.ws_client import open_link, streamlit_server

APP = Path(__file__).resolve().parents[1] / "app.py"
OPTS = "&".join(f"o{i}={n}" for i, n in enumerate(("gd", "momentum", "nesterov", "adam", "rmsprop", "adamw",
                                                     "nadam", "amsgrad")))
NET_OPTS = "&".join(f"o{i}={n}" for i, n in enumerate(("gd", "momentum", "nesterov", "adam", "rmsprop", "adamw")))


def heavy_links(n: int) -> list[tuple[str, str]]:
    """``n`` distinct heavy (page, query) pairs, alternating the two pages."""
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(("surfaces", f"surface=rosenbrock&starts=16&steps={5000 - i}&{OPTS}"))
        else:
            out.append(("networks", f"data=spirals&n=2000&hidden=64,64,64&seeds=50&epochs={3000 - i}&{NET_OPTS}"))
    return out


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line")


async def _views(port: int, pid: int, links: list[tuple[str, str]]) -> dict[str, Any]:
    rss, seconds, bad = [], [], 0
    for page, query in links:
        r = await open_link(port, query, page, timeout=120.0)
        bad += r.status != "finished" or bool(r.exceptions) or r.figures == 0
        seconds.append(r.first_figure_seconds if r.first_figure_seconds is not None else float("inf"))
        rss.append(rss_bytes(pid))
    return {"rss": rss, "seconds": seconds, "failed": bad}


def run(quick: bool = False) -> dict[str, Any]:
    """Start the app, open the heavy links one after another, read the server's memory after each."""
    n = 12 if quick else 60
    pids: list[int] = []
    with streamlit_server(APP, pids=pids) as port:
        start = rss_bytes(pids[0])
        info = asyncio.run(_views(port, pids[0], heavy_links(n)))
    rows = [
        {"name": "server memory before the first view", "value": start / 1e6, "unit": "MB"},
        {"name": f"server memory after {n} distinct heavy views", "value": info["rss"][-1] / 1e6, "unit": "MB"},
        {"name": "largest server memory seen", "value": max(info["rss"]) / 1e6, "unit": "MB"},
        {"name": "slowest heavy view, time to figure", "seconds": max(info["seconds"])},
        {"name": "median heavy view, time to figure", "seconds": sorted(info["seconds"])[len(info["seconds"]) // 2]},
    ]
    goals = [
        Goal(f"server memory after {n} heavy views (issue 11)", max(info["rss"]) / 1e9, 1.5, "<=", " GB"),
        Goal("heavy views that failed", info["failed"], 0, "<=", ""),
    ]
    return {"rows": rows, "goals": [g.as_dict() for g in goals], "info": {"n": n, "rss_mb": [r / 1e6 for r in
                                                                                         info["rss"]]}}
