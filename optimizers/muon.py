"""Muon (Jordan et al. 2024), as ``torch.optim.Muon`` runs it, with AdamW for the parameters Muon is not for."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from common import ops
from common.jit import shared
from common.ops import lerp as torch_lerp
from common.spec import Spec
from optimizers.adamw import AdamW
from optimizers.base import Optimizer, RunRule, State, StateField, StepView, lr_spec, require_below
from optimizers.layout import HIDDEN_WEIGHT, Block, Layout

#: torch.optim._muon's DEFAULT_A, DEFAULT_B, DEFAULT_C (Keller Jordan's quintic), EPS and DEFAULT_NS_STEPS.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_EPS = 1e-7
NS_STEPS = 5
#: torch accepts up to 99 iterations; each costs three matrix products per hidden matrix and network, so a link
#: may ask for at most twice the default.
MAX_NS_STEPS = 10
ADJUST_LR_FNS = ("original", "match_rms_adamw")


def newton_schulz(G: np.ndarray, coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
                  steps: int = NS_STEPS, eps: float = NS_EPS) -> np.ndarray:
    r"""Orthogonalize a stack of matrices by the quintic Newton–Schulz iteration, as
    ``torch.optim._muon._zeropower_via_newtonschulz`` does, in float64 (torch casts to bfloat16 first).

    With :math:`X_0 = G / \max(\|G\|_F, \varepsilon)` (transposed first when G is tall) each step is

    .. math::
        A = XX^\top,\qquad X \leftarrow aX + (bA + cA^2)X,

    so every singular value σ of X follows :math:`σ \leftarrow aσ + bσ^3 + cσ^5` while the singular vectors
    stay: the result is :math:`U S' V^\top` with :math:`S'` near 1, not exactly :math:`UV^\top`. A matrix of
    rank one (a row or a column) has the single singular value :math:`\|G\|_F / \max(\|G\|_F, ε)`, which
    is 1 unless ``‖G‖ < ε``; its result is :func:`ns_gain` ``(1)`` times ``G / ‖G‖``: normalization.

    Parameters
    ----------
    G : ndarray, shape (k, m, n)
        One matrix per run.
    coefficients : (a, b, c)
    steps : int
    eps : float

    Returns
    -------
    ndarray, shape (k, m, n)
    """
    a, b, c = coefficients
    tall = G.shape[1] > G.shape[2]
    X = G.transpose(0, 2, 1) if tall else G
    if X.shape[1] == 1:
        X = _newton_schulz_row(X[:, 0, :], a, b, c, steps, eps)[:, None, :]
    else:
        norm = np.sqrt(np.einsum("kij,kij->k", X, X))
        X = X / np.maximum(norm, eps)[:, None, None]
        for _ in range(int(steps)):
            gram = X @ X.transpose(0, 2, 1)
            X = a * X + (b * gram + c * (gram @ gram)) @ X
    return X.transpose(0, 2, 1) if tall else X


def _newton_schulz_row(x: np.ndarray, a: float, b: float, c: float, steps: int, eps: float) -> np.ndarray:
    """:func:`newton_schulz` of one row per run, ``x`` ``(k, n)`` -> ``(k, n)``: the same iteration, written out.

    A row's Gram matrix is one number per run and every matrix product has a single term, so the products are
    plain products (numpy's stacked matmul and its reductions along a short last axis cost ~50× more on a basin
    map's 10,000 points). Runs lie along the last axis and sums run over the row in index order, so a run's
    numbers do not depend on how many runs share the batch.
    """
    y = np.ascontiguousarray(x.T)  # (n, k)
    y = y / np.maximum(np.sqrt(_sum_rows(y * y)), eps)
    for _ in range(int(steps)):
        gram = _sum_rows(y * y)
        y = a * y + (b * gram + c * (gram * gram)) * y
    return y.T


def _sum_rows(y: np.ndarray) -> np.ndarray:
    """``Σ_j y[j]`` of ``(n, k)``, added in index order (numpy's own reductions pick their order by shape)."""
    total = y[0].copy()
    for j in range(1, y.shape[0]):
        total += y[j]
    return total


@shared
def ns_factor(sigma: Any, a: float, b: float, c: float) -> Any:
    """The factor ``a + bσ² + cσ⁴`` by which one Newton–Schulz step multiplies a singular value σ (and, for a
    matrix of rank one, the matrix itself)."""
    s2 = sigma * sigma
    return a + (b * s2 + c * (s2 * s2))


def ns_gain(sigma: float, coefficients: tuple[float, float, float] = NS_COEFFICIENTS, steps: int = NS_STEPS) -> float:
    """Where the Newton–Schulz polynomial ``σ ← σ(a + bσ² + cσ⁴)`` takes one singular value in ``steps`` steps.

    With torch's coefficients it does not converge to 1: from σ = 1 it alternates near 0.70 and 1.11
    (0.696 after 5 steps), the price of the steep slope at 0 that lifts small singular values fast.
    """
    a, b, c = coefficients
    for _ in range(int(steps)):
        sigma = sigma * ns_factor(sigma, a, b, c)
    return sigma


def adjust_lr_ratio(adjust_lr_fn: str, out_in: tuple[int, int]) -> float:
    """torch's ``_adjust_lr`` factor for a matrix of torch shape ``(A, B) = (fan_out, fan_in)``.

    ``original`` (Keller Jordan's): ``√max(1, A/B)``; ``match_rms_adamw`` (Moonshot's): ``0.2 √max(A, B)``.
    """
    A, B = out_in
    if adjust_lr_fn == "original":
        return math.sqrt(max(1, A / B))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(A, B))
    raise ValueError(f"adjust_lr_fn must be one of {', '.join(ADJUST_LR_FNS)}, got {adjust_lr_fn!r}")


def surface_layout(d: int) -> Layout:
    """How Muon reads a parameter vector that comes without a layout (a point on a surface): one ``1 × d``
    matrix, the weight of a single linear unit with d inputs (torch shape ``(1, d)``)."""
    return Layout((Block("θ", slice(0, d), (d, 1), HIDDEN_WEIGHT, out_in=(1, d)),), d)


SURFACE_GAIN = ns_gain(1.0)


def _lerp(a: np.ndarray, b: np.ndarray, w: Any) -> np.ndarray:
    """:func:`common.ops.lerp` (torch's ``lerp``), computing only the branch a scalar weight takes."""
    if isinstance(w, np.ndarray):
        return torch_lerp(a, b, w)
    return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1.0 - w)


