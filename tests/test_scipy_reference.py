"""SciPy reference paths: recorded iterates, statuses and failures.

References: a known minimizer (Rosenbrock's (1, 1)); scipy.optimize.minimize
called directly (two computations that must agree: the recorded path ends at
its ``result.x`` after ``result.nit`` iterations).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from landscapes.rosenbrock import Rosenbrock
from optimizers.runner import Trajectory
from optimizers.scipy_reference import SCIPY_METHODS, reference_path

ROSEN = Rosenbrock()
STARTS = [ROSEN.start, (1.5, -0.5)]


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("method", ["BFGS", "Newton-CG"])
def test_reaches_rosenbrocks_minimizer(method, start):
    """BFGS and Newton-CG end within 1e-5 of (1, 1) (reference: the known minimizer)."""
    traj = reference_path(ROSEN, method, start, maxiter=500)
    assert traj.status[0] == "converged"
    assert np.linalg.norm(traj.final_params[0] - [1.0, 1.0]) < 1e-5
    assert traj.params.shape[1:] == (1, 2)
    np.testing.assert_array_equal(traj.params[0, 0], start)


def _direct(method, start, maxiter):
    fun = lambda x: float(ROSEN.value_and_grad(x)[0])  # noqa: E731
    jac = None if method == "Nelder-Mead" else (lambda x: ROSEN.value_and_grad(x)[1])
    hess = (lambda x: ROSEN.hessian(x)) if method in ("Newton-CG", "trust-ncg") else None
    options = {"maxiter": maxiter}
    if method in ("BFGS", "CG", "L-BFGS-B", "trust-ncg"):
        options["gtol"] = 1e-8
    if method == "Newton-CG":
        options["xtol"] = 1e-10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return minimize(fun, np.asarray(start, float), method=method, jac=jac, hess=hess, options=options)


@pytest.mark.parametrize("method", SCIPY_METHODS)
def test_path_starts_at_start_and_ends_at_scipys_result(method):
    """The recorded path starts at the start and ends at scipy's result.x (reference: minimize called directly)."""
    traj = reference_path(ROSEN, method, ROSEN.start, maxiter=300)
    assert isinstance(traj, Trajectory)
    result = _direct(method, ROSEN.start, 300)
    np.testing.assert_array_equal(traj.params[0, 0], ROSEN.start)
    np.testing.assert_allclose(traj.final_params[0], result.x, rtol=1e-10, atol=1e-12)
    if method != "Nelder-Mead":  # its nit also counts the final iteration, which calls no callback
        assert len(traj.steps) - 1 == result.nit
    np.testing.assert_array_equal(traj.steps, np.arange(len(traj.steps)))
    # Values and gradient norms are those of the surface at the recorded points.
    v, g = ROSEN.value_and_grad(traj.params[:, 0])
    np.testing.assert_allclose(traj.values[:, 0], v, rtol=1e-14)
    np.testing.assert_allclose(traj.grad_norms[:, 0], np.linalg.norm(g, axis=-1), rtol=1e-14)
    assert traj.status[0] == "converged" and traj.status_step[0] == len(traj.steps) - 1
    assert method in traj.reason[0]


class _CountingRosenbrock:
    """Rosenbrock that counts Hessian calls (or hides its Hessian)."""

    def __init__(self, with_hessian: bool) -> None:
        self.calls = 0
        if with_hessian:
            self.hessian = self._hessian

    def value_and_grad(self, p):
        return ROSEN.value_and_grad(p)

    def _hessian(self, p):
        self.calls += 1
        return ROSEN.hessian(p)


@pytest.mark.parametrize("method", ["Newton-CG", "trust-ncg"])
def test_second_order_methods_use_the_problems_hessian(method):
    """Newton-CG/trust-ncg call problem.hessian; without one they still reach (1, 1) via differences of the gradient.

    Reference: the known minimizer, and the two paths (analytic vs differenced Hessian) ending at the same point.
    """
    with_h = _CountingRosenbrock(True)
    a = reference_path(with_h, method, ROSEN.start, maxiter=500)
    assert with_h.calls > 0
    b = reference_path(_CountingRosenbrock(False), method, ROSEN.start, maxiter=500)
    for traj in (a, b):
        assert np.linalg.norm(traj.final_params[0] - [1.0, 1.0]) < 1e-5


