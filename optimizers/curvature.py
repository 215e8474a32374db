"""Curvature a step may ask for: the Hessian diagonal, exact on a surface or by Hutchinson's estimate elsewhere.

An optimizer that needs more than the gradient names it in ``needs`` (e.g.
``("hessian_diag",)``) and says on which steps through
:meth:`~optimizers.base.Optimizer.needs_at`. The runner then calls :func:`provide`
and hands the result to ``opt.step(params, grads, state, **inputs)``.

- A problem with an analytic ``hessian(points) -> (k, d, d)`` (every landscape)
  gives its exact diagonal.
- Any other problem (a network) gets Hutchinson's estimate
  ``diag(H) ≈ mean_j z_j ⊙ (H z_j)``, with probe vectors ``z_j`` from a generator
  seeded by ``(seed, t)`` and Hessian–vector products by central differences of the
  gradient the step itself uses (the mini-batch one when there is one):

  .. math::
      H v \\approx \\frac{\\nabla L(\\theta + h u) - \\nabla L(\\theta - h u)}{2h}\\,\\lVert v\\rVert,\\quad u = v/\\lVert v\\rVert

  whose error is O(h²) (about 1e-9 relative at h = 1e-4 on the networks here; a float32 network takes a longer
  step, :data:`HVP_STEP_FLOAT32`).
  The same probes serve every run of a batch, so k runs together equal k
  separate runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: Step of the central difference along a unit vector.
HVP_STEP = 1e-4
#: The step for a problem computing in float32 (a network's ``dtype``): rounding then costs about 1e-7/h, so a
#: longer step; on Iris it brings the product within 3e-5 of float64's (3e-3 at HVP_STEP).
HVP_STEP_FLOAT32 = 1e-2
#: Inputs :func:`provide` knows how to make.
KNOWN = ("hessian_diag",)
DISTRIBUTIONS = ("gaussian", "rademacher")


def central_hvp(grads: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, v: np.ndarray,
                step: float = HVP_STEP) -> np.ndarray:
    """``H(θᵢ) vᵢ`` for each row, by central differences of ``grads`` along ``vᵢ / ‖vᵢ‖``, scaled back.

    Parameters
    ----------
    grads : callable
        ``theta (m, P) -> gradient (m, P)``; called once on the ``2k`` shifted rows.
    theta, v : ndarray, shape (k, P)
    step : float
        ``h``.

    Returns
    -------
    ndarray, shape (k, P)
    """
    norms = np.sqrt(np.einsum("kp,kp->k", v, v))
    safe = np.where(norms > 0, norms, 1.0)[:, None]
    u = v / safe
    k = theta.shape[0]
    g = grads(np.concatenate([theta + step * u, theta - step * u]))
    return (g[:k] - g[k:]) * (safe / (2.0 * step))


def probe_vectors(seed: int, t: int, d: int, num_samples: int = 1, distribution: str = "gaussian") -> np.ndarray:
    """Hutchinson's probes for step ``t``: ``(num_samples, d)`` entries, N(0, 1) or ±1, from ``default_rng([seed, t])``.

    Raises
    ------
    ValueError
        On an unknown distribution or a count below 1.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"hessian_distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")
    if int(num_samples) < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples!r}")
    rng = np.random.default_rng([int(seed), int(t)])
    if distribution == "rademacher":
        return rng.integers(0, 2, size=(int(num_samples), d)).astype(np.float64) * 2.0 - 1.0
    return rng.standard_normal((int(num_samples), d))


def hutchinson_diag(hvp: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """``mean_j z_j ⊙ H z_j`` per run, with every run probed by the same ``z_j``.

    Parameters
    ----------
    hvp : callable
        ``v (k, P) -> H v (k, P)``, row by row at ``theta``.
    theta : ndarray, shape (k, P)
    probes : ndarray, shape (n, P)

    Returns
    -------
    ndarray, shape (k, P)
        Unbiased for the diagonal of each run's Hessian (``E[z zᵀ] = I``).
    """
    out = np.zeros_like(theta)
    for z in probes:
        out += z * hvp(np.broadcast_to(z, theta.shape))
    return out / len(probes)


def provide(names: Sequence[str], problem: Any, grads: Callable[[np.ndarray], np.ndarray], params: np.ndarray,
            t: int, optimizer: Any) -> dict[str, np.ndarray]:
    """The inputs ``names`` for step ``t`` at ``params`` ``(k, d)``.

    Parameters
    ----------
    names : sequence of str
        From ``optimizer.needs_at(t)``.
    problem : object
        Its ``hessian`` is used when present.
    grads : callable
        ``theta (m, d) -> gradient (m, d)``: the gradient the step uses, for Hessian–vector products.
    optimizer : Optimizer
        Its algorithm's ``seed``, ``num_samples`` and ``hessian_distribution`` set Hutchinson's probes.

    Raises
    ------
    ValueError
        For an input no problem can give.
    """
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name != "hessian_diag":
            raise ValueError(f"the runner cannot provide {name!r}; it provides {', '.join(KNOWN)}")
        hessian = getattr(problem, "hessian", None)
        if hessian is not None:
            out[name] = np.diagonal(hessian(params), axis1=-2, axis2=-1).copy()
            continue
        hp = getattr(optimizer, "base", optimizer).hparams
        probes = probe_vectors(hp.get("seed", 0), t, params.shape[1], hp.get("num_samples", 1),
                               hp.get("hessian_distribution", "gaussian"))
        single = np.dtype(getattr(problem, "dtype", np.float64)).itemsize < 8
        step = HVP_STEP_FLOAT32 if single else HVP_STEP
        out[name] = hutchinson_diag(lambda v, step=step: central_hvp(grads, params, v, step), params, probes)
    return out
