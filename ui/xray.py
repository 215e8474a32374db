"""The X-ray section of the surfaces page: inside one optimizer, and the curvature its path crosses.

For the optimizer chosen by the ``xray`` control, on its first start: the animated X-ray (gradient, momentum
and step arrows, the step per coordinate as an ellipse, its state over time) over the map shaded where the
Hessian is indefinite, a readout per frame, the Hessian's eigenvalues along the path beside 2/η for GD-type
methods, and on a quadratic surface the error split into the Hessian's eigendirections (Distill's
"milestones").

Thin: the numbers come from :mod:`landscapes.curvature` and the recorded state of
``optimizers.run(..., record_state=True)``, the figures from :mod:`viz.xray_figure`. Everything for one view
is built once and cached under a text key, so a rerun that changed nothing costs a cache lookup and the
chart's JSON.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

import optimizers
from common.controls import echo
from landscapes import curvature as cv
from landscapes.base import Landscape
from optimizers.config import OptimizerConfig
from optimizers.runner import Trajectory
from ui.common import PrecomputedFigure, config_key, ring_starts
from viz import palette

#: Animation frames of the X-ray, spread over the records.
MAX_FRAMES = 150
#: Records kept per run: every step up to this many steps, thinned beyond.
MAX_RECORDS = 1000
#: Grid of the curvature shading (points per axis).
CURVATURE_RES = 120
#: Readout sentences listed under the figure (the start, each change of kind, the end).
MAX_READOUTS = 8
TIMING = "surf.timing"

INTRO = (
    "Arrows start where the step started: the step actually taken (solid, ending at the marker), and the "
    "directions of −gradient and −momentum drawn as long as the step, so their directions compare at a glance "
    "(their sizes are in the hover). For adaptive methods the orange ellipse has axes proportional to the "
    "step per coordinate η/(√v̂+ε): it is always aligned with x and y, which is why such a method cannot lean "
    "along a rotated valley. Amber shading marks where the surface is a saddle (the Hessian is indefinite)."
)


# -- pure helpers (no streamlit) ------------------------------------------------------------------
def record_every(steps: int) -> int:
    """Record every n-th step so a run keeps at most about :data:`MAX_RECORDS` records."""
    return max(1, math.ceil(steps / MAX_RECORDS))


def xray_run(surface: Landscape, cfg: OptimizerConfig, starts: np.ndarray, steps: int) -> Trajectory:
    """The page's runs of ``cfg`` from ``starts`` ``(k, 2)``, recorded with the optimizer's state.

    All the page's starts run together, as in the main figure, so gradient noise (which depends on the
    number of runs) gives run 0 the same path the figure shows.
    """
    return optimizers.run(surface, cfg.build(), np.asarray(starts, dtype=np.float64), int(steps),
                          record_every=record_every(int(steps)), record_state=True)


def gd_type(cfg: OptimizerConfig, steps: int = 20) -> bool:
    """Whether the update direction is linear in the gradient (doubling every gradient doubles every step), as
    for GD, momentum and Nesterov: the methods for which a quadratic is stable only while λmax < 2/η.

    Checked on the algorithm itself over its first ``steps`` steps from its initial state at the origin (where
    a coupled weight-decay term vanishes), so no list of names is needed; several steps, because RAdam is
    plain momentum until its rectification starts.
    """
    opt = optimizers.get(cfg.name, **dict(cfg.hparams))
    if opt.needs:  # it reads curvature besides the gradient (Sophia): not a function of the gradient alone
        return False
    p = np.zeros((1, 2))
    s1 = {k: v for k, v in opt.init(p).items() if k != "t"}
    s2 = dict(s1)
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            g = np.array([[0.3, -1.7]]) * (1.0 + 0.25 * np.sin(t))  # a gradient that changes, as on a path
            d1, s1 = opt.direction(g, s1, p, t)
            d2, s2 = opt.direction(2.0 * g, s2, p, t)
            d1, d2 = np.asarray(d1), np.asarray(d2)
            if not (np.isfinite(d1).all() and np.any(d1 != 0) and np.allclose(d2, 2.0 * d1, rtol=1e-9, atol=0.0)):
                return False
    return True


def constant_hessian(surface: Landscape, starts: np.ndarray) -> bool:
    """Whether the Hessian is the same at the window's corners, its centre and the starts (a quadratic)."""
    (x0, x1), (y0, y1) = surface.bounds
    pts = np.array([[x0, y0], [x0, y1], [x1, y0], [x1, y1], [(x0 + x1) / 2, (y0 + y1) / 2], *np.asarray(starts)])
    with np.errstate(all="ignore"):
        H = np.asarray(surface.hessian(pts), dtype=np.float64)
    return bool(np.isfinite(H).all() and np.allclose(H, H[0], rtol=1e-9, atol=1e-12))


