"""Our optimizers against torch.optim, step for step, in float64.

Reference: torch.optim itself (two implementations that must agree). Both sides
get the same analytic gradient at the same point (ours computed in numpy and
written into ``p.grad``), so any difference is a difference in the update
rule, not in the gradient. A hand-written Adam like seeds 000/001 (bias
correction skipped at step 1, corrected moments written back into the state,
the update multiplied by the gradient) fails this at the first step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import rosen_der

import optimizers
from tests.reference_paths import our_path, torch_path

STEPS = 50
RTOL = 1e-12

# (our name, our hyperparameters, torch class, torch keyword arguments)
CASES = [
    ("gd", {}, torch.optim.SGD, {"lr": 1e-3}),
    ("gd", {"lr": 2e-3, "weight_decay": 0.1}, torch.optim.SGD, {"lr": 2e-3, "weight_decay": 0.1}),
    ("momentum", {}, torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9}),
    ("momentum", {"momentum": 0.7, "dampening": 0.3, "weight_decay": 0.05}, torch.optim.SGD,
     {"lr": 1e-3, "momentum": 0.7, "dampening": 0.3, "weight_decay": 0.05}),
    ("nesterov", {}, torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    ("nesterov", {"momentum": 0.5, "weight_decay": 0.02}, torch.optim.SGD,
     {"lr": 1e-3, "momentum": 0.5, "nesterov": True, "weight_decay": 0.02}),
    ("adagrad", {}, torch.optim.Adagrad, {}),
    ("adagrad", {"lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01, "eps": 1e-8},
     torch.optim.Adagrad, {"lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01, "eps": 1e-8}),
    ("rmsprop", {}, torch.optim.RMSprop, {}),
    ("rmsprop", {"centered": True}, torch.optim.RMSprop, {"centered": True}),
    ("rmsprop", {"lr": 3e-3, "alpha": 0.9, "centered": True, "momentum": 0.5, "weight_decay": 0.01}, torch.optim.RMSprop,
     {"lr": 3e-3, "alpha": 0.9, "centered": True, "momentum": 0.5, "weight_decay": 0.01}),
    ("adadelta", {}, torch.optim.Adadelta, {}),
    ("adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.01}, torch.optim.Adadelta,
     {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.01}),
    ("adam", {}, torch.optim.Adam, {}),
    ("adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.05, "amsgrad": True},
     torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05, "amsgrad": True}),
    ("adamw", {}, torch.optim.AdamW, {}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "beta2": 0.99}, torch.optim.AdamW,
     {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "betas": (0.9, 0.99)}),
    ("amsgrad", {"lr": 0.01}, torch.optim.Adam, {"lr": 0.01, "amsgrad": True}),
    ("nadam", {}, torch.optim.NAdam, {}),
    ("nadam", {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.01, "beta2": 0.99}, torch.optim.NAdam,
     {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.01, "betas": (0.9, 0.99)}),
    ("nadam", {"weight_decay": 0.1, "decoupled_weight_decay": True}, torch.optim.NAdam,
     {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("adamax", {}, torch.optim.Adamax, {}),
    ("adamax", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01}, torch.optim.Adamax,
     {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.01}),
    ("radam", {}, torch.optim.RAdam, {}),
    # beta2 = 0.9 makes rho_inf = 19, so the rectified branch starts early and dominates the 50 steps.
    ("radam", {"lr": 0.01, "beta2": 0.9, "weight_decay": 0.01}, torch.optim.RAdam,
     {"lr": 0.01, "betas": (0.9, 0.9), "weight_decay": 0.01}),
    ("radam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, torch.optim.RAdam,
     {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("rprop", {}, torch.optim.Rprop, {}),
    # Tight clamps and strong factors, so that both clamps and both factors act within the steps.
    ("rprop", {"lr": 1e-3, "etaminus": 0.3, "etaplus": 1.5, "step_size_min": 1e-4, "step_size_max": 0.05},
     torch.optim.Rprop, {"lr": 1e-3, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.05)}),
    ("asgd", {"lr": 1e-3}, torch.optim.ASGD, {"lr": 1e-3}),
    # A strong decay term and t0 = 20, so that the step decays visibly and averaging starts within the steps.
    ("asgd", {"lr": 1e-3, "lambd": 0.5, "alpha": 0.6, "t0": 20, "weight_decay": 0.01}, torch.optim.ASGD,
     {"lr": 1e-3, "lambd": 0.5, "alpha": 0.6, "t0": 20, "weight_decay": 0.01}),
]


def _quadratic(d: int = 5, seed: int = 7):
    """f = ½xᵀAx − bᵀx with A symmetric positive definite, eigenvalues in [0.5, 10]."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    a = q @ np.diag(np.linspace(0.5, 10.0, d)) @ q.T
    b = rng.standard_normal(d)
    return (lambda x: x @ a - b), rng.standard_normal((2, d))


