"""The X-ray figures: inside one optimizer at a frame, the curvature it meets, and the edge of stability.

Pure functions returning plotly figures or trace dicts; no streamlit. They read a trajectory recorded with
``optimizers.run(..., record_state=True)`` (``extras["state.<field>"]``) and the optimizer's
:meth:`~optimizers.base.Optimizer.xray_fields`, so an optimizer that declares its fields gets its X-ray.

What one frame shows for step ``t`` (record ``r``): the step taken, from ``p_{t−1}`` to ``p_t`` (it ends at
the run's marker), and from the same tail the gradient it received and its momentum or first moment, both
pointing downhill (``−g``, ``−m``) and drawn as long as the step, so their directions compare at a glance
(their sizes are in the hover). For adaptive methods, the effective step per coordinate ``s = η/(√v̂+ε)`` is
an axis-aligned ellipse with semi-axes ``sᵢ · ‖step ⊘ s‖``: the image, under the diagonal preconditioner, of
the circle the unscaled direction lies on, so the step taken ends on it. An ellipse that is long along x and
short along y means the method takes big steps in x; it cannot lean along a rotated valley.

Animation: plotly hides ``contour`` and ``heatmap`` traces while a ``redraw: false`` animation plays, so the
curvature shading is a PNG in ``layout.images`` and any contour lines must be scatter lines; frames carry only
the few traces that move (arrows, ellipse, marker, time cursors) with a fixed number of points each, never
whole paths, so the payload grows linearly with the number of frames.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from landscapes.curvature import INDEFINITE, NEGATIVE_DEFINITE, POSITIVE_DEFINITE, CurvatureMap
from optimizers.base import StateField
from optimizers.runner import Trajectory
from viz import palette
from viz.surface_figure import AnimatedFigure, animation_controls

ARROW_COLORS = {"gradient": "#CC3311", "momentum": "#0077BB", "step": "#222222"}
ELLIPSE_COLOR = "#EE7733"
#: Colours and markers of the other points a method keeps (fields with role ``point``), in declaration order.
POINT_STYLES = (("#009988", "diamond"), ("#EE3377", "square"), ("#33BBEE", "triangle-up"))
#: RGBA of each curvature kind on the map: bowls clear, saddles amber, hilltops violet.
CURVATURE_RGBA = {POSITIVE_DEFINITE: (255, 255, 255, 0), INDEFINITE: (238, 170, 51, 70),
                  NEGATIVE_DEFINITE: (119, 68, 170, 70)}
ELLIPSE_POINTS = 49  # points on each ellipse outline, the first repeated to close it


def _state(traj: Trajectory, name: str) -> np.ndarray | None:
    return traj.extras.get(f"state.{name}")


def _role(fields: Sequence[StateField], role: str) -> str | None:
    return next((f.name for f in fields if f.role == role), None)


def _require_state(traj: Trajectory) -> None:
    if "state.step" not in traj.extras:
        raise ValueError("this trajectory has no recorded state; run optimizers.run(..., record_state=True)")


# ------------------------------------------------------------------------------------------------------------
# One frame: arrows and ellipse
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class XrayFrame:
    """The geometry of one run at one record, in parameter coordinates.

    Attributes
    ----------
    step : int
        The step ``t`` of the record.
    tail : ndarray, shape (2,)
        ``p_{t−1}``, where the step started.
    arrows : dict of str to ndarray (2, 2)
        ``"step"``, ``"gradient"``, ``"momentum"`` (those recorded): rows tail and head.
    sizes : dict of str to float
        Euclidean length of each vector before it was drawn to the step's length.
    ellipse_axes : ndarray, shape (2,), or None
        Semi-axes of the preconditioner ellipse (see the module docstring).
    scale : ndarray, shape (2,), or None
        The effective step per coordinate ``η/(√v̂+ε)`` itself.
    """

    step: int
    tail: np.ndarray
    arrows: dict[str, np.ndarray]
    sizes: dict[str, float]
    ellipse_axes: np.ndarray | None
    scale: np.ndarray | None


def xray_frame(traj: Trajectory, fields: Sequence[StateField], r: int, run: int = 0) -> XrayFrame | None:
    """The arrows and ellipse of run ``run`` at record ``r``; ``None`` at step 0 or once the run has stopped.

    Parameters
    ----------
    traj : Trajectory
        Recorded with ``record_state=True``; 2-D parameters.
    fields : sequence of StateField
        ``optimizer.xray_fields()``: which field is the momentum, which the scale.
    r, run : int
        Record and run.
    """
    _require_state(traj)
    move = traj.extras["state.step"][r, run]
    if not np.isfinite(move).all() or traj.steps[r] == 0:
        return None
    head = traj.params[r, run]
    tail = head - move
    length = float(np.hypot(*move))
    arrows = {"step": np.array([tail, head])}
    sizes = {"step": length}
    for kind in ("gradient", "momentum"):
        name = _role(fields, kind)
        vec = None if name is None else _state(traj, name)
        if vec is None or not np.isfinite(vec[r, run]).all():
            continue
        v = -vec[r, run]
        size = float(np.hypot(*v))
        sizes[kind] = size
        if size > 0 and length > 0:
            arrows[kind] = np.array([tail, tail + v * (length / size)])
    axes = scale = None
    name = _role(fields, "scale")
    if name is not None and _state(traj, name) is not None:
        s = _state(traj, name)[r, run]
        if np.isfinite(s).all() and (s > 0).all():
            scale = s.copy()
            axes = s * float(np.hypot(*(move / s)))
    return XrayFrame(int(traj.steps[r]), tail, arrows, sizes, axes, scale)


def ellipse_xy(center: np.ndarray, axes: np.ndarray, n: int = ELLIPSE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Outline of the axis-aligned ellipse with semi-axes ``axes`` ``(2,)`` around ``center``, closed: ``(n,)`` each."""
    a = np.linspace(0.0, 2.0 * np.pi, n)
    return center[0] + axes[0] * np.cos(a), center[1] + axes[1] * np.sin(a)


