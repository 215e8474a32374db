"""Pre-refactor copy (the reference for tests/test_single_source.py). NAdam (Dozat, 2016), as torch.optim.NAdam documents it."""

from __future__ import annotations

import math

import numpy as np

from common.jit import kernel
from common.spec import Spec
from optimizers.base import (
    Optimizer,
    State,
    StateField,
    StepView,
    coupled_decay,
    lr_spec,
    per_run,
    require_below,
    weight_decay_spec,
)
from tests.legacy.adam import BETA1, BETA2, BIAS2_FIELD, EPS, M_FIELD, SCALE_DOC, V_FIELD

DECOUPLED = Spec(
    "decoupled_weight_decay", False,
    help="Apply weight_decay to θ directly (AdamW-style) instead of adding it to the gradient.", label="decoupled decay",
)


@kernel
def _direction_kernel(g: np.ndarray, p: np.ndarray, S: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
    """Compiled twin of :meth:`NAdam.direction`; ``S = (m, v)``, ``c`` from :meth:`NAdam.kernel_coefs`."""
    b1, b2, eps, wd, decoupled, bc2, cg, cm = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    m_, v_ = S[0], S[1]
    if wd == 0.0:
        # The common case, free of branches so that it vectorizes.
        for i in range(g.shape[0]):
            gi = g[i]
            m = b1 * m_[i] + (1.0 - b1) * gi
            v = b2 * v_[i] + (1.0 - b2) * (gi * gi)
            m_[i] = m
            v_[i] = v
            denom = math.sqrt(v / bc2) + eps
            d[i] = cg * gi / denom + cm * m / denom
        return
    for i in range(g.shape[0]):
        gi = g[i]
        if decoupled == 0.0:
            gi = gi + wd * p[i]
        m = b1 * m_[i] + (1.0 - b1) * gi
        v = b2 * v_[i] + (1.0 - b2) * (gi * gi)
        m_[i] = m
        v_[i] = v
        denom = math.sqrt(v / bc2) + eps
        di = cg * gi / denom + cm * m / denom
        if decoupled != 0.0:
            di = di + wd * p[i]
        d[i] = di


def _scale(opt: NAdam, s: StepView) -> np.ndarray:
    """``η_t / (√(v / (1 − β₂ᵗ)) + ε)``, the denominator of :meth:`NAdam.direction`, per coordinate."""
    k = len(s.lr)
    return s.lr[:, None] / (np.sqrt(s.state["v"] / per_run(opt._coefs(s.t)[0], k)) + per_run(opt.hparams["eps"], k))


class NAdam(Optimizer):
    r"""NAdam, following ``torch.optim.NAdam`` (Adam with Nesterov momentum).

    .. math::
        \mu_t = \beta_1\left(1 - \tfrac12\, 0.96^{\,t\psi}\right),\quad
        \Pi_t = \prod_{i\le t}\mu_i,

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g^2,\quad
        \hat v_t = v_t/(1-\beta_2^t)

        \theta_t = \theta_{t-1} - \eta\left(\frac{1-\mu_t}{1-\Pi_t}\, g
        + \frac{\mu_{t+1}}{1-\Pi_t\,\mu_{t+1}}\, m_t\right) \Big/ \left(\sqrt{\hat v_t} + \epsilon\right)

    ``ψ = momentum_decay`` (torch's 4e-3) warms the momentum up from ``β₁/2``.
    ``weight_decay`` is added to ``g`` unless ``decoupled_weight_decay``, when
    it shrinks θ by ``ηλθ`` instead, both as torch does.
    """

    name = "nadam"
    family = "adaptive"
    summary = "Adam with Nesterov's look-ahead on the first moment."
    title = "NAdam"
    latex = (
        r"\begin{aligned}\mu_t&=\beta_1\left(1-\tfrac12\,0.96^{t\psi}\right),\quad "
        r"m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2\\"
        r"\theta_t&=\theta_{t-1}-\eta\,\frac{\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\,g_t"
        r"+\frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\,m_t}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}\end{aligned}"
    )
    reference = "torch.optim.NAdam"
    specs = (
        lr_spec(2e-3), BETA1, BETA2, EPS, weight_decay_spec(),
        Spec("momentum_decay", 4e-3, low=0.0, high=10.0, log=False, ui_high=0.1, help="ψ: how fast the momentum warms up to β₁.", label="momentum decay ψ"),
        DECOUPLED,
    )
    kernel = _direction_kernel
    state_fields = (M_FIELD, V_FIELD, BIAS2_FIELD, StateField("scale", "η/(√v̂+ε)", SCALE_DOC, role="scale", derive=_scale))

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def _mu(self, t: int) -> float:
        h = self.hparams
        return h["beta1"] * (1.0 - 0.5 * 0.96 ** (t * h["momentum_decay"]))

    def _mu_product(self, t: int) -> float:
        """``Π_t = μ_1 ⋯ μ_t``, multiplied up in step order as torch does (cached, ``Π_0 = 1``)."""
        key = (self.hparams["beta1"], self.hparams["momentum_decay"])
        cache = self.__dict__.get("_mu_products")
        if cache is None or cache[0] != key:
            cache = (key, [1.0])
        products = cache[1]
        if len(products) <= t:
            products = list(products)  # extend a copy: the cached list is never changed under a reader
            while len(products) <= t:
                products.append(products[-1] * self._mu(len(products)))
            cache = (key, products)
        self._mu_products = cache
        return products[t]

    def _coefs(self, t: int) -> tuple[float, float, float]:
        """``1 − β₂ᵗ`` and the weights of ``g`` and ``m`` at step ``t``, shared by both paths."""
        h = self.hparams
        mu, mu_next, mu_product = self._mu(t), self._mu(t + 1), self._mu_product(t)
        return 1.0 - h["beta2"] ** t, (1.0 - mu) / (1.0 - mu_product), mu_next / (1.0 - mu_product * mu_next)

    def init_state(self, params: np.ndarray) -> State:
        # The product of the μ's depends only on t (see _mu_product); it is also kept in the state, as
        # torch does, per run, shape (k, 1), so that every state entry is an array whose first axis is
        # the run (code that picks runs can slice it).
        return {"m": np.zeros_like(params), "v": np.zeros_like(params), "mu_product": np.ones((params.shape[0], 1))}

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        b1, b2, wd = h["beta1"], h["beta2"], h["weight_decay"]
        decoupled = h["decoupled_weight_decay"]
        g = grads if decoupled else coupled_decay(grads, params, wd)
        bc2, cg, cm = self._coefs(t)
        m = b1 * state["m"] + (1.0 - b1) * g
        v = b2 * state["v"] + (1.0 - b2) * (g * g)
        denom = np.sqrt(v / bc2) + h["eps"]
        d = cg * g / denom + cm * m / denom
        if decoupled and wd:
            d = d + wd * params
        return d, {"m": m, "v": v, "mu_product": np.full_like(state["mu_product"], self._mu_product(t))}

    def kernel_state(self, n: int) -> np.ndarray:
        return np.zeros((2, n))

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        h = self.hparams
        return (h["beta1"], h["beta2"], h["eps"], h["weight_decay"], float(h["decoupled_weight_decay"]),
                *self._coefs(t))
