"""AdaDelta (Zeiler, 2012), as torch.optim.Adadelta documents it."""

from __future__ import annotations

from typing import Any

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, StepView, lr_spec, per_run, weight_decay_spec


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """AdaDelta's update; ``s = (v, u)``, ``c = (ρ, ε, λ)``."""
    v_prev, u_prev = s
    rho, eps, wd = c
    if wd != 0.0:
        g = g + wd * p
    v = rho * v_prev + (1.0 - rho) * (g * g)
    delta = ops.sqrt(u_prev + eps) / ops.sqrt(v + eps) * g
    return delta, (v, rho * u_prev + (1.0 - rho) * (delta * delta))


def _scale(opt: Adadelta, s: StepView) -> np.ndarray:
    """``η √(u_{t−1} + ε) / √(v_t + ε)``: the step per unit of gradient, per coordinate."""
    eps = per_run(opt.hparams["eps"], len(s.lr))
    return s.lr[:, None] * (np.sqrt(s.prev["u"] + eps) / np.sqrt(s.state["v"] + eps))


class Adadelta(Optimizer):
    r"""AdaDelta, following ``torch.optim.Adadelta``.

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        v_t = \rho v_{t-1} + (1-\rho) g^2,\quad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g,

        u_t = \rho u_{t-1} + (1-\rho)\Delta_t^2,\quad
        \theta_t = \theta_{t-1} - \eta\,\Delta_t

    Zeiler's method has no learning rate (``η = 1``, torch's default); the
    step size comes from ``ε`` at first, which is why AdaDelta starts slowly.
    """

    name = "adadelta"
    family = "adaptive"
    summary = "Scales steps by the ratio of running averages of past updates and gradients: no lr needed."
    title = "AdaDelta"
    latex = (
        r"\begin{aligned}v_t&=\rho v_{t-1}+(1-\rho)g_t^2,\quad "
        r"\Delta_t=\frac{\sqrt{u_{t-1}+\epsilon}}{\sqrt{v_t+\epsilon}}\,g_t\\"
        r"u_t&=\rho u_{t-1}+(1-\rho)\Delta_t^2,\quad \theta_t=\theta_{t-1}-\eta\,\Delta_t\end{aligned}"
    )
    reference = "torch.optim.Adadelta"
    specs = (
        lr_spec(1.0),
        Spec("rho", 0.9, low=0.0, high=1.0, ui_low=0.5, ui_high=0.999, help="Decay of both running averages.", label="ρ"),
        Spec("eps", 1e-6, low=0.0, low_open=True, high=10.0, log=True, ui_low=1e-10, ui_high=1.0, help="Sets the size of the first steps and guards the division.", label="ε"),
        weight_decay_spec(),
    )
    rule = _rule
    state_fields = (
        StateField("v", "v (mean of g²)", "Running average of the squared gradient, per coordinate."),
        StateField("u", "u (mean of Δ²)", "Running average of the squared steps: the units Δ is measured in."),
        StateField("scale", "η√(u+ε)/√(v+ε)", "Effective step per coordinate, η √(u + ε) / √(v + ε).", role="scale",
                   derive=_scale),
    )

    def init_state(self, params: np.ndarray) -> State:
        return {"v": np.zeros_like(params), "u": np.zeros_like(params)}

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["rho"], h["eps"], h["weight_decay"])
