"""Sophia-H (Liu et al., 2023): momentum over a clipped Hessian diagonal, as kozistr's pytorch-optimizer ``SophiaH`` runs it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, StepView, lr_spec
from optimizers.curvature import DISTRIBUTIONS
from optimizers.signsgd import DECOUPLE


def _scale(opt: Sophia, s: StepView) -> np.ndarray:
    """``η · min(1 / max(h_t, ε), ρ / |m_t|)`` per coordinate: the step one unit of m got, the clip included."""
    h = opt.hparams
    return s.lr[:, None] * np.minimum(1.0 / np.maximum(s.state["hessian_moment"], h["eps"]),
                                      h["p"] / np.abs(s.state["momentum"]))


def _clipped(opt: Sophia, s: StepView) -> np.ndarray:
    """Fraction of a run's coordinates whose step the clip at ``p`` cut: where Sophia moves like sign momentum."""
    h = opt.hparams
    ratio = s.state["momentum"] / np.maximum(s.state["hessian_moment"], h["eps"])
    return (np.abs(ratio) > h["p"]).mean(axis=1)


def _rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple:
    """Sophia-H's update, elementwise (:attr:`~optimizers.base.Optimizer.rule`). The Hessian diagonal arrives in
    the state entry ``hessian`` (:attr:`~optimizers.base.Optimizer.input_slots`) on the steps that refresh it."""
    m, moment, hess = s
    w1, w2, eps, rho, coupled_wd, decoupled, decay, fresh = c
    if coupled_wd:
        g = g + coupled_wd * p
    m = ops.lerp(m, g, w1)
    if fresh:
        moment = ops.lerp(moment, hess, w2)
    d = ops.clip(m / ops.maximum(moment, eps), -rho, rho)
    if decoupled:
        # The package shrinks θ by 1 − λη (or 1 − λ with fixed_decay) before the step.
        d = d + decay * p
    return d, (m, moment, hess)


