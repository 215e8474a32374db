"""Lessons page: each question from the seeds answered by a curated run, in one click.

Decode the link once (``?lesson=saddle&v=1``) -> the question and a prediction
-> the lesson's own ``compute`` under a cache -> the animated figure with the
lesson's notes on it -> the narration, filled from that same run.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitAPIException

import lessons
from lessons.core import Result, SurfaceScenario
from ui import controls as ctl
from ui import lessons_model as lm
from ui import networks_model
from ui.common import PrecomputedFigure, boundary_data, to_series
from ui.player import frame_player
from viz import palette
from viz.annotations import curve_notes

P = "lesson"
MAX_FRAMES = 100


def _redirect_old_links() -> None:
    """A link made before the lessons became the landing page (``/?surface=…``) opens the surfaces page."""
    keys = set(st.query_params)
    if keys and not keys & {"lesson", "v"}:
        if keys & {"surface", "x", "y", "basins"} or any(k.startswith("o") and k[1:2].isdigit() for k in keys):
            try:
                st.switch_page("ui/pages/surfaces.py", query_params=ctl.link_query())
            except StreamlitAPIException:  # the page runs on its own (no st.navigation): decode the link here
                return


@st.cache_resource(max_entries=32, show_spinner="Running the lesson…")
def _result(lesson_key: str, v: int) -> Result:
    """The lesson's own computation of its scenario (variation ``v``): the run the page narrates."""
    lesson = lessons.REGISTRY[lesson_key]
    return lesson.compute(lm.scenario({"lesson": lesson_key, "v": v}))


@st.cache_resource(max_entries=64, show_spinner=False)
def _figure(lesson_key: str, v: int, notes_on: bool) -> tuple[PrecomputedFigure, Any]:
    """The animated figure of a lesson's run, and the basin figure when the lesson has maps.

    The lesson's notes go on the curves only after the student predicted (``notes_on``): they give the answer away.
    """
    from viz.player import use_player

    lesson = lessons.REGISTRY[lesson_key]
    r = _result(lesson_key, v)
    colors = [palette.color_for(i) for i in range(len(r.trajectories))]
    notes = [(r.labels[i], float(x), text) for i, x, text in lesson.annotations(r)
             if 0 <= i < len(r.labels) and notes_on]
    basin_fig = None
    if isinstance(r.scenario, SurfaceScenario):
        from viz.surface_figure import Series, animated_parts

        surface = r.problems[0]
        series = [Series(label=lab, color=c, trajectory=t) for lab, c, t in zip(r.labels, colors, r.trajectories,
                                                                                  strict=True)]
        fig = PrecomputedFigure.from_parts(animated_parts(surface, series, layout="overlay", loss_scale="log",
                                                          frame_ms=40))
        axes = ("x2", "y2")
        if r.basin_maps:
            from viz.basin_figure import BasinPanel, basin_figure

            basin_fig = basin_figure(surface, [BasinPanel(lab, c, b) for lab, c, b in zip(r.labels, colors, r.basin_maps,
                                                                                          strict=True)])
    else:
        from viz import net_figures as nf

        series = [to_series(t, p, lab, c) for t, p, lab, c in zip(r.trajectories, r.problems, r.labels, colors,
                                                                   strict=True)]
        fidx = nf.frame_indices(len(series[0].epochs), MAX_FRAMES)
        p0 = r.problems[0]
        view = (0, 1) if p0.mlp.n_features <= 2 else None
        boundary = None if p0.regression else boundary_data(p0, r.trajectories[0].params[fidx, 0, :], view,
                                                            r.labels[0])
        fig = PrecomputedFigure(nf.training_figure(series, boundary=boundary, max_frames=MAX_FRAMES,
                                                   loss_name=networks_model.LOSS_LABELS.get(p0.mlp.loss, "loss")))
        axes = ("x", "y")
    spec = fig.to_dict()
    spec["layout"] = use_player(spec["layout"])
    spec["layout"].setdefault("annotations", [])
    spec["layout"]["annotations"] = list(spec["layout"]["annotations"]) + curve_notes(spec, notes, xaxis=axes[0],
                                                                                      yaxis=axes[1])
    return fig, basin_fig


def _sidebar(values: dict[str, Any]) -> None:
    with st.sidebar:
        st.header("Questions")
        ctl.draw(lm.CONTROLS[:1], values, P)
        st.caption("Each lesson answers a question people asked about training, with a run you can replay, "
                   "change and open in the explorer.")


