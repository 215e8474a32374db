"""AdEMAMix (Pagliardini et al., 2024), as kozistr's pytorch-optimizer ``AdEMAMix`` runs it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.adam import EPS
from optimizers.adan import beta_spec, debias, lerp_coefs
from optimizers.base import Optimizer, State, StateField, StepView, exact_sqrt, lr_spec, per_run, require_below
from optimizers.qhm import DECOUPLE, WEIGHT_DECAY


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """AdEMAMix's update, written once: ``s = (m, v, m_slow)``, ``c`` from :meth:`AdEMAMix.kernel_coefs`."""
    m_prev, v_prev, slow_prev = s
    f1, k1, b2, f3, k3, alpha, eps, wd, decoupled, fixed, lr, bc1, bc2 = c
    if wd != 0.0 and decoupled == 0.0:
        g = g + wd * p
    m = ops.where(f1 != 0.0, g, m_prev) + (g - m_prev) * k1
    v = v_prev * b2 + (1.0 - b2) * g * g
    slow = ops.where(f3 != 0.0, g, slow_prev) + (g - slow_prev) * k3
    d = (m / bc1 + alpha * slow) / (ops.sqrt(v) / bc2 + eps)
    if wd != 0.0 and decoupled != 0.0:
        # θ(1 − ηλ) − η·u, or θ(1 − λ) − η·u with fixed_decay, written as θ − η·d.
        d = d + (wd / lr if fixed != 0.0 else wd) * p
    return d, (m, v, slow)


def _scalar_map(fn: Any, *args: Any) -> Any:
    """``fn`` on floats, or on each entry of broadcast arrays through the same ``math`` calls (the same bits)."""
    if not any(isinstance(a, np.ndarray) for a in args):
        return fn(*args)
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))
    flat = [a.ravel().tolist() for a in arrays]
    return np.fromiter(map(fn, *flat), np.float64, arrays[0].size).reshape(arrays[0].shape)


def schedule_alpha(alpha: float, t: float, t_warmup: float) -> float:
    """The package's ``schedule_alpha``: α grows linearly over ``t_alpha_beta3`` steps (0: no warm-up)."""
    return alpha if t_warmup == 0 else min(t * alpha / t_warmup, alpha)


def schedule_beta3(beta1: float, beta3: float, t: float, t_warmup: float) -> float:
    """The package's ``schedule_beta3``: the half-life of the slow average grows from β₁'s to β₃'s (0: none)."""
    if t_warmup == 0:
        return beta3
    log_beta1, log_beta3 = math.log(beta1), math.log(beta3)
    return min(math.exp(log_beta1 * log_beta3 / ((1.0 - t / t_warmup) * log_beta3 + (t / t_warmup) * log_beta1)),
               beta3)


def _scale(opt: AdEMAMix, s: StepView) -> np.ndarray:
    """``η_t / (√v̂ + ε)`` per coordinate, with the denominator of the rule."""
    coefs = opt.kernel_coefs(s.t)
    k = len(s.lr)
    return s.lr[:, None] / (np.sqrt(s.state["v"]) / per_run(coefs[12], k) + per_run(coefs[6], k))


