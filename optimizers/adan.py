"""Adan (Xie et al., 2022), as kozistr's pytorch-optimizer ``Adan`` runs it."""

from __future__ import annotations

from typing import Any

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.adam import EPS
from optimizers.base import (
    Optimizer,
    State,
    StateField,
    StepView,
    exact_pow,
    exact_sqrt,
    lr_spec,
    per_run,
    require_below,
)
from optimizers.qhm import WEIGHT_DECAY


def beta_spec(name: str, default: float, what: str, label: str) -> Spec:
    """A decay rate in [0, 1) (the upper end is checked with :func:`~optimizers.base.require_below`)."""
    return Spec(name, default, low=0.0, high=1.0, ui_high=0.9999, help=f"Decay of {what}; must be < 1.", label=label)


def lerp_coefs(w: Any) -> tuple[Any, Any]:
    """torch's ``lerp(a, b, w)`` as ``base + (b − a)·k``: ``(from_b, k)`` with ``base = b if from_b else a``.

    torch computes ``a + w(b − a)`` for ``|w| < ½`` and ``b − (b − a)(1 − w)`` otherwise; the second is
    ``b + (b − a)(w − 1)`` to the bit (``w − 1`` is ``−(1 − w)`` exactly). Passing the branch as numbers
    lets a rule pick it per element (:func:`common.ops.where`) when β is given per run.
    """
    small = np.abs(w) < 0.5
    if isinstance(small, np.ndarray):
        return np.where(small, 0.0, 1.0), np.where(small, w, w - 1.0)
    return (0.0, w) if small else (1.0, w - 1.0)


def debias(beta: Any, t: Any) -> Any:
    """``1 − βᵗ`` through the C library's ``pow``, as the package's ``debias`` (floats or per-run columns)."""
    return 1.0 - exact_pow(beta, t)


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """Adan's update, written once: ``s = (m, n, v, prev_grad)``, ``c`` from :meth:`Adan.kernel_coefs`."""
    m_prev, n_prev, v_prev, g_prev = s
    f1, k1, f2, k2, b2, b3, eps, wd, decoupled, lr, first, bc1, bc2, bc3 = c
    if first != 0.0:
        # The package starts its previous gradient at −g, so the first difference is g − g.
        g_prev = g
    diff = g - g_prev
    m = ops.where(f1 != 0.0, g, m_prev) + (g - m_prev) * k1
    n = ops.where(f2 != 0.0, diff, n_prev) + (diff - n_prev) * k2
    u = diff * b2 + g
    v = v_prev * b3 + (1.0 - b3) * u * u
    d = (m / bc1 + (b2 / bc2) * n) / (ops.sqrt(v) / bc3 + eps)
    if wd != 0.0:
        if decoupled != 0.0:
            d = d + wd * p
        else:
            # θ ← (θ − η·u) / (1 + ηλ), the paper's proximal decay, as θ − η·d.
            d = (d + wd * p) / (1.0 + lr * wd)
    return d, (m, n, v, g)


def _scale(opt: Adan, s: StepView) -> np.ndarray:
    """``η_t / (√v̂ + ε)`` per coordinate: the step per unit of the numerator, with the denominator of the rule."""
    coefs = opt.kernel_coefs(s.t)
    k = len(s.lr)
    return s.lr[:, None] / (np.sqrt(s.state["v"]) / per_run(coefs[13], k) + per_run(coefs[6], k))


