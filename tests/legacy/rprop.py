"""Pre-refactor copy (the reference for tests/test_single_source.py). Rprop (Riedmiller & Braun, 1993), as torch.optim.Rprop documents it."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from common.jit import at, kernel
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, lr_spec, require_below


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`Rprop.direction`; ``S = (prev, step_size)``, ``c = (η₋, η₊, Δmin, Δmax, lr, first)``."""
    em, ep, smin, smax, lr, first = c[0], c[1], c[2], c[3], c[4], c[5]
    prev_, step_ = S[0], S[1]
    for i in range(g.shape[0]):
        gi = g[i]
        x = gi * prev_[i]
        # torch writes η₊ where the sign is > 0, η₋ where < 0, 1 where 0; NaN stays NaN.
        f = at(ep, i) if x > 0.0 else (at(em, i) if x < 0.0 else (1.0 if x == 0.0 else x))
        s = (at(lr, i) if first != 0.0 else step_[i]) * f
        # clamp_(min, max) as np.clip: NaN stays NaN.
        if s < at(smin, i):
            s = at(smin, i)
        if s > at(smax, i):
            s = at(smax, i)
        step_[i] = s
        if f == at(em, i):
            gi = 0.0
        prev_[i] = gi
        sg = 1.0 if gi > 0.0 else (-1.0 if gi < 0.0 else (0.0 if gi == 0.0 else gi))
        d[i] = sg * s / at(lr, i)


class Rprop(Optimizer):
    r"""Resilient backpropagation, following ``torch.optim.Rprop`` (``etas`` and ``step_sizes`` split in two).

    .. math::
        \Delta_t = \operatorname{clip}\!\left(\Delta_{t-1}\cdot
        \begin{cases}\eta_+ & g_t g_{t-1} > 0\\ \eta_- & g_t g_{t-1} < 0\\ 1 & \text{else}\end{cases},
        \;\Delta_{\min},\,\Delta_{\max}\right),\quad \Delta_0 = \eta,

        g_t \leftarrow 0 \text{ where the sign flipped},\quad
        \theta_t = \theta_{t-1} - \Delta_t \operatorname{sign}(g_t),\quad g_{t-1} \leftarrow g_t

    Only the sign of the gradient is used; each coordinate keeps its own step
    size ``Δ``, which grows by ``η₊`` while the sign holds and shrinks by ``η₋``
    when it flips (that step is skipped, and the next one counts as a fresh
    start). ``lr`` is only the initial step size ``Δ₀``. Our update is
    ``θ − η_t · sign(g) Δ / η``, so that a schedule from
    :mod:`optimizers.transforms` scales Rprop's steps; without one it is torch's
    ``θ − Δ sign(g)`` up to the rounding of ``Δ / η · η``.
    """

    name = "rprop"
    title = "Rprop"
    family = "adaptive"
    summary = "Uses only the gradient's sign; each coordinate's step grows ×η₊ while the sign holds, shrinks ×η₋ on a flip."
    latex = (
        r"\begin{aligned}\Delta_t&=\operatorname{clip}\left(\Delta_{t-1}\cdot\begin{cases}\eta_+ & g_t g_{t-1}>0\\"
        r"\eta_- & g_t g_{t-1}<0\\ 1 & \text{else}\end{cases},\;\Delta_{\min},\Delta_{\max}\right),\quad \Delta_0=\eta\\"
        r"\theta_t&=\theta_{t-1}-\Delta_t\operatorname{sign}(g_t)\quad(g_t\to 0\text{ after a flip})\end{aligned}"
    )
    reference = "torch.optim.Rprop"
    specs = (
        lr_spec(1e-2),
        Spec("etaminus", 0.5, low=0.0, low_open=True, high=1.0, ui_low=0.1, ui_high=0.9,
             help="η₋: factor that shrinks a step size when the gradient's sign flips; must be in (0, 1).", label="η₋"),
        Spec("etaplus", 1.2, low=1.0, high=10.0, ui_high=2.0,
             help="η₊: factor that grows a step size while the sign holds; must be > 1.", label="η₊"),
        Spec("step_size_min", 1e-6, low=0.0, high=1e3, ui_high=0.1,
             help="Δmin: smallest allowed step size per coordinate.", label="Δmin"),
        Spec("step_size_max", 50.0, low=0.0, high=1e6, ui_high=100.0,
             help="Δmax: largest allowed step size per coordinate.", label="Δmax"),
    )
    kernel = _direction_kernel
    #: The direction divides the step size by lr, so the fused backend keeps lr among the kernel's numbers.
    direction_uses_lr: ClassVar[bool] = True
    state_fields = (
        StateField("prev", "g_{t−1} (previous gradient)", "The gradient of the last step, 0 where its sign had flipped."),
        StateField("step_size", "Δ (step size)", "How far each coordinate moves this step: η₊ or η₋ times the last one.",
                   role="scale"),
    )
    per_run = ("lr", "etaminus", "etaplus", "step_size_min", "step_size_max")

    def check(self) -> None:
        require_below(self.name, self.hparams, ("etaminus",))
        if np.any(np.asarray(self.hparams["etaplus"]) <= 1.0):
            raise ValueError(f"rprop: etaplus must be above 1 (torch requires 0 < etaminus < 1 < etaplus), "
                             f"got {self.hparams['etaplus']!r}")

    def init_state(self, params: np.ndarray) -> State:
        # Δ₀ = η is read from lr at step 1, so that the state does not depend on lr (nor on which run has which lr).
        return {"prev": np.zeros_like(params), "step_size": np.zeros_like(params)}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        em, ep = h["etaminus"], h["etaplus"]
        x = np.sign(grads * state["prev"])
        f = np.where(x > 0, ep, np.where(x < 0, em, np.where(x == 0, 1.0, x)))
        last = h["lr"] if t == 1 else state["step_size"]
        step = np.clip(last * f, h["step_size_min"], h["step_size_max"])
        g = np.where(f == em, 0.0, grads)
        return np.sign(g) * step / h["lr"], {"prev": g, "step_size": step}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((2, n))

    kernel_coefs_steady_from = 2

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["etaminus"], h["etaplus"], h["step_size_min"], h["step_size_max"], h["lr"], 1.0 * (t == 1))
