"""The fitted curve (one input) or surface (two inputs) of regression networks. Pure: plotly only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from nets.boundary import FitGrid
from viz import palette


def fit_figure(grids: Sequence[FitGrid], labels: Sequence[str], colors: Sequence[str], epochs: Sequence[int], *,
               height: int = 380) -> go.Figure:
    """What each network predicts along the input, over the data it was fitted to.

    Parameters
    ----------
    grids : sequence of FitGrid
        One per run; each ``values`` holds one curve per epoch in ``epochs`` (shape ``(F, G)`` or ``(F, G, G)``).
    labels, colors : sequence of str
        Per run.
    epochs : sequence of int, length F
        The epochs of the curves. Earlier curves of the first run are drawn faded, so the figure shows the fit
        forming; the last curve of every run is drawn solid.

    Returns
    -------
    go.Figure
        For one input: target against input with the curves. For two inputs: the first run's last fitted
        surface as a heatmap with the training points coloured by their targets.
    """
    g0 = grids[0]
    fig = go.Figure()
    if g0.ys.size == 0:
        fig.add_scatter(x=g0.points[:, 0], y=g0.targets, mode="markers", name="training rows",
                        marker=dict(color="#333", size=7, symbol="circle-open"))
        if g0.test_points.size:
            fig.add_scatter(x=g0.test_points[:, 0], y=g0.test_targets, mode="markers", name="test rows",
                            marker=dict(color="#999", size=7, symbol="x"))
        n = len(epochs)
        for f in range(n - 1):
            fig.add_scatter(x=g0.xs, y=g0.values[f], mode="lines", showlegend=f == 0,
                            name=f"{labels[0]}, earlier epochs", legendgroup="earlier",
                            line=dict(color=palette.hex_to_rgba(colors[0], 0.12 + 0.5 * f / max(1, n - 1)), width=1.5),
                            hovertemplate=f"epoch {epochs[f]}<br>x=%{{x:.3g}}<br>ŷ=%{{y:.3g}}<extra></extra>")
        for g, lab, c in zip(grids, labels, colors, strict=True):
            fig.add_scatter(x=g.xs, y=g.values[-1], mode="lines", name=f"{lab} (epoch {epochs[-1]})",
                            line=dict(color=c, width=3))
        fig.add_hline(y=float(np.mean(g0.targets)), line=dict(color="#777", dash="dot", width=1),
                      annotation_text="mean of y", annotation_position="bottom right")
        fig.update_xaxes(title_text=g0.xlabel)
        fig.update_yaxes(title_text=g0.target_label)
    else:
        fig.add_heatmap(x=g0.xs, y=g0.ys, z=g0.values[-1], colorscale="Viridis", colorbar=dict(title="ŷ"),
                        name=f"{labels[0]}: ŷ")
        fig.add_scatter(x=g0.points[:, 0], y=g0.points[:, 1], mode="markers", name="training rows",
                        marker=dict(color=g0.targets, colorscale="Viridis", size=8, line=dict(color="white", width=1)))
        fig.update_xaxes(title_text=g0.xlabel)
        fig.update_yaxes(title_text=g0.ylabel)
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=30, b=50), template="plotly_white",
                      legend=dict(orientation="h", y=1.08))
    return fig