def frame_traces(frame: XrayFrame | None, xaxis: str = "x", yaxis: str = "y") -> list[dict[str, Any]]:
    """Plotly trace dicts for one frame, always the same four traces with the same number of points.

    The traces are: step, gradient and momentum arrows (each ``[tail, head]``, an arrowhead at the head) and
    the ellipse outline (:data:`ELLIPSE_POINTS`). Missing pieces are NaN points, so frames replace traces
    one for one and carry a fixed payload.
    """
    out = []
    for kind in ("step", "gradient", "momentum"):
        seg = None if frame is None else frame.arrows.get(kind)
        xy = np.full((2, 2), np.nan) if seg is None else seg
        size = np.nan if frame is None else frame.sizes.get(kind, np.nan)
        out.append(dict(
            type="scatter", x=xy[:, 0].tolist(), y=xy[:, 1].tolist(), mode="lines+markers", xaxis=xaxis, yaxis=yaxis,
            line=dict(color=ARROW_COLORS[kind], width=3 if kind == "step" else 2, dash=None if kind == "step" else "dot"),
            marker=dict(symbol=["circle", "arrow"], size=[0, 11], angleref="previous", color=ARROW_COLORS[kind]),
            name={"step": "step taken", "gradient": "−gradient", "momentum": "−momentum"}[kind],
            hovertemplate=f"{kind}: length {size:.3g}<extra></extra>", showlegend=True,
        ))
    if frame is not None and frame.ellipse_axes is not None:
        ex, ey = ellipse_xy(frame.tail, frame.ellipse_axes)
        hover = f"η/(√v̂+ε) = ({frame.scale[0]:.3g}, {frame.scale[1]:.3g})<extra></extra>"
    else:
        ex = ey = np.full(ELLIPSE_POINTS, np.nan)
        hover = "<extra></extra>"
    out.append(dict(type="scatter", x=ex.tolist(), y=ey.tolist(), mode="lines", xaxis=xaxis, yaxis=yaxis,
                    line=dict(color=ELLIPSE_COLOR, width=2), name="step per coordinate", hovertemplate=hover))
    return out


# ------------------------------------------------------------------------------------------------------------
# Curvature shading
# ------------------------------------------------------------------------------------------------------------
def curvature_image(cmap: CurvatureMap) -> dict[str, Any]:
    """A ``layout.images`` entry shading saddle (indefinite) and hilltop regions of ``cmap``; bowls stay clear.

    A PNG, not a heatmap: it stays drawn while an animation plays.
    """
    from PIL import Image

    rgba = np.zeros((*cmap.kinds.shape, 4), dtype=np.uint8)
    for code, colour in CURVATURE_RGBA.items():
        rgba[cmap.kinds == code] = colour
    img = Image.fromarray(rgba[::-1], mode="RGBA")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    src = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    dx = (cmap.xs[-1] - cmap.xs[0]) / max(len(cmap.xs) - 1, 1)
    dy = (cmap.ys[-1] - cmap.ys[0]) / max(len(cmap.ys) - 1, 1)
    return dict(source=src, xref="x", yref="y", x=float(cmap.xs[0] - dx / 2), y=float(cmap.ys[-1] + dy / 2),
                sizex=float(cmap.xs[-1] - cmap.xs[0] + dx), sizey=float(cmap.ys[-1] - cmap.ys[0] + dy),
                sizing="stretch", layer="below", xanchor="left", yanchor="top")


