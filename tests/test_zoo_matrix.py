"""Shampoo and SOAP, the full-matrix preconditioners, against kozistr's pytorch-optimizer and against geometry.

References, per test: ``pytorch_optimizer.Shampoo`` / ``pytorch_optimizer.SOAP`` 4.1.0 in float64 (150 Rosenbrock
steps, each start run alone there, our three starts together here; both sides get the same analytic gradient at
the same point, so a difference is one in the update rule); the same optimizer run one start at a time (k runs
together equal k separate runs); a rotation of the plane (a rotated problem and start must give the rotated path);
``torch.linalg.eigh`` / ``qr`` and the package's ``compute_power_svd`` for the 2 × 2 closed forms; the package's
signature for names and defaults.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import pytorch_optimizer
import torch
from pytorch_optimizer.optimizer.utils.matrix import compute_power_svd

import landscapes
import optimizers
from landscapes.narrow_trough import NarrowTrough
from optimizers import fused
from optimizers.matrix_ops import eigenbasis, inverse_root, qr_q_float32
from tests.reference_paths import our_path, rosen_grads, torch_path

STEPS = 150
RTOL = 1e-7
STARTS = np.array([[-1.5, 2.0], [0.5, -0.5], [-0.3, 1.2]])

# (our name, our hyperparameters, reference class, its keyword arguments). The first case of each sets only lr.
# SOAP's package default precondition_1d=False leaves a vector unpreconditioned (plain Adam on a 2-D point);
# ours is True, so the reference gets that one extra knob. The later cases switch on the other branches.
CASES = [
    ("shampoo", {"lr": 0.05}, "Shampoo", {"lr": 0.05}),
    ("shampoo", {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.1}, "Shampoo",
     {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.1}),
    # A stale root (recomputed every 2nd step) needs a larger ε: with 1e-6 the root of an early, nearly rank-one H
    # has 1000 across the first gradients, and the package's own path blows up from these starts.
    ("shampoo", {"lr": 0.01, "momentum": 0.5, "preconditioning_compute_steps": 2, "matrix_eps": 1e-3}, "Shampoo",
     {"lr": 0.01, "momentum": 0.5, "preconditioning_compute_steps": 2, "matrix_eps": 1e-3}),
    ("shampoo", {"lr": 0.01, "momentum": 0.7, "weight_decay": 0.1, "weight_decouple": True, "matrix_eps": 1e-3},
     "Shampoo", {"lr": 0.01, "momentum": 0.7, "weight_decay": 0.1, "weight_decouple": True, "matrix_eps": 1e-3}),
    ("soap", {"lr": 0.05}, "SOAP", {"lr": 0.05, "precondition_1d": True}),
    ("soap", {"lr": 0.05, "precondition_1d": False}, "SOAP", {"lr": 0.05}),
    ("soap", {"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "precondition_frequency": 3, "normalize_gradient": True,
              "weight_decay": 0.3}, "SOAP",
     {"lr": 0.01, "betas": (0.9, 0.99), "precondition_frequency": 3, "normalize_gradient": True, "weight_decay": 0.3,
      "precondition_1d": True}),
    ("soap", {"lr": 0.01, "correct_bias": False}, "SOAP", {"lr": 0.01, "correct_bias": False, "precondition_1d": True}),
]

#: Names tests/test_zoo_reference.py counts as covered by this file.
COVERED = {c[0] for c in CASES}

#: Our defaults that differ from the package's on purpose (each said in the class docstring).
OUR_DEFAULTS = {("soap", "precondition_1d"): True}


_grads = rosen_grads


def _reference_path(start: np.ndarray, cls_name: str, kwargs: dict) -> np.ndarray:
    return torch_path(start, lambda params: getattr(pytorch_optimizer, cls_name)(params, **kwargs), STEPS)


def _our_path(name: str, hparams: dict, starts: np.ndarray, steps: int = STEPS, grad_fn=_grads) -> np.ndarray:
    return our_path(name, starts, steps, grad_fn, **hparams)


#: The lr-only cases run by default; the branch cases take a few seconds more under load and are marked slow.
_PARAMS = [pytest.param(*c, id=f"{c[0]}-{i}", marks=() if set(c[1]) <= {"lr"} else pytest.mark.slow)
           for i, c in enumerate(CASES)]


@pytest.mark.parametrize(("name", "ours", "cls_name", "theirs"), _PARAMS)
def test_matches_pytorch_optimizer(name, ours, cls_name, theirs):
    """150 Rosenbrock steps from three starts equal pytorch_optimizer's, each start alone there, to 1e-7 relative
    (reference: pytorch_optimizer.Shampoo / SOAP 4.1.0 in float64)."""
    mine = _our_path(name, ours, STARTS)
    for i, start in enumerate(STARTS):
        ref = _reference_path(start, cls_name, theirs)
        assert np.isfinite(ref).all()
        assert np.abs(ref[-1] - ref[0]).max() > 0.05, "the path must move, or equality proves nothing"
        err = np.abs(mine[:, i] - ref).max(axis=1) / np.maximum(1.0, np.abs(ref).max(axis=1))
        assert err.max() <= RTOL, f"{name} {ours} start {i}: max relative error {err.max():.2e}"


@pytest.mark.parametrize("case", [0, 2, 4, 6], ids=lambda i: f"{CASES[i][0]}-{i}")
def test_k_runs_together_equal_k_separate_runs(case):
    """Every per-run matrix (H, GG, Q) is kept per run: three starts stepped as one (3, 2) array equal each start
    stepped alone, bit for bit, over 150 Rosenbrock steps (reference: the same optimizer, one run at a time)."""
    name, hparams = CASES[case][:2]
    together = _our_path(name, hparams, STARTS)
    for i in range(len(STARTS)):
        np.testing.assert_array_equal(together[:, i], _our_path(name, hparams, STARTS[i : i + 1])[:, 0])


def _rotation(degrees: float) -> np.ndarray:
    t = math.radians(degrees)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def _trough_path(name: str, hparams: dict, angle: float, steps: int = 100) -> np.ndarray:
    """The path on the narrow trough (κ = 20) turned by ``angle``, from the start turned with it."""
    trough = NarrowTrough(angle=angle)
    start = _rotation(angle) @ np.array([-2.5, 0.6])
    return _our_path(name, hparams, start[None, :], steps, lambda p: trough.value_and_grad(p)[1])[:, 0]


@pytest.mark.parametrize("angle", [30.0, -60.0])
def test_shampoo_path_turns_with_the_trough_and_adams_does_not(angle):
    """Rotate the trough and the start by θ: Shampoo's path is the unrotated path rotated by θ, to 1e-9, because
    H = εI + Σ g gᵀ turns with the problem; Adam's per-coordinate scale does not, and its path differs by O(1)
    (reference: the rotation of the plane applied to the path at θ = 0)."""
    turn = _rotation(angle)
    for name, hparams in (("shampoo", {"lr": 0.3}), ("shampoo", {"lr": 0.3, "momentum": 0.5})):
        base = _trough_path(name, hparams, 0.0)
        assert np.linalg.norm(base[-1]) < 0.01 * np.linalg.norm(base[0]), "Shampoo must get down the trough"
        np.testing.assert_allclose(_trough_path(name, hparams, angle), base @ turn.T, rtol=0, atol=1e-9)
    adam = _trough_path("adam", {"lr": 0.1}, angle)
    assert np.abs(adam - _trough_path("adam", {"lr": 0.1}, 0.0) @ turn.T).max() > 0.1


def test_soap_path_turns_with_the_trough_to_float32_rounding():
    """SOAP is rotation-invariant too, up to its eigenbasis refresh, which the package computes in float32: the
    rotated path equals the rotated unrotated path to 1e-6, not 1e-9 (reference: the rotation of the plane)."""
    turn = _rotation(30.0)
    base = _trough_path("soap", {"lr": 0.1}, 0.0)
    assert np.linalg.norm(base[-1]) < 0.01 * np.linalg.norm(base[0])
    np.testing.assert_allclose(_trough_path("soap", {"lr": 0.1}, 30.0), base @ turn.T, rtol=0, atol=1e-6)


def _symmetric_samples(n: int = 400) -> np.ndarray:
    """Rank-one averages ``0.05 g gᵀ`` (SOAP's first statistics) and full-rank ``A Aᵀ``, scales 1e-6 … 1e6."""
    rng = np.random.default_rng(7)
    g = rng.standard_normal((n, 2)) * 10.0 ** rng.uniform(-3, 3, (n, 1))
    a = rng.standard_normal((n, 2, 2)) * 10.0 ** rng.uniform(-3, 3, (n, 1, 1))
    return np.concatenate([0.05 * g[:, :, None] * g[:, None, :], a @ np.swapaxes(a, 1, 2)])


def test_two_by_two_closed_forms_equal_torch_linalg():
    """The 2 × 2 eigenbasis equals torch.linalg.eigh's (flipped, each column up to its sign) to 1e-15, the float32
    QR equals torch.linalg.qr's to one float32 rounding, and H^(−1/2) equals the package's compute_power_svd to rounding
    times κ(H) (references: torch.linalg and pytorch_optimizer.optimizer.utils.matrix.compute_power_svd)."""
    mats = _symmetric_samples()
    theirs = torch.linalg.eigh(torch.tensor(mats + 1e-30 * np.eye(2))).eigenvectors.numpy()[..., ::-1]
    ours = eigenbasis(mats)
    signs = np.sign(np.sum(theirs * ours, axis=-2, keepdims=True))
    np.testing.assert_allclose(ours * signs, theirs, rtol=0, atol=1e-15)

    products = mats @ ours
    np.testing.assert_allclose(qr_q_float32(products),
                               torch.linalg.qr(torch.tensor(products.astype(np.float32))).Q.numpy().astype(np.float64),
                               rtol=0, atol=2.0**-23)

    # Both roots are backward stable, so they agree to rounding times the condition number κ(H) (up to 1e12 here).
    spd = mats + 1e-6 * np.eye(2)
    ref = compute_power_svd(torch.tensor(spd), 2).numpy()
    err = np.abs(inverse_root(spd, 2.0) - ref).max(axis=(1, 2)) / np.abs(ref).max(axis=(1, 2))
    assert (err <= 1e-15 * np.linalg.cond(spd) + 1e-14).all(), err.max()


@pytest.mark.parametrize("name", ["shampoo", "soap"])
def test_defaults_and_names_are_the_packages(name):
    """Every hyperparameter we offer carries the package's name and default, except the documented SOAP switch
    (reference: the signature of pytorch_optimizer.Shampoo / SOAP)."""
    cls_name = next(c[2] for c in CASES if c[0] == name)
    theirs = {k: p.default for k, p in inspect.signature(getattr(pytorch_optimizer, cls_name).__init__).parameters.items()}
    if "betas" in theirs:
        theirs["beta1"], theirs["beta2"] = theirs.pop("betas")
    ours = {s.name: s.default for s in optimizers.REGISTRY[name].specs}
    assert set(ours) <= set(theirs), set(ours) - set(theirs)
    for key, value in ours.items():
        expected = OUR_DEFAULTS.get((name, key), theirs[key])
        assert value == pytest.approx(expected), f"{name}.{key}: ours {value!r}, expected {expected!r}"


@pytest.mark.parametrize("name", ["shampoo", "soap"])
def test_auto_takes_the_fused_loop_with_the_numpy_loops_paths(name):
    """Not elementwise, but a per-run point rule (its 2 × 2 matrices as entries): an `auto` job big enough for fused
    runs compiled and gives the numpy backend's very paths (reference: backend="numpy")."""
    opt = optimizers.get(name, lr=0.01)
    surface = landscapes.get("rosenbrock")
    assert fused.unsupported(surface, opt) is None
    starts = np.random.default_rng(3).uniform(-1.5, 1.5, (1000, 2))
    steps = fused.MIN_WORK // len(starts)
    auto = optimizers.run(surface, opt, starts, steps, record_end_only=True, backend="auto")
    plain = optimizers.run(surface, opt, starts, steps, record_end_only=True, backend="numpy")
    np.testing.assert_array_equal(auto.params, plain.params)


@pytest.mark.parametrize("name", ["shampoo", "soap"])
def test_any_theta_but_a_2d_point_is_refused_with_the_reason(name):
    """Reference: the rule's domain (one 2-D point per run). θ of 3 or 131 parameters is refused at init with a
    message naming the size, at the step too; a 2-D point is taken."""
    for d in (1, 3, 131):
        with pytest.raises(ValueError, match=f"2-D surfaces only.*{d} parameters"):
            optimizers.get(name).init(np.zeros((1, d)))
    opt = optimizers.get(name)
    with pytest.raises(ValueError, match="2-D surfaces only"):
        opt.direction(np.ones((1, 3)), {}, np.zeros((1, 3)), 1)
    assert opt.init(np.zeros((4, 2)))["t"] == 0


def test_compiled_eigen_decomposition_equals_numpy_bit_for_bit():
    """The compiled 2 × 2 eigen-decomposition (used from COMPILED_FROM matrices on) equals the numpy one to the bit,
    signed zeros included, on random, rank-one, diagonal, zero, negative, huge, tiny and non-finite matrices
    (reference: matrix_ops.sym2_eig_numpy)."""
    from common import jit
    from optimizers.matrix_ops import COMPILED_FROM, sym2_eig, sym2_eig_numpy

    if not jit.available():
        pytest.skip("numba is not available")
    mats = _symmetric_samples(2000)
    a, b, c = mats[:, 0, 0], mats[:, 0, 1], mats[:, 1, 1]
    special = np.array([0.0, -0.0, 1.0, -1.0, 1e-300, 1e300, np.inf, -np.inf, np.nan, 2.0**-1074])
    ea, eb, ec = (x.ravel() for x in np.meshgrid(special, special, special))
    signed = np.random.default_rng(5).standard_normal((3, 1000)) * 10.0 ** np.random.default_rng(6).uniform(-8, 8, 1000)
    a, b, c = (np.concatenate(x) for x in ((a, ea, signed[0]), (b, eb, signed[1]), (c, ec, signed[2])))
    assert len(a) >= COMPILED_FROM
    with np.errstate(all="ignore"):
        compiled, plain = sym2_eig(a, b, c), sym2_eig_numpy(a, b, c)
    for got, want in zip(compiled, plain, strict=True):
        np.testing.assert_array_equal(got, want)
        real = ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got[real]), np.signbit(want[real]))


@pytest.mark.parametrize("name", ["shampoo", "soap"])
def test_many_runs_on_the_compiled_path_equal_runs_alone(name):
    """600 starts at once (the compiled eigen-decomposition) equal five of them stepped alone (numpy's), bit for
    bit, over 40 Rosenbrock steps (reference: the same optimizer one run at a time)."""
    starts = np.random.default_rng(11).uniform(-1.5, 1.5, (600, 2))
    together = _our_path(name, {"lr": 0.02}, starts, 40)
    for i in (0, 17, 301, 450, 599):
        np.testing.assert_array_equal(together[:, i], _our_path(name, {"lr": 0.02}, starts[i : i + 1], 40)[:, 0])
