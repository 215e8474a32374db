"""A lecture hall (issue 11): many sessions on localhost open one share link, then each changes one control.

The sessions speak Streamlit's websocket protocol (:mod:`benchmarks.ws_client`),
not browsers, so only the server's work and the transfer are counted. The
server runs ``app.py`` in its own process on this machine, with the clients in
this one: on 2 cores they compete for the same CPU, as a hall's laptops would
not, so the figures are upper bounds.

Measured, against the issue's goals:

- a cached view: fresh sessions opening a link another session already
  opened; the server's own script time from its ``page_profile`` (≤ 0.1 s),
  and the time to the figure as the client sees it (info);
- a crowd: N = 100 sessions opening the same link, their starts spread over
  10 s; every one gets its figure within 20 s, with no errors;
- changes: 20 open sessions each change one control at once (a distinct
  value each); the median time to the new figure is ≤ 1 s. The surfaces
  page sends its figure before its controls and tables, and those wait
  behind the other sessions' figures (``ui.admission.Turn.defer``), so the
  time to the whole page is reported beside it (info).

A change is sent as a browser sends a moved slider: a rerun of the same
session carrying the control's widget with its new value (:data:`CONTROL`, the
step count, a distinct value per session). On a page without that widget it
is sent as a rerun with the changed link's query string, and if the figure
does not change that way either, each session reloads the changed link, as a
browser does when the address is edited. ``info.change_mode`` says which was
measured.

Two servers run one after the other. The cached view's script time comes from
Streamlit's ``page_profile``, which a server sends only with usage statistics
on; collecting them inspects the arguments of every ``st`` call, about a third
of a view's own time. The crowd and the changes therefore run on a second
server started as the app is deployed (``.streamlit/config.toml``: statistics
off), and are timed by the clients alone.

Query strings in, timings out: nothing here depends on how the pages are
written. ``python -m benchmarks.bench_hall --link 'surface=beale' --n 50``
runs it on any link.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks._timing import Goal
from benchmarks.ws_client import RunResult, Session, open_link, streamlit_server

APP = Path(__file__).resolve().parents[1] / "app.py"
#: The shared link: a surface a lecturer might put on a slide.
LINK = "surface=himmelblau"
#: The page it opens: the surfaces page's own share box gives ``/surfaces?…`` (on the landing page, ``/?surface=…``
#: is an old link that costs one more script run to redirect).
PAGE = "surfaces"
TIMEOUT = 60.0


#: The control each session changes, by its label, and the values they set, all distinct (nothing is cached).
CONTROL = "steps"


def changed_values(n: int) -> list[int]:
    """``n`` distinct step counts, one per session."""
    return [150 + 7 * i for i in range(n)]


def changed_links(link: str, n: int) -> list[str]:
    """``n`` links that each differ from ``link`` in that one control, all distinct."""
    return [f"{link}&{CONTROL}={v}" for v in changed_values(n)]


def failed(r: RunResult) -> bool:
    """Not a good view: unfinished, an exception or error box, or no figure."""
    return r.status != "finished" or bool(r.exceptions) or bool(r.errors) or r.figures == 0


async def _open(port: int, link: str, page: str, delay: float = 0.0) -> RunResult:
    await asyncio.sleep(delay)
    return await open_link(port, link, page, timeout=TIMEOUT)


async def cached_view(port: int, link: str, page: str, repeats: int) -> list[RunResult]:
    """Fresh sessions, one after another, opening a link whose results are cached."""
    return [await _open(port, link, page) for _ in range(repeats)]


async def crowd(port: int, link: str, page: str, n: int, spread: float) -> list[RunResult]:
    """``n`` sessions opening ``link``, started evenly over ``spread`` seconds, all open at once."""
    return list(await asyncio.gather(*(_open(port, link, page, i * spread / n) for i in range(n))))


async def changes(port: int, link: str, page: str, n: int) -> tuple[str, list[RunResult]]:
    """``n`` sessions on ``link`` each change :data:`CONTROL` to their own value at the same moment.

    Returns
    -------
    mode : str
        ``"widget"``: the control's widget, as a browser sends a moved slider (the rerun carries its new
        value); else ``"rerun"`` (same session, the changed link's query string) or ``"reload"`` (a new
        session on the changed link), for a page without such a widget.
    results : list of RunResult
        One per session: from the change to the new figure.
    """
    links, values = changed_links(link, n), changed_values(n)
    sessions = [Session(port) for _ in range(n)]
    try:
        await asyncio.gather(*(s.connect() for s in sessions))
        before = [await s.run(link, page, timeout=TIMEOUT) for s in sessions]
        ids = [next((w for w, (_, label) in s.widgets.items() if label == CONTROL), None) for s in sessions]
        if all(ids):
            mode = "widget"
            after = list(await asyncio.gather(*(s.run(link, page, widgets={w: [float(v)]}, timeout=TIMEOUT)
                                                for s, w, v in zip(sessions, ids, values, strict=True))))
        else:
            mode = "rerun"
            after = list(await asyncio.gather(*(s.run(q, page, timeout=TIMEOUT)
                                                for s, q in zip(sessions, links, strict=True))))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    if any(a.figure_digest != b.figure_digest for a, b in zip(after, before, strict=True)):
        return mode, after
    return "reload", list(await asyncio.gather(*(_open(port, q, page) for q in links)))


def _stats(results: list[RunResult], what: str = "seconds") -> dict[str, float]:
    values = sorted(getattr(r, what) for r in results if getattr(r, what) is not None)
    if not values:
        return {"median": float("nan"), "p90": float("nan"), "max": float("nan")}
    return {"median": statistics.median(values), "p90": values[int(0.9 * (len(values) - 1))], "max": values[-1]}


async def cached_phase(port: int, link: str = LINK, page: str = "", repeats: int = 5) -> dict[str, Any]:
    """The first open of ``link`` and fresh sessions opening it again (server script time needs a profiled server)."""
    cold = await _open(port, link, page)
    cached = await cached_view(port, link, page, repeats)
    return {
        "link": link, "page": page, "cold_seconds": cold.seconds, "cold_ok": not failed(cold),
        "figure_bytes": cold.figure_bytes,
        "cached_server_seconds": _stats(cached, "server_seconds")["median"],
        "cached_client_seconds": _stats(cached)["median"],
        "errors_seen": sorted({e[:120] for r in [cold, *cached] for e in r.exceptions + r.errors}),
    }


async def load_phase(port: int, link: str = LINK, page: str = "", n: int = 100, spread: float = 10.0,
                     n_changes: int = 20) -> dict[str, Any]:
    """The crowd and the changes, after one session has opened ``link`` (so its results are cached)."""
    first = await _open(port, link, page)
    people = await crowd(port, link, page, n, spread)
    mode, changed = await changes(port, link, page, n_changes)
    figure = [r.first_figure_seconds if r.first_figure_seconds is not None else float("inf") for r in people]
    change_figure = sorted(r.first_figure_seconds if r.first_figure_seconds is not None else float("inf")
                           for r in changed)
    return {
        "crowd_n": n, "crowd_spread_seconds": spread, "crowd_errors": sum(failed(r) for r in people),
        "crowd_figure_max_seconds": max(figure), "crowd_figure_median_seconds": statistics.median(figure),
        "crowd_finish": _stats(people),
        "crowd_status": {k: sum(r.status == k for r in people) for k in sorted({r.status for r in people})},
        "crowd_without_figure": sum(r.figures == 0 for r in people),
        "change_n": n_changes, "change_mode": mode, "change_errors": sum(failed(r) for r in changed),
        "change_figure_median_seconds": statistics.median(change_figure),
        "change_figure_p90_seconds": change_figure[int(0.9 * (len(change_figure) - 1))],
        "change_figure_max_seconds": change_figure[-1],
        "change_finish": _stats(changed),
        "errors_seen": sorted({e[:120] for r in [first, *people, *changed] for e in r.exceptions + r.errors}),
    }


async def hall(port: int, link: str = LINK, page: str = "", n: int = 100, spread: float = 10.0,
               n_changes: int = 20, repeats: int = 5) -> dict[str, Any]:
    """All three phases against one running server; plain numbers out."""
    cached = await cached_phase(port, link, page, repeats)
    load = await load_phase(port, link, page, n, spread, n_changes)
    return {**cached, **load, "errors_seen": sorted({*cached["errors_seen"], *load["errors_seen"]})}


def measure(link: str = LINK, page: str = PAGE, n: int = 100, spread: float = 10.0, n_changes: int = 20,
            repeats: int = 5) -> dict[str, Any]:
    """Start the app twice: profiled for the cached view, as deployed for the crowd and the changes."""
    with streamlit_server(APP, profile=True) as port:
        cached = asyncio.run(cached_phase(port, link, page, repeats))
    with streamlit_server(APP, profile=False) as port:
        load = asyncio.run(load_phase(port, link, page, n, spread, n_changes))
    return {**cached, **load, "errors_seen": sorted({*cached["errors_seen"], *load["errors_seen"]})}


def run(quick: bool = False, link: str = LINK, page: str = PAGE) -> dict[str, Any]:
    """The suite for ``python -m benchmarks hall``: start the app, fill the hall, stop the app."""
    n, spread, n_changes = (30, 3.0, 5) if quick else (100, 10.0, 20)
    info = measure(link, page, n=n, spread=spread, n_changes=n_changes)
    rows = [
        {"name": f"first open of {link!r} (cold caches, imports; not a goal)", "seconds": info["cold_seconds"]},
        {"name": "figure sent per view", "value": info["figure_bytes"] / 1e6, "unit": "MB"},
        {"name": "cached view: time to figure as a client sees it", "seconds": info["cached_client_seconds"]},
        {"name": f"crowd of {n}: median time to figure", "seconds": info["crowd_figure_median_seconds"]},
        {"name": f"{n_changes} changes ({info['change_mode']}): time to figure, 90th percentile",
         "seconds": info["change_figure_p90_seconds"]},
        {"name": f"{n_changes} changes ({info['change_mode']}): time to figure, slowest",
         "seconds": info["change_figure_max_seconds"]},
        {"name": f"{n_changes} changes ({info['change_mode']}): time to the whole page (controls and tables, "
                 "sent after every figure), median", "seconds": info["change_finish"]["median"]},
    ]
    goals = [
        Goal("cached view: server script time (median of 5 sessions)", info["cached_server_seconds"], 0.1, "<=", " s"),
        Goal(f"{n} sessions over {spread:g} s: slowest time to figure", info["crowd_figure_max_seconds"], 20.0, "<=",
             " s"),
        Goal(f"{n} sessions over {spread:g} s: views with errors", info["crowd_errors"], 0, "<=", ""),
        Goal(f"{n_changes} sessions change a control: median time to figure", info["change_figure_median_seconds"],
             1.0, "<=", " s"),
    ]
    return {"rows": rows, "goals": [g.as_dict() for g in goals], "info": info}


def main(argv: list[str] | None = None) -> int:
    """Run the hall on any link and print its numbers as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_hall", description=__doc__.splitlines()[0])
    parser.add_argument("--link", default=LINK, help="query string of the shared link, without '?'")
    parser.add_argument("--page", default=PAGE, help="page URL path, e.g. networks ('' = the default page)")
    parser.add_argument("--port", type=int, help="use a server already running on this port")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--spread", type=float, default=10.0)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args(argv)
    kw = {"n": args.n, "spread": args.spread, "n_changes": args.changes}
    if args.port:
        info = asyncio.run(hall(args.port, args.link, args.page, **kw))
    else:
        info = measure(args.link, args.page, **kw)
    print(json.dumps(info, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
