"""Figures for the network page: pure functions from arrays to plotly figures.

The page turns ``nets.train`` trajectories into :class:`NetSeries`, optional
:class:`BoundaryData` (class probabilities on a grid, one grid per animation
frame) and :class:`SliceData` (a 2-D landscape slice with projected paths),
and these builders draw them. Nothing here imports streamlit or nets.

Contour and decision-boundary lines are drawn as scatter traces (computed with
contourpy): plotly ``contour``/``heatmap`` traces vanish during
``redraw: false`` animations.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import contourpy
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.palette import BASE_FONT_SIZE, CONTOUR_COLORSCALE, MUTED_TEXT_COLOR, hex_to_rgba, merge_theme
from viz.surface_figure import AnimatedFigure

CLASS_COLORS = ["#4477AA", "#EE7733", "#228833", "#AA3377", "#66CCEE"]
CLASS_SYMBOLS = ["circle", "x", "diamond", "square", "triangle-up"]
FORBIDDEN_TRACE_TYPES = ("contour", "heatmap", "histogram2dcontour")


@dataclass(frozen=True)
class NetSeries:
    """One optimizer's training runs, one column per seed.

    Attributes
    ----------
    label, color : str
    epochs : ndarray of int, shape (R,)
        Epoch of each record (0 = before training).
    train_loss, train_acc : ndarray, shape (R, s)
        Per record and seed; accuracy in [0, 1].
    test_loss, test_acc : ndarray, shape (R, s), optional
        ``None`` when there is no test split.
    layer_grad_norms : ndarray, shape (R, L), optional
        Gradient norm of each layer for the first seed.
    saturation, dead : ndarray, shape (R,), optional
        Fraction of saturated sigmoid/tanh units and of dead ReLUs (first seed).
    score_name : str
        What ``train_acc``/``test_acc`` hold: ``"accuracy"`` (a share, drawn in %) or ``"R²"`` (regression,
        drawn as it is).
    """

    label: str
    color: str
    epochs: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_loss: np.ndarray | None = None
    test_acc: np.ndarray | None = None
    layer_grad_norms: np.ndarray | None = None
    saturation: np.ndarray | None = None
    dead: np.ndarray | None = None
    score_name: str = "accuracy"

    @property
    def percent(self) -> bool:
        """Whether the score is a share drawn in percent."""
        return self.score_name == "accuracy"

    @property
    def n_seeds(self) -> int:
        return int(np.asarray(self.train_loss).shape[1])


@dataclass(frozen=True)
class BoundaryData:
    """Class probabilities of one network on a 2-D grid, one grid per frame.

    Attributes
    ----------
    xs : ndarray, shape (nx,)
    ys : ndarray, shape (ny,)
    probs : ndarray, shape (F, ny, nx, C)
        ``C = 1`` for a sigmoid output (probability of class 1), else one
        column per class. ``F`` equals the number of animation frames
        (see :func:`frame_indices`).
    points : ndarray, shape (n, 2)
        Training points in the same coordinates.
    labels : ndarray of int, shape (n,)
    series_label : str
        Whose boundary this is.
    xlabel, ylabel : str
    class_names : tuple of str
    """

    xs: np.ndarray
    ys: np.ndarray
    probs: np.ndarray
    points: np.ndarray
    labels: np.ndarray
    series_label: str = ""
    xlabel: str = "x₁"
    ylabel: str = "x₂"
    class_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class SliceData:
    """A 2-D slice of the training loss with each optimizer's projected path.

    Attributes
    ----------
    alphas : ndarray, shape (nx,)
    betas : ndarray, shape (ny,)
    values : ndarray, shape (ny, nx)
        Loss at ``center + alpha * d1 + beta * d2``.
    paths : list of ndarray, each shape (R, 2), optional entries None
        Projection of each series' first-seed path, same order as the series.
    title : str
    """

    alphas: np.ndarray
    betas: np.ndarray
    values: np.ndarray
    paths: Sequence[np.ndarray | None]
    title: str = "loss landscape slice"


# -- helpers -----------------------------------------------------------------


def frame_indices(n_records: int, max_frames: int = 100) -> np.ndarray:
    """Record indices shown as animation frames: evenly spread, first and last included.

    Parameters
    ----------
    n_records : int
    max_frames : int

    Returns
    -------
    ndarray of int, shape (F,), F <= max_frames
    """
    if n_records < 1:
        raise ValueError("need at least one record to animate")
    if max_frames < 2:
        raise ValueError(f"max_frames must be >= 2, got {max_frames}")
    return np.unique(np.linspace(0, n_records - 1, min(n_records, max_frames)).round().astype(int))


def percentile_band(curves: np.ndarray, low: float = 10.0, high: float = 90.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and ``low``–``high`` percentile band across seeds.

    Parameters
    ----------
    curves : ndarray, shape (R, s)

    Returns
    -------
    median, lo, hi : ndarray, each shape (R,)
    """
    c = np.asarray(curves, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"curves must be (records, seeds), got shape {c.shape}")
    lo, med, hi = np.percentile(c, [low, 50.0, high], axis=1)
    return med, lo, hi


