"""The skeleton every page runs in: one error boundary, and a way to reset that page alone.

A page is a function ``body()`` that decodes its values once, draws its
controls, computes (cached), builds its figure and shows what goes under it.
:func:`run_page` wraps it: a ``ValueError`` (a setting the numerics refuse)
becomes one plain sentence, anything else one short sentence plus a log entry;
both come with a button that resets this page only, and neither shows a
traceback or touches the other pages' settings. Page scripts take turns
(:data:`GATE`), so a crowd's figures arrive one after another instead of all
at the end; a page that calls :func:`figure_shown` once its figure is sent
lets the sessions still waiting for theirs go before the rest of it.
"""

from __future__ import annotations

import base64
import gc
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from common.controls import echo
from ui.admission import Gate
from ui.controls import reset_page

log = logging.getLogger("descent_lab.ui")

#: The app's icon as a data URL, read once: given as a file, ``st.set_page_config`` opens and re-encodes the image
#: with PIL on every rerun of every session (2 ms each).
FAVICON = "data:image/png;base64," + base64.b64encode(
    (Path(__file__).resolve().parents[1] / "docs" / "icon.png").read_bytes()).decode("ascii")

#: Page scripts that run at once in this server process, the others waiting their turn in arrival order; a slot
#: is lent for LEASE seconds at most (a heavy view then runs on beside the next ones), and nobody waits more than
#: MAX_WAIT for a turn (twice that in all for a page that defers its controls): see :mod:`ui.admission`. One slot: every other running script slows the one in front, and the
#: server's event loop, which sends the figures, competes with each of them for the interpreter.
SLOTS = 1
LEASE = 0.5
MAX_WAIT = 3.0
GATE = Gate(SLOTS, MAX_WAIT, LEASE)
#: How long a thread holding the interpreter lock keeps it when another thread asks (Python's default: 5 ms).
#: The server's event loop, which sends every finished figure, needs the lock back after each of its many
#: system calls; behind busy script threads it waited up to 5 ms each time, so twenty sessions' figures all
#: left together at the end even when their scripts had taken turns (``python -m benchmarks hall``, twenty
#: changes: median 3.5 s at 5 ms, 2.1 s at 0.5 ms, the same code otherwise).
SWITCH_INTERVAL = 0.0005
sys.setswitchinterval(SWITCH_INTERVAL)


_TURN = threading.local()


def figure_shown() -> None:
    """The page has sent its figure: the rest of its turn waits until the sessions still waiting for their
    first turn have run (:meth:`ui.admission.Turn.defer`). Once per run; outside :func:`run_page`, nothing."""
    turn = getattr(_TURN, "turn", None)
    if turn is not None:
        _TURN.turn = None
        turn.defer()


def run_page(prefix: str, body: Callable[[], None]) -> None:
    """Run ``body`` inside the page's error boundary.

    Parameters
    ----------
    prefix : str
        The page's session-state prefix; the reset button forgets only keys under it.
    body : callable
        Draws the whole page.
    """
    try:
        with GATE.turn() as turn:
            _TURN.turn = turn
            try:
                body()
            finally:
                _TURN.turn = None
        _freeze_once()
    except Exception as err:  # Streamlit's rerun/stop signals are BaseExceptions and pass through
        if isinstance(err, ValueError):
            st.error(f"These settings cannot be shown: {echo(err, 160)}. Change them in the sidebar, "
                     "or reset this page.", icon=":material/error:")
        else:
            log.exception("unexpected error on page %s", prefix)
            st.error(f"Something went wrong while drawing this page ({type(err).__name__}). It is a bug in "
                     "Descent Lab, and the details are in the server log. Your settings are kept; reset this "
                     "page to start again from its defaults.", icon=":material/error:")
        st.button("Reset this page", icon=":material/restart_alt:", key=f"{prefix}.reset_page",
                  on_click=reset_page, args=(prefix,))


_frozen = False


def _freeze_once() -> None:
    """After the first page this process drew, move every object alive then out of the cyclic collector's way.

    Those are mostly modules (numpy, scipy, plotly, sympy, streamlit): millions of objects that live as long as
    the server. Each of Python's occasional full collections walked them all, 0.1-0.15 s with the GIL held, for
    every session at once; frozen, a full collection walks only what the sessions made since.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
