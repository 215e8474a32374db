"""Train networks with the shared runner, and read the recorded diagnostics in plain words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import optimizers
from nets import fused
from nets.problem import MAX_EPOCHS, MAX_SEEDS, MAX_STEPS, NetProblem
from optimizers.runner import DIVERGED, Trajectory

MAX_RECORD_BYTES = 512 * 2**20  # recorded parameters of one training job
#: diagnose: |R²| and the output's spread (relative to y's) below this read as "predicts the mean of y".
NEAR_ZERO = 0.05
#: diagnose: a regression run with R² at least this has learned the data (saturation is then no problem).
R2_SOLVED = 0.99


def train(
    problem: NetProblem,
    optimizer: Any,
    epochs: int,
    k: int | None = None,
    *,
    seeds: Sequence[int] | None = None,
    init_seed: int = 0,
    theta0: np.ndarray | None = None,
    record_every_epochs: int = 1,
    label: str = "",
    backend: str = "auto",
) -> Trajectory:
    """Train k networks with ``optimizers.run``, the runner the surfaces use.

    Parameters
    ----------
    problem : NetProblem
    optimizer : Optimizer or OptimizerConfig
        A config is built with ``.build()``.
    epochs : int
        Passes over the training set, in ``[1, MAX_EPOCHS]``.
    k : int, optional
        Number of networks, initialised by ``problem.init(k, init_seed)``.
    seeds : sequence of int, optional
        Instead of k: one network per seed (``problem.init_seeds(seeds)``).
    theta0 : ndarray, shape (k, P), optional
        Instead of k or seeds: the starting parameters.
    record_every_epochs : int
        Record (parameters, loss, metrics) every this many epochs.
    label : str
    backend : {"auto", "numpy", "compiled"}
        ``"compiled"``: the compiled mini-batch loop of :mod:`nets.fused` (``ValueError``
        when it cannot run this job); ``"numpy"``: the runner's loop. ``"auto"``: compiled
        when it can run and the job has at least ``nets.fused.MIN_STEPS`` steps. Both
        give the same Trajectory.

    Returns
    -------
    Trajectory
        ``steps`` are optimizer steps; epoch = step / ``problem.steps_per_epoch``.
        ``extras`` holds :meth:`NetProblem.metrics` per record.

    Raises
    ------
    ValueError
        On bad counts, or a run longer than ``MAX_STEPS`` optimizer steps.
    """
    if hasattr(optimizer, "build"):
        optimizer = optimizer.build()
    if isinstance(epochs, bool) or int(epochs) != epochs or not 1 <= epochs <= MAX_EPOCHS:
        raise ValueError(f"epochs must be a whole number in [1, {MAX_EPOCHS}], got {epochs!r}")
    if int(record_every_epochs) != record_every_epochs or record_every_epochs < 1:
        raise ValueError(f"record_every_epochs must be a whole number >= 1, got {record_every_epochs!r}")
    given = sum(x is not None for x in (k, seeds, theta0))
    if given != 1:
        raise ValueError("give exactly one of k (number of networks), seeds or theta0")
    if theta0 is not None:
        start = np.asarray(theta0, dtype=np.float64)
        if start.ndim != 2 or start.shape[1] != problem.n_params or not 1 <= start.shape[0] <= MAX_SEEDS:
            raise ValueError(f"theta0 must have shape (k, {problem.n_params}) with 1 <= k <= {MAX_SEEDS}")
    elif seeds is not None:
        start = problem.init_seeds(list(seeds))
    else:
        start = problem.init(int(k), init_seed)  # type: ignore[arg-type]
    spe = problem.steps_per_epoch
    steps = int(epochs) * spe
    if steps > MAX_STEPS:
        raise ValueError(
            f"{epochs} epochs × {spe} steps per epoch = {steps} steps is more than {MAX_STEPS}; "
            f"use fewer epochs or a larger batch size"
        )
    n_records = steps // (spe * int(record_every_epochs)) + 2
    size = n_records * start.shape[0] * problem.n_params * 8
    if size > MAX_RECORD_BYTES:
        every = math.ceil(size / MAX_RECORD_BYTES * record_every_epochs)
        raise ValueError(
            f"recording every {record_every_epochs} epoch(s) would keep {size / 2**20:.0f} MB of parameters; "
            f"use record_every_epochs >= {every}, fewer seeds or a smaller network"
        )
    if backend not in ("auto", "numpy", "compiled"):
        raise ValueError(f"backend must be 'auto', 'numpy' or 'compiled', got {backend!r}")
    if backend == "compiled" or (backend == "auto" and steps >= fused.MIN_STEPS):
        why = fused.unsupported(problem, optimizer, start.shape[0])
        if why is not None and backend == "compiled":
            raise ValueError(f"the compiled loop cannot run this job: {why}")
        if why is None:
            return fused.train(problem, optimizer, start, steps, spe * int(record_every_epochs), label)
    return optimizers.run(
        problem, optimizer, start, steps=steps, record_every=spe * int(record_every_epochs),
        stop_on_converge=False, grad_tol=0.0, metrics=problem.metrics, label=label,
    )


def epochs_of(trajectory: Trajectory, problem: NetProblem) -> np.ndarray:
    """The epoch (float) of each record, ``(R,)``."""
    return trajectory.steps / problem.steps_per_epoch


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _power_of_ten(x: float) -> str:
    exp = round(math.log10(x))
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return f"10{str(exp).translate(sup)}"


def diagnose(trajectory: Trajectory, problem: NetProblem | None = None) -> list[str]:
    """One-line readings of a training run (all k networks), most important first.

    Reads the final record and the whole history of ``trajectory.extras`` (as
    recorded by :func:`train`). With ``problem`` the chance level and the loss
    of a constant prediction come from its training labels; without it a
    cross-entropy plateau is matched against ``ln C`` for C = 2..10.
    Regression runs (``train_r2`` recorded) are read by R² instead of accuracy:
    a run whose output barely varies (``pred_spread`` < 0.05) with ``|R²|`` < 0.05
    is reported as predicting the mean of y.

    Parameters
    ----------
    trajectory : Trajectory
    problem : NetProblem, optional

    Returns
    -------
    list of str
    """
    x = trajectory.extras
    out: list[str] = []
    k = trajectory.k
    runs = "the run" if k == 1 else f"{k} runs"

    diverged = int((trajectory.status == DIVERGED).sum())
    if diverged:
        out.append(f"{diverged} of {k} runs diverged (loss or weights blew up): lower the learning rate")

    spread = x.get("unit_spread")
    if spread is not None and problem is not None and max(problem.mlp.hidden, default=0) > 1:
        same = spread[-1] < 1e-12
        if same.all():
            out.append("all hidden units identical (zero init: symmetry never broken); pick a random init")
        elif same.any():
            out.append(f"{int(same.sum())} of {k} runs have identical hidden units (symmetry never broken)")

    acc = x.get("train_acc")
    if acc is not None:
        final = acc[-1]
        chance = problem.majority_accuracy if problem is not None else None
        if chance is not None:
            stuck = final <= chance + 1e-9
            if stuck.all():
                out.append(f"stuck at chance accuracy ({_pct(chance)}: always the same class) in {runs}")
            elif stuck.any():
                out.append(f"{int(stuck.sum())} of {k} runs stuck at chance accuracy ({_pct(chance)})")
        if k > 1:
            lo, med, hi = np.min(final), np.median(final), np.max(final)
            if hi - lo >= 0.1:
                out.append(
                    f"final train accuracy ranges {_pct(lo)}–{_pct(hi)} over {k} seeds (median {_pct(med)}): "
                    f"the random start decides"
                )
        solved = acc.max(axis=0) >= 1.0
        if solved.all():
            first = np.argmax(acc >= 1.0, axis=0)
            if problem is not None:
                when = np.median(trajectory.steps[first]) / problem.steps_per_epoch
                out.append(f"all {k} runs reached 100% train accuracy (median epoch {when:.0f})" if k > 1
                           else f"reached 100% train accuracy at epoch {when:.0f}")
        if "test_acc" in x:
            gap = np.median(final - x["test_acc"][-1])
            if gap >= 0.1:
                out.append(f"train accuracy beats test by {_pct(gap)} (median): overfitting; try L2 or a smaller net")

    r2 = x.get("train_r2")
    if r2 is not None:
        out.extend(_read_r2(x, r2, k, runs, problem))

    loss = x.get("train_loss")
    if loss is not None and loss.shape[0] >= 8:
        tail = loss[-max(2, loss.shape[0] // 4):]
        flat = (tail.max(axis=0) - tail.min(axis=0)) < 1e-3 * np.maximum(1.0, np.abs(tail[-1]))
        level = float(np.median(tail[-1][flat])) if flat.any() else None
        if level is not None:
            ref, what = _constant_level(level, problem)
            n_flat = int(flat.sum())
            who = "" if n_flat == k else f" in {n_flat} of {k} runs"
            if ref is not None and ref.startswith("ln"):
                out.append(f"loss plateau at {level:.2f} ≈ {ref}{who}: {what}")
            elif ref is not None:
                out.append(f"loss plateau at {level:.2f}{who}: {what}")
            elif (acc is not None and np.median(acc[-1][flat]) < 1.0) or (
                    r2 is not None and np.median(r2[-1][flat]) < R2_SOLVED):
                out.append(f"loss flat at {level:.3g}{who} for the last quarter of training: stalled")

    gl = x.get("grad_norm_layer")
    if gl is not None and gl.shape[-1] >= 2:
        # Median over records after the first (the start is not representative) and over runs.
        ratio = np.median(gl[1:] if gl.shape[0] > 1 else gl, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.median(ratio[:, 0] / ratio[:, -1])
        L = gl.shape[-1]
        if np.isfinite(r) and 0 < r < 1e-2:
            out.append(f"layer 1 gradients are {_power_of_ten(r)} of layer {L}'s: vanishing")
        elif np.isfinite(r) and r > 1e2:
            out.append(f"layer 1 gradients are {_power_of_ten(r)} times layer {L}'s: exploding")

    sat = x.get("saturated")
    if r2 is not None:
        unsolved = float(np.median(r2[-1])) < R2_SOLVED
    else:
        unsolved = acc is None or float(np.median(acc[-1])) < 1.0
    if sat is not None and unsolved:
        # Saturated units in a solved net are just confident; they matter when learning stalls.
        s = float(np.median(sat[-1]))
        if s >= 0.3:
            act = problem.mlp.activation if problem is not None else "sigmoid/tanh"
            biggest = float(np.abs(problem.X_train).max()) if problem is not None else 0.0
            raw_big = problem is not None and not problem.split.standardized and biggest > 5
            hint = f" (raw inputs up to {biggest:.3g}: try standardize)" if raw_big else ""
            out.append(f"{_pct(s)} of {act} units saturated: their gradient is nearly 0{hint}")
    dead = x.get("dead")
    if dead is not None:
        d = float(np.median(dead[-1]))
        if d >= 0.25:
            out.append(f"{_pct(d)} of ReLU units dead (never active on the training set)")

    if not out:
        out.append("nothing unusual: loss falling, no saturation or vanishing gradients")
    return out


def _read_r2(x: dict[str, np.ndarray], r2: np.ndarray, k: int, runs: str, problem: NetProblem | None) -> list[str]:
    """Readings of a regression run's R² history ``(R, k)``: a constant output, R² < 0, spread, overfitting."""
    out: list[str] = []
    final = r2[-1]
    spread = x.get("pred_spread")
    flat = np.abs(final) < NEAR_ZERO
    if spread is not None:
        flat &= spread[-1] < NEAR_ZERO
    if flat.any():
        who = runs if flat.all() else f"{int(flat.sum())} of {k} runs"
        mean = f" ({float(np.mean(problem.y_train)):.3g})" if problem is not None else ""
        out.append(f"output ≈ the mean of y{mean} for every input: R² ≈ {round(float(np.median(final[flat])), 2) + 0.0:.2f} in {who}")
    worse = final < -NEAR_ZERO
    if worse.any():
        who = runs if worse.all() else f"{int(worse.sum())} of {k} runs"
        out.append(f"R² below 0 in {who} (median {float(np.median(final[worse])):.2g}): "
                   f"worse than predicting the mean of y; lower the learning rate")
    if k > 1:
        lo, med, hi = np.min(final), np.median(final), np.max(final)
        if hi - lo >= 0.1:
            out.append(f"final train R² ranges {lo:.2f}–{hi:.2f} over {k} seeds (median {med:.2f}): the random start decides")
    if "test_r2" in x:
        gap = float(np.median(final - x["test_r2"][-1]))
        if gap >= 0.1:
            out.append(f"train R² beats test by {gap:.2f} (median): overfitting; try L2 or a smaller net")
    return out


def _constant_level(level: float, problem: NetProblem | None) -> tuple[str | None, str]:
    """Name the loss of a constant prediction when ``level`` matches it."""
    if problem is not None:
        prior = problem.prior_loss
        if abs(level - prior) < 0.02 * max(prior, 1e-3):
            if problem.regression:
                return f"{prior:.3g}", "the loss of predicting the mean of y for every input (learned nothing)"
            C = problem.n_classes
            if problem.mlp.loss == "cross_entropy" and abs(prior - math.log(C)) < 1e-3:
                return f"ln {C}", f"predicting uniform over {C} classes"
            return f"{prior:.2f}", "the loss of predicting the class frequencies for every input (learned nothing)"
        return None, ""
    for C in range(2, 11):
        if abs(level - math.log(C)) < 0.01:
            return f"ln {C}", f"predicting uniform over {C} classes"
    return None, ""
