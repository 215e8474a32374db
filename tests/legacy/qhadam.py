"""Pre-refactor copy (the reference for tests/test_single_source.py). Quasi-hyperbolic Adam (Ma & Yarats, 2019), as kozistr's pytorch-optimizer ``QHAdam`` runs it."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from common.jit import at, kernel
from common.spec import Spec
from optimizers.base import Optimizer, State, lr_spec, require_below
from tests.legacy.adam import BETA1, BETA2, EPS, M_FIELD, V_FIELD
from tests.legacy.qhm import DECOUPLE, WEIGHT_DECAY
from tests.legacy.signsgd import torch_lerp


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


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`QHAdam.direction`; ``S = (m, v)``, ``c = (w₁, w₂, ν₁, ν₂, ε, λ, decoupled)``."""
    w1, w2, nu1, nu2, eps, wd, decoupled = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    m_, v_ = S[0], S[1]
    for i in range(g.shape[0]):
        gi = g[i]
        if wd != 0.0 and decoupled == 0.0:
            gi = gi + wd * p[i]
        g2 = gi * gi
        m = m_[i]
        m = m + w1 * (gi - m) if abs(w1) < 0.5 else gi - (gi - m) * (1.0 - w1)
        v = v_[i]
        v = v + w2 * (g2 - v) if abs(w2) < 0.5 else g2 - (g2 - v) * (1.0 - w2)
        m_[i] = m
        v_[i] = v
        num = m * nu1 + (1.0 - nu1) * gi if nu1 != 1.0 else m
        rms = v * nu2 + (1.0 - nu2) * g2 if nu2 != 1.0 else v * nu2
        di = num / (math.sqrt(rms) + at(eps, i))
        if wd != 0.0 and decoupled != 0.0:
            di = di + wd * p[i]
        d[i] = di


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
    kernel = _direction_kernel
    state_fields = (M_FIELD, V_FIELD)
    per_run = ("lr", "eps")

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def init_state(self, params: np.ndarray) -> State:
        return {"m": np.zeros_like(params), "v": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        nu1, nu2, wd, decoupled = h["nu1"], h["nu2"], h["weight_decay"], h["weight_decouple"]
        g = grads + wd * params if wd and not decoupled else grads
        g2 = g * g
        m = torch_lerp(state["m"], g, _weight(h["beta1"], t))
        v = torch_lerp(state["v"], g2, _weight(h["beta2"], t))
        num = m * nu1 + (1.0 - nu1) * g if nu1 != 1.0 else m
        rms = v * nu2 + (1.0 - nu2) * g2 if nu2 != 1.0 else v * nu2
        d = num / (np.sqrt(rms) + h["eps"])
        if wd and decoupled:
            d = d + wd * params
        return d, {"m": m, "v": v}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((2, n))

    def kernel_coefs(self, t: int) -> tuple[Any, ...]:
        h = self.hparams
        return (_weight(h["beta1"], t), _weight(h["beta2"], t), h["nu1"], h["nu2"], h["eps"], h["weight_decay"],
                float(h["weight_decouple"]))
