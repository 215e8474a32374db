"""The compiled mini-batch loop (``nets.fused``) against the numpy path of ``nets.train``.

References:

- "two algorithms that must agree", to the bit: ``nets.train(backend="compiled")``
  against ``backend="numpy"`` (``optimizers.run`` calling
  ``NetProblem.batch_value_and_grad`` and ``Optimizer.step`` once per step).
  Every field of the Trajectory is compared: parameters, values, gradient norms
  and every metric at every record, statuses, the steps they happened at, the
  sentences and the escape points. Shuffling on and off, b = 1, 16 and a batch
  size that leaves a short last batch, every activation, both outputs and both
  losses, several optimizers, a schedule, clipping by value, L2 and decoupled
  weight decay, and runs that diverge. Exact equality holds because the numpy
  path of these problems sums in index order, as the loop does, and both call
  the C library's exp and expm1 (``nets.fused._same_math`` checks the latter).
- The in-order numpy gradient against the BLAS gradient of ``MLP.value_and_grad``
  (the same sums, added in another order): equal to 1e-12 relative.
- The precomputed schedule against ``NetProblem.batch_indices``, step by step.
- Jobs the loop declines run the numpy path: ``backend="auto"`` equals ``"numpy"``.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest

import nets
import optimizers
from nets import fused
from optimizers.transforms import Chain, Clip, Noise, schedule
from tests.test_fused import _NoRule

pytestmark = pytest.mark.skipif(os.environ.get("DESCENT_LAB_NO_JIT", "") not in ("", "0"),
                                reason="compiled kernels switched off by DESCENT_LAB_NO_JIT")


def assert_same(a, b) -> None:
    """Every recorded field equal to the bit (NaN where NaN); wall time excepted."""
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.grad_norms, b.grad_norms)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.status_step, b.status_step)
    assert a.reason == b.reason
    np.testing.assert_array_equal(a.escape, b.escape)
    assert a.extras.keys() == b.extras.keys()
    for key in a.extras:
        np.testing.assert_array_equal(a.extras[key], b.extras[key], err_msg=key)


def both(problem, optimizer, epochs, k=3, **kw):
    num = nets.train(problem, optimizer, epochs, k=k, backend="numpy", **kw)
    com = nets.train(problem, optimizer, epochs, k=k, backend="compiled", **kw)
    return num, com


CASES = [
    # dataset, problem settings, optimizer, epochs
    ("iris", dict(hidden=(16,), activation="tanh", batch_size=1), optimizers.get("adam", lr=0.01), 2),
    ("iris", dict(hidden=(16,), activation="tanh", batch_size=16, shuffle=False),
     Chain(optimizers.get("momentum", lr=0.05), schedule=schedule("cosine", period=40),
           clip=Clip("value", 0.05)), 5),
    ("iris", dict(hidden=(5,), activation="sigmoid", loss="mse", batch_size=7, l2=0.01),
     optimizers.get("adam", lr=0.02, amsgrad=True, weight_decay=0.01), 3),
    ("moons", dict(hidden=(6,), activation="relu", batch_size=1, loss="mse"),
     optimizers.get("rmsprop", lr=0.01), 2),
    ("moons", dict(hidden=(4, 3), activation="leaky_relu", batch_size=16),
     Chain(optimizers.get("gd", lr=0.3), decoupled_weight_decay=0.01), 6),
    ("xor", dict(hidden=(4,), activation="tanh", batch_size=1, shuffle=False, output="softmax"),
     optimizers.get("nesterov", lr=0.1), 30),
    ("moons", dict(hidden=(), batch_size=16), optimizers.get("adagrad", lr=0.1), 4),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_compiled_equals_numpy(case: int) -> None:
    """Compiled loop vs the numpy loop, to the bit (see the module docstring)."""
    data, settings, opt, epochs = CASES[case]
    problem = nets.problem(data, **settings)
    assert fused.unsupported(problem, opt, 3) is None
    num, com = both(problem, opt, epochs, k=3)
    assert_same(num, com)
    assert not np.array_equal(num.params[0], num.params[-1])  # it trained


def test_record_every_and_seeds() -> None:
    """Records every second epoch, networks from a seed list: still the numpy loop's bits."""
    problem = nets.problem("iris", hidden=(8,), batch_size=4)
    opt = optimizers.get("adam", lr=0.05)
    num = nets.train(problem, opt, 5, seeds=[3, 1, 4, 1, 5], record_every_epochs=2, backend="numpy")
    com = nets.train(problem, opt, 5, seeds=[3, 1, 4, 1, 5], record_every_epochs=2, backend="compiled")
    assert_same(num, com)
    assert list(com.steps) == [0, 2 * problem.steps_per_epoch, 4 * problem.steps_per_epoch, 5 * problem.steps_per_epoch]


