"""Prodigy (Mishchenko & Defazio, 2024): Adam whose step size d is estimated on the fly, as ``prodigyopt`` runs it."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.adam import BETA1, BETA2, EPS
from optimizers.base import (
    Optimizer,
    State,
    StateField,
    StepView,
    exact_pow,
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


def _point(g: tuple, p: tuple, s: tuple, c: tuple) -> tuple:
    """One run's step on a 2-D point (:attr:`~optimizers.base.Optimizer.point_rule`): the same operations, in the
    same order, as :meth:`Prodigy.direction_any_d` on a row, with its sums over θ written out."""
    g0, g1 = g
    m0, m1, v0, v1, s0, s1, q0, q1, d, d_max, numer, steps = s
    lr, b1, b2, b3, d0, eps, decay, coupled, decoupled, bias, safeguard, d_coef, growth = c
    bc = ops.pow(1.0 - ops.pow(b2, steps + 1.0), 0.5) / (1.0 - ops.pow(b1, steps + 1.0)) if bias else 1.0
    dlr = d * lr * bc
    if coupled:
        g0, g1 = g0 + decay * p[0], g1 + decay * p[1]
    # numpy's sums start from 0.0, which only a sum of two -0.0 tells apart.
    delta_numerator = (d / d0) * dlr * (0.0 + g0 * (q0 - p[0]) + g1 * (q1 - p[1]))
    if b1 > 0:
        m0, m1 = m0 * b1 + g0 * (d * (1.0 - b1)), m1 * b1 + g1 * (d * (1.0 - b1))
    v0, v1 = v0 * b2 + g0 * g0 * (d * d * (1.0 - b2)), v1 * b2 + g1 * g1 * (d * d * (1.0 - b2))
    s_alpha = (d / d0) * (d if safeguard else dlr)
    s0, s1 = s0 * b3 + g0 * s_alpha, s1 * b3 + g1 * s_alpha
    d_denom = 0.0 + abs(s0) + abs(s1)
    live = d_denom != 0
    numerator = numer * b3 + delta_numerator
    d_hat = d_coef * numerator / ops.where(live, d_denom, 1.0)
    d_new = ops.where(d == d0, ops.maximum(d, d_hat), d)
    d_max_new = ops.maximum(d_max, d_hat)
    d_new = ops.minimum(d_max_new, d_new * growth)
    d_after = ops.where(live, d_new, d)
    state = (m0, m1, v0, v1, s0, s1, q0, q1, d_after, ops.where(live, d_max_new, d_max),
             ops.where(live, numerator, numer), steps + ops.where(live, 1.0, 0.0))
    step = d * bc
    if b1 > 0:
        u0, u1 = step * (m0 / (ops.sqrt(v0) + d_after * eps)), step * (m1 / (ops.sqrt(v1) + d_after * eps))
    else:
        u0 = (step * d_after) * (g0 / (ops.sqrt(v0) + d_after * eps))
        u1 = (step * d_after) * (g1 / (ops.sqrt(v1) + d_after * eps))
    if decoupled:
        u0, u1 = u0 + (decay * step) * p[0], u1 + (decay * step) * p[1]
    return (ops.where(live, u0, 0.0), ops.where(live, u1, 0.0)), state


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
    point_rule = _point
    point_rows = (("exp_avg[0]", "exp_avg[1]"), ("exp_avg_sq[0]", "exp_avg_sq[1]"), ("s[0]", "s[1]"),
                  ("p0[0]", "p0[1]"), ("d", "d_max"), ("d_numerator", "k"))

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

    def direction_any_d(self, grads: np.ndarray, state: State, params: np.ndarray, t: int
                        ) -> tuple[np.ndarray, State]:
        """The step for any d (a network's θ); a 2-D point takes :func:`_point`, the same operations written out."""
        h = self.hparams
        b1, b2, decay = h["beta1"], h["beta2"], h["weight_decay"]
        b3 = h["beta3"] if h["beta3"] > 0 else math.sqrt(b2)
        d0, k = float(h["d0"]), params.shape[0]
        lr = per_run(self.hparams["lr"], k)[:, 0]
        d, d_max, steps = state["d"], state["d_max"], state["k"]
        bc = exact_pow(1.0 - exact_pow(b2, steps + 1.0), 0.5) / (1.0 - exact_pow(b1, steps + 1.0)) \
            if h["use_bias_correction"] else 1.0
        dlr = d * lr * bc
        g = grads + decay * params if decay and not h["decouple"] else grads
        col = d[:, None]
        delta_numerator = (d / d0) * dlr * np.einsum("kd,kd->k", g, state["p0"] - params)
        new: State = {"p0": state["p0"]}
        if b1 > 0:
            new["exp_avg"] = state["exp_avg"] * b1 + g * (col * (1.0 - b1))
        new["exp_avg_sq"] = state["exp_avg_sq"] * b2 + g * g * (col * col * (1.0 - b2))
        s_alpha = (d / d0) * (d if h["safeguard_warmup"] else dlr)
        new["s"] = state["s"] * b3 + g * s_alpha[:, None]
        d_denom = np.abs(new["s"]).sum(axis=1)
        # A run whose s is still 0 has seen no gradient: the package returns before touching d or θ.
        live = d_denom != 0
        numerator = state["d_numerator"] * b3 + delta_numerator
        d_hat = h["d_coef"] * numerator / np.where(live, d_denom, 1.0)
        d_new = np.where(d == d0, np.maximum(d, d_hat), d)
        d_max_new = np.maximum(d_max, d_hat)
        growth = h["growth_rate"] if h["growth_rate"] > 0 else math.inf
        d_new = np.minimum(d_max_new, d_new * growth)
        new["d"] = np.where(live, d_new, d)
        new["d_max"] = np.where(live, d_max_new, d_max)
        new["d_numerator"] = np.where(live, numerator, state["d_numerator"])
        new["k"] = steps + live
        dcol = new["d"][:, None]
        denom = np.sqrt(new["exp_avg_sq"]) + dcol * h["eps"]
        step = (d * bc)[:, None]
        if b1 > 0:
            direction = step * (new["exp_avg"] / denom)
        else:
            direction = (step * dcol) * (g / denom)
        if decay and h["decouple"]:
            direction = direction + (decay * step) * params
        return np.where(live[:, None], direction, 0.0), new
