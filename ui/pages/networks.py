"""Networks page: tiny MLPs trained by the shared optimizers, and why some do not learn.

Widgets -> :class:`ui.net_state.NetSettings` -> cached training (nets.train) -> figures
(viz.net_figures). Every control is mirrored in the URL (ui.net_state.encode/decode).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import streamlit as st

import nets
import optimizers
from nets.datasets import MAX_N, MAX_NOISE
from optimizers.config import OptimizerConfig
from optimizers.runner import Trajectory
from ui import net_state as ns
from ui.optimizer_panel import optimizer_panel
from viz import net_figures as nf
from viz.palette import color_for

log = logging.getLogger("descent_lab.ui.networks")

P = "net."  # widget-key prefix
OPT_PREFIX = "netopt"
OPT_STORE = "net.opts"
BOUNDARY_GRID = 41
MAX_FRAMES = 100
EXPORT_FRAMES = 50
TARGET_RECORDS = 125  # recorded epochs per run: enough for smooth curves, cheap to record
BATCH_MODES = ("full", "b", "1")
TIMES: dict[str, float] = {}  # seconds per stage of the last rerun, shown under the page
BATCH_LABELS = {"full": "full batch", "b": "mini-batch of size b", "1": "one row per step (b = 1, pure SGD)"}


# -- settings <-> widgets ------------------------------------------------------------------------
def _put_settings(s: ns.NetSettings) -> None:
    """Write settings into the widget keys (first visit, URL, or a preset)."""
    ss = st.session_state
    entry = nets.DATASETS[s.dataset]
    ss[P + "data"] = s.dataset
    ss[P + "noise"] = float(entry.default_noise if s.noise is None else s.noise)
    ss[P + "n"] = int(entry.default_n if s.n is None else s.n)
    ss[P + "dseed"] = int(s.data_seed)
    ss[P + "test"] = float(entry.default_test_fraction if s.test_fraction is None else s.test_fraction)
    ss[P + "std"] = bool(s.standardize)
    ss[P + "hidden"] = s.hidden
    ss[P + "act"], ss[P + "out"], ss[P + "loss"] = s.activation, s.output, s.loss
    ss[P + "l2"], ss[P + "init"], ss[P + "sigma"] = float(s.l2), s.init, float(s.init_scale)
    ss[P + "batch_mode"] = "full" if s.batch_size == 0 else ("1" if s.batch_size == 1 else "b")
    ss[P + "batch_b"] = int(s.batch_size) if s.batch_size > 1 else 16
    ss[P + "shuffle"] = bool(s.shuffle)
    ss[P + "epochs"], ss[P + "seeds"] = int(s.epochs), int(s.n_seeds)
    ss[P + "cmp"], ss[P + "slice"], ss[P + "res"] = s.compare, s.slice, int(s.resolution)
    ss[P + "view"], ss[P + "bnd"], ss[P + "scale"] = s.view, int(s.boundary_of), s.scale
    # The shared optimizer panel seeds itself from its defaults only when its store is missing.
    for key in [k for k in ss if str(k).startswith(OPT_PREFIX + ".") or k == OPT_STORE]:
        del ss[key]
    ss[P + "opt_defaults"] = list(s.optimizers)


def _apply_preset() -> None:
    key = st.session_state.get(P + "preset")
    for p in ns.presets():
        if p.key == key:
            _put_settings(p.settings)
            st.session_state[P + "preset_shown"] = p.key
            return


def _dataset_changed() -> None:
    """New dataset: its own noise, size, split and a valid view."""
    ss = st.session_state
    entry = nets.DATASETS[ss[P + "data"]]
    ss[P + "noise"], ss[P + "n"] = float(entry.default_noise), int(entry.default_n)
    ss[P + "test"] = float(entry.default_test_fraction)
    ss[P + "view"] = "f0,1"
    ss[P + "preset_shown"] = None


def _read_widgets(optimizer_configs: list[OptimizerConfig]) -> ns.NetSettings:
    ss = st.session_state
    data = ss[P + "data"]
    entry = nets.DATASETS[data]
    mode = ss[P + "batch_mode"]
    batch = 0 if mode == "full" else (1 if mode == "1" else int(ss[P + "batch_b"]))
    return ns.NetSettings(
        dataset=data,
        noise=float(ss[P + "noise"]) if entry.generated else None,
        n=int(ss[P + "n"]) if entry.generated else None,
        data_seed=int(ss[P + "dseed"]), test_fraction=float(ss[P + "test"]), standardize=bool(ss[P + "std"]),
        hidden=str(ss[P + "hidden"]), activation=ss[P + "act"], output=ss[P + "out"], loss=ss[P + "loss"],
        l2=float(ss[P + "l2"]), init=ss[P + "init"], init_scale=float(ss[P + "sigma"]), batch_size=batch,
        shuffle=bool(ss[P + "shuffle"]), epochs=int(ss[P + "epochs"]), n_seeds=int(ss[P + "seeds"]),
        compare=ss[P + "cmp"], slice=ss[P + "slice"], resolution=int(ss[P + "res"]), view=ss[P + "view"],
        boundary_of=int(ss[P + "bnd"]), scale=ss[P + "scale"], optimizers=tuple(optimizer_configs),
    )


def _sync_url(s: ns.NetSettings) -> None:
    want = ns.encode(s)
    have = {k: st.query_params.get(k) for k in st.query_params}
    if have != want:
        st.query_params.clear()
        st.query_params.update(want)


# -- cached computations -------------------------------------------------------------------------
def problem_args(s: ns.NetSettings, hidden: tuple[int, ...], variant: str = "") -> tuple[tuple[str, Any], ...]:
    """Keyword arguments of ``nets.problem`` as sorted pairs (hashable; a cache key)."""
    args = dict(
        dataset=s.dataset, hidden=hidden, activation=s.activation, output=s.output, loss=s.loss, l2=s.l2,
        init=s.init, init_scale=s.init_scale, batch_size=s.batch_size or None, shuffle=s.shuffle, seed=s.data_seed,
        test_fraction=s.test_fraction, standardize=s.standardize, noise=s.noise, n=s.n,
    )
    if variant == "loss":
        args["loss"] = "cross_entropy" if s.loss == "mse" else "mse"
    elif variant == "shuffle":
        args["shuffle"] = not s.shuffle
    elif variant == "standardize":
        args["standardize"] = not s.standardize
    return tuple(sorted(args.items()))


@st.cache_resource(max_entries=32, show_spinner=False)
def get_problem(args: tuple[tuple[str, Any], ...]) -> nets.NetProblem:
    """``nets.problem(**args)``, built once. Raises ValueError on bad settings."""
    return nets.problem(**dict(args))


def config_key(cfg: OptimizerConfig) -> str:
    """Canonical text of a config without its label (labels do not change runs)."""
    return repr((cfg.name, cfg.hparams, cfg.schedule, cfg.schedule_params, cfg.clip_mode, cfg.clip_threshold,
                 cfg.noise_sigma, cfg.noise_anneal, cfg.noise_seed, cfg.decoupled_weight_decay))


@st.cache_data(max_entries=128, show_spinner=False)
def _train_cached(pargs: tuple, ckey: str, _cfg: OptimizerConfig, epochs: int, n_seeds: int,
                  record_every: int) -> Trajectory:
    return nets.train(get_problem(pargs), _cfg, epochs, seeds=list(range(n_seeds)), record_every_epochs=record_every)


@st.cache_data(max_entries=64, show_spinner=False)
def _slice_cached(pargs: tuple, key: str, directions: str, resolution: int, _center: np.ndarray,
                  _paths: list[np.ndarray]) -> nets.Slice2D:
    return nets.slice_2d(get_problem(pargs), _center, directions=directions, paths=_paths, resolution=resolution)


def variants(s: ns.NetSettings) -> dict[str, tuple[str, str]]:
    """Per compare mode, the suffix of the main runs and of the compared runs."""
    return {"loss": ("MSE", "CE") if s.loss == "mse" else ("CE", "MSE"),
            "shuffle": ("shuffled", "in order") if s.shuffle else ("in order", "shuffled"),
            "standardize": ("standardized", "raw") if s.standardize else ("raw", "standardized")}


def run_labels(s: ns.NetSettings, configs: list[OptimizerConfig]) -> list[str]:
    """Legend labels of every run the page trains: the main ones, then the compared ones."""
    if s.compare == "none":
        return [c.display for c in configs]
    a, b = variants(s)[s.compare]
    return [f"{c.display} · {a}" for c in configs] + [f"{c.display} · {b}" for c in configs]


def record_every(epochs: int) -> int:
    """Record every n-th epoch so a run keeps about ``TARGET_RECORDS`` records."""
    return max(1, math.ceil(epochs / TARGET_RECORDS))


def to_series(traj: Trajectory, problem: nets.NetProblem, label: str, color: str) -> nf.NetSeries:
    """A training trajectory as the figure module's NetSeries."""
    x = traj.extras
    return nf.NetSeries(
        label=label, color=color, epochs=np.rint(nets.epochs_of(traj, problem)).astype(int),
        train_loss=x["train_loss"], train_acc=x["train_acc"], test_loss=x.get("test_loss"),
        test_acc=x.get("test_acc"), layer_grad_norms=x["grad_norm_layer"][:, 0, :],
        saturation=x["saturated"][:, 0] if "saturated" in x else None,
        dead=x["dead"][:, 0] if "dead" in x else None,
    )


