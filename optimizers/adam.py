"""Adam (Kingma & Ba, 2015), as torch.optim.Adam documents it."""

from __future__ import annotations

import numpy as np

from common.spec import Spec
from optimizers.base import Optimizer, State, coupled_decay, lr_spec, weight_decay_spec

BETA1 = Spec("beta1", 0.9, low=0.0, high=1.0, ui_high=0.999, help="Decay of the gradient average (momentum).", label="β₁")
BETA2 = Spec("beta2", 0.999, low=0.0, high=1.0, ui_high=0.9999, ui_low=0.9, help="Decay of the squared-gradient average.", label="β₂")
EPS = Spec("eps", 1e-8, low=0.0, low_open=True, log=True, ui_low=1e-12, ui_high=1.0, help="Added to the denominator for stability.", label="ε")


class Adam(Optimizer):
    r"""Adam, following ``torch.optim.Adam`` (``betas`` split into ``beta1``/``beta2``).

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g^2

        \theta_t = \theta_{t-1} - \eta\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}

    With ``amsgrad=True`` the denominator uses ``max(v_1..v_t)``, as torch does.
    """

    name = "adam"
    title = "Adam"
    latex = (
        r"m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t,\; v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2"
        r"\\ \theta_t=\theta_{t-1}-\eta\,\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon},\;"
        r"\hat m_t=\frac{m_t}{1-\beta_1^t},\;\hat v_t=\frac{v_t}{1-\beta_2^t}"
    )
    reference = "torch.optim.Adam"
    specs = (
        lr_spec(1e-3), BETA1, BETA2, EPS, weight_decay_spec(),
        Spec("amsgrad", False, help="Use the running maximum of v (AMSGrad).", label="AMSGrad"),
    )

    def init_state(self, params: np.ndarray) -> State:
        state = {"m": np.zeros_like(params), "v": np.zeros_like(params)}
        if self.hparams["amsgrad"]:
            state["v_max"] = np.zeros_like(params)
        return state

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        b1, b2 = h["beta1"], h["beta2"]
        g = coupled_decay(grads, params, h["weight_decay"])
        m = b1 * state["m"] + (1.0 - b1) * g
        v = b2 * state["v"] + (1.0 - b2) * (g * g)
        new = {"m": m, "v": v}
        if h["amsgrad"]:
            v = new["v_max"] = np.maximum(state["v_max"], v)
        denom = np.sqrt(v) / np.sqrt(1.0 - b2**t) + h["eps"]
        return m / ((1.0 - b1**t) * denom), new
