"""signSGD and Signum (Bernstein et al., 2018), as kozistr's pytorch-optimizer ``SignSGD`` runs them."""

from __future__ import annotations

from typing import Any

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, lr_spec

DECOUPLE = Spec("weight_decouple", True, help="Shrink θ by ηλ directly (AdamW-style) instead of adding λθ to g.",
                label="decoupled decay")


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """signSGD / Signum's update; ``s = (m,)``, ``c = (μ, λ, decoupled)`` (μ may differ per run: no branch on it)."""
    (m,) = s
    mu, wd, decoupled = c
    if wd != 0.0 and decoupled == 0.0:
        g = g + wd * p
    m = ops.where(mu > 0.0, ops.lerp(m, g, 1.0 - mu), m)
    d = ops.sign(ops.where(mu > 0.0, m, g))
    if wd != 0.0 and decoupled != 0.0:
        d = d + wd * p
    return d, (m,)


class SignSGD(Optimizer):
    r"""signSGD (``momentum = 0``) and Signum, following ``pytorch_optimizer.SignSGD`` (kozistr).

    .. math::
        m_t = \mu m_{t-1} + (1-\mu) g_t,\quad
        \theta_t = \theta_{t-1}(1-\eta\lambda) - \eta\operatorname{sign}(m_t)

    Bernstein et al. (2018), "signSGD: Compressed Optimisation for Non-Convex
    Problems". The momentum is an exponential average (torch's ``lerp``), and
    with the default decoupled weight decay θ shrinks by ``ηλ`` before the step.
    Every coordinate moves by exactly ``η`` (or 0), as in Lion.
    """

    name = "signsgd"
    title = "signSGD / Signum"
    family = "modern"
    summary = "Steps by η·sign(m) in every coordinate: only the direction of the (averaged) gradient counts, not its size."
    latex = (
        r"m_t=\mu m_{t-1}+(1-\mu)g_t,\qquad \theta_t=\theta_{t-1}(1-\eta\lambda)-\eta\operatorname{sign}(m_t)"
    )
    reference = "pytorch_optimizer.SignSGD (kozistr); Bernstein et al. 2018"
    specs = (
        lr_spec(1e-3),
        Spec("momentum", 0.9, low=0.0, high=1.0, ui_high=0.999,
             help="μ: 0 gives signSGD, > 0 Signum (the sign of an average of gradients).", label="momentum μ"),
        Spec("weight_decay", 0.0, low=0.0, high=100.0, ui_high=1.0, help="λ: weight decay.", label="weight decay"),
        DECOUPLE,
    )
    rule = _rule
    state_fields = (StateField("momentum_buffer", "m (momentum)", "Running average of the gradient; θ moves by η·sign(m).",
                               role="momentum"),)
    per_run = ("lr", "momentum")

    def init_state(self, params: np.ndarray) -> State:
        return {"momentum_buffer": np.zeros_like(params)}

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[Any, ...]:
        h = self.hparams
        return (h["momentum"], h["weight_decay"], float(h["weight_decouple"]))
