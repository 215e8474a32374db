"""Adam as written in the question "Adam stagnating at 45–70% accuracy", bugs and all, for comparison.

The question's training loop (seeds/000, a StackExchange post) reads::

    V = b1*V + (1-b1)*dw;  S = b2*S + (1-b2)*dw**2
    if i != 0:                     # i = 0, 1, ... : the step count starts at 0
        V = V/(1-b1**i); S = S/(1-b2**i)   # corrected values overwrite the moments
    w = w - a*V/(np.sqrt(S)+e)*dw          # the step is multiplied by dw once more

Three bugs, each a switch here so a user can turn them off one at a time:

``compound_correction``
    The bias-corrected moments are stored back, so the correction compounds
    step after step instead of being applied once to the running average.
``zero_based_step``
    The correction uses ``i = t - 1`` and is skipped at the first step.
``times_gradient``
    The update is multiplied by the raw gradient again, so the step shrinks
    with ``|g|``: near-flat regions (saturated sigmoids) freeze the weights.

With all three off this is exactly Adam (the tests check it against
:class:`optimizers.adam.Adam`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.adam import BETA1, BETA2, EPS, M_FIELD, V_FIELD
from optimizers.base import Optimizer, State, lr_spec, require_below


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple:
    """The question's update, elementwise (:attr:`~optimizers.base.Optimizer.rule`), bugs as switches in ``c``."""
    m, v = s
    b1, b2, w1, w2, corrected, c1, c2, compound, times_g, eps = c
    m = b1 * m + w1 * g
    v = b2 * v + w2 * (g * g)
    m_hat, v_hat = (m / c1, v / c2) if corrected else (m, v)
    d = m_hat / (ops.sqrt(v_hat) + eps)
    if times_g:
        d = d * g
    return d, ((m_hat, v_hat) if compound else (m, v))


class SeedAdam(Optimizer):
    r"""Seed 000's Adam; see the module docstring for the three switches.

    .. math::
        V \leftarrow \beta_1 V + (1-\beta_1) g,\; S \leftarrow \beta_2 S + (1-\beta_2) g^2,\;
        V \leftarrow \frac{V}{1-\beta_1^{i}},\; S \leftarrow \frac{S}{1-\beta_2^{i}}\;(i \ne 0)

        \theta \leftarrow \theta - \eta\, \frac{V}{\sqrt{S}+\epsilon}\, g
    """

    name = "seed_adam"
    family = "classic"
    summary = "A hand-written Adam with three bugs from a real question, each a switch, for comparison."
    title = "Adam, hand-written with bugs"
    latex = (
        r"\begin{aligned}V&\leftarrow\tfrac{\beta_1 V+(1-\beta_1)g}{1-\beta_1^{\,i}},\quad"
        r" S\leftarrow\tfrac{\beta_2 S+(1-\beta_2)g^2}{1-\beta_2^{\,i}}\quad(i=t-1\neq 0)\\"
        r"\theta&\leftarrow\theta-\eta\,\frac{V}{\sqrt{S}+\epsilon}\odot g\end{aligned}"
    )
    reference = "the training loop in seeds/000 (a StackExchange question), not a published algorithm"
    specs = (
        lr_spec(1e-3), BETA1, BETA2, EPS,
        Spec("compound_correction", True, help="Bug 1: store the bias-corrected moments back.", label="bug: compounding correction"),
        Spec("zero_based_step", True, help="Bug 2: correct with i = t − 1 and skip step 1.", label="bug: step count from 0"),
        Spec("times_gradient", True, help="Bug 3: multiply the step by the gradient again.", label="bug: extra × gradient"),
    )

    state_fields = (M_FIELD, V_FIELD)
    rule = _rule

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def init_state(self, params: np.ndarray) -> State:
        return {"m": np.zeros_like(params), "v": np.zeros_like(params)}

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        """:func:`_rule`'s numbers: the betas, whether step ``t`` corrects (``i = t − 1`` or ``t``, not 0) and by
        what, and the three switches."""
        h = self.hparams
        b1, b2 = float(h["beta1"]), float(h["beta2"])
        i = t - 1 if h["zero_based_step"] else t
        return (b1, b2, 1.0 - b1, 1.0 - b2, float(i != 0), 1.0 - b1**i, 1.0 - b2**i, float(h["compound_correction"]),
                float(h["times_gradient"]), float(h["eps"]))
