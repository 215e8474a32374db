"""A Streamlit client without a browser: speaks the app's websocket protocol, for tests and benchmarks.

A browser tab of a Streamlit app is one websocket to ``/_stcore/stream``. The
client sends ``BackMsg`` protobufs (``rerun_script`` with a ``ClientState``:
the query string, the page and the widget values) and the server answers with
``ForwardMsg`` protobufs: ``new_session``, the page's elements as ``delta``
messages, and ``script_finished`` when the script run ends. This module does
exactly that with the classes Streamlit ships (``streamlit.proto``) and the
``websockets`` package Streamlit itself depends on, so many sessions can be
driven from one process and the browser's own cost is not counted.

Usage::

    async with Session(port) as s:
        first = await s.run("surface=rosenbrock")              # a share link
        again = await s.run("surface=rosenbrock&steps=50")     # a changed control

Only query strings go in and timings come out, so the driver does not depend on
how the pages are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

#: Elements that carry a figure.
FIGURE_ELEMENTS = ("plotly_chart", "vega_lite_chart", "imgs", "deck_gl_json_chart", "graphviz_chart")
_RERUN = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_EARLY_FOR_RERUN")
_COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_WITH_COMPILE_ERROR")
_ERROR = 1  # Alert.Format.ERROR


@dataclass
class RunResult:
    """What one script run sent back.

    Attributes
    ----------
    seconds : float
        From sending the rerun request to ``script_finished`` (or the timeout).
    first_figure_seconds : float or None
        From the request to the first figure element.
    status : str
        ``"finished"``, ``"compile error"``, ``"timeout"``, ``"closed"`` or
        ``"no connection"`` (see :func:`open_link`).
    exceptions : list of str
        ``st.exception`` elements (uncaught exceptions): ``"Type: message"``.
    errors : list of str
        ``st.error`` alert bodies.
    notices : list of str
        The other alerts' bodies (warning, info, success).
    figures : int
        Figure elements received (see ``FIGURE_ELEMENTS``).
    figure_bytes : int
        Their serialized size.
    figure_digest : str
        A hash of the figure elements, to tell whether a change reached the figure.
    server_seconds : float or None
        The script's own run time as the server measured it (``page_profile``;
        only sent when the server runs with ``browser.gatherUsageStats``).
    messages, bytes : int
        ForwardMsgs and bytes received during the run.
    elements : dict of str to int
        Count of each element type received.
    """

    seconds: float = 0.0
    first_figure_seconds: float | None = None
    status: str = "timeout"
    exceptions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    figures: int = 0
    figure_bytes: int = 0
    figure_digest: str = ""
    server_seconds: float | None = None
    messages: int = 0
    bytes: int = 0
    elements: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Finished, with no exception element."""
        return self.status == "finished" and not self.exceptions


