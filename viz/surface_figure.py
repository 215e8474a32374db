"""The animated surfaces figure: contour map + paths + loss curves under one slider.

Pure functions returning plotly figures; no streamlit.

Two plotly.js traps shape this module (measured, see issue 3):

* ``contour`` and ``heatmap`` traces vanish while a ``redraw: false`` animation plays (plotly.py #2151, #5256),
  so contour lines are ``scatter`` line traces computed with contourpy, and the filled bands are a small
  palette PNG in ``layout.images``.
* Frames that carry whole paths grow the payload as frames²; here each frame carries only the tails and the
  current markers, and the faint full paths are drawn once.

And one measured cost: on every ``redraw: false`` frame plotly.js re-runs ``supplyDefaults`` and ``calc`` over
*all* traces and the layout (slider steps included), which outweighs the drawing. So the figure keeps few traces
(all contour levels in one; starts, ends, tails, current markers, loss markers one trace each for all series)
and at most ``max_frames`` = 150 slider steps by default. Even so, ``Plotly.animate`` tops out near 11–16 frames/s
in headless chromium; the app plays these figures with the frame player (:mod:`viz.player`), which moves the
animated markers directly, reaches the display rate, and steps one frame back or forward.
"""

from __future__ import annotations

import base64
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import contourpy
import numpy as np
import plotly.graph_objects as go

from landscapes.base import Landscape
from optimizers.runner import DIVERGED, LEFT_WINDOW, Trajectory
from viz import palette
from viz.plotly_json import typed_array_spec

TAIL_SEGMENTS = ((0.25, 2.0), (0.55, 3.0), (0.95, 4.0))  # (opacity, width), oldest first: a fading comet
_TAIL_CAP = 4  # a tail holds at most this many points per tail frame, so long runs keep a bounded payload
_TAIL_DOTS = 24  # dots per run in the comet tail drawn by the plotly figure
_CONTOUR_LINE = "rgba(40, 40, 40, 0.42)"

# Page geometry. At 1280×720 (a projector) Streamlit's wide layout with the sidebar open leaves about 980 × 580 px
# under the page's header, so the figure with its buttons and slider fits in FIGURE_HEIGHT; top: title + legend,
# bottom: x tick labels and title, then the buttons, then (with the frame player) the slider on its own row.
FIGURE_HEIGHT = 560
_MARGIN = dict(l=66, r=72, t=74, b=128)
_MENU_PAD_T = 50  # px from the plot area's bottom edge to the top of the buttons
_X_TITLE_STANDOFF = 4  # px between x tick labels and the x axis title
_Y_TITLE_STANDOFF = 8  # px between y tick labels and the y axis title
_MAP_RIGHT, _LOSS_LEFT = 0.52, 0.60  # one map panel | the loss panel (its axis is on its right, in the margin)


@dataclass(frozen=True)
class Series:
    """One optimizer's runs, drawn in one colour.

    Attributes
    ----------
    label : str
        Legend text, e.g. ``"Adam lr=0.05"``.
    color : str
        ``#RRGGBB``.
    trajectory : optimizers.Trajectory
        ``params (R, k, 2)``; k >= 1 starts.
    dashed : bool
        True for reference paths (SciPy methods).
    """

    label: str
    color: str
    trajectory: Trajectory
    dashed: bool = False


# --------------------------------------------------------------------------------------------------------------
# Contours (cached per landscape)
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContourData:
    """Everything the map needs from a landscape, computed once.

    Attributes
    ----------
    levels : ndarray, shape (n,)
        Increasing level values.
    lines : list of ndarray, each shape (m_i, 2)
        Line vertices for each level; separate pieces are split by NaN rows.
    colors : list of str
        Line colour per level.
    x, y : ndarray, shape (g,)
        Grid axes.
    z : ndarray, shape (g, g)
        ``value`` on the grid (``z[i, j]`` at ``(x[j], y[i])``), NaN where not finite.
    image_uri : str
        ``data:image/png;base64,...`` of the filled bands, row 0 at the top (ymax).
    """

    levels: np.ndarray
    lines: list[np.ndarray]
    colors: list[str]
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    image_uri: str


_CONTOUR_CACHE: dict[tuple[str, int, int], ContourData] = {}
_CONTOUR_CACHE_SIZE = 64


def contour_data(landscape: Landscape, n_levels: int = 18, resolution: int = 200) -> ContourData:
    """Contour lines and the filled-band image of ``landscape`` over its bounds.

    Levels are log-spaced on ``f - f_min`` when ``landscape.log_scale`` (else quantiles of the grid values, so
    flat and steep regions both get lines). Cached on ``repr(landscape)``, which names the class and parameters.

    Parameters
    ----------
    landscape : Landscape
    n_levels : int
    resolution : int
        Grid points per axis.

    Returns
    -------
    ContourData
    """
    key = (repr(landscape), n_levels, resolution)
    hit = _CONTOUR_CACHE.get(key)
    if hit is not None:
        return hit
    data = _compute_contours(landscape, n_levels, resolution)
    if len(_CONTOUR_CACHE) >= _CONTOUR_CACHE_SIZE:
        _CONTOUR_CACHE.pop(next(iter(_CONTOUR_CACHE)))
    _CONTOUR_CACHE[key] = data
    return data


