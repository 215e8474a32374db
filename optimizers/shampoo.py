"""Shampoo (Gupta, Koren & Singer, 2018), as kozistr's pytorch-optimizer ``Shampoo`` runs it on a vector."""

from __future__ import annotations

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.base import Optimizer, State, StateField, StepView, lr_spec, require_below
from optimizers.matrix_ops import (
    eigvals_desc,
    inverse_sqrt_formula,
    leading_angle,
    mat2_vec,
)
from optimizers.qhm import DECOUPLE, WEIGHT_DECAY


def _eigs(opt: Shampoo, s: StepView) -> np.ndarray:
    return eigvals_desc(s.state["pre_cond"])


def _angle(opt: Shampoo, s: StepView) -> np.ndarray:
    return leading_angle(s.state["pre_cond"])


def _gains(opt: Shampoo, s: StepView) -> np.ndarray:
    """``η_t λᵢ^(−1/2)``: the step per unit of gradient along each eigenvector of H, largest λ first."""
    return s.lr[:, None] * eigvals_desc(s.state["pre_cond"]) ** -0.5


def _point(g: tuple, p: tuple, s: tuple, c: tuple) -> tuple:
    """One run's step on a 2-D point (:attr:`~optimizers.base.Optimizer.point_rule`), the package's step on a
    vector of two with its 2 × 2 matrices as entries, ``H^(−1/2)`` from the closed form of
    :mod:`optimizers.matrix_ops`."""
    g0, g1 = g
    b0, b1, h00, h01, h10, h11, r00, r01, r10, r11 = s
    mu, mix, coupled_wd, decoupled_wd, refresh = c
    if mix:
        g0, g1 = ops.lerp(g0, b0, mu), ops.lerp(g1, b1, mu)
    if coupled_wd:
        g0, g1 = g0 + coupled_wd * p[0], g1 + coupled_wd * p[1]
    h00, h01, h10, h11 = h00 + g0 * g0, h01 + g0 * g1, h10 + g1 * g0, h11 + g1 * g1
    if refresh:
        r00, r01, r11 = inverse_sqrt_formula(h00, h10, h11)
        r10 = r01
    u0, u1 = mat2_vec(r00, r10, r01, r11, g0, g1)  # gᵀ H^(−1/2): the transpose times g
    state = (u0, u1, h00, h01, h10, h11, r00, r01, r10, r11)
    if decoupled_wd:
        return (u0 + decoupled_wd * p[0], u1 + decoupled_wd * p[1]), state
    return (u0, u1), state


