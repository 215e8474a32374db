"""Pre-refactor copy (the reference for tests/test_single_source.py). Nesterov momentum, as torch.optim.SGD(nesterov=True) runs it."""

from __future__ import annotations

import numpy as np

from common.jit import at, kernel
from optimizers.base import Optimizer, State, coupled_decay, lr_spec, weight_decay_spec
from tests.legacy.momentum import DAMPENING, MOMENTUM, VELOCITY_FIELD, velocity


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`Nesterov.direction`; ``S = (v,)``, ``c = (μ, 1 − τ, λ, first)``."""
    mu, w, wd, first = c[0], c[1], c[2], c[3]
    buf = S[0]
    if first != 0.0:
        for i in range(g.shape[0]):
            gi = g[i] + wd * p[i] if wd != 0.0 else g[i]
            buf[i] = gi
            d[i] = gi + at(mu, i) * gi
        return
    if wd == 0.0:
        # The common case, free of branches so that it vectorizes.
        for i in range(g.shape[0]):
            gi = g[i]
            v = at(mu, i) * buf[i] + at(w, i) * gi
            buf[i] = v
            d[i] = gi + at(mu, i) * v
        return
    for i in range(g.shape[0]):
        gi = g[i] + wd * p[i]
        v = at(mu, i) * buf[i] + at(w, i) * gi
        buf[i] = v
        d[i] = gi + at(mu, i) * v


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
    kernel = _direction_kernel
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

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        g = coupled_decay(grads, params, h["weight_decay"])
        v = velocity(g, state["v"], h["momentum"], h["dampening"], t)
        return g + h["momentum"] * v, {"v": v}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((1, n))

    kernel_coefs_steady_from = 2

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["momentum"], 1.0 - h["dampening"], h["weight_decay"], float(t == 1))
