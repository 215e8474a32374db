"""Networks page: tiny MLPs trained by the shared optimizers, and why some do not learn.

Decode the link once -> draw the controls declared in :mod:`ui.networks_model`
-> cached training (``nets.train``, within the work budget) -> cached figure
(``viz.net_figures``) played by the frame player -> summary and diagnostics.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import streamlit as st

import nets
import optimizers
from common import budget
from common.controls import echo
from optimizers.config import OptimizerConfig
from optimizers.runner import Trajectory
from ui import controls as ctl
from ui.codec import OptEntry
from ui.common import PrecomputedFigure, boundary_data, config_key, to_series
from ui.net_tuning import net_tuning_section
from ui.networks_model import (
    CONTROLS,
    LOSS_LABELS,
    MODEL,
    OPTIMIZER_EXTRAS,
    PRESETS,
    batch_of,
    parse_hidden,
    parse_view,
)
from ui.optimizer_panel import optimizer_panel, set_optimizers
from ui.player import frame_player
from ui.sharpness import sharpness_section
from viz import net_figures as nf
from viz.palette import color_for

P = "net"  # session-state prefix of this page
OPT = f"{P}.opt"
TIMING = f"{P}.timing"
MAX_FRAMES = 100
EXPORT_FRAMES = 50
TARGET_RECORDS = 100  # recorded epochs per run: one per animation frame (MAX_FRAMES), enough for smooth curves


# -- presets ---------------------------------------------------------------------------------------
def _apply_preset() -> None:
    key = st.session_state.get(f"{P}.preset")
    for p in PRESETS:
        if p.key == key:
            values = p.values()
            ctl.store(P, values)
            ctl.forget_widgets(P)
            set_optimizers(OPT, values["optimizers"])
            st.session_state[f"{P}.preset_shown"] = p.key
            return


def _preset_row() -> None:
    options = [None] + [p.key for p in PRESETS]
    titles = {p.key: p.title for p in PRESETS}
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    c1.selectbox("Seed questions: set up a scenario in one click", options, key=f"{P}.preset",
                 on_change=_apply_preset, index=0,
                 format_func=lambda k: "— pick a question —" if k is None else titles[k])
    shown = st.session_state.get(f"{P}.preset_shown")
    for p in PRESETS:
        if p.key == shown:
            c2.info(f"**{p.title}.** {p.caption}", icon=":material/search:")


# -- sidebar ---------------------------------------------------------------------------------------
def _sidebar(values: dict[str, Any]) -> None:
    with st.sidebar:
        st.header("Data")
        ctl.draw(CONTROLS, values, P, "data")
        st.caption(nets.DATASETS[values["data"]].lesson)
        st.header("Network")
        ctl.draw(CONTROLS, values, P, "network")
        st.header("Training")
        ctl.draw(CONTROLS, values, P, "training")
        st.header("Optimizers")
        values["optimizers"] = tuple(optimizer_panel(OPT, values["optimizers"], limit=MODEL.max_optimizers,
                                                     extras=OPTIMIZER_EXTRAS))
        st.header("View")
        labels = run_labels(values) or ["—"]
        bnd = next(c for c in CONTROLS if c.key == "bnd")
        values["bnd"] = min(values["bnd"], len(labels) - 1)
        values["bnd"] = ctl.spec_widget(bnd.spec, ctl.widget_key(P, "bnd"), values["bnd"],
                                        options=tuple(range(len(labels))),
                                        fmt=lambda i: labels[i] if i < len(labels) else "—")
        ctl.draw(CONTROLS, values, P, "view")


# -- cached computations -------------------------------------------------------------------------
def problem_args(values: dict[str, Any], hidden: tuple[int, ...], batch: int, variant: str = "") -> tuple:
    """Keyword arguments of ``nets.problem`` as sorted pairs (hashable; a cache key)."""
    entry = nets.DATASETS[values["data"]]
    args = dict(
        dataset=values["data"], hidden=hidden, activation=values["act"], output=values["out"], loss=values["loss"],
        l2=values["l2"], init=values["init"], init_scale=values["sigma"], batch_size=batch or None,
        shuffle=values["shuffle"], seed=values["dseed"], test_fraction=values["test"], standardize=values["std"],
        noise=values["noise"] if entry.generated else None, n=values["n"] if entry.generated else None,
        batch_norm=values["bn"],
    )
    if variant == "loss":
        args["loss"] = "cross_entropy" if values["loss"] == "mse" else "mse"
    elif variant == "shuffle":
        args["shuffle"] = not values["shuffle"]
    elif variant == "standardize":
        args["standardize"] = not values["std"]
    return tuple(sorted(args.items()))


@st.cache_resource(max_entries=32, show_spinner=False)
def get_problem(args: tuple[tuple[str, Any], ...]) -> nets.NetProblem:
    """``nets.problem(**args)``, built once. Raises ValueError on bad settings."""
    return nets.problem(**dict(args))


@st.cache_data(max_entries=48, show_spinner=False)
def _train_cached(pargs: tuple, ckey: str, _cfg: OptimizerConfig, epochs: int, n_seeds: int,
                  record_every: int) -> Trajectory:
    traj = nets.train(get_problem(pargs), _cfg, epochs, seeds=list(range(n_seeds)), record_every_epochs=record_every)
    # The page draws only the first seed's parameters; keeping every seed's would hold up to
    # seeds × records × parameters floats per cache entry.
    return replace(traj, params=np.ascontiguousarray(traj.params[:, :1]))


@st.cache_data(max_entries=32, show_spinner=False)
def _slice_cached(pargs: tuple, key: str, directions: str, resolution: int, _center: np.ndarray,
                  _paths: list[np.ndarray]) -> nets.Slice2D:
    return nets.slice_2d(get_problem(pargs), _center, directions=directions, paths=_paths, resolution=resolution)


def variants(values: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Per compare mode, the suffix of the main runs and of the compared runs."""
    return {"loss": ("MSE", "CE") if values["loss"] == "mse" else ("CE", "MSE"),
            "shuffle": ("shuffled", "in order") if values["shuffle"] else ("in order", "shuffled"),
            "standardize": ("standardized", "raw") if values["std"] else ("raw", "standardized")}


