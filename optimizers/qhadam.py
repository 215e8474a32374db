"""Quasi-hyperbolic Adam (Ma & Yarats, 2019), as kozistr's pytorch-optimizer ``QHAdam`` runs it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.adam import BETA1, BETA2, EPS, M_FIELD, V_FIELD
from optimizers.base import Optimizer, State, lr_spec, require_below
from optimizers.qhm import DECOUPLE, WEIGHT_DECAY


@lru_cache(maxsize=64)
def _weights(beta: float, steps: int) -> tuple[float, ...]:
    """The package's averaging weights ``1 / (1 + β + … + β^{t−1})`` for t = 1 … steps.

    It keeps the sum in float32 (``torch.zeros((1,), dtype=torch.float32)``), so we do too, bit for bit.
    """
    out, acc, b = [], np.float32(0.0), np.float32(beta)
    for _ in range(steps):
        acc = np.float32(acc * b) + np.float32(1.0)
        out.append(float(np.float32(1.0) / acc))
    return tuple(out)


def _weight(beta: float, t: Any) -> float:
    """The weight of step ``t`` (an int; a column of steps raises TypeError, so the fused backend asks step by step)."""
    t = int(t)
    return _weights(float(beta), 256 * (t // 256 + 1))[t - 1]


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """QHAdam's update; ``s = (m, v)``, ``c = (w₁, w₂, ν₁, ν₂, ε, λ, decoupled)`` (ν₁, ν₂ shared by every run)."""
    m, v = s
    w1, w2, nu1, nu2, eps, wd, decoupled = c
    if wd != 0.0 and decoupled == 0.0:
        g = g + wd * p
    g2 = g * g
    m = ops.lerp(m, g, w1)
    v = ops.lerp(v, g2, w2)
    num = m * nu1 + (1.0 - nu1) * g if nu1 != 1.0 else m
    rms = v * nu2 + (1.0 - nu2) * g2 if nu2 != 1.0 else v * nu2
    d = num / (ops.sqrt(rms) + eps)
    if wd != 0.0 and decoupled != 0.0:
        d = d + wd * p
    return d, (m, v)


class QHAdam(Optimizer):
    r"""Quasi-hyperbolic Adam, following ``pytorch_optimizer.QHAdam`` (kozistr).

    .. math::
        m_t = m_{t-1} + w^{(1)}_t (g_t - m_{t-1}),\quad v_t = v_{t-1} + w^{(2)}_t (g_t^2 - v_{t-1}),\quad
        w^{(i)}_t = \frac{1}{1 + \beta_i + \dots + \beta_i^{t-1}},

        \theta_t = \theta_{t-1} - \eta\,\frac{\nu_1 m_t + (1-\nu_1) g_t}{\sqrt{\nu_2 v_t + (1-\nu_2) g_t^2} + \epsilon}

    Ma & Yarats (2019). The averages are bias-corrected by construction (the
    weights ``w`` are those of a normalized exponential average), and the
    numerator and denominator each mix the average with the raw gradient. With
    the default ``ν₁ = ν₂ = 1`` it is Adam with ε outside the correction. The
    package keeps the weight sums in float32; so do we. ``fixed_decay`` is not offered.
    """

    name = "qhadam"
    title = "QHAdam"
    family = "adaptive"
    summary = "Adam whose numerator and denominator each mix the moving average with the raw gradient (ν₁, ν₂)."
    latex = (
        r"\begin{aligned}m_t&=m_{t-1}+w^{(1)}_t(g_t-m_{t-1}),\quad v_t=v_{t-1}+w^{(2)}_t(g_t^2-v_{t-1}),\quad "
        r"w^{(i)}_t=\frac{1}{1+\beta_i+\dots+\beta_i^{t-1}}\\"
        r"\theta_t&=\theta_{t-1}-\eta\,\frac{\nu_1 m_t+(1-\nu_1)g_t}{\sqrt{\nu_2 v_t+(1-\nu_2)g_t^2}+\epsilon}\end{aligned}"
    )
    reference = "pytorch_optimizer.QHAdam (kozistr); Ma & Yarats 2019"
    specs = (
        lr_spec(1e-3), BETA1, BETA2,
        Spec("nu1", 1.0, low=0.0, high=1.0, help="ν₁: weight of the average m against the raw g in the numerator.", label="ν₁"),
        Spec("nu2", 1.0, low=0.0, high=1.0, help="ν₂: weight of the average v against g² in the denominator.", label="ν₂"),
        WEIGHT_DECAY, DECOUPLE, EPS,
    )
    rule = _rule
    state_fields = (M_FIELD, V_FIELD)
    per_run = ("lr", "eps")

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def init_state(self, params: np.ndarray) -> State:
        return {"m": np.zeros_like(params), "v": np.zeros_like(params)}

    def kernel_coefs(self, t: int) -> tuple[Any, ...]:
        h = self.hparams
        return (_weight(h["beta1"], t), _weight(h["beta2"], t), h["nu1"], h["nu2"], h["eps"], h["weight_decay"],
                float(h["weight_decouple"]))