def _lines_xy(lines: Sequence[np.ndarray]) -> tuple[list[float | None], list[float | None]]:
    """contourpy line segments -> x, y lists with None breaks (one scatter trace)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for seg in lines:
        if len(seg) < 2:
            continue
        xs.extend(np.round(seg[:, 0], 5).tolist())
        ys.extend(np.round(seg[:, 1], 5).tolist())
        xs.append(None)
        ys.append(None)
    return xs, ys


def boundary_margin(probs: np.ndarray) -> np.ndarray:
    """Per class, ``p_c - max_{j != c} p_j``; its zero set is that class's region edge.

    For a sigmoid output (C = 1) this is ``2p - 1``: zero exactly where p = 0.5.

    Parameters
    ----------
    probs : ndarray, shape (..., C)

    Returns
    -------
    ndarray, shape (..., C') with C' = 1 for binary problems, else C.
    """
    p = np.asarray(probs, dtype=float)
    if p.shape[-1] == 1:
        return 2.0 * p - 1.0
    if p.shape[-1] == 2:
        return (p[..., 1] - p[..., 0])[..., None]
    out = np.empty_like(p)
    for c in range(p.shape[-1]):
        others = np.delete(p, c, axis=-1).max(axis=-1)
        out[..., c] = p[..., c] - others
    return out


def boundary_lines(xs: np.ndarray, ys: np.ndarray, probs: np.ndarray) -> tuple[list[float | None], list[float | None]]:
    """Decision-boundary polylines of one grid of class probabilities.

    Parameters
    ----------
    xs : ndarray, shape (nx,)
    ys : ndarray, shape (ny,)
    probs : ndarray, shape (ny, nx, C)

    Returns
    -------
    x, y : list
        Points of the boundary with ``None`` between pieces.
    """
    margin = boundary_margin(probs)
    bx: list[float | None] = []
    by: list[float | None] = []
    for c in range(margin.shape[-1]):
        z = margin[..., c]
        if not (np.nanmin(z) < 0.0 < np.nanmax(z)):
            continue
        gen = contourpy.contour_generator(xs, ys, z, name="serial")
        x, y = _lines_xy(gen.lines(0.0))
        bx.extend(x)
        by.extend(y)
    return bx, by


def contour_line_traces(alphas: np.ndarray, betas: np.ndarray, values: np.ndarray, *, n_levels: int = 14,
                        xaxis: str = "x", yaxis: str = "y") -> list[go.Scatter]:
    """Contour lines of a grid as one scatter trace per level.

    Levels are spaced evenly in ``log(value - min)`` so both the basin and the
    walls get lines. Colours follow the shared palette's contour scale.
    """
    z = np.asarray(values, dtype=float)
    finite = np.isfinite(z)
    if not finite.any():
        return []
    zmin, zmax = float(z[finite].min()), float(z[finite].max())
    if zmax <= zmin:
        return []
    z = np.where(finite, z, zmax)
    span = zmax - zmin
    levels = zmin + span * (np.geomspace(1e-3, 1.0, n_levels) - 1e-3 * 0.5)
    gen = contourpy.contour_generator(alphas, betas, z, name="serial")
    traces = []
    for i, lev in enumerate(levels):
        x, y = _lines_xy(gen.lines(float(lev)))
        if not x:
            continue
        col = _scale_color(i / max(n_levels - 1, 1))
        traces.append(go.Scatter(x=x, y=y, mode="lines", line=dict(color=col, width=1), hoverinfo="skip",
                                 showlegend=False, name=f"loss = {lev:.3g}", xaxis=xaxis, yaxis=yaxis))
    return traces


def _scale_color(t: float) -> str:
    stops = CONTOUR_COLORSCALE
    for (p0, c0), (p1, c1) in itertools.pairwise(stops):
        if t <= float(p1):
            w = (t - float(p0)) / max(float(p1) - float(p0), 1e-12)
            a = [int(str(c0)[j : j + 2], 16) for j in (1, 3, 5)]
            b = [int(str(c1)[j : j + 2], 16) for j in (1, 3, 5)]
            return "#" + "".join(f"{round(u + w * (v - u)):02X}" for u, v in zip(a, b, strict=True))
    return str(stops[-1][1])


def _loss_log_ok(series: Sequence[NetSeries]) -> bool:
    for s in series:
        for arr in (s.train_loss, s.test_loss):
            if arr is not None and not (np.asarray(arr) > 0).all():
                return False
    return True


def _ax(fig: go.Figure, row: int, col: int) -> tuple[str, str]:
    """The ``x``/``y`` axis ids of a subplot cell (e.g. ``("x3", "y3")``)."""
    sp = fig.get_subplot(row, col)
    return sp.xaxis.plotly_name.replace("axis", ""), sp.yaxis.plotly_name.replace("axis", "")


# -- the animated training figure ------------------------------------------


def training_figure(
    series: Sequence[NetSeries],
    *,
    boundary: BoundaryData | None = None,
    landscape: SliceData | None = None,
    max_frames: int = 100,
    tail: int = 15,
    frame_ms: int = 60,
    loss_scale: str = "log",
    height: int = 820,
    loss_name: str = "loss",
    reference_loss: float | None = None,
    reference_label: str = "",
) -> go.Figure:
    """Loss, accuracy, decision boundary and landscape slice, driven by one epoch slider.

    Curves show the first seed of each series. The full curves are drawn once;
    frames move only a marker per curve, the boundary line and the path tails,
    so the JSON grows linearly in the number of frames. Everything a frame moves is
    a markers trace or a plain polyline (``line.simplify`` off), which the frame
    player (:mod:`viz.player`) draws itself; only the "no boundary" note goes
    through ``Plotly.animate``, on the frames where its text changes. Animated
    traces carry ``meta.role``: ``loss-epoch``, ``acc-epoch``, ``boundary``,
    ``boundary-note``, ``tail`` and ``marker`` (the slice's current points).

    Parameters
    ----------
    series : sequence of NetSeries
        All with the same ``epochs``.
    boundary : BoundaryData, optional
        ``probs`` must have one grid per frame (``len(frame_indices(R, max_frames))``).
    landscape : SliceData, optional
    max_frames : int
    tail : int
        Path records shown behind the current marker on the slice.
    frame_ms : int
        Milliseconds per frame while playing.
    loss_scale : {"log", "linear"}
        Log falls back to linear when a loss is not positive.
    height : int
    loss_name : str
        Y label of the loss panel, e.g. "cross-entropy".
    reference_loss : float, optional
        Drawn as a dashed grey line on the loss panel (e.g. the loss of predicting the class shares,
        ln 3 on balanced Iris: where a stalled network sits).
    reference_label : str

    Returns
    -------
    go.Figure
    """
    if not series:
        raise ValueError("need at least one optimizer to plot")
    epochs = np.asarray(series[0].epochs)
    for s in series:
        if np.asarray(s.epochs).shape != epochs.shape:
            raise ValueError("all series must share the same recorded epochs")
    fidx = frame_indices(len(epochs), max_frames)
    if boundary is not None and np.asarray(boundary.probs).shape[0] != len(fidx):
        raise ValueError(f"boundary has {np.asarray(boundary.probs).shape[0]} grids, expected one per frame ({len(fidx)})")
    log_y = loss_scale == "log" and _loss_log_ok(series)

    bottom = boundary is not None or landscape is not None
    rows = 2 if bottom else 1
    b_title = f"boundary — {boundary.series_label}" if boundary is not None else "decision boundary (2-D data only)"
    l_title = landscape.title if landscape is not None else "loss landscape slice (off)"
    score, pct = series[0].score_name, series[0].percent
    titles = [loss_name + " (train solid, test dotted)", f"{score} (train solid, test dotted)"]
    if bottom:
        titles += [b_title, l_title]
    # Wide enough that the slice's y-axis title clears the boundary panel on a 1280-px projector.
    fig = make_subplots(rows=rows, cols=2, subplot_titles=titles, horizontal_spacing=0.13,
                        vertical_spacing=0.13 if bottom else 0.1)

    traces: list[go.BaseTraceType] = []
    animated: list[int] = []  # trace indices each frame updates, in order
    frame_data: list[list[dict]] = [[] for _ in fidx]

    def add(tr: go.BaseTraceType, per_frame: list[dict] | None = None) -> None:
        traces.append(tr)
        if per_frame is not None:
            animated.append(len(traces) - 1)
            for f, d in enumerate(per_frame):
                frame_data[f].append(d)

    # curves: static full lines, plus one moving-marker trace per panel (all optimizers in it,
    # so a frame updates few traces)
    colors = [s.color for s in series]
    for col, (train_attr, test_attr, to_pct) in enumerate(
        [("train_loss", "test_loss", False), ("train_acc", "test_acc", pct)], start=1
    ):
        xa, ya = _ax(fig, 1, col)
        heads = []
        for s in series:
            for attr, dash in ((train_attr, "solid"), (test_attr, "dot")):
                arr = getattr(s, attr)
                if arr is None:
                    continue
                y = np.asarray(arr, dtype=float)[:, 0] * (100.0 if to_pct else 1.0)
                which = "train" if attr.startswith("train") else "test"
                add(go.Scatter(x=epochs, y=y, mode="lines", line=dict(color=s.color, width=2.2, dash=dash),
                               name=s.label, legendgroup=s.label, showlegend=(col == 1 and which == "train"),
                               hovertemplate=f"{s.label} ({which})<br>epoch %{{x}}<br>%{{y:.4g}}<extra></extra>",
                               xaxis=xa, yaxis=ya))
                if which == "train":
                    heads.append(y)
        hy = np.stack(heads)  # (n_series, R)
        per = [dict(x=[int(epochs[i])] * len(series), y=hy[:, i].tolist()) for i in fidx]
        add(go.Scatter(x=per[0]["x"], y=per[0]["y"], mode="markers", name="current epoch", showlegend=False,
                       marker=dict(color=colors, size=10, line=dict(color="white", width=1.5)),
                       hoverinfo="skip", xaxis=xa, yaxis=ya, meta={"role": ("loss-epoch", "acc-epoch")[col - 1]}),
            per)

    if reference_loss is not None and np.isfinite(reference_loss) and (reference_loss > 0 or not log_y):
        xa, ya = _ax(fig, 1, 1)
        add(go.Scatter(x=[int(epochs[0]), int(epochs[-1])], y=[reference_loss] * 2, mode="lines",
                       line=dict(color="#888888", width=1.5, dash="dash"), name=reference_label or "reference",
                       hovertemplate=f"{reference_label}: {reference_loss:.4g}<extra></extra>", xaxis=xa, yaxis=ya))

    if bottom:
        xa, ya = _ax(fig, 2, 1)
        if boundary is not None:
            pts = np.asarray(boundary.points, dtype=float)
            lab = np.asarray(boundary.labels).astype(int)
            for c in np.unique(lab):
                name = boundary.class_names[c] if c < len(boundary.class_names) else f"class {c}"
                m = lab == c
                add(go.Scatter(x=pts[m, 0], y=pts[m, 1], mode="markers", name=name,
                               marker=dict(color=CLASS_COLORS[c % len(CLASS_COLORS)], size=7,
                                           symbol=CLASS_SYMBOLS[c % len(CLASS_SYMBOLS)],
                                           line=dict(color="white", width=0.5)),
                               legendgroup="classes", legendgrouptitle_text="classes",
                               hovertemplate=f"{name}<br>(%{{x:.3g}}, %{{y:.3g}})<extra></extra>",
                               xaxis=xa, yaxis=ya))
            per, per_msg = [], []
            probs = np.asarray(boundary.probs, dtype=float)
            cx = float(boundary.xs[0] + 0.5 * (boundary.xs[-1] - boundary.xs[0]))
            cy = float(boundary.ys[0] + 0.97 * (boundary.ys[-1] - boundary.ys[0]))
            for f in range(len(fidx)):
                bx, by = boundary_lines(boundary.xs, boundary.ys, probs[f])
                per.append(dict(x=bx or [None], y=by or [None]))
                # An empty panel would look like a bug: say why there is no line.
                per_msg.append(dict(x=[cx], y=[cy], text=[
                    "" if bx else f"no boundary in view: predicts {_majority_name(probs[f], boundary.class_names)} everywhere"]))
            # simplify=False: plotly draws every point, so the frame player can write the same path itself.
            add(go.Scatter(x=per[0]["x"], y=per[0]["y"], mode="lines", name="decision boundary",
                           line=dict(color="#111111", width=2.5, simplify=False), hoverinfo="skip", xaxis=xa,
                           yaxis=ya, meta={"role": "boundary"}), per)
            add(go.Scatter(x=per_msg[0]["x"], y=per_msg[0]["y"], text=per_msg[0]["text"], mode="text",
                           textposition="bottom center", textfont=dict(color=MUTED_TEXT_COLOR, size=BASE_FONT_SIZE - 2),
                           showlegend=False, hoverinfo="skip", xaxis=xa, yaxis=ya, meta={"role": "boundary-note"}),
                per_msg)
            fig.update_xaxes(range=[float(boundary.xs[0]), float(boundary.xs[-1])], title_text=boundary.xlabel,
                             row=2, col=1)
            fig.update_yaxes(range=[float(boundary.ys[0]), float(boundary.ys[-1])], title_text=boundary.ylabel,
                             row=2, col=1)
        else:
            _note(fig, 2, 1, "Decision boundary is drawn for 2-D inputs,<br>or pick two features / PCA.")

        xa, ya = _ax(fig, 2, 2)
        if landscape is not None:
            for tr in contour_line_traces(landscape.alphas, landscape.betas, landscape.values, xaxis=xa, yaxis=ya):
                add(tr)
            for s, path in zip(series, landscape.paths, strict=False):
                if path is None:
                    continue
                pth = np.asarray(path, dtype=float)
                add(go.Scatter(x=pth[:, 0], y=pth[:, 1], mode="lines", line=dict(color=hex_to_rgba(s.color, 0.55), width=2),
                               showlegend=False, legendgroup=s.label, hoverinfo="skip", xaxis=xa, yaxis=ya))
                add(go.Scatter(x=[pth[0, 0]], y=[pth[0, 1]], mode="markers", showlegend=False, legendgroup=s.label,
                               marker=dict(color=s.color, size=8, symbol="circle-open", line=dict(width=2)),
                               hovertemplate=f"{s.label} start<extra></extra>", xaxis=xa, yaxis=ya))
            drawn = [(s, np.asarray(p, dtype=float)) for s, p in zip(series, landscape.paths, strict=False) if p is not None]
            if drawn:
                # All tails in one marker trace with a fixed colour/opacity pattern (early frames repeat the
                # start point), so frames carry only x and y: colour arrays are slow to validate.
                per_tail, per_head = [], []
                fade = np.linspace(0.1, 0.85, tail + 1).round(3).tolist()
                for i in fidx:
                    idx = np.clip(np.arange(i - tail, i + 1), 0, None)
                    per_tail.append(dict(x=np.concatenate([p[idx, 0] for _, p in drawn]).round(5).tolist(),
                                         y=np.concatenate([p[idx, 1] for _, p in drawn]).round(5).tolist()))
                    per_head.append(dict(x=[float(p[i, 0]) for _, p in drawn], y=[float(p[i, 1]) for _, p in drawn],
                                         text=[f"{s.label}<br>epoch {int(epochs[i])}" for s, _ in drawn]))
                add(go.Scatter(x=per_tail[0]["x"], y=per_tail[0]["y"], mode="markers", showlegend=False,
                               marker=dict(color=[s.color for s, _ in drawn for _ in range(tail + 1)],
                                           opacity=fade * len(drawn), size=6),
                               name="recent epochs", hoverinfo="skip", xaxis=xa, yaxis=ya, meta={"role": "tail"}),
                    per_tail)
                add(go.Scatter(x=per_head[0]["x"], y=per_head[0]["y"], text=per_head[0]["text"], mode="markers",
                               marker=dict(color=[s.color for s, _ in drawn], size=12, line=dict(color="white", width=1.5)),
                               showlegend=False, name="current epoch", hovertemplate="%{text}<extra></extra>",
                               xaxis=xa, yaxis=ya, meta={"role": "marker"}), per_head)
            fig.update_xaxes(range=[float(landscape.alphas[0]), float(landscape.alphas[-1])], title_text="α (direction 1)",
                             row=2, col=2)
            fig.update_yaxes(range=[float(landscape.betas[0]), float(landscape.betas[-1])], title_text="β (direction 2)",
                             row=2, col=2)
        else:
            _note(fig, 2, 2, "Landscape slice is off.")

    # Fixed ranges on every panel with moving markers: plotly's autorange pads for the markers where they are
    # at the time, so a later zoom or resize would rescale the panel differently depending on the frame.
    e_range = _padded_range(np.asarray(epochs, dtype=float), log=False)
    fig.update_xaxes(title_text="epoch", range=e_range, row=1, col=1)
    fig.update_xaxes(title_text="epoch", range=e_range, row=1, col=2)
    losses = [np.asarray(a, dtype=float)[:, 0] for s in series for a in (s.train_loss, s.test_loss) if a is not None]
    if reference_loss is not None and np.isfinite(reference_loss) and (reference_loss > 0 or not log_y):
        losses.append(np.array([reference_loss], dtype=float))
    fig.update_yaxes(type="log" if log_y else "linear", title_text=loss_name,
                     range=_padded_range(np.concatenate(losses), log=log_y), row=1, col=1)
    fig.update_yaxes(title_text="accuracy (%)" if pct else score, range=[-3, 103] if pct else [-0.55, 1.05], row=1, col=2)
    _add_player(fig, [int(epochs[i]) for i in fidx], frame_ms)
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=60, b=190),
                      legend=dict(orientation="v", x=1.01, y=1.0, groupclick="togglegroup"))
    # Plotly's validation of ~100 frames (and of the theme's template) costs seconds per rerun; the
    # shared AnimatedFigure keeps frames as dicts until someone reads ``.frames``.
    frames = [dict(data=frame_data[f], traces=animated, name=str(int(epochs[i]))) for f, i in enumerate(fidx)]
    layout = merge_theme(fig.layout.to_plotly_json())
    return AnimatedFigure([t.to_plotly_json() for t in traces], layout, frames)


def _padded_range(values: np.ndarray, *, log: bool, pad: float = 0.04) -> list[float] | None:
    """Axis range over the finite ``values (n,)`` plus ``pad`` of the span each side, in plotly's units
    (log10 on a log axis); ``None`` (autorange) when there is nothing finite to span."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
    if v.size == 0:
        return None
    lo, hi = (np.log10(v.min()), np.log10(v.max())) if log else (v.min(), v.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return [float(lo - pad * span), float(hi + pad * span)]


def _majority_name(probs: np.ndarray, names: Sequence[str]) -> str:
    """Name of the class predicted on most of a probability grid ``(ny, nx, C)``."""
    p = np.asarray(probs)
    pred = (p[..., 0] > 0.5).astype(int) if p.shape[-1] == 1 else p.argmax(axis=-1)
    c = int(np.bincount(pred.ravel()).argmax())
    return names[c] if c < len(names) else f"class {c}"


def _themed(fig: go.Figure) -> go.Figure:
    """The shared theme without plotly re-validating its template (about 0.3 s per figure)."""
    d = fig.to_plotly_json()
    return go.Figure(data=d["data"], layout=merge_theme(d["layout"]), _validate=False)


def _note(fig: go.Figure, row: int, col: int, text: str) -> None:
    # Paper coordinates: plotly.js drops "x3 domain" references to an axis that carries no trace.
    sp = fig.get_subplot(row, col)
    x = 0.5 * sum(sp.xaxis.domain)
    y = 0.5 * sum(sp.yaxis.domain)
    fig.add_annotation(text=text, xref="paper", yref="paper", x=x, y=y, showarrow=False,
                       font=dict(color=MUTED_TEXT_COLOR, size=BASE_FONT_SIZE - 1))
    fig.update_xaxes(visible=False, row=row, col=col)
    fig.update_yaxes(visible=False, row=row, col=col)


def _add_player(fig: go.Figure, names: Sequence[int], frame_ms: int) -> None:
    steps = [dict(method="animate", label=str(n),
                  args=[[str(n)], dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))])
             for n in names]
    play = dict(label="▶ Play", method="animate",
                args=[None, dict(frame=dict(duration=frame_ms, redraw=False), fromcurrent=True, transition=dict(duration=0))])
    pause = dict(label="❚❚ Pause", method="animate",
                 args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))])
    fig.update_layout(
        # The buttons sit above the slider, not beside it: beside it they covered its start on narrow screens.
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.1, xanchor="left", yanchor="top",
                          pad=dict(t=0, r=10), showactive=False, buttons=[play, pause])],
        sliders=[dict(active=0, steps=steps, x=0.0, y=-0.165, len=1.0, xanchor="left", yanchor="top",
                      currentvalue=dict(prefix="epoch ", xanchor="right", font=dict(size=BASE_FONT_SIZE)),
                      font=dict(size=10, color=MUTED_TEXT_COLOR), pad=dict(t=0, b=0))],
    )
    fig.update_layout(margin=dict(b=190))


