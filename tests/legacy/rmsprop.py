"""Pre-refactor copy (the reference for tests/test_single_source.py). RMSProp (Hinton, 2012), as torch.optim.RMSprop documents it."""

from __future__ import annotations

import math

import numpy as np

from common.jit import at, kernel
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, StepView, coupled_decay, lr_spec, per_run, weight_decay_spec


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`RMSprop.direction`; ``S = (v, ḡ, b)`` (unused rows stay 0), ``c = (α, ε, λ, μ, centered)``."""
    a, eps, wd, mom, centered = c[0], c[1], c[2], c[3], c[4]
    v_, ga_, buf = S[0], S[1], S[2]
    if wd == 0.0 and centered == 0.0 and not mom > 0.0:
        # The default, free of branches so that it vectorizes.
        for i in range(g.shape[0]):
            gi = g[i]
            v = at(a, i) * v_[i] + (1.0 - at(a, i)) * (gi * gi)
            v_[i] = v
            d[i] = gi / (math.sqrt(v) + at(eps, i))
        return
    for i in range(g.shape[0]):
        gi = g[i] + wd * p[i] if wd != 0.0 else g[i]
        v = at(a, i) * v_[i] + (1.0 - at(a, i)) * (gi * gi)
        v_[i] = v
        if centered != 0.0:
            ga = at(a, i) * ga_[i] + (1.0 - at(a, i)) * gi
            ga_[i] = ga
            v = v - ga * ga
            if not (v >= 0.0 or v != v):  # np.maximum(v, 0): NaN stays NaN
                v = 0.0
        di = gi / (math.sqrt(v) + at(eps, i))
        if mom > 0.0:
            di = mom * buf[i] + di
            buf[i] = di
        d[i] = di


def _scale(opt: RMSprop, s: StepView) -> np.ndarray:
    """``η_t / (√ṽ_t + ε)`` per coordinate, ``ṽ`` centered as :meth:`RMSprop.direction` centers it."""
    v = s.state["v"]
    if opt.hparams["centered"]:
        v = np.maximum(v - s.state["g_avg"] * s.state["g_avg"], 0.0)
    return s.lr[:, None] / (np.sqrt(v) + per_run(opt.hparams["eps"], len(s.lr)))


class RMSprop(Optimizer):
    r"""RMSProp, following ``torch.optim.RMSprop``.

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        v_t = \alpha v_{t-1} + (1-\alpha) g^2,\quad
        \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g \;(\text{centered}),

        \tilde v_t = v_t - \bar g_t^2 \text{ if centered else } v_t,\quad
        b_t = \mu b_{t-1} + \frac{g}{\sqrt{\tilde v_t} + \epsilon},\quad
        \theta_t = \theta_{t-1} - \eta\, b_t

    With ``momentum = 0`` the update is ``η g / (√ṽ + ε)`` directly. There is no
    bias correction, so the first steps are large: ``√v₁ = √(1−α)|g|``.
    One deliberate difference from torch: rounding can make the centered
    ``v − ḡ²`` slightly negative, where torch takes the square root of it and
    returns NaN; we clamp it at 0.
    """

    name = "rmsprop"
    family = "adaptive"
    summary = "Divides by a moving average of squared gradients, so per-coordinate steps can grow again."
    title = "RMSProp"
    latex = (
        r"\begin{aligned}v_t&=\alpha v_{t-1}+(1-\alpha)g_t^2,\quad \bar g_t=\alpha\bar g_{t-1}+(1-\alpha)g_t"
        r"\;(\text{centered: } v_t\to v_t-\bar g_t^2)\\"
        r"b_t&=\mu b_{t-1}+\frac{g_t}{\sqrt{v_t}+\epsilon},\qquad \theta_t=\theta_{t-1}-\eta\,b_t\end{aligned}"
    )
    reference = "torch.optim.RMSprop"
    specs = (
        lr_spec(1e-2),
        Spec("alpha", 0.99, low=0.0, high=1.0, ui_low=0.5, ui_high=0.999, help="Decay of the squared-gradient average.", label="α"),
        Spec("eps", 1e-8, low=0.0, low_open=True, high=10.0, log=True, ui_low=1e-12, ui_high=1.0, help="Added to the denominator for stability.", label="ε"),
        weight_decay_spec(),
        Spec("momentum", 0.0, low=0.0, high=1.0, ui_high=0.99, help="μ: momentum on the scaled step (0 = none).", label="momentum μ"),
        Spec("centered", False, help="Divide by the variance estimate v − ḡ² instead of v.", label="centered"),
    )
    kernel = _direction_kernel
    state_fields = (
        StateField("v", "v (mean of g²)", "Running average of the squared gradient, per coordinate."),
        StateField("g_avg", "ḡ (mean of g)", "Running average of the gradient (centered only)."),
        StateField("buf", "b (momentum buffer)", "Momentum on the scaled step (momentum > 0 only).", role="momentum"),
        StateField("scale", "η/(√v+ε)", "Effective step per coordinate, η_t / (√ṽ + ε).", role="scale", derive=_scale),
    )
    per_run = ("lr", "alpha", "eps")

    def init_state(self, params: np.ndarray) -> State:
        h = self.hparams
        state = {"v": np.zeros_like(params)}
        if h["centered"]:
            state["g_avg"] = np.zeros_like(params)
        if h["momentum"] > 0:
            state["buf"] = np.zeros_like(params)
        return state

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        a = h["alpha"]
        g = coupled_decay(grads, params, h["weight_decay"])
        v = a * state["v"] + (1.0 - a) * (g * g)
        new = {"v": v}
        if h["centered"]:
            g_avg = new["g_avg"] = a * state["g_avg"] + (1.0 - a) * g
            v = np.maximum(v - g_avg * g_avg, 0.0)
        d = g / (np.sqrt(v) + h["eps"])
        if h["momentum"] > 0:
            d = new["buf"] = h["momentum"] * state["buf"] + d
        return d, new

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((3, n))

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["alpha"], h["eps"], h["weight_decay"], h["momentum"], float(h["centered"]))
