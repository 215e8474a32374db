"""Surfaces page: optimizers racing over an analytic 2-D loss surface.

Decode the link once -> draw the controls declared in :mod:`ui.surfaces_model`
-> cached runs (one per optimizer) -> cached figure -> what goes under it.
The values mirror the URL both ways, so a copied link reproduces the view.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

import landscapes
import optimizers
from common import budget
from common.controls import echo
from landscapes.base import Landscape
from optimizers.config import OptimizerConfig
from optimizers.runner import Trajectory
from ui import controls as ctl
from ui.basins import basin_section
from ui.common import PrecomputedFigure, landscape_cached, reference_cached, ring_starts, run_cached, summary_rows
from ui.optimizer_panel import optimizer_panel, set_optimizers
from ui.page import figure_shown
from ui.player import frame_player
from ui.quiet import UI, quiet
from ui.surfaces_model import CONTROLS, MODEL, START_MARGIN, demo_optimizers
from ui.tuning import tuning_section
from ui.xray import xray_section
from viz import palette

log = logging.getLogger("descent_lab.ui")

P = "surf"  # session-state prefix of this page
OPT = f"{P}.opt"
MAP_KEY = f"{P}.map"
TIMING = f"{P}.timing"
#: How many runs of this session drew controls that differed from those read before the figure (tests: never).
REDRAWS = f"{P}.redraws"


# -- callbacks (run before the rerun, so they may set widget values) -----------------------
def _set_start(x: float, y: float) -> None:
    st.session_state[ctl.widget_key(P, "x")] = float(x)
    st.session_state[ctl.widget_key(P, "y")] = float(y)


def _on_preset(presets: dict[str, tuple[float, float]]) -> None:
    choice = st.session_state.get(f"{P}.preset")
    if choice in presets:
        _set_start(*presets[choice])
    # Back to the placeholder, so picking the same preset again works.
    st.session_state[f"{P}.preset"] = None


def _on_map_select() -> None:
    event = st.session_state.get(MAP_KEY)
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return
    for point in points:
        data = point.get("customdata")
        # Typed customdata arrives as {"0": x, "1": y}; a plain list as [x, y].
        if isinstance(data, dict):
            data = [data.get("0"), data.get("1")]
        if not (isinstance(data, (list, tuple)) and len(data) >= 2):
            continue
        try:
            x, y = float(data[0]), float(data[1])
        except (TypeError, ValueError):
            continue
        if math.isfinite(x) and math.isfinite(y):
            _set_start(round(x, 4), round(y, 4))
            return


# -- sidebar --------------------------------------------------------------------------------
def _surface_params(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The chosen surface's own parameters (widgets from its specs); only non-defaults are kept."""
    cls = landscapes.REGISTRY[values["surface"]]
    if not cls.specs:
        return ()
    given = dict(values.get("params", ()))
    got: dict[str, Any] = {}
    with UI.expander("surface parameters", expanded=any(s.kind == "choice" and not s.choices for s in cls.specs)):
        for spec in cls.specs:
            got[spec.name] = ctl.spec_widget(spec, f"{P}.w.surface.{cls.name}.{spec.name}",
                                             given.get(spec.name, spec.default), options=spec.choices)
    return tuple(sorted((k, v) for k, v in got.items() if v != next(s.default for s in cls.specs if s.name == k)))


