"""Nesterov momentum, as torch.optim.SGD(nesterov=True) runs it."""

from __future__ import annotations

import numpy as np

from optimizers.base import Optimizer, State, lr_spec, weight_decay_spec
from optimizers.momentum import DAMPENING, MOMENTUM, VELOCITY_FIELD, momentum_rule


class Nesterov(Optimizer):
    r"""Nesterov momentum, following ``torch.optim.SGD(nesterov=True)``.

    .. math::
        b_1 = g_1,\quad b_t = \mu b_{t-1} + (1-\tau) g_t,\quad
        \theta_t = \theta_{t-1} - \eta\,(g_t + \mu b_t)

    This is the Sutskever et al. (2013) look-ahead rewritten so the gradient
    is taken at the current point. torch requires ``momentum > 0`` and
    ``dampening = 0``; so do we.
    """

    name = "nesterov"
    family = "classic"
    summary = "Momentum that takes the gradient after the look-ahead step, which damps the overshoot."
    title = "Nesterov momentum"
    latex = r"v_t=\mu\,v_{t-1}+g_t,\qquad \theta_t=\theta_{t-1}-\eta\,(g_t+\mu\,v_t)"
    reference = "torch.optim.SGD (nesterov=True)"
    specs = (lr_spec(1e-3), MOMENTUM, DAMPENING, weight_decay_spec())
    rule = momentum_rule
    state_fields = (VELOCITY_FIELD,)
    per_run = ("lr", "momentum")

    def check(self) -> None:
        h = self.hparams
        if np.any(h["momentum"] <= 0) or h["dampening"] != 0:
            raise ValueError(
                "nesterov: Nesterov momentum needs momentum > 0 and dampening = 0 (as torch.optim.SGD requires); "
                f"got momentum={h['momentum']!r}, dampening={h['dampening']!r}"
            )

    def init_state(self, params: np.ndarray) -> State:
        return {"v": np.zeros_like(params)}

    kernel_coefs_steady_from = 2

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["momentum"], 1.0 - h["dampening"], h["weight_decay"], float(t == 1), 1.0)
