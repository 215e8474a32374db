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

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from common.jit import Kernel
from common.spec import Spec, resolve

State = dict[str, Any]

LR_HELP = "Step size. Too large diverges, too small crawls."


def lr_spec(default: float) -> Spec:
    """The learning-rate spec every optimizer shares (log slider 1e-5 … 10)."""
    return Spec(
        "lr", default, low=0.0, low_open=True, log=True, ui_low=1e-5, ui_high=10.0,
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
    #: Optional compiled twin of :meth:`direction` for the fused runner (:mod:`optimizers.fused`):
    #: ``kernel(g, p, S, c, d)`` with gradients ``g`` and parameters ``p`` of shape ``(n,)``, the state
    #: ``S`` ``(slots, n)`` from :meth:`kernel_state` (updated in place), the step's numbers ``c`` from
    #: :meth:`kernel_coefs`, writing the direction into ``d`` ``(n,)``. Every update here is elementwise,
    #: so k runs × d coordinates are flattened into n. Same operations in the same order as
    #: :meth:`direction`. It counts only on the class that also defines ``direction``.
    kernel: ClassVar[Kernel | None] = None
    #: Hyperparameters that may be given as an array of shape ``(k,)``, one value per run, so that a grid of
    #: settings runs as one batch. ``direction`` and ``kernel`` must read them elementwise (the kernel through
    #: :func:`common.jit.at`). lr is applied outside the direction, so every optimizer takes it per run.
    per_run: ClassVar[tuple[str, ...]] = ("lr",)

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
        return {"t": 0, **self.init_state(params)}

    def step(self, params: np.ndarray, grads: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One update; returns ``(new_params, new_state)`` without touching inputs.

        Parameters
        ----------
        params, grads : ndarray, shape (k, d)
        state : dict
            From :meth:`init` or a previous :meth:`step`.
        """
        t = state["t"] + 1
        direction, inner = self.direction(grads, {k: v for k, v in state.items() if k != "t"}, params, t)
        return params - self.lr_at(t) * direction, {"t": t, **inner}

    def lr_at(self, t: int) -> float:
        """Learning rate at step ``t`` (1-based); a ``(k, 1)`` column when lr is given per run."""
        lr = self.hparams.get("lr", 1.0)
        return lr if isinstance(lr, np.ndarray) else float(lr)

    @property
    def runs(self) -> int | None:
        """k when some hyperparameter is given per run, else ``None``."""
        return next((len(v) for v in self.hparams.values() if isinstance(v, np.ndarray)), None)

    def per_value(self, fn: Any, names: tuple[str, ...], *args: Any) -> Any:
        """``fn(*hparams[names], *args)`` once over the distinct per-run settings, spread back to ``(k, 1)`` columns.

        For per-step numbers such as Adam's ``1 − β₁ᵗ``: ``fn`` gets floats without per-run
        values, else ``(u,)`` arrays of the u distinct settings, and must round alike on
        both (:func:`exact_pow`, :func:`exact_sqrt`). A ``fn`` returning a tuple gives a tuple.
        """
        h = self.hparams
        if not getattr(self, "_per_run_names", ()) or not any(n in self._per_run_names for n in names):
            return fn(*(h[n] for n in names), *args)
        cache = self.__dict__.setdefault("_per_value_groups", {})
        if names not in cache:
            k = self.runs
            cols = np.column_stack([np.broadcast_to(np.asarray(h[n], dtype=np.float64).reshape(-1), (k,)) for n in names])
            uniq, inverse = np.unique(cols, axis=0, return_inverse=True)
            cache[names] = ([np.ascontiguousarray(c) for c in uniq.T], inverse.reshape(-1))
        cols, inverse = cache[names]
        out = fn(*cols, *args)
        if isinstance(out, tuple):
            return tuple(np.asarray(col)[inverse][:, None] for col in out)
        return np.asarray(out)[inverse][:, None]

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
        raise NotImplementedError

    def kernel_state(self, n: int) -> np.ndarray:
        """Initial ``(slots, n)`` state for :attr:`kernel`: no slots by default."""
        return np.zeros((0, n))

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        """Numbers :attr:`kernel` reads at step ``t`` (1-based): hyperparameters and per-step scalars."""
        return ()

    @classmethod
    def spec_map(cls) -> Mapping[str, Spec]:
        """Specs by name."""
        return {s.name: s for s in cls.specs}


def coupled_decay(grads: np.ndarray, params: np.ndarray, weight_decay: float) -> np.ndarray:
    """torch-style L2 weight decay folded into the gradient: ``g + λθ``."""
    return grads + weight_decay * params if weight_decay else grads


def weight_decay_spec(default: float = 0.0) -> Spec:
    """torch's coupled L2 ``weight_decay`` (added to the gradient)."""
    return Spec(
        "weight_decay", default, low=0.0, ui_high=0.1,
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


def exact_pow(x: Any, t: float) -> Any:
    """``x ** t`` through C's ``pow`` for a float or each entry of an array.

    numpy's vectorized ``power`` may round differently from the C library's, so a
    per-run array gets the very bits a scalar run computes with ``x ** t``.
    """
    if isinstance(x, np.ndarray):
        return np.fromiter(map(math.pow, x.ravel().tolist(), itertools.repeat(float(t))), np.float64, x.size
                           ).reshape(x.shape)
    return x**t


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