def _sidebar(values: dict[str, Any]) -> tuple[Landscape, list[str]]:
    """Draw every control into ``values``; return the surface to show and problems to report."""
    problems: list[str] = []
    with UI.sidebar:
        UI.header("Surface")
        before = values["surface"]
        ctl.draw(CONTROLS, values, P, "surface")
        if values["surface"] != before:
            values["params"] = ()
            # A surface opens on its lesson: its own optimizers, unless the user had changed the old ones.
            if tuple(e.config for e in values["optimizers"]) == tuple(
                    e.config for e in demo_optimizers({"surface": before})):
                values["optimizers"] = demo_optimizers(values)
                set_optimizers(OPT, values["optimizers"])
        values["params"] = _surface_params(values)
        try:
            surface = landscape_cached(values["surface"], values["params"])
        except ValueError as err:
            UI.error(f"This surface does not build: {echo(err, 160)}")
            problems.append("The surface settings are invalid (see the sidebar); showing its defaults.")
            values["params"] = ()
            surface = landscape_cached(values["surface"], ())

        UI.header("Optimizers")
        values["optimizers"] = tuple(optimizer_panel(OPT, values["optimizers"], limit=MODEL.max_optimizers,
                                                     layouts=False))

        UI.header("Run")
        UI.markdown("**Start point** — type it, pick a preset, or click the map")
        cx, cy = UI.columns(2)
        x_ctl, y_ctl = (c for c in CONTROLS if c.key in ("x", "y"))
        with cx:
            ctl.draw([x_ctl], values, P)
        with cy:
            ctl.draw([y_ctl], values, P)
        if surface.presets:
            presets = surface.presets
            UI.selectbox(
                "preset start points", list(presets), index=None, key=f"{P}.preset",
                placeholder="jump to a preset start…", label_visibility="collapsed",
                format_func=lambda k: f"{k}  ({presets[k][0]:g}, {presets[k][1]:g})",
                on_change=_on_preset, args=(presets,),
            )
        ctl.draw(CONTROLS, values, P, "run")
        UI.header("View")
        ctl.draw(CONTROLS, values, P, "view")

    (x0, x1), (y0, y1) = surface.bounds
    mx, my = START_MARGIN * (x1 - x0), START_MARGIN * (y1 - y0)
    x, y = values["x"], values["y"]
    cx_, cy_ = min(max(x, x0 - mx), x1 + mx), min(max(y, y0 - my), y1 + my)
    if (cx_, cy_) != (x, y):
        problems.append(f"The start ({x:g}, {y:g}) was far outside the map; moved to ({cx_:g}, {cy_:g}).")
        values["x"], values["y"] = cx_, cy_
    return surface, problems


# -- computation ------------------------------------------------------------------------------
def _series(values: dict[str, Any], surface: Landscape, record_every: int) -> tuple[list[Any], list[str]]:
    """Runs (cached per optimizer) and SciPy references as figure series; plus divergence messages."""
    from viz.surface_figure import Series

    start = (values["x"], values["y"])
    starts = ring_starts(start, values["starts"], values["spread"], surface.bounds)
    series: list[Any] = []
    warnings: list[str] = []
    for i, cfg in enumerate(e.config for e in values["optimizers"]):
        try:
            traj = run_cached(values["surface"], values["params"], cfg, starts, values["steps"], record_every)
        except ValueError as err:
            warnings.append(f"**{cfg.display}** did not run: {echo(err, 160)}")
            continue
        series.append(Series(label=cfg.display, color=palette.color_for(i), trajectory=traj))
        for run in np.flatnonzero(traj.status == "diverged"):
            where = f" (start #{run})" if traj.k > 1 else ""
            warnings.append(f"**{cfg.display}**{where} {traj.reason[run]}. The path is shown up to that point; "
                            "try a smaller learning rate, clipping or a schedule.")
    for j, method in enumerate(values["ref"]):
        try:
            traj = reference_cached(values["surface"], values["params"], method, start, values["steps"])
        except ValueError as err:
            warnings.append(f"SciPy **{method}** did not run: {echo(err, 160)}")
            continue
        series.append(Series(label=f"SciPy {method}", color=palette.reference_color(j), trajectory=traj, dashed=True))
    return series, warnings


