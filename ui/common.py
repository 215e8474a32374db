"""Helpers shared by the pages: cached runs, start rings, summaries, error display.

The cached functions take an explicit text ``key`` that fully describes the
computation and underscore-prefixed arguments that Streamlit does not hash:
hashing a short canonical string is faster and more predictable than letting
Streamlit hash frozen dataclasses and arrays. The hot ones are called with
keywords: for each positional argument Streamlit reads the function's
signature again, and each hashed argument costs a hash of its own (a cached
run's lookup took 0.46 ms with four hashed positional arguments, 0.03 ms with
the one key given by keyword).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import landscapes
import nets
import optimizers
from landscapes.base import Landscape
from optimizers.basins import BasinMap, basin_map
from optimizers.config import OptimizerConfig
from optimizers.runner import Trajectory
from viz import net_figures as nf
from viz.plotly_json import plotly_encoded

log = logging.getLogger("descent_lab.ui")


def config_key(cfg: OptimizerConfig) -> str:
    """Canonical text of an optimizer config without its display label (labels do not change runs)."""
    return repr((cfg.name, cfg.hparams, cfg.schedule, cfg.schedule_params, cfg.clip_mode, cfg.clip_threshold,
                 cfg.noise_sigma, cfg.noise_anneal, cfg.noise_seed, cfg.decoupled_weight_decay))


@st.cache_resource(max_entries=32, show_spinner=False)
def _landscape_cached(key: str, _name: str, _params: tuple[tuple[str, Any], ...]) -> Landscape:
    return landscapes.get(_name, **dict(_params))


def landscape_cached(name: str, params: tuple[tuple[str, Any], ...]) -> Landscape:
    """``landscapes.get(name, **params)``, built once (formula surfaces parse once).

    Raises
    ------
    ValueError
        On an unknown name or a bad parameter (not cached by Streamlit).
    """
    return _landscape_cached(key=repr((name, params)), _name=name, _params=params)


@st.cache_data(max_entries=256, show_spinner=False)
def _run_cached(key: str, _landscape: Landscape, _cfg: OptimizerConfig, _starts: tuple[tuple[float, float], ...],
                _steps: int, _record_every: int) -> Trajectory:
    # The compiled loop whenever it can run: the same numbers (tests/test_fused.py), 8x less of the one
    # interpreter a crowd of sessions shares.
    return optimizers.run(_landscape, _cfg.build(), np.asarray(_starts, dtype=np.float64), _steps,
                          record_every=_record_every, backend="prefer_fused")


def run_cached(landscape_name: str, landscape_params: tuple[tuple[str, Any], ...], cfg: OptimizerConfig,
               starts: np.ndarray, steps: int, record_every: int = 1) -> Trajectory:
    """One optimizer's runs from ``starts`` ``(k, 2)``, cached per (surface, config, starts, steps).

    Changing one optimizer re-runs only that one. ``record_every`` thins
    the recorded path (the work budget's lever on the figure's size).

    Raises
    ------
    ValueError
        From the landscape, the optimizer config or the runner.
    """
    surface = landscape_cached(landscape_name, landscape_params)
    start_t = tuple((float(x), float(y)) for x, y in np.asarray(starts).reshape(-1, 2))
    steps, record_every = int(steps), int(record_every)
    key = repr((landscape_name, landscape_params, config_key(cfg), start_t, steps, record_every))
    return _run_cached(key=key, _landscape=surface, _cfg=cfg, _starts=start_t, _steps=steps,
                       _record_every=record_every)


@st.cache_data(max_entries=16, show_spinner=False)
def _basins_cached(key: str, _landscape: Landscape, _cfg: OptimizerConfig, steps: int, resolution: int) -> BasinMap:
    return basin_map(_landscape, _cfg.build(), steps, resolution)


def basins_cached(landscape_name: str, landscape_params: tuple[tuple[str, Any], ...], cfg: OptimizerConfig,
                  steps: int, resolution: int) -> BasinMap:
    """One optimizer's basin map (``resolution²`` starts), cached per (surface, config, steps, resolution).

    Raises
    ------
    ValueError
        From the landscape, the optimizer config or the size caps.
    """
    surface = landscape_cached(landscape_name, landscape_params)
    key = repr((landscape_name, landscape_params, config_key(cfg)))
    return _basins_cached(key, surface, cfg, int(steps), int(resolution))


@st.cache_data(max_entries=64, show_spinner=False)
def _reference_cached(key: str, _landscape: Landscape, _method: str, _start: tuple[float, float],
                      _maxiter: int) -> Trajectory:
    from optimizers.scipy_reference import reference_path

    return reference_path(_landscape, _method, np.asarray(_start, dtype=np.float64), _maxiter)


def reference_cached(landscape_name: str, landscape_params: tuple[tuple[str, Any], ...], method: str,
                     start: Sequence[float], maxiter: int) -> Trajectory:
    """SciPy ``method``'s path from ``start``, cached.

    Raises
    ------
    ValueError
        From SciPy's wrapper (e.g. an unknown method).
    """
    surface = landscape_cached(landscape_name, landscape_params)
    start_t, maxiter = (float(start[0]), float(start[1])), int(maxiter)
    return _reference_cached(key=repr((landscape_name, landscape_params, method, start_t, maxiter)),
                             _landscape=surface, _method=method, _start=start_t, _maxiter=maxiter)


def ring_starts(center: Sequence[float], n: int, spread: float, bounds: Sequence[Sequence[float]]) -> np.ndarray:
    """The centre plus ``n - 1`` starts on a circle around it.

    Parameters
    ----------
    center : (x, y)
    n : int
        Total number of starts, >= 1.
    spread : float
        Radius as a fraction of the window width ``bounds[0][1] - bounds[0][0]``.
    bounds : ((xmin, xmax), (ymin, ymax))

    Returns
    -------
    ndarray, shape (n, 2)
    """
    c = np.asarray(center, dtype=np.float64).reshape(1, 2)
    if n <= 1:
        return c
    width = float(bounds[0][1] - bounds[0][0])
    angles = 2.0 * math.pi * np.arange(n - 1) / (n - 1)
    ring = c + spread * width * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return np.concatenate([c, ring], axis=0)


def summary_rows(surface: Landscape, labels: Sequence[str], trajectories: Sequence[Trajectory]) -> list[dict[str, Any]]:
    """One table row per run: final value, nearest minimum, steps to converge, status, wall time."""
    minima = [m for m in surface.minima if m.kind != "saddle"] or list(surface.minima)
    rows: list[dict[str, Any]] = []
    for label, traj in zip(labels, trajectories, strict=True):
        for run in range(traj.k):
            final = traj.params[traj.last_record(run), run]
            row: dict[str, Any] = {"optimizer": label}
            if traj.k > 1:
                row["start"] = f"#{run}"
            row["final value"] = float(traj.values[traj.last_record(run), run])
            if minima:
                d = [float(np.hypot(*(final - np.asarray(m.point)))) for m in minima]
                j = int(np.argmin(d))
                m = minima[j]
                row["distance to nearest minimum"] = d[j]
                row["nearest minimum"] = f"{m.kind} ({m.point[0]:.3g}, {m.point[1]:.3g})"
            row["steps to converge"] = str(int(traj.status_step[run])) if traj.status[run] == "converged" else "—"
            row["status"] = traj.reason[run]
            row["wall time (ms)"] = round(1e3 * traj.wall_time, 1)
            rows.append(row)
    return rows


def show_unexpected(err: BaseException, what: str) -> None:
    """Log a bug with its traceback and show a short, clear error instead of the traceback."""
    log.exception("unexpected error while %s", what)
    from common.controls import echo

    st.error(f"Something went wrong while {what} ({type(err).__name__}: {echo(err, 80)}). "
             "This is a bug in Descent Lab; the details are in the server log.")


def _contiguous(obj: Any) -> Any:
    """``obj`` with every numpy array C-contiguous (containers copied, arrays only when they must be).

    plotly's orjson encoder refuses a strided array (a path's column, a slice of a recording) and then
    walks the whole figure in Python to clean it: about 20 ms per view for the surfaces figure, on every
    session. With contiguous arrays orjson takes the figure as it is.
    """
    if isinstance(obj, dict):
        return {k: _contiguous(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_contiguous(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_contiguous(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return np.ascontiguousarray(obj)
    return obj


#: The layout the wrapper itself is made with. It is never drawn (``to_dict`` is its own); without a template
#: plotly.py would deep-copy its default template into it, 1.4 ms of every changed view.
_BARE = {"template": "none"}


class PrecomputedFigure(go.Figure):
    """A figure whose ``to_dict`` is computed once.

    ``st.plotly_chart`` calls ``to_dict()`` on every rerun, and plotly's
    ``to_dict`` deep-copies every frame (seconds for a 300-frame animation).
    Caching this wrapper with the figure makes an unchanged rerun cost only
    the JSON encoding, and its arrays are kept contiguous so that encoding
    is orjson's own fast path.

    Parameters
    ----------
    fig : go.Figure
        The full figure; kept as ``.full`` for exports.
    """

    def __init__(self, fig: go.Figure) -> None:
        super().__init__(layout=_BARE)
        raw_frames = getattr(fig, "raw_frames", None)
        if callable(raw_frames):
            # viz's AnimatedFigure keeps frames as plain dicts; its own to_dict base64-encodes ~10^4 tiny
            # arrays one by one (seconds). Plain arrays in the frames cost about the same bytes and ~0.1 s.
            # plotly's to_dict has already encoded the arrays of data and layout; only the frames need the pass.
            spec = go.Figure.to_dict(fig)
            spec["frames"] = _contiguous(raw_frames())
        else:
            spec = _contiguous(fig.to_dict())
        self._spec = spec
        self._full: go.Figure | None = fig
        self._parts: Any = None

    @classmethod
    def from_parts(cls, parts: Any) -> PrecomputedFigure:
        """The figure from plain parts (``viz.surface_figure.FigureParts``) without building a ``go.Figure``.

        The spec equals ``PrecomputedFigure(parts.figure()).to_dict()`` (tests/test_viz.py holds it); the plotly
        figure itself is built only when :attr:`full` is asked for (an export).
        """
        self = cls.__new__(cls)
        go.Figure.__init__(self, layout=_BARE)
        # The frames hold only contiguous arrays already (viz.surface_figure writes them so, and a test checks
        # that the JSON encoder takes this spec as it is): walking their ~10^4 values again cost 2-7 ms a view.
        self._spec = {"data": plotly_encoded(parts.data), "layout": plotly_encoded(parts.layout),
                      "frames": parts.frames}
        self._full = None
        self._parts = parts
        return self

    @property
    def full(self) -> go.Figure:
        """The original figure (for exports)."""
        if self._full is None:
            # Built on first use; two sessions building it at once each get an equal figure.
            self._full = self._parts.figure()
        return self._full

    def to_dict(self) -> dict[str, Any]:
        """The precomputed ``fig.to_dict()`` (shared; do not modify)."""
        return self._spec


def to_series(traj: Trajectory, problem: nets.NetProblem, label: str, color: str) -> nf.NetSeries:
    """A training trajectory as the figure module's NetSeries (the score is accuracy, or R² for regression)."""
    x = traj.extras
    key = problem.score_key
    return nf.NetSeries(
        label=label, color=color, epochs=np.rint(nets.epochs_of(traj, problem)).astype(int),
        train_loss=x["train_loss"], train_acc=x[f"train_{key}"], test_loss=x.get("test_loss"),
        test_acc=x.get(f"test_{key}"), layer_grad_norms=x["grad_norm_layer"][:, 0, :],
        saturation=x["saturated"][:, 0] if "saturated" in x else None,
        dead=x["dead"][:, 0] if "dead" in x else None, score_name=problem.score_name,
    )


def boundary_data(problem: nets.NetProblem, thetas: np.ndarray, view: tuple[int, int] | None, label: str,
                  boundary_grid: int = 41) -> nf.BoundaryData:
    """The boundary panel's data: :func:`nets.boundary_grid` plus labels for the figure."""
    g = nets.boundary_grid(problem, thetas, view, resolution=boundary_grid)
    return nf.BoundaryData(xs=g.xs, ys=g.ys, probs=g.probs, points=g.points, labels=problem.y_train, series_label=label,
                           xlabel=g.xlabel, ylabel=g.ylabel, class_names=tuple(problem.split.dataset.class_names))


