"""Adan, AdEMAMix and Adafactor against the code they follow, step for step, in float64.

References: ``pytorch_optimizer.Adan`` and ``pytorch_optimizer.AdEMAMix`` (kozistr's pytorch-optimizer 4.1.0) and
``torch.optim.Adafactor`` (torch 2.13), each run on one start at a time while ours run all three starts at
once; both sides get the same analytic Rosenbrock gradient at the same point, so a difference is one in the
update rule. Then two computations that must agree: k runs with per-run settings against k separate runs,
and the compiled kernel derived from a rule against the numpy path derived from the same rule.
"""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest
import pytorch_optimizer
import torch

import landscapes
import optimizers
from optimizers import fused
from tests.reference_paths import our_path, rosen_grads, torch_path
from tests.test_fused import assert_same

STEPS = 150
RTOL = 1e-7
STARTS = np.array([[-1.5, 2.0], [0.5, -0.5], [-0.3, 1.2]])
NO_JIT = os.environ.get("DESCENT_LAB_NO_JIT", "") not in ("", "0")

# (our name, our hyperparameters, the reference class, its keyword arguments). The first case of each sets only
# lr; the others switch on the branches (weight decay forms, warm-up, the other lerp branch).
CASES = [
    ("adan", {"lr": 1e-2}, pytorch_optimizer.Adan, {"lr": 1e-2}),
    # β₁, β₂ < ½ take torch's other lerp branch; lr = 1e-3 because with so short a memory a larger lr makes the
    # path amplify last-bit differences (checked: each step from the package's own state agrees to 1 ulp).
    ("adan", {"lr": 1e-3, "beta1": 0.3, "beta2": 0.4, "beta3": 0.9, "weight_decay": 0.1}, pytorch_optimizer.Adan,
     {"lr": 1e-3, "betas": (0.3, 0.4, 0.9), "weight_decay": 0.1}),
    ("adan", {"lr": 1e-2, "weight_decay": 0.1, "weight_decouple": True}, pytorch_optimizer.Adan,
     {"lr": 1e-2, "weight_decay": 0.1, "weight_decouple": True}),
    ("ademamix", {"lr": 1e-2}, pytorch_optimizer.AdEMAMix, {"lr": 1e-2}),
    ("ademamix", {"lr": 1e-2, "beta1": 0.8, "alpha": 3.0, "t_alpha_beta3": 100.0, "weight_decay": 0.05},
     pytorch_optimizer.AdEMAMix,
     {"lr": 1e-2, "betas": (0.8, 0.999, 0.9999), "alpha": 3.0, "t_alpha_beta3": 100.0, "weight_decay": 0.05}),
    ("ademamix", {"lr": 1e-2, "weight_decay": 0.01, "weight_decouple": True, "fixed_decay": True},
     pytorch_optimizer.AdEMAMix, {"lr": 1e-2, "weight_decay": 0.01, "weight_decouple": True, "fixed_decay": True}),
    ("ademamix", {"lr": 1e-2, "weight_decay": 0.1, "weight_decouple": True, "t_alpha_beta3": 50.0},
     pytorch_optimizer.AdEMAMix, {"lr": 1e-2, "weight_decay": 0.1, "weight_decouple": True, "t_alpha_beta3": 50.0}),
    # lr = 0.1: at torch's default 0.01 the path from (−1.5, 2) amplifies rounding ~1000× per 10 steps
    # (see test_adafactor_each_step_equals_torchs_at_the_default_lr).
    ("adafactor", {"lr": 0.1}, torch.optim.Adafactor, {"lr": 0.1}),
    ("adafactor", {"lr": 1e-2, "beta2_decay": -0.5, "eps1": 1e-3, "eps2": 1e-2, "d": 2.0, "weight_decay": 0.1},
     torch.optim.Adafactor, {"lr": 1e-2, "beta2_decay": -0.5, "eps": (1e-3, 1e-2), "d": 2.0, "weight_decay": 0.1}),
]
NAMES = ("adan", "ademamix", "adafactor")


pytestmark = pytest.mark.usefixtures("torch_float64")
_grads = rosen_grads


def _reference_path(start: np.ndarray, cls: type, kwargs: dict, steps: int = STEPS) -> np.ndarray:
    return torch_path(start, lambda params: cls(params, **kwargs), steps)


def _our_path(opt: optimizers.Optimizer, starts: np.ndarray, steps: int = STEPS) -> np.ndarray:
    return our_path(opt, starts, steps)


