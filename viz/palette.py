"""One palette and one theme for every figure, set explicitly.

Streamlit's plotly theme recolours traces by position unless the figure carries its own colours, so every
figure built here sets its template, fonts and backgrounds, and pages call ``st.plotly_chart(fig, theme=None)``.

The series colours are Paul Tol's "bright" and "muted" qualitative schemes (colour-blind safe), ordered so that
the first four are the most distinct; reference paths (SciPy methods) use ``REFERENCE_COLOR`` with a dash.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.utils import PlotlyJSONEncoder

COLORS: list[str] = [
    "#4477AA",  # blue
    "#EE6677",  # red
    "#228833",  # green
    "#CCBB44",  # yellow
    "#AA3377",  # purple
    "#66CCEE",  # cyan
    "#EE7733",  # orange
    "#332288",  # indigo
    "#009988",  # teal
    "#882255",  # wine
    "#999933",  # olive
    "#CC6677",  # rose
]
REFERENCE_COLOR: str = "#555555"
#: Dark, muted tones for several SciPy reference paths at once (dashed), so they stay apart from the series.
REFERENCE_COLORS: tuple[str, ...] = ("#555555", "#8C5A2B", "#5B3C88", "#2F5F5F", "#8B1E3F", "#556B2F")


def reference_color(i: int) -> str:
    """Colour of the ``i``-th reference path."""
    return REFERENCE_COLORS[i % len(REFERENCE_COLORS)]

FONT_FAMILY: str = "Inter, 'Source Sans Pro', 'Helvetica Neue', Arial, sans-serif"
BASE_FONT_SIZE: int = 15
TEXT_COLOR: str = "#222222"
MUTED_TEXT_COLOR: str = "#666666"
PAPER_BG: str = "#FFFFFF"
PLOT_BG: str = "#FAFAF7"
GRID_COLOR: str = "#E6E6E6"

# Contour LINE colours by level rank (lowest level first): soft blue in the valleys to a muted slate high up.
CONTOUR_COLORSCALE: list[list[float | str]] = [
    [0.0, "#7FA8CF"],
    [0.5, "#9AA8C0"],
    [1.0, "#B3B3BF"],
]
# Filled bands under the lines (lowest band first): a pale tint in the valleys fading to near-white.
FILL_COLORSCALE: list[list[float | str]] = [
    [0.0, "#CFE0EF"],
    [0.5, "#E9EFF5"],
    [1.0, "#FBFBF9"],
]
# 3-D surface colours (low to high).
SURFACE_COLORSCALE: list[list[float | str]] = [
    [0.0, "#2F5D8A"],
    [0.35, "#7FA8CF"],
    [0.7, "#D9E4EE"],
    [1.0, "#F4F1EA"],
]

MINIMUM_COLOR: str = "#111111"
SADDLE_COLOR: str = "#8A2BE2"


def color_for(i: int) -> str:
    """Colour of the ``i``-th series, cycling through :data:`COLORS`.

    Parameters
    ----------
    i : int
        Series index, 0-based. Negative indices count from the end as in Python.

    Returns
    -------
    str
        A ``#RRGGBB`` hex colour.
    """
    return COLORS[i % len(COLORS)]


def hex_rgb(color: str) -> np.ndarray:
    """``"#RRGGBB"`` as float RGB, shape ``(3,)``, each 0 … 255."""
    c = color.lstrip("#")
    return np.array([int(c[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


def interp_color(scale: list[list[float | str]], t: float) -> str:
    """The colour at ``t`` in [0, 1] along a plotly-style ``[[position, "#RRGGBB"], ...]`` scale, as hex."""
    pos = np.array([float(p) for p, _ in scale])
    rgb = np.array([hex_rgb(str(c)) for _, c in scale])
    out = [np.interp(t, pos, rgb[:, i]) for i in range(3)]
    return "#{:02X}{:02X}{:02X}".format(*(round(v) for v in out))


def hex_to_rgba(color: str, alpha: float) -> str:
    """``"#RRGGBB"`` -> ``"rgba(r,g,b,alpha)"`` for plotly (fading tails, faint paths)."""
    c = color.lstrip("#")
    if len(c) != 6:
        raise ValueError(f"expected a #RRGGBB colour, got {color!r}")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:.3g})"


@lru_cache(maxsize=1)
def _template_json() -> str:
    return json.dumps(pio.templates["plotly_white"].to_plotly_json(), cls=PlotlyJSONEncoder)


def _template() -> dict:
    # A plain dict (not a Template object or a name) also works on figures built without validation.
    return json.loads(_template_json())


AXIS_STYLE: dict = dict(gridcolor=GRID_COLOR, zerolinecolor=GRID_COLOR, linecolor="#BBBBBB", ticks="outside",
                        tickfont=dict(size=BASE_FONT_SIZE - 2), title=dict(font=dict(size=BASE_FONT_SIZE)))


def theme_layout() -> dict:
    """Layout keys of the theme as a plain dict (for figures assembled as dicts, which skip plotly's slow update).

    Returns
    -------
    dict
        ``template``, ``font``, ``paper_bgcolor``, ``plot_bgcolor``, ``colorway``, ``legend``, ``hoverlabel``.
    """
    return dict(
        template=_template(),
        font=dict(family=FONT_FAMILY, size=BASE_FONT_SIZE, color=TEXT_COLOR),
        title=dict(font=dict(family=FONT_FAMILY, size=BASE_FONT_SIZE + 5, color=TEXT_COLOR)),
        paper_bgcolor=PAPER_BG,
        plot_bgcolor=PLOT_BG,
        colorway=list(COLORS),
        legend=dict(font=dict(size=BASE_FONT_SIZE - 1), bgcolor="rgba(255,255,255,0.85)"),
        hoverlabel=dict(font=dict(family=FONT_FAMILY, size=BASE_FONT_SIZE - 1)),
    )


def merge_theme(layout: dict) -> dict:
    """Merge the theme under a layout dict (the layout's own keys win); axes get :data:`AXIS_STYLE`.

    Parameters
    ----------
    layout : dict
        Modified in place and returned.

    Returns
    -------
    dict
    """
    for key, value in theme_layout().items():
        layout[key] = _deep_merge(value, layout.get(key)) if isinstance(value, dict) else layout.get(key, value)
    for key in list(layout):
        if key.startswith(("xaxis", "yaxis")) and isinstance(layout[key], dict):
            layout[key] = _deep_merge(AXIS_STYLE, layout[key])
    return layout


def _deep_merge(base: dict, over: dict | None) -> dict:
    out = dict(base)
    for k, v in (over or {}).items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def apply_theme(fig: go.Figure) -> go.Figure:
    """Set template, fonts and backgrounds explicitly so no host theme recolours the figure.

    Parameters
    ----------
    fig : go.Figure
        Figure to style; modified in place and returned for chaining.

    Returns
    -------
    go.Figure
        The same figure.
    """
    if getattr(fig, "themed", False):  # built from dicts with the theme merged in (viz.surface_figure)
        return fig
    theme = theme_layout()
    fig.layout.template = theme.pop("template")  # assigned, not merged: merging walks the whole template (slow)
    fig.update_layout(**theme)
    fig.update_xaxes(**AXIS_STYLE)
    fig.update_yaxes(**AXIS_STYLE)
    return fig
