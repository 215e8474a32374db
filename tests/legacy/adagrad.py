"""Pre-refactor copy (the reference for tests/test_single_source.py). AdaGrad (Duchi et al., 2011), as torch.optim.Adagrad documents it."""

from __future__ import annotations

import math

import numpy as np

from common.jit import kernel
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, StepView, coupled_decay, lr_spec, per_run, weight_decay_spec


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`Adagrad.direction`; ``S = (sum,)``, ``c = (ε, λ)`` (``lr_decay`` is in ``lr_at``)."""
    eps, wd = c[0], c[1]
    acc = S[0]
    if wd == 0.0:
        # The common case, free of branches so that it vectorizes.
        for i in range(g.shape[0]):
            gi = g[i]
            total = acc[i] + gi * gi
            acc[i] = total
            d[i] = gi / (math.sqrt(total) + eps)
        return
    for i in range(g.shape[0]):
        gi = g[i] + wd * p[i]
        total = acc[i] + gi * gi
        acc[i] = total
        d[i] = gi / (math.sqrt(total) + eps)


def _scale(opt: Adagrad, s: StepView) -> np.ndarray:
    """``η_t / (√s_t + ε)``: the step per unit of gradient, per coordinate."""
    return s.lr[:, None] / (np.sqrt(s.state["sum"]) + per_run(opt.hparams["eps"], len(s.lr)))


class Adagrad(Optimizer):
    r"""AdaGrad, following ``torch.optim.Adagrad``.

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        \tilde\eta_t = \frac{\eta}{1 + (t-1)\,\delta},\quad
        s_t = s_{t-1} + g^2 \;(s_0 = \text{initial\_accumulator\_value}),

        \theta_t = \theta_{t-1} - \tilde\eta_t\,\frac{g}{\sqrt{s_t} + \epsilon}

    The sum of squares never shrinks, so the step per coordinate only falls.
    torch's ``lr_decay`` δ enters through :meth:`lr_at`, so a schedule from
    :mod:`optimizers.transforms` multiplies it.
    """

    name = "adagrad"
    family = "adaptive"
    summary = "Divides each coordinate's step by the root of its summed squared gradients: steps only shrink."
    title = "AdaGrad"
    latex = r"s_t=s_{t-1}+g_t^2,\qquad \theta_t=\theta_{t-1}-\frac{\eta}{1+(t-1)\delta}\,\frac{g_t}{\sqrt{s_t}+\epsilon}"
    reference = "torch.optim.Adagrad"
    specs = (
        lr_spec(1e-2),
        Spec("lr_decay", 0.0, low=0.0, high=1e3, ui_high=0.1, help="δ: the rate is η / (1 + (t−1)δ).", label="lr decay δ"),
        weight_decay_spec(),
        Spec(
            "initial_accumulator_value", 0.0, low=0.0, high=1e6, ui_high=1.0,
            help="Starting value of the sum of squared gradients; > 0 tames the first steps.", label="initial accumulator",
        ),
        Spec("eps", 1e-10, low=0.0, low_open=True, high=10.0, log=True, ui_low=1e-12, ui_high=1.0, help="Added to the denominator for stability.", label="ε"),
    )
    kernel = _direction_kernel
    state_fields = (
        StateField("sum", "s (sum of g²)", "Sum of squared gradients per coordinate; it only grows."),
        StateField("scale", "η/(√s+ε)", "Effective step per coordinate, η_t / (√s + ε): it only shrinks.", role="scale",
                   derive=_scale),
    )

    def lr_at(self, t: int) -> float:
        h = self.hparams
        return h["lr"] / (1.0 + (t - 1) * h["lr_decay"])

    def init_state(self, params: np.ndarray) -> State:
        return {"sum": np.full_like(params, self.hparams["initial_accumulator_value"])}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        g = coupled_decay(grads, params, h["weight_decay"])
        total = state["sum"] + g * g
        return g / (np.sqrt(total) + h["eps"]), {"sum": total}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.full((1, n), self.hparams["initial_accumulator_value"], dtype=np.float64)

    kernel_coefs_steady_from = 1

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["eps"], h["weight_decay"])
