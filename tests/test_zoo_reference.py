"""The optimizers that follow kozistr's pytorch-optimizer, against that package, step for step, in float64.

Reference: ``pytorch_optimizer`` itself (two implementations that must agree): 150 Rosenbrock steps
from three starts, all three together here and each start alone in the reference, setting only lr
(and, in a second case, the hyperparameters that switch on the other branches). Both sides get the
same analytic gradient at the same point, so a difference is one in the update rule.
"""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_optimizer

import optimizers
from tests.reference_paths import our_path, torch_path

STEPS = 150
RTOL = 1e-7
STARTS = np.array([[-1.5, 2.0], [0.5, -0.5], [-0.3, 1.2]])

# (our name, our hyperparameters, reference class name, its keyword arguments)
CASES = [
    ("signsgd", {"lr": 1e-3}, "SignSGD", {"lr": 1e-3}),
    ("signsgd", {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.1, "weight_decouple": False}, "SignSGD",
     {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.1, "weight_decouple": False}),
    ("signsgd", {"lr": 1e-3, "momentum": 0.3, "weight_decay": 0.1}, "SignSGD",
     {"lr": 1e-3, "momentum": 0.3, "weight_decay": 0.1}),
    ("qhm", {"lr": 1e-3}, "QHM", {"lr": 1e-3}),
    ("qhm", {"lr": 1e-3, "momentum": 0.9, "nu": 0.7, "weight_decay": 0.05}, "QHM",
     {"lr": 1e-3, "momentum": 0.9, "nu": 0.7, "weight_decay": 0.05}),
    ("qhm", {"lr": 1e-3, "momentum": 0.3, "nu": 0.7, "weight_decay": 0.05, "weight_decouple": True}, "QHM",
     {"lr": 1e-3, "momentum": 0.3, "nu": 0.7, "weight_decay": 0.05, "weight_decouple": True}),
    ("qhadam", {"lr": 1e-2}, "QHAdam", {"lr": 1e-2}),
    ("qhadam", {"lr": 1e-2, "beta1": 0.8, "beta2": 0.99, "nu1": 0.7, "nu2": 0.9, "weight_decay": 0.05}, "QHAdam",
     {"lr": 1e-2, "betas": (0.8, 0.99), "nus": (0.7, 0.9), "weight_decay": 0.05}),
    ("qhadam", {"lr": 1e-2, "nu1": 0.7, "weight_decay": 0.05, "weight_decouple": True}, "QHAdam",
     {"lr": 1e-2, "nus": (0.7, 1.0), "weight_decay": 0.05, "weight_decouple": True}),
]


pytestmark = pytest.mark.usefixtures("torch_float64")


def _reference_path(start: np.ndarray, cls_name: str, kwargs: dict) -> np.ndarray:
    return torch_path(start, lambda params: getattr(pytorch_optimizer, cls_name)(params, **kwargs), STEPS)


def _our_path(name: str, hparams: dict) -> np.ndarray:
    return our_path(name, STARTS, STEPS, **hparams)


def max_relative_error(name: str, ours: dict, cls_name: str, theirs: dict) -> float:
    """Largest ``|ours − theirs| / max(1, |theirs|)`` over the steps and the three starts."""
    mine = _our_path(name, ours)
    worst = 0.0
    for i, start in enumerate(STARTS):
        ref = _reference_path(start, cls_name, theirs)
        assert np.isfinite(ref).all()
        assert np.abs(ref[-1] - ref[0]).max() > 0.05, "the path must move, or equality proves nothing"
        err = np.abs(mine[:, i] - ref).max(axis=1) / np.maximum(1.0, np.abs(ref).max(axis=1))
        worst = max(worst, float(err.max()))
    return worst


@pytest.mark.parametrize(("name", "ours", "cls_name", "theirs"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_pytorch_optimizer(name, ours, cls_name, theirs):
    """150 Rosenbrock steps from three starts equal pytorch_optimizer's to 1e-7 relative (reference: pytorch_optimizer)."""
    err = max_relative_error(name, ours, cls_name, theirs)
    assert err <= RTOL, f"{name} {ours}: max relative error {err:.2e}"


def test_every_kozistr_algorithm_is_covered():
    """Every registered optimizer that claims to follow pytorch_optimizer has a case here or in its own file."""
    from tests.test_zoo_matrix import COVERED as MATRIX_COVERED  # Shampoo and SOAP, with their own file
    from tests.test_zoo_modern import CASES as MODERN  # Adan and AdEMAMix, with Adafactor

    claims = {n for n in optimizers.names() if optimizers.REGISTRY[n].reference.startswith("pytorch_optimizer")}
    modern = {c[0] for c in MODERN if c[2].__module__.startswith("pytorch_optimizer")}
    assert claims == {c[0] for c in CASES} | MATRIX_COVERED | modern


@pytest.mark.parametrize("name", sorted({c[0] for c in CASES}))
def test_defaults_and_names_are_the_packages(name):
    """Every hyperparameter the reference also has carries its name and default (reference: its signature)."""
    import inspect

    cls_name = next(c[2] for c in CASES if c[0] == name)
    theirs = {k: p.default for k, p in inspect.signature(getattr(pytorch_optimizer, cls_name).__init__).parameters.items()}
    for pair, (a, b) in {"betas": ("beta1", "beta2"), "nus": ("nu1", "nu2")}.items():
        if pair in theirs:
            theirs[a], theirs[b] = theirs.pop(pair)
    ours = {s.name: s.default for s in optimizers.REGISTRY[name].specs}
    assert "lr" in set(ours) & set(theirs)
    assert set(ours) <= set(theirs), set(ours) - set(theirs)
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key]), f"{name}.{key}: ours {ours[key]!r}, theirs {theirs[key]!r}"
