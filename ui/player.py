"""The frame player as a Streamlit component (``st.components.v2``): it runs in the page's own document.

The player script (``viz/player.js``, see :mod:`viz.player`) binds to the plotly figure on the page whose
updatemenu carries the player's buttons (``viz.player.use_player``): Play, Pause, first/last and one frame
back/forward, plus the ←/→ keys while the pointer is over the figure. The component itself only shows a
one-line hint; mount it once, after the chart.
"""

from __future__ import annotations

import streamlit as st

from viz.player import player_js

_HTML = "<div class='hint'>◀ / ▶ step one frame; so do the ← / → keys while the pointer is on the figure.</div>"
_CSS = ".hint { font-size: 0.8rem; color: rgba(49, 51, 63, 0.6); margin: -0.6rem 0 0.2rem 0; }"
# The module runs once per page (the script guards itself); the default export runs on every mount and data
# change, so it only makes sure the player listens and binds to the current figure.
_JS = player_js() + """
export default function (component) {
  const player = window.DescentLabPlayer;
  player.install();
  player.find();
  return () => player.uninstall();
}
"""

_component = st.components.v2.component("descent_lab_player", html=_HTML, css=_CSS, js=_JS)


def frame_player(key: str) -> None:
    """Mount the player (once per page, after the figure it drives).

    Parameters
    ----------
    key : str
        Streamlit element key.
    """
    _component(key=key)