def _rosenbrock():
    return (lambda x: np.stack([rosen_der(row) for row in x])), np.array([[-1.5, 2.0], [0.5, -0.5]])


PROBLEMS = {"rosenbrock": _rosenbrock, "quadratic5": _quadratic}


# torch keeps scalar state (step, NAdam's mu_product) in the default dtype; float32 would round it.
pytestmark = pytest.mark.usefixtures("torch_float64")


def _torch_path(grad_fn, start: np.ndarray, cls, kwargs, steps: int = STEPS) -> np.ndarray:
    return torch_path(start, lambda params: cls(params, **kwargs), steps, grad_fn)


def _our_path(grad_fn, starts: np.ndarray, name: str, hparams, steps: int = STEPS) -> np.ndarray:
    return our_path(name, starts, steps, grad_fn, **hparams)


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize(("name", "ours", "cls", "theirs"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch_optim(problem, name, ours, cls, theirs):
    """50 steps from two starts equal torch.optim's to 1e-12 relative (reference: torch.optim)."""
    grad_fn, starts = PROBLEMS[problem]()
    mine = _our_path(grad_fn, starts, name, ours)  # (T+1, k, d), all k runs in one call
    for i, start in enumerate(starts):
        ref = _torch_path(grad_fn, start, cls, theirs)
        assert np.isfinite(ref).all()
        # The path must actually move, or equality would prove nothing.
        assert np.abs(ref[-1] - ref[0]).max() > 1e-3
        err = np.abs(mine[:, i] - ref).max(axis=1) / np.maximum(1.0, np.abs(ref).max(axis=1))
        assert err.max() <= RTOL, f"{name}: first step off by > {RTOL}: {int(np.argmax(err > RTOL))}, max rel err {err.max():.2e}"


def test_every_torch_algorithm_is_covered():
    """Every registered optimizer that claims to follow torch.optim (its ``reference``) has a parity case;
    the others (Lion, the hand-written buggy Adam) have hand-rebuilt references in test_optimizers.py."""
    claims_torch = {n for n in optimizers.names() if optimizers.REGISTRY[n].reference.startswith("torch.optim")}
    assert claims_torch >= {"gd", "adam", "rmsprop"}
    from tests.test_zoo_modern import CASES as MODERN  # Adafactor, with Adan and AdEMAMix

    assert {c[0] for c in CASES} | {c[0] for c in MODERN if c[2].__module__.startswith("torch.")} == claims_torch


def test_seed_adam_bug_is_caught():
    """Seed 000's Adam (no bias correction at step 1, update times g) differs from torch at step 1.

    Reference: torch.optim.Adam; this guards that the parity tolerance is tight enough to see the bug.
    """
    grad_fn, starts = _rosenbrock()
    ref = _torch_path(grad_fn, starts[0], torch.optim.Adam, {})
    g = grad_fn(starts[:1])[0]
    m, s = 0.1 * g, 0.001 * g * g
    buggy = starts[0] - 1e-3 * m / (np.sqrt(s) + 1e-8) * g
    assert np.abs(buggy - ref[1]).max() > 1e3 * RTOL


TORCH_CLASSES = {
    "gd": torch.optim.SGD, "momentum": torch.optim.SGD, "nesterov": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop, "adadelta": torch.optim.Adadelta,
    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "amsgrad": torch.optim.Adam, "nadam": torch.optim.NAdam,
    "adamax": torch.optim.Adamax, "radam": torch.optim.RAdam, "rprop": torch.optim.Rprop, "asgd": torch.optim.ASGD,
}
# Where we deliberately differ from torch's default, and why (see the classes' docstrings).
OUR_OWN_DEFAULT = {("momentum", "momentum"), ("nesterov", "momentum")}  # torch's 0 would be plain GD


@pytest.mark.parametrize("name", list(TORCH_CLASSES))
def test_defaults_and_names_are_torchs(name):
    """Every hyperparameter torch also has carries torch's name and default (reference: torch's signatures)."""
    import inspect

    theirs = {k: p.default for k, p in inspect.signature(TORCH_CLASSES[name].__init__).parameters.items()}
    # torch's pairs, split into two named hyperparameters each (as torch's own functional API names them).
    for pair, (a, b) in {"betas": ("beta1", "beta2"), "etas": ("etaminus", "etaplus"),
                         "step_sizes": ("step_size_min", "step_size_max")}.items():
        if pair in theirs:
            theirs[a], theirs[b] = theirs.pop(pair)
    ours = {s.name: s.default for s in optimizers.REGISTRY[name].specs}
    shared = set(ours) & set(theirs)
    assert "lr" in shared
    for key in shared - {k for n, k in OUR_OWN_DEFAULT if n == name}:
        assert ours[key] == pytest.approx(theirs[key]), f"{name}.{key}: ours {ours[key]!r}, torch {theirs[key]!r}"
    # Our extras are the documented ones only (the momentum form; amsgrad is fixed in its own entry).
    assert set(ours) - set(theirs) <= {"form"}


#: The optimizers added with the issue on the optimizer zoo: 150 steps from three starts, each alone in torch.
LONG_STEPS = 150
LONG_STARTS = np.array([[-1.5, 2.0], [0.5, -0.5], [-0.3, 1.2]])
LONG_CASES = [c for c in CASES if c[0] in ("rprop", "asgd")]


@pytest.mark.parametrize(("name", "ours", "cls", "theirs"), LONG_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(LONG_CASES)])
def test_new_optimizers_match_torch_for_150_rosenbrock_steps(name, ours, cls, theirs):
    """150 Rosenbrock steps from three starts, all k together here and each alone in torch, equal to 1e-12 relative.

    Reference: torch.optim.Rprop / torch.optim.ASGD. Rprop's and ASGD's directions read lr (Rprop's first step size,
    ASGD's decay), which is where a k-run batch could go wrong.
    """
    grad_fn = _rosenbrock()[0]
    mine = _our_path(grad_fn, LONG_STARTS, name, ours, LONG_STEPS)
    for i, start in enumerate(LONG_STARTS):
        ref = _torch_path(grad_fn, start, cls, theirs, LONG_STEPS)
        assert len(ref) == len(mine) == LONG_STEPS + 1
        assert np.abs(ref[-1] - ref[0]).max() > 0.1
        err = np.abs(mine[:, i] - ref).max(axis=1) / np.maximum(1.0, np.abs(ref).max(axis=1))
        assert err.max() <= RTOL, f"{name} start {i}: max rel err {err.max():.2e} first at step {int(np.argmax(err > RTOL))}"


def test_asgd_average_is_torchs_ax_one_step_behind():
    """Our ASGD state ``ax`` after step t equals torch's ``state["ax"]`` after step t − 1 (reference: torch.optim.ASGD).

    t0 = 5 so that the average departs from the last iterate early in the 40 steps.
    """
    grad_fn = _rosenbrock()[0]
    start = LONG_STARTS[0]
    opt = optimizers.get("asgd", lr=1e-3, t0=5)
    p = start[None, :].copy()
    state = opt.init(p)
    q = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    ref = torch.optim.ASGD([q], lr=1e-3, t0=5)
    theirs_prev = None
    for t in range(1, 41):
        g = grad_fn(p)
        p, state = opt.step(p, g, state)
        if theirs_prev is not None:
            np.testing.assert_allclose(state["ax"][0], theirs_prev, rtol=1e-12, atol=0, err_msg=f"step {t}")
        q.grad = torch.tensor(g[0])
        ref.step()
        theirs_prev = ref.state[q]["ax"].numpy().copy()
    assert np.abs(state["ax"][0] - p[0]).max() > 1e-4  # the average is no longer the last iterate