def readout_records(traj: Trajectory, eigenvalues: np.ndarray, run: int = 0, limit: int = MAX_READOUTS) -> list[int]:
    """Records worth a sentence: the first, each where the kind of curvature changes, and the run's last.

    Parameters
    ----------
    traj : Trajectory
    eigenvalues : ndarray, shape (R, k, 2)
        From :func:`landscapes.curvature.path_eigenvalues`.
    """
    last = traj.last_record(run)
    kinds = cv.classify(eigenvalues[: last + 1, run])
    changes = [r for r in range(1, last + 1) if kinds[r] != kinds[r - 1]]
    if len(changes) > limit - 2:
        changes = changes[: limit - 3] + changes[-1:]
    return sorted({0, *changes, last})


@dataclass(frozen=True)
class XrayView:
    """What the section shows for one view; built once per key.

    Attributes
    ----------
    animated : PrecomputedFigure
        The X-ray animation, with the frame player's buttons.
    curvature : PrecomputedFigure or None
        λmin, λmax along the path (None when the surface has no Hessian).
    split : PrecomputedFigure or None
        The eigen-component split (quadratic surfaces only).
    readouts : tuple of str
        Sentences from :func:`landscapes.curvature.readout` at :func:`readout_records`.
    notes : tuple of str
        Captions with the numbers behind the figures.
    """

    animated: PrecomputedFigure
    curvature: PrecomputedFigure | None
    split: PrecomputedFigure | None
    readouts: tuple[str, ...]
    notes: tuple[str, ...]


def _with_readout(fig: Any, traj: Trajectory, eigenvalues: np.ndarray | None, run: int) -> Any:
    """``fig`` with one text trace beside the current marker: the readout of each frame's record."""
    import plotly.graph_objects as go

    from viz.surface_figure import AnimatedFigure

    if eigenvalues is None:
        return fig
    spec = go.Figure.to_dict(fig)
    data, layout, frames = list(spec["data"]), spec["layout"], fig.raw_frames()
    by_step = {str(int(s)): r for r, s in enumerate(traj.steps)}

    def text_trace(r: int) -> dict[str, Any]:
        lam = eigenvalues[r, run]
        p = traj.params[r, run]
        return dict(type="scatter", mode="text", x=[float(p[0])], y=[float(p[1])], xaxis="x", yaxis="y",
                    text=[cv.readout(int(traj.steps[r]), float(lam[0]), float(lam[1]))], textposition="top right",
                    textfont=dict(size=12, color="#222222"), cliponaxis=False, showlegend=False, hoverinfo="skip",
                    name="readout")

    first = by_step[frames[0]["name"]] if frames else 0
    data.append(text_trace(first))
    idx = len(data) - 1
    frames = [{**f, "data": [*f["data"], text_trace(by_step[f["name"]])], "traces": [*f["traces"], idx]}
              for f in frames]
    return AnimatedFigure(data, layout, _lean(data, frames))


