"""Adafactor (Shazeer & Stern, 2018), as torch.optim.Adafactor runs it on a vector."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.base import Optimizer, RunRule, State, StateField, StepView, exact_pow, lr_spec, per_run

#: torch's ``eps1=None`` means the machine epsilon of the parameters' dtype; ours are always float64.
FLOAT64_EPS = float(np.finfo(np.float64).eps)


# The update in four phases (see :class:`~optimizers.base.RunRule`); ``c`` is :meth:`Adafactor.kernel_coefs`:
# β̂₂'s weight 1 − β̂₂ = t^τ, ε₁², ε₂, ρ_t, lr, d and λ.
def _before(r: tuple, c: tuple) -> tuple:
    """Nothing per run before the step (Adafactor keeps no per-run state)."""
    return ()


def _coord(g: Any, p: Any, s: tuple, a: tuple, c: tuple) -> tuple:
    """Per coordinate: the new v; the terms of RMS(θ) and RMS(u)."""
    v = ops.lerp(s[0], g * g, c[0])
    u = 1.0 / ops.sqrt(ops.maximum(v, c[1])) * g
    return (p * p, u * u), (v,)


def _after(sums: tuple, r: tuple, a: tuple, c: tuple, n: float) -> tuple:
    """Per run: α_t = max(ε₂, RMS(θ))·ρ_t and the clip max(1, RMS(u)/d), with Python's max as torch's code has it
    (a NaN RMS loses)."""
    rms = ops.sqrt(sums[0]) / n ** 0.5
    ratio = ops.sqrt(sums[1]) / (n ** 0.5 * c[5])
    return (), (ops.where(rms > c[2], rms, c[2]) * c[3], ops.where(ratio > 1.0, ratio, 1.0))


def _out(g: Any, p: Any, s_new: tuple, q: tuple, c: tuple) -> Any:
    """Per coordinate: the clipped relative step, and decoupled decay."""
    u = 1.0 / ops.sqrt(ops.maximum(s_new[0], c[1])) * g
    d = q[0] / q[1] / c[4] * u
    if c[6]:
        d = d + c[6] * p
    return d


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

    RMS(θ) and RMS(u) are sums over all coordinates of a run, so the update is a
    :class:`~optimizers.base.RunRule` (its four phases above): numpy runs it for any d, the fused backend
    compiles it for a 2-D point, and each run keeps its own sums, so k runs together equal k separate runs.
    The direction reads lr
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
                   per="run", derive=lambda opt, s: opt.run_rule_parts(s.grads, s.prev, s.params, s.t)[2][0]),
        StateField("clip", "max(1, RMS(u)/d)", "The update is divided by this: above 1 when its RMS exceeds d.",
                   per="run", derive=lambda opt, s: opt.run_rule_parts(s.grads, s.prev, s.params, s.t)[2][1]),
        StateField("scale", "α_t/(max(1, RMS(u)/d)·√v)", "Effective step per coordinate per unit of gradient.",
                   role="scale", derive=lambda opt, s: opt._scale(s)),
    )
    per_run = ("lr", "beta2_decay", "eps1", "eps2", "d")
    run_rule = RunRule(_before, _coord, _after, _out, coord_state=("variance",), run_state=(), terms=2)

    def init_state(self, params: np.ndarray) -> State:
        return {"variance": np.zeros_like(params)}

    def _rho(self, t: int) -> Any:
        """``min(η, 1/√t)`` as torch's ``min(lr, 1 / (step ** 0.5))``: a float or a ``(k, 1)`` column."""
        lr, cap = self.hparams["lr"], 1 / (float(t) ** 0.5)
        return np.where(cap < lr, cap, lr) if isinstance(lr, np.ndarray) else min(lr, cap)

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        eps1 = h["eps1"]
        return (exact_pow(float(t), h["beta2_decay"]), eps1 * eps1, h["eps2"], self._rho(t), h["lr"], h["d"],
                float(h["weight_decay"]))

    def _scale(self, s: StepView) -> np.ndarray:
        """``α_t / (max(1, RMS(u)/d) √max(v, ε₁²))``: how far one unit of gradient moves each coordinate."""
        _, _, (alpha, clip), _ = self.run_rule_parts(s.grads, s.prev, s.params, s.t)
        eps1 = self.hparams["eps1"]
        return alpha[:, None] / clip[:, None] / np.sqrt(np.maximum(s.state["variance"], eps1 * eps1))
