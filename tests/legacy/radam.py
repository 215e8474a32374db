"""Pre-refactor copy (the reference for tests/test_single_source.py). RAdam (Liu et al., 2020), as torch.optim.RAdam documents it."""

from __future__ import annotations

import math

import numpy as np

from common.jit import kernel
from optimizers.base import (
    Optimizer,
    State,
    StateField,
    StepView,
    coupled_decay,
    lr_spec,
    per_run,
    require_below,
    weight_decay_spec,
)
from tests.legacy.adam import BETA1, BETA2, BIAS1_FIELD, BIAS2_FIELD, EPS, M_FIELD, V_FIELD
from tests.legacy.nadam import DECOUPLED


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`RAdam.direction`; ``S = (m, v)``, ``c`` from :meth:`RAdam.kernel_coefs`."""
    b1, b2, eps, wd, decoupled = c[0], c[1], c[2], c[3], c[4]
    bias1, root_bc2, rect, rectified = c[5], c[6], c[7], c[8]
    m_, v_ = S[0], S[1]
    if wd == 0.0 and rectified != 0.0:
        # The common case after the first steps, free of branches so that it vectorizes.
        for i in range(g.shape[0]):
            gi = g[i]
            m = b1 * m_[i] + (1.0 - b1) * gi
            v = b2 * v_[i] + (1.0 - b2) * (gi * gi)
            m_[i] = m
            v_[i] = v
            d[i] = m / bias1 * (root_bc2 / (math.sqrt(v) + eps)) * rect
        return
    for i in range(g.shape[0]):
        gi = g[i]
        if decoupled == 0.0 and wd != 0.0:
            gi = gi + wd * p[i]
        m = b1 * m_[i] + (1.0 - b1) * gi
        v = b2 * v_[i] + (1.0 - b2) * (gi * gi)
        m_[i] = m
        v_[i] = v
        di = m / bias1
        if rectified != 0.0:
            di = di * (root_bc2 / (math.sqrt(v) + eps)) * rect
        if decoupled != 0.0 and wd != 0.0:
            di = di + wd * p[i]
        d[i] = di


def _scale(opt: RAdam, s: StepView) -> np.ndarray:
    """``η_t r_t √(1 − β₂ᵗ) / (√v + ε)`` once rectified, ``η_t`` before: the step per unit of m̂."""
    _, root_bc2, rect, rectified = opt._coefs(s.t)
    k = len(s.lr)
    if not rectified:
        return s.lr[:, None]
    return s.lr[:, None] * (per_run(root_bc2, k) / (np.sqrt(s.state["v"]) + per_run(opt.hparams["eps"], k))) * per_run(rect, k)


class RAdam(Optimizer):
    r"""Rectified Adam, following ``torch.optim.RAdam``.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g^2,\quad
        \hat m_t = m_t / (1-\beta_1^t),

        \rho_\infty = \frac{2}{1-\beta_2} - 1,\quad
        \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t},

        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}},\quad
        \theta_t = \theta_{t-1} - \eta\,\begin{cases}
            \hat m_t\, r_t\, \dfrac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \epsilon} & \rho_t > 5 \\
            \hat m_t & \text{otherwise}
        \end{cases}

    While the variance estimate is unreliable (``ρ_t ≤ 5``, the first 6 steps
    with ``β₂ = 0.999``) the step is plain momentum SGD; after that it is Adam
    scaled by the rectification ``r_t``. ``weight_decay`` as in NAdam.
    """

    name = "radam"
    family = "adaptive"
    summary = "Adam that starts as momentum SGD until the variance estimate is reliable (rectified)."
    title = "RAdam"
    latex = (
        r"\begin{aligned}\rho_t&=\rho_\infty-\frac{2t\beta_2^t}{1-\beta_2^t},\quad \rho_\infty=\frac{2}{1-\beta_2}-1\\"
        r"\theta_t&=\theta_{t-1}-\eta\begin{cases}\hat m_t\,r_t\,\frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon}"
        r"&\rho_t>5\\ \hat m_t&\text{otherwise}\end{cases}\end{aligned}"
    )
    reference = "torch.optim.RAdam"
    specs = (lr_spec(1e-3), BETA1, BETA2, EPS, weight_decay_spec(), DECOUPLED)
    kernel = _direction_kernel
    state_fields = (
        M_FIELD, V_FIELD, BIAS1_FIELD, BIAS2_FIELD,
        StateField("rect", "r_t (rectification)", "Variance rectification; 0 while ρ_t ≤ 5 (plain momentum SGD).",
                    per="run", derive=lambda opt, s: opt._coefs(s.t)[2]),
        StateField("scale", "η r √(1−β₂ᵗ)/(√v+ε)", "Effective step per coordinate per unit of m̂ (η before rectifying).",
                   role="scale", derive=_scale),
    )

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def init_state(self, params: np.ndarray) -> State:
        return {"m": np.zeros_like(params), "v": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        b1, b2, wd = h["beta1"], h["beta2"], h["weight_decay"]
        decoupled = h["decoupled_weight_decay"]
        g = grads if decoupled else coupled_decay(grads, params, wd)
        m = b1 * state["m"] + (1.0 - b1) * g
        v = b2 * state["v"] + (1.0 - b2) * (g * g)
        bias1, root_bc2, rect, rectified = self._coefs(t)
        m_hat = m / bias1
        if rectified:
            d = m_hat * (root_bc2 / (np.sqrt(v) + h["eps"])) * rect
        else:
            d = m_hat
        if decoupled and wd:
            d = d + wd * params
        return d, {"m": m, "v": v}

    def _coefs(self, t: int) -> tuple[float, float, float, bool]:
        """``1 − β₁ᵗ``, ``√(1 − β₂ᵗ)``, the rectification ``r_t`` and whether ``ρ_t > 5``, for both paths.

        ``r_t`` is 0 when the step is not rectified (it is not used then).
        """
        b1, b2 = self.hparams["beta1"], self.hparams["beta2"]
        bc2 = 1.0 - b2**t
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * b2**t / bc2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            return 1.0 - b1**t, math.sqrt(bc2), rect, True
        return 1.0 - b1**t, math.sqrt(bc2), 0.0, False

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((2, n))

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        bias1, root_bc2, rect, rectified = self._coefs(t)
        return (h["beta1"], h["beta2"], h["eps"], h["weight_decay"], float(h["decoupled_weight_decay"]),
                bias1, root_bc2, rect, float(rectified))
