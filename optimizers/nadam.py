"""NAdam (Dozat, 2016), as torch.optim.NAdam documents it."""

from __future__ import annotations

import numpy as np

from common.spec import Spec
from optimizers.adam import BETA1, BETA2, EPS
from optimizers.base import Optimizer, State, coupled_decay, lr_spec, require_below, weight_decay_spec

DECOUPLED = Spec(
    "decoupled_weight_decay", False,
    help="Apply weight_decay to θ directly (AdamW-style) instead of adding it to the gradient.", label="decoupled decay",
)


class NAdam(Optimizer):
    r"""NAdam, following ``torch.optim.NAdam`` (Adam with Nesterov momentum).

    .. math::
        \mu_t = \beta_1\left(1 - \tfrac12\, 0.96^{\,t\psi}\right),\quad
        \Pi_t = \prod_{i\le t}\mu_i,

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g^2,\quad
        \hat v_t = v_t/(1-\beta_2^t)

        \theta_t = \theta_{t-1} - \eta\left(\frac{1-\mu_t}{1-\Pi_t}\, g
        + \frac{\mu_{t+1}}{1-\Pi_t\,\mu_{t+1}}\, m_t\right) \Big/ \left(\sqrt{\hat v_t} + \epsilon\right)

    ``ψ = momentum_decay`` (torch's 4e-3) warms the momentum up from ``β₁/2``.
    ``weight_decay`` is added to ``g`` unless ``decoupled_weight_decay``, when
    it shrinks θ by ``ηλθ`` instead, both as torch does.
    """

    name = "nadam"
    title = "NAdam"
    latex = (
        r"\begin{aligned}\mu_t&=\beta_1\left(1-\tfrac12\,0.96^{t\psi}\right),\quad "
        r"m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2\\"
        r"\theta_t&=\theta_{t-1}-\eta\,\frac{\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\,g_t"
        r"+\frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\,m_t}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}\end{aligned}"
    )
    reference = "torch.optim.NAdam"
    specs = (
        lr_spec(2e-3), BETA1, BETA2, EPS, weight_decay_spec(),
        Spec("momentum_decay", 4e-3, low=0.0, log=False, ui_high=0.1, help="ψ: how fast the momentum warms up to β₁.", label="momentum decay ψ"),
        DECOUPLED,
    )

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def _mu(self, t: int) -> float:
        h = self.hparams
        return h["beta1"] * (1.0 - 0.5 * 0.96 ** (t * h["momentum_decay"]))

    def init_state(self, params: np.ndarray) -> State:
        # The product of the μ's depends only on t; kept per run, shape (k, 1), so that every
        # state entry is an array whose first axis is the run (code that picks runs can slice it).
        return {"m": np.zeros_like(params), "v": np.zeros_like(params), "mu_product": np.ones((params.shape[0], 1))}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        b1, b2, wd = h["beta1"], h["beta2"], h["weight_decay"]
        decoupled = h["decoupled_weight_decay"]
        g = grads if decoupled else coupled_decay(grads, params, wd)
        mu, mu_next = self._mu(t), self._mu(t + 1)
        mu_product = state["mu_product"] * mu
        m = b1 * state["m"] + (1.0 - b1) * g
        v = b2 * state["v"] + (1.0 - b2) * (g * g)
        denom = np.sqrt(v / (1.0 - b2**t)) + h["eps"]
        d = ((1.0 - mu) / (1.0 - mu_product)) * g / denom + (mu_next / (1.0 - mu_product * mu_next)) * m / denom
        if decoupled and wd:
            d = d + wd * params
        return d, {"m": m, "v": v, "mu_product": mu_product}
