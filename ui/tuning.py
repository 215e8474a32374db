"""The tuning section of the surfaces page: where each optimizer works across its hyperparameters.

Switched by the ``tune`` control (:mod:`ui.surfaces_model`):

- ``map``: per optimizer, a heatmap over lr (log) × its second knob (momentum, β₁, α; lr alone
  when it has none), coloured by ``tune.measure``. Clicking a cell sets that optimizer's lr and
  knob. On a quadratic (the trough) theory is drawn on top, and heavy ball gets the measured
  rate map beside theory's contours.
- ``sensitivity``: final loss against lr, median and 10–90% band over the page's starts.
- ``race``: each optimizer's lr tuned on one log grid with the same steps and starts; a button
  sets every optimizer to its tuned lr.

Thin: numbers from :mod:`optimizers.sweep` and :mod:`optimizers.theory`, figures from
:mod:`viz.tuning_figure`. Every sweep is cached under a text key, and the work is estimated
before it runs (:func:`map_plan`): past the budget the grid gets coarser and the page says so.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import MutableMapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import streamlit as st

import optimizers
from common.controls import echo
from landscapes.base import Landscape
from optimizers import fused, theory
from optimizers.config import OptimizerConfig
from optimizers.sweep import MAX_RATE_RECORDS, Race, Sensitivity, Sweep
from optimizers.transforms import Chain
from ui.codec import OptEntry, canonical
from ui.common import PrecomputedFigure, config_key, landscape_cached, ring_starts
from ui.controls import slider_step
from viz import palette

P = "surf"
OPT = f"{P}.opt"  # the optimizer panel's prefix (ui.optimizer_panel)
TIMING = f"{P}.timing"
#: Second knobs, in order of preference: the first one an optimizer can vary per run is mapped.
KNOBS = ("momentum", "beta1", "alpha")
#: Cells per axis of a map when the budget allows; the coarser grids tried past it.
MAP_SIZES = (64, 48, 32, 24, 16, 12, 8)
#: Learning rates of the sensitivity curves and of the race's grid.
SENS_LRS = 32
RACE_LRS = 24
#: Starts used when the page has only one: the start and a ring of 8 around it.
RING = 9
#: Run-steps the section may start per page load, compiled and in numpy (~1 s each on the reference machine).
BUDGET_FUSED = 40_000_000
BUDGET_NUMPY = 2_000_000
MEASURES_TEXT = {"final": "final loss", "steps": "steps to tolerance", "status": "outcome", "rate": "rate per step"}
#: Significant digits of the grid values, so a clicked cell gives a short lr in the link.
LR_DIGITS = 4


# -- pure helpers (no streamlit state) ---------------------------------------------------------------
def second_knob(name: str) -> str | None:
    """The hyperparameter mapped against lr for optimizer ``name`` (None: lr alone)."""
    per_run = optimizers.REGISTRY[name].per_run
    return next((k for k in KNOBS if k in per_run), None)


def lr_grid(name: str | Sequence[str], n: int) -> np.ndarray:
    """``n`` log-spaced learning rates over the lr widget's range (of every name given), rounded to
    :data:`LR_DIGITS` digits."""
    ranges = [optimizers.REGISTRY[k].spec_map()["lr"].slider_range for k in ([name] if isinstance(name, str) else name)]
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    return np.unique([float(f"{v:.{LR_DIGITS}g}") for v in np.geomspace(lo, hi, n)])


def knob_grid(name: str, knob: str, n: int) -> np.ndarray:
    """``n`` values over the knob widget's range, on the widget's own step (so a clicked cell is a widget value)."""
    spec = optimizers.REGISTRY[name].spec_map()[knob]
    lo, hi = spec.slider_range
    step = float(spec.step or slider_step(lo, hi))
    digits = max(0, -math.floor(math.log10(step)))
    return np.unique(np.round(np.round(np.linspace(lo, hi, n) / step) * step, digits))


def map_grid(name: str, n: int) -> dict[str, np.ndarray]:
    """The map's grid for optimizer ``name`` with ``n`` cells per axis."""
    knob = second_knob(name)
    grid = {"lr": lr_grid(name, n)}
    if knob is not None:
        grid[knob] = knob_grid(name, knob, n)
    return grid