class Session:
    """One browser tab's worth of protocol: a websocket session with the app.

    Parameters
    ----------
    port : int
        Where ``streamlit run`` listens on 127.0.0.1.
    host : str
    """

    def __init__(self, port: int, host: str = "127.0.0.1", open_timeout: float = 30.0) -> None:
        self.url = f"ws://{host}:{port}/_stcore/stream"
        self.open_timeout = open_timeout
        self._ws: Any = None
        #: Widget ids seen in the last run, by element type and label, for :meth:`run`'s ``widgets``.
        self.widgets: dict[str, tuple[str, str]] = {}

    async def __aenter__(self) -> Session:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the websocket; the browser names its subprotocol ``streamlit``.

        Like a browser, the client answers the server's pings but sends none of its
        own, so a busy server is measured as slow rather than dropped by the client.
        """
        self._ws = await connect(self.url, subprotocols=["streamlit"], max_size=None, open_timeout=self.open_timeout,
                                 ping_interval=None)

    async def close(self) -> None:
        """Close the websocket (the server then ends the session)."""
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def run(self, query: str = "", page: str = "", widgets: dict[str, Any] | None = None,
                  timeout: float = 60.0) -> RunResult:
        """Ask for a script run as a browser would, and wait for it to finish.

        Parameters
        ----------
        query : str
            The query string without ``?``, e.g. ``"surface=formula&surface.expr=x^2"``.
        page : str
            The page's URL path (``""`` for the default page, ``"networks"``).
        widgets : dict, optional
            Widget id to new value (bool, int, float, str, or a list of floats
            for a slider), as a changed control sends it; ids are in
            :attr:`widgets` after a run.
        timeout : float
            Seconds to wait for ``script_finished``.

        Returns
        -------
        RunResult
        """
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = query
        state.page_name = page
        for wid, value in (widgets or {}).items():
            w = state.widget_states.widgets.add()
            w.id = wid
            if isinstance(value, (list, tuple)):  # sliders send their value(s) as an array
                w.double_array_value.data.extend(float(v) for v in value)
            elif isinstance(value, bool):
                w.bool_value = value
            elif isinstance(value, int):
                w.int_value = value
            elif isinstance(value, float):
                w.double_value = value
            else:
                w.string_value = str(value)
        out = RunResult()
        t0 = time.perf_counter()
        await self._ws.send(msg.SerializeToString())
        deadline = t0 + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                out.status = "timeout"
                break
            try:
                data = await asyncio.wait_for(self._ws.recv(), left)
            except TimeoutError:
                out.status = "timeout"
                break
            except Exception:  # the connection went away
                out.status = "closed"
                break
            out.messages += 1
            out.bytes += len(data)
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self._element(fwd.delta.new_element, out, t0)
            elif kind == "page_profile":
                out.server_seconds = (out.server_seconds or 0.0) + fwd.page_profile.exec_time / 1e6
            elif kind == "script_finished":
                if fwd.script_finished == _RERUN:
                    continue  # the script asked for a rerun (st.rerun); wait for that run
                out.status = "compile error" if fwd.script_finished == _COMPILE_ERROR else "finished"
                break
        out.seconds = time.perf_counter() - t0
        return out

    def _element(self, el: Any, out: RunResult, t0: float) -> None:
        kind = el.WhichOneof("type")
        out.elements[kind] = out.elements.get(kind, 0) + 1
        if kind == "exception":
            out.exceptions.append(f"{el.exception.type}: {el.exception.message}")
        elif kind == "alert":
            (out.errors if el.alert.format == _ERROR else out.notices).append(el.alert.body)
        elif kind in FIGURE_ELEMENTS:
            out.figures += 1
            blob = el.SerializeToString()
            out.figure_bytes += len(blob)
            out.figure_digest = hashlib.sha1((out.figure_digest + hashlib.sha1(blob).hexdigest()).encode()).hexdigest()
            if out.first_figure_seconds is None:
                out.first_figure_seconds = time.perf_counter() - t0
        inner = getattr(el, kind) if kind else None
        wid = getattr(inner, "id", "")
        if wid:
            self.widgets[wid] = (kind, getattr(inner, "label", ""))


async def open_link(port: int, query: str = "", page: str = "", timeout: float = 60.0) -> RunResult:
    """A new session opening a link, as a new browser tab does; ``seconds`` counts from the connection attempt.

    A server too busy to accept the websocket within ``timeout`` gives status ``"no connection"``.
    """
    t0 = time.perf_counter()
    session = Session(port, open_timeout=timeout)
    try:
        await session.connect()
    except (OSError, TimeoutError):
        return RunResult(seconds=time.perf_counter() - t0, status="no connection")
    connecting = time.perf_counter() - t0
    try:
        out = await session.run(query, page, timeout=max(1.0, timeout - connecting))
    finally:
        await session.close()
    out.seconds += connecting
    if out.first_figure_seconds is not None:
        out.first_figure_seconds += connecting
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health_seconds(port: int, timeout: float = 5.0) -> float:
    """Seconds for ``/_stcore/health`` to answer ``ok``; ``inf`` if it did not within ``timeout``."""
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=timeout) as r:
            ok = r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return float("inf")
    return time.perf_counter() - t0 if ok else float("inf")


def wait_until_up(port: int, timeout: float = 60.0) -> None:
    """Block until the server's health endpoint answers.

    Raises
    ------
    TimeoutError
        If it does not within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health_seconds(port, timeout=1.0) < float("inf"):
            return
        time.sleep(0.2)
    raise TimeoutError(f"no Streamlit server answered on port {port} within {timeout:g} s")


@contextlib.contextmanager
def streamlit_server(app: Path, port: int | None = None, profile: bool = False,
                     pids: list[int] | None = None) -> Iterator[int]:
    """Run ``python -m streamlit run app`` headless on 127.0.0.1 for the ``with`` block; yield its port.

    With ``profile`` the server sends each run's ``page_profile`` (its own script
    time; ``browser.gatherUsageStats``, which only a browser would pass on).
    The server is terminated (then killed if need be) on exit, also when the block raises.
    """
    port = port or free_port()
    log = tempfile.TemporaryFile()
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", str(profile).lower(),
           "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    proc = subprocess.Popen(cmd, cwd=app.parent, stdout=log, stderr=subprocess.STDOUT)
    if pids is not None:  # for a caller that reads the server's memory
        pids.append(proc.pid)
    try:
        try:
            wait_until_up(port)
        except TimeoutError:
            log.seek(0)
            raise TimeoutError(f"streamlit did not start: {log.read()[-2000:].decode(errors='replace')}") from None
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
