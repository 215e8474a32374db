"""Surfaces page: optimizers racing over an analytic 2-D loss surface.

Widgets -> :class:`ui.state.Settings` -> cached runs (one per optimizer) ->
cached figure. The settings mirror the URL query string both ways, so a copied
link reproduces the view.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import streamlit as st

import landscapes
import optimizers
from landscapes.base import Landscape
from optimizers.config import OptimizerConfig
from optimizers.runner import Trajectory
from ui import state
from ui.basins import basin_section
from ui.common import (
    PrecomputedFigure,
    landscape_cached,
    reference_cached,
    ring_starts,
    run_cached,
    show_unexpected,
    summary_rows,
)
from ui.optimizer_panel import optimizer_panel, spec_widget
from ui.player import frame_player
from ui.state import Settings
from viz import palette

P = "surf"  # widget-key prefix of this page
OPT_STATE = f"{P}.optimizers"
SETTINGS = f"{P}.settings"
NOTICES = f"{P}.notices"
LAST_GOOD = f"{P}.last_good_surface"
MAP_KEY = f"{P}.map"
TIMING = f"{P}.timing"
LAYOUT_LABELS = {"overlay": "overlay", "small_multiples": "small multiples", "3d": "3-D surface"}


def _seed(key: str, value: Any) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def _initial_settings() -> Settings:
    """Settings from the URL on a session's first run, later the last settings shown."""
    if SETTINGS not in st.session_state:
        try:
            settings, notices = state.decode({k: st.query_params.get_all(k) for k in st.query_params})
        except ValueError as err:
            settings, notices = state.default_settings(), [f"the whole link ({err})"]
        st.session_state[SETTINGS] = settings
        st.session_state[NOTICES] = notices
    settings = st.session_state[SETTINGS]
    # Streamlit drops widget state when another page is shown; re-seed from the last settings.
    _seed(f"{P}.surface", settings.landscape)
    for name, value in settings.landscape_params:
        _seed(f"{P}.ls.{settings.landscape}.{name}", value)
    _seed(f"{P}.x", float(settings.start[0]))
    _seed(f"{P}.y", float(settings.start[1]))
    _seed(f"{P}.steps", settings.steps)
    _seed(f"{P}.starts", settings.n_starts)
    _seed(f"{P}.spread", settings.spread)
    _seed(f"{P}.fps", settings.fps)
    _seed(f"{P}.layout", settings.layout)
    _seed(f"{P}.basins", settings.basins)
    _seed(f"{P}.scale", settings.scale)
    _seed(f"{P}.refs", list(settings.references))
    return settings


# -- callbacks (run before the rerun, so they may set widget values) -----------------------
def _set_start(x: float, y: float) -> None:
    st.session_state[f"{P}.x"] = float(x)
    st.session_state[f"{P}.y"] = float(y)


def _on_preset(presets: dict[str, tuple[float, float]]) -> None:
    choice = st.session_state.get(f"{P}.preset")
    if choice in presets:
        _set_start(*presets[choice])
    # Back to the placeholder, so picking the same preset again works.
    st.session_state[f"{P}.preset"] = None


def _on_surface_change() -> None:
    name = st.session_state[f"{P}.surface"]
    try:
        start = state.default_settings(name).start  # rounded, so the share link stays short
    except ValueError:
        return
    _set_start(*start)


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
def _surface_controls() -> tuple[str, tuple[tuple[str, Any], ...]]:
    reg = landscapes.REGISTRY
    if st.session_state.get(f"{P}.surface") not in reg:
        st.session_state[f"{P}.surface"] = state.default_landscape()
    name = st.selectbox("Surface", list(reg), key=f"{P}.surface", format_func=lambda k: reg[k].title,
                        on_change=_on_surface_change)
    params: dict[str, Any] = {}
    if reg[name].specs:
        with st.expander("surface parameters", expanded=any(s.kind == "choice" and not s.choices
                                                            for s in reg[name].specs)):
            for spec in reg[name].specs:
                params[spec.name] = spec_widget(spec, f"{P}.ls.{name}.{spec.name}", spec.default)
    # Only values that differ from the defaults go to the URL and the cache key.
    changed = {k: v for k, v in params.items() if v != next(s.default for s in reg[name].specs if s.name == k)}
    return name, tuple(sorted(changed.items()))


