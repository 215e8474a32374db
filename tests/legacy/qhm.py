"""Pre-refactor copy (the reference for tests/test_single_source.py). Quasi-hyperbolic momentum (Ma & Yarats, 2019), as kozistr's pytorch-optimizer ``QHM`` runs it."""

from __future__ import annotations

from typing import Any

import numpy as np

from common.jit import at, kernel
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, lr_spec
from tests.legacy.signsgd import torch_lerp

NU = Spec("nu", 1.0, low=0.0, high=1.0,
          help="ν: weight of the momentum in the step, 1 − ν that of the raw gradient (the paper suggests 0.7).",
          label="ν")
DECOUPLE = Spec("weight_decouple", False, help="Shrink θ by ηλ directly (AdamW-style) instead of adding λθ to g.",
                label="decoupled decay")
WEIGHT_DECAY = Spec("weight_decay", 0.0, low=0.0, high=100.0, ui_high=1.0, help="λ: weight decay.", label="weight decay")


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`QHM.direction`; ``S = (b,)``, ``c = (β, ν, λ, decoupled)``."""
    beta, nu, wd, decoupled = c[0], c[1], c[2], c[3]
    b_ = S[0]
    for i in range(g.shape[0]):
        gi = g[i]
        if wd != 0.0 and decoupled == 0.0:
            gi = gi + wd * p[i]
        w = 1.0 - at(beta, i)
        b = b_[i]
        b = b + w * (gi - b) if abs(w) < 0.5 else gi - (gi - b) * (1.0 - w)
        b_[i] = b
        di = at(nu, i) * b + (1.0 - at(nu, i)) * gi
        if wd != 0.0 and decoupled != 0.0:
            di = di + wd * p[i]
        d[i] = di


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
    kernel = _direction_kernel
    state_fields = (StateField("momentum_buffer", "b (momentum)", "Running average of the gradient.", role="momentum"),)
    per_run = ("lr", "momentum", "nu")

    def init_state(self, params: np.ndarray) -> State:
        return {"momentum_buffer": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        nu, wd, decoupled = h["nu"], h["weight_decay"], h["weight_decouple"]
        g = grads + wd * params if wd and not decoupled else grads
        b = torch_lerp(state["momentum_buffer"], g, 1.0 - h["momentum"])
        d = nu * b + (1.0 - nu) * g
        if wd and decoupled:
            d = d + wd * params
        return d, {"momentum_buffer": b}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((1, n))

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[Any, ...]:
        h = self.hparams
        return (h["momentum"], h["nu"], h["weight_decay"], float(h["weight_decouple"]))
