"""The one step interface every optimizer shares.

Every algorithm here writes its update as ``params - lr_t * direction``, where
the direction comes from :meth:`Optimizer.direction` and ``lr_t`` is the base
learning rate times an optional schedule. That single shape is what lets the
composable transforms (schedules, clipping, noise, decoupled weight decay) be
written once in :mod:`optimizers.transforms` and used with every optimizer.

Shapes: ``params`` and ``grads`` are float64 ``(k, d)``: k independent runs.
State is a plain ``dict`` of arrays and ints. Nothing is changed in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from common import jit
from common.jit import DerivedKernel, Kernel, kernel
from common.spec import Spec, resolve

State = dict[str, Any]

LR_HELP = "Step size. Too large diverges, too small crawls."


def lr_spec(default: float) -> Spec:
    """The learning-rate spec every optimizer shares (log slider 1e-5 … 10)."""
    return Spec(
        "lr", default, low=0.0, low_open=True, high=1e3, log=True, ui_low=1e-5, ui_high=10.0,
        help=LR_HELP, label="learning rate",
    )


def as_params(params: Any) -> np.ndarray:
    """Check and return ``params`` as a float64 ``(k, d)`` array.

    Raises
    ------
    ValueError
        If the array is not 2-D.
    """
    arr = np.asarray(params, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"params must have shape (k, d), got {arr.shape}")
    return arr


@dataclass(frozen=True)
class StepView:
    """What one step saw and produced: the inputs of derived :class:`StateField` s.

    Attributes
    ----------
    t : int
        The step taken, from 1.
    state : dict
        The state the step returned (with ``"t"``).
    prev : dict
        The state it started from.
    grads : ndarray, shape (k, d)
        The gradient the algorithm received (after any noise and clipping).
    params : ndarray, shape (k, d)
        The parameters the step started from.
    lr : ndarray, shape (k,)
        The learning rate of the step, after the schedule.
    """

    t: int
    state: State
    prev: State
    grads: np.ndarray
    params: np.ndarray
    lr: np.ndarray


@dataclass(frozen=True)
class StateField:
    """One named quantity of an optimizer's state, as the X-ray shows it.

    A field without ``derive`` is a state entry of the same name, as
    :meth:`Optimizer.step` returns it. Stored fields are declared in the order
    of the rows of :meth:`Optimizer.kernel_state`, which is how the fused
    backend names its state. A field with ``derive`` is computed from the step
    (:class:`StepView`), e.g. Adam's effective step per coordinate.

    Attributes
    ----------
    name : str
        Key in :meth:`Optimizer.xray` and, prefixed ``state.``, in a trajectory's ``extras``.
    label : str
        Short label with its symbol, e.g. ``"m (first moment)"``.
    doc : str
        What it means, in one sentence.
    per : {"coordinate", "run"}
        Shape ``(k, d)`` or ``(k,)``.
    role : {"", "momentum", "scale", "gradient", "point"}
        How a figure draws it: ``momentum`` as an arrow in parameter space,
        ``scale`` as the axes of an ellipse (a step length per coordinate),
        ``gradient`` as the gradient arrow, ``point`` as a second path in parameter space
        beside the parameters' own (e.g. Schedule-Free's average ``x``); fields without a
        role are traced over time.
    derive : callable, optional
        ``derive(optimizer, view) -> ndarray`` broadcastable to the field's shape.
    """

    name: str
    label: str
    doc: str
    per: Literal["coordinate", "run"] = "coordinate"
    role: str = ""
    derive: Callable[[Any, StepView], Any] | None = None


def per_run(x: Any, k: int) -> np.ndarray:
    """A scalar or ``(k,)`` hyperparameter as a ``(k, 1)`` column, to scale ``(k, d)`` arrays row by row."""
    return np.broadcast_to(np.asarray(x, dtype=np.float64).reshape(-1), (k,))[:, None]


#: Fields every optimizer reports after its own: the gradient it received and its learning rate.
STEP_FIELDS: tuple[StateField, ...] = (
    StateField("grad", "g (gradient)", "The gradient the algorithm received (after noise and clipping).",
               role="gradient", derive=lambda opt, v: v.grads),
    StateField("lr", "η_t (learning rate)", "The learning rate of the step, after the schedule.", per="run",
               derive=lambda opt, v: v.lr),
)


@dataclass(frozen=True)
class RunRule:
    """An update that sums over a run's coordinates, written once as four phases of scalar arithmetic.

    A step of one run: ``a = before(r, c)`` from the run's state; for each coordinate
    ``terms, s_new = coord(g, p, s, a, c)``; the terms summed over the run's ``n``
    coordinates; ``r_new, q = after(sums, r, a, c, n)``; for each coordinate
    ``d = out(g, p, s_new, q, c)``. Each phase uses only arithmetic and :mod:`common.ops`
    (plus :func:`common.jit.shared` helpers), so numpy runs it on whole arrays (``(k, d)``
    coordinates, ``(k,)`` run numbers, sums along the run) for any d, and the fused backend's
    compiled loop is generated from the same four functions for a 2-D point, where a sum is
    ``0.0 + x + y`` as numpy's is. Branch only on numbers every run shares.

    Attributes
    ----------
    before, coord, after, out : callable
        The phases, defined at module level in the optimizer's module.
    coord_state : tuple of str
        State entries of shape ``(k, d)``, in the order of ``s`` and ``s_new``.
    run_state : tuple of str
        State entries of shape ``(k,)``, in the order of ``r`` and ``r_new``.
    terms : int
        How many terms ``coord`` returns for summing.
    """

    before: Callable[..., Any]
    coord: Callable[..., Any]
    after: Callable[..., Any]
    out: Callable[..., Any]
    coord_state: tuple[str, ...]
    run_state: tuple[str, ...]
    terms: int


class Optimizer:
    """Base class: validated hyperparameters, ``init`` and a pure ``step``.

    Subclasses set the class attributes and implement :meth:`init_state` and
    :meth:`direction`.

    Parameters
    ----------
    **hparams
        Hyperparameters named as in ``specs``; missing ones take defaults.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    latex: ClassVar[str] = ""
    specs: ClassVar[tuple[Spec, ...]] = ()
    reference: ClassVar[str] = ""
    #: Where the app lists it: "classic" (SGD and its momenta), "adaptive" (a step per coordinate) or "modern".
    family: ClassVar[str] = ""
    #: One line on what it does differently, shown as the help of the optimizer's select box.
    summary: ClassVar[str] = ""
    #: Optional compiled twin of :meth:`direction` for the fused runner (:mod:`optimizers.fused`):
    #: ``kernel(g, p, S, c, d)`` with gradients ``g`` and parameters ``p`` of shape ``(n,)``, the state
    #: ``S`` ``(slots, n)`` from :meth:`kernel_state` (updated in place), the step's numbers ``c`` from
    #: :meth:`kernel_coefs`, writing the direction into ``d`` ``(n,)``: k runs × 2 coordinates flattened
    #: into n as the fused backend lays out points, every x then every y (an elementwise :attr:`rule`'s loop
    #: does not mind the order; a :attr:`point_rule`'s reads run i at i and n/2 + i). Same operations in the
    #: same order as :meth:`direction`. It counts only on the class that also defines ``direction`` (or the
    #: rule it is derived from); :meth:`kernel_init` gives its starting state.
    kernel: ClassVar[Kernel | None] = None
    #: The update written once (optional, instead of ``direction`` and ``kernel``):
    #: ``rule(g, p, s, c) -> (d, s_new)`` in scalar arithmetic and :mod:`common.ops`, where ``s`` and
    #: ``s_new`` are tuples with one entry per stored :attr:`state_fields` entry (in declaration order; a
    #: slot the run does not keep arrives as ``0.0`` and its result is dropped) and ``c`` is
    #: :meth:`kernel_coefs`. numpy runs it on the whole ``(k, d)`` arrays (:meth:`direction`); the
    #: compiled :attr:`kernel` is generated from it and calls it one element at a time. Branch only on
    #: numbers that are shared by every run (flags, weight decay), never on per-run ones.
    rule: ClassVar[Callable[..., Any] | None] = None
    #: The update of one whole run on a 2-D point, written once (optional, for updates that are not elementwise:
    #: sums over a run's coordinates, a 2 × 2 matrix per run): ``point_rule(g, p, s, c) -> (d, s_new)`` in
    #: scalar arithmetic and :mod:`common.ops` (plus :func:`common.jit.shared` helpers), where ``g``, ``p`` and
    #: ``d`` are pairs ``(x, y)``, a sum over the run is written out (``x0 * y0 + x1 * y1``), ``s`` and
    #: ``s_new`` are flat tuples holding, for each row of :attr:`point_rows`, its x entry then its y entry, and
    #: ``c`` is :meth:`kernel_coefs` (per-run numbers as ``(k, 1)`` columns, which the rule sees as one number
    #: per run). numpy runs it on ``(k,)`` columns (:meth:`direction` on a 2-D problem); the compiled
    #: :attr:`kernel` is generated from it and calls it one run at a time. :meth:`init` refuses any other d:
    #: the rule is the algorithm, written for one 2-D point per run (Shampoo and SOAP's full 2 × 2
    #: preconditioner). Branch only on numbers shared by every run.
    point_rule: ClassVar[Callable[..., Any] | None] = None
    #: With :attr:`point_rule`: where each state entry lives, as rows of two entries (the x and the y half of a
    #: kernel state row): ``"m[0]"`` is coordinate 0 of the ``(k, 2)`` entry ``m``, ``"d"`` a ``(k,)`` entry,
    #: ``"H[0,1]"`` an entry of a ``(k, 2, 2)`` one, ``None`` an unused half. Every entry :meth:`init_state` makes
    #: must be named; an entry the run does not keep reads as ``0.0`` and its result is dropped.
    point_rows: ClassVar[tuple[tuple[str | None, str | None], ...]] = ()
    #: An update with sums over a run's coordinates, written once in phases (optional; see :class:`RunRule`):
    #: numpy runs it for any d, and the compiled :attr:`kernel` is generated from it for a 2-D point, its
    #: state laid out as :attr:`point_rows` (derived).
    run_rule: ClassVar[RunRule | None] = None
    #: Inputs of :attr:`needs` that the update reads from a state entry: ``{"hessian_diag": "hessian"}`` makes the
    #: input overwrite that entry before the update on the steps that take it (and the fused backend writes it
    #: there from the surface's compiled Hessian diagonal, :attr:`landscapes.base.Landscape.hessian_kernel`).
    input_slots: ClassVar[Mapping[str, str]] = {}
    #: What the state holds and what it means, for the X-ray (:meth:`xray`); see :class:`StateField`.
    state_fields: ClassVar[tuple[StateField, ...]] = ()
    #: Hyperparameters that may be given as an array of shape ``(k,)``, one value per run, so that a grid of
    #: settings runs as one batch. ``direction`` and ``kernel`` must read them elementwise (the kernel through
    #: :func:`common.jit.at`). lr is applied outside the direction, so every optimizer takes it per run.
    per_run: ClassVar[tuple[str, ...]] = ("lr",)
    #: Hyperparameters that act only on a problem with a layout (:meth:`bind`: a network's weight matrices);
    #: a page without layouts (the surfaces) does not offer them.
    layout_specs: ClassVar[tuple[str, ...]] = ()
    #: Inputs the step takes beyond the gradient, e.g. ``("hessian_diag",)`` (Sophia). The runner makes them
    #: (:func:`optimizers.curvature.provide`) on the steps :meth:`needs_at` names and passes them to :meth:`step`
    #: as keywords, which hands them to :meth:`direction`.
    needs: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "rule" in cls.__dict__ and cls.__dict__["rule"] is not None:
            cls.kernel = DerivedKernel(cls.__dict__["rule"], lambda: _direction_loop(cls), "direction")
        if cls.__dict__.get("point_rule") is not None:
            cls._point_entries = tuple(_parse_entry(e) for row in cls.point_rows for e in row)
            cls.kernel = DerivedKernel(cls.__dict__["point_rule"], lambda: _point_loop(cls), "point")
        rr = cls.__dict__.get("run_rule")
        if rr is not None:
            run = list(rr.run_state) + [None] * (len(rr.run_state) % 2)
            cls.point_rows = (*((f"{n}[0]", f"{n}[1]") for n in rr.coord_state),
                              *((run[i], run[i + 1]) for i in range(0, len(run), 2)))
            cls._point_entries = tuple(_parse_entry(e) for row in cls.point_rows for e in row)
            cls.kernel = DerivedKernel(rr.coord, lambda: _run_rule_loop(cls), "runrule")

    @classmethod
    def slots(cls) -> tuple[str, ...]:
        """Names of the stored state entries, in the order of the rule's state tuple and the kernel's rows."""
        return tuple(f.name for f in cls.state_fields if f.derive is None)

    def __init__(self, **hparams: Any) -> None:
        arrays = split_per_run(self, hparams)
        self.hparams = resolve(self.specs, hparams, self.name)
        self.hparams.update(arrays)
        self._per_run_names = tuple(arrays)
        self.check()

    def check(self) -> None:
        """Cross-parameter checks; raise ``ValueError`` (override when needed)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())
        return f"{type(self).__name__}({args})"

    # -- the interface -------------------------------------------------
    def init(self, params: np.ndarray) -> State:
        """State for ``params`` of shape ``(k, d)``; step count starts at 0."""
        params = as_params(params)
        if type(self).point_rule is not None and params.shape[1] != 2:
            raise ValueError(f"{self.name} runs on 2-D surfaces only: its update is written for one 2-D point per "
                             f"run, and θ here has {params.shape[1]} parameters")
        return {"t": 0, **self.init_state(params)}

    def step(self, params: np.ndarray, grads: np.ndarray, state: State, **inputs: np.ndarray
             ) -> tuple[np.ndarray, State]:
        """One update; returns ``(new_params, new_state)`` without touching inputs.

        Parameters
        ----------
        params, grads : ndarray, shape (k, d)
        state : dict
            From :meth:`init` or a previous :meth:`step`.
        **inputs : ndarray, shape (k, d)
            What :meth:`needs_at` names for this step, e.g. ``hessian_diag``.
        """
        t = state["t"] + 1
        inner = {k: v for k, v in state.items() if k != "t"}
        direction, inner = self.direction(grads, inner, params, t, **inputs) if inputs else \
            self.direction(grads, inner, params, t)
        return params - self.lr_at(t) * direction, {"t": t, **inner}

    def needs_at(self, t: int) -> tuple[str, ...]:
        """The inputs of :attr:`needs` step ``t`` (1-based) takes; all of them by default."""
        return self.needs

    def gradient_cost(self) -> float:
        """Gradient evaluations a step costs on average on a problem without an analytic Hessian (a network):
        1, unless :attr:`needs` makes the runner estimate curvature. The work budget multiplies by it."""
        return 1.0

    def lr_at(self, t: int) -> float:
        """Learning rate at step ``t`` (1-based); a ``(k, 1)`` column when lr is given per run."""
        lr = self.hparams.get("lr", 1.0)
        return lr if isinstance(lr, np.ndarray) else float(lr)

    def bind(self, layout: Any) -> Optimizer:
        """This optimizer for a problem with ``layout`` (:class:`~optimizers.layout.Layout`): which slices of θ
        are which matrices. :func:`optimizers.run` calls it when the problem declares a layout; optimizers
        with rules per parameter group (Muon) return a bound copy, the others themselves."""
        return self

    @property
    def runs(self) -> int | None:
        """k when some hyperparameter is given per run, else ``None``."""
        return next((len(v) for v in self.hparams.values() if isinstance(v, np.ndarray)), None)

    def per_value(self, fn: Any, names: tuple[str, ...], *args: Any) -> Any:
        """``fn(*hparams[names], *args)`` once over the distinct per-run settings, spread back to ``(k, 1)`` columns.

        For per-step numbers such as Adam's ``1 − β₁ᵗ``: ``fn`` gets floats without per-run
        values, else ``(u,)`` arrays of the u distinct settings, and must round alike on
        both (:func:`exact_pow`, :func:`exact_sqrt`). With ``args == (t,)``, a step, ``fn``
        must also take ``t`` as a ``(c, 1)`` column of steps: the numbers of the next steps
        are then made in one call and kept. A ``fn`` returning a tuple gives a tuple.
        """
        h = self.hparams
        per_run = getattr(self, "_per_run_names", ())
        if not per_run or all(n not in per_run for n in names):
            return fn(*(h[n] for n in names), *args)
        cache = self.__dict__.setdefault("_per_value_groups", {})
        if names not in cache:
            k = self.runs
            cols = np.column_stack([np.broadcast_to(np.asarray(h[n], dtype=np.float64).reshape(-1), (k,)) for n in names])
            uniq, inverse = unique_rows(cols)
            # Already distinct and sorted (e.g. the fused backend's reduced settings): no spreading needed.
            spread = None if np.array_equal(inverse, np.arange(k)) else inverse
            cache[names] = ([np.ascontiguousarray(c) for c in uniq.T], spread)
        cols, spread = cache[names]
        if len(args) == 1 and isinstance(args[0], (int, np.integer)):
            # A per-step number: made for the next _STEP_CHUNK steps at once (fn broadcasts over t), then read.
            t = int(args[0])
            memo = self.__dict__.setdefault("_per_value_steps", {})
            t0, table = memo.get((fn, names), (0, None))
            if table is None or not t0 <= t < t0 + _STEP_CHUNK:
                t0 = t
                out = fn(*cols, np.arange(t, t + _STEP_CHUNK, dtype=np.float64)[:, None])
                table = tuple(np.asarray(c) for c in out) if isinstance(out, tuple) else np.asarray(out)
                memo[(fn, names)] = (t0, table)
            if isinstance(table, tuple):
                return tuple(_column(c[t - t0], spread) for c in table)
            return _column(table[t - t0], spread)
        out = fn(*cols, *args)
        if isinstance(out, tuple):
            return tuple(_column(col, spread) for col in out)
        return _column(out, spread)

    # -- for subclasses ---------------------------------------------------
    def init_state(self, params: np.ndarray) -> State:
        """Algorithm state for ``(k, d)`` params (no step count)."""
        return {}

    def direction(
        self, grads: np.ndarray, state: State, params: np.ndarray, t: int
    ) -> tuple[np.ndarray, State]:
        """The update direction ``d`` with ``new = params - lr_t * d``.

        Parameters
        ----------
        grads, params : ndarray, shape (k, d)
        state : dict
            Algorithm state without the step count.
        t : int
            The step being taken, starting at 1.
        """
        cls = type(self)
        if cls.run_rule is not None:
            d, _, _, new = self.run_rule_parts(grads, state, params, t)
            return d, new
        if cls.point_rule is not None:
            if grads.shape[1] != 2:
                raise ValueError(f"{self.name} runs on 2-D surfaces only, not on θ of {grads.shape[1]} parameters")
            return self._point_direction(grads, state, params, t)
        return self._rule_direction(grads, state, params, self.kernel_coefs(t))

    def _rule_direction(self, grads: np.ndarray, state: State, params: np.ndarray, coefs: tuple
                        ) -> tuple[np.ndarray, State]:
        """:attr:`rule` on the whole ``(k, d)`` arrays with the numbers ``coefs``."""
        rule = type(self).rule
        if rule is None:
            raise NotImplementedError
        names = self.slots()
        with np.errstate(all="ignore"):  # a diverging run's inf and NaN are the runner's to judge, not warnings
            d, new = rule(grads, params, tuple(state.get(name, 0.0) for name in names), coefs)
        return d, {name: value for name, value in zip(names, new, strict=True) if name in state}

    def run_rule_parts(self, grads: np.ndarray, state: State, params: np.ndarray, t: int
                       ) -> tuple[np.ndarray, tuple[Any, ...], tuple[Any, ...], State]:
        """:attr:`run_rule` on whole arrays: the direction ``(k, d)``, the sums and ``q`` of each run, the new state.

        The X-ray's derived fields read ``q`` from here, so they are the step's own numbers.
        """
        rr = type(self).run_rule
        coefs = self.kernel_coefs(t)  # per-run numbers as (k, 1) columns, for the coordinate phases
        per_run = tuple(x.reshape(-1) if isinstance(x, np.ndarray) and x.ndim == 2 else x for x in coefs)
        r = tuple(state.get(name, 0.0) for name in rr.run_state)
        s = tuple(state.get(name, 0.0) for name in rr.coord_state)

        def column(x: Any) -> Any:
            return x[:, None] if isinstance(x, np.ndarray) and x.ndim == 1 else x

        with np.errstate(all="ignore"):  # a diverging run's inf and NaN are the runner's to judge, not warnings
            a = rr.before(r, per_run)
            terms, s_new = rr.coord(grads, params, s, tuple(column(x) for x in a), coefs)
            sums = tuple(np.sum(np.broadcast_to(x, grads.shape), axis=1) for x in terms)
            r_new, q = rr.after(sums, r, a, per_run, float(grads.shape[1]))
            d = rr.out(grads, params, s_new, tuple(column(x) for x in q), coefs)
        k = grads.shape[0]
        new = {name: np.array(np.broadcast_to(v, state[name].shape), dtype=np.float64)
               for names, values in ((rr.coord_state, s_new), (rr.run_state, r_new))
               for name, v in zip(names, values, strict=True) if name in state}
        return np.array(np.broadcast_to(d, grads.shape), dtype=np.float64), sums, tuple(
            np.broadcast_to(x, (k,)) for x in q), new

    def _point_direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int
                         ) -> tuple[np.ndarray, State]:
        """:attr:`point_rule` on the ``(k,)`` columns of a 2-D problem (see :attr:`point_rows`)."""
        entries = type(self)._point_entries
        s = tuple(0.0 if e is None or e[0] not in state else state[e[0]][(slice(None), *e[1])] for e in entries)
        coefs = tuple(c.reshape(-1) if isinstance(c, np.ndarray) and c.ndim == 2 else c for c in self.kernel_coefs(t))
        with np.errstate(all="ignore"):  # a diverging run's inf and NaN are the runner's to judge, not warnings
            (dx, dy), values = type(self).point_rule((grads[:, 0], grads[:, 1]), (params[:, 0], params[:, 1]), s,
                                                     coefs)
        k = grads.shape[0]
        new = {name: np.empty(np.shape(value)) for name, value in state.items()}
        for e, value in zip(entries, values, strict=True):
            if e is not None and e[0] in new:
                new[e[0]][(slice(None), *e[1])] = value
        d = np.empty((k, 2))
        d[:, 0], d[:, 1] = dx, dy
        return d, new

    def kernel_init(self, params: np.ndarray) -> np.ndarray:
        """The kernel's state for runs starting at ``params`` ``(n, 2)``: ``(rows, 2n)``, each row its x half (the n
        runs) then its y half, as the fused backend lays out points. :meth:`kernel_state` for an elementwise
        :attr:`rule`; with a :attr:`point_rule`, :meth:`init` packed by :attr:`point_rows`."""
        n = params.shape[0]
        if not type(self).point_rows:
            return np.ascontiguousarray(self.kernel_state(2 * n), dtype=np.float64)
        state = self.init(params)
        S = np.zeros((len(type(self).point_rows), 2 * n))
        for r, row in enumerate(type(self).point_rows):
            for half, e in enumerate(row):
                entry = _parse_entry(e)
                if entry is not None and entry[0] in state:
                    S[r, half * n:(half + 1) * n] = state[entry[0]][(slice(None), *entry[1])]
        return S

    def kernel_state(self, n: int) -> np.ndarray:
        """Initial ``(rows, n)`` state for :attr:`kernel`, zeros: with a :attr:`rule`, one row per slot up to the
        last one :meth:`init_state` keeps (the generated loop reads missing trailing rows as 0)."""
        if type(self).point_rows:
            return np.zeros((len(type(self).point_rows), n))
        if type(self).rule is None:
            return np.zeros((0, n))
        kept = self.init_state(np.zeros((1, 1)))
        rows = max((i + 1 for i, name in enumerate(self.slots()) if name in kept), default=0)
        return np.zeros((rows, n))

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        """Numbers :attr:`kernel` reads at step ``t`` (1-based): hyperparameters and per-step scalars."""
        return ()

    #: The first step from which :meth:`kernel_coefs` no longer changes (None: it may change at every step,
    #: e.g. Adam's bias corrections). A compiled loop over many steps then builds the numbers once.
    kernel_coefs_steady_from: ClassVar[int | None] = None

    def kernel_coefs_series(self, ts: range) -> np.ndarray:
        """:meth:`kernel_coefs` for every step of ``ts``, shape ``(len(ts), n_coefs)``: the same numbers, built once
        per step only while they can change (see :attr:`kernel_coefs_steady_from`)."""
        steady = self.kernel_coefs_steady_from
        if steady is None or len(ts) == 0:
            return np.asarray([self.kernel_coefs(t) for t in ts], dtype=np.float64).reshape(len(ts), -1)
        first = [self.kernel_coefs(t) for t in ts if t < steady]
        rest = len(ts) - len(first)
        tail = np.tile(np.asarray(self.kernel_coefs(max(steady, ts[0])), dtype=np.float64), (rest, 1))
        return np.concatenate([np.asarray(first, dtype=np.float64).reshape(len(first), -1), tail]) if first else tail

    def lr_series(self, ts: range) -> np.ndarray:
        """:meth:`lr_at` for every step of ``ts`` (a shared lr only), shape ``(len(ts),)``."""
        return np.full(len(ts), self.lr_at(ts[0]) if len(ts) else 0.0, dtype=np.float64)

    # -- the X-ray -------------------------------------------------------------
    def xray_fields(self) -> tuple[StateField, ...]:
        """Every field :meth:`xray` may report: :attr:`state_fields`, then :data:`STEP_FIELDS`."""
        return (*self.state_fields, *STEP_FIELDS)

    def xray(self, state: State, *, prev: State | None = None, grads: np.ndarray | None = None,
             params: np.ndarray | None = None, lr: Any = None) -> dict[str, np.ndarray]:
        """The state after step ``t = state["t"]`` as named arrays, one entry per declared field.

        Parameters
        ----------
        state : dict
            From :meth:`init` or :meth:`step`.
        prev, grads, params : optional
            The state, the gradient ``(k, d)`` and the parameters ``(k, d)`` the
            step started from. Derived fields need them; without them (and at
            ``t = 0``, before any step) derived fields are NaN.
        lr : float or ndarray (k,), optional
            The step's learning rate; :meth:`lr_at` by default.

        Returns
        -------
        dict of str to ndarray
            ``(k, d)`` per coordinate or ``(k,)`` per run, fresh float64 arrays.
            Stored fields missing from ``state`` (e.g. ``v_max`` without AMSGrad)
            are left out.
        """
        t = int(state["t"])
        stored = [v for key, v in state.items() if key != "t" and np.ndim(v) == 2]
        template = params if params is not None else grads if grads is not None else (stored[0] if stored else None)
        if template is None:
            raise ValueError("xray needs an array in the state, or the params of the step")
        k, d = np.shape(template)
        ready = t >= 1 and prev is not None and grads is not None and params is not None
        view = None
        if ready:
            rate = self.lr_at(t) if lr is None else lr
            view = StepView(t, state, prev, np.asarray(grads, dtype=np.float64), np.asarray(params, dtype=np.float64),
                            per_run(rate, k)[:, 0].copy())
        out: dict[str, np.ndarray] = {}
        with np.errstate(all="ignore"):
            for f in self.xray_fields():
                shape = (k, d) if f.per == "coordinate" else (k,)
                if f.derive is None:
                    if f.name not in state:
                        continue
                    value = state[f.name]
                elif view is None:
                    value = np.nan
                else:
                    value = f.derive(self, view)
                out[f.name] = np.array(np.broadcast_to(np.asarray(value, dtype=np.float64), shape))
        return out

    def state_from_kernel(self, S: np.ndarray, t: int) -> State:
        """The numpy state that the fused backend's state rows ``S`` ``(slots, d, k)`` hold after step ``t``.

        Only the stored fields of :attr:`state_fields` (the rows of
        :meth:`kernel_state`, in declaration order) that :meth:`init` creates.
        """
        _, d, k = S.shape
        present = self.init(np.zeros((k, d)))
        if type(self).point_rows:
            out: State = {"t": t, **{name: np.empty(np.shape(v)) for name, v in present.items() if name != "t"}}
            for r, row in enumerate(type(self).point_rows):
                for half, e in enumerate(row):
                    entry = _parse_entry(e)
                    if entry is not None and entry[0] in out:
                        out[entry[0]][(slice(None), *entry[1])] = S[r, half]
            return out
        stored = [f.name for f in self.state_fields if f.derive is None]
        return {"t": t, **{name: S[row].T.copy() for row, name in enumerate(stored) if name in present}}

    @classmethod
    def spec_map(cls) -> Mapping[str, Spec]:
        """Specs by name."""
        return {s.name: s for s in cls.specs}


def _direction_loop(cls: type[Optimizer]) -> str:
    """Source of the compiled loop around ``cls.rule``: ``loop(g, p, S, c, d)`` as :attr:`Optimizer.kernel` documents.

    One plain loop per possible number of state rows, chosen once per call: a row test inside the loop
    would keep LLVM from vectorizing it (Adam's loop ran 5× slower that way).
    """
    n_slots, n_coefs = len(cls.slots()), len(cls().kernel_coefs(1))
    coefs = "(" + "".join(f"at(c{j}, i), " for j in range(n_coefs)) + ")"
    lines = ["def loop(g, p, S, c, d):", "    rows = S.shape[0]", *(f"    c{j} = c[{j}]" for j in range(n_coefs))]
    for r in range(n_slots, -1, -1):
        state = "(" + "".join(f"S{j}[i], " if j < r else "0.0, " for j in range(n_slots)) + ")"
        lines += [f"    {'if' if r == n_slots else 'elif'} rows {'>=' if r == n_slots else '=='} {r}:",
                  *(f"        S{j} = S[{j}]" for j in range(r)),
                  "        for i in range(g.shape[0]):",
                  f"            di, new = formula(g[i], p[i], {state}, {coefs})",
                  *(f"            S{j}[i] = new[{j}]" for j in range(r)),
                  "            d[i] = di"]
    return "\n".join(lines) + "\n"


def _parse_entry(spec: str | None) -> tuple[str, tuple[int, ...]] | None:
    """``"m[0]"`` -> ``("m", (0,))``, ``"H[0,1]"`` -> ``("H", (0, 1))``, ``"d"`` -> ``("d", ())`` (see :attr:`Optimizer.point_rows`)."""
    if spec is None:
        return None
    name, _, index = spec.partition("[")
    return name, tuple(int(i) for i in index.rstrip("]").split(",")) if index else ()


def _point_loop(cls: type[Optimizer]) -> str:
    """Source of the compiled loop around ``cls.point_rule``: ``loop(g, p, S, c, d)`` as :attr:`Optimizer.kernel`
    documents, one run at a time: run ``i`` of ``n`` has its x at ``i`` and its y at ``n + i`` (the fused
    backend's ``(2, n)`` points, flattened), and so has each state row."""
    rows, n_coefs = len(cls.point_rows), len(cls().kernel_coefs(1))
    coefs = "(" + "".join(f"at(c{j}, i), " for j in range(n_coefs)) + ")"
    state = "(" + "".join(f"S{r}x[i], S{r}y[i], " for r in range(rows)) + ")"
    # Halves as slices, each read at i: an index n + i, which numba cannot tell is >= 0, would add a check for
    # negative indices to every access.
    lines = ["def loop(g, p, S, c, d):", "    n = g.shape[0] // 2", *(f"    c{j} = c[{j}]" for j in range(n_coefs)),
             "    gx, gy, px, py, dx, dy = g[:n], g[n:], p[:n], p[n:], d[:n], d[n:]",
             *(f"    S{r}x, S{r}y = S[{r}, :n], S[{r}, n:]" for r in range(rows)),
             "    for i in range(n):",
             f"        di, new = formula((gx[i], gy[i]), (px[i], py[i]), {state}, {coefs})",
             *(f"        S{r}x[i], S{r}y[i] = new[{2 * r}], new[{2 * r + 1}]" for r in range(rows)),
             "        dx[i], dy[i] = di[0], di[1]"]
    return "\n".join(lines) + "\n"


def _run_rule_loop(cls: type[Optimizer]) -> str:
    """Source of the compiled loop around ``cls.run_rule`` on a 2-D point: the four phases composed into one run's
    step (a sum over the run is ``0.0 + x + y``, as numpy's sum of two), then :func:`_point_loop` around it.

    The generated module imports ``coord`` as ``formula`` (:class:`~common.jit.DerivedKernel`) and the other
    three phases here.
    """
    rr = cls.run_rule
    module = rr.coord.__module__
    nc, nr = len(rr.coord_state), len(rr.run_state)
    flat = 2 * len(cls.point_rows)

    def tup(items: list[str]) -> str:
        return "(" + "".join(f"{x}, " for x in items) + ")"

    run = tup([f"s[{2 * nc + j}]" for j in range(nr)])
    sums = tup([f"0.0 + tx[{j}] + ty[{j}]" for j in range(rr.terms)])
    new = [f"{xy}[{j}]" for j in range(nc) for xy in ("sx", "sy")] + [f"rn[{j}]" for j in range(nr)]
    new += ["0.0"] * (flat - len(new))
    lines = [f"from {module} import {rr.before.__name__} as _before, {rr.after.__name__} as _after, "
             f"{rr.out.__name__} as _out", "",
             *(f"{name} = numba.njit(inline=\"always\", nogil=True, error_model=\"numpy\")(_{name})"
               for name in ("before", "after", "out")), "", "",
             "@numba.njit(inline=\"always\", nogil=True, error_model=\"numpy\")",
             "def point(g, p, s, c):",
             f"    r = {run}",
             "    a = before(r, c)",
             f"    tx, sx = formula(g[0], p[0], {tup([f's[{2 * j}]' for j in range(nc)])}, a, c)",
             f"    ty, sy = formula(g[1], p[1], {tup([f's[{2 * j + 1}]' for j in range(nc)])}, a, c)",
             f"    rn, q = after({sums}, r, a, c, 2.0)",
             f"    return (out(g[0], p[0], sx, q, c), out(g[1], p[1], sy, q, c)), {tup(new)}", "", ""]
    return "\n".join(lines) + "\n" + _point_loop(cls).replace("formula((gx[i]", "point((gx[i]")


def coupled_decay(grads: np.ndarray, params: np.ndarray, weight_decay: float) -> np.ndarray:
    """torch-style L2 weight decay folded into the gradient: ``g + λθ``."""
    return grads + weight_decay * params if weight_decay else grads


def weight_decay_spec(default: float = 0.0) -> Spec:
    """torch's coupled L2 ``weight_decay`` (added to the gradient)."""
    return Spec(
        "weight_decay", default, low=0.0, high=100.0, ui_high=0.1,
        help="L2 penalty added to the gradient (torch's weight_decay).", label="weight decay",
    )


def require_below(owner: str, hparams: Mapping[str, Any], names: Sequence[str], bound: float = 1.0) -> None:
    """Reject ``hparams[name] >= bound`` for each name (an open upper end, e.g. ``beta1 < 1``).

    :class:`~common.spec.Spec` ranges are closed at the top, so optimizers call
    this from ``check`` where torch.optim itself requires a strict bound.

    Raises
    ------
    ValueError
        Naming the parameter, the valid range and the value.
    """
    for name in names:
        value = hparams[name]
        if np.any(np.asarray(value) >= bound):
            raise ValueError(f"{owner}: {name} must be below {bound:g} (in [0, {bound:g})), got {value!r}")


#: Steps whose per-setting numbers :meth:`Optimizer.per_value` makes in one call.
_STEP_CHUNK = 256


def unique_rows(cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``cols`` ``(k, c)`` (sorted) and each row's index among them ``(k,)``.

    ``np.unique(axis=0)`` sorts a structured view and is about 20× slower; one column is the common case.
    """
    if cols.shape[1] == 1:
        uniq, inverse = np.unique(cols[:, 0], return_inverse=True)
        return uniq[:, None], inverse.reshape(-1)
    uniq, inverse = np.unique(cols, axis=0, return_inverse=True)
    return uniq, inverse.reshape(-1)


def _column(values: Any, spread: np.ndarray | None) -> np.ndarray:
    """``(u,)`` values per distinct setting as a ``(k, 1)`` column, one per run."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2:  # (T, u): steps × settings, from a column of steps
        return arr if spread is None else arr[:, spread]
    return (arr if spread is None else arr[spread]).reshape(-1, 1)


def exact_pow(x: Any, t: Any) -> Any:
    """``x ** t`` through C's ``pow`` for floats, or each entry of ``x`` and ``t`` broadcast together.

    numpy's vectorized ``power`` may round differently from the C library's, so a
    per-run array gets the very bits a scalar run computes with ``x ** t``.
    """
    if isinstance(x, np.ndarray) or isinstance(t, np.ndarray):
        xb, tb = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
        if xb.size >= 1024 and _scalar_libm_pow():
            out = np.empty(xb.size)
            _pow_kernel(np.ascontiguousarray(xb).reshape(-1), np.ascontiguousarray(tb).reshape(-1), out)
            return out.reshape(xb.shape)
        return np.fromiter(map(math.pow, xb.ravel().tolist(), tb.ravel().tolist()), np.float64, xb.size
                           ).reshape(xb.shape)
    return x**t


@kernel
def _pow_kernel(x: np.ndarray, t: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = pow(x[i], t[i])``: the C library's ``pow`` that Python's ``**`` calls, without Python per call."""
    for i in range(x.shape[0]):
        out[i] = math.pow(x[i], t[i])


def _scalar_libm_pow() -> bool:
    """Whether compiled code calls the C library's ``pow`` one value at a time, as Python does.

    With Intel's SVML numba lets LLVM vectorize ``pow`` with SVML's own, which may round differently.
    """
    if not jit.available():
        return False
    import numba

    return not numba.config.USING_SVML


def exact_sqrt(x: Any) -> Any:
    """``math.sqrt`` for a float, ``np.sqrt`` for an array (both correctly rounded)."""
    return np.sqrt(x) if isinstance(x, np.ndarray) else math.sqrt(x)


def split_per_run(owner: Optimizer, hparams: dict[str, Any]) -> dict[str, np.ndarray]:
    """Take the per-run arrays out of ``hparams`` (in place), each checked against its spec.

    Returns
    -------
    dict of str to ndarray, shape (k, 1)
        A column per hyperparameter, so it broadcasts over the ``(k, d)`` parameters.

    Raises
    ------
    ValueError
        For an array on a hyperparameter not in ``per_run``, an array that is not
        1-D and non-empty, arrays of different lengths, or any value outside its spec.
    """
    specs = {s.name: s for s in owner.specs}
    out: dict[str, np.ndarray] = {}
    for name in [n for n, v in hparams.items() if isinstance(v, np.ndarray)]:
        arr = hparams.pop(name)
        if name not in specs or name not in owner.per_run:
            raise ValueError(f"{owner.name}: {name} cannot take one value per run; "
                             f"per-run values are accepted for {', '.join(owner.per_run)}")
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{owner.name}: per-run {name} must have shape (k,) with k >= 1, got {arr.shape}")
        for value in np.unique(arr).tolist():
            specs[name].validate(value, owner.name)
        out[name] = np.asarray(arr, dtype=np.float64).reshape(-1, 1).copy()
    if len({len(v) for v in out.values()}) > 1:
        raise ValueError(f"{owner.name}: per-run hyperparameters must all have the same length, got "
                         + ", ".join(f"{n}: {len(v)}" for n, v in out.items()))
    return out


def specs_union(*groups: Sequence[Spec]) -> tuple[Spec, ...]:
    """Concatenate spec groups, rejecting duplicate names."""
    out: list[Spec] = []
    for group in groups:
        out.extend(group)
    names = [s.name for s in out]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate spec names in {names}")
    return tuple(out)
