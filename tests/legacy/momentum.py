"""Pre-refactor copy (the reference for tests/test_single_source.py). Heavy-ball momentum (Polyak, 1964), as torch.optim.SGD(momentum, dampening) runs it."""

from __future__ import annotations

import numpy as np

from common.jit import at, kernel
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, coupled_decay, lr_spec, weight_decay_spec

MOMENTUM = Spec(
    "momentum", 0.9, low=0.0, high=1.0, ui_high=0.99,
    help="μ: how much of the previous velocity carries over (0 = plain GD).", label="momentum μ",
)
DAMPENING = Spec(
    "dampening", 0.0, low=0.0, high=1.0,
    help="τ: scales the new gradient by (1 − τ) in the velocity (torch's dampening).", label="dampening τ",
)
#: The momentum buffer, shared with Nesterov.
VELOCITY_FIELD = StateField("v", "v (momentum buffer)", "The velocity: a decaying sum of past gradients.",
                            role="momentum")


def velocity(grads: np.ndarray, buf: np.ndarray, mu: float, tau: float, t: int) -> np.ndarray:
    """torch.optim.SGD's momentum buffer ``b_t`` ``(k, d)`` at step ``t`` (1-based)."""
    # torch starts the buffer at the first gradient itself, undamped, not at 0.
    if t == 1:
        return grads
    return mu * buf + (1.0 - tau) * grads


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`Momentum.direction`; ``S = (v,)``, ``c`` from :meth:`Momentum.kernel_coefs`.

    ``c = (μ, w, λ, first)``: ``v = μ v + w g`` with ``w = 1 − τ`` (torch) or ``1 − μ`` (ema),
    and ``v = g`` when ``first`` (torch's first step). μ and w may be per-element arrays.
    """
    mu, w, wd, first = c[0], c[1], c[2], c[3]
    buf = S[0]
    if first != 0.0:
        for i in range(g.shape[0]):
            gi = g[i] + wd * p[i] if wd != 0.0 else g[i]
            buf[i] = gi
            d[i] = gi
        return
    if wd == 0.0:
        # The common case, free of branches so that it vectorizes.
        for i in range(g.shape[0]):
            v = at(mu, i) * buf[i] + at(w, i) * g[i]
            buf[i] = v
            d[i] = v
        return
    for i in range(g.shape[0]):
        gi = g[i] + wd * p[i]
        v = at(mu, i) * buf[i] + at(w, i) * gi
        buf[i] = v
        d[i] = v


class Momentum(Optimizer):
    r"""Heavy ball, following ``torch.optim.SGD(momentum, dampening)``.

    Two forms, chosen with ``form``:

    ``"torch"`` (default), as torch.optim.SGD and PyTorch users write it:

    .. math::
        b_1 = g_1,\quad b_t = \mu b_{t-1} + (1-\tau) g_t,\quad
        \theta_t = \theta_{t-1} - \eta\, b_t

    ``"ema"``, the textbook exponential moving average (the "SGD, momentum, RMSProp and Adam on Iris" question, Andrew Ng's
    course), which starts from zero and always weights the new gradient by
    ``1 − μ``:

    .. math::
        v_0 = 0,\quad v_t = \mu v_{t-1} + (1-\mu) g_t,\quad
        \theta_t = \theta_{t-1} - \eta\, v_t

    With ``dampening = 0`` the EMA is exactly ``(1−μ)`` times torch's buffer
    (both are sums of ``μ^{t−i} g_i``), so the EMA form with learning rate
    ``η/(1−μ)`` traces the same path as the torch form with ``η``: the forms
    differ only in what "learning rate" means, which matters when comparing
    numbers across courses and libraries.
    torch's own default is ``momentum=0``, which is plain gradient descent
    (``gd`` here); this entry exists to show momentum, so it defaults to 0.9.
    ``weight_decay`` is torch's coupled L2 term, added to ``g``.
    """

    name = "momentum"
    family = "classic"
    summary = "Adds a velocity that remembers past gradients, so it speeds up along valleys and overshoots."
    title = "Momentum (heavy ball)"
    latex = r"v_t=\mu\,v_{t-1}+(1-\tau)\,g_t,\qquad \theta_t=\theta_{t-1}-\eta\,v_t"
    reference = "torch.optim.SGD (momentum, dampening); form='ema' is the textbook EMA"
    specs = (
        lr_spec(1e-3), MOMENTUM, DAMPENING, weight_decay_spec(),
        Spec(
            "form", "torch", choices=("torch", "ema"),
            help="torch: v = μv + (1−τ)g with v₁ = g₁; ema: v = μv + (1−μ)g from v₀ = 0.", label="form",
        ),
    )
    kernel = _direction_kernel
    state_fields = (VELOCITY_FIELD,)
    per_run = ("lr", "momentum", "dampening")

    def check(self) -> None:
        if self.hparams["form"] == "ema" and np.any(self.hparams["dampening"] != 0):
            raise ValueError(
                f"momentum: dampening only applies to form='torch' (the ema form already weights g by 1 − momentum); "
                f"set dampening to 0, got {self.hparams['dampening']!r}"
            )

    def init_state(self, params: np.ndarray) -> State:
        return {"v": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        g = coupled_decay(grads, params, h["weight_decay"])
        mu = h["momentum"]
        if h["form"] == "ema":
            v = mu * state["v"] + (1.0 - mu) * g
        else:
            v = velocity(g, state["v"], mu, h["dampening"], t)
        return v, {"v": v}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((1, n))

    kernel_coefs_steady_from = 2

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        mu = h["momentum"]
        ema = h["form"] == "ema"
        # The same Python scalars as in velocity() and the ema line of direction().
        w = (1.0 - mu) if ema else (1.0 - h["dampening"])
        return (mu, w, h["weight_decay"], float(t == 1 and not ema))