@pytest.mark.parametrize(("name", "ours", "cls", "theirs"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_150_rosenbrock_steps_equal_the_reference(name, ours, cls, theirs):
    """150 Rosenbrock steps from three starts, together here and each alone in the reference, equal to 1e-7 relative.

    Reference: pytorch_optimizer.Adan / pytorch_optimizer.AdEMAMix (4.1.0), torch.optim.Adafactor (2.13).
    """
    mine = _our_path(optimizers.get(name, **ours), STARTS)
    for i, start in enumerate(STARTS):
        ref = _reference_path(start, cls, theirs)
        assert np.isfinite(ref).all()
        assert np.abs(ref[-1] - ref[0]).max() > 0.05, "the path must move, or equality proves nothing"
        err = np.abs(mine[:, i] - ref).max(axis=1) / np.maximum(1.0, np.abs(ref).max(axis=1))
        assert err.max() <= RTOL, f"{name} {ours} start {i}: max rel err {err.max():.2e} from step {int(np.argmax(err > RTOL))}"


def test_adafactor_each_step_equals_torchs_at_the_default_lr():
    """At torch's default lr each of 150 steps, taken from torch's own state and point, equals torch's to 1e-13.

    Reference: torch.optim.Adafactor. The whole path from (−1.5, 2) cannot be compared at this lr: torch's 2-norm
    rounds differently (a fused multiply-add) and the iteration amplifies that last-bit difference ~1000× per 10
    steps, so the step itself is compared along torch's path.
    """
    start = STARTS[0]
    p = torch.nn.Parameter(torch.tensor(start))
    ref = torch.optim.Adafactor([p])
    opt = optimizers.get("adafactor")
    state = opt.init(start[None, :])
    for t in range(1, STEPS + 1):
        x = p.detach().numpy().copy()
        g = _grads(x[None, :])
        if t > 1:
            state = {"t": t - 1, "variance": ref.state[p]["variance"].numpy()[None, :].copy()}
        mine, _ = opt.step(x[None, :], g, state)
        p.grad = torch.tensor(g[0])
        ref.step()
        theirs = p.detach().numpy()
        np.testing.assert_allclose(mine[0], theirs, rtol=1e-13, atol=0, err_msg=f"step {t}")
    assert np.abs(theirs - start).max() > 0.3


def _per_run_settings(name: str) -> dict[str, np.ndarray]:
    """Three different values for every hyperparameter the optimizer takes per run."""
    values = {"lr": [1e-3, 2e-2, 5e-2], "beta1": [0.9, 0.3, 0.98], "beta2": [0.92, 0.999, 0.4], "beta3": [0.99, 0.9, 0.999],
              "eps": [1e-8, 1e-3, 1e-6], "alpha": [5.0, 0.0, 2.0], "beta2_decay": [-0.8, -0.5, 0.0],
              "eps1": [1e-30, 1e-3, 1e-8], "eps2": [1e-3, 0.5, 1e-2], "d": [1.0, 1.2, 3.0]}
    return {n: np.array(values[n]) for n in optimizers.REGISTRY[name].per_run}


@pytest.mark.parametrize(("name", "shared"), [
    ("adan", {}), ("adan", {"weight_decay": 0.1}),
    ("ademamix", {"t_alpha_beta3": 20.0}), ("ademamix", {"weight_decay": 0.1, "weight_decouple": True, "fixed_decay": True}),
    ("adafactor", {"weight_decay": 0.1}),
])
def test_k_runs_with_per_run_settings_equal_k_separate_runs(name, shared):
    """Three runs with one setting each (every per-run hyperparameter) equal three runs alone, to the bit.

    Reference: the same optimizer built with scalar settings, one run at a time (two computations that must agree).
    """
    arrays = _per_run_settings(name)
    assert arrays.keys() > {"lr"}
    together = _our_path(optimizers.get(name, **shared, **arrays), STARTS, 40)
    for i in range(len(STARTS)):
        alone = optimizers.get(name, **shared, **{n: float(v[i]) for n, v in arrays.items()})
        np.testing.assert_array_equal(together[:, i], _our_path(alone, STARTS[i : i + 1], 40)[:, 0], err_msg=f"run {i}")
    assert np.abs(together[-1] - together[0]).max() > 1e-2


@pytest.mark.skipif(NO_JIT, reason="compiled kernels switched off")
@pytest.mark.parametrize(("name", "hparams"), [
    ("adan", {"weight_decay": 0.3}), ("adan", {}),
    ("ademamix", {"t_alpha_beta3": 15.0}), ("ademamix", {"t_alpha_beta3": 15.0, "weight_decay": 0.1,
                                                         "weight_decouple": True, "fixed_decay": True}),
])
def test_fused_runs_with_per_run_settings_equal_numpy_runs(name, hparams):
    """The kernel generated from the rule against numpy running the same rule, to the bit, over whole runs with
    one setting per run (lr and the betas, in both lerp branches) and AdEMAMix's warm-up.

    Reference: ``optimizers.run(backend="numpy")`` (two computations that must agree).
    """
    f = landscapes.get("rosenbrock")
    starts = np.repeat(STARTS, 4, axis=0)
    k = len(starts)
    arrays = {n: np.resize(v, k) for n, v in _per_run_settings(name).items()}
    opt = optimizers.get(name, **hparams, **arrays)
    a = optimizers.run(f, opt, starts, 40, backend="numpy")
    b = optimizers.run(f, opt, starts, 40, backend="fused")
    assert_same(a, b, exact=True)
    assert np.abs(a.params[-1] - a.params[0]).max() > 1e-2


def test_adafactor_runs_fused_from_its_per_run_rule():
    """Adafactor's RMS terms are per run, not per coordinate: it is a run rule (sums over a run), not an elementwise
    one, and a job large enough for ``auto`` to pick the fused backend gives the numpy loop's paths to the bit.

    Reference: ``optimizers.run(backend="numpy")`` on the same job.
    """
    f = landscapes.get("rosenbrock")
    opt = optimizers.get("adafactor", lr=0.05)
    assert type(opt).rule is None and type(opt).run_rule is not None
    assert fused.unsupported(f, opt) is None
    rng = np.random.default_rng(3)
    starts = rng.uniform(-2.0, 2.0, size=(400, 2))
    steps = fused.MIN_WORK // len(starts) + 1
    auto = optimizers.run(f, opt, starts, steps, record_end_only=True)
    numpy = optimizers.run(f, opt, starts, steps, record_end_only=True, backend="numpy")
    np.testing.assert_array_equal(auto.params, numpy.params)


def test_every_case_here_names_a_registered_optimizer_claiming_that_reference():
    """Each optimizer here claims the reference it is tested against (reference: its ``reference`` string)."""
    for name, _, cls, _ in CASES:
        package = "torch.optim" if cls.__module__.startswith("torch.") else "pytorch_optimizer"
        assert optimizers.REGISTRY[name].reference.startswith(f"{package}.{cls.__name__}"), name
    assert {c[0] for c in CASES} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_names_are_the_references(name):
    """Every hyperparameter the reference also has carries its name and default (reference: its signature).

    The pairs and triples are split (``betas`` into ``beta1``…, torch's ``eps`` into ``eps1``, ``eps2`` as its
    functional API names them); ``None`` defaults are spelled out: AdEMAMix's no warm-up is 0, Adafactor's
    ``eps1`` the float64 machine epsilon.
    """
    cls = next(c[2] for c in CASES if c[0] == name)
    theirs = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}
    if "betas" in theirs:
        theirs.update(zip(("beta1", "beta2", "beta3"), theirs.pop("betas"), strict=True))
    if name == "adafactor":
        eps1, theirs["eps2"] = theirs.pop("eps")
        assert eps1 is None
        theirs["eps1"] = torch.finfo(torch.float64).eps
    if name == "ademamix":
        assert theirs["t_alpha_beta3"] is None
        theirs["t_alpha_beta3"] = 0.0
    ours = {s.name: s.default for s in optimizers.REGISTRY[name].specs}
    assert set(ours) <= set(theirs), set(ours) - set(theirs)
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key]), f"{name}.{key}: ours {ours[key]!r}, theirs {theirs[key]!r}"


