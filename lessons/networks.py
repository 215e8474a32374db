"""Lessons on the tiny networks: the seeds' training loops, tables and plateaus."""

from __future__ import annotations

import math

import numpy as np

from lessons.core import (
    Lesson,
    NetScenario,
    Predict,
    Result,
    Variation,
    compute,
    epochs_to,
    fmt_int,
    pairs,
    set_optimizer,
    set_problem,
    set_run,
    with_hparams,
)
from optimizers.config import OptimizerConfig

opt = OptimizerConfig.make


def when(epoch: float, epochs: int) -> str:
    """``"at epoch 16"``, or ``"not within 15 epochs"`` for a run that never got there."""
    return f"at epoch {fmt_int(epoch)}" if math.isfinite(epoch) else f"not within {epochs} epochs"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _final(r: Result, i: int, metric: str) -> np.ndarray:
    """``extras[metric]`` of series ``i`` at the last record, one per seed (``(k,)``)."""
    return r.trajectories[i].extras[metric][-1]


# -- Adam stagnating --------------------------------------------------------------------------------
def _adam_facts(r: Result) -> dict[str, float | int | str]:
    bug_loss = r.trajectories[0].extras["train_loss"]
    bug_acc, adam_acc = _final(r, 0, "train_acc"), _final(r, 1, "train_acc")
    return {
        "seeds": r.scenario.seeds,
        "bug_loss0": f"{np.median(bug_loss[0]):.3f}", "bug_loss1": f"{np.median(bug_loss[-1]):.3f}",
        "bug_lo": _pct(bug_acc.min()), "bug_hi": _pct(bug_acc.max()),
        "adam_lo": _pct(adam_acc.min()), "adam_med": _pct(float(np.median(adam_acc))),
        "epochs": r.scenario.epochs,
    }


def _adam_claim(r: Result) -> tuple[bool, str]:
    bug_acc, adam_acc = _final(r, 0, "train_acc"), _final(r, 1, "train_acc")
    loss = r.trajectories[0].extras["train_loss"]
    moved = float(np.median(np.abs(loss[-1] - loss[0])))
    ok = adam_acc.min() > bug_acc.max() and np.ptp(bug_acc) >= 0.1 and moved < 0.02
    return bool(ok), (f"buggy loop: accuracy {bug_acc.min():.0%}–{bug_acc.max():.0%}, median loss change {moved:.3f}; "
                      f"Adam's worst seed {adam_acc.min():.0%}")


def _bugs_off(*names: str):
    def apply(s: NetScenario) -> NetScenario:
        cfg = with_hparams(s.runs[0][0], **dict.fromkeys(names, False))
        return set_optimizer(s, 0, cfg)
    return apply


ADAM = Lesson(
    key="adam_stagnating",
    title="Adam stagnating at 45–70% accuracy",
    question="I wrote Adam by hand for a small sigmoid network. The cost stops changing after a few iterations and "
             "accuracy lands anywhere from 45% to 70% from run to run. Is Adam stuck in a local minimum?",
    scenario=NetScenario(
        pairs(dataset="moons", hidden=(3,), activation="sigmoid"),
        ((opt("seed_adam", {"lr": 0.05}, label="the hand-written loop"), ()),
         (opt("adam", {"lr": 0.05}, label="Adam"), ())),
        epochs=200, seeds=10,
    ),
    predict=Predict(
        "Same network, same lr, 10 seeds. Does the hand-written loop's worst-to-best accuracy overlap Adam's?",
        ("yes, they overlap", "no, every Adam run beats every buggy run"),
        lambda r: int(_final(r, 1, "train_acc").min() > _final(r, 0, "train_acc").max()),
    ),
    narration=(
        "The hand-written loop's loss barely moves ({bug_loss0} → {bug_loss1}, median over {seeds} seeds), and its "
        "accuracy after {epochs} epochs lands anywhere from {bug_lo} to {bug_hi}: wherever the random start put it. "
        "Adam with the same lr reaches {adam_med} (worst seed {adam_lo}). It is not a local minimum but three bugs: "
        "the bias correction is stored back and compounds, steps count from 0, and the step is multiplied by the "
        "gradient again; switch them off one at a time."
    ),
    facts=_adam_facts,
    annotations=lambda r: [(0, r.scenario.epochs / 2, "the buggy loop's loss is flat"),
                           (1, float(epochs_to(r, 1, "train_acc", 0.85).min()), "Adam passes 85%")],
    variations=(
        Variation("turn off bug 1 (compounding correction)", _bugs_off("compound_correction")),
        Variation("turn off bug 3 (extra × gradient)", _bugs_off("times_gradient")),
        Variation("turn off all three bugs", _bugs_off("compound_correction", "zero_based_step", "times_gradient")),
    ),
    claim=_adam_claim,
    compute=compute,
)


