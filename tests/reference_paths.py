"""The paths the optimizer reference tests compare: a reference optimizer in torch (float64) and ours.

Both take the gradient of Rosenbrock (scipy's ``rosen_der``) unless told otherwise, so a test differs
only in the optimizer it builds. Use with the ``torch_float64`` fixture (tests/conftest.py): torch
keeps scalar state (step counts, NAdam's product) in its default dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import rosen_der

import optimizers

GradFn = Callable[[np.ndarray], np.ndarray]


def rosen_grads(x: np.ndarray) -> np.ndarray:
    """Rosenbrock's gradient at each row of ``x`` ``(k, d)``."""
    return np.stack([rosen_der(row) for row in x])


def torch_path(start: np.ndarray, make: Callable[[list[Any]], Any], steps: int,
               grad_fn: GradFn = rosen_grads) -> np.ndarray:
    """``(steps + 1, d)``: one start run alone in the torch optimizer ``make([param])``, the start first."""
    import torch

    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = make([p])
    path = [np.array(start, dtype=np.float64)]
    for _ in range(steps):
        x = p.detach().numpy().copy()
        p.grad = torch.tensor(grad_fn(x[None, :])[0], dtype=torch.float64)
        opt.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


def our_path(opt: optimizers.Optimizer | str, starts: np.ndarray, steps: int, grad_fn: GradFn = rosen_grads,
             **hparams: Any) -> np.ndarray:
    """``(steps + 1, k, d)``: ``opt`` (or the registry's optimizer of that name) from every start together."""
    if isinstance(opt, str):
        opt = optimizers.get(opt, **hparams)
    p, state = np.array(starts, dtype=np.float64), opt.init(starts)
    path = [p]
    for _ in range(steps):
        p, state = opt.step(p, grad_fn(p), state)
        path.append(p)
    return np.array(path)
