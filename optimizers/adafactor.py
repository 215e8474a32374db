"""Adafactor (Shazeer & Stern, 2018), as torch.optim.Adafactor runs it on a vector."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from common import ops
from common.ops import lerp as torch_lerp
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, StepView, exact_pow, lr_spec, per_run

#: torch's ``eps1=None`` means the machine epsilon of the parameters' dtype; ours are always float64.
FLOAT64_EPS = float(np.finfo(np.float64).eps)


def _rms(x: np.ndarray) -> np.ndarray:
    """``‖x‖₂ / √d`` of each run, as torch's ``x.norm(2) / x.numel() ** 0.5``: shape ``(k, 1)``."""
    return np.sqrt(np.sum(x * x, axis=1, keepdims=True)) / x.shape[1] ** 0.5


def _python_max(a: Any, b: Any) -> Any:
    """Python's ``max(a, b)`` elementwise: ``b`` only where ``b > a`` (a NaN ``b`` loses, as in torch's code)."""
    return np.where(b > a, b, a)


def _point(g: tuple, p: tuple, s: tuple, c: tuple) -> tuple:
    """One run's step on a 2-D point (:attr:`~optimizers.base.Optimizer.point_rule`): the operations of
    :meth:`Adafactor.direction_any_d` on a row, in the same order, with RMS(θ) and RMS(u) written out
    (numpy's sums start from 0.0)."""
    g0, g1 = g
    v0, v1 = s
    w, eps1_sq, eps2, rho, lr, clip_d, wd = c
    v0, v1 = ops.lerp(v0, g0 * g0, w), ops.lerp(v1, g1 * g1, w)
    rms = ops.sqrt(0.0 + p[0] * p[0] + p[1] * p[1]) / _SQRT2
    alpha = ops.where(rms > eps2, rms, eps2) * rho
    u0 = 1.0 / ops.sqrt(ops.maximum(v0, eps1_sq)) * g0
    u1 = 1.0 / ops.sqrt(ops.maximum(v1, eps1_sq)) * g1
    ratio = ops.sqrt(0.0 + u0 * u0 + u1 * u1) / clip_d
    clip = ops.where(ratio > 1.0, ratio, 1.0)
    d0, d1 = alpha / clip / lr * u0, alpha / clip / lr * u1
    if wd:
        d0, d1 = d0 + wd * p[0], d1 + wd * p[1]
    return (d0, d1), (v0, v1)


_SQRT2 = 2**0.5


