"""A frozen, hashable description of one optimizer with its transforms.

Pages build these from widgets (or from the URL); caches key on them;
:meth:`OptimizerConfig.build` turns one into a runnable optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.spec import Spec
from optimizers.base import Optimizer
from optimizers.transforms import SCHEDULES, Chain, Clip, Noise

CLIP_MODES: tuple[str, ...] = ("off", "norm", "value")

#: The transform knobs of an :class:`OptimizerConfig`, keyed by config field, with the ranges that
#: :class:`Clip`, :class:`Noise` and :class:`Chain` enforce; the URL decoder and the UI read them here.
TRANSFORM_SPECS: dict[str, Spec] = {
    "clip_mode": Spec("clip", "off", choices=CLIP_MODES, help="Clip each gradient by its norm or each entry by value."),
    "clip_threshold": Spec("clip.threshold", 1.0, low=0.0, low_open=True, high=1e12, help="Largest allowed norm or entry."),
    "noise_sigma": Spec("noise", 0.0, low=0.0, high=1e6, help="Gaussian noise added to every gradient: 'SGD' on a surface. 0 = off."),
    "noise_anneal": Spec("noise.anneal", 0.0, low=0.0, high=2.0, help="γ in σ/t^γ; 0.55 as in Neelakantan et al. (2015)."),
    "noise_seed": Spec("noise.seed", 0, low=0, high=2**32 - 1, help="Seed of the gradient noise."),
    "decoupled_weight_decay": Spec("dwd", 0.0, low=0.0, high=100.0, help="λ in θ ← θ − lr·λθ, applied with every optimizer."),
}


def _frozen(d: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((d or {}).items()))


@dataclass(frozen=True)
class OptimizerConfig:
    """One optimizer as the user set it up.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"adam"``.
    hparams : tuple of (str, value)
        The algorithm's own hyperparameters (sorted pairs, so hashable).
    schedule : str
        Registry name of the learning-rate schedule.
    schedule_params : tuple of (str, value)
    clip_mode : {"off", "norm", "value"}
    clip_threshold : float
    noise_sigma : float
        0 means no gradient noise.
    noise_anneal : float
    noise_seed : int
    decoupled_weight_decay : float
    label : str
        Shown in legends; the app makes it unique (e.g. ``"Adam (lr=0.1)"``).
    """

    name: str
    hparams: tuple[tuple[str, Any], ...] = ()
    schedule: str = "constant"
    schedule_params: tuple[tuple[str, Any], ...] = ()
    clip_mode: str = "off"
    clip_threshold: float = 1.0
    noise_sigma: float = 0.0
    noise_anneal: float = 0.0
    noise_seed: int = 0
    decoupled_weight_decay: float = 0.0
    label: str = field(default="")

    @classmethod
    def make(cls, name: str, hparams: dict[str, Any] | None = None, schedule_params: dict[str, Any] | None = None, **rest: Any) -> OptimizerConfig:
        """Build from plain dicts."""
        return cls(name=name, hparams=_frozen(hparams), schedule_params=_frozen(schedule_params), **rest)

    def build(self) -> Optimizer:
        """The runnable optimizer (a :class:`Chain` when any transform is on).

        Raises
        ------
        ValueError
            On an unknown name or any bad setting.
        """
        import optimizers  # late import: the registry imports this module's siblings

        base = optimizers.get(self.name, **dict(self.hparams))
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        sched = SCHEDULES[self.schedule](**dict(self.schedule_params)) if self.schedule != "constant" else None
        if self.clip_mode not in CLIP_MODES:
            raise ValueError(f"clip mode must be off, norm or value, got {self.clip_mode!r}")
        # Through the declared specs, so inf, 2**63 or True become a ValueError here, not an OverflowError later.
        t = {attr: spec.validate(getattr(self, attr), self.name) for attr, spec in TRANSFORM_SPECS.items()}
        clip = Clip(t["clip_mode"], t["clip_threshold"]) if t["clip_mode"] != "off" else None
        noise = Noise(t["noise_sigma"], t["noise_seed"], t["noise_anneal"]) if t["noise_sigma"] else None
        if sched is None and clip is None and noise is None and not t["decoupled_weight_decay"]:
            return base
        return Chain(base, schedule=sched, clip=clip, noise=noise, decoupled_weight_decay=t["decoupled_weight_decay"])

    @property
    def display(self) -> str:
        """Legend label: the given label, or the optimizer's title."""
        if self.label:
            return self.label
        import optimizers

        return optimizers.REGISTRY[self.name].title if self.name in optimizers.REGISTRY else self.name
