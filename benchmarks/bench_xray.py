"""Issue 9's job: the sharpness (top Hessian eigenvalue) of 10 Iris 4-16-3 tanh networks per recorded epoch.

The networks are trained by full-batch GD (lr 0.5) for 200 epochs, recorded every 10 epochs (21 records).
Contenders, timed side by side in one process on the same parameters:

``ours, one epoch``
    ``nets.sharpness(problem, theta)`` on the 10 networks of one recorded epoch (the middle one): batched
    Lanczos on central-difference Hessian–vector products through the hand-written backprop, stopping when
    every network's Ritz value has converged (residual bound 1e-6 relative).
``ours, along the run``
    ``nets.sharpness_along(problem, trajectory)``: all 21 records × 10 networks in one batch, divided by 21.
``ours, 30 Lanczos steps``
    ``nets.sharpness(..., max_iter=30, tol=1e-300)``: exactly 30 products, the fixed work the torch line does.
``torch autograd, 30 Lanczos steps``
    The same 10 networks as one batched torch model (``bmm``, float64, one thread); the gradient is built once
    with ``create_graph=True`` and each Hessian–vector product is one ``autograd.grad`` through it (exact
    double backward). The Lanczos bookkeeping is ours (``nets.sharpness._lanczos``), so the two lines differ
    only in how the products are made.

Checks: torch's top eigenvalues equal ours (30 steps) and the converged ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import nets
import optimizers
from benchmarks._timing import Goal, best_of, interleaved
from nets.sharpness import _lanczos

NETS = 10
EPOCHS = 200
EVERY = 10
LR = 0.5
STEPS = 30


def trained(problem: Any) -> optimizers.Trajectory:
    """10 networks trained by full-batch GD, recorded every 10 epochs."""
    return nets.train(problem, optimizers.get("gd", lr=LR), EPOCHS, k=NETS, record_every_epochs=EVERY)


def torch_sharpness(problem: Any, theta: np.ndarray, steps: int):
    """A callable: top eigenvalue ``(k,)`` of each network's Hessian by ``steps`` Lanczos steps on torch HVPs."""
    import torch

    mlp = problem.mlp
    X = torch.from_numpy(np.ascontiguousarray(problem._Xa_train[:-1].T))
    y = torch.from_numpy(np.asarray(problem.y_train, dtype=np.int64))
    k, P = theta.shape

    def matvec_factory():
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        a = X.expand(k, *X.shape)
        layers = mlp.layer_slices
        for i, ls in enumerate(layers):
            W = t[:, ls.weights].reshape(k, ls.n_in, ls.n_out)
            b = t[:, ls.bias]
            z = torch.bmm(a, W) + b[:, None, :]
            a = torch.tanh(z) if i < len(layers) - 1 else z
        ce = torch.nn.functional.cross_entropy(a.reshape(-1, a.shape[2]), y.repeat(k), reduction="none")
        loss = ce.reshape(k, -1).mean(dim=1).sum()  # each network's own mean loss: gradients stay per network
        (g,) = torch.autograd.grad(loss, t, create_graph=True)

        def matvec(v: np.ndarray, rows: np.ndarray) -> np.ndarray:
            full = torch.zeros((k, P), dtype=torch.float64)
            full[torch.from_numpy(rows)] = torch.from_numpy(v)
            (hv,) = torch.autograd.grad(g, t, grad_outputs=full, retain_graph=True)
            return hv.numpy()[rows]

        return matvec

    def call() -> np.ndarray:
        return _lanczos(matvec_factory(), k, P, 1, steps, 1e-300, 0)[:, 0]

    return call


def run(quick: bool = False) -> dict[str, Any]:
    """Time the sharpness of 10 networks per epoch, ours and torch's; return figures, checks and goals."""
    import torch

    torch.set_num_threads(1)  # numpy uses one core at these sizes; a fair fight
    problem = nets.problem("iris", hidden=(16,), activation="tanh")
    traj = trained(problem)
    mid = traj.params[len(traj.steps) // 2]
    repeats = 3 if quick else 9
    torch_call = torch_sharpness(problem, mid, STEPS)
    torch_call()  # first autograd call loads parts of torch: keep it out of the timing
    times, results = interleaved(
        {
            "ours": lambda: nets.sharpness(problem, mid)[:, 0],
            "ours_fixed": lambda: nets.sharpness(problem, mid, max_iter=STEPS, tol=1e-300)[:, 0],
            "torch": torch_call,
        },
        repeats,
    )
    t_along, (_, along) = best_of(lambda: nets.sharpness_along(problem, traj), 1 if quick else 3)
    n_rec = len(traj.steps)
    checks = {
        "max_rel_diff_torch_vs_ours_30_steps": float(np.max(np.abs(results["torch"] / results["ours_fixed"] - 1))),
        "max_rel_diff_torch_vs_ours_converged": float(np.max(np.abs(results["torch"] / results["ours"] - 1))),
        "max_rel_diff_along_vs_one_epoch": float(np.max(np.abs(along[n_rec // 2, :, 0] / results["ours"] - 1))),
        "sharpness_median_first_mid_last": [float(np.median(along[i, :, 0])) for i in (0, n_rec // 2, -1)],
        "two_over_lr": 2.0 / LR,
    }
    per_epoch_along = t_along / n_rec
    rows = [
        {"name": f"ours: nets.sharpness, {NETS} nets, one epoch (converged)", "seconds": times["ours"]},
        {"name": f"ours: nets.sharpness_along, {n_rec} epochs × {NETS} nets, per epoch", "seconds": per_epoch_along},
        {"name": f"ours: {STEPS} Lanczos steps, central-difference HVPs", "seconds": times["ours_fixed"]},
        {"name": f"torch: {STEPS} Lanczos steps, autograd HVPs (bmm, float64, 1 thread)", "seconds": times["torch"]},
    ]
    goals = [
        Goal("sharpness of 10 Iris nets, one epoch, seconds (issue 9)", times["ours"], 0.02, "<=", unit=" s"),
        Goal("same, per epoch along a run, seconds (issue 9)", per_epoch_along, 0.02, "<=", unit=" s"),
        Goal("ours / torch time, same 30 Lanczos steps (issue 9)", times["ours_fixed"] / times["torch"], 1.0, "<="),
    ]
    info = {"nets": NETS, "epochs": EPOCHS, "record_every": EVERY, "records": n_rec, "lr": LR,
            "n_params": int(problem.n_params), "n_train": int(problem.n_train), "lanczos_steps": STEPS,
            "repeats": repeats, "torch_threads": 1}
    return {"rows": rows, "goals": [g.as_dict() for g in goals], "checks": checks, "info": info}