@st.cache_resource(max_entries=32, show_spinner=False)
def _figure(key: str, _surface: Landscape, _series: list[Any], _layout: str, _scale: str, _fps: int,
            _max_frames: int = 150) -> Any:
    """The figure for one view ``key`` (its query string and the figure's settings); the same object comes back
    while nothing changed, so Streamlit does not restart the animation. Called by keyword, as ui.common explains.

    The 2-D figures are played by the frame player (``ui.player``): the copy sent to the browser gets the
    player's buttons; ``.full`` (used by the exports) keeps plotly's own Play/Pause."""
    from viz import surface_figure
    from viz.player import use_player

    if _layout == "3d":
        fig = surface_figure.surface_3d_figure(_surface, _series, loss_scale=_scale)
    else:
        fig = surface_figure.animated_parts(_surface, _series, layout=_layout, loss_scale=_scale,
                                            frame_ms=max(10, round(1000 / _fps)), max_frames=_max_frames)
    shown = PrecomputedFigure(fig) if _layout == "3d" else PrecomputedFigure.from_parts(fig)
    spec = shown.to_dict()  # this object's own copy, changed once here before it is cached and shared
    spec["layout"] = use_player(spec["layout"])
    return shown


# -- exports (generated only when a download is clicked, then cached) -------------------------
EXPORTS = (  # kind, button label, extension, mime
    ("html", "HTML (animated)", "html", "text/html"),
    ("gif", "GIF", "gif", "image/gif"),
    ("mp4", "MP4", "mp4", "video/mp4"),
    ("png", "PNG (last frame)", "png", "image/png"),
    ("csv", "CSV (paths)", "csv", "text/csv"),
)


@st.cache_data(max_entries=16, show_spinner="Rendering the export…")
def _export(kind: str, key: str, _surface: Landscape, _series: list[Any], _fig: Any, fps: int) -> bytes | str:
    """One export of the view ``key`` (the query string); slow kinds render once per view."""
    from viz import export

    if kind == "html":
        return export.to_html(_fig)
    if kind == "gif":
        return export.to_gif(_surface, _series, fps=fps)
    if kind == "mp4":
        return export.to_mp4(_surface, _series, fps=fps)
    if kind == "png":
        return export.to_png(_surface, _series)
    return export.trajectories_csv(_series)


def _export_buttons(key: str, values: dict[str, Any], surface: Landscape, series: list[Any],
                    fig: PrecomputedFigure) -> None:
    try:
        import viz.export  # noqa: F401
    except ImportError:
        st.info("Exports are not available in this installation (viz.export is missing).")
        return
    st.caption("Files are rendered when you click (GIF and MP4 take a few seconds) and play offline.")
    stem = f"descent-lab-{surface.name}"
    cols = st.columns(len(EXPORTS))
    for col, (kind, label, ext, mime) in zip(cols, EXPORTS, strict=True):
        col.download_button(
            label, data=lambda kind=kind: _export(kind, key, surface, series, fig.full, values["fps"]),
            file_name=f"{stem}.{ext}", mime=mime, on_click="ignore", key=f"{P}.dl.{kind}", width="stretch",
        )


@st.cache_resource(max_entries=32, show_spinner=False)
def _summary(key: str, _surface: Landscape, _series: list[Any]) -> pd.DataFrame:
    """The summary table of the view ``key`` (the query string), built once: from a list of rows, ``st.table``
    would build a DataFrame again in every session (more than half of its cost)."""
    labels = [s.label for s in _series]
    trajectories: list[Trajectory] = [s.trajectory for s in _series]
    return pd.DataFrame(_formatted(summary_rows(_surface, labels, trajectories)))


def _formatted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        r = dict(row)
        for col, fmt in (("final value", "{:.4g}"), ("distance to nearest minimum", "{:.3g}"),
                         ("wall time (ms)", "{:.1f}")):
            if col in r:
                r[col] = fmt.format(r[col])
        out.append(r)
    return out


# -- below the figure --------------------------------------------------------------------------
def _latex_block(latex: str) -> str:
    """Display math inside a markdown body, as ``st.latex`` writes it."""
    return f"$$\n{latex.strip()}\n$$"


