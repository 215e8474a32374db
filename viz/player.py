"""The frame player: a small script that plays a plotly animation by moving its markers directly.

``Plotly.animate`` re-runs ``supplyDefaults`` and ``calc`` over every trace and slider step on each frame
(60–90 ms per frame in headless chromium for the surfaces figure, whatever moves). The player in
``viz/player.js`` applies a frame that moves markers (SVG transforms) and replaces plain polylines (the SVG
path plotly would write, for ``mode="lines"`` traces with ``line.simplify=False``, linear shape and no fill),
writes the matching plotly state (calcdata for hover and redraws, trace data, the slider through plotly's own
observer), skips traces whose update changes nothing, and sends any other frame through ``Plotly.animate``.
It does not update autorange extremes, so a figure gives the axes of its animated traces fixed ranges. It
also steps one frame back or forward, which plotly's updatemenu buttons cannot express (their arguments are
fixed).

A figure opts in with :func:`use_player`, which swaps its play controls for buttons that only notify the
player (``execute=False``) and lets the player draw the slider's steps. Pure functions, no streamlit; the
Streamlit component that loads the script is ``ui/player.py``; a standalone HTML page can load it with
:func:`player_post_script`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PLAYER_JS = Path(__file__).with_name("player.js")

# name -> label, in the order shown
BUTTONS = (
    ("first", "|◀"),
    ("back", "◀"),
    ("play", "▶ Play"),
    ("pause", "❚❚ Pause"),
    ("forward", "▶"),
    ("last", "▶|"),
)


def player_js() -> str:
    """The player's source: a classic script that defines ``window.DescentLabPlayer``."""
    return PLAYER_JS.read_text(encoding="utf-8")


def player_post_script() -> str:
    """The player for a standalone page made by ``fig.to_html(post_script=...)``: defines and installs it.

    Use it with a figure whose layout went through :func:`use_player`, and without another ←/→ key handler
    (the player has its own).
    """
    return player_js() + "\nwindow.DescentLabPlayer.install();\n"


def use_player(layout: dict[str, Any], slider_pad: int = 72) -> dict[str, Any]:
    """A copy of a figure ``layout`` dict whose first updatemenu drives the player.

    The menu gets the six buttons of :data:`BUTTONS`, each ``execute=False`` and named ``"player:<name>"``:
    plotly only emits ``plotly_buttonclicked`` for them and the player acts. Play keeps the original Play
    button's arguments (the player reads the frame duration there) and the first/last buttons jump to the
    first/last slider step in their arguments, so the JSON still says what each button means. The slider's
    steps keep their arguments but get ``execute=False`` too: dragging the slider moves plotly's grip and the
    player draws the frame (a ``Plotly.animate`` per step would cost 60–90 ms). Six buttons need about 330 px,
    so the slider gets its own row below them at full width (no overlap at any figure width; plotly grows the
    bottom margin by the few pixels needed).

    Parameters
    ----------
    layout : dict
        A plotly layout as a dict with ``updatemenus[0]`` (containing a Play button: method ``animate``,
        ``args[0] is None``) and ``sliders[0]``.
    slider_pad : int
        Pixels between the plot area's bottom edge and the slider's top (its "step" label then sits level with
        the buttons, its rail below them).

    Returns
    -------
    dict
        The new layout (``layout`` itself is not modified).

    Raises
    ------
    ValueError
        If the layout has no updatemenu with a Play button, or no slider.
    """
    # Copies of only what changes (the first menu, the first slider and its steps): a deep copy of the whole
    # layout, 150 slider steps with their arguments, cost 2.5 ms of every changed view.
    out = dict(layout)
    menus = list(out.get("updatemenus") or [])
    sliders = list(out.get("sliders") or [])
    if not menus or not sliders:
        raise ValueError("use_player needs a layout with updatemenus and sliders")
    menus[0] = menu = dict(menus[0])
    sliders[0] = dict(sliders[0])
    sliders[0]["steps"] = [dict(step) for step in sliders[0].get("steps") or []]
    out["updatemenus"], out["sliders"] = menus, sliders
    buttons = menu.get("buttons") or []
    play = next((b for b in buttons if b.get("method") == "animate" and (b.get("args") or [0])[0] is None), None)
    if play is None:
        raise ValueError("use_player needs a Play button (method 'animate' with args[0] = None)")
    steps = sliders[0].get("steps") or []
    if not steps:
        raise ValueError("use_player needs slider steps")
    jump = (steps[0].get("args") or [None, {}])[1]
    first_name, last_name = steps[0]["args"][0][0], steps[-1]["args"][0][0]
    args = {
        "first": ["animate", [[first_name], jump]],
        "back": ["skip", []],
        "play": ["animate", play["args"]],
        "pause": ["animate", [[None], jump]],
        "forward": ["skip", []],
        "last": ["animate", [[last_name], jump]],
    }
    menu["buttons"] = [dict(label=label, name=f"player:{name}", method=args[name][0], args=args[name][1],
                            execute=False) for name, label in BUTTONS]
    for step in steps:  # plotly still moves the grip and emits plotly_sliderchange; the player shows the frame
        step["execute"] = False
    sliders[0].update(x=0.0, len=1.0, xanchor="left", pad={**sliders[0].get("pad", {}), "t": slider_pad})
    return out
