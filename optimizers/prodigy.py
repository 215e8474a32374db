"""Prodigy (Mishchenko & Defazio, 2024): Adam whose step size d is estimated on the fly, as ``prodigyopt`` runs it."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.adam import BETA1, BETA2, EPS
from optimizers.base import (
    Optimizer,
    RunRule,
    State,
    StateField,
    StepView,
    lr_spec,
    per_run,
    require_below,
    weight_decay_spec,
)


def _scale(opt: Prodigy, s: StepView) -> np.ndarray:
    """``η d_{t−1} / (√v_t + d_t ε)`` per coordinate: how far one unit of m moves each coordinate (bias correction aside)."""
    k = len(s.lr)
    eps = per_run(opt.hparams["eps"], k)
    return s.lr[:, None] * s.prev["d"][:, None] / (np.sqrt(s.state["exp_avg_sq"]) + s.state["d"][:, None] * eps)


# The update in four phases (see :class:`~optimizers.base.RunRule`); ``c`` is :meth:`Prodigy.kernel_coefs`, read
# through these positions.
_LR, _B1, _B2, _B3, _D0, _EPS, _DECAY, _COUPLED, _DECOUPLED, _BIAS, _SAFEGUARD, _D_COEF, _GROWTH = range(13)


def _before(r: tuple, c: tuple) -> tuple:
    """Per run, from d before the step: d, the bias correction, η·d, and the weight of g in s."""
    d, steps = r[0], r[3]
    b1, b2, d0 = c[_B1], c[_B2], c[_D0]
    bc = ops.pow(1.0 - ops.pow(b2, steps + 1.0), 0.5) / (1.0 - ops.pow(b1, steps + 1.0)) if c[_BIAS] else 1.0
    dlr = d * c[_LR] * bc
    return d, bc, dlr, (d / d0) * (d if c[_SAFEGUARD] else dlr)


def _coord(g: Any, p: Any, s: tuple, a: tuple, c: tuple) -> tuple:
    """Per coordinate: the moments and s; the terms of g·(θ₀ − θ) and ‖s‖₁."""
    m, v, s_, p0 = s
    d, s_alpha = a[0], a[3]
    b1, b2 = c[_B1], c[_B2]
    if c[_COUPLED]:
        g = g + c[_DECAY] * p
    m_new = m * b1 + g * (d * (1.0 - b1)) if b1 > 0 else m
    v_new = v * b2 + g * g * (d * d * (1.0 - b2))
    s_new = s_ * c[_B3] + g * s_alpha
    return (g * (p0 - p), abs(s_new)), (m_new, v_new, s_new, p0)


def _after(sums: tuple, r: tuple, a: tuple, c: tuple, n: float) -> tuple:
    """Per run: d's new estimate from the sums. A run whose s is still 0 has seen no gradient and keeps its state
    (the package returns before touching d or θ)."""
    g_dot, d_denom = sums
    d, d_max, numer, steps = r
    bc, dlr = a[1], a[2]
    live = d_denom != 0
    numerator = numer * c[_B3] + (d / c[_D0]) * dlr * g_dot
    d_hat = c[_D_COEF] * numerator / ops.where(live, d_denom, 1.0)
    d_new = ops.where(d == c[_D0], ops.maximum(d, d_hat), d)
    d_max_new = ops.maximum(d_max, d_hat)
    d_new = ops.minimum(d_max_new, d_new * c[_GROWTH])
    d_after = ops.where(live, d_new, d)
    state = (d_after, ops.where(live, d_max_new, d_max), ops.where(live, numerator, numer),
             steps + ops.where(live, 1.0, 0.0))
    return state, (d * bc, d_after, ops.where(live, 1.0, 0.0))


def _out(g: Any, p: Any, s_new: tuple, q: tuple, c: tuple) -> Any:
    """Per coordinate: Adam's step with d, and decoupled decay; nothing for a run without a gradient yet."""
    m, v = s_new[0], s_new[1]
    step, d_after, live = q
    if c[_COUPLED]:
        g = g + c[_DECAY] * p
    denom = ops.sqrt(v) + d_after * c[_EPS]
    u = step * (m / denom) if c[_B1] > 0 else (step * d_after) * (g / denom)
    if c[_DECOUPLED]:
        u = u + (c[_DECAY] * step) * p
    return ops.where(live != 0.0, u, 0.0)