def _label(e: OptEntry) -> str:
    """A run's legend label: the optimizer, and its own batch size when it sets one."""
    own = e.extra("batch", -1)
    return e.config.display + ("" if own in (-1, None) else f" [{_batch_tag(own)}]")


def _batch_tag(b: int) -> str:
    return {0: "full batch", 1: "b=1"}.get(b, f"b={b}")


def run_labels(values: dict[str, Any]) -> list[str]:
    """Legend labels of every run the page trains: the main ones, then the compared ones."""
    entries = values["optimizers"]
    if values["cmp"] == "none":
        return [_label(e) for e in entries]
    a, b = variants(values)[values["cmp"]]
    return [f"{_label(e)} · {a}" for e in entries] + [f"{_label(e)} · {b}" for e in entries]


def record_every(epochs: int) -> int:
    """Record every n-th epoch so a run keeps about ``TARGET_RECORDS`` records."""
    return max(1, math.ceil(epochs / TARGET_RECORDS))


# -- the page --------------------------------------------------------------------------------------

def main() -> None:
    """Draw the page. Server-side timings (seconds) go to ``st.session_state["net.timing"]`` for the benchmarks."""
    t_start = time.perf_counter()
    timing: dict[str, float] = {}
    st.session_state[TIMING] = timing
    st.subheader("Networks: watch a tiny net learn, or fail to", anchor=False)
    values, notices = ctl.initial_values(P, MODEL)
    ctl.notice_box(notices)
    _preset_row()
    _sidebar(values)
    values, more = MODEL.fix(values)
    for note in more:
        st.warning(note)
    ctl.store(P, values)
    ctl.sync_url(MODEL.encode(values))
    if not values["optimizers"]:
        st.info("Add at least one optimizer in the sidebar.")
        return
    try:
        hidden = parse_hidden(values["hidden"])
    except ValueError as err:
        st.error(f"Hidden sizes: {echo(err, 160)}. The other settings are kept; fix the text in the sidebar.")
        return
    timing["sidebar"] = time.perf_counter() - t_start
    runnable = _runnable(values, hidden)
    if not runnable:
        st.info("None of these optimizers can train this network; change the network or add another optimizer.")
        return
    _body({**values, "optimizers": runnable}, hidden, timing)
    timing["total"] = time.perf_counter() - t_start
    parts = ", ".join(f"{k} {v:.2f}" for k, v in timing.items() if k != "total")
    st.caption(f"Server time for this view: {timing['total']:.2f} s ({parts}).")


