"""Composable transforms, written once and usable with every optimizer.

A :class:`Chain` wraps any :class:`~optimizers.base.Optimizer` and applies, in
this order at step ``t`` (1-based):

1. seeded Gaussian gradient noise (optionally annealed) -- "SGD" on a surface;
2. gradient clipping, by norm per run or by value;
3. the optimizer's own direction ``d``;
4. decoupled weight decay, ``d += λ θ`` (as in AdamW / Loshchilov & Hutter);
5. the learning rate ``lr · schedule(t)``: ``θ ← θ − lr · s(t) · d``.

Each schedule is a multiplier ``s(t)`` on the base learning rate, with
``s(1) = 1`` except warm-up, matching ``torch.optim.lr_scheduler`` stepped once
per optimizer step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from common.spec import Spec, resolve
from optimizers.base import Optimizer, State, StateField, as_params

#: The field a :class:`Chain` with clipping adds to the X-ray.
CLIP_FIELD = StateField(
    "clip", "clip factor", "‖clipped g‖ / ‖g‖ for each run: 1 when the gradient was left alone.", per="run")


class Schedule:
    """A learning-rate multiplier ``s(t)``; subclasses implement :meth:`factor`."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    latex: ClassVar[str] = ""
    specs: ClassVar[tuple[Spec, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.params = resolve(self.specs, params, f"schedule {self.name}")

    def factor(self, t: int) -> float:
        """Multiplier at step ``t`` (1-based)."""
        raise NotImplementedError

    def __call__(self, t: int) -> float:
        return self.factor(t)


class Constant(Schedule):
    name, title, latex = "constant", "Constant", r"s(t)=1"

    def factor(self, t: int) -> float:
        return 1.0


class StepDecay(Schedule):
    name, title = "step", "Step decay"
    latex = r"s(t)=\gamma^{\lfloor (t-1)/n \rfloor}"
    specs = (
        Spec("step_size", 100, low=1, high=1_000_000, ui_high=1000, help="Steps between drops.", label="every n steps"),
        Spec("gamma", 0.5, low=0.0, high=1.0, low_open=True, help="Factor at each drop.", label="γ"),
    )

    def factor(self, t: int) -> float:
        return self.params["gamma"] ** ((t - 1) // self.params["step_size"])


class Exponential(Schedule):
    name, title, latex = "exponential", "Exponential", r"s(t)=\gamma^{t-1}"
    specs = (Spec("gamma", 0.99, low=0.0, high=1.0, low_open=True, ui_low=0.9, help="Factor per step.", label="γ"),)

    def factor(self, t: int) -> float:
        return self.params["gamma"] ** (t - 1)


class InverseTime(Schedule):
    name, title = "inverse_time", "Inverse time 1/t (Robbins–Monro)"
    latex = r"s(t)=\frac{1}{1+\kappa (t-1)}"
    specs = (Spec("decay", 0.01, low=0.0, high=1e3, ui_high=1.0, help="κ: how fast the step shrinks.", label="κ"),)

    def factor(self, t: int) -> float:
        return 1.0 / (1.0 + self.params["decay"] * (t - 1))


class Cosine(Schedule):
    name, title = "cosine", "Cosine annealing"
    latex = r"s(t)=\eta_{min}+\tfrac{1-\eta_{min}}{2}\left(1+\cos\frac{\pi (t-1)}{T}\right)"
    specs = (
        Spec("period", 500, low=1, high=1_000_000, ui_high=5000, help="T: steps to anneal over.", label="T"),
        Spec("floor", 0.0, low=0.0, high=1.0, help="Final fraction of the base rate.", label="η_min"),
    )

    def factor(self, t: int) -> float:
        p = self.params
        frac = min(t - 1, p["period"]) / p["period"]
        return p["floor"] + (1 - p["floor"]) * 0.5 * (1 + math.cos(math.pi * frac))


class Warmup(Schedule):
    name, title = "warmup", "Linear warm-up"
    latex = r"s(t)=\min\left(1, t/W\right)"
    specs = (Spec("warmup_steps", 50, low=1, high=1_000_000, ui_high=1000, help="W: steps to reach the full rate.", label="W"),)

    def factor(self, t: int) -> float:
        return min(1.0, t / self.params["warmup_steps"])


class Cyclical(Schedule):
    name, title = "cyclical", "Cyclical (triangular)"
    latex = r"s(t)=1+(m-1)\,\max\left(0, 1-\left|\tfrac{t-1}{h}-2c-1\right|\right)"
    specs = (
        Spec("half_cycle", 50, low=1, high=1_000_000, ui_high=1000, help="h: steps from low to high.", label="h"),
        Spec("max_factor", 4.0, low=1.0, high=1e3, ui_high=20.0, help="m: peak multiple of the base rate.", label="m"),
    )

    def factor(self, t: int) -> float:
        h, m = self.params["half_cycle"], self.params["max_factor"]
        x = (t - 1) / h
        cycle = math.floor(x / 2)
        return 1.0 + (m - 1.0) * max(0.0, 1.0 - abs(x - 2 * cycle - 1))


SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls for cls in (Constant, StepDecay, Exponential, InverseTime, Cosine, Warmup, Cyclical)
}


def schedule(name: str, **params: Any) -> Schedule:
    """Build a schedule by registry name.

    Raises
    ------
    ValueError
        On an unknown name or bad parameter.
    """
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    return SCHEDULES[name](**params)


@dataclass(frozen=True)
class Clip:
    """Gradient clipping.

    Parameters
    ----------
    mode : {"norm", "value"}
        ``"norm"`` rescales each run's gradient (row) to norm at most
        ``threshold``, like ``torch.nn.utils.clip_grad_norm_`` applied per run;
        ``"value"`` clamps each entry to ``[-threshold, threshold]``.
    threshold : float
        Positive.
    """

    mode: str = "norm"
    threshold: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in ("norm", "value"):
            raise ValueError(f"clip mode must be 'norm' or 'value', got {self.mode!r}")
        if not (self.threshold > 0 and math.isfinite(self.threshold)):
            raise ValueError(f"clip threshold must be a positive number, got {self.threshold!r}")

    def apply(self, grads: np.ndarray) -> np.ndarray:
        """Clipped copy of ``grads`` ``(k, d)``."""
        if self.mode == "value":
            return np.clip(grads, -self.threshold, self.threshold)
        with np.errstate(all="ignore"):
            # Scale each row by its largest entry before squaring: a gradient of 1e200 would
            # otherwise square to inf and be "clipped" to zero instead of to the threshold.
            big = np.max(np.abs(grads), axis=1)
            safe = np.where((big > 0) & np.isfinite(big), big, 1.0)
            unit = grads / safe[:, None]
            norms = safe * np.sqrt(np.einsum("kd,kd->k", unit, unit))
            scale = np.minimum(1.0, self.threshold / norms)
            scale = np.where(np.isfinite(scale), scale, 1.0)
            # An inf entry gives NaN here (as torch's clip_grad_norm_ does), which the runner reports as divergence.
            return grads * scale[:, None]


@dataclass(frozen=True)
class Noise:
    """Seeded Gaussian gradient noise, ``g + σ_t ξ`` with ``σ_t = σ / t^γ``.

    ``γ = 0`` is constant noise; ``γ = 0.55`` is the annealing of Neelakantan
    et al. (2015). The noise at step ``t`` depends only on ``(seed, t)``, so a
    step stays a pure function of its inputs.
    """

    sigma: float = 0.1
    seed: int = 0
    anneal: float = 0.0

    def __post_init__(self) -> None:
        if not (self.sigma >= 0 and math.isfinite(self.sigma)):
            raise ValueError(f"noise sigma must be >= 0 and finite, got {self.sigma!r}")
        if not (0 <= self.anneal <= 2):
            raise ValueError(f"noise anneal exponent must be in [0, 2], got {self.anneal!r}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"noise seed must be a whole number >= 0, got {self.seed!r}")

    def sample(self, shape: tuple[int, ...], t: int) -> np.ndarray:
        """The noise added at step ``t``, of ``shape``."""
        rng = np.random.default_rng([int(self.seed), int(t)])
        return (self.sigma / t**self.anneal) * rng.standard_normal(shape)

    def apply(self, grads: np.ndarray, t: int) -> np.ndarray:
        """``grads`` plus the step-``t`` noise."""
        if self.sigma == 0:
            return grads
        return grads + self.sample(grads.shape, t)


class Chain(Optimizer):
    """An optimizer with transforms around it; same ``init``/``step`` interface.

    Parameters
    ----------
    base : Optimizer
        The algorithm.
    schedule : Schedule, optional
        Learning-rate multiplier; constant if omitted.
    clip : Clip, optional
    noise : Noise, optional
    decoupled_weight_decay : float
        ``λ`` in ``d += λ θ``, scaled by the scheduled learning rate.
    """

    def __init__(
        self,
        base: Optimizer,
        *,
        schedule: Schedule | None = None,
        clip: Clip | None = None,
        noise: Noise | None = None,
        decoupled_weight_decay: float = 0.0,
    ) -> None:
        if not (decoupled_weight_decay >= 0 and math.isfinite(decoupled_weight_decay)):
            raise ValueError(f"decoupled weight decay must be >= 0, got {decoupled_weight_decay!r}")
        self.base = base
        self.schedule = schedule
        self.clip = clip
        self.noise = noise
        self.decoupled_weight_decay = float(decoupled_weight_decay)
        self.hparams = base.hparams
        self.name = base.name
        self.title = base.title
        self.latex = base.latex
        self.specs = base.specs
        self.state_fields = base.state_fields
        self.needs = base.needs

    def __repr__(self) -> str:
        parts = [repr(self.base)]
        if self.schedule is not None:
            parts.append(f"schedule={self.schedule.name}{self.schedule.params}")
        if self.clip is not None:
            parts.append(repr(self.clip))
        if self.noise is not None:
            parts.append(repr(self.noise))
        if self.decoupled_weight_decay:
            parts.append(f"decoupled_weight_decay={self.decoupled_weight_decay}")
        return f"Chain({', '.join(parts)})"

    def init(self, params: np.ndarray) -> State:
        return self.base.init(as_params(params))

    def bind(self, layout: Any) -> Optimizer:
        """The same transforms around the algorithm bound to ``layout`` (see :meth:`Optimizer.bind`)."""
        base = self.base.bind(layout)
        if base is self.base:
            return self
        return Chain(base, schedule=self.schedule, clip=self.clip, noise=self.noise,
                     decoupled_weight_decay=self.decoupled_weight_decay)

    def lr_at(self, t: int) -> float:
        factor = self.schedule(t) if self.schedule is not None else 1.0
        return self.base.lr_at(t) * factor

    def lr_series(self, ts: range) -> np.ndarray:
        if self.schedule is None:
            return self.base.lr_series(ts) * 1.0
        return np.array([self.lr_at(t) for t in ts], dtype=np.float64)

    def needs_at(self, t: int) -> tuple[str, ...]:
        return self.base.needs_at(t)

    def gradient_cost(self) -> float:
        return self.base.gradient_cost()

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int,
                  **inputs: np.ndarray) -> tuple[np.ndarray, State]:
        if self.noise is not None:
            grads = self.noise.apply(grads, t)
        if self.clip is not None:
            grads = self.clip.apply(grads)
        d, state = self.base.direction(grads, state, params, t, **inputs) if inputs else \
            self.base.direction(grads, state, params, t)
        if self.decoupled_weight_decay:
            d = d + self.decoupled_weight_decay * params
        return d, state

    def xray_fields(self) -> tuple[StateField, ...]:
        """The algorithm's fields, the step's, and the clip factor when clipping is on."""
        return (*self.base.xray_fields(), *((CLIP_FIELD,) if self.clip is not None else ()))

    def xray(self, state: State, *, prev: State | None = None, grads: np.ndarray | None = None,
             params: np.ndarray | None = None, lr: Any = None) -> dict[str, np.ndarray]:
        """:meth:`Optimizer.xray` of the algorithm on the gradient it received, at the scheduled rate.

        ``grads`` is the raw gradient; noise and clipping are applied here as
        :meth:`direction` applies them, and ``clip`` (with clipping on) reports
        how much clipping shrank it.
        """
        t = int(state["t"])
        factor: Any = np.nan
        g = grads
        if grads is not None and t >= 1:
            g = np.asarray(grads, dtype=np.float64)
            if self.noise is not None:
                g = self.noise.apply(g, t)
            if self.clip is not None:
                clipped = self.clip.apply(g)
                factor = _norm_ratio(clipped, g)
                g = clipped
        out = self.base.xray(state, prev=prev, grads=g, params=params, lr=self.lr_at(t) if lr is None else lr)
        if self.clip is not None:
            k = out["lr"].shape[0]
            out["clip"] = np.array(np.broadcast_to(np.asarray(factor, dtype=np.float64), (k,)))
        return out

    def state_from_kernel(self, S: np.ndarray, t: int) -> State:
        return self.base.state_from_kernel(S, t)


def _norm_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``‖a‖ / ‖b‖`` per row of ``(k, d)`` arrays, scaled first so squares never overflow; 1 where ``b = 0``."""
    with np.errstate(all="ignore"):
        big = np.max(np.abs(b), axis=1, keepdims=True)
        safe = np.where((big > 0) & np.isfinite(big), big, 1.0)
        na = np.sqrt(np.einsum("kd,kd->k", a / safe, a / safe))
        nb = np.sqrt(np.einsum("kd,kd->k", b / safe, b / safe))
        return np.where(nb > 0, na / nb, 1.0)
