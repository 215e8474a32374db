"""Tuning and stability maps: where each optimizer works across its hyperparameters.

Pure figure builders: :class:`optimizers.sweep.Sweep` (and friends) in, plotly
figure out, no streamlit. These figures are not animated, so a heatmap carries
each map. Every cell's ``customdata`` holds its hyperparameter values
(``[lr, second knob]``), so a page can read a click and set the optimizer to them.

- :func:`tuning_heatmap`: lr (log) × the second knob, coloured by final loss, steps to
  tolerance, outcome or measured rate; the current setting marked.
- :func:`add_trough_theory`: on the quadratic trough, GD's 2/L and 2/(μ+L), heavy
  ball's stability edge η = 2(1+β)/L and Polyak's optimum.
- :func:`rate_map_figure`: the measured rate map beside theory's rate contours
  (Goh, "Why Momentum Really Works", Distill 2017).
- :func:`sensitivity_figure`: final loss against lr, median and 10–90% band per optimizer.
- :func:`race_figure`: a fair race's tuned lrs and how much better each is than the next-best lr.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optimizers import theory
from optimizers.runner import CONVERGED, DIVERGED, LEFT_WINDOW, MAX_STEPS
from optimizers.sweep import Race, Sensitivity, Sweep
from viz import palette

MEASURES: dict[str, str] = {
    "final": "final loss (median over starts)",
    "steps": "steps to tolerance (median)",
    "status": "outcome (most starts)",
    "rate": "contraction per step (median)",
}
#: Outcome categories in colour order, with their colours.
STATUS_ORDER: tuple[str, ...] = (CONVERGED, MAX_STEPS, LEFT_WINDOW, DIVERGED)
STATUS_COLORS: tuple[str, ...] = ("#9CCFA8", "#EFEFEA", "#9A9A9A", "#B5475F")
RATE_LEVELS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def _second(sw: Sweep) -> tuple[str | None, np.ndarray]:
    names = sw.names
    if len(names) == 1:
        return None, np.zeros(1)
    return names[1], sw.axes[names[1]]


def _cells(sw: Sweep, field: np.ndarray) -> np.ndarray:
    """``(n1, n2, s)`` view of a per-run field (a 1-D sweep gets n2 = 1)."""
    return field[:, None, :] if len(sw.names) == 1 else field


def cell_measure(sw: Sweep, measure: str) -> np.ndarray:
    """The value drawn in each cell, ``(n1, n2)`` (n2 = 1 for a one-hyperparameter sweep).

    ``final``: median final loss over starts (NaN where most diverged); ``steps``: median
    steps to tolerance (NaN where most never got there); ``status``: index into
    :data:`STATUS_ORDER` of the most common outcome; ``rate``: median measured rate.

    Raises
    ------
    ValueError
        On an unknown measure, or ``rate`` on a sweep run without ``rate=True``.
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    with np.errstate(all="ignore"):
        if measure == "final":
            final = np.where(sw.diverged(), np.inf, sw.final_values)
            med = np.percentile(_cells(sw, final), 50, axis=-1, method="nearest")
            return np.where(np.isfinite(med), med, np.nan)
        if measure == "steps":
            steps = np.where(sw.steps_to_tol >= 0, sw.steps_to_tol, sw.steps + 1).astype(float)
            med = np.percentile(_cells(sw, steps), 50, axis=-1, method="nearest")
            return np.where(med <= sw.steps, med, np.nan)
        if measure == "rate":
            if sw.rate is None:
                raise ValueError("this sweep has no measured rate; run optimizers.sweep(..., rate=True)")
            return np.nanmedian(np.where(np.isnan(_cells(sw, sw.rate)), np.inf, _cells(sw, sw.rate)), axis=-1)
        status = _cells(sw, sw.status)
        counts = np.stack([(status == s).sum(-1) for s in STATUS_ORDER], axis=-1)
        return counts.argmax(-1).astype(float)


