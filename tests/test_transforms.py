"""Schedules, clipping, noise and decoupled weight decay, alone and chained.

References, per test: each schedule's closed form; torch.optim.lr_scheduler
stepped alongside (two implementations that must agree); clipping computed by
hand; the noise's seeded determinism and its standard deviation (a
statistical check with a stated tolerance); AdamW from our registry and from
torch vs Adam + decoupled decay (two algorithms that must agree); a chain
against its update composed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import optimizers
from optimizers import Chain, Clip, Noise, schedule
from optimizers.transforms import SCHEDULES

TS = [1, 2, 3, 7, 10, 11, 25, 49, 50, 51, 99, 100, 101, 250]

CLOSED_FORMS = {
    ("constant", ()): lambda t: 1.0,
    ("step", (("step_size", 10), ("gamma", 0.5))): lambda t: 0.5 ** ((t - 1) // 10),
    ("exponential", (("gamma", 0.97),)): lambda t: 0.97 ** (t - 1),
    ("inverse_time", (("decay", 0.2),)): lambda t: 1.0 / (1.0 + 0.2 * (t - 1)),
    ("cosine", (("period", 100), ("floor", 0.1))): lambda t: 0.1 + 0.45 * (1 + math.cos(math.pi * min(t - 1, 100) / 100)),
    ("warmup", (("warmup_steps", 10),)): lambda t: min(1.0, t / 10),
    # Triangle between 1 and 4 with half-period 25: up over steps 1..26, down over 26..51, ...
    ("cyclical", (("half_cycle", 25), ("max_factor", 4.0))): lambda t: 1.0 + 3.0 * (1 - abs(((t - 1) % 50) / 25 - 1)),
}


def test_every_schedule_has_a_closed_form_here():
    assert {name for name, _ in CLOSED_FORMS} == set(SCHEDULES)


@pytest.mark.parametrize(("key", "form"), list(CLOSED_FORMS.items()), ids=[k[0] for k in CLOSED_FORMS])
def test_schedule_matches_closed_form(key, form):
    """s(t) equals the closed form at many t (reference: the formula, written out here)."""
    name, params = key
    s = schedule(name, **dict(params))
    for t in TS:
        assert s(t) == pytest.approx(form(t), rel=1e-13, abs=1e-15), (name, t)
    assert s(1) == pytest.approx(0.1 if name == "warmup" else 1.0)


BASE_LR = 0.05


def _torch_lrs(make_scheduler, steps: int) -> np.ndarray:
    """The lr torch's optimizer uses at steps 1..steps, stepping the scheduler once per optimizer step."""
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=BASE_LR)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.ones_like(p)
        opt.step()
        sched.step()
    return np.array(lrs)


TORCH_SCHEDULES = {
    "step": ({"step_size": 10, "gamma": 0.5}, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=10, gamma=0.5), 120),
    "exponential": ({"gamma": 0.97}, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.97), 120),
    # torch's cosine rises again after T_max; ours holds the floor, so compare up to T_max.
    "cosine": ({"period": 100, "floor": 0.1},
               lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=100, eta_min=0.1 * BASE_LR), 101),
    # min(1, t/W) is LinearLR from 1/W reaching 1 after W-1 scheduler steps.
    "warmup": ({"warmup_steps": 10},
               lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=9), 40),
    "cyclical": ({"half_cycle": 25, "max_factor": 4.0},
                 lambda o: torch.optim.lr_scheduler.CyclicLR(o, base_lr=BASE_LR, max_lr=4 * BASE_LR, step_size_up=25,
                                                             mode="triangular", cycle_momentum=False), 160),
}


@pytest.mark.parametrize("name", list(TORCH_SCHEDULES))
def test_schedule_matches_torch_lr_scheduler(name):
    """lr·s(t) equals torch's scheduled lr at every step, and GD paths agree (reference: torch.optim.lr_scheduler)."""
    params, make, steps = TORCH_SCHEDULES[name]
    s = schedule(name, **params)
    ours = np.array([BASE_LR * s(t) for t in range(1, steps + 1)])
    np.testing.assert_allclose(ours, _torch_lrs(make, steps), rtol=1e-12)
    # The same through a Chain: ours vs torch SGD + scheduler on a quadratic.
    chain = Chain(optimizers.get("gd", lr=BASE_LR), schedule=s)
    a = np.array([3.0, 0.5])
    p = np.array([[1.0, -2.0]])
    state = chain.init(p)
    tp = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    topt = torch.optim.SGD([tp], lr=BASE_LR)
    tsched = make(topt)
    for _ in range(steps):
        tp.grad = torch.tensor(a * tp.detach().numpy(), dtype=torch.float64)
        topt.step()
        tsched.step()
        p, state = chain.step(p, a * p, state)
        np.testing.assert_allclose(p[0], tp.detach().numpy(), rtol=1e-12, atol=1e-300)