_MUON_FIELDS = "the Muon matrices (on a surface, all of θ)"


def _bbar_norm(opt: Muon, s: StepView) -> Any:
    """``‖B̃‖`` over the Muon matrices, what Newton–Schulz normalizes away (NaN without any)."""
    if "momentum_buffer" not in s.state:
        return np.nan
    parts = opt._orthogonalized(s.grads, s.state["momentum_buffer"], want_o=False)
    return np.sqrt(sum(np.einsum("kn,kn->k", u, u) for _, _, u, _ in parts))


def _o_norm(opt: Muon, s: StepView) -> Any:
    """``‖O‖`` over the Muon matrices, the length of the orthogonalized update before the lr (NaN without any)."""
    if "momentum_buffer" not in s.state:
        return np.nan
    parts = opt._orthogonalized(s.grads, s.state["momentum_buffer"])
    return np.sqrt(sum(np.einsum("kn,kn->k", o, o) for _, _, _, o in parts))


# Without a layout (a point on a surface, or any θ given as one vector) θ is one 1 × d matrix, of rank one: its
# Newton–Schulz step is its direction times the polynomial's factor on its one singular value, so Muon is
# normalized momentum. The update in four phases (see :class:`~optimizers.base.RunRule`); ``c`` is
# :meth:`Muon.kernel_coefs`: 1 − μ, μ, Nesterov, a, b, c, the steps, ε, the lr adjustment (0 original, 1
# match_rms_adamw) and λ.
def _before(r: tuple, c: tuple) -> tuple:
    """Nothing per run before the step."""
    return ()