class AdEMAMix(Optimizer):
    r"""AdEMAMix, following ``pytorch_optimizer.AdEMAMix`` (kozistr) 4.1.0, ``betas`` split into ``beta1``–``beta3``.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        s_t = \beta_{3,t} s_{t-1} + (1-\beta_{3,t}) g_t,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2

        \theta_t = \theta_{t-1} - \eta\,\frac{m_t/(1-\beta_1^t) + \alpha_t s_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Pagliardini et al. (2024), "The AdEMAMix Optimizer: Better, Faster, Older". Adam's numerator plus
    ``α`` times a second, much slower average ``s`` of the gradient (β₃ = 0.9999: a memory of about
    10⁴ steps), which is not bias-corrected. With ``t_alpha_beta3 = T > 0`` both warm up over T
    steps, as in the package: ``α_t = min(tα/T, α)`` and
    ``β₃,t = min(exp(ln β₁ ln β₃ / ((1 − t/T) ln β₃ + (t/T) ln β₁)), β₃)``; they are computed per step
    in :meth:`AdEMAMix.kernel_coefs`. The package's default ``None`` (no warm-up) is 0 here. Weight decay
    is the package's: added to g, or with ``weight_decouple`` θ shrinks by ``ηλ`` (by ``λ`` with
    ``fixed_decay``, which reads lr inside the direction) before the step. The averages are torch's ``lerp``.
    """

    name = "ademamix"
    title = "AdEMAMix"
    family = "modern"
    summary = "Adam plus α times a second, very slow gradient average (β₃ ≈ 0.9999) that remembers old gradients."
    latex = (
        r"\begin{aligned}m_t&=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad s_t=\beta_{3} s_{t-1}+(1-\beta_{3})g_t,\quad "
        r"v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2\\"
        r"\theta_t&=\theta_{t-1}-\eta\,\frac{m_t/(1-\beta_1^t)+\alpha\,s_t}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}"
        r"\end{aligned}"
    )
    reference = "pytorch_optimizer.AdEMAMix (kozistr); Pagliardini et al. 2024"
    specs = (
        lr_spec(1e-3),
        beta_spec("beta1", 0.9, "the fast gradient average m", "β₁"),
        beta_spec("beta2", 0.999, "the squared-gradient average v", "β₂"),
        Spec("beta3", 0.9999, low=0.0, high=1.0, ui_low=0.9, ui_high=0.99999,
             help="Decay of the slow gradient average s (0.9999 remembers about 10⁴ steps).", label="β₃"),
        Spec("alpha", 5.0, low=0.0, high=100.0, ui_high=20.0, help="α: weight of the slow average s in the step.",
             label="α"),
        Spec("t_alpha_beta3", 0.0, low=0.0, high=1e7, ui_high=1e4,
             help="Steps over which α and β₃ warm up (0: none, the package's None).", label="warm-up steps"),
        WEIGHT_DECAY,
        DECOUPLE,
        Spec("fixed_decay", False, help="With decoupled decay, shrink θ by λ, not by ηλ.", label="fixed decay"),
        EPS,
    )
    rule = _rule
    state_fields = (
        StateField("m", "m (fast average)", "Running average of the gradient, as Adam's first moment.", role="momentum"),
        StateField("v", "v (second moment)", "Running average of the squared gradient, per coordinate."),
        StateField("m_slow", "s (slow average)", "A much slower average of the gradient; α·s is added to the step."),
        StateField("alpha_t", "α_t", "The weight of the slow average at this step (grows during the warm-up).",
                   per="run", derive=lambda opt, s: per_run(opt.kernel_coefs(s.t)[5], len(s.lr))[:, 0]),
        StateField("beta3_t", "β₃,t", "The decay of the slow average at this step (grows during the warm-up).",
                   per="run", derive=lambda opt, s: per_run(opt._beta3(s.t), len(s.lr))[:, 0]),
        StateField("scale", "η/(√v̂+ε)", "Effective step per coordinate, η_t / (√v̂ + ε).", role="scale",
                   derive=_scale),
    )
    per_run = ("lr", "beta1", "beta2", "beta3", "alpha", "eps")

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))
        h = self.hparams
        for name in ("beta1", "beta3"):
            if h["t_alpha_beta3"] and np.any(np.asarray(h[name]) <= 0.0):
                raise ValueError(f"ademamix: the β₃ warm-up takes the log of {name}, so it must be above 0 when "
                                 f"t_alpha_beta3 > 0, got {h[name]!r}")

    @property
    def direction_uses_lr(self) -> bool:
        """``fixed_decay`` shrinks θ by λ, not ηλ: the direction divides λ by lr."""
        h = self.hparams
        return bool(h["weight_decay"]) and bool(h["weight_decouple"]) and bool(h["fixed_decay"])

    def init_state(self, params: np.ndarray) -> State:
        return {"m": np.zeros_like(params), "v": np.zeros_like(params), "m_slow": np.zeros_like(params)}

    def _beta3(self, t: Any) -> Any:
        h = self.hparams
        return _scalar_map(schedule_beta3, h["beta1"], h["beta3"], t, h["t_alpha_beta3"])

    def kernel_coefs(self, t: Any) -> tuple[Any, ...]:
        h = self.hparams
        f1, k1 = lerp_coefs(1.0 - h["beta1"])
        f3, k3 = lerp_coefs(1.0 - self._beta3(t))
        return (f1, k1, h["beta2"], f3, k3, _scalar_map(schedule_alpha, h["alpha"], t, h["t_alpha_beta3"]), h["eps"],
                h["weight_decay"], float(h["weight_decouple"]), float(h["fixed_decay"]), h["lr"],
                debias(h["beta1"], t), exact_sqrt(debias(h["beta2"], t)))
