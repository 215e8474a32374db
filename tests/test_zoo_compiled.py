"""The optimizers that are not elementwise, on the compiled (fused) surface backend.

Adafactor and Prodigy are run rules (:class:`optimizers.base.RunRule`: phases with sums over a run); Muon's surface
form, Shampoo and SOAP are per-run point rules (:attr:`optimizers.base.Optimizer.point_rule`); Sophia is an
elementwise rule whose Hessian diagonal the fused loop computes from the surface's compiled ``hessian_formula``.
References, all "two algorithms that must agree" unless named:

- ``optimizers.run(backend="numpy")``: the fused backend's paths, values, gradient norms, statuses (diverging
  runs included), the steps they happened at, and the X-ray state equal the numpy loop's, bit for bit, on surfaces
  built from + − × ÷ and √ (the transcendental ones would differ in the last bits, see tests/test_fused.py);
- for the run rules, which serve every d themselves, the authors' packages on a 6-D problem (the point rules,
  Shampoo and SOAP, run on 2-D points only);
- k runs alone against the same k runs in one batch;
- each surface's numpy ``hessian`` against its compiled diagonal.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import landscapes
import optimizers
from optimizers import fused
from tests.test_fused import TRANSCENDENTAL, assert_bits, assert_same, grid, hparam_variants, kernel_landscapes

pytestmark = pytest.mark.skipif(os.environ.get("DESCENT_LAB_NO_JIT", "") not in ("", "0"),
                                reason="compiled kernels switched off by DESCENT_LAB_NO_JIT")

#: The optimizers of issue 10 whose update reduces over a run or reads the Hessian.
PER_RUN = ("adafactor", "prodigy", "muon", "shampoo", "soap", "sophia")
SURFACES = ("rosenbrock", "himmelblau", "saddle")
#: The tuning map's second axis where the optimizer takes one (lr is the first, for all).
SECOND = {"adafactor": ("beta2_decay", (-0.8, -0.3)), "muon": ("momentum", (0.0, 0.95))}
#: Learning rates of the tuning grid: slow, lively, and ones that blow up (divergence and NaN included).
LRS = (1e-3, 0.05, 1.0, 50.0, 1e3)


def tuning_grid(name: str, k_starts: int) -> dict[str, np.ndarray]:
    """Per-run hyperparameters as the tuning map lays them out: lr × the second axis, each setting on ``k_starts``."""
    second = SECOND.get(name)
    if second is None:
        return {"lr": np.repeat(LRS, k_starts)}
    L, B = np.meshgrid(LRS, second[1], indexing="ij")
    return {"lr": np.repeat(L.ravel(), k_starts), second[0]: np.repeat(B.ravel(), k_starts)}


def assert_state_same(a, b) -> None:
    assert a.extras.keys() == b.extras.keys()
    for key in a.extras:
        np.testing.assert_array_equal(b.extras[key], a.extras[key], err_msg=key)


@pytest.mark.parametrize("name", PER_RUN)
def test_fused_equals_numpy_on_a_tuning_grid(name):
    """300 steps from 16 starts (some outside the window) for every setting of an lr × β grid, on three surfaces,
    with the X-ray state recorded: fused against numpy, bit for bit; some runs diverge."""
    statuses: set[str] = set()
    for surface in SURFACES:
        f = landscapes.get(surface)
        starts = grid(f, 4, grow=0.3)
        hp = tuning_grid(name, len(starts))
        opt = optimizers.get(name, **hp)
        all_starts = np.tile(starts, (len(hp["lr"]) // len(starts), 1))
        # No window to leave and a low explosion bound, so that fast runs diverge (Adafactor's steps are relative).
        kw = dict(record_every=37, record_state=True, window_margin=1e6, explode=1e4)
        a = optimizers.run(f, opt, all_starts, 300, backend="numpy", **kw)
        b = optimizers.run(f, opt, all_starts, 300, backend="fused", **kw)
        assert_same(a, b, exact=True)
        assert_state_same(a, b)
        statuses |= set(a.status)
    assert "diverged" in statuses and "max steps" in statuses


@pytest.mark.parametrize("name", PER_RUN)
def test_fused_equals_numpy_for_every_branch(name):
    """Each branch of the rule (booleans flipped, decay on, pairs of switches), a moderate and a blowing-up lr, on
    Rosenbrock and the saddle: fused against numpy with the X-ray state, bit for bit."""
    for surface in ("rosenbrock", "saddle"):
        f = landscapes.get(surface)
        starts = grid(f, 5)
        for hp in hparam_variants(name):
            for lr in (0.02, 1e3):
                opt = optimizers.get(name, **{**hp, "lr": lr})
                a = optimizers.run(f, opt, starts, 40, backend="numpy", record_every=13, record_state=True)
                b = optimizers.run(f, opt, starts, 40, backend="fused", record_every=13, record_state=True)
                assert_same(a, b, exact=True)
                assert_state_same(a, b)


@pytest.mark.parametrize("name", PER_RUN)
def test_k_runs_together_equal_k_runs_alone_on_the_fused_backend(name):
    """Each per-run number lives in its own run's state: a batch of 6 runs with one lr each (and the second axis)
    equals the 6 runs taken one at a time with that setting, to the bit."""
    f = landscapes.get("rosenbrock")
    starts = np.array([[-1.5, 2.0], [0.3, 0.3], [1.2, 1.0], [-0.5, -0.5], [2.0, 2.5], [0.0, 1.0]])
    lrs = np.array([1e-3, 0.01, 0.1, 0.5, 3.0, 0.05])
    hp: dict[str, np.ndarray] = {"lr": lrs}
    if name in SECOND:
        key, values = SECOND[name]
        hp[key] = np.resize(np.array(values, dtype=np.float64), len(lrs))
    together = optimizers.run(f, optimizers.get(name, **hp), starts, 120, backend="fused")
    for i in range(len(starts)):
        alone = optimizers.run(f, optimizers.get(name, **{k: float(v[i]) for k, v in hp.items()}), starts[i:i + 1],
                               120, backend="fused")
        np.testing.assert_array_equal(together.params[:, i], alone.params[:, 0], err_msg=f"run {i}")
        assert together.status[i] == alone.status[0]


@pytest.mark.parametrize("name, make", [
    ("prodigy", lambda params: __import__("prodigyopt").Prodigy(params)),
    ("adafactor", lambda params: __import__("torch").optim.Adafactor(params, lr=0.01)),
])
def test_a_run_rule_on_a_network_sized_theta_follows_its_reference(name, make, torch_float64):
    """Reference: ``prodigyopt.Prodigy`` and ``torch.optim.Adafactor`` (float64), each start alone, on a 6-D
    Rosenbrock: the :class:`~optimizers.base.RunRule` that the fused backend compiles for 2-D points is also what
    numpy runs for a network's θ of any size (sums over all 6 coordinates), so no second writing of the algorithm
    is needed. 120 steps of three starts together, to 1e-9 relative."""
    from tests.reference_paths import our_path, torch_path

    starts = np.array([[-1.2, 1.0, 0.5, -0.5, 0.8, 1.1], [0.3, -0.7, 1.4, 0.2, -1.0, 0.6],
                       [1.5, 1.5, -0.2, 0.9, 0.1, -0.4]])
    ours = our_path(name, starts, 120, lr=0.01) if name == "adafactor" else our_path(name, starts, 120)
    for i, start in enumerate(starts):
        ref = torch_path(start, make, 120)
        scale = np.maximum(np.abs(ref), 1.0)
        assert np.max(np.abs(ours[:, i] - ref) / scale) <= 1e-9, f"{name} start {i}"
        assert np.max(np.abs(ref[-1] - ref[0])) > 1e-3, "the reference must move"


def test_every_registered_optimizer_has_a_compiled_path():
    """Issue 10's rule, walked over the registry so that a new optimizer without one fails here: the fused backend
    takes every registered optimizer, at its defaults, on every surface with a compiled formula (reference: the
    registry and :func:`optimizers.fused.unsupported`)."""
    missing = [(n, s, fused.unsupported(landscapes.get(s), optimizers.get(n)))
               for n in optimizers.names() for s in kernel_landscapes()
               if fused.unsupported(landscapes.get(s), optimizers.get(n)) is not None]
    assert missing == []


@pytest.mark.parametrize("name", kernel_landscapes())
def test_compiled_hessian_diagonal_equals_numpy(name):
    """Each surface's compiled Hessian diagonal against the diagonal of its numpy ``hessian``, on a grid in and around
    the window and at far points: to the bit, or 1e-12 relative where numpy's exp/sin/cos are not the C library's."""
    f = landscapes.get(name)
    pts = np.concatenate([grid(f, 21, grow=1.0), np.random.default_rng(5).normal(0, 30, (40, 2))])
    H = np.empty((2, len(pts)))
    type(f).hessian_kernel(np.ascontiguousarray(pts.T), f.kernel_params(), H)
    with np.errstate(all="ignore"):
        want = np.diagonal(f.hessian(pts), axis1=-2, axis2=-1)
    if name in TRANSCENDENTAL:
        np.testing.assert_allclose(H.T, want, rtol=1e-12, atol=1e-12 * max(1.0, float(np.nanmax(np.abs(want)))))
    else:
        assert_bits(H.T, want)


def test_sophia_refreshes_the_hessian_only_on_its_steps():
    """Sophia with a refresh every 7 steps on Himmelblau (whose Hessian changes along the path): fused equals numpy
    to the bit, and the recorded diagonal changes only from a refresh step to the next (reference: ``needs_at``)."""
    f = landscapes.get("himmelblau")
    opt = optimizers.get("sophia", lr=0.05, update_period=7)
    starts = grid(f, 6, grow=0.0)
    a = optimizers.run(f, opt, starts, 30, backend="numpy", record_every=1, record_state=True)
    b = optimizers.run(f, opt, starts, 30, backend="fused", record_every=1, record_state=True)
    assert_same(a, b, exact=True)
    assert_state_same(a, b)
    hess = b.extras["state.hessian"]  # (R, k, 2)
    changed = [t for t in range(2, 31) if not np.array_equal(hess[t], hess[t - 1], equal_nan=True)]
    assert changed and set(changed) <= {8, 15, 22, 29}


@pytest.mark.parametrize("name", PER_RUN)
def test_fused_equals_numpy_with_transforms(name):
    """A cosine schedule with clipping by norm and decoupled decay, and a warm-up with clipping by value, around each
    optimizer with a per-run lr: fused against numpy with the X-ray state, bit for bit."""
    from optimizers.transforms import Chain, Clip, schedule

    f = landscapes.get("himmelblau")
    starts = grid(f, 4)
    lrs = np.geomspace(1e-3, 3.0, len(starts))
    for chain in (dict(schedule=schedule("cosine", period=40), clip=Clip("norm", 2.0), decoupled_weight_decay=0.01),
                  dict(schedule=schedule("warmup", warmup_steps=10), clip=Clip("value", 0.5))):
        opt = Chain(optimizers.get(name, lr=lrs), **chain)
        a = optimizers.run(f, opt, starts, 60, backend="numpy", record_every=11, record_state=True)
        b = optimizers.run(f, opt, starts, 60, backend="fused", record_every=11, record_state=True)
        assert_same(a, b, exact=True)
        assert_state_same(a, b)
