"""Sophia-H (Liu et al., 2023): momentum over a clipped Hessian diagonal, as kozistr's pytorch-optimizer ``SophiaH`` runs it."""

from __future__ import annotations

from typing import Any

import numpy as np

from common.ops import lerp as torch_lerp
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, StepView, lr_spec, per_run
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

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int,
                  hessian_diag: Any = None) -> tuple[np.ndarray, State]:
        h = self.hparams
        b1, b2, wd = h["beta1"], h["beta2"], h["weight_decay"]
        if self.needs_at(t) and hessian_diag is None:
            raise ValueError(f"sophia needs the Hessian diagonal at step {t} (every {h['update_period']} steps from 1): "
                             "pass hessian_diag=, or run it through optimizers.run")
        decoupled = wd and h["weight_decouple"]
        g = grads + wd * params if wd and not decoupled else grads
        m = torch_lerp(state["momentum"], g, 1.0 - b1)
        moment, hess = state["hessian_moment"], state["hessian"]
        if hessian_diag is not None:
            hess = np.asarray(hessian_diag, dtype=np.float64)
            moment = torch_lerp(moment, hess, 1.0 - b2)
        d = np.clip(m / np.maximum(moment, h["eps"]), -h["p"], h["p"])
        if decoupled:
            # The package shrinks θ by 1 − λη (or 1 − λ with fixed_decay) before the step.
            rate = 1.0 / per_run(self.hparams["lr"], params.shape[0]) if h["fixed_decay"] else 1.0
            d = d + (wd * rate) * params
        return d, {"momentum": m, "hessian_moment": moment, "hessian": hess}