# ------------------------------------------------------------------------------------------------------------
# The animated X-ray of one run
# ------------------------------------------------------------------------------------------------------------
def _frame_records(n_records: int, max_frames: int) -> np.ndarray:
    if n_records <= max_frames:
        return np.arange(n_records)
    return np.unique(np.linspace(0, n_records - 1, max_frames).round().astype(int))


def point_fields(traj: Trajectory, fields: Sequence[StateField]) -> list[tuple[StateField, np.ndarray]]:
    """The recorded fields with role ``point``, each with its positions ``(R, k, 2)``: other sequences a method keeps
    in parameter space (Schedule-Free's average ``x`` and base iterate ``z``), drawn as paths beside the run's own."""
    out = []
    for f in fields:
        arr = _state(traj, f.name) if f.role == "point" else None
        if arr is not None and arr.ndim == 3 and arr.shape[2] == 2:
            out.append((f, arr))
    return out[: len(POINT_STYLES)]


def trace_fields(traj: Trajectory, fields: Sequence[StateField]) -> list[tuple[str, np.ndarray]]:
    """The per-run series worth tracing over time, ``(label, values (R, k))``: bias corrections and the like,
    and the effective step per coordinate (one series per coordinate)."""
    out = []
    for f in fields:
        arr = _state(traj, f.name)
        if arr is None or f.role in ("gradient", "momentum", "point") or f.name == "lr":
            continue
        if f.per == "run" or f.role == "scale":
            if arr.ndim == 2:
                out.append((f.label, arr))
            else:
                out.extend((f"{f.label} [{c}]", arr[..., j]) for j, c in enumerate("xy"[: arr.shape[-1]]))
    return out