def _explorer_button(s: Any) -> None:
    try:
        page, query, note = lm.explorer_link(s)
    except ValueError as err:  # a scenario the explorer cannot express: say so rather than link wrongly
        st.caption(f"No explorer link for this run ({err}).")
        return
    st.link_button("Open in the explorer", f"{page}?{urlencode(query, doseq=True)}", icon=":material/open_in_new:",
                   help="The same surface or network and optimizers on the full page, with every control.")
    if note:
        st.caption(note)


def main() -> None:
    """Draw the page."""
    _redirect_old_links()
    values, notices = ctl.initial_values(P, lm.MODEL)
    _sidebar(values)
    lesson = lessons.REGISTRY[values["lesson"]]
    st.subheader(lesson.title, anchor=False)
    ctl.notice_box(notices)
    st.markdown(f"> {lesson.question}")

    labels = ["as asked", *(v.label for v in lesson.variations)]
    wkey = ctl.widget_key(P, f"v.{lesson.key}")
    if st.session_state.get(wkey) not in range(len(labels)):
        st.session_state[wkey] = values["v"] if values["v"] < len(labels) else 0
    # In the sidebar, so the question, the prediction and the figure with its controls fit a 1280x720 projector.
    v = st.sidebar.segmented_control("Try a variation", list(range(len(labels))), key=wkey,
                                     format_func=lambda i: labels[i],
                                     help="One click changes the run; the text follows it.")
    values["v"] = 0 if v is None else int(v)
    ctl.store(P, values)
    ctl.sync_url(lm.MODEL.encode(values))

    r = _result(lesson.key, values["v"])
    pred_key = ctl.widget_key(P, f"predict.{lesson.key}.{values['v']}")
    guess = st.radio(f"**Predict first.** {lesson.predict.question}", list(range(len(lesson.predict.choices))),
                        index=None, key=pred_key, format_func=lambda i: lesson.predict.choices[i], horizontal=True)
    fig, basin_fig = _figure(lesson.key, values["v"], guess is not None)
    st.plotly_chart(fig, theme=None, key=f"{P}.fig")
    frame_player(key=f"{P}.player")
    if guess is None:
        st.info("Choose your prediction above, then press ▶ Play on the figure to see what happens.",
                icon=":material/psychology:")
    else:
        answer = lesson.predict.answer(r)
        verdict = "Right" if guess == answer else "Not this time"
        st.success(f"**{verdict}.** On this run the answer is *{lesson.predict.choices[answer]}*.",
                   icon=":material/check_circle:" if guess == answer else ":material/info:")
        st.markdown(lesson.narrate(r))
        holds, sentence = lesson.claim(r)
        st.caption(("What this run shows: " if holds else "This run does not show the usual effect: ") + sentence)
    if not isinstance(r.scenario, SurfaceScenario) and r.problems[0].regression:
        _fit(r)
    if basin_fig is not None:
        st.subheader("Where every start ends")
        st.plotly_chart(basin_fig, theme=None, key=f"{P}.basins")
        shares = [b.shares() for b in r.basin_maps]
        seen = [k for k in r.basin_maps[0].labels if any(s[k] > 0 for s in shares)]
        st.dataframe([{"optimizer": lab, **{k: f"{s[k]:.1%}" for k in seen}} for lab, s in zip(r.labels, shares,
                                                                                              strict=True)],
                     hide_index=True)
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    with c1:
        _explorer_button(r.scenario)
    c2.caption(f"Computed in {r.seconds:.2f} s: {_what_ran(r)}.")


def _fit(r: Result) -> None:
    """Regression lessons: each run's fitted function on the data (first seed), as the networks page draws it."""
    import nets
    from viz.fit_figure import fit_figure

    grids = [nets.fit_grid(p, t.params[[-1], 0, :]) for p, t in zip(r.problems, r.trajectories, strict=True)]
    st.plotly_chart(fit_figure(grids, list(r.labels), [palette.color_for(i) for i in range(len(grids))],
                               [round(float(r.x[0][-1]))]), theme=None, key=f"{P}.fit")


def _what_ran(r: Result) -> str:
    s = r.scenario
    if isinstance(s, SurfaceScenario):
        return f"{len(s.optimizers)} optimizers × {len(s.starts)} start(s) × {s.steps} steps on {s.landscape}"
    n = int(np.asarray(r.trajectories[0].status).shape[0])
    return f"{len(s.runs)} runs × {n} network(s) × {s.epochs} epochs on {dict(s.problem_kwargs).get('dataset')}"