class Sophia(Optimizer):
    r"""Sophia-H, following ``pytorch_optimizer.SophiaH`` 4.1.0 (kozistr); Liu et al. 2023, "Sophia: A Scalable
    Stochastic Second-order Optimizer for Language Model Pre-training".

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\qquad
        h_t = \beta_2 h_{t-k} + (1-\beta_2) \hat h_t \ \text{every } k \text{ steps},

        \theta_t = \theta_{t-1}(1 - \eta\lambda) - \eta\,\operatorname{clip}\!\left(\frac{m_t}{\max(h_t, \epsilon)}, -\rho, \rho\right)

    ``ĥ`` is the Hessian diagonal, refreshed on steps 1, 1 + k, 1 + 2k, …
    (``update_period`` k): exact on a surface (the landscape's analytic
    Hessian), Hutchinson's estimate ``z ⊙ Hz`` on a network, with
    ``num_samples`` probes z from ``hessian_distribution`` drawn by a generator
    seeded with ``(seed, t)``; see :mod:`optimizers.curvature`, which the runner
    calls. Where the curvature is small, negative or the momentum large, the
    clip at ρ (the package's ``p``) binds and the coordinate moves by ηρ, as in
    sign momentum; elsewhere the step is Newton-like, ``η m / h``.

    The package draws probes from torch's global generator; ``seed`` is ours,
    so that a run is reproducible and k runs together equal k separate runs
    (all runs share the probes of a step). ``maximize`` and ``foreach`` are not
    offered. With ``fixed_decay`` the decay reads the base lr, not a schedule's.
    """

    name = "sophia"
    title = "Sophia-H"
    family = "modern"
    summary = "Momentum divided by a running Hessian diagonal, clipped per coordinate: Newton-like where curvature is positive."
    latex = (
        r"\begin{aligned}m_t&=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad "
        r"h_t=\beta_2 h_{t-k}+(1-\beta_2)\,\hat h_t\ \text{(every }k\text{ steps)},\quad \hat h_t=\operatorname{diag}H_t\ \text{or its estimate}\\"
        r"\theta_t&=\theta_{t-1}(1-\eta\lambda)-\eta\,\operatorname{clip}\left(\frac{m_t}{\max(h_t,\epsilon)},-\rho,\rho\right)"
        r"\end{aligned}"
    )
    reference = "Liu et al. 2023 (Sophia-H); pytorch_optimizer.SophiaH 4.1.0 (kozistr)"
    specs = (
        lr_spec(6e-2),
        Spec("beta1", 0.96, low=0.0, high=1.0, ui_high=0.999, help="Decay of the gradient momentum; must be < 1.",
             label="β₁"),
        Spec("beta2", 0.99, low=0.0, high=1.0, ui_low=0.9, ui_high=0.9999,
             help="Decay of the Hessian-diagonal average, once per refresh; must be < 1.", label="β₂"),
        Spec("weight_decay", 0.0, low=0.0, high=100.0, ui_high=0.1, help="λ: weight decay.", label="weight decay"),
        DECOUPLE,
        Spec("fixed_decay", False, help="Decoupled decay shrinks θ by λ, not η·λ.", label="fixed decay"),
        Spec("p", 1e-2, low=0.0, high=1e6, ui_high=1.0,
             help="ρ: the largest |m/h| per coordinate; the step is at most η·ρ.", label="clip ρ"),
        Spec("update_period", 10, low=1, high=1_000_000, ui_high=100,
             help="k: refresh the Hessian diagonal every k steps (from step 1).", label="update period"),
        Spec("num_samples", 1, low=1, high=100, ui_high=20,
             help="Hutchinson probes per refresh on a network (a surface uses the exact diagonal).", label="probes"),
        Spec("hessian_distribution", "gaussian", choices=DISTRIBUTIONS,
             help="Distribution of Hutchinson's probes: N(0, 1) or ±1 entries.", label="probe distribution"),
        Spec("eps", 1e-12, low=0.0, high=10.0, ui_high=1e-3, help="ε: floor on the Hessian average.", label="ε"),
        Spec("seed", 0, low=0, high=2**32 - 1, help="Seed of Hutchinson's probes on a network.", label="probe seed"),
    )
    needs = ("hessian_diag",)
    input_slots: ClassVar[Mapping[str, str]] = {"hessian_diag": "hessian"}
    rule = _rule
    state_fields = (
        StateField("momentum", "m (momentum)", "Running average of the gradient.", role="momentum"),
        StateField("hessian_moment", "h (Hessian diagonal average)",
                   "Running average of the Hessian diagonal, updated every update_period steps."),
        StateField("hessian", "ĥ (last diagonal)", "The Hessian diagonal of the last refresh (exact or Hutchinson's)."),
        StateField("scale", "η·min(1/h, ρ/|m|)", "Effective step per coordinate: how far one unit of m moved it, "
                   "the clip included.", role="scale", derive=_scale),
        StateField("clipped", "clipped share", "Share of coordinates whose step the clip at ρ cut (they move by ηρ).",
                   per="run", derive=_clipped),
    )

    def check(self) -> None:
        for name in ("beta1", "beta2"):
            if not self.hparams[name] < 1.0:
                raise ValueError(f"{self.name}: {name} must be below 1 (in [0, 1)), got {self.hparams[name]!r}")

    def needs_at(self, t: int) -> tuple[str, ...]:
        """The Hessian diagonal on steps 1, 1 + k, 1 + 2k, … (the package's ``(step − 1) % update_period == 0``)."""
        return self.needs if (t - 1) % int(self.hparams["update_period"]) == 0 else ()

    def gradient_cost(self) -> float:
        """``1 + 2·num_samples / update_period``: each refresh takes two gradients per Hutchinson probe."""
        return 1.0 + 2.0 * self.hparams["num_samples"] / self.hparams["update_period"]

    def init_state(self, params: np.ndarray) -> State:
        return {"momentum": np.zeros_like(params), "hessian_moment": np.zeros_like(params),
                "hessian": np.zeros_like(params)}

    @property
    def direction_uses_lr(self) -> bool:
        """With ``fixed_decay`` the decay is divided by lr inside the direction (``θ − η·d`` then shrinks by λ)."""
        h = self.hparams
        return bool(h["weight_decay"] and h["weight_decouple"] and h["fixed_decay"])

    def kernel_coefs(self, t: Any) -> tuple[Any, ...]:
        """:func:`_rule`'s numbers; ``fresh`` is 1 on the steps that refresh the Hessian diagonal (``t`` may be a
        column of steps)."""
        h = self.hparams
        wd = float(h["weight_decay"])
        decoupled = bool(wd and h["weight_decouple"])
        decay = wd * (1.0 / h["lr"]) if decoupled and h["fixed_decay"] else wd
        fresh = ((np.asarray(t) - 1) % int(h["update_period"]) == 0) * 1.0
        return (1.0 - h["beta1"], 1.0 - h["beta2"], float(h["eps"]), float(h["p"]),
                0.0 if decoupled else wd, float(decoupled), decay, fresh if np.ndim(t) else float(fresh))

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int,
                  hessian_diag: Any = None) -> tuple[np.ndarray, State]:
        h = self.hparams
        if self.needs_at(t) and hessian_diag is None:
            raise ValueError(f"sophia needs the Hessian diagonal at step {t} (every {h['update_period']} steps from 1): "
                             "pass hessian_diag=, or run it through optimizers.run")
        if hessian_diag is not None:
            state = {**state, "hessian": np.asarray(hessian_diag, dtype=np.float64)}
        coefs = self.kernel_coefs(t)
        return self._rule_direction(grads, state, params, (*coefs[:-1], float(hessian_diag is not None)))