# -- MLPClassifier on the body-metrics table --------------------------------------------------------
SK_TOL, SK_PATIENCE = 1e-4, 10


def sklearn_stop(loss: np.ndarray, tol: float = SK_TOL, patience: int = SK_PATIENCE) -> int:
    """Epoch at which scikit-learn's MLP stops on a per-epoch loss curve ``loss[0], loss[1], …``.

    scikit-learn counts an epoch as "no improvement" when its loss is above the best so far minus
    ``tol`` and stops once that happened more than ``n_iter_no_change`` (``patience``) times in a row;
    ``n_iter_`` is then the number of epochs run. Returns ``len(loss)`` if it never stops.
    """
    best, count = math.inf, 0
    for i, value in enumerate(loss):
        count = count + 1 if value > best - tol else 0
        best = min(best, float(value))
        if count > patience:
            return i + 1
    return len(loss)


def _stops(r: Result, i: int) -> np.ndarray:
    loss = r.trajectories[i].extras["train_loss"][1:]  # record 0 is the start, before any epoch
    return np.array([sklearn_stop(loss[:, j]) for j in range(loss.shape[1])])


def _acc_at_stop(r: Result, i: int) -> np.ndarray:
    acc = r.trajectories[i].extras["train_acc"]
    return np.array([acc[s, j] for j, s in enumerate(_stops(r, i))])


def _body_facts(r: Result) -> dict[str, float | int | str]:
    raw, std = _stops(r, 0), _stops(r, 1)
    ar, ast = _acc_at_stop(r, 0), _acc_at_stop(r, 1)
    sat = r.trajectories[0].extras["saturated"][-1]
    return {
        "raw_stop_lo": int(raw.min()), "raw_stop_hi": int(raw.max()), "epochs": r.scenario.epochs,
        "raw_acc_lo": _pct(ar.min()), "raw_acc_hi": _pct(ar.max()), "raw_sat": _pct(float(np.median(sat))),
        "std_stop_lo": int(std.min()), "std_acc_lo": _pct(ast.min()), "std_acc_hi": _pct(ast.max()),
        "seeds": r.scenario.seeds,
    }


def _body_claim(r: Result) -> tuple[bool, str]:
    raw, ast, ar = _stops(r, 0), _acc_at_stop(r, 1), _acc_at_stop(r, 0)
    ok = raw.min() < r.scenario.epochs / 4 and ast.min() >= 1.0 and np.median(ar) < 0.75
    return bool(ok), (f"raw inputs: sklearn's rule stops after {raw.min()}–{raw.max()} epochs at {ar.min():.0%}–"
                      f"{ar.max():.0%}; standardized: {ast.min():.0%} in every seed")


BODY = Lesson(
    key="mlp_body_metrics",
    title="MLPClassifier: 100% or 50%, 4 or 200 iterations",
    question="MLPClassifier(hidden_layer_sizes=(3,), activation='logistic') on 11 people's height, weight and shoe "
             "size gives 100% on one run and 50% on the next, and stops after 4 iterations on one run and 200 on "
             "another. Why?",
    scenario=NetScenario(
        pairs(dataset="body_metrics", hidden=(3,), activation="sigmoid", test_fraction=0.0),
        ((opt("adam", {"lr": 0.05}, label="raw cm / kg"), pairs(standardize=False)),
         (opt("adam", {"lr": 0.05}, label="standardized"), pairs(standardize=True))),
        epochs=200, seeds=12,
    ),
    predict=Predict(
        "Same network and lr, 12 seeds. Where does scikit-learn's stopping rule end the raw-input runs?",
        ("all run the full 200 epochs", "anywhere from a few epochs to 200"),
        lambda r: int(_stops(r, 0).min() < r.scenario.epochs),
    ),
    narration=(
        "Heights of 150–190 saturate the logistic units (median {raw_sat} saturated), so the loss creeps and "
        "scikit-learn's rule (stop when the loss has not improved by 1e-4 for more than 10 epochs) fires anywhere "
        "between epoch {raw_stop_lo} and {raw_stop_hi}, at {raw_acc_lo}–{raw_acc_hi} training accuracy: the seed "
        "decides both. Standardized inputs keep improving (first stop at epoch {std_stop_lo}) and reach "
        "{std_acc_lo} in all {seeds} seeds."
    ),
    facts=_body_facts,
    annotations=lambda r: [(0, float(_stops(r, 0).min()), f"sklearn stops the first raw run, epoch {_stops(r, 0).min()}")],
    variations=(
        Variation("scikit-learn's own lr (0.001)",
                  lambda s: set_optimizer(set_optimizer(s, 0, with_hparams(s.runs[0][0], lr=0.001)), 1,
                                          with_hparams(s.runs[1][0], lr=0.001))),
        Variation("tanh units", lambda s: set_problem(s, activation="tanh")),
    ),
    claim=_body_claim,
    compute=compute,
)