def _runnable(values: dict[str, Any], hidden: tuple[int, ...]) -> tuple[OptEntry, ...]:
    """The optimizers that can start on this network; each one that cannot gets a notice with its reason.

    Some refuse a network (Shampoo and SOAP run on 2-D surfaces only); the others still run,
    and the link keeps every optimizer.
    """
    n_params = get_problem(problem_args(values, hidden, batch_of(values, values["optimizers"][0]))).n_params
    kept = []
    for i, e in enumerate(values["optimizers"]):
        try:
            e.config.build().init(np.zeros((1, n_params)))
        except ValueError as err:
            st.warning(f"Optimizer {i + 1} is not run on this network: {echo(err, 200)}", icon=":material/block:")
            continue
        kept.append(e)
    return tuple(kept)


def _train_all(values: dict[str, Any], hidden: tuple[int, ...], timing: dict[str, float]
               ) -> list[tuple[OptimizerConfig, Trajectory, nets.NetProblem, str, str, tuple]]:
    """Every run of the view within the work budget: (config, trajectory, problem, label, colour, problem args)."""
    entries: list[OptEntry] = list(values["optimizers"])
    variant_order = [""] if values["cmp"] == "none" else ["", values["cmp"]]
    jobs = [(v, e, problem_args(values, hidden, batch_of(values, e), v)) for v in variant_order for e in entries]
    probe = get_problem(jobs[0][2])
    plan = budget.net_plan(n_params=probe.n_params, rows=probe.n_train,
                           batches=[get_problem(a).batch_size or probe.n_train for _, _, a in jobs],
                           epochs=values["epochs"], seeds=values["seeds"],
                           gradients=[e.config.build().gradient_cost() for _, e, _ in jobs])
    for note in plan.reductions:
        st.info(note, icon=":material/speed:")
    epochs, seeds = plan.values["epochs"], plan.values["seeds"]
    rec = record_every(epochs)
    labels = run_labels(values)
    tick = time.perf_counter()
    runs = []
    with st.spinner("Training…"):
        for j, (_, e, pargs) in enumerate(jobs):
            traj = _train_cached(pargs, config_key(e.config), e.config, epochs, seeds, rec)
            runs.append((e.config, traj, get_problem(pargs), labels[j], color_for(j), pargs))
    timing["training"] = time.perf_counter() - tick
    values["_seeds_run"] = seeds
    return runs