def _colorbar_and_z(measure: str, z: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    if measure == "final":
        with np.errstate(all="ignore"):
            logz = np.log10(np.maximum(z, 1e-300))
        return logz, dict(colorscale="Viridis", colorbar=dict(title="log₁₀ loss"))
    if measure == "steps":
        return z, dict(colorscale="Viridis", colorbar=dict(title="steps"))
    if measure == "rate":
        return np.where(np.isfinite(z), np.minimum(z, 1.2), 1.2), dict(
            colorscale="Viridis", zmin=0.0, zmax=1.2, colorbar=dict(title="rate"))
    n = len(STATUS_ORDER)
    scale = []
    for i, c in enumerate(STATUS_COLORS):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return z, dict(colorscale=scale, zmin=-0.5, zmax=n - 0.5,
                   colorbar=dict(tickvals=list(range(n)), ticktext=list(STATUS_ORDER), title="outcome"))


def tuning_heatmap(sw: Sweep, measure: str = "final", *, current: Mapping[str, float] | None = None,
                   title: str | None = None) -> go.Figure:
    """One optimizer's map over lr (log x axis) × its second knob, coloured by ``measure``.

    Parameters
    ----------
    sw : Sweep
        A sweep whose first axis is ``lr`` (one or two hyperparameters).
    measure : {"final", "steps", "status", "rate"}
        See :func:`cell_measure`.
    current : mapping, optional
        The optimizer's current setting (``{"lr": …, knob: …}``), marked with a cross.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        The heatmap is trace 0; its ``customdata[j][i]`` is ``[lr_i, knob_j]`` (knob NaN for a 1-D sweep).
    """
    first = sw.names[0]
    xs = sw.axes[first]
    knob, ys = _second(sw)
    z = cell_measure(sw, measure)  # (n1, n2)
    zc, style = _colorbar_and_z(measure, z)
    X, Y = np.meshgrid(xs, ys if knob else [np.nan], indexing="ij")
    custom = np.stack([X, Y, z], axis=-1).transpose(1, 0, 2)  # (n2, n1, 3)
    ylabel = knob or "all starts"
    hover = (f"{first} = %{{customdata[0]:.3g}}" + (f"<br>{knob} = %{{customdata[1]:.3g}}" if knob else "")
             + f"<br>{MEASURES[measure]}: %{{customdata[2]:.4g}}<extra></extra>")
    fig = go.Figure(go.Heatmap(
        x=xs, y=ys if knob else [ylabel], z=zc.T, customdata=custom, hovertemplate=hover, name=sw.name, **style))
    if current is not None and first in current:
        cy = current.get(knob) if knob else ylabel
        fig.add_trace(go.Scatter(
            x=[current[first]], y=[cy], mode="markers", name="current setting", hoverinfo="skip",
            marker=dict(symbol="x-thin", size=16, line=dict(width=3, color="#000000"))))
    fig.update_layout(
        title=title or f"{sw.name}: {MEASURES[measure]} after {sw.steps} steps",
        xaxis=dict(title=first, type="log" if first == "lr" else "linear"),
        yaxis=dict(title=ylabel), showlegend=False, margin=dict(l=60, r=20, t=50, b=50),
    )
    return palette.apply_theme(fig)


def add_trough_theory(fig: go.Figure, sw: Sweep, mu: float, big: float) -> go.Figure:
    """Draw what theory says on a trough map: GD's edges, or heavy ball's stability edge and Polyak's optimum.

    For an lr-only sweep (GD): vertical lines at the divergence edge 2/L and the best
    step 2/(μ+L). For an (lr, momentum) sweep: the curve η = 2(1+β)/L, beyond which
    heavy ball diverges, and Polyak's (η*, β*) with its rate (√κ−1)/(√κ+1).
    """
    knob, ys = _second(sw)
    if knob is None:
        # The two lines sit close together when κ is large: one label above the plot, one below it.
        for x, text, dash, where in ((theory.gd_stable_lr(big), "2/L: diverges beyond", "dash", "top right"),
                                     (theory.gd_optimal_lr(mu, big), "2/(μ+L): fastest", "dot", "bottom left")):
            fig.add_vline(x=x, line=dict(color="#000000", dash=dash, width=2), annotation_text=text,
                          annotation_position=where, annotation_bgcolor="rgba(255,255,255,0.8)")
        return fig
    if knob != "momentum":
        return fig
    beta = np.linspace(float(ys.min()), float(ys.max()), 100)
    fig.add_trace(go.Scatter(x=theory.heavy_ball_edge(beta, big), y=beta, mode="lines", name="stability edge",
                             line=dict(color="#000000", dash="dash", width=2),
                             hovertemplate="η = 2(1+β)/L<extra></extra>"))
    eta, b_star, rate = theory.polyak_optimum(mu, big)
    fig.add_trace(go.Scatter(
        x=[eta], y=[b_star], mode="markers+text", name="Polyak's optimum", text=[f"Polyak: rate {rate:.3f}"],
        textposition="top right", marker=dict(symbol="star", size=14, color="#FFFFFF", line=dict(width=1.5)),
        hovertemplate=f"η* = {eta:.4g}<br>β* = {b_star:.4g}<br>rate (√κ−1)/(√κ+1) = {rate:.4g}<extra></extra>"))
    return fig


def rate_map_figure(sw: Sweep, mu: float, big: float, *, current: Mapping[str, float] | None = None) -> go.Figure:
    """Measured contraction per step (left) beside theory's rate contours (right) for heavy ball on the trough.

    Parameters
    ----------
    sw : Sweep
        An (lr, momentum) sweep of ``momentum`` run with ``rate=True``.
    mu, big : float
        The trough's Hessian eigenvalues μ and L.
    current : mapping, optional

    Raises
    ------
    ValueError
        If the sweep is not over (lr, momentum) or has no measured rate.
    """
    if sw.names != ["lr", "momentum"]:
        raise ValueError(f"the rate map needs an (lr, momentum) sweep, got {sw.names}")
    left = tuning_heatmap(sw, "rate", current=current)
    lrs, betas = sw.axes["lr"], sw.axes["momentum"]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=("measured contraction per step", "theory: largest root modulus"))
    for tr in left.data:
        fig.add_trace(tr, row=1, col=1)
    fine_lr = np.geomspace(float(lrs.min()), float(lrs.max()), 160)
    fine_b = np.linspace(float(betas.min()), float(betas.max()), 120)
    rate = theory.heavy_ball_rate(fine_lr[None, :], fine_b[:, None], mu, big)
    fig.add_trace(go.Contour(
        x=fine_lr, y=fine_b, z=np.minimum(rate, 1.2), zmin=0.0, zmax=1.2, colorscale="Viridis", showscale=False,
        contours=dict(coloring="heatmap", showlabels=True, start=RATE_LEVELS[0], end=1.0, size=0.05),
        hovertemplate="η = %{x:.3g}<br>β = %{y:.3g}<br>rate %{z:.3f}<extra></extra>"), row=1, col=2)
    eta, b_star, r = theory.polyak_optimum(mu, big)
    edge_b = np.linspace(float(betas.min()), float(betas.max()), 100)
    for col in (1, 2):
        fig.add_trace(go.Scatter(x=theory.heavy_ball_edge(edge_b, big), y=edge_b, mode="lines", showlegend=False,
                                 line=dict(color="#000000", dash="dash"), hoverinfo="skip"), row=1, col=col)
        fig.add_trace(go.Scatter(x=[eta], y=[b_star], mode="markers", showlegend=False,
                                 marker=dict(symbol="star", size=13, color="#FFFFFF", line=dict(width=1.5)),
                                 hovertemplate=f"Polyak: η* = {eta:.4g}, β* = {b_star:.4g}, rate {r:.4g}"
                                               "<extra></extra>"), row=1, col=col)
        fig.update_xaxes(type="log", title_text="lr η", range=[np.log10(lrs.min()), np.log10(lrs.max())],
                         row=1, col=col)
    fig.update_yaxes(title_text="momentum β", range=[float(betas.min()), float(betas.max())], row=1, col=1)
    fig.update_layout(title=f"Heavy ball on the trough (κ = {big / mu:.3g}): rate map", showlegend=False,
                      margin=dict(l=60, r=20, t=70, b=50))
    return palette.apply_theme(fig)


