"""Issue 4's jobs: 100 seeds × 1,000 full-batch Adam epochs of a 4-16-3 tanh MLP on Iris, and a 41×41 slice.

Contenders for the training job, timed side by side in one process:

``ours``
    ``optimizers.run`` on ``nets.problem("iris", hidden=(16,))`` with the 100
    networks as one ``(100, 131)`` batch, end-only recording.
``jax``
    The same network, loss and Adam written in JAX, ``jit`` + ``vmap`` over
    seeds + ``lax.scan`` over epochs, float64; compile time excluded.
``torch batched``
    One batched model: weights ``(100, 4, 16)`` etc., ``torch.bmm``, the 100
    per-network mean losses summed (so each network gets its own gradient),
    ``torch.optim.Adam`` over the four batched tensors, float64.

All three start from the same ``problem.init`` parameters; their final
losses are compared so the timings are of the same work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import nets
import optimizers
from benchmarks._timing import Goal, best_of, interleaved

SEEDS = 100
EPOCHS = 1000
LR = 0.01
HIDDEN = 16


def iris_problem() -> Any:
    """The 4-16-3 tanh softmax network on Iris (standardized, the dataset's default split)."""
    return nets.problem("iris", hidden=(HIDDEN,), activation="tanh")


def _data(problem: Any) -> tuple[np.ndarray, np.ndarray]:
    """``X (n, 4)`` and one-hot ``Y (n, 3)`` of the training rows, as the problem sees them."""
    return np.ascontiguousarray(problem._Xa_train[:-1].T), np.ascontiguousarray(problem.Y_train.T)


def _unpack(theta: np.ndarray, n_in: int, n_out: int) -> list[np.ndarray]:
    """``(k, P)`` -> W1 (k, in, H), b1 (k, H), W2 (k, H, out), b2 (k, out), in the problem's flat layout."""
    k = theta.shape[0]
    i = 0
    out = []
    for shape in ((n_in, HIDDEN), (HIDDEN,), (HIDDEN, n_out), (n_out,)):
        size = int(np.prod(shape))
        out.append(theta[:, i:i + size].reshape(k, *shape))
        i += size
    return out


def ours(problem: Any, theta0: np.ndarray, epochs: int) -> optimizers.Trajectory:
    """The training job through the shared runner."""
    return optimizers.run(problem, optimizers.get("adam", lr=LR), theta0, epochs, record_end_only=True)


def jax_job(problem: Any, epochs: int) -> Any:
    """A jitted ``(k, P) -> (k,)`` final training losses for the same job."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    X, Y = (jnp.asarray(a) for a in _data(problem))
    n_in, n_out = X.shape[1], Y.shape[1]
    b1, b2, eps = 0.9, 0.999, 1e-8

    def loss(theta):
        W1, c1, W2, c2 = (a[0] for a in _unpack(theta[None], n_in, n_out))
        logits = jnp.tanh(X @ W1 + c1) @ W2 + c2
        return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(logits, axis=1), axis=1))

    grad = jax.grad(loss)

    def one(theta0):
        def body(carry, t):
            p, m, v = carry
            g = grad(p)
            m = b1 * m + (1.0 - b1) * g
            v = b2 * v + (1.0 - b2) * g * g
            p = p - LR * (m / ((1.0 - b1**t) * (jnp.sqrt(v) / jnp.sqrt(1.0 - b2**t) + eps)))
            return (p, m, v), None

        z = jnp.zeros_like(theta0)
        (p, _, _), _ = jax.lax.scan(body, (theta0, z, z), jnp.arange(1, epochs + 1, dtype=jnp.float64))
        return loss(p)

    compiled = jax.jit(jax.vmap(one))

    def call(theta0: np.ndarray) -> np.ndarray:
        out = compiled(jnp.asarray(theta0))
        out.block_until_ready()
        return np.asarray(out)

    return call


def torch_batched(problem: Any, theta0: np.ndarray, epochs: int) -> np.ndarray:
    """The 100 networks as one batched torch model; ``(k,)`` final training losses."""
    import torch

    X_np, Y_np = _data(problem)
    X = torch.from_numpy(X_np)
    y = torch.from_numpy(Y_np.argmax(axis=1))
    k = theta0.shape[0]
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True)
              for a in _unpack(theta0, X_np.shape[1], Y_np.shape[1])]
    W1, c1, W2, c2 = params
    opt = torch.optim.Adam(params, lr=LR)
    Xb = X.expand(k, *X.shape)

    def losses() -> torch.Tensor:
        h = torch.tanh(torch.bmm(Xb, W1) + c1[:, None, :])
        logits = torch.bmm(h, W2) + c2[:, None, :]
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), y.repeat(k), reduction="none")
        return ce.reshape(k, -1).mean(dim=1)

    for _ in range(epochs):
        opt.zero_grad()
        losses().sum().backward()
        opt.step()
    with torch.no_grad():
        return losses().numpy()


def run(quick: bool = False) -> dict[str, Any]:
    """Time the training job three ways and the 41×41 slice; return figures, checks and goals."""
    import torch

    torch.set_num_threads(1)  # numpy and XLA use one core for these sizes; a fair fight
    problem = iris_problem()
    theta0 = problem.init(SEEDS, 0)
    repeats = 2 if quick else 5

    jax_call = jax_job(problem, EPOCHS)
    t_compile, _ = best_of(lambda: jax_call(theta0), 1)
    torch_batched(problem, theta0, 2)  # first step imports parts of torch: keep it out of the timing
    times, results = interleaved(
        {
            "ours": lambda: ours(problem, theta0, EPOCHS),
            "jax": lambda: jax_call(theta0),
            "torch": lambda: torch_batched(problem, theta0, EPOCHS),
        },
        repeats,
    )
    final = results["ours"].final_values
    checks = {
        "max_abs_diff_final_loss_jax": float(np.abs(final - results["jax"]).max()),
        "max_abs_diff_final_loss_torch": float(np.abs(final - results["torch"]).max()),
        "median_final_loss": float(np.median(final)),
        "status_counts": {s: int(c) for s, c in zip(*np.unique(results["ours"].status, return_counts=True), strict=True)},
    }

    center = results["ours"].final_params[0]
    t_slice, sl = best_of(lambda: nets.slice_2d(problem, center, resolution=41), 3 if quick else 7)
    checks["slice_shape"] = list(np.shape(sl.Z)) if hasattr(sl, "Z") else None

    rows = [
        {"name": f"ours: optimizers.run, {SEEDS} seeds × {EPOCHS} epochs", "seconds": times["ours"]},
        {"name": "JAX jit+vmap+scan (float64), run only", "seconds": times["jax"]},
        {"name": "JAX compile (first call, excluded)", "seconds": t_compile - times["jax"]},
        {"name": f"torch, {SEEDS} seeds as one batched model (bmm, float64)", "seconds": times["torch"]},
        {"name": "41×41 landscape slice on Iris (nets.slice_2d)", "seconds": t_slice},
    ]
    goals = [
        Goal("ours / JAX time (issue 4)", times["ours"] / times["jax"], 2.0, "<="),
        Goal("ours / batched torch time (issue 4)", times["ours"] / times["torch"], 1.0, "<="),
        Goal("41×41 slice seconds (issue 4)", t_slice, 0.5, "<=", unit=" s"),
    ]
    info = {"seeds": SEEDS, "epochs": EPOCHS, "lr": LR, "n_params": int(problem.n_params),
            "n_train": int(problem.n_train), "repeats": repeats, "torch_threads": 1}
    return {"rows": rows, "goals": [g.as_dict() for g in goals], "checks": checks, "info": info}