def _body(values: dict[str, Any], hidden: tuple[int, ...], timing: dict[str, float]) -> None:
    runs = _train_all(values, hidden, timing)
    n_seeds = values.pop("_seeds_run")
    n_main = len(values["optimizers"])
    tick = time.perf_counter()
    series = [to_series(traj, prob, label, color) for _, traj, prob, label, color, _ in runs]
    b = min(values["bnd"], len(runs) - 1)
    b_main = b % n_main  # the slice lives in the main problem's parameter space
    fidx = nf.frame_indices(len(series[0].epochs), MAX_FRAMES)
    problem = runs[0][2]
    n_feat = problem.mlp.n_features
    view = (0, 1) if n_feat <= 2 else parse_view(values["view"])
    # A regression net has no decision boundary; its fitted curve is drawn under the figure instead.
    boundary = None if problem.regression else boundary_data(runs[b][2], runs[b][1].params[fidx, 0, :], view,
                                                             runs[b][3])
    timing["boundary"] = time.perf_counter() - tick

    tick = time.perf_counter()
    landscape = None
    slice_note = ""
    splan = budget.slice_plan(n_params=problem.n_params, rows=problem.n_train, resolution=values["res"])
    if values["slice"] != "off" and not splan.values["resolution"]:
        slice_note = splan.reductions[0]
    elif values["slice"] != "off":
        for note in splan.reductions:
            st.info(note, icon=":material/speed:")
        main_runs = runs[:n_main]
        center = main_runs[b_main][1].params[-1, 0, :]
        paths = [r[1].params[:, 0, :] for r in main_runs if r[2].n_params == main_runs[b_main][2].n_params]
        skey = repr((b_main, [(config_key(r[0]), r[5]) for r in main_runs], values["epochs"]))
        try:
            sl = _slice_cached(main_runs[b_main][5], skey, values["slice"], splan.values["resolution"], center, paths)
            title = ("slice: random directions" if values["slice"] == "random"
                     else f"slice: PCA of the paths ({sl.explained[0]:.0%} + {sl.explained[1]:.0%})")
            landscape = nf.SliceData(sl.alphas, sl.betas, sl.Z,
                                     list(sl.paths) + [None] * (len(series) - len(sl.paths)), title=title)
            slice_note = (f"The slice is a plane through the end point of {runs[b_main][3]} (first seed); the other "
                          "paths are projected onto it, so where they leave the plane their height is not the "
                          "plotted one.")
        except ValueError as err:
            slice_note = f"No landscape slice: {echo(err, 160)}"
    timing["slice"] = time.perf_counter() - tick

    tick = time.perf_counter()
    loss_name = "loss (each run's own)" if values["cmp"] == "loss" else LOSS_LABELS[problem.mlp.loss]
    prior = None if values["cmp"] == "loss" else problem.prior_loss
    key = MODEL.query_string(values)
    fig = _figure(key, series, boundary, landscape, values["scale"], loss_name, prior, values["fps"])
    timing["figure"] = time.perf_counter() - tick
    seeds_note = f" First of {n_seeds} seeds; the spread is below." if n_seeds > 1 else ""
    view_note = ""
    if n_feat > 2:
        view_note = (" Boundary over the first two principal components of the inputs (points are projections)."
                     if view is None else " Boundary over two features, the others fixed at their training mean.")
    st.caption(f"**{problem.title}**, {problem.n_params} parameters, {problem.n_train} training rows.{seeds_note}"
               f"{view_note} Press ▶ or drag the epoch slider; ◀ / ▶ step one recorded epoch.")
    tick = time.perf_counter()
    st.plotly_chart(fig, theme=None, key=f"{P}.fig")
    frame_player(key=f"{P}.player")
    timing["chart"] = time.perf_counter() - tick
    tick = time.perf_counter()
    if slice_note:
        st.caption(slice_note)

    if problem.regression:
        _fit_section(runs, b)
    if n_seeds > 1:
        st.subheader(f"Across {n_seeds} seeds")
        st.plotly_chart(nf.seeds_figure(series, loss_scale=values["scale"], loss_name=loss_name), theme=None,
                        key=f"{P}.seeds")

    st.subheader("Summary")
    st.dataframe(nf.summary_rows(series), hide_index=True, width="stretch")
    if n_seeds > 1:
        st.caption("Median over seeds, with the 10th–90th percentile range in brackets.")

    st.subheader("Diagnostics")
    st.plotly_chart(nf.diagnostics_figure(series), theme=None, key=f"{P}.diag")
    cols = st.columns(min(len(runs), 3))
    for i, (_, traj, prob, label, color, _) in enumerate(runs):
        with cols[i % len(cols)]:
            st.markdown(f"<span style='color:{color}'>●</span> **{label}**", unsafe_allow_html=True)
            lines = nets.diagnose(traj, prob)
            st.markdown("\n".join(f"- {line}" for line in lines) if lines else "- nothing unusual")

    sharpness_section(values, runs)
    net_tuning_section(values, runs)
    with st.expander("Update rules"):
        seen = set()
        for e in values["optimizers"]:
            cls = optimizers.REGISTRY[e.config.name]
            if e.config.name in seen or not cls.latex:
                continue
            seen.add(e.config.name)
            st.markdown(f"**{cls.title}**" + (f" ({cls.reference})" if cls.reference else ""))
            st.latex(cls.latex)
    timing["panels"] = time.perf_counter() - tick
    _exports(fig, series, boundary, values, loss_name)


