"""Optimizers behind one pure step interface, plus the runner.

``opt = get("adam", lr=0.01)``; ``state = opt.init(params)``;
``params, state = opt.step(params, grads, state)`` with params ``(k, d)``.

Add an optimizer: write one module with an :class:`~optimizers.base.Optimizer`
subclass and add one line to ``REGISTRY``. The app builds its controls from
the class's ``specs``.
"""

from __future__ import annotations

from typing import Any

from optimizers.adadelta import Adadelta
from optimizers.adafactor import Adafactor
from optimizers.adagrad import Adagrad
from optimizers.adam import Adam
from optimizers.adamax import Adamax
from optimizers.adamw import AdamW
from optimizers.adan import Adan
from optimizers.ademamix import AdEMAMix
from optimizers.amsgrad import AMSGrad
from optimizers.asgd import ASGD
from optimizers.base import Optimizer
from optimizers.gd import GD
from optimizers.lion import Lion
from optimizers.momentum import Momentum
from optimizers.muon import Muon
from optimizers.nadam import NAdam
from optimizers.nesterov import Nesterov
from optimizers.prodigy import Prodigy
from optimizers.qhadam import QHAdam
from optimizers.qhm import QHM
from optimizers.radam import RAdam
from optimizers.rmsprop import RMSprop
from optimizers.rprop import Rprop
from optimizers.runner import Trajectory, run
from optimizers.schedule_free import ScheduleFreeAdamW, ScheduleFreeSGD
from optimizers.scipy_reference import SCIPY_METHODS, reference_path
from optimizers.seed_adam import SeedAdam
from optimizers.shampoo import Shampoo
from optimizers.signsgd import SignSGD
from optimizers.soap import SOAP
from optimizers.sophia import Sophia
from optimizers.sweep import Race, Sensitivity, Sweep, lr_sensitivity, sweep, tune_lr
from optimizers.transforms import Chain, Clip, Noise, schedule

REGISTRY: dict[str, type[Optimizer]] = {
    GD.name: GD,
    Momentum.name: Momentum,
    Nesterov.name: Nesterov,
    Adagrad.name: Adagrad,
    RMSprop.name: RMSprop,
    Adadelta.name: Adadelta,
    Adam.name: Adam,
    AdamW.name: AdamW,
    AMSGrad.name: AMSGrad,
    NAdam.name: NAdam,
    Adamax.name: Adamax,
    RAdam.name: RAdam,
    Lion.name: Lion,
    SeedAdam.name: SeedAdam,
    Rprop.name: Rprop,
    ASGD.name: ASGD,
    SignSGD.name: SignSGD,
    QHM.name: QHM,
    QHAdam.name: QHAdam,
    Muon.name: Muon,
    Shampoo.name: Shampoo,
    SOAP.name: SOAP,
    ScheduleFreeSGD.name: ScheduleFreeSGD,
    ScheduleFreeAdamW.name: ScheduleFreeAdamW,
    Adan.name: Adan,
    AdEMAMix.name: AdEMAMix,
    Adafactor.name: Adafactor,
    Prodigy.name: Prodigy,
    Sophia.name: Sophia,
}


def names() -> list[str]:
    """Registered optimizer names, in display order."""
    return list(REGISTRY)


def get(name: str, **hparams: Any) -> Optimizer:
    """Build an optimizer by name.

    Raises
    ------
    ValueError
        On an unknown name or a bad hyperparameter, with a message a user can act on.
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name](**hparams)


__all__ = ["REGISTRY", "SCIPY_METHODS", "Chain", "Clip", "Noise", "Optimizer", "Race", "Sensitivity", "Sweep", "Trajectory",
           "get", "lr_sensitivity", "names", "reference_path", "run", "schedule", "sweep", "tune_lr"]
