"""Basin maps: one panel per optimizer, each start coloured by where it ended.

A pure figure builder: :class:`optimizers.basins.BasinMap` in, plotly figure
out. Static (no animation), so the outcome colours are a heatmap, with the
surface's contour lines and critical points drawn over it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from landscapes.base import Landscape
from optimizers.basins import DIVERGED_KIND, ELSEWHERE, LEFT_KIND, BasinMap
from viz import palette
from viz.surface_figure import contour_data

#: Colours of the outcome kinds; several minima of one kind take the next shade.
KIND_SHADES: dict[str, tuple[str, ...]] = {
    "global": ("#9CCFA8", "#9DBFE3", "#B5DCE4", "#7FB89A", "#BFD3F0", "#86A9D0"),
    "local": ("#F2C58E", "#EBA491", "#E3D58F", "#D9A07F"),
    "saddle": ("#C9B0D9", "#B39CCB"),
    ELSEWHERE: ("#EFEFEA",),
    DIVERGED_KIND: ("#B5475F",),
    LEFT_KIND: ("#9A9A9A",),
}


@dataclass(frozen=True)
class BasinPanel:
    """One optimizer's map, with its legend label and series colour."""

    label: str
    color: str
    basins: BasinMap


def outcome_colors(kinds: Sequence[str]) -> list[str]:
    """A colour per outcome label: shades of its kind, in order."""
    used: dict[str, int] = {}
    out = []
    for kind in kinds:
        shades = KIND_SHADES[kind]
        out.append(shades[used.get(kind, 0) % len(shades)])
        used[kind] = used.get(kind, 0) + 1
    return out


def outcome_phrase(label: str, kind: str, share: float, steps: int) -> str:
    """``"54% end at global minimum (1, 1)"``, ``"98% are elsewhere after 300 steps"``, ``"5% diverge"``."""
    if kind == ELSEWHERE:
        return f"{share:.0%} are not at a critical point after {steps} steps"
    if kind == DIVERGED_KIND:
        return f"{share:.0%} diverge"
    if kind == LEFT_KIND:
        return f"{share:.0%} leave the window"
    return f"{share:.0%} end at the {label}"


def _discrete_scale(colors: Sequence[str]) -> list[list[float | str]]:
    """A colourscale mapping integer ``z = i`` (with ``zmin=-0.5``, ``zmax=m-0.5``) to ``colors[i]``."""
    m = len(colors)
    scale: list[list[float | str]] = []
    for i, c in enumerate(colors):
        scale.append([i / m, c])
        scale.append([(i + 1) / m, c])
    return scale


def basin_figure(landscape: Landscape, panels: Sequence[BasinPanel], *, columns: int = 0) -> go.Figure:
    """Small multiples of basin maps over ``landscape``.

    Parameters
    ----------
    landscape : Landscape
        The surface all maps were computed on (same grid, same labels).
    panels : sequence of BasinPanel
        One per optimizer; at least one.
    columns : int
        Panels per row; 0 picks 2 for 2 or 4 panels, else up to 3.

    Returns
    -------
    go.Figure
        Per panel: a heatmap of outcomes ``(n, n)``, one contour-line trace, critical-point
        markers; plus one legend entry per outcome that occurs in any panel.
    """
    if not panels:
        raise ValueError("basin_figure needs at least one panel")
    first = panels[0].basins
    colors = outcome_colors(first.kinds)
    m = len(first.labels)
    cols = max(1, min(columns, len(panels)))
    if columns == 0:  # automatic: 2 for 2 or 4 panels, else up to 3 a row
        cols = 2 if len(panels) in (2, 4) else min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    titles = []
    for p in panels:
        shares = p.basins.shares()
        top = max(shares, key=shares.get)
        phrase = outcome_phrase(top, first.kinds[first.labels.index(top)], shares[top], p.basins.steps)
        titles.append(f"<span style='color:{p.color}'>■</span> {p.label}<br>"
                      f"<span style='font-size:13px'>{phrase}</span>")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=0.12 if rows > 1 else 0.08)
    cdata = contour_data(landscape)
    lines = [ln for ln in cdata.lines if len(ln)]
    xy = np.concatenate([np.vstack([ln, [[np.nan, np.nan]]]) for ln in lines]) if lines else np.zeros((0, 2))
    (x0, x1), (y0, y1) = landscape.bounds
    present = np.zeros(m, dtype=bool)
    for idx, p in enumerate(panels):
        b = p.basins
        r, c = idx // cols + 1, idx % cols + 1
        present |= np.bincount(b.outcome.ravel(), minlength=m) > 0
        labels = np.asarray(b.labels, dtype=object)[b.outcome]
        fig.add_trace(go.Heatmap(
            x=b.x, y=b.y, z=b.outcome, zmin=-0.5, zmax=m - 0.5, colorscale=_discrete_scale(colors), showscale=False,
            text=labels, customdata=b.stop_step,
            hovertemplate="start (%{x:.3g}, %{y:.3g})<br>%{text}<br>stopped or ended at step %{customdata}"
                          "<extra></extra>",
            name=p.label,
        ), row=r, col=c)
        fig.add_trace(go.Scatter(
            x=xy[:, 0], y=xy[:, 1], mode="lines", line=dict(color="rgba(40,40,40,0.35)", width=0.8),
            hoverinfo="skip", showlegend=False,
        ), row=r, col=c)
        crit = landscape.minima
        if crit:
            fig.add_trace(go.Scatter(
                x=[q.point[0] for q in crit], y=[q.point[1] for q in crit], mode="markers",
                marker=dict(symbol=["x-thin" if q.kind == "saddle" else "star" if q.kind == "global" else "diamond"
                                    for q in crit],
                            size=12, color="#222222", line=dict(width=1.5, color="white")),
                hovertext=first.labels[: len(crit)], hoverinfo="text", showlegend=False,
            ), row=r, col=c)
        fig.update_xaxes(range=[x0, x1], constrain="domain", row=r, col=c, title_text="x" if r == rows else None)
        fig.update_yaxes(range=[y0, y1], scaleanchor=f"x{idx + 1 if idx else ''}", scaleratio=1, constrain="domain",
                         row=r, col=c, title_text="y" if c == 1 else None)
    for i in np.flatnonzero(present):
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", name=first.labels[i],
            marker=dict(symbol="square", size=14, color=colors[i], line=dict(width=0.5, color="#888888")),
            showlegend=True, hoverinfo="skip",
        ))
    fig.update_layout(
        height=(430 if cols <= 2 else 360) * rows + 150, margin=dict(l=60, r=20, t=80, b=110),
        legend=dict(orientation="h", yanchor="bottom", y=0.0, yref="container", x=0, itemclick=False,
                    itemdoubleclick=False),
    )
    return palette.apply_theme(fig)
