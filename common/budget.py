"""The work budget: every view estimates its cost before it computes, and scales down past the budget.

The estimates are deliberately simple counts (run-steps, multiply-adds,
points drawn), calibrated on this project's reference machine (2 cores)
by ``benchmarks/bench_budget.py``. A view over budget is not refused: it
is scaled down (fewer recorded frames, fewer seeds, fewer epochs) and each
reduction is named in a sentence the page shows. Nothing here imports
streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Points of path (x, y per recorded step, all runs together) one surfaces figure may carry.
#: Every point costs about 90 bytes of figure JSON (path with its hover data, and loss curve; measured on
#: 8 optimizers × 16 starts), so 40,000 keep the static part near 3.6 MB.
SURFACE_POINTS = 40_000
#: Animation frames × runs (optimizers × starts) one surfaces figure may carry: every run costs about 600 bytes
#: per frame (its comet tail and markers), so 6,000 keep the frames near 4 MB.
SURFACE_FRAME_RUNS = 6_000
#: Frames the surfaces animation has when the budget allows.
SURFACE_FRAMES = 150
#: Seconds of training one view may take, estimated before it runs (the slice and the boundary grids get
#: their own, smaller shares, so the whole view stays under about 10 s).
SECONDS = 6.0
#: Multiply-adds per second of the numpy MLP while training (forward + backward + recorded metrics) and while
#: evaluating a slice, and seconds of Python overhead per optimizer step: measured on the reference machine
#: with other work running beside it, so an idle machine does better than the estimate.
NET_FLOPS_PER_S = 3e8
NET_EVAL_FLOPS_PER_S = 6e8
NET_STEP_OVERHEAD_S = 60e-6
#: Seconds the landscape slice may take.
SLICE_SECONDS = 2.0
#: Parameters × seeds × records the runs of one networks view may record while they train (float64: 16 million
#: floats are 128 MB, held only during the run: the page caches the first seed's parameters alone).
NET_RECORD_FLOATS = 16_000_000


@dataclass(frozen=True)
class Plan:
    """What a view will compute, after the budget.

    Attributes
    ----------
    values : dict
        The sizes to use (e.g. ``seeds``, ``epochs``, ``record_every``).
    reductions : list of str
        One plain sentence per reduction; empty when nothing was reduced.
    estimate : float
        Estimated seconds (or points, for a figure) of the planned work.
    """

    values: dict[str, int]
    reductions: list[str] = field(default_factory=list)
    estimate: float = 0.0


def slice_plan(*, n_params: int, rows: int, resolution: int, budget: float = SLICE_SECONDS) -> Plan:
    """Resolution of the network's loss-landscape slice within ``budget`` seconds (0 = no slice).

    Each of the ``resolution²`` grid points is one full-batch loss over ``rows``
    rows, about ``2 · n_params`` multiply-adds per row.
    """
    def cost(r: int) -> float:
        return r * r * rows * n_params * 2.0 / NET_EVAL_FLOPS_PER_S

    r = resolution
    while r > 11 and cost(r) > budget:
        r -= 2
    notes = []
    if cost(r) > budget:
        notes.append("No landscape slice: even an 11 × 11 grid would take about "
                     f"{cost(11):,.0f} s for a network this size.")
        r = 0
    elif r < resolution:
        notes.append(f"The landscape slice uses a {r} × {r} grid instead of {resolution} × {resolution}.")
    return Plan({"resolution": r}, notes, cost(r) if r else 0.0)


def surface_plan(n_optimizers: int, n_starts: int, steps: int) -> Plan:
    """How often to record each surface run, and how many frames to animate, so the figure stays within
    :data:`SURFACE_POINTS` and :data:`SURFACE_FRAME_RUNS` (about 10 MB at every cap).

    Parameters
    ----------
    n_optimizers, n_starts, steps : int

    Returns
    -------
    Plan
        ``values["record_every"]``: record every n-th step (the first and the
        last always); ``values["max_frames"]``: animation frames. The runs
        themselves are cheap (under a second at every cap).
    """
    runs = max(1, n_optimizers) * max(1, n_starts)
    points = runs * (steps + 1)
    every = max(1, math.ceil(points / SURFACE_POINTS))
    frames = max(2, min(SURFACE_FRAMES, SURFACE_FRAME_RUNS // runs))
    notes = []
    if every > 1:
        notes.append(f"The paths are drawn from every {every}th step ({points:,} points would make the figure "
                     f"too heavy to send); convergence and divergence steps are still exact.")
    if frames < SURFACE_FRAMES:
        notes.append(f"The animation has {frames} frames instead of {SURFACE_FRAMES}, to keep {runs} moving runs "
                     "light enough to send.")
    return Plan({"record_every": every, "max_frames": frames}, notes, points / every)


def net_cost(*, n_params: int, rows: int, batch: int, epochs: int, seeds: int, runs: int) -> float:
    """Estimated seconds to train ``runs`` optimizers × ``seeds`` networks for ``epochs`` epochs.

    Parameters
    ----------
    n_params : int
        Parameters of one network.
    rows : int
        Training rows.
    batch : int
        Rows per step (``rows`` for full batch).
    epochs, seeds, runs : int
    """
    steps_per_epoch = math.ceil(rows / max(1, batch))
    flops = 6.0 * n_params * rows * epochs * seeds * runs  # forward + backward, ~3 multiply-adds per weight per row
    overhead = NET_STEP_OVERHEAD_S * steps_per_epoch * epochs * runs
    return flops / NET_FLOPS_PER_S + overhead


def net_plan(*, n_params: int, rows: int, batches: list[int], epochs: int, seeds: int, budget: float = SECONDS,
             gradients: list[float] | None = None) -> Plan:
    """Seeds and epochs for a networks view within ``budget`` seconds; seeds go first, then epochs.

    Parameters
    ----------
    n_params, rows : int
    batches : list of int
        Rows per step of every run the view trains (one per optimizer and variant).
    epochs, seeds : int
        What the user asked for.
    gradients : list of float, optional
        Gradient evaluations per step of each of those runs (``Optimizer.gradient_cost``; 1 when omitted).

    Returns
    -------
    Plan
        ``values["seeds"]``, ``values["epochs"]``; a sentence per reduction.
    """
    per_step = gradients or [1.0] * len(batches)

    def cost(e: int, s: int) -> float:
        return sum(g * net_cost(n_params=n_params, rows=rows, batch=b, epochs=e, seeds=s, runs=1)
                   for b, g in zip(batches, per_step, strict=True))

    notes = []
    s, e = seeds, epochs
    while s > 1 and cost(e, s) > budget:
        s = max(1, s // 2)
    if s < seeds:
        notes.append(f"{s} seed{'' if s == 1 else 's'} instead of {seeds}")
    if cost(e, s) > budget:
        e = max(1, int(epochs * budget / cost(epochs, s)))
        notes.append(f"{e:,} epochs instead of {epochs:,}")
    # Keep the recorded parameters bounded too: 125 records of every seed's parameters.
    while s > 1 and 125 * s * n_params * len(batches) > NET_RECORD_FLOATS:
        s = max(1, s // 2)
        notes = [n for n in notes if " seed" not in n] + [f"{s} seed{'' if s == 1 else 's'} instead of {seeds}"]
    out = []
    if notes:
        out.append(f"This view was scaled down to stay within the server's budget of about {budget:.0f} s: "
                   + ", ".join(notes) + f" (it asked for about {cost(epochs, seeds):,.0f} s).")
    return Plan({"seeds": s, "epochs": e}, out, cost(e, s))
