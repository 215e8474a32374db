"""Basin maps (``optimizers.basins``) and their figure (``viz.basin_figure``).

References: known minimizers (a convex bowl has one basin; Himmelblau's four
minima each attract the starts around them); the runner itself, run per start
(two computations that must agree); and the theoretical stability limit of
gradient descent (lr > 2/L diverges on a quadratic with curvature L).
"""

from __future__ import annotations

import numpy as np
import pytest

import landscapes
import optimizers
from optimizers.basins import MAX_RESOLUTION, basin_map
from viz.basin_figure import BasinPanel, basin_figure


def test_convex_trough_has_one_basin():
    """Known minimizer: on the narrow trough (a convex quadratic) every start ends at its single minimum."""
    f = landscapes.get("narrow_trough")
    b = basin_map(f, optimizers.get("adam", lr=0.1), 400, resolution=12)
    assert b.kinds[b.outcome[0, 0]] == "global"
    assert (b.outcome == b.outcome[0, 0]).all()
    assert b.shares()[b.labels[b.outcome[0, 0]]] == 1.0


def test_gd_beyond_two_over_l_diverges_everywhere():
    """Theoretical rate: GD on a quadratic diverges from every start but the minimum when lr > 2/L.

    The trough's largest curvature is its condition number (the smallest is 1), so lr = 2.2/κ diverges.
    """
    f = landscapes.get("narrow_trough")
    lr = 2.2 / float(f.params["condition_number"])
    b = basin_map(f, optimizers.get("gd", lr=lr), 2000, resolution=8)
    kinds = {b.kinds[i] for i in np.unique(b.outcome)}
    assert kinds <= {"diverged", "left window"}


def test_each_himmelblau_minimum_attracts_the_starts_next_to_it():
    """Known minimizers: a start 0.3 from one of Himmelblau's minima ends there under small-step GD,
    and each of the four minima owns a share of the grid."""
    f = landscapes.get("himmelblau")
    b = basin_map(f, optimizers.get("gd", lr=0.005), 800, resolution=40)
    for i, c in enumerate(f.minima):
        if c.kind != "global":
            continue
        assert b.shares()[b.labels[i]] > 0.05
        # the grid cell nearest to a point just beside the minimum
        j = int(np.abs(b.x - (c.point[0] + 0.3)).argmin())
        k = int(np.abs(b.y - c.point[1]).argmin())
        assert b.outcome[k, j] == i, b.labels[b.outcome[k, j]]


def test_outcomes_match_single_runs():
    """Two computations that must agree: each cell's outcome against ``optimizers.run`` from that start alone."""
    f = landscapes.get("two_basin")
    opt = optimizers.get("momentum", lr=0.05)
    b = basin_map(f, opt, 300, resolution=6)
    diag = float(np.hypot(*(hi - lo for lo, hi in f.bounds)))
    for i in range(6):
        for j in range(6):
            tr = optimizers.run(f, opt, np.array([[b.x[j], b.y[i]]]), 300, backend="numpy")
            end = tr.final_params[0]
            dists = [np.hypot(*(end - np.array(c.point))) for c in f.minima]
            want = int(np.argmin(dists)) if min(dists) <= 0.02 * diag else b.labels.index("elsewhere")
            if tr.status[0] in ("diverged", "left window"):
                want = b.labels.index(tr.status[0])
            assert b.outcome[i, j] == want
            assert b.stop_step[i, j] == tr.status_step[0]


@pytest.mark.parametrize("kw", [dict(resolution=1), dict(resolution=MAX_RESOLUTION + 1), dict(steps=0),
                                dict(steps=10**6), dict(radius=0.0), dict(radius=float("nan"))])
def test_sizes_beyond_the_caps_are_refused(kw):
    """Caps: a clear ValueError naming the limit, before any work is done."""
    args = dict(steps=10, resolution=10) | kw
    with pytest.raises(ValueError, match="basin"):
        basin_map(landscapes.get("rosenbrock"), optimizers.get("adam"), args.pop("steps"), **args)


def test_basin_figure_has_a_heatmap_per_panel_and_a_legend_per_outcome():
    """The figure against its inputs: one heatmap per optimizer with the outcome codes, legend entries only
    for outcomes that occur, and the panels' titles naming each optimizer."""
    f = landscapes.get("himmelblau")
    panels = [BasinPanel(f"{name}", color, basin_map(f, optimizers.get(name, lr=lr), 100, resolution=10))
              for name, lr, color in (("gd", 0.01, "#4477AA"), ("adam", 0.3, "#EE6677"), ("gd", 0.2, "#228833"))]
    fig = basin_figure(f, panels)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 3
    for t, p in zip(heat, panels, strict=True):
        np.testing.assert_array_equal(np.asarray(t.z), p.basins.outcome)
    legend = {t.name for t in fig.data if t.showlegend}
    occurring = {p.basins.labels[i] for p in panels for i in np.unique(p.basins.outcome)}
    assert legend == occurring
    titles = [a.text for a in fig.layout.annotations]
    assert all(any(p.label in t for t in titles) for p in panels)
    with pytest.raises(ValueError):
        basin_figure(f, [])
