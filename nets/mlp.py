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
log-sum-exp / log-sigmoid, so it never takes ``log(0)``.

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
    "sigmoid": "One sigmoid unit: p(class 1). Two classes only.",
    "softmax": "One unit per class, softmax over them.",
}
LOSSES: dict[str, str] = {
    "cross_entropy": "−log p(true class): gradient p − y at the logits, fast when wrong.",
    "mse": "Mean squared error on the output probabilities: the gradient fades when the output saturates.",
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
    """

    weights: slice
    bias: slice
    n_in: int
    n_out: int


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
        Widths of the hidden layers; ``()`` gives logistic / softmax regression.
    n_classes : int
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}
    output : {"sigmoid", "softmax"}
        ``"sigmoid"`` needs two classes and has one output unit.
    loss : {"cross_entropy", "mse"}
    l2 : float
        ``λ`` of the penalty ``λ/2 Σ‖W‖²`` (weights only).
    init : str
        A key of :data:`INITS`.
    init_scale : float
        ``σ`` of the ``"normal"`` init.
    """

    def __init__(
        self,
        n_features: int,
        hidden: tuple[int, ...],
        n_classes: int,
        *,
        activation: str = "tanh",
        output: str = "softmax",
        loss: str = "cross_entropy",
        l2: float = 0.0,
        init: str = "xavier_normal",
        init_scale: float = 1.0,
    ) -> None:
        self.hidden = check_architecture(hidden, activation, output, loss, init)
        if n_classes < 2:
            raise ValueError(f"need at least 2 classes, got {n_classes}")
        if output == "sigmoid" and n_classes != 2:
            raise ValueError(f"a sigmoid output needs 2 classes, this data has {n_classes}; use output='softmax'")
        if not (np.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a number >= 0, got {l2!r}")
        if not (np.isfinite(init_scale) and init_scale > 0):
            raise ValueError(f"init_scale must be > 0, got {init_scale!r}")
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.activation, self.output, self.loss = activation, output, loss
        self.l2, self.init_name, self.init_scale = float(l2), init, float(init_scale)
        self.n_out = 1 if output == "sigmoid" else self.n_classes
        self.sizes = (self.n_features, *self.hidden, self.n_out)
        slices, start = [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            w = slice(start, start + n_in * n_out)
            b = slice(w.stop, w.stop + n_out)
            slices.append(LayerSlice(w, b, n_in, n_out))
            start = b.stop
        self.layer_slices: tuple[LayerSlice, ...] = tuple(slices)
        self.n_params = start
        mask = np.zeros(self.n_params)
        for ls in slices:
            mask[ls.weights] = 1.0
        self.weight_mask = mask  # 1 on weights, 0 on biases: the L2 penalty and filter normalisation use it

    def __repr__(self) -> str:
        arch = "-".join(map(str, self.sizes))
        return f"MLP({arch}, {self.activation}, {self.output} output, {self.loss}, l2={self.l2:g}, init={self.init_name})"

    # -- parameters --------------------------------------------------------------
    def unpack(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views ``(W (k, n_in, n_out), b (k, 1, n_out))`` into ``theta`` of shape ``(k, P)``."""
        k = theta.shape[0]
        return [
            (theta[:, ls.weights].reshape(k, ls.n_in, ls.n_out), theta[:, ls.bias].reshape(k, 1, ls.n_out))
            for ls in self.layer_slices
        ]

    def init_rows(self, seeds: list[tuple[int, ...]]) -> np.ndarray:
        """One network per entry of ``seeds`` (each a seed tuple for ``default_rng``), shape ``(k, P)``."""
        theta = np.zeros((len(seeds), self.n_params))
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

    def forward(self, theta: np.ndarray, X_aug: np.ndarray, work: Workspace | None = None
                ) -> tuple[list[np.ndarray], np.ndarray]:
        """Hidden activations and output logits, units along axis 1 and examples along axis 2.

        Parameters
        ----------
        theta : ndarray, shape (k, P)
        X_aug : ndarray, shape (f + 1, n)
            Inputs from :meth:`augment`, shared by all k networks.
        work : Workspace, optional
            Reused scratch buffers (the returned arrays then live in it).

        Returns
        -------
        hidden : list of ndarray, each (k, width + 1, n)
            Activations of each hidden layer, with a last row of ones.
        logits : ndarray, shape (k, n_out, n)
        """
        work = work if work is not None else Workspace()
        blocks = self.blocks(theta)
        k, n = theta.shape[0], X_aug.shape[1]
        hidden: list[np.ndarray] = []
        a = X_aug
        for layer, (Wb, width) in enumerate(zip(blocks[:-1], self.hidden, strict=True)):
            z = np.matmul(Wb.transpose(0, 2, 1), a, out=work.get(("z", layer), (k, width, n), X_aug.dtype))
            buf = work.get(("a", layer), (k, width + 1, n), X_aug.dtype)
            buf[:, width] = 1.0
            self._act(z, out=buf[:, :width])
            hidden.append(buf)
            a = buf
        return hidden, np.matmul(blocks[-1].transpose(0, 2, 1), a)

    def _output_loss(self, z: np.ndarray, Y: np.ndarray, want_delta: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Mean data loss ``(k,)`` and ``dL/dz`` ``(k, n_out, n)`` for logits ``z`` ``(k, n_out, n)``.

        ``Y`` is ``(1, n)`` with 0/1 for a sigmoid output, ``(C, n)`` one-hot columns for softmax.
        """
        n = z.shape[2]
        delta = None
        if self.output == "sigmoid":
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
        work: Workspace | None = None,
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
        with np.errstate(over="ignore", under="ignore"):
            work = work if work is not None else Workspace()
            hidden, z = self.forward(theta, X_aug, work)
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
                    delta = dA
            grads = grads.astype(np.float64, copy=False)
            if self.l2:
                grads += self.l2 * theta64 * self.weight_mask
        return values, grads, hidden, z, act_grads

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

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Target matrix ``(n_out, n)`` for integer labels ``y`` (n,)."""
        y = np.asarray(y, dtype=np.int64)
        if self.output == "sigmoid":
            return y[None, :].astype(np.float64)
        return np.ascontiguousarray(np.eye(self.n_classes)[y].T)

    def saturation_threshold(self) -> float:
        """``act'`` below this value means the activation is within :data:`SATURATION_MARGIN` of a limit."""
        e = SATURATION_MARGIN
        return (1.0 - (1.0 - e) ** 2) if self.activation == "tanh" else e * (1.0 - e)
