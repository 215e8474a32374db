"""The runner against hand-written loops over ``opt.step``.

References: a hand loop over the optimizer's own ``step`` (two computations
that must agree) for paths, statuses and the steps at which they happen;
recording every step (for the thinned recordings). Warnings are errors here
(pyproject's filterwarnings plus ``simplefilter("error")`` where a run blows up).
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import optimizers
from landscapes.rosenbrock import Rosenbrock

ROSEN = Rosenbrock()


class Unbounded:
    """Rosenbrock without bounds or minima: only divergence can stop a run."""

    def value_and_grad(self, p):
        return ROSEN.value_and_grad(p)


class Bowl:
    """f = ½ Σ λᵢ xᵢ², optionally with a window or known minimum."""

    def __init__(self, lam=(1.0, 4.0), bounds=None, minima=None):
        self.lam = np.asarray(lam)
        if bounds is not None:
            self.bounds = bounds
        if minima is not None:
            self.minima = minima

    def value_and_grad(self, p):
        p = np.asarray(p, float)
        return 0.5 * (self.lam * p * p).sum(-1), self.lam * p


def hand_loop(problem, opt, starts, steps, grad_fn=None):
    """Params after each step, (steps+1, k, d), from a plain loop over opt.step."""
    p, state = np.asarray(starts, float), opt.init(starts)
    out = [p]
    for t in range(steps):
        g = problem.value_and_grad(p)[1] if grad_fn is None else grad_fn(p, t)
        p, state = opt.step(p, g, state)
        out.append(p)
    return np.array(out)


def test_divergence_stops_at_the_right_step_with_a_finite_path():
    """GD with lr 0.01 on Rosenbrock blows up; the run stops at the first non-finite/exploded step.

    Reference: a hand loop finding the first step whose point or value is non-finite or beyond 1e12.
    """
    opt = optimizers.get("gd", lr=0.01)
    starts = np.array([[-1.5, 2.0], [1.0, 1.0]])  # the second sits at the minimum and stays
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("error")
        traj = optimizers.run(Unbounded(), opt, starts, 60, grad_tol=0.0)
        ref = hand_loop(Unbounded(), opt, starts[:1], 60)[:, 0]
        vals = ROSEN.value_and_grad(ref)[0]
    bad = ~np.isfinite(ref).all(-1) | (np.abs(ref) > 1e12).any(-1) | ~np.isfinite(vals) | (np.abs(vals) > 1e12)
    t_bad = int(np.argmax(bad))
    assert bad.any() and t_bad > 1
    assert traj.status[0] == "diverged" and traj.status_step[0] == t_bad
    assert f"step {t_bad}" in traj.reason[0]
    # The path is kept up to the last finite point and repeats it after.
    np.testing.assert_allclose(traj.params[:t_bad, 0], ref[:t_bad], rtol=1e-12)
    np.testing.assert_array_equal(traj.params[t_bad:, 0], np.broadcast_to(ref[t_bad - 1], traj.params[t_bad:, 0].shape))
    np.testing.assert_array_equal(traj.params[traj.last_record(0), 0], ref[t_bad - 1])
    for arr in (traj.params, traj.values, traj.grad_norms):
        assert np.isfinite(arr).all()
    assert traj.status[1] == "max steps" and traj.status_step[1] == 60


def test_convergence_stops_where_the_gradient_norm_drops_under_tol():
    """GD on a quadratic converges at the first step with ‖g‖ < grad_tol (reference: hand loop)."""
    opt = optimizers.get("gd", lr=0.1)
    starts = np.array([[1.0, 1.0], [1e-3, -2e-3], [5.0, 0.0]])
    bowl, tol = Bowl(), 1e-6
    traj = optimizers.run(bowl, opt, starts, 400, grad_tol=tol)
    ref = hand_loop(bowl, opt, starts, 400)
    gnorm = np.linalg.norm(bowl.value_and_grad(ref)[1], axis=-1)  # (T+1, k)
    for i in range(len(starts)):
        t_conv = int(np.argmax(gnorm[:, i] < tol))
        assert gnorm[t_conv, i] < tol <= gnorm[t_conv - 1, i]
        assert traj.status[i] == "converged" and traj.status_step[i] == t_conv
        np.testing.assert_allclose(traj.final_params[i], ref[t_conv, i], rtol=1e-12)
        np.testing.assert_allclose(traj.params[: t_conv + 1, i], ref[: t_conv + 1, i], rtol=1e-12)
    assert len(set(traj.status_step)) == 3  # different starts converge at different steps


def test_convergence_by_distance_to_a_known_minimum():
    """A run within x_tol of a listed minimum counts as converged (reference: hand loop on the distance)."""
    bowl = Bowl(minima=[SimpleNamespace(point=(0.0, 0.0))])
    opt = optimizers.get("gd", lr=0.1)
    starts = np.array([[1.0, -1.0]])
    traj = optimizers.run(bowl, opt, starts, 400, grad_tol=0.0, x_tol=1e-4)
    ref = hand_loop(bowl, opt, starts, 400)[:, 0]
    t_conv = int(np.argmax(np.linalg.norm(ref, axis=-1) < 1e-4))
    assert traj.status[0] == "converged" and traj.status_step[0] == t_conv


def test_leaving_the_window():
    """A run stops at the first step outside the window grown by window_margin (reference: hand loop)."""
    bowl = Bowl(lam=(1.0, 1.0), bounds=((-1.0, 1.0), (-1.0, 1.0)))
    opt = optimizers.get("gd", lr=2.5)  # factor −1.5 per step: oscillates outward
    starts = np.array([[0.1, 0.05]])
    traj = optimizers.run(bowl, opt, starts, 50, window_margin=0.25)
    ref = hand_loop(bowl, opt, starts, 50)[:, 0]
    t_out = int(np.argmax((np.abs(ref) > 1.5).any(-1)))
    assert traj.status[0] == "left window" and traj.status_step[0] == t_out
    np.testing.assert_allclose(traj.final_params[0], ref[t_out - 1], rtol=1e-12)
    assert (np.abs(traj.params) <= 1.5).all()


def test_runner_equals_hand_loop():
    """Adam on Rosenbrock from 3 starts, 300 steps: runner params and values equal a hand loop (reference: hand loop)."""
    opt = optimizers.get("adam", lr=0.01)
    starts = np.array([ROSEN.start, (0.0, 0.0), (1.2, 1.3)])
    traj = optimizers.run(ROSEN, opt, starts, 300, grad_tol=0.0, x_tol=0.0)
    ref = hand_loop(ROSEN, opt, starts, 300)
    assert (traj.status == "max steps").all()
    np.testing.assert_allclose(traj.params, ref, rtol=1e-12, atol=1e-15)
    v, g = ROSEN.value_and_grad(ref)
    np.testing.assert_allclose(traj.values, v, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(traj.grad_norms, np.linalg.norm(g, axis=-1), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(traj.steps, np.arange(301))


def test_runner_drives_a_chain_like_any_optimizer():
    """A Chain (schedule + clip) runs through the runner exactly as through a hand loop (reference: hand loop)."""
    opt = optimizers.Chain(optimizers.get("momentum", lr=0.002), schedule=optimizers.schedule("cosine", period=80),
                           clip=optimizers.Clip("norm", 5.0))
    starts = np.array([ROSEN.start, (0.5, 1.5)])
    traj = optimizers.run(ROSEN, opt, starts, 100, grad_tol=0.0, x_tol=0.0)
    np.testing.assert_allclose(traj.params, hand_loop(ROSEN, opt, starts, 100), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("every", [1, 7, 25, 60])
def test_record_every_and_end_only_match_full_recording(every):
    """Thinned records equal the full recording at the same steps, first and last always included."""
    opt = optimizers.get("rmsprop", lr=1e-3)
    starts = np.array([ROSEN.start, (0.3, -0.4), (1.5, 2.5)])
    full = optimizers.run(ROSEN, opt, starts, 50)
    thin = optimizers.run(ROSEN, opt, starts, 50, record_every=every)
    expect = sorted(set(range(0, 51, every)) | {50})
    np.testing.assert_array_equal(thin.steps, expect)
    assert thin.params.shape == (len(expect), 3, 2) and thin.values.shape == (len(expect), 3)
    np.testing.assert_array_equal(thin.params, full.params[expect])
    np.testing.assert_array_equal(thin.values, full.values[expect])
    np.testing.assert_array_equal(thin.grad_norms, full.grad_norms[expect])
    np.testing.assert_array_equal(thin.status, full.status)
    end = optimizers.run(ROSEN, opt, starts, 50, record_end_only=True)
    np.testing.assert_array_equal(end.steps, [0, 50])
    np.testing.assert_array_equal(end.params, full.params[[0, 50]])
    np.testing.assert_array_equal(end.values, full.values[[0, 50]])


class MiniBatchLine:
    """Least squares y ≈ a·x + b on 12 points; step t uses 3 of them (a deterministic mini-batch)."""

    def __init__(self):
        rng = np.random.default_rng(3)
        self.x = np.linspace(-1, 1, 12)
        self.y = 2.0 * self.x - 0.5 + 0.1 * rng.standard_normal(12)
        self.batch_calls = 0

    def _vg(self, p, idx):
        r = p[:, :1] * self.x[idx] + p[:, 1:] - self.y[idx]  # (k, n)
        grad = np.stack([(r * self.x[idx]).mean(-1), r.mean(-1)], -1)
        return 0.5 * (r * r).mean(-1), grad

    def value_and_grad(self, p):
        return self._vg(np.asarray(p, float), np.arange(12))

    def batch(self, step):
        return (np.arange(3) + 3 * step) % 12

    def batch_value_and_grad(self, p, step):
        self.batch_calls += 1
        return self._vg(np.asarray(p, float), self.batch(step))


def test_mini_batch_problem_uses_batch_gradients_and_full_values():
    """Updates use batch_value_and_grad(params, step); records show the full objective (reference: hand loop)."""
    prob = MiniBatchLine()
    opt = optimizers.get("momentum", lr=0.1)
    starts = np.array([[0.0, 0.0], [1.0, 1.0]])
    traj = optimizers.run(prob, opt, starts, 40, record_every=5, grad_tol=0.0)
    assert prob.batch_calls == 40
    ref = hand_loop(prob, opt, starts, 40, grad_fn=lambda p, t: prob._vg(p, prob.batch(t))[1])
    np.testing.assert_allclose(traj.params, ref[traj.steps], rtol=1e-12)
    v, g = prob.value_and_grad(ref[traj.steps].reshape(-1, 2))
    np.testing.assert_allclose(traj.values, v.reshape(len(traj.steps), 2), rtol=1e-12)
    np.testing.assert_allclose(traj.grad_norms, np.linalg.norm(g, axis=-1).reshape(len(traj.steps), 2), rtol=1e-12)
    # Full-batch GD would follow a different path: the batches matter.
    full = hand_loop(prob, opt, starts, 40)
    assert np.abs(full[-1] - ref[-1]).max() > 1e-3


def test_zero_steps_and_bad_arguments():
    """steps=0 records only the start; bad arguments raise ValueError."""
    opt = optimizers.get("adam")
    traj = optimizers.run(ROSEN, opt, np.array([ROSEN.start]), 0)
    assert traj.params.shape == (1, 1, 2)
    for kwargs in ({"steps": -1}, {"steps": 2.5}, {"steps": 10, "record_every": 0}):
        with pytest.raises(ValueError):
            optimizers.run(ROSEN, opt, np.array([ROSEN.start]), **kwargs)
    with pytest.raises(ValueError):
        optimizers.run(ROSEN, opt, np.array([[np.nan, 0.0]]), 5)
    with pytest.raises(ValueError):
        optimizers.run(ROSEN, opt, np.array([1.0, 2.0]), 5)  # not (k, d)


def test_escape_records_where_a_stopped_run_was_heading():
    """Reference: the GD update rebuilt by hand. A run that diverges at step 1 records θ₀ − lr·∇f(θ₀) as its
    escape point; runs that do not stop keep NaN rows."""
    land = Rosenbrock()
    starts = np.array([[-1.5, 2.0], [1.0, 1.0]])
    traj = optimizers.run(land, optimizers.get("gd", lr=10.0), starts, 20)
    _, g = land.value_and_grad(starts[0])
    assert traj.status[0] == "diverged"
    np.testing.assert_allclose(traj.escape[0], starts[0] - 10.0 * g, rtol=1e-12)
    assert traj.status[1] != "diverged" and np.isnan(traj.escape[1]).all()