def boundary_data(problem: nets.NetProblem, thetas: np.ndarray, view: tuple[int, int] | None, label: str
                  ) -> nf.BoundaryData:
    """The boundary panel's data: :func:`nets.boundary_grid` plus labels for the figure."""
    g = nets.boundary_grid(problem, thetas, view, resolution=BOUNDARY_GRID)
    return nf.BoundaryData(xs=g.xs, ys=g.ys, probs=g.probs, points=g.points, labels=problem.y_train, series_label=label,
                           xlabel=g.xlabel, ylabel=g.ylabel, class_names=tuple(problem.split.dataset.class_names))


# -- the page --------------------------------------------------------------------------------------
def _first_visit() -> None:
    if st.session_state.get(P + "init_done"):
        return
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    settings, notices = ns.decode(params) if params else (ns.default_settings(), [])
    _put_settings(settings)
    st.session_state[P + "url_notices"] = notices
    st.session_state[P + "init_done"] = True


def _sidebar() -> list[OptimizerConfig]:
    ss = st.session_state
    with st.sidebar:
        st.header("Data")
        st.selectbox("dataset", nets.datasets(), key=P + "data", on_change=_dataset_changed,
                     format_func=lambda k: nets.DATASETS[k].title)
        entry = nets.DATASETS[ss[P + "data"]]
        st.caption(entry.lesson)
        if entry.generated:
            c1, c2 = st.columns(2)
            c1.slider("noise", 0.0, float(MAX_NOISE), step=0.01, key=P + "noise")
            c2.number_input("rows n", 10, MAX_N, step=10, key=P + "n")
        c1, c2 = st.columns(2)
        c1.number_input("data seed", 0, 10**6, step=1, key=P + "dseed",
                        help="Seeds the generated data, the train/test split and the shuffling.")
        c2.slider("test share", 0.0, 0.9, step=0.05, key=P + "test",
                  help="Rows held out (stratified). 0 = train on every row"
                       + (" (body metrics: the two people the question predicts become the test set)."
                          if ss[P + "data"] == "body_metrics" else "."))
        st.checkbox("standardize features", key=P + "std",
                    help="Mean 0, std 1 from the training rows. Off = raw values, which is what the seed "
                         "questions fed in (cm and kg for body metrics).")
        if not ss[P + "std"]:
            st.caption("Raw features: what the questions fed in. Large raw inputs saturate sigmoid/tanh units.")

        st.header("Network")
        st.text_input("hidden sizes", key=P + "hidden", max_chars=ns.MAX_HIDDEN_TEXT,
                      help="Comma-separated widths, e.g. 4 or 16,16. Empty = no hidden layer "
                           "(logistic / softmax regression).")
        c1, c2 = st.columns(2)
        c1.selectbox("activation", list(nets.ACTIVATIONS), key=P + "act", help=_help(nets.ACTIVATIONS))
        c2.selectbox("output", ["auto", *nets.OUTPUTS], key=P + "out",
                     help="auto: one sigmoid unit for two classes, softmax otherwise.")
        c1, c2 = st.columns([3, 2])
        c1.selectbox("loss", list(nets.LOSSES), key=P + "loss",
                     format_func=lambda k: {"cross_entropy": "cross-entropy", "mse": "MSE"}.get(k, k),
                     help=_help(nets.LOSSES))
        c2.number_input("L2 λ", 0.0, 10.0, step=0.001, format="%g", key=P + "l2",
                        help="Penalty λ/2·Σ‖W‖² on the weights.")
        c1, c2 = st.columns([3, 2])
        c1.selectbox("init", list(nets.INITS), key=P + "init", help=_help(nets.INITS))
        if ss[P + "init"] == "normal":
            c2.number_input("init σ", 1e-4, 100.0, format="%g", key=P + "sigma")

        st.header("Training")
        st.radio("batches", BATCH_MODES, key=P + "batch_mode", format_func=BATCH_LABELS.get,
                 help="One epoch is one pass over the training rows, whatever the batch size.")
        if ss[P + "batch_mode"] == "b":
            st.number_input("batch size b", 2, MAX_N, step=1, key=P + "batch_b")
        st.checkbox("shuffle rows every epoch", key=P + "shuffle",
                    help="Off: the rows come in data order every epoch (Iris: sorted by species).")
        c1, c2 = st.columns(2)
        c1.number_input("epochs", 1, ns.MAX_PAGE_EPOCHS, step=50, key=P + "epochs")
        c2.number_input("seeds", 1, ns.MAX_PAGE_SEEDS, step=1, key=P + "seeds",
                        help="Networks from different random starts per optimizer. > 1 shows the spread.")
        st.selectbox("also run with", list(ns.COMPARES), key=P + "cmp", format_func=ns.COMPARES.get,
                     help="Train every optimizer a second time with one setting flipped, for a side-by-side.")

        st.header("Optimizers")
        defaults = ss.get(P + "opt_defaults") or list(ns.default_optimizers())
        configs = optimizer_panel(OPT_PREFIX, defaults, state_key=OPT_STORE)
        if len(configs) > ns.MAX_OPTIMIZERS:
            st.warning(f"Showing the first {ns.MAX_OPTIMIZERS} optimizers.")
            configs = configs[: ns.MAX_OPTIMIZERS]

        st.header("View")
        n_feat = ns.n_features(ss[P + "data"])
        if n_feat > 2:
            names = nets.make_dataset(ss[P + "data"]).feature_names
            options = ["pca"] + [f"f{i},{j}" for i in range(n_feat) for j in range(i + 1, n_feat)]
            if ss.get(P + "view") not in options:
                ss[P + "view"] = options[1]
            st.selectbox("decision boundary over", options, key=P + "view",
                         format_func=lambda v: "first two principal components (PCA)" if v == "pca"
                         else " × ".join(names[int(t)] for t in v[1:].split(",")) + " (others at their mean)")
        labels = run_labels(_read_widgets(configs), configs) or ["—"]
        if ss.get(P + "bnd", 0) >= len(labels):
            ss[P + "bnd"] = 0
        st.selectbox("boundary and slice of", list(range(len(labels))), key=P + "bnd",
                     format_func=lambda i: labels[i] if i < len(labels) else "—",
                     help="Whose network (first seed) the decision boundary shows, and whose end point the "
                          "landscape slice goes through.")
        c1, c2 = st.columns(2)
        c1.selectbox("landscape slice", ns.SLICES, key=P + "slice",
                     format_func={"random": "random directions", "pca": "PCA of the paths", "off": "off"}.get,
                     help="Random: two filter-normalized directions (Li et al. 2018). PCA: the two directions "
                          "the paths moved along most.")
        c2.slider("slice resolution", 11, ns.MAX_RESOLUTION, step=2, key=P + "res")
        st.radio("loss axis", ns.SCALES, key=P + "scale", horizontal=True)
    return configs


