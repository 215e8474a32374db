r"""A multilayer perceptron evaluated for k networks at once, with backprop written by hand.

Parameters of one network are one flat vector (as in scikit-learn's
``neural_network``); k networks are the rows of a ``(k, P)`` array, so one
optimizer step touches a single array. Layer ``l`` maps ``n_in`` to ``n_out``
units with ``z = a W + b``; in the flat vector it is ``W`` (row-major,
shape ``(n_in, n_out)``) followed by ``b`` (``n_out``). :meth:`MLP.unpack`
returns views, never copies.

The objective of one network on rows ``i = 1..n`` is

.. math::
    L(\theta) = \frac1n \sum_i \ell(p_i, y_i) + \frac{\lambda}{2}\sum_l \lVert W_l\rVert^2

(biases are not penalised), with ``ℓ`` the cross-entropy, or the mean over
output units of ``(p - onehot(y))²`` ("MSE on the output probabilities", as in
the seed questions). Cross-entropy is computed from the logits with
log-sum-exp / log-sigmoid, so it never takes ``log(0)``. For regression
(``n_targets > 0``) the targets are floats and ``ℓ`` is the mean over targets
of ``(ŷ - y)²``, with ``ŷ = z`` (identity output) or ``ŷ = σ(z)`` (sigmoid output).

Batch normalization (``batch_norm=True``, Ioffe & Szegedy 2015) sits between
each hidden layer's pre-activation and its activation:
``u = γ (z - μ) / sqrt(σ² + ε) + β`` with the mean ``μ`` and the biased
variance ``σ²`` of ``z`` over the rows of the batch, per unit and per network,
and ``ε = 1e-5`` (torch's ``BatchNorm1d``). A hidden layer's parameters are then
``W, b, γ, β`` in that order in the flat vector (``γ`` starts at 1, ``β`` at 0).
``b`` is kept for a uniform layout but cancels in ``z - μ``: its gradient is 0.
No running averages are kept: statistics come either from the rows passed in
(train mode) or from explicitly given ``bn_stats`` (evaluation mode, see
:meth:`MLP.bn_statistics`).

Every array carries a leading k axis, then units, then examples: hidden
activations are ``(k, width + 1, n)`` with a last row of ones, so a layer is one
batched matmul with its ``[W; b]`` block (b sits right after W in the flat
vector, so ``[W; b]`` is a single ``(n_in + 1, n_out)`` view) and its gradient
``[a; 1] δᵀ`` is written straight into the flat gradient. The gradient of all k
networks comes from batched matmuls, never a Python loop over networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

ACTIVATIONS: dict[str, str] = {
    "sigmoid": "σ(z) = 1/(1+e⁻ᶻ): saturates at 0 and 1; its slope is at most 1/4.",
    "tanh": "tanh(z): zero-centred, saturates at ±1; slope 1 at 0.",
    "relu": "max(0, z): no saturation for z > 0; a unit negative on every row is dead.",
    "leaky_relu": "z for z > 0, 0.01·z otherwise: never fully dead.",
}
OUTPUTS: dict[str, str] = {
    "sigmoid": "One sigmoid unit: p(class 1) for two classes, or ŷ in (0, 1) for one regression target.",
    "softmax": "One unit per class, softmax over them.",
    "identity": "One linear unit per target, ŷ = z: regression (with MSE).",
}
LOSSES: dict[str, str] = {
    "cross_entropy": "−log p(true class): gradient p − y at the logits, fast when wrong.",
    "mse": "Mean squared error on the output probabilities (or on ŷ for regression): "
           "the gradient fades when a sigmoid output saturates.",
}
INITS: dict[str, str] = {
    "xavier_normal": "Glorot & Bengio: N(0, 2/(fan_in+fan_out)). Good for tanh/sigmoid.",
    "xavier_uniform": "Glorot & Bengio: U(±√(6/(fan_in+fan_out))) (Keras' default).",
    "he": "He et al.: N(0, 2/fan_in). Good for ReLU.",
    "lecun": "LeCun: N(0, 1/fan_in).",
    "normal": "N(0, σ²) for weights and biases, σ = init_scale (np.random.randn · σ).",
    "zeros": "All zero: every hidden unit stays identical (the symmetry problem).",
}
LEAKY_SLOPE = 0.01
#: An activation within this distance of a limit of sigmoid (0, 1) or tanh (±1) counts as saturated.
SATURATION_MARGIN = 0.01

MAX_WIDTH = 64
MAX_LAYERS = 4
#: ε added to the batch variance before the square root (torch.nn.BatchNorm1d's default).
BN_EPS = 1e-5


class Workspace:
    """Scratch arrays reused across calls, by name and shape.

    Fresh arrays above glibc's mmap threshold (128 KB) are mapped and
    page-faulted on every call; reusing them made the hidden-layer steps of an
    Iris 4-16-3 batch several times cheaper.
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple, np.ndarray] = {}

    def get(self, name: tuple, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype``, the same one for the same request."""
        key = (name, tuple(shape), np.dtype(dtype).str)
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._arrays[key] = np.empty(shape, dtype=dtype)
        return arr


@dataclass(frozen=True)
class LayerSlice:
    """Where one layer lives in the flat parameter vector.

    Attributes
    ----------
    weights, bias : slice
        Positions of ``W`` (row-major ``(n_in, n_out)``) and ``b`` (``n_out``).
    n_in, n_out : int
    gamma, beta : slice or None
        Positions of the batch-norm scale and shift (``n_out`` each) of a hidden
        layer of a batch-normalized net, right after ``b``; ``None`` otherwise.
    """

    weights: slice
    bias: slice
    n_in: int
    n_out: int
    gamma: slice | None = None
    beta: slice | None = None

    @property
    def span(self) -> slice:
        """All of the layer's parameters (``W``, ``b`` and any ``γ``, ``β``): one contiguous slice."""
        return slice(self.weights.start, (self.beta or self.bias).stop)


def check_architecture(hidden: object, activation: str, output: str, loss: str, init: str) -> tuple[int, ...]:
    """Validate the architecture choices and return ``hidden`` as a tuple.

    Raises
    ------
    ValueError
        With the allowed values, e.g. for an unknown activation or a width of 0.
    """
    for what, value, allowed in (
        ("activation", activation, ACTIVATIONS), ("output", output, OUTPUTS),
        ("loss", loss, LOSSES), ("init", init, INITS),
    ):
        if value not in allowed:
            raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
    if output == "identity" and loss == "cross_entropy":
        raise ValueError("cross-entropy needs class probabilities, and an identity output gives none; "
                         "use loss='mse' for regression (or a sigmoid/softmax output for classes)")
    if isinstance(hidden, (int, np.integer)):
        hidden = (int(hidden),)
    try:
        widths = tuple(hidden)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"hidden must be a list of layer widths such as (4,) or (8, 8), got {hidden!r}") from None
    if len(widths) > MAX_LAYERS:
        raise ValueError(f"at most {MAX_LAYERS} hidden layers, got {len(widths)}")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or not 1 <= w <= MAX_WIDTH:
            raise ValueError(
                f"each hidden width must be a whole number in [1, {MAX_WIDTH}], got {w!r} "
                f"(for no hidden layer pass hidden=())"
            )
    return tuple(int(w) for w in widths)


