"""Pre-refactor copy (the reference for tests/test_single_source.py). Plain gradient descent."""

from __future__ import annotations

import numpy as np

from common.jit import kernel
from optimizers.base import Optimizer, State, coupled_decay, lr_spec, weight_decay_spec


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`GD.direction`: ``g (n,)`` plus the coupled decay; no state, ``c = (λ,)``."""
    wd = c[0]
    if wd == 0.0:
        for i in range(g.shape[0]):
            d[i] = g[i]
        return
    for i in range(g.shape[0]):
        d[i] = g[i] + wd * p[i]


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
    kernel = _direction_kernel

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        return coupled_decay(grads, params, self.hparams["weight_decay"]), state

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        return (float(self.hparams["weight_decay"]),)