def sweep_args(cfg: OptimizerConfig, swept: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(fixed, transforms)`` for :func:`optimizers.sweep`: the config's other hyperparameters and its transforms."""
    fixed = {k: v for k, v in cfg.hparams if k not in swept}
    built = cfg.build()
    if not isinstance(built, Chain):
        return fixed, None
    return fixed, {k: getattr(built, k) for k in ("schedule", "clip", "noise", "decoupled_weight_decay")}


def map_plan(dims: Sequence[int], starts: int, steps: int, *, compiled: bool, rate: bool) -> tuple[int, str]:
    """Cells per axis for maps of ``len(dims)`` optimizers (each 1-D or 2-D) within the budget, and a note.

    Parameters
    ----------
    dims : sequence of int
        1 or 2 per optimizer (lr alone, or lr × knob).
    starts, steps : int
    compiled : bool
        Whether every sweep takes the compiled backend (else the smaller numpy budget).
    rate : bool
        The rate is measured: every step is kept, so one sweep must stay within ``MAX_RATE_RECORDS``.

    Returns
    -------
    n : int
        Cells per axis (0: not even the coarsest grid fits).
    note : str
        A sentence when the grid was reduced, else ``""``.
    """
    budget = BUDGET_FUSED if compiled else BUDGET_NUMPY
    for n in MAP_SIZES:
        runs = [n ** d * starts for d in dims]
        fits = sum(runs) * steps <= budget and (not rate or max(runs) * (steps + 1) <= MAX_RATE_RECORDS)
        if fits:
            if n == MAP_SIZES[0]:
                return n, ""
            full = sum(MAP_SIZES[0] ** d * starts for d in dims) * steps
            return n, (f"The maps use {n} values per axis instead of {MAP_SIZES[0]}: {full:,} run-steps would pass the "
                       f"page's budget of {budget:,}{'' if compiled else ' without compiled kernels'}.")
    return 0, (f"No maps: even {MAP_SIZES[-1]} values per axis × {starts} starts × {steps} steps pass the page's "
               f"budget of {budget:,} run-steps; use fewer steps, starts or optimizers.")


def parse_cell(event: Any) -> tuple[float, float | None] | None:
    """``(lr, knob)`` of the first clicked heatmap cell in a ``st.plotly_chart`` selection event (None: none)."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        data = point.get("customdata") if isinstance(point, dict) else None
        if isinstance(data, dict):  # typed customdata arrives as {"0": lr, "1": knob, ...}
            data = [data.get("0"), data.get("1")]
        if not (isinstance(data, (list, tuple)) and len(data) >= 2):
            continue
        try:
            lr = float(data[0])
            knob = float(data[1]) if data[1] is not None else math.nan
        except (TypeError, ValueError):
            continue
        if math.isfinite(lr) and lr > 0:
            return lr, (knob if math.isfinite(knob) else None)
    return None


def set_hparams(ss: MutableMapping[str, Any], uid: int, values: dict[str, float], prefix: str = OPT) -> bool:
    """Set hyperparameters of the panel entry ``uid`` (before the rerun): its stored config, and its widgets
    re-seed from it.

    Returns whether the entry was found.
    """
    store = ss.get(f"{prefix}.store")
    if not store:
        return False
    for item in store["entries"]:
        if item["uid"] != uid:
            continue
        entry: OptEntry = item["entry"]
        cfg = entry.config
        hp = {**dict(cfg.hparams), **values}
        item["entry"] = replace(entry, config=canonical(replace(cfg, hparams=tuple(sorted(hp.items())))))
        # The widgets re-seed from the stored config. Setting them instead would not do for lr: its
        # select-slider's options gain the new value only on the next run.
        for k in values:
            try:
                del ss[f"{prefix}.{uid}.{cfg.name}.{k}"]
            except KeyError:  # not drawn yet (or AppTest's proxy, which cannot drop a widget's key)
                pass
        return True
    return False


def panel_uids(ss: MutableMapping[str, Any], entries: Sequence[OptEntry], prefix: str = OPT) -> list[int | None]:
    """The panel uid of each shown entry (matched by settings, labels aside; None when not found)."""
    items = list((ss.get(f"{prefix}.store") or {}).get("entries", ()))
    used: set[int] = set()
    out: list[int | None] = []
    for e in entries:
        want = config_key(e.config)
        uid = next((it["uid"] for it in items if it["uid"] not in used and config_key(it["entry"].config) == want),
                   None)
        if uid is not None:
            used.add(uid)
        out.append(uid)
    return out


def _starts(values: dict[str, Any], surface: Landscape) -> tuple[np.ndarray, str]:
    """The page's starts, or a ring around its one start (and a sentence saying so)."""
    n = values["starts"]
    spread = values["spread"] or 0.05
    if n > 1:
        return ring_starts((values["x"], values["y"]), n, values["spread"], surface.bounds), f"{n} starts"
    starts = ring_starts((values["x"], values["y"]), RING, spread, surface.bounds)
    return starts, (f"the page has one start, so the spread is over it and a ring of {RING - 1} around it "
                    f"(radius {spread:g} of the map width)")


def _theory_fits(cfg: OptimizerConfig, sw: Sweep) -> bool:
    """Theory describes plain GD (lr alone) and torch-form heavy ball without damping, decay or transforms."""
    hp = dict(cfg.hparams)
    if cfg.schedule != "constant" or cfg.clip_mode != "off" or cfg.noise_sigma or cfg.decoupled_weight_decay:
        return False
    if hp.get("weight_decay", 0.0):
        return False
    if cfg.name == "gd":
        return sw.names == ["lr"]
    return cfg.name == "momentum" and sw.names == ["lr", "momentum"] and not hp.get("dampening", 0.0) \
        and hp.get("form", "torch") == "torch"


# -- cached computations ------------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def _sweep_cached(key: str, _surface: Landscape, _cfg: OptimizerConfig, grid: tuple[tuple[str, tuple[float, ...]], ...],
                  starts: tuple[tuple[float, float], ...], steps: int, rate: bool) -> Sweep:
    fixed, transforms = sweep_args(_cfg, [k for k, _ in grid])
    return optimizers.sweep(_surface, _cfg.name, {k: np.asarray(v) for k, v in grid}, np.asarray(starts), steps,
                            fixed=fixed, transforms=transforms, rate=rate)