# -- multi-seed figure -------------------------------------------------------


def seeds_figure(series: Sequence[NetSeries], *, loss_scale: str = "log", height: int = 440,
                 loss_name: str = "loss") -> go.Figure:
    """Median training loss with a 10–90% band across seeds, and the spread of final accuracy.

    Parameters
    ----------
    series : sequence of NetSeries
        Each with ``s >= 1`` seeds.

    Returns
    -------
    go.Figure
        Left: per optimizer a band (upper, then lower trace filled to it) and the
        median. Right: final train (and test) accuracy per seed, as box + points.
    """
    if not series:
        raise ValueError("need at least one optimizer to plot")
    has_test = any(s.test_acc is not None for s in series)
    score, pct = series[0].score_name, series[0].percent
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.1,
                        subplot_titles=[f"{loss_name}: median over seeds, band = 10th–90th percentile",
                                        f"final {score}, one point per seed"])
    for s in series:
        ep = np.asarray(s.epochs)
        med, lo, hi = percentile_band(np.asarray(s.train_loss, dtype=float))
        fig.add_trace(go.Scatter(x=ep, y=hi, mode="lines", line=dict(width=0, color=s.color), showlegend=False,
                                 legendgroup=s.label, name=f"{s.label} 90th pct", hoverinfo="skip"), row=1, col=1)
        fig.add_trace(go.Scatter(x=ep, y=lo, mode="lines", line=dict(width=0, color=s.color), fill="tonexty",
                                 fillcolor=hex_to_rgba(s.color, 0.2), showlegend=False, legendgroup=s.label,
                                 name=f"{s.label} 10th pct", hoverinfo="skip"), row=1, col=1)
        fig.add_trace(go.Scatter(x=ep, y=med, mode="lines", line=dict(width=2.4, color=s.color), name=s.label,
                                 legendgroup=s.label, meta="median",
                                 hovertemplate=f"{s.label} median<br>epoch %{{x}}<br>%{{y:.4g}}<extra></extra>"),
                      row=1, col=1)
        for which, arr in (("train", s.train_acc), ("test", s.test_acc)):
            if arr is None:
                continue
            final = np.asarray(arr, dtype=float)[-1] * (100.0 if pct else 1.0)
            fig.add_trace(go.Box(y=final, x=[f"{which}"] * len(final), name=s.label, legendgroup=s.label,
                                 showlegend=False, marker=dict(color=s.color, size=7, opacity=0.8),
                                 line=dict(color=s.color), fillcolor=hex_to_rgba(s.color, 0.15),
                                 boxpoints="all", jitter=0.5, pointpos=0, offsetgroup=s.label,
                                 hovertemplate=f"{s.label} ({which})<br>%{{y:.3g}}{'%' if pct else ''}<extra></extra>"),
                          row=1, col=2)
    log_y = loss_scale == "log" and all((np.asarray(s.train_loss) > 0).all() for s in series)
    fig.update_yaxes(type="log" if log_y else "linear", title_text=loss_name, row=1, col=1)
    fig.update_xaxes(title_text="epoch", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (%)" if pct else score, range=[-3, 103] if pct else None, row=1, col=2)
    fig.update_xaxes(title_text="train / test" if has_test else "train", row=1, col=2)
    fig.update_layout(height=height, boxmode="group", margin=dict(l=60, r=20, t=60, b=50))
    return _themed(fig)


# -- diagnostics figure -----------------------------------------------------


def diagnostics_figure(series: Sequence[NetSeries], *, height: int = 380) -> go.Figure:
    """Gradient norm per layer (log y), saturated-unit fraction and dead-ReLU fraction over epochs.

    Layer 1 is solid, later layers use other dashes; one colour per optimizer.
    """
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.09,
                        subplot_titles=["‖∇‖ per layer: 1 solid, 2 dashed",
                                        "saturated sigmoid/tanh units", "dead ReLUs"])
    dashes = ["solid", "dash", "dot", "dashdot", "longdash"]
    for s in series:
        ep = np.asarray(s.epochs)
        first = True
        if s.layer_grad_norms is not None:
            g = np.asarray(s.layer_grad_norms, dtype=float)
            for layer in range(g.shape[1]):
                y = np.where(g[:, layer] > 0, g[:, layer], np.nan)
                fig.add_trace(go.Scatter(x=ep, y=y, mode="lines", name=s.label, legendgroup=s.label,
                                         showlegend=first, line=dict(color=s.color, dash=dashes[layer % len(dashes)]),
                                         hovertemplate=f"{s.label}, layer {layer + 1}<br>epoch %{{x}}<br>%{{y:.3g}}<extra></extra>"),
                              row=1, col=1)
                first = False
        for col, arr, what in ((2, s.saturation, "saturated"), (3, s.dead, "dead")):
            if arr is None:
                continue
            fig.add_trace(go.Scatter(x=ep, y=np.asarray(arr, dtype=float) * 100.0, mode="lines", name=s.label,
                                     legendgroup=s.label, showlegend=first, line=dict(color=s.color),
                                     hovertemplate=f"{s.label}<br>epoch %{{x}}<br>{what} %{{y:.1f}}%<extra></extra>"),
                          row=1, col=col)
            first = False
    if not any(s.saturation is not None for s in series):
        _note(fig, 1, 2, "no sigmoid/tanh hidden units")
    if not any(s.dead is not None for s in series):
        _note(fig, 1, 3, "no ReLU hidden units")
    fig.update_yaxes(type="log", title_text="‖∇‖", exponentformat="power", row=1, col=1)
    fig.update_yaxes(title_text="% of hidden units", range=[-3, 103], row=1, col=2)
    fig.update_yaxes(range=[-3, 103], row=1, col=3)
    for c in (1, 2, 3):
        fig.update_xaxes(title_text="epoch", row=1, col=c)
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=60, b=50))
    return _themed(fig)