class Prodigy(Optimizer):
    r"""Prodigy, following ``prodigyopt.Prodigy`` 1.1.2 (Mishchenko & Defazio 2024, "Prodigy: An
    Expeditiously Adaptive Parameter-Free Learner").

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) d_{t-1} g_t,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) d_{t-1}^2 g_t^2,

        r_t = \beta_3 r_{t-1} + \tfrac{d_{t-1}}{d_0} \eta d_{t-1}\, g_t \cdot (\theta_0 - \theta_{t-1}),\quad
        s_t = \beta_3 s_{t-1} + \tfrac{d_{t-1}}{d_0} \eta d_{t-1} g_t,

        d_t = \max\!\left(d_{t-1},\; c\,\frac{r_t}{\|s_t\|_1}\right),\quad
        \theta_t = \theta_{t-1} - \eta d_{t-1} \frac{m_t}{\sqrt{v_t} + d_t \epsilon}

    d is Adam's step size, learned from how far the run has travelled from its
    start θ₀ along the gradients it met: it starts at ``d0`` and only grows.
    ``lr`` multiplies it (leave it at 1). The numbers r, s and d are sums over
    every coordinate of a run, so each run keeps its own: ``d`` and the other
    scalars are ``(k,)`` arrays and k runs together equal k separate runs. The
    package's ``d`` is shared by all its parameter tensors; here a run's whole θ
    is one tensor.

    Differences, all where the package takes ``None`` or ``inf`` (which a slider
    cannot hold): ``beta3 = 0`` stands for its ``None`` (use √β₂) and
    ``growth_rate = 0`` for its ``inf`` (no limit). ``slice_p`` and ``fsdp_in_use``
    are not offered (a 2-D point has nothing to slice). lr enters the estimate of
    d, so a schedule (:class:`~optimizers.transforms.Chain`) scales the step but the
    estimate reads the base lr; with the package's own schedulers both change.
    With ``use_bias_correction`` the factor ``√(1 − β₂ᵏ⁺¹)/(1 − β₁ᵏ⁺¹)`` joins
    η d, and like the package a step whose ``‖s‖₁`` is 0 (no gradient yet) moves
    nothing and is not counted.
    """

    name = "prodigy"
    title = "Prodigy"
    family = "modern"
    summary = "Adam whose step size d is learned on the fly from how far the run has moved along its gradients."
    latex = (
        r"\begin{aligned}m_t&=\beta_1 m_{t-1}+(1-\beta_1)d_{t-1}g_t,\quad v_t=\beta_2 v_{t-1}+(1-\beta_2)d_{t-1}^2g_t^2\\"
        r"r_t&=\beta_3 r_{t-1}+\tfrac{d_{t-1}}{d_0}\eta d_{t-1}\,g_t\cdot(\theta_0-\theta_{t-1}),\quad "
        r"s_t=\beta_3 s_{t-1}+\tfrac{d_{t-1}}{d_0}\eta d_{t-1}g_t\\"
        r"d_t&=\max\left(d_{t-1},\,c\,\frac{r_t}{\|s_t\|_1}\right),\quad "
        r"\theta_t=\theta_{t-1}-\eta d_{t-1}\frac{m_t}{\sqrt{v_t}+d_t\epsilon}\end{aligned}"
    )
    reference = "prodigyopt.Prodigy 1.1.2; Mishchenko & Defazio 2024"
    specs = (
        lr_spec(1.0), BETA1, BETA2,
        Spec("beta3", 0.0, low=0.0, high=1.0, ui_high=0.9999,
             help="β₃: decay of the sums behind d; 0 uses √β₂ (prodigyopt's None).", label="β₃"),
        EPS, weight_decay_spec(),
        Spec("decouple", True, help="Shrink θ by η·d·λ directly (AdamW-style) instead of adding λθ to g.",
             label="decoupled decay"),
        Spec("use_bias_correction", False, help="Multiply η·d by Adam's bias correction √(1−β₂ᵗ)/(1−β₁ᵗ).",
             label="bias correction"),
        Spec("safeguard_warmup", False, help="Leave η out of the sum s, which steadies d while η warms up.",
             label="safeguard warm-up"),
        Spec("d0", 1e-6, low=0.0, low_open=True, high=1e3, log=True, ui_low=1e-9, ui_high=1.0,
             help="d₀: the first estimate of the step size; d only grows from here.", label="d₀"),
        Spec("d_coef", 1.0, low=0.0, low_open=True, high=1e3, ui_high=10.0,
             help="c: multiplies the estimate of d; the preferred knob (0.5 to 2 usually work).", label="d coefficient"),
        Spec("growth_rate", 0.0, low=0.0, high=1e3, ui_high=10.0,
             help="Largest factor d may grow by in one step; 0 = no limit (prodigyopt's inf).", label="growth rate"),
    )
    state_fields = (
        StateField("exp_avg", "m (first moment)", "Running average of d·g.", role="momentum"),
        StateField("exp_avg_sq", "v (second moment)", "Running average of d²·g², per coordinate."),
        StateField("s", "s (weighted gradient sum)", "β₃-decayed sum of the gradients, weighted by d·η·d/d₀; "
                   "its L1 norm is the denominator of d's estimate."),
        StateField("p0", "θ₀ (start)", "Where the run started: d is estimated from the distance travelled from it."),
        StateField("d", "d (step size)", "Prodigy's estimate of the distance to the solution: Adam's step size, "
                   "learned from the run.", per="run"),
        StateField("d_max", "d̂ max", "The largest raw estimate c·r/‖s‖₁ so far; d never exceeds it.", per="run"),
        StateField("scale", "ηd/(√v+dε)", "Effective step per coordinate: how far one unit of m moves each coordinate.",
                   role="scale", derive=_scale),
    )
    #: The estimate of d reads lr (as the package's does), so lr is part of the direction.
    direction_uses_lr: ClassVar[bool] = True
    run_rule = RunRule(_before, _coord, _after, _out, coord_state=("exp_avg", "exp_avg_sq", "s", "p0"),
                       run_state=("d", "d_max", "d_numerator", "k"), terms=2)

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def init_state(self, params: np.ndarray) -> State:
        k = params.shape[0]
        d0 = float(self.hparams["d0"])
        state = {
            "p0": params.copy(), "s": np.zeros_like(params), "exp_avg_sq": np.zeros_like(params),
            "d": np.full(k, d0), "d_max": np.full(k, d0), "d_numerator": np.zeros(k), "k": np.zeros(k),
        }
        if self.hparams["beta1"] > 0:
            state["exp_avg"] = np.zeros_like(params)
        return state

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        decay = float(h["weight_decay"])
        return (h["lr"], float(h["beta1"]), float(h["beta2"]),
                float(h["beta3"]) if h["beta3"] > 0 else math.sqrt(h["beta2"]), float(h["d0"]), float(h["eps"]), decay,
                float(bool(decay) and not h["decouple"]), float(bool(decay) and bool(h["decouple"])),
                float(h["use_bias_correction"]), float(h["safeguard_warmup"]), float(h["d_coef"]),
                float(h["growth_rate"]) if h["growth_rate"] > 0 else math.inf)

    kernel_coefs_steady_from = 1
