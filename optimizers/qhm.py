"""Quasi-hyperbolic momentum (Ma & Yarats, 2019), as kozistr's pytorch-optimizer ``QHM`` runs it."""

from __future__ import annotations

from typing import Any

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, lr_spec

NU = Spec("nu", 1.0, low=0.0, high=1.0,
          help="ν: weight of the momentum in the step, 1 − ν that of the raw gradient (the paper suggests 0.7).",
          label="ν")
DECOUPLE = Spec("weight_decouple", False, help="Shrink θ by ηλ directly (AdamW-style) instead of adding λθ to g.",
                label="decoupled decay")
WEIGHT_DECAY = Spec("weight_decay", 0.0, low=0.0, high=100.0, ui_high=1.0, help="λ: weight decay.", label="weight decay")


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """QHM's update; ``s = (b,)``, ``c = (β, ν, λ, decoupled)``."""
    (b,) = s
    beta, nu, wd, decoupled = c
    if wd != 0.0 and decoupled == 0.0:
        g = g + wd * p
    b = ops.lerp(b, g, 1.0 - beta)
    d = nu * b + (1.0 - nu) * g
    if wd != 0.0 and decoupled != 0.0:
        d = d + wd * p
    return d, (b,)


class QHM(Optimizer):
    r"""Quasi-hyperbolic momentum, following ``pytorch_optimizer.QHM`` (kozistr).

    .. math::
        b_t = \beta b_{t-1} + (1-\beta) g_t,\quad
        \theta_t = \theta_{t-1} - \eta\left(\nu b_t + (1-\nu) g_t\right)

    Ma & Yarats (2019), "Quasi-hyperbolic momentum and Adam for deep learning".
    The step averages a momentum step and a plain gradient step. With the
    package's defaults (``momentum = 0``, ``ν = 1``) it is plain gradient
    descent; the paper's recommendation is ``ν = 0.7``, ``β = 0.999``.
    ``fixed_decay`` is not offered.
    """

    name = "qhm"
    title = "QHM (quasi-hyperbolic momentum)"
    family = "classic"
    summary = "Steps along ν·momentum + (1−ν)·gradient: a mix of a momentum step and a plain gradient step."
    latex = r"b_t=\beta b_{t-1}+(1-\beta)g_t,\qquad \theta_t=\theta_{t-1}-\eta\left(\nu b_t+(1-\nu)g_t\right)"
    reference = "pytorch_optimizer.QHM (kozistr); Ma & Yarats 2019"
    specs = (
        lr_spec(1e-3),
        Spec("momentum", 0.0, low=0.0, high=1.0, ui_high=0.999, help="β: decay of the momentum buffer (an average of g).",
             label="momentum β"),
        NU, WEIGHT_DECAY, DECOUPLE,
    )
    rule = _rule
    state_fields = (StateField("momentum_buffer", "b (momentum)", "Running average of the gradient.", role="momentum"),)
    per_run = ("lr", "momentum", "nu")

    def init_state(self, params: np.ndarray) -> State:
        return {"momentum_buffer": np.zeros_like(params)}

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[Any, ...]:
        h = self.hparams
        return (h["momentum"], h["nu"], h["weight_decay"], float(h["weight_decouple"]))