class Adafactor(Optimizer):
    r"""Adafactor, following ``torch.optim.Adafactor`` (torch 2.13) on a 1-D parameter (``eps`` split in two).

    .. math::
        \hat\beta_{2,t} = 1 - t^{\tau},\quad \rho_t = \min(\eta, 1/\sqrt t),\quad
        \alpha_t = \max(\epsilon_2, \operatorname{RMS}(\theta_{t-1}))\,\rho_t

        v_t = \hat\beta_{2,t} v_{t-1} + (1-\hat\beta_{2,t})\,g_t^2,\quad
        u_t = \frac{g_t}{\sqrt{\max(v_t, \epsilon_1^2)}},\quad
        \theta_t = \theta_{t-1}(1-\eta\lambda) - \frac{\alpha_t\,u_t}{\max(1, \operatorname{RMS}(u_t)/d)}

    Shazeer & Stern (2018), "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost". A run's θ is
    one vector, for which torch keeps the full (unfactored) second moment ``v``: the row and column
    factors only exist for matrices. On a network θ is the flattened parameter vector, so RMS(θ) and
    RMS(u) span all layers, where torch, given one tensor per layer, would take them (and factor ``v``)
    per tensor. Unlike Adam, the step is relative to the size of θ (``α_t`` scales
    with RMS(θ)), ``β̂₂`` rises towards 1 as ``1 − t^τ``, lr only caps ``ρ_t`` and scales the weight
    decay, and the update is clipped so its RMS stays below ``d``.

    RMS(θ) and RMS(u) are reductions over all coordinates of a run, so this is not an elementwise
    :attr:`~optimizers.base.Optimizer.rule`: on a 2-D point it is the per-run
    :attr:`~optimizers.base.Optimizer.point_rule` :func:`_point` (numpy runs it on columns, the fused backend
    compiles it), for any other d :meth:`direction_any_d`; both keep each of those numbers per run, so k runs
    together equal k separate runs. The direction reads lr
    (``θ − η·d`` with ``d = λθ + α_t u / (η max(1, RMS(u)/d))``), so a schedule from
    :mod:`optimizers.transforms` scales the whole step.
    """

    name = "adafactor"
    title = "Adafactor"
    family = "adaptive"
    summary = "Steps relative to θ's own size (RMS(θ)), with β₂ rising towards 1 and the update's RMS clipped at d."
    latex = (
        r"\begin{aligned}v_t&=\hat\beta_{2,t}v_{t-1}+(1-\hat\beta_{2,t})g_t^2,\quad \hat\beta_{2,t}=1-t^{\tau},\quad "
        r"u_t=\frac{g_t}{\sqrt{\max(v_t,\epsilon_1^2)}}\\"
        r"\theta_t&=\theta_{t-1}(1-\eta\lambda)-\frac{\max(\epsilon_2,\operatorname{RMS}(\theta_{t-1}))"
        r"\min(\eta,1/\sqrt{t})}{\max(1,\operatorname{RMS}(u_t)/d)}\,u_t\end{aligned}"
    )
    reference = "torch.optim.Adafactor; Shazeer & Stern 2018"
    specs = (
        lr_spec(1e-2),
        Spec("beta2_decay", -0.8, low=-10.0, high=0.0, ui_low=-1.0,
             help="τ: the squared-gradient average decays by β̂₂ = 1 − t^τ (must be ≤ 0).", label="τ (β₂ decay)"),
        Spec("eps1", FLOAT64_EPS, low=0.0, high=1.0, log=True, ui_low=1e-30, ui_high=1e-3,
             help="ε₁: floor of √v in the update (torch's None: the float64 machine epsilon).", label="ε₁"),
        Spec("eps2", 1e-3, low=0.0, high=10.0, log=True, ui_low=1e-8, ui_high=1.0,
             help="ε₂: smallest RMS(θ) the relative step uses, so θ near 0 still moves.", label="ε₂"),
        Spec("d", 1.0, low=1.0, high=1e6, ui_high=10.0,
             help="Clipping threshold: the update is scaled down when its RMS exceeds d.", label="d (clip)"),
        Spec("weight_decay", 0.0, low=0.0, high=100.0, ui_high=1.0,
             help="λ: decoupled decay, θ shrinks by ηλ each step.", label="weight decay"),
    )
    #: ρ_t = min(η, 1/√t) and the decay ηλ read lr (only the numpy loop runs Adafactor).
    direction_uses_lr: ClassVar[bool] = True
    state_fields = (
        StateField("variance", "v (second moment)", "Running average of g², with the rising decay β̂₂ = 1 − t^τ."),
        StateField("rho", "ρ_t = min(η, 1/√t)", "The relative step size: 1/√t until it falls below lr.", per="run",
                   derive=lambda opt, s: per_run(opt._rho(s.t), len(s.lr))[:, 0]),
        StateField("alpha", "α_t = max(ε₂, RMS(θ))·ρ_t", "How far the step may go, relative to the size of θ.",
                   per="run", derive=lambda opt, s: opt._terms(s.grads, s.state["variance"], s.params, s.t)[1][:, 0]),
        StateField("clip", "max(1, RMS(u)/d)", "The update is divided by this: above 1 when its RMS exceeds d.",
                   per="run", derive=lambda opt, s: opt._terms(s.grads, s.state["variance"], s.params, s.t)[2][:, 0]),
        StateField("scale", "α_t/(max(1, RMS(u)/d)·√v)", "Effective step per coordinate per unit of gradient.",
                   role="scale", derive=lambda opt, s: opt._scale(s)),
    )
    per_run = ("lr", "beta2_decay", "eps1", "eps2", "d")
    point_rule = _point
    point_rows = (("variance[0]", "variance[1]"),)

    def init_state(self, params: np.ndarray) -> State:
        return {"variance": np.zeros_like(params)}

    def _rho(self, t: int) -> Any:
        """``min(η, 1/√t)`` as torch's ``min(lr, 1 / (step ** 0.5))``: a float or a ``(k, 1)`` column."""
        lr, cap = self.hparams["lr"], 1 / (float(t) ** 0.5)
        return np.where(cap < lr, cap, lr) if isinstance(lr, np.ndarray) else min(lr, cap)

    def _terms(self, grads: np.ndarray, variance: np.ndarray, params: np.ndarray, t: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The unclipped update ``u`` ``(k, d)``, ``α_t`` and ``max(1, RMS(u)/d)`` ``(k, 1)``, per run."""
        h = self.hparams
        eps1 = h["eps1"]
        alpha = _python_max(h["eps2"], _rms(params)) * self._rho(t)
        u = 1.0 / np.sqrt(np.maximum(variance, eps1 * eps1)) * grads
        clip = _python_max(1.0, np.sqrt(np.sum(u * u, axis=1, keepdims=True)) / (u.shape[1] ** 0.5 * h["d"]))
        return u, np.broadcast_to(alpha, clip.shape), clip

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        eps1 = h["eps1"]
        return (exact_pow(float(t), h["beta2_decay"]), eps1 * eps1, h["eps2"], self._rho(t), h["lr"], _SQRT2 * h["d"],
                float(h["weight_decay"]))

    def direction_any_d(self, grads: np.ndarray, state: State, params: np.ndarray, t: int
                        ) -> tuple[np.ndarray, State]:
        """The step for any d (a network's θ); a 2-D point takes :func:`_point`, the same operations written out."""
        h = self.hparams
        with np.errstate(all="ignore"):
            variance = torch_lerp(state["variance"], grads * grads, exact_pow(float(t), h["beta2_decay"]))
            u, alpha, clip = self._terms(grads, variance, params, t)
            d = alpha / clip / h["lr"] * u
            if h["weight_decay"]:
                d = d + h["weight_decay"] * params
        return d, {"variance": variance}

    def _scale(self, s: StepView) -> np.ndarray:
        """``α_t / (max(1, RMS(u)/d) √max(v, ε₁²))``: how far one unit of gradient moves each coordinate."""
        _, alpha, clip = self._terms(s.grads, s.state["variance"], s.params, s.t)
        eps1 = self.hparams["eps1"]
        return alpha / clip / np.sqrt(np.maximum(s.state["variance"], eps1 * eps1))