def _lean(data: list[dict[str, Any]], frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Frames carrying only the attributes that change between frames (plotly keeps the others).

    The X-ray's frame traces repeat their whole style each frame; without it the figure's JSON, encoded on
    every rerun, is about half as long.
    """
    if not frames:
        return frames
    slots = frames[0]["traces"]
    keep: dict[int, set[str]] = {}
    for j, ti in enumerate(slots):
        base = data[ti]
        keys = {k for f in frames for k in f["data"][j]}
        keep[j] = {"x", "y"} | {k for k in keys if any(f["data"][j].get(k) != base.get(k) for f in frames)}
    return [{**f, "data": [{k: _packed(v) for k, v in d.items() if k in keep[j]} for j, d in enumerate(f["data"])]}
            for f in frames]


def _packed(v: Any) -> Any:
    """Long coordinate lists as float64 arrays: sent as base64 typed arrays, half the JSON and quick to encode."""
    if isinstance(v, list) and len(v) > 8 and all(isinstance(x, float) for x in v):
        return np.asarray(v, dtype=np.float64)
    return v


def build_view(surface: Landscape, cfg: OptimizerConfig, traj: Trajectory, fps: int) -> XrayView:
    """The section's figures and sentences for run 0 of ``traj`` (pure; the page caches it).

    Raises
    ------
    ValueError
        When the trajectory has no recorded state.
    """
    from viz import xray_figure as xf
    from viz.player import use_player

    run = 0
    opt = cfg.build()
    fields = opt.xray_fields()
    notes: list[str] = []
    points = [f for f in fields if f.role == "point"]
    if points:
        notes.append("The grey path is the parameters, where gradients are taken; dashed beside it: "
                     + "; ".join(f"{f.label}, {f.doc[0].lower()}{f.doc[1:-1]}" for f in points) + ".")
    eig = cmap = None
    try:
        eig = cv.path_eigenvalues(surface, traj.params)
        cmap = cv.curvature_map(surface, CURVATURE_RES)
    except NotImplementedError:
        notes.append(f"{surface.title} has no analytic Hessian, so there is no curvature to show.")

    # No title: the section's heading names the optimizer, and the legend takes the top margin.
    fig = xf.xray_figure(traj, fields, run=run, curvature=cmap, max_frames=MAX_FRAMES, height=640)
    fig = _with_readout(fig, traj, eig, run)
    animated = PrecomputedFigure(fig)
    spec = animated.to_dict()  # this object's own copy, changed here once before it is cached
    spec["frames"] = fig.to_dict()["frames"]  # typed arrays for the long ones (see _packed)
    lay = spec["layout"]
    lay["legend"] = dict(orientation="h", x=0.0, xanchor="left", y=1.0, yanchor="bottom")
    lay["margin"] = dict(l=50, r=20, t=60, b=40)
    play = lay["updatemenus"][0]["buttons"][0]
    play["args"][1]["frame"]["duration"] = max(10, round(1000 / max(1, fps)))
    spec["layout"] = use_player(lay)

    readouts: tuple[str, ...] = ()
    curv = split = None
    if eig is not None:
        last = traj.last_record(run)
        readouts = tuple(cv.readout(int(traj.steps[r]), float(eig[r, run, 0]), float(eig[r, run, 1]))
                         for r in readout_records(traj, eig, run))
        linear = gd_type(cfg)
        lr = float(opt.hparams.get("lr", np.nan)) if linear and cfg.schedule == "constant" else None
        curv = PrecomputedFigure(xf.curvature_figure(
            [xf.CurvatureSeries(cfg.display, traj.steps[: last + 1], eig[: last + 1, run], lr=lr,
                                color=palette.COLORS[0])]))
        kinds = cv.classify(eig[: last + 1, run])
        saddle = int(np.sum(kinds == cv.INDEFINITE))
        lam_max = eig[: last + 1, run, 1]
        text = (f"Along the path λmax runs from {lam_max[0]:.3g} to {lam_max[-1]:.3g} (largest {np.nanmax(lam_max):.3g}); "
                f"{saddle} of {last + 1} recorded points lie where the Hessian is indefinite (a saddle region), "
                f"{share_text(cmap.share(cv.INDEFINITE))} of the map.")
        if lr:
            above = int(np.sum(lam_max > 2.0 / lr))
            text += (f" Dashed: 2/η = {2.0 / lr:.3g}, the largest curvature GD is stable on; λmax is above it at "
                     f"{above} of them.")
        elif not linear:
            text += " No 2/η line: this method's step is not proportional to the gradient, so GD's limit does not apply."
        else:
            text += " No 2/η line: the learning rate follows a schedule."
        notes.append(text)
        if constant_hessian(surface, traj.params[0]):
            try:
                es = cv.eigen_split(surface, traj.params)
            except ValueError:
                es = None
            if es is not None:
                split = PrecomputedFigure(xf.eigen_split_figure(traj.steps[: last + 1], es.loss_parts[: last + 1, run],
                                                                es.eigenvalues))
                lam = es.eigenvalues
                words = (f"The Hessian is the same everywhere (λ = {lam[0]:.3g} and {lam[1]:.3g}), so the loss splits "
                         "exactly into one part per eigendirection.")
                if lr:
                    f0, f1 = abs(1 - lr * lam[0]), abs(1 - lr * lam[1])
                    words += (f" Under GD each part shrinks by (1 − ηλ)² per step: {f0 * f0:.3g} along the flat "
                              f"direction, {f1 * f1:.3g} along the steep one; the slower one sets the pace.")
                notes.append(words)
    return XrayView(animated, curv, split, readouts, tuple(notes))


def share_text(share: float) -> str:
    """A share of the map in words, e.g. ``"12% "`` or ``"none"``."""
    return "none" if share == 0 else f"{share:.0%}" if share >= 0.01 else "under 1%"


# -- streamlit ------------------------------------------------------------------------------------
@st.cache_resource(max_entries=16, show_spinner=False)
def _view(key: str, _surface: Landscape, _cfg: OptimizerConfig, _starts: np.ndarray, steps: int,
          fps: int) -> XrayView:
    return build_view(_surface, _cfg, xray_run(_surface, _cfg, _starts, steps), fps)


def view_key(values: dict, cfg: OptimizerConfig, starts: np.ndarray) -> str:
    """The text that determines one X-ray view."""
    return repr((values["surface"], values["params"], config_key(cfg), cfg.display,
                 np.asarray(starts).round(12).tolist(), int(values["steps"]), int(values["fps"])))


def xray_section(values: dict, surface: Landscape) -> None:
    """Render the X-ray of optimizer ``values["xray"]`` (nothing when ``"off"``)."""
    choice = values.get("xray", "off")
    if choice == "off":
        return
    t0 = time.perf_counter()
    entries = list(values["optimizers"])
    if not isinstance(choice, int) or not 0 <= choice < len(entries):
        st.info(f"No X-ray: there is no optimizer {echo(choice)} in the list.")
        return
    cfg = entries[choice].config
    color = palette.color_for(choice)
    st.subheader("X-ray: inside the optimizer", anchor=False)
    st.markdown(f"<span style='color:{color}'>●</span> **{echo(cfg.display)}**, from the first start "
                f"({values['x']:g}, {values['y']:g}).", unsafe_allow_html=True)
    starts = ring_starts((values["x"], values["y"]), values["starts"], values["spread"], surface.bounds)
    try:
        with st.spinner("Recording the optimizer's state…"):
            view = _view(view_key(values, cfg, starts), surface, cfg, starts, int(values["steps"]), int(values["fps"]))
    except ValueError as err:
        st.warning(f"No X-ray for **{echo(cfg.display)}**: {echo(err, 160)}")
        return
    st.caption(INTRO)
    st.plotly_chart(view.animated, theme=None, key="surf.xray.fig", width="stretch")
    st.caption("◀ / ▶ under the figure step one frame (so do ← / → after a click on it); the sentence by the "
               "marker is the curvature there.")
    if view.readouts:
        st.markdown("**Curvature along the path**  \n" + "  \n".join(view.readouts))
    if view.curvature is not None:
        st.plotly_chart(view.curvature, theme=None, key="surf.xray.curv", width="stretch")
    if view.split is not None:
        st.markdown("**The error in the Hessian's eigendirections** (Distill's *milestones*)")
        st.plotly_chart(view.split, theme=None, key="surf.xray.split", width="stretch")
    for note in view.notes:
        st.caption(note)
    timing = st.session_state.get(TIMING)
    if isinstance(timing, dict):
        timing["xray"] = time.perf_counter() - t0