def _start_controls(surface: Landscape | None) -> tuple[float, float]:
    st.markdown("**Start point** — type it, pick a preset, or click the map")
    cx, cy = st.columns(2)
    x = cx.number_input("x₀", key=f"{P}.x", format="%.4g", step=0.1)
    y = cy.number_input("y₀", key=f"{P}.y", format="%.4g", step=0.1)
    if surface is not None and surface.presets:
        presets = surface.presets
        st.selectbox(
            "preset start points", list(presets), index=None, key=f"{P}.preset",
            placeholder="jump to a preset start…", label_visibility="collapsed",
            format_func=lambda k: f"{k}  ({presets[k][0]:g}, {presets[k][1]:g})",
            on_change=_on_preset, args=(presets,),
        )
    return float(x), float(y)


def _sidebar() -> tuple[Settings, Landscape | None, list[str]]:
    """Read every control; return the settings, the surface (None if it does not build) and problems."""
    problems: list[str] = []
    with st.sidebar:
        st.header("Surface")
        name, lparams = _surface_controls()
        surface: Landscape | None
        try:
            surface = landscape_cached(name, lparams)
            st.session_state[LAST_GOOD] = (name, lparams)
        except ValueError as err:
            st.error(f"This surface does not build: {err}")
            surface = None
            good = st.session_state.get(LAST_GOOD)
            if good is not None:
                problems.append("The surface settings are invalid (see the sidebar); showing the last valid surface.")
                name, lparams = good
                surface = landscape_cached(name, lparams)
            else:
                problems.append("The surface settings are invalid (see the sidebar); showing the default surface.")
                name, lparams = state.default_landscape(), ()
                surface = landscape_cached(name, lparams)

        st.header("Optimizers")
        configs = optimizer_panel(P, list(st.session_state[SETTINGS].optimizers), state_key=OPT_STATE)

        st.header("Run")
        x, y = _start_controls(surface)
        steps = st.slider("steps", 1, state.MAX_STEPS, key=f"{P}.steps",
                          help=f"Updates per run (at most {state.MAX_STEPS}).")
        n_starts = st.slider("number of starts", 1, state.MAX_STARTS, key=f"{P}.starts",
                             help="More than one: the start plus a ring of starts around it (basins of attraction).")
        spread = st.session_state.get(f"{P}.spread", 0.05)
        if n_starts > 1:
            spread = st.slider("ring radius (fraction of the map width)", *state.SPREAD_RANGE, step=0.01,
                               key=f"{P}.spread")

        st.header("View")
        layout = st.radio("layout", state.LAYOUTS, key=f"{P}.layout", format_func=LAYOUT_LABELS.get,
                          horizontal=True)
        scale = st.radio("loss axis", state.SCALES, key=f"{P}.scale", horizontal=True)
        fps = st.slider("animation speed (frames/s)", *state.FPS_RANGE, key=f"{P}.fps")
        basins = st.select_slider(
            "basin map (starts per axis)", state.BASIN_CHOICES, key=f"{P}.basins",
            format_func=lambda n: "off" if n == 0 else f"{n} × {n}",
            help="Run every optimizer from every point of a grid and colour each start by where it ends.")
        methods = state.scipy_methods()
        refs: list[str] = []
        if methods:
            st.session_state[f"{P}.refs"] = [r for r in st.session_state.get(f"{P}.refs", []) if r in methods]
            refs = st.multiselect("SciPy reference paths (dashed)", methods, key=f"{P}.refs",
                                  help="scipy.optimize.minimize from the same start, for comparison.")

    if not (math.isfinite(x) and math.isfinite(y)):
        problems.append("The start point was not a finite number; using the surface's default start.")
        x, y = surface.start
    (x0, x1), (y0, y1) = surface.bounds
    mx, my = state.START_MARGIN * (x1 - x0), state.START_MARGIN * (y1 - y0)
    cx, cy = min(max(x, x0 - mx), x1 + mx), min(max(y, y0 - my), y1 + my)
    if (cx, cy) != (x, y):
        problems.append(f"The start ({x:g}, {y:g}) was far outside the map; moved to ({cx:g}, {cy:g}).")
        x, y = cx, cy
    settings = Settings(
        landscape=name, landscape_params=lparams, optimizers=tuple(configs), start=(float(x), float(y)),
        steps=int(steps), n_starts=int(n_starts), spread=float(spread), fps=int(fps), layout=layout, scale=scale,
        references=tuple(refs), basins=int(basins),
    )
    return settings, surface, problems