def xray_figure(traj: Trajectory, fields: Sequence[StateField], *, run: int = 0, curvature: CurvatureMap | None = None,
                max_frames: int = 150, title: str = "", height: int = 620) -> go.Figure:
    """The map with the run's path and its X-ray at each frame, beside the state traced over time.

    Parameters
    ----------
    traj : Trajectory
        Recorded with ``record_state=True`` on a 2-D problem.
    fields : sequence of StateField
        ``optimizer.xray_fields()``.
    run : int
        Which of the k runs.
    curvature : CurvatureMap, optional
        Shaded under the map (saddles amber, hilltops violet).
    max_frames : int
        At most this many animation frames, spread evenly over the records.

    Returns
    -------
    go.Figure
        Static traces: the path (drawn once), a dashed path per field with role ``point``, the traced state lines.
        Frames replace only the four X-ray traces, the current marker, one marker per ``point`` field (one
        trace, when there are such fields) and one cursor point per traced series.
    """
    _require_state(traj)
    if traj.params.shape[2] != 2:
        raise ValueError("the X-ray map draws 2-D problems; use the state traces for networks")
    if not 0 <= run < traj.k:
        raise ValueError(f"run must be in [0, {traj.k - 1}], got {run}")
    series = trace_fields(traj, fields)
    steps = traj.steps
    path = traj.params[:, run]
    data: list[dict[str, Any]] = [dict(type="scatter", x=path[:, 0].tolist(), y=path[:, 1].tolist(), mode="lines",
                                       line=dict(color="rgba(60,60,60,0.35)", width=1.5), name="path",
                                       hoverinfo="skip", xaxis="x", yaxis="y")]
    points = point_fields(traj, fields)
    for (f, arr), (color, _) in zip(points, POINT_STYLES, strict=False):
        data.append(dict(type="scatter", x=arr[:, run, 0].tolist(), y=arr[:, run, 1].tolist(), mode="lines",
                         line=dict(color=color, width=1.5, dash="dash"), name=f.label, hoverinfo="skip",
                         xaxis="x", yaxis="y"))
    for i, (label, arr) in enumerate(series):
        data.append(dict(type="scatter", x=steps.tolist(), y=arr[:, run].tolist(), mode="lines", name=label,
                         line=dict(color=palette.color_for(i), width=1.5), xaxis="x2", yaxis="y2"))
    static = len(data)
    recs = _frame_records(len(steps), max_frames)

    def moving(r: int) -> list[dict[str, Any]]:
        traces = frame_traces(xray_frame(traj, fields, r, run))
        traces.append(dict(type="scatter", x=[float(path[r, 0])], y=[float(path[r, 1])], mode="markers",
                           marker=dict(size=10, color="#222222"), name="now", xaxis="x", yaxis="y",
                           hovertemplate=f"step {int(steps[r])}<extra></extra>"))
        if points:
            styles = POINT_STYLES[: len(points)]
            traces.append(dict(type="scatter", x=[float(a[r, run, 0]) for _, a in points],
                               y=[float(a[r, run, 1]) for _, a in points], mode="markers", xaxis="x", yaxis="y",
                               marker=dict(size=9, color=[c for c, _ in styles], symbol=[m for _, m in styles]),
                               text=[f.label for f, _ in points], name="points now", showlegend=False,
                               hovertemplate=f"%{{text}}, step {int(steps[r])}<extra></extra>"))
        cx = [float(steps[r])] * len(series)
        cy = [float(arr[r, run]) for _, arr in series]
        traces.append(dict(type="scatter", x=cx, y=cy, mode="markers", xaxis="x2", yaxis="y2", name="now",
                           marker=dict(size=8, color=[palette.color_for(i) for i in range(len(series))]),
                           showlegend=False, hoverinfo="skip"))
        return traces

    first = moving(int(recs[0]))
    data.extend(first)
    moving_ids = list(range(static, static + len(first)))
    frames = [dict(name=str(int(steps[r])), data=moving(int(r)), traces=moving_ids) for r in recs]
    lay: dict[str, Any] = dict(
        title=dict(text=title), height=height, margin=dict(l=50, r=20, t=90, b=150),
        xaxis=dict(domain=[0.0, 0.58], title="x"), yaxis=dict(title="y", scaleanchor="x"),
        xaxis2=dict(domain=[0.68, 1.0], title="step", anchor="y2"),
        yaxis2=dict(anchor="x2", type="log", title="state"),
        legend=dict(orientation="h", y=1.12),
    )
    # The same controls as the main map, so the frame player gives them its one-frame steps.
    lay.update(animation_controls([f["name"] for f in frames], 60, redraw=False))
    if curvature is not None:
        lay["images"] = [curvature_image(curvature)]
    if any((np.asarray(arr[:, run])[np.isfinite(arr[:, run])] <= 0).any() for _, arr in series):
        lay["yaxis2"]["type"] = "linear"
    # Frames stay dicts until asked for: plotly's validation of 150 frames costs seconds.
    return AnimatedFigure(data, palette.merge_theme(lay), frames)


# ------------------------------------------------------------------------------------------------------------
# Curvature along the path, and the edge of stability
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CurvatureSeries:
    """Eigenvalues along one optimizer's path (one run), for :func:`curvature_figure`.

    Attributes
    ----------
    label : str
    steps : ndarray of int, shape (R,)
    eigenvalues : ndarray, shape (R, 2)
        ``(λmin, λmax)`` from :func:`landscapes.curvature.path_eigenvalues`.
    lr : float, optional
        For GD-type methods: draws 2/η, the largest curvature GD is stable on.
    color : str
    """

    label: str
    steps: np.ndarray
    eigenvalues: np.ndarray
    lr: float | None = None
    color: str = palette.COLORS[0]


def curvature_figure(series: Sequence[CurvatureSeries], *, height: int = 320) -> go.Figure:
    """λmax (solid) and λmin (dotted) against the step for each series, with 2/η dashed where given, and
    shading below 0 (negative curvature: a saddle or hilltop direction)."""
    data: list[dict[str, Any]] = []
    lines: list[tuple[float, str, str]] = [(0.0, "#888888", "")]
    for s in series:
        x = np.asarray(s.steps).tolist()
        data.append(dict(type="scatter", x=x, y=s.eigenvalues[:, 1].tolist(), mode="lines", name=f"{s.label}: λmax",
                         line=dict(color=s.color, width=2)))
        data.append(dict(type="scatter", x=x, y=s.eigenvalues[:, 0].tolist(), mode="lines", name=f"{s.label}: λmin",
                         line=dict(color=s.color, width=1.5, dash="dot")))
        if s.lr:
            lines.append((2.0 / s.lr, s.color, f"2/η = {2.0 / s.lr:.3g}"))
    return _figure(data, lines, "step", "Hessian eigenvalue", height)


