"""The shape of a lesson: a scenario, the run that answers it, and the words read off that run.

A lesson never types a number into its text. :func:`Lesson.compute` runs the
scenario (the surfaces' or the networks' runner), :attr:`Lesson.facts` reads
numbers off that :class:`Result`, and the narration template is filled from
them; the claim is checked on the same result. A page that calls ``compute``
under a cache therefore shows exactly the run it narrates.
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import landscapes
import nets
import optimizers
from optimizers.basins import BasinMap, basin_map
from optimizers.config import OptimizerConfig
from optimizers.runner import Trajectory

Pairs = tuple[tuple[str, Any], ...]
Fact = float | int | str


def pairs(d: Mapping[str, Any] | None = None, **kw: Any) -> Pairs:
    """Sorted ``(key, value)`` pairs: the hashable form of keyword arguments."""
    return tuple(sorted({**(d or {}), **kw}.items()))


@dataclass(frozen=True)
class SurfaceScenario:
    """Optimizers on one analytic surface.

    Attributes
    ----------
    landscape : str
        Key of :data:`landscapes.REGISTRY`.
    landscape_params : tuple of (str, value)
        The surface's own parameters (sorted pairs).
    optimizers : tuple of OptimizerConfig
    starts : tuple of (x, y)
        Every optimizer runs from every start.
    steps : int
    basins : int
        0 for no basin map; otherwise the grid resolution of one map per optimizer.
    """

    landscape: str
    landscape_params: Pairs
    optimizers: tuple[OptimizerConfig, ...]
    starts: tuple[tuple[float, float], ...]
    steps: int
    basins: int = 0


@dataclass(frozen=True)
class NetScenario:
    """Networks trained side by side, one series per run.

    Attributes
    ----------
    problem_kwargs : tuple of (str, value)
        Keyword arguments of :func:`nets.problem`, ``dataset`` included (sorted pairs).
    runs : tuple of (OptimizerConfig, tuple of (str, value))
        Each optimizer with its own overrides of ``problem_kwargs`` (e.g. ``batch_size``,
        ``shuffle``, ``standardize``, ``loss``, ``init``).
    epochs : int
    seeds : int
        Networks per run, initialised from seeds ``0 … seeds−1`` (the same seeds in every run).
    record_every : int
        Record every this many optimizer steps; 0 records once per epoch.
    """

    problem_kwargs: Pairs
    runs: tuple[tuple[OptimizerConfig, Pairs], ...]
    epochs: int
    seeds: int = 1
    record_every: int = 0


Scenario = SurfaceScenario | NetScenario


@dataclass(frozen=True)
class Result:
    """What :func:`compute` returns: the runs, and where each record sits on the x axis.

    Attributes
    ----------
    scenario : SurfaceScenario or NetScenario
    trajectories : tuple of Trajectory
        One per optimizer (surfaces: k = number of starts; networks: k = seeds).
    labels : tuple of str
        Legend label per series.
    x : tuple of ndarray, each shape (R_i,)
        Step (surfaces) or epoch (networks, may be fractional) of each record.
    unit : {"step", "epoch"}
    basin_maps : tuple of BasinMap
        One per optimizer when the scenario asks for a basin map, else empty.
    problems : tuple
        Per series, the landscape or :class:`nets.NetProblem` it ran on.
    extra : dict
        Numbers a lesson computed on top of the runs (e.g. where a stopping rule fires).
    seconds : float
        Wall time of the computation.
    """

    scenario: Scenario
    trajectories: tuple[Trajectory, ...]
    labels: tuple[str, ...]
    x: tuple[np.ndarray, ...]
    unit: str
    basin_maps: tuple[BasinMap, ...] = ()
    problems: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Predict:
    """A "predict first" question; the right choice is read off the run, never typed.

    Attributes
    ----------
    question : str
    choices : tuple of str
        2–4 choices.
    answer : callable
        ``answer(result) -> int``, the index of the right choice on this run.
    """

    question: str
    choices: tuple[str, ...]
    answer: Callable[[Result], int]


@dataclass(frozen=True)
class Variation:
    """A one-click change of the scenario, e.g. "standardize the inputs"."""

    label: str
    apply: Callable[[Any], Any]


Annotation = tuple[int, float, str]


@dataclass(frozen=True)
class Lesson:
    """One question from the seeds, answered by a run.

    Attributes
    ----------
    key, title : str
    question : str
        The asker's situation, in plain words.
    scenario : SurfaceScenario or NetScenario
    predict : Predict
    narration : str
        2–4 sentences with ``{fact}`` placeholders, filled by :meth:`narrate`.
    facts : callable
        ``facts(result) -> {name: number or str}``.
    annotations : callable
        ``annotations(result) -> [(series index, step or epoch, text)]``.
    variations : tuple of Variation
    claim : callable
        ``claim(result) -> (holds, sentence)``: what the lesson asserts, checked on the run.
    compute : callable
        ``compute(scenario) -> Result``; pure and deterministic.
    """

    key: str
    title: str
    question: str
    scenario: Scenario
    predict: Predict
    narration: str
    facts: Callable[[Result], dict[str, Fact]]
    annotations: Callable[[Result], list[Annotation]]
    variations: tuple[Variation, ...]
    claim: Callable[[Result], tuple[bool, str]]
    compute: Callable[[Any], Result]

    def narrate(self, result: Result) -> str:
        """The narration with every placeholder filled from ``facts(result)``.

        Raises
        ------
        KeyError
            If the template names a fact that :attr:`facts` does not give.
        """
        return self.narration.format(**self.facts(result))

    @property
    def placeholders(self) -> set[str]:
        """Names the narration template asks for."""
        return {name for _, name, _, _ in string.Formatter().parse(self.narration) if name}


# -- running ---------------------------------------------------------------------------------
def build_landscape(s: SurfaceScenario) -> landscapes.Landscape:
    """The surface of ``s``."""
    return landscapes.get(s.landscape, **dict(s.landscape_params))


def run_surface(s: SurfaceScenario) -> Result:
    """Every optimizer of ``s`` from every start (and a basin map each when ``s.basins``)."""
    t0 = time.perf_counter()
    land = build_landscape(s)
    starts = np.asarray(s.starts, dtype=np.float64)
    trajs, maps = [], []
    for cfg in s.optimizers:
        trajs.append(optimizers.run(land, cfg.build(), starts, s.steps, label=cfg.display))
        if s.basins:
            maps.append(basin_map(land, cfg.build(), s.steps, s.basins))
    return Result(
        scenario=s, trajectories=tuple(trajs), labels=tuple(c.display for c in s.optimizers),
        x=tuple(t.steps.astype(np.float64) for t in trajs), unit="step", basin_maps=tuple(maps),
        problems=(land,) * len(trajs), seconds=time.perf_counter() - t0,
    )


def build_problem(s: NetScenario, run: int) -> nets.NetProblem:
    """The network problem of run ``run``: ``problem_kwargs`` with that run's overrides."""
    kw = {**dict(s.problem_kwargs), **dict(s.runs[run][1])}
    return nets.problem(kw.pop("dataset"), **kw)


