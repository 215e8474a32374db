"""Schedule-Free SGD and AdamW (Defazio et al., 2024), as Meta's ``schedulefree`` package 1.4.1 runs them.

Three sequences live side by side: ``z``, the plain SGD (or Adam-scaled) iterate;
``x``, the running weighted average of the ``z``'s, which is where the loss is
evaluated and the point to report; and ``y = (1 − β) z + β x``, between the two,
which is where gradients are taken. The parameters this runner steps are ``y``,
as the package holds them in its ``train()`` mode; the state keeps ``z`` and
``x``, with ``x`` recovered from ``y`` and ``z`` exactly as the package's
``eval()`` does. No learning-rate schedule is needed: the average plays its role.

The package updates ``y`` in place, ``y ← y + c (z − y) + η_t (β(1 − c) − 1) g``.
The runner's step is ``θ ← θ − η_t d``, so the direction here is that same move
divided by ``η_t``: ``d = (c/η_t)(y − z) + (1 − β(1 − c)) g`` (equal to the
package's ``y`` to rounding). ``η_t`` (with the package's own linear warm-up)
and the averaging weight ``c`` are per-step numbers from :meth:`kernel_coefs`,
so the update is written once, in :func:`_sgd_rule` and :func:`_adamw_rule`.
An extra schedule from :mod:`optimizers.transforms` scales the step of ``y`` only
(``z`` moves by the method's own ``η_t``); the method is built to need none.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from common import ops
from common.spec import Spec
from optimizers.adam import BETA2, EPS
from optimizers.base import (
    Optimizer,
    State,
    StateField,
    StepView,
    exact_pow,
    lr_spec,
    per_run,
    require_below,
    weight_decay_spec,
)

WARMUP = Spec("warmup_steps", 0, low=0, high=1_000_000, ui_high=1000,
              help="Linear warm-up of the learning rate over this many steps (the package's own; 0: none).",
              label="warm-up steps")
R = Spec("r", 0.0, low=0.0, high=100.0, ui_high=10.0,
         help="Polynomial weighting of the average: step t's point weighs t^r (0: a plain average).", label="r")
WEIGHT_LR_POWER = Spec("weight_lr_power", 2.0, low=0.0, high=100.0, ui_high=4.0,
                       help="Each point of the average also weighs (largest lr so far)^power; matters during warm-up.",
                       label="weight lr power")

Z_FIELD = StateField("z", "z (base iterate)", "The plain gradient-step sequence, z ← z − η_t g: the points that are averaged.",
                     role="point")
X_FIELD = StateField("x", "x (average: where the loss is evaluated)",
                     "The weighted average of the z's, x = (y − (1 − β) z) / β: the point to report.", role="point")


def _c_field(opt: _ScheduleFree, s: StepView) -> np.ndarray:
    """The averaging weight ``c`` of the step, per run."""
    return per_run(opt._averaging(s.t)[1], len(s.lr))[:, 0]


C_FIELD = StateField("c", "c (averaging weight)", "Weight of the new z in the average x: 1/t without warm-up.",
                     per="run", derive=_c_field)


def _sgd_rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """Schedule-Free SGD, written once: ``p`` is ``y``, ``s = (z, x)``, ``c`` from :meth:`ScheduleFreeSGD.kernel_coefs`."""
    z, x = s
    beta, wd, lr, ck, first = c
    if first != 0.0:  # the package starts z at the first point; the compiled state starts at zeros
        z = p
    if wd != 0.0:
        g = g + wd * p
    d = ck * (p - z) / lr + (1.0 - beta * (1.0 - ck)) * g
    z = z - lr * g
    y = p - lr * d
    x = y + (1.0 - 1.0 / beta) * (z - y)
    return d, (z, x)


def _adamw_rule(g: Any, p: Any, s: tuple, c: tuple) -> tuple[Any, tuple]:
    """Schedule-Free AdamW, written once: ``s = (z, x, v)``, ``c`` from :meth:`ScheduleFreeAdamW.kernel_coefs`."""
    z, x, v = s
    b1, b2, eps, wd, lr, ck, bias2, first = c
    if first != 0.0:
        z = p
    v = v * b2 + (1.0 - b2) * g * g
    u = g / (ops.sqrt(v / bias2) + eps)
    if wd != 0.0:
        u = u + wd * p
    d = ck * (p - z) / lr + (1.0 - b1 * (1.0 - ck)) * u
    z = z - lr * u
    y = p - lr * d
    x = y + (1.0 - 1.0 / b1) * (z - y)
    return d, (z, x, v)


#: Steps whose averaging weights are made at first; the table doubles when a run goes further.
_TABLE_STEPS = 512


class _ScheduleFree(Optimizer):
    """What both Schedule-Free methods share: the warm-up, the averaging weights, and ``z`` and ``x``."""

    family = "modern"
    #: The direction divides by η_t (and z moves by η_t g), so the fused backend keeps lr among the kernel's numbers.
    direction_uses_lr: ClassVar[bool] = True

    def init_state(self, params: np.ndarray) -> State:
        return {"z": params.copy(), "x": params.copy()}

    def _sched(self, t: int) -> float:
        """The package's warm-up factor at step ``t``: ``t / W`` while ``t ≤ W``, then 1."""
        w = int(self.hparams["warmup_steps"])
        return t / w if 0 < w and t <= w else 1.0

    def lr_at(self, t: int) -> Any:
        lr = self.hparams["lr"]
        sched = self._sched(int(t))
        if sched == 1.0:
            return lr if isinstance(lr, np.ndarray) else float(lr)
        return lr * sched

    def lr_series(self, ts: range) -> np.ndarray:
        return np.array([self.lr_at(t) for t in ts], dtype=np.float64)

    def _table(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """``η_t`` and ``c_t`` for steps ``1 … steps``, ``(steps, u)`` each (u = 1, or one column per run).

        As the package: ``η_t = lr·sched(t)``, ``w_t = t^r · (max_{s≤t} η_s)^power``, ``c_t = w_t / Σ_{s≤t} w_s``
        (0 when the sum is 0). The sum runs in step order (``cumsum`` adds one term at a time, as the package does),
        and every power goes through the C library's ``pow`` as Python's ``**`` does.
        """
        h = self.hparams
        memo = self.__dict__.get("_weights")
        if memo is not None and memo[0].shape[0] >= steps:
            return memo
        n = max(steps, _TABLE_STEPS if memo is None else 2 * memo[0].shape[0])
        lr = np.asarray(h["lr"], dtype=np.float64).reshape(1, -1)
        sched = np.array([self._sched(t) for t in range(1, n + 1)], dtype=np.float64)[:, None]
        with np.errstate(all="ignore"):
            lr_t = lr * sched
            lr_max = np.maximum.accumulate(lr_t, axis=0)
            uniq, inverse = np.unique(lr_max, return_inverse=True)
            lr_pow = np.asarray(exact_pow(uniq, float(h["weight_lr_power"])), dtype=np.float64)[inverse.reshape(lr_max.shape)]
            t_pow = np.asarray(exact_pow(np.arange(1, n + 1, dtype=np.float64), float(h["r"])), dtype=np.float64)
            weight = t_pow[:, None] * lr_pow
            total = np.cumsum(weight, axis=0)
            ck = np.where(total != 0.0, weight / np.where(total != 0.0, total, 1.0), 0.0)
        self.__dict__["_weights"] = (lr_t, ck)
        return lr_t, ck

    def _averaging(self, t: Any) -> tuple[Any, Any]:
        """``(η_t, c_t)`` at step ``t``: floats, ``(k, 1)`` columns per run, or ``(T, u)`` for a ``(T, 1)`` column of steps."""
        if isinstance(t, np.ndarray):
            idx = t.reshape(-1).astype(np.int64) - 1
            lr_t, ck = self._table(int(idx.max()) + 1)
            return lr_t[idx], ck[idx]
        lr_t, ck = self._table(int(t))
        if lr_t.shape[1] == 1 and not isinstance(self.hparams["lr"], np.ndarray):
            return float(lr_t[t - 1, 0]), float(ck[t - 1, 0])
        return lr_t[t - 1][:, None], ck[t - 1][:, None]

    @staticmethod
    def _first(t: Any) -> Any:
        return 1.0 * (t == 1)


class ScheduleFreeSGD(_ScheduleFree):
    r"""Schedule-Free SGD, following ``schedulefree.SGDScheduleFree`` 1.4.1 (train mode: the parameters are ``y``).

    .. math::
        g_t = \nabla f(y_{t-1}) + \lambda y_{t-1},\quad z_t = z_{t-1} - \eta_t g_t,\quad
        x_t = (1 - c_t) x_{t-1} + c_t z_t,\quad y_t = (1-\beta) z_t + \beta x_t

        c_t = \frac{w_t}{\sum_{i \le t} w_i},\quad
        w_t = t^r \, (\max_{s \le t} \eta_s)^{p},\quad \eta_t = \eta \min(1, t / W)

    ``β`` is the package's ``momentum``, ``W`` its ``warmup_steps`` and ``p`` its
    ``weight_lr_power``; ``z₀ = x₀ = y₀`` is the start. As in the package the
    first weight is ``c₁ = 1``, so ``x_t`` averages ``z₁ … z_t`` (uniformly,
    ``c_t = 1/t``, without warm-up and with ``r = 0``). The stored ``x`` is the
    package's ``eval()`` point, ``y + (1 − 1/β)(z − y)``.
    """

    name = "schedule_free_sgd"
    title = "Schedule-Free SGD"
    summary = "SGD that needs no lr schedule: it takes gradients between its SGD iterate z and their running average x."
    latex = (
        r"\begin{aligned}z_t&=z_{t-1}-\eta_t g(y_{t-1}),\quad x_t=(1-c_t)x_{t-1}+c_t z_t,\quad "
        r"y_t=(1-\beta)z_t+\beta x_t\\"
        r"c_t&=\frac{w_t}{w_1+\dots+w_t},\quad w_t=t^r\eta_{\max}^{p},\quad "
        r"\theta=y\text{ (gradients)},\; x\text{ (evaluate)}\end{aligned}"
    )
    reference = "schedulefree.SGDScheduleFree (schedulefree 1.4.1)"
    specs = (
        lr_spec(1.0),
        Spec("momentum", 0.9, low=0.0, low_open=True, high=1.0, ui_low=0.1, ui_high=0.99,
             help="β: y = (1 − β) z + β x, where gradients are taken; must be in (0, 1).", label="β (momentum)"),
        weight_decay_spec(),
        WARMUP, R, WEIGHT_LR_POWER,
    )
    rule = _sgd_rule
    state_fields = (Z_FIELD, X_FIELD, C_FIELD)
    per_run = ("lr", "momentum")

    def check(self) -> None:
        require_below(self.name, self.hparams, ("momentum",))

    def kernel_coefs(self, t: Any) -> tuple[Any, ...]:
        h = self.hparams
        lr_t, ck = self._averaging(t)
        return (h["momentum"], h["weight_decay"], lr_t, ck, self._first(t))


def _bias2_of(b2: Any, t: Any) -> Any:
    """``1 − β₂ᵗ`` for a float or per-setting array (see :meth:`Optimizer.per_value`)."""
    return 1.0 - exact_pow(b2, t)


def _bias2_field(opt: ScheduleFreeAdamW, s: StepView) -> np.ndarray:
    return per_run(opt._bias2(s.t), len(s.lr))[:, 0]


class ScheduleFreeAdamW(_ScheduleFree):
    r"""Schedule-Free AdamW, following ``schedulefree.AdamWScheduleFree`` 1.4.1 (``betas`` split into ``beta1``/``beta2``).

    .. math::
        g_t = \nabla f(y_{t-1}),\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        u_t = \frac{g_t}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon} + \lambda y_{t-1}

        z_t = z_{t-1} - \eta_t u_t,\quad x_t = (1 - c_t) x_{t-1} + c_t z_t,\quad
        y_t = (1-\beta_1) z_t + \beta_1 x_t

    with ``c`` and the warm-up ``η_t`` as in :class:`ScheduleFreeSGD`. There is no
    first moment: ``β₁`` only places ``y`` between ``z`` and ``x``. Weight decay is
    applied at ``y``, after the normalization, as the package does.
    """

    name = "schedule_free_adamw"
    title = "Schedule-Free AdamW"
    summary = "Adam's per-coordinate scaling without a schedule or first moment: gradients at y, the average x reported."
    latex = (
        r"\begin{aligned}v_t&=\beta_2 v_{t-1}+(1-\beta_2)g_t^2,\quad "
        r"z_t=z_{t-1}-\eta_t\left(\frac{g_t}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}+\lambda y_{t-1}\right)\\"
        r"x_t&=(1-c_t)x_{t-1}+c_t z_t,\quad y_t=(1-\beta_1)z_t+\beta_1 x_t,\quad "
        r"\theta=y\end{aligned}"
    )
    reference = "schedulefree.AdamWScheduleFree (schedulefree 1.4.1)"
    specs = (
        lr_spec(0.0025),
        Spec("beta1", 0.9, low=0.0, low_open=True, high=1.0, ui_low=0.1, ui_high=0.99,
             help="β₁: y = (1 − β₁) z + β₁ x, where gradients are taken; must be in (0, 1).", label="β₁"),
        BETA2, EPS,
        Spec("weight_decay", 0.0, low=0.0, high=100.0, ui_high=0.1,
             help="λ: adds λy to the normalized gradient (the package's weight_decay).", label="weight decay"),
        WARMUP, R, WEIGHT_LR_POWER,
    )
    rule = _adamw_rule
    state_fields = (Z_FIELD, X_FIELD,
                    StateField("v", "v (second moment)", "Running average of the squared gradient, per coordinate."),
                    C_FIELD,
                    StateField("bias2", "1 − β₂ᵗ", "Bias correction of v: v̂ = v / (1 − β₂ᵗ).", per="run",
                               derive=_bias2_field))
    per_run = ("lr", "beta1", "beta2", "eps")

    def check(self) -> None:
        require_below(self.name, self.hparams, ("beta1", "beta2"))

    def init_state(self, params: np.ndarray) -> State:
        return {**super().init_state(params), "v": np.zeros_like(params)}

    def _bias2(self, t: Any) -> Any:
        """``1 − β₂ᵗ``, through C's ``pow`` as the package's ``beta2 ** (k+1)``."""
        if not self._per_run_names:
            return _bias2_of(self.hparams["beta2"], t)
        return self.per_value(_bias2_of, ("beta2",), t)

    def kernel_coefs(self, t: Any) -> tuple[Any, ...]:
        h = self.hparams
        lr_t, ck = self._averaging(t)
        return (h["beta1"], h["beta2"], h["eps"], h["weight_decay"], lr_t, ck, self._bias2(t), self._first(t))