# -- tables and CSV ----------------------------------------------------------


def curves_csv(series: Sequence[NetSeries]) -> str:
    """All curves as CSV: optimizer, seed, epoch, train_loss, test_loss, train_acc, test_acc."""
    buf = io.StringIO()
    buf.write("optimizer,seed,epoch,train_loss,test_loss,train_acc,test_acc\n")
    for s in series:
        ep = np.asarray(s.epochs)
        for j in range(s.n_seeds):
            for i, e in enumerate(ep):
                cells = [s.train_loss, s.test_loss, s.train_acc, s.test_acc]
                vals = ["" if a is None else f"{float(np.asarray(a)[i, j]):.6g}" for a in cells]
                label = s.label.replace('"', "'")
                buf.write(f'"{label}",{j},{int(e)},' + ",".join(vals) + "\n")
    return buf.getvalue()


def summary_rows(series: Sequence[NetSeries]) -> list[dict[str, str]]:
    """Final metrics per optimizer: median and, with several seeds, the 10–90% range."""

    def fmt(arr: np.ndarray | None, pct: bool) -> str:
        if arr is None:
            return "—"
        final = np.asarray(arr, dtype=float)[-1] * (100.0 if pct else 1.0)
        unit = "%" if pct else ""
        spec = ".1f" if pct else ".4g"
        med = np.median(final)
        if len(final) == 1:
            return f"{med:{spec}}{unit}"
        lo, hi = np.percentile(final, [10, 90])
        return f"{med:{spec}}{unit} ({lo:{spec}}–{hi:{spec}})"

    rows = []
    for s in series:
        rows.append({
            "optimizer": s.label,
            f"train {s.score_name}": fmt(s.train_acc, s.percent),
            f"test {s.score_name}": fmt(s.test_acc, s.percent),
            "train loss": fmt(s.train_loss, False),
            "test loss": fmt(s.test_loss, False),
        })
    return rows