class Shampoo(Optimizer):
    r"""Shampoo, following ``pytorch_optimizer.Shampoo`` (kozistr, 4.1.0) on a 1-D parameter.

    .. math::
        g \leftarrow \operatorname{lerp}(g, b_{t-1}, \mu),\quad g \leftarrow g + \lambda\theta,\quad
        H_t = H_{t-1} + g g^\top,\quad H_0 = \epsilon I

        u_t = H_t^{-1/2} g,\quad b_t = u_t,\quad \theta_t = \theta_{t-1} - \eta\, u_t

    The package preconditions each dimension of a tensor with its own matrix and takes the root
    ``−1/(2·order)``. A run's parameters here are one vector (order 1), so there is exactly one
    ``2 × 2`` matrix ``H`` (``pre_cond_0``) and the root is ``H^{−1/2}``: full-matrix AdaGrad. ``H`` and its
    root are kept per run, shape ``(k, 2, 2)``. The package computes the root by SVD
    (``compute_power_svd``); here the closed-form eigen-decomposition of the symmetric 2 × 2 matrix, which
    agrees to rounding.

    The package's quirks are kept: with momentum, the buffer starts as the first raw gradient and
    afterwards holds the previous *preconditioned* step, and ``lerp`` mixes it into the new raw gradient
    before the statistics are updated; the root is recomputed every ``preconditioning_compute_steps``
    steps and is zero before the first time (no move until then). ``fixed_decay`` and ``maximize``
    are not offered. Because ``εI`` and ``g gᵀ`` turn with the problem, the path of a rotated problem is
    the rotated path: Shampoo follows a rotated valley that Adam's per-coordinate scale cannot.
    It runs on 2-D surfaces only, as the issue that brought it asks: a network's θ would be one P × P
    matrix, not the package's per-layer factors, so the networks page leaves it out with that reason.
    """

    name = "shampoo"
    title = "Shampoo"
    family = "modern"
    summary = "Full-matrix AdaGrad on a 2-D point: the gradient times H^(−1/2), H the sum of g gᵀ, so it turns with the valley."
    latex = (
        r"\begin{aligned}H_t&=H_{t-1}+g_t g_t^\top,\quad H_0=\epsilon I\\"
        r"\theta_t&=\theta_{t-1}-\eta\,H_t^{-1/2}g_t\end{aligned}"
    )
    reference = "pytorch_optimizer.Shampoo (kozistr 4.1.0); Gupta, Koren & Singer 2018"
    specs = (
        lr_spec(1e-3),
        Spec("momentum", 0.0, low=0.0, high=1.0, ui_high=0.99,
             help="μ: mixes the previous preconditioned step into the new gradient (0 = none).", label="momentum μ"),
        WEIGHT_DECAY, DECOUPLE,
        Spec("preconditioning_compute_steps", 1, low=1, high=10_000, ui_high=100,
             help="Recompute H^(−1/2) every this many steps; zero until the first time.", label="root every"),
        Spec("matrix_eps", 1e-6, low=0.0, high=10.0, log=True, ui_low=1e-12, ui_high=1.0,
             help="ε: H starts as εI, so H^(−1/2) exists from step 1.", label="matrix ε"),
    )
    state_fields = (
        StateField("momentum_buffer", "b (previous step)",
                   "The previous preconditioned step H^(−1/2) g, mixed into the next gradient by momentum.",
                   role="momentum"),
        StateField("pre_cond_eig", "λ(H) (eigenvalues)",
                   "Eigenvalues of the statistics H = εI + Σ g gᵀ, largest first.", derive=_eigs),
        StateField("pre_cond_angle", "angle of H's top eigenvector (°)",
                   "Direction, in degrees from the x-axis, along which gradients have been largest.",
                   per="run", derive=_angle),
        StateField("gain", "η/√λ (step per unit gradient)",
                   "How far one unit of gradient moves θ along each eigenvector of H, largest λ first.",
                   derive=_gains),
    )

    point_rule = _point
    point_rows = (("momentum_buffer[0]", "momentum_buffer[1]"), ("pre_cond[0,0]", "pre_cond[0,1]"),
                  ("pre_cond[1,0]", "pre_cond[1,1]"), ("inv_pre_cond[0,0]", "inv_pre_cond[0,1]"),
                  ("inv_pre_cond[1,0]", "inv_pre_cond[1,1]"))

    def check(self) -> None:
        require_below(self.name, self.hparams, ("momentum",))

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        """:func:`_point`'s numbers at step ``t``: μ, whether it mixes, the coupled and decoupled decay, whether the
        root is recomputed."""
        h = self.hparams
        mu, wd, decoupled = float(h["momentum"]), float(h["weight_decay"]), bool(h["weight_decouple"])
        return (mu, float(mu > 0.0 and t > 1), 0.0 if decoupled else wd, wd if decoupled else 0.0,
                float(t % h["preconditioning_compute_steps"] == 0))

    def init_state(self, params: np.ndarray) -> State:
        k, d = params.shape
        state = {"pre_cond": np.broadcast_to(self.hparams["matrix_eps"] * np.eye(d), (k, d, d)).copy(),
                 "inv_pre_cond": np.zeros((k, d, d))}
        if self.hparams["momentum"] > 0.0:
            state["momentum_buffer"] = np.zeros_like(params)
        return state
