"""The learning-rate sensitivity section of the networks page (the ``lrsens`` control).

Final training loss against lr, one curve per optimizer (each with its own other settings and
batch size), median and 10–90% band over the page's seeds: :data:`N_LRS` learning rates × at
most :data:`MAX_SEEDS` seeds × at most :data:`MAX_EPOCHS` epochs, one batched run per optimizer
(:func:`optimizers.lr_sensitivity`). The cost is estimated first with :func:`common.budget.net_cost`;
past :data:`BUDGET_S` the section uses fewer seeds, then fewer epochs, and says so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

import nets
import optimizers
from common import budget
from common.controls import echo
from optimizers.config import OptimizerConfig
from optimizers.sweep import MAX_STEPS, Sensitivity
from ui.common import config_key

N_LRS = 16
LR_RANGE = (1e-4, 10.0)
MAX_SEEDS = 5
MAX_EPOCHS = 200
#: Seconds the section may spend training, estimated before it runs.
BUDGET_S = 4.0
#: One batch of 16 × seeds networks multiplies larger matrices than the page's runs, so it beats
#: :func:`common.budget.net_cost`'s estimate: Iris 4-16-3, 16 lrs × 5 seeds × 200 epochs took 1.1–1.3 s
#: (GD, momentum, Adam) on the shared reference machine against an estimate of 4.7 s.
BATCH_SPEEDUP = 3.0
TIMING = "net.timing"


def sens_plan(*, n_params: int, rows: int, batches: Sequence[int], epochs: int, seeds: int,
              limit: float = BUDGET_S, gradients: Sequence[float] | None = None) -> tuple[int, int, list[str]]:
    """Seeds and epochs for the sensitivity within ``limit`` seconds, and a sentence per reduction.

    Parameters
    ----------
    n_params, rows : int
    batches : sequence of int
        Rows per step of each optimizer's runs.
    epochs, seeds : int
        The page's; capped at :data:`MAX_EPOCHS` and :data:`MAX_SEEDS` first.
    gradients : sequence of float, optional
        Gradient evaluations per step of each optimizer (``Optimizer.gradient_cost``; 1 when omitted).
    """
    notes = []
    s, e = min(seeds, MAX_SEEDS), min(epochs, MAX_EPOCHS)
    # The sweep's step cap: b = 1 on a large table has many steps per epoch.
    most_steps = max(-(-rows // max(1, b)) for b in batches)
    if e * most_steps > MAX_STEPS:
        e = max(1, MAX_STEPS // most_steps)
        notes.append(f"{e} epochs (the sweep's cap is {MAX_STEPS:,} steps)")

    per_step = list(gradients) if gradients is not None else [1.0] * len(batches)

    def cost(ee: int, ss: int) -> float:
        return sum(g * budget.net_cost(n_params=n_params, rows=rows, batch=b, epochs=ee, seeds=N_LRS * ss, runs=1)
                   for b, g in zip(batches, per_step, strict=True)) / BATCH_SPEEDUP

    s0 = s
    while s > 1 and cost(e, s) > limit:
        s -= 1
    if s < s0:
        notes.append(f"{s} seed{'' if s == 1 else 's'} instead of {s0}")
    if cost(e, s) > limit:
        e = max(1, int(e * limit / cost(e, s)))
        notes.append(f"{e} epochs")
    return s, e, notes


@st.cache_data(max_entries=16, show_spinner=False)
def _sens_cached(key: str, _problem: nets.NetProblem, _cfg: OptimizerConfig, lrs: tuple[float, ...], seeds: int,
                 steps: int) -> Sensitivity:
    theta = _problem.init_seeds(list(range(seeds)))
    fixed = {k: v for k, v in _cfg.hparams if k != "lr"}
    return optimizers.lr_sensitivity(_problem, [_cfg.name], np.asarray(lrs), theta, steps, fixed={_cfg.name: fixed})


def net_tuning_section(values: dict[str, Any], runs: Sequence[tuple]) -> None:
    """Render the sensitivity when ``values["lrsens"]`` is on.

    ``runs`` are the page's ``(config, trajectory, problem, label, colour, problem args)``; the first
    ``len(values["optimizers"])`` are the main runs (the rest are the "also run with" variants).
    """
    if not values.get("lrsens"):
        return
    from viz.tuning_figure import sensitivity_figure

    t0 = time.perf_counter()
    main = list(runs[:len(values["optimizers"])])
    if not main:
        return
    probe = main[0][2]
    s, e, notes = sens_plan(n_params=probe.n_params, rows=probe.n_train,
                            batches=[r[2].batch_size or r[2].n_train for r in main], epochs=values["epochs"],
                            seeds=values["seeds"], gradients=[r[0].build().gradient_cost() for r in main])
    st.subheader("Learning-rate sensitivity: final training loss against lr")
    st.caption(f"{N_LRS} learning rates × {s} seed{'' if s == 1 else 's'} × {e} epochs per optimizer, each with its "
               "other settings and batch size: the line is the median over seeds, the band the 10th–90th "
               "percentile. Schedules, clipping and noise are not applied here.")
    if notes:
        st.info("Scaled down to stay within the server's budget: " + ", ".join(notes) + ".", icon=":material/speed:")
    lrs = tuple(float(f"{v:.4g}") for v in np.geomspace(*LR_RANGE, N_LRS))
    parts, labels, colors = [], [], []
    with st.spinner("Sweeping learning rates…"):
        for cfg, _, problem, label, color, pargs in main:
            steps = e * problem.steps_per_epoch
            try:
                parts.append(_sens_cached(repr((pargs, config_key(cfg))), problem, cfg, lrs, s, steps))
            except ValueError as err:
                st.warning(f"**{label}**: not run ({echo(err, 160)}).")
                continue
            labels.append(label)
            colors.append(color)
    if parts:
        sens = Sensitivity(lrs=parts[0].lrs, names=labels, final=np.concatenate([p.final for p in parts]),
                           median=np.concatenate([p.median for p in parts]),
                           low=np.concatenate([p.low for p in parts]), high=np.concatenate([p.high for p in parts]))
        st.plotly_chart(sensitivity_figure(sens, colors), theme=None, key="net.tune.sens", width="stretch")
    timing = st.session_state.get(TIMING)
    if isinstance(timing, dict):
        timing["lr sensitivity"] = time.perf_counter() - t0
