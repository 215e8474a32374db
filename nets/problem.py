"""A network on a dataset: the problem the shared optimizers and runner drive.

``nets.problem("iris", hidden=(16,), activation="tanh")`` gives an object with
``value_and_grad(theta)`` for ``theta`` of shape ``(k, P)`` (one network per
row), the full-training-set objective. With ``batch_size`` set it also has
``batch_value_and_grad(theta, step)``, the mini-batch gradient the runner uses
for the update at ``step``; the full objective is then only evaluated at
recorded steps.

Mini-batches: one epoch is one pass over the training rows in
``steps_per_epoch = ceil(n_train / batch_size)`` steps (the last batch may be
smaller). With ``shuffle=True`` the order of epoch ``e`` is the permutation
drawn by ``default_rng([seed, e])``, so ``batch_value_and_grad`` is a pure
function of ``(theta, step)``; all k networks see the same batches. With
``shuffle=False`` the rows come in data order every epoch (Iris: 50 setosa,
then 50 versicolor, then 50 virginica -- the order seed question 002 warns about).

Regression sets (``scaled_line``, ``sine``, ``plane``) get an identity output and
MSE by default; they record R² (``train_r2``, ``test_r2``) where classification
records accuracy (``train_acc``, ``test_acc``): ``problem.score_key`` is ``"r2"``
or ``"acc"`` and ``problem.score_name`` the label to show.

Batch normalization (``batch_norm=True``): training steps normalize with the
statistics of the rows they see (the mini-batch, or the whole training set for
full batch). Everything else -- the full objective ``value``/``value_and_grad``,
the recorded metrics (train and test), predictions, boundary and fit grids and
loss slices -- normalizes with the statistics of the full training set at the
same parameters. For the training set itself both are the same thing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from common.spec import Spec
from nets import fused
from nets.datasets import DATASETS, Split, load
from nets.mlp import ACTIVATIONS, INITS, LOSSES, MAX_LAYERS, MAX_WIDTH, MLP, LayerSlice, Workspace, check_architecture
from optimizers.layout import BIAS, HIDDEN_WEIGHT, NORM, OUTPUT_WEIGHT, Block, Layout

#: Outputs ``problem`` accepts: "auto" picks sigmoid (2 classes), softmax (more) or identity (regression).
OUTPUT_CHOICES = ("auto", "sigmoid", "softmax", "identity")

MAX_SEEDS = 200
MAX_EPOCHS = 5000
MAX_STEPS = 200_000
CACHE_BYTES = 512 * 1024  # epochs × steps per epoch; b = 1 on a big set is slow in a page


SPECS: tuple[Spec, ...] = (
    Spec("activation", "tanh", choices=tuple(ACTIVATIONS), help="Hidden-unit nonlinearity.", label="activation"),
    Spec("output", "auto", choices=OUTPUT_CHOICES,
         help="auto: one sigmoid unit for two classes, softmax for more, identity for regression.", label="output"),
    Spec("loss", "cross_entropy", choices=tuple(LOSSES), help="Cross-entropy learns faster than MSE on probabilities.",
         label="loss"),
    Spec("l2", 0.0, low=0.0, high=100.0, ui_high=0.1, help="L2 penalty λ/2·Σ‖W‖² on weights (not biases).", label="L2 λ"),
    Spec("init", "xavier_normal", choices=tuple(INITS), help="How the weights start; zeros never breaks symmetry.",
         label="init"),
    Spec("init_scale", 1.0, low=0.0, low_open=True, high=1e3, log=True, ui_low=1e-3, ui_high=10.0,
         help="σ of the 'normal' init.", label="init σ"),
    Spec("batch_size", 0, low=0, high=1_000_000, ui_high=256, help="0 = full batch; 1 = pure SGD (one row per step).",
         label="batch size"),
    Spec("batch_norm", False, help="Normalize each hidden layer's pre-activations over the batch, then scale and shift.",
         label="batch norm"),
    Spec("shuffle", True, help="Reshuffle the rows every epoch (off: data order).", label="shuffle"),
    Spec("seed", 0, low=0, high=2**32 - 1, ui_high=10_000, help="Seeds the data, the split and the shuffling.", label="data seed"),
    Spec("test_fraction", 0.25, low=0.0, high=0.9, help="Share of rows held out for testing.", label="test fraction"),
    Spec("standardize", True, help="Scale every feature to mean 0, std 1 (train statistics).", label="standardize"),
    Spec("width", 4, low=1, high=MAX_WIDTH, help="Units per hidden layer.", label="width"),
    Spec("depth", 1, low=0, high=MAX_LAYERS, help="Hidden layers (0 = logistic/softmax regression).", label="hidden layers"),
    Spec("epochs", 500, low=1, high=MAX_EPOCHS, help="Passes over the training set.", label="epochs"),
    Spec("n_seeds", 1, low=1, high=MAX_SEEDS, help="Networks trained from different random starts.", label="seeds"),
)


def r2_scores(pred: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Coefficient of determination ``R² = 1 − Σ(ŷ − y)² / Σ(y − ȳ)²`` of each network, averaged over targets.

    As scikit-learn's ``r2_score`` (``multioutput="uniform_average"``): a target
    with no spread scores 1 if predicted exactly, else 0.

    Parameters
    ----------
    pred : ndarray, shape (k, m, n)
        Predictions ``ŷ`` of k networks for m targets on n rows.
    Y : ndarray, shape (m, n)

    Returns
    -------
    ndarray, shape (k,)
    """
    r = pred - Y
    ss_res = np.einsum("kmn,kmn->km", r, r)
    c = Y - Y.mean(axis=1, keepdims=True)
    ss_tot = np.einsum("mn,mn->m", c, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
    return r2.mean(axis=1)


class NetProblem:
    """An MLP on a train/test split, batched over k networks.

    Use :func:`problem` to build one. Attributes of interest: ``mlp``,
    ``split``, ``n_params``, ``layer_slices``, ``steps_per_epoch``,
    ``batch_size`` (``None`` = full batch), ``n_classes`` (0 for regression),
    ``regression``, ``score_key``, ``score_name``, ``X_train``, ``y_train``,
    ``X_test``, ``y_test``, ``majority_accuracy`` (None for regression) and
    ``prior_loss``.
    """

    def __init__(self, mlp: MLP, split: Split, *, batch_size: int | None, shuffle: bool, seed: int,
                 dtype: str = "float64") -> None:
        self.mlp, self.split = mlp, split
        self.dtype = np.dtype(dtype)
        self.X_train, self.y_train = split.X_train, split.y_train
        self.X_test, self.y_test = split.X_test, split.y_test
        self._Xa_train = mlp.augment(self.X_train, self.dtype)
        self._Xa_test = mlp.augment(self.X_test, self.dtype)
        self.Y_train = mlp.targets(self.y_train).astype(self.dtype)
        self.Y_test = mlp.targets(self.y_test).astype(self.dtype)
        self.n_train = int(self.X_train.shape[0])
        self.batch_size = batch_size
        self.shuffle, self.seed = bool(shuffle), int(seed)
        self.steps_per_epoch = 1 if batch_size is None else math.ceil(self.n_train / batch_size)
        if batch_size is not None:
            # Only a mini-batched problem offers this: the runner then uses it for the update.
            self.batch_value_and_grad = self._batch_value_and_grad
        self._perm_cache: tuple[int, np.ndarray] | None = None
        self._cache: dict[str, Any] | None = None
        self._work = Workspace()
        if mlp.regression:
            self.majority_accuracy: float | None = None
            # The best constant prediction is the mean of y; its MSE is the variance (per target, averaged).
            self.prior_loss = float(self.Y_train.var(axis=1).mean())
        else:
            counts = np.bincount(self.y_train, minlength=self.n_classes)
            self.majority_accuracy = float(counts.max() / counts.sum())
            self.prior_loss = self._prior_loss(counts / counts.sum())

    # -- description -------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """P, the length of one network's parameter vector."""
        return self.mlp.n_params

    @property
    def layer_slices(self) -> tuple[LayerSlice, ...]:
        """Per layer, where ``W`` and ``b`` sit in the flat vector."""
        return self.mlp.layer_slices

    def layout(self) -> Layout:
        """Which slices of θ are which matrices, for optimizers with rules per parameter group (Muon).

        Every layer's ``W`` is a ``hidden weight`` (it feeds a hidden layer) except the last
        layer's, the ``output weight``; ``b`` is a ``bias`` and batch norm's ``γ``, ``β`` are ``norm``.
        A weight is stored ``(n_in, n_out)``; torch's ``Linear`` holds it as ``(n_out, n_in)``.
        """
        blocks: list[Block] = []
        last = len(self.layer_slices) - 1
        for i, ls in enumerate(self.layer_slices, start=1):
            role = OUTPUT_WEIGHT if i - 1 == last else HIDDEN_WEIGHT
            blocks.append(Block(f"W{i}", ls.weights, (ls.n_in, ls.n_out), role, out_in=(ls.n_out, ls.n_in)))
            blocks.append(Block(f"b{i}", ls.bias, (ls.n_out,), BIAS))
            if ls.gamma is not None and ls.beta is not None:
                blocks.append(Block(f"γ{i}", ls.gamma, (ls.n_out,), NORM))
                blocks.append(Block(f"β{i}", ls.beta, (ls.n_out,), NORM))
        return Layout(tuple(blocks), self.n_params)

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return self.mlp.n_classes

    @property
    def regression(self) -> bool:
        """True for float targets fitted by MSE."""
        return self.mlp.regression

    @property
    def score_key(self) -> str:
        """``"r2"`` or ``"acc"``: the recorded score is ``extras[f"train_{score_key}"]`` (and ``test_``)."""
        return "r2" if self.regression else "acc"

    @property
    def score_name(self) -> str:
        """What to call the score on a page: ``"R²"`` or ``"accuracy"``."""
        return "R²" if self.regression else "accuracy"

    @property
    def title(self) -> str:
        """E.g. ``"Iris (150 flowers) · 4-16-3 tanh"``."""
        return f"{self.split.dataset.title} · {'-'.join(map(str, self.mlp.sizes))} {self.mlp.activation}"

    def __repr__(self) -> str:
        b = "full batch" if self.batch_size is None else f"batch {self.batch_size}"
        # the MLP's repr says whether it batch-normalizes
        return f"NetProblem({self.split.dataset.name}, {self.mlp!r}, {b}, shuffle={self.shuffle})"

    def _prior_loss(self, prior: np.ndarray) -> float:
        """Loss of the best constant prediction, the class frequencies π: where a stalled run sits.

        Cross-entropy: the entropy ``−Σ π_c ln π_c`` (ln C when balanced). MSE:
        ``π₀π₁`` for a sigmoid output, ``(1/C) Σ π_c (1 − π_c)`` for softmax.
        """
        pi = prior[prior > 0]
        if self.mlp.loss == "cross_entropy":
            return float(-(pi * np.log(pi)).sum())
        if self.mlp.output == "sigmoid":
            return float(prior[0] * prior[1])
        return float((prior * (1 - prior)).sum() / prior.size)

    # -- parameters ----------------------------------------------------------------
    def init(self, k: int, seed: int = 0) -> np.ndarray:
        """k networks from the chosen init, shape ``(k, P)``.

        Row ``j`` is drawn from ``default_rng([seed, j])``, so the first rows do
        not depend on k: ``init(5, s)[:3] == init(3, s)``.
        """
        if int(k) != k or not 1 <= k <= max(MAX_SEEDS, 1):
            raise ValueError(f"number of networks must be a whole number in [1, {MAX_SEEDS}], got {k!r}")
        return self.mlp.init_rows([(int(seed), j) for j in range(int(k))])

    def init_seeds(self, seeds: list[int]) -> np.ndarray:
        """One network per seed: row ``j`` equals ``init(1, seeds[j])``."""
        if not 1 <= len(seeds) <= MAX_SEEDS:
            raise ValueError(f"give between 1 and {MAX_SEEDS} seeds, got {len(seeds)}")
        return self.mlp.init_rows([(int(s), 0) for s in seeds])

    def unpack(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views ``(W (k, n_in, n_out), b (k, 1, n_out))`` per layer."""
        return self.mlp.unpack(self._check(theta))

    def _check(self, theta: Any) -> np.ndarray:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim == 1:
            theta = theta[None, :]
        if theta.ndim != 2 or theta.shape[1] != self.n_params:
            raise ValueError(f"theta must have shape (k, {self.n_params}) for this network, got {theta.shape}")
        return theta

    # -- objective -----------------------------------------------------------------
    def _chunk(self, n_rows: int) -> int:
        """Networks per pass, so one hidden-layer array stays near :data:`CACHE_BYTES` (in cache).

        On Iris 4-16-3 with k = 100 (float64: 25 networks per pass) this was up
        to 4× faster in wall time than one pass over all 100 on a busy 2-core
        machine, and no slower in CPU time; more, smaller passes pay numpy's
        per-call overhead instead.
        """
        widest = max((*self.mlp.hidden, self.mlp.n_out)) + 1
        return max(1, CACHE_BYTES // (widest * max(n_rows, 1) * self.dtype.itemsize))

    def _train_bn_stats(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Batch-norm statistics of the full training set at ``theta`` ``(k, P)`` (evaluation mode); None without BN."""
        if not self.mlp.batch_norm:
            return None
        return self.mlp.bn_statistics(theta, self._Xa_train)

    def _evaluate(self, theta: np.ndarray, X_aug: np.ndarray, Y: np.ndarray, y: np.ndarray,
                  want_grad: bool, want_stats: bool, train_stats: bool = False) -> dict[str, Any]:
        """Values (and gradients, and per-network summaries) in cache-sized chunks of networks.

        ``train_stats``: batch-normalize with the full training set's statistics
        (evaluating other rows) instead of those of the rows given.
        """
        k = theta.shape[0]
        mlp = self.mlp
        out: dict[str, Any] = {"values": np.empty(k)}
        if want_grad:
            out["grads"] = np.empty((k, self.n_params))
        if want_stats:
            if mlp.regression:
                out["r2"] = np.empty(k)
                out["pred_spread"] = np.empty(k)
            else:
                out["correct"] = np.empty(k)
            L = len(mlp.hidden)
            out["saturated_layer"] = np.empty((k, L))
            out["dead_layer"] = np.empty((k, L))
        step = self._chunk(X_aug.shape[1])
        thr = mlp.saturation_threshold()
        for lo in range(0, k, step):
            hi = min(lo + step, k)
            stats = self._train_bn_stats(theta[lo:hi]) if train_stats else None
            v, g, _, z, dact = mlp.value_and_grad(theta[lo:hi], X_aug, Y, want_grad, self._work, stats)
            out["values"][lo:hi] = v
            if want_grad:
                out["grads"][lo:hi] = g
            if want_stats and mlp.regression:
                pred = mlp.predicted_values(z).astype(np.float64)
                Y64 = Y.astype(np.float64)
                out["r2"][lo:hi] = r2_scores(pred, Y64)
                sd_y = Y64.std(axis=1)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(sd_y > 0, pred.std(axis=2) / sd_y, 0.0)
                out["pred_spread"][lo:hi] = ratio.mean(axis=1)
            elif want_stats:
                out["correct"][lo:hi] = (mlp.predictions(z) == y).mean(axis=1)
            if want_stats:
                for j, d in enumerate(dact):
                    if mlp.activation in ("sigmoid", "tanh"):
                        out["saturated_layer"][lo:hi, j] = np.count_nonzero(d < thr, axis=(1, 2)) / d[0].size
                    else:  # act' is 1 exactly where z > 0: a unit whose act' never reaches 1 never fired
                        out["dead_layer"][lo:hi, j] = (d.max(axis=2) < 1.0).mean(axis=1)
        return out

    def value_and_grad(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-training-set objective and gradient (batch norm: with the training set's statistics).

        Parameters
        ----------
        theta : ndarray, shape (k, P)

        Returns
        -------
        values : ndarray, shape (k,)
        grads : ndarray, shape (k, P)
        """
        theta = self._check(theta)
        res = self._evaluate(theta, self._Xa_train, self.Y_train, self.y_train, True, True)
        # metrics() at the same parameters reuses this pass instead of redoing it.
        self._cache = {"theta": theta.copy(), **res}
        return res["values"], res["grads"]

    def value(self, theta: np.ndarray) -> np.ndarray:
        """Full-training-set objective ``(k,)`` without the gradient (forward pass only; batch norm: training-set statistics)."""
        return self._evaluate(self._check(theta), self._Xa_train, self.Y_train, self.y_train, False, False)["values"]

    def batch_indices(self, step: int) -> np.ndarray:
        """Training rows used at 0-based ``step`` (the whole set for full batch)."""
        if self.batch_size is None:
            return np.arange(self.n_train)
        epoch, i = divmod(int(step), self.steps_per_epoch)
        if not self.shuffle:
            order = None
        elif self._perm_cache is not None and self._perm_cache[0] == epoch:
            order = self._perm_cache[1]
        else:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.n_train)
            self._perm_cache = (epoch, order)
        lo, hi = i * self.batch_size, min((i + 1) * self.batch_size, self.n_train)
        return np.arange(lo, hi) if order is None else order[lo:hi]

    def _batch_value_and_grad(self, theta: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Objective and gradient on the mini-batch of 0-based ``step``: ``(k,)``, ``(k, P)``.

        With batch norm the batch's own statistics normalize it (train mode).
        """
        idx = self.batch_indices(step)
        theta = self._check(theta)
        if fused.architecture_unsupported(self, theta.shape[0]) is None:
            # The compiled loop's arithmetic, so that both paths give the same bits.
            return fused.batch_value_and_grad(self, theta, idx)
        res = self._evaluate(self._check(theta), self._Xa_train[:, idx], self.Y_train[:, idx], self.y_train[idx],
                             True, False)
        return res["values"], res["grads"]

    # -- predictions -----------------------------------------------------------------
    def _logits(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Output logits ``(k, n_out, n)`` at rows ``X`` ``(n, f)``; batch norm with training-set statistics."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mlp.n_features:
            raise ValueError(f"X must have shape (n, {self.mlp.n_features}), got {X.shape}")
        theta = self._check(theta).astype(self.dtype)
        with np.errstate(over="ignore", under="ignore"):
            _, z = self.mlp.forward(theta, self.mlp.augment(X, self.dtype), None, self._train_bn_stats(theta))
        return z

    def predict_proba(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        theta : ndarray, shape (k, P)
        X : ndarray, shape (n, f)
            In the problem's feature space (standardized if the problem is);
            use :meth:`transform` to map raw features.

        Returns
        -------
        ndarray, shape (k, n, C)

        Raises
        ------
        ValueError
            For a regression problem (use :meth:`predict`).
        """
        if self.regression:
            raise ValueError("a regression net has no class probabilities; use predict(theta, X)")
        z = self._logits(theta, X)
        with np.errstate(over="ignore", under="ignore"):
            return self.mlp.probabilities(z).astype(np.float64)

    def predict(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Regression outputs ``ŷ``.

        Parameters
        ----------
        theta : ndarray, shape (k, P)
        X : ndarray, shape (n, f)
            In the problem's feature space (see :meth:`transform`).

        Returns
        -------
        ndarray, shape (k, n) for one target, (k, n, m) for m targets

        Raises
        ------
        ValueError
            For a classification problem (use :meth:`predict_proba`).
        """
        if not self.regression:
            raise ValueError("predict gives regression outputs; for classes use predict_proba(theta, X)")
        with np.errstate(over="ignore", under="ignore"):
            pred = self.mlp.predicted_values(self._logits(theta, X)).astype(np.float64)
        return pred[:, 0, :] if self.mlp.n_out == 1 else pred.transpose(0, 2, 1)

    def transform(self, X_raw: np.ndarray) -> np.ndarray:
        """Raw features ``(..., f)`` into the problem's feature space."""
        return self.split.transform(X_raw)

    def accuracy(self, theta: np.ndarray, X: np.ndarray | None = None, y: np.ndarray | None = None) -> np.ndarray:
        """Share of rows classified correctly, ``(k,)``; the training set by default."""
        if self.regression:
            raise ValueError("accuracy is for classes; a regression net is scored by r2(theta)")
        if X is None:
            X, y = self.X_train, self.y_train
        return (self.mlp.predictions(self._logits(theta, X)) == np.asarray(y)[None, :]).mean(axis=1)

    def r2(self, theta: np.ndarray, X: np.ndarray | None = None, y: np.ndarray | None = None) -> np.ndarray:
        """Coefficient of determination :func:`r2_scores` ``(k,)`` of a regression net; the training set by default."""
        if not self.regression:
            raise ValueError("R² is for regression; a classifier is scored by accuracy(theta)")
        if X is None:
            X, y = self.X_train, self.y_train
        with np.errstate(over="ignore", under="ignore"):
            pred = self.mlp.predicted_values(self._logits(theta, X)).astype(np.float64)
        return r2_scores(pred, self.mlp.targets(y))

    # -- what the runner records ---------------------------------------------------------
    def metrics(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Per-network diagnostics at ``theta`` ``(k, P)``, recorded by the runner every epoch.

        Returns
        -------
        dict of str to ndarray
            ``train_loss``, ``train_acc`` : (k,)
                Mean data loss (without the L2 term) and accuracy on the train set.
                Regression records ``train_r2`` (:func:`r2_scores`) instead of
                ``train_acc`` (see :attr:`score_key`).
            ``test_loss``, ``test_acc`` (or ``test_r2``) : (k,)
                Only when the problem has test rows. With batch norm the test
                rows are normalized with the training set's statistics.
            ``pred_spread`` : (k,)
                Regression only: standard deviation of ``ŷ`` over the train rows
                divided by that of ``y`` (0: the same output for every input).
            ``grad_norm_layer`` : (k, L)
                Norm of the full-batch gradient of each layer (weights and bias,
                and the batch-norm ``γ``, ``β`` of a hidden layer).
            ``saturated`` : (k,), ``saturated_layer`` : (k, L-1)
                sigmoid/tanh only: share of (hidden unit, train row) pairs whose
                activation is within 0.01 of a limit of the activation.
            ``dead`` : (k,), ``dead_layer`` : (k, L-1)
                relu/leaky_relu only: share of hidden units with ``z <= 0`` on
                every train row (never active).
            ``unit_spread`` : (k,)
                Largest difference between two hidden units of a layer (incoming
                weights, bias and outgoing weights); 0 means the units are
                identical, the symmetry of a zero init never broken.
        """
        theta = self._check(theta)
        c = self._cache
        if c is None or c["theta"].shape != theta.shape or not np.array_equal(c["theta"], theta):
            self.value_and_grad(theta)
            c = self._cache
        mlp = self.mlp
        out: dict[str, np.ndarray] = {}
        with np.errstate(over="ignore", under="ignore"):
            penalty = 0.5 * mlp.l2 * ((theta * theta) @ mlp.weight_mask) if mlp.l2 else 0.0
            out["train_loss"] = c["values"] - penalty
            score = "r2" if mlp.regression else "correct"
            out[f"train_{self.score_key}"] = c[score].copy()
            if mlp.regression:
                out["pred_spread"] = c["pred_spread"].copy()
            if self.y_test.size:
                test = self._evaluate(theta, self._Xa_test, self.Y_test, self.y_test, False, True, train_stats=True)
                out["test_loss"] = test["values"] - penalty
                out[f"test_{self.score_key}"] = test[score]
            g2 = c["grads"] ** 2
            out["grad_norm_layer"] = np.sqrt(np.stack(
                [g2[:, ls.span].sum(axis=1) for ls in mlp.layer_slices], axis=1))
            if mlp.hidden:
                widths = np.array(mlp.hidden, dtype=np.float64)
                key = "saturated" if mlp.activation in ("sigmoid", "tanh") else "dead"
                per = c[f"{key}_layer"]
                out[f"{key}_layer"] = per.copy()
                out[key] = per @ widths / widths.sum()
                out["unit_spread"] = self._unit_spread(theta, theta.shape[0])
        return out

    def _unit_spread(self, theta: np.ndarray, k: int) -> np.ndarray:
        layers = self.mlp.unpack(theta)
        bn = self.mlp.bn_params(theta)
        spread = np.zeros(k)
        for i in range(len(layers) - 1):
            W_in, b = layers[i]
            W_out = layers[i + 1][0]
            # unit j of hidden layer i is column j of W_in, b[j], its γ_j, β_j (batch norm) and row j of W_out
            parts = [W_in, b, *(p.transpose(0, 2, 1) for p in (bn[i] if bn else ())), W_out.transpose(0, 2, 1)]
            unit = np.concatenate(parts, axis=1)  # (k, rows, width)
            spread = np.maximum(spread, (unit.max(axis=2) - unit.min(axis=2)).max(axis=1))
        return spread


def problem(
    dataset: str | Split,
    *,
    hidden: Any = (4,),
    activation: str = "tanh",
    output: str = "auto",
    loss: str = "auto",
    l2: float = 0.0,
    init: str = "xavier_normal",
    init_scale: float = 1.0,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    test_fraction: float | None = None,
    standardize: bool = True,
    noise: float | None = None,
    n: int | None = None,
    dtype: str = "float64",
    batch_norm: bool = False,
) -> NetProblem:
    """Build a network problem for the shared optimizers and runner.

    Parameters
    ----------
    dataset : str or Split
        A key of :data:`nets.datasets.DATASETS`, or a ready :class:`Split`
        (then ``seed`` only seeds the shuffling, and ``test_fraction``,
        ``standardize``, ``noise`` and ``n`` are ignored).
    hidden : sequence of int
        Hidden-layer widths, each in ``[1, MAX_WIDTH]``, at most ``MAX_LAYERS``
        of them; ``()`` for logistic / softmax regression.
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}
    output : {"auto", "sigmoid", "softmax", "identity"}
        ``auto``: one sigmoid unit for two classes, softmax for more, identity
        for a regression set. ``identity`` is for regression only; a sigmoid
        output also fits one regression target (``ŷ = σ(z)``).
    loss : {"auto", "cross_entropy", "mse"}
        ``auto``: cross-entropy for classes, MSE (``mean((ŷ − y)²)``) for
        regression, which accepts only MSE.
    l2 : float
        ``λ`` in ``λ/2 Σ‖W‖²`` (weights only).
    init : str
        A key of :data:`nets.mlp.INITS`.
    init_scale : float
        σ of the ``"normal"`` init.
    batch_size : int or None
        ``None`` (or 0) for full batch; ``1`` for pure SGD; at most the number
        of training rows.
    shuffle : bool
        Reshuffle the rows each epoch (seeded); off keeps the data order.
    seed : int
        Seeds the data generator, the train/test split and the shuffling.
    test_fraction : float, optional
        Share of rows held out (stratified); the dataset's default when omitted.
    standardize : bool
        Standardize features with train statistics; ``False`` feeds raw values.
    noise, n : optional
        Noise level and size of a generated dataset.
    dtype : {"float64", "float32"}
        Precision of the forward and backward pass (parameters, values and
        gradients handed to the optimizer stay float64). float32 is about twice
        as fast; float64 is what the gradient tests check to 1e-7.
    batch_norm : bool
        Batch-normalize every hidden layer (learned scale γ and shift β, in
        theta). A training step uses the statistics of its batch (so a batch
        needs at least 2 rows, as in torch); the full objective, metrics,
        predictions and grids use those of the full training set.

    Returns
    -------
    NetProblem

    Raises
    ------
    ValueError
        With a message naming the bad setting and what is allowed.
    """
    if output not in OUTPUT_CHOICES:
        raise ValueError(f"unknown output {output!r}; choose one of {', '.join(OUTPUT_CHOICES)}")
    if loss != "auto" and loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of auto, {', '.join(LOSSES)}")
    hidden = check_architecture(hidden, activation, "softmax" if output == "auto" else output,
                                "mse" if loss == "auto" else loss, init)
    if isinstance(dataset, Split):
        split = dataset
    elif isinstance(dataset, str):
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
        split = load(dataset, seed=seed, noise=noise, n=n, test_fraction=test_fraction, standardize=standardize)
    else:
        raise ValueError(f"dataset must be a dataset name or a Split, got {type(dataset).__name__}")
    data = split.dataset
    C, m = data.n_classes, data.n_targets
    if output != "auto":
        out = output
    elif m:
        out = "identity"
    else:
        out = "sigmoid" if C == 2 else "softmax"
    loss = ("mse" if m else "cross_entropy") if loss == "auto" else loss
    mlp = MLP(data.n_features, hidden, 0 if m else C, activation=activation, output=out, loss=loss,
              l2=float(l2), init=init, init_scale=float(init_scale), batch_norm=bool(batch_norm), n_targets=m)
    n_train = split.X_train.shape[0]
    if batch_size in (None, 0):
        b = None
    else:
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1 (or None for full batch), got {batch_size!r}")
        if batch_size > n_train:
            raise ValueError(f"batch_size {batch_size} is larger than the {n_train} training rows; "
                             f"use at most {n_train} (or None for full batch)")
        b = int(batch_size)
    if mlp.batch_norm and mlp.hidden:
        # One row has zero variance: every normalized unit would be 0 (torch raises "Expected more than
        # 1 value per channel when training"). The short last batch of an epoch counts too.
        rows = n_train if b is None else (b if n_train % b == 0 else min(b, n_train % b))
        if rows < 2:
            raise ValueError(
                f"batch_norm needs at least 2 rows in every batch, but batch_size {b} on {n_train} training rows "
                f"gives a batch of 1; use another batch size (>= 2, not leaving 1 row over) or batch_norm=False")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return NetProblem(mlp, split, batch_size=b, shuffle=shuffle, seed=seed, dtype=dtype)