# -- computation ------------------------------------------------------------------------------
def _series(settings: Settings, surface: Landscape) -> tuple[list[Any], list[str]]:
    """Runs (cached per optimizer) and SciPy references as figure series; plus divergence messages."""
    from viz.surface_figure import Series

    starts = ring_starts(settings.start, settings.n_starts, settings.spread, surface.bounds)
    series: list[Any] = []
    warnings: list[str] = []
    for i, cfg in enumerate(settings.optimizers):
        try:
            traj = run_cached(settings.landscape, settings.landscape_params, cfg, starts, settings.steps)
        except ValueError as err:
            warnings.append(f"**{cfg.display}** did not run: {err}")
            continue
        series.append(Series(label=cfg.display, color=palette.color_for(i), trajectory=traj))
        for run in np.flatnonzero(traj.status == "diverged"):
            where = f" (start #{run})" if traj.k > 1 else ""
            warnings.append(f"**{cfg.display}**{where} {traj.reason[run]}. The path is shown up to that point; "
                            "try a smaller learning rate, clipping or a schedule.")
    for j, method in enumerate(settings.references):
        try:
            traj = reference_cached(settings.landscape, settings.landscape_params, method, settings.start,
                                    settings.steps)
        except ValueError as err:
            warnings.append(f"SciPy **{method}** did not run: {err}")
            continue
        series.append(Series(label=f"SciPy {method}", color=palette.reference_color(j), trajectory=traj, dashed=True))
    return series, warnings


@st.cache_resource(max_entries=32, show_spinner=False)
def _figure(key: str, _surface: Landscape, _series: list[Any], layout: str, scale: str, fps: int) -> Any:
    """The figure for one query string ``key``; the same object comes back while nothing changed,
    so Streamlit does not restart the animation.

    The 2-D figures are played by the frame player (``ui.player``): the copy sent to the browser gets the
    player's buttons; ``.full`` (used by the exports) keeps plotly's own Play/Pause."""
    from viz import surface_figure
    from viz.player import use_player

    if layout == "3d":
        return PrecomputedFigure(surface_figure.surface_3d_figure(_surface, _series))
    fig = surface_figure.animated_figure(_surface, _series, layout=layout, loss_scale=scale,
                                         frame_ms=max(10, round(1000 / fps)))
    shown = PrecomputedFigure(fig)
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


def _export_buttons(key: str, settings: Settings, surface: Landscape, series: list[Any],
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
            label, data=lambda kind=kind: _export(kind, key, surface, series, fig.full, settings.fps),
            file_name=f"{stem}.{ext}", mime=mime, on_click="ignore", key=f"{P}.dl.{kind}", width="stretch",
        )


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
def _explanations(settings: Settings, surface: Landscape) -> None:
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Update rules")
        seen: set[str] = set()
        for i, cfg in enumerate(settings.optimizers):
            if cfg.name in seen or cfg.name not in optimizers.REGISTRY:
                continue
            seen.add(cfg.name)
            cls = optimizers.REGISTRY[cfg.name]
            st.markdown(f"<span style='color:{palette.color_for(i)}'>●</span> **{cls.title}** — "
                        f"<small>{cls.reference}</small>", unsafe_allow_html=True)
            st.latex(cls.latex)
        extras = _transform_notes(settings.optimizers)
        if extras:
            st.caption("Transforms in use: " + "; ".join(extras))
    with right:
        st.subheader(surface.title)
        st.latex(surface.latex)
        if surface.lesson:
            st.markdown(surface.lesson)
        st.caption(_what_to_look_for(settings))


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


