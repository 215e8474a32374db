"""Pre-refactor copy (the reference for tests/test_single_source.py). AdamW: Adam with decoupled weight decay, as torch.optim.AdamW documents it."""

from __future__ import annotations

from common.spec import Spec
from optimizers.base import lr_spec
from tests.legacy.adam import AMSGRAD, BETA1, BETA2, EPS, Adam


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019), following ``torch.optim.AdamW``.

    Adam on the raw gradient, plus decay of θ itself scaled by the learning rate:

    .. math::
        \theta_t = \theta_{t-1} - \eta\left(\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon} + \lambda\theta_{t-1}\right)

    torch writes the decay as ``θ ← θ(1 − ηλ)`` before the Adam step; that is
    the same update.
    """

    name = "adamw"
    family = "adaptive"
    summary = "Adam with weight decay applied to the weights directly instead of through the gradient."
    title = "AdamW"
    latex = (
        r"\begin{aligned}m_t&=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2\\"
        r"\theta_t&=\theta_{t-1}-\eta\left(\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}+\lambda\,\theta_{t-1}\right)\end{aligned}"
    )
    reference = "torch.optim.AdamW"
    specs = (
        lr_spec(1e-3), BETA1, BETA2, EPS,
        Spec("weight_decay", 1e-2, low=0.0, high=100.0, ui_high=0.5, help="λ: shrinks θ by η·λ each step, apart from the gradient.", label="weight decay"),
        AMSGRAD,
    )
    decoupled = True