def _help(d: dict[str, str]) -> str:
    return "  \n".join(f"**{k}**: {v}" for k, v in d.items())


def _preset_row() -> None:
    options = [None] + [p.key for p in ns.presets()]
    titles = {p.key: p.title for p in ns.presets()}
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    c1.selectbox("Seed questions: set up a scenario in one click", options, key=P + "preset",
                 on_change=_apply_preset, index=0,
                 format_func=lambda k: "— pick a question —" if k is None else titles[k])
    shown = st.session_state.get(P + "preset_shown")
    for p in ns.presets():
        if p.key == shown:
            c2.info(f"**{p.title}.** {p.caption}", icon="🔎")


def page() -> None:
    """Render the networks page."""
    t_start = time.perf_counter()
    TIMES.clear()
    st.header("Networks: watch a tiny net learn, or fail to", anchor=False)
    _first_visit()
    notices = st.session_state.pop(P + "url_notices", [])
    if notices:
        st.warning(ns.notice_text(notices))
    _preset_row()
    configs = _sidebar()
    s = _read_widgets(configs)
    _sync_url(s)
    if not configs:
        st.error("Add at least one optimizer in the sidebar.")
        return
    try:
        hidden = ns.parse_hidden(s.hidden)
    except ValueError as err:
        st.error(f"Hidden sizes: {err}. The other settings are kept; fix the text in the sidebar.")
        return
    TIMES["sidebar"] = time.perf_counter() - t_start
    try:
        _body(s, hidden, configs)
    except ValueError as err:
        st.error(f"Cannot train with these settings: {err}")
        return
    parts = ", ".join(f"{k} {v:.2f}" for k, v in TIMES.items())
    st.caption(f"Server time for this view: {time.perf_counter() - t_start:.2f} s ({parts}).")


