"""Pre-refactor copy (the reference for tests/test_single_source.py). AdaMax (Kingma & Ba, 2015, section 7), as torch.optim.Adamax documents it."""

from __future__ import annotations

import numpy as np

from common.jit import kernel
from optimizers.base import (
    Optimizer,
    State,
    StateField,
    StepView,
    coupled_decay,
    lr_spec,
    require_below,
    weight_decay_spec,
)
from tests.legacy.adam import BETA1, BETA2, BIAS1_FIELD, EPS, M_FIELD


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`Adamax.direction`; ``S = (m, u)``, ``c = (β₁, β₂, ε, λ, 1 − β₁ᵗ)``."""
    b1, b2, eps, wd, bias1 = c[0], c[1], c[2], c[3], c[4]
    m_, u_ = S[0], S[1]
    for i in range(g.shape[0]):
        gi = g[i] + wd * p[i] if wd != 0.0 else g[i]
        m = b1 * m_[i] + (1.0 - b1) * gi
        a = b2 * u_[i]
        b = abs(gi) + eps
        # np.maximum(a, b): NaN from either side wins.
        u = a if (a >= b or a != a) else b
        m_[i] = m
        u_[i] = u
        d[i] = m / (bias1 * u)


def _scale(opt: Adamax, s: StepView) -> np.ndarray:
    """``η_t / u_t``: the step per unit of m̂ = m / (1 − β₁ᵗ), per coordinate."""
    return s.lr[:, None] / s.state["u"]


class Adamax(Optimizer):
    r"""AdaMax, following ``torch.optim.Adamax``: Adam with the infinity norm.

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g,\quad
        u_t = \max(\beta_2 u_{t-1},\, |g| + \epsilon),

        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}

    ``u`` needs no bias correction. torch adds ``ε`` inside the max, not to
    the denominator; so do we.
    """

    name = "adamax"
    family = "adaptive"
    summary = "Adam with the infinity norm: divides by the largest recent gradient size, not the RMS."
    title = "AdaMax"
    latex = (
        r"m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad u_t=\max(\beta_2 u_{t-1}, |g_t|+\epsilon),\quad "
        r"\theta_t=\theta_{t-1}-\frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}"
    )
    reference = "torch.optim.Adamax"
    specs = (lr_spec(2e-3), BETA1, BETA2, EPS, weight_decay_spec())
    kernel = _direction_kernel
    state_fields = (
        M_FIELD, StateField("u", "u (max |g|)", "Decaying maximum of |g| per coordinate (the infinity norm)."),
        BIAS1_FIELD, StateField("scale", "η/u", "Effective step per coordinate, η_t / u.", role="scale", derive=_scale),
    )

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def init_state(self, params: np.ndarray) -> State:
        return {"m": np.zeros_like(params), "u": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        b1, b2 = h["beta1"], h["beta2"]
        g = coupled_decay(grads, params, h["weight_decay"])
        m = b1 * state["m"] + (1.0 - b1) * g
        u = np.maximum(b2 * state["u"], np.abs(g) + h["eps"])
        return m / (self._bias(t) * u), {"m": m, "u": u}

    def _bias(self, t: int) -> float:
        """Bias correction ``1 − β₁ᵗ`` at step ``t``, shared by both paths."""
        return 1.0 - self.hparams["beta1"] ** t

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((2, n))

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["beta1"], h["beta2"], h["eps"], h["weight_decay"], self._bias(t))
