"""The sharpness section of the networks page: the top Hessian eigenvalue per recorded epoch beside 2/η.

Under full-batch gradient descent the sharpness rises until it reaches about 2/η and hovers there: the edge
of stability (Cohen et al., 2021). The section measures it with :func:`nets.sharpness_along` on each run's
first network, within a time budget estimated before it runs (:func:`sharpness_cost`): past the budget it
uses fewer records, and past that it says so instead of running.

Thin: numbers from :mod:`nets.sharpness`, the figure from :func:`viz.xray_figure.edge_of_stability_figure`.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

import nets
from common import budget
from optimizers.config import OptimizerConfig
from optimizers.runner import Trajectory
from ui.common import PrecomputedFigure, config_key
from ui.xray import gd_type

#: Seconds the section may spend measuring, all runs together.
BUDGET_S = 2.0
#: Hessian-vector products a network takes on average before its top eigenvalue converges (networks leave
#: the batch once converged; 6-11 measured on XOR, Iris and moons), each two gradients over all rows ...
LANCZOS_PRODUCTS = 8
#: ... and the batched Lanczos steps, each with this much Python and eigen-solve time.
LANCZOS_STEPS = 20
LANCZOS_STEP_S = 5e-3
#: Fewer records than this would not show a trend: the section is skipped instead.
MIN_RECORDS = 10
TIMING = "net.timing"


def sharpness_cost(*, n_params: int, rows: int, records: int) -> float:
    """Estimated seconds to measure the sharpness of ``records`` networks of ``n_params`` on ``rows`` rows.

    Each Hessian-vector product is two gradients (6 multiply-adds per weight per row, at
    :data:`common.budget.NET_FLOPS_PER_S`). Against 126 records measured on the reference machine while other
    work ran: XOR 2-4-1 0.09 s (estimate 0.10), Iris 4-16-3 0.51 s (0.69), moons 2-16-16-2 1.78 s (2.14),
    moons 2-32-32-2 4.2 s (7.3).
    """
    flops = 2.0 * 6.0 * n_params * rows * records * LANCZOS_PRODUCTS
    return flops / budget.NET_FLOPS_PER_S + min(int(n_params), LANCZOS_STEPS) * LANCZOS_STEP_S


def sharpness_plan(sizes: Sequence[tuple[int, int]], records: int, limit: float = BUDGET_S) -> tuple[int, str]:
    """Use every how-many records to stay within ``limit`` seconds; 0 and a sentence when even
    :data:`MIN_RECORDS` would not fit.

    Parameters
    ----------
    sizes : sequence of (n_params, rows)
        One per run.
    records : int
        Records per run.
    """
    def cost(n: int) -> float:
        return sum(sharpness_cost(n_params=p, rows=r, records=n) for p, r in sizes)

    every = 1
    while cost(math.ceil(records / every)) > limit and math.ceil(records / every) > MIN_RECORDS:
        every += 1
    n = math.ceil(records / every)
    if cost(n) > limit:
        return 0, (f"No sharpness: even {n} records per run would take about {cost(n):.1f} s here (the budget is "
                   f"{limit:g} s). Try a smaller network, fewer rows or fewer optimizers.")
    note = "" if every == 1 else f"Measured at every {every}th recorded epoch, to stay within about {limit:g} s."
    return every, note


@dataclass(frozen=True)
class SharpnessView:
    """The section's figure and one sentence per run."""

    figure: PrecomputedFigure
    lines: tuple[str, ...]


