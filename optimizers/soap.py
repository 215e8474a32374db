"""SOAP (Vyas et al., 2024), as kozistr's pytorch-optimizer ``SOAP`` runs it on a vector."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from common.spec import Spec
from optimizers.adam import EPS
from optimizers.base import Optimizer, State, StateField, StepView, exact_pow, lr_spec, require_below
from optimizers.matrix_ops import eigenbasis, eigvals_desc, matvec, outer, qr_q_float32, vecmat
from optimizers.shampoo import MAX_DIM
from optimizers.signsgd import torch_lerp

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

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    @property
    def full(self) -> bool:
        """Whether the run's vector gets a ``d × d`` preconditioner (``precondition_1d``)."""
        return bool(self.hparams["precondition_1d"])

    def init_state(self, params: np.ndarray) -> State:
        k, d = params.shape
        state: State = {"exp_avg": np.zeros_like(params), "exp_avg_sq": np.zeros_like(params)}
        if self.full:
            if d > MAX_DIM:
                raise ValueError(f"{self.name} keeps a {d} × {d} matrix per run; it runs up to {MAX_DIM} parameters "
                                 "(a surface, or a small network), or switch precondition_1d off")
            # Filled at step 1 from the first gradient, as the package's init_group does.
            state["GG"] = np.zeros((k, d, d))
            state["Q"] = np.zeros((k, d, d))
        return state

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        h = self.hparams
        b1, b2 = h["beta1"], h["beta2"]
        if t == 1:
            new = dict(state)
            if self.full:
                new["GG"] = torch_lerp(state["GG"], outer(grads), 1.0 - b2)
                new["Q"] = eigenbasis(new["GG"])
            return np.zeros_like(params), new

        def project(x: np.ndarray) -> np.ndarray:
            return vecmat(x, state["Q"]) if self.full else x

        def project_back(x: np.ndarray) -> np.ndarray:
            return matvec(state["Q"], x) if self.full else x

        m = torch_lerp(state["exp_avg"], grads, 1.0 - b1)
        v = torch_lerp(state["exp_avg_sq"], project(grads) ** 2, 1.0 - b2)
        u = project_back(project(m) / (np.sqrt(v) + h["eps"]))
        if h["normalize_gradient"]:
            u = u / (np.sqrt(np.mean(u * u, axis=-1, keepdims=True)) + h["eps"])
        step = _bias(b1, b2, t) * u if h["correct_bias"] else u
        new = {"exp_avg": m, "exp_avg_sq": v}
        if self.full:
            new["GG"], new["Q"], new["exp_avg_sq"] = self._refresh(state["GG"], state["Q"], v, grads, t - 1)
        wd = h["weight_decay"]
        if not wd:
            return step, new
        lr = self.lr_at(t)
        # θ(1 − ηλ) after θ − η·step, written as θ − η·d.
        return step * (1.0 - lr * wd) + wd * params, new

    def _refresh(self, gg: np.ndarray, q: np.ndarray, v: np.ndarray, grads: np.ndarray, s: int) -> tuple[Any, ...]:
        """The package's ``update_pre_conditioner`` after step ``s = t − 1``: GG, then Q and v every f steps."""
        gg = torch_lerp(gg, outer(grads), 1.0 - self.hparams["beta2"])
        if s % self.hparams["precondition_frequency"] != 0:
            return gg, q, v
        product = gg @ q if gg.shape[-1] != 2 else np.stack([matvec(gg, q[..., :, j]) for j in range(2)], axis=-1)
        est = np.sum(q * product, axis=-2)
        order = np.argsort(-est, axis=-1, kind="stable")
        v = np.take_along_axis(v, order, axis=-1)
        product = np.take_along_axis(product, order[..., None, :], axis=-1)
        return gg, qr_q_float32(product), v