def _figure(data: list[dict[str, Any]], lines: Sequence[tuple[float, str, str]], xtitle: str, ytitle: str,
            height: int) -> go.Figure:
    """A static figure from trace dicts plus horizontal lines ``(y, colour, label)``, validated once."""
    shapes = [dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=y, y1=y,
                   line=dict(color=c, width=1 if not label else 1.2, dash="dash" if label else "solid"))
              for y, c, label in lines]
    notes = [dict(xref="paper", x=0.01, yref="y", y=y, text=label, showarrow=False, yanchor="bottom", xanchor="left",
                  font=dict(color=c, size=11)) for y, c, label in lines if label]
    layout = dict(height=height, xaxis=dict(title=xtitle), yaxis=dict(title=ytitle), shapes=shapes, annotations=notes,
                  margin=dict(l=50, r=20, t=30, b=40))
    return go.Figure(data=data, layout=palette.merge_theme(layout))


@dataclass(frozen=True)
class SharpnessSeries:
    """Sharpness along one optimizer's training, for :func:`edge_of_stability_figure`.

    Attributes
    ----------
    label : str
    epochs : ndarray, shape (R,)
    sharpness : ndarray, shape (R, k)
        Top Hessian eigenvalue per record and network (:func:`nets.sharpness_along` ``[..., 0]``).
    lr : float, optional
        Draws 2/η.
    color : str
    """

    label: str
    epochs: np.ndarray
    sharpness: np.ndarray
    lr: float | None = None
    color: str = palette.COLORS[0]


def edge_of_stability_figure(series: Sequence[SharpnessSeries], *, height: int = 340) -> go.Figure:
    """Sharpness against the epoch for each optimizer (median over its networks, a 10–90% band when k > 1),
    beside its 2/η: under full-batch GD the curve rises to the dashed line and stays there."""
    data: list[dict[str, Any]] = []
    lines: list[tuple[float, str, str]] = []
    for s in series:
        x = np.asarray(s.epochs, dtype=float).tolist()
        sh = np.asarray(s.sharpness, dtype=float)
        with np.errstate(all="ignore"):
            mid = np.nanmedian(sh, axis=1) if sh.shape[1] else np.full(len(x), np.nan)
            if sh.shape[1] > 1:
                lo, hi = np.nanpercentile(sh, 10, axis=1), np.nanpercentile(sh, 90, axis=1)
                data.append(dict(type="scatter", x=x + x[::-1], y=hi.tolist() + lo[::-1].tolist(), fill="toself",
                                 mode="lines", line=dict(width=0), fillcolor=palette.hex_to_rgba(s.color, 0.18),
                                 hoverinfo="skip", showlegend=False))
        data.append(dict(type="scatter", x=x, y=mid.tolist(), mode="lines", name=f"{s.label}: sharpness",
                         line=dict(color=s.color)))
        if s.lr:
            lines.append((2.0 / s.lr, s.color, f"2/η ({s.label})"))
    return _figure(data, lines, "epoch", "top Hessian eigenvalue", height)


def eigen_split_figure(steps: np.ndarray, loss_parts: np.ndarray, eigenvalues: np.ndarray, *,
                       height: int = 300) -> go.Figure:
    """Distill's "milestones": the loss ``½λᵢcᵢ²`` in each eigendirection against the step (log scale).

    Parameters
    ----------
    steps : ndarray, shape (R,)
    loss_parts : ndarray, shape (R, 2)
        One run of :attr:`landscapes.curvature.EigenSplit.loss_parts`.
    eigenvalues : ndarray, shape (2,)
    """
    data = []
    for i, name in enumerate(("flat", "steep")):
        y = np.asarray(loss_parts[:, i], dtype=float)
        y = np.where(y > 0, y, np.nan)
        data.append(dict(type="scatter", x=np.asarray(steps).tolist(), y=y.tolist(), mode="lines",
                         name=f"{name} direction, λ = {eigenvalues[i]:.3g}", line=dict(color=palette.COLORS[i])))
    fig = _figure(data, [], "step", "loss in this direction", height)
    fig.update_yaxes(type="log")
    return fig
