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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from common.spec import Spec
from nets.datasets import DATASETS, Split, load
from nets.mlp import ACTIVATIONS, INITS, LOSSES, MAX_LAYERS, MAX_WIDTH, MLP, LayerSlice, Workspace, check_architecture

MAX_SEEDS = 200
MAX_EPOCHS = 5000
MAX_STEPS = 200_000
CACHE_BYTES = 512 * 1024  # epochs × steps per epoch; b = 1 on a big set is slow in a page


SPECS: tuple[Spec, ...] = (
    Spec("activation", "tanh", choices=tuple(ACTIVATIONS), help="Hidden-unit nonlinearity.", label="activation"),
    Spec("output", "auto", choices=("auto", "sigmoid", "softmax"),
         help="auto: one sigmoid unit for two classes, softmax otherwise.", label="output"),
    Spec("loss", "cross_entropy", choices=tuple(LOSSES), help="Cross-entropy learns faster than MSE on probabilities.",
         label="loss"),
    Spec("l2", 0.0, low=0.0, high=100.0, ui_high=0.1, help="L2 penalty λ/2·Σ‖W‖² on weights (not biases).", label="L2 λ"),
    Spec("init", "xavier_normal", choices=tuple(INITS), help="How the weights start; zeros never breaks symmetry.",
         label="init"),
    Spec("init_scale", 1.0, low=0.0, low_open=True, high=1e3, log=True, ui_low=1e-3, ui_high=10.0,
         help="σ of the 'normal' init.", label="init σ"),
    Spec("batch_size", 0, low=0, high=1_000_000, ui_high=256, help="0 = full batch; 1 = pure SGD (one row per step).",
         label="batch size"),
    Spec("shuffle", True, help="Reshuffle the rows every epoch (off: data order).", label="shuffle"),
    Spec("seed", 0, low=0, high=2**32 - 1, ui_high=10_000, help="Seeds the data, the split and the shuffling.", label="data seed"),
    Spec("test_fraction", 0.25, low=0.0, high=0.9, help="Share of rows held out for testing.", label="test fraction"),
    Spec("standardize", True, help="Scale every feature to mean 0, std 1 (train statistics).", label="standardize"),
    Spec("width", 4, low=1, high=MAX_WIDTH, help="Units per hidden layer.", label="width"),
    Spec("depth", 1, low=0, high=MAX_LAYERS, help="Hidden layers (0 = logistic/softmax regression).", label="hidden layers"),
    Spec("epochs", 500, low=1, high=MAX_EPOCHS, help="Passes over the training set.", label="epochs"),
    Spec("n_seeds", 1, low=1, high=MAX_SEEDS, help="Networks trained from different random starts.", label="seeds"),
)