def contour_levels(z: np.ndarray, log_scale: bool, f_min: float, n_levels: int) -> np.ndarray:
    """Level values for a grid of function values.

    Parameters
    ----------
    z : ndarray, shape (g, g)
        Grid values, NaN where undefined.
    log_scale : bool
        Log-space the levels on ``f - f_min``.
    f_min : float
        Known lowest value, or NaN (then the grid minimum is used).
    n_levels : int

    Returns
    -------
    ndarray, shape (<= n_levels,)
        Strictly increasing levels.
    """
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return np.zeros(0)
    lo_v, hi_v = float(finite.min()), float(finite.max())
    if hi_v <= lo_v:
        return np.zeros(0)
    if log_scale:
        base = f_min if math.isfinite(f_min) else lo_v
        gap = finite - base
        pos = gap[gap > 0]
        if pos.size:
            hi = float(np.quantile(pos, 0.97))
            lo = max(float(np.quantile(pos, 0.003)), hi * 1e-6)
            if hi > lo:
                return base + np.geomspace(lo, hi, n_levels)
    levels = np.unique(np.quantile(finite, np.linspace(0.02, 0.97, n_levels)))
    if levels.size < max(3, n_levels // 2):
        levels = np.linspace(lo_v, hi_v, n_levels + 2)[1:-1]
    return levels


def _compute_contours(landscape: Landscape, n_levels: int, resolution: int) -> ContourData:
    (x0, x1), (y0, y1) = landscape.bounds
    x = np.linspace(x0, x1, resolution)
    y = np.linspace(y0, y1, resolution)
    grid = np.stack(np.meshgrid(x, y), axis=-1)
    with np.errstate(all="ignore"):
        z = np.asarray(landscape.value(grid), dtype=np.float64)
    z = np.where(np.isfinite(z), z, np.nan)
    levels = contour_levels(z, landscape.log_scale, landscape.f_min, n_levels)
    gen = contourpy.contour_generator(x, y, np.ma.masked_invalid(z), line_type=contourpy.LineType.Separate)
    lines: list[np.ndarray] = []
    tol = max(x1 - x0, y1 - y0) / 2500  # a fraction of a pixel at any screen size we draw
    for c in levels:
        pieces = [_simplify(p, tol) for p in gen.lines(float(c)) if len(p) >= 2]
        if pieces:
            sep = np.full((1, 2), np.nan)
            lines.append(np.concatenate([np.concatenate([p, sep]) for p in pieces])[:-1])
        else:
            lines.append(np.zeros((0, 2)))
    t = np.linspace(0.0, 1.0, len(levels)) if len(levels) > 1 else np.zeros(len(levels))
    colors = [palette.interp_color(palette.CONTOUR_COLORSCALE, float(v)) for v in t]
    return ContourData(levels, lines, colors, x, y, z, _band_image(z, levels))


def _simplify(line: np.ndarray, tol: float, passes: int = 4) -> np.ndarray:
    """Drop vertices that lie within ``tol`` of the chord between their neighbours (kept ones are untouched).

    Each pass removes at most every other vertex, so the drawn line moves by at most ``passes * tol``; contour
    lines on smooth surfaces are mostly straight at grid scale, and this halves to quarters their payload.
    """
    for _ in range(passes):
        n = len(line)
        if n < 5:
            break
        prev, cur, nxt = line[:-2], line[1:-1], line[2:]
        chord = nxt - prev
        rel = cur - prev
        length = np.hypot(chord[:, 0], chord[:, 1])
        dist = np.abs(chord[:, 0] * rel[:, 1] - chord[:, 1] * rel[:, 0]) / np.where(length > 0, length, 1.0)
        drop = (dist < tol) & (np.arange(1, n - 1) % 2 == 1)
        if not drop.any():
            break
        keep = np.ones(n, dtype=bool)
        keep[1:-1] = ~drop
        line = line[keep]
    return line


def _band_image(z: np.ndarray, levels: np.ndarray) -> str:
    """Filled bands (like contourf) as a palette PNG: a few KB since each band is one flat colour."""
    from PIL import Image

    n_bands = len(levels) + 1
    t = np.linspace(0.0, 1.0, n_bands)
    band_rgb = np.array([palette.hex_rgb(palette.interp_color(palette.FILL_COLORSCALE, float(v))) for v in t], dtype=np.uint8)
    band = np.searchsorted(levels, np.nan_to_num(z, nan=np.inf)).astype(np.uint8)
    band[~np.isfinite(z)] = n_bands  # undefined -> white
    pal = np.vstack([band_rgb, [[255, 255, 255]]]).astype(np.uint8)
    img = Image.fromarray(band[::-1], mode="P")
    img.putpalette(pal.ravel().tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------------------------------------------
# Helpers on trajectories
# --------------------------------------------------------------------------------------------------------------
def frame_steps(series: Sequence[Series], max_frames: int) -> np.ndarray:
    """Steps shown by the animation frames: all recorded steps, evenly thinned to ``max_frames``.

    Parameters
    ----------
    series : sequence of Series
    max_frames : int

    Returns
    -------
    ndarray of int, shape (n_frames,)
        Increasing; first is 0 (the start), last is the last recorded step.
    """
    if max_frames < 2:
        raise ValueError(f"max_frames must be >= 2, got {max_frames}")
    allsteps = np.unique(np.concatenate([np.asarray(s.trajectory.steps) for s in series]))
    if allsteps.size <= max_frames:
        return allsteps
    pick = np.unique(np.round(np.linspace(0, allsteps.size - 1, max_frames)).astype(int))
    return allsteps[pick]


def last_records(traj: Trajectory) -> np.ndarray:
    """``(k,)`` index of the last record each run reached (its status step)."""
    return np.array([traj.last_record(r) for r in range(traj.k)], dtype=int)


def loss_for_plot(values: np.ndarray, f_min: float, log: bool, floor_base: float | None = None) -> np.ndarray:
    """Values as drawn on the loss axis.

    Parameters
    ----------
    values : ndarray, shape (...)
    f_min : float
        Known global minimum value or NaN.
    log : bool
        Log axis: draw ``f - f_min`` (or ``f - floor_base`` when ``f_min`` is unknown and some value is <= 0),
        floored at a tiny positive number so zero or rounding-negative gaps stay on the axis.
    floor_base : float, optional
        Lowest value over everything drawn; used when ``f_min`` is unknown.

    Returns
    -------
    ndarray, same shape
    """
    values = np.asarray(values, dtype=np.float64)
    if not log:
        return values
    if math.isfinite(f_min):
        gap = values - f_min
        tiny = 1e-12 * max(1.0, abs(f_min))
    elif floor_base is not None and floor_base <= 0:
        gap = values - floor_base
        tiny = 1e-12 * max(1.0, abs(floor_base))
    else:
        return values
    return np.maximum(gap, tiny)


def _loss_label(landscape: Landscape, log: bool, any_nonpos: bool) -> str:
    if not log:
        return "f(x, y)"
    if math.isfinite(landscape.f_min):
        return "f − f* (log)"
    return "f − min f seen (log)" if any_nonpos else "f (log)"


def _join_runs(chunks: list[np.ndarray]) -> np.ndarray:
    """Concatenate ``(m_i, c)`` chunks with a NaN row between them (plotly draws a gap)."""
    if not chunks:
        return np.zeros((0, 2))
    sep = np.full((1, chunks[0].shape[1]), np.nan)
    parts: list[np.ndarray] = []
    for i, ch in enumerate(chunks):
        if i:
            parts.append(sep)
        parts.append(ch)
    return np.concatenate(parts)


# --------------------------------------------------------------------------------------------------------------
# The animated figure
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FigureParts:
    """A figure as the plain dicts this module writes, before plotly.py sees them.

    A page that only sends the figure to the browser encodes these directly
    (``ui.common.PrecomputedFigure.from_parts``): building the ``go.Figure``
    costs more than writing the dicts. ``figure()`` builds it for exports.

    Attributes
    ----------
    data : list of dict
        Trace dicts (numpy arrays allowed).
    layout : dict
    frames : list of dict
        ``{"name", "data", "traces"}`` dicts.
    """

    data: list[dict[str, Any]]
    layout: dict[str, Any]
    frames: list[dict[str, Any]]

    def figure(self) -> AnimatedFigure:
        """The plotly figure (the parts are shared with it, not copied)."""
        return AnimatedFigure(self.data, self.layout, self.frames)


def animated_figure(landscape: Landscape, series: Sequence[Series], **kwargs: Any) -> go.Figure:
    """:func:`animated_parts` as a plotly figure (same arguments)."""
    return animated_parts(landscape, series, **kwargs).figure()


def animated_parts(
    landscape: Landscape,
    series: Sequence[Series],
    *,
    layout: str = "overlay",
    loss_scale: str = "log",
    max_frames: int = 150,
    tail: int = 25,
    frame_ms: int = 40,
    click_grid: int = 30,
    height: int = FIGURE_HEIGHT,
) -> FigureParts:
    """Contour map with every optimizer's path and the loss curves, animated together under one slider.

    Parameters
    ----------
    landscape : Landscape
        The surface; its ``bounds`` fix the map's axis ranges.
    series : sequence of Series
        One entry per optimizer; each trajectory has ``params (R, k, 2)``.
    layout : {"overlay", "small_multiples"}
        One shared map, or one map panel per series (same landscape and ranges).
    loss_scale : {"log", "linear"}
    max_frames : int
        Upper bound on animation frames (steps are thinned evenly).
    tail : int
        Length of the fading tail, in frames.
    frame_ms : int
        Milliseconds per frame while playing.
    click_grid : int
        Side of the lattice of faint selectable markers ("click-grid") carrying ``customdata [x, y]``; 0 for none.
    height : int
        Figure height in pixels.

    Returns
    -------
    FigureParts
        Traces carry ``meta={"role": ...}``; per-series traces (``path``, ``loss``) have ``"series": i``, the
        traces shared by all series (``start``, ``end``, ``loss-stop``, and the animated ``tail``, ``marker``,
        ``loss-marker``) have ``"series": [i of each point or run]``. Frames update only the animated ones.

    Raises
    ------
    ValueError
        On an unknown layout or loss scale, no series, or trajectories that are not 2-D.
    """
    if layout not in ("overlay", "small_multiples"):
        raise ValueError(f"layout must be 'overlay' or 'small_multiples', got {layout!r}")
    _check_series(series, loss_scale, tail)

    log = loss_scale == "log"
    f_min = landscape.f_min
    n = len(series)
    small = layout == "small_multiples"
    # Each small panel repeats the map, and is small: fewer, coarser lines keep the payload in budget.
    cdata = contour_data(landscape, n_levels=12, resolution=140) if small and n > 2 else contour_data(landscape)
    (bx0, bx1), (by0, by1) = landscape.bounds
    n_panels = n if small else 1
    steps_f = frame_steps(series, max_frames)
    n_frames = len(steps_f)
    max_step = int(steps_f[-1])

    floor_base = min(float(np.min(s.trajectory.values)) for s in series) if log else None
    any_nonpos = floor_base is not None and floor_base <= 0

    # ---- axes layout ----------------------------------------------------------------------------------------
    lay: dict[str, Any] = {}
    map_axes, loss_ax = _axes_layout(lay, n_panels, (bx0, bx1), (by0, by1))
    data: list[dict[str, Any]] = []

    for p, (xa, ya) in enumerate(map_axes):
        data.extend(_map_static_traces(landscape, cdata, xa, ya, click_grid, first=p == 0))
        lay.setdefault("images", []).append(dict(
            source=cdata.image_uri, xref=xa, yref=ya, x=bx0, y=by1, sizex=bx1 - bx0, sizey=by1 - by0,
            sizing="stretch", layer="below", opacity=1.0,
        ))

    # ---- per-series static traces -------------------------------------------------------------------------
    lx, ly = loss_ax
    loss_lo, loss_hi = np.inf, -np.inf
    prepared: list[_Prepared] = []
    for i, s in enumerate(series):
        xa, ya = map_axes[i if small else 0]
        tr = s.trajectory
        last = last_records(tr)
        idx = np.clip(np.searchsorted(tr.steps, steps_f, side="right") - 1, 0, None)
        loss_all = loss_for_plot(tr.values, f_min, log, floor_base)
        data.extend(_series_static_traces(i, s, xa, ya, lx, ly, last, loss_all))
        for r in range(tr.k):
            seg = loss_all[: last[r] + 1, r]
            loss_lo, loss_hi = min(loss_lo, float(seg.min())), max(loss_hi, float(seg.max()))
        prepared.append(_Prepared(i, s, last, idx, loss_all))
    # Per-series traces would make plotly.js re-run supplyDefaults/calc on each of them every frame (that, not
    # drawing, is most of a frame's cost), so starts, ends and everything animated are one trace per panel.
    panels = [[p] for p in prepared] if small else [prepared]
    for members, (xa, ya) in zip(panels, map_axes, strict=True):
        data.extend(_endpoint_traces(members, xa, ya))
    stop_trace = _loss_stop_trace(prepared, lx, ly)
    if stop_trace is not None:
        data.append(stop_trace)

    # ---- loss axis ranges -------------------------------------------------------------------------------------
    loss_range = _loss_range(loss_lo, loss_hi, log)

    # ---- dynamic traces (initial = frame 0) ----------------------------------------------------------------------
    dyn_start = len(data)
    frame_cols: list[list[dict[str, np.ndarray]]] = []  # per animated trace: per frame: its update
    for members, (xa, ya) in zip(panels, map_axes, strict=True):
        for trace, ups in (_tail_trace(members, xa, ya, tail), _marker_trace(members, xa, ya)):
            data.append({**trace, **ups[0]})
            frame_cols.append(ups)
    trace, ups = _loss_marker_trace(prepared, lx, ly)
    data.append({**trace, **ups[0]})
    frame_cols.append(ups)
    dyn_idx = list(range(dyn_start, len(data)))

    frames = [dict(name=str(int(steps_f[j])), data=[col[j] for col in frame_cols], traces=dyn_idx)
              for j in range(n_frames)]

    # ---- axes, controls, text ---------------------------------------------------------------------------------
    lay[_layout_key(lx)].update(title=dict(text="step", standoff=_X_TITLE_STANDOFF), range=[0, max(max_step, 1)],
                                autorange=False)
    lay[_layout_key(ly)] = _loss_yaxis(lx, landscape, log, any_nonpos, loss_range)
    if small:
        ann = lay.setdefault("annotations", [])
        for i, s in enumerate(series):
            xa, ya = map_axes[i]
            ann.append(dict(text=f"<b>{_esc(s.label)}</b>", xref=f"{xa} domain", yref=f"{ya} domain", x=0.02,
                            y=0.98, xanchor="left", yanchor="top", showarrow=False, font=dict(color=s.color, size=14),
                            bgcolor="rgba(255,255,255,0.85)", borderpad=2))

    arrows = escape_arrows(series, landscape.bounds)
    if arrows:
        ann = lay.setdefault("annotations", [])
        for i, tail_xy, head_xy in arrows:
            xa, ya = map_axes[i if small else 0]
            ann.append(dict(x=float(head_xy[0]), y=float(head_xy[1]), ax=float(tail_xy[0]), ay=float(tail_xy[1]), xref=xa, yref=ya, axref=xa,
                            ayref=ya, text="", showarrow=True, arrowhead=2, arrowsize=1.3, arrowwidth=2.2,
                            arrowcolor=series[i].color, opacity=0.9))

    lay.update(animation_controls([f["name"] for f in frames], frame_ms, redraw=False))
    lay.update(_frame_layout(landscape, height))
    lay["dragmode"] = "zoom"
    return FigureParts(data, palette.merge_theme(lay), frames)


def _check_series(series: Sequence[Series], loss_scale: str, tail: int) -> None:
    if loss_scale not in ("log", "linear"):
        raise ValueError(f"loss_scale must be 'log' or 'linear', got {loss_scale!r}")
    if not series:
        raise ValueError("nothing to draw: add at least one optimizer")
    for s in series:
        if s.trajectory.params.ndim != 3 or s.trajectory.params.shape[2] != 2:
            raise ValueError(f"{s.label}: a surface path needs params of shape (R, k, 2), got {s.trajectory.params.shape}")
    if tail < 1:
        raise ValueError(f"tail must be >= 1, got {tail}")


def _loss_yaxis(lx: str, landscape: Landscape, log: bool, any_nonpos: bool, loss_range: list[float]) -> dict[str, Any]:
    """The loss axis, ticks and title on the panel's right: on its left they would reach into the map."""
    axis = dict(domain=[0.0, 1.0], anchor=lx, side="right", showgrid=True, zeroline=False,
                title=dict(text=_loss_label(landscape, log, any_nonpos), standoff=_Y_TITLE_STANDOFF),
                type="log" if log else "linear", range=list(loss_range), autorange=False, exponentformat="power")
    decades = loss_range[1] - loss_range[0]
    if log:  # plotly labels every digit of a decade on a tall axis; a decade each (or 2 and 5 in short ranges)
        axis["dtick"] = max(1, math.ceil(decades / 12)) if decades >= 2.5 else "D2"
    return axis


def animation_controls(names: Sequence[str], frame_ms: int, *, redraw: bool) -> dict[str, Any]:
    """``updatemenus`` and ``sliders`` of an animated figure whose frames are named ``names``.

    plotly buttons hold fixed arguments, so "one frame back/forward" is not expressible here; these jump to the
    ends (the HTML export adds ←/→ keys). In the app, viz.player.use_player swaps this menu for the frame
    player's buttons, one-frame steps included, and gives the slider its own row.
    """
    play = dict(frame=dict(duration=frame_ms, redraw=redraw), fromcurrent=True, transition=dict(duration=0),
                mode="immediate")
    jump = dict(frame=dict(duration=0, redraw=redraw), transition=dict(duration=0), mode="immediate")
    menu = dict(
        type="buttons", direction="left", showactive=False, x=0.0, xanchor="left", y=0.0, yanchor="top",
        pad=dict(t=_MENU_PAD_T, r=6), bgcolor="#F2F2F2", bordercolor="#CCCCCC", font=dict(size=15),
        buttons=[
            dict(label="|◀", method="animate", args=[[names[0]], jump]),
            dict(label="▶ Play", method="animate", args=[None, play]),
            dict(label="❚❚ Pause", method="animate", args=[[None], jump]),
            dict(label="▶|", method="animate", args=[[names[-1]], jump]),
        ],
    )
    slider = dict(
        active=0, x=0.27, len=0.73, xanchor="left", y=0.0, yanchor="top", pad=dict(t=_MENU_PAD_T - 8, b=0),
        currentvalue=dict(prefix="step ", visible=True, xanchor="right", font=dict(size=15, color=palette.TEXT_COLOR)),
        font=dict(color="rgba(0,0,0,0)", size=8),  # 300 tick labels would overlap; the current value shows the step
        ticklen=0, minorticklen=0, tickcolor="rgba(0,0,0,0)", bgcolor="#E8E8E8", bordercolor="#CCCCCC",
        activebgcolor="#999999", transition=dict(duration=0),
        steps=[dict(label=nm, method="animate", args=[[nm], jump]) for nm in names],
    )
    return dict(updatemenus=[menu], sliders=[slider])


def _frame_layout(landscape: Landscape, height: int, suffix: str = "") -> dict[str, Any]:
    """Title, size, margins and legend shared by the 2-D and 3-D figures."""
    title = landscape.title or landscape.name
    return dict(
        title=dict(text=f"<b>{_esc(title)}</b>{suffix}", x=0.01, xanchor="left", y=0.985, yanchor="top"),
        height=height, margin=dict(_MARGIN), hovermode="closest",
        # Markers and tails of all series share traces (for frame rate), so a legend click could hide a path but
        # not its marker; the legend is a key only. Small multiples separate crowded paths instead.
        legend=dict(orientation="h", x=0.0, xanchor="left", y=1.01, yanchor="bottom", itemsizing="constant",
                    itemclick=False, itemdoubleclick=False),
        uirevision=repr(landscape),  # a new landscape resets zoom; a new optimizer keeps it
    )


class AnimatedFigure(go.Figure):
    """A ``go.Figure`` whose frames stay plain dicts until someone asks for ``.frames``.

    Building 300 ``go.Frame`` objects costs about 2 s in plotly.py (every trace is validated), ten times the
    page's budget, and ``st.plotly_chart`` only needs ``to_dict()``. So the traces and layout here are written
    by this module (not validated), the frames are kept as dicts and added in ``to_dict``, and ``.frames``
    builds real ``go.Frame`` objects on first access. Pickling (``st.cache_data``) keeps the dicts too.

    Parameters
    ----------
    data : list of dict
        Trace dicts (numpy arrays allowed).
    layout : dict
    frames : list of dict
        ``{"name", "data", "traces"}`` dicts.
    """

    themed = True  # palette.merge_theme was applied to the layout dict; palette.apply_theme skips it

    def __init__(self, data: list[dict[str, Any]], layout: dict[str, Any], frames: list[dict[str, Any]]) -> None:
        super().__init__(data=data, layout=layout, _validate=False)
        self._raw_frames: list[dict[str, Any]] | None = frames

    @property
    def frames(self):  # type: ignore[override]
        self._materialize_frames()
        return go.Figure.frames.fget(self)

    @frames.setter
    def frames(self, value) -> None:  # type: ignore[override]
        self._raw_frames = None
        go.Figure.frames.fset(self, value)

    def _materialize_frames(self) -> None:
        raw = getattr(self, "_raw_frames", None)
        if raw is not None:
            self._raw_frames = None
            go.Figure.frames.fset(self, [go.Frame(**_copy_frame(f)) for f in raw])

    def raw_frames(self) -> list[dict[str, Any]]:
        """The frames as dicts (no copy; do not modify)."""
        raw = getattr(self, "_raw_frames", None)
        return raw if raw is not None else [f.to_plotly_json() for f in self.frames]

    def to_dict(self) -> dict[str, Any]:
        raw = getattr(self, "_raw_frames", None)
        res = super().to_dict()
        if raw:
            # Encoded once and reused: st.plotly_chart serialises the cached figure on every rerun, and plotly's
            # generic convert_to_base64 costs ~1 ms per array (thousands of arrays here).
            enc = getattr(self, "_encoded_frames", None)
            if enc is None:
                enc = self._encoded_frames = [_encode_frame(f) for f in raw]
            res["frames"] = [_copy_frame(f) for f in enc]
        return res

    def __reduce__(self):
        state = super().to_dict()
        return (_rebuild_animated, (state.get("data", []), state.get("layout", {}), self.raw_frames(),
                                    getattr(self, "_encoded_frames", None)))


def _encode_frame(frame: dict[str, Any]) -> dict[str, Any]:
    out = dict(frame)
    out["data"] = [{k: typed_array_spec(v) if isinstance(v, np.ndarray) and v.size else v for k, v in d.items()}
                   for d in frame.get("data", [])]
    return out


def _copy_frame(frame: dict[str, Any]) -> dict[str, Any]:
    """Copy down to the trace dicts (convert_to_base64 replaces arrays in place)."""
    out = dict(frame)
    out["data"] = [dict(d) for d in frame.get("data", [])]
    return out


def _rebuild_animated(data: list[dict[str, Any]], layout: dict[str, Any], frames: list[dict[str, Any]],
                      encoded: list[dict[str, Any]] | None = None) -> AnimatedFigure:
    fig = AnimatedFigure(data, layout, frames)
    fig._encoded_frames = encoded
    return fig


def _layout_key(axis: str) -> str:
    """'x2' -> 'xaxis2', 'y' -> 'yaxis'."""
    return axis[0] + "axis" + axis[1:]


def _esc(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _axes_layout(lay: dict[str, Any], n_panels: int, xr: tuple[float, float], yr: tuple[float, float]):
    """Set axis domains; returns the map axis pairs and the loss axis pair."""
    map_right = _MAP_RIGHT if n_panels == 1 else 0.62
    loss_left = _LOSS_LEFT if n_panels == 1 else 0.70
    cols = 1 if n_panels == 1 else math.ceil(math.sqrt(n_panels))
    rows = math.ceil(n_panels / cols)
    gx, gy = 0.035, 0.07
    w = (map_right - gx * (cols - 1)) / cols
    h = (1.0 - gy * (rows - 1)) / rows
    aspect = (yr[1] - yr[0]) / (xr[1] - xr[0])
    equal = 1 / 3 <= aspect <= 3
    map_axes = []
    for p in range(n_panels):
        r, c = divmod(p, cols)
        k = "" if p == 0 else str(p + 1)
        xa, ya = "x" + k, "y" + k
        x_dom = [c * (w + gx), c * (w + gx) + w]
        y_dom = [1.0 - (r + 1) * h - r * gy, 1.0 - r * h - r * gy]
        lay[_layout_key(xa)] = dict(domain=x_dom, anchor=ya, range=list(xr), autorange=False, showgrid=False,
                                    zeroline=False, constrain="domain", mirror=True, showline=True,
                                    showticklabels=r == rows - 1 or n_panels == 1)
        if r == rows - 1:  # no key at all elsewhere: the page sends these dicts as they are (plotly drops a None)
            lay[_layout_key(xa)]["title"] = dict(text="x", standoff=_X_TITLE_STANDOFF)
        lay[_layout_key(ya)] = dict(domain=y_dom, anchor=xa, range=list(yr), autorange=False, showgrid=False,
                                    zeroline=False, constrain="domain", mirror=True, showline=True,
                                    showticklabels=c == 0)
        if c == 0:
            lay[_layout_key(ya)]["title"] = dict(text="y", standoff=_Y_TITLE_STANDOFF)
        if equal:
            lay[_layout_key(ya)].update(scaleanchor=xa, scaleratio=1)
        map_axes.append((xa, ya))
    k = str(n_panels + 1)
    lx, ly = "x" + k, "y" + k
    lay[_layout_key(lx)] = dict(domain=[loss_left, 1.0], anchor=ly, showgrid=True, zeroline=False)
    lay[_layout_key(ly)] = dict(domain=[0.0, 1.0], anchor=lx, showgrid=True, zeroline=False)
    return map_axes, (lx, ly)


def _map_static_traces(landscape: Landscape, cdata: ContourData, xa: str, ya: str, click_grid: int,
                       *, first: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pieces = [line for line in cdata.lines if len(line)]
    if pieces:
        # One trace for all levels: the filled image already carries the colour bands, and every extra trace
        # costs plotly.js work on every animation frame.
        xy = _join_runs(pieces).astype(np.float32)
        out.append(dict(
            type="scatter", x=xy[:, 0], y=xy[:, 1], mode="lines", xaxis=xa, yaxis=ya,
            line=dict(color=_CONTOUR_LINE, width=0.9), hoverinfo="skip", showlegend=False,
            meta={"role": "contour", "levels": [float(v) for v, ln in zip(cdata.levels, cdata.lines, strict=True)
                                                if len(ln)]},
        ))
    if click_grid:
        (x0, x1), (y0, y1) = landscape.bounds
        # Cell centres, so no grid point sits on the frame and every click lands on the map.
        gx = x0 + (np.arange(click_grid) + 0.5) * (x1 - x0) / click_grid
        gy = y0 + (np.arange(click_grid) + 0.5) * (y1 - y0) / click_grid
        mx, my = np.meshgrid(gx, gy)
        xy = np.stack([mx.ravel(), my.ravel()], axis=1)
        out.append(dict(
            type="scatter", x=xy[:, 0], y=xy[:, 1], customdata=xy, mode="markers", xaxis=xa, yaxis=ya,
            name="click-grid", showlegend=False,
            marker=dict(size=7, color="rgba(80,80,80,1)", opacity=0.03, line=dict(width=0)),
            selected=dict(marker=dict(opacity=0.6, color="#222222")),
            unselected=dict(marker=dict(opacity=0.03)),
            hovertemplate="click to start here<br>(%{customdata[0]:.3g}, %{customdata[1]:.3g})<extra></extra>",
            meta={"role": "click-grid"},
        ))
    symbols = {"global": ("star", 17, "global minimum"), "local": ("diamond", 11, "local minimum"),
               "saddle": ("x-thin", 12, "saddle point")}
    for kind, (symbol, size, word) in symbols.items():
        pts = [c for c in landscape.minima if c.kind == kind]
        if not pts:
            continue
        xy = np.array([c.point for c in pts], dtype=np.float64)
        text = [f"{word}<br>({c.point[0]:.4g}, {c.point[1]:.4g})<br>f = {c.value:.6g}" for c in pts]
        is_saddle = kind == "saddle"
        out.append(dict(
            type="scatter", x=xy[:, 0], y=xy[:, 1], mode="markers", xaxis=xa, yaxis=ya, name=word,
            legendgroup=f"crit-{kind}", showlegend=first, legendrank=2000,
            marker=dict(symbol=symbol, size=size, color=palette.SADDLE_COLOR if is_saddle else palette.MINIMUM_COLOR,
                        line=dict(width=2.2 if is_saddle else 1, color=palette.SADDLE_COLOR if is_saddle else "white")),
            text=text, hovertemplate="%{text}<extra></extra>", meta={"role": "critical", "kind": kind},
        ))
    return out


def _series_static_traces(i: int, s: Series, xa: str, ya: str, lx: str, ly: str, last: np.ndarray,
                          loss_all: np.ndarray) -> list[dict[str, Any]]:
    tr = s.trajectory
    k = tr.k
    label = _esc(s.label)
    dash = "dash" if s.dashed else "solid"
    path_chunks = []
    hover_ok = tr.params.shape[0] * k <= 40_000  # hover data on huge basin maps would dominate the payload
    for r in range(k):
        m = last[r] + 1
        cols = [tr.params[:m, r, 0], tr.params[:m, r, 1]]
        if hover_ok:
            cols += [tr.steps[:m].astype(np.float64), tr.values[:m, r], tr.grad_norms[:m, r], np.full(m, float(r))]
        path_chunks.append(np.stack(cols, axis=1))
    path = _join_runs(path_chunks)
    run_txt = " · run %{customdata[3]}" if k > 1 else ""
    out: list[dict[str, Any]] = [dict(
        type="scatter", x=path[:, 0], y=path[:, 1], mode="lines", xaxis=xa, yaxis=ya, name=s.label,
        legendgroup=f"s{i}", showlegend=False,
        line=dict(color=palette.hex_to_rgba(s.color, 0.38), width=1.6, dash=dash),
        meta={"role": "path", "series": i},
    )]
    if hover_ok:
        out[0].update(customdata=path[:, 2:],
                      hovertemplate=(f"<b>{label}</b>{run_txt}<br>step %{{customdata[0]}}<br>"
                                     "x = %{x:.4g}, y = %{y:.4g}<br>f = %{customdata[1]:.4g}<br>"
                                     "|∇f| = %{customdata[2]:.3g}<extra></extra>"))
    else:
        out[0]["hoverinfo"] = "skip"
    out.append(_loss_trace(i, s, lx, ly, last, loss_all))
    return out


def _loss_trace(i: int, s: Series, lx: str, ly: str, last: np.ndarray, loss_all: np.ndarray,
                legend: bool = True) -> dict[str, Any]:
    """Series ``i``'s loss curves (one per run, split by gaps), each up to its status step."""
    tr = s.trajectory
    chunks = [np.stack([tr.steps[: last[r] + 1].astype(np.float64), loss_all[: last[r] + 1, r],
                        tr.values[: last[r] + 1, r]], axis=1) for r in range(tr.k)]
    loss = _join_runs(chunks)
    return dict(
        type="scatter", x=loss[:, 0], y=loss[:, 1], customdata=loss[:, 2:], mode="lines", xaxis=lx, yaxis=ly,
        name=s.label, legendgroup=f"s{i}", showlegend=legend, legendrank=1000 + i,
        line=dict(color=s.color, width=2.2, dash="dash" if s.dashed else "solid"),
        hovertemplate=f"<b>{_esc(s.label)}</b><br>step %{{x}}<br>f = %{{customdata[0]:.6g}}<extra></extra>",
        meta={"role": "loss", "series": i},
    )


def series_frames(tr: Trajectory, last: np.ndarray, idx: np.ndarray, loss_all: np.ndarray,
                   tail: int) -> list[list[dict[str, Any]]]:
    """Per frame: updates for the three tail segments, the current marker and the loss marker.

    Every frame's tail has the same number of points (repeats at the start of a run), so all frames are
    sliced from a few arrays computed at once. Shared with the GIF/MP4 export, which draws the same tails.

    Parameters
    ----------
    tr : Trajectory
        Params ``(R, k, 2)``.
    last : ndarray of int, shape (k,)
        Last record index each run reached.
    idx : ndarray of int, shape (F,)
        Record index shown by each frame.
    loss_all : ndarray, shape (R, k)
        Plotted loss per record.
    tail : int
        Records in a tail.

    Returns
    -------
    list, length F
        Per frame, a list of trace updates (dicts with ``x``/``y`` arrays).
    """
    k = tr.k
    runs = np.arange(k)
    n_frames = len(idx)
    cur = np.minimum(idx[:, None], last[None, :])  # (F, k): each run stops at its status step
    lo = np.minimum(cur[np.maximum(np.arange(n_frames) - tail, 0)], cur)  # (F, k)
    n_pts = int(min(int((cur - lo).max()) + 1, _TAIL_CAP * tail + 1))
    n_pts = max(n_pts, len(TAIL_SEGMENTS) + 1)
    t = np.linspace(0.0, 1.0, n_pts)
    rec = np.rint(lo[..., None] + (cur - lo)[..., None] * t).astype(int)  # (F, k, n_pts)
    pts = tr.params.astype(np.float32)[rec, runs[None, :, None]]  # (F, k, n_pts, 2)
    seg_arrays = []
    cuts = np.linspace(0, n_pts - 1, len(TAIL_SEGMENTS) + 1).round().astype(int)
    for a, b in itertools.pairwise(cuts):
        seg = pts[:, :, a : b + 1]
        pad = np.full((n_frames, k, 1, 2), np.nan, dtype=np.float32)
        seg = np.concatenate([seg, pad], axis=2).reshape(n_frames, -1, 2)[:, :-1]
        seg_arrays.append((np.ascontiguousarray(seg[..., 0]), np.ascontiguousarray(seg[..., 1])))
    now = tr.params[cur, runs]  # (F, k, 2)
    step_now = tr.steps[cur].astype(np.float64)  # (F, k)
    custom = np.stack([step_now, tr.values[cur, runs], tr.grad_norms[cur, runs]], axis=-1)  # (F, k, 3)
    loss_now = loss_all[cur, runs]
    now_x, now_y = np.ascontiguousarray(now[..., 0]), np.ascontiguousarray(now[..., 1])
    out = []
    for j in range(n_frames):
        ups: list[dict[str, Any]] = [dict(x=sx[j], y=sy[j]) for sx, sy in seg_arrays]
        ups.append(dict(x=now_x[j], y=now_y[j], customdata=custom[j]))
        ups.append(dict(x=step_now[j], y=loss_now[j]))
        out.append(ups)
    return out


@dataclass(frozen=True)
class _Prepared:
    """One series with what its traces need: ``last (k,)`` status records, ``idx (F,)`` record per frame,
    ``loss (R, k)`` values as drawn on the loss axis."""

    i: int
    s: Series
    last: np.ndarray
    idx: np.ndarray
    loss: np.ndarray

    @property
    def cur(self) -> np.ndarray:
        """``(F, k)`` record shown at each frame: each run stops at its status step."""
        return np.minimum(self.idx[:, None], self.last[None, :])


def _endpoint_traces(members: Sequence[_Prepared], xa: str, ya: str) -> list[dict[str, Any]]:
    """Start markers of all ``members`` in one trace, end (or stop) markers in another; per-point colours."""
    starts, s_col, s_txt = [], [], []
    ends, e_col, e_txt, e_sym, e_size, e_line = [], [], [], [], [], []
    for p in members:
        tr, k = p.s.trajectory, p.s.trajectory.k
        label = _esc(p.s.label)
        starts.append(tr.params[0])
        s_col += [p.s.color] * k
        s_txt += [label] * k
        ends.append(tr.params[p.last, np.arange(k)])
        e_col += [p.s.color] * k
        for r in range(k):
            stopped = tr.status[r] in (DIVERGED, LEFT_WINDOW)
            e_txt.append(f"{label}<br>{_esc(tr.reason[r])}")
            e_sym.append("x" if stopped else "circle")
            e_size.append(13 if stopped else 8)
            e_line.append("#222222" if stopped else "white")
    start, end = np.concatenate(starts), np.concatenate(ends)
    series_of = [p.i for p in members for _ in range(p.s.trajectory.k)]
    return [
        dict(type="scatter", x=start[:, 0], y=start[:, 1], mode="markers", xaxis=xa, yaxis=ya, showlegend=False,
             text=s_txt, marker=dict(symbol="circle-open", size=11, color=s_col, line=dict(width=2.4)),
             hovertemplate="<b>%{text}</b> start<br>(%{x:.4g}, %{y:.4g})<extra></extra>",
             meta={"role": "start", "series": series_of}),
        dict(type="scatter", x=end[:, 0], y=end[:, 1], mode="markers", xaxis=xa, yaxis=ya, showlegend=False,
             text=e_txt, marker=dict(symbol=e_sym, size=e_size, color=e_col, line=dict(width=1.3, color=e_line)),
             hovertemplate="<b>%{text}</b><br>(%{x:.4g}, %{y:.4g})<extra></extra>",
             meta={"role": "end", "series": series_of}),
    ]


def _loss_stop_trace(prepared: Sequence[_Prepared], lx: str, ly: str) -> dict[str, Any] | None:
    """A cross on the loss curve where each diverged/left-window run stopped; None when none did."""
    xs, ys, col, txt, who = [], [], [], [], []
    for p in prepared:
        tr = p.s.trajectory
        for r in range(tr.k):
            if tr.status[r] in (DIVERGED, LEFT_WINDOW):
                xs.append(float(tr.steps[p.last[r]]))
                ys.append(float(p.loss[p.last[r], r]))
                col.append(p.s.color)
                txt.append(f"{_esc(p.s.label)}<br>{_esc(tr.reason[r])}")
                who.append(p.i)
    if not xs:
        return None
    return dict(type="scatter", x=xs, y=ys, mode="markers", xaxis=lx, yaxis=ly, showlegend=False, text=txt,
                marker=dict(symbol="x", size=12, color=col, line=dict(width=1.3, color="#222222")),
                hovertemplate="<b>%{text}</b><extra></extra>", meta={"role": "loss-stop", "series": who})


def _tail_records(p: _Prepared, tail: int, n_max: int) -> np.ndarray:
    """``(F, k, n)`` records along each run's tail, oldest first, the last one the current record.

    Every frame has the same ``n`` (repeats at the start of a run), so only x/y change between frames and
    all per-point styling stays in the trace itself.
    """
    cur = p.cur
    n_frames = len(cur)
    lo = np.minimum(cur[np.maximum(np.arange(n_frames) - tail, 0)], cur)
    n = max(2, min(int((cur - lo).max()) + 1, n_max))
    t = np.linspace(0.0, 1.0, n)
    return np.rint(lo[..., None] + (cur - lo)[..., None] * t).astype(int)


def _tail_trace(members: Sequence[_Prepared], xa: str, ya: str,
                tail: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The fading tails of all ``members`` as one ``(trace, per-frame updates)`` pair.

    A comet of dots on top of the faint full path, growing and darkening towards the current point. Measured
    against one line trace per series: the same look at a glance and equal speed in a standalone page, but one
    trace instead of one per series (each trace costs plotly.js work on every frame). The per-point
    size/opacity/colour arrays stay in the trace; frames carry only x and y.
    """
    xs, ys, colors, sizes, alphas, who = [], [], [], [], [], []
    for p in members:
        tr = p.s.trajectory
        rec = _tail_records(p, tail, _TAIL_DOTS)  # (F, k, n)
        n = rec.shape[2]
        pts = tr.params[rec, np.arange(tr.k)[None, :, None]].reshape(len(rec), -1, 2)  # (F, k*n, 2)
        xs.append(pts[..., 0])
        ys.append(pts[..., 1])
        t = np.tile(np.linspace(0.0, 1.0, n), tr.k)
        colors += [p.s.color] * (tr.k * n)
        sizes.append(2.5 + 6.5 * t)
        alphas.append(0.12 + 0.78 * t**1.5)
        who.append(p.i)
    x, y = np.concatenate(xs, axis=1).astype(np.float32), np.concatenate(ys, axis=1).astype(np.float32)
    ups = [dict(x=x[j], y=y[j]) for j in range(len(x))]
    trace = dict(type="scatter", mode="markers", xaxis=xa, yaxis=ya, showlegend=False, hoverinfo="skip",
                 marker=dict(color=colors, size=np.round(np.concatenate(sizes), 2),
                             opacity=np.round(np.concatenate(alphas), 3), line=dict(width=0)),
                 meta={"role": "tail", "series": who})
    return trace, ups


def _marker_trace(members: Sequence[_Prepared], xa: str, ya: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Current position of every run of ``members``, one animated trace; hover gives step, value, |∇f|."""
    xy, custom, colors, text, who = [], [], [], [], []
    for p in members:
        tr = p.s.trajectory
        runs = np.arange(tr.k)
        cur = p.cur
        xy.append(tr.params[cur, runs])  # (F, k, 2)
        custom.append(np.stack([tr.steps[cur].astype(np.float64), tr.values[cur, runs], tr.grad_norms[cur, runs]],
                               axis=-1))
        colors += [p.s.color] * tr.k
        text += [_esc(p.s.label) + (f" · run {r}" if tr.k > 1 else "") for r in runs]
        who += [p.i] * tr.k
    pos, cd = np.concatenate(xy, axis=1), np.concatenate(custom, axis=1)
    # Contiguous rows, so the figure's JSON encoder takes them as they are (a strided column it copies).
    px, py = np.ascontiguousarray(pos[..., 0]), np.ascontiguousarray(pos[..., 1])
    ups = [dict(x=px[j], y=py[j], customdata=cd[j]) for j in range(len(pos))]
    hover = dict(text=text, hovertemplate=("<b>%{text}</b><br>step %{customdata[0]}<br>x = %{x:.4g}, y = %{y:.4g}<br>"
                                           "f = %{customdata[1]:.4g}<br>|∇f| = %{customdata[2]:.3g}<extra></extra>"))
    trace = dict(type="scatter", mode="markers", xaxis=xa, yaxis=ya, showlegend=False,
                 marker=dict(size=14, color=colors, line=dict(width=2, color="#1A1A1A")),
                 meta={"role": "marker", "series": who}, **hover)
    return trace, ups


def _loss_marker_trace(prepared: Sequence[_Prepared], lx: str, ly: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every run's current point on its loss curve, one animated trace."""
    xs, ys, colors, who = [], [], [], []
    for p in prepared:
        tr = p.s.trajectory
        cur = p.cur
        xs.append(tr.steps[cur].astype(np.float64))
        ys.append(p.loss[cur, np.arange(tr.k)])
        colors += [p.s.color] * tr.k
        who += [p.i] * tr.k
    x, y = np.concatenate(xs, axis=1), np.concatenate(ys, axis=1)
    ups = [dict(x=x[j], y=y[j]) for j in range(len(x))]
    trace = dict(type="scatter", mode="markers", xaxis=lx, yaxis=ly, showlegend=False, hoverinfo="skip",
                 marker=dict(size=10, color=colors, line=dict(width=1.5, color="#1A1A1A")),
                 meta={"role": "loss-marker", "series": who})
    return trace, ups


def _loss_range(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        lo_l, hi_l = math.log10(max(lo, 1e-300)), math.log10(max(hi, 1e-300))
        if hi_l - lo_l < 1:
            lo_l, hi_l = lo_l - 0.5, hi_l + 0.5
        pad = 0.04 * (hi_l - lo_l)
        return [lo_l - pad, hi_l + pad]
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return [lo - pad, hi + pad]


# --------------------------------------------------------------------------------------------------------------
# 3-D view
# --------------------------------------------------------------------------------------------------------------
SURFACE_RESOLUTION = 150  # grid points per axis: each 3-D frame re-plots the whole surface (redraw: true)
MAX_STEP_DECADES = 0.3  # a log surface may rise by at most this many decades between neighbouring grid points
_PATH_LIFT = 0.012  # paths float this fraction of the surface's height range above it
_MARKER_LIFT = 0.03  # current markers a little higher, so their spheres are not half sunk into the surface
_TAIL_DOTS_3D = 8
_CAMERA_DISTANCE = 1.6  # scene units from the box's centre (plotly's default eye is 2.17 away)
_CAMERA_SEES = 0.9  # share of the surface's low ground the default camera must see
_SCENE_RIGHT, _SCENE_LOSS_LEFT = 0.62, 0.70
_SCENE_AXIS = dict(nticks=5, tickfont=dict(size=11), backgroundcolor="#FAFAF7", gridcolor="#DDDDDD",
                   showbackground=True)


def surface_height(values: np.ndarray, base: float, eps: float, log: bool) -> np.ndarray:
    """Height of the 3-D surface for function values: ``log10(max(f − base, 0) + eps)`` when ``log``, else ``f``.

    Parameters
    ----------
    values : ndarray, shape (...)
    base : float
        ``f*`` (or the lowest grid value when the minimum is unknown).
    eps : float
        > 0; rounds the log's plunge at the minimum (see :func:`smooth_eps`).
    log : bool

    Returns
    -------
    ndarray, same shape (NaN where ``values`` is not finite)
    """
    values = np.asarray(values, dtype=np.float64)
    if not log:
        return np.where(np.isfinite(values), values, np.nan)
    with np.errstate(all="ignore"):
        out = np.log10(np.maximum(values - base, 0.0) + eps)
    return np.where(np.isfinite(out), out, np.nan)


def _largest_step(z: np.ndarray) -> float:
    """Largest change between grid neighbours along either axis, NaN ignored (0 when none is finite)."""
    steps = [np.abs(np.diff(z, axis=a)) for a in (0, 1)]
    finite = [s[np.isfinite(s)] for s in steps]
    return max((float(s.max()) for s in finite if s.size), default=0.0)


def smooth_eps(gap: np.ndarray, max_step: float = MAX_STEP_DECADES) -> float:
    """The ε of ``log10(gap + ε)`` for a surface that the grid resolves.

    Why: near a minimum ``f − f* ≈ κd²/2`` and the log plunges into a crease of width ``sqrt(2ε/κ)``. With ε
    far below ``κh²`` (h the grid step) the crease falls between grid points, each row of the grid samples its
    floor at a different depth, and the surface is drawn as a sawtooth along the valley (the old figure's
    neighbours differed by 2.5 decades on Rosenbrock). The largest step between neighbours,
    ``h·sqrt(κ/2ε)/ln 10``, falls as ε grows, so the smallest ε on a ladder of eighth-decades from the top of
    the surface's range (``max gap``) down to ``1e-5`` of it whose steps stay within ``max_step`` decades is
    the one that keeps most of the surface's depth without teeth.

    Parameters
    ----------
    gap : ndarray, shape (g, g)
        ``f − f*`` on the grid (>= 0; NaN where undefined).
    max_step : float
        Decades.

    Returns
    -------
    float
        > 0. The top of the range itself when no ε on the ladder resolves the grid (a cliff sharper than it).
    """
    finite = gap[np.isfinite(gap)]
    top = float(finite.max()) if finite.size else 0.0
    if not top > 0:
        return 1.0
    ladder = top * 10.0 ** (-np.arange(41) / 8.0)  # top .. 1e-5·top

    def ok(k: int) -> bool:
        with np.errstate(all="ignore"):
            return _largest_step(np.log10(gap + ladder[k])) <= max_step

    if not ok(0):
        return top
    lo, hi = 0, len(ladder) - 1  # ok(lo) holds; the steps only grow as ε shrinks, so bisect for the last ok
    if ok(hi):
        return float(ladder[hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return float(ladder[lo])


@dataclass(frozen=True)
class SurfaceGrid:
    """The 3-D surface as drawn.

    Attributes
    ----------
    x, y : ndarray, shape (g,)
        Grid axes over the landscape's bounds.
    f : ndarray, shape (g, g)
        ``value`` on the grid (``f[i, j]`` at ``(x[j], y[i])``), NaN where not finite.
    z : ndarray, shape (g, g)
        Drawn height: ``surface_height(f, base, eps, log)``.
    base, eps : float
        Of :func:`surface_height`.
    log : bool
        The landscape's ``log_scale``.
    """

    x: np.ndarray
    y: np.ndarray
    f: np.ndarray
    z: np.ndarray
    base: float
    eps: float
    log: bool

    def height(self, values: np.ndarray) -> np.ndarray:
        """Drawn height of function values, same shape."""
        return surface_height(values, self.base, self.eps, self.log)

    def mesh_height(self, xy: np.ndarray) -> np.ndarray:
        """Height of the drawn mesh at points ``xy (..., 2)``: the higher of the two ways a cell can be split
        into triangles (plotly.js picks one), so a point above both is above the surface whichever is drawn.
        Points outside the grid take the nearest edge cell."""
        xy = np.asarray(xy, dtype=np.float64)
        g = len(self.x)
        fx = (xy[..., 0] - self.x[0]) / (self.x[-1] - self.x[0]) * (g - 1)
        fy = (xy[..., 1] - self.y[0]) / (self.y[-1] - self.y[0]) * (len(self.y) - 1)
        with np.errstate(invalid="ignore"):
            i = np.clip(np.floor(np.nan_to_num(fx)), 0, g - 2).astype(int)
            j = np.clip(np.floor(np.nan_to_num(fy)), 0, len(self.y) - 2).astype(int)
        u, v = np.clip(fx - i, 0.0, 1.0), np.clip(fy - j, 0.0, 1.0)
        z = self.z
        z00, z10, z01, z11 = z[j, i], z[j, i + 1], z[j + 1, i], z[j + 1, i + 1]
        main = np.where(u >= v, z00 + u * (z10 - z00) + v * (z11 - z10), z00 + v * (z01 - z00) + u * (z11 - z01))
        anti = np.where(u + v <= 1, z00 + u * (z10 - z00) + v * (z01 - z00),
                        z11 + (1 - u) * (z01 - z11) + (1 - v) * (z10 - z11))
        return np.fmax(main, anti)


_SURFACE_CACHE: dict[tuple[str, int, float], SurfaceGrid] = {}


def surface_grid(landscape: Landscape, resolution: int = SURFACE_RESOLUTION,
                 max_step: float = MAX_STEP_DECADES) -> SurfaceGrid:
    """The landscape sampled for the 3-D view; cached on ``repr(landscape)``.

    Log-scale landscapes are drawn as ``log10(f − f* + ε)`` with ε from :func:`smooth_eps`; others as ``f``.

    Parameters
    ----------
    landscape : Landscape
    resolution : int
        Grid points per axis.
    max_step : float
        Largest step between neighbours of a log surface, in decades.

    Returns
    -------
    SurfaceGrid
    """
    key = (repr(landscape), resolution, max_step)
    hit = _SURFACE_CACHE.get(key)
    if hit is not None:
        return hit
    (x0, x1), (y0, y1) = landscape.bounds
    x, y = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    with np.errstate(all="ignore"):
        f = np.asarray(landscape.value(np.stack(np.meshgrid(x, y), axis=-1)), dtype=np.float64)
    f = np.where(np.isfinite(f), f, np.nan)
    log = bool(landscape.log_scale)
    any_finite = bool(np.isfinite(f).any())
    base = landscape.f_min if math.isfinite(landscape.f_min) else (float(np.nanmin(f)) if any_finite else 0.0)
    eps = 0.0
    if log:
        with np.errstate(invalid="ignore"):
            eps = smooth_eps(np.maximum(f - base, 0.0), max_step)
    grid = SurfaceGrid(x, y, f, surface_height(f, base, eps, log), base, eps, log)
    if len(_SURFACE_CACHE) >= _CONTOUR_CACHE_SIZE:
        _SURFACE_CACHE.pop(next(iter(_SURFACE_CACHE)))
    _SURFACE_CACHE[key] = grid
    return grid


def _scene_box(grid: SurfaceGrid, zrange: Sequence[float], aspect: dict[str, float]):
    """Maps data ``(..., 3)`` to plotly's scene units: each axis range becomes ``[−aspect/2, aspect/2]``
    (gl-plot3d's model matrix), the units ``camera.eye`` is given in."""
    lo = np.array([grid.x[0], grid.y[0], zrange[0]])
    hi = np.array([grid.x[-1], grid.y[-1], zrange[1]])
    a = np.array([aspect["x"], aspect["y"], aspect["z"]])
    return lambda p: (np.asarray(p, dtype=np.float64) - (lo + hi) / 2) / (hi - lo) * a


def visible_from(grid: SurfaceGrid, points: np.ndarray, eye: np.ndarray, zrange: Sequence[float],
                 aspect: dict[str, float], samples: int = 96) -> np.ndarray:
    """Which data points ``(n, 3)`` the camera at ``eye`` (scene units) sees over the drawn mesh.

    Marches along each sight line from the point to the eye; the point is hidden when the line passes under
    the mesh anywhere inside the box (a ray tracer with the mesh as the only occluder; the perspective
    camera's lines of sight all meet at the eye).

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    to_scene = _scene_box(grid, zrange, aspect)
    lo = np.array([grid.x[0], grid.y[0], zrange[0]])
    hi = np.array([grid.x[-1], grid.y[-1], zrange[1]])
    a = np.array([aspect["x"], aspect["y"], aspect["z"]])
    p = to_scene(points)  # (n, 3)
    t = np.linspace(0.0, 1.0, samples + 1)[1:] ** 2  # denser near the point, where occluders matter most
    ray = p[:, None, :] + t[None, :, None] * (np.asarray(eye, dtype=np.float64) - p)[:, None, :]  # (n, s, 3)
    data = (ray / a) * (hi - lo) + (lo + hi) / 2
    inside = ((data[..., 0] >= lo[0]) & (data[..., 0] <= hi[0]) & (data[..., 1] >= lo[1]) & (data[..., 1] <= hi[1]))
    surf = to_scene(np.stack([data[..., 0], data[..., 1], grid.mesh_height(data[..., :2])], axis=-1))[..., 2]
    below = inside & (ray[..., 2] < surf - 1e-3 * a[2])
    return ~below.any(axis=1)


def default_camera(grid: SurfaceGrid, zrange: Sequence[float], aspect: dict[str, float]) -> dict[str, Any]:
    """A camera that sees into the surface's low ground, where the paths go.

    The paths lie in valleys, and a log surface's valleys are steep-walled, so a low camera looks at their
    walls. Azimuths every 45° are tried at rising elevations (35° to 80°), from the front (−y, so x runs left
    to right as on the map) outwards; the first that sees :data:`_CAMERA_SEES` of the lowest tenth of the grid
    over the mesh (:func:`visible_from`) is taken, else the one that sees the most. The camera depends on the
    surface only, so adding an optimizer does not turn the view.

    Returns
    -------
    dict
        ``{"eye", "center", "up"}`` for ``layout.scene.camera``.
    """
    z = grid.z
    ok = np.isfinite(z)
    up, center = dict(x=0, y=0, z=1), dict(x=0, y=0, z=-0.12)
    if not ok.any():
        return dict(eye=dict(x=1.25, y=1.25, z=1.25), center=center, up=up)
    low = ok & (z <= np.quantile(z[ok], 0.10))
    jj, ii = np.nonzero(low)
    pick = np.linspace(0, len(ii) - 1, min(len(ii), 200)).round().astype(int)
    lift = _PATH_LIFT * (zrange[1] - zrange[0])
    pts = np.stack([grid.x[ii[pick]], grid.y[jj[pick]], z[jj[pick], ii[pick]] + lift], axis=1)
    best = None
    for elev_deg in (35.0, 45.0, 55.0, 65.0, 80.0):
        elev = math.radians(elev_deg)
        for k in (6, 5, 7, 4, 0, 3, 1, 2):  # from the front (−y) outwards, so ties keep the familiar view
            az = math.radians(45.0 * k)
            eye = _CAMERA_DISTANCE * np.array([math.cos(elev) * math.cos(az), math.cos(elev) * math.sin(az),
                                               math.sin(elev)])
            score = float(visible_from(grid, pts, eye, zrange, aspect, samples=40).mean())
            if best is None or score > best[0]:
                best = (score, eye)
            if score >= _CAMERA_SEES:
                break
        if best[0] >= _CAMERA_SEES:
            break
    eye = best[1]
    return dict(eye=dict(x=round(float(eye[0]), 4), y=round(float(eye[1]), 4), z=round(float(eye[2]), 4)),
                center=center, up=up)


def _lifted(grid: SurfaceGrid, xy: np.ndarray, values: np.ndarray, lift: float) -> np.ndarray:
    """Height of path points ``xy (..., 2)`` with values ``(...)``: on the surface (or on the drawn mesh where
    that is higher, between grid points) plus ``lift``."""
    return np.fmax(grid.height(values), grid.mesh_height(xy)) + lift


def surface_3d_figure(
    landscape: Landscape,
    series: Sequence[Series],
    *,
    loss_scale: str = "log",
    max_frames: int = 90,
    tail: int = 10,
    frame_ms: int = 80,
    height: int = FIGURE_HEIGHT,
) -> go.Figure:
    """The surface in 3-D with every path floating just above it, and the loss curves beside it.

    The surface is :func:`surface_grid` (``log10(f − f* + ε)`` for log-scale landscapes). Paths and markers
    are drawn :data:`_PATH_LIFT` of the height range above the drawn mesh, and the camera comes from
    :func:`default_camera`. Frames move only the current markers, their short tails (3-D) and the loss
    markers, so the payload grows linearly with the number of frames. The controls are the 2-D figure's and
    :func:`viz.player.use_player` accepts the layout, but 3-D frames need ``redraw: true`` (plotly.js replots
    only "animatable" traces otherwise, and scatter3d is not): the frame player must pass the Play button's
    ``redraw`` to ``Plotly.animate`` before the page can give this figure its buttons.

    Parameters
    ----------
    landscape : Landscape
    series : sequence of Series
        Trajectories with ``params (R, k, 2)``.
    loss_scale : {"log", "linear"}
    max_frames : int
    tail : int
        Length of the dotted tail, in frames.
    frame_ms : int
        Milliseconds per frame while playing.
    height : int
        Figure height in pixels.

    Returns
    -------
    go.Figure
        Traces carry ``meta={"role": ...}``: ``surface`` (with ``base``, ``eps``, ``log``), ``critical``,
        ``path`` and ``loss`` per series, ``start``, ``loss-stop``, and the animated ``tail``, ``marker`` and
        ``loss-marker``.

    Raises
    ------
    ValueError
        On no series, a bad loss scale or tail, or trajectories that are not 2-D.
    """
    _check_series(series, loss_scale, tail)
    log = loss_scale == "log"
    grid = surface_grid(landscape)
    (x0, x1), (y0, y1) = landscape.bounds
    zs = grid.z[np.isfinite(grid.z)]
    zlo, zhi = (float(zs.min()), float(zs.max())) if zs.size else (0.0, 1.0)
    span = max(zhi - zlo, 1e-12)
    lift, mlift = _PATH_LIFT * span, _MARKER_LIFT * span
    zrange = [zlo - 0.02 * span, zhi + 0.08 * span]
    xy_ratio = (y1 - y0) / (x1 - x0)
    aspect = dict(x=1.0, y=round(xy_ratio, 4) if 1 / 3 <= xy_ratio <= 3 else 1.0, z=0.55)

    steps_f = frame_steps(series, max_frames)
    floor_base = min(float(np.min(s.trajectory.values)) for s in series) if log else None
    any_nonpos = floor_base is not None and floor_base <= 0
    lx, ly = "x", "y"

    data: list[dict[str, Any]] = [dict(
        type="surface", x=grid.x, y=grid.y, z=grid.z.astype(np.float32), colorscale=palette.SURFACE_COLORSCALE,
        showscale=False, cmin=zlo, cmax=zhi,
        lighting=dict(ambient=0.72, diffuse=0.55, specular=0.06, roughness=0.9, fresnel=0.05),
        contours=dict(z=dict(show=True, start=zlo, end=zhi, size=span / 14, color="rgba(40,40,40,0.28)", width=1,
                             usecolormap=False)),
        hovertemplate=f"(%{{x:.3g}}, %{{y:.3g}})<br>{_height_label(landscape, grid)} = %{{z:.3g}}<extra></extra>",
        meta={"role": "surface", "base": grid.base, "eps": grid.eps, "log": grid.log},
    )]
    crit = [c for c in landscape.minima if c.kind in ("global", "local", "saddle")]
    if crit:
        pts = np.array([c.point for c in crit], dtype=np.float64)
        data.append(dict(
            type="scatter3d", mode="markers", x=pts[:, 0], y=pts[:, 1],
            z=_lifted(grid, pts, np.array([c.value for c in crit]), mlift), showlegend=False,
            marker=dict(symbol=["diamond" if c.kind != "saddle" else "cross" for c in crit], size=6,
                        color=[palette.SADDLE_COLOR if c.kind == "saddle" else palette.MINIMUM_COLOR for c in crit]),
            text=[f"{c.kind} {'point' if c.kind == 'saddle' else 'minimum'}<br>f = {c.value:.6g}" for c in crit],
            hovertemplate="%{text}<br>(%{x:.4g}, %{y:.4g})<extra></extra>", meta={"role": "critical"},
        ))

    prepared: list[_Prepared] = []
    loss_lo, loss_hi = np.inf, -np.inf
    starts, s_col = [], []
    for i, s in enumerate(series):
        tr = s.trajectory
        last = last_records(tr)
        idx = np.clip(np.searchsorted(tr.steps, steps_f, side="right") - 1, 0, None)
        loss_all = loss_for_plot(tr.values, landscape.f_min, log, floor_base)
        chunks = []
        for r in range(tr.k):
            xy = tr.params[: last[r] + 1, r]
            chunks.append(np.column_stack([xy, _lifted(grid, xy, tr.values[: last[r] + 1, r], lift)]))
            seg = loss_all[: last[r] + 1, r]
            loss_lo, loss_hi = min(loss_lo, float(seg.min())), max(loss_hi, float(seg.max()))
        path = _join_runs(chunks)
        data.append(dict(type="scatter3d", x=path[:, 0], y=path[:, 1], z=path[:, 2], mode="lines", name=s.label,
                         legendgroup=f"s{i}", line=dict(color=s.color, width=5, dash="dash" if s.dashed else "solid"),
                         hoverinfo="skip", meta={"role": "path", "series": i}))
        data.append(_loss_trace(i, s, lx, ly, last, loss_all, legend=False))
        starts.append(np.column_stack([tr.params[0], _lifted(grid, tr.params[0], tr.values[0], lift)]))
        s_col += [s.color] * tr.k
        prepared.append(_Prepared(i, s, last, idx, loss_all))
    start = np.concatenate(starts)
    data.append(dict(type="scatter3d", mode="markers", x=start[:, 0], y=start[:, 1], z=start[:, 2], showlegend=False,
                     marker=dict(symbol="circle-open", size=7, color=s_col, line=dict(width=2)), hoverinfo="skip",
                     meta={"role": "start", "series": [p.i for p in prepared for _ in range(p.s.trajectory.k)]}))
    stop_trace = _loss_stop_trace(prepared, lx, ly)
    if stop_trace is not None:
        data.append(stop_trace)

    dyn_start = len(data)
    frame_cols: list[list[dict[str, Any]]] = []
    for trace, ups in (_tail_trace_3d(prepared, grid, tail, lift), _marker_trace_3d(prepared, grid, mlift),
                       _loss_marker_trace(prepared, lx, ly)):
        data.append({**trace, **ups[0]})
        frame_cols.append(ups)
    dyn_idx = list(range(dyn_start, len(data)))
    frames = [dict(name=str(int(st)), data=[col[j] for col in frame_cols], traces=dyn_idx)
              for j, st in enumerate(steps_f)]

    lay: dict[str, Any] = {
        "scene": dict(
            domain=dict(x=[0.0, _SCENE_RIGHT], y=[0.0, 1.0]),
            xaxis=dict(title=dict(text="x", font=dict(size=13)), range=[x0, x1], autorange=False, **_SCENE_AXIS),
            yaxis=dict(title=dict(text="y", font=dict(size=13)), range=[y0, y1], autorange=False, **_SCENE_AXIS),
            # The height's formula is long for an axis title that turns with the camera; it is written flat
            # in the corner instead (annotation below).
            zaxis=dict(title=dict(text=""), range=zrange, autorange=False, **_SCENE_AXIS),
            aspectmode="manual", aspectratio=aspect, camera=default_camera(grid, zrange, aspect),
            uirevision=repr(landscape),
        ),
        _layout_key(lx): dict(domain=[_SCENE_LOSS_LEFT, 1.0], anchor=ly, showgrid=True, zeroline=False,
                              title=dict(text="step", standoff=_X_TITLE_STANDOFF),
                              range=[0, max(int(steps_f[-1]), 1)], autorange=False),
        _layout_key(ly): _loss_yaxis(lx, landscape, log, any_nonpos, _loss_range(loss_lo, loss_hi, log)),
    }
    lay["annotations"] = [dict(
        text=f"height: {_height_label(landscape, grid)}", xref="paper", yref="paper", x=_SCENE_RIGHT, y=1.0,
        xanchor="right", yanchor="top", showarrow=False, font=dict(size=13, color="#555555"))]
    lay.update(animation_controls([f["name"] for f in frames], frame_ms, redraw=True))
    lay.update(_frame_layout(landscape, height, suffix=" · 3-D"))
    return AnimatedFigure(data, palette.merge_theme(lay), frames)


def _height_label(landscape: Landscape, grid: SurfaceGrid, short: bool = False) -> str:
    if not grid.log:
        return "f"
    star = "f*" if math.isfinite(landscape.f_min) else "min f"
    return f"log₁₀(f − {star} + ε)" if short else f"log₁₀(f − {star} + {grid.eps:.2g})"


def _tail_trace_3d(members: Sequence[_Prepared], grid: SurfaceGrid, tail: int,
                   lift: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Short dotted tails of every run in one scatter3d trace; frames carry only their x, y, z."""
    xs, ys, zs, colors, sizes = [], [], [], [], []
    for p in members:
        tr = p.s.trajectory
        rec = _tail_records(p, tail, _TAIL_DOTS_3D)  # (F, k, n)
        runs = np.arange(tr.k)[None, :, None]
        pts = tr.params[rec, runs]  # (F, k, n, 2)
        z = _lifted(grid, pts, tr.values[rec, runs], lift)
        n = rec.shape[2]
        xs.append(pts[..., 0].reshape(len(rec), -1))
        ys.append(pts[..., 1].reshape(len(rec), -1))
        zs.append(z.reshape(len(rec), -1))
        colors += [p.s.color] * (tr.k * n)
        sizes.append(np.tile(np.linspace(1.5, 4.5, n), tr.k))
    x, y, z = (np.concatenate(a, axis=1).astype(np.float32) for a in (xs, ys, zs))
    ups = [dict(x=x[j], y=y[j], z=z[j]) for j in range(len(x))]
    trace = dict(type="scatter3d", mode="markers", showlegend=False, hoverinfo="skip",
                 marker=dict(color=colors, size=np.round(np.concatenate(sizes), 2), line=dict(width=0)),
                 meta={"role": "tail", "series": [p.i for p in members]})
    return trace, ups


def _marker_trace_3d(members: Sequence[_Prepared], grid: SurfaceGrid,
                     lift: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Current point of every run, one animated scatter3d trace; hover gives step, value, |∇f|."""
    xyz, custom, colors, text, who = [], [], [], [], []
    for p in members:
        tr = p.s.trajectory
        runs = np.arange(tr.k)
        cur = p.cur
        pos = tr.params[cur, runs]  # (F, k, 2)
        xyz.append(np.concatenate([pos, _lifted(grid, pos, tr.values[cur, runs], lift)[..., None]], axis=-1))
        custom.append(np.stack([tr.steps[cur].astype(np.float64), tr.values[cur, runs], tr.grad_norms[cur, runs]],
                               axis=-1))
        colors += [p.s.color] * tr.k
        text += [_esc(p.s.label) + (f" · run {r}" if tr.k > 1 else "") for r in runs]
        who += [p.i] * tr.k
    pos, cd = np.concatenate(xyz, axis=1), np.concatenate(custom, axis=1)
    px, py, pz = (np.ascontiguousarray(pos[..., c]) for c in range(3))
    ups = [dict(x=px[j], y=py[j], z=pz[j], customdata=cd[j]) for j in range(len(pos))]
    trace = dict(type="scatter3d", mode="markers", showlegend=False, text=text,
                 marker=dict(size=9, color=colors, line=dict(width=1.5, color="#1A1A1A")),
                 hovertemplate=("<b>%{text}</b><br>step %{customdata[0]}<br>x = %{x:.4g}, y = %{y:.4g}<br>"
                                "f = %{customdata[1]:.4g}<br>|∇f| = %{customdata[2]:.3g}<extra></extra>"),
                 meta={"role": "marker", "series": who})
    return trace, ups


def figure_bytes(fig: go.Figure) -> int:
    """Size of ``fig.to_json()`` in bytes: what the browser receives."""
    return len(fig.to_json().encode("utf-8"))


def escape_arrows(series: Sequence[Series], bounds: tuple[tuple[float, float], tuple[float, float]],
                  length: float = 0.2) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Arrows showing where runs that diverged or left the window were heading.

    Parameters
    ----------
    series : sequence of Series
    bounds : ((xmin, xmax), (ymin, ymax))
    length : float
        Arrow length as a fraction of the window diagonal (shortened to stay inside the window).

    Returns
    -------
    list of (series index, tail (2,), head (2,))
        The tail is the run's last good point; the head points along the failed step.
    """
    b = np.asarray(bounds, dtype=np.float64)
    lo, hi = b[:, 0], b[:, 1]
    reach = length * float(np.hypot(*(hi - lo)))
    out = []
    for i, s in enumerate(series):
        tr = s.trajectory
        if tr.escape is None or tr.params.shape[-1] != 2:
            continue
        for r in np.flatnonzero(np.isfinite(tr.escape).any(axis=1) | np.isinf(tr.escape).any(axis=1)):
            start = tr.params[tr.last_record(int(r)), r]
            if not ((start >= lo) & (start <= hi)).all():
                continue  # already outside the view: the drawn path shows it leaving
            with np.errstate(all="ignore"):
                step = np.nan_to_num(tr.escape[r] - start, nan=0.0, posinf=1.0, neginf=-1.0)
                norm = float(np.hypot(*(step / max(np.abs(step).max(), 1e-300))))
                unit = step / max(np.abs(step).max(), 1e-300) / norm if norm > 0 else None
            if unit is None or not np.isfinite(unit).all():
                continue
            # Shorten the arrow so its head stays inside the window.
            room = [((hi[j] if unit[j] > 0 else lo[j]) - start[j]) / unit[j] for j in range(2) if unit[j] != 0]
            head = start + unit * max(0.0, min([reach, *room]))
            if np.hypot(*(head - start)) > 1e-9 * reach:
                out.append((i, start, head))
    return out