def run_series(cfg: OptimizerConfig, traj: Trajectory, problem: nets.NetProblem, label: str, color: str,
               every: int) -> tuple[Any, str]:
    """The sharpness of the run's first network at every ``every``-th record, and a sentence on it."""
    from viz.xray_figure import SharpnessSeries

    first = Trajectory(traj.params[:, :1], traj.values[:, :1], traj.grad_norms[:, :1], traj.steps,
                       traj.status[:1], traj.status_step[:1], traj.reason[:1])
    steps, sharp = nets.sharpness_along(problem, first, 1, every=every)
    epochs = steps / problem.steps_per_epoch
    full_batch = problem.batch_size in (None, 0) or problem.batch_size >= problem.n_train
    lr = float(cfg.build().hparams.get("lr", np.nan))
    linear = gd_type(cfg) and cfg.schedule == "constant"
    series = SharpnessSeries(label, epochs, sharp[..., 0], lr=lr if linear else None, color=color)
    s = sharp[:, 0, 0]
    ok = np.isfinite(s)
    if not ok.any():
        return series, f"**{label}**: no sharpness (the network's parameters are not finite)."
    text = f"**{label}**: sharpness {s[ok][0]:.3g} at epoch {epochs[ok][0]:g}, {s[ok][-1]:.3g} at the end (peak {s[ok].max():.3g})"
    if linear:
        edge = 2.0 / lr
        text += f"; 2/η = {edge:.3g}, so it ends at {s[ok][-1] / edge:.2g} × 2/η"
        if not full_batch:
            text += " (mini-batches: the edge is a full-batch notion, so expect it to stay below)"
    else:
        text += "; no 2/η line: this method's step is not proportional to the gradient"
    return series, text + "."


@st.cache_resource(max_entries=16, show_spinner=False)
def _view(key: str, _runs: list[tuple[Any, ...]], every: int) -> SharpnessView:
    from viz.xray_figure import edge_of_stability_figure

    series, lines = [], []
    for cfg, traj, problem, label, color in _runs:
        s, line = run_series(cfg, traj, problem, label, color, every)
        series.append(s)
        lines.append(line)
    return SharpnessView(PrecomputedFigure(edge_of_stability_figure(series)), tuple(lines))


def _key(runs: Sequence[tuple[Any, ...]], every: int) -> str:
    """What the measurement depends on: each run's problem and config, and its first network's recorded path."""
    digest = hashlib.sha1()
    for cfg, traj, _, label, color, pargs in runs:
        digest.update(repr((pargs, config_key(cfg), label, color, traj.steps.tolist())).encode())
        digest.update(np.ascontiguousarray(traj.params[:, :1]).tobytes())
    return f"{digest.hexdigest()}:{every}"


def sharpness_section(values: dict, runs: Sequence[tuple[Any, ...]]) -> None:
    """Render sharpness vs 2/η for the page's runs when ``values["sharp"]`` is on.

    Parameters
    ----------
    runs : sequence of (config, trajectory, problem, label, colour, problem args)
        As the networks page trains them.
    """
    if not values.get("sharp") or not runs:
        return
    t0 = time.perf_counter()
    st.subheader("Sharpness and the edge of stability", anchor=False)
    st.caption("The largest eigenvalue of the full-batch loss Hessian of each run's first network, per recorded "
               "epoch (Lanczos on Hessian–vector products). Under full-batch gradient descent it tends to rise "
               "to 2/η, the largest curvature GD is stable on, and to hover there (Cohen et al., 2021).")
    records = max(len(r[1].steps) for r in runs)
    every, note = sharpness_plan([(r[2].n_params, r[2].n_train) for r in runs], records)
    if not every:
        st.info(note, icon=":material/speed:")
        return
    if note:
        st.info(note, icon=":material/speed:")
    try:
        with st.spinner("Measuring the sharpness…"):
            view = _view(_key(runs, every), [r[:5] for r in runs], every)
    except ValueError as err:
        from common.controls import echo

        st.warning(f"No sharpness: {echo(err, 160)}")
        return
    st.plotly_chart(view.figure, theme=None, key="net.sharpness", width="stretch")
    st.markdown("\n".join(f"- {line}" for line in view.lines))
    timing = st.session_state.get(TIMING)
    if isinstance(timing, dict):
        timing["sharpness"] = time.perf_counter() - t0