def sweep_cached(values: dict[str, Any], cfg: OptimizerConfig, grid: dict[str, np.ndarray], starts: np.ndarray,
                 steps: int, rate: bool = False) -> Sweep:
    """One optimizer's sweep on the page's surface, cached per (surface, config, grid, starts, steps, rate).

    Raises
    ------
    ValueError
        From the sweep (bad settings, over a cap).
    """
    surface = landscape_cached(values["surface"], values["params"])
    g = tuple((k, tuple(float(x) for x in v)) for k, v in grid.items())
    s = tuple((float(x), float(y)) for x, y in np.asarray(starts).reshape(-1, 2))
    key = repr((values["surface"], values["params"], config_key(cfg)))
    return _sweep_cached(key, surface, cfg, g, s, int(steps), bool(rate))


@st.cache_data(max_entries=32, show_spinner=False)
def _sensitivity_cached(key: str, _surface: Landscape, _cfg: OptimizerConfig, lrs: tuple[float, ...],
                        starts: tuple[tuple[float, float], ...], steps: int) -> Sensitivity:
    fixed = {k: v for k, v in _cfg.hparams if k != "lr"}
    return optimizers.lr_sensitivity(_surface, [_cfg.name], np.asarray(lrs), np.asarray(starts), steps,
                                     fixed={_cfg.name: fixed})


@st.cache_data(max_entries=32, show_spinner=False)
def _race_cached(key: str, _surface: Landscape, _cfg: OptimizerConfig, lrs: tuple[float, ...],
                 starts: tuple[tuple[float, float], ...], steps: int, criterion: str) -> Race:
    fixed = {k: v for k, v in _cfg.hparams if k != "lr"}
    return optimizers.tune_lr(_surface, [_cfg.name], np.asarray(lrs), np.asarray(starts), steps, criterion=criterion,
                              fixed={_cfg.name: fixed})