def test_adagrad_lr_decay_composes_with_a_schedule_like_torch():
    """Adagrad's own lr_decay times an exponential schedule equals torch's Adagrad + ExponentialLR (reference: torch)."""
    chain = Chain(optimizers.get("adagrad", lr=0.1, lr_decay=0.05), schedule=schedule("exponential", gamma=0.95))
    tp = torch.nn.Parameter(torch.tensor([1.5, -0.5], dtype=torch.float64))
    topt = torch.optim.Adagrad([tp], lr=0.1, lr_decay=0.05)
    tsched = torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.95)
    p = np.array([[1.5, -0.5]])
    state = chain.init(p)
    a = np.array([1.0, 10.0])
    for _ in range(40):
        tp.grad = torch.tensor(a * tp.detach().numpy(), dtype=torch.float64)
        topt.step()
        tsched.step()
        p, state = chain.step(p, a * p, state)
    np.testing.assert_allclose(p[0], tp.detach().numpy(), rtol=1e-12)


def test_bad_schedule_parameters_raise():
    """Unknown schedules and out-of-range parameters raise ValueError naming the problem."""
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule("sawtooth")
    with pytest.raises(ValueError, match="gamma"):
        schedule("step", gamma=0.0)
    with pytest.raises(ValueError, match="gamma"):
        schedule("exponential", gamma=1.5)
    with pytest.raises(ValueError, match="period"):
        schedule("cosine", period=0)
    with pytest.raises(ValueError, match="warmup_steps"):
        schedule("warmup", warmup_steps=2.5)
    with pytest.raises(ValueError, match="nonsense"):
        schedule("cyclical", nonsense=1)


# -- clipping ------------------------------------------------------------------------------
def test_clip_by_norm_is_per_run():
    """Each row is rescaled to norm ≤ c on its own (reference: computed by hand, 3-4-5 triangles)."""
    g = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0], [-6.0, 8.0]])
    out = Clip("norm", 1.0).apply(g)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0], [-0.6, 0.8]], rtol=1e-15)
    np.testing.assert_array_equal(g, [[3.0, 4.0], [0.3, 0.4], [0.0, 0.0], [-6.0, 8.0]])  # input untouched