def test_divergence_matches() -> None:
    """A learning rate that blows up some runs between records: same steps, sentences and escape points."""
    problem = nets.problem("iris", hidden=(4,), activation="relu", batch_size=1, init="normal", init_scale=3.0)
    opt = optimizers.get("gd", lr=40.0)
    num, com = both(problem, opt, 3, k=6)
    assert (num.status == "diverged").any()
    assert (num.status_step % problem.steps_per_epoch != 0).any()  # stopped inside the compiled stretch
    assert_same(num, com)


def test_schedule_is_batch_indices() -> None:
    """The precomputed row order equals ``NetProblem.batch_indices`` at every step, shuffled or not."""
    for shuffle in (True, False):
        problem = nets.problem("iris", hidden=(3,), batch_size=16, shuffle=shuffle, seed=7)
        spe, b = problem.steps_per_epoch, problem.batch_size
        order = fused.schedule(problem, range(2, 5))
        for s in range(2 * spe, 5 * spe):
            e, i = divmod(s, spe)
            np.testing.assert_array_equal(order[e - 2, i * b:(i + 1) * b], problem.batch_indices(s))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu"])
@pytest.mark.parametrize(("output", "loss"), [("softmax", "cross_entropy"), ("softmax", "mse"),
                                              ("sigmoid", "cross_entropy"), ("sigmoid", "mse")])
def test_ordered_gradient_is_the_blas_gradient(activation: str, output: str, loss: str) -> None:
    """The in-order numpy gradient equals ``MLP.value_and_grad``'s (BLAS) to 1e-12 relative."""
    problem = nets.problem("moons", hidden=(5, 4), activation=activation, output=output, loss=loss, l2=0.01,
                           batch_size=9, init="normal", init_scale=0.8)
    theta = problem.init(4, 2)
    idx = problem.batch_indices(3)
    v, g = fused.batch_value_and_grad(problem, theta, idx)
    v_ref, g_ref, *_ = problem.mlp.value_and_grad(theta, problem._Xa_train[:, idx], problem.Y_train[:, idx])
    np.testing.assert_allclose(v, v_ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-15)


def test_declined_jobs_take_the_numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradient noise, clipping by norm, an optimizer without a kernel, full batch, float32: numpy runs them."""
    monkeypatch.setattr(fused, "MIN_STEPS", 0)  # "auto" asks the compiled loop even for these short jobs
    mini = nets.problem("xor", hidden=(3,), batch_size=1)
    declined = [
        (mini, Chain(optimizers.get("gd", lr=0.1), noise=Noise(0.1, seed=1))),
        (mini, Chain(optimizers.get("gd", lr=0.1), clip=Clip("norm", 1.0))),
        (mini, _NoRule(lr=0.01)),
        (nets.problem("xor", hidden=(3,)), optimizers.get("adam", lr=0.01)),
        (nets.problem("xor", hidden=(3,), batch_size=1, dtype="float32"), optimizers.get("adam", lr=0.01)),
    ]
    for problem, opt in declined:
        assert fused.unsupported(problem, opt, 2) is not None
        with pytest.raises(ValueError, match="compiled loop cannot run"):
            nets.train(problem, opt, 3, k=2, backend="compiled")
        assert_same(nets.train(problem, opt, 3, k=2), nets.train(problem, opt, 3, k=2, backend="numpy"))


def test_declines_features_it_does_not_know() -> None:
    """Batch normalization, a regression output and big jobs are declined, read with defaults."""
    problem = nets.problem("iris", hidden=(4,), batch_size=1)
    assert fused.architecture_unsupported(problem, 1) is None
    bn = copy.copy(problem)
    bn.mlp = copy.copy(problem.mlp)
    bn.mlp.batch_norm = True
    assert "batch normalization" in fused.architecture_unsupported(bn, 1)
    reg = copy.copy(problem)
    reg.mlp = copy.copy(problem.mlp)
    reg.mlp.output = "identity"
    assert "identity" in fused.architecture_unsupported(reg, 1)
    big = nets.problem("iris", hidden=(64, 64), batch_size=64)
    assert "BLAS" in fused.architecture_unsupported(big, 10)
