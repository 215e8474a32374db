r"""Compiled mini-batch training: the MLP's forward, backward and optimizer step in one loop.

Pure SGD (b = 1) spends nearly all of its time in Python: about 30 numpy
calls per step on arrays of a few hundred numbers. Here a whole stretch of
steps between two records runs in one compiled loop
(:mod:`nets.fused_kernels`) over a precomputed batch schedule, the same rows
in the same order as :meth:`NetProblem.batch_indices` draws them. Records
(the full-training-set value, gradient norm and :meth:`NetProblem.metrics`)
are made by the numpy code the runner uses, with the runner's own rules.

**Same bits as the numpy path.** numpy's ``matmul`` goes through BLAS, whose
blocking and fused multiply-adds no loop can follow, and numpy's ``tanh`` is
its own vectorized approximation. So for the problems the compiled loop
supports, the numpy path computes mini-batch gradients with
:func:`batch_value_and_grad` instead: every sum runs over its index in order
(``np.add.accumulate``), products and sums are separate roundings, and tanh is
``−expm1(−2|z|) / (expm1(−2|z|) + 2)`` with the sign of ``z``. The kernels do
the same operations in the same order, calling the same C-library ``exp`` and
``expm1``, so the two paths give the same bits. ``tests/test_nets_fused.py``
compares whole trajectories.

That relies on numpy's ``exp`` and ``expm1`` being the C library's. They are on
x86-64 up to AVX2; numpy built for AVX-512 has its own vectorized versions. A
probe (:func:`_same_math`) checks it once, and the compiled loop declines when
they differ.

Used by :func:`nets.train` when :func:`unsupported` returns ``None`` and the job
has at least :data:`MIN_STEPS` optimizer steps; everything else takes the numpy
loop of :func:`optimizers.run`.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from common import jit
from nets.mlp import LEAKY_SLOPE, MLP

#: Below this many optimizer steps the numpy loop finishes in tens of milliseconds, less than loading
#: the compiled loop in a fresh process.
MIN_STEPS = 1000
#: Products held at once by :func:`batch_value_and_grad` (networks are taken in chunks below it).
CHUNK_FLOATS = 1 << 16
#: Multiply-adds of one forward pass of all k networks on a batch, above which the numpy path keeps BLAS
#: and the compiled loop declines: there BLAS is as fast as a compiled loop, and in-order sums are slow.
MAX_WORK = 1 << 17

ACT_CODES = {"tanh": 0, "sigmoid": 1, "relu": 2, "leaky_relu": 3}
OUTPUT_CODES = {"sigmoid": 0, "softmax": 1}
LOSS_CODES = {"cross_entropy": 0, "mse": 1}

_MATH_OK: bool | None = None


# ----------------------------------------------------------------------------------------------
# What the compiled loop runs
# ----------------------------------------------------------------------------------------------
def work(problem: Any, k: int) -> int:
    """Multiply-adds of one forward pass of ``k`` networks on one batch of ``problem``."""
    sizes = problem.mlp.sizes
    return int(k) * int(problem.batch_size) * sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def architecture_unsupported(problem: Any, k: int | None = None) -> str | None:
    """Why the ordered mini-batch arithmetic does not apply to ``problem``, or ``None`` when it does.

    Parameters
    ----------
    problem : NetProblem
    k : int, optional
        Networks trained at once; more than :data:`MAX_WORK` allows are declined.

    The attributes another feature may add (``batch_norm``, a regression
    ``output``) are read with defaults, so unknown features are declined.
    """
    mlp = problem.mlp
    if getattr(problem, "batch_size", None) is None:
        return "full batch: one BLAS step per epoch, nothing to gain"
    if k is not None and work(problem, k) > MAX_WORK:
        return f"{work(problem, k):,} multiply-adds per step: BLAS is as fast, and in-order sums are slow"
    if np.dtype(getattr(problem, "dtype", np.float64)) != np.float64:
        return "the compiled loop computes in float64 only"
    if getattr(mlp, "batch_norm", False) or getattr(problem, "batch_norm", False):
        return "batch normalization is computed in numpy"
    if getattr(mlp, "output", None) not in OUTPUT_CODES:
        return f"output {getattr(mlp, 'output', None)!r} is computed in numpy"
    if getattr(mlp, "loss", None) not in LOSS_CODES:
        return f"loss {getattr(mlp, 'loss', None)!r} is computed in numpy"
    if getattr(mlp, "activation", None) not in ACT_CODES:
        return f"activation {getattr(mlp, 'activation', None)!r} is computed in numpy"
    return None


def unsupported(problem: Any, optimizer: Any, k: int) -> str | None:
    """Why the compiled loop cannot train ``problem`` with ``optimizer``, or ``None`` when it can.

    Parameters
    ----------
    problem : NetProblem
        Mini-batched, float64, a supported activation, output and loss, no batch norm.
    optimizer : Optimizer
        A plain optimizer or a :class:`~optimizers.transforms.Chain` whose algorithm owns a
        ``kernel``, without gradient noise (numpy's generator draws it) or clipping by norm
        (its ``einsum`` sums in an order of its own); clipping by value is supported.
    k : int
        Networks trained at once.
    """
    from optimizers.fused import _owns
    from optimizers.transforms import Chain

    why = architecture_unsupported(problem, k)
    if why is not None:
        return why
    if not jit.available():
        return "numba is not available"
    base = optimizer.base if isinstance(optimizer, Chain) else optimizer
    if isinstance(optimizer, Chain):
        if optimizer.noise is not None and optimizer.noise.sigma != 0:
            return "gradient noise is drawn by numpy's generator"
        if optimizer.clip is not None and optimizer.clip.mode != "value":
            return "clipping by norm sums with numpy's einsum"
    if not _owns(base, "direction"):
        return f"{type(base).__name__} has no compiled kernel"
    if getattr(type(base), "point_rows", ()) or base.needs:
        # Its kernel is a 2-D surface's (sums over a run's two coordinates, or the surface's Hessian diagonal).
        return f"{type(base).__name__} has no compiled kernel for networks (its compiled form runs on 2-D surfaces)"
    if not _same_math():
        return "numpy's exp/expm1 are not the C library's on this machine, so the bits would differ"
    return None


def _same_math() -> bool:
    """Whether numpy's ``exp`` and ``expm1`` equal the C library's (the kernels') on a spread of inputs."""
    global _MATH_OK
    if _MATH_OK is None:
        from nets import fused_kernels

        x = np.concatenate([np.linspace(-40.0, 40.0, 4001), np.random.default_rng(0).normal(0.0, 4.0, 4000)])
        e, m = np.empty_like(x), np.empty_like(x)
        fused_kernels.libm_exp_expm1.compiled()(x, e, m)
        with np.errstate(all="ignore"):
            _MATH_OK = bool(np.array_equal(e, np.exp(x)) and np.array_equal(m, np.expm1(x)))
    return _MATH_OK


# ----------------------------------------------------------------------------------------------
# The numpy twin of the kernels' arithmetic
# ----------------------------------------------------------------------------------------------
def _activate(name: str, z: np.ndarray) -> np.ndarray:
    """The hidden activation, in the form :func:`nets.fused_kernels._act` computes."""
    if name == "tanh":
        t = np.expm1(-2.0 * np.abs(z))
        return np.copysign(-t / (t + 2.0), z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.where(z <= 0.0, 0.0, z)
    return z * np.where(z > 0.0, 1.0, LEAKY_SLOPE)


def _act_grad(name: str, a: np.ndarray) -> np.ndarray:
    """``act'(z)`` from ``a = act(z)``, as :meth:`MLP.act_grad` computes it."""
    if name == "tanh":
        return 1.0 - a * a
    if name == "sigmoid":
        return (1.0 - a) * a
    d = np.where(a > 0.0, 1.0, 0.0)
    if name == "leaky_relu":
        d = d * (1.0 - LEAKY_SLOPE) + LEAKY_SLOPE
    return d


def _contract(A: np.ndarray, B: np.ndarray, axis: int) -> np.ndarray:
    """``Σ A·B`` over ``axis`` of their broadcast product, added in index order (a sum, not BLAS)."""
    prod = A * B
    return np.add.accumulate(prod, axis=axis).take(-1, axis=axis)


def _output_delta(mlp: MLP, z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``dL/dz`` ``(k, n_out, n)`` of the mean data loss, the operations of :meth:`MLP._output_loss` in order."""
    n = z.shape[2]
    if mlp.output == "sigmoid":
        p = 1.0 / (1.0 + np.exp(-z))
        delta = p - Y if mlp.loss == "cross_entropy" else ((p * (1.0 - p)) * (p - Y)) * 2.0
    else:
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = np.add.accumulate(e, axis=1)[:, -1:]
        e = e / s
        if mlp.loss == "cross_entropy":
            delta = e - Y
        else:
            g = (2.0 / z.shape[1]) * (e - Y)
            delta = e * (g - np.add.accumulate(e * g, axis=1)[:, -1:])
    return delta * (1.0 / n)


def _ordered_chunk(mlp: MLP, theta: np.ndarray, X_aug: np.ndarray, Y: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Logits of ``theta`` ``(k, P)`` on ``X_aug`` ``(f + 1, n)``; the gradient goes into ``grads`` ``(k, P)``."""
    k, n = theta.shape[0], X_aug.shape[1]
    blocks, gblocks = mlp.blocks(theta), mlp.blocks(grads)
    inputs: list[np.ndarray] = []
    a = np.broadcast_to(X_aug, (k, *X_aug.shape))
    for Wb in blocks[:-1]:
        inputs.append(a)
        z = _contract(Wb[:, :, :, None], a[:, :, None, :], axis=1)
        a = np.concatenate([_activate(mlp.activation, z), np.ones((k, 1, n))], axis=1)
    inputs.append(a)
    z = _contract(blocks[-1][:, :, :, None], a[:, :, None, :], axis=1)
    delta = _output_delta(mlp, z, Y)
    for idx in range(len(blocks) - 1, -1, -1):
        a_prev = inputs[idx]
        gblocks[idx][...] = _contract(a_prev[:, :, None, :], delta[:, None, :, :], axis=3)
        if idx > 0:
            dA = _contract(blocks[idx][:, :-1, :, None], delta[:, None, :, :], axis=2)
            delta = dA * _act_grad(mlp.activation, a_prev[:, :-1])
    return z


def batch_value_and_grad(problem: Any, theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Objective and gradient on the training rows ``idx``, with every sum in index order.

    The numpy path of a mini-batched problem that :func:`architecture_unsupported`
    accepts. Same objective as :meth:`MLP.value_and_grad`; the gradient is the
    same up to rounding, computed as the compiled loop computes it.

    Parameters
    ----------
    problem : NetProblem
    theta : ndarray, shape (k, P)
    idx : ndarray of int, shape (b,)

    Returns
    -------
    values : ndarray, shape (k,)
    grads : ndarray, shape (k, P)
    """
    mlp = problem.mlp
    X_aug, Y = problem._Xa_train[:, idx], problem.Y_train[:, idx]
    k = theta.shape[0]
    grads = np.empty((k, mlp.n_params))
    values = np.empty(k)
    widest = max(n_in + 1 for n_in in mlp.sizes[:-1]) * max(mlp.sizes[1:])
    step = max(1, CHUNK_FLOATS // (widest * X_aug.shape[1]))
    with np.errstate(all="ignore"):
        for lo in range(0, k, step):
            hi = min(lo + step, k)
            z = _ordered_chunk(mlp, theta[lo:hi], X_aug, Y, grads[lo:hi])
            values[lo:hi] = mlp._output_loss(z, Y, False)[0]
        if mlp.l2:
            values += 0.5 * mlp.l2 * ((theta * theta) @ mlp.weight_mask)
            grads += mlp.l2 * theta * mlp.weight_mask
    return values, grads


# ----------------------------------------------------------------------------------------------
# The driver: compiled stretches between records, records made as the runner makes them
# ----------------------------------------------------------------------------------------------
def schedule(problem: Any, epochs: range) -> np.ndarray:
    """Row order of each epoch in ``epochs``, ``(len(epochs), n_train)``: :meth:`NetProblem.batch_indices` per step."""
    n = problem.n_train
    if not problem.shuffle:
        return np.broadcast_to(np.arange(n, dtype=np.int64), (len(epochs), n))
    return np.stack([np.random.default_rng([problem.seed, e]).permutation(n) for e in epochs]).astype(np.int64)


def train(problem: Any, optimizer: Any, start: np.ndarray, steps: int, record_every: int, label: str = "") -> Any:
    """:func:`optimizers.run` as :func:`nets.train` calls it, with the steps compiled.

    Records, statuses, reasons and escape points follow the runner's rules
    (``stop_on_converge=False``, ``grad_tol=0``, metrics every record), so the
    returned :class:`~optimizers.runner.Trajectory` equals the numpy loop's.

    Parameters
    ----------
    problem : NetProblem
        Accepted by :func:`unsupported` together with ``optimizer``.
    optimizer : Optimizer
    start : ndarray, shape (k, P)
    steps : int
    record_every : int
        Steps between records.
    label : str

    Returns
    -------
    Trajectory
    """
    from nets import fused_kernels as fk
    from optimizers import runner as R
    from optimizers.transforms import Chain

    t0 = time.perf_counter()
    p = R.as_params(start).copy()
    if not np.isfinite(p).all():
        raise ValueError("start points must be finite numbers")
    k, d = p.shape
    explode, grad_tol, x_tol = 1e12, 0.0, 1e-6
    record_steps = R._record_steps(steps, record_every, False)
    rec_index = {s: i for i, s in enumerate(record_steps)}
    n_rec = len(record_steps)
    chain = optimizer if isinstance(optimizer, Chain) else None
    base = chain.base if chain is not None else optimizer
    runner = fk.Runner(problem, base, k, clip=0.0 if chain is None or chain.clip is None else chain.clip.threshold,
                       decay=0.0 if chain is None else chain.decoupled_weight_decay)
    quick = R._QuickChecks(None, None, explode, grad_tol)

    out_p, out_v, out_g = np.empty((n_rec, k, d)), np.empty((n_rec, k)), np.empty((n_rec, k))
    out_x: dict[str, np.ndarray] = {}
    status = np.full(k, R.RUNNING, dtype=object)
    status_step = np.full(k, steps, dtype=np.int64)
    reason = [""] * k
    active = np.ones(k, dtype=bool)
    escape = np.full((k, d), np.nan)
    metrics, vg = problem.metrics, problem.value_and_grad
    spe = problem.steps_per_epoch
    with np.errstate(all="ignore"):
        v, g = vg(p)
        if not (np.isfinite(v).all() and np.isfinite(g).all()):
            raise ValueError("the objective is not finite at the start point(s); pick another start")
        gn2 = R._sq_norms(g)
        R._record(0, rec_index, out_p, out_v, out_g, out_x, p, v, np.sqrt(gn2), metrics)
        R._check_converged(0, p, np.sqrt(gn2), grad_tol, x_tol, None, active, status, status_step, reason, False)
        all_active = bool(active.all())
        last_v, last_gn2 = v, gn2
        done_t = 0
        for lo, hi in itertools.pairwise(record_steps):
            if not active.any():
                break
            order = schedule(problem, range(lo // spe, (hi - 1) // spe + 1))
            new_p, last, diverged = runner.run(p, active, order, lo // spe * spe, lo + 1, hi, lr_series=optimizer.lr_series)
            for i in diverged:
                t = int(runner.div_step[i])
                status[i], status_step[i] = R.DIVERGED, t
                reason[i] = f"diverged at step {t} ({R._why(runner.escape[i], None, explode)})"
                escape[i] = runner.escape[i]
            if diverged:
                all_active = False
            done_t = last
            if last < hi:  # every run stopped before the record, as the numpy loop breaks
                break
            # The record step itself, exactly as optimizers.runner.run takes it.
            t = hi
            v, g = vg(new_p)
            gn2 = R._sq_norms(g)
            verdict = quick.classify(new_p, v, gn2) if all_active else R.MAY_STOP
            if verdict != R.MAY_STOP:
                p = new_p
                last_v, last_gn2 = v, gn2
                if verdict == R.MAY_CONVERGE:
                    R._check_converged(t, p, np.sqrt(gn2), grad_tol, x_tol, None, active, status, status_step,
                                       reason, False)
                    all_active = bool(active.all())
            else:
                p, v, g, gn2, last_v, last_gn2 = R._masked_step(
                    t, p, new_p, v, g, gn2, last_v, last_gn2, True, active, status, status_step, reason,
                    explode, None, escape)
                R._check_converged(t, p, np.sqrt(gn2), grad_tol, x_tol, None, active, status, status_step,
                                   reason, False)
                all_active = bool(active.all())
            ri = rec_index[t]
            out_p[ri], out_v[ri] = p, last_v
            np.sqrt(last_gn2, out=out_g[ri])
            R._record(t, rec_index, out_p, out_v, out_g, out_x, p, last_v, out_g[ri], metrics)
            done_t = t
        last_gn = np.sqrt(last_gn2)
        for s in record_steps:
            if s > done_t:
                R._record(s, rec_index, out_p, out_v, out_g, out_x, p, last_v, last_gn, metrics)
    for i in np.flatnonzero(status == R.RUNNING):
        status[i], status_step[i] = R.MAX_STEPS, steps
        reason[i] = f"reached the step limit ({steps}) without converging"
    return R.Trajectory(
        params=out_p, values=out_v, grad_norms=out_g, steps=np.asarray(record_steps, dtype=np.int64),
        status=status.astype(str), status_step=status_step, reason=reason, extras=out_x, label=label,
        wall_time=time.perf_counter() - t0, escape=escape,
    )