@st.cache_resource(max_entries=32, show_spinner=False)
def _map_figure(key: str, _sw: Sweep, measure: str, current: tuple[tuple[str, float], ...], title: str,
                theory_mu_l: tuple[float, float] | None) -> PrecomputedFigure:
    from viz.tuning_figure import add_trough_theory, tuning_heatmap

    fig = tuning_heatmap(_sw, measure, current=dict(current), title=title)
    if theory_mu_l is not None:
        add_trough_theory(fig, _sw, *theory_mu_l)
    return PrecomputedFigure(fig)


@st.cache_resource(max_entries=16, show_spinner=False)
def _rate_figure(key: str, _sw: Sweep, mu: float, big: float, current: tuple[tuple[str, float], ...]) -> Any:
    from viz.tuning_figure import rate_map_figure

    return PrecomputedFigure(rate_map_figure(_sw, mu, big, current=dict(current)))


# -- callbacks ------------------------------------------------------------------------------------------
def _on_cell(chart_key: str, uid: int) -> None:
    cell = parse_cell(st.session_state.get(chart_key))
    if cell is None:
        return
    lr, knob_value = cell
    store = st.session_state.get(f"{OPT}.store") or {}
    name = next((it["entry"].config.name for it in store.get("entries", ()) if it["uid"] == uid), None)
    if name is None:
        return
    knob = second_knob(name)
    new = {"lr": lr}
    if knob is not None and knob_value is not None:
        new[knob] = knob_value
    set_hparams(st.session_state, uid, new)


def _on_race(tuned: tuple[tuple[int, float], ...]) -> None:
    for uid, lr in tuned:
        set_hparams(st.session_state, uid, {"lr": lr})


# -- the section -------------------------------------------------------------------------------------------
def tuning_section(values: dict[str, Any], surface: Landscape) -> None:
    """Render the view chosen by ``values["tune"]`` (nothing when ``off``)."""
    view = values.get("tune", "off")
    entries: list[OptEntry] = list(values["optimizers"])
    if view == "off" or not entries:
        return
    t0 = time.perf_counter()
    if view == "map":
        _maps(values, surface, entries)
    elif view == "sensitivity":
        _sensitivity(values, surface, entries)
    elif view == "race":
        _race(values, surface, entries)
    timing = st.session_state.get(TIMING)
    if isinstance(timing, dict):
        timing["tuning"] = time.perf_counter() - t0


def _compiled(surface: Landscape, entries: Sequence[OptEntry]) -> bool:
    try:
        return all(fused.unsupported(surface, e.config.build()) is None for e in entries)
    except ValueError:
        return False


def _curvatures(surface: Landscape) -> tuple[float, float] | None:
    try:
        return theory.quadratic_curvatures(surface)
    except ValueError:
        return None


