"""Plain gradient descent."""

from __future__ import annotations

from typing import Any

from optimizers.base import Optimizer, lr_spec, weight_decay_spec


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """The gradient plus the coupled decay; no state, ``c = (λ,)``."""
    (wd,) = c
    if wd != 0.0:
        g = g + wd * p
    return g, ()


class GD(Optimizer):
    r"""Gradient descent, following ``torch.optim.SGD(momentum=0)``.

    .. math::
        \theta_t = \theta_{t-1} - \eta\,(g_t + \lambda\theta_{t-1})

    ``λ`` is torch's coupled ``weight_decay`` (an L2 penalty in the gradient).
    Equals ``torch.optim.SGD(momentum=0)``; with gradient noise from
    :class:`~optimizers.transforms.Noise` it is "SGD" on an analytic surface.
    """

    name = "gd"
    family = "classic"
    summary = "Steps straight downhill, η times the gradient: the baseline every other method changes."
    title = "Gradient descent"
    latex = r"\theta_{t} = \theta_{t-1} - \eta\, g_t"
    reference = "torch.optim.SGD (momentum=0)"
    specs = (lr_spec(1e-3), weight_decay_spec())
    rule = _rule

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        return (float(self.hparams["weight_decay"]),)
