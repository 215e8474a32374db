"""Pre-refactor copy (the reference for tests/test_single_source.py). AdaDelta (Zeiler, 2012), as torch.optim.Adadelta documents it."""

from __future__ import annotations

import math

import numpy as np

from common.jit import kernel
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, StepView, coupled_decay, lr_spec, per_run, weight_decay_spec


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`Adadelta.direction`; ``S = (v, u)``, ``c = (ρ, ε, λ)``."""
    rho, eps, wd = c[0], c[1], c[2]
    v_, u_ = S[0], S[1]
    if wd == 0.0:
        # The common case, free of branches so that it vectorizes.
        for i in range(g.shape[0]):
            gi = g[i]
            v = rho * v_[i] + (1.0 - rho) * (gi * gi)
            u = u_[i]
            delta = math.sqrt(u + eps) / math.sqrt(v + eps) * gi
            v_[i] = v
            u_[i] = rho * u + (1.0 - rho) * (delta * delta)
            d[i] = delta
        return
    for i in range(g.shape[0]):
        gi = g[i] + wd * p[i]
        v = rho * v_[i] + (1.0 - rho) * (gi * gi)
        u = u_[i]
        delta = math.sqrt(u + eps) / math.sqrt(v + eps) * gi
        v_[i] = v
        u_[i] = rho * u + (1.0 - rho) * (delta * delta)
        d[i] = delta


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
    kernel = _direction_kernel
    state_fields = (
        StateField("v", "v (mean of g²)", "Running average of the squared gradient, per coordinate."),
        StateField("u", "u (mean of Δ²)", "Running average of the squared steps: the units Δ is measured in."),
        StateField("scale", "η√(u+ε)/√(v+ε)", "Effective step per coordinate, η √(u + ε) / √(v + ε).", role="scale",
                   derive=_scale),
    )

    def init_state(self, params: np.ndarray) -> State:
        return {"v": np.zeros_like(params), "u": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        rho, eps = h["rho"], h["eps"]
        g = coupled_decay(grads, params, h["weight_decay"])
        v = rho * state["v"] + (1.0 - rho) * (g * g)
        delta = np.sqrt(state["u"] + eps) / np.sqrt(v + eps) * g
        u = rho * state["u"] + (1.0 - rho) * (delta * delta)
        return delta, {"v": v, "u": u}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((2, n))

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["rho"], h["eps"], h["weight_decay"])