def _body(s: ns.NetSettings, hidden: tuple[int, ...], configs: list[OptimizerConfig]) -> None:
    pargs = problem_args(s, hidden)
    problem = get_problem(pargs)
    rec = record_every(s.epochs)
    runs: list[tuple[OptimizerConfig, Trajectory, nets.NetProblem, str, str]] = []
    variant_names = variants(s)
    tick = time.perf_counter()
    with st.spinner("Training…"):
        for i, cfg in enumerate(configs):
            traj = _train_cached(pargs, config_key(cfg), cfg, s.epochs, s.n_seeds, rec)
            suffix = f" · {variant_names[s.compare][0]}" if s.compare != "none" else ""
            runs.append((cfg, traj, problem, cfg.display + suffix, color_for(i)))
        if s.compare != "none":
            pargs2 = problem_args(s, hidden, s.compare)
            problem2 = get_problem(pargs2)
            for i, cfg in enumerate(configs):
                traj = _train_cached(pargs2, config_key(cfg), cfg, s.epochs, s.n_seeds, rec)
                runs.append((cfg, traj, problem2, f"{cfg.display} · {variant_names[s.compare][1]}",
                             color_for(len(configs) + i)))
    TIMES["training"] = time.perf_counter() - tick
    tick = time.perf_counter()
    series = [to_series(traj, prob, label, color) for _, traj, prob, label, color in runs]
    main_trajs = [traj for _, traj, _, _, _ in runs[: len(configs)]]
    b = min(s.boundary_of, len(runs) - 1)
    b_main = b % len(configs)  # the slice lives in the main problem's parameter space
    fidx = nf.frame_indices(len(series[0].epochs), MAX_FRAMES)

    boundary = None
    n_feat = problem.mlp.n_features
    try:
        view = None if n_feat <= 2 else ns.parse_view(s.view, n_feat)
        if n_feat <= 2:
            view = (0, 1)
    except ValueError:
        view = (0, 1)
    boundary = boundary_data(runs[b][2], runs[b][1].params[fidx, 0, :], view, runs[b][3])

    TIMES["boundary"] = time.perf_counter() - tick
    tick = time.perf_counter()
    landscape = None
    slice_note = ""
    if s.slice != "off":
        center = main_trajs[b_main].params[-1, 0, :]
        paths = [t.params[:, 0, :] for t in main_trajs]
        skey = repr((config_key(configs[b_main]), [config_key(c) for c in configs], s.epochs, s.n_seeds, rec))
        try:
            sl = _slice_cached(pargs, skey, s.slice, s.resolution, center, paths)
            # Short: the title shares a row with the boundary panel's title.
            title = ("slice: random directions" if s.slice == "random"
                     else f"slice: PCA of the paths ({sl.explained[0]:.0%} + {sl.explained[1]:.0%})")
            landscape = nf.SliceData(sl.alphas, sl.betas, sl.Z, list(sl.paths) + [None] * (len(series) - len(sl.paths)),
                                     title=title)
            slice_note = (f"The slice is a plane through the end point of {runs[b_main][3]} (first seed); the other paths "
                          "are projected onto it, so where they leave the plane their height is not the plotted one.")
        except ValueError as err:
            slice_note = f"No landscape slice: {err}"

    TIMES["slice"] = time.perf_counter() - tick
    tick = time.perf_counter()
    loss_name = {"cross_entropy": "cross-entropy", "mse": "MSE"}[problem.mlp.loss]
    if s.compare == "loss":
        loss_name = "loss (each run's own)"
    prior = None if s.compare == "loss" else problem.prior_loss
    fig = nf.training_figure(series, boundary=boundary, landscape=landscape, max_frames=MAX_FRAMES,
                             loss_scale=s.scale, loss_name=loss_name, reference_loss=prior,
                             reference_label=f"guess the class shares ({prior:.3g})" if prior is not None else "")
    TIMES["figure"] = time.perf_counter() - tick
    seeds_note = f" First of {s.n_seeds} seeds; the spread is below." if s.n_seeds > 1 else ""
    view_note = ""
    if n_feat > 2:
        view_note = (" Boundary over the first two principal components of the inputs (points are projections)."
                     if view is None else " Boundary over two features, the others fixed at their training mean.")
    st.caption(f"**{problem.title}**, {problem.n_params} parameters, {problem.n_train} training rows, "
               f"{problem.steps_per_epoch} step(s) per epoch.{seeds_note}{view_note} Press ▶ or drag the epoch slider.")
    tick = time.perf_counter()
    st.plotly_chart(fig, theme=None, key="net_fig")
    TIMES["chart"] = time.perf_counter() - tick
    tick = time.perf_counter()
    if slice_note:
        st.caption(slice_note)

    if s.n_seeds > 1:
        st.subheader(f"Across {s.n_seeds} seeds")
        st.plotly_chart(nf.seeds_figure(series, loss_scale=s.scale, loss_name=loss_name), theme=None, key="net_seeds")

    st.subheader("Summary")
    st.dataframe(nf.summary_rows(series), hide_index=True, width="stretch")
    if s.n_seeds > 1:
        st.caption("Median over seeds, with the 10th–90th percentile range in brackets.")

    st.subheader("Diagnostics")
    st.plotly_chart(nf.diagnostics_figure(series), theme=None, key="net_diag")
    cols = st.columns(min(len(runs), 3))
    for i, (_, traj, prob, label, color) in enumerate(runs):
        with cols[i % len(cols)]:
            st.markdown(f"<span style='color:{color}'>●</span> **{label}**", unsafe_allow_html=True)
            lines = nets.diagnose(traj, prob)
            st.markdown("\n".join(f"- {line}" for line in lines) if lines else "- nothing unusual")

    with st.expander("Update rules"):
        seen = set()
        for cfg in configs:
            cls = optimizers.REGISTRY[cfg.name]
            if cfg.name in seen or not cls.latex:
                continue
            seen.add(cfg.name)
            st.markdown(f"**{cls.title}**" + (f" ({cls.reference})" if cls.reference else ""))
            st.latex(cls.latex)

    TIMES["panels"] = time.perf_counter() - tick
    tick = time.perf_counter()
    _exports(fig, series, boundary, s, loss_name)
    TIMES["exports"] = time.perf_counter() - tick