def run_nets(s: NetScenario) -> Result:
    """Train every run of ``s`` on its own problem, ``s.seeds`` networks each."""
    t0 = time.perf_counter()
    trajs, probs, xs = [], [], []
    for i, (cfg, _) in enumerate(s.runs):
        prob = build_problem(s, i)
        if s.record_every:
            start = prob.init_seeds(list(range(s.seeds)))
            traj = optimizers.run(
                prob, cfg.build(), start, steps=s.epochs * prob.steps_per_epoch, record_every=s.record_every,
                stop_on_converge=False, grad_tol=0.0, metrics=prob.metrics, label=cfg.display,
            )
        else:
            traj = nets.train(prob, cfg, s.epochs, seeds=list(range(s.seeds)), label=cfg.display)
        trajs.append(traj)
        probs.append(prob)
        xs.append(nets.epochs_of(traj, prob))
    return Result(
        scenario=s, trajectories=tuple(trajs), labels=tuple(c.display for c, _ in s.runs), x=tuple(xs),
        unit="epoch", problems=tuple(probs), seconds=time.perf_counter() - t0,
    )


def compute(s: Scenario) -> Result:
    """Run a scenario with the runner its kind needs."""
    return run_surface(s) if isinstance(s, SurfaceScenario) else run_nets(s)


# -- editing scenarios (for variations) -------------------------------------------------------
def with_hparams(cfg: OptimizerConfig, **hp: Any) -> OptimizerConfig:
    """``cfg`` with some hyperparameters changed."""
    return replace(cfg, hparams=pairs(dict(cfg.hparams), **hp))


def set_optimizer(s: Any, i: int, cfg: OptimizerConfig) -> Any:
    """Scenario ``s`` with optimizer (or run) ``i`` replaced by ``cfg``."""
    if isinstance(s, SurfaceScenario):
        opts = list(s.optimizers)
        opts[i] = cfg
        return replace(s, optimizers=tuple(opts))
    runs = list(s.runs)
    runs[i] = (cfg, runs[i][1])
    return replace(s, runs=tuple(runs))


def set_problem(s: NetScenario, **kw: Any) -> NetScenario:
    """Network scenario with some shared :func:`nets.problem` arguments changed."""
    return replace(s, problem_kwargs=pairs(dict(s.problem_kwargs), **kw))


def set_run(s: NetScenario, i: int, **kw: Any) -> NetScenario:
    """Network scenario with run ``i``'s own overrides changed."""
    runs = list(s.runs)
    cfg, over = runs[i]
    runs[i] = (cfg, pairs(dict(over), **kw))
    return replace(s, runs=tuple(runs))


def set_landscape(s: SurfaceScenario, **params: Any) -> SurfaceScenario:
    """Surface scenario with some of the surface's parameters changed."""
    return replace(s, landscape_params=pairs(dict(s.landscape_params), **params))


# -- reading runs -------------------------------------------------------------------------------
def first_at_or_below(values: np.ndarray, threshold: float) -> int:
    """Index of the first entry ``<= threshold`` in a 1-D array, or -1 if none."""
    hit = np.flatnonzero(np.asarray(values) <= threshold)
    return int(hit[0]) if hit.size else -1


def first_at_or_above(values: np.ndarray, threshold: float) -> int:
    """Index of the first entry ``>= threshold`` in a 1-D array, or -1 if none."""
    hit = np.flatnonzero(np.asarray(values) >= threshold)
    return int(hit[0]) if hit.size else -1


def epochs_to(result: Result, series: int, metric: str, threshold: float, *, above: bool = True) -> np.ndarray:
    """Per seed, the first recorded epoch where ``extras[metric]`` reaches ``threshold``; ``inf`` if never.

    Returns
    -------
    ndarray, shape (k,)
    """
    vals = result.trajectories[series].extras[metric]
    x = result.x[series]
    out = np.full(vals.shape[1], np.inf)
    for j in range(vals.shape[1]):
        i = first_at_or_above(vals[:, j], threshold) if above else first_at_or_below(vals[:, j], threshold)
        if i >= 0:
            out[j] = x[i]
    return out


def fmt_int(n: float) -> str:
    """``1900`` -> ``"1,900"``; ``inf`` -> ``"never"``."""
    return "never" if not np.isfinite(n) else f"{round(float(n)):,}"