# -- XOR with tanh, slow vs fast --------------------------------------------------------------------
_XOR_DONE = 0.02  # squared error per row well below the 0.25 of a 0.5 guess


def _xor_epochs(r: Result, i: int) -> np.ndarray:
    return epochs_to(r, i, "train_loss", _XOR_DONE, above=False)


def _xor_facts(r: Result) -> dict[str, float | int | str]:
    slow, fast = _xor_epochs(r, 0), _xor_epochs(r, 1)
    hp = [dict(c.hparams) for c, _ in r.scenario.runs]
    return {
        "slow_med": when(np.median(slow), r.scenario.epochs), "fast_med": when(np.median(fast), r.scenario.epochs),
        "slow_done": int(np.isfinite(slow).sum()), "fast_done": int(np.isfinite(fast).sum()),
        "seeds": r.scenario.seeds, "epochs": r.scenario.epochs,
        "slow_lr": f"{hp[0]['lr']:g}", "fast_lr": f"{hp[1]['lr']:g}", "done": f"{_XOR_DONE:g}",
    }


def _xor_claim(r: Result) -> tuple[bool, str]:
    slow, fast = _xor_epochs(r, 0), _xor_epochs(r, 1)
    ok = np.median(fast) * 2 <= np.median(slow) and np.isfinite(fast).sum() >= np.isfinite(slow).sum()
    return bool(ok), f"median epochs to loss {_XOR_DONE}: {np.median(fast):g} (fast) vs {np.median(slow):g} (slow)"


XOR = Lesson(
    key="xor_slow_fast",
    title="XOR with tanh: slow vs fast",
    question="My tanh network learns XOR one row at a time, but after 1,900 epochs it is still not at 99%, while a "
             "tutorial gets there in 100. The answer found: a larger learning rate and a larger init. Does that help?",
    scenario=NetScenario(
        pairs(dataset="xor", hidden=(3,), activation="tanh", loss="mse", init="normal", init_scale=1.0, batch_size=1),
        ((opt("gd", {"lr": 0.1}, label="SGD, lr 0.1"), ()), (opt("gd", {"lr": 0.5}, label="SGD, lr 0.5"), ())),
        epochs=150, seeds=5,
    ),
    predict=Predict(
        "Both start from the same N(0, 1) weights, one row per step. How much faster is lr 0.5?",
        ("about the same", "about 2× or more", "lr 0.5 diverges"),
        lambda r: 1 if np.median(_xor_epochs(r, 1)) * 2 <= np.median(_xor_epochs(r, 0)) else 0,
    ),
    narration=(
        "With b = 1 on 4 rows an epoch is 4 small steps, so the learning rate sets the pace: at lr {slow_lr} the "
        "squared error of the median seed falls below {done} {slow_med} ({slow_done} of {seeds} seeds within "
        "{epochs}); at lr {fast_lr} {fast_med} ({fast_done} of {seeds}). Try the answer's larger init (σ = 2) "
        "as a variation: with 3 tanh units it saturates more of them and helps less than the learning rate."
    ),
    facts=_xor_facts,
    annotations=lambda r: [(i, float(np.median(_xor_epochs(r, i))), f"median run solves it, epoch {fmt_int(np.median(_xor_epochs(r, i)))}")
                           for i in range(2) if np.isfinite(np.median(_xor_epochs(r, i)))],
    variations=(
        Variation("the answer's larger init (σ = 2) for the fast run", lambda s: set_run(s, 1, init_scale=2.0)),
        Variation("cross-entropy instead of squared error", lambda s: set_problem(s, loss="cross_entropy")),
    ),
    claim=_xor_claim,
    compute=compute,
)