def test_clip_by_norm_matches_torch_per_run():
    """Per-row clipping equals torch.nn.utils.clip_grad_norm_ applied to each run (reference: torch; it adds 1e-6)."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal((6, 5)) * np.array([[0.1], [1.0], [3.0], [10.0], [0.5], [100.0]])
    ours = Clip("norm", 2.0).apply(g)
    for row, mine in zip(g, ours, strict=True):
        t = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
        t.grad = torch.tensor(row)
        torch.nn.utils.clip_grad_norm_([t], max_norm=2.0)
        np.testing.assert_allclose(mine, t.grad.numpy(), rtol=1e-6)


def test_clip_by_value():
    """Entries are clamped to [−c, c] (reference: by hand)."""
    g = np.array([[3.0, -0.5], [-7.0, 0.25]])
    np.testing.assert_array_equal(Clip("value", 1.0).apply(g), [[1.0, -0.5], [-1.0, 0.25]])


def test_bad_clip_and_noise_settings_raise():
    with pytest.raises(ValueError, match="mode"):
        Clip("global", 1.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="threshold"):
            Clip("norm", bad)
    with pytest.raises(ValueError, match="sigma"):
        Noise(sigma=-0.1)
    with pytest.raises(ValueError, match="anneal"):
        Noise(sigma=0.1, anneal=3.0)
    with pytest.raises(ValueError, match="decoupled weight decay"):
        Chain(optimizers.get("gd"), decoupled_weight_decay=-0.1)


# -- noise -------------------------------------------------------------------------------
def test_noise_is_deterministic_per_seed_and_step():
    """Same (seed, t) gives the same draw; another t or seed gives another (reference: repeated calls)."""
    n = Noise(sigma=0.5, seed=7)
    a = n.sample((4, 3), 5)
    np.testing.assert_array_equal(a, Noise(sigma=0.5, seed=7).sample((4, 3), 5))
    assert not np.allclose(a, n.sample((4, 3), 6))
    assert not np.allclose(a, Noise(sigma=0.5, seed=8).sample((4, 3), 5))
    assert len(np.unique(a)) == a.size  # runs and coordinates get different draws


@pytest.mark.parametrize(("sigma", "anneal", "t"), [(0.3, 0.0, 1), (0.3, 0.0, 40), (2.0, 0.55, 1), (2.0, 0.55, 100), (1.0, 1.0, 16)])
def test_noise_has_the_right_std(sigma, anneal, t):
    """Sample std equals σ/t^γ within 2% and the mean is 0 within 5 standard errors.

    Reference: the definition. With n = 200,000 draws the relative standard error of the std is
    1/√(2n) ≈ 0.0016, so 2% is over 12 standard errors: this fails only for a wrong σ_t.
    """
    draws = Noise(sigma=sigma, seed=1, anneal=anneal).sample((100_000, 2), t)
    expected = sigma / t**anneal
    assert draws.std() == pytest.approx(expected, rel=0.02)
    assert abs(draws.mean()) < 5 * expected / math.sqrt(draws.size)


def test_zero_noise_is_the_identity():
    g = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(Noise(sigma=0.0).apply(g, 3), g)


# -- decoupled weight decay --------------------------------------------------------------
def _rosen_grad(p):
    x, y = p[..., 0], p[..., 1]
    return np.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], -1)


def _path(opt, starts, steps):
    p, state = starts, opt.init(starts)
    out = [p]
    for _ in range(steps):
        p, state = opt.step(p, _rosen_grad(p), state)
        out.append(p)
    return np.array(out)


def test_adam_with_decoupled_decay_equals_adamw():
    """Adam + decoupled weight decay λ equals AdamW(weight_decay=λ), ours and torch's (two algorithms that agree)."""
    starts = np.array([[-1.5, 2.0], [0.5, 0.5]])
    chained = _path(Chain(optimizers.get("adam", lr=0.01), decoupled_weight_decay=0.2), starts, 60)
    adamw = _path(optimizers.get("adamw", lr=0.01, weight_decay=0.2), starts, 60)
    np.testing.assert_allclose(chained, adamw, rtol=1e-13, atol=1e-15)
    # ...and with a schedule, torch AdamW + StepLR (its decay is also scaled by the scheduled lr).
    chained = _path(Chain(optimizers.get("adam", lr=0.01), schedule=schedule("step", step_size=15, gamma=0.5),
                          decoupled_weight_decay=0.2), starts, 60)
    for i, start in enumerate(starts):
        tp = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
        topt = torch.optim.AdamW([tp], lr=0.01, weight_decay=0.2)
        tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=15, gamma=0.5)
        for t in range(60):
            tp.grad = torch.tensor(_rosen_grad(tp.detach().numpy()))
            topt.step()
            tsched.step()
            np.testing.assert_allclose(chained[t + 1, i], tp.detach().numpy(), rtol=1e-12)


def test_decoupled_decay_alone_shrinks_params_geometrically():
    """With zero gradient, GD + decoupled decay gives θ_t = (1 − ηλ)^t θ_0 (reference: closed form)."""
    opt = Chain(optimizers.get("gd", lr=0.1), decoupled_weight_decay=0.5)
    p = np.array([[2.0, -1.0]])
    state = opt.init(p)
    for _ in range(10):
        p, state = opt.step(p, np.zeros_like(p), state)
    np.testing.assert_allclose(p, np.array([[2.0, -1.0]]) * 0.95**10, rtol=1e-14)