class NetProblem:
    """An MLP on a train/test split, batched over k networks.

    Use :func:`problem` to build one. Attributes of interest: ``mlp``,
    ``split``, ``n_params``, ``layer_slices``, ``steps_per_epoch``,
    ``batch_size`` (``None`` = full batch), ``n_classes``, ``X_train``,
    ``y_train``, ``X_test``, ``y_test``.
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

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return self.mlp.n_classes

    @property
    def title(self) -> str:
        """E.g. ``"Iris (150 flowers) · 4-16-3 tanh"``."""
        return f"{self.split.dataset.title} · {'-'.join(map(str, self.mlp.sizes))} {self.mlp.activation}"

    def __repr__(self) -> str:
        b = "full batch" if self.batch_size is None else f"batch {self.batch_size}"
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

    def _evaluate(self, theta: np.ndarray, X_aug: np.ndarray, Y: np.ndarray, y: np.ndarray,
                  want_grad: bool, want_stats: bool) -> dict[str, Any]:
        """Values (and gradients, and per-network summaries) in cache-sized chunks of networks."""
        k = theta.shape[0]
        mlp = self.mlp
        out: dict[str, Any] = {"values": np.empty(k)}
        if want_grad:
            out["grads"] = np.empty((k, self.n_params))
        if want_stats:
            out["correct"] = np.empty(k)
            L = len(mlp.hidden)
            out["saturated_layer"] = np.empty((k, L))
            out["dead_layer"] = np.empty((k, L))
        step = self._chunk(X_aug.shape[1])
        thr = mlp.saturation_threshold()
        for lo in range(0, k, step):
            hi = min(lo + step, k)
            v, g, _, z, dact = mlp.value_and_grad(theta[lo:hi], X_aug, Y, want_grad, self._work)
            out["values"][lo:hi] = v
            if want_grad:
                out["grads"][lo:hi] = g
            if want_stats:
                out["correct"][lo:hi] = (mlp.predictions(z) == y).mean(axis=1)
                for j, d in enumerate(dact):
                    if mlp.activation in ("sigmoid", "tanh"):
                        out["saturated_layer"][lo:hi, j] = np.count_nonzero(d < thr, axis=(1, 2)) / d[0].size
                    else:  # act' is 1 exactly where z > 0: a unit whose act' never reaches 1 never fired
                        out["dead_layer"][lo:hi, j] = (d.max(axis=2) < 1.0).mean(axis=1)
        return out

    def value_and_grad(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-training-set objective and gradient.

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
        """Full-training-set objective ``(k,)`` without the gradient (forward pass only)."""
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
        """Objective and gradient on the mini-batch of 0-based ``step``: ``(k,)``, ``(k, P)``."""
        idx = self.batch_indices(step)
        res = self._evaluate(self._check(theta), self._Xa_train[:, idx], self.Y_train[:, idx], self.y_train[idx],
                             True, False)
        return res["values"], res["grads"]

    # -- predictions -----------------------------------------------------------------
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
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mlp.n_features:
            raise ValueError(f"X must have shape (n, {self.mlp.n_features}), got {X.shape}")
        with np.errstate(over="ignore", under="ignore"):
            _, z = self.mlp.forward(self._check(theta).astype(self.dtype), self.mlp.augment(X, self.dtype))
            return self.mlp.probabilities(z).astype(np.float64)

    def transform(self, X_raw: np.ndarray) -> np.ndarray:
        """Raw features ``(..., f)`` into the problem's feature space."""
        return self.split.transform(X_raw)

    def accuracy(self, theta: np.ndarray, X: np.ndarray | None = None, y: np.ndarray | None = None) -> np.ndarray:
        """Share of rows classified correctly, ``(k,)``; the training set by default."""
        theta = self._check(theta)
        if X is None:
            X, y = self.X_train, self.y_train
        with np.errstate(over="ignore", under="ignore"):
            _, z = self.mlp.forward(theta.astype(self.dtype), self.mlp.augment(np.asarray(X, dtype=np.float64), self.dtype))
        return (self.mlp.predictions(z) == np.asarray(y)[None, :]).mean(axis=1)

    # -- what the runner records ---------------------------------------------------------
    def metrics(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Per-network diagnostics at ``theta`` ``(k, P)``, recorded by the runner every epoch.

        Returns
        -------
        dict of str to ndarray
            ``train_loss``, ``train_acc`` : (k,)
                Mean data loss (without the L2 term) and accuracy on the train set.
            ``test_loss``, ``test_acc`` : (k,)
                Only when the problem has test rows.
            ``grad_norm_layer`` : (k, L)
                Norm of the full-batch gradient of each layer (weights and bias).
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
            out["train_acc"] = c["correct"].copy()
            if self.y_test.size:
                test = self._evaluate(theta, self._Xa_test, self.Y_test, self.y_test, False, True)
                out["test_loss"] = test["values"] - penalty
                out["test_acc"] = test["correct"]
            g2 = c["grads"] ** 2
            out["grad_norm_layer"] = np.sqrt(np.stack(
                [g2[:, ls.weights.start:ls.bias.stop].sum(axis=1) for ls in mlp.layer_slices], axis=1))
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
        spread = np.zeros(k)
        for i in range(len(layers) - 1):
            W_in, b = layers[i]
            W_out = layers[i + 1][0]
            # unit j of hidden layer i is column j of W_in, b[j] and row j of W_out
            unit = np.concatenate([W_in, b, W_out.transpose(0, 2, 1)], axis=1)  # (k, n_in+1+n_out, width)
            spread = np.maximum(spread, (unit.max(axis=2) - unit.min(axis=2)).max(axis=1))
        return spread


def problem(
    dataset: str | Split,
    *,
    hidden: Any = (4,),
    activation: str = "tanh",
    output: str = "auto",
    loss: str = "cross_entropy",
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
    output : {"auto", "sigmoid", "softmax"}
        ``auto``: one sigmoid unit for two classes, softmax otherwise.
    loss : {"cross_entropy", "mse"}
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

    Returns
    -------
    NetProblem

    Raises
    ------
    ValueError
        With a message naming the bad setting and what is allowed.
    """
    if output not in ("auto", "sigmoid", "softmax"):
        raise ValueError(f"unknown output {output!r}; choose one of auto, sigmoid, softmax")
    hidden = check_architecture(hidden, activation, "softmax" if output == "auto" else output, loss, init)
    if isinstance(dataset, Split):
        split = dataset
    elif isinstance(dataset, str):
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
        split = load(dataset, seed=seed, noise=noise, n=n, test_fraction=test_fraction, standardize=standardize)
    else:
        raise ValueError(f"dataset must be a dataset name or a Split, got {type(dataset).__name__}")
    C = split.dataset.n_classes
    out = ("sigmoid" if C == 2 else "softmax") if output == "auto" else output
    mlp = MLP(split.dataset.n_features, hidden, C, activation=activation, output=out, loss=loss,
              l2=float(l2), init=init, init_scale=float(init_scale))
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
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return NetProblem(mlp, split, batch_size=b, shuffle=shuffle, seed=seed, dtype=dtype)