def sensitivity_figure(sens: Sensitivity, colors: Sequence[str] | None = None) -> go.Figure:
    """Final loss against lr, one median curve and a 10–90% band per optimizer, on log–log axes.

    Cells where the median diverged are left out of the line; a band edge that diverged is drawn at the top.
    """
    fig = go.Figure()
    finite = np.concatenate([a[np.isfinite(a) & (a > 0)] for a in (sens.median, sens.low, sens.high)])
    top = float(finite.max()) * 10 if finite.size else 1.0
    floor = float(finite.min()) / 10 if finite.size else 1e-12
    for o, name in enumerate(sens.names):
        color = colors[o] if colors else palette.color_for(o)
        hi = np.where(np.isfinite(sens.high[o]), sens.high[o], top)
        lo = np.where(np.isfinite(sens.low[o]), sens.low[o], top)
        fig.add_trace(go.Scatter(
            x=np.concatenate([sens.lrs, sens.lrs[::-1]]), y=np.maximum(np.concatenate([hi, lo[::-1]]), floor),
            fill="toself", fillcolor=palette.hex_to_rgba(color, 0.18), line=dict(width=0), hoverinfo="skip",
            showlegend=False, legendgroup=name))
        med = np.where(np.isfinite(sens.median[o]), np.maximum(sens.median[o], floor), np.nan)
        fig.add_trace(go.Scatter(
            x=sens.lrs, y=med, mode="lines+markers", name=name, legendgroup=name, line=dict(color=color, width=2),
            customdata=np.stack([sens.lrs, sens.low[o], sens.high[o]], -1),
            hovertemplate=f"{name}<br>lr = %{{customdata[0]:.3g}}<br>median %{{y:.3g}}"
                          "<br>10–90%: %{customdata[1]:.3g} – %{customdata[2]:.3g}<extra></extra>"))
    fig.update_layout(title="Learning-rate sensitivity: final loss (median, 10–90% band)",
                      xaxis=dict(title="learning rate", type="log"), yaxis=dict(title="final loss", type="log"),
                      margin=dict(l=60, r=20, t=50, b=50))
    return palette.apply_theme(fig)