@shared
def _look_ahead(g: Any, buf: Any, c: tuple) -> Any:
    """B̃: the updated buffer, or with Nesterov the gradient pulled towards it (a select, not a branch: numba's
    inlining of a branch that returns from either side trips its own SSA check)."""
    return ops.where(c[2] != 0.0, ops.lerp(g, buf, c[1]), buf)


def _coord(g: Any, p: Any, s: tuple, a: tuple, c: tuple) -> tuple:
    """Per coordinate: the buffer B ← lerp(B, g, 1 − μ); the term of ‖B̃‖²."""
    buf = ops.lerp(s[0], g, c[0])
    y = _look_ahead(g, buf, c)
    return (y * y,), (buf,)


def _after(sums: tuple, r: tuple, a: tuple, c: tuple, n: float) -> tuple:
    """Per run: 1/max(‖B̃‖, ε) times the Newton–Schulz factors on B̃'s singular value, times torch's lr adjustment
    for a ``(1, n)`` matrix."""
    length = ops.sqrt(sums[0])
    norm = ops.maximum(length, c[7])
    sigma, gain = length / norm, 1.0
    for _ in range(int(c[6])):
        f = ns_factor(sigma, c[3], c[4], c[5])
        sigma, gain = sigma * f, gain * f
    ratio = 0.2 * ops.sqrt(ops.maximum(1.0, n)) if c[8] else ops.sqrt(ops.maximum(1.0, 1.0 / n))
    return (), (ratio * gain / norm,)


def _out(g: Any, p: Any, s_new: tuple, q: tuple, c: tuple) -> Any:
    """Per coordinate: the orthogonalized B̃, scaled, and decoupled decay."""
    d = _look_ahead(g, s_new[0], c) * q[0]
    return d + c[9] * p if c[9] else d


@dataclass(frozen=True)
class _Plan:
    """The groups of one layout: Muon's matrices with their lr factors, and AdamW's coordinates."""

    matrices: tuple[Block, ...]
    ratios: tuple[float, ...]
    adamw: np.ndarray  # (n,) positions in θ