# -- the whole chain -----------------------------------------------------------------------
def test_chain_equals_the_hand_composed_update():
    """Noise → clip → momentum → decoupled decay → scheduled lr, rebuilt by hand for 12 steps.

    Reference: the update composed by hand from each transform's definition (noise drawn as
    N(0, σ_t²) from ``default_rng([seed, t])``, the documented seeding).
    """
    sigma, seed, anneal, c, lam, lr, mu = 0.8, 3, 0.5, 2.0, 0.1, 0.01, 0.9
    chain = Chain(
        optimizers.get("momentum", lr=lr, momentum=mu),
        schedule=schedule("cosine", period=10, floor=0.2),
        clip=Clip("norm", c),
        noise=Noise(sigma=sigma, seed=seed, anneal=anneal),
        decoupled_weight_decay=lam,
    )
    starts = np.array([[-1.5, 2.0], [0.5, -0.3], [1.1, 1.2]])
    p, state = starts, chain.init(starts)
    q, buf = starts.copy(), None
    for t in range(1, 13):
        p, state = chain.step(p, _rosen_grad(p), state)
        g = _rosen_grad(q) + sigma / t**anneal * np.random.default_rng([seed, t]).standard_normal(q.shape)
        norms = np.linalg.norm(g, axis=1, keepdims=True)
        g = np.where(norms > c, g * c / norms, g)
        buf = g if buf is None else mu * buf + g
        s = 0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * min(t - 1, 10) / 10))
        q = q - lr * s * (buf + lam * q)
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15, err_msg=f"step {t}")


def test_chain_is_pure():
    """Chain.step leaves params, grads and state unchanged (reference: copies; read-only arrays)."""
    chain = Chain(optimizers.get("adam"), schedule=schedule("warmup"), clip=Clip("value", 0.5),
                  noise=Noise(0.1, seed=1), decoupled_weight_decay=0.01)
    p = np.array([[1.0, 2.0], [-3.0, 0.5]])
    state = chain.init(p)
    p.flags.writeable = False
    g = np.array([[5.0, -0.1], [0.2, 0.3]])
    g.flags.writeable = False
    for v in state.values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    p1, s1 = chain.step(p, g, state)
    p2, _ = chain.step(p, g, state)
    np.testing.assert_array_equal(p1, p2)
    assert state["t"] == 0 and s1["t"] == 1
    np.testing.assert_array_equal(state["m"], 0.0)


def test_clip_by_norm_survives_huge_and_infinite_gradients():
    """A finite gradient too large to square is clipped to the threshold, not to zero; inf gives NaN, silently.

    Reference: by hand, (1e200, 1e200) has direction (1, 1)/√2. (A squared norm overflowed to inf
    and clipped such a gradient to 0 before this was fixed.)
    """
    out = Clip("norm", 1.0).apply(np.array([[1e200, 1e200], [1e-300, 0.0]]))
    np.testing.assert_allclose(out, [[2**-0.5, 2**-0.5], [1e-300, 0.0]], rtol=1e-15)
    with np.errstate(all="raise"):
        out = Clip("norm", 1.0).apply(np.array([[np.inf, 1.0], [3.0, 4.0]]))
    assert np.isnan(out[0]).any() and np.allclose(out[1], [0.6, 0.8])


def test_transform_specs_agree_with_what_the_chain_accepts():
    """Reference: OptimizerConfig.build (Clip, Noise, Chain). Every value a transform spec accepts builds, and
    values just outside a spec's range are refused by both the spec and the build."""
    from optimizers.config import TRANSFORM_SPECS, OptimizerConfig

    on = {"clip_threshold": {"clip_mode": "norm"}, "noise_anneal": {"noise_sigma": 0.1},
          "noise_seed": {"noise_sigma": 0.1}}
    for attr, spec in TRANSFORM_SPECS.items():
        if spec.kind == "choice":
            for choice in spec.choices:
                OptimizerConfig.make("gd", **{attr: choice}).build()
            continue
        inside = [spec.default, 1.0] + ([spec.high] if np.isfinite(spec.high) else [])
        for value in inside:
            assert spec.validate(value) == value
            OptimizerConfig.make("gd", **{**on.get(attr, {}), attr: value}).build()
        outside = [spec.low if spec.low_open else spec.low - 1] + ([spec.high + 1] if np.isfinite(spec.high) else [])
        for value in outside:
            with pytest.raises(ValueError):
                spec.validate(value)
            with pytest.raises(ValueError):
                OptimizerConfig.make("gd", **{**on.get(attr, {}), attr: value}).build()