# -- Order of examples ------------------------------------------------------------------------------
def _order_facts(r: Result) -> dict[str, float | int | str]:
    sorted_end, shuf_end = _final(r, 0, "train_loss"), _final(r, 1, "train_loss")
    loss = r.trajectories[0].extras["train_loss"][:, 0]
    last = loss[-r.trajectories[0].steps.size // r.scenario.epochs - 1:]
    return {
        "sorted_end": f"{np.median(sorted_end):.3f}", "shuf_end": f"{np.median(shuf_end):.3f}",
        "worse": int((sorted_end > shuf_end).sum()), "seeds": r.scenario.seeds,
        "swing": f"{last.max() - last.min():.2f}", "blocks": _blocks(r.problems[0]),
    }


def _blocks(problem) -> str:
    """The class blocks of the training rows in data order, e.g. "37 setosa, then 38 versicolor, …"."""
    y = np.asarray(problem.y_train)
    names = problem.split.dataset.class_names
    cuts = np.flatnonzero(np.diff(y)) + 1
    runs = [(len(part), names[int(part[0])]) for part in np.split(y, cuts)]
    return ", then ".join(f"{n} {name}" for n, name in runs[:4]) + (" …" if len(runs) > 4 else "")


def _order_claim(r: Result) -> tuple[bool, str]:
    sorted_end, shuf_end = _final(r, 0, "train_loss"), _final(r, 1, "train_loss")
    worse = int((sorted_end > shuf_end).sum())
    return worse >= 0.8 * r.scenario.seeds, f"sorted rows end with the higher loss in {worse} of {r.scenario.seeds} seeds"


ORDER = Lesson(
    key="order_of_examples",
    title="Does the order of the training examples matter?",
    question="My images sit in one folder per class and I feed them class by class, one at a time. Does the order "
             "affect convergence? Should I shuffle?",
    scenario=NetScenario(
        pairs(dataset="iris", hidden=(8,), activation="tanh", batch_size=1),
        ((opt("gd", {"lr": 0.05}, label="sorted by class"), pairs(shuffle=False)),
         (opt("gd", {"lr": 0.05}, label="shuffled"), pairs(shuffle=True))),
        epochs=8, seeds=4, record_every=16,
    ),
    predict=Predict(
        "Same net, same lr, one row per step. Which ends with the lower training loss?",
        ("sorted by class", "shuffled", "the same"),
        lambda r: 1 if np.median(_final(r, 1, "train_loss")) < np.median(_final(r, 0, "train_loss")) else 0,
    ),
    narration=(
        "The training rows come sorted: {blocks}. With b = 1 and no shuffling each block of "
        "one class pulls the net towards that class, so the loss saw-tooths once per block (a swing of {swing} in "
        "the last epoch) and forgets the other classes. Sorted rows end at a median loss of {sorted_end}, shuffled "
        "rows at {shuf_end}: higher for sorted rows in {worse} of {seeds} seeds."
    ),
    facts=_order_facts,
    annotations=lambda r: [(0, r.scenario.epochs - 1 + 1 / 3, "the versicolor block pulls the net"),
                           (0, r.scenario.epochs - 1 + 2 / 3, "then virginica")],
    variations=(
        Variation("mini-batches of 16", lambda s: set_run(set_run(s, 0, batch_size=16), 1, batch_size=16)),
        Variation("no hidden layer", lambda s: set_problem(s, hidden=())),
    ),
    claim=_order_claim,
    compute=compute,
)


# -- Sigmoid stuck at 0.5 ---------------------------------------------------------------------------
def _sig_facts(r: Result) -> dict[str, float | int | str]:
    x = [t.extras for t in r.trajectories]
    return {
        "zero_loss": f"{np.median(x[0]['train_loss'][-1]):.4f}", "ln2": f"{math.log(2):.4f}",
        "zero_spread": f"{np.max(x[0]['unit_spread'][-1]):.1g}",
        "xav_when": when(float(np.median(epochs_to(r, 1, "train_acc", 1.0))), r.scenario.epochs),
    }


def _sig_claim(r: Result) -> tuple[bool, str]:
    x = [t.extras for t in r.trajectories]
    zero_ok = np.all(x[0]["unit_spread"][-1] == 0) and np.allclose(x[0]["train_loss"][-1], math.log(2), atol=1e-9)
    xav_t = float(np.median(epochs_to(r, 1, "train_acc", 1.0)))
    ok = zero_ok and math.isfinite(xav_t)
    return bool(ok), f"zero init: identical units, loss ln 2 at the end; Xavier: 100% at epoch {xav_t:g} (median)"


SIGMOID = Lesson(
    key="sigmoid_stuck",
    title="A sigmoid network stuck at 0.5",
    question="My network's output never moves from 0.5, however long I train. What is wrong?",
    scenario=NetScenario(
        pairs(dataset="xor", hidden=(4,), activation="sigmoid"),
        ((opt("gd", {"lr": 2.0}, label="zero init"), pairs(init="zeros")),
         (opt("gd", {"lr": 2.0}, label="Xavier init"), pairs(init="xavier_normal"))),
        epochs=300, seeds=3,
    ),
    predict=Predict(
        "Which of the two starts learns XOR?",
        ("zero init", "Xavier init"),
        lambda r: int(np.argmax([np.median(_final(r, i, "train_acc")) for i in range(2)])),
    ),
    narration=(
        "With zero init every hidden unit computes the same thing and receives the same gradient, so they stay "
        "identical (largest difference {zero_spread}) and the output sits at p = 0.5: loss {zero_loss}, which is ln 2 = {ln2}. "
        "Any random start breaks the symmetry: with Xavier init the median seed reaches 100% {xav_when}."
    ),
    facts=_sig_facts,
    annotations=lambda r: [(0, r.scenario.epochs / 2, "zero init: flat at ln 2")],
    variations=(
        Variation("momentum instead of GD", lambda s: s.__class__(s.problem_kwargs, tuple(
            (opt("momentum", {"lr": 0.5, "momentum": 0.9}, label=c.label), o) for c, o in s.runs), s.epochs, s.seeds)),
        Variation("tanh units", lambda s: set_problem(s, activation="tanh")),
    ),
    claim=_sig_claim,
    compute=compute,
)


# -- MSE vs cross-entropy ---------------------------------------------------------------------------
def _ce_epochs(r: Result) -> tuple[np.ndarray, np.ndarray]:
    return epochs_to(r, 0, "train_acc", 1.0), epochs_to(r, 1, "train_acc", 1.0)


def _ce_facts(r: Result) -> dict[str, float | int | str]:
    mse, ce = _ce_epochs(r)
    return {"mse_med": fmt_int(np.median(mse)), "ce_med": fmt_int(np.median(ce)), "first": int((ce < mse).sum()),
            "seeds": r.scenario.seeds}


def _ce_claim(r: Result) -> tuple[bool, str]:
    mse, ce = _ce_epochs(r)
    first = int((ce < mse).sum())
    return first >= 0.8 * r.scenario.seeds, f"cross-entropy reaches 100% first in {first} of {r.scenario.seeds} seeds"


MSE_CE = Lesson(
    key="mse_vs_cross_entropy",
    title="MSE vs cross-entropy for a sigmoid output",
    question="Training a sigmoid unit, I left out the σ'(z) factor from the delta rule by accident, and it learned "
             "faster. Why?",
    scenario=NetScenario(
        pairs(dataset="xor", hidden=(3,), activation="sigmoid", init="normal"),
        ((opt("gd", {"lr": 1.0}, label="squared error"), pairs(loss="mse")),
         (opt("gd", {"lr": 1.0}, label="cross-entropy"), pairs(loss="cross_entropy"))),
        epochs=300, seeds=10,
    ),
    predict=Predict(
        "Same net, same weights, same lr. Which loss reaches 100% accuracy first?",
        ("squared error", "cross-entropy"),
        lambda r: int(np.median(_ce_epochs(r)[1]) < np.median(_ce_epochs(r)[0])),
    ),
    narration=(
        "The squared error's gradient at the output is (p − y)·σ'(z), and σ'(z) = p(1 − p) fades when the output is "
        "confidently wrong. Cross-entropy's is just p − y: the 'accident' in the question is exactly its update. "
        "Cross-entropy reaches 100% after a median of {ce_med} epochs, squared error after {mse_med}; cross-entropy "
        "is first in {first} of {seeds} seeds."
    ),
    facts=_ce_facts,
    annotations=lambda r: [(1, float(np.median(_ce_epochs(r)[1])), "cross-entropy: 100% (median seed)")]
    if np.isfinite(np.median(_ce_epochs(r)[1])) else [],
    variations=(
        Variation("Adam for both", lambda s: s.__class__(s.problem_kwargs, tuple(
            (opt("adam", {"lr": 0.05}, label=c.label), o) for c, o in s.runs), s.epochs, s.seeds)),
    ),
    claim=_ce_claim,
    compute=compute,
)


# -- Iris stalls at ln 3 ----------------------------------------------------------------------------
_LN3 = math.log(3)


def _leave(r: Result, i: int) -> float:
    """Epoch at which series ``i`` first drops 0.05 below ln 3 (inf if never)."""
    return float(epochs_to(r, i, "train_loss", _LN3 - 0.05, above=False)[0])


_IRIS_KEYS = ("sgd", "mini", "mom", "rms", "adam", "full")


def _iris_facts(r: Result) -> dict[str, float | int | str]:
    out: dict[str, float | int | str] = {f"{k}_leave": when(_leave(r, i), r.scenario.epochs) for i, k in enumerate(_IRIS_KEYS)}
    out["full_end"] = f"{_final(r, 5, 'train_loss')[0]:.3f}"
    out["ln3"] = f"{_LN3:.4f}"
    out["epochs"] = r.scenario.epochs
    return out


def _iris_claim(r: Result) -> tuple[bool, str]:
    leave = [_leave(r, i) for i in range(6)]
    ok = not math.isfinite(leave[5]) and math.isfinite(leave[0]) and max(leave[2:5]) < leave[1]
    return ok, f"epochs to leave ln 3: {dict(zip(_IRIS_KEYS, leave, strict=True))}"


IRIS = Lesson(
    key="iris_ln3",
    title="Iris stalls at a loss of 1.1 ≈ ln 3",
    question="My network on Iris sits at a loss of about 1.1 for a long time, whatever hyperparameters I try. "
             "Would SGD, mini-batches, momentum, RMSProp or Adam get it out?",
    scenario=NetScenario(
        pairs(dataset="iris", hidden=(16,), activation="sigmoid", standardize=False, init="normal", init_scale=0.01),
        ((opt("gd", {"lr": 0.1}, label="SGD (b = 1)"), pairs(batch_size=1)),
         (opt("gd", {"lr": 0.1}, label="mini-batch GD (b = 16)"), pairs(batch_size=16)),
         (opt("momentum", {"lr": 0.1, "momentum": 0.9}, label="momentum (b = 16)"), pairs(batch_size=16)),
         (opt("rmsprop", {"lr": 0.01}, label="RMSProp (b = 16)"), pairs(batch_size=16)),
         (opt("adam", {"lr": 0.01}, label="Adam (b = 16)"), pairs(batch_size=16)),
         (opt("gd", {"lr": 0.1}, label="GD (full batch)"), pairs(batch_size=0))),
        epochs=15, seeds=1,
    ),
    predict=Predict(
        "Which leaves the ln 3 plateau first?",
        ("SGD (b = 1)", "mini-batch GD (b = 16)", "momentum (b = 16)", "Adam (b = 16)"),
        lambda r: int(np.argmin([_leave(r, i) for i in (0, 1, 2, 4)])),
    ),
    narration=(
        "Small weights on raw features make the net predict 1/3 for every class: loss ln 3 = {ln3}, where the "
        "gradient is tiny. Full-batch GD takes one step per epoch and is still at {full_end} after {epochs} epochs. "
        "The same GD with b = 16 takes 7 steps per epoch and leaves the plateau {mini_leave}; SGD (b = 1), 112 "
        "steps per epoch, leaves {sgd_leave}. With b = 16, momentum leaves {mom_leave}, RMSProp {rms_leave} and Adam "
        "{adam_leave}: they enlarge the small gradient."
    ),
    facts=_iris_facts,
    annotations=lambda r: [(i, _leave(r, i), "leaves ln 3") for i in range(6) if math.isfinite(_leave(r, i))][:3],
    variations=(
        Variation("standardize the inputs", lambda s: set_problem(s, standardize=True)),
        Variation("Xavier init", lambda s: set_problem(s, init="xavier_normal")),
    ),
    claim=_iris_claim,
    compute=compute,
)


# -- Initialization in a deeper net -----------------------------------------------------------------
def _ratio(r: Result, i: int) -> float:
    """Median over seeds of layer 1's gradient norm over the last layer's, at the start."""
    g = r.trajectories[i].extras["grad_norm_layer"][0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.median(g[:, 0] / g[:, -1]))


def _init_facts(r: Result) -> dict[str, float | int | str]:
    out: dict[str, float | int | str] = {}
    for i, k in enumerate(("xav", "he", "small", "big")):
        out[f"{k}_ratio"] = f"{_ratio(r, i):.1e}"
        out[f"{k}_acc"] = _pct(float(np.median(_final(r, i, "train_acc"))))
    out["big_sat"] = _pct(float(np.median(r.trajectories[3].extras["saturated"][0])))
    out["epochs"] = r.scenario.epochs
    return out


def _init_claim(r: Result) -> tuple[bool, str]:
    xav, small = _ratio(r, 0), _ratio(r, 2)
    big_sat = float(np.median(r.trajectories[3].extras["saturated"][0]))
    acc = [float(np.median(_final(r, i, "train_acc"))) for i in range(4)]
    ok = 0.1 <= xav <= 10 and small < 1e-3 and big_sat >= 0.3 and acc[0] >= acc[2]
    return ok, f"layer-1/last gradient ratio: Xavier {xav:.2g}, too small {small:.2g}; too large: {big_sat:.0%} saturated"


INIT = Lesson(
    key="initialization",
    title="Initialization in a deeper net",
    question="Why do Xavier and He initialization matter? What happens with weights that are too small or too large?",
    scenario=NetScenario(
        pairs(dataset="moons", hidden=(16, 16, 16, 16), activation="tanh"),
        ((opt("adam", {"lr": 0.01}, label="Xavier"), pairs(init="xavier_normal")),
         (opt("adam", {"lr": 0.01}, label="He"), pairs(init="he")),
         (opt("adam", {"lr": 0.01}, label="too small (σ = 0.01)"), pairs(init="normal", init_scale=0.01)),
         (opt("adam", {"lr": 0.01}, label="too large (σ = 3)"), pairs(init="normal", init_scale=3.0))),
        epochs=40, seeds=2,
    ),
    predict=Predict(
        "At the start, which net's first layer gets almost no gradient?",
        ("Xavier", "He", "too small", "too large"),
        lambda r: int(np.argmin([_ratio(r, i) for i in range(4)])),
    ),
    narration=(
        "At the start, layer 1's gradient is {xav_ratio} of the last layer's with Xavier and {he_ratio} with He, but "
        "{small_ratio} with σ = 0.01: each tiny layer shrinks the backward signal, so the first layers hardly learn. "
        "With σ = 3 the tanh units saturate ({big_sat} at the start) and the signal is lost the other way. After "
        "{epochs} epochs: Xavier {xav_acc}, He {he_acc}, too small {small_acc}, too large {big_acc}."
    ),
    facts=_init_facts,
    annotations=lambda r: [(2, 0, "too small: first layers get ~no gradient")],
    variations=(
        Variation("ReLU units", lambda s: set_problem(s, activation="relu")),
        Variation("one hidden layer", lambda s: set_problem(s, hidden=(16,))),
    ),
    claim=_init_claim,
    compute=compute,
)

# -- The output goes to the mean (regression, raw inputs 1–9) ---------------------------------------
#: A run "outputs the mean" when its R² stays below this: it explains almost none of y's spread.
MEAN_R2 = 0.05


def _mean_stuck(r: Result, i: int) -> np.ndarray:
    return _final(r, i, "train_r2") < MEAN_R2


def _mean_facts(r: Result) -> dict[str, float | int | str]:
    raw, std = _mean_stuck(r, 0), _mean_stuck(r, 1)
    y = np.asarray(r.problems[0].y_train, dtype=float)
    stuck = np.flatnonzero(raw)
    spread = float(np.median(_final(r, 0, "pred_spread")[stuck])) if stuck.size else float("nan")
    return {"raw_stuck": int(raw.sum()), "std_stuck": int(std.sum()), "seeds": r.scenario.seeds,
            "mean_y": f"{y.mean():.2f}", "x_lo": f"{r.problems[0].split.dataset.X.min():g}",
            "x_hi": f"{r.problems[0].split.dataset.X.max():g}", "spread": f"{spread:.0%}" if stuck.size else "—",
            "raw_r2": f"{np.median(_final(r, 0, 'train_r2')[~raw]):.2f}" if (~raw).any() else "—",
            "std_r2": f"{np.median(_final(r, 1, 'train_r2')):.2f}"}


def _mean_claim(r: Result) -> tuple[bool, str]:
    raw, std = int(_mean_stuck(r, 0).sum()), int(_mean_stuck(r, 1).sum())
    return raw > std and std == 0, (f"raw inputs: {raw} of {r.scenario.seeds} seeds output the mean (R² < {MEAN_R2}); "
                                     f"standardized: {std}")


MEAN = Lesson(
    key="output_is_the_mean",
    title="A sigmoid net whose output converges to the average",
    question="I train a 1-1-1 sigmoid network to fit y = (1.2x + 1)/10 on x = 1 … 9. On some runs every output "
             "converges to the average of the targets. Why?",
    scenario=NetScenario(
        pairs(dataset="scaled_line", hidden=(1,), activation="sigmoid", output="sigmoid", loss="mse", init="normal",
              init_scale=1.0, test_fraction=0.0),
        ((opt("gd", {"lr": 1.0}, label="raw inputs"), pairs(standardize=False)),
         (opt("gd", {"lr": 1.0}, label="standardized inputs"), pairs(standardize=True))),
        epochs=500, seeds=20,
    ),
    predict=Predict(
        "Same net, same lr, 20 random starts each. Which inputs leave some nets predicting the average?",
        ("raw inputs 1 … 9", "standardized inputs", "neither"),
        lambda r: 0 if _mean_stuck(r, 0).sum() > _mean_stuck(r, 1).sum() else (1 if _mean_stuck(r, 1).any() else 2),
    ),
    narration=(
        "With raw inputs from {x_lo} to {x_hi}, a random first weight pushes the hidden sigmoid to 0 or 1 on every row "
        "in some starts. A saturated unit passes no gradient back, so the net can only move its output bias, and the "
        "best constant under squared error is the mean of y, {mean_y}: {raw_stuck} of {seeds} raw runs end there "
        "(their outputs vary by {spread} of y's spread), the others fit with a median R² of {raw_r2}. Standardized "
        "inputs keep the unit in its sloped range: {std_stuck} of {seeds} get stuck, median R² {std_r2}."
    ),
    facts=_mean_facts,
    annotations=lambda r: [],
    variations=(
        Variation("a larger init (σ = 3)", lambda s: set_problem(s, init_scale=3.0)),
        Variation("tanh units", lambda s: set_problem(s, activation="tanh")),
    ),
    claim=_mean_claim,
    compute=compute,
)


# -- Batch normalization ----------------------------------------------------------------------------
def _bn_facts(r: Result) -> dict[str, float | int | str]:
    loss = [np.median(_final(r, i, "train_loss")) for i in range(3)]
    acc = [np.median(_final(r, i, "train_acc")) for i in range(3)]
    return {"plain_loss": f"{loss[0]:.3f}", "fast_loss": f"{loss[1]:.3f}", "bn_loss": f"{loss[2]:.3f}",
            "plain_acc": _pct(acc[0]), "fast_acc": _pct(acc[1]), "bn_acc": _pct(acc[2]),
            "ln2": f"{math.log(2):.3f}", "epochs": r.scenario.epochs,
            "bn_trained": int((_final(r, 2, "train_acc") >= 0.97).sum()), "seeds": r.scenario.seeds,
            "lr_bn": dict(r.scenario.runs[2][0].hparams)["lr"], "lr_plain": dict(r.scenario.runs[0][0].hparams)["lr"]}


def _bn_claim(r: Result) -> tuple[bool, str]:
    plain = _final(r, 1, "train_loss")
    bn_ok = int((_final(r, 2, "train_acc") >= 0.97).sum())
    ok = bn_ok >= 0.8 * r.scenario.seeds and bool(np.all(plain > 0.6))
    return ok, f"with BN {bn_ok} of {r.scenario.seeds} seeds reach 97%; without BN at the same lr every loss stays above 0.6"


BATCH_NORM = Lesson(
    key="batch_normalization",
    title="Batch normalization: a deep sigmoid net that stalls, and trains with BN",
    question="My deeper sigmoid network barely learns, and a larger learning rate does not help. I read that batch "
             "normalization allows higher learning rates. Does it?",
    scenario=NetScenario(
        pairs(dataset="moons", hidden=(16, 16, 16, 16), activation="sigmoid"),
        ((opt("gd", {"lr": 0.5}, label="no BN, lr 0.5"), pairs(batch_norm=False)),
         (opt("gd", {"lr": 5.0}, label="no BN, lr 5"), pairs(batch_norm=False)),
         (opt("gd", {"lr": 5.0}, label="BN, lr 5"), pairs(batch_norm=True))),
        epochs=60, seeds=5,
    ),
    predict=Predict(
        "Four sigmoid layers of 16 units, full-batch GD, 60 epochs. Which run learns the moons?",
        ("no BN, lr 0.5", "no BN, lr 5", "BN, lr 5"),
        lambda r: int(np.argmin([np.median(_final(r, i, "train_loss")) for i in range(3)])),
    ),
    narration=(
        "Without BN the gradient shrinks through every sigmoid layer, so after {epochs} epochs the loss is still "
        "{plain_loss} at lr {lr_plain} and {fast_loss} at lr 5, next to ln 2 = {ln2} (guessing), with {plain_acc} and "
        "{fast_acc} accuracy. Batch normalization re-centres and re-scales each layer's inputs on every batch, so the "
        "units stay in their sloped range and a 10× larger step is safe: with BN at lr {lr_bn} the loss falls to "
        "{bn_loss} ({bn_acc}), and {bn_trained} of {seeds} seeds reach 97%."
    ),
    facts=_bn_facts,
    annotations=lambda r: [],
    variations=(
        Variation("tanh units", lambda s: set_problem(s, activation="tanh")),
        Variation("two hidden layers", lambda s: set_problem(s, hidden=(16, 16))),
    ),
    claim=_bn_claim,
    compute=compute,
)


NET_LESSONS: tuple[Lesson, ...] = (ADAM, BODY, XOR, ORDER, SIGMOID, MEAN, MSE_CE, IRIS, INIT, BATCH_NORM)