# -- GIF / MP4 scene ------------------------------------------------------------


def net_scene(series: Sequence[NetSeries], *, boundary: BoundaryData | None = None, max_frames: int = 100,
              records: np.ndarray | None = None, dpi: int = 100, loss_scale: str = "log",
              loss_name: str = "loss") -> Any:
    """A matplotlib scene for viz.export's GIF/MP4 encoders: loss curves, accuracy, and the boundary.

    Frames are ``records`` (record indices) if given, else ``frame_indices(R, max_frames)`` as in
    :func:`training_figure`; ``boundary.probs`` has one grid per frame.

    Returns
    -------
    viz.export.Scene
    """
    from matplotlib.figure import Figure

    from viz.export import Scene

    epochs = np.asarray(series[0].epochs)
    fidx = frame_indices(len(epochs), max_frames) if records is None else np.asarray(records, dtype=int)
    ncols = 3 if boundary is not None else 2
    fig = Figure(figsize=(4.2 * ncols, 4.0), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, ncols)
    log_y = loss_scale == "log" and _loss_log_ok(series)
    animated = []
    heads = []
    for ax, attr, title, pct in ((axes[0], "train_loss", loss_name, False), (axes[1], "train_acc", "accuracy (%)", True)):
        for s in series:
            y = np.asarray(getattr(s, attr), dtype=float)[:, 0] * (100.0 if pct else 1.0)
            ax.plot(epochs, y, color=s.color, lw=1.8, label=s.label)
            test = getattr(s, attr.replace("train", "test"))
            if test is not None:
                ax.plot(epochs, np.asarray(test, dtype=float)[:, 0] * (100.0 if pct else 1.0), color=s.color, lw=1.2,
                        ls=":")
            (h,) = ax.plot([], [], "o", color=s.color, ms=7, mec="white")
            heads.append((h, y))
            animated.append(h)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if pct:
            ax.set_ylim(-3, 103)
        elif log_y:
            ax.set_yscale("log")
    axes[0].legend(fontsize=8, loc="best")
    line = None
    if boundary is not None:
        ax = axes[2]
        pts = np.asarray(boundary.points, dtype=float)
        lab = np.asarray(boundary.labels).astype(int)
        for c in np.unique(lab):
            m = lab == c
            ax.scatter(pts[m, 0], pts[m, 1], s=18, color=CLASS_COLORS[c % len(CLASS_COLORS)],
                       marker="ox^sD"[c % 5], label=boundary.class_names[c] if c < len(boundary.class_names) else str(c))
        (line,) = ax.plot([], [], color="#111111", lw=2)
        animated.append(line)
        ax.set_xlim(boundary.xs[0], boundary.xs[-1])
        ax.set_ylim(boundary.ys[0], boundary.ys[-1])
        ax.set_xlabel(boundary.xlabel)
        ax.set_ylabel(boundary.ylabel)
        ax.set_title(f"boundary: {boundary.series_label}", fontsize=10)
    label = fig.text(0.01, 0.01, "", fontsize=10)
    animated.append(label)
    probs = None if boundary is None else np.asarray(boundary.probs, dtype=float)

    def update(f: int) -> None:
        i = int(fidx[f])
        for h, y in heads:
            h.set_data([epochs[i]], [y[i]])
        if line is not None and probs is not None:
            bx, by = boundary_lines(boundary.xs, boundary.ys, probs[f])
            line.set_data([np.nan if v is None else v for v in bx], [np.nan if v is None else v for v in by])
        label.set_text(f"epoch {int(epochs[i])}")

    return Scene(figure=fig, animated=animated, update=update, n_frames=len(fidx))