def _exports(fig: Any, series: list[nf.NetSeries], boundary: nf.BoundaryData | None, s: ns.NetSettings,
             loss_name: str) -> None:
    st.subheader("Export")
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("Curves (CSV)", nf.curves_csv(series), file_name="descent_lab_network_curves.csv",
                       mime="text/csv")
    if c2.button("Prepare HTML (interactive)"):
        from viz.export import to_html

        c2.download_button("Download HTML", to_html(fig), file_name="descent_lab_network.html", mime="text/html")
    for col, fmt in ((c3, "gif"), (c4, "mp4")):
        if col.button(f"Prepare {fmt.upper()} (slow)", help=f"{EXPORT_FRAMES} frames of the loss, accuracy and "
                      "boundary panels, rendered with matplotlib."):
            from viz.export import encode_gif, encode_mp4, render_frames

            # Fewer frames than the page: a subset of its frames, so the boundary grids are the page's.
            page_idx = nf.frame_indices(len(series[0].epochs), MAX_FRAMES)
            pick = nf.frame_indices(len(page_idx), EXPORT_FRAMES)
            bnd = None if boundary is None else replace(boundary, probs=np.asarray(boundary.probs)[pick])
            with st.spinner(f"Rendering the {fmt.upper()}…"):
                scene = nf.net_scene(series, boundary=bnd, records=page_idx[pick], loss_scale=s.scale,
                                     loss_name=loss_name)
                frames = render_frames(scene)
                data = encode_gif(frames, 15) if fmt == "gif" else encode_mp4(frames, 15)
            col.download_button(f"Download {fmt.upper()}", data, file_name=f"descent_lab_network.{fmt}",
                                mime="image/gif" if fmt == "gif" else "video/mp4")
    st.caption("Share this view: copy the address bar; every control is in the link.")


page()