class MLP:
    """The network architecture: sizes, activation, output, loss and init. No data.

    Parameters
    ----------
    n_features : int
    hidden : tuple of int
        Widths of the hidden layers; ``()`` gives logistic / softmax / linear regression.
    n_classes : int
        Number of classes (>= 2); 0 for a regression net (then give ``n_targets``).
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}
    output : {"sigmoid", "softmax", "identity"}
        Classes: ``"sigmoid"`` needs two classes and has one output unit.
        Regression: ``"identity"`` (one linear unit per target) or ``"sigmoid"``
        (one target, ``ŷ`` in (0, 1)).
    loss : {"cross_entropy", "mse"}
        Regression needs ``"mse"``.
    l2 : float
        ``λ`` of the penalty ``λ/2 Σ‖W‖²`` (weights only; not b, γ or β).
    init : str
        A key of :data:`INITS` (for W and b; ``γ`` always starts at 1 and ``β`` at 0).
    init_scale : float
        ``σ`` of the ``"normal"`` init.
    batch_norm : bool
        Batch-normalize each hidden layer's pre-activations, then scale by ``γ``
        and shift by ``β`` (see the module docstring).
    n_targets : int
        Number of regression targets (>= 1), or 0 for classification.
    """

    def __init__(
        self,
        n_features: int,
        hidden: tuple[int, ...],
        n_classes: int = 0,
        *,
        activation: str = "tanh",
        output: str = "softmax",
        loss: str = "cross_entropy",
        l2: float = 0.0,
        init: str = "xavier_normal",
        init_scale: float = 1.0,
        batch_norm: bool = False,
        n_targets: int = 0,
    ) -> None:
        self.hidden = check_architecture(hidden, activation, output, loss, init)
        self.regression = n_targets > 0
        if self.regression:
            if n_classes:
                raise ValueError("give n_classes (classification) or n_targets (regression), not both")
            if output == "softmax" or (output == "sigmoid" and n_targets != 1):
                raise ValueError(f"regression with {n_targets} target(s) needs output='identity'"
                                 f"{' (or sigmoid for one target in [0, 1])' if n_targets == 1 else ''}, "
                                 f"got {output!r}")
            if loss != "mse":
                raise ValueError(f"regression uses loss='mse' (mean squared error), got {loss!r}")
        else:
            if n_classes < 2:
                raise ValueError(f"need at least 2 classes, got {n_classes}")
            if output == "identity":
                raise ValueError("output='identity' is for regression data (float targets); "
                                 "for classes use 'sigmoid' (2 classes) or 'softmax'")
            if output == "sigmoid" and n_classes != 2:
                raise ValueError(f"a sigmoid output needs 2 classes, this data has {n_classes}; use output='softmax'")
        if not (np.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a number >= 0, got {l2!r}")
        if not (np.isfinite(init_scale) and init_scale > 0):
            raise ValueError(f"init_scale must be > 0, got {init_scale!r}")
        self.n_features, self.n_classes, self.n_targets = int(n_features), int(n_classes), int(n_targets)
        self.activation, self.output, self.loss = activation, output, loss
        self.l2, self.init_name, self.init_scale = float(l2), init, float(init_scale)
        self.batch_norm = bool(batch_norm)
        if self.regression:
            self.n_out = self.n_targets
        else:
            self.n_out = 1 if output == "sigmoid" else self.n_classes
        self.sizes = (self.n_features, *self.hidden, self.n_out)
        slices, start = [], 0
        n_layers = len(self.sizes) - 1
        for layer, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            w = slice(start, start + n_in * n_out)
            b = slice(w.stop, w.stop + n_out)
            start = b.stop
            gamma = beta = None
            if self.batch_norm and layer < n_layers - 1:
                gamma = slice(start, start + n_out)
                beta = slice(gamma.stop, gamma.stop + n_out)
                start = beta.stop
            slices.append(LayerSlice(w, b, n_in, n_out, gamma, beta))
        self.layer_slices: tuple[LayerSlice, ...] = tuple(slices)
        self.n_params = start
        mask = np.zeros(self.n_params)
        for ls in slices:
            mask[ls.weights] = 1.0
        self.weight_mask = mask  # 1 on weights, 0 elsewhere: the L2 penalty and filter normalisation use it

    def __repr__(self) -> str:
        arch = "-".join(map(str, self.sizes))
        bn = ", batch norm" if self.batch_norm else ""
        return (f"MLP({arch}, {self.activation}{bn}, {self.output} output, {self.loss}, l2={self.l2:g}, "
                f"init={self.init_name})")

    # -- parameters --------------------------------------------------------------
    def unpack(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views ``(W (k, n_in, n_out), b (k, 1, n_out))`` into ``theta`` of shape ``(k, P)``."""
        k = theta.shape[0]
        return [
            (theta[:, ls.weights].reshape(k, ls.n_in, ls.n_out), theta[:, ls.bias].reshape(k, 1, ls.n_out))
            for ls in self.layer_slices
        ]

    def bn_params(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views ``(γ (k, width, 1), β (k, width, 1))`` of each hidden layer; empty without batch norm."""
        k = theta.shape[0]
        return [(theta[:, ls.gamma].reshape(k, ls.n_out, 1), theta[:, ls.beta].reshape(k, ls.n_out, 1))
                for ls in self.layer_slices if ls.gamma is not None]

    def init_rows(self, seeds: list[tuple[int, ...]]) -> np.ndarray:
        """One network per entry of ``seeds`` (each a seed tuple for ``default_rng``), shape ``(k, P)``."""
        theta = np.zeros((len(seeds), self.n_params))
        for ls in self.layer_slices:
            if ls.gamma is not None:
                theta[:, ls.gamma] = 1.0  # torch's BatchNorm1d starts as the identity map
        if self.init_name == "zeros":
            return theta
        for row, s in zip(theta, seeds, strict=True):
            rng = np.random.default_rng(list(s))
            for ls in self.layer_slices:
                fan_in, fan_out, m = ls.n_in, ls.n_out, ls.n_in * ls.n_out
                name = self.init_name
                if name == "xavier_uniform":
                    lim = np.sqrt(6.0 / (fan_in + fan_out))
                    row[ls.weights] = rng.uniform(-lim, lim, m)
                    continue
                std = {
                    "xavier_normal": np.sqrt(2.0 / (fan_in + fan_out)),
                    "he": np.sqrt(2.0 / fan_in),
                    "lecun": np.sqrt(1.0 / fan_in),
                    "normal": self.init_scale,
                }[name]
                row[ls.weights] = std * rng.standard_normal(m)
                if name == "normal":  # the seed questions' np.random.randn biases
                    row[ls.bias] = std * rng.standard_normal(fan_out)
        return theta

    # -- forward and backward ---------------------------------------------------------
    def blocks(self, theta: np.ndarray) -> list[np.ndarray]:
        """Views ``[W; b]`` of shape ``(k, n_in + 1, n_out)``: b follows W in the flat vector, so it is one more row."""
        k = theta.shape[0]
        return [theta[:, ls.weights.start:ls.bias.stop].reshape(k, ls.n_in + 1, ls.n_out) for ls in self.layer_slices]

    def _act(self, z: np.ndarray, out: np.ndarray) -> None:
        name = self.activation
        if name == "tanh":
            np.tanh(z, out=out)
        elif name == "sigmoid":
            expit(z, out=out)
        elif name == "relu":
            np.maximum(z, 0.0, out=out)
        else:
            np.multiply(z, np.where(z > 0, 1.0, LEAKY_SLOPE), out=out)

    def act_grad(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``act'(z)`` written with the activation ``a = act(z)``, into ``out`` (or a new array)."""
        name = self.activation
        d = np.empty(a.shape, dtype=a.dtype) if out is None else out
        if name == "tanh":
            np.multiply(a, a, out=d)
            np.subtract(1.0, d, out=d)
        elif name == "sigmoid":
            np.subtract(1.0, a, out=d)
            d *= a
        elif name == "relu":
            np.greater(a, 0, out=d)
        else:
            np.greater(a, 0, out=d)
            d *= 1.0 - LEAKY_SLOPE
            d += LEAKY_SLOPE
        return d

    @staticmethod
    def augment(X: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """``[X, 1]ᵀ``: inputs as columns with a row of ones under them, ``(n, f) -> (f+1, n)``.

        Units run along the middle axis and examples along the last one, so
        every elementwise step has a long contiguous inner loop (a short last
        axis of 3 classes makes numpy ~10× slower).
        """
        out = np.ones((X.shape[1] + 1, X.shape[0]), dtype=dtype)
        out[:-1] = X.T
        return out

    def forward(self, theta: np.ndarray, X_aug: np.ndarray, work: Workspace | None = None,
                bn_stats: list[tuple[np.ndarray, np.ndarray]] | None = None,
                ) -> tuple[list[np.ndarray], np.ndarray]:
        """Hidden activations and output logits, units along axis 1 and examples along axis 2.

        Parameters
        ----------
        theta : ndarray, shape (k, P)
        X_aug : ndarray, shape (f + 1, n)
            Inputs from :meth:`augment`, shared by all k networks.
        work : Workspace, optional
            Reused scratch buffers (the returned arrays then live in it).
        bn_stats : list of (ndarray, ndarray), optional
            Batch norm only: per hidden layer the mean and biased variance, each
            ``(k, width, 1)``, to normalize with (evaluation mode, e.g. from
            :meth:`bn_statistics` on the training set). ``None``: the statistics
            of the n rows of ``X_aug`` (train mode).

        Returns
        -------
        hidden : list of ndarray, each (k, width + 1, n)
            Activations of each hidden layer, with a last row of ones.
        logits : ndarray, shape (k, n_out, n)
        """
        hidden, logits, _ = self._forward(theta, X_aug, work, bn_stats)
        return hidden, logits

    def _forward(self, theta: np.ndarray, X_aug: np.ndarray, work: Workspace | None,
                 bn_stats: list[tuple[np.ndarray, np.ndarray]] | None,
                 ) -> tuple[list[np.ndarray], np.ndarray, list[tuple[np.ndarray, ...]]]:
        """:meth:`forward`, plus per batch-normalized layer ``(x̂, 1/sqrt(σ²+ε), μ, σ²)`` for the backward pass."""
        work = work if work is not None else Workspace()
        blocks = self.blocks(theta)
        bn_params = self.bn_params(theta)
        k, n = theta.shape[0], X_aug.shape[1]
        hidden: list[np.ndarray] = []
        bn: list[tuple[np.ndarray, ...]] = []
        a = X_aug
        for layer, (Wb, width) in enumerate(zip(blocks[:-1], self.hidden, strict=True)):
            z = np.matmul(Wb.transpose(0, 2, 1), a, out=work.get(("z", layer), (k, width, n), X_aug.dtype))
            if self.batch_norm:
                if bn_stats is None:
                    mean = z.mean(axis=2, keepdims=True)
                    z -= mean
                    var = np.einsum("kwn,kwn->kw", z, z)[:, :, None] / n
                else:
                    mean, var = bn_stats[layer]
                    z -= mean.astype(z.dtype, copy=False)
                    var = var.astype(z.dtype, copy=False)
                inv = 1.0 / np.sqrt(var + BN_EPS)
                z *= inv  # z now holds x̂, kept for the backward pass
                gamma, beta = bn_params[layer]
                bn.append((z, inv, mean, var))
                z = np.multiply(z, gamma, out=work.get(("u", layer), z.shape, z.dtype))
                z += beta
            buf = work.get(("a", layer), (k, width + 1, n), X_aug.dtype)
            buf[:, width] = 1.0
            self._act(z, out=buf[:, :width])
            hidden.append(buf)
            a = buf
        return hidden, np.matmul(blocks[-1].transpose(0, 2, 1), a), bn

    def bn_statistics(self, theta: np.ndarray, X_aug: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per hidden layer the mean and biased variance ``(k, width, 1)`` of the pre-activations on ``X_aug``.

        These are the train-mode statistics of those rows; passed back as
        ``bn_stats`` they normalize other inputs (a grid, the test rows) exactly
        as those rows were normalized. Empty without batch norm.
        """
        if not self.batch_norm:
            return []
        with np.errstate(over="ignore", under="ignore"):
            _, _, bn = self._forward(theta.astype(X_aug.dtype, copy=False), X_aug, None, None)
        return [(mean, var) for _, _, mean, var in bn]

    def _output_loss(self, z: np.ndarray, Y: np.ndarray, want_delta: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Mean data loss ``(k,)`` and ``dL/dz`` ``(k, n_out, n)`` for logits ``z`` ``(k, n_out, n)``.

        ``Y`` is ``(1, n)`` with 0/1 for a sigmoid output, ``(C, n)`` one-hot columns for softmax,
        ``(m, n)`` float targets for regression.
        """
        n = z.shape[2]
        delta = None
        if self.output == "identity":
            r = z - Y
            m = z.shape[1]
            values = np.einsum("kmn,kmn->k", r, r) / (n * m)
            if want_delta:
                r *= 2.0 / m
                delta = r
        elif self.output == "sigmoid":
            p = expit(z)
            if self.loss == "cross_entropy":
                per = np.logaddexp(0.0, z)  # -log σ(z) for y=1, -log(1-σ(z)) for y=0, without log(0)
                per -= Y * z
                values = per.reshape(z.shape[0], -1).sum(axis=1) / n
                if want_delta:
                    p -= Y
                    delta = p
            else:
                r = p - Y
                values = np.einsum("kon,kon->k", r, r) / n
                if want_delta:
                    p *= 1.0 - p
                    p *= r
                    p *= 2.0
                    delta = p
        else:
            m = z.max(axis=1, keepdims=True)
            e = np.exp(z - m)
            s = e.sum(axis=1, keepdims=True)
            if self.loss == "cross_entropy":
                lse = np.log(s)
                lse += m
                values = (lse.reshape(z.shape[0], -1).sum(axis=1) - z.reshape(z.shape[0], -1) @ Y.ravel()) / n
                if want_delta:
                    e /= s
                    e -= Y
                    delta = e
            else:
                e /= s
                r = e - Y
                C = z.shape[1]
                values = np.einsum("kcn,kcn->k", r, r) / (n * C)
                if want_delta:
                    g = (2.0 / C) * r
                    delta = e * (g - (e * g).sum(axis=1, keepdims=True))
        if delta is not None:
            delta *= 1.0 / n
        return values.astype(np.float64), delta

    def value_and_grad(
        self, theta: np.ndarray, X_aug: np.ndarray, Y: np.ndarray, want_grad: bool = True,
        work: Workspace | None = None, bn_stats: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray], np.ndarray, list[np.ndarray]]:
        """Objective, gradient and the forward pass on the columns of ``X_aug``.

        Parameters
        ----------
        theta : ndarray, shape (k, P)
            Computed in ``X_aug``'s dtype (float32 for speed, float64 for exactness).
        X_aug : ndarray, shape (f + 1, n)
            Inputs from :meth:`augment`.
        Y : ndarray, shape (n_out, n)
            Targets from :meth:`targets`.
        want_grad : bool
        work : Workspace, optional
            Scratch buffers reused across calls; the returned arrays other than
            ``values`` and ``grads`` then live in it and are overwritten by the next call.
        bn_stats : list of (ndarray, ndarray), optional
            Batch norm in evaluation mode (see :meth:`forward`); only without the gradient.

        Returns
        -------
        values : ndarray, shape (k,)
            Mean loss plus the L2 penalty (float64).
        grads : ndarray, shape (k, P), or None
            float64.
        hidden : list of ndarray, each (k, width + 1, n)
        logits : ndarray, shape (k, n_out, n)
        act_grads : list of ndarray, each (k, width, n)
            ``act'(z)`` of each hidden layer (empty without the gradient).
        """
        theta64 = theta
        theta = theta.astype(X_aug.dtype, copy=False)
        if want_grad and bn_stats is not None:
            raise ValueError("gradients are computed in train mode (batch statistics); pass bn_stats=None")
        with np.errstate(over="ignore", under="ignore"):
            work = work if work is not None else Workspace()
            hidden, z, bn = self._forward(theta, X_aug, work, bn_stats)
            values, delta = self._output_loss(z, Y, want_grad)
            if self.l2:
                values = values + 0.5 * self.l2 * ((theta64 * theta64) @ self.weight_mask)
            if not want_grad:
                return values, None, hidden, z, []
            k = theta.shape[0]
            grads = np.empty((k, self.n_params), dtype=theta.dtype)
            blocks = self.blocks(theta)
            gblocks = self.blocks(grads)
            act_grads: list[np.ndarray] = [None] * len(hidden)  # type: ignore[list-item]
            for idx in range(len(blocks) - 1, -1, -1):
                # dL/d[W; b] = [a; 1] δᵀ, one batched matmul per layer straight into the flat gradient
                a_prev = hidden[idx - 1] if idx > 0 else X_aug
                np.matmul(a_prev, delta.transpose(0, 2, 1), out=gblocks[idx])
                if idx > 0:
                    dA = np.matmul(blocks[idx][:, :-1, :], delta, out=work.get(("dA", idx), a_prev[:, :-1].shape,
                                                                                 delta.dtype))
                    d = self.act_grad(a_prev[:, :-1], out=work.get(("d", idx), dA.shape, dA.dtype))
                    act_grads[idx - 1] = d
                    dA *= d
                    if self.batch_norm:
                        dA = self._bn_backward(dA, bn[idx - 1], theta, grads, self.layer_slices[idx - 1])
                    delta = dA
            grads = grads.astype(np.float64, copy=False)
            if self.l2:
                grads += self.l2 * theta64 * self.weight_mask
        return values, grads, hidden, z, act_grads

    @staticmethod
    def _bn_backward(dU: np.ndarray, cache: tuple[np.ndarray, ...], theta: np.ndarray, grads: np.ndarray,
                     ls: LayerSlice) -> np.ndarray:
        """``dL/dz`` from ``dL/du`` for ``u = γ x̂ + β``, ``x̂ = (z − μ)/sqrt(σ² + ε)`` with batch ``μ, σ²``.

        Writes ``dL/dγ = Σ_n dU·x̂`` and ``dL/dβ = Σ_n dU`` into ``grads``. Because
        ``μ`` and ``σ²`` depend on every row, ``dL/dz = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / sqrt(σ² + ε)``
        with ``dx̂ = γ·dU`` and means over the batch rows.
        """
        xhat, inv = cache[0], cache[1]
        grads[:, ls.gamma] = np.einsum("kwn,kwn->kw", dU, xhat)
        grads[:, ls.beta] = dU.sum(axis=2)
        dU *= theta[:, ls.gamma][:, :, None]  # dx̂, in place
        proj = np.einsum("kwn,kwn->kw", dU, xhat)[:, :, None] / dU.shape[2]
        dU -= dU.mean(axis=2, keepdims=True)
        dU -= xhat * proj
        dU *= inv
        return dU

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        """Class probabilities ``(k, n, C)`` from logits ``(k, n_out, n)``."""
        if self.output == "sigmoid":
            p = expit(z[:, 0, :])
            return np.stack([1.0 - p, p], axis=2)
        m = z.max(axis=1, keepdims=True)
        with np.errstate(under="ignore"):
            e = np.exp(z - m)
        return (e / e.sum(axis=1, keepdims=True)).transpose(0, 2, 1)

    def predictions(self, z: np.ndarray) -> np.ndarray:
        """Predicted class ``(k, n)`` from logits ``(k, n_out, n)``; a tie goes to the lower class."""
        if self.output == "sigmoid":
            return (z[:, 0, :] > 0).astype(np.int64)
        return z.argmax(axis=1)

    def predicted_values(self, z: np.ndarray) -> np.ndarray:
        """Regression outputs ``ŷ`` ``(k, m, n)`` from logits ``(k, m, n)``: ``z``, or ``σ(z)`` for a sigmoid output."""
        return expit(z) if self.output == "sigmoid" else z

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Target matrix ``(n_out, n)``: from integer labels ``y`` (n,), or float targets (n,) / (n, m)."""
        if self.regression:
            y = np.asarray(y, dtype=np.float64)
            return np.ascontiguousarray(y[None, :] if y.ndim == 1 else y.T)
        y = np.asarray(y, dtype=np.int64)
        if self.output == "sigmoid":
            return y[None, :].astype(np.float64)
        return np.ascontiguousarray(np.eye(self.n_classes)[y].T)

    def saturation_threshold(self) -> float:
        """``act'`` below this value means the activation is within :data:`SATURATION_MARGIN` of a limit."""
        e = SATURATION_MARGIN
        return (1.0 - (1.0 - e) ** 2) if self.activation == "tanh" else e * (1.0 - e)