def race_figure(race: Race, colors: Sequence[str] | None = None) -> go.Figure:
    """A fair race's summary: each optimizer's score at its tuned lr, labelled with the lr and the margin.

    Bars are the score (median final loss, or median steps to tolerance); the text says
    the tuned lr and how much better it is than the next-best lr on the grid.
    """
    names = [e.name for e in race.entries]
    scores = [e.score for e in race.entries]
    if race.criterion == "final":
        texts = [f"lr {e.lr:.3g} · {e.margin:.3g}× lower than at lr {e.runner_up_lr:.3g}" for e in race.entries]
        axis = dict(title="median final loss at the tuned lr", type="log")
    else:
        texts = [f"lr {e.lr:.3g} · {e.margin:.0f} steps fewer than at lr {e.runner_up_lr:.3g}" for e in race.entries]
        axis = dict(title=f"median steps to tolerance (of {race.steps})")
    bar_colors = list(colors) if colors else [palette.color_for(i) for i in range(len(names))]
    fig = go.Figure(go.Bar(
        x=scores, y=names, orientation="h", text=texts, textposition="auto", marker=dict(color=bar_colors),
        customdata=[[e.lr] for e in race.entries],
        hovertemplate="%{y}: tuned lr %{customdata[0]:.3g}, score %{x:.4g}<extra></extra>"))
    fig.update_layout(title=f"Fair race: lr tuned on {len(race.lrs)} values, {race.steps} steps, same starts",
                      xaxis=axis, yaxis=dict(autorange="reversed"), margin=dict(l=90, r=20, t=50, b=50))
    return palette.apply_theme(fig)