def test_maxiter_gives_max_steps():
    """Five BFGS iterations from far away cannot converge: status 'max steps' with 5 recorded iterations."""
    traj = reference_path(ROSEN, "BFGS", ROSEN.start, maxiter=5)
    assert traj.status[0] == "max steps" and traj.status_step[0] == 5
    assert traj.params.shape == (6, 1, 2)


class _Unbounded:
    """f = −x − y: no minimum, so every method runs off to infinity."""

    def value_and_grad(self, p):
        p = np.asarray(p, float)
        return -(p[..., 0] + p[..., 1]), np.broadcast_to([-1.0, -1.0], p.shape).copy()


class _NanBeyond:
    """(x−3)² + y² but NaN for x > 1: the minimum lies where the function is undefined."""

    def value_and_grad(self, p):
        p = np.asarray(p, float)
        x, y = p[..., 0], p[..., 1]
        nan = np.where(x > 1.0, np.nan, 0.0)
        return (x - 3) ** 2 + y**2 + nan, np.stack([2 * (x - 3) + nan, 2 * y + nan], -1)


@pytest.mark.parametrize("problem", [_Unbounded(), _NanBeyond()], ids=["unbounded", "nan"])
@pytest.mark.parametrize("method", SCIPY_METHODS)
def test_failures_come_back_as_finite_trajectories(problem, method):
    """A failing method returns a trajectory (not an exception) that is finite everywhere, with no warning leaked."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = reference_path(problem, method, (0.0, 0.5), maxiter=100)
    assert traj.status[0] in ("diverged", "failed", "max steps", "left window")
    assert traj.status[0] != "converged"
    assert np.isfinite(traj.params).all() and np.isfinite(traj.values).all() and np.isfinite(traj.grad_norms).all()
    assert traj.reason[0]


def test_leaving_the_window_stops_the_path():
    """A path whose minimum lies outside the problem's window stops before the first iterate outside it.

    Reference: the runner's rule (window grown by 25% of its size on each side); BFGS's first
    step on a round bowl lands exactly on the bowl's minimum at (10, 10), far outside.
    """

    class Boxed:
        bounds = ((-1.0, 1.0), (-1.0, 1.0))

        def value_and_grad(self, p):
            p = np.asarray(p, float)
            return ((p - 10.0) ** 2).sum(-1), 2 * (p - 10.0)

    traj = reference_path(Boxed(), "BFGS", (0.0, 0.0), maxiter=20)
    assert traj.status[0] == "left window" and traj.status_step[0] == 1
    assert traj.params.shape == (1, 1, 2)
    assert traj.last_record(0) == 0


@pytest.mark.parametrize(
    ("method", "start", "maxiter", "match"),
    [
        ("sgd", (0.0, 0.0), 10, "unknown SciPy method"),
        ("BFGS", np.zeros((3, 2)), 10, "start must have shape"),
        ("BFGS", (np.nan, 0.0), 10, "finite"),
        ("BFGS", (0.0, 0.0), 0, "maxiter"),
    ],
)
def test_bad_arguments_raise(method, start, maxiter, match):
    """Bad arguments raise ValueError with an actionable message."""
    with pytest.raises(ValueError, match=match):
        reference_path(ROSEN, method, start, maxiter)


def test_method_names_are_case_insensitive_and_d_dimensional():
    """'bfgs' works; a 5-D problem works with a (d,) start (reference: the known minimizer at the origin)."""

    class Bowl:
        def value_and_grad(self, p):
            p = np.asarray(p, float)
            return (p**2).sum(-1), 2 * p

    traj = reference_path(Bowl(), "bfgs", np.arange(1.0, 6.0), maxiter=50)
    assert traj.params.shape[1:] == (1, 5) and traj.status[0] == "converged"
    assert np.abs(traj.final_params).max() < 1e-6
