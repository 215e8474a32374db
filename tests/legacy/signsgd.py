"""Pre-refactor copy (the reference for tests/test_single_source.py). signSGD and Signum (Bernstein et al., 2018), as kozistr's pytorch-optimizer ``SignSGD`` runs them."""

from __future__ import annotations

from typing import Any

import numpy as np

from common.jit import at, kernel
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, lr_spec

DECOUPLE = Spec("weight_decouple", True, help="Shrink θ by ηλ directly (AdamW-style) instead of adding λθ to g.",
                label="decoupled decay")


def torch_lerp(a: Any, b: Any, w: Any) -> Any:
    """``torch.lerp(a, b, w)`` as torch computes it: ``a + w(b − a)`` for ``|w| < ½``, else ``b − (b − a)(1 − w)``."""
    return np.where(np.abs(w) < 0.5, a + w * (b - a), b - (b - a) * (1.0 - w))


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`SignSGD.direction`; ``S = (m,)``, ``c = (μ, λ, decoupled)``."""
    mu, wd, decoupled = c[0], c[1], c[2]
    m_ = S[0]
    for i in range(g.shape[0]):
        gi = g[i]
        if wd != 0.0 and decoupled == 0.0:
            gi = gi + wd * p[i]
        if at(mu, i) > 0.0:
            w = 1.0 - at(mu, i)
            m = m_[i]
            x = m + w * (gi - m) if abs(w) < 0.5 else gi - (gi - m) * (1.0 - w)
            m_[i] = x
        else:
            x = gi
        s = 1.0 if x > 0.0 else (-1.0 if x < 0.0 else (0.0 if x == 0.0 else x))
        if wd != 0.0 and decoupled != 0.0:
            s = s + wd * p[i]
        d[i] = s


class SignSGD(Optimizer):
    r"""signSGD (``momentum = 0``) and Signum, following ``pytorch_optimizer.SignSGD`` (kozistr).

    .. math::
        m_t = \mu m_{t-1} + (1-\mu) g_t,\quad
        \theta_t = \theta_{t-1}(1-\eta\lambda) - \eta\operatorname{sign}(m_t)

    Bernstein et al. (2018), "signSGD: Compressed Optimisation for Non-Convex
    Problems". The momentum is an exponential average (torch's ``lerp``), and
    with the default decoupled weight decay θ shrinks by ``ηλ`` before the step.
    Every coordinate moves by exactly ``η`` (or 0), as in Lion.
    """

    name = "signsgd"
    title = "signSGD / Signum"
    family = "modern"
    summary = "Steps by η·sign(m) in every coordinate: only the direction of the (averaged) gradient counts, not its size."
    latex = (
        r"m_t=\mu m_{t-1}+(1-\mu)g_t,\qquad \theta_t=\theta_{t-1}(1-\eta\lambda)-\eta\operatorname{sign}(m_t)"
    )
    reference = "pytorch_optimizer.SignSGD (kozistr); Bernstein et al. 2018"
    specs = (
        lr_spec(1e-3),
        Spec("momentum", 0.9, low=0.0, high=1.0, ui_high=0.999,
             help="μ: 0 gives signSGD, > 0 Signum (the sign of an average of gradients).", label="momentum μ"),
        Spec("weight_decay", 0.0, low=0.0, high=100.0, ui_high=1.0, help="λ: weight decay.", label="weight decay"),
        DECOUPLE,
    )
    kernel = _direction_kernel
    state_fields = (StateField("momentum_buffer", "m (momentum)", "Running average of the gradient; θ moves by η·sign(m).",
                               role="momentum"),)
    per_run = ("lr", "momentum")

    def init_state(self, params: np.ndarray) -> State:
        return {"momentum_buffer": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        mu, wd, decoupled = h["momentum"], h["weight_decay"], h["weight_decouple"]
        g = grads + wd * params if wd and not decoupled else grads
        m = np.where(mu > 0.0, torch_lerp(state["momentum_buffer"], g, 1.0 - mu), state["momentum_buffer"])
        d = np.sign(np.where(mu > 0.0, m, g))
        if wd and decoupled:
            d = d + wd * params
        return d, {"momentum_buffer": m}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((1, n))

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[Any, ...]:
        h = self.hparams
        return (h["momentum"], h["weight_decay"], float(h["weight_decouple"]))