@pytest.mark.skipif(NO_JIT, reason="compiled kernels switched off")
def test_networks_compiled_loop_equals_numpy_and_adafactor_takes_numpy():
    """On a network, Adan and AdEMAMix run in the compiled mini-batch loop with the kernel derived from their rule,
    equal to the numpy loop to the bit; Adafactor is declined there and ``auto`` runs numpy.

    Reference: ``nets.train(backend="numpy")`` (two computations that must agree).
    """
    import nets
    from nets import fused as nets_fused
    from tests.test_nets_fused import assert_same as assert_same_training

    problem = nets.problem("iris", hidden=(8,), activation="tanh", batch_size=16)
    for opt in (optimizers.get("adan", lr=0.01, weight_decay=0.01), optimizers.get("ademamix", lr=0.01, t_alpha_beta3=50.0)):
        assert nets_fused.unsupported(problem, opt, 3) is None
        num = nets.train(problem, opt, 3, k=3, backend="numpy")
        assert_same_training(num, nets.train(problem, opt, 3, k=3, backend="compiled"))
        assert np.abs(num.params[-1] - num.params[0]).max() > 0.05
    opt = optimizers.get("adafactor")
    assert "no compiled kernel" in nets_fused.unsupported(problem, opt, 3)
    auto = nets.train(problem, opt, 3, k=3)
    assert_same_training(auto, nets.train(problem, opt, 3, k=3, backend="numpy"))
    assert (auto.values[-1] < auto.values[0]).all()
