"""Adam (Kingma & Ba, 2015), AdamW and AMSGrad, as torch.optim.Adam/AdamW document them."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from common import ops
from common.spec import Spec
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
    weight_decay_spec,
)

BETA1 = Spec("beta1", 0.9, low=0.0, high=1.0, ui_high=0.999, help="Decay of the gradient average (momentum); must be < 1.", label="β₁")
BETA2 = Spec("beta2", 0.999, low=0.0, high=1.0, ui_high=0.9999, ui_low=0.9, help="Decay of the squared-gradient average; must be < 1.", label="β₂")
EPS = Spec("eps", 1e-8, low=0.0, low_open=True, high=10.0, log=True, ui_low=1e-12, ui_high=1.0, help="Added to the denominator for stability.", label="ε")
AMSGRAD = Spec("amsgrad", False, help="Use the running maximum of v (AMSGrad).", label="AMSGrad")

#: X-ray fields the Adam family shares.
M_FIELD = StateField("m", "m (first moment)", "Running average of the gradient: the momentum.", role="momentum")
V_FIELD = StateField("v", "v (second moment)", "Running average of the squared gradient, per coordinate.")
BIAS1_FIELD = StateField("bias1", "1 − β₁ᵗ", "Bias correction of m: m̂ = m / (1 − β₁ᵗ); near 0 early, then 1.",
                         per="run", derive=lambda opt, s: _bias1(per_run(opt.hparams["beta1"], len(s.lr))[:, 0], s.t))
BIAS2_FIELD = StateField("bias2", "1 − β₂ᵗ", "Bias correction of v: v̂ = v / (1 − β₂ᵗ); reaches 1 slowly.",
                         per="run", derive=lambda opt, s: 1.0 - exact_pow(per_run(opt.hparams["beta2"], len(s.lr))[:, 0],
                                                                          s.t))
SCALE_DOC = "Effective step per coordinate, η_t / (√v̂ + ε): how far one unit of m̂ moves each coordinate."


def _scale(opt: Adam, s: StepView) -> np.ndarray:
    """``η_t / (√v̂_t + ε)`` per coordinate, with the denominator :meth:`Adam.direction` uses."""
    _, bias2 = opt._bias(s.t)
    k = len(s.lr)
    second = s.state["v_max"] if opt.amsgrad else s.state["v"]
    return s.lr[:, None] / (np.sqrt(second) / per_run(bias2, k) + per_run(opt.hparams["eps"], k))


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """Adam's update, written once: ``s = (m, v, v_max)``, ``c`` from :meth:`Adam.kernel_coefs`."""
    m_prev, v_prev, v_max = s
    b1, b2, eps, wd, decoupled, amsgrad, bias1, bias2 = c
    if decoupled == 0.0 and wd != 0.0:
        g = g + wd * p
    m = b1 * m_prev + (1.0 - b1) * g
    v = b2 * v_prev + (1.0 - b2) * (g * g)
    second = v
    if amsgrad != 0.0:
        v_max = ops.maximum(v_max, v)
        second = v_max
    d = m / (bias1 * (ops.sqrt(second) / bias2 + eps))
    if decoupled != 0.0 and wd != 0.0:
        d = d + wd * p
    return d, (m, v, v_max)


def _bias1(b1: Any, t: int) -> Any:
    """``1 − β₁ᵗ`` for a float or per-setting array (see :meth:`Optimizer.per_value`)."""
    return 1.0 - exact_pow(b1, t)


def _bias2(b2: Any, t: int) -> Any:
    """``√(1 − β₂ᵗ)`` likewise."""
    return exact_sqrt(1.0 - exact_pow(b2, t))


class Adam(Optimizer):
    r"""Adam, following ``torch.optim.Adam`` (``betas`` split into ``beta1``/``beta2``).

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g^2

        \theta_t = \theta_{t-1} - \eta\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    The bias corrections use the step count ``t`` starting at 1 on *every*
    step, and divide the moments only inside the update -- the stored ``m`` and
    ``v`` are never overwritten by their corrected values (the hand-written Adam of "Adam stagnating" did
    both, and skipped the correction at step 1).
    With ``amsgrad=True`` the denominator uses ``max(v_1..v_t)``, as torch does.
    """

    name = "adam"
    family = "adaptive"
    summary = "Momentum on the gradient, divided by the root of a moving average of its square, bias-corrected."
    title = "Adam"
    latex = (
        r"\begin{aligned}m_t&=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2\\"
        r"\theta_t&=\theta_{t-1}-\eta\,\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon},\quad "
        r"\hat m_t=\frac{m_t}{1-\beta_1^t},\;\hat v_t=\frac{v_t}{1-\beta_2^t}\end{aligned}"
    )
    reference = "torch.optim.Adam"
    specs = (lr_spec(1e-3), BETA1, BETA2, EPS, weight_decay_spec(), AMSGRAD)
    #: AdamW: weight decay leaves the gradient alone and shrinks θ directly.
    decoupled: ClassVar[bool] = False
    rule = _rule
    state_fields = (M_FIELD, V_FIELD, StateField("v_max", "max v (AMSGrad)", "Largest v so far; the denominator uses it."),
                    BIAS1_FIELD, BIAS2_FIELD, StateField("scale", "η/(√v̂+ε)", SCALE_DOC, role="scale", derive=_scale))
    per_run = ("lr", "beta1", "beta2", "eps")

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    @property
    def amsgrad(self) -> bool:
        """Whether the denominator uses the running maximum of ``v``."""
        return bool(self.hparams.get("amsgrad", False))

    def init_state(self, params: np.ndarray) -> State:
        state = {"m": np.zeros_like(params), "v": np.zeros_like(params)}
        if self.amsgrad:
            state["v_max"] = np.zeros_like(params)
        return state

    def _bias(self, t: int) -> tuple[float, float]:
        """Bias corrections ``1 − β₁ᵗ`` and ``√(1 − β₂ᵗ)`` at step ``t``, shared by both paths."""
        if not self._per_run_names:  # the plain run, as fast as one formula
            return _bias1(self.hparams["beta1"], t), _bias2(self.hparams["beta2"], t)
        return self.per_value(_bias1, ("beta1",), t), self.per_value(_bias2, ("beta2",), t)

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["beta1"], h["beta2"], h["eps"], h["weight_decay"], float(self.decoupled), float(self.amsgrad),
                *self._bias(t))

    def kernel_coefs_series(self, ts: range) -> np.ndarray:
        """:meth:`kernel_coefs` for every step of ``ts`` at once: the bias corrections through the same C ``pow``
        per step (:func:`exact_pow` on arrays), so every number equals the per-step call's."""
        if self._per_run_names or len(ts) == 0:
            return super().kernel_coefs_series(ts)
        h = self.hparams
        t = np.asarray(ts, dtype=np.float64)
        out = np.empty((len(ts), 8))
        out[:, :6] = (h["beta1"], h["beta2"], h["eps"], h["weight_decay"], float(self.decoupled), float(self.amsgrad))
        out[:, 6] = 1.0 - exact_pow(np.full(len(ts), float(h["beta1"])), t)
        out[:, 7] = np.sqrt(1.0 - exact_pow(np.full(len(ts), float(h["beta2"])), t))
        return out