class Muon(Optimizer):
    r"""Muon, following ``torch.optim.Muon`` (torch 2.13, ``torch/optim/_muon.py``) for each hidden weight matrix,
    and ``torch.optim.AdamW`` for biases, batch-norm parameters and the output layer, as torch's documentation
    prescribes ("Muon is an optimizer for 2D parameters of neural network hidden layers. Other parameters, such as
    bias, and embedding, should be optimized by a standard method such as AdamW").

    Per hidden weight matrix ``W`` (torch shape ``(A, B) = (fan_out, fan_in)``):

    .. math::
        B_t = \mu B_{t-1} + (1-\mu) g_t,\quad
        \tilde B_t = (1-\mu) g_t + \mu B_t \ \text{(nesterov)},\quad
        O_t = \mathrm{NS}^{(a,b,c)}_5(\tilde B_t)

        W_t = W_{t-1}(1 - \eta\lambda) - \eta\sqrt{\max(1, A/B)}\,O_t

    The momentum is torch's code, ``buf.lerp_(grad, 1 − μ)`` and ``grad.lerp(buf, μ)``: an exponential average.
    (torch's docstring writes ``B_t = μB_{t−1} + g_t`` and ``g_t + μB_t``; Newton–Schulz normalizes first, so the two
    differ only through ε.) Newton–Schulz is :func:`newton_schulz`; torch runs it in bfloat16, here it runs in
    float64, which is how ``tests/test_muon.py`` compares the two. Decoupled weight decay uses the unadjusted lr,
    as torch does.

    **Which parameters.** A problem that declares a :class:`~optimizers.layout.Layout` (a network) is bound to
    it by :func:`optimizers.run`: its ``hidden weight`` blocks (every layer's weights except the output layer's)
    get Muon, every other block AdamW with its own hyperparameters. A net without hidden layers therefore
    trains with AdamW alone. The AdamW part moves by ``adamw_lr``; a schedule scales both parts alike.

    **On a 2-D surface** there is no layout and θ is one 1×2 matrix (:func:`surface_layout`). A matrix of rank
    one has one singular value, so orthogonalizing it is normalizing it: the step is
    ``η · ns_gain(1) · B̃/‖B̃‖`` (plus the decay), normalized momentum whose length never depends on the
    gradient's size. With torch's coefficients ``ns_gain(1) = 0.696`` (5 steps). torch itself refuses 1-D
    parameters ("Muon only supports 2D parameters"); a 1×2 one it accepts, and treats the same way.

    **Defaults** are torch's (lr 1e-3, weight decay 0.1, momentum 0.95, Nesterov, ε 1e-7, 5 steps of
    (3.4445, −4.7750, 2.0315), lr adjustment "original"); AdamW's are those of torch's Muon example
    (lr 3e-4, weight decay 0.01) with ``torch.optim.AdamW``'s betas (0.9, 0.999) and ε 1e-8. Where the ranges
    differ from torch: lr > 0 (torch allows 0), μ ≤ 1 (torch takes any μ ≥ 0; above 1 the average extrapolates)
    and at most 10 Newton–Schulz steps (torch: fewer than 100), so a link cannot make a step 20 times dearer.
    """

    name = "muon"
    title = "Muon"
    family = "modern"
    summary = ("Orthogonalizes each hidden weight matrix's momentum by Newton–Schulz (AdamW for the rest); "
               "on a 2-D surface that is normalized momentum.")
    latex = (
        r"\begin{aligned}B_t&=\mu B_{t-1}+(1-\mu)g_t,\quad \bar B_t=(1-\mu)g_t+\mu B_t,\quad "
        r"O_t=\operatorname{NS}_5(\bar B_t)\\"
        r"\theta_t&=\theta_{t-1}(1-\eta\lambda)-\eta\sqrt{\max(1,\,\text{fan}_{out}/\text{fan}_{in})}\;O_t"
        r"\quad\text{(each hidden weight matrix; AdamW for the rest)}\\"
        rf"\text{{2-D surface: }}O_t&={SURFACE_GAIN:.3f}\,\frac{{\bar B_t}}{{\|\bar B_t\|}}"
        r"\quad\text{(normalized momentum)}\end{aligned}"
    )
    reference = "Jordan et al. 2024, as torch.optim.Muon runs it; torch.optim.AdamW for biases and the output layer"
    #: AdamW's settings move only the biases and output layer of a network; on a surface θ is one matrix.
    layout_specs = ("adamw_lr", "adamw_beta1", "adamw_beta2", "adamw_eps", "adamw_weight_decay")
    specs = (
        lr_spec(1e-3),
        Spec("momentum", 0.95, low=0.0, high=1.0, ui_high=0.999,
             help="μ: the buffer is an average B ← μB + (1−μ)g (torch's lerp).", label="momentum μ"),
        Spec("nesterov", True, help="Orthogonalize (1−μ)g + μB, a look-ahead, instead of B.", label="Nesterov"),
        Spec("weight_decay", 0.1, low=0.0, high=100.0, ui_high=1.0,
             help="λ: shrinks the Muon matrices by ηλ each step (torch's default 0.1; 0 on a surface gives "
                  "pure normalized momentum).", label="weight decay"),
        Spec("ns_steps", NS_STEPS, low=0, high=MAX_NS_STEPS,
             help=f"Newton–Schulz iterations (torch's default {NS_STEPS}; 0 only normalizes).", label="NS steps"),
        Spec("ns_a", NS_COEFFICIENTS[0], low=-10.0, high=10.0, help="a in σ ← aσ + bσ³ + cσ⁵ (torch: 3.4445).",
             label="NS a"),
        Spec("ns_b", NS_COEFFICIENTS[1], low=-10.0, high=10.0, help="b in σ ← aσ + bσ³ + cσ⁵ (torch: −4.7750).",
             label="NS b"),
        Spec("ns_c", NS_COEFFICIENTS[2], low=-10.0, high=10.0,
             help="c in σ ← aσ + bσ³ + cσ⁵ (torch: 2.0315; a, b, c = 1.5, −0.5, 0 is the classic cubic, exactly 1).",
             label="NS c"),
        Spec("eps", NS_EPS, low=0.0, low_open=True, high=1.0, log=True, ui_low=1e-12, ui_high=1e-2,
             help="Floor of ‖B̃‖ when normalizing before Newton–Schulz.", label="ε"),
        Spec("adjust_lr_fn", "original", choices=ADJUST_LR_FNS,
             help="original: η·√max(1, fan_out/fan_in) (Keller Jordan); match_rms_adamw: η·0.2·√max(fan_out, fan_in) "
                  "(Moonshot).", label="lr adjustment"),
        Spec("adamw_lr", 3e-4, low=0.0, low_open=True, high=1e3, log=True, ui_low=1e-5, ui_high=10.0,
             help="Networks: AdamW's learning rate for biases and the output layer (torch's example: 3e-4).",
             label="AdamW lr"),
        Spec("adamw_beta1", 0.9, low=0.0, high=1.0, ui_high=0.999, help="Networks: AdamW's β₁; must be < 1.",
             label="AdamW β₁"),
        Spec("adamw_beta2", 0.999, low=0.0, high=1.0, ui_low=0.9, ui_high=0.9999,
             help="Networks: AdamW's β₂; must be < 1.", label="AdamW β₂"),
        Spec("adamw_eps", 1e-8, low=0.0, low_open=True, high=10.0, log=True, ui_low=1e-12, ui_high=1.0,
             help="Networks: AdamW's ε.", label="AdamW ε"),
        Spec("adamw_weight_decay", 0.01, low=0.0, high=100.0, ui_high=0.5,
             help="Networks: AdamW's decoupled decay (torch's example: 0.01).", label="AdamW weight decay"),
    )
    state_fields = (
        StateField("momentum_buffer", "B (momentum buffer)", f"Average of the gradient on {_MUON_FIELDS}.",
                   role="momentum"),
        StateField("m", "m (AdamW first moment)", "AdamW's average of the gradient on biases and the output layer."),
        StateField("v", "v (AdamW second moment)", "AdamW's average of the squared gradient there."),
        StateField("bbar_norm", "‖B̃‖ (momentum norm)",
                   "Size of what Newton–Schulz orthogonalizes; it does not reach the step.", per="run",
                   derive=_bbar_norm),
        StateField("o_norm", "‖O‖ (orthogonalized update)",
                   f"Size of the update before the lr; on a 2-D surface {SURFACE_GAIN:.3f} at every step.", per="run",
                   derive=_o_norm),
    )
    per_run = ("lr", "momentum")
    #: Without a layout θ is one 1 × d matrix: normalized momentum, numpy for any d and compiled for a 2-D point.
    run_rule = RunRule(_before, _coord, _after, _out, coord_state=("momentum_buffer",), run_state=(), terms=1)
    #: The problem's layout, set by :meth:`bind`; ``None``: :func:`surface_layout`.
    layout: Layout | None = None

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        h = self.hparams
        self._adamw = AdamW(lr=h["adamw_lr"], beta1=h["adamw_beta1"], beta2=h["adamw_beta2"], eps=h["adamw_eps"],
                            weight_decay=h["adamw_weight_decay"])

    def check(self) -> None:
        require_below(self.name, self.hparams, ("adamw_beta1", "adamw_beta2"))

    def bind(self, layout: Layout) -> Muon:
        """A copy that runs on ``layout``: Muon on its hidden weights, AdamW on every other block."""
        if not isinstance(layout, Layout):
            raise ValueError(f"muon: bind needs an optimizers.layout.Layout, got {type(layout).__name__}")
        bound = copy.copy(self)
        bound.layout = layout
        bound.__dict__.pop("_plans", None)
        return bound

    @property
    def coefficients(self) -> tuple[float, float, float]:
        """Newton–Schulz ``(a, b, c)``."""
        h = self.hparams
        return (h["ns_a"], h["ns_b"], h["ns_c"])

    def _plan(self, d: int) -> _Plan:
        plans = self.__dict__.setdefault("_plans", {})
        if d not in plans:
            layout = self.layout if self.layout is not None else surface_layout(d)
            if layout.n_params != d:
                raise ValueError(f"muon: the layout describes {layout.n_params} parameters, but θ has {d} per run")
            matrices = layout.of_role(HIDDEN_WEIGHT)
            fn = self.hparams["adjust_lr_fn"]
            ratios = tuple(adjust_lr_ratio(fn, b.out_in or (b.shape[1], b.shape[0])) for b in matrices)
            rest = tuple(b for b in layout.blocks if b.role != HIDDEN_WEIGHT)
            plans[d] = _Plan(matrices, ratios, layout.indices(rest))
        return plans[d]

    def init_state(self, params: np.ndarray) -> State:
        plan = self._plan(params.shape[1])
        state: State = {}
        if plan.matrices:
            state["momentum_buffer"] = np.zeros_like(params)
        if plan.adamw.size:
            state["m"] = np.zeros_like(params)
            state["v"] = np.zeros_like(params)
        return state

    def _orthogonalized(self, grads: np.ndarray, buf: np.ndarray, want_o: bool = True
                        ) -> list[tuple[Block, float, np.ndarray, np.ndarray | None]]:
        """Per Muon matrix: ``(block, lr factor, B̃ (k, n), O (k, n))`` from the gradient and the updated buffer."""
        h = self.hparams
        k, d = grads.shape
        plan = self._plan(d)
        out = []
        for blk, ratio in zip(plan.matrices, plan.ratios, strict=True):
            g, b = grads[:, blk.index], buf[:, blk.index]
            u = _lerp(g, b, h["momentum"]) if h["nesterov"] else b
            o = None
            if want_o:
                o = newton_schulz(u.reshape(k, *blk.shape), self.coefficients, h["ns_steps"], h["eps"]).reshape(k, -1)
            out.append((blk, ratio, u, o))
        return out

    def kernel_coefs(self, t: int) -> tuple[float, ...]:
        """The numbers of the form without a layout (:data:`run_rule`): lerp weights, Newton–Schulz settings, the
        lr adjustment, decay."""
        h = self.hparams
        return (1.0 - h["momentum"], h["momentum"], float(h["nesterov"]), *map(float, self.coefficients),
                float(h["ns_steps"]), float(h["eps"]), float(h["adjust_lr_fn"] == "match_rms_adamw"),
                float(h["weight_decay"]))

    kernel_coefs_steady_from = 1

    def direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int) -> tuple[np.ndarray, State]:
        if self.layout is not None:  # a network: Newton–Schulz per hidden matrix, AdamW for the rest
            return self._layout_direction(grads, state, params, t)
        return super().direction(grads, state, params, t)

    def _layout_direction(self, grads: np.ndarray, state: State, params: np.ndarray, t: int
                          ) -> tuple[np.ndarray, State]:
        """The step on a layout (a network): Newton–Schulz on each hidden weight matrix, AdamW on the rest."""
        h = self.hparams
        plan = self._plan(grads.shape[1])
        d = np.empty_like(grads)
        new: State = {}
        if plan.matrices:
            buf = state["momentum_buffer"].copy()
            for blk in plan.matrices:
                buf[:, blk.index] = _lerp(buf[:, blk.index], grads[:, blk.index], 1.0 - h["momentum"])
            wd = h["weight_decay"]
            for blk, ratio, _, o in self._orthogonalized(grads, buf):
                d[:, blk.index] = ratio * o + wd * params[:, blk.index] if wd else ratio * o
            new["momentum_buffer"] = buf
        if plan.adamw.size:
            i = plan.adamw
            step, moments = self._adamw.direction(grads[:, i], {"m": state["m"][:, i], "v": state["v"][:, i]},
                                                  params[:, i], t)
            # The runner moves every coordinate by η_t · d, with Muon's η; AdamW's coordinates move by its own lr.
            d[:, i] = (h["adamw_lr"] / h["lr"]) * step
            for key in ("m", "v"):
                new[key] = state[key].copy()
                new[key][:, i] = moments[key]
        return d, new