def _maps(values: dict[str, Any], surface: Landscape, entries: list[OptEntry]) -> None:
    measure = values["tune.measure"]
    steps = values["steps"]
    starts = ring_starts((values["x"], values["y"]), values["starts"], values["spread"], surface.bounds)
    if measure == "rate" and not surface.minima:
        st.info("This surface has no known minimum to measure a rate against; the maps show the final loss.")
        measure = "final"
    curv = _curvatures(surface)
    names = [e.config.name for e in entries]
    dims = [1 if second_knob(n) is None else 2 for n in names]
    # On a quadratic, heavy ball also gets the measured rate map, so it runs with the rate recorded.
    hb_rate = [curv is not None and n == "momentum" for n in names]
    n, note = map_plan(dims, len(starts), steps, compiled=_compiled(surface, entries),
                       rate=measure == "rate" or any(hb_rate))
    st.subheader(f"Tuning maps: {MEASURES_TEXT[measure]} after {steps} steps")
    st.caption("Each cell is one setting run from the page's start"
               + (f"s ({len(starts)}; the colour is the median)" if len(starts) > 1 else "")
               + ". The cross marks the current setting; **click a cell to use its setting.**"
               + (" On this quadratic, dashed lines are theory: GD diverges beyond η = 2/L and is fastest at "
                  "2/(μ+L); heavy ball is stable left of η = 2(1+β)/L, and the star is Polyak's optimum."
                  if curv else ""))
    if note:
        st.info(note, icon=":material/speed:")
    if not n:
        return
    uids = panel_uids(st.session_state, entries)
    t0 = time.perf_counter()
    cols = st.columns(2)
    for i, e in enumerate(entries):
        cfg = e.config
        grid = map_grid(cfg.name, n)
        rate = measure == "rate" or hb_rate[i]
        try:
            sw = sweep_cached(values, cfg, grid, starts, steps, rate=rate)
        except ValueError as err:
            st.warning(f"**{cfg.display}**: no map ({echo(err, 160)}).")
            continue
        hp = dict(cfg.hparams)
        current = tuple((k, float(hp[k])) for k in grid if k in hp)
        mu_l = curv if curv is not None and _theory_fits(cfg, sw) else None
        key = repr((values["surface"], values["params"], config_key(cfg), n, len(starts), starts.tobytes(), steps,
                    rate, measure, current, mu_l))
        fig = _map_figure(key, sw, measure, current, f"{cfg.display}: {MEASURES_TEXT[measure]}", mu_l)
        chart_key = f"{P}.tune.map.{i}"
        with cols[i % 2]:
            dot = f"<span style='color:{palette.color_for(i)}'>●</span>"
            st.markdown(f"{dot} **{echo(cfg.display)}**", unsafe_allow_html=True)
            if uids[i] is None:
                st.plotly_chart(fig, theme=None, key=chart_key, width="stretch")
            else:
                st.plotly_chart(fig, theme=None, key=chart_key, selection_mode="points",
                                on_select=functools.partial(_on_cell, chart_key, uids[i]), width="stretch")
        if mu_l is not None and sw.names == ["lr", "momentum"] and sw.rate is not None:
            st.plotly_chart(_rate_figure(key, sw, *mu_l, current), theme=None, key=f"{P}.tune.rate.{i}",
                            width="stretch")
            eta, beta, r = theory.polyak_optimum(*mu_l)
            st.caption(f"Polyak's optimum η* = {eta:.4g}, β* = {beta:.4g}: rate (√κ−1)/(√κ+1) = {r:.4g} per step; "
                       f"the best GD step 2/(μ+L) = {theory.gd_optimal_lr(*mu_l):.4g} has rate "
                       f"{float(theory.gd_rate(theory.gd_optimal_lr(*mu_l), *mu_l)):.4g}.")
    st.caption(f"{n} × {n} settings per optimizer (lr alone: {n}), computed or read from the cache in "
               f"{time.perf_counter() - t0:.2f} s.")


def _shared_lrs(entries: Sequence[OptEntry], n: int) -> np.ndarray:
    # One grid for every optimizer (a fair race): the union of their lr widgets' ranges.
    return lr_grid([e.config.name for e in entries], n)


def _sweep_budget(values: dict[str, Any], surface: Landscape, entries: list[OptEntry], n_lrs: int,
                  starts: np.ndarray) -> tuple[int, str]:
    """Learning rates to try within the budget (fewer past it), and a sentence when reduced."""
    budget = BUDGET_FUSED if _compiled(surface, entries) else BUDGET_NUMPY
    work = len(entries) * len(starts) * values["steps"]
    n = n_lrs
    while n > 4 and n * work > budget:
        n //= 2
    if n * work > budget:
        return 0, (f"Not run: {len(entries)} optimizers × {len(starts)} starts × {values['steps']} steps × even 4 "
                   f"learning rates pass the page's budget of {budget:,} run-steps.")
    if n < n_lrs:
        return n, f"{n} learning rates instead of {n_lrs}, to stay within the page's budget of {budget:,} run-steps."
    return n, ""


def _lr_grid_setup(values: dict[str, Any], surface: Landscape, entries: list[OptEntry], n_lrs: int,
                   starts: np.ndarray) -> tuple[np.ndarray, Landscape, tuple[tuple[float, float], ...]] | None:
    """The shared lr grid within the budget (saying so when it shrank), the surface and the starts as a cache key;
    None when even the smallest grid is over the budget."""
    n, note = _sweep_budget(values, surface, entries, n_lrs, starts)
    if note:
        st.info(note, icon=":material/speed:")
    if not n:
        return None
    surf = landscape_cached(values["surface"], values["params"])
    return _shared_lrs(entries, n), surf, tuple((float(x), float(y)) for x, y in starts)