class Adan(Optimizer):
    r"""Adan, following ``pytorch_optimizer.Adan`` (kozistr) 4.1.0, ``betas`` split into ``beta1``–``beta3``.

    .. math::
        \Delta_t = g_t - g_{t-1}\ (\Delta_1 = 0),\quad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        n_t = \beta_2 n_{t-1} + (1-\beta_2)\Delta_t

        v_t = \beta_3 v_{t-1} + (1-\beta_3)(g_t + \beta_2\Delta_t)^2,\quad
        \theta_t = \theta_{t-1} - \eta\,\frac{m_t/(1-\beta_1^t) + \beta_2 n_t/(1-\beta_2^t)}
        {\sqrt{v_t}/\sqrt{1-\beta_3^t} + \epsilon}

    Xie et al. (2022), "Adan: Adaptive Nesterov Momentum Algorithm". The numerator is Nesterov momentum
    written with the gradient difference ``Δ`` instead of a look-ahead gradient. As in the package (the
    averages are torch's ``lerp``; ``n`` has β₂ in front of it, not ``1 − β₂``), weight decay is the
    paper's proximal step ``θ ← θ_{t} / (1 + ηλ)`` after the update, or with ``weight_decouple``
    AdamW's ``θ ← θ(1 − ηλ)`` before it. The proximal form reads lr inside the direction (a schedule
    from :mod:`optimizers.transforms` scales the step, not the decay). The package's ``max_grad_norm``
    (a global gradient-norm clip) is not offered: :class:`~optimizers.transforms.Clip` clips each run.
    """

    name = "adan"
    title = "Adan"
    family = "modern"
    summary = "Nesterov momentum from gradient differences: a third average tracks g_t − g_{t−1}, all bias-corrected."
    latex = (
        r"\begin{aligned}\Delta_t&=g_t-g_{t-1},\quad m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad "
        r"n_t=\beta_2 n_{t-1}+(1-\beta_2)\Delta_t\\"
        r"v_t&=\beta_3 v_{t-1}+(1-\beta_3)(g_t+\beta_2\Delta_t)^2\\"
        r"\theta_t&=\theta_{t-1}-\eta\,\frac{m_t/(1-\beta_1^t)+\beta_2 n_t/(1-\beta_2^t)}"
        r"{\sqrt{v_t/(1-\beta_3^t)}+\epsilon}\end{aligned}"
    )
    reference = "pytorch_optimizer.Adan (kozistr); Xie et al. 2022"
    specs = (
        lr_spec(1e-3),
        beta_spec("beta1", 0.98, "the gradient average m", "β₁"),
        beta_spec("beta2", 0.92, "the gradient-difference average n (its weight in the step, too)", "β₂"),
        beta_spec("beta3", 0.99, "the squared average v of g + β₂Δ", "β₃"),
        WEIGHT_DECAY,
        Spec("weight_decouple", False, help="Shrink θ by ηλ before the step (AdamW-style) instead of dividing it "
             "by 1 + ηλ after (the paper's proximal decay).", label="decoupled decay"),
        EPS,
    )
    rule = _rule
    state_fields = (
        StateField("m", "m (gradient average)", "Running average of the gradient: the momentum.", role="momentum"),
        StateField("n", "n (gradient-difference average)",
                   "Running average of g_t − g_{t−1}; β₂·n is the Nesterov correction in the step."),
        StateField("v", "v (second moment)", "Running average of (g + β₂Δ)², per coordinate."),
        StateField("prev_grad", "g_{t−1} (previous gradient)", "The gradient of the last step, for the difference Δ."),
        StateField("scale", "η/(√v̂+ε)", "Effective step per coordinate: how far one unit of the numerator moves it.",
                   role="scale", derive=_scale),
    )
    per_run = ("lr", "beta1", "beta2", "beta3", "eps")

    def check(self) -> None:
        # β₃ = 1 (the package allows it) would leave v at 0 and divide by 1 − β₃ᵗ = 0.
        require_below(self.name, self.hparams, ("beta1", "beta2", "beta3"))

    @property
    def direction_uses_lr(self) -> bool:
        """The proximal weight decay divides by ``1 + ηλ``, so the fused backend keeps lr among the kernel's numbers."""
        h = self.hparams
        return bool(h["weight_decay"]) and not h["weight_decouple"]

    def init_state(self, params: np.ndarray) -> State:
        return {"m": np.zeros_like(params), "n": np.zeros_like(params), "v": np.zeros_like(params),
                "prev_grad": np.zeros_like(params)}

    def kernel_coefs(self, t: Any) -> tuple[Any, ...]:
        h = self.hparams
        f1, k1 = lerp_coefs(1.0 - h["beta1"])
        f2, k2 = lerp_coefs(1.0 - h["beta2"])
        return (f1, k1, f2, k2, h["beta2"], h["beta3"], h["eps"], h["weight_decay"], float(h["weight_decouple"]),
                h["lr"], 1.0 * (t == 1), debias(h["beta1"], t), debias(h["beta2"], t),
                exact_sqrt(debias(h["beta3"], t)))