def _fit_section(runs: list, b: int) -> None:
    """Regression: what each network predicts along its input, the fit forming over epochs for one run."""
    from viz.fit_figure import fit_figure

    st.subheader("The fitted function")
    traj = runs[b][1]
    picks = np.unique(np.linspace(0, traj.params.shape[0] - 1, 6).round().astype(int))
    epochs = [int(e) for e in np.rint(nets.epochs_of(traj, runs[b][2]))[picks]]
    order = [b] + [i for i in range(len(runs)) if i != b]
    grids = [nets.fit_grid(runs[i][2], runs[i][1].params[picks if i == b else [-1], 0, :]) for i in order]
    st.plotly_chart(fit_figure(grids, [runs[i][3] for i in order], [runs[i][4] for i in order], epochs),
                    theme=None, key=f"{P}.fit")
    r2 = [float(runs[i][1].extras["train_r2"][-1, 0]) for i in order]
    st.caption("Final training R² (first seed): " + ", ".join(f"{runs[i][3]} {v:.3f}" for i, v in zip(order, r2,
                                                                                                      strict=True))
               + ". R² ≈ 0 means the net outputs the mean of y for every input.")


@st.cache_resource(max_entries=16, show_spinner=False)
def _figure(key: str, _series: list[nf.NetSeries], _boundary: Any, _landscape: Any, scale: str, loss_name: str,
            prior: float | None, fps: int) -> PrecomputedFigure:
    """The training figure of one view ``key``; the same object while nothing changed, so playback is not restarted."""
    from viz.player import use_player

    fig = nf.training_figure(_series, boundary=_boundary, landscape=_landscape, max_frames=MAX_FRAMES,
                             loss_scale=scale, loss_name=loss_name, reference_loss=prior, frame_ms=round(1000 / fps),
                             reference_label=f"guess the class shares ({prior:.3g})" if prior is not None else "")
    shown = PrecomputedFigure(fig)
    spec = shown.to_dict()
    spec["layout"] = use_player(spec["layout"])
    return shown


def _exports(fig: PrecomputedFigure, series: list[nf.NetSeries], boundary: nf.BoundaryData | None,
             values: dict[str, Any], loss_name: str) -> None:
    st.subheader("Export")
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.download_button("Curves (CSV)", nf.curves_csv(series), file_name="descent_lab_network_curves.csv",
                       mime="text/csv")
    if c2.button("Prepare HTML (interactive)"):
        from viz.export import to_html

        c2.download_button("Download HTML", to_html(fig.full), file_name="descent_lab_network.html", mime="text/html")
    for col, fmt in ((c3, "gif"), (c4, "mp4")):
        if col.button(f"Prepare {fmt.upper()} (slow)", help=f"{EXPORT_FRAMES} frames of the loss, accuracy and "
                      "boundary panels, rendered with matplotlib."):
            from viz.export import encode_gif, encode_mp4, render_frames

            # Fewer frames than the page: a subset of its frames, so the boundary grids are the page's.
            page_idx = nf.frame_indices(len(series[0].epochs), MAX_FRAMES)
            pick = nf.frame_indices(len(page_idx), EXPORT_FRAMES)
            bnd = None if boundary is None else replace(boundary, probs=np.asarray(boundary.probs)[pick])
            with st.spinner(f"Rendering the {fmt.upper()}…"):
                scene = nf.net_scene(series, boundary=bnd, records=page_idx[pick], loss_scale=values["scale"],
                                     loss_name=loss_name)
                frames = render_frames(scene)
                data = encode_gif(frames, 15) if fmt == "gif" else encode_mp4(frames, 15)
            col.download_button(f"Download {fmt.upper()}", data, file_name=f"descent_lab_network.{fmt}",
                                mime="image/gif" if fmt == "gif" else "video/mp4")
    # Rendered only when clicked (a deferred download), like the surfaces page's exports.
    c5.download_button("PNG (last frame)", data=lambda: nf.net_png(series, boundary=boundary, max_frames=MAX_FRAMES,
                                                                   loss_scale=values["scale"], loss_name=loss_name),
                       file_name="descent_lab_network.png", mime="image/png", on_click="ignore", key=f"{P}.dl.png")
    st.caption("Share this view: copy the address bar; every control is in the link.")
