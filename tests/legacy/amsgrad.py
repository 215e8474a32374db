"""Pre-refactor copy (the reference for tests/test_single_source.py). AMSGrad: Adam with a non-decreasing denominator, torch.optim.Adam(amsgrad=True)."""

from __future__ import annotations

from optimizers.base import lr_spec, weight_decay_spec
from tests.legacy.adam import BETA1, BETA2, EPS, Adam


class AMSGrad(Adam):
    r"""AMSGrad (Reddi et al., 2018): ``torch.optim.Adam(amsgrad=True)``.

    Adam whose denominator never shrinks:

    .. math::
        v^{\max}_t = \max(v^{\max}_{t-1}, v_t),\quad
        \theta_t = \theta_{t-1} - \eta\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v^{\max}_t}/\sqrt{1-\beta_2^t} + \epsilon}

    with ``m``, ``v`` and the coupled ``weight_decay`` exactly as in :class:`~optimizers.adam.Adam`.
    """

    name = "amsgrad"
    family = "adaptive"
    summary = "Adam whose denominator never shrinks (the largest v so far), which fixes a convergence flaw."
    title = "AMSGrad"
    latex = (
        r"\begin{aligned}m_t&=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2,"
        r"\quad v^{\max}_t=\max(v^{\max}_{t-1}, v_t)\\"
        r"\theta_t&=\theta_{t-1}-\eta\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v^{\max}_t/(1-\beta_2^t)}+\epsilon}\end{aligned}"
    )
    reference = "torch.optim.Adam (amsgrad=True)"
    specs = (lr_spec(1e-3), BETA1, BETA2, EPS, weight_decay_spec())

    @property
    def amsgrad(self) -> bool:
        return True