def _sensitivity(values: dict[str, Any], surface: Landscape, entries: list[OptEntry]) -> None:
    from viz.tuning_figure import sensitivity_figure

    starts, which = _starts(values, surface)
    st.subheader("Learning-rate sensitivity: final loss against lr")
    st.caption(f"Each optimizer with its other settings, {values['steps']} steps, over {which}: the line is the "
               "median, the band the 10th–90th percentile. A flat, wide valley is a forgiving optimizer; "
               "diverged runs are left out of the line and put the band at the top. Schedules, clipping and "
               "noise are not applied here.")
    setup = _lr_grid_setup(values, surface, entries, SENS_LRS, starts)
    if setup is None:
        return
    lrs, surf, s_t = setup
    parts, labels, colors = [], [], []
    for i, e in enumerate(entries):
        try:
            parts.append(_sensitivity_cached(repr((values["surface"], values["params"], config_key(e.config))), surf,
                                             e.config, tuple(lrs.tolist()), s_t, values["steps"]))
        except ValueError as err:
            st.warning(f"**{e.config.display}**: not run ({echo(err, 160)}).")
            continue
        labels.append(e.config.display)
        colors.append(palette.color_for(i))
    if not parts:
        return
    sens = Sensitivity(lrs=parts[0].lrs, names=labels, final=np.concatenate([p.final for p in parts]),
                       median=np.concatenate([p.median for p in parts]), low=np.concatenate([p.low for p in parts]),
                       high=np.concatenate([p.high for p in parts]))
    st.plotly_chart(sensitivity_figure(sens, colors), theme=None, key=f"{P}.tune.sens", width="stretch")


def _race(values: dict[str, Any], surface: Landscape, entries: list[OptEntry]) -> None:
    from viz.tuning_figure import race_figure

    criterion = values["tune.by"]
    starts, which = _starts(values, surface)
    st.subheader("A fair race: each optimizer's lr tuned with the same budget")
    st.caption(f"Every optimizer tries the same log grid of learning rates for {values['steps']} steps from the "
               f"same starts ({which}); the best lr by median "
               f"{'final loss' if criterion == 'final' else 'steps to tolerance'} wins. Its other settings stay as "
               "they are; schedules, clipping and noise are not applied here.")
    setup = _lr_grid_setup(values, surface, entries, RACE_LRS, starts)
    if setup is None:
        return
    lrs, surf, s_t = setup
    tuned, colors, uids_kept = [], [], []
    uids = panel_uids(st.session_state, entries)
    for i, e in enumerate(entries):
        try:
            race = _race_cached(repr((values["surface"], values["params"], config_key(e.config))), surf, e.config,
                                tuple(lrs.tolist()), s_t, values["steps"], criterion)
        except ValueError as err:
            st.warning(f"**{e.config.display}**: not run ({echo(err, 160)}).")
            continue
        tuned.append(replace(race.entries[0], name=e.config.display))
        colors.append(palette.color_for(i))
        uids_kept.append(uids[i])
    if not tuned:
        return
    race = Race(lrs=lrs, criterion=criterion, steps=values["steps"], entries=tuned)
    st.plotly_chart(race_figure(race, colors), theme=None, key=f"{P}.tune.race", width="stretch")
    rows = []
    for t in tuned:
        better = (f"{t.margin:.3g}× lower loss" if criterion == "final" else f"{t.margin:.0f} steps fewer")
        rows.append({"optimizer": t.name, "tuned lr": f"{t.lr:.4g}",
                     "score": f"{t.score:.4g}" if math.isfinite(t.score) else "diverged",
                     "next-best lr": f"{t.runner_up_lr:.4g}", "than the next-best lr": better})
    st.table(rows)
    apply = tuple((u, t.lr) for u, t in zip(uids_kept, tuned, strict=True) if u is not None)
    st.button("race the tuned optimizers", icon=":material/sports_score:", key=f"{P}.tune.apply", on_click=_on_race,
              args=(apply,), disabled=not apply, help="Set each optimizer's lr to its tuned value and run them.")
