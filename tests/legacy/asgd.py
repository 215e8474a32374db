"""Pre-refactor copy (the reference for tests/test_single_source.py). Averaged SGD (Polyak & Juditsky, 1992), as torch.optim.ASGD runs it."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from common.jit import at, kernel
from common.spec import Spec
from optimizers.base import (
    Optimizer,
    State,
    StateField,
    StepView,
    coupled_decay,
    exact_pow,
    lr_spec,
    per_run,
    weight_decay_spec,
)


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`ASGD.direction`; ``S = (ax,)``, ``c = (λ_wd, λ, η_t/η, μ, average)``."""
    wd, lambd, r, mu, average = c[0], c[1], c[2], c[3], c[4]
    ax_ = S[0]
    for i in range(g.shape[0]):
        pi = p[i]
        gi = g[i] + wd * pi if wd != 0.0 else g[i]
        d[i] = at(r, i) * (gi + at(lambd, i) * pi)
        if average != 0.0:
            if at(mu, i) != 1.0:
                ax_[i] = ax_[i] + (pi - ax_[i]) * at(mu, i)
            else:
                ax_[i] = pi


def _ratio(lr: Any, lambd: Any, alpha: Any, t: Any) -> Any:
    """``η_t / η = 1 / (1 + λ η (t − 1))^α``, the decay of the step, for floats or per-setting arrays."""
    return 1.0 / exact_pow(1.0 + lambd * lr * (t - 1.0), alpha)


def _mu(t0: Any, t: Any) -> Any:
    """torch's averaging weight ``μ = 1 / max(1, s − t₀)`` of step ``s = t − 1``, which step ``t`` applies."""
    return 1.0 / np.maximum(1.0, t - 2.0 - t0)


def _eta(opt: ASGD, s: StepView) -> np.ndarray:
    """The decayed step size of this step, ``η_t``, per run."""
    return s.lr * per_run(opt._coefs(s.t)[0], len(s.lr))[:, 0]


class ASGD(Optimizer):
    r"""Averaged SGD, following ``torch.optim.ASGD``.

    .. math::
        g \leftarrow g + \lambda_{wd}\theta,\quad
        \eta_t = \frac{\eta}{(1 + \lambda\eta(t-1))^{\alpha}},\quad
        \theta_t = \theta_{t-1}(1 - \lambda\eta_t) - \eta_t g,

        \bar\theta_t = \bar\theta_{t-1} + \mu_t(\theta_t - \bar\theta_{t-1}),\quad
        \mu_t = \frac{1}{\max(1,\, t - 1 - t_0)}

    The iterate itself is plain SGD with a slowly decaying step and a pull
    ``λ`` toward 0; the Polyak average ``θ̄`` (torch's ``ax``) is kept beside it
    and never feeds back into the path. With torch's default ``t0 = 10⁶`` the
    average is just the last iterate for any run this app draws; lower ``t0`` to
    see averaging start. The direction does not see the new iterate (the
    learning rate, with any schedule, is applied after it), so our ``ax``
    after step ``t`` is torch's after step ``t − 1``: the average up to the
    point the step started from.
    """

    name = "asgd"
    title = "ASGD (averaged SGD)"
    family = "classic"
    summary = "SGD with a slowly decaying step and a pull λ toward 0, keeping the Polyak average of the iterates beside it."
    latex = (
        r"\begin{aligned}\eta_t&=\frac{\eta}{(1+\lambda\eta(t-1))^{\alpha}},\quad "
        r"\theta_t=\theta_{t-1}(1-\lambda\eta_t)-\eta_t g_t\\"
        r"\bar\theta_t&=\bar\theta_{t-1}+\mu_t(\theta_t-\bar\theta_{t-1}),\quad \mu_t=\frac{1}{\max(1,\,t-1-t_0)}\end{aligned}"
    )
    reference = "torch.optim.ASGD"
    specs = (
        lr_spec(1e-2),
        Spec("lambd", 1e-4, low=0.0, high=1e3, ui_high=1.0, help="λ: decay term; shrinks θ by λη_t and slows the step decay.",
             label="λ (decay term)"),
        Spec("alpha", 0.75, low=0.0, high=10.0, ui_high=2.0, help="α: power of the step-size decay.", label="α"),
        Spec("t0", 1e6, low=0.0, high=1e12, ui_high=1e6, help="t₀: the step after which averaging starts.", label="t₀"),
        weight_decay_spec(),
    )
    kernel = _direction_kernel
    #: The step's decay η_t / η involves η, so the fused backend keeps lr among the kernel's numbers.
    direction_uses_lr: ClassVar[bool] = True
    state_fields = (
        StateField("ax", "θ̄ (average)", "Polyak average of the iterates up to the point this step started from."),
        StateField("eta", "η_t (decayed step)", "The step size of this step, η / (1 + λη(t−1))^α.", per="run",
                   derive=_eta),
    )
    per_run = ("lr", "lambd", "alpha", "t0")

    def init_state(self, params: np.ndarray) -> State:
        return {"ax": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        r, mu, average = self._coefs(t)
        g = coupled_decay(grads, params, h["weight_decay"])
        d = r * (g + h["lambd"] * params)
        ax = state["ax"]
        if average:
            ax = np.where(mu != 1.0, ax + (params - ax) * mu, params)
        return d, {"ax": ax}

    def _coefs(self, t: int) -> tuple[Any, Any, float]:
        """``η_t / η``, the averaging weight, and whether step ``t`` averages (from step 2: see the class doc)."""
        r = self.per_value(_ratio, ("lr", "lambd", "alpha"), t)
        mu = self.per_value(_mu, ("t0",), t)
        return r, mu, 1.0 * (t >= 2)

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((1, n))

    def kernel_coefs(self, t: int) -> tuple[Any, ...]:
        h = self.hparams
        return (h["weight_decay"], h["lambd"], *self._coefs(t))