def _explanations(values: dict[str, Any], surface: Landscape) -> None:
    # One markdown element per column rather than one per line and formula: each element costs the server
    # the same in every session, whatever its size.
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Update rules")
        seen: set[str] = set()
        configs = tuple(e.config for e in values["optimizers"])
        rules = []
        for i, cfg in enumerate(configs):
            if cfg.name in seen or cfg.name not in optimizers.REGISTRY:
                continue
            seen.add(cfg.name)
            cls = optimizers.REGISTRY[cfg.name]
            rules.append(f"<span style='color:{palette.color_for(i)}'>●</span> **{cls.title}** — "
                         f"<small>{cls.reference}</small>\n\n{_latex_block(cls.latex)}")
        st.markdown("\n\n".join(rules), unsafe_allow_html=True)
        extras = _transform_notes(configs)
        if extras:
            st.caption("Transforms in use: " + "; ".join(extras))
    with right:
        st.subheader(surface.title)
        st.markdown(_latex_block(surface.latex) + (f"\n\n{surface.lesson}" if surface.lesson else ""))
        st.caption(_what_to_look_for(values))


def _transform_notes(configs: tuple[OptimizerConfig, ...]) -> list[str]:
    from optimizers.transforms import SCHEDULES

    notes = []
    for cfg in configs:
        parts = []
        if cfg.schedule != "constant":
            parts.append(f"{SCHEDULES[cfg.schedule].title} schedule")
        if cfg.clip_mode != "off":
            parts.append(f"clipping by {cfg.clip_mode} at {cfg.clip_threshold:g}")
        if cfg.noise_sigma:
            parts.append(f"gradient noise σ={cfg.noise_sigma:g}")
        if cfg.decoupled_weight_decay:
            parts.append(f"decoupled decay λ={cfg.decoupled_weight_decay:g}")
        if parts:
            notes.append(f"{cfg.display}: " + ", ".join(parts))
    return notes


def _what_to_look_for(values: dict[str, Any]) -> str:
    tips = ["What to look for: where the paths turn (the gradient points straight downhill, "
            "momentum carries past it), how fast each loss curve falls, and where each run ends."]
    if values["starts"] > 1:
        tips.append("With a ring of starts, runs that end in different minima show the basins of attraction.")
    if values["ref"]:
        tips.append("Dashed grey paths are SciPy's methods: they use line searches or curvature, "
                    "so they take far fewer, longer steps.")
    return " ".join(tips)


def _share_link(query: str) -> None:
    base = ""
    try:
        url = st.context.url
        if url:
            base = url.split("?", 1)[0]
    except AttributeError:
        pass
    st.markdown("**Share this view** — the link reproduces every setting:")
    st.code(f"{base}?{query}" if base else f"?{query}", language=None, wrap_lines=True)