def net_png(series: Sequence[NetSeries], *, boundary: BoundaryData | None = None, max_frames: int = 100,
            frame: int | None = None, dpi: int = 150, loss_scale: str = "log", loss_name: str = "loss") -> bytes:
    """PNG of one frame of :func:`training_figure` (default: the last), drawn by :func:`net_scene`.

    Parameters
    ----------
    series : sequence of NetSeries
    boundary : BoundaryData, optional
        One grid per frame of ``training_figure(series, max_frames=max_frames)``.
    max_frames : int
        As given to :func:`training_figure`, so frame ``j`` is the same record here.
    frame : int, optional
        Frame index (negative counts from the end).
    dpi : int
    loss_scale, loss_name : str

    Returns
    -------
    bytes
    """
    from viz.export import encode_png, render_frames

    if not series:
        raise ValueError("need at least one optimizer to plot")
    fidx = frame_indices(len(np.asarray(series[0].epochs)), max_frames)
    j = len(fidx) - 1 if frame is None else frame
    if not -len(fidx) <= j < len(fidx):
        raise ValueError(f"frame must be in [0, {len(fidx) - 1}], got {frame}")
    j %= len(fidx)
    bnd = None
    if boundary is not None:
        probs = np.asarray(boundary.probs)
        if probs.shape[0] != len(fidx):
            raise ValueError(f"boundary has {probs.shape[0]} grids, expected one per frame ({len(fidx)})")
        bnd = replace(boundary, probs=probs[j : j + 1])
    scene = net_scene(series, boundary=bnd, records=fidx[j : j + 1], dpi=dpi, loss_scale=loss_scale,
                      loss_name=loss_name)
    return encode_png(next(render_frames(scene, [0])))
