"""SOAP (Vyas et al., 2024), as kozistr's pytorch-optimizer ``SOAP`` runs it on a vector."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.adam import EPS
from optimizers.base import Optimizer, State, StateField, StepView, exact_pow, lr_spec, require_below
from optimizers.matrix_ops import (
    EIGH_JITTER,
    eigvals_desc,
    mat2_vec,
    qr2_q_float32,
    sym2_eig_formula,
)

BETA1 = Spec("beta1", 0.95, low=0.0, high=1.0, ui_high=0.999, help="Decay of the gradient average m; must be < 1.",
             label="β₁")
BETA2 = Spec("beta2", 0.95, low=0.0, high=1.0, ui_high=0.9999,
             help="Decay of the squared projected gradient and of the statistics GG; must be < 1.", label="β₂")


def _eigs(opt: SOAP, s: StepView) -> np.ndarray:
    return eigvals_desc(s.state["GG"]) if "GG" in s.state else np.nan


def _angle(opt: SOAP, s: StepView) -> np.ndarray:
    if "Q" not in s.state or s.state["Q"].shape[-1] != 2:
        return np.nan
    q = s.state["Q"]
    # The sign of an eigenvector is arbitrary: fold the angle of the first column into (−90°, 90°].
    angle = np.degrees(np.arctan2(q[..., 1, 0], q[..., 0, 0]))
    return np.where(angle > 90.0, angle - 180.0, np.where(angle <= -90.0, angle + 180.0, angle))


def _bias(b1: float, b2: float, t: int) -> float:
    """The package's step-size factor ``√(1 − β₂ˢ) / (1 − β₁ˢ)``, s = t − 1 (its first step only gathers statistics)."""
    s = t - 1
    return math.sqrt(1.0 - exact_pow(b2, s)) / (1.0 - exact_pow(b1, s))


def _point(g: tuple, p: tuple, s: tuple, c: tuple) -> tuple:
    """One run's step on a 2-D point (:attr:`~optimizers.base.Optimizer.point_rule`), the package's step on a
    vector of two with its 2 × 2 matrices as entries; the eigenbasis, the float32 QR and the (stable, NaN
    last) sort of two eigenvalue estimates written out."""
    g0, g1 = g
    m0, m1, v0, v1, a00, a01, a10, a11, q00, q01, q10, q11 = s
    first, full, w1, w2, eps, normalize, bias, refresh, wd, shrink = c
    if first:  # step 1 only gathers GG (and takes Q from eigh); θ stays
        if full:
            a00, a01 = ops.lerp(a00, g0 * g0, w2), ops.lerp(a01, g0 * g1, w2)
            a10, a11 = ops.lerp(a10, g1 * g0, w2), ops.lerp(a11, g1 * g1, w2)
            _, _, cos, sin = sym2_eig_formula(a00 + EIGH_JITTER, a10 + 0.0, a11 + EIGH_JITTER)
            q00, q01, q10, q11 = cos, -sin, sin, cos
        return (0.0, 0.0), (m0, m1, v0, v1, a00, a01, a10, a11, q00, q01, q10, q11)
    m0, m1 = ops.lerp(m0, g0, w1), ops.lerp(m1, g1, w1)
    pg0, pg1 = mat2_vec(q00, q10, q01, q11, g0, g1) if full else (g0, g1)  # gᵀQ
    v0, v1 = ops.lerp(v0, pg0 * pg0, w2), ops.lerp(v1, pg1 * pg1, w2)
    pm0, pm1 = mat2_vec(q00, q10, q01, q11, m0, m1) if full else (m0, m1)
    r0, r1 = pm0 / (ops.sqrt(v0) + eps), pm1 / (ops.sqrt(v1) + eps)
    u0, u1 = mat2_vec(q00, q01, q10, q11, r0, r1) if full else (r0, r1)  # back: Q r
    if normalize:
        rms = ops.sqrt((0.0 + u0 * u0 + u1 * u1) / 2.0) + eps
        u0, u1 = u0 / rms, u1 / rms
    u0, u1 = bias * u0, bias * u1
    if full:
        a00, a01 = ops.lerp(a00, g0 * g0, w2), ops.lerp(a01, g0 * g1, w2)
        a10, a11 = ops.lerp(a10, g1 * g0, w2), ops.lerp(a11, g1 * g1, w2)
        if refresh:  # one power iteration GG·Q, columns sorted by their estimated eigenvalues, largest first
            p00, p10 = mat2_vec(a00, a01, a10, a11, q00, q10)
            p01, p11 = mat2_vec(a00, a01, a10, a11, q01, q11)
            n0, n1 = -(0.0 + q00 * p00 + q10 * p10), -(0.0 + q01 * p01 + q11 * p11)
            swap = (n1 < n0) | ((n0 != n0) & (n1 == n1))
            v0, v1 = ops.where(swap, v1, v0), ops.where(swap, v0, v1)
            q00, q01, q10, q11 = qr2_q_float32(ops.where(swap, p01, p00), ops.where(swap, p11, p10))
    state = (m0, m1, v0, v1, a00, a01, a10, a11, q00, q01, q10, q11)
    if wd:
        return (u0 * shrink + wd * p[0], u1 * shrink + wd * p[1]), state
    return (u0, u1), state


