"""Pre-refactor copy (the reference for tests/test_single_source.py). Lion (Chen et al., 2023), in the form of lucidrains/lion-pytorch and optax.lion."""

from __future__ import annotations

import numpy as np

from common.jit import kernel
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, StepView, lr_spec, per_run, require_below


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`Lion.direction`; ``S = (m,)``, ``c = (β₁, β₂, λ)``."""
    b1, b2, wd = c[0], c[1], c[2]
    m_ = S[0]
    for i in range(g.shape[0]):
        gi = g[i]
        m = m_[i]
        x = b1 * m + (1.0 - b1) * gi
        # np.sign: ±1, 0 for ±0 (as +0), NaN for NaN.
        s = 1.0 if x > 0.0 else (-1.0 if x < 0.0 else (0.0 if x == 0.0 else x))
        if wd != 0.0:
            s = s + wd * p[i]
        d[i] = s
        m_[i] = b2 * m + (1.0 - b2) * gi


def _interpolation(opt: Lion, s: StepView) -> np.ndarray:
    """``β₁ m_{t−1} + (1 − β₁) g``, the vector whose sign :meth:`Lion.direction` takes."""
    b1 = per_run(opt.hparams["beta1"], len(s.lr))
    return b1 * s.prev["m"] + (1.0 - b1) * s.grads


class Lion(Optimizer):
    r"""Lion: the sign of an interpolated momentum, with decoupled weight decay.

    .. math::
        c_t = \operatorname{sign}\!\left(\beta_1 m_{t-1} + (1-\beta_1) g\right),\quad
        \theta_t = \theta_{t-1} - \eta\,(c_t + \lambda\theta_{t-1}),\quad
        m_t = \beta_2 m_{t-1} + (1-\beta_2) g

    torch.optim has no Lion; this follows Algorithm 2 of Chen et al. (2023),
    "Symbolic Discovery of Optimization Algorithms", as lucidrains/lion-pytorch
    and ``optax.lion`` implement it. Every coordinate moves by exactly ``η``
    (or 0), so its ``lr`` should be 3-10x smaller than Adam's.
    """

    name = "lion"
    family = "modern"
    summary = "Steps by the sign of an interpolated momentum: every coordinate moves by exactly η."
    title = "Lion"
    latex = (
        r"c_t=\operatorname{sign}\left(\beta_1 m_{t-1}+(1-\beta_1)g_t\right),\quad "
        r"\theta_t=\theta_{t-1}-\eta\,(c_t+\lambda\theta_{t-1}),\quad m_t=\beta_2 m_{t-1}+(1-\beta_2)g_t"
    )
    reference = "Chen et al. 2023 (Algorithm 2); lucidrains/lion-pytorch, optax.lion"
    specs = (
        lr_spec(1e-4),
        Spec("beta1", 0.9, low=0.0, high=1.0, ui_high=0.999, help="Mix of momentum and gradient inside the sign; must be < 1.", label="β₁"),
        Spec("beta2", 0.99, low=0.0, high=1.0, ui_high=0.9999, help="Decay of the momentum that is carried over; must be < 1.", label="β₂"),
        Spec("weight_decay", 0.0, low=0.0, high=100.0, ui_high=1.0, help="λ: decoupled decay, shrinks θ by η·λ each step.", label="weight decay"),
    )
    kernel = _direction_kernel
    state_fields = (
        StateField("m", "m (momentum)", "Running average of the gradient, decaying at β₂.", role="momentum"),
        StateField("c", "β₁m + (1−β₁)g", "Lion's interpolation before the sign: each coordinate moves by η·sign(c).",
                   derive=_interpolation),
    )

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def init_state(self, params: np.ndarray) -> State:
        return {"m": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        b1, b2, wd = h["beta1"], h["beta2"], h["weight_decay"]
        d = np.sign(b1 * state["m"] + (1.0 - b1) * grads)
        if wd:
            d = d + wd * params
        return d, {"m": b2 * state["m"] + (1.0 - b2) * grads}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((1, n))

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["beta1"], h["beta2"], h["weight_decay"])