# -- the page -----------------------------------------------------------------------------------
def main() -> None:
    """Draw the page: the figure first, from the controls read quietly, then the controls themselves.

    The controls are read without drawing them (:mod:`ui.quiet`), the figure is computed and sent, the rest of
    the page's turn waits behind the other sessions' figures (:func:`ui.page.figure_shown`), and then the
    controls are drawn, by the same code, from the values read. Should they come out differently (they never
    have), the page runs again at once from what the controls hold.

    Server-side timings of this run (seconds) are kept in ``st.session_state["surf.timing"]`` for the
    benchmarks and tests: ``read`` (the controls, read), ``runs`` (optimizer runs, cached per optimizer),
    ``figure`` (cached per view), ``chart`` (serialising the figure for the browser), ``controls`` (drawn),
    ``total``; and ``redrawn`` when the drawn controls differed from those read (also counted for the session
    in ``st.session_state["surf.redraws"]``, which the rerun keeps).
    """
    t_start = time.perf_counter()
    timing: dict[str, float] = {}
    st.session_state[TIMING] = timing
    values, notices = ctl.initial_values(P, MODEL)
    start = dict(values)
    try:
        with quiet():
            surface, problems = _sidebar(values)
    except Exception:
        _sidebar(start)  # drawn, as before: the controls up to the one that fails stay on screen
        raise
    values, _ = MODEL.fix(values)
    timing["read"] = time.perf_counter() - t_start
    try:
        view = _figure_part(values, surface, problems, notices, timing)
    except Exception:
        _controls(values, timing)  # an error under the figure keeps the controls
        raise
    # Not on Streamlit's rerun and stop signals (BaseExceptions): a newer run is waiting, this one ends now.
    drawn = _controls(values, timing)
    if drawn != values:
        timing["redrawn"] = 1.0
        st.session_state[REDRAWS] = st.session_state.get(REDRAWS, 0) + 1
        log.warning("the controls drawn differ from those read before the figure: %s",
                    sorted(k for k in drawn if drawn[k] != values.get(k)))
        if not st.session_state.pop(f"{P}.rerun_once", False):
            st.session_state[f"{P}.rerun_once"] = True
            st.rerun()
    st.session_state.pop(f"{P}.rerun_once", None)
    if view is None:
        return
    key, series, fig = view

    st.subheader("Summary")
    # A static table: much lighter in the browser than the interactive data grid.
    st.table(_summary(key=key, _surface=surface, _series=series))
    xray_section(values, surface)
    tuning_section(values, surface)
    t0 = time.perf_counter()
    basin_section(values, surface)
    timing["basins"] = time.perf_counter() - t0
    _explanations(values, surface)
    # Drawn only when open (on_change="rerun"): its seven widgets and blocks are otherwise sent to every session.
    with st.expander("Export and share", expanded=False, key=f"{P}.export", on_change="rerun") as box:
        if box.open:
            _share_link(key)
            _export_buttons(key, values, surface, series, fig)
    timing["total"] = time.perf_counter() - t_start


def _controls(values: dict[str, Any], timing: dict[str, float]) -> dict[str, Any]:
    """After the figure: wait behind the other sessions' figures, then draw the controls from ``values``, keep
    what they hold and show it in the address bar; returns what they hold (equal to ``values``)."""
    figure_shown()
    t0 = time.perf_counter()
    drawn = dict(values)
    _sidebar(drawn)
    drawn, _ = MODEL.fix(drawn)
    ctl.store(P, drawn)
    ctl.sync_url(MODEL.encode(drawn))
    timing["controls"] = time.perf_counter() - t0
    return drawn


def _figure_part(values: dict[str, Any], surface: Landscape, problems: list[str], notices: list[str],
                 timing: dict[str, float]) -> tuple[str, list[Any], PrecomputedFigure] | None:
    """Everything down to the figure and its player; ``(view key, series, figure)``, or None with nothing to show."""
    st.subheader("Optimizers on loss surfaces", anchor=False)
    st.caption("Press ▶ to watch every optimizer move from the same start; the loss curves move in step. "
               "Click the map to start elsewhere.")
    ctl.notice_box(notices)
    for p in problems:
        st.warning(p)
    if not values["optimizers"]:
        st.info("Add an optimizer in the sidebar to start.")
        return None

    plan = budget.surface_plan(len(values["optimizers"]), values["starts"], values["steps"])
    for note in plan.reductions:
        st.info(note, icon=":material/speed:")
    t0 = time.perf_counter()
    series, warnings = _series(values, surface, plan.values["record_every"])
    timing["runs"] = time.perf_counter() - t0
    for w in warnings:
        st.warning(w, icon=":material/warning:")
    if not series:
        return None
    key = MODEL.query_string(values)
    t0 = time.perf_counter()
    look = (values["layout"], values["scale"], values["fps"], plan.values["max_frames"])
    fig = _figure(key=repr((key, *look)), _surface=surface, _series=series, _layout=look[0], _scale=look[1],
                  _fps=look[2], _max_frames=look[3])
    timing["figure"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if values["layout"] == "3d":
        st.plotly_chart(fig, theme=None, key=f"{MAP_KEY}.3d", width="stretch")
    else:
        st.plotly_chart(fig, theme=None, key=MAP_KEY, on_select=_on_map_select, selection_mode="points",
                        width="stretch")
    frame_player(key=f"{P}.player")
    timing["chart"] = time.perf_counter() - t0
    return key, series, fig