class SOAP(Optimizer):
    r"""SOAP: Adam in the eigenbasis of Shampoo's statistics, following ``pytorch_optimizer.SOAP`` (kozistr, 4.1.0).

    .. math::
        GG_t = \operatorname{lerp}(GG_{t-1}, g g^\top, 1-\beta_2),\quad
        Q = \operatorname{eig}(GG)\ \text{(refreshed every } f \text{ steps)}

        m_t = \operatorname{lerp}(m_{t-1}, g, 1-\beta_1),\quad
        v_t = \operatorname{lerp}(v_{t-1}, (Q^\top g)^2, 1-\beta_2)

        \theta_t = \left(\theta_{t-1} - \eta\,\tfrac{\sqrt{1-\beta_2^{s}}}{1-\beta_1^{s}}\,
        Q\,\frac{Q^\top m_t}{\sqrt{v_t}+\epsilon}\right)(1-\eta\lambda),\quad s = t-1

    A run's parameters are one vector. The package's default ``precondition_1d=False`` leaves a
    vector unpreconditioned (``Q`` empty: plain Adam with SOAP's step-1 skip), which on a 2-D point would
    show nothing of SOAP. **Our default is ``precondition_1d=True``**: one ``d × d`` statistics matrix
    ``GG`` and its eigenbasis ``Q`` per run, shape ``(k, d, d)``, the full 2 × 2 preconditioner; switch
    it off for the package's default behaviour. Every other default is the package's.

    As the package does: step 1 only gathers ``GG`` (and takes ``Q`` from ``eigh``), θ does not move;
    from then on the step count ``s = t − 1`` enters the bias correction; the first moment ``m`` is
    kept in parameter space and only the second moment ``v`` in the eigenbasis; weight decay is
    decoupled and applied after the step; ``GG`` is updated with the raw gradient after the step; every
    ``precondition_frequency`` steps ``Q`` is refreshed by one power iteration ``QR(GG Q)`` in float32,
    with ``v`` reordered by the estimated eigenvalues. ``eigh`` and the float32 QR are closed forms for
    d = 2 (see :mod:`optimizers.matrix_ops`), numpy's LAPACK otherwise. The cross term ``η²λ`` of the
    decay uses the base lr (a schedule scales the rest). ``shampoo_beta`` is β₂ (the package's
    ``None``); ``merge_dims``, ``max_precondition_dim`` and ``data_format`` do nothing on a vector and
    are not offered.
    """

    name = "soap"
    title = "SOAP"
    family = "modern"
    summary = "Adam run in the eigenbasis of Shampoo's gradient statistics, so its per-axis scale turns with the valley."
    latex = (
        r"\begin{aligned}GG_t&=\beta_2 GG_{t-1}+(1-\beta_2)g_t g_t^\top,\quad Q=\operatorname{eig}(GG)\\"
        r"m_t&=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad v_t=\beta_2 v_{t-1}+(1-\beta_2)(Q^\top g_t)^2\\"
        r"\theta_t&=\left(\theta_{t-1}-\eta\,\frac{\sqrt{1-\beta_2^{t-1}}}{1-\beta_1^{t-1}}\,"
        r"Q\,\frac{Q^\top m_t}{\sqrt{v_t}+\epsilon}\right)(1-\eta\lambda)\end{aligned}"
    )
    reference = "pytorch_optimizer.SOAP (kozistr 4.1.0); Vyas et al. 2024"
    specs = (
        lr_spec(3e-3), BETA1, BETA2,
        Spec("weight_decay", 1e-2, low=0.0, high=100.0, ui_high=1.0,
             help="λ: decoupled decay, θ ← θ(1 − ηλ) after each step.", label="weight decay"),
        Spec("precondition_frequency", 10, low=1, high=10_000, ui_high=100,
             help="Refresh the eigenbasis Q by one power iteration every this many steps.", label="refresh every"),
        Spec("precondition_1d", True,
             help="Keep a full d × d matrix for the run's vector (the package's default is off: plain Adam).",
             label="full matrix"),
        Spec("correct_bias", True, help="Scale the step by √(1 − β₂ˢ)/(1 − β₁ˢ).", label="bias correction"),
        Spec("normalize_gradient", False, help="Divide the step by its root mean square.", label="normalize step"),
        EPS,
    )
    state_fields = (
        StateField("exp_avg", "m (first moment)", "Running average of the gradient, in parameter space.",
                   role="momentum"),
        StateField("exp_avg_sq", "v (second moment, eigenbasis)",
                   "Running average of the squared gradient projected on Q's columns (largest eigenvalue first)."),
        StateField("gg_eig", "λ(GG) (eigenvalues)", "Eigenvalues of the statistics GG, an average of g gᵀ, largest first.",
                   derive=_eigs),
        StateField("basis_angle", "angle of Q's first column (°)",
                   "Direction, in degrees from the x-axis, of the basis vector in which Adam scales the largest gradients.",
                   per="run", derive=_angle),
    )

    point_rule = _point
    point_rows = (("exp_avg[0]", "exp_avg[1]"), ("exp_avg_sq[0]", "exp_avg_sq[1]"), ("GG[0,0]", "GG[0,1]"),
                  ("GG[1,0]", "GG[1,1]"), ("Q[0,0]", "Q[0,1]"), ("Q[1,0]", "Q[1,1]"))

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    @property
    def direction_uses_lr(self) -> bool:
        """Weight decay's cross term ``η²λ`` reads the base lr inside the direction."""
        return bool(self.hparams["weight_decay"])

    def kernel_coefs(self, t: int) -> tuple[Any, ...]:
        """:func:`_point`'s numbers at step ``t``."""
        h = self.hparams
        b1, b2, wd = h["beta1"], h["beta2"], float(h["weight_decay"])
        return (float(t == 1), float(self.full), 1.0 - b1, 1.0 - b2, float(h["eps"]), float(h["normalize_gradient"]),
                _bias(b1, b2, t) if h["correct_bias"] and t > 1 else 1.0,
                float(t > 1 and (t - 1) % h["precondition_frequency"] == 0), wd,
                1.0 - self.lr_at(t) * wd if wd else 1.0)

    @property
    def full(self) -> bool:
        """Whether the run's vector gets a ``d × d`` preconditioner (``precondition_1d``)."""
        return bool(self.hparams["precondition_1d"])

    def init_state(self, params: np.ndarray) -> State:
        k, d = params.shape
        state: State = {"exp_avg": np.zeros_like(params), "exp_avg_sq": np.zeros_like(params)}
        if self.full:
            # Filled at step 1 from the first gradient, as the package's init_group does.
            state["GG"] = np.zeros((k, d, d))
            state["Q"] = np.zeros((k, d, d))
        return state