def _what_to_look_for(settings: Settings) -> str:
    tips = ["What to look for: where the paths turn (the gradient points straight downhill, "
            "momentum carries past it), how fast each loss curve falls, and where each run ends."]
    if settings.n_starts > 1:
        tips.append("With a ring of starts, runs that end in different minima show the basins of attraction.")
    if settings.references:
        tips.append("Dashed grey paths are SciPy's methods: they use line searches or curvature, "
                    "so they take far fewer, longer steps.")
    return " ".join(tips)


def _share_link(settings: Settings) -> None:
    qs = state.query_string(settings)
    base = ""
    try:
        url = st.context.url
        if url:
            base = url.split("?", 1)[0]
    except AttributeError:
        pass
    st.markdown("**Share this view** — the link reproduces every setting:")
    st.code(f"{base}?{qs}" if base else f"?{qs}", language=None, wrap_lines=True)


def _sync_url(settings: Settings) -> None:
    wanted = state.encode(settings)
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    normal = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    if current != normal:
        st.query_params.from_dict(wanted)


# -- the page -----------------------------------------------------------------------------------
def main() -> None:
    """Draw the page.

    Server-side timings of this run (seconds) are kept in ``st.session_state["surf.timing"]`` for the
    benchmarks: ``runs`` (optimizer runs, cached per optimizer), ``figure`` (cached per settings),
    ``chart`` (serialising the figure for the browser) and ``total``.
    """
    t_start = time.perf_counter()
    timing: dict[str, float] = {}
    st.session_state[TIMING] = timing
    _initial_settings()
    settings, surface, problems = _sidebar()
    timing["sidebar"] = time.perf_counter() - t_start
    st.session_state[SETTINGS] = settings
    _sync_url(settings)

    st.header("Optimizers on loss surfaces", anchor=False)
    st.caption("Every optimizer starts at the same point. Press ▶ to watch them move; the loss curves on the right "
               "move in step. Change anything in the sidebar, or click the map to start somewhere else.")
    notices = st.session_state.pop(NOTICES, [])
    if notices:
        st.warning(state.notice_text(notices), icon=":material/link:")
    for p in problems:
        st.warning(p)
    if not settings.optimizers:
        st.info("Add an optimizer in the sidebar to start.")
        return

    t0 = time.perf_counter()
    series, warnings = _series(settings, surface)
    timing["runs"] = time.perf_counter() - t0
    for w in warnings:
        st.warning(w, icon=":material/warning:")
    if not series:
        return
    key = state.query_string(settings)
    t0 = time.perf_counter()
    fig = _figure(key, surface, series, settings.layout, settings.scale, settings.fps)
    timing["figure"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if settings.layout == "3d":
        st.plotly_chart(fig, theme=None, key=f"{MAP_KEY}.3d", width="stretch")
    else:
        st.plotly_chart(fig, theme=None, key=MAP_KEY, on_select=_on_map_select, selection_mode="points",
                        width="stretch")
        frame_player(key=f"{P}.player")
    timing["chart"] = time.perf_counter() - t0

    st.subheader("Summary")
    labels = [s.label for s in series]
    trajectories: list[Trajectory] = [s.trajectory for s in series]
    # A static table: much lighter in the browser than the interactive data grid.
    st.table(_formatted(summary_rows(surface, labels, trajectories)))
    t0 = time.perf_counter()
    basin_section(settings, surface)
    timing["basins"] = time.perf_counter() - t0
    _explanations(settings, surface)
    with st.expander("Export and share", expanded=False):
        _share_link(settings)
        _export_buttons(key, settings, surface, series, fig)
    timing["total"] = time.perf_counter() - t_start


# Streamlit's rerun/stop signals derive from BaseException, so they pass through.
try:
    main()
except Exception as err:  # the page boundary: never show a traceback
    if isinstance(err, ValueError):
        st.error(f"That combination of settings cannot be shown: {err}")
    else:
        show_unexpected(err, "drawing the surfaces page")
