"""AdaMax (Kingma & Ba, 2015, section 7), as torch.optim.Adamax documents it."""

from __future__ import annotations

import numpy as np

from optimizers.adam import BETA1, BETA2, EPS
from optimizers.base import Optimizer, State, coupled_decay, lr_spec, require_below, weight_decay_spec


class Adamax(Optimizer):
    r"""AdaMax, following ``torch.optim.Adamax``: Adam with the infinity norm.

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g,\quad
        u_t = \max(\beta_2 u_{t-1},\, |g| + \epsilon),

        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}

    ``u`` needs no bias correction. torch adds ``ε`` inside the max, not to
    the denominator; so do we.
    """

    name = "adamax"
    title = "AdaMax"
    latex = (
        r"m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad u_t=\max(\beta_2 u_{t-1}, |g_t|+\epsilon),\quad "
        r"\theta_t=\theta_{t-1}-\frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}"
    )
    reference = "torch.optim.Adamax"
    specs = (lr_spec(2e-3), BETA1, BETA2, EPS, weight_decay_spec())

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def init_state(self, params: np.ndarray) -> State:
        return {"m": np.zeros_like(params), "u": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        b1, b2 = h["beta1"], h["beta2"]
        g = coupled_decay(grads, params, h["weight_decay"])
        m = b1 * state["m"] + (1.0 - b1) * g
        u = np.maximum(b2 * state["u"], np.abs(g) + h["eps"])
        return m / ((1.0 - b1**t) * u), {"m": m, "u": u}
